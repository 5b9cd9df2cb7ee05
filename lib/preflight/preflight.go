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
	IPVS   Fact[bool]   // /proc/net/ip_vs exists: the kernel has IPVS
	V4, V6 Family       // per address family
	Addrs  Fact[[]Addr] // the director's interface addresses
	Errors []error      // what could not be read, and why (the facts are left unknown)
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
	line int
	addr netip.Addr // unmapped, no zone
	port uint16
	fwd  string
}

// reals lists the reals and fallbacks of every virtual, once each: the
// global fallback is the same line in every virtual that inherits it.
func reals(cfg *config.Config) []use {
	type key struct {
		line int
		addr netip.AddrPort
		fwd  string
	}
	seen := map[key]bool{}
	var out []use
	add := func(r *config.Real) {
		if r == nil || !r.Addr.IsValid() {
			return
		}
		a := r.Addr.Unmap().WithZone("")
		k := key{r.Line, netip.AddrPortFrom(a, r.Port), r.Forward}
		if !seen[k] {
			seen[k] = true
			out = append(out, use{r.Line, a, r.Port, r.Forward})
		}
	}
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			add(r)
		}
		add(v.Fallback)
	}
	return out
}

// host answers questions about the director's addresses.
type host struct{ addrs []Addr }

// local: the director itself (loopback, or one of its addresses); IPVS
// delivers to it locally, with no forwarding and no neighbour.
func (h host) local(a netip.Addr) bool {
	if a.IsLoopback() {
		return true
	}
	for _, x := range h.addrs {
		if x.Prefix.Addr().WithZone("") == a {
			return true
		}
	}
	return false
}

// onLink: in the subnet of one of the director's (non-loopback) addresses.
func (h host) onLink(a netip.Addr) bool {
	for _, x := range h.addrs {
		if !x.Prefix.Addr().IsLoopback() && x.Prefix.Contains(a) {
			return true
		}
	}
	return false
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
	if len(cfg.Virtuals) == 0 {
		return nil // VRRP only: no IPVS, no reals
	}
	if f.IPVS.OK && !f.IPVS.V {
		warn(cfg.Virtuals[0].Line, KindIPVS,
			"modprobe ip_vs; to load it at boot: echo ip_vs > /etc/modules-load.d/ip_vs.conf",
			"the kernel's IPVS is not loaded (no /proc/net/ip_vs): no virtual service can be programmed")
	}
	us := reals(cfg)
	var h host
	if f.Addrs.OK {
		h.addrs = f.Addrs.V
	}
	for _, six := range []bool{false, true} {
		fam, sys := f.V4, "net.ipv4"
		if six {
			fam, sys = f.V6, "net.ipv6"
		}
		var mine []use
		for _, u := range us {
			if u.addr.Is6() == six {
				mine = append(mine, u)
			}
		}
		if fam.Forwarding.OK && !fam.Forwarding.V {
			checkForwarding(mine, h, six, warn)
		}
		if f.Addrs.OK {
			checkNeighbours(mine, h, fam.GCThresh3, six, sys, warn)
			checkDR(mine, h, warn)
		}
	}
	sort.SliceStable(ws, func(i, j int) bool { return ws[i].Line < ws[j].Line })
	return ws
}

type warnFunc func(line int, k Kind, fix, format string, args ...any)

// checkForwarding: NAT replies come back through the director to the
// client, a routed (forwarded) packet, dropped while forwarding is off.
func checkForwarding(us []use, h host, six bool, warn warnFunc) {
	var masq []use
	for _, u := range us {
		if u.fwd == "masq" && !h.local(u.addr) {
			masq = append(masq, u)
		}
	}
	if len(masq) == 0 {
		return
	}
	name, fix := "net.ipv4.ip_forward", "sysctl -w net.ipv4.ip_forward=1; to keep it: echo 'net.ipv4.ip_forward = 1' > /etc/sysctl.d/90-lvs.conf"
	if six {
		name = "net.ipv6.conf.all.forwarding"
		fix = "sysctl -w net.ipv6.conf.all.forwarding=1; to keep it: echo 'net.ipv6.conf.all.forwarding = 1' > /etc/sysctl.d/90-lvs.conf" +
			" (an interface that takes its default route from router advertisements then needs net.ipv6.conf.IFACE.accept_ra = 2)"
	}
	more := ""
	if n := len(masq) - 1; n > 0 {
		more = fmt.Sprintf(" (and %d more masq reals)", n)
	}
	u := masq[0]
	warn(u.line, KindForwarding, fix,
		"real %s is masq (NAT) but %s = 0%s: the replies the reals send back through the director are dropped",
		u.hostPort(), name, more)
}

// checkNeighbours: every on-link real needs a neighbour entry (for its
// checks and its traffic); beyond gc_thresh3 the kernel refuses new ones, so
// the rest never resolve and their checks time out.
func checkNeighbours(us []use, h host, limit Fact[int], six bool, sys string, warn warnFunc) {
	seen := map[netip.Addr]bool{}
	var lines []int // line of each distinct on-link real, in order
	for _, u := range us {
		a := u.addr
		if seen[a] || h.local(a) || !h.onLink(a) {
			continue
		}
		seen[a] = true
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
	fix := fmt.Sprintf("raise it%s: echo '%s = %d' and '%s.neigh.default.gc_thresh2 = %d' > /etc/sysctl.d/90-lvs.conf; sysctl --system",
		where, name, t3, sys, t3/2)
	warn(lines[max], KindNeighbours, fix,
		"%d distinct on-link %s real servers, more than the neighbour table holds (%s): about %d of them (from this line on) cannot be resolved and their checks time out",
		n, famName(six), size, n-max)
}

// checkDR: direct routing only rewrites the destination MAC address, so a
// gate real must be on a network the director is attached to.
func checkDR(us []use, h host, warn warnFunc) {
	seen := map[netip.Addr]bool{}
	var off []use
	for _, u := range us {
		a := u.addr
		if u.fwd != "gate" || seen[a] || h.local(a) || h.onLink(a) {
			continue
		}
		seen[a] = true
		off = append(off, u)
	}
	const fix = "give the director an address in the real's subnet on the interface of that network, or forward it with ipip (tunnel) or masq (NAT)"
	for i, u := range off {
		if i == maxDROffLink {
			warn(u.line, KindDROffLink, fix,
				"%d more gate (direct routing) reals from this line on are in no subnet of this director's interfaces", len(off)-i)
			break
		}
		warn(u.line, KindDROffLink, fix,
			"real %s is gate (direct routing) but in no subnet of this director's interfaces: DR only rewrites the destination MAC address, so the real must be on a network the director is attached to",
			u.hostPort())
	}
}

func (u use) hostPort() string {
	if u.port == 0 {
		return u.addr.String()
	}
	return netip.AddrPortFrom(u.addr, u.port).String()
}
