//go:build vm

package director

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// The director agent with the real lvsd (bin/, see bins) on real IPVS.
// The reals are addresses on a dummy link, checked with checktype=on (up)
// or off (down): the agent's job is lvsd's life cycle and what it tells
// Pacemaker, not the checks (lib/check and cmd/lvsd test those).

func sh(t *testing.T, line string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", line).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", line, err, out)
	}
	return string(out)
}

func table(t *testing.T) string {
	out := strings.Split(strings.TrimSpace(sh(t, "ipvsadm -Sn")), "\n")
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func waitTable(t *testing.T, what string, cond func(string) bool) string {
	t.Helper()
	var got string
	if !netns.WaitFor(20*time.Second, func() bool { got = table(t); return cond(got) }) {
		t.Fatalf("%s: not within 20 s; ipvsadm -Sn:\n%s", what, got)
	}
	return got
}

// lab is one agent instance: its binaries, HA_RSCTMP and configuration.
type lab struct {
	t                *testing.T
	agent, lvsd      string
	dir, cfg, rsctmp string
	log              string
	instance         string
	extraEnv         []string
}

func newLab(t *testing.T, instance string) *lab {
	vm.Require(t)
	agent, lvsd := bins(t)
	l := &lab{t: t, agent: agent, lvsd: lvsd, dir: t.TempDir(), instance: instance}
	l.rsctmp = filepath.Join(l.dir, "rsctmp")
	os.Mkdir(l.rsctmp, 0o755)
	l.cfg = filepath.Join(l.dir, "ldirectord.cf")
	l.log = filepath.Join(l.dir, "lvsd.log")
	l.write("")
	exec.Command("ip", "link", "del", "dir0").Run()
	sh(t, "ipvsadm -C && ip link add dir0 type dummy && ip addr add 10.77.0.1/24 brd + dev dir0 && ip link set dir0 up")
	t.Cleanup(func() {
		l.run("stop")
		exec.Command("ipvsadm", "-C").Run()
		exec.Command("ip", "link", "del", "dir0").Run()
	})
	return l
}

// write sets the configuration: the head and more lines.
func (l *lab) write(more string) {
	if err := os.WriteFile(l.cfg, []byte(testenv.DirectorConf(l.log)+more), 0o644); err != nil {
		l.t.Fatal(err)
	}
}

func (l *lab) env(kv ...string) []string {
	return append(append([]string{"HA_RSCTMP=" + l.rsctmp, "OCF_RESOURCE_INSTANCE=" + l.instance,
		"configfile=" + l.cfg, "lvsd=" + l.lvsd}, l.extraEnv...), kv...)
}

func (l *lab) run(action string, kv ...string) (int, string) {
	return agentRun(l.t, l.agent, action, l.env(kv...)...)
}

// want runs an action and checks its code; it returns stderr.
func (l *lab) want(code int, action string, kv ...string) string {
	l.t.Helper()
	got, stderr := l.run(action, kv...)
	if got != code {
		l.t.Errorf("%s %v: exit %d, want %d\n%s", action, kv, got, code, stderr)
	}
	return stderr
}

func (l *lab) files() runFiles {
	return filesFor(filepath.Join(l.rsctmp, "director-"+l.instance), l.cfg)
}

func (l *lab) pid() int { return readPid(l.files().Pid) }

const (
	twoReals = "-a -t 10.77.0.100:80 -r 10.77.0.11:80 -m -w 1\n-a -t 10.77.0.100:80 -r 10.77.0.12:80 -m -w 2"
)

func TestVMStartMonitorReloadStop(t *testing.T) {
	l := newLab(t, "lb")
	l.want(0, "validate-all")
	l.want(7, "monitor")
	l.want(7, "monitor", "OCF_RESKEY_CRM_meta_interval=0")

	t0 := time.Now()
	l.want(0, "start")
	t.Logf("start took %v", time.Since(t0))
	pid := l.pid()
	if pid == 0 || !alive(pid) {
		t.Fatalf("no lvsd after start (pid file %s: %d)", l.files().Pid, pid)
	}
	if st, err := os.Stat(l.files().Sock); err != nil || st.Mode()&os.ModeSocket == 0 || st.Mode().Perm() != 0o600 {
		t.Errorf("control socket: %v %v", st, err)
	}
	// start returns after the first full pass: the service is there.
	if tb := table(t); !strings.Contains(tb, "-A -t 10.77.0.100:80 -s wrr") {
		t.Errorf("after start:\n%s", tb)
	}
	waitTable(t, "both reals up", func(s string) bool { return strings.Contains(s, twoReals) })
	if stderr := l.want(0, "start"); !strings.Contains(stderr, "already running") || l.pid() != pid {
		t.Errorf("second start: pid %d -> %d\n%s", pid, l.pid(), stderr)
	}
	for _, lvl := range []string{"0", "10", "20"} {
		if stderr := l.want(0, "monitor", "OCF_CHECK_LEVEL="+lvl); strings.Contains(stderr, "WARNING") {
			t.Errorf("monitor level %s warns:\n%s", lvl, stderr)
		}
	}

	// Changed but not reloaded: a warning at level 10, still 0.
	l.write("\treal=10.77.0.13:80 masq 3\n")
	if stderr := l.want(0, "monitor", "OCF_CHECK_LEVEL=10"); !strings.Contains(stderr, "WARNING: "+l.cfg+" changed since lvsd loaded it") {
		t.Errorf("no warning for a file changed without reload:\n%s", stderr)
	}
	if stderr := l.want(0, "monitor"); stderr != "" {
		t.Errorf("level 0 says: %s", stderr)
	}
	l.want(0, "reload")
	waitTable(t, "the added real", func(s string) bool { return strings.Contains(s, "-r 10.77.0.13:80 -m -w 3") })
	if stderr := l.want(0, "monitor", "OCF_CHECK_LEVEL=10"); strings.Contains(stderr, "WARNING") {
		t.Errorf("warning after the reload:\n%s", stderr)
	}

	// A bad file: reload fails (1) naming FILE:LINE; the running
	// configuration and the table stay.
	before := table(t)
	l.write("\treal=10.77.0.13:80 masq 3\n\treal=10.77.0.14:80 sideways\n")
	stderr := l.want(1, "reload")
	if !strings.Contains(stderr, "ocf-exit-reason:reload refused, the running configuration is kept: "+l.cfg+":14: ") {
		t.Errorf("reload of a bad file:\n%s", stderr)
	}
	time.Sleep(1500 * time.Millisecond)
	if after := table(t); after != before {
		t.Errorf("the table changed after a refused reload:\n%s\nwas\n%s", after, before)
	}
	if l.pid() != pid {
		t.Errorf("lvsd restarted: %d -> %d", pid, l.pid())
	}
	l.want(0, "monitor")

	// Degraded (level 20): a virtual whose reals are all down, no fallback.
	l.write("\treal=10.77.0.13:80 masq 3\n\nvirtual=10.77.0.101:80\n\treal=10.77.0.21:80 masq\n\tchecktype=off\n")
	l.want(0, "reload")
	var code int
	if !netns.WaitFor(10*time.Second, func() bool {
		code, stderr = l.run("monitor", "OCF_CHECK_LEVEL=20")
		return code == Degraded
	}) {
		t.Errorf("level 20 with a dead virtual: %d\n%s", code, stderr)
	} else if !strings.Contains(stderr, "ocf-exit-reason:no real server up and no fallback for tcp:10.77.0.101:80 (line 15)") {
		t.Errorf("degraded reason:\n%s", stderr)
	}
	l.want(0, "monitor", "OCF_CHECK_LEVEL=10")

	// The kernel refuses an entry (a real at the link's broadcast address,
	// "not unicast"; lvsd retries it every second): level 10 fails naming
	// it; level 0 still says running.
	l.write("\treal=10.77.0.13:80 masq 3\n\nvirtual=10.77.0.102:80\n\treal=10.77.0.255:80 masq\n\tchecktype=on\n")
	l.want(0, "reload")
	if !netns.WaitFor(10*time.Second, func() bool {
		code, stderr = l.run("monitor", "OCF_CHECK_LEVEL=10")
		return code == 1
	}) {
		ans, _, _ := ask(l.files().Sock, "status", 5*time.Second)
		t.Errorf("level 10 with an entry the kernel refuses: %d\n%s\n%s\n%s", code, stderr, table(t), ans)
	} else if !strings.Contains(stderr, "tcp:10.77.0.102:80 real 10.77.0.255:80: not in the kernel") {
		t.Errorf("mismatch reason:\n%s", stderr)
	}
	l.want(0, "monitor")

	// stop: SIGTERM, cleanstop removes the services; idempotent.
	t0 = time.Now()
	l.want(0, "stop")
	t.Logf("stop took %v", time.Since(t0))
	if alive(pid) {
		t.Errorf("lvsd pid %d alive after stop", pid)
	}
	if tb := table(t); strings.Contains(tb, "10.77.0.10") {
		t.Errorf("after stop (cleanstop=yes):\n%s", tb)
	}
	for _, p := range []string{l.files().Pid, l.files().Sock} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s left after stop", p)
		}
	}
	l.want(7, "monitor")
	l.want(0, "stop")
	if b, _ := os.ReadFile(l.log); !strings.Contains(string(b), "started: ") || !strings.Contains(string(b), "refused") {
		t.Errorf("lvsd's log %s:\n%s", l.log, b)
	}
}

// A stop that SIGTERM cannot finish (lvsd frozen with SIGSTOP) ends with
// SIGKILL of that pid within the stop timeout; the table stays as it was
// (no cleanstop), and the next start adopts it.
func TestVMStopKills(t *testing.T) {
	l := newLab(t, "frozen")
	l.want(0, "start")
	waitTable(t, "both reals up", func(s string) bool { return strings.Contains(s, twoReals) })
	pid := l.pid()
	syscall.Kill(pid, syscall.SIGSTOP)
	t0 := time.Now()
	stderr := l.want(0, "stop", "OCF_RESKEY_CRM_meta_timeout=4000")
	if took := time.Since(t0); took > 4*time.Second {
		t.Errorf("stop took %v, timeout 4 s", took)
	}
	if !strings.Contains(stderr, "SIGKILL") || alive(pid) {
		t.Errorf("pid %d alive %v:\n%s", pid, alive(pid), stderr)
	}
	before := waitTable(t, "table kept", func(s string) bool { return strings.Contains(s, twoReals) })
	l.want(7, "monitor")
	l.want(0, "start")
	if after := table(t); after != before {
		t.Errorf("restart did not adopt the table:\n%s\nwas\n%s", after, before)
	}
	l.want(0, "stop")
}

// lvsd killed behind the agent's back: monitor says not running (7) and
// why; stop cleans up; start runs it again.
func TestVMCrashed(t *testing.T) {
	l := newLab(t, "crash")
	l.want(0, "start")
	pid := l.pid()
	syscall.Kill(pid, syscall.SIGKILL)
	netns.WaitFor(5*time.Second, func() bool { return !alive(pid) })
	if stderr := l.want(7, "monitor"); !strings.Contains(stderr, "is gone") {
		t.Errorf("monitor after kill -9:\n%s", stderr)
	}
	l.want(0, "stop")
	if _, err := os.Stat(l.files().Pid); err == nil {
		t.Error("stale pid file kept by stop")
	}
	l.want(0, "start")
	if p := l.pid(); p == pid || !alive(p) {
		t.Errorf("restart: pid %d (was %d)", p, pid)
	}
	l.want(0, "monitor", "OCF_CHECK_LEVEL=10")
	l.want(0, "stop")
}

// A file lvsd refuses never starts anything: 6 with FILE:LINE.
func TestVMStartInvalid(t *testing.T) {
	l := newLab(t, "bad")
	l.write("\treal=10.77.0.13:80 sideways\n")
	if stderr := l.want(6, "start"); !strings.Contains(stderr, "ocf-exit-reason:"+l.cfg+":13: ") {
		t.Errorf("start of a bad file:\n%s", stderr)
	}
	if tb := table(t); strings.Contains(tb, "10.77.0.100") {
		t.Errorf("table after a refused start:\n%s", tb)
	}
	l.want(7, "monitor")
	l.want(5, "start", "lvsd="+l.dir+"/nolvsd")
}

// Syslog logging (logfile="local0") through the relay: start, stop, and
// the relay ends with lvsd.
func TestVMSyslogRelay(t *testing.T) {
	l := newLab(t, "sys")
	os.WriteFile(l.cfg, []byte(testenv.DirectorConf("local0")), 0o644)
	l.want(0, "start")
	pid := l.pid()
	relays := func() []int {
		var out []int
		ents, _ := os.ReadDir("/proc")
		for _, e := range ents {
			p, err := strconv.Atoi(e.Name())
			if err != nil {
				continue
			}
			b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
			if strings.Contains(string(b), relayArg+"\x00local0\x00lvsd(sys)") && alive(p) {
				out = append(out, p)
			}
		}
		return out
	}
	if r := relays(); len(r) != 1 {
		t.Errorf("relays: %v", r)
	}
	l.want(0, "monitor", "OCF_CHECK_LEVEL=10")
	l.want(0, "stop")
	if !netns.WaitFor(5*time.Second, func() bool { return len(relays()) == 0 }) {
		t.Errorf("relay still running after lvsd %d stopped: %v", pid, relays())
	}
}

func TestVMOCFTester(t *testing.T) {
	l := newLab(t, "dir")
	tester := testenv.Command(t, "ocf-tester")
	cmd := exec.Command(tester, "-n", "dir", "-o", "configfile="+l.cfg, "-o", "lvsd="+l.lvsd, l.agent)
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+l.rsctmp)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
	t.Logf("%s", out)
	if tb := table(t); strings.Contains(tb, "10.77.0.100") {
		t.Errorf("table after ocf-tester's last stop:\n%s", tb)
	}
}

// crm_resource runs the installed agent with no cluster. It finds agents
// under its compiled-in /usr/lib/ocf/resource.d only, so a temporary
// install tree is bind-mounted there in a private mount namespace.
func TestVMCrmResource(t *testing.T) {
	l := newLab(t, "crm")
	crm := testenv.Command(t, "crm_resource")
	root := filepath.Join(l.dir, "ocf")
	agentDir := filepath.Join(root, "resource.d", "lvs")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(l.agent)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(agentDir, "director"), b, 0o755)
	bad := filepath.Join(l.dir, "bad.cf")
	os.WriteFile(bad, []byte("virtual=10.77.0.100:80\n\treal=10.77.0.11:80 sideways\n"), 0o644)
	run := func(op string, opts ...string) (int, string) {
		script := fmt.Sprintf("mount --bind %s /usr/lib/ocf/resource.d && exec %s %s --class ocf --provider lvs --agent director",
			filepath.Join(root, "resource.d"), crm, op)
		for _, o := range opts {
			script += " --option " + o
		}
		cmd := exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
		cmd.Env = append(os.Environ(), "OCF_ROOT="+root, "HA_RSCTMP="+l.rsctmp)
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	opts := []string{"configfile=" + l.cfg, "lvsd=" + l.lvsd}
	// crm_resource's own exit codes: 0 ok, 7 not running, 6 not configured.
	for _, c := range []struct {
		op   string
		want int
		opts []string
	}{
		{"--validate", 0, opts},
		{"--validate", 6, []string{"configfile=" + bad, "lvsd=" + l.lvsd}},
		{"--force-check", 7, opts},
		{"--force-start", 0, opts},
		{"--force-check", 0, opts},
		{"--force-start", 0, opts},
		{"--force-stop", 0, opts},
		{"--force-check", 7, opts},
		{"--force-stop", 0, opts},
	} {
		code, out := run(c.op, c.opts...)
		if code != c.want {
			t.Errorf("crm_resource %s %v: exit %d, want %d\n%s", c.op, c.opts, code, c.want, out)
		}
		if c.op == "--validate" && c.want == 6 && !strings.Contains(out, bad+":2: ") {
			t.Errorf("--validate of a bad file does not name it:\n%s", out)
		}
		if c.op == "--force-start" {
			waitTable(t, "reals up after --force-start", func(s string) bool { return strings.Contains(s, twoReals) })
		}
	}
	if tb := table(t); strings.Contains(tb, "10.77.0.100") {
		t.Errorf("table after --force-stop:\n%s", tb)
	}
}
