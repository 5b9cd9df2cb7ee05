//go:build vm

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// daemonProc is `lvsd run` as its own process (the test binary standing
// in for lvsd, see TestMain), its log kept.
type daemonProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	end  chan struct{}
	sock string
}

func (d *daemonProc) Write(p []byte) (int, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.Write(p)
}

func (d *daemonProc) logText() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.log.String()
}

// startDaemon runs `lvsd run` on cf and returns once it is ready (the
// first full pass done, told on LVSD_READY_FD).
func startDaemon(t *testing.T, cf, state string, env ...string) *daemonProc {
	t.Helper()
	return startDaemonWith(t, cf, state, nil, env...)
}

// startDaemonWith is startDaemon with more options for lvsd run.
func startDaemonWith(t *testing.T, cf, state string, opts []string, env ...string) *daemonProc {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	d := &daemonProc{t: t, end: make(chan struct{})}
	d.sock = state + ".sock"
	d.cmd = exec.Command(self, append(append([]string{"run", "--pidfile", "none", "--state", state, "--socket", d.sock}, opts...), cf)...)
	d.cmd.Env = append(append(os.Environ(), "LVSD_TEST_MAIN=1", "LVSD_READY_FD=3"), env...)
	d.cmd.ExtraFiles = []*os.File{w}
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	go func() { d.cmd.Wait(); close(d.end) }()
	t.Cleanup(func() { d.cmd.Process.Kill(); <-d.end })
	ready := make(chan string, 1)
	go func() { l, _ := bufio.NewReader(r).ReadString('\n'); r.Close(); ready <- l }()
	select {
	case l := <-ready:
		if l != "ready\n" {
			<-d.end
			t.Fatalf("lvsd run never got ready:\n%s", d.logText())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("lvsd run not ready after 60 s:\n%s", d.logText())
	}
	return d
}

func (d *daemonProc) signal(s syscall.Signal) { d.cmd.Process.Signal(s) }

// stop sends SIGTERM and waits for the exit.
func (d *daemonProc) stop() {
	d.signal(syscall.SIGTERM)
	select {
	case <-d.end:
	case <-time.After(30 * time.Second):
		d.t.Fatalf("lvsd run did not stop on SIGTERM:\n%s", d.logText())
	}
}

// waitLog waits for a log line containing s.
// logTime is the time stamp (15:04:05.000, on t0's day) of the first line
// of d's log holding s at or after t0.
func (d *daemonProc) logTime(t *testing.T, s string, t0 time.Time) time.Time {
	t.Helper()
	// the line may still be on its way: lvsd stamps a VRRP event on the
	// instance's thread and writes it from an ordinary goroutine, so the
	// VIP can be seen before the line is in the file
	var found time.Time
	netns.WaitFor(10*time.Second, func() bool {
		found = d.lineAfter(s, t0)
		return !found.IsZero()
	})
	if found.IsZero() {
		t.Fatalf("no %q in the log after %s:\n%s", s, t0.Format("15:04:05.000"), d.logText())
	}
	return found
}

// lineAfter is the time stamp of the first log line containing s stamped
// at or after t0 (zero: none yet).
func (d *daemonProc) lineAfter(s string, t0 time.Time) time.Time {
	for _, line := range strings.Split(d.logText(), "\n") {
		stamp, _, _ := strings.Cut(line, " ")
		if !strings.Contains(line, s) {
			continue
		}
		hm, err := time.ParseInLocation("15:04:05.000", stamp, time.Local)
		if err != nil {
			continue
		}
		y, m, dd := t0.Date()
		at := time.Date(y, m, dd, hm.Hour(), hm.Minute(), hm.Second(), hm.Nanosecond(), time.Local)
		if !at.Before(t0.Truncate(time.Millisecond)) {
			return at
		}
	}
	return time.Time{}
}

func (d *daemonProc) waitLog(s string, within time.Duration) {
	d.t.Helper()
	if !netns.WaitFor(within, func() bool { return strings.Contains(d.logText(), s) }) {
		d.t.Fatalf("no %q in the log within %s:\n%s", s, within, d.logText())
	}
}

// waitTable waits until `ipvsadm -Sn` satisfies cond.
func waitTable(t *testing.T, what string, within time.Duration, cond func(string) bool) string {
	t.Helper()
	var got string
	if !netns.WaitFor(within, func() bool { got = savedTable(t); return cond(got) }) {
		// -Ln shows the connection counts (a drain waits on ActiveConn)
		t.Fatalf("%s: not within %s; ipvsadm -Sn:\n%s\nipvsadm -Ln:\n%s", what, within, got, shell(t, "ipvsadm -Ln"))
	}
	return got
}

// load sends HTTP requests to the VIP from the client, one new
// connection each, until stopped; it records when each failure happened.
type load struct {
	stopc    chan struct{}
	done     chan struct{}
	mu       sync.Mutex
	ok       int
	failures []time.Time
	errs     []string
	answered map[string]int
	okSent   []time.Time // when each answered request was sent (startLoadIn)
}

func (l *lab) startLoad(t *testing.T) *load {
	ld := &load{stopc: make(chan struct{}), done: make(chan struct{}), answered: map[string]int{}}
	go func() {
		defer close(ld.done)
		netns.Do("c"+l.sfx, func() error {
			for {
				select {
				case <-ld.stopc:
					return nil
				default:
				}
				body, err := httpGet(labVIP + ":80")
				ld.mu.Lock()
				if err != nil {
					ld.failures = append(ld.failures, time.Now())
					ld.errs = append(ld.errs, time.Now().Format("15:04:05.000 ")+err.Error())
				} else {
					ld.ok++
					ld.answered[body]++
				}
				ld.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}()
	t.Cleanup(ld.stop)
	return ld
}

func (ld *load) stop() {
	select {
	case <-ld.stopc:
	default:
		close(ld.stopc)
	}
	<-ld.done
}

func (ld *load) snapshot() (ok int, failures []time.Time, errs []string, answered map[string]int) {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	a := map[string]int{}
	for k, v := range ld.answered {
		a[k] = v
	}
	return ld.ok, append([]time.Time(nil), ld.failures...), append([]string(nil), ld.errs...), a
}

// daemonConfig is an ldirectord.cf for the lab: http checks every second
// on the :80 service, connect checks on the :9000 echo service.
func (l *lab) daemonConfig(name string, web, echo []int, extra string) string {
	b := fmt.Sprintf("checkinterval=1\nchecktimeout=2\nquiescent=no\n%s\nvirtual=%s:80\n\tscheduler=rr\n\tchecktype=negotiate\n\tservice=http\n\trequest=\"index.html\"\n\treceive=\"r[0-9]\"\n", extra, labVIP)
	for _, i := range web {
		b += fmt.Sprintf("\treal=10.99.0.1%d:80 masq 1\n", i)
	}
	if len(echo) > 0 {
		b += fmt.Sprintf("\nvirtual=%s:9000\n\tscheduler=rr\n\tchecktype=connect\n", labVIP)
		for _, i := range echo {
			b += fmt.Sprintf("\treal=10.99.0.1%d:9000 masq 1\n", i)
		}
	}
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func hasReal(table string, svc string, i int, port int) bool {
	return strings.Contains(table, fmt.Sprintf("-a -t %s -r 10.99.0.1%d:%d ", svc, i, port))
}

// killHTTPD stops real i's web server; startHTTPD starts it again.
func (l *lab) killHTTPD(i int) {
	p := l.procs[2*(i-1)]
	p.Process.Kill()
	p.Wait()
}

func (l *lab) startHTTPD(i int) {
	l.bg(fmt.Sprintf("r%d%s", i, l.sfx), "busybox", "httpd", "-f", "-p", "80", "-h", fmt.Sprintf("%s/www%d", l.dir, i))
	l.procs[2*(i-1)] = l.procs[len(l.procs)-1]
	l.procs = l.procs[:len(l.procs)-1]
}

// A real's server killed under steady client load: requests fail only
// until lvsd takes the real out (checkinterval + checktimeout), none
// after; the real comes back into the table when its server returns.
func TestDaemonRealKilledUnderLoad(t *testing.T) {
	l := newLab(t, "masq", 3)
	cf := l.daemonConfig("kill.cf", []int{1, 2, 3}, nil, "")
	d := startDaemon(t, cf, filepath.Join(l.dir, "kill.state"))
	svc := labVIP + ":80"
	waitTable(t, "three reals up", 30*time.Second, func(s string) bool {
		return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) && hasReal(s, svc, 3, 80)
	})
	ld := l.startLoad(t)
	time.Sleep(time.Second)
	killed := time.Now()
	l.killHTTPD(2)
	waitTable(t, "real 2 out", 30*time.Second, func(s string) bool { return !hasReal(s, svc, 2, 80) })
	out := time.Now()
	d.waitLog("down tcp:"+svc+" real 10.99.0.12:80", 5*time.Second)
	time.Sleep(2 * time.Second)
	okBefore, fails, errs, _ := ld.snapshot()
	for _, f := range fails {
		if f.Before(killed) || f.After(out.Add(500*time.Millisecond)) {
			t.Errorf("a request failed at %s, outside the kill (%s) to removal (%s) window: %v", f.Format("15:04:05.000"),
				killed.Format("15:04:05.000"), out.Format("15:04:05.000"), errs)
			break
		}
	}
	// detection bound: checkinterval 1 s + checktimeout 2 s, with room for emulation
	if took := out.Sub(killed); took > 3*time.Second+5*time.Second {
		t.Errorf("real removed %s after its server died", took)
	}
	t.Logf("killed real out of the table after %s; %d failed requests in that window, %d ok", out.Sub(killed).Round(time.Millisecond), len(fails), okBefore)
	l.startHTTPD(2)
	waitTable(t, "real 2 back", 30*time.Second, func(s string) bool { return hasReal(s, svc, 2, 80) })
	d.waitLog("up   tcp:"+svc+" real 10.99.0.12:80", 5*time.Second)
	ld.stop()
	_, fails2, errs2, answered := ld.snapshot()
	if len(fails2) != len(fails) {
		t.Errorf("%d requests failed after the real was taken out: %q", len(fails2)-len(fails), errs2[len(errs):])
	}
	if answered["r1"] == 0 || answered["r3"] == 0 {
		t.Errorf("load not spread: %v", answered)
	}
	d.stop()
	if s := savedTable(t); strings.Contains(s, svc) {
		t.Errorf("cleanstop left the service:\n%s", s)
	}
}

// A reload under load adds and removes reals and a virtual: no request
// fails; a long-lived connection to a removed real keeps working until it
// closes (drain), then the real is deleted; the removed virtual goes; a
// foreign service stays. A broken file keeps everything as it is.
func TestDaemonReloadDrainsUnderLoad(t *testing.T) {
	l := newLab(t, "masq", 3)
	shell(t, "ipvsadm -A -t 10.99.2.200:80 -s rr")
	cfA := l.daemonConfig("a.cf", []int{1, 2}, []int{1}, "")
	// a third virtual that the reload removes
	os.WriteFile(cfA, append(must(os.ReadFile(cfA)), []byte(fmt.Sprintf("\nvirtual=%s:8080\n\tchecktype=on\n\treal=10.99.0.13:80 masq 1\n", labVIP))...), 0o644)
	d := startDaemon(t, cfA, filepath.Join(l.dir, "a.state"))
	svc, echo := labVIP+":80", labVIP+":9000"
	waitTable(t, "config A", 30*time.Second, func(s string) bool {
		return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) && hasReal(s, echo, 1, 9000) && strings.Contains(s, labVIP+":8080")
	})
	conn := l.dialEcho()
	conn.ping(t, "before-reload")
	ld := l.startLoad(t)
	time.Sleep(time.Second)

	// a broken file: refused, nothing changes
	before := savedTable(t)
	checksBefore := checkStates(t, d.sock)
	broken := filepath.Join(l.dir, "a.cf")
	good := must(os.ReadFile(broken))
	os.WriteFile(broken, append(good, []byte("\tnosuchdirective=1\n")...), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("refused: the running configuration is kept", 20*time.Second)
	if !strings.Contains(d.logText(), broken+":") {
		t.Errorf("the refusal does not name FILE:LINE:\n%s", d.logText())
	}
	// the same through the control socket: the verdict comes back
	ans, err := ask(d.sock, "reload")
	if err != nil || !strings.Contains(ans, broken+":") || !strings.HasSuffix(ans, "refused\n") {
		t.Errorf("reload over the socket: %q %v", ans, err)
	}
	time.Sleep(1500 * time.Millisecond)
	if after := savedTable(t); after != before {
		t.Fatalf("a refused reload changed the table:\n%s\nwas:\n%s", after, before)
	}
	// and the checks: each real's state, and the result that made it,
	// as they were (a restarted check would have a new one)
	if after := checkStates(t, d.sock); after != checksBefore {
		t.Errorf("a refused reload changed the checks:\n%s\nwere:\n%s", after, checksBefore)
	}

	// reload: r1 leaves both services, r3 joins :80, r2 joins :9000, :8080 goes
	cfB := l.daemonConfig("b.cf", []int{2, 3}, []int{2}, "")
	os.WriteFile(broken, must(os.ReadFile(cfB)), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("reloaded: ", 20*time.Second)
	waitTable(t, "config B", 30*time.Second, func(s string) bool {
		return hasReal(s, svc, 3, 80) && !hasReal(s, svc, 1, 80) && hasReal(s, echo, 2, 9000) && !strings.Contains(s, labVIP+":8080")
	})
	tab := savedTable(t)
	if !strings.Contains(tab, "-a -t "+echo+" -r 10.99.0.11:9000 -m -w 0") {
		t.Fatalf("the real with a live connection is not draining at weight 0:\n%s", tab)
	}
	if !strings.Contains(tab, "-A -t 10.99.2.200:80 -s rr") {
		t.Fatalf("the foreign service was touched:\n%s", tab)
	}
	conn.ping(t, "after-reload")
	time.Sleep(2 * time.Second)
	conn.ping(t, "still-draining")
	conn.c.Close()
	waitTable(t, "drained real deleted once its connection closed", 30*time.Second, func(s string) bool { return !hasReal(s, echo, 1, 9000) })
	ld.stop()
	ok, fails, errs, _ := ld.snapshot()
	if len(fails) > 0 {
		t.Errorf("%d of %d requests failed across the reloads: %v", len(fails), ok+len(fails), errs)
	}
	d.stop()
	if s := savedTable(t); !strings.Contains(s, "10.99.2.200:80") || strings.Contains(s, svc) {
		t.Errorf("after cleanstop:\n%s", s)
	}
}

// checkStates is each real's health and the check result that made it
// (its time included), from the status socket, one line per real.
func checkStates(t *testing.T, sock string) string {
	t.Helper()
	var st statusJSON
	ans, err := ask(sock, "status")
	if err != nil || json.Unmarshal([]byte(ans), &st) != nil {
		t.Fatalf("status over the socket: %v\n%s", err, ans)
	}
	var b strings.Builder
	for _, v := range st.Virtuals {
		for _, r := range v.Reals {
			fmt.Fprintf(&b, "%s %s %s %s", v.Virtual, r.Real, r.Role, r.Health)
			if r.Check != nil {
				fmt.Fprintf(&b, " %s since %s", r.Check.Reason, r.Check.Since.Format(time.RFC3339Nano))
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func must(b []byte, err error) []byte {
	if err != nil {
		panic(err)
	}
	return b
}

// kill -9 with long-lived connections open, then start again: the
// connection survives, no request fails, and no write is made for reals
// still up. An entry deleted or edited by hand is put back (drift).
func TestDaemonKill9RestartAndDrift(t *testing.T) {
	l := newLab(t, "masq", 2)
	cf := l.daemonConfig("k.cf", []int{1, 2}, []int{1, 2}, "")
	state := filepath.Join(l.dir, "k.state")
	d := startDaemon(t, cf, state)
	svc, echo := labVIP+":80", labVIP+":9000"
	full := func(s string) bool {
		return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) && hasReal(s, echo, 1, 9000) && hasReal(s, echo, 2, 9000)
	}
	waitTable(t, "both reals up", 30*time.Second, full)
	conn := l.dialEcho()
	conn.ping(t, "before-kill")
	ld := l.startLoad(t)
	time.Sleep(time.Second)
	d.cmd.Process.Kill() // SIGKILL: no cleanup
	<-d.end
	table := savedTable(t)
	conn.ping(t, "daemon-dead")
	d2 := startDaemon(t, cf, state)
	d2.waitLog("up   tcp:"+svc+" real 10.99.0.11:80", 20*time.Second)
	d2.waitLog("up   tcp:"+svc+" real 10.99.0.12:80", 20*time.Second)
	time.Sleep(2 * time.Second)
	if strings.Contains(d2.logText(), " ipvsadm ") {
		t.Errorf("restart wrote to the table for reals still up:\n%s", d2.logText())
	}
	if s := savedTable(t); s != table {
		t.Errorf("restart changed the table:\n%s\nwas:\n%s", s, table)
	}
	conn.ping(t, "after-restart")
	var st statusJSON
	if ans, err := ask(d2.sock, "status"); err != nil || json.Unmarshal([]byte(ans), &st) != nil {
		t.Errorf("status over the socket: %v\n%s", err, ans)
	} else if len(st.Virtuals) != 2 || st.Up != 4 || st.Counts.Writes != 0 || !st.Virtuals[0].Reals[0].InKernel {
		t.Errorf("status: %s", ans)
	}
	// SIGUSR1: the same JSON in a file next to the state file
	dump := filepath.Join(filepath.Dir(state), "k.cf.status.json")
	d2.signal(syscall.SIGUSR1)
	if !netns.WaitFor(10*time.Second, func() bool {
		var st2 statusJSON
		b, err := os.ReadFile(dump)
		return err == nil && json.Unmarshal(b, &st2) == nil && st2.Up == 4
	}) {
		t.Errorf("no status dump in %s after SIGUSR1:\n%s", dump, d2.logText())
	}
	ld.stop()
	if _, fails, errs, _ := ld.snapshot(); len(fails) > 0 {
		t.Errorf("%d requests failed across kill -9 and restart: %v", len(fails), errs)
	}

	// drift: deleted and re-weighted by hand, put back within the resync
	// period (the status's; 1 s here, checkinterval) and one table read
	edit := time.Now()
	shell(t, fmt.Sprintf("ipvsadm -d -t %s -r 10.99.0.12:80; ipvsadm -e -t %s -r 10.99.0.11:9000 -m -w 7", svc, echo))
	waitTable(t, "drift repaired", 15*time.Second, func(s string) bool {
		return full(s) && strings.Contains(s, "-a -t "+echo+" -r 10.99.0.11:9000 -m -w 1")
	})
	// the slack: the table read and its writes, and ipvsadm -Sn polled
	// meanwhile, under emulation
	if took, period := time.Since(edit), time.Duration(st.ResyncS*float64(time.Second)); period <= 0 || took > period+2*time.Second {
		t.Errorf("drift repaired %s after the edit; resync period %s (status): want within the period + 2 s", took.Round(time.Millisecond), period)
	} else {
		t.Logf("drift repaired %s after the edit (resync period %s)", took.Round(time.Millisecond), period)
	}
	d2.waitLog("repair: ipvsadm -a -t "+svc+" -r 10.99.0.12:80", 5*time.Second)
	d2.waitLog("repair: ipvsadm -e -t "+echo+" -r 10.99.0.11:9000 -m -w 1", 5*time.Second)
	conn.ping(t, "after-repair")
}

// systemd's notify protocol, as a Type=notify unit with WatchdogSec sees
// it: READY=1 after the first pass, WATCHDOG=1 from the engine's loop,
// RELOADING=1 then READY=1 around a reload, STOPPING=1 on SIGTERM.
func TestDaemonSystemdNotify(t *testing.T) {
	l := newLab(t, "masq", 1)
	sockPath := filepath.Join(l.dir, "notify.sock")
	pc, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sockPath, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	var mu sync.Mutex
	var got []string
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := pc.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			got = append(got, strings.ReplaceAll(string(buf[:n]), "\n", " "))
			mu.Unlock()
		}
	}()
	seen := func(prefix string, n int) bool {
		mu.Lock()
		defer mu.Unlock()
		c := 0
		for _, g := range got {
			if strings.HasPrefix(g, prefix) {
				c++
			}
		}
		return c >= n
	}
	wait := func(what string, prefix string, n int) {
		t.Helper()
		if !netns.WaitFor(20*time.Second, func() bool { return seen(prefix, n) }) {
			mu.Lock()
			defer mu.Unlock()
			t.Fatalf("no %s (%q x%d) in %q", what, prefix, n, got)
		}
	}
	cf := l.daemonConfig("n.cf", []int{1}, nil, "")
	d := startDaemon(t, cf, filepath.Join(l.dir, "n.state"), "NOTIFY_SOCKET="+sockPath, "WATCHDOG_USEC=900000")
	wait("READY", "READY=1 MAINPID=", 1)
	wait("watchdog pings", "WATCHDOG=1", 3)
	d.signal(syscall.SIGHUP)
	wait("RELOADING", "RELOADING=1 MONOTONIC_USEC=", 1)
	wait("READY after the reload", "READY=1", 2)
	d.stop()
	wait("STOPPING", "STOPPING=1", 1)
}

// A virtual this configuration owned is removed when a restart finds it
// gone from the file (ownership kept in the state file across kill -9);
// the virtuals still configured get no write, a foreign service stays.
func TestDaemonRestartRemovesOwnedVirtual(t *testing.T) {
	l := newLab(t, "masq", 2)
	shell(t, "ipvsadm -A -t 10.99.2.200:80 -s rr")
	cf := l.daemonConfig("o.cf", []int{1, 2}, []int{1, 2}, "")
	state := filepath.Join(l.dir, "o.state")
	d := startDaemon(t, cf, state)
	svc, echo := labVIP+":80", labVIP+":9000"
	waitTable(t, "both virtuals up", 30*time.Second, func(s string) bool {
		return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) && hasReal(s, echo, 1, 9000) && hasReal(s, echo, 2, 9000)
	})
	d.cmd.Process.Kill()
	<-d.end
	web := func(s string) string { // the :80 service's lines
		var keep []string
		for _, line := range strings.Split(s, "\n") {
			if strings.Contains(line, " "+svc+" ") || strings.HasSuffix(line, " "+svc) {
				keep = append(keep, line)
			}
		}
		return strings.Join(keep, "\n")
	}
	before := web(savedTable(t))
	l.daemonConfig("o.cf", []int{1, 2}, nil, "") // the echo virtual taken out while lvsd was dead
	d2 := startDaemon(t, cf, state)
	got := waitTable(t, "the owned virtual removed", 30*time.Second, func(s string) bool { return !strings.Contains(s, echo) })
	if !strings.Contains(got, "-A -t 10.99.2.200:80 -s rr") {
		t.Errorf("the foreign service was touched:\n%s", got)
	}
	if web(got) != before {
		t.Errorf("the configured virtual changed:\n%s\nwas:\n%s", web(got), before)
	}
	d2.waitLog("delete virtual service", 10*time.Second)
	for _, line := range strings.Split(d2.logText(), "\n") {
		if strings.Contains(line, " ipvsadm ") && strings.Contains(line, svc) {
			t.Errorf("a write for the configured virtual at restart: %s", line)
		}
	}
	d2.stop()
}
