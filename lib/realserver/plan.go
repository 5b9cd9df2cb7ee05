// Package realserver prepares a Linux host to be an LVS real server for
// direct routing (DR) or IP tunnelling (TUN), the job every DR seed does by
// hand with a shell script: each VIP on lo (or on the tunnel device), ARP
// for the VIPs silenced with arp_ignore=1 / arp_announce=2, and in tunnel
// mode the ipip device up with reverse-path filtering relaxed on it. The
// previous sysctl values are kept in a state file and put back when the
// last VIP goes. It is shared by the ocf:lvs:realserver agent and `lvsd
// realserver`; the decisions here are pure, the kernel is behind Kernel.
package realserver

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// Config is what the operator asks for.
type Config struct {
	VIPs   []netip.Addr
	Tunnel bool // LVS-TUN: the VIPs go on tunl0 / ip6tnl0, rp_filter relaxed there
	// Interfaces get arp_ignore/arp_announce besides all and lo; nil means
	// the interfaces of the IPv4 default routes (where ARP for the VIP
	// arrives and where replies leave).
	Interfaces []string
}

// ParseVIPs parses addresses separated by commas or white space. Each is a
// plain IPv4 or IPv6 address, or one with its host prefix (/32, /128: the
// helper always uses that), no zone, not unspecified, loopback, multicast or link-local.
func ParseVIPs(fields ...string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, f := range fields {
		for _, s := range strings.FieldsFunc(f, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' }) {
			txt := s
			if i := strings.IndexByte(s, '/'); i >= 0 {
				// A host prefix is what the helper uses anyway; another is
				// a subnet, which has no place on lo.
				p, err := netip.ParsePrefix(s)
				if err != nil || p.Bits() != p.Addr().BitLen() {
					return nil, fmt.Errorf("%q: a VIP is a host address (no prefix, or /32 or /128)", s)
				}
				txt = s[:i]
			}
			a, err := netip.ParseAddr(txt)
			if err != nil {
				return nil, fmt.Errorf("%q is not an IPv4 or IPv6 address", s)
			}
			a = a.Unmap()
			switch {
			case a.Zone() != "":
				return nil, fmt.Errorf("%q: a VIP takes no zone", s)
			case a.IsUnspecified(), a.IsLoopback(), a.IsMulticast(), a.IsLinkLocalUnicast():
				return nil, fmt.Errorf("%q cannot be a virtual service address (unspecified, loopback, multicast or link-local)", s)
			case a.Is4() && a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
				return nil, fmt.Errorf("%q is the broadcast address", s)
			}
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no VIP given")
	}
	return out, nil
}

// CheckIfName rejects what cannot be an interface name (and a path
// component of /proc/sys).
func CheckIfName(s string) error {
	if s == "" || len(s) > 15 || s == "." || s == ".." || strings.ContainsAny(s, "/ \t\n:") {
		return fmt.Errorf("%q is not an interface name", s)
	}
	return nil
}

// Sysctl names one per-interface knob, /proc/sys/net/<Family>/conf/<Dev>/<Name>.
type Sysctl struct {
	Family string `json:"family"` // "ipv4"
	Dev    string `json:"dev"`    // "all", "lo", "eth0", "tunl0"
	Name   string `json:"name"`   // "arp_ignore"
}

// Path is the file under /proc/sys.
func (s Sysctl) Path() string {
	return "/proc/sys/net/" + s.Family + "/conf/" + s.Dev + "/" + s.Name
}

// String is sysctl(8)'s name (a dot in an interface name becomes a slash).
func (s Sysctl) String() string {
	return "net." + s.Family + ".conf." + strings.ReplaceAll(s.Dev, ".", "/") + "." + s.Name
}

// Want is a setting the helper needs: the value it writes, the values
// that already do the job (left alone), and why.
type Want struct {
	Sysctl
	Set string
	OK  []string
	Why string
}

// Accepts reports whether v already does the job.
func (w Want) Accepts(v string) bool { return slices.Contains(w.OK, strings.TrimSpace(v)) }

// VIPAddr is a VIP on its device, as a host prefix.
type VIPAddr struct {
	IP  netip.Addr
	Dev string
}

// Prefix is the VIP as /32 or /128: a host address, so that the real
// server claims no subnet route through lo.
func (v VIPAddr) Prefix() netip.Prefix { return netip.PrefixFrom(v.IP, v.IP.BitLen()) }

// Tunnel devices: the fallback devices the ipip and ip6_tunnel modules
// create in every namespace, which take any encapsulated packet.
const (
	Tunl4 = "tunl0"
	Tunl6 = "ip6tnl0"
)

// VIPDev is where a VIP goes: lo for DR, the tunnel device for TUN (as the
// LVS-HOWTO and seed 003 do: ifconfig tunl0 VIP netmask 255.255.255.255).
func VIPDev(ip netip.Addr, tunnel bool) string {
	switch {
	case !tunnel:
		return "lo"
	case ip.Is4():
		return Tunl4
	}
	return Tunl6
}

// Link is a device the helper brings up, and the module that creates it.
type Link struct {
	Dev    string
	Module string
}

// Plan is everything one configuration needs, in the order up applies it.
type Plan struct {
	Sysctls []Want // before the VIPs: the host never answers ARP for one
	Links   []Link
	VIPs    []VIPAddr
}

// MakePlan is the pure decision: which sysctls, devices and addresses cfg
// needs, given the interfaces ARP settings go on besides all and lo.
//
// arp_ignore and arp_announce: the kernel uses the larger of
// conf/all/<knob> and conf/<dev>/<knob>, so all alone covers every
// interface; lo is set too, as seed 003 and the LVS-HOWTO do, and so is
// each outgoing interface, as seed 004 does (eth0 only), so that the
// setting survives an all that something else resets to 0.
// arp_ignore=1: answer ARP only for addresses of the interface the request
// came in on (the VIP is on lo, so never for it); 2 and 8 are stricter and
// kept. arp_announce=2: never use the VIP as the source of an ARP request.
// IPv6 needs neither: the kernel answers neighbour solicitations only for
// addresses of the receiving interface.
//
// Tunnel mode (IPv4): the decapsulated packet comes in on tunl0 from the
// client's address, whose route goes out another interface, so strict
// reverse-path filtering drops it. The kernel uses the larger of
// conf/all/rp_filter and conf/tunl0/rp_filter, so tunl0=2 (loose) is
// enough whatever all is (0, 1 or 2); 0 on tunl0 is kept. IPv6 has no
// rp_filter sysctl.
func MakePlan(cfg Config, ifaces []string) Plan {
	var p Plan
	has4, has6 := false, false
	for _, ip := range cfg.VIPs {
		has4 = has4 || ip.Is4()
		has6 = has6 || ip.Is6()
		p.VIPs = append(p.VIPs, VIPAddr{IP: ip, Dev: VIPDev(ip, cfg.Tunnel)})
	}
	if has4 {
		devs := []string{"all", "lo"}
		for _, d := range ifaces {
			if !slices.Contains(devs, d) && d != Tunl4 {
				devs = append(devs, d)
			}
		}
		for _, d := range devs {
			p.Sysctls = append(p.Sysctls,
				Want{Sysctl: Sysctl{"ipv4", d, "arp_ignore"}, Set: "1", OK: []string{"1", "2", "8"},
					Why: "answer ARP only for addresses of the receiving interface (not for the VIP on lo)"},
				Want{Sysctl: Sysctl{"ipv4", d, "arp_announce"}, Set: "2", OK: []string{"2"},
					Why: "never use the VIP as the source address of an ARP request"})
		}
	}
	if cfg.Tunnel && has4 {
		p.Links = append(p.Links, Link{Dev: Tunl4, Module: "ipip"})
		p.Sysctls = append(p.Sysctls, Want{Sysctl: Sysctl{"ipv4", Tunl4, "rp_filter"}, Set: "2", OK: []string{"0", "2"},
			Why: "accept decapsulated packets whose source routes out another interface (loose reverse-path filter)"})
	}
	if cfg.Tunnel && has6 {
		p.Links = append(p.Links, Link{Dev: Tunl6, Module: "ip6_tunnel"})
	}
	return p
}

// DefaultDevs picks the interfaces of the IPv4 default routes of the main
// table out of a route list (dev names, in order, once each).
func DefaultDevs(routes []Route) []string {
	var out []string
	for _, r := range routes {
		if r.Default && r.Dev != "" && r.Dev != "lo" && !slices.Contains(out, r.Dev) {
			out = append(out, r.Dev)
		}
	}
	return out
}

// Route is what DefaultDevs needs to know of a route.
type Route struct {
	Default bool // a unicast default route of the main table
	Dev     string
}
