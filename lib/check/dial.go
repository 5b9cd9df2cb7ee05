package check

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"syscall"
	"time"
)

// rawConn is the connection of the two hot checks (connect, plain http):
// a socket driven by hand instead of net.Dialer, which per connection also
// calls getsockopt(SO_ERROR), getsockname, getpeername and
// setsockopt(TCP_NODELAY), and goes through the resolver and dialParallel.
// Here: socket, setsockopt(SO_LINGER 0), connect, (wait) connect again for
// the result, one write, reads, close. At 10,000 checks/s those calls are
// a measurable share of the checker's CPU.
type rawConn struct {
	f    *os.File // registered with Go's netpoller (non-blocking fd)
	addr string
	stop func() bool
}

// rawDial connects to ap, bounded by ctx. The socket closes with a reset
// (SO_LINGER 0, set once at creation): no TIME_WAIT on the director.
func rawDial(ctx context.Context, ap netip.AddrPort) (*rawConn, error) {
	addr := ap.String()
	fail := func(call string, err error) error {
		return fmt.Errorf("dial tcp %s: %s: %w", addr, call, err)
	}
	a := ap.Addr().Unmap()
	var sa syscall.Sockaddr
	fam := syscall.AF_INET
	if a.Is4() {
		sa = &syscall.SockaddrInet4{Port: int(ap.Port()), Addr: a.As4()}
	} else {
		fam = syscall.AF_INET6
		sa = &syscall.SockaddrInet6{Port: int(ap.Port()), Addr: a.As16()}
	}
	if err := ctx.Err(); err != nil {
		return nil, fail("connect", err)
	}
	fd, err := syscall.Socket(fam, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fail("socket", err)
	}
	if err := syscall.SetsockoptLinger(fd, syscall.SOL_SOCKET, syscall.SO_LINGER, &syscall.Linger{Onoff: 1, Linger: 0}); err != nil {
		syscall.Close(fd)
		return nil, fail("setsockopt", err)
	}
	inProgress := false
	switch err := syscall.Connect(fd, sa); err {
	case nil:
	case syscall.EINPROGRESS, syscall.EINTR, syscall.EALREADY:
		inProgress = true
	default:
		syscall.Close(fd)
		return nil, fail("connect", err)
	}
	f := os.NewFile(uintptr(fd), addr) // owns fd from here
	c := &rawConn{f: f, addr: addr}
	if d, ok := ctx.Deadline(); ok {
		f.SetDeadline(d)
	}
	// ctx cancelled (engine stopping) before the deadline: unblock I/O.
	c.stop = context.AfterFunc(ctx, func() { f.SetDeadline(time.Unix(1, 0)) })
	if inProgress {
		rc, err := f.SyscallConn()
		if err != nil {
			c.Close()
			return nil, fail("connect", err)
		}
		// Once writable, a second connect(2) returns the outcome (0 or the
		// error, e.g. ECONNREFUSED): one call, as getsockopt(SO_ERROR).
		var cerr error
		werr := rc.Write(func(s uintptr) bool {
			switch err := syscall.Connect(int(s), sa); err {
			case syscall.EALREADY, syscall.EINPROGRESS, syscall.EINTR:
				return false
			case nil, syscall.EISCONN:
				return true
			default:
				cerr = err
				return true
			}
		})
		if werr != nil {
			cerr = ioErr(werr)
		}
		if cerr != nil {
			c.Close()
			return nil, fail("connect", cerr)
		}
	}
	return c, nil
}

// ioErr strips os.File's *PathError ("read ADDR: ...") to the cause, so
// messages read as net's ("i/o timeout").
func ioErr(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (c *rawConn) Read(p []byte) (int, error) {
	n, err := c.f.Read(p)
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read tcp %s: %w", c.addr, ioErr(err))
	}
	return n, err
}

func (c *rawConn) Write(p []byte) (int, error) {
	n, err := c.f.Write(p)
	if err != nil {
		err = fmt.Errorf("write tcp %s: %w", c.addr, ioErr(err))
	}
	return n, err
}

// Close closes with a reset (SO_LINGER 0 was set at creation).
func (c *rawConn) Close() error {
	if c.stop != nil {
		c.stop()
	}
	return c.f.Close()
}

// dialFast dials hostport with rawDial when it is a literal address
// without a zone (every real of a configuration), else with net.Dialer.
// Either way the connection closes with a reset once the check is done.
func dialFast(ctx context.Context, hostport string) (io.ReadWriteCloser, error) {
	if ap, err := netip.ParseAddrPort(hostport); err == nil && ap.Addr().Zone() == "" {
		return rawDial(ctx, ap)
	}
	c, err := dial(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	return abortCloser{c.(*ctxConn)}, nil
}

type abortCloser struct{ *ctxConn }

func (a abortCloser) Close() error { return a.abort() }
