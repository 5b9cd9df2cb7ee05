//go:build vm

package ipvs

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// TestOpenNetlinkNoModprobe: a process whose first handle finds ip_vs
// loaded runs no modprobe (moby/ipvs's setup would, at every lvsd start)
// and its handle works. The once is per process: the check runs in a
// child of the test binary, with a modprobe first on PATH that leaves a
// mark.
func TestOpenNetlinkNoModprobe(t *testing.T) {
	if os.Getenv("IPVS_TEST_OPEN_CHILD") == "1" {
		k, err := OpenNetlink()
		if err != nil {
			t.Fatal(err)
		}
		defer k.Close()
		if _, err := k.Services(); err != nil {
			t.Fatal(err)
		}
		return
	}
	vm.Require(t)
	if _, err := os.Stat("/proc/net/ip_vs"); err != nil {
		t.Fatalf("ip_vs is not loaded: %v", err)
	}
	dir := t.TempDir()
	mark := filepath.Join(dir, "ran")
	if err := os.WriteFile(filepath.Join(dir, "modprobe"), []byte("#!/bin/sh\necho \"$@\" >>"+mark+"\nexec /sbin/modprobe \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	c := exec.Command(os.Args[0], "-test.run", "^TestOpenNetlinkNoModprobe$", "-test.v")
	c.Env = append(os.Environ(), "IPVS_TEST_OPEN_CHILD=1", "PATH="+dir+":"+os.Getenv("PATH"))
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if b, err := os.ReadFile(mark); err == nil {
		t.Errorf("modprobe ran with ip_vs loaded: modprobe %s", b)
	}
}
