package preflight

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

func readIn(t *testing.T, ns string) Facts {
	t.Helper()
	var f Facts
	if err := netns.Do(ns, func() error { f = ReadFacts(); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(f.Errors) > 0 {
		t.Errorf("ReadFacts in %s: %v", ns, f.Errors)
	}
	return f
}

func hasAddr(f Facts, dev, prefix string) bool {
	want := netip.MustParsePrefix(prefix)
	for _, a := range f.Addrs.V {
		if a.Dev == dev && a.Prefix == want {
			return true
		}
	}
	return false
}

// ReadFacts reads the calling thread's namespace: its addresses, its
// forwarding switches (set here to 0, then 1, while the other namespace
// holds the opposite), whether it has IPVS; and gc_thresh3, which exists
// only in the initial namespace (the neighbour table is one for all).
func TestNetnsReadFacts(t *testing.T) {
	p := netns.New(t)
	sysctl := testenv.Command(t, "sysctl")
	set := func(ns string, kv ...string) {
		t.Helper()
		p.Run(t, ns, sysctl, append([]string{"-qw"}, kv...)...)
	}
	set(p.A, "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0")
	set(p.B, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")

	f := readIn(t, p.A)
	if f.V4.Forwarding != Known(false) || f.V6.Forwarding != Known(false) {
		t.Errorf("forwarding off: %+v %+v", f.V4.Forwarding, f.V6.Forwarding)
	}
	if !f.Addrs.OK || !hasAddr(f, "eth0", p.V4(1)+"/24") || !hasAddr(f, "eth0", p.V6(1)+"/64") || !hasAddr(f, "lo", "127.0.0.1/8") {
		t.Errorf("addresses: %+v", f.Addrs)
	}
	for _, a := range f.Addrs.V {
		if a.Prefix.Addr() == netip.MustParseAddr(p.V4(2)) {
			t.Errorf("B's address read in A: %+v", a)
		}
	}
	// the oracle for IPVS is another process in the namespace
	_, err := p.Cmd(p.A, "test", "-e", "/proc/net/ip_vs").CombinedOutput()
	if f.IPVS != Known(err == nil) {
		t.Errorf("IPVS %+v, but test -e /proc/net/ip_vs in %s: %v", f.IPVS, p.A, err)
	}
	// gc_thresh3 is the initial namespace's only
	if out, err := p.Cmd(p.A, "test", "-e", "/proc/sys/net/ipv4/neigh/default/gc_thresh3").CombinedOutput(); err == nil {
		t.Errorf("this kernel has gc_thresh3 in a new namespace (%s): the neighbour limit is per namespace here, revise Family.GCThresh3", out)
	}
	if f.V4.GCThresh3.OK || f.V6.GCThresh3.OK {
		t.Errorf("gc_thresh3 known in a new namespace: %+v %+v", f.V4.GCThresh3, f.V6.GCThresh3)
	}

	b := readIn(t, p.B)
	if b.V4.Forwarding != Known(true) || b.V6.Forwarding != Known(true) {
		t.Errorf("forwarding in B: %+v %+v", b.V4.Forwarding, b.V6.Forwarding)
	}

	// what Check makes of them
	cfg := parse(t, strings.NewReplacer("A2", p.V4(2), "A6", p.V6(2)).Replace(`virtual=192.0.2.100:80
	real=A2:80 masq
virtual=192.0.2.101:80
	real=A2:80 gate
	real=198.51.100.7:80 gate
virtual6=[2001:db8::100]:80
	real6=[A6]:80 masq
`))
	var ipvs []want
	if !f.IPVS.V {
		ipvs = []want{{KindIPVS, 1, []string{"IPVS is not loaded"}, nil}}
	}
	dr := want{KindDROffLink, 5, []string{"198.51.100.7:80 is gate"}, nil}
	expect(t, Check(cfg, f), append(ipvs,
		want{KindForwarding, 2, []string{"real " + p.V4(2) + ":80 is masq", "net.ipv4.ip_forward = 0"}, nil},
		dr,
		want{KindForwarding, 7, []string{"net.ipv6.conf.all.forwarding = 0"}, nil}))

	set(p.A, "net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1")
	f = readIn(t, p.A)
	if f.V4.Forwarding != Known(true) || f.V6.Forwarding != Known(true) {
		t.Errorf("forwarding on: %+v %+v", f.V4.Forwarding, f.V6.Forwarding)
	}
	expect(t, Check(cfg, f), append(ipvs, dr))
}

// In the test's own namespace gc_thresh3 is read when the file is there
// (the initial namespace), and equals it.
func TestReadFactsGCThresh3(t *testing.T) {
	f := ReadFacts()
	for _, c := range []struct {
		path string
		got  Fact[int]
	}{
		{"/proc/sys/net/ipv4/neigh/default/gc_thresh3", f.V4.GCThresh3},
		{"/proc/sys/net/ipv6/neigh/default/gc_thresh3", f.V6.GCThresh3},
	} {
		b, err := os.ReadFile(c.path)
		if err != nil {
			if c.got.OK {
				t.Errorf("%s unreadable (%v) but read as %+v", c.path, err, c.got)
			}
			continue
		}
		if want := strings.TrimSpace(string(b)); !c.got.OK || want != strconv.Itoa(c.got.V) {
			t.Errorf("%s = %s, read as %+v", c.path, want, c.got)
		}
	}
}
