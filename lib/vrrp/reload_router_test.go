package vrrp

import (
	"net/netip"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// stopAdverts counts the priority-0 adverts the hub carried.
func (h *hub) stopAdverts() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, p := range h.prios {
		if p == 0 {
			n++
		}
	}
	return n
}

func (f *fakeAddrs) has(p string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.have[netip.MustParsePrefix(p)]
}

func (f *fakeAddrs) announced() int { f.mu.Lock(); defer f.mu.Unlock(); return f.ann }

// A reload over a running pair, as keepalived's: the unchanged master
// stays master with no transition and nothing extra on the wire; a VIP
// added while master is added and announced; a lower priority loses to
// the backup; a removed instance stops cleanly (priority 0) and a new
// one starts; a file naming a missing interface changes nothing.
func TestRouterReload(t *testing.T) {
	h := &hub{}
	a := startNode(t, h, instCfg(150), "192.0.2.1", nil)
	b := startNode(t, h, instCfg(100), "192.0.2.2", nil)
	waitFor(t, "A master, B backup", func() bool { return a.state() == "MASTER" && b.state() == "BACKUP" && a.addrs.holds() })
	tr := a.r.Status().Instances[0].Transitions

	// unchanged
	lines, err := a.r.Reload(instCfg(150))
	if err != nil || len(lines) != 0 {
		t.Fatalf("unchanged reload: %v %q", err, lines)
	}
	time.Sleep(300 * time.Millisecond) // three adverts
	if st := a.r.Status().Instances[0]; st.State != "MASTER" || st.Transitions != tr || h.stopAdverts() != 0 || b.state() != "BACKUP" {
		t.Fatalf("unchanged reload moved something: A %+v, B %s, %d priority-0 adverts", st, b.state(), h.stopAdverts())
	}

	// a VIP added while master
	ann := a.addrs.announced()
	two := func(prio int) *config.Config {
		return instCfg(prio, func(in *config.VRRPInstance) {
			v := config.VIP{Prefix: netip.MustParsePrefix("192.0.2.200/32")}
			in.VIPs = append(in.VIPs, v)
			in.VirtualIPs = append(in.VirtualIPs, v.Prefix)
		})
	}
	if lines, err := a.r.Reload(two(150)); err != nil || len(lines) != 1 || !strings.Contains(lines[0], "virtual_ipaddress") {
		t.Fatalf("reload adding a VIP: %v %q", err, lines)
	}
	if !a.addrs.has("192.0.2.200/32") || !a.addrs.has("192.0.2.100/32") || a.addrs.announced() != ann+1 {
		t.Fatalf("after adding a VIP: %v, announced %d (was %d)", a.addrs.have, a.addrs.announced(), ann)
	}
	if a.r.Status().Instances[0].Transitions != tr {
		t.Fatal("adding a VIP made a transition")
	}
	// ... and removed again
	if _, err := a.r.Reload(instCfg(150)); err != nil {
		t.Fatal(err)
	}
	if a.addrs.has("192.0.2.200/32") || !a.addrs.has("192.0.2.100/32") {
		t.Fatalf("after removing a VIP: %v", a.addrs.have)
	}

	// a bad file: an interface that does not exist
	bad := instCfg(150, func(in *config.VRRPInstance) { in.Interface = "nosuch0"; in.Line = 7 })
	a.r.o.Link = func(name string, _ bool, _ []netip.Prefix) (bool, netip.Addr, error) {
		if name == "nosuch0" {
			return false, netip.Addr{}, os.ErrNotExist
		}
		return true, netip.MustParseAddr("192.0.2.1"), nil
	}
	if _, err := a.r.Reload(bad); err == nil || !strings.Contains(err.Error(), "test.conf:7: vrrp_instance VI_1: interface nosuch0 does not exist") {
		t.Fatalf("bad reload: %v", err)
	}
	if st := a.r.Status().Instances[0]; st.State != "MASTER" || st.Transitions != tr {
		t.Fatalf("a refused reload moved the master: %+v", st)
	}

	// a lower priority loses
	if _, err := a.r.Reload(instCfg(50)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "B master after A's priority went to 50", func() bool { return b.state() == "MASTER" && a.state() == "BACKUP" })
	if p := a.r.Status().Instances[0]; p.Priority != 50 || p.BasePriority != 50 || a.addrs.holds() {
		t.Fatalf("A after losing: %+v, VIPs %v", p, a.addrs.have)
	}
	if h.stopAdverts() != 0 {
		t.Fatal("a priority change sent a priority-0 advert")
	}
	// back up: A preempts again
	if _, err := a.r.Reload(instCfg(150)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "A master again", func() bool { return a.state() == "MASTER" && b.state() == "BACKUP" })

	// VI_1 removed, VI_2 added
	vi2 := instCfg(150, func(in *config.VRRPInstance) {
		in.Name, in.VRID = "VI_2", 52
		v := config.VIP{Prefix: netip.MustParsePrefix("192.0.2.102/32")}
		in.VIPs, in.VirtualIPs = []config.VIP{v}, []netip.Prefix{v.Prefix}
	})
	lines, err = a.r.Reload(vi2)
	if err != nil || len(lines) != 2 {
		t.Fatalf("reload replacing VI_1: %v %q", err, lines)
	}
	if a.addrs.has("192.0.2.100/32") || h.stopAdverts() != 1 {
		t.Fatalf("VI_1 not stopped cleanly: VIPs %v, %d priority-0 adverts", a.addrs.have, h.stopAdverts())
	}
	waitFor(t, "B master of VI_1 (after the skew)", func() bool { return b.state() == "MASTER" })
	waitFor(t, "A's VI_2 master (no peer)", func() bool {
		st := a.r.Status().Instances
		return len(st) == 1 && st[0].Name == "VI_2" && st[0].State == "MASTER" && a.addrs.has("192.0.2.102/32")
	})
}

// A reload keeps a track_script's result: a failing script does not
// read as passing again (a master moved away by it stays away).
func TestRouterReloadKeepsScriptResult(t *testing.T) {
	h := &hub{}
	var slow atomic.Bool
	failing := func(string) int {
		if slow.Load() {
			time.Sleep(time.Second) // the first run after the reload takes its time
		}
		return 1
	}
	withScript := func(prio int) *config.Config {
		c := instCfg(prio)
		c.Scripts = []*config.TrackScript{{Name: "chk", Script: "check", Interval: time.Hour, Rise: 1, Fall: 1}}
		c.VRRP[0].TrackScripts = []config.TrackRef{{Name: "chk", Weight: -60}}
		return c
	}
	a := startNode(t, h, withScript(150), "192.0.2.1", failing)
	b := startNode(t, h, instCfg(100), "192.0.2.2", nil)
	waitFor(t, "B master, A at 90", func() bool {
		return b.state() == "MASTER" && a.state() == "BACKUP" && a.r.Status().Instances[0].Priority == 90
	})
	// the script's first run after the reload takes a second: a result
	// not carried over would read as passing (160) meanwhile, and A would
	// take the master back after its Master_Down (0.34 s)
	slow.Store(true)
	if _, err := a.r.Reload(withScript(160)); err != nil {
		t.Fatal(err)
	}
	if p := a.r.Status().Instances[0].Priority; p != 100 {
		t.Fatalf("A's priority after the reload %d, want 160-60", p)
	}
	time.Sleep(800 * time.Millisecond)
	if a.state() != "BACKUP" || b.state() != "MASTER" {
		t.Fatalf("A %s, B %s: the reload took the master back", a.state(), b.state())
	}
}

// lower_prio_no_advert and garp_lower_prio_repeat reach the machine: a
// master hearing a lower priority answers at once with an advert unless
// told not to, and announces its addresses again.
func TestRouterLowerPrioSettings(t *testing.T) {
	for _, noAdv := range []bool{false, true} {
		h := &hub{}
		// the owner, master at once, adverts 10 s apart: an answer stands out
		a := startNode(t, h, instCfg(255, func(in *config.VRRPInstance) {
			in.AdvertInt, in.Version, in.State = 10*time.Second, 2, "MASTER"
			in.LowerPrioNoAdvert, in.GARPLowerPrioRepeat = noAdv, 3
		}), "192.0.2.1", nil)
		waitFor(t, "A master", func() bool { return a.state() == "MASTER" && a.addrs.holds() })
		time.Sleep(100 * time.Millisecond)
		fake, _ := h.open(SocketOptions{})
		h.mu.Lock()
		n := len(h.prios)
		h.mu.Unlock()
		ann := a.addrs.announced()
		w := &Wire{Version: 2, VRID: 51, Interval: 10 * time.Second}
		m, _ := w.Encode(50, []netip.Addr{netip.MustParseAddr("192.0.2.100")}, netip.MustParseAddr("192.0.2.9"), Group4)
		fake.WritePacket(m, netip.MustParseAddr("192.0.2.9"), Group4)
		waitFor(t, "the addresses announced again", func() bool { return a.addrs.announced() > ann })
		time.Sleep(50 * time.Millisecond)
		h.mu.Lock()
		answered := false
		for _, p := range h.prios[n+1:] { // after our fake advert
			answered = answered || p == 255
		}
		h.mu.Unlock()
		if answered == noAdv {
			t.Errorf("lower_prio_no_advert %v: answered %v", noAdv, answered)
		}
		a.stop()
	}
}
