package vm

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// InVM reports whether we run inside the test VM booted by Run.
func InVM() bool { return os.Getenv("OCFLVS_VM") == "1" }

// Require skips a test (fails it in CI) unless it runs inside the test VM
// with IPVS loaded. Tests built with the vm tag call it first.
func Require(t testing.TB) {
	t.Helper()
	if !InVM() {
		testenv.Skip(t, "needs the IPVS test VM: run `make vmtest` (this test is built with -tags vm and runs inside QEMU)")
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Fatalf("inside the VM but IPVS is not loaded: %v", err)
	}
}

// ResetIPVS empties the kernel's IPVS state between tests: the table, and
// the connection table with it, by reloading the ip_vs modules. ipvsadm -C
// alone is not enough: a connection left ESTABLISHED by an earlier test
// (whose namespaces were deleted with it open) stays for 15 minutes, and a
// destination added again with the same address is revived with it, so
// its active-connection count never drops and a drain never ends.
func ResetIPVS(t testing.TB) {
	t.Helper()
	Require(t)
	var sched []string
	for _, m := range TestModules {
		if strings.HasPrefix(m, "ip_vs_") {
			sched = append(sched, m)
		}
	}
	if out, err := exec.Command("ipvsadm", "-C").CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -C: %v: %s", err, out)
	}
	// schedulers first: they hold ip_vs
	if out, err := exec.Command("modprobe", append([]string{"-r", "-a"}, append(sched, "ip_vs")...)...).CombinedOutput(); err != nil {
		t.Logf("modprobe -r ip_vs: %v: %s (connections of earlier tests may remain)", err, out)
	}
	if out, err := exec.Command("modprobe", append([]string{"-a", "ip_vs"}, sched...)...).CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs: %v: %s", err, out)
	}
}

// WithoutIPVS makes the VM's kernel one with no IPVS for the rest of the
// test: ip_vs is unloaded and its modules hidden (an empty tmpfs over
// /lib/modules/VERSION), so the code's `modprobe ip_vs` fails as it does
// on a kernel built without it. The cleanup loads IPVS again. It lets the
// "no IPVS" paths, which must not run on a host that could load ip_vs
// (they would write to the host's table), run for real in the VM tier.
func WithoutIPVS(t testing.TB) {
	t.Helper()
	Require(t)
	var sched []string
	for _, m := range TestModules {
		if strings.HasPrefix(m, "ip_vs_") {
			sched = append(sched, m)
		}
	}
	// an earlier test's leftovers may hold ip_vs a moment: poll, not guess
	var out []byte
	var err error
	for end := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		exec.Command("ipvsadm", "-C").Run()
		if out, err = exec.Command("modprobe", append([]string{"-r", "-a"}, append(sched, "ip_vs")...)...).CombinedOutput(); err == nil {
			break
		}
		if time.Now().After(end) {
			t.Fatalf("modprobe -r ip_vs for 30 s: %v: %s", err, out)
		}
	}
	rel, err := exec.Command("uname", "-r").Output()
	if err != nil {
		t.Fatal(err)
	}
	moddir := "/lib/modules/" + strings.TrimSpace(string(rel))
	if out, err := exec.Command("mount", "-t", "tmpfs", "none", moddir).CombinedOutput(); err != nil {
		t.Fatalf("hiding %s: %v: %s", moddir, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", moddir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v: %s", moddir, err, out)
		}
		if out, err := exec.Command("modprobe", append([]string{"-a", "ip_vs"}, sched...)...).CombinedOutput(); err != nil {
			t.Errorf("modprobe ip_vs: %v: %s", err, out)
		}
	})
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Fatal("ip_vs still loaded after modprobe -r")
	}
}

// NoIPVSHere prepares a "kernel without IPVS" test: in the VM it hides
// IPVS (WithoutIPVS) and returns true; on a host that has or could load
// ip_vs it returns false, and the caller must skip (probing IPVS runs
// modprobe, and the code under test would then write to the host's own
// table). That skip hides nothing from CI: CI runs the VM tier, where the
// same test runs with IPVS hidden. On a host that truly lacks IPVS it
// returns true.
func NoIPVSHere(t testing.TB) bool {
	t.Helper()
	if InVM() {
		WithoutIPVS(t)
		return true
	}
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		return false
	}
	return exec.Command("modprobe", "-n", "-q", "ip_vs").Run() != nil
}
