package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// The systemd units in packaging/ pass systemd-analyze verify with
// nothing said about them (an unknown key is only a warning there, so any
// line naming our units fails the test), in a root holding this system's
// units and an executable /usr/sbin/lvsd.
func TestSystemdUnitsVerify(t *testing.T) {
	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		testenv.Skip(t, "systemd-analyze not installed (make deps: systemd)")
	}
	root := t.TempDir()
	for _, d := range []string{"usr/sbin", "etc/systemd/system", "etc/ha.d", "etc/lvsd", "lib/systemd"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	if out, err := exec.Command("cp", "-r", "/lib/systemd/system", filepath.Join(root, "lib/systemd/")).CombinedOutput(); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	os.WriteFile(filepath.Join(root, "usr/sbin/lvsd"), []byte("#!/bin/sh\n"), 0o755)
	units, _ := filepath.Glob("../../packaging/systemd/*.service")
	if len(units) != 2 {
		t.Fatalf("units: %v", units)
	}
	for _, u := range units {
		b, err := os.ReadFile(u)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(root, "etc/systemd/system", filepath.Base(u)), b, 0o644)
	}
	out, _ := exec.Command("systemd-analyze", "verify", "--man=no", "--root="+root, "lvsd.service", "lvsd@ldirectord.cf.service").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "lvsd") {
			t.Errorf("systemd-analyze: %s", l)
		}
	}
}
