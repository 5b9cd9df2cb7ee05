package vrrp

import (
	"errors"

	"golang.org/x/sys/unix"
)

// SetRTPriority applies a reloaded vrrp_rt_priority in place, as
// keepalived's VRRP process sets its scheduling again at each reload: p
// is Options.RTPriority's (1-99; 0 the default; below 0 normal
// scheduling), set on every VRRP thread running (rt.go) and on those
// started later; the rest of the process is never touched. The daemon
// calls it on the router running (on one stopped it only records p: its
// threads have ended).
func (r *Router) SetRTPriority(p int) {
	if p == 0 {
		p = DefaultRTPriority
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.o.RTPriority = p
	var err error
	for tid := range r.threads {
		if e := setThread(tid, r.rtPriority()); e != nil && !errors.Is(e, unix.ESRCH) && err == nil {
			err = e
		}
	}
	if r.ctx != nil && len(r.threads) > 0 {
		whole.setPrio(r.rtPriority())
	}
	switch {
	case len(r.threads) == 0:
	case err != nil:
		r.o.Logf("vrrp: vrrp_rt_priority %d: %v (the VRRP threads left as they were)", p, err)
	case p > 0:
		r.o.Logf("vrrp: vrrp_rt_priority %d: the VRRP threads run SCHED_RR %d", p, p)
	default:
		r.o.Logf("vrrp: vrrp_rt_priority 0: the VRRP threads run at normal scheduling")
	}
}

// setThread puts thread tid at SCHED_RR prio (SCHED_RESET_ON_FORK: a
// process started from it runs at normal priority), or with prio 0 back
// at normal scheduling with its nice value kept.
func setThread(tid, prio int) error {
	if prio <= 0 {
		cur, err := unix.SchedGetAttr(tid, 0)
		if err != nil {
			return err
		}
		return unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_NORMAL, Nice: cur.Nice}, 0)
	}
	return unix.SchedSetAttr(tid, &unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR,
		Priority: uint32(prio), Flags: unix.SCHED_FLAG_RESET_ON_FORK}, 0)
}
