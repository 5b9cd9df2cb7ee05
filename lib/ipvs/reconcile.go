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
	if len(errs) > 0 {
		res.Err = errors.Join(errs...)
		return res, fmt.Errorf("ipvs: %d of %d operations refused: %w", len(res.Failed), len(ops), res.Err)
	}
	return res, nil
}
