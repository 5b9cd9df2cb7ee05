//go:build vm

package vm

import (
	"os/exec"
	"strings"
	"testing"
)

// Inside the VM: IPVS and its schedulers are loaded, ipvsadm talks to it.
func TestInsideVM(t *testing.T) {
	Require(t)
	out, err := exec.Command("ipvsadm", "-Ln").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "IP Virtual Server") {
		t.Fatalf("ipvsadm -Ln: %v\n%s", err, out)
	}
	mods, _ := exec.Command("lsmod").Output()
	for _, m := range []string{"ip_vs_mh", "ip_vs_wrr", "veth"} {
		if !strings.Contains(string(mods), m) {
			t.Errorf("module %s not loaded", m)
		}
	}
}
