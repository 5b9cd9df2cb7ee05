package vrrp

import "time"

// Drops counts received messages by Reason and decides when a drop is
// logged: the first of each reason at once, then at most one line per
// reason per Every, saying how many were not logged in between. A peer
// flooding forged or misconfigured adverts then costs a line a minute,
// not a line a packet, and nothing is lost from the counters. Not safe
// for concurrent use: one per reader goroutine.
type Drops struct {
	Every time.Duration // 0: a minute

	count      [nReasons]uint64
	last       [nReasons]time.Time
	suppressed [nReasons]uint64
}

// Add counts one message received with reason r at now. log says whether
// to log it now; suppressed is how many of that reason were counted and
// not logged since the last logged one. Accepted messages are counted and
// never logged; AdoptInterval (a master with another interval) is logged
// like a drop.
func (d *Drops) Add(r Reason, now time.Time) (log bool, suppressed uint64) {
	if r < 0 || r >= nReasons {
		return false, 0
	}
	d.count[r]++
	if r == Accepted {
		return false, 0
	}
	every := d.Every
	if every <= 0 {
		every = time.Minute
	}
	if !d.last[r].IsZero() && now.Sub(d.last[r]) < every {
		d.suppressed[r]++
		return false, 0
	}
	d.last[r] = now
	s := d.suppressed[r]
	d.suppressed[r] = 0
	return true, s
}

// Count is how many messages were counted with reason r.
func (d *Drops) Count(r Reason) uint64 {
	if r < 0 || r >= nReasons {
		return 0
	}
	return d.count[r]
}

// Snapshot returns every count by Reason.String, zeros included (so a
// metrics series exists before its first drop).
func (d *Drops) Snapshot() map[string]uint64 {
	m := make(map[string]uint64, nReasons)
	for r := range nReasons {
		m[r.String()] = d.count[r]
	}
	return m
}
