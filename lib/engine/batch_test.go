package engine

import (
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// batchKernel is a Mem with batched writes (as ipvs.Netlink has them),
// counting the batches and refusing one service's add.
type batchKernel struct {
	*ipvs.Mem
	batches, ops int
	refuse       string // a service key
}

func (b *batchKernel) ApplyBatch(ops []ipvs.Op) []error {
	b.batches++
	errs := make([]error, len(ops))
	refused := false
	for i, op := range ops {
		b.ops++
		switch {
		case op.Kind == ipvs.AddService && op.Service.Key().String() == b.refuse:
			errs[i], refused = ipvs.ErrExists, true
		case op.Kind == ipvs.AddDest && refused && op.Service.Key().String() == b.refuse:
			errs[i] = ipvs.ErrNotFound
		default:
			errs[i] = b.Mem.Apply(op)
		}
	}
	return errs
}

// A pass with many writes (a start, a reload) goes to the kernel in
// batches; a refused service's add is reported once, its reals are not
// sent, and the rest is written.
func TestManyWritesBatched(t *testing.T) {
	cfg := bigConfig(t, 3, 5)
	k := &batchKernel{Mem: ipvs.NewMem(nil), refuse: "-t 192.0.2.2:80"}
	var failed []string
	e := New(cfg, Options{Kernel: k, Command: func(string) {}, Report: func(r Report) {
		if r.Kind == WriteFailed {
			failed = append(failed, r.Op.String())
		}
	}})
	if err := e.begin(); err != nil {
		t.Fatal(err)
	}
	for _, id := range realIDs(cfg) {
		e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
	}
	e.pass(false)
	if k.batches == 0 {
		t.Fatal("18 writes made one by one, not batched")
	}
	if len(failed) != 1 || !strings.HasPrefix(failed[0], "-A -t 192.0.2.2:80") {
		t.Fatalf("refusals reported: %q, want the one service add", failed)
	}
	svcs, _ := k.Services()
	if len(svcs) != 2 || len(svcs[0].Dests) != 5 || len(svcs[1].Dests) != 5 {
		t.Fatalf("kernel:\n%s", render(k))
	}
	// one real's change: one write, not a batch
	b := k.batches
	e.onHealth(check.Event{Sub: &check.Sub{ID: realIDs(cfg)[0]}, To: check.Down})
	e.passHealth()
	if k.batches != b {
		t.Fatal("a one-real change went through a batch")
	}
}
