// Package director is the ocf:lvs:director resource agent: it runs
// `lvsd run` (the LVS director daemon) for one configuration file —
// ldirectord.cf, keepalived.conf or ocf-lvs TOML — and watches it through
// the daemon's control socket. It takes the place of ocf:heartbeat:ldirectord.
//
// The decisions are pure functions over data (Judge over a status answer,
// StartFailure over how lvsd ended, ReloadAnswer); this file is the thin
// layer that starts, asks and signals the one process.
package director

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// Agent is ocf:lvs:director.
var Agent = &ocf.Agent{
	Name:  "director",
	Short: "Runs lvsd, the LVS director, for one ldirectord.cf",
	Long: "Starts lvsd (ocf-lvs's director daemon) in the background for one configuration file: " +
		"ldirectord.cf (every directive), keepalived.conf's virtual_server blocks, or ocf-lvs TOML. " +
		"A keepalived.conf's vrrp_instance blocks are not run (lvsd run --no-vrrp, each warned about): " +
		"the cluster owns the addresses (ocf:lvs:VIP). " +
		"lvsd health-checks the real servers and keeps the kernel IPVS table equal to what the checks " +
		"say, by diff, never flushing. start returns once lvsd has done its first full pass over the table. " +
		"monitor asks lvsd's control socket: at OCF_CHECK_LEVEL 10 it also checks that the kernel holds " +
		"every desired entry with its weight and warns when the file changed without a reload; at 20 a " +
		"virtual service with no real server up and no fallback is reported degraded. reload makes lvsd " +
		"read the file again; a file with errors is refused and the running configuration kept. " +
		"validate-all parses the file and names FILE:LINE for each error. " +
		"This agent replaces ocf:heartbeat:ldirectord: configfile is the same parameter; its ldirectord (the binary) is lvsd here.",
	Params: []ocf.Param{
		{Name: "configfile", Unique: true, Default: "/etc/ha.d/ldirectord.cf",
			Short: "configuration file path",
			Long: "The configuration file: ldirectord.cf, keepalived.conf or ocf-lvs TOML (the format is " +
				"recognised from the content). A name without a directory is looked up as ldirectord " +
				"does: /etc/ha.d/NAME, then /etc/ha.d/conf/NAME."},
		{Name: "lvsd", Default: "/usr/sbin/lvsd",
			Short: "lvsd binary path",
			Long:  "The full path of the lvsd binary."},
	},
	Actions: []ocf.ActionSpec{
		{Name: "start", Timeout: "15s"},
		{Name: "stop", Timeout: "15s"},
		{Name: "monitor", Timeout: "20s", Interval: "10s", Depth: "0"},
		{Name: "reload", Timeout: "20s"},
		{Name: "meta-data", Timeout: "5s"},
		{Name: "validate-all", Timeout: "20s"},
	},
	Validate: validate,
	Start:    start,
	Stop:     stop,
	Monitor:  monitor,
	Reload:   reload,
}

func ocfMain() { ocf.Main(Agent) }

// Defaults for an action whose timeout Pacemaker did not pass (the
// meta-data's).
const (
	defStart   = 15 * time.Second
	defStop    = 15 * time.Second
	defMonitor = 20 * time.Second
	defReload  = 20 * time.Second
)

func timeoutOr(c *ocf.Context, def time.Duration) time.Duration {
	if c.Timeout > 0 {
		return c.Timeout
	}
	return def
}

// margin is what an action keeps of its timeout to report (and clean up)
// before Pacemaker gives up on it.
func margin(t time.Duration) time.Duration {
	return min(max(t/5, time.Second), 5*time.Second)
}

// files are this instance's run files. The hash is of the parameter as
// given, so that stop finds them even when the file is gone.
func files(c *ocf.Context) runFiles {
	return filesFor(c.StateFile(""), c.Params.String("configfile"))
}

// validate: only validate-all parses the file here; start does it itself
// (once), and stop, monitor and reload must work whatever the file says
// now.
func validate(c *ocf.Context) error {
	if c.Action != "validate-all" {
		return nil
	}
	_, _, err := prepare(c)
	return err
}

// prepare checks the lvsd binary and reads the configuration: a missing
// binary or file is OCF_ERR_INSTALLED (this node lacks it), a file with
// errors OCF_ERR_CONFIGURED with FILE:LINE first in the reason.
func prepare(c *ocf.Context) (string, *config.Config, error) {
	bin := c.Params.String("lvsd")
	if !c.HaveBinary(bin) {
		return "", nil, ocf.Errorf(ocf.ErrInstalled, "lvsd binary %s not found or not executable (parameter lvsd)", bin)
	}
	name := c.Params.String("configfile")
	path, tried := resolveConfig(name, fileExists)
	if path == "" || !fileExists(path) {
		if len(tried) == 0 {
			return "", nil, ocf.Errorf(ocf.ErrInstalled, "configuration file %s not found", name)
		}
		return "", nil, ocf.Errorf(ocf.ErrInstalled, "configuration file %s not found (looked for %s)", name, strings.Join(tried, ", "))
	}
	// as lvsd will read it: without VRRP (the cluster owns the addresses)
	cfg, err := config.LoadWith(path, config.Options{NoVRRP: true})
	if err != nil {
		var errs config.Errors
		lines := []string{err.Error()}
		if errors.As(err, &errs) {
			lines = lines[:0]
			for _, d := range errs {
				lines = append(lines, d.String())
			}
		}
		for i, l := range lines {
			if i < 20 {
				c.Log.Error("%s", l)
			}
		}
		return "", nil, ocf.Errorf(ocf.ErrConfigured, "%s", errorsReason(lines))
	}
	for i, w := range cfg.Warnings {
		if i < 20 {
			c.Log.Warn("%s", w.String())
		}
	}
	return path, cfg, nil
}

func start(c *ocf.Context) error {
	if err := c.RequireRoot(); err != nil {
		return err
	}
	f := files(c)
	if st, _, err := askStatus(f.Sock, 5*time.Second); err == nil {
		c.Log.Info("lvsd already running for %s", st.Config)
		return nil
	} else if pid := runningPid(f); pid > 0 {
		return ocf.Errorf(ocf.ErrGeneric, "lvsd pid %d runs for this resource but its control socket %s does not answer: %v", pid, f.Sock, err)
	}
	path, cfg, err := prepare(c)
	if err != nil {
		return err
	}
	if other := otherDirector(path, readPid, cmdlineOf); other != "" {
		return ocf.Errorf(ocf.ErrGeneric, "%s", other)
	}
	removeStale(f)
	t := timeoutOr(c, defStart)
	return launch(c, path, cfg.Global.LogFile, len(cfg.Virtuals), f, time.Now().Add(t-margin(t)))
}

// launch starts `lvsd run` detached and waits for its first full pass
// (LVSD_READY_FD), then for its control socket, until deadline. nvirt is
// the file's number of virtual services, for the log.
func launch(c *ocf.Context, path, logfile string, nvirt int, f runFiles, deadline time.Time) error {
	bin := c.Params.String("lvsd")
	readyR, readyW, err := os.Pipe()
	if err != nil {
		return err
	}
	defer readyR.Close()
	cmd := exec.Command(bin, "run", "--no-vrrp", "--pidfile", f.Pid, "--state", f.State, "--socket", f.Sock, path)
	cmd.Env = childEnv(os.Environ())
	cmd.ExtraFiles = []*os.File{readyW}
	detached(cmd)

	// Where lvsd logs, and how a failed start reads what it said.
	file, facility, known := logTarget(logfile)
	var output func() []string
	var afterStart, onReady []func()
	if file != "" {
		lf, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
		if err != nil {
			c.Log.Warn("cannot open logfile %s (%v): lvsd logs to syslog (daemon) instead", file, err)
			file, facility = "", "daemon"
		} else {
			off, _ := lf.Seek(0, io.SeekEnd)
			// lvsd writes its log through its own handle, reopened when
			// logrotate renames the file or on SIGHUP (no copytruncate
			// needed); its stdout and stderr (a panic) go to the file too
			cmd.Args = append(cmd.Args[:len(cmd.Args)-1], "--logfile", file, path)
			cmd.Stdout, cmd.Stderr = lf, lf
			afterStart = append(afterStart, func() { lf.Close() })
			output = func() []string { return tailFrom(file, off) }
		}
	} else if !known {
		c.Log.Warn("logfile %q is neither an absolute path nor a syslog facility: lvsd logs to syslog (daemon)", logfile)
	}
	if file == "" {
		self, err := os.Executable()
		if err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "cannot find the agent's own binary for the syslog relay: %v", err)
		}
		inR, inW, err := os.Pipe()
		if err != nil {
			return err
		}
		echoR, echoW, err := os.Pipe()
		if err != nil {
			return err
		}
		relay := exec.Command(self, relayArg, facility, "lvsd("+c.Instance+")")
		relay.Stdin, relay.Stdout = inR, echoW
		detached(relay)
		err = relay.Start()
		inR.Close()
		echoW.Close()
		if err != nil {
			inW.Close()
			echoR.Close()
			return ocf.Errorf(ocf.ErrGeneric, "starting the syslog relay: %v", err)
		}
		go relay.Wait() //nolint:errcheck // reaped while the agent lives; init after
		cmd.Stdout, cmd.Stderr = inW, inW
		lines := collectLines(echoR)
		afterStart = append(afterStart, func() { inW.Close() })
		onReady = append(onReady, func() { echoR.Close() }) // the relay stops echoing
		output = func() []string {
			select {
			case l := <-lines.lines:
				return l
			case <-time.After(2 * time.Second):
				echoR.Close()
				return nil
			}
		}
	}

	err = cmd.Start()
	readyW.Close()
	for _, fn := range afterStart {
		fn()
	}
	if err != nil {
		return ocf.Errorf(ocf.ErrInstalled, "cannot run %s: %v", bin, err)
	}
	pid := cmd.Process.Pid
	exited := make(chan int, 1)
	go func() { cmd.Wait(); exited <- cmd.ProcessState.ExitCode() }()
	readyc := make(chan bool, 1)
	go func() { l, _ := bufio.NewReader(readyR).ReadString('\n'); readyc <- l == "ready\n" }()

	failed := func(code int) error {
		if code == -1 {
			killPid(c, pid, 3*time.Second)
		}
		out := output()
		for i, l := range out {
			if i < 20 {
				c.Log.Info("lvsd: %s", l)
			}
		}
		oc, reason := StartFailure(code, out)
		return ocf.Errorf(oc, "%s", reason)
	}
	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	select {
	case ok := <-readyc:
		if !ok { // lvsd closed the descriptor without a word: it is ending
			select {
			case code := <-exited:
				return failed(code)
			case <-time.After(2 * time.Second):
				return failed(-1)
			}
		}
	case code := <-exited:
		return failed(code)
	case <-timer.C:
		return failed(-1)
	}
	for _, fn := range onReady {
		fn()
	}
	// lvsd says ready after its first pass, and listens on its socket from
	// before that pass: one "ping" (answered without the engine) proves
	// what monitor needs. A status instead waited for the engine's loop,
	// busy then with the first checks' results, and built the whole JSON:
	// 0.1-0.4 s of the start under emulation (bench/failover.sh's
	// timeline, from lvsd's started line to the op's exit).
	for {
		ans, peer, err := ask(f.Sock, "ping", 2*time.Second)
		if err == nil && strings.TrimSpace(ans) == "pong" {
			c.Log.Info("lvsd pid %d running for %s: %d virtual services, first pass done, control socket %s", pid, path, nvirt, f.Sock)
			if peer > 0 && peer != pid {
				c.Log.Warn("control socket %s is held by pid %d, not by lvsd pid %d", f.Sock, peer, pid)
			}
			return nil
		}
		if err == nil {
			err = fmt.Errorf("answer %q to ping", strings.TrimSpace(ans))
		}
		select {
		case code := <-exited:
			return failed(code)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			killPid(c, pid, 3*time.Second)
			return ocf.Errorf(ocf.ErrGeneric, "lvsd pid %d was ready but its control socket %s does not answer: %v", pid, f.Sock, err)
		}
	}
}

// killPid stops pid: SIGTERM, then SIGKILL after grace.
func killPid(c *ocf.Context, pid int, grace time.Duration) bool {
	syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, time.Now().Add(grace)) {
		return true
	}
	c.Log.Warn("lvsd pid %d still runs %v after SIGTERM: SIGKILL (no cleanstop: its virtual services stay in the kernel)", pid, grace)
	syscall.Kill(pid, syscall.SIGKILL)
	return waitGone(pid, time.Now().Add(2*time.Second))
}

// removeStale removes run files no live lvsd of ours holds (after a kill
// -9 or a crash). The state file stays: it tells the next lvsd which
// virtual services it owns.
func removeStale(f runFiles) {
	if pid := readPid(f.Pid); pid == 0 || !isOurs(pid, f.Pid) {
		os.Remove(f.Pid)
	}
	if peerOf(f.Sock) == 0 {
		os.Remove(f.Sock)
	}
}

func stop(c *ocf.Context) error {
	f := files(c)
	pid := runningPid(f)
	if pid == 0 {
		removeStale(f)
		c.Log.Debug("not running")
		return nil
	}
	t := timeoutOr(c, defStop)
	m := margin(t)
	// the time from SIGTERM to the exit, in the cluster's log: lvsd's
	// own stopped and exiting lines say where it went
	sent := time.Now()
	syscall.Kill(pid, syscall.SIGTERM)
	if waitGone(pid, time.Now().Add(t-m)) {
		gone := time.Since(sent)
		removeStale(f)
		c.Log.Info("lvsd pid %d stopped, %.1f ms after SIGTERM", pid, float64(gone)/float64(time.Millisecond))
		return nil
	}
	c.Log.Warn("lvsd pid %d still runs %v after SIGTERM: SIGKILL (no cleanstop: its virtual services stay in the kernel)", pid, (t - m).Round(time.Millisecond))
	syscall.Kill(pid, syscall.SIGKILL)
	if waitGone(pid, time.Now().Add(m-m/4)) {
		removeStale(f)
		return nil
	}
	return ocf.Errorf(ocf.ErrGeneric, "lvsd pid %d survives SIGKILL", pid)
}

func monitor(c *ocf.Context) error {
	f := files(c)
	t := timeoutOr(c, defMonitor)
	deadline := time.Now().Add(t - margin(t))
	st, err := status(f, time.Until(deadline))
	if err != nil {
		return err
	}
	v := Judge(st, c.CheckLevel, fileDigest(st.Config))
	if v.Code == ocf.ErrGeneric && time.Until(deadline) > 4*time.Second {
		// lvsd retries a refused write after a second: ask again once
		// before failing the resource for a transient refusal.
		time.Sleep(1500 * time.Millisecond)
		if st2, err := status(f, time.Until(deadline)); err == nil {
			v = Judge(st2, c.CheckLevel, fileDigest(st2.Config))
		}
	}
	for _, w := range v.Warnings {
		c.Log.Warn("%s", w)
	}
	if v.Code != 0 {
		return &ocf.Error{Code: v.Code, Reason: v.Reason}
	}
	return nil
}

// status asks the socket; when nothing answers it tells stopped (7) from
// a process that runs without answering (1).
func status(f runFiles, timeout time.Duration) (Status, error) {
	st, _, err := askStatus(f.Sock, max(timeout, time.Second))
	if err == nil {
		return st, nil
	}
	if pid := runningPid(f); pid > 0 {
		return st, ocf.Errorf(ocf.ErrGeneric, "lvsd pid %d runs but its control socket %s does not answer: %v", pid, f.Sock, err)
	}
	if errors.Is(err, errNoDaemon) {
		if pid := readPid(f.Pid); pid > 0 {
			return st, ocf.Errorf(ocf.NotRunning, "lvsd (pid %d in %s) is gone: it did not stop through this agent", pid, f.Pid)
		}
		return st, ocf.ErrNotRunning
	}
	if errors.Is(err, os.ErrPermission) {
		return st, ocf.Errorf(ocf.ErrPerm, "control socket %s: %v (monitor runs as root)", f.Sock, err)
	}
	return st, ocf.Errorf(ocf.ErrGeneric, "control socket %s: %v", f.Sock, err)
}

func reload(c *ocf.Context) error {
	f := files(c)
	ans, peer, err := ask(f.Sock, "reload", timeoutOr(c, defReload)-margin(timeoutOr(c, defReload)))
	if errors.Is(err, errNoDaemon) {
		return ocf.Errorf(ocf.NotRunning, "lvsd is not running: nothing to reload")
	}
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "reload through %s: %v", f.Sock, err)
	}
	if err := ReloadAnswer(ans); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	c.Log.Info("lvsd reloaded %s", c.Params.String("configfile"))
	if peer > 0 {
		warnOtherBinary(c, peer)
	}
	return nil
}

// warnOtherBinary: reload keeps the running lvsd; when the lvsd parameter
// now names another binary (or the binary was replaced), only a restart
// runs it.
func warnOtherBinary(c *ocf.Context, pid int) {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	if err != nil {
		return
	}
	want, err := filepath.EvalSymlinks(c.Params.String("lvsd"))
	if err != nil {
		return
	}
	switch {
	case strings.HasSuffix(exe, " (deleted)"):
		c.Log.Warn("lvsd pid %d runs a binary replaced since (%s): restart the resource to run the new one", pid, exe)
	case exe != want:
		c.Log.Warn("lvsd pid %d runs %s, the lvsd parameter names %s: restart the resource to switch", pid, exe, want)
	}
}
