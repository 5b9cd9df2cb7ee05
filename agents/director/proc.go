package director

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// runFiles are one instance's pid file, control socket and state file
// (the virtual services it owns), passed to `lvsd run`.
type runFiles struct {
	Pid, Sock, State string
}

// maxSockPath: a unix socket path must fit in sun_path (108 bytes with
// its NUL).
const maxSockPath = 107

// filesFor names the run files of one resource: base is the agent's
// state-file stem for the instance (HA_RSCTMP/director-INSTANCE); the
// configuration's path is hashed in, so that the same instance name run
// on two files (crm_resource --force-start, ocf-tester) never shares a
// daemon.
func filesFor(base, cfg string) runFiles {
	h := sha256.Sum256([]byte(cfg))
	stem := fmt.Sprintf("%s-%x", base, h[:4])
	f := runFiles{Pid: stem + ".pid", Sock: stem + ".sock", State: stem + ".state"}
	if len(f.Sock) > maxSockPath {
		h := sha256.Sum256([]byte(stem))
		f.Sock = fmt.Sprintf("/run/lvsd/director-%x.sock", h[:8])
	}
	return f
}

// resolveConfig finds the configuration file as ldirectord does: an
// absolute path as given; a relative name in /etc/ha.d, then
// /etc/ha.d/conf, then relative to the working directory.
func resolveConfig(name string, exists func(string) bool) (path string, tried []string) {
	if filepath.IsAbs(name) {
		return filepath.Clean(name), nil
	}
	cands := []string{filepath.Join("/etc/ha.d", name), filepath.Join("/etc/ha.d/conf", name)}
	if abs, err := filepath.Abs(name); err == nil {
		cands = append(cands, abs)
	}
	for _, c := range cands {
		if exists(c) {
			return c, nil
		}
	}
	return "", cands
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// fileDigest is the SHA-256 of a file in hex, as lvsd reports it ("" when
// unreadable).
func fileDigest(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return fmt.Sprintf("%x", sha256.Sum256(b))
}

// errNoDaemon: nothing listens on the socket (absent, or refused).
var errNoDaemon = errors.New("no lvsd answers")

// ask sends one request line on the control socket and reads the whole
// answer within timeout. peer is the pid of the process holding the
// socket (SO_PEERCRED), 0 if unknown.
func ask(sock, req string, timeout time.Duration) (answer string, peer int, err error) {
	conn, err := net.DialTimeout("unix", sock, min(timeout, 2*time.Second))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ENOENT) {
			return "", 0, errNoDaemon
		}
		return "", 0, err
	}
	defer conn.Close()
	peer = peerPid(conn)
	conn.SetDeadline(time.Now().Add(timeout))
	if _, err := fmt.Fprintln(conn, req); err != nil {
		return "", peer, err
	}
	b, err := io.ReadAll(conn)
	if err != nil {
		return string(b), peer, fmt.Errorf("reading lvsd's answer to %s: %w", req, err)
	}
	return string(b), peer, nil
}

// askStatus asks for the status and decodes it.
func askStatus(sock string, timeout time.Duration) (Status, int, error) {
	ans, peer, err := ask(sock, "status", timeout)
	if err != nil {
		return Status{}, peer, err
	}
	var st Status
	if err := json.Unmarshal([]byte(ans), &st); err != nil {
		return Status{}, peer, fmt.Errorf("lvsd's status is not JSON (%v): %q", err, firstLine(ans))
	}
	return st, peer, nil
}

func firstLine(s string) string {
	l, _, _ := strings.Cut(strings.TrimSpace(s), "\n")
	return l
}

// procState is the state letter of /proc/PID/stat ("" when gone).
func procState(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 || i+2 >= len(s) {
		return ""
	}
	return s[i+2 : i+3]
}

// alive: the process exists and is not a zombie (an lvsd whose parent is
// gone is reaped by init, maybe late).
func alive(pid int) bool {
	st := procState(pid)
	return st != "" && st != "Z" && st != "X"
}

// isOurs: pid is `lvsd run` started for this instance — its command line
// names our pid file. A pid file outliving its process (kill -9, a crash)
// may name a pid reused by anything else: that one is never signalled.
func isOurs(pid int, pidfile string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	run := false
	for i, a := range args {
		if a == "run" {
			run = true
		}
		if run && (a == "--pidfile" && i+1 < len(args) && args[i+1] == pidfile || a == "--pidfile="+pidfile) {
			return alive(pid)
		}
	}
	return false
}

// readPid reads a pid file (0 when absent or garbage).
func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 1 {
		return 0
	}
	return pid
}

// runningPid is the pid of this instance's lvsd, 0 if none runs: the pid
// file's when it names our process, else the socket's holder.
func runningPid(f runFiles) int {
	if pid := readPid(f.Pid); pid > 0 && isOurs(pid, f.Pid) {
		return pid
	}
	if peer := peerOf(f.Sock); peer > 0 && isOurs(peer, f.Pid) {
		return peer
	}
	return 0
}

// peerOf is the pid holding a listening unix socket (0 if none): connect,
// read SO_PEERCRED, close without a request (lvsd ignores an empty one).
func peerOf(sock string) int {
	conn, err := net.DialTimeout("unix", sock, time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	return peerPid(conn)
}

func peerPid(conn net.Conn) int {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return 0
	}
	rc, err := uc.SyscallConn()
	if err != nil {
		return 0
	}
	pid := 0
	rc.Control(func(fd uintptr) {
		if cr, err := syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED); err == nil {
			pid = int(cr.Pid)
		}
	})
	return pid
}

// waitGone polls until pid has exited or the deadline passes.
func waitGone(pid int, deadline time.Time) bool {
	// A pidfd becomes readable the moment the process exits: stop returns
	// then, not up to a polling period later (each action's time adds to
	// the cluster's failover). /proc polling where pidfds are missing.
	if fd, err := unix.PidfdOpen(pid, 0); err == nil {
		defer unix.Close(fd)
		for alive(pid) {
			ms := int(time.Until(deadline) / time.Millisecond)
			if ms <= 0 {
				return false
			}
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
			if _, err := unix.Poll(fds, min(ms, 1000)); err != nil && err != unix.EINTR {
				return pollGone(pid, deadline)
			}
		}
		return true
	}
	return pollGone(pid, deadline)
}

func pollGone(pid int, deadline time.Time) bool {
	for {
		if !alive(pid) {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// lineBuf collects the lines of a stream (lvsd's output while it starts).
type lineBuf struct {
	lines chan []string
}

func collectLines(r io.Reader) *lineBuf {
	lb := &lineBuf{lines: make(chan []string, 1)}
	go func() {
		var out []string
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			if len(out) < 1000 {
				out = append(out, sc.Text())
			}
		}
		lb.lines <- out
	}()
	return lb
}

// tailFrom reads what a file got after offset (at most 256 KiB) as lines.
func tailFrom(path string, offset int64) []string {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil
	}
	b, _ := io.ReadAll(io.LimitReader(f, 256*1024))
	return strings.Split(strings.TrimRight(string(bytes.TrimSpace(b)), "\n"), "\n")
}

// childEnv is the agent's environment for lvsd, with the ready descriptor
// and without what systemd gave the service the agent runs under (lvsd
// speaks sd_notify when NOTIFY_SOCKET is set: that socket, the watchdog
// and passed sockets are Pacemaker's, not lvsd's).
func childEnv(environ []string) []string {
	out := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "LVSD_READY_FD", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES":
			continue
		}
		out = append(out, kv)
	}
	return append(out, "LVSD_READY_FD=3")
}

// detached makes a child the leader of its own session: no controlling
// terminal, and no signal meant for the agent's process group reaches it.
func detached(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	cmd.Dir = "/"
}

// otherDirector names a director already running for the file outside
// this resource — an lvsd started by hand or by its systemd unit
// (/run/lvsd/NAME.pid), or the ldirectord being replaced
// (/var/run/ldirectord.NAME.pid) — "" when there is none. Two directors
// on one table undo each other's writes.
func otherDirector(cfg string, readPid func(string) int, cmdline func(int) string) string {
	name := filepath.Base(cfg)
	for _, c := range []struct{ pidfile, prog string }{
		{"/run/lvsd/" + name + ".pid", "lvsd"},
		{"/run/ldirectord." + name + ".pid", "ldirectord"},
		{"/var/run/ldirectord." + name + ".pid", "ldirectord"},
	} {
		pid := readPid(c.pidfile)
		if pid <= 0 {
			continue
		}
		args := strings.Split(cmdline(pid), "\x00")
		for _, a := range args {
			if filepath.Base(a) == c.prog {
				return fmt.Sprintf("%s pid %d already runs for %s outside this resource (%s): stop it and disable its service first", c.prog, pid, name, c.pidfile)
			}
		}
	}
	return ""
}

// cmdlineOf is /proc/PID/cmdline of a live process ("" otherwise).
func cmdlineOf(pid int) string {
	if !alive(pid) {
		return ""
	}
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return strings.TrimRight(string(b), "\x00")
}
