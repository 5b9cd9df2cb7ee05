package ipvs

import (
	"errors"
	"fmt"
	"sort"
	"sync"
)

// Mem is a Kernel held in memory: the dry run's imagined table, the
// engine's record of what it last wrote, and the engine's tests. It
// refuses what the kernel refuses for a missing or duplicate entry, and
// holds entries as the kernel reports them (Normalize).
type Mem struct {
	mu     sync.Mutex
	svcs   map[Key]*Service
	writes int
	// Refuse, when set, is asked before each write; an error refuses it
	// (tests: a kernel that fails a write).
	Refuse func(Op) error
}

// ErrExists and ErrNotFound are the kernel's EEXIST and ENOENT.
var (
	ErrExists   = errors.New("file exists")
	ErrNotFound = errors.New("no such file or directory")
)

// NewMem returns a Mem holding table.
func NewMem(table []Service) *Mem {
	m := &Mem{svcs: map[Key]*Service{}}
	m.Set(table)
	return m
}

// Set replaces the whole table (the engine after a read of the kernel).
func (m *Mem) Set(table []Service) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.svcs = make(map[Key]*Service, len(table))
	for _, s := range table {
		s = normalize(s, false)
		m.svcs[s.Key()] = &s
	}
}

// Services implements Kernel: a copy, sorted by key.
func (m *Mem) Services() ([]Service, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	keys := make([]Key, 0, len(m.svcs))
	for k := range m.svcs {
		keys = append(keys, k)
	}
	sortKeys(keys)
	out := make([]Service, 0, len(keys))
	for _, k := range keys {
		s := *m.svcs[k]
		s.Dests = append([]Dest(nil), s.Dests...)
		out = append(out, s)
	}
	return out, nil
}

// Get returns copies of the services with these keys that it holds.
func (m *Mem) Get(keys []Key) []Service {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make([]Service, 0, len(keys))
	for _, k := range keys {
		if s := m.svcs[k]; s != nil {
			c := *s
			c.Dests = append([]Dest(nil), s.Dests...)
			out = append(out, c)
		}
	}
	return out
}

// Dest returns the destination dk of service k, when held.
func (m *Mem) Dest(k Key, dk DestKey) (Dest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.svcs[k]
	if s == nil {
		return Dest{}, false
	}
	i := sort.Search(len(s.Dests), func(i int) bool { return !s.Dests[i].Key().less(dk) })
	if i < len(s.Dests) && s.Dests[i].Key() == dk {
		return s.Dests[i], true
	}
	return Dest{}, false
}

// Writes is the number of writes accepted so far.
func (m *Mem) Writes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.writes
}

// Apply implements Kernel.
func (m *Mem) Apply(op Op) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.Refuse != nil {
		if err := m.Refuse(op); err != nil {
			return fmt.Errorf("ipvsadm %s: %w", op, err)
		}
	}
	if err := m.apply(op); err != nil {
		return fmt.Errorf("ipvsadm %s: %w", op, err)
	}
	m.writes++
	return nil
}

func (m *Mem) apply(op Op) error {
	svc := op.Service
	svc.Dests = nil // an op carries its whole service; only its key and settings matter here
	want := Normalize(svc)
	k := want.Key()
	s := m.svcs[k]
	switch op.Kind {
	case AddService:
		if s != nil {
			return ErrExists
		}
		m.svcs[k] = &want
		return nil
	case EditService:
		if s == nil {
			return ErrNotFound
		}
		want.Dests, want.Stats = s.Dests, s.Stats
		m.svcs[k] = &want
		return nil
	case DelService:
		if s == nil {
			return ErrNotFound
		}
		delete(m.svcs, k)
		return nil
	}
	if s == nil {
		return ErrNotFound
	}
	d := op.Dest
	d.Fwd &= FwdMask
	if s.FWMark == 0 && d.Fwd != FwdMasq {
		d.Port = s.Port // the kernel's rule for gate/ipip
	}
	i := sort.Search(len(s.Dests), func(i int) bool { return !s.Dests[i].Key().less(d.Key()) })
	found := i < len(s.Dests) && s.Dests[i].Key() == d.Key()
	switch op.Kind {
	case AddDest:
		if found {
			return ErrExists
		}
		s.Dests = append(s.Dests, Dest{})
		copy(s.Dests[i+1:], s.Dests[i:])
		s.Dests[i] = d
	case EditDest:
		if !found {
			return ErrNotFound
		}
		d.Active, d.Inactive, d.Stats = s.Dests[i].Active, s.Dests[i].Inactive, s.Dests[i].Stats
		s.Dests[i] = d
	case DelDest:
		if !found {
			return ErrNotFound
		}
		s.Dests = append(s.Dests[:i], s.Dests[i+1:]...)
	default:
		return fmt.Errorf("unknown op %d", op.Kind)
	}
	return nil
}
