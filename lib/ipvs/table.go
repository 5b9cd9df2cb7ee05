// Package ipvs reconciles the kernel's IPVS table with a desired table.
//
// The decision is a pure function, Plan(desired, actual, owned) -> []Op,
// tested without root. The only code touching the kernel is the Kernel
// interface, implemented on github.com/moby/ipvs by Netlink. Nothing is ever
// flushed; a service this config does not own is never touched; a service
// already in the kernel is edited in place (restart adoption), so no
// established connection is reset.
package ipvs

import (
	"cmp"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// Service flags as the kernel defines them (include/uapi/linux/ip_vs.h).
const (
	FlagPersistent = 0x0001
	FlagHashed     = 0x0002 // kernel-only: set on every hashed service
	FlagOnePacket  = 0x0004
	FlagSched1     = 0x0008 // sh-fallback, mh-fallback, flag-1
	FlagSched2     = 0x0010 // sh-port, mh-port, flag-2
	FlagSched3     = 0x0020 // flag-3

	// UserFlags are the flags a configuration can set; the others (HASHED)
	// are the kernel's own bookkeeping and are masked before comparing.
	UserFlags = FlagPersistent | FlagOnePacket | FlagSched1 | FlagSched2 | FlagSched3
)

// Forwarding methods (IP_VS_CONN_F_*).
const (
	FwdMasq  uint32 = 0
	FwdLocal uint32 = 1
	FwdIPIP  uint32 = 2
	FwdGate  uint32 = 3
	FwdMask  uint32 = 7
)

// Schedulers are the ones Debian's kernel ships (ip_vs_*.ko).
var Schedulers = []string{"rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh"}

// Service is one virtual service with its destinations (real servers).
type Service struct {
	Family    int    // 4 or 6
	Protocol  string // "tcp", "udp", "sctp"; "" for a firewall-mark service
	Addr      netip.Addr
	Port      uint16
	FWMark    uint32
	Scheduler string
	Flags     uint32 // UserFlags only
	Timeout   uint32 // persistence in seconds (with FlagPersistent)
	Netmask   int    // persistence netmask as a prefix length; -1 = not a prefix
	PE        string // persistence engine ("sip"); "" = none
	Dests     []Dest
	// Stats are the kernel's counters, as read; Plan ignores them.
	Stats Stats
}

// Stats are the kernel's traffic counters of a service or destination
// since it was added. Connections and packets travel as 32-bit values in
// the netlink stats the kernel answers with (moby/ipvs reads
// IPVS_*_ATTR_STATS, not STATS64), so they wrap at 2^32, which
// Prometheus' rate() takes as a counter reset; bytes are 64-bit.
type Stats struct {
	Conns, PktsIn, PktsOut, BytesIn, BytesOut uint64
}

// Dest is one destination of a service.
type Dest struct {
	Addr   netip.Addr
	Port   uint16
	Fwd    uint32 // FwdMasq, FwdGate, FwdIPIP
	Weight int
	Upper  uint32 // upper connection threshold, 0 = none
	Lower  uint32 // lower connection threshold, 0 = none
	// Active and Inactive are the kernel's connection counts, as read;
	// Plan ignores them (a drain waits for Active to reach 0).
	Active, Inactive int
	Stats            Stats
}

// Key identifies a service in the kernel: what cannot be edited in place.
type Key struct {
	Family   int
	Protocol string
	Addr     netip.Addr
	Port     uint16
	FWMark   uint32
}

// Key of s.
func (s *Service) Key() Key {
	if s.FWMark != 0 {
		return Key{Family: s.Family, FWMark: s.FWMark}
	}
	return Key{Family: s.Family, Protocol: s.Protocol, Addr: s.Addr, Port: s.Port}
}

// String is the service as ipvsadm names it: "-t 10.0.0.1:80", "-f 5".
func (k Key) String() string {
	if k.FWMark != 0 {
		if k.Family == 6 {
			return fmt.Sprintf("-f %d -6", k.FWMark)
		}
		return fmt.Sprintf("-f %d", k.FWMark)
	}
	flag := map[string]string{"tcp": "-t", "udp": "-u", "sctp": "--sctp-service"}[k.Protocol]
	if flag == "" {
		flag = "--" + k.Protocol
	}
	return flag + " " + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// less orders keys: family, fwmark, protocol, address, port.
func (k Key) less(o Key) bool {
	if k.Family != o.Family {
		return k.Family < o.Family
	}
	if k.FWMark != o.FWMark {
		return k.FWMark < o.FWMark
	}
	if k.Protocol != o.Protocol {
		return k.Protocol < o.Protocol
	}
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c < 0
	}
	return k.Port < o.Port
}

// DestKey identifies a destination within its service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

// Key of d.
func (d *Dest) Key() DestKey { return DestKey{d.Addr, d.Port} }

// Less orders destinations as a normalized service holds them.
func (k DestKey) Less(o DestKey) bool { return k.less(o) }

func (k DestKey) less(o DestKey) bool {
	if c := k.Addr.Compare(o.Addr); c != 0 {
		return c < 0
	}
	return k.Port < o.Port
}

// FwdName is ipvsadm's name of a forwarding method.
func FwdName(f uint32) string {
	switch f & FwdMask {
	case FwdMasq:
		return "masq"
	case FwdGate:
		return "gate"
	case FwdIPIP:
		return "ipip"
	case FwdLocal:
		return "local"
	}
	return "fwd" + strconv.Itoa(int(f))
}

// ParseFwd maps gate/masq/ipip (also ipvsadm's -g -m -i, DR, NAT, TUN).
func ParseFwd(s string) (uint32, error) {
	switch strings.ToLower(s) {
	case "gate", "g", "-g", "dr", "route", "direct":
		return FwdGate, nil
	case "masq", "m", "-m", "nat", "masquerade":
		return FwdMasq, nil
	case "ipip", "i", "-i", "tun", "tunnel":
		return FwdIPIP, nil
	}
	return 0, fmt.Errorf("unknown forwarding method %q (gate, masq or ipip)", s)
}

// SchedFlagBits maps ipvsadm's -b names to flag bits.
func SchedFlagBits(names []string) (uint32, error) {
	var f uint32
	for _, n := range names {
		for _, n := range strings.Split(n, ",") {
			switch strings.TrimSpace(strings.ToLower(n)) {
			case "":
			case "flag-1", "sh-fallback", "mh-fallback":
				f |= FlagSched1
			case "flag-2", "sh-port", "mh-port":
				f |= FlagSched2
			case "flag-3":
				f |= FlagSched3
			default:
				return 0, fmt.Errorf("unknown scheduler flag %q (sh-fallback, sh-port, mh-fallback, mh-port, flag-1..3)", n)
			}
		}
	}
	return f, nil
}

// SchedFlagNames names the scheduler flag bits for the scheduler, as
// ipvsadm prints them.
func SchedFlagNames(sched string, flags uint32) []string {
	var out []string
	for i, bit := range []uint32{FlagSched1, FlagSched2, FlagSched3} {
		if flags&bit == 0 {
			continue
		}
		switch {
		case (sched == "sh" || sched == "mh") && i == 0:
			out = append(out, sched+"-fallback")
		case (sched == "sh" || sched == "mh") && i == 1:
			out = append(out, sched+"-port")
		default:
			out = append(out, "flag-"+strconv.Itoa(i+1))
		}
	}
	return out
}

// NetmaskString is the persistence netmask as ipvsadm takes it: dotted for
// IPv4, a prefix length for IPv6.
func (s *Service) NetmaskString() string {
	if s.Family == 6 {
		return strconv.Itoa(s.Netmask)
	}
	if s.Netmask < 0 || s.Netmask > 32 {
		return "?"
	}
	return netip.PrefixFrom(netip.AddrFrom4([4]byte{255, 255, 255, 255}), s.Netmask).Masked().Addr().String()
}

// fullMask is the netmask of a non-persistent service (what ipvsadm sends).
func fullMask(family int) int {
	if family == 6 {
		return 128
	}
	return 32
}

// Normalize returns a copy of s in the form the kernel reports it, so a
// desired service compares equal to its kernel twin:
//   - the netmask of a non-persistent service is the full mask;
//   - the port of a gate/ipip real of a non-fwmark service is the
//     virtual's (the kernel only rewrites ports for masq);
//   - destinations sorted by key.
func Normalize(s Service) Service { return normalize(s, true) }

// normalize with fixPorts false keeps destination ports as they are: the
// kernel's own table is described, never rewritten.
func normalize(s Service, fixPorts bool) Service {
	s.Flags &= UserFlags
	if s.Flags&FlagPersistent == 0 {
		s.Timeout = 0
		s.Netmask = fullMask(s.Family)
	}
	if s.FWMark != 0 {
		s.Protocol, s.Addr, s.Port = "", netip.Addr{}, 0
	}
	ds := make([]Dest, len(s.Dests))
	for i, d := range s.Dests {
		d.Fwd &= FwdMask
		if fixPorts && s.FWMark == 0 && d.Fwd != FwdMasq {
			d.Port = s.Port
		}
		ds[i] = d
	}
	byKey := func(a, b Dest) int {
		if c := a.Addr.Compare(b.Addr); c != 0 {
			return c
		}
		return cmp.Compare(a.Port, b.Port)
	}
	if !slices.IsSortedFunc(ds, byKey) { // most are: a normalized table's, again
		slices.SortFunc(ds, byKey)
	}
	s.Dests = ds
	return s
}

// Validate reports what the kernel would refuse, before asking it.
func (s *Service) Validate() error {
	if s.Family != 4 && s.Family != 6 {
		return fmt.Errorf("%s: family %d (4 or 6)", s.Key(), s.Family)
	}
	if s.FWMark == 0 {
		switch s.Protocol {
		case "tcp", "udp", "sctp":
		default:
			return fmt.Errorf("%s: protocol %q (tcp, udp, sctp or a firewall mark)", s.Key(), s.Protocol)
		}
		if !s.Addr.IsValid() || (s.Addr.Is4() != (s.Family == 4)) {
			return fmt.Errorf("%s: address %v is not IPv%d", s.Key(), s.Addr, s.Family)
		}
	}
	if s.Scheduler == "" {
		return fmt.Errorf("%s: no scheduler", s.Key())
	}
	if s.Flags&^UserFlags != 0 {
		return fmt.Errorf("%s: flags %#x", s.Key(), s.Flags)
	}
	if s.Flags&FlagPersistent != 0 && (s.Netmask < 0 || s.Netmask > fullMask(s.Family)) {
		return fmt.Errorf("%s: persistence netmask /%d", s.Key(), s.Netmask)
	}
	seen := map[DestKey]bool{}
	for _, d := range s.Dests {
		if !d.Addr.IsValid() {
			return fmt.Errorf("%s: real with no address", s.Key())
		}
		if d.Weight < 0 || d.Weight > 65535 {
			return fmt.Errorf("%s: real %s: weight %d (0..65535)", s.Key(), d.Key(), d.Weight)
		}
		if d.Addr.Is4() != (s.Family == 4) {
			return fmt.Errorf("%s: real %s: not IPv%d like its virtual", s.Key(), d.Key(), s.Family)
		}
		if d.Lower > d.Upper {
			// The kernel refuses it with ERANGE, an upper of 0 (none) included.
			return fmt.Errorf("%s: real %s: lower threshold %d above the upper one %d (l:N needs u:M with M >= N)", s.Key(), d.Key(), d.Lower, d.Upper)
		}
		if seen[d.Key()] {
			return fmt.Errorf("%s: real %s twice", s.Key(), d.Key())
		}
		seen[d.Key()] = true
	}
	return nil
}

func (k DestKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }
