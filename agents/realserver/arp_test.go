package realserver

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

var replyRe = regexp.MustCompile(`reply from \S+ \[([0-9a-fA-F:]+)\]`)

// arpFrom asks for ip from ns's eth0 with broadcast requests only, and
// returns the MACs that answered.
func arpFrom(t *testing.T, ns, ip string) []string {
	t.Helper()
	bb := testenv.Command(t, "busybox")
	out, _ := exec.Command("ip", "netns", "exec", ns, bb, "arping", "-b", "-c", "2", "-w", "2", "-I", "eth0", ip).CombinedOutput()
	var macs []string
	for _, m := range replyRe.FindAllStringSubmatch(string(out), -1) {
		if mac := strings.ToLower(m[1]); !strings.Contains(strings.Join(macs, " "), mac) {
			macs = append(macs, mac)
		}
	}
	return macs
}

// The ARP effect itself, on the host: a VIP on lo is answered for without
// the helper's settings and not with them; on a node that is also the
// director, the VIP agent's address on eth0 is answered for while the
// realserver resource stays running, and silence returns when it stops.
func TestNetnsARPSilence(t *testing.T) {
	p := netns.New(t)
	p.Run(t, p.A, "ip", "route", "add", "default", "via", p.V4(2))
	vip := p.V4(100)
	macA := p.MACA.String()

	// By hand, without the settings: the node answers for its lo address.
	p.Run(t, p.A, "ip", "addr", "add", vip+"/32", "dev", "lo")
	if macs := arpFrom(t, p.B, vip); len(macs) != 1 || macs[0] != macA {
		t.Fatalf("control: a VIP on lo without arp_ignore should be answered by %s, got %v", macA, macs)
	}
	p.Run(t, p.A, "ip", "addr", "del", vip+"/32", "dev", "lo")

	rsctmp := t.TempDir()
	want := func(code int, action string, kv ...string) {
		t.Helper()
		if got, errs := agent(t, p.A, rsctmp, action, kv...); got != code {
			t.Fatalf("realserver %s: exit %d, want %d\n%s", action, got, code, errs)
		}
	}
	want(0, "start", "ip="+vip)
	if macs := arpFrom(t, p.B, vip); len(macs) != 0 {
		t.Fatalf("realserver started: ARP for the VIP answered by %v", macs)
	}

	// The same node as the director: ocf:lvs:VIP puts the VIP on eth0.
	vipBin := filepath.Join(filepath.Dir(agentBin(t)), "VIP")
	if out, err := exec.Command("go", "build", "-o", vipBin, "github.com/ocf-lvs/ocf-lvs/cmd/VIP").CombinedOutput(); err != nil {
		t.Fatalf("go build VIP: %v\n%s", err, out)
	}
	vipAgent := func(action string) {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", p.A, vipBin, action)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HA_RSCTMP=" + t.TempDir(), "OCF_RESKEY_ip=" + vip, "OCF_RESKEY_cidr_netmask=24",
			"OCF_RESKEY_nic=eth0", "OCF_RESKEY_arp_count=1", "OCF_RESOURCE_INSTANCE=vip"}
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("VIP %s: %v\n%s", action, err, out)
		}
	}
	vipAgent("start")
	if macs := arpFrom(t, p.B, vip); len(macs) != 1 || macs[0] != macA {
		t.Errorf("director VIP on eth0: ARP answered by %v, want %s", macs, macA)
	}
	want(0, "monitor", "ip="+vip)
	vipAgent("stop")
	if macs := arpFrom(t, p.B, vip); len(macs) != 0 {
		t.Errorf("director VIP stopped: ARP answered by %v", macs)
	}
	want(0, "monitor", "ip="+vip)
	want(0, "stop", "ip="+vip)
}
