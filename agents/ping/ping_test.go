package ping

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/pcmk"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func TestParseHost(t *testing.T) {
	for _, c := range []struct {
		in, name, iface string
		port            int
	}{
		{"10.0.0.1", "10.0.0.1", "", 0},
		{"10.0.0.1:80", "10.0.0.1", "", 80},
		{"2001:db8::1", "2001:db8::1", "", 0},
		{"[2001:db8::1]:443", "2001:db8::1", "", 443},
		{"fe80::1%eth0", "fe80::1", "eth0", 0},
		{"gw.example.com", "gw.example.com", "", 0},
		{"gw:22", "gw", "", 22},
	} {
		h, err := ParseHost(c.in)
		if err != nil || h.Name != c.name || h.Iface != c.iface || h.Port != c.port {
			t.Errorf("ParseHost(%q) = %+v, %v", c.in, h, err)
		}
	}
	for _, bad := range []string{"10.0.0.300", "1.2.3.4:0", "1.2.3.4:70000", "[::1", "[::1]x", "host name", "-bad-", "a..b", "gw%eth0", "2001:db8::zz", "h:port"} {
		if _, err := ParseHost(bad); err == nil {
			t.Errorf("ParseHost(%q): no error", bad)
		}
	}
	if hs, err := ParseHostList("10.0.0.1 ::1,gw:80"); err != nil || len(hs) != 3 {
		t.Errorf("ParseHostList: %v %v", hs, err)
	}
	if _, err := ParseHostList("  "); err == nil {
		t.Error("empty host_list accepted")
	}
}

func TestScoreAndTimeout(t *testing.T) {
	if Score(3, 100) != 300 || Score(0, 100) != 0 {
		t.Error("Score")
	}
	for _, c := range []struct {
		set, op    time.Duration
		hosts, att int
		want       time.Duration
	}{
		{1500 * time.Millisecond, 60 * time.Second, 3, 3, 1500 * time.Millisecond},
		{0, 60 * time.Second, 3, 3, 6 * time.Second},  // 60000/3/3/1100 = 6
		{0, 0, 1, 3, 6 * time.Second},                 // op timeout unknown: 20000/1/3/1100 = 6
		{0, 20 * time.Second, 10, 3, 5 * time.Second}, // < 1 s -> 5 s, as the original
		{0, 3000 * time.Second, 1, 1, 300 * time.Second},
	} {
		if got := ProbeTimeout(c.set, c.op, c.hosts, c.att); got != c.want {
			t.Errorf("ProbeTimeout(%v,%v,%d,%d) = %v, want %v", c.set, c.op, c.hosts, c.att, got, c.want)
		}
	}
}

func runAgent(env map[string]string, action string) (int, string) {
	var out, errb bytes.Buffer
	code := ocf.Run(Agent, []string{action}, func(k string) string { return env[k] }, &out, &errb)
	return code, errb.String()
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct{ k, v string }{
		{"host_list", ""},
		{"host_list", "10.0.0.1 10.0.0.256"},
		{"host_list", "[::1]:99999"},
		{"timeout", "3 parsecs"},
		{"timeout", "0"},
		{"multiplier", "x"},
		{"multiplier", "0"},
		{"attempts", "-1"},
		{"failure_score", "lots"},
		{"dampen", "soon"},
		{"debug", "maybe"},
	} {
		env := map[string]string{"OCF_RESKEY_host_list": "127.0.0.1", "HA_RSCTMP": t.TempDir()}
		env["OCF_RESKEY_"+c.k] = c.v
		code, stderr := runAgent(env, "validate-all")
		if code != ocf.ErrConfigured || !strings.Contains(stderr, c.k) || (c.v != "" && !strings.Contains(stderr, c.v)) {
			t.Errorf("%s=%q: code %d, %q", c.k, c.v, code, stderr)
		}
	}
}

func TestMetadata(t *testing.T) {
	var out bytes.Buffer
	ocf.Run(Agent, []string{"meta-data"}, func(string) string { return "" }, &out, &out)
	testenv.ValidateOCFMetadata(t, out.Bytes())
}

func sh(t testing.TB, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestNetnsProbes: a peer namespace behind a veth. .2/::2 answer; .9/::9 are
// silent; TCP to .2:port with a listener is up, to a closed port (RST,
// rejecting) is down; all probed at once in about one timeout.
func TestNetnsProbes(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "ip")
	py := testenv.Command(t, "python3")
	id := os.Getpid() % 60000
	ns := fmt.Sprintf("pingt%d", id)
	host, peer := fmt.Sprintf("pth%d", id), fmt.Sprintf("ptp%d", id)
	a, b := id/250%50, id%250
	v4 := func(n int) string { return fmt.Sprintf("10.%d.%d.%d", 100+a, b, n) }
	v6 := func(n int) string { return fmt.Sprintf("fd8c:%x:%x::%d", a, b, n) }
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run(); exec.Command("ip", "netns", "del", ns).Run() })
	sh(t, "ip", "link", "add", host, "type", "veth", "peer", "name", peer)
	sh(t, "ip", "link", "set", peer, "netns", ns)
	sh(t, "ip", "addr", "add", v4(1)+"/24", "dev", host)
	sh(t, "ip", "addr", "add", v6(1)+"/64", "dev", host, "nodad")
	sh(t, "ip", "link", "set", host, "up")
	sh(t, "ip", "-n", ns, "addr", "add", v4(2)+"/24", "dev", peer)
	sh(t, "ip", "-n", ns, "addr", "add", v6(2)+"/64", "dev", peer, "nodad")
	sh(t, "ip", "-n", ns, "link", "set", peer, "up")
	sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	port := 20000 + id%20000
	// .3, ::3 and TCP port+2 are dropped by the peer's firewall: no answer at all
	nft := testenv.Command(t, "nft")
	sh(t, "ip", "-n", ns, "addr", "add", v4(3)+"/24", "dev", peer)
	sh(t, "ip", "-n", ns, "addr", "add", v6(3)+"/64", "dev", peer, "nodad")
	nfe := func(args ...string) { sh(t, append([]string{"ip", "netns", "exec", ns, nft}, args...)...) }
	nfe("add", "table", "inet", "pingtest")
	nfe("add", "chain", "inet", "pingtest", "in", "{ type filter hook input priority 0 ; }")
	nfe("add", "rule", "inet", "pingtest", "in", "ip", "daddr", v4(3), "drop")
	nfe("add", "rule", "inet", "pingtest", "in", "ip6", "daddr", v6(3), "drop")
	nfe("add", "rule", "inet", "pingtest", "in", "tcp", "dport", fmt.Sprint(port+2), "drop")
	srv := exec.Command("ip", "netns", "exec", ns, py, "-m", "http.server", "-b", v4(2), fmt.Sprint(port))
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Process.Kill(); srv.Wait() })
	// python3 can take well over a second to listen on a loaded CI machine:
	// wait until the port accepts, rather than guessing a delay.
	for deadline := time.Now().Add(15 * time.Second); ; {
		c, err := net.DialTimeout("tcp", net.JoinHostPort(v4(2), fmt.Sprint(port)), time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("TCP listener in %s never came up: %v", ns, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	hosts, err := ParseHostList(fmt.Sprintf("%s %s %s %s %s:%d %s:%d [%s]:%d %s %s %s:%d [%s]:%d",
		v4(2), v6(2), v4(9), v6(9), v4(2), port, v4(2), port+1, v6(9), port,
		v4(3), v6(3), v4(2), port+2, v6(2), port+1))
	if err != nil {
		t.Fatal(err)
	}
	want := []bool{true, true, false, false, true, false, false, false, false, false, false}
	t0 := time.Now()
	res := ProbeHosts(context.Background(), hosts, 1, time.Second)
	el := time.Since(t0)
	for i, r := range res {
		if r.Up != want[i] {
			t.Errorf("%s: up=%v want %v (err %v)", r.Host.Spec, r.Up, want[i], r.Err)
		}
	}
	// Parallelism, not speed, is asserted here (speed is bench/ping.sh's job):
	// eight silent targets probed one after another would take 8 s; in
	// parallel the round is one timeout, plus slack for a loaded CI machine.
	if el > 1900*time.Millisecond {
		t.Errorf("probe round took %v: the silent targets were not probed in parallel (one timeout is 1s)", el)
	}
}

var cluster *pcmk.Cluster
var clusterErr error
var agentBin string

var clusterOnce sync.Once

// TestMain stops the shared cluster, which the first test needing it starts
// (once per package run).
func TestMain(m *testing.M) {
	code := m.Run()
	if cluster != nil {
		cluster.Stop()
	}
	if agentBin != "" {
		os.RemoveAll(filepath.Dir(agentBin))
	}
	os.Exit(code)
}

func needCluster(t *testing.T) *pcmk.Cluster {
	testenv.Root(t)
	testenv.Command(t, "pacemakerd")
	testenv.Command(t, "corosync")
	testenv.Command(t, "attrd_updater")
	clusterOnce.Do(func() { cluster, clusterErr = pcmk.Start(90 * time.Second) })
	if cluster == nil {
		t.Fatalf("cluster did not start: %v", clusterErr)
	}
	return cluster
}

func buildAgent(t *testing.T) string {
	if agentBin != "" {
		return agentBin
	}
	d, err := os.MkdirTemp("", "ping-bin-")
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(d, 0o755)
	bin := filepath.Join(d, "ping")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ocf-lvs/ocf-lvs/cmd/ping").CombinedOutput(); err != nil {
		t.Fatalf("build: %v %s", err, out)
	}
	agentBin = bin
	return bin
}

// agent runs the built agent inside the cluster's namespaces.
func agent(t *testing.T, c *pcmk.Cluster, env []string, action string) (int, string) {
	cmd := c.Command(buildAgent(t), action)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), string(out)
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, string(out)
}

func query(c *pcmk.Cluster, name string) string {
	out, _ := c.Command("attrd_updater", "-Q", "-n", name).CombinedOutput()
	// name="pingd" host="node" value="2"
	s := string(out)
	if i := strings.Index(s, `value="`); i >= 0 {
		s = s[i+7:]
		if j := strings.IndexByte(s, '"'); j >= 0 {
			return s[:j]
		}
	}
	return "?" + strings.TrimSpace(string(out))
}

func waitAttr(t *testing.T, c *pcmk.Cluster, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := query(c, name)
		if got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("attribute %s = %q, want %q", name, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestAttrd: start/monitor/stop against the real attrd; the attribute
// follows a target that goes away; failure_score; stop deletes it.
func TestAttrd(t *testing.T) {
	c := needCluster(t)
	name := fmt.Sprintf("pingtest%d", os.Getpid())
	// targets inside the cluster's namespace: loopback, ::1, and one /32 on lo
	gone := "10.77.1.1"
	if out, err := c.Command("ip", "addr", "add", gone+"/32", "dev", "lo").CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	env := []string{
		"OCF_RESOURCE_INSTANCE=p1", "OCF_RESKEY_name=" + name, "OCF_RESKEY_host_list=127.0.0.1 ::1 " + gone,
		"OCF_RESKEY_multiplier=100", "OCF_RESKEY_dampen=1", "OCF_RESKEY_timeout=300ms", "OCF_RESKEY_attempts=1",
	}
	if code, out := agent(t, c, env, "monitor"); code != 7 {
		t.Fatalf("monitor before start: %d %s", code, out)
	}
	if code, out := agent(t, c, env, "start"); code != 0 {
		t.Fatalf("start: %d %s", code, out)
	}
	waitAttr(t, c, name, "300")
	c.Command("ip", "addr", "del", gone+"/32", "dev", "lo").Run()
	if code, out := agent(t, c, env, "monitor"); code != 0 {
		t.Fatalf("monitor: %d %s", code, out)
	}
	waitAttr(t, c, name, "200")
	// failure_score above the score: monitor fails with a reason
	code, out := agent(t, c, append(env, "OCF_RESKEY_failure_score=250"), "monitor")
	if code != 1 || !strings.Contains(out, "failure_score") || !strings.Contains(out, gone) {
		t.Errorf("monitor under failure_score: %d %s", code, out)
	}
	if code, out := agent(t, c, env, "stop"); code != 0 {
		t.Fatalf("stop: %d %s", code, out)
	}
	if code, _ := agent(t, c, env, "monitor"); code != 7 {
		t.Errorf("monitor after stop: %d", code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for v := query(c, name); v != "" && !strings.HasPrefix(v, "?") && time.Now().Before(deadline); v = query(c, name) {
		time.Sleep(100 * time.Millisecond)
	}
	if v := query(c, name); !strings.HasPrefix(v, "?") && v != "" {
		t.Errorf("attribute still %q after stop", v)
	}
}

// TestAttrdUnreachable: outside the cluster's namespaces there is no attrd:
// start fails with 1 and says so.
func TestAttrdUnreachable(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "attrd_updater")
	ns := fmt.Sprintf("pingna%d", os.Getpid())
	sh(t, "ip", "netns", "add", ns)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
	cmd := exec.Command("ip", "netns", "exec", ns, buildAgent(t), "start")
	cmd.Env = append(os.Environ(), "OCF_RESKEY_host_list=127.0.0.1", "OCF_RESKEY_timeout=200ms", "HA_RSCTMP="+t.TempDir())
	out, err := cmd.CombinedOutput()
	ee, _ := err.(*exec.ExitError)
	if ee == nil || ee.ExitCode() != 1 || !strings.Contains(string(out), "could not update node attribute") {
		t.Errorf("start without attrd: %v %s", err, out)
	}
}

// TestOCFTester runs ocf-tester on the built agent, or on the one
// OCFLVS_PING_AGENT names: packaging/test-packages.sh (the pkgtest tier)
// points it at the ping the RPM installed into its scratch root.
func TestOCFTester(t *testing.T) {
	c := needCluster(t)
	tester := testenv.Command(t, "ocf-tester")
	bin := os.Getenv("OCFLVS_PING_AGENT")
	if bin == "" {
		bin = buildAgent(t)
	}
	cmd := c.Command(tester, "-n", "pingtester", "-o", "host_list=127.0.0.1 ::1", "-o", "timeout=300ms",
		"-o", fmt.Sprintf("name=pingtester%d", os.Getpid()), "-o", "dampen=1", bin)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester %s: %v\n%s", bin, err, out)
	}
	t.Logf("ocf-tester %s: passed all tests", bin)
}

func FuzzParseHost(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "[::1]:80", "fe80::1%eth0", "gw:22", "a..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		h, err := ParseHost(s)
		if err != nil {
			return
		}
		if h.Name == "" || h.Port < 0 || h.Port > 65535 {
			t.Fatalf("%q: %+v", s, h)
		}
		if h2, err := ParseHost(h.Spec); err != nil || h2 != h {
			t.Fatalf("%q: reparse %+v %v", s, h2, err)
		}
	})
}

// Without attrd_updater (pacemaker-cli-utils not installed) start and a
// monitor of a started resource fail with 5 (not installed) naming it, and
// stop still succeeds. The built agent runs in a mount namespace where
// every attrd_updater it could find is hidden under /dev/null (not
// executable), so the machine's own installation is really out of reach.
func TestNotInstalled(t *testing.T) {
	testenv.Root(t)
	unshare := testenv.Command(t, "unshare")
	bin := buildAgent(t)
	var hide []string
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin", "/bin"} {
		if st, err := os.Stat(filepath.Join(dir, "attrd_updater")); err == nil && !st.IsDir() {
			hide = append(hide, "mount --bind /dev/null "+filepath.Join(dir, "attrd_updater"))
		}
	}
	pf := filepath.Join(t.TempDir(), "ping.state")
	run := func(action string) (int, string) {
		script := strings.Join(append(hide, `exec "$0" "$1"`), " && ")
		cmd := exec.Command(unshare, "-m", "--propagation", "private", "sh", "-ec", script, bin, action)
		cmd.Env = append(os.Environ(), "HA_RSCTMP="+filepath.Dir(pf), "OCF_RESOURCE_INSTANCE=pingni",
			"OCF_RESKEY_host_list=127.0.0.1", "OCF_RESKEY_pidfile="+pf, "PATH=/usr/sbin:/usr/bin:/sbin:/bin")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode(), string(out)
		} else if err != nil {
			t.Fatal(err)
		}
		return 0, string(out)
	}
	if code, out := run("start"); code != ocf.ErrInstalled || !strings.Contains(out, "ocf-exit-reason:attrd_updater not found") {
		t.Errorf("start: %d, want 5\n%s", code, out)
	}
	if _, err := os.Stat(pf); err == nil {
		t.Errorf("a failed start left its state file %s", pf)
	}
	if code, out := run("monitor"); code != ocf.NotRunning {
		t.Errorf("monitor of a stopped resource: %d, want 7\n%s", code, out)
	}
	// a started resource (its state file there) whose attrd_updater went away
	if err := os.WriteFile(pf, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := run("monitor"); code != ocf.ErrInstalled || !strings.Contains(out, "ocf-exit-reason:attrd_updater not found") {
		t.Errorf("monitor: %d, want 5\n%s", code, out)
	}
	if code, out := run("stop"); code != 0 {
		t.Errorf("stop: %d, want 0\n%s", code, out)
	}
	if _, err := os.Stat(pf); err == nil {
		t.Errorf("stop left the state file %s", pf)
	}
}
