package ipvs

import (
	"net/netip"
	"reflect"
	"testing"

	"golang.org/x/sys/unix"
)

// attrsOf is the attributes of op's message as appendOp writes it (the
// kernel's dump answers carry the same nests).
func attrsOf(op Op) []byte {
	return appendOp(nil, 20, 1, &op)[unix.NLMSG_HDRLEN+4:]
}

// The dump decoder reads back what the writer encodes: services (v4, v6,
// fwmark, persistent) and reals, with the counters of a stats nest.
func TestParseRoundTrip(t *testing.T) {
	for _, s := range []Service{
		{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Scheduler: "wrr", Netmask: 32},
		{Family: 4, Protocol: "udp", Addr: netip.MustParseAddr("192.0.2.2"), Port: 53, Scheduler: "sh", Flags: FlagPersistent, Timeout: 300, Netmask: 24},
		{Family: 6, Protocol: "tcp", Addr: netip.MustParseAddr("2001:db8::1"), Port: 443, Scheduler: "rr", Netmask: 128},
		{Family: 4, FWMark: 7, Scheduler: "wlc", Netmask: 32},
	} {
		got, _, err := parseService(attrsOf(Op{Kind: AddService, Service: s}))
		if err != nil || !reflect.DeepEqual(got, s) {
			t.Errorf("service %+v read back as %+v (%v)", s, got, err)
		}
		af := uint16(unix.AF_INET)
		d := Dest{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080, Fwd: FwdMasq, Weight: 3, Upper: 10, Lower: 2}
		if s.Family == 6 {
			af, d.Addr = unix.AF_INET6, netip.MustParseAddr("2001:db8::2")
		}
		gd, err := parseDest(attrsOf(Op{Kind: AddDest, Service: s, Dest: d}), af)
		if err != nil || !reflect.DeepEqual(gd, d) {
			t.Errorf("real %+v read back as %+v (%v)", d, gd, err)
		}
	}
	// counters: a stats nest as the kernel sends it
	var st []byte
	st = attrU32(st, ipvsStatsConns, 5)
	st = attrU32(st, ipvsStatsPktsIn, 6)
	st = attrU32(st, ipvsStatsPktsOut, 7)
	st = attrHeader(st, ipvsStatsBytesIn, 8)
	st = append(st, 8, 0, 0, 0, 0, 0, 0, 0)
	st = attrHeader(st, ipvsStatsBytesOut, 8)
	st = append(st, 9, 0, 0, 0, 0, 0, 0, 0)
	if got := stats32(st); got != (Stats{Conns: 5, PktsIn: 6, PktsOut: 7, BytesIn: 8, BytesOut: 9}) {
		t.Errorf("stats read as %+v", got)
	}
}

// Any answer decodes without a panic; a service or real without a
// usable address is an error, not a zero address.
func FuzzParseDump(f *testing.F) {
	s := Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Scheduler: "wrr"}
	f.Add(attrsOf(Op{Kind: AddService, Service: s}), uint16(unix.AF_INET))
	f.Add(attrsOf(Op{Kind: AddDest, Service: s, Dest: Dest{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 1}}), uint16(unix.AF_INET))
	f.Fuzz(func(t *testing.T, msg []byte, af uint16) {
		if s, _, err := parseService(msg); err == nil && s.FWMark == 0 && !s.Addr.IsValid() {
			t.Fatalf("service without an address and no error: %+v", s)
		}
		if d, err := parseDest(msg, af); err == nil && !d.Addr.IsValid() {
			t.Fatalf("real without an address and no error: %+v", d)
		}
		stats32(msg)
	})
}
