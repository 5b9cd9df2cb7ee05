package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// lvsdIn runs this test binary as lvsd in namespace ns (pre: a command
// prefix such as setpriv), returning the exit code, stdout and stderr.
func lvsdIn(t *testing.T, ns string, pre []string, args ...string) (int, string, string) {
	t.Helper()
	argv := append(append([]string{"netns", "exec", ns}, pre...), append([]string{os.Args[0]}, args...)...)
	cmd := exec.Command("ip", argv...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	rc := 0
	if err := cmd.Run(); err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		rc = ee.ExitCode()
	}
	return rc, out.String(), errb.String()
}

func TestRealserverUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--help"}, 0, "arp_ignore=1"},
		{[]string{}, 2, "up, down or status?"},
		{[]string{"start", "10.0.0.1"}, 2, `unknown action "start"`},
		{[]string{"up"}, 2, "no VIP given"},
		{[]string{"up", "10.0.0.1/24"}, 2, `"10.0.0.1/24": a VIP is a host address`},
		{[]string{"status", "127.0.0.1"}, 2, "loopback"},
		{[]string{"up", "--interfaces", "eth0,a/b", "10.0.0.1"}, 2, `"a/b" is not an interface name`},
	} {
		var out, errb bytes.Buffer
		rc := run(append([]string{"realserver"}, c.args...), &out, &errb)
		if rc != c.code || !strings.Contains(out.String()+errb.String(), c.want) {
			t.Errorf("lvsd realserver %v: rc %d, want %d and %q:\n%s%s", c.args, rc, c.code, c.want, out.String(), errb.String())
		}
	}
}

// lvsd realserver in a fresh namespace: the exit codes of up, status and
// down, a second up and down, the partial case, not root.
func TestNetnsRealserverCommand(t *testing.T) {
	p := netns.New(t)
	p.Run(t, p.A, "ip", "route", "add", "default", "via", p.V4(2))
	state := filepath.Join(t.TempDir(), "rs.json")
	vip, vip6 := p.V4(100), p.V6(100)
	lvsd := func(want int, args ...string) string {
		t.Helper()
		rc, out, errs := lvsdIn(t, p.A, nil, append([]string{"realserver"}, append(args, "--state", state)...)...)
		if rc != want {
			t.Fatalf("lvsd realserver %v: rc %d, want %d\n%s%s", args, rc, want, out, errs)
		}
		return out + errs
	}
	lvsd(7, "status", vip, vip6)
	lvsd(7, "status") // nothing managed
	out := lvsd(0, "up", vip+","+vip6)
	if !strings.Contains(out, "net.ipv4.conf.eth0.arp_ignore = 1 (was 0)") || !strings.Contains(out, "added "+vip+"/32 to lo") {
		t.Errorf("up said:\n%s", out)
	}
	if out := lvsd(0, "up", vip, vip6); out != "" {
		t.Errorf("second up changed something:\n%s", out)
	}
	out = lvsd(0, "status")
	for _, w := range []string{"ok       " + vip + "/32 on lo", "ok       net.ipv4.conf.all.arp_announce = 2 (want 2)", "\nrunning\n"} {
		if !strings.Contains(out, w) {
			t.Errorf("status lacks %q:\n%s", w, out)
		}
	}
	p.Run(t, p.A, "ip", "addr", "del", vip+"/32", "dev", "lo")
	if out := lvsd(1, "status", vip, vip6); !strings.Contains(out, "partial: "+vip+"/32 is not on lo") {
		t.Errorf("partial:\n%s", out)
	}
	if testenv.Command(t, "setpriv") != "" {
		rc, _, errs := lvsdIn(t, p.A, []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"}, "realserver", "down", "--state", state)
		if rc != 4 || !strings.Contains(errs, "needs root") {
			t.Errorf("down as nobody: rc %d %s", rc, errs)
		}
	}
	out = lvsd(0, "down")
	if !strings.Contains(out, "net.ipv4.conf.all.arp_ignore = 0 (restored)") || !strings.Contains(out, "removed "+vip6+"/128 from lo") {
		t.Errorf("down said:\n%s", out)
	}
	if out := lvsd(0, "down", vip, vip6); out != "" {
		t.Errorf("second down did something:\n%s", out)
	}
	lvsd(7, "status", vip, vip6)
	if v := strings.TrimSpace(p.Run(t, p.A, "cat", "/proc/sys/net/ipv4/conf/all/arp_announce")); v != "0" {
		t.Errorf("all.arp_announce = %s after down", v)
	}
}
