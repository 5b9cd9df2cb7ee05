package check

import (
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// SetVirtuals is Set with one virtual's subs replaced: the other
// virtuals' subs keep their state, a sub of the replaced virtual that is
// unchanged keeps its state, a removed one is gone (its probe too when no
// other sub shares it), an added one is scheduled.
func TestSetVirtuals(t *testing.T) {
	f := newFake()
	for _, a := range []string{"10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"} {
		f.set(a, true)
	}
	mk := func(v, addr string) Sub {
		s := sub("", addr, 80, 20*time.Millisecond, 1)
		s.ID = config.RealID{Virtual: v, Real: netip.AddrPortFrom(mustAddr(addr), 80)}
		return s
	}
	e := New(Options{Probe: f.probe})
	// 10.0.0.1 behind both virtuals: one probe, two subs
	e.Set([]Sub{mk("v1", "10.0.0.1"), mk("v1", "10.0.0.2"), mk("v2", "10.0.0.1"), mk("v2", "10.0.0.3")})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	for up := 0; up < 4; {
		ev := <-e.Events()
		if ev.To == Up {
			up++
		}
	}
	if e.Jobs() != 3 {
		t.Fatalf("%d probes, want 3", e.Jobs())
	}
	// v2: 10.0.0.1 kept, 10.0.0.3 removed, 10.0.0.4 added
	e.SetVirtuals(map[string]bool{"v2": true}, []Sub{mk("v2", "10.0.0.1"), mk("v2", "10.0.0.4")})
	snap := e.Snapshot()
	id := func(v, a string) config.RealID { return mk(v, a).ID }
	for _, k := range []config.RealID{id("v1", "10.0.0.1"), id("v1", "10.0.0.2"), id("v2", "10.0.0.1")} {
		if snap[k] != Up {
			t.Errorf("%v: %v after SetVirtuals, want up (kept)", k, snap[k])
		}
	}
	if _, ok := snap[id("v2", "10.0.0.3")]; ok {
		t.Error("the removed sub is still there")
	}
	if st, ok := snap[id("v2", "10.0.0.4")]; !ok || st != Unknown {
		t.Errorf("the added sub: %v %v, want unknown", st, ok)
	}
	if e.Jobs() != 3 { // 10.0.0.3's probe gone, 10.0.0.4's new
		t.Errorf("%d probes, want 3", e.Jobs())
	}
	for deadline := time.After(5 * time.Second); ; { // the added one is checked
		select {
		case ev := <-e.Events():
			if ev.Sub.ID != id("v2", "10.0.0.4") || ev.To != Up {
				continue
			}
		case <-deadline:
			t.Fatal("the added sub was not checked")
		}
		break
	}
	// all of v1 replaced by nothing: its own probe goes, the shared one stays
	e.SetVirtuals(map[string]bool{"v1": true}, nil)
	if e.Jobs() != 2 || len(e.Snapshot()) != 2 {
		t.Errorf("%d probes, %d subs after v1 removed, want 2 and 2", e.Jobs(), len(e.Snapshot()))
	}
}
