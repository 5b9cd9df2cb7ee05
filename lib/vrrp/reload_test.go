package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

func rcInst(name string, vrid int, vips ...string) *config.VRRPInstance {
	in := &config.VRRPInstance{Line: 10, Name: name, Interface: "eth0", VRID: vrid, Priority: 100, State: "BACKUP",
		AdvertInt: time.Second, Version: 2}
	for _, v := range vips {
		p := netip.MustParsePrefix(v)
		in.VIPs = append(in.VIPs, config.VIP{Line: 11, Prefix: p})
		in.VirtualIPs = append(in.VirtualIPs, p)
	}
	return in
}

func fmtPlan(p []Change) string {
	var out []string
	for _, c := range p {
		name := ""
		if c.Old != nil {
			name = c.Old.Name
		} else {
			name = c.New.Name
		}
		s := c.Kind.String() + " " + name
		if len(c.What) > 0 {
			s += " (" + strings.Join(c.What, ", ") + ")"
		}
		for _, v := range c.AddVIPs {
			s += " +" + v.Prefix.String()
		}
		for _, v := range c.RemoveVIPs {
			s += " -" + v.Prefix.String()
		}
		out = append(out, s)
	}
	return strings.Join(out, "; ")
}

func TestPlanReload(t *testing.T) {
	base := func() []*config.VRRPInstance {
		return []*config.VRRPInstance{rcInst("VI_1", 51, "10.0.0.100/32"), rcInst("VI_2", 52, "10.0.0.101/32")}
	}
	for _, tc := range []struct {
		name string
		edit func(next *config.Config)
		want string
	}{
		{"unchanged (lines moved)", func(n *config.Config) {
			for _, in := range n.VRRP {
				in.Line += 5
				in.VIPs[0].Line += 5
			}
		}, "keep VI_1; keep VI_2"},
		{"priority", func(n *config.Config) { n.VRRP[0].Priority = 50 }, "update VI_1 (priority 100 -> 50); keep VI_2"},
		{"advert_int", func(n *config.Config) { n.VRRP[1].AdvertInt = 3 * time.Second }, "keep VI_1; update VI_2 (advert_int 1s -> 3s)"},
		{"a VIP added and one removed", func(n *config.Config) {
			in := n.VRRP[0]
			p := netip.MustParsePrefix("10.0.0.200/32")
			in.VIPs = []config.VIP{{Prefix: p}}
			in.VirtualIPs = []netip.Prefix{p}
		}, "update VI_1 (virtual_ipaddress) +10.0.0.200/32 -10.0.0.100/32; keep VI_2"},
		{"a VIP's label changed: removed and added again", func(n *config.Config) { n.VRRP[0].VIPs[0].Label = "eth0:1" },
			"update VI_1 (virtual_ipaddress) +10.0.0.100/32 -10.0.0.100/32; keep VI_2"},
		{"an excluded address added", func(n *config.Config) {
			n.VRRP[0].Excluded = []config.VIP{{Prefix: netip.MustParsePrefix("10.0.1.1/24")}}
		}, "update VI_1 (virtual_ipaddress_excluded) +10.0.1.1/24; keep VI_2"},
		{"tracking", func(n *config.Config) { n.VRRP[0].TrackScripts = []config.TrackRef{{Name: "chk", Weight: -60}} },
			"update VI_1 (track_script); keep VI_2"},
		{"nopreempt", func(n *config.Config) { n.VRRP[0].NoPreempt = true }, "update VI_1 (other settings); keep VI_2"},
		{"renamed: the same router", func(n *config.Config) { n.VRRP[0].Name = "WEB" }, "update VI_1 (name VI_1 -> WEB); keep VI_2"},
		{"removed", func(n *config.Config) { n.VRRP = n.VRRP[1:] }, "stop VI_1; keep VI_2"},
		{"added", func(n *config.Config) { n.VRRP = append(n.VRRP, rcInst("VI_3", 53, "10.0.0.102/32")) }, "keep VI_1; keep VI_2; start VI_3"},
		{"another VRID: another router", func(n *config.Config) { n.VRRP[0].VRID = 61 }, "stop VI_1; keep VI_2; start VI_1"},
		{"another interface: another router", func(n *config.Config) { n.VRRP[0].Interface = "eth1" }, "stop VI_1; keep VI_2; start VI_1"},
		{"another family: another router", func(n *config.Config) {
			p := netip.MustParsePrefix("fd00::100/128")
			n.VRRP[0].VIPs, n.VRRP[0].VirtualIPs, n.VRRP[0].Version = []config.VIP{{Prefix: p}}, []netip.Prefix{p}, 3
		}, "stop VI_1; keep VI_2; start VI_1"},
		{"unicast now: another router", func(n *config.Config) {
			n.VRRP[0].UnicastPeers = []netip.Addr{netip.MustParseAddr("10.0.0.9")}
		}, "stop VI_1; keep VI_2; start VI_1"},
		{"order swapped: both kept", func(n *config.Config) { n.VRRP[0], n.VRRP[1] = n.VRRP[1], n.VRRP[0] }, "keep VI_1; keep VI_2"},
		{"a sync group made: its members join it", func(n *config.Config) {
			n.SyncGroups = []*config.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}}
		}, "update VI_1 (vrrp_sync_group G); update VI_2 (vrrp_sync_group G)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old := &config.Config{VRRP: base()}
			next := &config.Config{VRRP: base()}
			tc.edit(next)
			if got := fmtPlan(PlanReload(old, next)); got != tc.want {
				t.Errorf("plan\n got %s\nwant %s", got, tc.want)
			}
		})
	}
	// a sync group unchanged but for its line: nothing to do
	old := &config.Config{VRRP: base(), SyncGroups: []*config.SyncGroup{{Line: 1, Name: "G", Members: []string{"VI_1", "VI_2"}}}}
	next := &config.Config{VRRP: base(), SyncGroups: []*config.SyncGroup{{Line: 9, Name: "G", Members: []string{"VI_1", "VI_2"}}}}
	if got := fmtPlan(PlanReload(old, next)); got != "keep VI_1; keep VI_2" {
		t.Errorf("sync group moved: %s", got)
	}
	_ = fmt.Sprint
}
