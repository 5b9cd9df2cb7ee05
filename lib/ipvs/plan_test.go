package ipvs

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

var (
	vip  = netip.MustParseAddr("192.0.2.10")
	vip6 = netip.MustParseAddr("2001:db8::10")
)

func rip(n int) netip.Addr { return netip.AddrFrom4([4]byte{10, 0, byte(n >> 8), byte(n)}) }

func web(reals ...Dest) Service {
	return Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 80, Scheduler: "wrr", Dests: reals}
}

func gate(n, w int) Dest { return Dest{Addr: rip(n), Port: 80, Fwd: FwdGate, Weight: w} }

func lines(ops []Op) string {
	var b []string
	for _, o := range ops {
		b = append(b, o.String())
	}
	return strings.Join(b, "\n")
}

func mustPlan(t *testing.T, desired, actual []Service, owned ...Key) []Op {
	t.Helper()
	ops, err := Plan(desired, actual, owned)
	if err != nil {
		t.Fatal(err)
	}
	return ops
}

func TestPlanFromEmpty(t *testing.T) {
	s6 := Service{Family: 6, Protocol: "udp", Addr: vip6, Port: 53, Scheduler: "sh",
		Flags: FlagPersistent | FlagSched1 | FlagSched2 | FlagOnePacket, Timeout: 600, Netmask: 64,
		Dests: []Dest{{Addr: netip.MustParseAddr("2001:db8::2"), Port: 5353, Fwd: FwdMasq, Weight: 3, Upper: 100, Lower: 10}}}
	fw := Service{Family: 4, FWMark: 7, Scheduler: "mh", Flags: FlagPersistent | FlagSched2, Timeout: 300, Netmask: 24,
		Dests: []Dest{{Addr: rip(9), Fwd: FwdIPIP, Weight: 1}}}
	got := lines(mustPlan(t, []Service{s6, web(gate(2, 1), gate(1, 2)), fw}, nil))
	want := `-A -t 192.0.2.10:80 -s wrr
-a -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 2
-a -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 1
-A -f 7 -s mh -p 300 -M 255.255.255.0 -b mh-port
-a -f 7 -r 10.0.0.9:0 -i -w 1
-A -u [2001:db8::10]:53 -s sh -p 600 -M 64 -b sh-fallback,sh-port -o
-a -u [2001:db8::10]:53 -r [2001:db8::2]:5353 -m -w 3 -x 100 -y 10`
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

func TestPlanSecondPassIsEmpty(t *testing.T) {
	desired := []Service{web(gate(1, 1), gate(2, 2))}
	// As the kernel reports it: HASHED set, reals in another order, the
	// full netmask of a non-persistent service.
	actual := web(gate(2, 2), gate(1, 1))
	actual.Flags = FlagHashed
	actual.Netmask = 32
	if ops := mustPlan(t, desired, []Service{actual}); len(ops) != 0 {
		t.Fatalf("second pass: %s", lines(ops))
	}
}

func TestPlanGatePortIsTheVirtuals(t *testing.T) {
	d := web(Dest{Addr: rip(1), Port: 0, Fwd: FwdGate, Weight: 1})
	ops := mustPlan(t, []Service{d}, nil)
	if ops[1].Dest.Port != 80 {
		t.Fatalf("gate real port %d, want the virtual's 80", ops[1].Dest.Port)
	}
	if ops := mustPlan(t, []Service{d}, []Service{web(gate(1, 1))}); len(ops) != 0 {
		t.Fatalf("%s", lines(ops))
	}
}

func TestPlanChanges(t *testing.T) {
	base := web(gate(1, 1), gate(2, 1))
	cases := []struct {
		name string
		edit func(*Service)
		want string
	}{
		{"weight", func(s *Service) { s.Dests[1].Weight = 0 }, "-e -t 192.0.2.10:80 -r 10.0.0.2:80 -g -w 0"},
		{"scheduler", func(s *Service) { s.Scheduler = "rr" }, "-E -t 192.0.2.10:80 -s rr"},
		{"persistence", func(s *Service) { s.Flags |= FlagPersistent; s.Timeout = 300; s.Netmask = 32 }, "-E -t 192.0.2.10:80 -s wrr -p 300"},
		{"forwarding", func(s *Service) { s.Dests[0].Fwd = FwdIPIP }, "-e -t 192.0.2.10:80 -r 10.0.0.1:80 -i -w 1"},
		{"thresholds", func(s *Service) { s.Dests[0].Upper = 9; s.Dests[0].Lower = 3 }, "-e -t 192.0.2.10:80 -r 10.0.0.1:80 -g -w 1 -x 9 -y 3"},
		{"real added", func(s *Service) { s.Dests = append(s.Dests, gate(3, 5)) }, "-a -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 5"},
		{"real removed", func(s *Service) { s.Dests = s.Dests[:1] }, "-d -t 192.0.2.10:80 -r 10.0.0.2:80"},
		{"real replaced", func(s *Service) { s.Dests[0] = gate(3, 1) },
			"-a -t 192.0.2.10:80 -r 10.0.0.3:80 -g -w 1\n-d -t 192.0.2.10:80 -r 10.0.0.1:80"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := base
			d.Dests = append([]Dest(nil), base.Dests...)
			c.edit(&d)
			if got := lines(mustPlan(t, []Service{d}, []Service{base})); got != c.want {
				t.Fatalf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func TestPlanForeignAndOwned(t *testing.T) {
	ours := web(gate(1, 1))
	foreign := Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 443, Scheduler: "rr", Dests: []Dest{gate(7, 1)}}
	gone := Service{Family: 4, Protocol: "udp", Addr: vip, Port: 53, Scheduler: "rr"}
	actual := []Service{ours, foreign, gone}
	// Without ownership, nothing but ours is touched.
	if ops := mustPlan(t, []Service{ours}, actual); len(ops) != 0 {
		t.Fatalf("foreign touched: %s", lines(ops))
	}
	// The previous config owned udp/53: it goes, the foreign one stays.
	got := lines(mustPlan(t, []Service{ours}, actual, ours.Key(), gone.Key()))
	if got != "-D -u 192.0.2.10:53" {
		t.Fatalf("got %s", got)
	}
}

func TestPlanRejects(t *testing.T) {
	bad := []Service{
		{Family: 4, Protocol: "tcp", Addr: vip, Port: 80}, // no scheduler
		{Family: 4, Protocol: "icmp", Addr: vip, Port: 80, Scheduler: "rr"},
		{Family: 6, Protocol: "tcp", Addr: vip, Port: 80, Scheduler: "rr"},
		web(gate(1, 1), gate(1, 2)),
		web(Dest{Addr: rip(1), Weight: 70000}),
		web(Dest{Addr: rip(1), Weight: 1, Lower: 5}),
		{Family: 4, Protocol: "tcp", Addr: vip, Port: 80, Scheduler: "rr", Flags: FlagPersistent, Netmask: 33},
	}
	for i, s := range bad {
		if _, err := Plan([]Service{s}, nil, nil); err == nil {
			t.Errorf("case %d accepted: %+v", i, s)
		}
	}
	if _, err := Plan([]Service{web(), web()}, nil, nil); err == nil {
		t.Error("the same virtual twice accepted")
	}
}

func TestSchedFlags(t *testing.T) {
	f, err := SchedFlagBits([]string{"sh-fallback,sh-port"})
	if err != nil || f != FlagSched1|FlagSched2 {
		t.Fatalf("%#x %v", f, err)
	}
	if _, err := SchedFlagBits([]string{"bogus"}); err == nil {
		t.Fatal("bogus accepted")
	}
	if got := SchedFlagNames("rr", FlagSched3); got[0] != "flag-3" {
		t.Fatal(got)
	}
}

// bigTable is n services of m reals each.
func bigTable(n, m int) []Service {
	out := make([]Service, n)
	for i := range out {
		s := Service{Family: 4, Protocol: "tcp", Addr: netip.AddrFrom4([4]byte{192, 0, byte(i >> 8), byte(i)}), Port: 80, Scheduler: "wlc"}
		for j := 0; j < m; j++ {
			s.Dests = append(s.Dests, Dest{Addr: rip(j + 1), Port: 8080, Fwd: FwdMasq, Weight: 1})
		}
		out[i] = s
	}
	return out
}

// A one-real change on a large table is one write.
func TestPlanOneChangeOnLargeTable(t *testing.T) {
	actual := bigTable(1000, 10)
	desired := bigTable(1000, 10)
	desired[500].Dests[3].Weight = 0
	ops := mustPlan(t, desired, actual)
	if len(ops) != 1 || ops[0].Kind != EditDest {
		t.Fatalf("ops: %s", lines(ops))
	}
	if s := Summarize(ops); s.Writes() != 1 || s.RealsEdited != 1 {
		t.Fatal(s)
	}
}

func BenchmarkPlan1000x10(b *testing.B) {
	actual, desired := bigTable(1000, 10), bigTable(1000, 10)
	for i := 0; i < b.N; i++ {
		if _, err := Plan(desired, actual, nil); err != nil {
			b.Fatal(err)
		}
	}
}

func ExampleOp_String() {
	s := Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 443, Scheduler: "wlc", Flags: FlagPersistent, Timeout: 300, Netmask: 24}
	fmt.Println(Op{Kind: AddService, Service: s})
	// Output: -A -t 192.0.2.10:443 -s wlc -p 300 -M 255.255.255.0
}

// SameEntries agrees with Plan: the same table whatever its counters,
// and any change Plan would write is a difference.
func TestSameEntriesAgreesWithPlan(t *testing.T) {
	base := func() []Service {
		m := NewMem([]Service{web(gate(1, 1), gate(2, 2)), {Family: 4, FWMark: 7, Scheduler: "rr", Dests: []Dest{gate(3, 1)}}})
		s, _ := m.Services()
		return s
	}
	a := base()
	changes := map[string]func([]Service) []Service{
		"counters": func(s []Service) []Service {
			s[0].Dests[0].Active, s[0].Dests[1].Inactive, s[0].Stats.Conns = 5, 2, 9
			return s
		},
		"weight":    func(s []Service) []Service { s[0].Dests[1].Weight = 3; return s },
		"scheduler": func(s []Service) []Service { s[1].Scheduler = "wrr"; return s },
		"real gone": func(s []Service) []Service { s[0].Dests = s[0].Dests[:1]; return s },
		"real moved": func(s []Service) []Service {
			s[0].Dests[1].Addr = rip(9)
			return s
		},
		"service gone": func(s []Service) []Service { return s[:1] },
	}
	for name, change := range changes {
		b := change(base())
		ops, err := Plan(a, b, []Key{a[0].Key(), a[1].Key()})
		if err != nil {
			t.Fatal(err)
		}
		if got, want := SameEntries(a, b), len(ops) == 0; got != want {
			t.Errorf("%s: SameEntries %v, Plan has %d ops:\n%s", name, got, len(ops), lines(ops))
		}
	}
}
