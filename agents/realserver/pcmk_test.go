package realserver

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/pcmk"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// A realserver clone under a real Pacemaker (one node, its own network
// namespace, internal/pcmk), configured with the crm block of
// docs/realserver.md: started, the VIPs and settings in place; a VIP
// removed by hand is a failed monitor, and Pacemaker's recovery puts it
// back; stopping the clone restores the settings and removes the state.
func TestPacemakerClone(t *testing.T) {
	testenv.Root(t)
	for _, c := range []string{"pacemakerd", "corosync", "crm", "crm_mon", "crm_failcount"} {
		testenv.Command(t, c)
	}
	c, err := pcmk.Start(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Stop)
	in := func(script string) string {
		t.Helper()
		out, err := c.Command("sh", "-ec", script).CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", script, err, out)
		}
		return string(out)
	}
	// Where this node's Pacemaker finds ocf:lvs:realserver: a bind mount
	// over resource.d in the cluster's private mount namespace.
	ocf := t.TempDir()
	os.MkdirAll(filepath.Join(ocf, "lvs"), 0o755)
	b, err := os.ReadFile(agentBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(ocf, "lvs", "realserver"), b, 0o755); err != nil {
		t.Fatal(err)
	}
	in(fmt.Sprintf(`mount --bind %s /usr/lib/ocf/resource.d
ip link add eth0 type veth peer name eth0p
ip link set eth0p up; ip link set eth0 up
ip addr add 10.55.0.1/24 dev eth0
ip route add default via 10.55.0.254`, ocf))
	vip, vip6 := "10.66.0.1", "fd66::1"
	crmFile := filepath.Join(t.TempDir(), "rs.crm")
	os.WriteFile(crmFile, []byte(fmt.Sprintf(`primitive RS_WEB ocf:lvs:realserver params ip="%s,%s" \
    op monitor interval=2s timeout=20s
clone RS_WEB-clone RS_WEB
`, vip, vip6)), 0o644)
	in("crm configure load update " + crmFile)

	has := func(p string) bool {
		out, _ := c.Command("ip", "-o", "addr", "show", "dev", "lo", "to", p).CombinedOutput()
		return strings.Contains(string(out), p)
	}
	sysctl := func(k string) string { return strings.TrimSpace(in("cat /proc/sys/net/ipv4/conf/" + k)) }
	wait := func(what string, cond func() bool) {
		t.Helper()
		if !netns.WaitFor(60*time.Second, cond) {
			out, _ := c.Command("crm_mon", "-1", "-f").CombinedOutput()
			log, _ := os.ReadFile(filepath.Join(c.Dir, "pacemaker.log"))
			if i := len(log) - 6000; i > 0 {
				log = log[i:]
			}
			t.Fatalf("%s: not within 60 s\n%s\n%s", what, out, log)
		}
	}
	wait("clone started", func() bool { return has(vip+"/32") && has(vip6+"/128") })
	for k, v := range map[string]string{"all/arp_ignore": "1", "all/arp_announce": "2", "lo/arp_ignore": "1", "eth0/arp_announce": "2"} {
		if got := sysctl(k); got != v {
			t.Errorf("started: %s = %s, want %s", k, got, v)
		}
	}

	in("ip addr del " + vip + "/32 dev lo")
	wait("recovery after a failed monitor", func() bool {
		out, _ := c.Command("crm_failcount", "--query", "-r", "RS_WEB").CombinedOutput()
		return has(vip+"/32") && strings.Contains(string(out), "value=") && !strings.Contains(string(out), "value=0")
	})

	t.Logf("after recovery: %s", in("crm_failcount --query -r RS_WEB"))
	in("crm resource stop RS_WEB-clone")
	wait("clone stopped", func() bool { return !has(vip+"/32") && !has(vip6+"/128") })
	wait("settings restored", func() bool { return sysctl("all/arp_ignore") == "0" && sysctl("eth0/arp_announce") == "0" })
	if out, err := c.Command("test", "-e", "/run/resource-agents/"+StateName).CombinedOutput(); err == nil {
		t.Errorf("state file left after stop %s", out)
	} else if _, ok := err.(*exec.ExitError); !ok {
		t.Fatal(err)
	}
}
