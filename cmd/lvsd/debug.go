package main

import (
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// lvsd run -d (ldirectord's -d, keepalived's -D): debug lines beside the
// log's usual ones, each starting "debug: ": every check's result with
// its latency, every netlink call with its result and duration, every
// plan the engine makes and what it decided, and a reload's difference.
// Off, none of this is in the path: no wrapper is installed and the
// engine formats nothing (engine.Options.Debug nil).

// debugObserve logs each check's result with its latency (as
// engine.Options.Observe: the hot checks stay on the poller). The line
// names the check by type and address only: a check's login, password or
// secret never reaches the log.
func debugObserve(debugf func(string, ...any)) func(*check.Spec, check.Result) {
	return func(s *check.Spec, r check.Result) {
		what := s.Type
		if s.Type == "negotiate" || s.Type == "combined" {
			what += " " + s.Service
		}
		verdict := "down"
		if r.OK {
			verdict = "up"
		}
		debugf("check %s %s: %s in %s: %s", what, s.HostPort(), verdict, r.Latency.Round(time.Microsecond), r.Reason)
	}
}

// observers is every non-nil observer in one (nil when none: the check
// engine then calls nothing).
func observers(fs ...func(*check.Spec, check.Result)) func(*check.Spec, check.Result) {
	var on []func(*check.Spec, check.Result)
	for _, f := range fs {
		if f != nil {
			on = append(on, f)
		}
	}
	switch len(on) {
	case 0:
		return nil
	case 1:
		return on[0]
	}
	return func(s *check.Spec, r check.Result) {
		for _, f := range on {
			f(s, r)
		}
	}
}

// debugKernel logs each netlink call of the kernel it wraps. It keeps
// the kernel's batch path when it has one.
type debugKernel struct {
	k      ipvs.Kernel
	debugf func(string, ...any)
}

type debugBatchKernel struct {
	debugKernel
	bk ipvs.BatchKernel
}

func newDebugKernel(k ipvs.Kernel, debugf func(string, ...any)) ipvs.Kernel {
	d := debugKernel{k: k, debugf: debugf}
	if bk, ok := k.(ipvs.BatchKernel); ok {
		return &debugBatchKernel{debugKernel: d, bk: bk}
	}
	return &d
}

// Services passes through: the engine's own debug line tells each read
// (services, destinations, time).
func (d *debugKernel) Services() ([]ipvs.Service, error) { return d.k.Services() }

func (d *debugKernel) Apply(op ipvs.Op) error {
	t0 := time.Now()
	err := d.k.Apply(op)
	d.debugf("netlink: ipvsadm %s: %s (%s)", op, okOr(err), time.Since(t0).Round(time.Microsecond))
	return err
}

func (d *debugBatchKernel) ApplyBatch(ops []ipvs.Op) []error {
	t0 := time.Now()
	errs := d.bk.ApplyBatch(ops)
	took := time.Since(t0)
	refused := 0
	for i, err := range errs {
		if err != nil {
			refused++
		}
		d.debugf("netlink: ipvsadm %s: %s (batched)", ops[i], okOr(err))
	}
	d.debugf("netlink: batch of %d operations, %d refused (%s)", len(ops), refused, took.Round(time.Microsecond))
	return errs
}

func okOr(err error) string {
	if err != nil {
		return err.Error()
	}
	return "ok"
}

// configDiff is what a reload changes, as lines: virtuals and reals
// added and removed, and for those kept the settings that differ, by
// name (a changed password shows as "passwd changed", never its value).
func configDiff(old, next *config.Config) []string {
	var out []string
	byKey := func(c *config.Config) (map[string]*config.Virtual, []string) {
		m := map[string]*config.Virtual{}
		var order []string
		for _, v := range c.Virtuals {
			if _, dup := m[v.Key()]; !dup {
				order = append(order, v.Key())
			}
			m[v.Key()] = v
		}
		return m, order
	}
	om, oorder := byKey(old)
	nm, norder := byKey(next)
	for _, k := range oorder {
		if nm[k] == nil {
			out = append(out, fmt.Sprintf("virtual %s removed (%d reals)", k, len(om[k].Reals)))
		}
	}
	for _, k := range norder {
		nv, ov := nm[k], om[k]
		if ov == nil {
			out = append(out, fmt.Sprintf("virtual %s added (%d reals)", k, len(nv.Reals)))
			continue
		}
		if f := changedFields(*ov, *nv, "Line", "Reals"); len(f) > 0 {
			out = append(out, fmt.Sprintf("virtual %s: %s changed", k, joinFields(f)))
		}
		oreals := map[config.RealID]*config.Real{}
		for _, r := range ov.Reals {
			oreals[ov.ID(r)] = r
		}
		seen := map[config.RealID]bool{}
		for _, r := range nv.Reals {
			id := nv.ID(r)
			seen[id] = true
			or := oreals[id]
			switch {
			case or == nil:
				out = append(out, fmt.Sprintf("virtual %s: real %s added (weight %d)", k, id.Real, r.Weight))
			case or.Weight != r.Weight:
				out = append(out, fmt.Sprintf("virtual %s: real %s weight %d -> %d", k, id.Real, or.Weight, r.Weight))
				fallthrough
			default:
				if f := changedFields(*or, *r, "Line", "Weight"); len(f) > 0 {
					out = append(out, fmt.Sprintf("virtual %s: real %s: %s changed", k, id.Real, joinFields(f)))
				}
			}
		}
		for _, r := range ov.Reals {
			if id := ov.ID(r); !seen[id] {
				out = append(out, fmt.Sprintf("virtual %s: real %s removed", k, id.Real))
			}
		}
	}
	if f := changedFields(old.Global, next.Global, "Line"); len(f) > 0 {
		out = append(out, "global: "+joinFields(f)+" changed")
	}
	if len(out) == 0 {
		out = append(out, "no change to the virtual servers or global settings")
	}
	return out
}

// changedFields names the exported fields of two structs of one type
// that differ (deeply), but those skipped.
func changedFields(a, b any, skip ...string) []string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	var out []string
	for i := 0; i < va.NumField(); i++ {
		f := va.Type().Field(i)
		if !f.IsExported() || slices.Contains(skip, f.Name) {
			continue
		}
		if !sameButLines(va.Field(i), vb.Field(i)) {
			out = append(out, f.Name)
		}
	}
	return out
}

var configPkg = reflect.TypeOf(config.Real{}).PkgPath()

// sameButLines is deep equality where a Line field (where a block was
// declared) does not count: a file with a comment added is unchanged.
// Unexported fields (derived from the exported ones) do not count either.
func sameButLines(a, b reflect.Value) bool {
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return sameButLines(a.Elem(), b.Elem())
	case reflect.Struct:
		if a.Type().PkgPath() != configPkg && a.CanInterface() {
			break // netip.Addr, time.Time...: their own equality
		}
		for i := 0; i < a.NumField(); i++ {
			if f := a.Type().Field(i); f.IsExported() && f.Name != "Line" && !sameButLines(a.Field(i), b.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Slice, reflect.Array:
		if a.Len() != b.Len() {
			return false
		}
		for i := 0; i < a.Len(); i++ {
			if !sameButLines(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	}
	if !a.CanInterface() {
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}

func joinFields(f []string) string {
	s := f[0]
	for _, x := range f[1:] {
		s += ", " + x
	}
	return s
}
