package check

import (
	"math/rand/v2"
	"time"
)

// State of a real server as the checks see it.
type State int

const (
	Unknown State = iota // not checked yet
	Up
	Down
)

func (s State) String() string {
	switch s {
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return "unknown"
}

// Step applies one check result to a real's state, as ldirectord does with
// failurecount: one success brings it up; an up real goes down only after
// failureCount consecutive failures (soft failures before that); a real not
// yet known to be up goes down on its first failure.
func Step(st State, fails int, ok bool, failureCount int) (State, int) {
	if ok {
		return Up, 0
	}
	fails++
	if st == Up && fails < failureCount {
		return Up, fails
	}
	return Down, fails
}

// firstDelay spreads the first runs of checks over one interval so that a
// thousand reals configured together are not all probed in the same
// millisecond (and then every interval again in lockstep).
func firstDelay(r *rand.Rand, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	return time.Duration(r.Int64N(int64(interval)))
}

// nextRun: fixed rate from the start of the last run, but never in the
// past (a check slower than its interval runs again at once, not in a burst).
func nextRun(start, now time.Time, interval time.Duration) time.Time {
	n := start.Add(interval)
	if n.Before(now) {
		return now
	}
	return n
}
