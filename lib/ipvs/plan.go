package ipvs

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// OpKind is one kind of netlink write.
type OpKind int

const (
	AddService OpKind = iota
	EditService
	DelService
	AddDest
	EditDest
	DelDest
)

var opFlag = [...]string{"-A", "-E", "-D", "-a", "-e", "-d"}

// Op is one IPVS change: exactly one netlink write.
type Op struct {
	Kind    OpKind
	Service Service // the desired service (the actual one for DelService)
	Dest    Dest    // for AddDest, EditDest, DelDest
	Why     string  // what differs, for EditService/EditDest
}

// String renders the op as an ipvsadm-restore line (`ipvsadm -R` takes it).
func (o Op) String() string {
	var b strings.Builder
	b.WriteString(opFlag[o.Kind])
	b.WriteString(" ")
	b.WriteString(o.Service.Key().String())
	s := &o.Service
	switch o.Kind {
	case AddService, EditService:
		b.WriteString(" -s " + s.Scheduler)
		if s.Flags&FlagPersistent != 0 {
			fmt.Fprintf(&b, " -p %d", s.Timeout)
			if s.Netmask != fullMask(s.Family) {
				b.WriteString(" -M " + s.NetmaskString())
			}
		}
		if f := SchedFlagNames(s.Scheduler, s.Flags); len(f) > 0 {
			b.WriteString(" -b " + strings.Join(f, ","))
		}
		if s.Flags&FlagOnePacket != 0 {
			b.WriteString(" -o")
		}
		if s.PE != "" {
			b.WriteString(" --pe " + s.PE)
		}
	case AddDest, EditDest:
		d := &o.Dest
		fmt.Fprintf(&b, " -r %s -%c -w %d", d.Key(), fwdLetter(d.Fwd), d.Weight)
		if d.Upper != 0 {
			fmt.Fprintf(&b, " -x %d", d.Upper)
		}
		if d.Lower != 0 {
			fmt.Fprintf(&b, " -y %d", d.Lower)
		}
	case DelDest:
		b.WriteString(" -r " + o.Dest.Key().String())
	}
	return b.String()
}

// fwdLetter is ipvsadm's forwarding option letter (a map literal here
// cost an allocation per logged write).
func fwdLetter(f uint32) byte {
	switch f {
	case FwdGate:
		return 'g'
	case FwdMasq:
		return 'm'
	case FwdIPIP:
		return 'i'
	}
	return 0
}

// Summary counts a plan's operations.
type Summary struct {
	ServicesAdded, ServicesEdited, ServicesRemoved int
	RealsAdded, RealsEdited, RealsRemoved          int
}

// Writes is the number of netlink writes: one per op.
func (s Summary) Writes() int {
	return s.ServicesAdded + s.ServicesEdited + s.ServicesRemoved + s.RealsAdded + s.RealsEdited + s.RealsRemoved
}

func (s Summary) String() string {
	return fmt.Sprintf("services: %d added, %d edited, %d removed; reals: %d added, %d edited, %d removed; %d netlink writes",
		s.ServicesAdded, s.ServicesEdited, s.ServicesRemoved, s.RealsAdded, s.RealsEdited, s.RealsRemoved, s.Writes())
}

// Summarize counts ops by kind.
func Summarize(ops []Op) Summary {
	var s Summary
	for _, o := range ops {
		switch o.Kind {
		case AddService:
			s.ServicesAdded++
		case EditService:
			s.ServicesEdited++
		case DelService:
			s.ServicesRemoved++
		case AddDest:
			s.RealsAdded++
		case EditDest:
			s.RealsEdited++
		case DelDest:
			s.RealsRemoved++
		}
	}
	return s
}

// Plan returns the minimal operations turning actual into desired.
//
//   - desired services are added or edited in place (never deleted and
//     re-added: that would drop their connections); their reals not in
//     desired are removed.
//   - a service in actual but not in desired is removed only when owned
//     (listed in owned: what this config managed before, e.g. the previous
//     config on reload). Any other service is foreign and never touched.
//   - within a service, reals are added before others are removed, so a
//     service is never left empty during a change.
//
// Kernel-only flags in actual (HASHED) are ignored. The result is ordered
// for the kernel: new services first with their reals, then edits, then
// removals.
func Plan(desired, actual []Service, owned []Key) ([]Op, error) {
	want := map[Key]*Service{}
	var wantKeys []Key
	for i := range desired {
		s := Normalize(desired[i])
		if err := s.Validate(); err != nil {
			return nil, err
		}
		k := s.Key()
		if want[k] != nil {
			return nil, fmt.Errorf("virtual service %s twice", k)
		}
		want[k] = &s
		wantKeys = append(wantKeys, k)
	}
	have := map[Key]*Service{}
	var haveKeys []Key
	for i := range actual {
		s := normalize(actual[i], false)
		have[s.Key()] = &s
		haveKeys = append(haveKeys, s.Key())
	}
	sortKeys(wantKeys)
	sortKeys(haveKeys)

	var adds, edits, dels []Op
	for _, k := range wantKeys {
		w, h := want[k], have[k]
		if h == nil {
			adds = append(adds, Op{Kind: AddService, Service: *w})
			for _, d := range w.Dests {
				adds = append(adds, Op{Kind: AddDest, Service: *w, Dest: d})
			}
			continue
		}
		if why := serviceDiff(w, h); why != "" {
			edits = append(edits, Op{Kind: EditService, Service: *w, Why: why})
		}
		edits = append(edits, planDests(w, h)...)
	}
	isOwned := map[Key]bool{}
	for _, k := range owned {
		isOwned[k] = true
	}
	for _, k := range haveKeys {
		if want[k] == nil && isOwned[k] {
			dels = append(dels, Op{Kind: DelService, Service: *have[k]})
		}
	}
	return append(append(adds, edits...), dels...), nil
}

func planDests(w, h *Service) []Op {
	cur := map[DestKey]*Dest{}
	for i := range h.Dests {
		cur[h.Dests[i].Key()] = &h.Dests[i]
	}
	var ops, dels []Op
	keep := map[DestKey]bool{}
	for _, d := range w.Dests {
		keep[d.Key()] = true
		c := cur[d.Key()]
		if c == nil {
			ops = append(ops, Op{Kind: AddDest, Service: *w, Dest: d})
		} else if why := destDiff(&d, c); why != "" {
			ops = append(ops, Op{Kind: EditDest, Service: *w, Dest: d, Why: why})
		}
	}
	for _, d := range h.Dests {
		if !keep[d.Key()] {
			dels = append(dels, Op{Kind: DelDest, Service: *w, Dest: d})
		}
	}
	return append(ops, dels...)
}

// PlanDest is Plan for one destination of svc (normalized): want,
// in the desired table when in, against the kernel's entry have (held
// when inKernel). ok is false when nothing is to be written.
func PlanDest(svc Service, want Dest, in bool, have Dest, inKernel bool) (Op, bool) {
	switch {
	case in && !inKernel:
		return Op{Kind: AddDest, Service: svc, Dest: want}, true
	case in:
		if why := destDiff(&want, &have); why != "" {
			return Op{Kind: EditDest, Service: svc, Dest: want, Why: why}, true
		}
	case inKernel:
		return Op{Kind: DelDest, Service: svc, Dest: have}, true
	}
	return Op{}, false
}

// serviceDiff names what differs between two normalized services with the
// same key; "" when nothing does.
func serviceDiff(w, h *Service) string {
	var why []string
	if w.Scheduler != h.Scheduler {
		why = append(why, "scheduler "+h.Scheduler+"->"+w.Scheduler)
	}
	if w.Flags != h.Flags {
		why = append(why, fmt.Sprintf("flags %#x->%#x", h.Flags, w.Flags))
	}
	if w.Timeout != h.Timeout {
		why = append(why, fmt.Sprintf("persistent %d->%d", h.Timeout, w.Timeout))
	}
	if w.Netmask != h.Netmask {
		why = append(why, fmt.Sprintf("netmask /%d->/%d", h.Netmask, w.Netmask))
	}
	if w.PE != h.PE {
		why = append(why, "pe "+h.PE+"->"+w.PE)
	}
	return strings.Join(why, ", ")
}

func destDiff(w, h *Dest) string {
	var why []string
	if w.Fwd != h.Fwd {
		why = append(why, "forward "+FwdName(h.Fwd)+"->"+FwdName(w.Fwd))
	}
	if w.Weight != h.Weight {
		why = append(why, "weight "+strconv.Itoa(h.Weight)+"->"+strconv.Itoa(w.Weight))
	}
	if w.Upper != h.Upper {
		why = append(why, fmt.Sprintf("upper %d->%d", h.Upper, w.Upper))
	}
	if w.Lower != h.Lower {
		why = append(why, fmt.Sprintf("lower %d->%d", h.Lower, w.Lower))
	}
	return strings.Join(why, ", ")
}

func sortKeys(ks []Key) { sort.Slice(ks, func(i, j int) bool { return ks[i].less(ks[j]) }) }

// SameEntries reports whether a and b, each sorted by key and normalized
// (as Mem.Services returns them), hold the same services and
// destinations with the same settings: Plan(a, b) would be empty, the
// counters aside. It builds no map: a resync of 10,000 unchanged reals
// compares them, it does not plan them.
func SameEntries(a, b []Service) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := &a[i], &b[i]
		if x.Key() != y.Key() || serviceDiff(x, y) != "" || len(x.Dests) != len(y.Dests) {
			return false
		}
		for j := range x.Dests {
			if x.Dests[j].Key() != y.Dests[j].Key() || destDiff(&x.Dests[j], &y.Dests[j]) != "" {
				return false
			}
		}
	}
	return true
}
