package pcmk

import (
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

func TestStartStop(t *testing.T) {
	testenv.Root(t)
	testenv.Command(t, "pacemakerd")
	testenv.Command(t, "corosync")
	t0 := time.Now()
	c, err := Start(60 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	t.Logf("node online after %v", time.Since(t0))
	if out, err := c.Command("attrd_updater", "-n", "pcmktest", "-U", "5").CombinedOutput(); err != nil {
		t.Fatalf("attrd_updater: %v %s", err, out)
	}
}
