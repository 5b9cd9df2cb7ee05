package check

import (
	"container/heap"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// SetVirtuals replaces the Subs of the virtuals named (their
// config.Virtual.Key) with subs, whose IDs are all of those virtuals;
// every other Sub is left as it is, state and schedule. It is Set with
// the whole list in which those virtuals' subs are replaced (a sub whose
// ID and check are unchanged keeps its state; new checks start after a
// random part of their interval), for a reload that changed one virtual
// of 1,000: Set of 10,000 subs costs each of them, this the changed ones
// and a pass over the others' IDs.
func (e *Engine) SetVirtuals(virtuals map[string]bool, subs []Sub) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sets++
	cur := e.sets
	// the named virtuals' subs taken out of their jobs, kept by job to
	// carry their state over (findSub)
	prev := map[*job][]*subState{}
	byID := map[*job]map[config.RealID]*subState{}
	for _, j := range e.jobs {
		n := 0
		for _, s := range j.subs {
			if virtuals[s.sub.ID.Virtual] {
				n++
			}
		}
		if n == 0 {
			continue
		}
		kept := make([]*subState, 0, len(j.subs)-n)
		gone := make([]*subState, 0, n)
		for _, s := range j.subs {
			if virtuals[s.sub.ID.Virtual] {
				gone = append(gone, s)
			} else {
				kept = append(kept, s)
			}
		}
		j.subs, prev[j] = kept, gone
	}
	for id := range e.wsubs {
		if virtuals[id.Virtual] {
			delete(e.wsubs, id)
		}
	}
	now := time.Now()
	spread := startSpread(len(subs))
	for i := range subs {
		s := &subs[i]
		k := jobKey(s)
		j := e.jobs[k]
		if j == nil {
			warm := s.Warmup
			if warm == 0 {
				warm = min(s.Interval, spread) // as Set
			}
			j = &job{key: k, spec: s.Spec, interval: s.Interval, retry: s.RetryDelay, idx: -1,
				next: now.Add(firstDelay(e.rnd, warm)), set: cur}
			e.jobs[k] = j
		}
		j.subs = append(j.subs, e.newSubState(s, findSub(prev, byID, j, s.ID)))
	}
	e.pruneFiles()
	for k, j := range e.jobs {
		switch {
		case len(j.subs) == 0:
			j.gone = true
			if j.idx >= 0 {
				heap.Remove(&e.queue, j.idx)
			}
			delete(e.jobs, k)
		case j.idx < 0 && !j.running:
			heap.Push(&e.queue, j)
		}
	}
	e.poke()
}
