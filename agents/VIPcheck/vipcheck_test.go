package vipcheck

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/icmp"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func run(t *testing.T, env map[string]string, action string) (int, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := ocf.Run(Agent, []string{action}, func(k string) string { return env[k] }, &out, &errb)
	return code, errb.String()
}

func TestMetadata(t *testing.T) {
	var out bytes.Buffer
	if ocf.Run(Agent, []string{"meta-data"}, func(string) string { return "" }, &out, &out) != 0 {
		t.Fatal("meta-data failed")
	}
	testenv.ValidateOCFMetadata(t, out.Bytes())
}

func TestParseTargets(t *testing.T) {
	ts, err := ParseTargets("10.0.0.1, fe80::1%eth0,2001:db8::5")
	if err != nil || len(ts) != 3 || ts[1].Iface != "eth0" {
		t.Fatalf("got %v %v", ts, err)
	}
	for _, bad := range []string{"", " , ", "10.0.0.1,nothost", "1.2.3.4%"} {
		if _, err := ParseTargets(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestBadInput(t *testing.T) {
	for _, c := range []struct{ k, v, want string }{
		{"target_ip", "10.0.0.999", "10.0.0.999"},
		{"count", "0", "count"},
		{"count", "x", "count"},
		{"wait", "5 fortnights", "wait"},
	} {
		env := map[string]string{"OCF_RESKEY_target_ip": "10.0.0.1", "HA_RSCTMP": t.TempDir()}
		env["OCF_RESKEY_"+c.k] = c.v
		code, stderr := run(t, env, "validate-all")
		if code != ocf.ErrConfigured || !strings.Contains(stderr, c.want) {
			t.Errorf("%s=%q: code %d, stderr %q", c.k, c.v, code, stderr)
		}
	}
	if code, _ := run(t, map[string]string{}, "validate-all"); code != ocf.ErrConfigured {
		t.Errorf("missing target_ip: code %d", code)
	}
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// pair makes a namespace joined to the host by a veth, with host side .1 and
// peer side .2 (IPv4 and IPv6); returns v4(n), v6(n) address makers.
func pair(t *testing.T) (ns string, v4, v6 func(int) string) {
	testenv.Root(t)
	testenv.Command(t, "ip")
	id := os.Getpid() % 60000
	ns = fmt.Sprintf("vipck%d", id)
	host, peer := fmt.Sprintf("vch%d", id), fmt.Sprintf("vcp%d", id)
	a, b := id/250%50, id%250
	v4 = func(n int) string { return fmt.Sprintf("10.%d.%d.%d", 150+a, b, n) }
	v6 = func(n int) string { return fmt.Sprintf("fd7c:%x:%x::%d", a, b, n) }
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
	// ready when the peer answers (the veth's carrier comes up a moment
	// after "link set up"): poll rather than guess a delay.
	for _, a := range []string{v4(2), v6(2)} {
		if !waitFor(10*time.Second, func() bool {
			ok, _, _ := icmp.Probe(context.Background(), netip.MustParseAddr(a), "", 1, 200*time.Millisecond)
			return ok
		}) {
			t.Fatalf("peer %s never answered", a)
		}
	}
	return ns, v4, v6
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(timeout time.Duration, cond func() bool) bool {
	for end := time.Now().Add(timeout); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			return false
		}
	}
	return true
}

func TestNetns(t *testing.T) {
	_, v4, v6 := pair(t)
	dir := t.TempDir()
	env := map[string]string{"HA_RSCTMP": dir, "OCF_RESOURCE_INSTANCE": "vc", "OCF_RESKEY_wait": "300ms"}

	// the peer holds .2 / ::2: start must fail naming them
	env["OCF_RESKEY_target_ip"] = v4(7) + "," + v4(2) + "," + v6(2)
	code, stderr := run(t, env, "start")
	if code != ocf.ErrGeneric || !strings.Contains(stderr, v4(2)) || !strings.Contains(stderr, v6(2)) || strings.Contains(stderr, v4(7)+" ") {
		t.Fatalf("start with live address: code %d, %q", code, stderr)
	}
	if code, _ := run(t, env, "monitor"); code != ocf.NotRunning {
		t.Fatalf("monitor after failed start: %d", code)
	}

	// nobody holds .7-.11 / ::7-::11: start ok after one wait, monitor 0, stop, monitor 7
	var silent []string
	for n := 7; n <= 11; n++ {
		silent = append(silent, v4(n), v6(n))
	}
	env["OCF_RESKEY_target_ip"] = strings.Join(silent, ",")
	t0 := time.Now()
	if code, stderr := run(t, env, "start"); code != 0 {
		t.Fatalf("start: %d %s", code, stderr)
	}
	// Parallelism, not speed: start waits the whole wait for an answer, and
	// probing the 10 targets one after another would take 10 waits (3 s);
	// under half of that they were probed at once, however loaded the machine.
	if el := time.Since(t0); el < 300*time.Millisecond || el > time.Duration(len(silent))*300*time.Millisecond/2 {
		t.Errorf("start took %v, want one wait (300ms) or a little more: the %d targets are probed in parallel", el, len(silent))
	}
	for _, c := range []struct {
		action string
		want   int
	}{{"monitor", 0}, {"start", 0}, {"stop", 0}, {"monitor", 7}, {"stop", 0}} {
		if code, stderr := run(t, env, c.action); code != c.want {
			t.Errorf("%s: %d want %d (%s)", c.action, code, c.want, stderr)
		}
	}
}

func TestOCFTester(t *testing.T) {
	_, _, v6 := pair(t)
	tester := testenv.Command(t, "ocf-tester")
	bdir, err := os.MkdirTemp("", "vipcheck-bin-") // ocf-tester runs meta-data as nobody
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(bdir) })
	os.Chmod(bdir, 0o755)
	bin := filepath.Join(bdir, "VIPcheck")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ocf-lvs/ocf-lvs/cmd/VIPcheck").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	cmd := exec.Command(tester, "-n", "vipcheck_test", "-o", "target_ip="+v6(9), "-o", "wait=200ms", bin)
	cmd.Env = append(os.Environ(), "HA_RSCTMP="+t.TempDir())
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "passed all tests") {
		t.Fatalf("ocf-tester: %v\n%s", err, out)
	}
}
