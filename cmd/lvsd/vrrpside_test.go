package main

import (
	"net/netip"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// What a reload starts, stops or changes on the VRRP side, from the
// running file and the new one (keepalived's reload, minus its bugs):
// VRRP gained starts the router (and its FIFOs, sync daemon, scheduling),
// VRRP lost stops all of them, lvs_sync_daemon added / removed / changed
// starts / stops / restarts the daemons, FIFO paths and vrrp_rt_priority
// are applied in place; line numbers moving change nothing.
func TestPlanVRRPSide(t *testing.T) {
	in := func(line int) *config.VRRPInstance {
		return &config.VRRPInstance{Line: line, Name: "VI_1", Interface: "eth0", VRID: 51, Priority: 100, AdvertInt: time.Second,
			VIPs: []config.VIP{{Prefix: netip.MustParsePrefix("192.0.2.1/24")}}}
	}
	type opt func(*config.Config)
	vrrpAt := func(line int) opt { return func(c *config.Config) { c.VRRP = append(c.VRRP, in(line)) } }
	withVRRP := vrrpAt(3)
	sync := func(id, line int) opt {
		return func(c *config.Config) {
			c.LVSSync = &config.LVSSync{Line: line, Interface: "eth0", Instance: "VI_1", SyncID: id}
		}
	}
	unnamed := func(id int) opt {
		return func(c *config.Config) { c.LVSSync = &config.LVSSync{Line: 1, Interface: "eth0", SyncID: id} }
	}
	fifo := func(p string) opt { return func(c *config.Config) { c.Global.VRRPNotifyFIFO = p } }
	nfifo := func(p string) opt { return func(c *config.Config) { c.Global.NotifyFIFO = p } }
	rt := func(p int) opt { return func(c *config.Config) { c.Global.VRRPRTPriority = p } }
	mk := func(os ...opt) *config.Config {
		c := &config.Config{Source: "k.conf"}
		for _, o := range os {
			o(c)
		}
		return c
	}
	K, S, P, C := stepKeep, stepStart, stepStop, stepChange
	for _, c := range []struct {
		name      string
		old, next *config.Config
		want      vrrpSidePlan
	}{
		{"no VRRP either side", mk(), mk(rt(20), fifo("/f")), vrrpSidePlan{K, K, K, K}},
		{"unchanged: the router's own Reload", mk(withVRRP), mk(vrrpAt(9)), vrrpSidePlan{C, K, K, K}},
		{"VRRP added", mk(), mk(withVRRP), vrrpSidePlan{S, K, K, K}},
		{"VRRP added with all", mk(sync(9, 1), fifo("/f"), rt(20)), mk(withVRRP, sync(9, 1), fifo("/f"), rt(20)), vrrpSidePlan{S, S, S, S}},
		{"VRRP removed with all", mk(withVRRP, sync(9, 1), nfifo("/f"), rt(20)), mk(), vrrpSidePlan{P, P, P, P}},
		{"lvs_sync_daemon added", mk(withVRRP), mk(withVRRP, sync(9, 1)), vrrpSidePlan{C, S, K, K}},
		{"lvs_sync_daemon removed", mk(withVRRP, sync(9, 1)), mk(withVRRP), vrrpSidePlan{C, P, K, K}},
		{"lvs_sync_daemon changed", mk(withVRRP, sync(9, 1)), mk(withVRRP, sync(10, 1)), vrrpSidePlan{C, C, K, K}},
		{"lvs_sync_daemon moved a line", mk(withVRRP, sync(9, 1)), mk(withVRRP, sync(9, 4)), vrrpSidePlan{C, K, K, K}},
		{"vrrp_notify_fifo added", mk(withVRRP), mk(withVRRP, fifo("/f")), vrrpSidePlan{C, K, S, K}},
		{"vrrp_notify_fifo moved", mk(withVRRP, fifo("/f")), mk(withVRRP, fifo("/g")), vrrpSidePlan{C, K, C, K}},
		{"notify_fifo now vrrp_notify_fifo", mk(withVRRP, nfifo("/f")), mk(withVRRP, fifo("/f")), vrrpSidePlan{C, K, K, K}},
		{"notify_fifo removed", mk(withVRRP, nfifo("/f")), mk(withVRRP), vrrpSidePlan{C, K, P, K}},
		{"unnamed lvs_sync_daemon without VRRP added", mk(), mk(unnamed(0)), vrrpSidePlan{K, S, K, K}},
		{"unnamed lvs_sync_daemon without VRRP removed", mk(unnamed(0)), mk(), vrrpSidePlan{K, P, K, K}},
		{"unnamed lvs_sync_daemon without VRRP changed", mk(unnamed(0)), mk(unnamed(3)), vrrpSidePlan{K, C, K, K}},
		{"VRRP added beside an unnamed lvs_sync_daemon", mk(unnamed(0)), mk(withVRRP, unnamed(0)), vrrpSidePlan{S, K, K, K}},
		{"vrrp_rt_priority changed", mk(withVRRP, rt(20)), mk(withVRRP, rt(30)), vrrpSidePlan{C, K, K, C}},
		{"vrrp_rt_priority removed", mk(withVRRP, rt(20)), mk(withVRRP), vrrpSidePlan{C, K, K, C}},
		{"vrrp_rt_priority added", mk(withVRRP), mk(withVRRP, rt(20)), vrrpSidePlan{C, K, K, C}},
		{"vrrp_rt_priority 0 (off) from unset", mk(withVRRP), mk(withVRRP, rt(-1)), vrrpSidePlan{C, K, K, C}},
	} {
		if got := planVRRPSide(c.old, c.next); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
