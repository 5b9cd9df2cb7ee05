package ipvs

import (
	"errors"
	"fmt"
)

// Result is what one reconcile pass planned and did.
type Result struct {
	Ops     []Op  // planned, in order
	Applied int   // ops the kernel accepted (0 on a dry run)
	Failed  []Op  // ops the kernel refused
	Err     error // the refusals, joined
}

// Summary counts the planned ops.
func (r *Result) Summary() Summary { return Summarize(r.Ops) }

// Reconcile reads the kernel table once, plans, and (unless dryRun)
// applies each op in order. A refused op does not stop the others, except
// that the reals of a service the kernel refused to add are skipped. The
// returned error is a read or planning failure, or the joined refusals.
// A BatchKernel gets the ops in batches (applyBatch).
func Reconcile(k Kernel, desired []Service, owned []Key, dryRun bool) (*Result, error) {
	actual, err := k.Services()
	if err != nil {
		return nil, err
	}
	ops, err := Plan(desired, actual, owned)
	if err != nil {
		return nil, err
	}
	res := &Result{Ops: ops}
	if dryRun {
		return res, nil
	}
	var errs []error
	if bk, ok := k.(BatchKernel); ok {
		for i, err := range applyBatch(bk, ops) {
			switch {
			case err == errNotSent:
				res.Failed = append(res.Failed, ops[i])
			case err != nil:
				res.Failed = append(res.Failed, ops[i])
				errs = append(errs, err)
			default:
				res.Applied++
			}
		}
	} else {
		refused := map[Key]bool{}
		for _, op := range ops {
			if op.Kind == AddDest && refused[op.Service.Key()] {
				res.Failed = append(res.Failed, op)
				continue
			}
			if err := k.Apply(op); err != nil {
				if op.Kind == AddService {
					refused[op.Service.Key()] = true
				}
				res.Failed = append(res.Failed, op)
				errs = append(errs, err)
				continue
			}
			res.Applied++
		}
	}
	if len(errs) > 0 {
		res.Err = errors.Join(errs...)
		return res, fmt.Errorf("ipvs: %d of %d operations refused: %w", len(res.Failed), len(ops), res.Err)
	}
	return res, nil
}

// errNotSent marks, in applyBatch's result, a real of a refused service:
// failed, not sent, and not an error of its own (as in the loop above).
var errNotSent = errors.New("not sent: its virtual service was refused")

// ErrNotSent is ApplyOps's mark of such a real.
var ErrNotSent = errNotSent

// BatchMin is the number of ops from which ApplyOps batches: below it,
// one write per op costs less than the batch's own socket.
const BatchMin = 8

// ApplyOps applies ops in order, through k's batched writes when it has
// them and the ops are many (BatchMin), and returns one error per op:
// nil when the kernel took it, ErrNotSent for a real of a service the
// kernel refused to add (not sent).
func ApplyOps(k Kernel, ops []Op) []error {
	if bk, ok := k.(BatchKernel); ok && len(ops) >= BatchMin {
		return applyBatch(bk, ops)
	}
	errs := make([]error, len(ops))
	refused := map[Key]bool{}
	for i, op := range ops {
		if op.Kind == AddDest && len(refused) > 0 && refused[op.Service.Key()] {
			errs[i] = errNotSent
			continue
		}
		if errs[i] = k.Apply(op); errs[i] != nil && op.Kind == AddService {
			refused[op.Service.Key()] = true
		}
	}
	return errs
}

// applyBatch applies ops through bk with the loop's semantics: the service
// adds first, in one batch, then every other op in plan order, without the
// reals of a refused service. Service adds depend on nothing, and a real
// only on its own service, so the hoisting keeps every op after what it
// needs while letting the reals of all new services share buffers.
func applyBatch(bk BatchKernel, ops []Op) []error {
	errs := make([]error, len(ops))
	var adds []Op
	var at []int
	for i := range ops {
		if ops[i].Kind == AddService {
			adds = append(adds, ops[i])
			at = append(at, i)
		}
	}
	refused := map[Key]bool{}
	for j, err := range bk.ApplyBatch(adds) {
		if err != nil {
			errs[at[j]] = err
			refused[adds[j].Service.Key()] = true
		}
	}
	rest := make([]Op, 0, len(ops)-len(adds))
	at = at[:0]
	for i := range ops {
		switch {
		case ops[i].Kind == AddService:
		case ops[i].Kind == AddDest && len(refused) > 0 && refused[ops[i].Service.Key()]:
			errs[i] = errNotSent
		default:
			rest = append(rest, ops[i])
			at = append(at, i)
		}
	}
	for j, err := range bk.ApplyBatch(rest) {
		errs[at[j]] = err
	}
	return errs
}
