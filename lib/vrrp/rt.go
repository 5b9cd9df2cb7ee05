package vrrp

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Real-time VRRP threads. Each instance's protocol loop and each socket's
// reader run on a goroutine locked to its own OS thread, at SCHED_RR when
// enabled, and wait in the kernel itself (ppoll on an eventfd with the
// timeout to the next VRRP timer; poll on the raw socket), not on Go
// timers, channels and the network poller: those run on ordinary threads,
// which a saturated box delays (measured: a real-time timer thread woken
// by the runtime still took over 23 times in 2 minutes). Woken by the
// kernel, the thread takes its P back at once (maxWait, extraPs), so an
// advert is read, stepped and answered, and a takeover's addresses added
// and announced, without any ordinary thread running. The slow work
// (notify scripts, mails, the daemon's callbacks, the log) goes to
// ordinary goroutines through queues that never block the thread.

// DefaultRTPriority is the SCHED_RR priority of the VRRP threads when
// vrrp_rt_priority is not set: the lowest real-time one, above every
// normal process (the load that delays adverts) and below any real-time
// process an administrator set (corosync runs at 99).
const DefaultRTPriority = 1

// rtThread makes the calling goroutine a VRRP thread: locked to its OS
// thread for good, the thread named (ps -L, /proc/PID/task/TID/comm),
// counted in r.threads (SetRTPriority) and in GOMAXPROCS (extraPs), and
// at SCHED_RR r.rtPriority() when that is above 0. A refusal (no
// CAP_SYS_NICE, an RT limit) is logged once and the thread goes on at
// normal priority. The goroutine must end locked, after calling the
// func returned (defer it): the runtime then ends the thread, so no
// other goroutine ever runs on it; the func puts back the name and the
// normal policy for the one thread the runtime cannot end (the main
// one, which it parks for good instead).
func (r *Router) rtThread(name string) (restore func()) {
	runtime.LockOSThread()
	tid := unix.Gettid()
	old := make([]byte, 16)
	unix.Prctl(unix.PR_GET_NAME, uintptr(unsafe.Pointer(&old[0])), 0, 0, 0)
	b := make([]byte, 16)
	copy(b[:15], name)
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&b[0])), 0, 0, 0)
	extraPs(1)
	r.mu.Lock()
	if r.threads == nil {
		r.threads = map[int]bool{}
	}
	r.threads[tid] = true
	p := r.rtPriority()
	var err error
	if p > 0 {
		err = setThread(tid, p)
	}
	r.mu.Unlock()
	if err != nil {
		r.rtOnce.Do(func() {
			r.o.Logf("vrrp: vrrp_rt_priority %d: %v (the VRRP threads run at normal priority)", p, err)
		})
	}
	return func() {
		r.mu.Lock()
		delete(r.threads, tid)
		setThread(tid, 0)
		r.mu.Unlock()
		unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&old[0])), 0, 0, 0)
		extraPs(-1)
	}
}

// rtPriority is the priority the VRRP threads run at (0: normal).
func (r *Router) rtPriority() int { return max(r.o.RTPriority, 0) }

// A VRRP thread woken by the kernel needs one of the runtime's Ps to run
// Go code. An idle P is not a given on a saturated box: an ordinary
// thread the runtime handed a P (to run a goroutine just readied, a
// timer) may wait for a CPU for as long as the kernel keeps it off, and
// keeps the P meanwhile; with every P held that way, the VRRP thread
// waits behind the ordinary ones (measured: a master's advert 139 ms
// late at advert_int 0.05 s, GOMAXPROCS 2). So each VRRP thread adds a
// P (extraPs): the rest of lvsd keeps as many as before.
var (
	procsMu   sync.Mutex
	procsBase int // GOMAXPROCS before the first VRRP thread
	procsRT   int // the VRRP threads counted in now
)

// extraPs raises GOMAXPROCS by n (lowers it, n < 0).
func extraPs(n int) {
	procsMu.Lock()
	defer procsMu.Unlock()
	if procsRT == 0 {
		procsBase = runtime.GOMAXPROCS(0)
	}
	procsRT += n
	runtime.GOMAXPROCS(procsBase + procsRT)
}

// maxWait bounds each wait of a VRRP thread in the kernel. A thread
// back from a syscall takes its own P again at once if the runtime's
// sysmon has not handed it to another thread meanwhile, which it does to
// a P in one syscall for more than 10 ms; otherwise it must take an idle
// P under the scheduler's lock, which an ordinary thread the kernel has
// preempted may hold for as long as the box is busy. A new syscall every
// 5 ms keeps the P (200 wake-ups a second: a few µs of CPU each).
const maxWait = 5 * time.Millisecond

// wakeup is how other goroutines wake an instance's thread after they
// queued something for it: an eventfd the thread waits on with ppoll.
// Without an eventfd (EMFILE) it falls back to a channel and a Go timer.
type wakeup struct {
	mu sync.Mutex
	fd int // -1: closed, or none
	ch chan struct{}
}

func newWakeup() *wakeup {
	w := &wakeup{ch: make(chan struct{}, 1)}
	fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		fd = -1
	}
	w.fd = fd
	return w
}

var one = [8]byte{1} // an eventfd increment (host order: little-endian here, and any non-zero wakes)

func (w *wakeup) wake() {
	w.mu.Lock()
	if w.fd >= 0 {
		unix.Write(w.fd, one[:])
	}
	w.mu.Unlock()
	select {
	case w.ch <- struct{}{}:
	default:
	}
}

// wait returns when woken (or by a signal) or at `at` (zero: no
// timeout). Only the owner's thread calls it.
func (w *wakeup) wait(at time.Time) {
	var d time.Duration = -1
	if !at.IsZero() {
		d = max(time.Until(at), 0)
	}
	if w.fd < 0 {
		var tc <-chan time.Time
		if d >= 0 {
			t := time.NewTimer(d)
			defer t.Stop()
			tc = t.C
		}
		select {
		case <-w.ch:
		case <-tc:
		}
		return
	}
	fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
	for {
		chunk := maxWait
		if d >= 0 {
			chunk = min(time.Until(at), maxWait)
		}
		ts := unix.NsecToTimespec(max(chunk, 0).Nanoseconds())
		n, err := unix.Ppoll(fds, &ts, nil)
		if n > 0 {
			var b [8]byte
			unix.Read(w.fd, b[:])
			break
		}
		if err != nil || (d >= 0 && !time.Now().Before(at)) {
			break // EINTR (the runtime's signals): the caller looks again
		}
	}
	select {
	case <-w.ch:
	default:
	}
}

func (w *wakeup) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

// queue is a FIFO of funcs that one ordinary goroutine runs in order
// (run). put never blocks, and never readies that goroutine itself: the
// goroutine waits on an eventfd through the network poller, which wakes
// it from another thread. A goroutine readied from a VRRP thread would be
// queued on that thread's P, which the runtime then hands to an ordinary
// thread (measured: adverts 10 ms late, one in two, while the log line
// about the last one was being written). Without an eventfd it falls back
// to a channel.
type queue struct {
	mu     sync.Mutex
	fs     []func()
	closed bool
	f      *os.File // the eventfd, read by run
	ch     chan struct{}
}

func newQueue() *queue {
	q := &queue{ch: make(chan struct{}, 1)}
	if fd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err == nil {
		q.f = os.NewFile(uintptr(fd), "vrrp queue")
	}
	return q
}

// put queues f (dropped once closed) and reports how many wait.
func (q *queue) put(f func()) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return 0
	}
	q.fs = append(q.fs, f)
	if len(q.fs) == 1 {
		if q.f != nil {
			unix.Write(int(q.f.Fd()), one[:])
		} else {
			select {
			case q.ch <- struct{}{}:
			default:
			}
		}
	}
	return len(q.fs)
}

func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.fs)
}

// close ends run once what is queued has run.
func (q *queue) close() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		if q.f != nil {
			unix.Write(int(q.f.Fd()), one[:])
		} else {
			close(q.ch)
		}
	}
}

// run runs the funcs queued, in order, until closed and drained.
func (q *queue) run() {
	var b [8]byte
	for {
		q.mu.Lock()
		fs, closed := q.fs, q.closed
		q.fs = nil
		q.mu.Unlock()
		for _, f := range fs {
			f()
		}
		if closed && len(fs) == 0 {
			if q.f != nil {
				q.f.Close()
			}
			return
		}
		if len(fs) > 0 {
			continue // more may have come meanwhile
		}
		if q.f != nil {
			q.f.Read(b[:]) // the poller's wait; the counter reset
		} else {
			<-q.ch
		}
	}
}

// logQueue carries the Router's log lines to the daemon's logger on an
// ordinary goroutine: the logger takes a mutex and writes, which a
// real-time thread must not wait behind. Every line of the Router goes
// through it, so their order is kept. Past maxQueued lines waiting, the
// next ones are dropped (counted in a later line).
type logQueue struct {
	out     func(format string, args ...any)
	q       *queue
	dropped atomic.Int64
}

const maxQueued = 10000

func newLogQueue(out func(string, ...any)) *logQueue {
	l := &logQueue{out: out, q: newQueue()}
	go l.q.run()
	return l
}

func (l *logQueue) logf(format string, args ...any) {
	if l.q.len() >= maxQueued {
		l.dropped.Add(1)
		return
	}
	l.q.put(func() {
		if n := l.dropped.Swap(0); n > 0 {
			l.out("vrrp: %d log lines dropped (the logger was too slow)", n)
		}
		l.out(format, args...)
	})
}

// flush returns once every line queued before it is written.
func (l *logQueue) flush() {
	done := make(chan struct{})
	if l.q.put(func() { close(done) }) > 0 {
		<-done
	}
}
