package addr

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

func in(t *testing.T, ns string, f func() error) {
	t.Helper()
	if err := netns.Do(ns, f); err != nil {
		t.Fatal(err)
	}
}

// Routes read from a real kernel pick eth0 and its prefix.
func TestNetnsRoutesAddRemove(t *testing.T) {
	p := netns.New(t)
	vip := netip.MustParseAddr(p.V4(100))
	in(t, p.A, func() error {
		rs, err := Routes(vip)
		if err != nil {
			return err
		}
		ch, err := FindInterface(Query{IP: vip, Prefix: -1}, rs)
		if err != nil || ch.Nic != "eth0" || ch.Prefix != 24 {
			t.Errorf("FindInterface: %+v %v (routes %+v)", ch, err, rs)
		}
		v6 := netip.MustParseAddr(p.V6(100))
		rs6, _ := Routes(v6)
		if ch, err := FindInterface(Query{IP: v6, Prefix: -1}, rs6); err != nil || ch.Nic != "eth0" || ch.Prefix != 64 {
			t.Errorf("FindInterface v6: %+v %v", ch, err)
		}
		if ch, err := FindInterface(Query{IP: netip.MustParseAddr("127.0.0.9"), Prefix: -1}, mustRoutes(t, netip.MustParseAddr("127.0.0.9"))); err != nil || ch.Nic != "lo" || ch.Prefix != 8 {
			t.Errorf("FindInterface 127.0.0.9: %+v %v", ch, err)
		}

		pr := netip.PrefixFrom(vip, 24)
		brd, _ := Broadcast(vip, 24, "+")
		if err := Add(Spec{Dev: "eth0", Prefix: pr, Broadcast: brd, Label: "eth0:vip"}); err != nil {
			return err
		}
		a, ok, err := Has("eth0", pr)
		if err != nil || !ok || a.Label != "eth0:vip" || a.Broadcast != brd {
			t.Errorf("Has after Add: %+v %v %v", a, ok, err)
		}
		if _, ok, _ := Has("eth0", netip.PrefixFrom(vip, 25)); ok {
			t.Error("Has with another prefix length: true")
		}
		if err := Add(Spec{Dev: "eth0", Prefix: pr}); err == nil {
			t.Error("second Add: no error")
		}
		if err := Remove("eth0", pr); err != nil {
			return err
		}
		if _, ok, _ := Has("eth0", pr); ok {
			t.Error("Has after Remove: true")
		}
		// no broadcast asked: none set (not computed)
		if err := Add(Spec{Dev: "eth0", Prefix: pr}); err != nil {
			return err
		}
		if a, _, _ := Has("eth0", pr); a.Broadcast.IsValid() && !a.Broadcast.IsUnspecified() {
			t.Errorf("broadcast without asking: %v", a.Broadcast)
		}
		if _, err := LinkByName("nosuch0"); err == nil {
			t.Error("LinkByName(nosuch0): no error")
		}
		return nil
	})
}

func mustRoutes(t *testing.T, ip netip.Addr) []Route {
	rs, err := Routes(ip)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

// Announcements arrive on the peer byte for byte as built.
func TestNetnsAnnounce(t *testing.T) {
	p := netns.New(t)
	for _, c := range []struct {
		ip        string
		et        int
		replyOnly bool
		want      int
	}{
		{p.V4(100), EtherTypeARP, false, 6},
		{p.V4(101), EtherTypeARP, true, 3},
		{p.V6(100), EtherTypeIPv6, false, 3},
	} {
		for _, kept := range []bool{false, true} {
			testAnnounce(t, p, c.ip, c.et, c.replyOnly, c.want, kept)
		}
	}
}

// testAnnounce sends 3 rounds for ipS from A (Announce, or when kept an
// Announcer's socket kept open) and finds them on B byte for byte.
func testAnnounce(t *testing.T, p *netns.Pair, ipS string, et int, replyOnly bool, want int, kept bool) {
	ip := netip.MustParseAddr(ipS)
	capt := netns.NewCapture(t, p.B, "eth0", et)
	in(t, p.A, func() error {
		l, err := LinkByName("eth0")
		if err != nil {
			return err
		}
		if kept {
			a := NewAnnouncer()
			defer a.Close()
			return a.Announce(l, ip, replyOnly, 3)
		}
		return Announce(context.Background(), l, ip, replyOnly, 3, 20*time.Millisecond)
	})
	frames, _ := AnnounceFrames(p.MACA, ip, replyOnly)
	var got [][]byte
	netns.WaitFor(2*time.Second, func() bool {
		got = nil
		for _, f := range capt.Frames() {
			for _, w := range frames {
				if bytes.Equal(f, w) {
					got = append(got, f)
				}
			}
		}
		return len(got) >= want
	})
	capt.Stop()
	if len(got) != want {
		t.Errorf("%s replyOnly=%v kept=%v: %d matching frames on the peer, want %d", ipS, replyOnly, kept, len(got), want)
	}
}

// DAD: an address the peer already holds fails DAD; a free one passes.
// ProbeARP finds the peer's IPv4 address and not a free one.
func TestNetnsDADAndProbe(t *testing.T) {
	p := netns.New(t)
	taken6 := netip.PrefixFrom(netip.MustParseAddr(p.V6(2)), 64)
	free6 := netip.PrefixFrom(netip.MustParseAddr(p.V6(50)), 64)
	in(t, p.A, func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := Add(Spec{Dev: "eth0", Prefix: taken6}); err != nil {
			return err
		}
		if err := WaitDAD(ctx, "eth0", taken6, 20*time.Millisecond); !errors.Is(err, ErrDADFailed) {
			t.Errorf("WaitDAD on the peer's address: %v, want ErrDADFailed", err)
		}
		if err := Add(Spec{Dev: "eth0", Prefix: free6}); err != nil {
			return err
		}
		if err := WaitDAD(ctx, "eth0", free6, 20*time.Millisecond); err != nil {
			t.Errorf("WaitDAD on a free address: %v", err)
		}
		l, err := LinkByName("eth0")
		if err != nil {
			return err
		}
		mac, err := ProbeARP(ctx, l, netip.MustParseAddr(p.V4(2)), 2, 100*time.Millisecond, time.Second)
		if err != nil || mac.String() != p.MACB.String() {
			t.Errorf("ProbeARP on the peer's address: %v %v, want %v", mac, err, p.MACB)
		}
		t0 := time.Now()
		mac, err = ProbeARP(ctx, l, netip.MustParseAddr(p.V4(77)), 2, 100*time.Millisecond, 300*time.Millisecond)
		if err != nil || mac != nil || time.Since(t0) < 300*time.Millisecond {
			t.Errorf("ProbeARP on a free address: %v %v after %v", mac, err, time.Since(t0))
		}
		return nil
	})
}

func TestNetnsAddrLabel(t *testing.T) {
	p := netns.New(t)
	pr := netip.PrefixFrom(netip.MustParseAddr(p.V6(100)), 128)
	in(t, p.A, func() error {
		if err := AddLabel(pr, 99); err != nil {
			return err
		}
		if err := AddLabel(pr, 99); err == nil {
			t.Error("second AddLabel: no error")
		}
		return nil
	})
	want := "prefix " + p.V6(100) + "/128 label 99"
	if out := p.Run(t, p.A, "ip", "addrlabel", "list"); !strings.Contains(out, want) {
		t.Errorf("ip addrlabel list lacks %q:\n%s", want, out)
	}
	in(t, p.A, func() error { return DelLabel(pr, 99) })
	if out := p.Run(t, p.A, "ip", "addrlabel", "list"); strings.Contains(out, want) {
		t.Errorf("label still there after DelLabel:\n%s", out)
	}
	if err := AddLabel(netip.MustParsePrefix("10.0.0.1/32"), 1); err == nil {
		t.Error("IPv4 label: no error")
	}
}
