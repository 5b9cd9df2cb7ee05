package engine

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// probes answers checks from a table the test changes: address:port -> ok.
type probes struct {
	mu sync.Mutex
	ok map[string]bool
}

func (p *probes) set(hp string, ok bool) { p.mu.Lock(); p.ok[hp] = ok; p.mu.Unlock() }

func (p *probes) probe(_ context.Context, s *check.Spec) check.Result {
	p.mu.Lock()
	defer p.mu.Unlock()
	ok := p.ok[s.HostPort()]
	return check.Result{OK: ok, Reason: map[bool]string{true: "fake up", false: "fake down"}[ok]}
}

// run is an engine under test over an in-memory kernel.
type run struct {
	t      *testing.T
	k      *ipvs.Mem
	p      *probes
	e      *Engine
	cancel context.CancelFunc
	done   chan error
	mu     sync.Mutex
	log    []Report
	owned  []ipvs.Key
}

func parse(t *testing.T, cf string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("test.cf", []byte(cf))
	if err != nil {
		t.Fatal(err)
	}
	// ldirectord takes whole seconds; tests run faster
	cfg.Global.CheckInterval = 50 * time.Millisecond
	for _, v := range cfg.Virtuals {
		v.Check.Interval = 50 * time.Millisecond
	}
	return cfg
}

func start(t *testing.T, cf string, kernel []ipvs.Service, up []string, opt Options) *run {
	t.Helper()
	r := &run{t: t, k: ipvs.NewMem(kernel), p: &probes{ok: map[string]bool{}}, done: make(chan error, 1)}
	for _, hp := range up {
		r.p.set(hp, true)
	}
	opt.Kernel = r.k
	opt.Probe = r.p.probe
	if opt.Command == nil {
		opt.Command = func(string) {}
	}
	opt.Report = func(rep Report) { r.mu.Lock(); r.log = append(r.log, rep); r.mu.Unlock() }
	opt.SaveOwned = func(k []ipvs.Key) error { r.mu.Lock(); r.owned = k; r.mu.Unlock(); return nil }
	r.e = New(parse(t, cf), opt)
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel = cancel
	go func() { r.done <- r.e.Run(ctx) }()
	t.Cleanup(r.stop)
	select {
	case <-r.e.Ready():
	case err := <-r.done:
		t.Fatalf("engine ended at start: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("engine not ready")
	}
	return r
}

func (r *run) stop() {
	if r.cancel != nil {
		r.cancel()
		<-r.done
		r.cancel = nil
	}
}

// table is the kernel's table as ipvsadm -Sn lines, sorted.
func (r *run) table() string { return render(r.k) }

func render(k ipvs.Kernel) string {
	svcs, _ := k.Services()
	ops, _ := ipvs.Plan(svcs, nil, nil)
	var l []string
	for _, o := range ops {
		l = append(l, o.String())
	}
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// waitTable waits until the kernel's table is want.
func (r *run) waitTable(want string) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if r.table() == want {
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.t.Fatalf("kernel table:\n%s\nwant:\n%s\nlog:\n%s", r.table(), want, r.logText())
}

func (r *run) logText() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b strings.Builder
	for _, rep := range r.log {
		fmt.Fprintf(&b, "%d %v %s %v %s\n", rep.Kind, rep.Op, rep.Note.Why, rep.Err, rep.Msg)
	}
	return b.String()
}

func (r *run) count(k Kind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, rep := range r.log {
		if rep.Kind == k {
			n++
		}
	}
	return n
}

// waitHealth waits for n health reports in all.
func (r *run) waitHealth(n int) {
	r.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for r.count(Health) < n {
		if time.Now().After(deadline) {
			r.t.Fatalf("%d health reports, want %d\n%s", r.count(Health), n, r.logText())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

const web = `checkinterval=1
checktimeout=1
virtual=192.0.2.10:80
	real=10.0.0.1:80 masq 2
	real=10.0.0.2:80 masq 3
	fallback=127.0.0.1:80 gate
	service=http
`

func svc(dests ...ipvs.Dest) ipvs.Service {
	return ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "wrr", Dests: dests}
}

func dest(a string, w int, active int) ipvs.Dest {
	return ipvs.Dest{Addr: netip.MustParseAddr(a), Port: 80, Fwd: ipvs.FwdMasq, Weight: w, Active: active}
}

// The engine starts from an empty kernel with the fallback, adds each real
// after its first passing check, removes the fallback, and takes a real out
// when it fails (quiescent=no).
func TestStartChecksAndFallback(t *testing.T) {
	r := start(t, web, nil, nil, Options{})
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 127.0.0.1:80 -g -w 1")
	r.p.set("10.0.0.1:80", true)
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2")
	r.p.set("10.0.0.2:80", true)
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3")
	r.p.set("10.0.0.1:80", false)
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3")
	r.stop()
	if got := r.table(); got != "" {
		t.Fatalf("cleanstop left:\n%s", got)
	}
}

// A restart finds its table in the kernel: no write for reals still up,
// and none before their first check.
func TestRestartAdoptsWithoutWrites(t *testing.T) {
	kernel := []ipvs.Service{svc(dest("10.0.0.1", 2, 5), dest("10.0.0.2", 3, 1))}
	r := start(t, web, kernel, []string{"10.0.0.1:80", "10.0.0.2:80"}, Options{})
	if w := r.k.Writes(); w != 0 {
		t.Fatalf("start wrote %d times:\n%s", w, r.logText())
	}
	r.waitHealth(2)
	time.Sleep(100 * time.Millisecond)
	if w := r.k.Writes(); w != 0 {
		t.Fatalf("%d writes for reals still up:\n%s", w, r.logText())
	}
}

// An entry deleted or edited by hand is put back within the resync
// period, reported as a repair.
func TestDriftRepaired(t *testing.T) {
	r := start(t, web, nil, []string{"10.0.0.1:80", "10.0.0.2:80"}, Options{Resync: 20 * time.Millisecond})
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3"
	r.waitTable(want)
	s := svc()
	if err := r.k.Apply(ipvs.Op{Kind: ipvs.DelDest, Service: s, Dest: dest("10.0.0.1", 0, 0)}); err != nil {
		t.Fatal(err)
	}
	if err := r.k.Apply(ipvs.Op{Kind: ipvs.EditDest, Service: s, Dest: dest("10.0.0.2", 9, 0)}); err != nil {
		t.Fatal(err)
	}
	r.waitTable(want)
	if r.count(Repaired) != 2 {
		t.Fatalf("%d repairs reported, want 2\n%s", r.count(Repaired), r.logText())
	}
	// the whole service deleted by hand comes back too
	r.k.Apply(ipvs.Op{Kind: ipvs.DelService, Service: s})
	r.waitTable(want)
}

// readdquiescent=no: a quiesced real deleted by hand stays deleted until
// it comes up; readdquiescent=yes puts it back at weight 0.
func TestReaddQuiescent(t *testing.T) {
	for _, readd := range []bool{false, true} {
		cf := strings.Replace(web, "checktimeout=1\n", fmt.Sprintf("checktimeout=1\nquiescent=yes\nreaddquiescent=%s\n", map[bool]string{true: "yes", false: "no"}[readd]), 1)
		r := start(t, cf, nil, []string{"10.0.0.1:80"}, Options{Resync: 20 * time.Millisecond})
		quiesced := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 0"
		r.waitTable(quiesced)
		r.k.Apply(ipvs.Op{Kind: ipvs.DelDest, Service: svc(), Dest: dest("10.0.0.2", 0, 0)})
		time.Sleep(150 * time.Millisecond)
		if readd {
			r.waitTable(quiesced)
		} else if got := r.table(); strings.Contains(got, "10.0.0.2") {
			t.Fatalf("readdquiescent=no re-added the quiesced real:\n%s", got)
		}
		r.p.set("10.0.0.2:80", true)
		r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3")
		r.stop()
	}
}

// A reload that removes a real and a virtual drains them: weight 0 at
// once, deleted when their connections end. A foreign service stays.
func TestReloadDrains(t *testing.T) {
	two := web + "virtual=192.0.2.11:80\n\treal=10.0.0.3:80 masq 1\n\tservice=http\n"
	foreign := ipvs.Service{Family: 4, Protocol: "udp", Addr: netip.MustParseAddr("198.51.100.1"), Port: 53, Scheduler: "rr",
		Dests: []ipvs.Dest{{Addr: netip.MustParseAddr("10.9.9.9"), Port: 53, Weight: 1}}}
	r := start(t, two, []ipvs.Service{foreign}, []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80"},
		Options{Resync: 20 * time.Millisecond, DrainTimeout: time.Minute})
	f := "-A -u 198.51.100.1:53 -s rr\n-a -u 198.51.100.1:53 -r 10.9.9.9:53 -m -w 1"
	full := "-A -t 192.0.2.10:80 -s wrr\n-A -t 192.0.2.11:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3\n-a -t 192.0.2.11:80 -r 10.0.0.3:80 -m -w 1\n" + f
	r.waitTable(sortLines(full))
	// connections on the reals that will go
	tab, _ := r.k.Services()
	for i := range tab {
		for j := range tab[i].Dests {
			tab[i].Dests[j].Active = 1
		}
	}
	r.k.Set(tab)
	one := strings.Replace(web, "\treal=10.0.0.2:80 masq 3\n", "", 1)
	if err := r.e.Reload(context.Background(), parse(t, one)); err != nil {
		t.Fatal(err)
	}
	draining := "-A -t 192.0.2.10:80 -s wrr\n-A -t 192.0.2.11:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 0\n-a -t 192.0.2.11:80 -r 10.0.0.3:80 -m -w 0\n" + f
	r.waitTable(sortLines(draining))
	time.Sleep(100 * time.Millisecond)
	if got := r.table(); got != sortLines(draining) {
		t.Fatalf("drained before the connections ended:\n%s", got)
	}
	// connections end: both go
	tab, _ = r.k.Services()
	for i := range tab {
		for j := range tab[i].Dests {
			tab[i].Dests[j].Active = 0
		}
	}
	r.k.Set(tab)
	r.waitTable(sortLines("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n" + f))
	r.stop()
	if got := r.table(); got != sortLines(f) {
		t.Fatalf("cleanstop touched the foreign service or left ours:\n%s", got)
	}
}

// A removed real whose connections do not end is deleted at the drain
// timeout, not before: a stuck client cannot hold a removed real forever.
func TestDrainTimeoutExpires(t *testing.T) {
	r := start(t, web, nil, []string{"10.0.0.1:80", "10.0.0.2:80"},
		Options{Resync: 20 * time.Millisecond, DrainTimeout: 300 * time.Millisecond})
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3")
	tab, _ := r.k.Services()
	for i := range tab {
		for j := range tab[i].Dests {
			tab[i].Dests[j].Active = 5
		}
	}
	r.k.Set(tab)
	t0 := time.Now()
	if err := r.e.Reload(context.Background(), parse(t, strings.Replace(web, "\treal=10.0.0.2:80 masq 3\n", "", 1))); err != nil {
		t.Fatal(err)
	}
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 0")
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2")
	if d := time.Since(t0); d < 300*time.Millisecond {
		t.Fatalf("deleted after %s with 5 connections active, before the 300ms drain timeout", d)
	}
}

func sortLines(s string) string {
	l := strings.Split(s, "\n")
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// A restart after the configuration lost a virtual removes it: ownership
// comes from the state file.
func TestRestartRemovesOwnedVirtual(t *testing.T) {
	gone := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.99"), Port: 80, Scheduler: "wrr"}
	r := start(t, web, []ipvs.Service{gone}, []string{"10.0.0.1:80"}, Options{Owned: []ipvs.Key{gone.Key()}})
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2")
}

// A write the kernel refuses is reported and made again later.
func TestRefusedWriteRetried(t *testing.T) {
	var mu sync.Mutex
	refuse := 2
	r := &run{}
	_ = r
	k := ipvs.NewMem(nil)
	k.Refuse = func(op ipvs.Op) error {
		mu.Lock()
		defer mu.Unlock()
		if op.Kind == ipvs.AddDest && refuse > 0 {
			refuse--
			return errors.New("no buffer space available")
		}
		return nil
	}
	p := &probes{ok: map[string]bool{"10.0.0.1:80": true}}
	var reps []Report
	var rmu sync.Mutex
	e := New(parse(t, web), Options{Kernel: k, Probe: p.probe, Report: func(r Report) { rmu.Lock(); reps = append(reps, r); rmu.Unlock() }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.Run(ctx) }()
	defer func() { cancel(); <-done }()
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2"
	deadline := time.Now().Add(10 * time.Second)
	for render(k) != want {
		if time.Now().After(deadline) {
			t.Fatalf("never converged after refusals:\n%s", render(k))
		}
		time.Sleep(10 * time.Millisecond)
	}
	rmu.Lock()
	defer rmu.Unlock()
	failed := 0
	for _, r := range reps {
		if r.Kind == WriteFailed {
			failed++
		}
	}
	if failed != 2 {
		t.Fatalf("%d refusals reported, want 2", failed)
	}
}

// cleanstop=no leaves the table as it is.
func TestCleanstopNo(t *testing.T) {
	r := start(t, "cleanstop=no\n"+web, nil, []string{"10.0.0.1:80"}, Options{})
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2"
	r.waitTable(want)
	r.stop()
	if got := r.table(); got != want {
		t.Fatalf("cleanstop=no changed the table:\n%s", got)
	}
}

// A reload that keeps the virtuals one for one decides again only those
// it changed: one weight changed is one write, the other virtual keeps its
// decided part (now pointing at the new file's virtual, its new lines),
// and a real removed or added in a changed virtual is deleted or waits for
// its check as in a whole reload (verify: the kernel is the whole table's
// fixed point).
func TestReloadDecidesOnlyChanged(t *testing.T) {
	mk := func(head, w, extra string) *config.Config {
		c, err := config.Parse("part.cf", []byte("checkinterval=1\n"+head+
			"virtual=192.0.2.10:80\n\treal=10.0.0.1:80 masq 2\n\treal=10.0.0.2:80 masq 3\n\tservice=http\n"+
			"virtual=192.0.2.11:80\n\treal=10.0.0.3:80 masq "+w+"\n"+extra+"\tservice=http\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	foreign := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("198.51.100.1"), Port: 80, Scheduler: "rr"}
	k := ipvs.NewMem([]ipvs.Service{foreign})
	a := mk("", "1", "\treal=10.0.0.4:80 masq 1\n")
	e := New(a, Options{Kernel: k, Command: func(string) {}})
	if err := e.begin(); err != nil {
		t.Fatal(err)
	}
	subs := check.FromConfig(a, nil)
	e.checks.Set(subs)
	e.nchecks = len(subs) // as Run does
	for _, id := range realIDs(a) {
		e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
	}
	e.pass(false)
	verify(t, e, k, foreign, "start")
	// lines moved (two blank lines on top), one weight changed
	b := mk("\n\n", "5", "\treal=10.0.0.4:80 masq 1\n")
	w := k.Writes()
	if err := e.onReload(b); err != nil {
		t.Fatal(err)
	}
	verify(t, e, k, foreign, "reload: one weight")
	if n := k.Writes() - w; n != 1 {
		t.Errorf("%d writes for one weight changed, want 1", n)
	}
	if e.desired.Virtuals[0].Virtual != b.Virtuals[0] || e.desired.Virtuals[1].Virtual != b.Virtuals[1] {
		t.Error("the decided virtuals do not point at the reloaded configuration's")
	}
	if st := e.snapshot(); st.Virtuals[0].Virtual.Line != b.Virtuals[0].Line || st.Up != 4 {
		t.Errorf("status after the reload: line %d (want %d), %d up (want 4)", st.Virtuals[0].Virtual.Line, b.Virtuals[0].Line, st.Up)
	}
	// 10.0.0.4 removed, 10.0.0.5 added: one delete now, the add after its check
	c := mk("", "5", "\treal=10.0.0.5:80 masq 1\n")
	w = k.Writes()
	e.onReload(c)
	verify(t, e, k, foreign, "reload: a real removed, one added")
	if n := k.Writes() - w; n != 1 {
		t.Errorf("%d writes for a real removed and one not checked yet, want 1", n)
	}
	if _, ok := e.health[a.Virtuals[1].ID(a.Virtuals[1].Reals[1])]; ok {
		t.Error("the removed real's health is kept")
	}
	if e.nchecks != 4 {
		t.Errorf("%d checks counted, want 4", e.nchecks)
	}
	id := c.Virtuals[1].ID(c.Virtuals[1].Reals[1])
	e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
	e.passHealth()
	verify(t, e, k, foreign, "the added real up")
	if st := e.snapshot(); len(st.Virtuals[1].Reals) != 2 || !st.Virtuals[1].Reals[1].InKernel {
		t.Errorf("after the added real's check: %+v", st.Virtuals[1].Reals)
	}
}
