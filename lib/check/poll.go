package check

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The two hot checks (connect, and http to a literal address) run as state
// machines on non-blocking sockets in one epoll set, driven by one
// goroutine: the engine's scheduler (or, for Run, a shared poller
// goroutine). Per check: socket, setsockopt(SO_LINGER 0), connect,
// epoll_ctl(ADD), one write of the request built when the check was
// loaded, reads into a pooled buffer, close; the outcome of the connect
// is the epoll event itself (no second connect, no getsockopt unless it
// failed). No goroutine wakes per check, no os.File, no timer: Go's
// netpoller, a worker goroutine and a context timer per check cost more
// CPU than the system calls (the profile in docs/check.md).

// hotPlan is what a hot probe needs, computed once per check.
type hotPlan struct {
	http   bool
	fam    int
	sa     rawSockaddr
	addr   string // "ip:port", for messages
	req    []byte // http: the request
	url    string // http: for messages
	method string
	ok     string // connect: the reason when it passes
}

// planHot is the plan for s, or nil when s is not a hot check.
func planHot(s *Spec) *hotPlan {
	if s.Also != nil {
		return nil
	}
	var ap netip.AddrPort
	p := &hotPlan{}
	switch {
	case s.Type == "connect" && s.Protocol != "udp":
		ap = netip.AddrPortFrom(s.Addr, s.Port)
		p.ok = "connected to " + s.HostPort()
	case (s.Type == "negotiate" || s.Type == "") && s.Service == "http":
		u := CheckURL(s)
		if !strings.HasPrefix(u, "http://") {
			return nil
		}
		pu, err := url.Parse(u)
		if err != nil {
			return nil
		}
		hostport := pu.Host
		if pu.Port() == "" {
			hostport = net.JoinHostPort(pu.Hostname(), "80")
		}
		if ap, err = netip.ParseAddrPort(hostport); err != nil {
			return nil // a name: fastGET resolves it
		}
		p.http, p.url, p.method = true, u, s.HTTPMethod
		if p.method == "" {
			p.method = "GET"
		}
		host := s.VirtualHost
		if host == "" {
			host = pu.Hostname()
		}
		p.req = httpRequest(p.method, pu.RequestURI(), host)
	default:
		return nil
	}
	if !ap.Addr().IsValid() || ap.Addr().Zone() != "" {
		return nil
	}
	p.addr = ap.String()
	a := ap.Addr().Unmap()
	if a.Is4() {
		p.fam, p.sa = syscall.AF_INET, makeRawSockaddr(&syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()})
	} else {
		p.fam, p.sa = syscall.AF_INET6, makeRawSockaddr(&syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()})
	}
	return p
}

// httpRequest is the one request of an http check: HTTP/1.1, Connection:
// close, Host the virtualhost or the real's address without the port (as
// ldirectord sends it).
func httpRequest(method, path, host string) []byte {
	var b strings.Builder
	b.Grow(96 + len(path) + len(host))
	b.WriteString(method)
	b.WriteByte(' ')
	b.WriteString(path)
	b.WriteString(" HTTP/1.1\r\nHost: ")
	b.WriteString(host)
	b.WriteString("\r\nUser-Agent: ocf-lvs-check\r\nAccept: */*\r\nConnection: close\r\n\r\n")
	return []byte(b.String())
}

const (
	phConnect = iota + 1
	phSend
	phRecv
)

// hotProbe is one hot check in flight.
type hotProbe struct {
	plan     *hotPlan
	spec     *Spec
	owner    any // for the poller's done function
	fd       int
	phase    int
	slot     int32
	t0       time.Time
	t1       time.Time // when it ended (finish's clock read)
	deadline time.Time
	hidx     int // in the deadline heap
	sent     int
	buf      *[]byte
	body     []byte // in buf, once the answer is complete
	parse    httpParse
	canceled bool
}

// poller drives hot probes. Every method but wake and submit belongs to
// the one goroutine that calls poll.
type poller struct {
	ep    int
	evfd  int
	woken atomic.Bool
	slots []*hotProbe // by epoll data; nil = free
	free  []int32
	dl    dlHeap
	evs   []syscall.EpollEvent
	done  func(h *hotProbe, r Result, slow bool)
	// now is the poller's last clock read (a probe's start or end, or
	// epoll_wait's return): the scheduler and the deadlines go by it. In
	// the VM the clock is the HPET, which the vDSO cannot read: each read
	// is a system call and an emulated device access, and five of them
	// per check were a tenth of the checker's system calls and
	// entries (docs/check.md). Two per check remain, its start and end,
	// and one for a check that ends at its launch when the next check of
	// its group starts at that end (Engine.Run).
	now time.Time

	mu       sync.Mutex
	incoming []pollOp // from submit and cancel, for the polling goroutine
	closed   bool
}

type pollOp struct {
	h      *hotProbe
	cancel bool
}

func newPoller(done func(*hotProbe, Result, bool)) (*poller, error) {
	ep, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	evfd, err := unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	if err != nil {
		syscall.Close(ep)
		return nil, fmt.Errorf("eventfd: %w", err)
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(evfd), Pad: -1}
	if err := syscall.EpollCtl(ep, syscall.EPOLL_CTL_ADD, evfd, &ev); err != nil {
		syscall.Close(ep)
		syscall.Close(evfd)
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return &poller{ep: ep, evfd: evfd, evs: make([]syscall.EpollEvent, 256), done: done, now: time.Now()}, nil
}

var one = [8]byte{1}

// wake makes poll return; from any goroutine, one write per sleep.
func (p *poller) wake() {
	if p.woken.CompareAndSwap(false, true) {
		p.mu.Lock()
		if !p.closed { // a late Set or AfterFunc: the fd may be another's now
			syscall.Write(p.evfd, one[:])
		}
		p.mu.Unlock()
	}
}

// submit hands h to the polling goroutine.
func (p *poller) submit(h *hotProbe) {
	p.op(pollOp{h: h})
}

// cancel ends h at once if it is still in flight (its report follows).
func (p *poller) cancel(h *hotProbe) { p.op(pollOp{h: h, cancel: true}) }

func (p *poller) op(o pollOp) {
	p.mu.Lock()
	p.incoming = append(p.incoming, o)
	p.mu.Unlock()
	p.wake()
}

// inflight is the number of probes in flight.
func (p *poller) inflight() int { return len(p.slots) - len(p.free) }

// start begins h (its plan, spec, owner and deadline set) at now, a
// fresh clock read. ended: it finished at once (p.done, h.t1 set): the
// socket could not be made, the connect failed, or a connect check's
// real answered inside connect.
func (p *poller) start(h *hotProbe, now time.Time) (ended bool) {
	h.t0, p.now = now, now
	h.phase, h.sent, h.fd, h.slot, h.hidx, h.body, h.canceled = phConnect, 0, -1, -1, -1, nil, false
	h.parse = httpParse{method: h.plan.method}
	fail := func(call string, err error) {
		p.finish(h, fmt.Errorf("dial tcp %s: %s: %w", h.plan.addr, call, err), false)
	}
	fd, err := rawSocket(h.plan.fam, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC)
	if err != nil {
		fail("socket", err)
		return true
	}
	h.fd = fd
	// closed with a reset: no TIME_WAIT on the director (see basic.go)
	if err := rawLingerZero(fd); err != nil {
		fail("setsockopt", err)
		return true
	}
	err = rawConnect(fd, &h.plan.sa)
	if err == syscall.EINPROGRESS {
		// A real on this host (a container, a namespace, a VM on a
		// bridge) has answered already: the handshake, or the reset,
		// ran inside connect. Asked again, the kernel says so at once
		// (0, or the refusal): the connect check is done without epoll
		// and a refused real is reported now, not after the batch of
		// connects started with it. Elsewhere the answer is EALREADY,
		// one cheap call.
		err = rawConnect(fd, &h.plan.sa)
		if err == syscall.EISCONN {
			err = nil
		}
		if err == nil && !h.plan.http {
			p.finish(h, nil, false)
			return true
		}
	}
	switch err {
	case nil, syscall.EINPROGRESS, syscall.EINTR, syscall.EALREADY:
	default:
		fail("connect", err)
		return true
	}
	if len(p.free) > 0 {
		h.slot = p.free[len(p.free)-1]
		p.free = p.free[:len(p.free)-1]
		p.slots[h.slot] = h
	} else {
		h.slot = int32(len(p.slots))
		p.slots = append(p.slots, h)
	}
	// edge-triggered: the connect's outcome, then the answer, one event each
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | unix.EPOLLET, Fd: int32(fd), Pad: h.slot}
	if err := rawEpollCtl(p.ep, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		p.release(h)
		fail("connect", err)
		return true
	}
	heap.Push(&p.dl, h)
	return false
}

// release frees h's slot and deadline.
func (p *poller) release(h *hotProbe) {
	if h.slot >= 0 {
		p.slots[h.slot] = nil
		p.free = append(p.free, h.slot)
		h.slot = -1
	}
	if h.hidx >= 0 {
		heap.Remove(&p.dl, h.hidx)
	}
}

// finish closes h's socket (a reset) and reports; err nil: passed.
func (p *poller) finish(h *hotProbe, err error, timedOut bool) {
	if h.fd >= 0 {
		rawClose(h.fd) // also leaves the epoll set
		h.fd = -1
	}
	p.release(h)
	var r Result
	slow := false
	switch {
	case err != nil && h.plan.http:
		err = fmt.Errorf("http: %w", err)
	case err != nil:
		err = fmt.Errorf("connect: %w", err)
	case h.plan.http:
		code := h.parse.code
		if code >= 300 && code <= 399 && h.spec.StatusCodes.Empty() {
			slow = true // a redirect: net/http follows it (checkHTTPClient)
			break
		}
		r.Reason, err = judgeHTTP(h.spec, h.plan.url, code, h.parse.status, h.body)
	default:
		r.Reason = h.plan.ok
	}
	if h.buf != nil {
		putBuf(h.buf)
		h.buf, h.body = nil, nil
	}
	h.t1 = time.Now()
	p.now = h.t1
	r.Latency = h.t1.Sub(h.t0)
	r.OK = err == nil
	if err != nil {
		r.Reason = err.Error()
		if timedOut && !h.canceled {
			r.Reason = "timeout: " + r.Reason
		}
	}
	if strings.ContainsAny(r.Reason, "\r\n\t") { // one line, as runOne
		r.Reason = strings.Join(strings.Fields(r.Reason), " ")
	}
	p.done(h, r, slow)
}

// poll waits at most d for events, advances the probes, expires those
// past their deadline; it returns early when woken. more: events were
// left waiting (a full batch), so none expired this round: a probe
// times out only when its socket has nothing to say, not while its
// answer waits behind others' (which, on a saturated CPU, made checks
// that had passed time out and reals flap).
//
// d counts from p.now, as the caller's schedule does; the clock is read
// again only before a sleep (p.now may be a few connects old), so a
// round that finds work waiting reads it not at all.
func (p *poller) poll(d time.Duration) (more bool) {
	if len(p.dl) > 0 {
		if u := p.dl[0].deadline.Sub(p.now); u < d {
			d = u
		}
	}
	ms := -1
	if d > 0 {
		now := time.Now()
		d -= now.Sub(p.now)
		p.now = now
	}
	if d < time.Hour {
		ms = int((d + time.Millisecond - 1) / time.Millisecond)
		if ms < 0 {
			ms = 0
		}
	}
	var n int
	var err error
	if ms == 0 {
		n, err = rawEpollPoll(p.ep, p.evs) // answers waiting: no sleep
	} else {
		n, err = syscall.EpollWait(p.ep, p.evs, ms)
	}
	if err != nil && err != syscall.EINTR {
		time.Sleep(time.Millisecond) // EBADF etc. cannot happen; never spin
	}
	if ms != 0 {
		p.now = time.Now() // it may have slept
	}
	for i := 0; i < n; i++ {
		ev := &p.evs[i]
		if ev.Pad < 0 {
			var b [8]byte
			syscall.Read(p.evfd, b[:])
			p.woken.Store(false)
			continue
		}
		if int(ev.Pad) >= len(p.slots) {
			continue
		}
		h := p.slots[ev.Pad]
		if h == nil || int32(h.fd) != ev.Fd {
			continue
		}
		p.event(h, ev.Events)
	}
	more = n == len(p.evs)
	if more && len(p.evs) < 4096 {
		p.evs = make([]syscall.EpollEvent, 2*len(p.evs))
	}
	p.mu.Lock()
	in := p.incoming
	p.incoming = nil
	p.mu.Unlock()
	for _, o := range in {
		switch h := o.h; {
		case !o.cancel:
			p.start(h, time.Now())
		case h.slot >= 0 && p.slots[h.slot] == h && h.hidx >= 0:
			h.canceled, h.deadline = true, time.Time{}
			heap.Fix(&p.dl, h.hidx)
		}
	}
	if more {
		return true
	}
	for len(p.dl) > 0 && !p.dl[0].deadline.After(p.now) {
		h := p.dl[0]
		p.timeout(h)
	}
	return false
}

func (p *poller) timeout(h *hotProbe) {
	to := os.ErrDeadlineExceeded
	switch h.phase {
	case phConnect:
		p.finish(h, fmt.Errorf("dial tcp %s: connect: %w", h.plan.addr, to), true)
	case phSend:
		p.finish(h, fmt.Errorf("write tcp %s: %w", h.plan.addr, to), true)
	default:
		p.recv(h, fmt.Errorf("read tcp %s: %w", h.plan.addr, to), 0)
	}
}

func (p *poller) event(h *hotProbe, ev uint32) {
	if h.phase == phConnect {
		if ev&(syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
			e, err := rawSoError(h.fd)
			if err == nil && e != 0 {
				err = e
			} else if err == nil {
				err = syscall.ECONNRESET
			}
			p.finish(h, fmt.Errorf("dial tcp %s: connect: %w", h.plan.addr, err), false)
			return
		}
		if ev&syscall.EPOLLOUT == 0 {
			return
		}
		if !h.plan.http {
			p.finish(h, nil, false)
			return
		}
		h.phase = phSend
	}
	if h.phase == phSend {
		for h.sent < len(h.plan.req) {
			n, err := rawWrite(h.fd, h.plan.req[h.sent:])
			if err == syscall.EINTR {
				continue
			}
			if err == syscall.EAGAIN {
				return // the next EPOLLOUT edge
			}
			if err != nil {
				p.finish(h, fmt.Errorf("write tcp %s: %w", h.plan.addr, err), false)
				return
			}
			h.sent += n
		}
		h.phase = phRecv
		if ev&(syscall.EPOLLIN|syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
			return
		}
	}
	p.recv(h, nil, ev)
}

// recv reads what there is and parses the answer; end is the timeout.
// Edge-triggered: a short read has taken what had arrived when the event
// was collected, unless the peer had closed too (RDHUP): then read to EOF,
// no edge comes for a close that is already seen.
func (p *poller) recv(h *hotProbe, end error, ev uint32) {
	closed := ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0
	if h.buf == nil {
		h.buf = getBuf()
	}
	buf := *h.buf
	for end == nil {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		room := cap(buf) - len(buf)
		n, err := rawRead(h.fd, buf[len(buf):cap(buf)])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
		case err != nil:
			end = fmt.Errorf("read tcp %s: %w", h.plan.addr, err)
		case n == 0:
			end = io.EOF
		default:
			buf = buf[:len(buf)+n]
			if n == room || closed {
				continue // maybe more
			}
		}
		break
	}
	*h.buf = buf
	body, done, err := h.parse.feed(buf, end)
	if !done {
		if end == nil {
			return // the next EPOLLIN edge
		}
		err = end
	}
	h.body = body
	p.finish(h, err, err != nil && errors.Is(err, os.ErrDeadlineExceeded))
}

// close ends every probe in flight without a report (the engine stops).
func (p *poller) close() {
	for _, h := range p.slots {
		if h != nil {
			syscall.Close(h.fd)
			if h.buf != nil {
				putBuf(h.buf)
				h.buf = nil
			}
		}
	}
	p.slots, p.free, p.dl = nil, nil, nil
	p.mu.Lock()
	p.closed = true
	syscall.Close(p.ep)
	syscall.Close(p.evfd)
	p.mu.Unlock()
}

type dlHeap []*hotProbe

func (h dlHeap) Len() int           { return len(h) }
func (h dlHeap) Less(i, j int) bool { return h[i].deadline.Before(h[j].deadline) }
func (h dlHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].hidx = i; h[j].hidx = j }
func (h *dlHeap) Push(x any)        { p := x.(*hotProbe); p.hidx = len(*h); *h = append(*h, p) }
func (h *dlHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	p.hidx = -1
	return p
}

// Read buffers: 4 KB, grown for a large answer (those are not kept).
var bufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

func getBuf() *[]byte { return bufs.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	*b = (*b)[:0]
	bufs.Put(b)
}

// Run's hot checks share one poller and its goroutine.
var shared struct {
	once sync.Once
	p    *poller
	err  error
}

type hotResult struct {
	r    Result
	slow bool
}

// runHot runs a hot check for Run, bounded by ctx (which has the
// check's deadline); slow: a redirect, for net/http.
func runHot(ctx context.Context, s *Spec, plan *hotPlan) (Result, bool, error) {
	shared.once.Do(func() {
		shared.p, shared.err = newPoller(func(h *hotProbe, r Result, slow bool) {
			h.owner.(chan hotResult) <- hotResult{r, slow}
		})
		if shared.err == nil {
			go func() {
				for {
					shared.p.poll(time.Hour)
				}
			}()
		}
	})
	if shared.err != nil {
		return Result{}, false, shared.err
	}
	ch := make(chan hotResult, 1)
	h := &hotProbe{plan: plan, spec: s, owner: ch}
	h.deadline, _ = ctx.Deadline()
	shared.p.submit(h)
	select {
	case d := <-ch:
		return d.r, d.slow, nil
	case <-ctx.Done():
		if ctx.Err() != context.DeadlineExceeded {
			shared.p.cancel(h) // else the poller times it out by the same deadline
		}
		d := <-ch
		return d.r, d.slow, nil
	}
}
