package vrrp

import (
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Seed 003's pattern: both members of a sync group track the same
// weight-0 script. It fails (maintenance file): each member is in FAULT
// for its own reason and for the group's. It passes again: each member's
// own fault clears while the other's group fault still holds it, so each
// must tell the group (not only when its whole fault state flips), or
// both stay in FAULT for ever (found by the VM test of seed 003).
func TestRouterSyncGroupSharedScriptRecovers(t *testing.T) {
	h := &hub{}
	var mu sync.Mutex
	broken := false
	exec := func(string) int {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return 1
		}
		return 0
	}
	pair := func(prio int) *config.Config {
		c := instCfg(prio)
		in2 := *c.VRRP[0]
		in2.Name, in2.VRID = "VI_2", 52
		v := config.VIP{Prefix: netip.MustParsePrefix("192.0.2.101/32")}
		in2.VIPs, in2.VirtualIPs = []config.VIP{v}, []netip.Prefix{v.Prefix}
		c.VRRP = append(c.VRRP, &in2)
		c.SyncGroups = []*config.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}}
		c.Scripts = []*config.TrackScript{{Name: "chk", Script: "check", Interval: 20 * time.Millisecond, Rise: 1, Fall: 1}}
		for _, in := range c.VRRP {
			in.TrackScripts = []config.TrackRef{{Name: "chk", Weight: 0}}
		}
		return c
	}
	a := startNode(t, h, pair(150), "192.0.2.1", exec)
	b := startNode(t, h, pair(100), "192.0.2.2", nil)
	states := func(n *node) string {
		var s []string
		for _, in := range n.r.Status().Instances {
			s = append(s, in.State)
		}
		return strings.Join(s, ",")
	}
	waitFor(t, "A master of both", func() bool { return states(a) == "MASTER,MASTER" && states(b) == "BACKUP,BACKUP" })
	mu.Lock()
	broken = true
	mu.Unlock()
	waitFor(t, "A in fault for both, B master of both", func() bool { return states(a) == "FAULT,FAULT" && states(b) == "MASTER,MASTER" })
	mu.Lock()
	broken = false
	mu.Unlock()
	waitFor(t, "A out of fault (master again: it preempts)", func() bool { return states(a) == "MASTER,MASTER" && states(b) == "BACKUP,BACKUP" })
}
