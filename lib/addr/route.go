// Package addr manages virtual IP addresses on Linux interfaces: choosing
// the interface and prefix from the routing table (as IPaddr2's findif
// does), adding and removing addresses through netlink, waiting out IPv6
// duplicate address detection, and announcing an address with gratuitous
// ARP (IPv4) or unsolicited Neighbor Advertisements (IPv6) sent as raw
// frames. It is shared by the VIP agent and lvsd's VRRP mode, so it knows
// nothing about OCF.
package addr

import (
	"errors"
	"fmt"
	"net/netip"
)

// Route kernel constants (linux/rtnetlink.h), kept here so that the pure
// selection code and its tests need no netlink import.
const (
	TableMain  = 254
	TableLocal = 255

	TypeUnicast = 1 // RTN_UNICAST
	TypeLocal   = 2 // RTN_LOCAL

	ScopeUniverse = 0   // RT_SCOPE_UNIVERSE
	ScopeLink     = 253 // RT_SCOPE_LINK
	ScopeHost     = 254 // RT_SCOPE_HOST
)

// Route is the part of a kernel route that interface selection looks at.
type Route struct {
	Dst   netip.Prefix // the zero Prefix is a default route
	Dev   string       // output interface name
	Type  int          // TypeUnicast, TypeLocal, or others (unreachable, blackhole, prohibit...)
	Scope int
	Table int
}

// Query is what the caller knows about the address: the address itself,
// and optionally the interface and the prefix length (-1: unknown).
type Query struct {
	IP     netip.Addr
	Prefix int
	Nic    string
}

// Choice is the interface and prefix length to configure the address with.
type Choice struct {
	Nic    string
	Prefix int
	Route  *Route // the route that decided (nil when both were given)
}

// ErrNoRoute means no route tells the interface or prefix: the caller
// must give them.
var ErrNoRoute = errors.New("unable to find nic or netmask: no connected route covers the address")

// FindInterface picks the interface and prefix length for q.IP the way
// IPaddr2's findif does: among the main table's unicast routes of the
// address's family that contain it (IPv4: only scope link, that is directly
// connected networks), ignoring default, host (/32, /128), unreachable,
// blackhole and prohibit routes, restricted to q.Nic when given and to
// routes no longer than q.Prefix when given, the longest prefix wins (on a
// tie, the later route in kernel order, as findif's awk does). 127/8
// addresses fall back to the local table. Values given in q are kept.
func FindInterface(q Query, routes []Route) (Choice, error) {
	if !q.IP.IsValid() {
		return Choice{}, fmt.Errorf("invalid address")
	}
	ip := q.IP.Unmap()
	max := ip.BitLen()
	if q.Prefix > max {
		return Choice{}, fmt.Errorf("prefix length %d out of range for %s", q.Prefix, ip)
	}
	var best *Route
	for i := range routes {
		r := &routes[i]
		if r.Table != TableMain || r.Type != TypeUnicast || !r.Dst.IsValid() {
			continue
		}
		if r.Dst.Addr().Is4() != ip.Is4() {
			continue
		}
		bits := r.Dst.Bits()
		if bits == 0 || bits == max || !r.Dst.Contains(ip) {
			continue
		}
		if ip.Is4() && r.Scope != ScopeLink {
			continue
		}
		if q.Prefix >= 0 && bits > q.Prefix {
			continue
		}
		if q.Nic != "" && r.Dev != q.Nic {
			continue
		}
		if best == nil || bits >= best.Dst.Bits() {
			best = r
		}
	}
	if best == nil && ip.Is4() && netip.MustParsePrefix("127.0.0.0/8").Contains(ip) {
		for i := range routes {
			r := &routes[i]
			if r.Table == TableLocal && r.Scope == ScopeHost && r.Dst.IsValid() && r.Dst.Addr().Is4() &&
				r.Dst.Bits() < 32 && r.Dst.Contains(ip) {
				best = r
				break
			}
		}
	}
	c := Choice{Nic: q.Nic, Prefix: q.Prefix, Route: best}
	if c.Nic != "" && c.Prefix >= 0 {
		return c, nil
	}
	if best == nil {
		return Choice{}, ErrNoRoute
	}
	if c.Nic == "" {
		c.Nic = best.Dev
	}
	if c.Prefix < 0 {
		c.Prefix = best.Dst.Bits()
	}
	return c, nil
}

// Broadcast computes an IPv4 broadcast address from a spec as `ip addr add
// ... brd SPEC` reads it: "" = none, "+" = host bits set, "-" = host bits
// cleared, or an explicit address. Like ip, "+" and "-" give none for
// prefixes longer than /30. IPv6 has no broadcast: always invalid.
func Broadcast(ip netip.Addr, prefix int, spec string) (netip.Addr, error) {
	if spec == "" || !ip.Is4() {
		return netip.Addr{}, nil
	}
	switch spec {
	case "+", "-":
		if prefix > 30 {
			return netip.Addr{}, nil
		}
		b := ip.As4()
		for i := prefix; i < 32; i++ {
			if spec == "+" {
				b[i/8] |= 0x80 >> (i % 8)
			} else {
				b[i/8] &^= 0x80 >> (i % 8)
			}
		}
		return netip.AddrFrom4(b), nil
	}
	a, err := netip.ParseAddr(spec)
	if err != nil || !a.Is4() {
		return netip.Addr{}, fmt.Errorf("invalid broadcast address %q (want +, - or an IPv4 address)", spec)
	}
	return a, nil
}

// MaskBits4 is the prefix length of IPv4 netmask m (255.255.255.0: 24),
// false when its bits are not contiguous: the one dotted-quad reader of
// the suite (lib/config's persistence netmask uses it too).
func MaskBits4(m netip.Addr) (int, bool) {
	b := m.As4()
	x := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	n := 0
	for n < 32 && x&(1<<(31-n)) != 0 {
		n++
	}
	return n, n == 32 || x<<n == 0
}

// ParseNetmask reads a prefix length ("24") or an IPv4 dotted-quad mask
// ("255.255.255.0"), as IPaddr2 accepts both. max is 32 or 128.
func ParseNetmask(s string, max int) (int, error) {
	if s == "" {
		return -1, nil
	}
	if len(s) <= 3 {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, fmt.Errorf("not a prefix length")
			}
			n = n*10 + int(c-'0')
		}
		if n < 1 || n > max {
			return 0, fmt.Errorf("prefix length must be 1-%d", max)
		}
		return n, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() || max != 32 {
		return 0, fmt.Errorf("not a prefix length or dotted-quad netmask")
	}
	n, ok := MaskBits4(a)
	if !ok {
		return 0, fmt.Errorf("netmask %s is not contiguous", s)
	}
	if n == 0 {
		return 0, fmt.Errorf("netmask 0.0.0.0 is not usable")
	}
	return n, nil
}
