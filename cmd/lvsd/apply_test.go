package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

func runLvsd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	if !vm.InVM() {
		rc := run(args, &out, &errb)
		return rc, out.String(), errb.String()
	}
	// In the VM, a process of its own, as lvsd is: the netlink library
	// caches the IPVS family per process, and vm.ResetIPVS reloads ip_vs
	// between tests.
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	cmd.Stdout, cmd.Stderr = &out, &errb
	rc := 0
	if err := cmd.Run(); err != nil {
		rc = -1
		if ee, ok := err.(*exec.ExitError); ok {
			rc = ee.ExitCode()
		}
	}
	return rc, out.String(), errb.String()
}

func TestApplyHelp(t *testing.T) {
	rc, out, _ := runLvsd("apply", "--help")
	if rc != 0 || !strings.Contains(out, "usage: lvsd apply") || !strings.Contains(out, "--dry-run") {
		t.Fatalf("rc %d\n%s", rc, out)
	}
	if rc, _, _ := runLvsd("apply"); rc != 2 {
		t.Fatalf("no FILE: rc %d", rc)
	}
}

func TestApplyBadConfigNamesLine(t *testing.T) {
	f := filepath.Join(t.TempDir(), "bad.cf")
	os.WriteFile(f, []byte("virtual=192.0.2.1:80\n\treal=10.0.0.1:80 bogus 1\n"), 0o644)
	rc, _, errs := runLvsd("apply", "--dry-run", f)
	if rc != 2 || !strings.Contains(errs, f+":2") {
		t.Fatalf("rc %d\n%s", rc, errs)
	}
}

func TestApplyStateFile(t *testing.T) {
	f := filepath.Join(t.TempDir(), "state.json")
	if k, err := readState(f); err != nil || k != nil {
		t.Fatalf("missing state: %v %v", k, err)
	}
	os.WriteFile(f, []byte("not json"), 0o644)
	if _, err := readState(f); err == nil {
		t.Fatal("garbage state accepted")
	}
}

// noIPVS skips a test of the "kernel without IPVS" paths on a host that
// has or could load ip_vs: see vm.NoIPVSHere (in the VM, IPVS is hidden
// and the test runs, so this skip never hides a failure from CI).
func noIPVS(t *testing.T) {
	t.Helper()
	if !vm.NoIPVSHere(t) {
		t.Skip("this kernel has or can load IPVS: not touching the host's table (this test runs in the VM with IPVS hidden)")
	}
}

// Without IPVS apply fails with the one clear message, and the dry run
// plans against an empty table.
func TestApplyWithoutIPVS(t *testing.T) {
	noIPVS(t)
	cf := "../../testdata/ipvs/every-option.cf"
	rc, _, errs := runLvsd("apply", cf)
	if rc != 1 || !strings.Contains(errs, "the kernel has no IPVS: load ip_vs") {
		t.Fatalf("rc %d\n%s", rc, errs)
	}
	rc, out, errs := runLvsd("apply", "--dry-run", cf)
	if rc != 0 || !strings.Contains(out, "-A -f 8 -6 -s lc") ||
		!strings.Contains(out, "services: 20 added, 0 edited, 0 removed; reals: 35 added, 0 edited, 0 removed; dry run, would make 55 netlink writes") {
		t.Fatalf("rc %d\n%s\n%s", rc, out, errs)
	}
}

// The daemon says the same and exits 1 (the director agent maps it to 5).
func TestRunWithoutIPVS(t *testing.T) {
	noIPVS(t)
	dir := t.TempDir()
	rc, _, errs := runLvsd("run", "--pidfile", "none", "--socket", "none", "--state", dir+"/s", "../../testdata/ipvs/every-option.cf")
	if rc != 1 || !strings.Contains(errs, "the kernel has no IPVS: load ip_vs") {
		t.Fatalf("rc %d\n%s", rc, errs)
	}
}
