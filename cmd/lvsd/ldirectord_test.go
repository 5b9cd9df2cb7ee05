package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ldEnv points the lookup directories and the run directory into a
// temporary directory (this host has an /etc/ha.d/ldirectord.cf of its own).
func ldEnv(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	oldHa, oldRun, oldStart, oldStop := haDirs, ldRunDir, startWait, stopWait
	haDirs = []string{filepath.Join(dir, "ha.d"), filepath.Join(dir, "ha.d", "conf")}
	ldRunDir = filepath.Join(dir, "run")
	for _, d := range append(haDirs, ldRunDir) {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { haDirs, ldRunDir, startWait, stopWait = oldHa, oldRun, oldStart, oldStop })
	return dir
}

const ldGoodCf = `checkinterval=1
logfile="%s"
virtual=192.0.2.80:80
	real=10.0.0.1:80 gate
	checktype=on
`

func ldWriteCf(t *testing.T, path, text string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func goodCf(t *testing.T, dir, name string) string {
	return ldWriteCf(t, filepath.Join(dir, name), fmt.Sprintf(ldGoodCf, filepath.Join(dir, "ld.log")))
}

// ldRun runs one command line as ldirectord (argv0 "ldirectord") or as
// lvsd (through run, as main does).
func ldRun(asLd bool, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	var rc int
	if asLd {
		rc = ldirectordMain("ldirectord", args, &out, &errb)
	} else {
		rc = run(args, &out, &errb)
	}
	return rc, out.String(), errb.String()
}

func TestLdLookup(t *testing.T) {
	dir := ldEnv(t)
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	os.Chdir(dir)
	ldWriteCf(t, filepath.Join(haDirs[0], "a.cf"), "")
	ldWriteCf(t, filepath.Join(haDirs[1], "a.cf"), "")
	ldWriteCf(t, filepath.Join(haDirs[1], "b.cf"), "")
	ldWriteCf(t, filepath.Join(dir, "b.cf"), "")
	ldWriteCf(t, filepath.Join(dir, "c.cf"), "")
	os.MkdirAll(filepath.Join(haDirs[0], "d.cf"), 0o755) // a directory does not count
	ldWriteCf(t, filepath.Join(dir, "d.cf"), "")
	for name, want := range map[string]string{
		"a.cf":                           filepath.Join(haDirs[0], "a.cf"), // /etc/ha.d first
		"b.cf":                           filepath.Join(haDirs[1], "b.cf"), // then /etc/ha.d/conf
		"c.cf":                           filepath.Join(dir, "c.cf"),       // then the path, made absolute
		"d.cf":                           filepath.Join(dir, "d.cf"),
		"./c.cf":                         filepath.Join(dir, "c.cf"),
		filepath.Join(dir, "b.cf"):       filepath.Join(dir, "b.cf"), // absolute: as it is
		filepath.Join(haDirs[1], "a.cf"): filepath.Join(haDirs[1], "a.cf"),
	} {
		got, err := lookupConfig(name)
		if err != nil || got != want {
			t.Errorf("lookupConfig(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	_, err := lookupConfig("nosuch.cf")
	if err == nil || !strings.Contains(err.Error(), "Config file nosuch.cf not found") ||
		!strings.Contains(err.Error(), filepath.Join(haDirs[1], "nosuch.cf")) {
		t.Errorf("missing: %v", err)
	}
	// ldirectord's exit code for it: 1, for every command
	for _, asLd := range []bool{true, false} {
		if rc, _, errs := ldRun(asLd, "nosuch.cf", "status"); rc != 1 || !strings.Contains(errs, "not found") {
			t.Errorf("ldirectord=%v: missing config: rc %d %s", asLd, rc, errs)
		}
	}
}

func TestLdParseArgs(t *testing.T) {
	for _, c := range []struct {
		args    string
		out     ldOutcome
		config  string
		command string
		debug   bool
	}{
		{"start", ldCommandLine, "ldirectord.cf", "start", false},
		{"x.cf stop", ldCommandLine, "x.cf", "stop", false},
		{"-d x.cf start", ldCommandLine, "x.cf", "start", true},
		{"--debug status", ldCommandLine, "ldirectord.cf", "status", true},
		{"-- -d.cf reload", ldCommandLine, "-d.cf", "reload", false},
		{"-d -- x.cf force-reload", ldCommandLine, "x.cf", "force-reload", true},
		{"x.cf try-restart extra ignored", ldCommandLine, "x.cf", "try-restart", false}, // ldirectord ignores the rest
		{"/etc/ha.d/x.cf restart", ldCommandLine, "/etc/ha.d/x.cf", "restart", false},
		{"", ldUsageErr, "", "", false},
		{"bogus", ldUsageErr, "", "", false},
		{"x.cf bogus", ldUsageErr, "", "", false},
		{"start x.cf", ldUsageErr, "", "", false},    // ldirectord: CONFIG first
		{"x.cf -d start", ldUsageErr, "", "", false}, // require_order: "-d" is the command
		{"-x start", ldUsageErr, "", "", false},
		{"--bogus start", ldUsageErr, "", "", false},
		{"-h", ldHelp, "", "", false},
		{"-?", ldHelp, "", "", false},
		{"--help start", ldHelp, "", "", false},
		{"-dh", ldHelp, "", "", true},
		{"-v", ldVersion, "", "", false},
		{"-hv", ldHelp, "", "", false}, // ldirectord tests -h first
	} {
		a, out, _ := parseLdirectordArgs(strings.Fields(c.args))
		if out != c.out {
			t.Errorf("%q: outcome %d, want %d", c.args, out, c.out)
			continue
		}
		if out == ldCommandLine && (a.config != c.config || a.command != c.command || a.debug != c.debug) {
			t.Errorf("%q: %+v", c.args, a)
		}
	}
	if _, _, msg := parseLdirectordArgs([]string{"-x"}); msg != "Unknown option: x" {
		t.Errorf("msg %q", msg)
	}
}

func TestLdUsage(t *testing.T) {
	ldEnv(t)
	// as ldirectord: its usage and pod2usage's exit 255
	for _, args := range [][]string{nil, {"bogus"}, {"x.cf", "bogus"}, {"-x"}} {
		rc, _, errs := ldRun(true, args...)
		if rc != 255 || !strings.Contains(errs, "ldirectord [-d|--debug] [--] [configfile] start | stop | restart |") {
			t.Errorf("%q: rc %d\n%s", args, rc, errs)
		}
	}
	if rc, out, _ := ldRun(true, "-h"); rc != 0 || !strings.Contains(out, "Usage:") || !strings.Contains(out, "lvsd (ocf-lvs)") {
		t.Errorf("-h: rc %d\n%s", rc, out)
	}
	if rc, out, _ := ldRun(true, "--version"); rc != 0 || !strings.HasPrefix(out, "lvsd (ocf-lvs)") {
		t.Errorf("-v: rc %d %s", rc, out)
	}
	// as lvsd: lvsd's usage, 2
	for _, args := range [][]string{{"-d", "x.cf", "bogus"}, {"-d"}, {"status", "a.cf", "b.cf"}, {"start", "--bogus"}} {
		rc, _, errs := ldRun(false, args...)
		if rc != 2 || !strings.Contains(errs, "usage: lvsd [-d] [CONFIG] start|stop") {
			t.Errorf("lvsd %q: rc %d\n%s", args, rc, errs)
		}
	}
	for _, c := range ldCommands {
		if rc, out, _ := ldRun(false, c, "--help"); rc != 0 || !strings.Contains(out, "usage: lvsd [-d] [CONFIG]") {
			t.Errorf("lvsd %s --help: rc %d\n%s", c, rc, out)
		}
	}
	if rc, out, _ := ldRun(false, "--help"); rc != 0 || !strings.Contains(out, "try-restart") || !strings.Contains(out, "(as ldirectord)") {
		t.Errorf("lvsd --help: rc %d\n%s", rc, out)
	}
	// lvsd's own commands keep their meaning
	if rc, _, errs := ldRun(false, "x.cf", "bogus"); rc != 2 || !strings.Contains(errs, `unknown command "x.cf"`) {
		t.Errorf("lvsd x.cf bogus: rc %d %s", rc, errs)
	}
}

// ldHelper is a stand-in daemon: this test binary (alive() takes *.test
// for lvsd), waiting for signals as the mode says.
func TestLdHelperProcess(t *testing.T) {
	mode := os.Getenv("LD_TEST_HELPER")
	if mode == "" {
		return
	}
	sig := make(chan os.Signal, 4)
	switch mode {
	case "term":
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGHUP)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		signal.Notify(sig, syscall.SIGHUP)
	}
	fmt.Println("ready")
	for s := range sig {
		if s == syscall.SIGHUP {
			os.WriteFile(os.Getenv("LD_TEST_HUP"), []byte("hup\n"), 0o644)
			continue
		}
		time.Sleep(100 * time.Millisecond) // a cleanstop takes a moment
		os.Exit(0)
	}
}

type helper struct {
	cmd  *exec.Cmd
	hup  string
	done chan struct{}
}

func startHelper(t *testing.T, mode string) *helper {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	h := &helper{hup: filepath.Join(t.TempDir(), "hup"), done: make(chan struct{})}
	h.cmd = exec.Command(self, "-test.run=^TestLdHelperProcess$")
	h.cmd.Env = append(os.Environ(), "LD_TEST_HELPER="+mode, "LD_TEST_HUP="+h.hup)
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := h.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { h.cmd.Wait(); close(h.done) }()
	t.Cleanup(func() { h.cmd.Process.Kill(); <-h.done })
	if l, _ := bufio.NewReader(out).ReadString('\n'); l != "ready\n" {
		t.Fatalf("helper: %q", l)
	}
	return h
}

func (h *helper) gotHUP() bool { _, err := os.Stat(h.hup); return err == nil }

func writePid(t *testing.T, cf string, pid int) string {
	t.Helper()
	p := filepath.Join(ldRunDir, filepath.Base(cf)+".pid")
	if err := os.WriteFile(p, []byte(fmt.Sprintf("%d\n", pid)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// notDirector is a pid that is not a director: a sleep of ours.
func notDirector(t *testing.T) int {
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// Until the exec is complete the child's cmdline can still read as the
	// test binary's, which alive() takes for a director (seen in the VM).
	for i := 0; i < 1000; i++ {
		if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", cmd.Process.Pid)); strings.HasPrefix(filepath.Base(string(b)), "sleep\x00") {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	return cmd.Process.Pid
}

// status, stop, try-restart and reload of a stopped director, and of one
// whose pid file is stale, with ldirectord's exit codes in both names.
func TestLdExitCodesNotRunning(t *testing.T) {
	dir := ldEnv(t)
	cf := goodCf(t, dir, "ld.cf")
	for _, asLd := range []bool{true, false} {
		name := map[bool]string{true: "ldirectord", false: "lvsd"}[asLd]
		os.Remove(filepath.Join(ldRunDir, "ld.cf.pid"))
		rc, out, errs := ldRun(asLd, cf, "status")
		if rc != 3 || !strings.Contains(out, name+" is stopped for "+cf) {
			t.Errorf("%s status, stopped: rc %d\n%s%s", name, rc, out, errs)
		}
		for cmd, want := range map[string]int{"stop": 0, "try-restart": 0, "reload": 1, "force-reload": 1} {
			if rc, out, errs := ldRun(asLd, cf, cmd); rc != want {
				t.Errorf("%s %s, stopped: rc %d, want %d\n%s%s", name, cmd, rc, want, out, errs)
			}
		}
		// the subcommand form says the same
		if rc, _, _ := ldRun(false, "status", cf); rc != 3 {
			t.Errorf("lvsd status FILE: rc %d", rc)
		}
		for _, content := range []string{fmt.Sprint(notDirector(t)), "", "garbage"} {
			p := filepath.Join(ldRunDir, "ld.cf.pid")
			os.WriteFile(p, []byte(content+"\n"), 0o644)
			rc, out, errs := ldRun(asLd, cf, "status")
			// the agent maps rc 1 with "ldirectord stale pid file" to not running
			if rc != 1 || !strings.Contains(errs, name+" stale pid file "+p+" for "+cf) || !strings.Contains(out, "is stopped") {
				t.Errorf("%s status, pid file %q: rc %d\n%s%s", name, content, rc, out, errs)
			}
			if rc, _, _ := ldRun(asLd, cf, "stop"); rc != 0 {
				t.Errorf("%s stop, stale: rc %d", name, rc)
			}
			if rc, _, _ := ldRun(asLd, cf, "reload"); rc != 1 {
				t.Errorf("%s reload, stale: rc %d", name, rc)
			}
		}
	}
}

// The configuration is read before any command: an error is 2 for every
// command (lvsd reload: 1, as the issue asks), named FILE:LINE, and the
// running director is not signalled.
func TestLdConfigErrors(t *testing.T) {
	dir := ldEnv(t)
	cf := ldWriteCf(t, filepath.Join(dir, "bad.cf"), "virtual=192.0.2.80:80\n\treal=10.0.0.1:80 bogus\n")
	h := startHelper(t, "term")
	writePid(t, cf, h.cmd.Process.Pid)
	for _, asLd := range []bool{true, false} {
		for _, cmd := range ldCommands {
			want := 2
			if !asLd && (cmd == "reload" || cmd == "force-reload") {
				want = 1
			}
			rc, _, errs := ldRun(asLd, cf, cmd)
			if rc != want || !strings.Contains(errs, cf+":2") {
				t.Errorf("ldirectord=%v %s: rc %d, want %d\n%s", asLd, cmd, rc, want, errs)
			}
			if strings.Contains(cmd, "reload") && !strings.Contains(errs, "keeps its configuration") {
				t.Errorf("%s: %s", cmd, errs)
			}
		}
	}
	select {
	case <-h.done:
		t.Fatal("the running director was stopped")
	default:
	}
	if h.gotHUP() {
		t.Fatal("the running director was sent SIGHUP")
	}
}

func TestLdRunning(t *testing.T) {
	dir := ldEnv(t)
	cf := goodCf(t, dir, "ld.cf")
	h := startHelper(t, "term")
	pid := h.cmd.Process.Pid
	writePid(t, cf, pid)
	rc, _, errs := ldRun(true, cf, "status")
	if rc != 0 || errs != fmt.Sprintf("ldirectord for %s is running with pid: %d\n", cf, pid) {
		t.Errorf("status: rc %d %q", rc, errs)
	}
	if rc, out, _ := ldRun(false, "status", cf); rc != 0 || !strings.Contains(out, fmt.Sprintf("running with pid: %d", pid)) {
		t.Errorf("lvsd status: rc %d %q", rc, out)
	}
	// --json: stdout is for the JSON alone (no socket here: nothing)
	if rc, out, errs := ldRun(false, "status", "--json", cf); rc != 0 || out != "" || !strings.Contains(errs, fmt.Sprintf("running with pid: %d", pid)) {
		t.Errorf("lvsd status --json: rc %d stdout %q stderr %q", rc, out, errs)
	}
	// start when running: 0, nothing started
	if rc, _, errs := ldRun(true, cf, "start"); rc != 0 || !strings.Contains(errs, "already running") {
		t.Errorf("start: rc %d %s", rc, errs)
	}
	// reload: no control socket here, so SIGHUP
	if rc, _, errs := ldRun(false, "reload", cf); rc != 0 {
		t.Errorf("reload: rc %d %s", rc, errs)
	}
	waitFor(t, "SIGHUP", h.gotHUP)
	os.Remove(h.hup)
	if rc, _, errs := ldRun(true, cf, "force-reload"); rc != 0 {
		t.Errorf("force-reload: rc %d %s", rc, errs)
	}
	waitFor(t, "SIGHUP", h.gotHUP)
	// stop: SIGTERM and it returns once the process is gone
	rc, out, errs := ldRun(false, cf, "stop")
	if rc != 0 || !strings.Contains(out, "stopped") {
		t.Fatalf("stop: rc %d\n%s%s", rc, out, errs)
	}
	select {
	case <-h.done:
	case <-time.After(time.Second):
		t.Fatal("stop returned before the process was gone")
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("no %s", what)
		}
	}
}

// A director that does not end on SIGTERM: stop says so and fails; it
// does not kill -9.
func TestLdStopTimeout(t *testing.T) {
	dir := ldEnv(t)
	cf := goodCf(t, dir, "ld.cf")
	h := startHelper(t, "ignore-term")
	writePid(t, cf, h.cmd.Process.Pid)
	stopWait = 300 * time.Millisecond
	for _, cmd := range []string{"stop", "restart", "try-restart"} {
		rc, _, errs := ldRun(true, cf, cmd)
		if rc != 1 || !strings.Contains(errs, "still running") || !strings.Contains(errs, "not killed") {
			t.Errorf("%s: rc %d %s", cmd, rc, errs)
		}
	}
	select {
	case <-h.done:
		t.Fatal("killed")
	default:
	}
}

func TestLdBadLogfile(t *testing.T) {
	dir := ldEnv(t)
	for lf, want := range map[string]string{
		`"/nonexistent-dir/x.log"`: "logfile:",
		`"nofacility"`:             "neither an absolute path nor a syslog facility",
	} {
		cf := ldWriteCf(t, filepath.Join(dir, "lf.cf"), "logfile="+lf+"\nvirtual=192.0.2.80:80\n\treal=10.0.0.1:80 gate\n")
		if rc, _, errs := ldRun(true, cf, "start"); rc != 1 || !strings.Contains(errs, want) {
			t.Errorf("logfile=%s: rc %d %s", lf, rc, errs)
		}
	}
}

// start waits for the daemon: one that ends first fails start, with its
// last lines (here: no IPVS on this host), in both names; the log has them.
func TestLdStartDaemonFails(t *testing.T) {
	noIPVS(t)
	dir := ldEnv(t)
	t.Setenv("LVSD_TEST_MAIN", "1") // the daemon is this test binary again
	cf := goodCf(t, dir, "ld.cf")
	for _, asLd := range []bool{true, false} {
		rc, _, errs := ldRun(asLd, cf, "start")
		if rc != 1 || !strings.Contains(errs, "before it was ready") || !strings.Contains(errs, "the kernel has no IPVS") {
			t.Errorf("ldirectord=%v: rc %d\n%s", asLd, rc, errs)
		}
	}
	log, _ := os.ReadFile(filepath.Join(dir, "ld.log"))
	if strings.Count(string(log), "the kernel has no IPVS") != 2 {
		t.Errorf("log:\n%s", log)
	}
	// -d: in the foreground, the same message on our stderr
	if rc, _, errs := ldRun(true, "-d", cf, "start"); rc != 1 || !strings.Contains(errs, "the kernel has no IPVS") {
		t.Errorf("-d: rc %d %s", rc, errs)
	}
}

// As ldirectord the detached daemon keeps ldirectord's command line (the
// agent's pgrep finds it); its lvsd run arguments travel in the
// environment and do not reach what it runs.
func TestLdDaemonArgv(t *testing.T) {
	dir := ldEnv(t)
	c := &ldCtl{prog: "ldirectord", compat: true, argv0: "/x/ldirectord", ldArgs: ldArgs{config: "ld.cf"}, path: filepath.Join(dir, "ld.cf")}
	argv, env := c.daemonArgv()
	if strings.Join(argv, " ") != "/x/ldirectord ld.cf start" || len(env) != 1 || !strings.HasPrefix(env[0], envRunArgs+"=") {
		t.Fatalf("%q %q", argv, env)
	}
	var ra []string
	if err := json.Unmarshal([]byte(strings.TrimPrefix(env[0], envRunArgs+"=")), &ra); err != nil || ra[len(ra)-1] != c.path {
		t.Fatalf("%q %v", ra, err)
	}
	c.compat = false
	argv, _ = c.daemonArgv()
	if argv[1] != "run" || argv[len(argv)-1] != c.path {
		t.Fatalf("%q", argv)
	}
	t.Setenv(envRunArgs, `["--help"]`)
	rc, out, _ := ldRun(false)
	if rc != 0 || !strings.Contains(out, "usage: lvsd run") || os.Getenv(envRunArgs) != "" {
		t.Fatalf("rc %d %q", rc, out)
	}
}

type memSink struct {
	mu    sync.Mutex
	lines []string
	block chan struct{}
}

func (m *memSink) write(l string) {
	if m.block != nil {
		<-m.block
	}
	m.mu.Lock()
	m.lines = append(m.lines, l)
	m.mu.Unlock()
}
func (m *memSink) close() {}

type failWriter struct{ n int }

func (f *failWriter) Write(p []byte) (int, error) { f.n++; return 0, io.ErrClosedPipe }

// The log writer copies lines (a last one without newline too), drops a
// failing tee, and never makes the daemon wait for a slow log: lines
// beyond its queue are dropped and counted.
func TestLogRelayLines(t *testing.T) {
	var tee bytes.Buffer
	s := &memSink{}
	relayLines(strings.NewReader("a\nb\nc"), &tee, s, 10)
	if strings.Join(s.lines, "") != "a\nb\nc\n" || tee.String() != "a\nb\nc\n" {
		t.Fatalf("%q %q", s.lines, tee.String())
	}
	fw := &failWriter{}
	s = &memSink{}
	relayLines(strings.NewReader("a\nb\n"), fw, s, 10)
	if fw.n != 1 || len(s.lines) != 2 {
		t.Fatalf("tee writes %d, lines %q", fw.n, s.lines)
	}
	s = &memSink{block: make(chan struct{})}
	var in strings.Builder
	for i := 0; i < 100; i++ {
		fmt.Fprintf(&in, "line %d\n", i)
	}
	done := make(chan struct{})
	go func() { relayLines(strings.NewReader(in.String()), nil, s, 5); close(done) }()
	time.Sleep(100 * time.Millisecond)
	close(s.block)
	<-done
	last := s.lines[len(s.lines)-1]
	if len(s.lines) > 10 || !strings.Contains(last, "lines dropped") {
		t.Fatalf("%d lines, last %q", len(s.lines), last)
	}
}

// A log file renamed away (logrotate) is reopened at its path.
func TestLogRelayFileRotation(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ld.log")
	s := &fileSink{path: p}
	s.write("one\n")
	os.Rename(p, p+".1")
	s.write("two\n")
	os.Remove(p)
	s.write("three\n")
	s.close()
	a, _ := os.ReadFile(p + ".1")
	b, _ := os.ReadFile(p)
	if string(a) != "one\n" || string(b) != "three\n" {
		t.Fatalf("%q %q", a, b)
	}
}

func TestLogRelayStamp(t *testing.T) {
	if got := stampRe.ReplaceAllString("07:23:07.452 lvsd run: x", ""); got != "lvsd run: x" {
		t.Fatal(got)
	}
}
