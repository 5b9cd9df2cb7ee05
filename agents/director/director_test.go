package director

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gsyslog "github.com/hashicorp/go-syslog"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

var update = flag.Bool("update", false, "rewrite golden files")

const td = "../../testdata/director"

// run runs one action in-process with env; it returns the code and stderr.
func run(t *testing.T, env map[string]string, action string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := ocf.Run(Agent, []string{action}, func(k string) string { return env[k] }, &out, &errb)
	return code, errb.String()
}

func abs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestMetadataGolden(t *testing.T) {
	var out, errb bytes.Buffer
	if code := ocf.Run(Agent, []string{"meta-data"}, func(string) string { return "" }, &out, &errb); code != 0 {
		t.Fatalf("meta-data: %d %s", code, errb.String())
	}
	golden := filepath.Join(td, "metadata.golden")
	if *update {
		os.WriteFile(golden, out.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, out.Bytes()) {
		t.Errorf("meta-data differs from %s (go test -update):\n%s", golden, out.String())
	}
	testenv.ValidateOCFMetadata(t, out.Bytes())
}

// The parameters and action defaults ocf:heartbeat:ldirectord users
// expect (same names, same defaults, configfile unique).
func TestParameters(t *testing.T) {
	want := map[string]struct {
		def    string
		unique bool
	}{
		"configfile": {"/etc/ha.d/ldirectord.cf", true},
		"lvsd":       {"/usr/sbin/lvsd", false},
	}
	if len(Agent.Params) != len(want) {
		t.Fatalf("%d parameters, want %d", len(Agent.Params), len(want))
	}
	for _, p := range Agent.Params {
		w, ok := want[p.Name]
		if !ok || p.Default != w.def || p.Unique != w.unique || p.Required {
			t.Errorf("parameter %+v, want %+v", p, w)
		}
	}
	v, err := ocf.Parse(Agent.Params, func(string) string { return "" })
	if err != nil || v.String("configfile") != "/etc/ha.d/ldirectord.cf" || v.String("lvsd") != "/usr/sbin/lvsd" {
		t.Errorf("defaults: %v %v", v, err)
	}
	acts := map[string]string{}
	for _, a := range Agent.Actions {
		acts[a.Name] = a.Timeout + "/" + a.Interval + "/" + a.Depth
	}
	for name, w := range map[string]string{"start": "15s//", "stop": "15s//", "monitor": "20s/10s/0",
		"reload": "20s//", "validate-all": "20s//", "meta-data": "5s//"} {
		if acts[name] != w {
			t.Errorf("action %s: %q, want %q", name, acts[name], w)
		}
	}
}

func TestValidateAll(t *testing.T) {
	good, bad := abs(t, td+"/ldirectord.cf"), abs(t, td+"/bad.cf")
	for _, c := range []struct {
		name, cfg, bin string
		code           int
		reason         []string
	}{
		{"good", good, "/bin/true", 0, nil},
		{"bad file", bad, "/bin/true", ocf.ErrConfigured, []string{"ocf-exit-reason:" + bad + ":6: forward method", "(1 more in the log)"}},
		{"missing binary", good, "/nonexistent/lvsd", ocf.ErrInstalled, []string{"ocf-exit-reason:lvsd binary /nonexistent/lvsd not found"}},
		{"missing file", td + "/none.cf", "/bin/true", ocf.ErrInstalled, []string{"ocf-exit-reason:configuration file", "none.cf not found"}},
		{"a directory", abs(t, td), "/bin/true", ocf.ErrInstalled, []string{"not found"}},
	} {
		env := map[string]string{"OCF_RESKEY_configfile": c.cfg, "OCF_RESKEY_lvsd": c.bin}
		code, stderr := run(t, env, "validate-all")
		if code != c.code {
			t.Errorf("%s: code %d, want %d\n%s", c.name, code, c.code, stderr)
		}
		for _, r := range c.reason {
			if !strings.Contains(stderr, r) {
				t.Errorf("%s: no %q in\n%s", c.name, r, stderr)
			}
		}
		if c.code == ocf.ErrConfigured && !strings.Contains(stderr, "ERROR: "+bad+":8: checkport") {
			t.Errorf("%s: the second error is not logged:\n%s", c.name, stderr)
		}
	}
	// Only validate-all parses in Validate: stop and monitor must work
	// whatever the file says now.
	env := map[string]string{"OCF_RESKEY_configfile": bad, "OCF_RESKEY_lvsd": "/nonexistent", "HA_RSCTMP": t.TempDir()}
	for _, a := range []string{"stop", "monitor"} {
		if code, stderr := run(t, env, a); code != map[string]int{"stop": 0, "monitor": 7}[a] {
			t.Errorf("%s with a bad file and no binary: %d\n%s", a, code, stderr)
		}
	}
}

func TestResolveConfig(t *testing.T) {
	have := map[string]bool{"/etc/ha.d/conf/ld.cf": true, "/etc/ha.d/both.cf": true, "/etc/ha.d/conf/both.cf": true}
	exists := func(p string) bool { return have[p] }
	for in, want := range map[string]string{
		"/srv/x.cf": "/srv/x.cf", "/srv//y/../x.cf": "/srv/x.cf",
		"ld.cf": "/etc/ha.d/conf/ld.cf", "both.cf": "/etc/ha.d/both.cf", "nowhere.cf": "",
	} {
		got, tried := resolveConfig(in, exists)
		if got != want {
			t.Errorf("%s: %q, want %q", in, got, want)
		}
		if want == "" && (len(tried) != 3 || tried[0] != "/etc/ha.d/nowhere.cf" || tried[1] != "/etc/ha.d/conf/nowhere.cf") {
			t.Errorf("%s: tried %v", in, tried)
		}
	}
}

func TestFilesFor(t *testing.T) {
	a := filesFor("/run/resource-agents/director-lb", "/etc/ha.d/ldirectord.cf")
	b := filesFor("/run/resource-agents/director-lb", "/etc/ha.d/other/ldirectord.cf")
	c := filesFor("/run/resource-agents/director-lb2", "/etc/ha.d/ldirectord.cf")
	if a == b || a == c || a.Sock == b.Sock || a.Pid == c.Pid {
		t.Errorf("not unique per instance and file: %v %v %v", a, b, c)
	}
	if !strings.HasPrefix(a.Pid, "/run/resource-agents/director-lb-") || !strings.HasSuffix(a.Pid, ".pid") ||
		strings.TrimSuffix(a.Pid, ".pid") != strings.TrimSuffix(a.Sock, ".sock") || !strings.HasSuffix(a.State, ".state") {
		t.Errorf("names: %+v", a)
	}
	if a != filesFor("/run/resource-agents/director-lb", "/etc/ha.d/ldirectord.cf") {
		t.Error("not stable")
	}
	long := filesFor("/"+strings.Repeat("d", 100)+"/director-x", "/etc/ha.d/ldirectord.cf")
	long2 := filesFor("/"+strings.Repeat("d", 100)+"/director-y", "/etc/ha.d/ldirectord.cf")
	if len(long.Sock) > maxSockPath || !strings.HasPrefix(long.Sock, "/run/lvsd/director-") || long.Sock == long2.Sock {
		t.Errorf("long socket path: %q %q", long.Sock, long2.Sock)
	}
}

func loadStatus(t *testing.T, name string) Status {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(td, name))
	if err != nil {
		t.Fatal(err)
	}
	var st Status
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Monitor decisions over status answers, by depth.
func TestJudge(t *testing.T) {
	for _, c := range []struct {
		file   string
		level  int
		digest string
		code   int
		reason []string // in the reason, in order
		warn   string
	}{
		{"status-ok.json", 0, "other", 0, nil, ""},
		{"status-ok.json", 10, "DIGEST", 0, nil, ""},
		{"status-ok.json", 20, "DIGEST", 0, nil, ""}, // fallback in use; unchecked virtual not judged
		{"status-ok.json", 10, "changed", 0, nil, "/etc/ha.d/ldirectord.cf changed since lvsd loaded it (2025-01-02T03:04:05Z) and was not reloaded"},
		{"status-ok.json", 10, "", 0, nil, "cannot read it"},
		{"status-mismatch.json", 0, "DIGEST", 0, nil, ""},
		{"status-mismatch.json", 10, "DIGEST", 1, []string{"differs from the desired one",
			"tcp:192.168.10.3:80 real 192.168.10.5:80: not in the kernel",
			"tcp:192.168.10.7:443 fallback 127.0.0.1:443: kernel weight 5, want 1", "(6 netlink write errors so far)"}, ""},
		{"status-mismatch.json", 20, "DIGEST", 1, []string{"differs"}, ""}, // 20 includes 10
		{"status-degraded.json", 10, "DIGEST", 0, nil, ""},                 // reals out of the table are not desired
		{"status-degraded.json", 20, "DIGEST", Degraded, []string{"no real server up and no fallback for tcp:192.168.10.3:80 (line 9)"}, ""},
	} {
		v := Judge(loadStatus(t, c.file), c.level, c.digest)
		name := fmt.Sprintf("%s level %d digest %q", c.file, c.level, c.digest)
		if v.Code != c.code {
			t.Errorf("%s: code %d, want %d (%s)", name, v.Code, c.code, v.Reason)
		}
		rest := v.Reason
		for _, r := range c.reason {
			i := strings.Index(rest, r)
			if i < 0 {
				t.Errorf("%s: no %q (in order) in %q", name, r, v.Reason)
				break
			}
			rest = rest[i+len(r):]
		}
		if c.code == 0 && v.Reason != "" {
			t.Errorf("%s: reason %q on success", name, v.Reason)
		}
		w := strings.Join(v.Warnings, "\n")
		if (c.warn == "") != (w == "") || !strings.Contains(w, c.warn) {
			t.Errorf("%s: warnings %q, want %q", name, w, c.warn)
		}
	}
	// A refused reload is counted in the warning.
	st := loadStatus(t, "status-ok.json")
	st.Counts.ReloadErrors = 2
	if w := Judge(st, 10, "x").Warnings; len(w) != 1 || !strings.Contains(w[0], "2 reload(s) refused") {
		t.Errorf("warnings %q", w)
	}
	// Many differences: the first three, and a count.
	st = loadStatus(t, "status-ok.json")
	for i := range st.Virtuals[0].Reals[:2] {
		st.Virtuals[0].Reals[i].InKernel = false
	}
	st.Virtuals[1].Reals[0].InKernel, st.Virtuals[1].Reals[1].InKernel = false, false
	if v := Judge(st, 10, "DIGEST"); v.Code != 1 || !strings.HasSuffix(v.Reason, "and 1 more") {
		t.Errorf("%+v", v)
	}
}

func TestReloadAnswer(t *testing.T) {
	if err := ReloadAnswer("ok\n"); err != nil {
		t.Error(err)
	}
	err := ReloadAnswer("/etc/x.cf:6: forward method must be gate, masq or ipip\n/etc/x.cf:7: warning: whatever\n/etc/x.cf:9: bad\nrefused\n")
	if err == nil || err.Error() != "reload refused, the running configuration is kept: /etc/x.cf:6: forward method must be gate, masq or ipip (1 more in the log)" {
		t.Errorf("%v", err)
	}
	for _, a := range []string{"", "error: unknown request", "refused\n"} {
		if ReloadAnswer(a) == nil {
			t.Errorf("%q accepted", a)
		}
	}
}

func TestStartFailure(t *testing.T) {
	for _, c := range []struct {
		code   int
		out    []string
		ocf    int
		reason string
	}{
		{1, []string{"07:20:34.368 lvsd run: the kernel has no IPVS: load ip_vs (modprobe ip_vs)"}, 5, "lvsd run: the kernel has no IPVS: load ip_vs (modprobe ip_vs)"},
		{2, []string{"/etc/x.cf:3: unknown directive \"bogus\"", "/etc/x.cf:4: bad", "/etc/x.cf:1: warning: w"}, 6, "/etc/x.cf:3: unknown directive \"bogus\" (1 more in the log)"},
		{2, nil, 6, "lvsd refused the configuration (exit 2)"},
		{1, []string{"07:20:34.368 lvsd run: already running for this configuration with pid 5 (/p)", ""}, 1, "lvsd exited with status 1 before it was ready: lvsd run: already running for this configuration with pid 5 (/p)"},
		{-1, []string{"07:20:34.368 started: 1 virtual services"}, 1, "lvsd did not finish its first pass in time: started: 1 virtual services"},
		{-1, nil, 1, "lvsd did not finish its first pass in time"},
	} {
		code, reason := StartFailure(c.code, c.out)
		if code != c.ocf || reason != c.reason {
			t.Errorf("exit %d %q: %d %q, want %d %q", c.code, c.out, code, reason, c.ocf, c.reason)
		}
	}
}

func TestLogTarget(t *testing.T) {
	for in, want := range map[string][3]string{
		"/var/log/ldirectord.log": {"/var/log/ldirectord.log", "", "true"},
		"local0":                  {"", "local0", "true"},
		"DAEMON":                  {"", "daemon", "true"},
		"ldirectord.log":          {"", "daemon", "false"},
		"":                        {"", "daemon", "false"},
	} {
		f, fac, ok := logTarget(in)
		if f != want[0] || fac != want[1] || strconv.FormatBool(ok) != want[2] {
			t.Errorf("%q: %q %q %v", in, f, fac, ok)
		}
	}
}

func TestChildEnv(t *testing.T) {
	got := childEnv([]string{"PATH=/bin", "LVSD_READY_FD=9", "NOTIFY_SOCKET=/run/systemd/notify", "HA_RSCTMP=/x",
		"WATCHDOG_USEC=30000000", "WATCHDOG_PID=1", "LISTEN_FDS=1", "LISTEN_PID=1"})
	if strings.Join(got, " ") != "PATH=/bin HA_RSCTMP=/x LVSD_READY_FD=3" {
		t.Errorf("%q", got)
	}
}

// fakeLvsd answers on a control socket the way `lvsd run` does; answer
// maps a request line to the reply.
func fakeLvsd(t *testing.T, sock string, answer func(req string) string) {
	t.Helper()
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				l, err := bufio.NewReader(c).ReadString('\n')
				if err != nil {
					return
				}
				io.WriteString(c, answer(strings.TrimSpace(l)))
			}()
		}
	}()
}

// statusFor is a status file with config and digest filled in.
func statusFor(t *testing.T, name, cfg string) string {
	b, err := os.ReadFile(filepath.Join(td, name))
	if err != nil {
		t.Fatal(err)
	}
	s := strings.ReplaceAll(string(b), `"/etc/ha.d/ldirectord.cf"`, strconv.Quote(cfg))
	return strings.ReplaceAll(s, "DIGEST", fileDigest(cfg))
}

// monitor and reload end to end over a socket (a stand-in lvsd: the
// decisions are tested above; the real lvsd in the VM tests).
func TestMonitorAndReloadOverSocket(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ldirectord.cf")
	data, _ := os.ReadFile(filepath.Join(td, "ldirectord.cf"))
	os.WriteFile(cfg, data, 0o644)
	env := map[string]string{"HA_RSCTMP": dir, "OCF_RESOURCE_INSTANCE": "lb", "OCF_RESKEY_configfile": cfg}
	f := filesFor(filepath.Join(dir, "director-lb"), cfg)

	if code, stderr := run(t, env, "monitor"); code != 7 || strings.Contains(stderr, "ocf-exit-reason") {
		t.Errorf("no daemon: %d %q", code, stderr)
	}
	if code, _ := run(t, env, "reload"); code != 7 {
		t.Errorf("reload, no daemon: %d", code)
	}
	// A pid file left by a process that is gone: still 7, and said.
	os.WriteFile(f.Pid, []byte("999999999\n"), 0o644)
	if code, stderr := run(t, env, "monitor"); code != 7 || !strings.Contains(stderr, "is gone") {
		t.Errorf("stale pid file: %d %q", code, stderr)
	}
	os.Remove(f.Pid)

	var mu sync.Mutex
	answer := map[string]string{"status": statusFor(t, "status-ok.json", cfg), "reload": "ok\n"}
	fakeLvsd(t, f.Sock, func(req string) string { mu.Lock(); defer mu.Unlock(); return answer[req] })
	set := func(req, a string) { mu.Lock(); answer[req] = a; mu.Unlock() }
	for _, c := range []struct {
		status string
		level  string
		code   int
		want   string
	}{
		{"status-ok.json", "0", 0, ""},
		{"status-ok.json", "10", 0, ""},
		{"status-ok.json", "20", 0, ""},
		{"status-mismatch.json", "0", 0, ""},
		{"status-mismatch.json", "10", 1, "ocf-exit-reason:the kernel IPVS table differs"},
		{"status-degraded.json", "20", Degraded, "ocf-exit-reason:no real server up and no fallback for tcp:192.168.10.3:80"},
	} {
		set("status", statusFor(t, c.status, cfg))
		e := map[string]string{"OCF_CHECK_LEVEL": c.level, "OCF_RESKEY_CRM_meta_timeout": "3000"}
		for k, v := range env {
			e[k] = v
		}
		code, stderr := run(t, e, "monitor")
		if code != c.code || !strings.Contains(stderr, c.want) {
			t.Errorf("%s level %s: %d %q, want %d %q", c.status, c.level, code, stderr, c.code, c.want)
		}
	}
	// The file changes without a reload: a warning at level 10, still 0.
	set("status", statusFor(t, "status-ok.json", cfg))
	os.WriteFile(cfg, append(data, "# edited\n"...), 0o644)
	e := map[string]string{"OCF_CHECK_LEVEL": "10"}
	for k, v := range env {
		e[k] = v
	}
	if code, stderr := run(t, e, "monitor"); code != 0 || !strings.Contains(stderr, "WARNING: "+cfg+" changed since lvsd loaded it") {
		t.Errorf("changed file: %d %q", code, stderr)
	}
	if code, stderr := run(t, env, "monitor"); code != 0 || stderr != "" {
		t.Errorf("changed file at level 0: %d %q", code, stderr)
	}
	// Garbage on the socket is a failure, not "running".
	set("status", "error: engine stopped\n")
	if code, stderr := run(t, env, "monitor"); code != 1 || !strings.Contains(stderr, "not JSON") {
		t.Errorf("garbage: %d %q", code, stderr)
	}

	if code, stderr := run(t, env, "reload"); code != 0 {
		t.Errorf("reload ok: %d %q", code, stderr)
	}
	set("reload", cfg+":6: forward method must be gate, masq or ipip, not \"sideways\"\nrefused\n")
	if code, stderr := run(t, env, "reload"); code != 1 || !strings.Contains(stderr, "ocf-exit-reason:reload refused, the running configuration is kept: "+cfg+":6: forward method") {
		t.Errorf("reload refused: %d %q", code, stderr)
	}
	// start finds it running (needs root only to get that far).
	set("status", statusFor(t, "status-ok.json", cfg))
	if os.Geteuid() == 0 {
		if code, stderr := run(t, env, "start"); code != 0 || !strings.Contains(stderr, "already running") {
			t.Errorf("start on a running one: %d %q", code, stderr)
		}
	}
}

// stop never signals a pid its pid file names when that process is not
// this instance's lvsd (the pid was reused after a kill -9).
func TestStopLeavesOtherProcesses(t *testing.T) {
	dir := t.TempDir()
	env := map[string]string{"HA_RSCTMP": dir, "OCF_RESOURCE_INSTANCE": "lb", "OCF_RESKEY_configfile": "/etc/x.cf"}
	f := filesFor(filepath.Join(dir, "director-lb"), "/etc/x.cf")
	// a process that looks like lvsd run, for another instance
	other := exec.Command("/bin/sh", "-c", "sleep 30; :", "lvsd", "run", "--pidfile", "/elsewhere.pid")
	sleeper := exec.Command("sleep", "30")
	for _, p := range []*exec.Cmd{other, sleeper} {
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		defer p.Process.Kill()
	}
	for _, p := range []*exec.Cmd{other, sleeper} {
		os.WriteFile(f.Pid, []byte(strconv.Itoa(p.Process.Pid)+"\n"), 0o644)
		for i := 0; i < 2; i++ {
			if code, stderr := run(t, env, "stop"); code != 0 {
				t.Errorf("stop: %d %s", code, stderr)
			}
		}
		if !alive(p.Process.Pid) {
			t.Errorf("stop signalled pid %d, not ours", p.Process.Pid)
		}
		if _, err := os.Stat(f.Pid); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale pid file kept: %v", err)
		}
	}
}

func TestIsOurs(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "d.pid")
	for _, c := range []struct {
		args []string
		want bool
	}{
		{[]string{"run", "--pidfile", pidfile, "--state", "x", "f.cf"}, true},
		{[]string{"run", "--pidfile=" + pidfile, "f.cf"}, true},
		{[]string{"run", "--pidfile", pidfile + "2", "f.cf"}, false},
		{[]string{"check", "--pidfile", pidfile}, false},
	} {
		// a shell with these arguments (": " keeps it from exec'ing sleep)
		p := exec.Command("/bin/sh", append([]string{"-c", "sleep 30; :", "lvsd"}, c.args...)...)
		if err := p.Start(); err != nil {
			t.Fatal(err)
		}
		// wait for the exec: until then the child's cmdline is the test binary's
		for i := 0; i < 500; i++ {
			if b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Process.Pid)); strings.Contains(string(b), "sleep 30") {
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if got := isOurs(p.Process.Pid, pidfile); got != c.want {
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.Process.Pid))
			t.Errorf("%q (cmdline %q): %v", c.args, b, got)
		}
		p.Process.Kill()
		p.Wait()
		if alive(p.Process.Pid) {
			t.Error("a reaped process is alive")
		}
	}
}

// The relay copies lvsd's lines to syslog with a level each, and echoes
// them until the echo fails.
func TestRelay(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "log")
	pc, err := net.ListenPacket("unixgram", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	in := strings.Join([]string{
		"07:20:34.368 started: 1 virtual services",
		"07:20:35.000 down tcp:1.2.3.4:80 real 10.0.0.1:80: connection refused",
		"07:20:36.000 error: netlink: no such file",
	}, "\n") + "\n"
	echo := &failingWriter{after: 1}
	dial := func() (gsyslog.Syslogger, error) {
		return gsyslog.DialLogger("unixgram", sock, gsyslog.LOG_INFO, "local3", "lvsd(lb)")
	}
	relay(strings.NewReader(in), echo, dial)
	if echo.buf.String() != "07:20:34.368 started: 1 virtual services\n" {
		t.Errorf("echo %q", echo.buf.String())
	}
	// <PRI> = facility*8 + severity: local3 = 19; info 6, warning 4, err 3
	for _, want := range []string{"<158>", "<156>", "<155>"} {
		pc.SetReadDeadline(time.Now().Add(2 * time.Second))
		b := make([]byte, 2048)
		n, _, err := pc.ReadFrom(b)
		if err != nil {
			t.Fatal(err)
		}
		msg := string(b[:n])
		if !strings.HasPrefix(msg, want) || !strings.Contains(msg, "lvsd(lb)") || strings.Contains(msg, ".368 ") {
			t.Errorf("syslog message %q, want priority %s, tag lvsd(lb), no time stamp", msg, want)
		}
	}
}

type failingWriter struct {
	after int
	buf   bytes.Buffer
}

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after == 0 {
		return 0, errors.New("broken pipe")
	}
	w.after--
	return w.buf.Write(p)
}

func TestOtherDirector(t *testing.T) {
	pids := map[string]int{}
	cmds := map[int]string{}
	rp := func(p string) int { return pids[p] }
	cl := func(pid int) string { return cmds[pid] }
	if s := otherDirector("/etc/ha.d/ldirectord.cf", rp, cl); s != "" {
		t.Errorf("none running: %q", s)
	}
	pids["/var/run/ldirectord.ldirectord.cf.pid"] = 42
	cmds[42] = "/usr/bin/perl\x00-w\x00/usr/sbin/ldirectord\x00start"
	if s := otherDirector("/etc/ha.d/ldirectord.cf", rp, cl); !strings.HasPrefix(s, "ldirectord pid 42 already runs for ldirectord.cf outside this resource (/var/run/ldirectord.ldirectord.cf.pid)") {
		t.Errorf("ldirectord: %q", s)
	}
	cmds[42] = "sleep\x0030" // the pid was reused
	if s := otherDirector("/etc/ha.d/ldirectord.cf", rp, cl); s != "" {
		t.Errorf("reused pid: %q", s)
	}
	pids["/run/lvsd/ldirectord.cf.pid"] = 43
	cmds[43] = "/usr/sbin/lvsd\x00run\x00/etc/ha.d/ldirectord.cf"
	if s := otherDirector("/etc/ha.d/ldirectord.cf", rp, cl); !strings.HasPrefix(s, "lvsd pid 43") {
		t.Errorf("lvsd: %q", s)
	}
	if s := otherDirector("/etc/ha.d/other.cf", rp, cl); s != "" {
		t.Errorf("another file: %q", s)
	}
}

// waitGone sees a process end (through its pidfd) and reports one that
// outlives the deadline.
func TestWaitGone(t *testing.T) {
	short := exec.Command("sleep", "0.2")
	long := exec.Command("sleep", "30")
	for _, c := range []*exec.Cmd{short, long} {
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
	}
	defer long.Process.Kill()
	go short.Wait()
	if !waitGone(short.Process.Pid, time.Now().Add(10*time.Second)) {
		t.Error("waitGone: a process that ended after 0.2 s is reported alive")
	}
	if waitGone(long.Process.Pid, time.Now().Add(300*time.Millisecond)) {
		t.Error("waitGone: a running process is reported gone")
	}
}
