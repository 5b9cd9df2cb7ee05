package main

import (
	"encoding/json"
	"errors"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/preflight"
)

// The other lvsd check tests read plans, not this host: in this test
// binary lvsd check sees a host it knows nothing about (no preflight
// warning, as with --no-host) unless a test gives it one. The binary
// standing in for lvsd (LVSD_TEST_MAIN=1) reads the real host.
func init() {
	if os.Getenv("LVSD_TEST_MAIN") != "1" {
		hostFacts = func() preflight.Facts { return preflight.Facts{} }
	}
}

func withHost(t *testing.T, f func() preflight.Facts) {
	t.Helper()
	old := hostFacts
	hostFacts = f
	t.Cleanup(func() { hostFacts = old })
}

const preflightCf = `virtual=192.0.2.100:80
	real=192.0.2.10:80 masq
	real=198.51.100.7:80 gate
`

func writeCf(t *testing.T, text string) string {
	t.Helper()
	f := filepath.Join(t.TempDir(), "ldirectord.cf")
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// A director without IPVS, forwarding off, eth0 in 192.0.2.0/24.
func badHost() preflight.Facts {
	return preflight.Facts{
		IPVS:  preflight.Known(false),
		V4:    preflight.Family{Forwarding: preflight.Known(false), GCThresh3: preflight.Known(1024)},
		Addrs: preflight.Known([]preflight.Addr{{Dev: "eth0", Prefix: netip.MustParsePrefix("192.0.2.1/24")}}),
	}
}

func TestCheckPreflight(t *testing.T) {
	cf := writeCf(t, preflightCf)
	_, plan, _ := checkRun("check", "--no-host", cf)
	withHost(t, badHost)
	code, out, errs := checkRun("check", cf)
	if code != 0 || out != plan {
		t.Fatalf("exit %d (want 0), plan changed:\n%s\nvs\n%s", code, out, plan)
	}
	lines := strings.Split(strings.TrimSuffix(errs, "\n"), "\n")
	want := []string{
		cf + ":1: warning: the kernel's IPVS is not loaded (no /proc/net/ip_vs): no virtual service can be programmed (fix: modprobe ip_vs, ",
		cf + ":2: warning: real 192.0.2.10:80 is masq (NAT) but net.ipv4.ip_forward = 0: ",
		cf + ":3: warning: real 198.51.100.7:80 is gate (direct routing) but in no subnet of this director's interfaces: ",
	}
	if len(lines) != len(want) {
		t.Fatalf("stderr:\n%s", errs)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) || !strings.HasSuffix(lines[i], ")") || !strings.Contains(lines[i], " (fix: ") {
			t.Errorf("line %d:\n%s\nwant prefix\n%s", i+1, lines[i], w)
		}
	}

	// --json: the same warnings, stdout still only JSON
	code, out, errs2 := checkRun("check", "--json", cf)
	if code != 0 || errs2 != errs || !json.Valid([]byte(out)) {
		t.Errorf("--json: exit %d, stderr %q", code, errs2)
	}
}

func TestCheckNoHost(t *testing.T) {
	withHost(t, func() preflight.Facts { t.Error("--no-host read the host"); return badHost() })
	if code, _, errs := checkRun("check", "--no-host", writeCf(t, preflightCf)); code != 0 || errs != "" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// What cannot be read is said, and warns of nothing.
func TestCheckPreflightUnreadable(t *testing.T) {
	withHost(t, func() preflight.Facts {
		return preflight.Facts{Errors: []error{errors.New("interface addresses: permission denied")}}
	})
	code, _, errs := checkRun("check", writeCf(t, preflightCf))
	if code != 0 || errs != "lvsd: preflight: cannot read interface addresses: permission denied\n" {
		t.Errorf("exit %d, stderr %q", code, errs)
	}
}

// lvsd check itself (this test binary as lvsd) on this very host: the
// ip_vs warning is there exactly when /proc/net/ip_vs is not (this
// project's build hosts have no IPVS; its VM has).
func TestCheckThisHostIPVS(t *testing.T) {
	cf := writeCf(t, preflightCf)
	out, err := lvsdCmd(cf).CombinedOutput()
	if err != nil {
		t.Fatalf("lvsd check: %v\n%s", err, out)
	}
	_, statErr := os.Stat("/proc/net/ip_vs")
	warned := strings.Contains(string(out), cf+":1: warning: the kernel's IPVS is not loaded")
	if warned != (statErr != nil) {
		t.Errorf("/proc/net/ip_vs: %v; lvsd check said:\n%s", statErr, out)
	}
}

func lvsdCmd(cf string, prefix ...string) *exec.Cmd {
	args := append(prefix, os.Args[0], "check", cf)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	return cmd
}

// lvsd check run inside a namespace judges that namespace: its forwarding
// switch and its interfaces.
func TestNetnsCheckPreflight(t *testing.T) {
	p := netns.New(t)
	sysctl := testenv.Command(t, "sysctl")
	cf := writeCf(t, strings.NewReplacer("B", p.V4(2)).Replace(`virtual=192.0.2.100:80
	real=B:80 masq
virtual=192.0.2.101:80
	real=B:80 gate
	real=198.51.100.7:80 gate
`))
	check := func() string {
		t.Helper()
		cmd := lvsdCmd(cf, "ip", "netns", "exec", p.A)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("lvsd check in %s: %v\n%s", p.A, err, out)
		}
		return string(out)
	}
	p.Run(t, p.A, sysctl, "-qw", "net.ipv4.ip_forward=0")
	out := check()
	if !strings.Contains(out, cf+":2: warning: real "+p.V4(2)+":80 is masq (NAT) but net.ipv4.ip_forward = 0") ||
		strings.Contains(out, cf+":4: warning") || !strings.Contains(out, cf+":5: warning: real 198.51.100.7:80 is gate") {
		t.Errorf("ip_forward=0:\n%s", out)
	}
	p.Run(t, p.A, sysctl, "-qw", "net.ipv4.ip_forward=1")
	if out := check(); strings.Contains(out, "ip_forward") || !strings.Contains(out, cf+":5: warning:") {
		t.Errorf("ip_forward=1:\n%s", out)
	}
}

// lvsd run warns as lvsd check does, each with its fix, and runs on: the
// daemon over an in-memory table (the ip_vs warning is not one of them:
// the daemon has just opened IPVS, or, here, needs none).
func TestRunPreflight(t *testing.T) {
	withHost(t, badHost)
	cf := writeCf(t, preflightCf)
	var out, errb syncBuffer
	rcc := make(chan int, 1)
	go func() {
		rcc <- run([]string{"run", "--ipvs-in-memory", "--pidfile", "none", "--socket", "none", "--metrics", "none",
			"--state", filepath.Join(t.TempDir(), "state"), cf}, &out, &errb)
	}()
	want := []string{
		cf + ":2: warning: real 192.0.2.10:80 is masq (NAT) but net.ipv4.ip_forward = 0: ",
		cf + ":3: warning: real 198.51.100.7:80 is gate (direct routing) but in no subnet of this director's interfaces: ",
	}
	has := func() bool {
		for _, w := range want {
			if !strings.Contains(errb.String(), w) {
				return false
			}
		}
		return strings.Contains(errb.String(), "virtual services")
	}
	for deadline := time.Now().Add(20 * time.Second); !has() && time.Now().Before(deadline); {
		select {
		case rc := <-rcc:
			t.Fatalf("lvsd run ended (rc %d); stderr:\n%s", rc, errb.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	if !has() {
		t.Fatalf("stderr:\n%s\nwant lines starting\n%s", errb.String(), strings.Join(want, "\n"))
	}
	if strings.Contains(errb.String(), "IPVS is not loaded") {
		t.Errorf("the ip_vs warning in lvsd run:\n%s", errb.String())
	}
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case rc := <-rcc:
		if rc != 0 {
			t.Errorf("rc %d after SIGINT; stderr:\n%s", rc, errb.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("lvsd run did not stop on SIGINT")
	}
}
