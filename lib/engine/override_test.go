package engine

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func (r *run) ctl(line string) (string, error) {
	r.t.Helper()
	o, err := director.ParseOverride(strings.Fields(line))
	if err != nil {
		r.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return r.e.Override(ctx, o)
}

// lvsd ctl through the engine: each override reaches the kernel at once,
// is saved, shows in the status; an unknown real changes nothing; a
// reload keeps them; a restart given the saved ones starts with them.
func TestOverridesThroughTheEngine(t *testing.T) {
	var saved director.Overrides
	opt := Options{SaveOverrides: func(o director.Overrides) error { saved = o; return nil }}
	r := start(t, web, nil, []string{"10.0.0.1:80", "10.0.0.2:80"}, opt)
	both := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3"
	r.waitTable(both)

	if _, err := r.ctl("drain 10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	// applied before the answer: no wait
	if got := r.table(); got != "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 0\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3" {
		t.Fatalf("drain:\n%s", got)
	}
	if _, err := r.ctl("weight 10.0.0.2:80 7 tcp:192.0.2.10:80"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.ctl("disable 10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	want := "-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 7"
	if got := r.table(); got != want {
		t.Fatalf("disable + weight:\n%s", got)
	}
	if len(saved) != 2 || saved[0].String() != "weight 10.0.0.2:80 7 tcp:192.0.2.10:80" || saved[1].String() != "disable 10.0.0.1" {
		t.Fatalf("saved %v", saved)
	}
	// unknown real: an error naming the reals, nothing changes
	before := r.k.Writes()
	if _, err := r.ctl("drain 10.0.0.9"); err == nil || !strings.Contains(err.Error(), "its reals: 10.0.0.1:80, 10.0.0.2:80") {
		t.Fatalf("unknown real: %v", err)
	}
	if r.k.Writes() != before || len(saved) != 2 {
		t.Fatal("an unknown real changed something")
	}
	st, _ := r.e.Status(context.Background())
	if len(st.Overrides) != 2 || !st.Overrides[1].Applies {
		t.Fatalf("status overrides %+v", st.Overrides)
	}
	if out := st.Virtuals[0].Out; len(out) != 1 || out[0].Override != "disable 10.0.0.1" {
		t.Fatalf("disabled real in status: %+v", out)
	}

	// reload (the same file): still in force
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.e.Reload(ctx, parse(t, web)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond) // unchanged checks keep their state: no new verdict
	if got := r.table(); got != want {
		t.Fatalf("after reload:\n%s", got)
	}
	r.stop()

	// restart over the same kernel with the saved overrides: still in force,
	// and the reals adopted make no write
	kernel := []ipvs.Service{svc(dest("10.0.0.2", 7, 0))}
	r2 := start(t, web, kernel, []string{"10.0.0.1:80", "10.0.0.2:80"}, Options{Overrides: saved,
		SaveOverrides: func(o director.Overrides) error { saved = o; return nil }})
	r2.waitHealth(2)
	time.Sleep(100 * time.Millisecond)
	if got := r2.table(); got != want || r2.k.Writes() != 0 {
		t.Fatalf("after restart (%d writes):\n%s", r2.k.Writes(), got)
	}
	// enable: the checks alone decide again
	if _, err := r2.ctl("enable 10.0.0.1"); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.ctl("enable 10.0.0.2"); err != nil {
		t.Fatal(err)
	}
	if got := r2.table(); got != both || len(saved) != 0 {
		t.Fatalf("after enable (saved %v):\n%s", saved, got)
	}
}
