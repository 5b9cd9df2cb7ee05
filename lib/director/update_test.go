package director

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// UpdateReal, whenever it accepts a change, leaves the table Table would
// compute for the same health: over random health changes of virtuals with
// quiescent and not, a fallback, a quorum with hysteresis, and a real
// configured twice (always declined).
func TestUpdateRealIsTable(t *testing.T) {
	yes := true
	mk := func(port uint16, quiescent bool, quorum int, n int, twice bool) *config.Virtual {
		v := &config.Virtual{Line: 1, Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.1"), Port: port,
			Scheduler: "wrr", Quiescent: quiescent, Quorum: quorum, Hysteresis: 1, Fallback: mkReal("127.0.0.1", 80, "gate", 1)}
		for i := 0; i < n; i++ {
			v.Reals = append(v.Reals, mkReal(fmt.Sprintf("10.0.%d.%d", port%256, i+1), 80, []config.Forward{config.Masq, config.Gate}[i%2], i%3+1))
		}
		if twice {
			v.Reals = append(v.Reals, mkReal("10.0.0.1", 80, "masq", 5))
		}
		return v
	}
	vs := []*config.Virtual{mk(80, false, 0, 6, false), mk(81, true, 0, 5, false), mk(82, false, 4, 6, false), mk(83, false, 0, 4, true)}
	vs[1].Reals[2].Quiescent = &yes
	cfg := &config.Config{Source: "t.cf", Virtuals: vs}
	// operator overrides (lvsd ctl) on some reals
	ovs := Overrides{{Action: Disable, Real: netip.AddrPortFrom(vs[0].Reals[1].Addr, 80)},
		{Action: Drain, Real: netip.AddrPortFrom(vs[2].Reals[0].Addr, 0)},
		{Action: Weight, Weight: 7, Real: netip.AddrPortFrom(vs[2].Reals[3].Addr, 80)},
		{Action: Weight, Weight: 0, Real: netip.AddrPortFrom(vs[1].Reals[0].Addr, 80)}}
	rnd := rand.New(rand.NewPCG(1, 2))
	health := HealthMap{}
	kernel := ipvs.NewMem(nil)
	quorum := map[string]bool{}
	full := func() *Desired {
		cur, _ := kernel.Services()
		d := Table(cfg, Input{Health: health, Current: cur, QuorumHeld: quorum, Overrides: ovs})
		return d
	}
	sync := func(d *Desired) {
		cur, _ := kernel.Services()
		ops, err := ipvs.Plan(d.Services, cur, d.Owned())
		if err != nil {
			t.Fatal(err)
		}
		for _, op := range ops {
			if err := kernel.Apply(op); err != nil {
				t.Fatal(err)
			}
		}
		for _, st := range d.Virtuals {
			quorum[st.Virtual.Key()] = st.Quorum
		}
	}
	d := full()
	sync(d)
	accepted, declined := 0, 0
	for step := 0; step < 3000; step++ {
		i := rnd.IntN(len(vs))
		v := vs[i]
		r := v.Reals[rnd.IntN(len(v.Reals))]
		health[v.ID(r)] = []Status{Up, Down, Unknown}[rnd.IntN(3)]
		ch, ok := d.UpdateReal(cfg.Source, i, r, Input{Health: health, QuorumHeld: quorum, Overrides: ovs}, kernel.Dest)
		if !ok {
			declined++
			d = full()
			sync(d)
			continue
		}
		accepted++
		if op, need := ipvs.PlanDest(ch.Service, ch.Dest, ch.In, ch.Kernel, ch.InKernel); need {
			if err := kernel.Apply(op); err != nil {
				t.Fatalf("step %d: %v", step, err)
			}
		}
		want := full()
		cur, _ := kernel.Services()
		if ops, _ := ipvs.Plan(want.Services, cur, want.Owned()); len(ops) > 0 {
			t.Fatalf("step %d (%s %s): the kernel differs from Table: %v", step, v.ID(r), health[v.ID(r)], ops)
		}
		if ops, _ := ipvs.Plan(d.Services, cur, d.Owned()); len(ops) > 0 {
			t.Fatalf("step %d: the updated table differs from the kernel: %v", step, ops)
		}
		for j, st := range want.Virtuals {
			got := d.Virtuals[j]
			if got.Up != st.Up || got.UpWeight != st.UpWeight || got.Quorum != st.Quorum || got.Fallback != st.Fallback {
				t.Fatalf("step %d: virtual %d: %+v, Table says %+v", step, j, got, st)
			}
			ids := func(ns []Note) []string {
				var out []string
				for _, n := range ns {
					out = append(out, n.ID.String()+" "+n.Why)
				}
				slices.Sort(out)
				return out
			}
			if !slices.Equal(ids(got.Out), ids(st.Out)) {
				t.Fatalf("step %d: virtual %d out %v, Table says %v", step, j, ids(got.Out), ids(st.Out))
			}
			for _, x := range want.Services[j].Dests {
				k := ipvsKey(want.Services[j], x)
				if n, _ := d.Note(st.Key, k); n != want.notes[st.Key][k] {
					t.Fatalf("step %d: note %v, Table says %v", step, n, want.notes[st.Key][k])
				}
			}
		}
	}
	if accepted < 1000 || declined == 0 {
		t.Fatalf("%d changes accepted, %d declined: the test does not reach both", accepted, declined)
	}
}
