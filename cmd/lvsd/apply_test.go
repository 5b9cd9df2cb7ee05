package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runLvsd(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	rc := run(args, &out, &errb)
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

// On this host (no IPVS) apply fails with the one clear message, and the
// dry run plans against an empty table.
func TestApplyWithoutIPVS(t *testing.T) {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		t.Skip("this kernel has IPVS (apply is tested in the VM)")
	}
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
