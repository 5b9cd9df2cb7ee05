package ipvs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	_ "unsafe" // go:linkname: moby/ipvs's own message builders

	moby "github.com/moby/ipvs"
	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// The encoder is checked against the messages moby/ipvs itself builds
// (the Apply path), not a copy of them: its unexported builders, linked.

//go:linkname mobyFillService github.com/moby/ipvs.fillService
func mobyFillService(*moby.Service) nl.NetlinkRequestData

//go:linkname mobyFillDestination github.com/moby/ipvs.fillDestination
func mobyFillDestination(*moby.Destination) nl.NetlinkRequestData

//go:linkname mobyNewGenlRequest github.com/moby/ipvs.newGenlRequest
func mobyNewGenlRequest(familyID int, cmd uint8) *nl.NetlinkRequest

// mobyMessage is the message moby/ipvs sends for op (as Netlink.Apply
// calls it), with family id fam.
func mobyMessage(t *testing.T, fam int, op Op) []byte {
	t.Helper()
	ms, err := toMoby(&op.Service)
	if err != nil {
		t.Fatal(err)
	}
	md := &moby.Destination{Address: net.IP(op.Dest.Addr.AsSlice()), Port: op.Dest.Port, Weight: op.Dest.Weight,
		ConnectionFlags: op.Dest.Fwd, UpperThreshold: op.Dest.Upper, LowerThreshold: op.Dest.Lower}
	req := mobyNewGenlRequest(fam, ipvsCmd[op.Kind])
	req.AddData(mobyFillService(ms))
	if op.Kind >= AddDest {
		req.AddData(mobyFillDestination(md))
	}
	return req.Serialize()
}

// batchTable has every kind of service and real the encoder meets.
func batchTable() []Service {
	r6 := func(n int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%d", n)) }
	return []Service{
		web(gate(1, 1), Dest{Addr: rip(2), Port: 8080, Fwd: FwdMasq, Weight: 65535, Upper: 1000, Lower: 100},
			Dest{Addr: rip(3), Port: 80, Fwd: FwdIPIP, Weight: 0}),
		{Family: 4, Protocol: "udp", Addr: vip, Port: 53, Scheduler: "wlc", Flags: FlagPersistent | FlagOnePacket,
			Timeout: 600, Netmask: 24, Dests: []Dest{{Addr: rip(4), Port: 5353, Fwd: FwdMasq, Weight: 5}}},
		{Family: 4, Protocol: "sctp", Addr: vip, Port: 9, Scheduler: "sh", Flags: FlagSched1 | FlagSched2 | FlagPersistent,
			Timeout: 30, Netmask: 0, PE: "sip", Dests: []Dest{{Addr: rip(5), Port: 9, Fwd: FwdGate, Weight: 3}}},
		{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("::ffff:192.0.2.11"), Port: 443, Scheduler: "mh",
			Flags: FlagPersistent, Timeout: 1, Netmask: 32, Dests: []Dest{{Addr: netip.MustParseAddr("::ffff:10.0.0.6"), Port: 443, Fwd: FwdGate, Weight: 1}}},
		{Family: 4, FWMark: 7, Scheduler: "rr", Flags: FlagPersistent, Timeout: 300, Netmask: 16,
			Dests: []Dest{{Addr: rip(6), Fwd: FwdGate, Weight: 1, Upper: 50}}},
		{Family: 6, FWMark: 8, Scheduler: "lblcr", Dests: []Dest{{Addr: r6(6), Fwd: FwdGate, Weight: 2}}},
		{Family: 6, Protocol: "tcp", Addr: vip6, Port: 80, Scheduler: "wrr", Flags: FlagPersistent, Timeout: 120, Netmask: 64,
			Dests: []Dest{{Addr: r6(1), Port: 80, Fwd: FwdMasq, Weight: 4, Upper: 20, Lower: 2}, {Addr: r6(2), Port: 80, Fwd: FwdGate, Weight: 1}}},
		{Family: 6, Protocol: "udp", Addr: vip6, Port: 53, Scheduler: "dh", Flags: FlagOnePacket | FlagSched3,
			Dests: []Dest{{Addr: r6(3), Port: 5353, Fwd: FwdMasq, Weight: 1}}},
	}
}

// everyKind is every op kind on every service and real of batchTable.
func everyKind() []Op {
	var ops []Op
	for _, s := range batchTable() {
		ops = append(ops, Op{Kind: AddService, Service: s}, Op{Kind: EditService, Service: s}, Op{Kind: DelService, Service: s})
		for _, d := range s.Dests {
			for _, k := range []OpKind{AddDest, EditDest, DelDest} {
				ops = append(ops, Op{Kind: k, Service: s, Dest: d})
			}
		}
	}
	return ops
}

type attr struct {
	typ  uint16
	data []byte
}

func parseAttrs(t *testing.T, b []byte) []attr {
	t.Helper()
	as, err := nl.ParseRouteAttr(b)
	if err != nil {
		t.Fatalf("attributes %x: %v", b, err)
	}
	var out []attr
	for _, a := range as {
		out = append(out, attr{a.Attr.Type, a.Value})
	}
	return out
}

// only keeps the attributes of the given types, in order.
func only(as []attr, types ...uint16) []attr {
	var out []attr
	for _, a := range as {
		for _, t := range types {
			if a.typ == t {
				out = append(out, a)
			}
		}
	}
	return out
}

func TestBatchEncodingMatchesMoby(t *testing.T) {
	const fam = 0x2a
	for _, op := range everyKind() {
		ours := appendOp(nil, fam, 77, &op)
		theirs := mobyMessage(t, fam, op)
		name := op.String()

		// Header: ours asks for no ack (failures are acked anyway).
		if got := binary.NativeEndian.Uint32(ours); int(got) != len(ours) || len(ours)%4 != 0 {
			t.Fatalf("%s: nlmsg_len %d, message %d bytes", name, got, len(ours))
		}
		if typ := binary.NativeEndian.Uint16(ours[4:]); typ != fam {
			t.Errorf("%s: type %d", name, typ)
		}
		if fl := binary.NativeEndian.Uint16(ours[6:]); fl != unix.NLM_F_REQUEST {
			t.Errorf("%s: flags %#x", name, fl)
		}
		if fl := binary.NativeEndian.Uint16(theirs[6:]); fl != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
			t.Errorf("%s: moby's flags %#x", name, fl)
		}
		if seq := binary.NativeEndian.Uint32(ours[8:]); seq != 77 {
			t.Errorf("%s: seq %d", name, seq)
		}
		// The generic netlink header: command and version.
		if !bytes.Equal(ours[16:20], theirs[16:20]) {
			t.Errorf("%s: genl header %x, moby %x", name, ours[16:20], theirs[16:20])
		}
		// A service's add or edit, which the kernel reads whole, is moby's
		// byte for byte...
		full := op.Kind == AddService || op.Kind == EditService
		if full && !bytes.Equal(ours[16:], theirs[16:]) {
			t.Errorf("%s: payload\n%x\nmoby\n%x", name, ours[16:], theirs[16:])
		}
		// ...and attribute by attribute: the service's identifying ones
		// for a real's op or a removal (all the kernel reads of it then).
		top, mtop := parseAttrs(t, ours[20:]), parseAttrs(t, theirs[20:])
		if len(top) != len(mtop) {
			t.Fatalf("%s: %d top attributes, moby %d", name, len(top), len(mtop))
		}
		for i := range top {
			if top[i].typ != mtop[i].typ {
				t.Fatalf("%s: attribute %d type %d, moby %d", name, i, top[i].typ, mtop[i].typ)
			}
			got, want := parseAttrs(t, top[i].data), parseAttrs(t, mtop[i].data)
			switch {
			case full:
			case top[i].typ == ipvsCmdAttrService:
				want = only(want, ipvsSvcAttrAF, ipvsSvcAttrProtocol, ipvsSvcAttrAddr, ipvsSvcAttrPort, ipvsSvcAttrFWMark)
			case op.Kind == DelDest:
				want = only(want, ipvsDestAttrAddr, ipvsDestAttrPort)
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("%s: attribute %d:\n got %v\nwant %v", name, top[i].typ, got, want)
			}
		}
	}
}

func TestBatchEncodingIsTheKernelsLayout(t *testing.T) {
	// One message spelled out: -a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1.
	op := Op{Kind: AddDest, Service: web(), Dest: gate(1, 1)}
	got := appendOp(nil, 0x1d, 5, &op)
	ne := func(v ...uint16) []byte {
		var b []byte
		for _, x := range v {
			b = binary.NativeEndian.AppendUint16(b, x)
		}
		return b
	}
	var want []byte
	want = append(want, ne(108, 0, 0x1d, unix.NLM_F_REQUEST, 5, 0, 0, 0)...) // nlmsghdr (little-endian host)
	want = append(want, 5, 1, 0, 0)                                          // IPVS_CMD_NEW_DEST, version 1
	want = append(want, ne(36, ipvsCmdAttrService)...)
	want = append(want, ne(6, ipvsSvcAttrAF, syscall.AF_INET, 0)...)
	want = append(want, ne(6, ipvsSvcAttrProtocol, syscall.IPPROTO_TCP, 0)...)
	want = append(want, ne(8, ipvsSvcAttrAddr)...)
	want = append(want, 192, 0, 2, 10)
	want = append(want, ne(6, ipvsSvcAttrPort)...)
	want = append(want, 0, 80, 0, 0) // network order
	want = append(want, ne(52, ipvsCmdAttrDest)...)
	want = append(want, ne(8, ipvsDestAttrAddr)...)
	want = append(want, 10, 0, 0, 1)
	want = append(want, ne(6, ipvsDestAttrPort)...)
	want = append(want, 0, 80, 0, 0)
	for _, a := range [][2]uint16{{ipvsDestAttrFwd, uint16(FwdGate)}, {ipvsDestAttrWeight, 1}, {ipvsDestAttrUThresh, 0}, {ipvsDestAttrLThresh, 0}} {
		want = append(want, ne(8, a[0], a[1], 0)...)
	}
	// The bytes above are little-endian's: CI (amd64) and every target we
	// ship are, so this skip can never hide a failure there.
	if binary.NativeEndian.Uint16([]byte{1, 0}) != 1 {
		t.Skip("spelled out for a little-endian host")
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("got\n%x\nwant\n%x", got, want)
	}
	if noop := appendNoop(nil, 9); !bytes.Equal(noop, ne(16, 0, unix.NLMSG_NOOP, unix.NLM_F_REQUEST|unix.NLM_F_ACK, 9, 0, 0, 0)) {
		t.Fatalf("noop %x", noop)
	}
}

// batchMem is a BatchKernel over Mem: each batch applied op by op,
// recorded.
type batchMem struct {
	*Mem
	batches [][]string
}

func (b *batchMem) ApplyBatch(ops []Op) []error {
	errs := make([]error, len(ops))
	var names []string
	for i, op := range ops {
		errs[i] = b.Apply(op)
		names = append(names, op.String())
	}
	b.batches = append(b.batches, names)
	return errs
}

// The batch path reports what the op-by-op path reports, refusals
// included, and never sends the reals of a refused service.
func TestReconcileBatchSameAsOneByOne(t *testing.T) {
	bad := Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 81, Scheduler: "nosuch", Dests: []Dest{gate(7, 1), gate(8, 1)}}
	old := Service{Family: 4, Protocol: "udp", Addr: vip, Port: 99, Scheduler: "rr", Dests: []Dest{{Addr: rip(9), Port: 99, Weight: 1}}}
	actual := []Service{web(gate(1, 1), gate(2, 1)), old}
	desired := []Service{web(gate(1, 5), gate(3, 1)), bad}
	for _, s := range batchTable()[1:] {
		if s.Validate() == nil { // not the v4-mapped one
			desired = append(desired, s)
		}
	}
	refuse := func(op Op) error {
		switch {
		case op.Service.Scheduler == "nosuch":
			return ErrNotFound
		case op.Kind == AddDest && op.Dest.Addr == rip(4):
			return errors.New("a refused real")
		}
		return nil
	}
	run := func(k Kernel) (*Result, error, []Service) {
		res, err := Reconcile(k, desired, []Key{old.Key()}, false)
		table, _ := k.Services()
		return res, err, table
	}
	seq := NewMem(actual)
	seq.Refuse = refuse
	bm := &batchMem{Mem: NewMem(actual)}
	bm.Refuse = refuse
	r1, e1, t1 := run(seq)
	r2, e2, t2 := run(bm)
	if e1 == nil || e2 == nil || e1.Error() != e2.Error() {
		t.Errorf("errors differ:\n%v\n%v", e1, e2)
	}
	if r1.Applied != r2.Applied || lines(r1.Failed) != lines(r2.Failed) || fmt.Sprint(t1) != fmt.Sprint(t2) {
		t.Errorf("one by one: applied %d, failed\n%s\nbatch: applied %d, failed\n%s", r1.Applied, lines(r1.Failed), r2.Applied, lines(r2.Failed))
	}
	if !strings.Contains(lines(r2.Failed), "-a -t 192.0.2.10:81 -r 10.0.0.7:81") {
		t.Errorf("the reals of the refused service are not failed:\n%s", lines(r2.Failed))
	}
	// Two batches: the service adds, then everything else minus the reals
	// of the refused one.
	if len(bm.batches) != 2 {
		t.Fatalf("%d batches: %q", len(bm.batches), bm.batches)
	}
	for _, l := range bm.batches[0] {
		if !strings.HasPrefix(l, "-A ") {
			t.Errorf("first batch: %s", l)
		}
	}
	for _, l := range bm.batches[1] {
		if strings.HasPrefix(l, "-A ") || strings.Contains(l, ":81 ") {
			t.Errorf("second batch: %s", l)
		}
	}
	if n := len(bm.batches[0]) + len(bm.batches[1]); n != len(r2.Ops)-2 {
		t.Errorf("%d ops sent of %d planned (2 not sent)", n, len(r2.Ops))
	}
}

// ack is one NLMSG_ERROR as the kernel sends it with NETLINK_CAP_ACK:
// the code, then the request's header.
func ack(seq uint32, code int32) []byte {
	var b []byte
	b = binary.NativeEndian.AppendUint32(b, 36)
	b = binary.NativeEndian.AppendUint16(b, unix.NLMSG_ERROR)
	b = binary.NativeEndian.AppendUint16(b, 0x100) // NLM_F_CAPPED
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 1234)
	b = binary.NativeEndian.AppendUint32(b, uint32(code))
	return append(b, make([]byte, 16)...) // the request's header
}

func TestBatchAcks(t *testing.T) {
	ops := []Op{{Kind: AddService, Service: web()}, {Kind: AddDest, Service: web(), Dest: gate(1, 1)}, {Kind: AddDest, Service: web(), Dest: gate(2, 1)}}
	idx := []int{0, 1, 2}
	c := &batchConn{}
	const base, noop = 10, 13
	errs := make([]error, 3)
	// An error for the second op, a success ack, a stale sequence number
	// (another buffer's), in one datagram: not done yet.
	d := append(append(ack(11, -int32(syscall.EEXIST)), ack(12, 0)...), ack(9, -int32(syscall.ENOENT))...)
	done, err := c.acks(d, base, noop, idx, ops, errs)
	if err != nil || done {
		t.Fatalf("done %v, err %v", done, err)
	}
	if errs[0] != nil || errs[2] != nil || !errors.Is(errs[1], syscall.EEXIST) ||
		errs[1].Error() != "ipvsadm -a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1: file exists" {
		t.Fatalf("errs %v", errs)
	}
	// The NOOP's ack ends the buffer.
	if done, err := c.acks(ack(noop, 0), base, noop, idx, ops, errs); err != nil || !done {
		t.Fatalf("noop: done %v, err %v", done, err)
	}
	// A message longer than its datagram is refused, not read past.
	bad := ack(11, -1)
	binary.NativeEndian.PutUint32(bad, 400)
	if _, err := c.acks(bad, base, noop, idx, ops, make([]error, 3)); err == nil {
		t.Fatal("bad length accepted")
	}
}
