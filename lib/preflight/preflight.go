// Package preflight warns about a host that cannot serve a configuration
// as written: IPVS not loaded, NAT reals without IP forwarding, more
// on-link reals than the neighbour table holds, direct-routing reals the
// director has no interface next to. Check is a pure function of the
// configuration and of Facts; ReadFacts reads the Facts from /proc/sys and
// netlink. A warning never stops anything: each names the config line and
// the fix.
package preflight

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Fact is one value read from the system. OK is false when it could not be
// read; no warning rests on an unknown fact (the zero Facts warns of
// nothing).
type Fact[T any] struct {
	V  T
	OK bool
}

// Known returns a fact that was read.
func Known[T any](v T) Fact[T] { return Fact[T]{V: v, OK: true} }

// Facts is what preflight needs to know about the director.
type Facts struct {
	IPVS   Fact[bool]     // /proc/net/ip_vs exists: the kernel has IPVS
	V4, V6 Family         // per address family
	Addrs  Fact[[]Addr]   // the director's interface addresses
	Links  Fact[[]string] // the names of its interfaces, with an address or not
	Errors []error        // what could not be read, and why (the facts are left unknown)
}

// Family holds the per-family sysctls.
type Family struct {
	Forwarding Fact[bool] // net.ipv4.ip_forward / net.ipv6.conf.all.forwarding
	// GCThresh3 is net.ipv{4,6}.neigh.default.gc_thresh3, the hard limit
	// of the neighbour table. It exists only in the host's (initial)
	// network namespace: the table is one for all namespaces, so elsewhere
	// it is unknown and Check assumes the kernel default.
	GCThresh3 Fact[int]
}

// Addr is one address of one of the director's interfaces, with its prefix
// length (the subnet it makes on-link).
type Addr struct {
	Dev    string
	Prefix netip.Prefix
}

// DefaultGCThresh3 is the kernel's default neighbour table limit (both
// families).
const DefaultGCThresh3 = 1024

// Kind says which check a warning comes from.
type Kind string

const (
	KindIPVS       Kind = "ipvs"       // ip_vs not loaded
	KindForwarding Kind = "forwarding" // masq reals, forwarding off
	KindNeighbours Kind = "neighbours" // more on-link reals than gc_thresh3
	KindDROffLink  Kind = "dr-offlink" // gate real in no subnet of the director
	KindInterface  Kind = "interface"  // a VRRP instance's interface is not on this host
)

// Warning is one preflight finding: where (File, Line), what (Msg) and the
// fix.
type Warning struct {
	config.Diag
	Kind Kind
	Fix  string
}

// String renders a warning as lvsd prints it:
// "FILE:LINE: warning: MSG (fix: FIX)".
func (w Warning) String() string {
	at := w.File
	if w.Line > 0 {
		at = fmt.Sprintf("%s:%d", w.File, w.Line)
	}
	return fmt.Sprintf("%s: warning: %s (fix: %s)", at, w.Msg, w.Fix)
}

// maxDROffLink bounds the per-real DR warnings; the rest are counted in one
// more (a check run on the wrong host must not print thousands of lines).
const maxDROffLink = 10

// use is one real server (or fallback) as IPVS would get it.
type use struct {
	line  int
	addr  netip.Addr // unmapped, no zone
	port  uint16
	fwd   string
	place place
}

// place is where a real is, seen from the director.
type place uint8

const (
	offLink place = iota // through a router (or the addresses are unknown)
	onLink               // in the subnet of one of the director's interfaces
	local                // the director itself: no forwarding, no neighbour
)

// reals lists the reals and fallbacks of every virtual by family (IPv4,
// IPv6), each placed. A fallback is listed once: the global one is the
// same line in every virtual that inherits it.
func reals(cfg *config.Config, h host) [2][]use {
	type key struct {
		line int
		addr netip.AddrPort
	}
	fallbacks := map[key]bool{}
	n := 0
	for _, v := range cfg.Virtuals {
		n += len(v.Reals)
	}
	var out [2][]use
	out[0] = make([]use, 0, n) // most are one family: no regrowth
	add := func(r *config.Real) {
		a := r.Addr.Unmap().WithZone("")
		fam := 0
		if a.Is6() {
			fam = 1
		}
		out[fam] = append(out[fam], use{r.Line, a, r.Port, string(r.Forward), h.place(a)})
	}
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			if r.Addr.IsValid() {
				add(r)
			}
		}
		if fb := v.Fallback; fb != nil && fb.Addr.IsValid() {
			k := key{fb.Line, netip.AddrPortFrom(fb.Addr, fb.Port)}
			if !fallbacks[k] {
				fallbacks[k] = true
				add(fb)
			}
		}
	}
	return out
}

// host answers questions about the director's addresses.
type host struct{ addrs []Addr }

// place: local is loopback or one of the director's addresses (IPVS
// delivers to it locally); on-link is in the subnet of one of its
// non-loopback addresses.
func (h host) place(a netip.Addr) place {
	if a.IsLoopback() {
		return local
	}
	p := offLink
	for _, x := range h.addrs {
		if x.Prefix.Addr().WithZone("") == a {
			return local
		}
		if !x.Prefix.Addr().IsLoopback() && x.Prefix.Contains(a) {
			p = onLink
		}
	}
	return p
}

func famName(six bool) string {
	if six {
		return "IPv6"
	}
	return "IPv4"
}

// Check returns the warnings for serving cfg on a host described by f,
// ordered by line.
func Check(cfg *config.Config, f Facts) []Warning {
	var ws []Warning
	warn := func(line int, k Kind, fix, format string, args ...any) {
		ws = append(ws, Warning{Diag: config.Diag{File: cfg.Source, Line: line, Msg: fmt.Sprintf(format, args...)}, Kind: k, Fix: fix})
	}
	if f.Links.OK {
		checkInterfaces(cfg, f.Links.V, warn)
	}
	if len(cfg.Virtuals) == 0 {
		return ws // VRRP only: no IPVS, no reals
	}
	if f.IPVS.OK && !f.IPVS.V {
		warn(cfg.Virtuals[0].Line, KindIPVS,
			"modprobe ip_vs, and put the line ip_vs in /etc/modules-load.d/ip_vs.conf to load it at boot",
			"the kernel's IPVS is not loaded (no /proc/net/ip_vs): no virtual service can be programmed")
	}
	var h host
	if f.Addrs.OK {
		h.addrs = f.Addrs.V
	}
	us := reals(cfg, h)
	for _, six := range []bool{false, true} {
		fam, sys := f.V4, "net.ipv4"
		if six {
			fam, sys = f.V6, "net.ipv6"
		}
		mine := us[0]
		if six {
			mine = us[1]
		}
		if fam.Forwarding.OK && !fam.Forwarding.V {
			checkForwarding(mine, six, warn)
		}
		if f.Addrs.OK {
			checkNeighbours(mine, fam.GCThresh3, six, sys, warn)
			checkDR(mine, warn)
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Line < ws[j].Line })
	return ws
}

type warnFunc func(line int, k Kind, fix, format string, args ...any)

// checkInterfaces: lvsd run refuses a VRRP instance on an interface this
// host lacks (keepalived -t warns too), so lvsd check says it first.
func checkInterfaces(cfg *config.Config, links []string, warn warnFunc) {
	have := map[string]bool{}
	for _, l := range links {
		have[l] = true
	}
	for _, in := range cfg.VRRP {
		if in.Interface != "" && !have[in.Interface] {
			warn(in.Line, KindInterface, "name one of this host's interfaces ("+strings.Join(links, ", ")+"), or check the file on the director it is for",
				"vrrp_instance %s: interface %s does not exist on this host: lvsd run refuses to start with it", in.Name, in.Interface)
		}
	}
}

// checkForwarding: NAT replies come back through the director to the
// client, a routed (forwarded) packet, dropped while forwarding is off.
func checkForwarding(us []use, six bool, warn warnFunc) {
	var first *use
	n := 0
	for i, u := range us {
		if u.fwd == "masq" && u.place != local {
			if n == 0 {
				first = &us[i]
			}
			n++
		}
	}
	if n == 0 {
		return
	}
	name, extra := "net.ipv4.ip_forward", ""
	if six {
		name = "net.ipv6.conf.all.forwarding"
		extra = " (an interface that takes its default route from router advertisements then needs net.ipv6.conf.IFACE.accept_ra = 2)"
	}
	fix := fmt.Sprintf("sysctl -w %s=1, and put the line '%s = 1' in /etc/sysctl.d/90-lvs.conf to keep it%s", name, name, extra)
	more := ""
	if n > 1 {
		more = fmt.Sprintf(" (and %d more masq reals)", n-1)
	}
	warn(first.line, KindForwarding, fix,
		"real %s is masq (NAT) but %s = 0%s: the replies the reals send back through the director are dropped",
		first.hostPort(), name, more)
}

// checkNeighbours: every on-link real needs a neighbour entry (for its
// checks and its traffic); beyond gc_thresh3 the kernel refuses new ones, so
// the rest never resolve and their checks time out.
func checkNeighbours(us []use, limit Fact[int], six bool, sys string, warn warnFunc) {
	seen := map[netip.Addr]bool{}
	var lines []int // line of each distinct on-link real, in order
	for _, u := range us {
		if u.place != onLink || seen[u.addr] {
			continue
		}
		seen[u.addr] = true
		lines = append(lines, u.line)
	}
	max, known := limit.V, limit.OK
	if !known {
		max = DefaultGCThresh3
	}
	n := len(lines)
	if n <= max {
		return
	}
	name := sys + ".neigh.default.gc_thresh3"
	size := fmt.Sprintf("%s = %d", name, max)
	where := ""
	if !known {
		size = fmt.Sprintf("%s, %d by default", name, max)
		where = " on the host (outside the host's network namespace it cannot be read: the neighbour table is the host's, shared by every namespace)"
	}
	t3 := 1024
	for t3 < 2*n {
		t3 *= 2
	}
	t2 := sys + ".neigh.default.gc_thresh2"
	fix := fmt.Sprintf("raise it%s: sysctl -w %s=%d %s=%d, and put the lines '%s = %d' and '%s = %d' in /etc/sysctl.d/90-lvs.conf to keep it",
		where, name, t3, t2, t3/2, name, t3, t2, t3/2)
	warn(lines[max], KindNeighbours, fix,
		"%d distinct on-link %s real servers, more than the neighbour table holds (%s): about %d of them (from this line on) cannot be resolved and their checks time out",
		n, famName(six), size, n-max)
}

// checkDR: direct routing only rewrites the destination MAC address, so a
// gate real must be on a network the director is attached to.
func checkDR(us []use, warn warnFunc) {
	const fix = "give the director an address in the real's subnet on the interface of that network, or forward it with ipip (tunnel) or masq (NAT)"
	// The first few are named, each address once; the rest are counted
	// by line (a set of every address would cost more than the check).
	shown := map[netip.Addr]bool{}
	first, more := 0, 0
	for _, u := range us {
		if u.fwd != "gate" || u.place != offLink || shown[u.addr] {
			continue
		}
		if len(shown) < maxDROffLink {
			shown[u.addr] = true
			warn(u.line, KindDROffLink, fix,
				"real %s is gate (direct routing) but in no subnet of this director's interfaces: DR rewrites only the destination MAC address, so the real must share a network (layer 2) with the director",
				u.hostPort())
			continue
		}
		if more == 0 {
			first = u.line
		}
		more++
	}
	if more > 0 {
		warn(first, KindDROffLink, fix,
			"%d more gate (direct routing) real lines from this line on are in no subnet of this director's interfaces", more)
	}
}

func (u use) hostPort() string {
	if u.port == 0 {
		return u.addr.String()
	}
	return netip.AddrPortFrom(u.addr, u.port).String()
}
