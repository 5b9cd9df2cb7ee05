package vrrp

import (
	"os"
	"runtime"
	"strconv"
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
	vrrpTIDs.Store(tid, true)
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
		vrrpTIDs.Delete(tid)
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
// 5 ms keeps the P (200 wake-ups a second per thread, and the sysmon
// they keep awake: about 1% of a core per idle lvsd, measured). With the
// whole process real-time (WholeProcess) no thread of it waits behind
// the load, so the waits run to the next timer, wholeWait at most.
const (
	maxWait   = 5 * time.Millisecond
	wholeWait = time.Second
)

// waitSlice is the bound of the waits now: maxWait, or wholeWait while
// the whole process is real-time.
var waitSlice atomic.Int64

func init() { waitSlice.Store(int64(maxWait)) }

func slice() time.Duration { return time.Duration(waitSlice.Load()) }

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
		chunk := slice()
		if d >= 0 {
			chunk = min(time.Until(at), chunk)
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

// The whole process real-time, in VRRP-only mode (WholeProcess). The
// VRRP threads alone are not enough: each is still at the Go runtime's
// mercy, which serves it from ordinary threads at moments no code of
// ours picks (the scheduler's forced preemption of a goroutine that
// kept its P for 10 ms readies it through another thread; a P taken
// back while it waits must be given again), and a saturated box keeps
// those threads off the CPU: the master's adverts 115-178 ms late, 2
// spurious takeovers in 5 minutes at advert_int 0.05 s. A process that
// runs nothing but VRRP (no virtual_server, no checks) has every thread
// at the VRRP threads' priority, as keepalived's VRRP process has with
// vrrp_rt_priority: the same run had none, the worst advert 29 ms late.
// A sweep every second sets the threads the runtime starts later (each
// thread is SCHED_RESET_ON_FORK, so a thread or a script started from it
// begins at normal priority: scripts stay there).
type procRT struct {
	mu   sync.Mutex
	on   bool        // WholeProcess(true)
	prio int         // the running router's priority (0: none running, or normal)
	set  map[int]int // threads the sweep set, and at what
	stop chan struct{}
}

var whole procRT

// vrrpTIDs are the VRRP threads of every router (rtThread): the sweep
// leaves them to their router.
var vrrpTIDs sync.Map

// WholeProcess turns the sweep on (the daemon in VRRP-only mode) or off
// (virtual servers start beside VRRP: their checks must not run
// real-time; the threads set go back to normal scheduling).
func WholeProcess(on bool) {
	whole.mu.Lock()
	defer whole.mu.Unlock()
	whole.on = on
	whole.apply()
}

func (w *procRT) setPrio(p int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prio = p
	w.apply()
}

// apply starts or stops the sweep as on and prio say (mu held).
func (w *procRT) apply() {
	want := w.on && w.prio > 0
	if want {
		waitSlice.Store(int64(wholeWait))
	} else {
		waitSlice.Store(int64(maxWait))
	}
	if want {
		w.sweep()
		if w.stop == nil {
			w.stop = make(chan struct{})
			go w.loop(w.stop)
		}
		return
	}
	if w.stop != nil {
		close(w.stop)
		w.stop = nil
	}
	for tid := range w.set {
		if _, ok := vrrpTIDs.Load(tid); !ok { // since become a VRRP thread: its router's
			setThread(tid, 0)
		}
	}
	w.set = nil
}

func (w *procRT) loop(stop chan struct{}) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			w.mu.Lock()
			if w.stop == stop {
				w.sweep()
			}
			w.mu.Unlock()
		}
	}
}

// sweep sets every thread of the process but the VRRP threads at prio
// (mu held).
func (w *procRT) sweep() {
	tasks, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	if w.set == nil {
		w.set = map[int]int{}
	}
	seen := make(map[int]bool, len(tasks))
	for _, t := range tasks {
		tid, err := strconv.Atoi(t.Name())
		if err != nil {
			continue
		}
		seen[tid] = true
		if _, ok := vrrpTIDs.Load(tid); ok {
			delete(w.set, tid) // its router's now
			continue
		}
		if w.set[tid] == w.prio {
			continue
		}
		if setThread(tid, w.prio) == nil {
			w.set[tid] = w.prio
		}
	}
	for tid := range w.set {
		if !seen[tid] {
			delete(w.set, tid) // ended
		}
	}
}
