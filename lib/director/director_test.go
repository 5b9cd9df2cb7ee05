package director

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func mkReal(addr string, port uint16, fwd string, w int) *config.Real {
	return &config.Real{Addr: netip.MustParseAddr(addr), Port: port, Forward: fwd, Weight: w}
}

func webVirtual() *config.Virtual {
	return &config.Virtual{Line: 3, Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.10"), Port: 80,
		Scheduler: "wrr", Reals: []*config.Real{mkReal("10.0.0.1", 80, "masq", 2), mkReal("10.0.0.2", 8080, "masq", 3)},
		Fallback: mkReal("127.0.0.1", 80, "gate", 1)}
}

func render(t *testing.T, cfg *config.Config, h Health) string {
	t.Helper()
	tab, err := Table(cfg, h)
	if err != nil {
		t.Fatal(err)
	}
	ops, err := ipvs.Plan(tab, nil, nil)
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
	h := HealthMap{KeyOf(v, v.Reals[0]): true}
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
	if got := render(t, cfg, HealthMap{KeyOf(v, v.Reals[1]): true}); strings.Contains(got, "127.0.0.1") {
		t.Fatalf("fallback kept:\n%s", got)
	}
	// keepalived quorum: up weight 3 < quorum 4 -> sorry server too.
	v.Quorum = 4
	if got := render(t, cfg, HealthMap{KeyOf(v, v.Reals[1]): true}); !strings.Contains(got, "127.0.0.1") {
		t.Fatalf("quorum lost without fallback:\n%s", got)
	}
}

func TestServiceOptions(t *testing.T) {
	fw := &config.Virtual{Line: 9, Protocol: "fwm", Family: 6, FWMark: 5, Scheduler: "sh", SchedFlags: []string{"sh-fallback", "sh-port"},
		Persistent: 300 * time.Second, Netmask: "64", Reals: []*config.Real{mkReal("2001:db8::1", 0, "ipip", 1)}}
	udp := &config.Virtual{Line: 12, Protocol: "udp", Family: 4, Addr: netip.MustParseAddr("192.0.2.53"), Port: 53, Scheduler: "rr",
		Persistent: 90 * time.Second, Netmask: "255.255.255.0", OnePacket: true,
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

func TestErrorsNameFileAndLine(t *testing.T) {
	v := webVirtual()
	v.Netmask, v.Persistent = "255.0.255.0", time.Minute
	_, err := Table(&config.Config{Source: "/etc/ha.d/ldirectord.cf", Virtuals: []*config.Virtual{v}}, AllUp)
	if err == nil || !strings.Contains(err.Error(), "/etc/ha.d/ldirectord.cf:3") {
		t.Fatalf("got %v", err)
	}
	v = webVirtual()
	v.Reals[0].Forward, v.Reals[0].Line = "bogus", 5
	_, err = Table(&config.Config{Source: "x.cf", Virtuals: []*config.Virtual{v}}, AllUp)
	if err == nil || !strings.Contains(err.Error(), "x.cf:5") {
		t.Fatalf("got %v", err)
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
