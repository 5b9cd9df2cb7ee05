package icmp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

func TestParseTarget(t *testing.T) {
	for _, c := range []struct{ in, addr, iface string }{
		{"10.0.0.1", "10.0.0.1", ""},
		{"10.0.0.1%eth0", "10.0.0.1", "eth0"},
		{"fe80::1%eth1", "fe80::1", "eth1"},
		{"[2001:db8::1]", "2001:db8::1", ""},
		{"[fe80::1]%veth0", "fe80::1", "veth0"},
		{"::ffff:10.1.2.3", "10.1.2.3", ""},
	} {
		got, err := ParseTarget(c.in)
		if err != nil || got.Addr.String() != c.addr || got.Iface != c.iface {
			t.Errorf("ParseTarget(%q) = %v,%q,%v; want %s,%s", c.in, got.Addr, got.Iface, err, c.addr, c.iface)
		}
	}
	for _, bad := range []string{"", "host.example", "10.0.0.300", "10.0.0.1%", "1.2.3.4%waytoolonginterfacename"} {
		if _, err := ParseTarget(bad); err == nil {
			t.Errorf("ParseTarget(%q): no error", bad)
		}
	}
}

func TestLoopback(t *testing.T) {
	testenv.Root(t)
	res := ProbeAll(context.Background(), []Target{
		{Addr: netip.MustParseAddr("127.0.0.1")},
		{Addr: netip.MustParseAddr("::1")},
		{Addr: netip.MustParseAddr("127.0.0.1"), Iface: "lo"},
	}, 1, time.Second)
	for _, r := range res {
		if !r.OK || r.Err != nil {
			t.Errorf("%s: ok=%v err=%v", r.Target, r.OK, r.Err)
		}
	}
}

func TestUnprivilegedLoopback(t *testing.T) {
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	if f := strings.Fields(string(b)); len(f) != 2 || f[0] != "0" {
		t.Skip("ping_group_range does not allow gid 0 datagram ping sockets")
	}
	p := NewPinger()
	priv := false
	p.Privileged = &priv
	defer p.Close()
	res := p.ProbeAll(context.Background(), []Target{{Addr: netip.MustParseAddr("127.0.0.1")}, {Addr: netip.MustParseAddr("::1")}}, 1, time.Second)
	for _, r := range res {
		if !r.OK || r.Err != nil {
			t.Errorf("%s: ok=%v err=%v", r.Target, r.OK, r.Err)
		}
	}
}

// sh runs a command, failing the test on error.
func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestNetns: a peer namespace behind a veth answers on .2 and 2001:db8::2;
// .9 and ::9 are silent (nobody owns them: no answer); all probed at once
// through one shared socket per family, in about one timeout.
func TestNetns(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "ip")
	id := os.Getpid() % 60000
	ns := fmt.Sprintf("icmpt%d", id)
	host, peer := fmt.Sprintf("ih%d", id), fmt.Sprintf("ip%d", id)
	a, b := 10+id/250%200, id%250
	v4 := func(n int) string { return fmt.Sprintf("10.%d.%d.%d", 200+a%50, b, n) }
	v6 := func(n int) string { return fmt.Sprintf("fd6c:%x:%x::%d", a, b, n) }
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run(); exec.Command("ip", "netns", "del", ns).Run() })
	sh(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	sh(t, "ip", "link", "set", peer, "netns", ns)
	sh(t, "ip", "addr", "add", v4(1)+"/24", "dev", host)
	sh(t, "ip", "addr", "add", v6(1)+"/64", "dev", host, "nodad")
	sh(t, "ip", "link", "set", host, "up")
	sh(t, "ip", "-n", ns, "addr", "add", v4(2)+"/24", "dev", peer)
	sh(t, "ip", "-n", ns, "addr", "add", v6(2)+"/64", "dev", peer, "nodad")
	sh(t, "ip", "-n", ns, "link", "set", peer, "up")
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	time.Sleep(50 * time.Millisecond)

	targets := []Target{
		{Addr: netip.MustParseAddr(v4(2))},
		{Addr: netip.MustParseAddr(v6(2))},
		{Addr: netip.MustParseAddr(v4(2)), Iface: host},
		{Addr: netip.MustParseAddr(v4(9))},
		{Addr: netip.MustParseAddr(v6(9))},
	}
	for i := 10; i < 60; i++ { // many silent targets: still one timeout
		targets = append(targets, Target{Addr: netip.MustParseAddr(v4(i))})
	}
	start := time.Now()
	res := ProbeAll(context.Background(), targets, 1, 500*time.Millisecond)
	el := time.Since(start)
	for i, r := range res {
		want := i < 3
		if r.OK != want || r.Err != nil {
			t.Errorf("%s: ok=%v err=%v, want ok=%v", r.Target, r.OK, r.Err, want)
		}
	}
	if el > 500*time.Millisecond+150*time.Millisecond {
		t.Errorf("probing %d targets took %v, want about one timeout (500ms)", len(targets), el)
	}
	// ctx bounds the probe
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	ok, _, _ := Probe(ctx, netip.MustParseAddr(v4(9)), "", 3, time.Second)
	if ok || time.Since(start) > 400*time.Millisecond {
		t.Errorf("ctx-bounded probe: ok=%v after %v", ok, time.Since(start))
	}
}

func FuzzParseTarget(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "fe80::1%eth0", "[2001:db8::1]%v0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tg, err := ParseTarget(s)
		if err != nil {
			return
		}
		if !tg.Addr.IsValid() || tg.Addr.Zone() != "" && tg.Iface != "" {
			t.Fatalf("%q: %+v", s, tg)
		}
	})
}
