package engine

import (
	"context"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// gateKernel is a Mem whose table read, once armed, takes its snapshot
// at once and hands it back only when released: a resync's read that the
// engine's writes overtake. The snapshot is taken under mu, so a hand
// edit made with arm is in it, and nothing after.
type gateKernel struct {
	*ipvs.Mem
	mu      sync.Mutex
	armed   bool
	taken   chan struct{} // closed: the held read has its snapshot
	release chan struct{} // closed by the test: the held read returns
}

// arm holds the next read; edit runs first, in the same step.
func (k *gateKernel) arm(edit func()) {
	k.mu.Lock()
	defer k.mu.Unlock()
	edit()
	k.armed, k.taken, k.release = true, make(chan struct{}), make(chan struct{})
}

func (k *gateKernel) Services() ([]ipvs.Service, error) {
	k.mu.Lock()
	snap, err := k.Mem.Services()
	held, taken, release := k.armed, k.taken, k.release
	k.armed = false
	k.mu.Unlock()
	if held {
		close(taken)
		<-release
	}
	return snap, err
}

const twoVirtuals = `checkinterval=1
checktimeout=1
virtual=192.0.2.10:80
	real=10.0.0.1:80 masq 2
	real=10.0.0.2:80 masq 3
	service=http
virtual=192.0.2.11:80
	real=10.0.0.3:80 masq 1
	service=http
`

// The resync reads the table off the engine's goroutine: a verdict and
// a reload arriving while a read is held are written at once, and when
// the read, older than those writes, comes back, it undoes none of them
// and reports none as drift; the drift it did see, in a service the
// engine did not write meanwhile, is repaired.
func TestResyncReadOffTheLoop(t *testing.T) {
	k := &gateKernel{Mem: ipvs.NewMem(nil)}
	p := &probes{ok: map[string]bool{"10.0.0.1:80": true, "10.0.0.2:80": true, "10.0.0.3:80": true}}
	var mu sync.Mutex
	var reps []Report
	e := New(parse(t, twoVirtuals), Options{Kernel: k, Probe: p.probe, Resync: 20 * time.Millisecond, Command: func(string) {},
		Report: func(r Report) { mu.Lock(); reps = append(reps, r); mu.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	wait := func(what string, cond func(string) bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond(render(k)) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: kernel table:\n%s", what, render(k))
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	full := "-A -t 192.0.2.10:80 -s wrr\n-A -t 192.0.2.11:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n" +
		"-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3\n-a -t 192.0.2.11:80 -r 10.0.0.3:80 -m -w 1"
	wait("start", func(s string) bool { return s == full })

	// drift in the second virtual, seen by the read held next
	v2 := ipvs.Service{Family: 4, Protocol: "tcp", Addr: svc().Addr, Port: 80, Scheduler: "wrr"}
	v2.Addr = v2.Addr.Next()
	k.arm(func() {
		if err := k.Mem.Apply(ipvs.Op{Kind: ipvs.DelDest, Service: v2, Dest: dest("10.0.0.3", 0, 0)}); err != nil {
			t.Fatal(err)
		}
	})
	select {
	case <-k.taken:
	case <-time.After(10 * time.Second):
		t.Fatal("no resync read within 10 s")
	}
	// while it is held: a verdict (10.0.0.2 down) and a reload (10.0.0.1's weight)
	p.set("10.0.0.2:80", false)
	wait("the verdict while a read is held", func(s string) bool { return !strings.Contains(s, "10.0.0.2") })
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	if err := e.Reload(rctx, parse(t, strings.Replace(twoVirtuals, "10.0.0.1:80 masq 2", "10.0.0.1:80 masq 4", 1))); err != nil {
		t.Fatalf("reload while a read is held: %v", err)
	}
	if s := render(k); !strings.Contains(s, "-r 10.0.0.1:80 -m -w 4") {
		t.Fatalf("the reload returned before its write:\n%s", s)
	}
	close(k.release)
	want := "-A -t 192.0.2.10:80 -s wrr\n-A -t 192.0.2.11:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 4\n" +
		"-a -t 192.0.2.11:80 -r 10.0.0.3:80 -m -w 1"
	wait("the drift repaired", func(s string) bool { return s == want })
	time.Sleep(100 * time.Millisecond) // more resyncs: nothing else changes
	if s := render(k); s != want {
		t.Fatalf("after the held read:\n%s\nwant:\n%s", s, want)
	}
	mu.Lock()
	defer mu.Unlock()
	repairs := 0
	for _, r := range reps {
		switch r.Kind {
		case Repaired:
			repairs++
			if r.Op.Dest.Addr.String() != "10.0.0.3" {
				t.Errorf("a false repair: %s (the read was older than the engine's write)", r.Op)
			}
		case WriteFailed, ReadFailed:
			t.Errorf("%v: %v", r.Op, r.Err)
		}
	}
	if repairs != 1 {
		t.Errorf("%d repairs, want 1 (10.0.0.3 put back)", repairs)
	}
}

// fresher: the services written while a read ran are taken as the engine
// holds them, the others as read.
func TestFresher(t *testing.T) {
	a, b := svc(dest("10.0.0.1", 2, 0)), svc(dest("10.0.0.9", 1, 0))
	b.Addr = b.Addr.Next()
	heldA := svc() // the engine deleted a's real while the read ran
	read := []ipvs.Service{a, b}
	if got := fresher(read, []ipvs.Service{heldA, b}, nil); len(got) != 2 || len(got[0].Dests) != 1 {
		t.Fatalf("nothing written: %v, want the read", got)
	}
	got := fresher(read, []ipvs.Service{heldA, b}, map[ipvs.Key]bool{a.Key(): true})
	if len(got) != 2 {
		t.Fatalf("%v", got)
	}
	for _, s := range got {
		switch s.Key() {
		case a.Key():
			if len(s.Dests) != 0 {
				t.Errorf("written service as read: %v", s)
			}
		case b.Key():
			if len(s.Dests) != 1 {
				t.Errorf("unwritten service not as read: %v", s)
			}
		}
	}
	// a service the engine added meanwhile (not in the read) is held; one
	// it deleted (in the read) is gone
	c := svc()
	c.Port = 81
	got = fresher(read, []ipvs.Service{b, c}, map[ipvs.Key]bool{a.Key(): true, c.Key(): true})
	keys := map[ipvs.Key]bool{}
	for _, s := range got {
		keys[s.Key()] = true
	}
	if len(got) != 2 || !keys[b.Key()] || !keys[c.Key()] {
		t.Fatalf("added and deleted while read: %v", got)
	}
}

// A drain ends when a read shows its connections gone, but only a read
// started after the drain began: one running off the loop since before
// holds the connections of an older moment (none yet, here), and would
// delete a real that has some now.
func TestDrainNotEndedByOlderRead(t *testing.T) {
	k := ipvs.NewMem([]ipvs.Service{svc(dest("10.0.0.1", 2, 0), dest("10.0.0.2", 3, 0))})
	e := New(parse(t, web), Options{Kernel: k, DrainTimeout: time.Hour, Command: func(string) {}})
	if err := e.begin(); err != nil {
		t.Fatal(err)
	}
	e.checks.Set(check.FromConfig(e.cfg, nil))
	e.starting = true
	e.pass(false)
	e.starting = false
	for _, hp := range []string{"10.0.0.1:80", "10.0.0.2:80"} {
		e.onHealth(check.Event{Sub: &check.Sub{ID: config.RealID{Virtual: e.cfg.Virtuals[0].Key(), Real: netip.MustParseAddrPort(hp)}}, To: check.Up})
	}
	e.passHealth()
	seq := e.readStarted()
	old, _ := k.Services() // no connections yet
	k.Set([]ipvs.Service{svc(dest("10.0.0.1", 2, 0), dest("10.0.0.2", 3, 1))})
	if err := e.onReload(parse(t, strings.Replace(web, "\treal=10.0.0.2:80 masq 3\n", "", 1))); err != nil {
		t.Fatal(err)
	}
	draining := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 0"
	if got := render(k); got != draining {
		t.Fatalf("after the reload:\n%s\nwant:\n%s", got, draining)
	}
	e.onRead(readResult{seq: seq, svcs: old})
	if got := render(k); got != draining {
		t.Fatalf("a read older than the drain ended it:\n%s", got)
	}
	e.pass(true) // a read of now: a connection still there
	if got := render(k); got != draining {
		t.Fatalf("drained with a connection open:\n%s", got)
	}
	k.Set([]ipvs.Service{svc(dest("10.0.0.1", 2, 0), dest("10.0.0.2", 0, 0))})
	e.pass(true)
	if got := render(k); got != "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2" {
		t.Fatalf("not deleted once its connections ended:\n%s", got)
	}
}

// The resync period is checkinterval (ldirectord reads the table every
// cycle), lengthened to 50 reads' cost where one read is costly (so the
// reads take at most 2% of the time); the lesser of the last two reads
// counts, so one slow read on a busy machine does not stretch it.
func TestResyncPeriod(t *testing.T) {
	cfg := parse(t, web)
	cfg.Global.CheckInterval = time.Second
	for _, c := range []struct {
		last, prev, opt, want time.Duration
	}{
		{time.Millisecond, 0, 0, time.Second},                                       // a cheap read: checkinterval
		{20 * time.Millisecond, 0, 0, time.Second},                                  // 50 x 20 ms = 1 s: still checkinterval
		{122 * time.Millisecond, 0, 0, 6100 * time.Millisecond},                     // 10,000 reals in the VM: 6.1 s
		{500 * time.Millisecond, 30 * time.Millisecond, 0, time.Second * 3 / 2},     // one slow read: the lesser
		{500 * time.Millisecond, 400 * time.Millisecond, 0, 20 * time.Second},       // the table grew: both slow
		{500 * time.Millisecond, 0, 200 * time.Millisecond, 200 * time.Millisecond}, // --resync given: as given
	} {
		e := New(cfg, Options{Kernel: ipvs.NewMem(nil), Resync: c.opt})
		e.readCost, e.prevReadCost = c.last, c.prev
		if got := e.resyncPeriod(); got != c.want {
			t.Errorf("read %s, before %s, option %s: period %s, want %s", c.last, c.prev, c.opt, got, c.want)
		}
	}
}
