package realserver

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func runEnv(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := ocf.Run(Agent, args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMetadata(t *testing.T) {
	code, out, _ := runEnv(nil, "meta-data")
	if code != 0 {
		t.Fatal("meta-data failed")
	}
	for _, p := range []string{"ip", "tunnel", "interfaces"} {
		if !strings.Contains(out, `<parameter name="`+p+`"`) {
			t.Errorf("meta-data lacks %s", p)
		}
	}
	testenv.ValidateOCFMetadata(t, []byte(out))
}

// Configuration errors: 6 with an ocf-exit-reason naming the parameter,
// on every action (no root needed to say so).
func TestValidateErrors(t *testing.T) {
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{}, "ip"},
		{map[string]string{"OCF_RESKEY_ip": "10.0.0.300"}, `parameter ip="10.0.0.300": "10.0.0.300" is not an IPv4 or IPv6 address`},
		{map[string]string{"OCF_RESKEY_ip": "10.0.0.1, 127.0.0.2"}, "loopback"},
		{map[string]string{"OCF_RESKEY_ip": "10.0.0.1", "OCF_RESKEY_interfaces": "eth0 ../x"}, `parameter interfaces="eth0 ../x"`},
		{map[string]string{"OCF_RESKEY_ip": "10.0.0.1", "OCF_RESKEY_interfaces": "nosuchif9"}, "no such interface nosuchif9"},
		{map[string]string{"OCF_RESKEY_ip": "10.0.0.1", "OCF_RESKEY_tunnel": "maybe"}, "tunnel"},
	} {
		code, _, errs := runEnv(c.env, "validate-all")
		if code != ocf.ErrConfigured || !strings.Contains(errs, "ocf-exit-reason:") || !strings.Contains(errs, c.want) {
			t.Errorf("%v: exit %d, want 6 and %q:\n%s", c.env, code, c.want, errs)
		}
	}
	if code, _, _ := runEnv(nil, "frobnicate"); code != ocf.ErrUnimplemented {
		t.Errorf("unknown action: %d", code)
	}
}

// The agent under test, built once (readable by nobody: see netns.Binary).
var rsBin = &netns.Binary{Pkg: "github.com/ocf-lvs/ocf-lvs/cmd/realserver"}

func TestMain(m *testing.M) {
	code := m.Run()
	rsBin.Remove()
	os.Exit(code)
}

func agentBin(t *testing.T) string {
	t.Helper()
	return rsBin.Path(t)
}

// agent runs the binary in ns with HA_RSCTMP rsctmp and OCF_RESKEY_ k=v
// pairs ("as:nobody" runs it as nobody).
func agent(t *testing.T, ns, rsctmp, action string, kv ...string) (int, string) {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "OCF_ROOT=/usr/lib/ocf", "HA_RSCTMP=" + rsctmp, "OCF_RESOURCE_INSTANCE=rs-test"}
	var pre []string
	for _, s := range kv {
		if s == "as:nobody" {
			pre = []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"}
		} else {
			env = append(env, "OCF_RESKEY_"+s)
		}
	}
	cmd := exec.Command("ip", append(append([]string{"netns", "exec", ns}, pre...), agentBin(t), action)...)
	cmd.Env = env
	var errb bytes.Buffer
	cmd.Stderr = &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), errb.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, errb.String()
}

func sysctl(t *testing.T, p *netns.Pair, key string) string {
	t.Helper()
	return strings.TrimSpace(p.Run(t, p.A, "cat", "/proc/sys/net/ipv4/conf/"+key))
}

// The agent in a fresh namespace: start, monitor, a second start, the
// partial case (monitor 1 with a reason), stop restores the sysctls,
// a second stop succeeds, not root is 4.
func TestNetnsAgent(t *testing.T) {
	p := netns.New(t)
	p.Run(t, p.A, "ip", "route", "add", "default", "via", p.V4(2))
	p.Run(t, p.A, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/conf/all/arp_announce")
	rsctmp := t.TempDir()
	os.Chmod(rsctmp, 0o777)
	ip := "ip=" + p.V4(100) + "," + p.V6(100)
	want := func(code int, action string, kv ...string) string {
		t.Helper()
		got, errs := agent(t, p.A, rsctmp, action, kv...)
		if got != code {
			t.Fatalf("%s %v: exit %d, want %d\n%s", action, kv, got, code, errs)
		}
		return errs
	}
	want(7, "monitor", ip)
	if errs := want(4, "start", ip, "as:nobody"); !strings.Contains(errs, "ocf-exit-reason:You must be root") {
		t.Errorf("start as nobody:\n%s", errs)
	}
	want(0, "start", ip)
	if sysctl(t, p, "all/arp_ignore") != "1" || sysctl(t, p, "eth0/arp_announce") != "2" || sysctl(t, p, "lo/arp_ignore") != "1" {
		t.Errorf("after start: all/arp_ignore %s eth0/arp_announce %s", sysctl(t, p, "all/arp_ignore"), sysctl(t, p, "eth0/arp_announce"))
	}
	want(0, "monitor", ip)
	want(0, "monitor", ip, "as:nobody") // monitor reads only
	want(0, "start", ip)
	p.Run(t, p.A, "ip", "addr", "del", p.V6(100)+"/128", "dev", "lo")
	if errs := want(1, "monitor", ip); !strings.Contains(errs, "ocf-exit-reason:partially configured: "+p.V6(100)+"/128 is not on lo") {
		t.Errorf("partial monitor:\n%s", errs)
	}
	want(0, "start", ip)
	want(0, "stop", ip)
	if sysctl(t, p, "all/arp_ignore") != "0" || sysctl(t, p, "all/arp_announce") != "1" || sysctl(t, p, "eth0/arp_announce") != "0" {
		t.Errorf("after stop: all/arp_ignore %s all/arp_announce %s", sysctl(t, p, "all/arp_ignore"), sysctl(t, p, "all/arp_announce"))
	}
	want(7, "monitor", ip)
	want(0, "stop", ip)
	if errs := want(6, "start", "ip=10.0.0.300"); !strings.Contains(errs, "ocf-exit-reason:parameter ip=") {
		t.Errorf("bad ip:\n%s", errs)
	}
}

// ocf-tester (Debian's resource-agents) passes, IPv4 and IPv6, DR.
func TestNetnsOCFTester(t *testing.T) {
	tester := testenv.Command(t, "ocf-tester")
	p := netns.New(t)
	p.Run(t, p.A, "ip", "route", "add", "default", "via", p.V4(2))
	bin := agentBin(t)
	for _, c := range []struct{ name, ip string }{{"v4", p.V4(100)}, {"v6", p.V6(100)}, {"both", p.V4(101) + "," + p.V6(101)}} {
		t.Run(c.name, func(t *testing.T) {
			cmd := p.Cmd(p.A, tester, "-n", "rs_"+c.name, "-o", "ip="+c.ip, bin)
			cmd.Env = append(os.Environ(), "HA_RSCTMP="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
		})
	}
}
