package icmp

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
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

// TestUnprivilegedLoopback: datagram ping sockets (what an unprivileged
// ping uses). They need net.ipv4.ping_group_range to hold our gid; Debian's
// default ("1 0") holds nobody, so when the host's range does not, the probe
// runs in a namespace of its own where the test sets the range (the sysctl
// is per network namespace): nothing is skipped on a root CI machine.
func TestUnprivilegedLoopback(t *testing.T) {
	probe := func() error {
		p := NewPinger()
		priv := false
		p.Privileged = &priv
		defer p.Close()
		// open both sockets here, on this goroutine's thread (which netns.Do
		// has moved into the namespace); ProbeAll's goroutines may run elsewhere
		for _, v6 := range []bool{false, true} {
			if _, err := p.getConn(connKey{v6: v6}); err != nil {
				return err
			}
		}
		res := p.ProbeAll(context.Background(), []Target{{Addr: netip.MustParseAddr("127.0.0.1")}, {Addr: netip.MustParseAddr("::1")}}, 1, time.Second)
		for _, r := range res {
			if !r.OK || r.Err != nil {
				t.Errorf("%s: ok=%v err=%v", r.Target, r.OK, r.Err)
			}
		}
		return nil
	}
	if groupAllowed(os.Getgid()) {
		if err := probe(); err != nil {
			t.Fatal(err)
		}
		return
	}
	testenv.Root(t) // to make a namespace with its own ping_group_range
	pr := netns.New(t, netns.Options{NoAddresses: true})
	pr.Run(t, pr.A, "sysctl", "-qw", "net.ipv4.ping_group_range=0 2147483647")
	if err := netns.Do(pr.A, probe); err != nil {
		t.Fatal(err)
	}
}

// groupAllowed reports whether the host's net.ipv4.ping_group_range holds gid.
func groupAllowed(gid int) bool {
	b, _ := os.ReadFile("/proc/sys/net/ipv4/ping_group_range")
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return false
	}
	lo, err1 := strconv.Atoi(f[0])
	hi, err2 := strconv.Atoi(f[1])
	return err1 == nil && err2 == nil && lo <= gid && gid <= hi
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
	// ready when the peer answers (the veth's carrier comes up a moment after
	// "link set up"): poll rather than guess a delay.
	for _, a := range []string{v4(2), v6(2)} {
		up := func() bool {
			ok, _, _ := Probe(context.Background(), netip.MustParseAddr(a), "", 1, 200*time.Millisecond)
			return ok
		}
		if !netns.WaitFor(10*time.Second, up) {
			t.Fatalf("peer %s never answered", a)
		}
	}

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
	const timeout = 500 * time.Millisecond
	start := time.Now()
	res := ProbeAll(context.Background(), targets, 1, timeout)
	el := time.Since(start)
	for i, r := range res {
		want := i < 3
		if r.OK != want || r.Err != nil {
			t.Errorf("%s: ok=%v err=%v, want ok=%v", r.Target, r.OK, r.Err, want)
		}
	}
	// Parallelism, not speed (bench/ does speed): a silent target is waited
	// for one full timeout, so the round takes at least that; probed one
	// after another the 52 silent ones would take 26 s. Anything under a
	// quarter of that is parallel, however loaded the machine.
	silent := len(targets) - 3
	if el < timeout || el > time.Duration(silent)*timeout/4 {
		t.Errorf("probing %d targets (%d silent) took %v: want one timeout (%v) or a little more, not one per silent target", len(targets), silent, el, timeout)
	}
	// ctx bounds the probe: 3 tries of 5 s each would be 15 s; the 100 ms
	// context ends it well before even one try's timeout.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	ok, _, _ := Probe(ctx, netip.MustParseAddr(v4(9)), "", 3, 5*time.Second)
	if el := time.Since(start); ok || el > 2500*time.Millisecond {
		t.Errorf("ctx-bounded probe: ok=%v after %v, want false at about 100ms (each try's timeout is 5s)", ok, el)
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
