package vrrp

import (
	"errors"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// SetRTPriority applies a reloaded vrrp_rt_priority in place, as
// keepalived's VRRP process sets its scheduling again at each reload: p
// (1-99) puts every thread of the process at SCHED_RR p, 0 puts them back
// at SCHED_OTHER with each thread's nice value kept. The daemon calls it
// on the router running, or on the one a reload just stopped (0).
func (r *Router) SetRTPriority(p int) {
	r.mu.Lock()
	r.o.RTPriority = p
	r.mu.Unlock()
	setRT(p, r.o.Logf)
}

// setRT sets the scheduling of every thread (threads made later inherit
// it from their creator); a failure (no CAP_SYS_NICE, an RT limit) is
// logged and lvsd goes on as it was.
func setRT(p int, logf func(string, ...any)) {
	err := setScheduling(p)
	switch {
	case err != nil && p > 0:
		logf("vrrp: vrrp_rt_priority %d: %v (normal priority)", p, err)
	case err != nil:
		logf("vrrp: vrrp_rt_priority removed: back to normal scheduling: %v", err)
	case p > 0:
		logf("vrrp: vrrp_rt_priority %d: lvsd runs SCHED_RR", p)
	default:
		logf("vrrp: vrrp_rt_priority removed: lvsd runs at normal scheduling again")
	}
}

func setScheduling(p int) error {
	var err error
	for pass := 0; pass < 2 && err == nil; pass++ { // again: a thread made during the first pass
		var tasks []os.DirEntry
		if tasks, err = os.ReadDir("/proc/self/task"); err != nil {
			break
		}
		for _, t := range tasks {
			tid, _ := strconv.Atoi(t.Name())
			attr := &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(p)}
			if p <= 0 {
				// SCHED_OTHER takes the nice value from the attributes:
				// the thread's own, so that a Nice= set for lvsd stays
				cur, e := unix.SchedGetAttr(tid, 0)
				if e != nil {
					if !errors.Is(e, unix.ESRCH) && err == nil {
						err = e
					}
					continue
				}
				attr = &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: cur.Nice}
			}
			if e := unix.SchedSetAttr(tid, attr, 0); e != nil && !errors.Is(e, unix.ESRCH) && err == nil {
				err = e
			}
		}
	}
	return err
}
