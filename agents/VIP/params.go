package vip

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// maxLabel is the kernel's limit on an address label (IFNAMSIZ - 1).
const maxLabel = 15

// Settings are the parameters of one invocation, parsed but not yet
// checked against the machine.
type Settings struct {
	IPRaw      string
	IP         netip.Addr // invalid when IPRaw does not parse
	Nic        string     // base interface ("" = from the routes)
	Label      string     // label suffix (after "nic:"), "" = none
	NetmaskRaw string
	Prefix     int // -1 = from the routes; also -1 when NetmaskRaw is bad
	BadNetmask bool
	Broadcast  string

	LVSSupport       bool
	AddrLabel        bool // lvs_ipv6_addrlabel
	AddrLabelValue   int
	ARPInterval      int // ms
	ARPCount         int
	ARPCountRefresh  int
	ARPReply         bool
	RunARPing        bool
	NoDAD            bool
	NoPrefixRoute    bool
	PreferredLft     string
	FlushRoutes      bool
	CheckLinkStatus  bool
	NetworkNamespace string
	CloneMax         int
}

// ReadSettings extracts Settings from parsed parameters and the OCF
// environment (the legacy "netmask" alias and clone_max meta attribute).
func ReadSettings(v ocf.Values, env func(string) string) Settings {
	s := Settings{
		IPRaw:            strings.TrimSpace(v.String("ip")),
		Nic:              strings.TrimSpace(v.String("nic")),
		NetmaskRaw:       strings.TrimSpace(v.String("cidr_netmask")),
		Broadcast:        strings.TrimSpace(v.String("broadcast")),
		Label:            v.String("iflabel"),
		LVSSupport:       v.Bool("lvs_support"),
		AddrLabel:        v.Bool("lvs_ipv6_addrlabel"),
		AddrLabelValue:   v.Int("lvs_ipv6_addrlabel_value"),
		ARPInterval:      v.Int("arp_interval"),
		ARPCount:         v.Int("arp_count"),
		ARPCountRefresh:  v.Int("arp_count_refresh"),
		ARPReply:         v.Bool("arp_reply"),
		RunARPing:        v.Bool("run_arping"),
		NoDAD:            v.Bool("nodad"),
		NoPrefixRoute:    v.Bool("noprefixroute"),
		PreferredLft:     strings.TrimSpace(v.String("preferred_lft")),
		FlushRoutes:      v.Bool("flush_routes"),
		CheckLinkStatus:  v.Bool("check_link_status"),
		NetworkNamespace: v.String("network_namespace"),
		CloneMax:         1,
	}
	// IPaddr2 once called it netmask; old configurations still do.
	if s.NetmaskRaw == "" {
		s.NetmaskRaw = strings.TrimSpace(env("OCF_RESKEY_netmask"))
	}
	if cm := env("OCF_RESKEY_CRM_meta_clone_max"); cm != "" {
		if n, err := strconv.Atoi(cm); err == nil {
			s.CloneMax = n
		} else {
			s.CloneMax = 0
		}
	}
	// nic=eth0:label is IPaddr2's deprecated way to give a label; it wins.
	if i := strings.IndexByte(s.Nic, ':'); i >= 0 {
		s.Nic, s.Label = s.Nic[:i], s.Nic[i+1:]
	}
	if a, err := netip.ParseAddr(s.IPRaw); err == nil && a.Zone() == "" {
		s.IP = a.Unmap()
	}
	s.Prefix = -1
	if s.NetmaskRaw != "" {
		max := 32
		if strings.Contains(s.IPRaw, ":") {
			max = 128
		}
		if n, err := addr.ParseNetmask(s.NetmaskRaw, max); err == nil {
			s.Prefix = n
		} else {
			s.BadNetmask = true
		}
	}
	return s
}

// IsV6 follows IPaddr2: an address with a colon is IPv6.
func (s Settings) IsV6() bool { return strings.Contains(s.IPRaw, ":") }

func configErr(format string, a ...any) error { return ocf.Errorf(ocf.ErrConfigured, format, a...) }

// CheckStatic validates what needs no look at the machine; the checks
// IPaddr2 makes on every action. It returns ErrConfigured errors naming the
// parameter and the value.
func (s Settings) CheckStatic() error {
	if s.CloneMax < 1 {
		return configErr("invalid meta attribute clone_max (want a positive integer)")
	}
	if s.CloneMax > 1 {
		if s.LVSSupport {
			return configErr("LVS and load sharing do not go together well (lvs_support with clone_max=%d)", s.CloneMax)
		}
		return configErr("VIP cannot be cloned (clone_max=%d): IPaddr2's CLUSTERIP load sharing is not supported", s.CloneMax)
	}
	if !s.IsV6() && s.AddrLabel {
		return configErr("parameter lvs_ipv6_addrlabel=true: IPv4 does not support lvs_ipv6_addrlabel (ip=%s)", s.IPRaw)
	}
	if s.IsV6() && s.AddrLabel && (s.AddrLabelValue < 0 || int64(s.AddrLabelValue) > 0xffffffff) {
		return configErr("parameter lvs_ipv6_addrlabel_value=%d: must be a non-negative integer", s.AddrLabelValue)
	}
	if s.IsV6() && s.LVSSupport {
		return configErr("parameter lvs_support=true: IPv6 does not support lvs_support (address %s)", s.IPRaw)
	}
	if s.ARPInterval <= 0 {
		return configErr("parameter arp_interval=%d: must be a positive number of milliseconds", s.ARPInterval)
	}
	if s.ARPCount <= 0 {
		return configErr("parameter arp_count=%d: must be positive", s.ARPCount)
	}
	if s.ARPCountRefresh < 0 {
		return configErr("parameter arp_count_refresh=%d: must not be negative", s.ARPCountRefresh)
	}
	if _, err := s.PreferredLifetime(); err != nil {
		return configErr("parameter preferred_lft=%q: %v", s.PreferredLft, err)
	}
	return nil
}

// CheckAddress validates ip, nic (syntax), cidr_netmask and broadcast: the
// checks IPaddr2's findif makes on start and validate-all only.
func (s Settings) CheckAddress() error {
	if !s.IP.IsValid() || s.IP.IsUnspecified() || s.IsV6() != s.IP.Is6() ||
		s.IP.Is4() && strings.HasPrefix(s.IPRaw, "0") {
		return configErr("parameter ip=%q: not a valid IPv4 or IPv6 address", s.IPRaw)
	}
	if s.IP.Is6() && s.Nic == "" && netip.MustParsePrefix("fe80::/10").Contains(s.IP) {
		return configErr("parameter nic is mandatory for a link-local address (ip=%s)", s.IPRaw)
	}
	if s.BadNetmask {
		return configErr("parameter cidr_netmask=%q: invalid netmask specification", s.NetmaskRaw)
	}
	if s.IP.Is6() && s.Broadcast != "" {
		// IPaddr2 accepts it here and fails to add the address (exit 1).
		return configErr("parameter broadcast=%q: broadcast can be set only for IPv4 addresses (ip=%s)", s.Broadcast, s.IPRaw)
	}
	if s.IP.Is4() && s.Broadcast != "" {
		if _, err := addr.Broadcast(s.IP, 24, s.Broadcast); err != nil {
			return configErr("parameter broadcast=%q: %v", s.Broadcast, err)
		}
	}
	return nil
}

// PreferredLifetime parses preferred_lft ("forever" or seconds; IPv6 only).
func (s Settings) PreferredLifetime() (*uint32, error) {
	v := strings.TrimSuffix(s.PreferredLft, "sec")
	if v == "" {
		return nil, errors.New("empty value is invalid")
	}
	if v == "forever" {
		return nil, nil
	}
	n, err := strconv.ParseUint(v, 10, 32)
	if err != nil {
		return nil, fmt.Errorf("want forever or a number of seconds")
	}
	u := uint32(n)
	return &u, nil
}

// Resolved is the address to manage, once the routes have been consulted.
type Resolved struct {
	IP        netip.Addr
	Nic       string
	Prefix    int
	Valid     bool   // IP and Prefix are usable (false: nothing can be served)
	Label     string // full label "nic:label", or ""
	Broadcast netip.Addr
}

// ErrFindIf is a failure to choose the interface or netmask: IPaddr2 says
// "[findif] failed" (generic error; not running on a probe; success on stop).
type ErrFindIf struct{ Err error }

func (e *ErrFindIf) Error() string { return "[findif] failed: " + e.Err.Error() }
func (e *ErrFindIf) Unwrap() error { return e.Err }

// Resolve chooses interface, prefix, label and broadcast from the settings
// and the routes, as IPaddr2's findif and ip_init do. linkExists is asked
// for a given nic on start and validate-all (strict).
func Resolve(s Settings, routes []addr.Route, strict bool, linkExists func(string) (bool, error)) (Resolved, error) {
	if strict {
		if err := s.CheckAddress(); err != nil {
			return Resolved{}, err
		}
		if s.Nic != "" {
			ok, err := linkExists(s.Nic)
			if err != nil {
				return Resolved{}, ocf.Errorf(ocf.ErrGeneric, "looking up interface %s: %v", s.Nic, err)
			}
			if !ok {
				return Resolved{}, configErr("parameter nic=%q: invalid interface name: no such device", s.Nic)
			}
		}
	}
	r := Resolved{IP: s.IP, Nic: s.Nic, Prefix: s.Prefix}
	// An address or netmask ip(8) cannot parse matches no route.
	usable := s.IP.IsValid() && !s.BadNetmask && s.IsV6() == s.IP.Is6()
	if usable {
		ch, err := addr.FindInterface(addr.Query{IP: s.IP, Prefix: s.Prefix, Nic: s.Nic}, routes)
		if err != nil {
			return Resolved{}, &ErrFindIf{err}
		}
		r.Nic, r.Prefix, r.Valid = ch.Nic, ch.Prefix, true
	} else if s.Nic == "" || s.NetmaskRaw == "" {
		return Resolved{}, &ErrFindIf{addr.ErrNoRoute}
	}
	if s.Label != "" {
		r.Label = r.Nic + ":" + s.Label
		if len(r.Label) > maxLabel {
			return Resolved{}, configErr("parameter iflabel=%q: interface label [%s] exceeds maximum character limit of %d", s.Label, r.Label, maxLabel)
		}
	}
	if r.Valid && r.IP.Is4() {
		r.Broadcast, _ = addr.Broadcast(r.IP, r.Prefix, s.Broadcast)
	}
	return r, nil
}

// Prefix returns the address with its prefix length.
func (r Resolved) PrefixAddr() netip.Prefix { return netip.PrefixFrom(r.IP, r.Prefix) }
