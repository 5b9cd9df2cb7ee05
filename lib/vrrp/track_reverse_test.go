package vrrp

import (
	"net/netip"
	"slices"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// weight ... reverse on the trackers, as keepalived 2.2.7's
// vrrp_track.c: the priority and the FAULTs of one instance as its
// trackers change.
func TestTrackReversePriority(t *testing.T) {
	ic := &config.VRRPInstance{Name: "VI", Interface: "eth0", Priority: 100,
		TrackScripts:    []config.TrackRef{{Name: "up", Weight: 10, Reverse: true}, {Name: "down", Weight: -20, Reverse: true}},
		TrackInterfaces: []config.TrackRef{{Name: "eth1", Weight: 0, Reverse: true}},
		TrackFiles:      []config.TrackRef{{Name: "f", Weight: 3, Reverse: true}}}
	in := &inst{cfg: ic, values: map[string]trackMsg{}, src: netip.MustParseAddr("192.0.2.1")}
	set := func(key string, m trackMsg) { m.key = key; in.values[key] = m }
	set("interface eth0", trackMsg{ok: true})
	set("script up", trackMsg{ok: true})       // 10 reverse, passing: -10
	set("script down", trackMsg{ok: false})    // -20 reverse, failing: +20
	set("interface eth1", trackMsg{ok: false}) // weight 0 reverse, down: no FAULT
	set("file f", trackMsg{val: 5})            // 3 reverse: -15
	if p := in.effective(); p != 100-10+20-15 {
		t.Errorf("priority %d, want 95", p)
	}
	if f := in.faults(); len(f) != 0 {
		t.Errorf("faults %v, want none", f)
	}
	set("interface eth1", trackMsg{ok: true}) // weight 0 reverse, up: FAULT
	set("file f", trackMsg{val: 90})          // -270: FAULT at -254
	f := in.faults()
	if !slices.Contains(f, "interface eth1 up (reverse)") || !slices.Contains(f, "track_file f is 90") {
		t.Errorf("faults %v", f)
	}
	set("script up", trackMsg{ok: false})
	set("script down", trackMsg{ok: true})
	set("file f", trackMsg{val: -10}) // +30
	if p := in.effective(); p != 130 {
		t.Errorf("priority %d, want 130", p)
	}
}
