package vrrp

import (
	"testing"
	"time"
)

func TestDropsRateLimit(t *testing.T) {
	var d Drops
	type add struct {
		at         time.Duration
		r          Reason
		log        bool
		suppressed uint64
	}
	for i, a := range []add{
		{0, DropChecksum, true, 0}, // the first of a reason: at once
		{time.Second, DropChecksum, false, 0},
		{2 * time.Second, DropPassword, true, 0}, // each reason on its own
		{30 * time.Second, DropChecksum, false, 0},
		{time.Minute, DropChecksum, true, 2}, // a minute on: one line, two not logged
		{time.Minute, Accepted, false, 0},
		{time.Minute, AdoptInterval, true, 0},
		{time.Minute + time.Second, AdoptInterval, false, 0},
		{0, Reason(99), false, 0}, // out of range: ignored
	} {
		log, s := d.Add(a.r, t0.Add(a.at))
		if log != a.log || s != a.suppressed {
			t.Errorf("add %d (%v at +%v): log %v suppressed %d, want %v %d", i, a.r, a.at, log, s, a.log, a.suppressed)
		}
	}
	if d.Count(DropChecksum) != 4 || d.Count(DropPassword) != 1 || d.Count(Accepted) != 1 || d.Count(Reason(99)) != 0 {
		t.Errorf("counts %v", d.Snapshot())
	}
	snap := d.Snapshot()
	if len(snap) != len(Reasons()) || snap["checksum"] != 4 || snap["ttl"] != 0 {
		t.Errorf("snapshot %v", snap)
	}
}
