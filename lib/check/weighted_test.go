package check

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// waitEvent is the next event, or a failure after a generous bound (a
// loaded machine is slow; no timing is asserted).
func nextEvent(t *testing.T, e *Engine) Event {
	t.Helper()
	select {
	case ev := <-e.Events():
		return ev
	case <-time.After(30 * time.Second):
		t.Fatal("no event")
	}
	return Event{}
}

// misc_dynamic: the exit status sets the weight (keepalived check_misc.c):
// 0 the configured weight, 2..255 status-2, a failure down.
func TestMiscDynamicWeights(t *testing.T) {
	var mu sync.Mutex
	res := Result{OK: true, Exits: []int{7}}
	e := New(Options{Probe: func(context.Context, *Spec) Result { mu.Lock(); defer mu.Unlock(); return res }})
	e.Set([]Sub{{ID: rid("a"), Spec: Spec{Type: "external", Dynamic: true, Command: "x"}, Interval: 20 * time.Millisecond,
		FailureCount: 1, Weight: 10, Warmup: -1}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	set := func(r Result) { mu.Lock(); res = r; mu.Unlock() }
	for i, want := range []struct {
		res      Result
		from, to State
		weight   int
	}{
		{Result{OK: true, Exits: []int{7}}, Unknown, Up, 5},
		{Result{OK: true, Exits: []int{0}}, Up, Up, 10},   // weight only
		{Result{OK: true, Exits: []int{2}}, Up, Up, 0},    // up at weight 0
		{Result{OK: false, Exits: []int{1}}, Up, Down, 0}, // down: the weight is that of the last pass
		{Result{OK: true, Exits: []int{255}}, Down, Up, 253},
	} {
		set(want.res)
		ev := nextEvent(t, e)
		if ev.From != want.from || ev.To != want.to || !ev.Weighted || ev.Weight != want.weight {
			t.Fatalf("step %d: %v -> %v weight %d (weighted %v); want %v -> %v weight %d (%s)", i, ev.From, ev.To, ev.Weight,
				ev.Weighted, want.from, want.to, want.weight, ev.Reason)
		}
	}
	if w := e.Weighted()[rid("a")]; w != (Weighted{Up, 253}) {
		t.Fatalf("Weighted: %+v", w)
	}
}

// The real command, through /bin/sh as MISC_CHECK runs it: the statuses
// keepalived passes and fails, a signal, and the timeout (SIGTERM first).
func TestMiscDynamicCommand(t *testing.T) {
	for _, c := range []struct {
		cmd     string
		dynamic bool
		ok      bool
		exit    int
	}{
		{"exit 0", true, true, 0},
		{"exit 1", true, false, 1},
		{"exit 7", true, true, 7},
		{"exit 7", false, false, 7}, // without misc_dynamic only 0 passes
		{"exit 255", true, true, 255},
		{"exit 300", true, true, 44}, // the shell's status is 8 bits: 300 is 44
		{"kill -KILL $$", true, false, -1},
	} {
		s := &Spec{Type: "external", Shell: true, Dynamic: c.dynamic, Command: c.cmd, CheckTimeout: 10 * time.Second}
		r := Run(context.Background(), s)
		exit := -99
		if len(r.Exits) == 1 {
			exit = r.Exits[0]
		}
		if r.OK != c.ok || (c.dynamic && exit != c.exit) {
			t.Errorf("%q dynamic=%v: ok=%v exits=%v (%s); want ok=%v exit %d", c.cmd, c.dynamic, r.OK, r.Exits, r.Reason, c.ok, c.exit)
		}
	}
	// timeout: SIGTERM to the group; a script that ignores it is killed
	dir := t.TempDir()
	mark := filepath.Join(dir, "term")
	s := &Spec{Type: "external", Shell: true, Dynamic: true, CheckTimeout: 200 * time.Millisecond,
		Command: "trap 'touch " + mark + "' TERM; while :; do sleep 0.05; done"}
	r := Run(context.Background(), s)
	if r.OK {
		t.Fatalf("a command past its timeout passed: %s", r.Reason)
	}
	if _, err := os.Stat(mark); err != nil {
		t.Errorf("the command got no SIGTERM before SIGKILL: %v (%s)", err, r.Reason)
	}
}

// FILE_CHECK (keepalived check_file.c / track_file.c): the file's value
// times the weight is added to the real's weight; with weight 0 a value
// other than 0 (reverse: 0) takes it down. Read at Set, then as it changes.
func TestFileCheckWeights(t *testing.T) {
	dir := t.TempDir()
	drain, maint := filepath.Join(dir, "drain"), filepath.Join(dir, "maint")
	// written whole by a rename: os.WriteFile truncates first, and a scan
	// between the truncation and the write reads an empty file (0), an
	// event the steps below do not expect (1 run in about 400 under load)
	write := func(p string, v int) {
		if err := os.WriteFile(p+".new", []byte(strconv.Itoa(v)+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(p+".new", p); err != nil {
			t.Fatal(err)
		}
	}
	write(drain, 2)
	e := New(Options{FileScan: 10 * time.Millisecond, Probe: func(context.Context, *Spec) Result { return Result{OK: true} }})
	e.Set([]Sub{{ID: rid("a"), Spec: Spec{Type: "on"}, Interval: time.Hour, StartUp: true, Weight: 10,
		Files: []FileWatch{{Path: drain, Weight: -3}, {Path: maint, Weight: 0}}}})
	if w := e.Weighted()[rid("a")]; w != (Weighted{Up, 4}) {
		t.Fatalf("at Set: %+v, want up at 10-3*2 = 4", w)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	steps := []struct {
		path     string
		v        int
		from, to State
		weight   int
	}{
		{drain, 5, Up, Up, 0},    // 10-15 is held at 0: still up
		{drain, -1, Up, Up, 13},  // 10+3
		{maint, 1, Up, Down, 13}, // weight 0: not 0 is down
		{maint, 0, Down, Up, 13},
	}
	for i, s := range steps {
		write(s.path, s.v)
		ev := nextEvent(t, e)
		if ev.From != s.from || ev.To != s.to || ev.Weight != s.weight {
			t.Fatalf("step %d: %v -> %v weight %d; want %v -> %v weight %d (%s)", i, ev.From, ev.To, ev.Weight, s.from, s.to, s.weight, ev.Reason)
		}
	}
	os.Remove(drain) // a missing file reads 0
	if ev := nextEvent(t, e); ev.Weight != 10 || ev.To != Up {
		t.Fatalf("file removed: %v weight %d", ev.To, ev.Weight)
	}

	// reverse, weight 0: down while the file holds 0 (or is missing)
	e2 := New(Options{FileScan: time.Hour})
	e2.Set([]Sub{{ID: rid("b"), Spec: Spec{Type: "on"}, Interval: time.Hour, StartUp: true, Weight: 1,
		Files: []FileWatch{{Path: filepath.Join(dir, "none"), Weight: 0, Reverse: true}}}})
	if w := e2.Weighted()[rid("b")]; w.State != Down {
		t.Fatalf("weight 0 reverse, file missing: %+v, want down", w)
	}
}

// MISC_CHECK user: the command runs with the ids given (root can switch).
func TestMiscCheckRunAs(t *testing.T) {
	testenv.Root(t)
	s := &Spec{Type: "external", Shell: true, Command: `test "$(id -u):$(id -g)" = 65534:65534`, CheckTimeout: 10 * time.Second,
		RunAs: true, UID: 65534, GID: 65534}
	if r := Run(context.Background(), s); !r.OK {
		t.Fatalf("as 65534:65534: %s", r.Reason)
	}
}
