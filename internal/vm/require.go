package vm

import (
	"os"
	"testing"

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
