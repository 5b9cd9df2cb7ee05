package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func mustOverride(t *testing.T, line string) Override {
	t.Helper()
	o, err := ParseOverride(strings.Fields(line))
	if err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	return o
}

func TestParseOverride(t *testing.T) {
	for _, line := range []string{"disable 10.0.0.1", "drain 10.0.0.1:80 tcp:192.0.2.10:80", "weight 10.0.0.2:8080 7",
		"enable [2001:db8::1]:80 fwm6:5", "weight 2001:db8::1 0 fwm:5"} {
		o := mustOverride(t, line)
		if o.String() != line {
			t.Errorf("%q reads back as %q", line, o.String())
		}
	}
	for _, tc := range []struct{ line, err string }{
		{"", "no command"},
		{"remove 10.0.0.1", `unknown command "remove"`},
		{"disable", "no REAL"},
		{"disable host.example", `real "host.example" is not an address`},
		{"weight 10.0.0.1", "no weight N"},
		{"weight 10.0.0.1 -1", `"-1" is not a weight`},
		{"weight 10.0.0.1 65536", "0 to 65535"},
		{"drain 10.0.0.1 tcp:192.0.2.10:80 extra", `unexpected "extra"`},
	} {
		_, err := ParseOverride(strings.Fields(tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: got %v, want %q", tc.line, err, tc.err)
		}
	}
}

// two virtuals sharing real 10.0.0.1 (one on port 80, one on 443)
func twoVirtuals() (*config.Config, *config.Virtual, *config.Virtual) {
	a := webVirtual()
	b := &config.Virtual{Line: 9, Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.10"), Port: 443,
		Scheduler: "wrr", Reals: []*config.Real{mkReal("10.0.0.1", 443, "masq", 1), mkReal("10.0.0.3", 443, "masq", 1)}}
	return &config.Config{Source: "t.cf", Virtuals: []*config.Virtual{a, b}}, a, b
}

func TestOverridesDecideTheTable(t *testing.T) {
	cfg, a, _ := twoVirtuals()
	a.Fallback = nil
	table := func(os Overrides, h Health) (string, *Desired) {
		t.Helper()
		d := Table(cfg, Input{Health: h, Overrides: os})
		return dests(d), d
	}
	ovs := func(lines ...string) Overrides {
		var os Overrides
		for _, l := range lines {
			os = os.With(mustOverride(t, l))
		}
		return os
	}
	all := "10.0.0.1:80 w2 real; 10.0.0.2:8080 w3 real; 10.0.0.1:443 w1 real; 10.0.0.3:443 w1 real"
	if got, _ := table(nil, AllUp); got != all {
		t.Fatalf("no overrides: %s", got)
	}
	for _, tc := range []struct {
		os   Overrides
		want string
	}{
		// disable: out of every virtual (as a down real), whatever its health
		{ovs("disable 10.0.0.1"), "10.0.0.2:8080 w3 real; 10.0.0.3:443 w1 real"},
		// in one virtual only
		{ovs("disable 10.0.0.1 tcp:192.0.2.10:443"), "10.0.0.1:80 w2 real; 10.0.0.2:8080 w3 real; 10.0.0.3:443 w1 real"},
		// the port picks the entry
		{ovs("drain 10.0.0.1:443"), "10.0.0.1:80 w2 real; 10.0.0.2:8080 w3 real; 10.0.0.1:443 w0 real; 10.0.0.3:443 w1 real"},
		{ovs("weight 10.0.0.2 9"), "10.0.0.1:80 w2 real; 10.0.0.2:8080 w9 real; 10.0.0.1:443 w1 real; 10.0.0.3:443 w1 real"},
		// enable in one virtual is the exception to disable everywhere
		{ovs("disable 10.0.0.1", "enable 10.0.0.1 tcp:192.0.2.10:80"), "10.0.0.1:80 w2 real; 10.0.0.2:8080 w3 real; 10.0.0.3:443 w1 real"},
		// enable without a virtual removes every override of the real
		{ovs("disable 10.0.0.1 tcp:192.0.2.10:80", "drain 10.0.0.1:443", "enable 10.0.0.1"), all},
		// the later override of the same real replaces the earlier
		{ovs("disable 10.0.0.2", "weight 10.0.0.2 4"), "10.0.0.1:80 w2 real; 10.0.0.2:8080 w4 real; 10.0.0.1:443 w1 real; 10.0.0.3:443 w1 real"},
	} {
		if got, _ := table(tc.os, AllUp); got != tc.want {
			t.Errorf("%v:\n got %s\nwant %s", tc.os, got, tc.want)
		}
	}
	if os := ovs("disable 10.0.0.1", "enable 10.0.0.1"); len(os) != 0 {
		t.Errorf("enable left %v", os)
	}

	// a weight override applies to an up real only; a down one is out as ever
	h := HealthMap{KeyOf(a, a.Reals[0]): Up, KeyOf(a, a.Reals[1]): Down}
	got, d := table(ovs("weight 10.0.0.2 9", "weight 10.0.0.1 5"), h)
	if got != "10.0.0.1:80 w5 real" { // 10.0.0.2 down, the :443 reals not checked yet
		t.Errorf("weight on up and down reals: %s", got)
	}
	if v := d.Virtuals[0]; v.Up != 1 || v.UpWeight != 5 {
		t.Errorf("up weight with the override: %+v", v)
	}
	n, _ := d.Note(d.Virtuals[0].Key, ipvs.DestKey{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80})
	if n.Override != "weight 10.0.0.1 5" || !strings.Contains(n.Why, "weight 5 (lvsd ctl)") {
		t.Errorf("note: %+v", n)
	}
	// disabled reals are listed out of the table, with the override
	_, d = table(ovs("disable 10.0.0.3"), AllUp)
	if out := d.Virtuals[1].Out; len(out) != 1 || out[0].Override != "disable 10.0.0.3" || !strings.Contains(out[0].Why, "disabled (lvsd ctl)") {
		t.Errorf("out: %+v", out)
	}
}

// Drained and disabled reals do not count as up: with every real drained
// the fallback stands in (no real takes new connections); quorum counts
// the operator's weights.
func TestOverridesAndFallback(t *testing.T) {
	v := webVirtual()
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	os := Overrides{}.With(Override{Action: Drain, Real: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 0)}).
		With(Override{Action: Disable, Real: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.2"), 0)})
	d := Table(cfg, Input{Health: AllUp, Overrides: os})
	if got := dests(d); got != "10.0.0.1:80 w0 real; 127.0.0.1:80 w1 fallback" {
		t.Fatalf("all drained: %s", got)
	}
	v.Quorum = 5
	os = Overrides{}.With(Override{Action: Weight, Weight: 5, Real: netip.AddrPortFrom(netip.MustParseAddr("10.0.0.1"), 0)})
	d = Table(cfg, Input{Health: HealthMap{KeyOf(v, v.Reals[0]): Up}, Overrides: os})
	if d.Virtuals[0].Fallback || !d.Virtuals[0].Quorum {
		t.Fatalf("quorum with the operator's weight 5: %+v", d.Virtuals[0])
	}
}

// Not checked yet and held by the kernel (a restart): drain and weight
// apply to the weight adopted, disable takes it out.
func TestOverridesOnAdoptedReals(t *testing.T) {
	v := webVirtual()
	v.Fallback = nil
	cfg := &config.Config{Virtuals: []*config.Virtual{v}}
	s := Service(v)
	s.Dests = []ipvs.Dest{{Addr: netip.MustParseAddr("10.0.0.1"), Port: 80, Weight: 2}, {Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 3}}
	os := Overrides{{Action: Drain, Real: netip.MustParseAddrPort("10.0.0.1:80")}, {Action: Disable, Real: netip.MustParseAddrPort("10.0.0.2:8080")}}
	d := Table(cfg, Input{Current: []ipvs.Service{s}, Overrides: os})
	if got := dests(d); got != "10.0.0.1:80 w0 real" {
		t.Fatalf("adopted with overrides: %s", got)
	}
}

func TestResolve(t *testing.T) {
	cfg, _, _ := twoVirtuals()
	udp := &config.Virtual{Protocol: "udp", Family: 4, Addr: netip.MustParseAddr("192.0.2.10"), Port: 443, Reals: []*config.Real{mkReal("10.0.0.3", 443, "masq", 1)}}
	cfg.Virtuals = append(cfg.Virtuals, udp)
	o, err := Resolve(cfg, mustOverride(t, "drain 10.0.0.1 192.0.2.10:80"))
	if err != nil || o.Virtual != "tcp:192.0.2.10:80" {
		t.Fatalf("ip:port completed: %v %v", o, err)
	}
	for _, tc := range []struct{ line, err string }{
		{"drain 10.0.0.9", "no real 10.0.0.9 in t.cf; its reals: 10.0.0.1:80, 10.0.0.2:8080, 10.0.0.1:443, 10.0.0.3:443"},
		{"drain 10.0.0.2 tcp:192.0.2.10:443", "no real 10.0.0.2 in tcp:192.0.2.10:443; its reals: 10.0.0.1:443, 10.0.0.3:443"},
		{"drain 10.0.0.1:81", "no real 10.0.0.1:81 in t.cf"},
		{"drain 10.0.0.1 tcp:192.0.2.11:80", "no virtual tcp:192.0.2.11:80 in t.cf; its virtuals: tcp:192.0.2.10:80, tcp:192.0.2.10:443, udp:192.0.2.10:443"},
		{"drain 10.0.0.3 192.0.2.10:443", "ambiguous: tcp:192.0.2.10:443, udp:192.0.2.10:443"},
	} {
		_, err := Resolve(cfg, mustOverride(t, tc.line))
		if err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%q: got %v, want %q", tc.line, err, tc.err)
		}
	}
}

func FuzzParseOverride(f *testing.F) {
	for _, s := range []string{"disable 10.0.0.1", "weight [::1]:80 3 fwm6:1", "enable 1.2.3.4:0 tcp:1.1.1.1:1", "drain"} {
		f.Add(s)
	}
	cfg, _, _ := twoVirtuals()
	f.Fuzz(func(t *testing.T, line string) {
		o, err := ParseOverride(strings.Fields(line))
		if err != nil {
			return
		}
		// what it prints reads back the same
		o2, err := ParseOverride(strings.Fields(o.String()))
		if err != nil || o2 != o {
			t.Fatalf("%q -> %q -> %v %v", line, o.String(), o2, err)
		}
		if r, err := Resolve(cfg, o); err == nil {
			Table(cfg, Input{Health: AllUp, Overrides: Overrides{}.With(r)})
		}
	})
}
