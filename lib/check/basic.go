package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/icmp"
)

// No TCP keep-alive on check connections: they live for one request, and
// the four setsockopt calls per connection are measurable at 10,000/s.
var dialer = net.Dialer{KeepAlive: -1}

// dial opens a TCP (or UDP) connection whose I/O is bounded by ctx's
// deadline, so a server that accepts and never answers cannot hang a check.
func dial(ctx context.Context, network, hostport string) (net.Conn, error) {
	c, err := dialer.DialContext(ctx, network, hostport)
	if err != nil {
		return nil, err
	}
	if d, ok := ctx.Deadline(); ok {
		c.SetDeadline(d)
	}
	// ctx cancelled (engine stopping) before the deadline: unblock I/O.
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return &ctxConn{Conn: c, stop: stop}, nil
}

type ctxConn struct {
	net.Conn
	stop func() bool
}

func (c *ctxConn) Close() error { c.stop(); return c.Conn.Close() }

// abort closes with a reset (SO_LINGER 0): for a check that is done with
// the connection. No TIME_WAIT is left on the director (10,000 connect
// checks a second would otherwise hold 600,000 of them), and the kernel
// skips the FIN exchange. HAProxy's health checks do the same.
func (c *ctxConn) abort() error {
	if tc, ok := c.Conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	return c.Close()
}

func checkConnect(ctx context.Context, s *Spec) (string, error) {
	c, err := dialFast(ctx, s.HostPort())
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	c.Close()
	return "connected to " + s.HostPort(), nil
}

var (
	pingerOnce sync.Once
	pinger     *icmp.Pinger
)

func checkPing(ctx context.Context, s *Spec) (string, error) {
	pingerOnce.Do(func() { pinger = icmp.NewPinger() })
	n := s.Count
	if n <= 0 {
		n = 1
	}
	// ldirectord gives each attempt the whole checktimeout; here the whole
	// check is bounded by it, split across the attempts.
	per := s.CheckTimeout
	if per <= 0 {
		per = 5 * time.Second
	}
	per /= time.Duration(n)
	ok, rtt, err := pinger.Probe(ctx, icmp.Target{Addr: s.Addr}, n, per)
	if err != nil {
		return "", fmt.Errorf("ping: %w", err)
	}
	if !ok {
		return "", fmt.Errorf("ping: no echo reply from %s (%d attempts)", s.Addr, n)
	}
	return fmt.Sprintf("echo reply in %s", rtt.Round(time.Microsecond)), nil
}

// checkExternal runs checkcommand VIP VPORT RIP RPORT (no shell) in its own
// process group; at the timeout the whole group is killed, so a script that
// forked a hanging child cannot keep the check (or its pipes) alive.
func checkExternal(ctx context.Context, s *Spec) (string, error) {
	reason, _, err := runCommand(ctx, s)
	return reason, err
}

// killGrace is how long a command has after SIGTERM at its timeout before
// SIGKILL (keepalived's MISC_CHECK: 2 seconds).
const killGrace = 2 * time.Second

// runCommand runs an external check or MISC_CHECK and says its exit
// status. It passes with status 0 and, with misc_dynamic (s.Dynamic),
// with 2..255 too (keepalived: the weight is status-2); any other status,
// a signal, or the timeout (SIGTERM to its process group, SIGKILL
// killGrace later, as keepalived) is a failure.
func runCommand(ctx context.Context, s *Spec) (reason string, status int, err error) {
	if s.Command == "" {
		return "", -1, errors.New("external: no checkcommand")
	}
	rip := s.Addr.String()
	cmd := exec.Command(s.Command, s.VIP, strconv.Itoa(int(s.VPort)), rip, strconv.Itoa(int(s.RealPort)))
	if s.Shell {
		cmd = exec.Command("/bin/sh", "-c", s.Command)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if s.RunAs {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: s.UID, Gid: s.GID}
	}
	var out bytes.Buffer
	cmd.Stdout = &limitWriter{w: &out, n: 4096}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		return "", -1, fmt.Errorf("external: %w", err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(killGrace):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // what it left behind
		return "", -1, fmt.Errorf("external %s: timed out (process group killed)", s.Command)
	}
	status = cmd.ProcessState.ExitCode() // -1 when killed by a signal
	switch {
	case status == 0:
		return "external " + s.Command + ": exit 0", 0, nil
	case s.Dynamic && status >= 2 && status <= 255:
		return fmt.Sprintf("external %s: exit %d (weight %d)", s.Command, status, status-2), status, nil
	}
	if err == nil {
		err = fmt.Errorf("exit status %d", status)
	}
	return "", status, fmt.Errorf("external %s: %v%s", s.Command, err, tail(out.String()))
}

type limitWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
	n  int
}

func (l *limitWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := l.n - l.w.Len(); room > 0 {
		if len(p) > room {
			l.w.Write(p[:room])
		} else {
			l.w.Write(p)
		}
	}
	return len(p), nil
}

func tail(s string) string {
	s = strings.TrimSpace(s)
	if s == "" {
		return ""
	}
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	if len(s) > 200 {
		s = s[:200]
	}
	return ": " + s
}

// MaintNames are the file names ldirectord looks for in maintenancedir for
// a real: ip:port, ip, and when the address has a name, fqdn:port, fqdn,
// short:port, short.
func MaintNames(addr netip.Addr, port uint16, fqdn string) []string {
	p := strconv.Itoa(int(port))
	ip := addr.String()
	n := []string{ip + ":" + p, ip}
	fqdn = strings.TrimSuffix(fqdn, ".")
	if fqdn != "" {
		n = append(n, fqdn+":"+p, fqdn)
		if i := strings.IndexByte(fqdn, '.'); i > 0 {
			n = append(n, fqdn[:i]+":"+p, fqdn[:i])
		}
	}
	return n
}

func timeUntil(t time.Time) time.Duration {
	d := time.Until(t)
	if d < time.Millisecond {
		d = time.Millisecond
	}
	return d
}
