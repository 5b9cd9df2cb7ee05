package check

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// rid is a test's pair identity from a short name.
func rid(name string) config.RealID { return config.RealID{Virtual: name} }

func TestStepFailureCount(t *testing.T) {
	type step struct {
		ok   bool
		want State
	}
	cases := []struct {
		name  string
		fc    int
		steps []step
	}{
		{"fc1", 1, []step{{true, Up}, {false, Down}, {false, Down}, {true, Up}}},
		{"fc3 soft failures", 3, []step{{true, Up}, {false, Up}, {false, Up}, {false, Down}, {true, Up}}},
		{"fc3 reset by success", 3, []step{{true, Up}, {false, Up}, {false, Up}, {true, Up}, {false, Up}, {false, Up}, {false, Down}}},
		{"unknown first failure is down", 3, []step{{false, Down}, {false, Down}, {true, Up}}},
		{"fc0 behaves as 1", 0, []step{{true, Up}, {false, Down}}},
	}
	for _, c := range cases {
		st, fails := Unknown, 0
		for i, s := range c.steps {
			st, fails = Step(st, fails, s.ok, c.fc)
			if st != s.want {
				t.Fatalf("%s: step %d (ok=%v): %v, want %v", c.name, i, s.ok, st, s.want)
			}
		}
	}
}

func TestFirstDelayJitter(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	const iv = 10 * time.Second
	var buckets [10]int
	for i := 0; i < 10000; i++ {
		d := firstDelay(r, iv)
		if d < 0 || d >= iv {
			t.Fatalf("delay %v outside [0,%v)", d, iv)
		}
		buckets[d/time.Second]++
	}
	for i, n := range buckets { // uniform: ~1000 each
		if n < 800 || n > 1200 {
			t.Fatalf("bucket %d has %d of 10000: not spread (%v)", i, n, buckets)
		}
	}
	if firstDelay(r, 0) != 0 {
		t.Fatal("zero interval must not delay")
	}
}

func TestNextRun(t *testing.T) {
	t0 := time.Unix(1000, 0)
	if got := nextRun(t0, t0.Add(100*time.Millisecond), time.Second); !got.Equal(t0.Add(time.Second)) {
		t.Fatalf("fixed rate: %v", got)
	}
	if got := nextRun(t0, t0.Add(3*time.Second), time.Second); !got.Equal(t0.Add(3 * time.Second)) {
		t.Fatalf("slow check must rerun now, not in the past: %v", got)
	}
}

// fakeProbe answers from a per-address switch and counts calls.
type fakeProbe struct {
	mu     sync.Mutex
	ok     map[string]bool
	calls  map[string]int
	inFly  atomic.Int64
	maxFly atomic.Int64
	delay  time.Duration
}

func newFake() *fakeProbe { return &fakeProbe{ok: map[string]bool{}, calls: map[string]int{}} }

func (f *fakeProbe) set(hp string, ok bool) { f.mu.Lock(); f.ok[hp] = ok; f.mu.Unlock() }

func (f *fakeProbe) probe(ctx context.Context, s *Spec) Result {
	n := f.inFly.Add(1)
	for {
		m := f.maxFly.Load()
		if n <= m || f.maxFly.CompareAndSwap(m, n) {
			break
		}
	}
	defer f.inFly.Add(-1)
	if f.delay > 0 {
		select {
		case <-time.After(f.delay):
		case <-ctx.Done():
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	k := s.HostPort() + "/" + s.Type
	f.calls[k]++
	ok := f.ok[s.HostPort()]
	return Result{OK: ok, Reason: map[bool]string{true: "fake ok", false: "fake fail"}[ok]}
}

func sub(id, addr string, port uint16, iv time.Duration, fc int) Sub {
	sp := Spec{Type: "connect", Addr: mustAddr(addr), Port: port, CheckTimeout: time.Second}
	return Sub{ID: rid(id), Spec: sp, Interval: iv, FailureCount: fc}
}

func waitEvent(t *testing.T, ch <-chan Event, id string, to State) Event {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("events closed waiting for %s %v", id, to)
			}
			if ev.Sub.ID == rid(id) && ev.To == to {
				return ev
			}
		case <-deadline:
			t.Fatalf("no event %s -> %v", id, to)
		}
	}
}

func TestEngineTransitionsAndFailureCount(t *testing.T) {
	f := newFake()
	f.set("10.0.0.1:80", true)
	e := New(Options{Probe: f.probe, Seed: 1})
	e.Set([]Sub{sub("a", "10.0.0.1", 80, 20*time.Millisecond, 3)})
	ctx, cancel := context.WithCancel(context.Background())
	go e.Run(ctx)
	defer cancel()
	ev := waitEvent(t, e.Events(), "a", Up)
	if ev.From != Unknown || ev.Reason != "fake ok" {
		t.Fatalf("first event %+v", ev)
	}
	f.set("10.0.0.1:80", false)
	t0 := time.Now()
	ev = waitEvent(t, e.Events(), "a", Down)
	if ev.Fails != 3 {
		t.Fatalf("down after %d failures, want 3", ev.Fails)
	}
	if d := time.Since(t0); d < 30*time.Millisecond { // 3 failures span 2 intervals
		t.Fatalf("down after %v: soft failures were not counted", d)
	}
	f.set("10.0.0.1:80", true)
	waitEvent(t, e.Events(), "a", Up)
}

func TestEngineDedupe(t *testing.T) {
	f := newFake()
	f.set("10.0.0.1:80", true)
	f.set("10.0.0.2:80", true)
	e := New(Options{Probe: f.probe})
	// the same real in three virtuals with the same check (one with its
	// own failurecount: still one probe), and one other real
	subs := []Sub{
		sub("v1/r1", "10.0.0.1", 80, 50*time.Millisecond, 1),
		sub("v2/r1", "10.0.0.1", 80, 50*time.Millisecond, 1),
		sub("v3/r1", "10.0.0.1", 80, 50*time.Millisecond, 2),
		sub("v1/r2", "10.0.0.2", 80, 50*time.Millisecond, 1),
	}
	// the same real with a different interval is a probe of its own
	e.Set(append(subs[:len(subs):len(subs)], sub("v4/r1", "10.0.0.1", 80, 80*time.Millisecond, 1)))
	if e.Jobs() != 3 {
		t.Fatalf("%d probes scheduled, want 3 (a different interval is not shared)", e.Jobs())
	}
	e.Set(subs)
	if e.Jobs() != 2 {
		t.Fatalf("%d probes scheduled, want 2 (dedupe)", e.Jobs())
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	ups := map[string]bool{}
	for len(ups) < 4 {
		ev := <-e.Events()
		ups[ev.Sub.ID.Virtual] = ev.To == Up
	}
	time.Sleep(200 * time.Millisecond)
	cancel()
	<-done
	f.mu.Lock()
	c1, c2 := f.calls["10.0.0.1:80/connect"], f.calls["10.0.0.2:80/connect"]
	f.mu.Unlock()
	if c1 > c2+2 || c1 < c2-2 { // three virtuals, one probe: not 3x

		t.Fatalf("shared real probed %d times, single real %d: not shared", c1, c2)
	}
	// each virtual keeps its own failurecount
	snap := e.Snapshot()
	for _, id := range []string{"v1/r1", "v2/r1", "v3/r1", "v1/r2"} {
		if snap[rid(id)] != Up {
			t.Fatalf("%s is %v", id, snap[rid(id)])
		}
	}
}

func TestEngineConcurrencyBound(t *testing.T) {
	f := newFake()
	f.delay = 20 * time.Millisecond
	var subs []Sub
	for i := 0; i < 500; i++ {
		a := mustAddr("10.1.0.0").As4()
		a[2], a[3] = byte(i>>8), byte(i)
		s := sub("r"+itoa(i), addrFrom4(a), 80, 10*time.Millisecond, 1)
		subs = append(subs, s)
	}
	e := New(Options{Probe: f.probe, MaxConcurrent: 16})
	e.Set(subs)
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	go func() {
		for range e.Events() {
		}
	}()
	e.Run(ctx)
	if m := f.maxFly.Load(); m > 16 || m < 8 {
		t.Fatalf("max in flight %d, bound 16", m)
	}
	if e.Runs() < 100 {
		t.Fatalf("only %d runs", e.Runs())
	}
}

func TestEngineMaintenance(t *testing.T) {
	dir := t.TempDir()
	f := newFake()
	f.set("10.0.0.1:80", true)
	s := sub("a", "10.0.0.1", 80, 20*time.Millisecond, 1)
	s.MaintNames = MaintNames(mustAddr("10.0.0.1"), 80, "web1.example.com")
	e := New(Options{Probe: f.probe, MaintenanceDir: dir, MaintenanceScan: 10 * time.Millisecond})
	e.Set([]Sub{s})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	waitEvent(t, e.Events(), "a", Up)
	for _, name := range []string{"10.0.0.1:80", "10.0.0.1", "web1.example.com", "web1:80"} {
		p := filepath.Join(dir, name)
		os.WriteFile(p, nil, 0o644)
		ev := waitEvent(t, e.Events(), "a", Down)
		if ev.Reason != "maintenance: "+name {
			t.Fatalf("reason %q", ev.Reason)
		}
		os.Remove(p)
		waitEvent(t, e.Events(), "a", Up)
	}
}

// A maintenance directory set, changed or cleared after start (a reload)
// is the one honoured.
func TestEngineMaintenanceDirSetLater(t *testing.T) {
	dir, other := t.TempDir(), t.TempDir()
	for _, d := range []string{dir, other} {
		os.WriteFile(filepath.Join(d, "10.0.0.1:80"), nil, 0o644)
	}
	f := newFake()
	f.set("10.0.0.1:80", true)
	s := sub("a", "10.0.0.1", 80, 20*time.Millisecond, 1)
	s.MaintNames = MaintNames(mustAddr("10.0.0.1"), 80, "")
	e := New(Options{Probe: f.probe, MaintenanceScan: 10 * time.Millisecond})
	e.Set([]Sub{s})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	waitEvent(t, e.Events(), "a", Up)
	e.SetMaintenanceDir(dir)
	waitEvent(t, e.Events(), "a", Down)
	e.SetMaintenanceDir("")
	waitEvent(t, e.Events(), "a", Up)
	e.SetMaintenanceDir(other)
	waitEvent(t, e.Events(), "a", Down)
	os.Remove(filepath.Join(other, "10.0.0.1:80"))
	waitEvent(t, e.Events(), "a", Up)
}

func TestEngineCombined(t *testing.T) {
	f := newFake()
	f.set("10.0.0.1:80", true)
	s := sub("a", "10.0.0.1", 80, 5*time.Millisecond, 1)
	s.Spec.Type, s.Spec.NegotiateEvery, s.Spec.Service = "combined", 3, "http"
	e := New(Options{Probe: f.probe})
	e.Set([]Sub{s})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	go func() {
		for range e.Events() {
		}
	}()
	e.Run(ctx)
	f.mu.Lock()
	c, n := f.calls["10.0.0.1:80/connect"], f.calls["10.0.0.1:80/negotiate"]
	f.mu.Unlock()
	// connect, connect, connect, negotiate, ...: 3 connects per negotiate
	if n == 0 || c < 2*n || c > 4*n+3 {
		t.Fatalf("%d connects, %d negotiates: want 3 per negotiate", c, n)
	}
}

func TestEngineReloadKeepsState(t *testing.T) {
	f := newFake()
	f.set("10.0.0.1:80", true)
	f.set("10.0.0.2:80", true)
	e := New(Options{Probe: f.probe})
	a, b := sub("a", "10.0.0.1", 80, 20*time.Millisecond, 1), sub("b", "10.0.0.2", 80, 20*time.Millisecond, 1)
	e.Set([]Sub{a})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	waitEvent(t, e.Events(), "a", Up)
	e.Set([]Sub{a, b})
	ev := waitEvent(t, e.Events(), "b", Up)
	_ = ev
	if e.Snapshot()[rid("a")] != Up {
		t.Fatal("a lost its state on reload")
	}
	e.Set([]Sub{b})
	if _, ok := e.Snapshot()[rid("a")]; ok || e.Jobs() != 1 {
		t.Fatal("a still scheduled after removal")
	}
}

// A reload keeps an unchanged check's schedule: ten reloads in a row do
// not probe it again (no re-check storm), it runs on at its interval.
func TestEngineReloadKeepsSchedule(t *testing.T) {
	f := newFake()
	f.set("10.0.0.1:80", true)
	f.set("10.0.0.2:80", true)
	e := New(Options{Probe: f.probe})
	a, b := sub("a", "10.0.0.1", 80, 400*time.Millisecond, 1), sub("b", "10.0.0.2", 80, 400*time.Millisecond, 1)
	e.Set([]Sub{a})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	waitEvent(t, e.Events(), "a", Up)
	calls := func() int { f.mu.Lock(); defer f.mu.Unlock(); return f.calls["10.0.0.1:80/connect"] }
	c0, t0 := calls(), time.Now()
	for i := 0; i < 10; i++ {
		if i%2 == 0 {
			e.Set([]Sub{a, b})
		} else {
			e.Set([]Sub{a})
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(1200*time.Millisecond - time.Since(t0))
	// 1.2 s at a 400 ms interval: 3 probes, 4 at a window's edges
	if n := calls() - c0; n > 4 || n < 2 {
		t.Fatalf("%d probes of the unchanged check in 1.2 s over 10 reloads (interval 400ms): want 2-4", n)
	}
}

// keepalived without alpha: the real starts up, with no event, and goes
// down only after FailureCount failures. warmup 0: the first check runs
// at once, not somewhere in the first interval.
func TestEngineStartUpAndWarmup(t *testing.T) {
	f := newFake()
	s := sub("a", "10.0.0.1", 80, 20*time.Millisecond, 3)
	s.StartUp = true
	slow := sub("b", "10.0.0.2", 80, time.Hour, 1)
	slow.Warmup = -1
	f.set("10.0.0.2:80", true)
	e := New(Options{Probe: f.probe})
	e.Set([]Sub{s, slow})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	go e.Run(ctx)
	ev := waitEvent(t, e.Events(), "b", Up)
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("warmup 0: first check after %s (interval 1h)", d)
	}
	for {
		ev = <-e.Events()
		if ev.Sub.ID == rid("a") {
			break
		}
	}
	if ev.From != Up || ev.To != Down || ev.Fails != 3 {
		t.Fatalf("first event of a real that starts up: %v -> %v after %d failures", ev.From, ev.To, ev.Fails)
	}
}

// Without a warmup a real's first check comes within StartSpread, however
// long its interval: ldirectord checks every real at start, and a director
// taking over must not wait an interval to put its reals in the table.
func TestEngineFirstCheckSoon(t *testing.T) {
	f := newFake()
	f.set("10.0.0.3:80", true)
	e := New(Options{Probe: f.probe})
	e.Set([]Sub{sub("c", "10.0.0.3", 80, time.Hour, 1)})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	t0 := time.Now()
	go e.Run(ctx)
	waitEvent(t, e.Events(), "c", Up)
	if d := time.Since(t0); d > StartSpread+time.Second {
		t.Errorf("first check after %s (interval 1h)", d)
	}
}

// The first-check spread grows with the number of subs: three reals (a
// director's start waits for their first pass) are probed within a
// millisecond, a thousand or more over StartSpread.
func TestStartSpread(t *testing.T) {
	for _, c := range []struct {
		n    int
		want time.Duration
	}{{0, 0}, {1, 200 * time.Microsecond}, {3, 600 * time.Microsecond}, {1000, StartSpread}, {10000, StartSpread}} {
		if got := startSpread(c.n); got != c.want {
			t.Errorf("startSpread(%d) = %v, want %v", c.n, got, c.want)
		}
	}
	e := New(Options{Probe: newFake().probe})
	before := time.Now()
	e.Set([]Sub{sub("a", "10.0.0.1", 80, time.Hour, 1), sub("b", "10.0.0.2", 80, time.Hour, 1)})
	for _, j := range e.jobs {
		if d := j.next.Sub(before); d > time.Millisecond {
			t.Errorf("%v: first check %v after Set, want within 400us", j.key.spec, d)
		}
	}
}
