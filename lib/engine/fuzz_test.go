package engine

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// fuzzConfigs are the configurations a fuzzed sequence reloads between:
// reals and virtuals come and go, quiescent, fallback and readdquiescent
// change.
var fuzzConfigs = []string{
	"virtual=192.0.2.10:80\n\treal=10.0.0.1:80 masq 2\n\treal=10.0.0.2:80 masq 3\n\tfallback=127.0.0.1:80 gate\n\tservice=http\n" +
		"virtual=192.0.2.11:53\n\tprotocol=udp\n\treal=10.0.0.3:53 gate 1\n\tchecktype=connect\n",
	"quiescent=yes\nvirtual=192.0.2.10:80\n\treal=10.0.0.1:80 masq 2\n\treal=10.0.0.4:80 masq 1\n\tservice=http\n",
	"quiescent=yes\nreaddquiescent=yes\nvirtual=192.0.2.10:80\n\treal=10.0.0.2:80 masq 5\n\tfallback=127.0.0.1:80 gate\n\tservice=http\n" +
		"virtual=192.0.2.12:443\n\treal=10.0.0.1:443 masq 1\n\treal=10.0.0.2:443 masq 1\n\tchecktype=connect\n",
	"cleanstop=no\nvirtual=192.0.2.11:53\n\tprotocol=udp\n\treal=10.0.0.3:53 gate 4\n\treal=10.0.0.5:53 gate 1\n\tchecktype=connect\n",
	// the virtuals of the first, one for one, edited: a reload decides
	// again only those it changed (reloadPart)
	"virtual=192.0.2.10:80\n\treal=10.0.0.1:80 masq 2\n\treal=10.0.0.2:80 masq 7\n\treal=10.0.0.6:80 masq 1\n\tfallback=127.0.0.1:80 gate\n\tservice=http\n" +
		"virtual=192.0.2.11:53\n\tprotocol=udp\n\treal=10.0.0.3:53 gate 1\n\tchecktype=connect\n",
	"\n\nvirtual=192.0.2.10:80\n\treal=10.0.0.2:80 masq 3\n\tservice=http\n" +
		"virtual=192.0.2.11:53\n\tprotocol=udp\n\tscheduler=rr\n\tquiescent=yes\n\treal=10.0.0.3:53 gate 1\n\treal=10.0.0.5:53 gate 2\n\tchecktype=connect\n",
}

// Random sequences of reloads, health events, hand edits of the kernel,
// connections ending and resync reads that writes overtake (the read runs
// off the loop) always converge: after each step the kernel holds
// exactly the desired table (for what this configuration owns), that
// table is director.Table's answer for the kernel as it now is, and a
// foreign service is never touched; a read older than the engine's writes
// repairs nothing.
func FuzzEngineConverges(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Add([]byte{2, 17, 33, 3, 200, 41, 90, 7, 1, 66, 130, 5})
	f.Add([]byte{1, 4, 4, 9, 250, 3, 3, 12, 0, 0, 77})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 || len(data) > 200 {
			return
		}
		cfgs := make([]*config.Config, len(fuzzConfigs))
		for i, cf := range fuzzConfigs {
			c, err := config.Parse(fmt.Sprintf("fuzz%d.cf", i), []byte("checkinterval=1\n"+cf))
			if err != nil {
				t.Fatal(err)
			}
			cfgs[i] = c
		}
		foreign := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("198.51.100.1"), Port: 80, Scheduler: "rr",
			Dests: []ipvs.Dest{{Addr: netip.MustParseAddr("10.9.9.9"), Port: 80, Weight: 1}}}
		k := ipvs.NewMem([]ipvs.Service{foreign})
		drain := time.Duration(0)
		if data[0]&1 == 1 {
			drain = time.Hour
		}
		e := New(cfgs[int(data[0]>>1)%len(cfgs)], Options{Kernel: k, DrainTimeout: drain, Command: func(string) {}})
		if err := e.begin(); err != nil {
			t.Fatal(err)
		}
		e.checks.Set(check.FromConfig(e.cfg, nil))
		e.startDrains(e.believedServices())
		e.starting = true
		e.pass(false)
		e.starting = false
		verify(t, e, k, foreign, "start")
		for i := 1; i+1 < len(data); i += 2 {
			op, arg := data[i]%7, int(data[i+1])
			var what string
			switch op {
			case 0, 1: // a health event for one real of the running configuration
				ids := realIDs(e.cfg)
				if len(ids) == 0 {
					continue
				}
				id := ids[arg%len(ids)]
				to := []check.State{check.Up, check.Down, check.Up}[arg%3]
				e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: to})
				e.passHealth()
				verify(t, e, k, foreign, fmt.Sprintf("%s %s (health pass)", id, to))
				what = fmt.Sprintf("%s %s", id, to)
			case 2: // reload
				c := cfgs[arg%len(cfgs)]
				e.onReload(c)
				what = "reload " + c.Source
			case 3, 4: // a hand edit: delete or re-weight an entry, then a resync
				svcs, _ := k.Services()
				if len(svcs) == 0 {
					continue
				}
				s := svcs[arg%len(svcs)]
				if len(s.Dests) > 0 && op == 3 {
					d := s.Dests[arg%len(s.Dests)]
					k.Apply(ipvs.Op{Kind: ipvs.DelDest, Service: s, Dest: d})
					what = "hand delete " + d.Key().String()
				} else if len(s.Dests) > 0 {
					d := s.Dests[arg%len(s.Dests)]
					d.Weight = arg % 7
					k.Apply(ipvs.Op{Kind: ipvs.EditDest, Service: s, Dest: d})
					what = "hand edit " + d.Key().String()
				} else {
					k.Apply(ipvs.Op{Kind: ipvs.DelService, Service: s})
					what = "hand delete " + s.Key().String()
				}
				e.pass(true)
			case 6: // a resync's read taken, then a health pass writes, then the read comes back (older than the writes)
				seq := e.readStarted()
				svcs, _ := k.Services()
				if ids := realIDs(e.cfg); len(ids) > 0 {
					id := ids[arg%len(ids)]
					to := []check.State{check.Down, check.Up}[arg%2]
					e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: to})
					e.passHealth()
					what = fmt.Sprintf("%s %s during a read", id, to)
				}
				repairs := e.counts.Repairs
				e.onRead(readResult{seq: seq, svcs: svcs})
				if e.counts.Repairs != repairs {
					t.Fatalf("%s: a read older than the writes repaired %d entries", what, e.counts.Repairs-repairs)
				}
			case 5: // connections come and go on every entry, then a resync
				svcs, _ := k.Services()
				for i := range svcs {
					for j := range svcs[i].Dests {
						svcs[i].Dests[j].Active = arg % 2
					}
				}
				k.Set(svcs)
				e.pass(true)
				what = fmt.Sprintf("active=%d", arg%2)
			}
			// the hand edit of a foreign service is not ours to repair: put it back for the check
			if svcs, _ := k.Services(); !hasService(svcs, foreign) {
				k.Apply(ipvs.Op{Kind: ipvs.DelService, Service: foreign})
				k.Apply(ipvs.Op{Kind: ipvs.AddService, Service: foreign})
				for _, d := range foreign.Dests {
					k.Apply(ipvs.Op{Kind: ipvs.AddDest, Service: foreign, Dest: d})
				}
			}
			e.pass(true)
			verify(t, e, k, foreign, what)
		}
		e.stop(time.Now())
		svcs, _ := k.Services()
		for _, s := range svcs {
			if s.Key() == foreign.Key() {
				continue
			}
			kept := false
			for _, v := range e.cfg.Virtuals {
				if sv := director.Service(v); sv.Key() == s.Key() && !v.CleanStop {
					kept = true
				}
			}
			if !kept {
				t.Fatalf("cleanstop left %s", s.Key())
			}
		}
	})
}

func realIDs(cfg *config.Config) []config.RealID {
	var out []config.RealID
	for _, v := range cfg.Virtuals {
		for _, r := range v.Reals {
			out = append(out, v.ID(r))
		}
	}
	return out
}

func hasService(svcs []ipvs.Service, want ipvs.Service) bool {
	for _, s := range svcs {
		if s.Key() == want.Key() {
			ops, _ := ipvs.Plan([]ipvs.Service{want}, []ipvs.Service{s}, nil)
			return len(ops) == 0
		}
	}
	return false
}

func verify(t *testing.T, e *Engine, k *ipvs.Mem, foreign ipvs.Service, after string) {
	t.Helper()
	svcs, _ := k.Services()
	ops, err := ipvs.Plan(e.desired.Services, svcs, e.desired.Owned())
	if err != nil {
		t.Fatalf("after %s: %v", after, err)
	}
	if len(ops) > 0 {
		t.Fatalf("after %s: the kernel differs from the desired table: %v\nkernel:\n%s", after, ops, render(k))
	}
	// every service in the kernel is desired or foreign: nothing owned left behind
	for _, s := range svcs {
		found := s.Key() == foreign.Key()
		for _, d := range e.desired.Services {
			found = found || d.Key() == s.Key()
		}
		if !found {
			t.Fatalf("after %s: %s left in the kernel\n%s", after, s.Key(), render(k))
		}
	}
	if !hasService(svcs, foreign) {
		t.Fatalf("after %s: the foreign service was touched:\n%s", after, render(k))
	}
	// a fixed point: the rules give the same table for the kernel as it is
	again := director.Table(e.cfg, director.Input{Health: e.health, Current: svcs, QuorumHeld: e.quorum,
		Draining: e.drainingServices(svcs), ReaddQuiescent: e.cfg.Global.ReaddQuiescent})
	if ops, _ := ipvs.Plan(again.Services, svcs, again.Owned()); len(ops) > 0 {
		t.Fatalf("after %s: not a fixed point of director.Table: %v\n%s", after, ops, strings.TrimSpace(render(k)))
	}
}
