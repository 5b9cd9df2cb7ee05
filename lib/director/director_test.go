package director

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func mkReal(addr string, port uint16, fwd config.Forward, w int) *config.Real {
	return &config.Real{Addr: netip.MustParseAddr(addr), Port: port, Forward: fwd, Weight: w}
}

func webVirtual() *config.Virtual {
	return &config.Virtual{Line: 3, Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80,
		Scheduler: "wrr", Reals: []*config.Real{mkReal("10.0.0.1", 80, "masq", 2), mkReal("10.0.0.2", 8080, "masq", 3)},
		Fallback: mkReal("127.0.0.1", 80, "gate", 1)}
}

func render(t *testing.T, cfg *config.Config, h Health) string {
	t.Helper()
	tab := Table(cfg, Input{Health: h, Starting: true})
	ops, err := ipvs.Plan(tab.Services, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	var b []string
	for _, o := range ops {
		b = append(b, o.String())
	}
	return strings.Join(b, "\n")
}

func TestAllUp(t *testing.T) {
	cfg := &config.Config{Virtuals: []*config.Virtual{webVirtual()}}
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 3"
	if got := render(t, cfg, AllUp); got != want {
		t.Fatalf("got\n%s", got)
	}
}

func TestDownRealQuiescentOrRemoved(t *testing.T) {
	v := webVirtual()
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	h := HealthMap{KeyOf(v, v.Reals[0]): Up}
	// quiescent=no (ldirectord's default): the down real leaves the table.
	if got := render(t, cfg, h); strings.Contains(got, "10.0.0.2") {
		t.Fatalf("down real kept:\n%s", got)
	}
	v.Quiescent = true
	if got := render(t, cfg, h); !strings.Contains(got, "-r 10.0.0.2:8080 -m -w 0") {
		t.Fatalf("quiescent real not at weight 0:\n%s", got)
	}
	// per-real override (keepalived inhibit_on_failure on one real_server)
	no := false
	v.Reals[1].Quiescent = &no
	if got := render(t, cfg, h); strings.Contains(got, "10.0.0.2") {
		t.Fatalf("per-real quiescent=no ignored:\n%s", got)
	}
}

func TestFallback(t *testing.T) {
	v := webVirtual()
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	// No real up: the fallback stands in, weight 1 (gate: the virtual's port).
	got := render(t, cfg, HealthMap{})
	if got != "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 127.0.0.1:80 -g -w 1" {
		t.Fatalf("got\n%s", got)
	}
	// Quiesced reals (weight 0) do not count as up: fallback still there.
	v.Quiescent = true
	if got := render(t, cfg, HealthMap{}); !strings.Contains(got, "127.0.0.1") || !strings.Contains(got, "-w 0") {
		t.Fatalf("got\n%s", got)
	}
	// One real up: the fallback goes.
	if got := render(t, cfg, HealthMap{KeyOf(v, v.Reals[1]): Up}); strings.Contains(got, "127.0.0.1") {
		t.Fatalf("fallback kept:\n%s", got)
	}
	// keepalived quorum: up weight 3 < quorum 4 -> sorry server too.
	v.Quorum = 4
	if got := render(t, cfg, HealthMap{KeyOf(v, v.Reals[1]): Up}); !strings.Contains(got, "127.0.0.1") {
		t.Fatalf("quorum lost without fallback:\n%s", got)
	}
}

func TestServiceOptions(t *testing.T) {
	fw := &config.Virtual{Line: 9, Protocol: "fwm", Family: 6, FWMark: 5, Scheduler: "sh", SchedFlags: []string{"sh-fallback", "sh-port"},
		SchedFlagBits: ipvs.FlagSched1 | ipvs.FlagSched2, Persistent: 300 * time.Second, Netmask: "64", MaskBits: 64, Reals: []*config.Real{mkReal("2001:db8::1", 0, "ipip", 1)}}
	udp := &config.Virtual{Line: 12, Protocol: "udp", Family: 4, Addr: netip.MustParseAddr("192.0.2.53"), Port: 53, Scheduler: "rr",
		Persistent: 90 * time.Second, Netmask: "255.255.255.0", MaskBits: 24, OnePacket: true,
		Reals: []*config.Real{{Addr: netip.MustParseAddr("10.0.0.3"), Forward: "gate", Weight: 0, Upper: 100, Lower: 10}}}
	cfg := &config.Config{Virtuals: []*config.Virtual{fw, udp}}
	want := "-A -u 192.0.2.53:53 -s rr -p 90 -M 255.255.255.0 -o\n-a -u 192.0.2.53:53 -r 10.0.0.3:53 -g -w 0 -x 100 -y 10\n" +
		"-A -f 5 -6 -s sh -p 300 -M 64 -b sh-fallback,sh-port\n-a -f 5 -6 -r [2001:db8::1]:0 -i -w 1"
	if got := render(t, cfg, AllUp); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	if k := Keys(cfg); len(k) != 2 || k[0].FWMark != 5 {
		t.Fatalf("keys %v", k)
	}
}

// TestTypedAtRead: the same services read from a file (the readers type
// forwarding, flags and netmask) give the same ipvsadm lines: Table reads
// only what the reader typed.
func TestTypedAtRead(t *testing.T) {
	cfg, err := config.Parse("lvs.toml", []byte(`
[[virtual]]
fwmark = 5
family = 6
scheduler = "sh"
schedflags = ["sh-fallback", "sh-port"]
persistent = "300s"
netmask = "64"
[virtual.check]
type = "on"
[[virtual.real]]
address = "[2001:db8::1]"
forward = "ipip"
weight = 1

[[virtual]]
address = "192.0.2.53:53"
protocol = "udp"
scheduler = "rr"
persistent = "90s"
netmask = "255.255.255.0"
ops = true
[virtual.check]
type = "on"
[[virtual.real]]
address = "10.0.0.3"
forward = "gate"
weight = 0
upper = 100
lower = 10
`))
	if err != nil {
		t.Fatal(err)
	}
	want := "-A -u 192.0.2.53:53 -s rr -p 90 -M 255.255.255.0 -o\n-a -u 192.0.2.53:53 -r 10.0.0.3:53 -g -w 0 -x 100 -y 10\n" +
		"-A -f 5 -6 -s sh -p 300 -M 64 -b sh-fallback,sh-port\n-a -f 5 -6 -r [2001:db8::1]:0 -i -w 1"
	if got := render(t, cfg, AllUp); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestDuplicateRealOnce(t *testing.T) {
	v := webVirtual()
	v.Reals = append(v.Reals, mkReal("10.0.0.1", 80, "masq", 9))
	got := render(t, &config.Config{Virtuals: []*config.Virtual{v}}, AllUp)
	if strings.Count(got, "10.0.0.1") != 1 {
		t.Fatalf("got\n%s", got)
	}
}

func dests(d *Desired) string {
	var b []string
	for _, s := range d.Services {
		for _, x := range s.Dests {
			n, _ := d.Note(s.Key(), x.Key())
			b = append(b, fmt.Sprintf("%s w%d %s", x.Key(), x.Weight, n.Role))
		}
	}
	return strings.Join(b, "; ")
}

// A real not checked yet keeps the kernel's entry (restart adoption); one
// the kernel lacks waits for its first check (quiescent: weight 0 only
// on the first pass, or with readdquiescent).
func TestUnknownAdoptsKernel(t *testing.T) {
	v := webVirtual()
	v.Fallback = nil
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	s := Service(v)
	s.Dests = []ipvs.Dest{{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 7}}
	d := Table(cfg, Input{Current: []ipvs.Service{s}})
	if got := dests(d); got != "10.0.0.1:80 w7 real" {
		t.Fatalf("adoption: %s", got)
	}
	if d.Virtuals[0].Up != 1 {
		t.Fatalf("adopted real with a weight not counted up: %+v", d.Virtuals[0])
	}
	v.Quiescent = true
	for _, tc := range []struct {
		in   Input
		want string
	}{
		{Input{Current: []ipvs.Service{s}}, "10.0.0.1:80 w7 real"},
		{Input{Current: []ipvs.Service{s}, Starting: true}, "10.0.0.1:80 w7 real; 10.0.0.2:8080 w0 real"},
		{Input{Current: []ipvs.Service{s}, ReaddQuiescent: true}, "10.0.0.1:80 w7 real; 10.0.0.2:8080 w0 real"},
		{Input{Current: []ipvs.Service{s}, Health: HealthMap{KeyOf(v, v.Reals[0]): Down}}, "10.0.0.1:80 w0 real"},
		{Input{Health: HealthMap{KeyOf(v, v.Reals[0]): Up, KeyOf(v, v.Reals[1]): Down}}, "10.0.0.1:80 w2 real"},
	} {
		d := Table(cfg, tc.in)
		if got := dests(d); got != tc.want {
			t.Errorf("%+v: got %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestDrainingAndHysteresis(t *testing.T) {
	v := webVirtual()
	v.Quorum, v.Hysteresis = 3, 1
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	h := HealthMap{KeyOf(v, v.Reals[1]): Up} // up weight 3
	// not held before: needs 3+1
	d := Table(cfg, Input{Health: h})
	if !d.Virtuals[0].Fallback || d.Virtuals[0].Quorum {
		t.Fatalf("quorum regained below quorum+hysteresis: %+v", d.Virtuals[0])
	}
	// held before: lost only below 3-1
	d = Table(cfg, Input{Health: h, QuorumHeld: map[string]bool{v.Key(): true}})
	if d.Virtuals[0].Fallback || !d.Virtuals[0].Quorum {
		t.Fatalf("quorum lost above quorum-hysteresis: %+v", d.Virtuals[0])
	}
	// a removed real and a removed virtual drain at weight 0
	gone := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.99"), Port: 80, Scheduler: "wrr",
		Dests: []ipvs.Dest{{Addr: netip.MustParseAddr("10.0.0.9"), Port: 80, Weight: 5}}}
	s := Service(v)
	s.Dests = []ipvs.Dest{{Addr: netip.MustParseAddr("10.0.0.3"), Port: 80, Weight: 4}, {Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 3}}
	d = Table(cfg, Input{Health: h, QuorumHeld: map[string]bool{v.Key(): true}, Draining: []ipvs.Service{gone, s}})
	if got := dests(d); got != "10.0.0.2:8080 w3 real; 10.0.0.3:80 w0 draining; 10.0.0.9:80 w0 draining" {
		t.Fatalf("draining: %s", got)
	}
}

// keepalived's lost quorum (ipwrapper.c): the sorry server goes in and
// the reals still up leave the table ("Remove remaining alive real
// servers"; with inhibit_on_failure they stay at weight 0) until the
// quorum is back; they still count for it.
func TestQuorumLostSorryServerAlone(t *testing.T) {
	v := webVirtual()
	v.Quorum = 4
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	h := HealthMap{KeyOf(v, v.Reals[1]): Up} // up weight 3 < 4
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 127.0.0.1:80 -g -w 1"
	if got := render(t, cfg, h); got != want {
		t.Fatalf("quorum lost:\n%s\nwant:\n%s", got, want)
	}
	d := Table(cfg, Input{Health: h})
	if st := d.Virtuals[0]; st.Up != 1 || st.UpWeight != 3 || st.Quorum || !st.Fallback || len(st.Out) != 2 ||
		!strings.Contains(st.Out[1].Why, "up weight 3 below quorum 4: the sorry server stands in, out of the table") {
		t.Fatalf("state %+v", st)
	}
	v.InhibitOnFailure = true
	want = "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 0\n-a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 0\n-a -t 192.0.2.10:80 -r 127.0.0.1:80 -g -w 1"
	if got := render(t, cfg, h); got != want {
		t.Fatalf("quorum lost, inhibit_on_failure:\n%s\nwant:\n%s", got, want)
	}
	// back: the reals, and no sorry server
	h[KeyOf(v, v.Reals[0])] = Up
	want = "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:8080 -m -w 3"
	if got := render(t, cfg, h); got != want {
		t.Fatalf("quorum back:\n%s\nwant:\n%s", got, want)
	}
	// a virtual without quorum keeps ldirectord's rule: the fallback only
	// when no real is up
	v.Quorum, v.InhibitOnFailure = 0, false
	delete(h, KeyOf(v, v.Reals[0]))
	if got := render(t, cfg, h); strings.Contains(got, "127.0.0.1") || !strings.Contains(got, "10.0.0.2:8080 -m -w 3") {
		t.Fatalf("no quorum configured:\n%s", got)
	}
}

// Weights from the checks (misc_dynamic, FILE_CHECK) replace an up real's
// configured weight, in the table and in a real's update; a down real is
// left as the rules say, and an operator's weight still wins.
func TestCheckWeights(t *testing.T) {
	v := webVirtual()
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	a, b := v.ID(v.Reals[0]), v.ID(v.Reals[1])
	h := HealthMap{a: Up, b: Down}
	tab := Table(cfg, Input{Health: h, Weights: map[RealKey]int{a: 7, b: 9}})
	d := tab.Services[0].Dests
	if len(d) != 1 || d[0].Weight != 7 {
		t.Fatalf("dests %+v, want 10.0.0.1 at weight 7 alone", d)
	}
	if n, _ := tab.Note(tab.Services[0].Key(), d[0].Key()); !strings.Contains(n.Why, "weight 7 from its checks (configured 2)") {
		t.Errorf("note %q", n.Why)
	}
	h[b] = Up
	in := Input{Health: h, Weights: map[RealKey]int{a: 7, b: 0}}
	ch, ok := tab.UpdateReal("", 0, v.Reals[1], in, func(ipvs.Key, ipvs.DestKey) (ipvs.Dest, bool) { return ipvs.Dest{}, false })
	if !ok || !ch.In || ch.Dest.Weight != 0 {
		t.Fatalf("UpdateReal: %+v %v, want in at weight 0 (up: keepalived's misc_dynamic exit 2)", ch, ok)
	}
}

// ldirectord's global fallback and fallback6: each virtual gets the one
// of its family when no real is up, and leaves it when one is.
func TestGlobalFallbackByFamily(t *testing.T) {
	cfg, err := config.Parse("fb.cf", []byte(`fallback=127.0.0.1:80 gate
fallback6=[::1]:80 gate
virtual=192.0.2.10:80
	real=10.0.0.1:80 masq
	service=http
virtual6=[2001:db8::10]:80
	real6=[2001:db8::1]:80 masq
	service=http
`))
	if err != nil {
		t.Fatal(err)
	}
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 127.0.0.1:80 -g -w 1\n" +
		"-A -t [2001:db8::10]:80 -s wrr\n-a -t [2001:db8::10]:80 -r [::1]:80 -g -w 1"
	if got := render(t, cfg, HealthMap{}); got != want {
		t.Fatalf("no real up:\n%s\nwant:\n%s", got, want)
	}
	want = "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 1\n" +
		"-A -t [2001:db8::10]:80 -s wrr\n-a -t [2001:db8::10]:80 -r [2001:db8::1]:80 -m -w 1"
	if got := render(t, cfg, AllUp); got != want {
		t.Fatalf("all up:\n%s\nwant:\n%s", got, want)
	}
}
