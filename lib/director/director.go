// Package director turns the configuration and the current health of the
// real servers into the desired IPVS table: ldirectord's rules (quiescent,
// fallback) as one pure function, Table, that tests call with data.
package director

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// RealKey names one real server of one virtual service: the identity
// lib/check keys its state by.
type RealKey = config.RealID

// KeyOf names real r of virtual v.
func KeyOf(v *config.Virtual, r *config.Real) RealKey { return v.ID(r) }

// Status is what the checks know of a real.
type Status int

const (
	Unknown Status = iota // not checked yet
	Up
	Down
)

func (s Status) String() string { return [...]string{"unknown", "up", "down"}[s] }

// Health gives the status of each real.
type Health interface{ Status(RealKey) Status }

// HealthMap is a Health over a map; reals not in it are Unknown.
type HealthMap map[RealKey]Status

// Status implements Health.
func (h HealthMap) Status(k RealKey) Status { return h[k] }

type allUp struct{}

func (allUp) Status(RealKey) Status { return Up }

// AllUp takes every real as up (`lvsd apply`: weights as configured).
var AllUp Health = allUp{}

// Role says why a destination is in the desired table.
type Role int

const (
	RoleReal     Role = iota // a configured real
	RoleFallback             // the fallback (sorry server) standing in
	RoleDraining             // removed from the configuration, kept at weight 0 until idle
)

func (r Role) String() string { return [...]string{"real", "fallback", "draining"}[r] }

// Note annotates one destination of the desired table, so that no caller
// re-derives why it is there.
type Note struct {
	ID     RealKey // the configured real (or the fallback) it stands for
	Role   Role
	Status Status // of the real (RoleReal)
	Why    string // "up", "down: quiescent, weight 0", "kept as the kernel has it until its first check", ...
	// Override is the operator's override in force for it (lvsd ctl), as
	// its command; "" when none.
	Override string
	live     bool // counts as up (in at a weight the rules give): UpdateReal's bookkeeping
}

// VirtualState is the outcome of the rules for one configured virtual.
type VirtualState struct {
	Virtual  *config.Virtual
	Key      ipvs.Key
	Up       int    // reals up (or, before their first check, held by the kernel with a weight)
	UpWeight int    // their weight
	Fallback bool   // the fallback is in the table
	Quorum   bool   // keepalived quorum held (true when no quorum is configured and a real is up)
	Out      []Note // configured reals left out of the table, and why
}

// Input is what the rules read besides the configuration.
type Input struct {
	Health Health
	// Current is the table the kernel holds (as last read or written). A
	// real not checked yet keeps the entry it has there (restart adoption:
	// no flap, no reset); without one it waits for its first check.
	Current []ipvs.Service
	// QuorumHeld: by virtual key, whether quorum was held before
	// (keepalived's hysteresis needs the previous state).
	QuorumHeld map[string]bool
	// Draining are entries removed from the configuration that stay, at
	// weight 0, until their connections end (the engine decides when).
	Draining []ipvs.Service
	// ReaddQuiescent: ldirectord's readdquiescent. When false, a quiesced
	// real missing from Current (deleted by hand) is not put back.
	ReaddQuiescent bool
	// Starting: the first pass of a run. ldirectord adds quiescent reals
	// at weight 0 at start whatever readdquiescent says.
	Starting bool
	// Only, when not nil, limits the table to these virtuals: a health
	// change is decided for its virtual alone, whatever the size of the
	// rest (see Desired.Merge).
	Only map[*config.Virtual]bool
	// Overrides are the operator's (lvsd ctl): a disabled real is left
	// out as a down real is; a drained one is held at weight 0; a weight
	// replaces the configured one while the real is up. Neither a drained
	// nor a disabled real counts as up (quorum, fallback).
	Overrides Overrides
	// Weights are the weights the checks give (keepalived's misc_dynamic
	// and FILE_CHECK): an up real in it has this weight instead of its
	// configured one.
	Weights map[RealKey]int
}

type destRef struct {
	svc  ipvs.Key
	dest ipvs.DestKey
}

// Desired is the table to program, with why each entry is there.
// Virtuals[i] is the configured virtual of Services[i]; the services after
// the last virtual are draining ones.
type Desired struct {
	Services []ipvs.Service
	Virtuals []VirtualState // in configuration order
	notes    map[ipvs.Key]map[ipvs.DestKey]Note
	index    map[ipvs.Key]int
	dups     []ipvs.Key // services with a real configured twice
}

// Note tells why a destination of service k is in the table.
func (d *Desired) Note(k ipvs.Key, dk ipvs.DestKey) (Note, bool) {
	n, ok := d.notes[k][dk]
	return n, ok
}

// Part is the notes of services keys alone, for looking up why a
// replaced entry was there.
func (d *Desired) Part(keys []ipvs.Key) *Desired {
	p := &Desired{notes: make(map[ipvs.Key]map[ipvs.DestKey]Note, len(keys))}
	for _, k := range keys {
		p.notes[k] = d.notes[k]
	}
	return p
}

// Merge replaces the services of part (a Table with Only) in d. part's
// services must be configured virtuals of d.
func (d *Desired) Merge(part *Desired) {
	merged := map[ipvs.Key]bool{}
	for i, s := range part.Services {
		k := s.Key()
		j, ok := d.index[k]
		if !ok || i >= len(part.Virtuals) || j >= len(d.Virtuals) {
			continue
		}
		d.Services[j] = s
		d.Virtuals[j] = part.Virtuals[i]
		d.notes[k] = part.notes[k]
		merged[k] = true
	}
	// a reload can give a merged virtual a real twice, or take it away
	d.dups = slices.DeleteFunc(d.dups, func(k ipvs.Key) bool { return merged[k] })
	for _, k := range part.dups {
		if merged[k] {
			d.dups = append(d.dups, k)
		}
	}
}

// Rebind points the decided virtuals at cfg's, one for one (a reload):
// changed are the indexes of those that are not the same
// (config.Virtual.Same) and must be decided again (Table with Only, then
// Merge); the others keep what was decided for them. ok is false, and d
// unchanged, when cfg's virtuals are not d's in number, order and IPVS
// key: decide the whole table then.
func (d *Desired) Rebind(cfg *config.Config) (changed []int, ok bool) {
	if len(cfg.Virtuals) != len(d.Virtuals) {
		return nil, false
	}
	for i, v := range cfg.Virtuals {
		if d.Virtuals[i].Virtual.Same(v) {
			continue
		}
		if s := Service(v); s.Key() != d.Virtuals[i].Key || v.Key() != d.Virtuals[i].Virtual.Key() {
			return nil, false
		}
		changed = append(changed, i)
	}
	for i, v := range cfg.Virtuals {
		d.Virtuals[i].Virtual = v
	}
	return changed, true
}

// Owned are the keys of the desired services (what this run manages).
func (d *Desired) Owned() []ipvs.Key {
	out := make([]ipvs.Key, len(d.Services))
	for i := range d.Services {
		out[i] = d.Services[i].Key()
	}
	return out
}

// Table is the desired IPVS table for cfg:
//   - an up real has its configured weight;
//   - a down real has weight 0 when quiescent (the per-real setting, else
//     the virtual's), else it is left out of the table;
//   - a real not checked yet keeps what the kernel has for it (Current);
//     without an entry it is added at weight 0 when quiescent, else left
//     out until its first passing check (ldirectord);
//   - readdquiescent=no: a quiesced real deleted by hand stays deleted
//     (ldirectord: so an operator can drop its persistent connections);
//   - when no real of a virtual is up, its fallback (its own, else the
//     global one of its family) is added with weight 1, and removed again
//     as soon as one real is up;
//   - keepalived quorum: the fallback also stands in while the weight of
//     the up reals is below the quorum, with hysteresis: lost below
//     quorum-hysteresis, regained at quorum+hysteresis;
//   - draining entries stay at weight 0;
//   - the operator's overrides (Input.Overrides) apply last: disable
//     leaves the real out, drain holds it at weight 0, weight N replaces
//     the configured weight of an up real.
//
// It reads only typed fields of the model, so it cannot fail: what could
// not be programmed was refused when the file was read, with its line.
func Table(cfg *config.Config, in Input) *Desired {
	health := in.Health
	if health == nil {
		health = HealthMap{}
	}
	cur := map[destRef]ipvs.Dest{}
	for _, s := range in.Current {
		k := s.Key()
		for _, d := range s.Dests {
			cur[destRef{k, d.Key()}] = d
		}
	}
	out := &Desired{Services: make([]ipvs.Service, 0, len(cfg.Virtuals)), notes: map[ipvs.Key]map[ipvs.DestKey]Note{}}
	byKey := map[ipvs.Key]int{}
	out.index = byKey
	for _, v := range cfg.Virtuals {
		if in.Only != nil && !in.Only[v] {
			continue
		}
		s := Service(v)
		k := s.Key()
		notes := make(map[ipvs.DestKey]Note, len(v.Reals)+1)
		out.notes[k] = notes
		st := VirtualState{Virtual: v, Key: k}
		vk := v.Key()
		var tableReals []*config.Real // parallel to s.Dests, for standAside
		for _, r := range v.Reals {
			d := destOf(v, r)
			dk := ipvsKey(s, d)
			if _, dup := notes[dk]; dup {
				// the same real twice (e.g. two ranges overlapping): once in
				// IPVS; its health changes are decided with the whole virtual
				out.dups = append(out.dups, k)
				continue
			}
			c, inKernel := cur[destRef{k, dk}]
			id := RealKey{Virtual: vk, Real: netip.AddrPortFrom(r.Addr, r.Port)} // v.ID(r) without formatting vk per real
			d, n, inTable, up, w := decide(v, r, id, d, health.Status(id), c, inKernel, &in)
			st.Up += up
			st.UpWeight += w
			if !inTable {
				st.Out = append(st.Out, n)
				continue
			}
			notes[dk] = n
			s.Dests = append(s.Dests, d)
			if v.Quorum > 0 && v.Fallback != nil {
				tableReals = append(tableReals, r)
			}
		}
		st.Quorum = quorum(v, st.Up, st.UpWeight, in.QuorumHeld[vk])
		if fb := v.Fallback; fb != nil && !st.Quorum {
			d := destOf(v, fb)
			d.Weight = 1
			ref := destRef{k, ipvsKey(s, d)}
			if _, dup := notes[ref.dest]; !dup {
				why := "fallback: no real up"
				if st.Up > 0 {
					why = fmt.Sprintf("fallback: up weight %d below quorum %d", st.UpWeight, v.Quorum)
					s.Dests = standAside(v, s, tableReals, notes, &st)
				}
				notes[ref.dest] = Note{ID: v.ID(fb), Role: RoleFallback, Why: why}
				s.Dests = append(s.Dests, d)
				st.Fallback = true
			}
		}
		byKey[k] = len(out.Services)
		out.Services = append(out.Services, s)
		out.Virtuals = append(out.Virtuals, st)
	}
	for _, ds := range in.Draining {
		k := ds.Key()
		i, ok := byKey[k]
		if in.Only != nil && !ok {
			continue // not a virtual of this part
		}
		if !ok {
			svc := ds
			svc.Dests = nil
			i = len(out.Services)
			byKey[k] = i
			out.Services = append(out.Services, svc)
			out.notes[k] = map[ipvs.DestKey]Note{}
		}
		for _, d := range ds.Dests {
			if _, there := out.notes[k][d.Key()]; there {
				continue // back in the configuration: no longer draining
			}
			d.Weight = 0
			out.notes[k][d.Key()] = Note{ID: RealKey{Virtual: serviceName(k), Real: netip.AddrPortFrom(d.Addr, d.Port)},
				Role: RoleDraining, Why: "removed from the configuration: draining at weight 0"}
			out.Services[i].Dests = append(out.Services[i].Dests, d)
		}
	}
	return out
}

// decide is Table's rule for one real r of v (d its destination as
// configured, c the kernel's entry when inKernel): the destination to
// program, its note, whether it is in the table (else n is one of the
// virtual's Out), and what it adds to the virtual's up count and weight.
func decide(v *config.Virtual, r *config.Real, id RealKey, d ipvs.Dest, status Status, c ipvs.Dest, inKernel bool, in *Input) (_ ipvs.Dest, n Note, inTable bool, up, weight int) {
	n = Note{ID: id, Role: RoleReal, Status: status}
	ov, overridden := in.Overrides.For(v, r)
	if overridden {
		n.Override = ov.String()
	}
	live := false // in at a weight the rules give: what counts as up
	switch {
	case overridden && ov.Action == Disable:
		n.Why = status.String() + ": disabled (lvsd ctl)"
		if status == Unknown {
			n.Why = "not checked yet: disabled (lvsd ctl)"
		}
		return d, n, false, 0, 0
	case status == Up:
		n.Why = "up"
		live = true
		if w, ok := in.Weights[id]; ok {
			d.Weight = w
			if w != r.Weight {
				n.Why = fmt.Sprintf("up: weight %d from its checks (configured %d)", w, r.Weight)
			}
		}
	case status == Unknown && inKernel:
		d.Weight = c.Weight
		n.Why = "not checked yet: kept as the kernel has it"
		live = c.Weight > 0
	case quiescent(v, r) && (inKernel || in.ReaddQuiescent || in.Starting):
		d.Weight = 0
		n.Why = status.String() + ": quiescent, weight 0"
		if status == Unknown {
			n.Why = "not checked yet: quiescent, weight 0"
		}
	default:
		switch {
		case status == Unknown:
			n.Why = "not checked yet: enters after its first passing check"
		case quiescent(v, r):
			n.Why = "down: quiescent, deleted by hand (readdquiescent=no keeps it out)"
		default:
			n.Why = "down: out of the table (quiescent=no)"
		}
		return d, n, false, 0, 0
	}
	if overridden && live {
		switch ov.Action {
		case Drain:
			d.Weight, live = 0, false
			n.Why += "; drained (lvsd ctl): weight 0"
		case Weight:
			d.Weight, live = ov.Weight, ov.Weight > 0
			n.Why += fmt.Sprintf("; weight %d (lvsd ctl)", ov.Weight)
		}
	}
	n.live = live
	if live {
		return d, n, true, 1, d.Weight
	}
	return d, n, true, 0, 0
}

// standAside is keepalived's "Remove remaining alive real servers" when
// a virtual loses its quorum and its sorry server goes in: the up reals
// leave the table (with inhibit_on_failure, quiescent: weight 0) until
// the quorum is back. They still count as up: the quorum is reckoned on
// them.
func standAside(v *config.Virtual, s ipvs.Service, reals []*config.Real, notes map[ipvs.DestKey]Note, st *VirtualState) []ipvs.Dest {
	why := fmt.Sprintf("; up weight %d below quorum %d: the sorry server stands in", st.UpWeight, v.Quorum)
	kept := s.Dests[:0]
	for i, d := range s.Dests {
		dk := ipvsKey(s, d)
		n := notes[dk]
		// only reals their checks hold up: one kept as the kernel has it
		// until its first check would not count as up once out of it
		if !n.live || n.Status != Up {
			kept = append(kept, d)
			continue
		}
		if quiescent(v, reals[i]) {
			d.Weight = 0
			n.Why += why + ", weight 0 (inhibit_on_failure)"
			notes[dk] = n
			kept = append(kept, d)
			continue
		}
		n.Why += why + ", out of the table"
		delete(notes, dk)
		st.Out = append(st.Out, n)
	}
	return kept
}

// quorum: a real is up and, with keepalived's quorum, the up weight
// reaches it (with hysteresis: held is whether it was held before).
func quorum(v *config.Virtual, up, weight int, held bool) bool {
	if v.Quorum <= 0 {
		return up > 0
	}
	need := v.Quorum + v.Hysteresis
	if held {
		need = v.Quorum - v.Hysteresis
	}
	return up > 0 && weight >= need
}

// RealChange is one real re-decided by UpdateReal.
type RealChange struct {
	Service ipvs.Service // the virtual's service, normalized, without destinations
	Dest    ipvs.Dest    // as the kernel will hold it (normalized)
	In      bool         // Dest is in the desired table (else the real is out)
	Note    Note
	// the kernel's entry for it, as looked up
	Kernel   ipvs.Dest
	InKernel bool
}

// UpdateReal re-decides real r of the i-th virtual (Virtuals[i]) after a
// health change, in place, as Table with in would: one real costs one
// real, not its virtual's size (1,000 reals behind one virtual). kernel
// looks up the kernel's entry for a destination of service k (in.Current
// is not read). ok is false, and d
// unchanged, when the change reaches further than the real: the
// virtual's quorum (so its fallback) turns, the real shares its
// destination with another, or entries drain; decide the virtual with
// Table (Only) and Merge then.
func (d *Desired) UpdateReal(_ string, i int, r *config.Real, in Input, kernel func(ipvs.Key, ipvs.DestKey) (ipvs.Dest, bool)) (RealChange, bool) {
	if i < 0 || i >= len(d.Virtuals) || i >= len(d.Services) || len(in.Draining) > 0 {
		return RealChange{}, false
	}
	st := &d.Virtuals[i]
	v, s := st.Virtual, &d.Services[i]
	k := st.Key
	if slices.Contains(d.dups, k) {
		return RealChange{}, false
	}
	if st.Fallback && st.Up > 0 {
		return RealChange{}, false // the up reals stand aside for the sorry server (standAside)
	}
	want := destOf(v, r)
	dk := ipvsKey(*s, want)
	id := v.ID(r)
	notes := d.notes[k]
	// what the real counted for before
	n0, was := notes[dk]
	at, outAt := -1, -1
	oldUp, oldW := 0, 0
	if was {
		if n0.ID != id || n0.Role != RoleReal {
			return RealChange{}, false // the fallback, or another real, holds the destination
		}
		for j := range s.Dests {
			if ipvsKey(*s, s.Dests[j]) == dk {
				at = j
				break
			}
		}
		if at < 0 {
			return RealChange{}, false
		}
		if n0.live {
			oldUp, oldW = 1, s.Dests[at].Weight
		}
	} else {
		for j := range st.Out {
			if st.Out[j].ID == id {
				outAt = j
				break
			}
		}
		if outAt < 0 {
			return RealChange{}, false
		}
	}
	health := in.Health
	if health == nil {
		health = HealthMap{}
	}
	c, inKernel := kernel(k, dk)
	want, n, inTable, up, w := decide(v, r, id, want, health.Status(id), c, inKernel, &in)
	nUp, nW := st.Up-oldUp+up, st.UpWeight-oldW+w
	if quorum(v, nUp, nW, in.QuorumHeld[v.Key()]) != st.Quorum || (st.Fallback && (nUp != st.Up || nW != st.UpWeight)) {
		return RealChange{}, false // the fallback turns, or its note (the up weight) changes
	}
	st.Up, st.UpWeight = nUp, nW
	// Out is copied, not edited in place: a Status snapshot may hold it
	out := slices.Clone(st.Out)
	switch {
	case was && inTable:
		s.Dests[at] = want
	case was:
		s.Dests = slices.Delete(s.Dests, at, at+1)
		delete(notes, dk)
		out = append(out, n)
	case inTable:
		out = slices.Delete(out, outAt, outAt+1)
		s.Dests = append(s.Dests, want)
	default:
		out[outAt] = n
	}
	if inTable {
		notes[dk] = n
	}
	st.Out = out
	svc := *s
	svc.Dests = nil
	svc = ipvs.Normalize(svc)
	want.Fwd &= ipvs.FwdMask
	want.Port = dk.Port
	return RealChange{Service: svc, Dest: want, In: inTable, Note: n, Kernel: c, InKernel: inKernel}, true
}

// Configured calls svc for each virtual's service and dest for every
// destination cfg can put in it, whatever the health (its reals and its
// fallback), with the keys the kernel holds them by.
func Configured(cfg *config.Config, svc func(ipvs.Key), dest func(ipvs.Key, ipvs.DestKey)) {
	for _, v := range cfg.Virtuals {
		s := Service(v)
		k := s.Key()
		svc(k)
		for _, r := range v.Reals {
			dest(k, ipvsKey(s, destOf(v, r)))
		}
		if v.Fallback != nil {
			dest(k, ipvsKey(s, destOf(v, v.Fallback)))
		}
	}
}

// serviceName is a virtual key ("tcp:192.0.2.1:80") for an IPVS key.
func serviceName(k ipvs.Key) string {
	if k.FWMark != 0 {
		if k.Family == 6 {
			return fmt.Sprintf("fwm6:%d", k.FWMark)
		}
		return fmt.Sprintf("fwm:%d", k.FWMark)
	}
	return k.Protocol + ":" + netip.AddrPortFrom(k.Addr, k.Port).String()
}

// ipvsKey is a dest's key as the kernel will hold it (gate/ipip reals of
// a port service take the virtual's port).
func ipvsKey(s ipvs.Service, d ipvs.Dest) ipvs.DestKey {
	if s.FWMark == 0 && d.Fwd != ipvs.FwdMasq {
		d.Port = s.Port
	}
	return d.Key()
}

func quiescent(v *config.Virtual, r *config.Real) bool {
	if r.Quiescent != nil {
		return *r.Quiescent
	}
	return v.Quiescent || v.InhibitOnFailure
}

// Keys are the IPVS keys of cfg's virtual services: what a config owns,
// so that on reload the virtuals it no longer has are removed.
func Keys(cfg *config.Config) []ipvs.Key {
	var out []ipvs.Key
	for _, v := range cfg.Virtuals {
		s := Service(v)
		out = append(out, s.Key())
	}
	return out
}

// Service is the IPVS service of virtual v, without destinations. It reads
// only typed fields of the model (lib/config typed them when the file was
// read), so it cannot fail.
func Service(v *config.Virtual) ipvs.Service {
	s := ipvs.Service{Family: v.Family, Scheduler: v.Scheduler, Flags: v.SchedFlagBits}
	if v.Protocol == config.FWM {
		s.FWMark = v.FWMark
	} else {
		s.Protocol, s.Addr, s.Port = string(v.Protocol), v.Addr, v.Port
	}
	if s.Scheduler == "" {
		s.Scheduler = "wrr"
	}
	if v.OnePacket {
		s.Flags |= ipvs.FlagOnePacket
	}
	if v.Persistent > 0 {
		s.Flags |= ipvs.FlagPersistent
		s.Timeout = uint32((v.Persistent + time.Second - 1) / time.Second)
		s.Netmask = v.MaskBits
		if v.Netmask == "" { // (a model built by hand may leave MaskBits 0)
			s.Netmask = 32
			if v.Family == 6 {
				s.Netmask = 128
			}
		}
	}
	return s
}

func destOf(v *config.Virtual, r *config.Real) ipvs.Dest {
	port := r.Port
	if port == 0 && v.Protocol != config.FWM {
		port = v.Port
	}
	return ipvs.Dest{Addr: r.Addr, Port: port, Fwd: r.Forward.IPVS(), Weight: r.Weight,
		Upper: uint32(max(r.Upper, 0)), Lower: uint32(max(r.Lower, 0))}
}
