package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// lvsdAdverts are the times of lvsd's adverts (priority prio) captured
// in capt, from frame index from on.
func lvsdAdverts(capt *netns.Capture, from int, prio uint8) (times []time.Time, zero int) {
	frames, at := capt.Frames(), capt.Times()
	for i := from; i < len(frames) && i < len(at); i++ {
		for _, ad := range adverts(frames[i : i+1]) {
			if ad.Priority == prio {
				times = append(times, at[i])
			}
			if ad.Priority == 0 {
				zero++
			}
		}
	}
	return times, zero
}

// garps counts the gratuitous ARPs for ip (sender address ip) in capt
// from frame index from on.
func garps(capt *netns.Capture, from int, ip string) int {
	want := netip.MustParseAddr(ip).As4()
	n := 0
	for i, f := range capt.Frames() {
		if i >= from && len(f) >= 42 && binary.BigEndian.Uint16(f[12:14]) == 0x0806 && [4]byte(f[28:32]) == want {
			n++
		}
	}
	return n
}

func maxGap(ts []time.Time) time.Duration {
	var m time.Duration
	for i := 1; i < len(ts); i++ {
		m = max(m, ts[i].Sub(ts[i-1]))
	}
	return m
}

// A reload of lvsd as master against keepalived as backup (v2 PASS,
// advert_int 1), as keepalived's own reload behaves: the file reloaded
// with its VRRP part unchanged makes no transition on either side, no
// priority-0 advert, no gratuitous ARP, and lvsd's adverts go on at
// their interval; a VIP added appears on lvsd's interface and is
// announced; a file naming an interface that does not exist is refused
// (FILE:LINE) and changes nothing; an instance added starts and one
// removed stops (priority 0), the other untouched; a lower priority
// hands the VIPs to keepalived.
func TestNetnsVRRPReload(t *testing.T) {
	l := newVRRPLab(t)
	vip, vip2 := l.p.V4(100), l.p.V4(101)
	vrrpCapt := netns.NewCapture(t, l.p.B, "eth0", 0x0800)
	arpCapt := netns.NewCapture(t, l.p.B, "eth0", 0x0806)
	k := l.keepalived(instance("VI_1", "BACKUP", 51, 100, v2pass(vip)))
	conf := func(prio int, vips ...string) string {
		body := v2pass(vip)
		for _, v := range vips {
			body = strings.Replace(body, vip+"/24\n", vip+"/24\n        "+v+"/24\n", 1)
		}
		return instance("VI_1", "BACKUP", 51, prio, body)
	}
	a := l.lvsd(conf(150))
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a, k)
	// the master's gratuitous ARPs are out: garp_master_repeat 5 (a request
	// and a reply each), again garp_master_delay (5 s) later
	if !netns.WaitFor(10*time.Second, func() bool { return garps(arpCapt, 0, vip) >= 20 }) {
		t.Fatalf("lvsd's gratuitous ARPs on becoming master: %d", garps(arpCapt, 0, vip))
	}
	reload := func(text string) string {
		t.Helper()
		l.write("lvsd.conf", text)
		ans, err := ask(l.sock(), "reload")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(ans)
	}
	entering := func() int { return strings.Count(k.text(), "Entering MASTER") }
	// keepalived reloaded too (SIGHUP to its parent), where both nodes
	// must agree: keepalived 2.2.7 drops adverts whose address count
	// differs from its own ("received an unexpected ip number count")
	// and takes over, as it would from a keepalived master
	kreload := func(text string) {
		t.Helper()
		l.write("keepalived.conf", text)
		b, err := os.ReadFile(k.pids[1])
		var pid int
		fmt.Sscan(string(b), &pid)
		if err != nil || pid <= 0 || syscall.Kill(pid, syscall.SIGHUP) != nil {
			t.Fatalf("keepalived's pid: %v %q", err, b)
		}
	}

	// 1. unchanged (a comment and a blank line move every line)
	tr, kt := l.status().VRRP.Instances[0].Transitions, entering()
	v0, a0 := len(vrrpCapt.Frames()), len(arpCapt.Frames())
	if ans := reload("# reloaded\n\n" + conf(150)); ans != "ok" {
		t.Fatalf("reload: %s", ans)
	}
	time.Sleep(3500 * time.Millisecond) // three adverts and more: keepalived's Master_Down
	st := l.status().VRRP.Instances[0]
	ts, zero := lvsdAdverts(vrrpCapt, v0, 150)
	if st.State != "MASTER" || st.Transitions != tr || entering() != kt || zero != 0 || !l.has(l.p.A, vip) || l.has(l.p.B, vip) {
		t.Fatalf("unchanged reload: lvsd %s (%d transitions, was %d), keepalived's transitions %d (was %d), %d priority-0 adverts\n%s\n%s",
			st.State, st.Transitions, tr, entering(), kt, zero, a.text(), k.text())
	}
	if len(ts) < 3 || maxGap(ts) > 1800*time.Millisecond {
		t.Errorf("lvsd's adverts around the reload: %d, largest gap %s (advert_int 1 s)", len(ts), maxGap(ts))
	}
	if n := len(arpCapt.Frames()) - a0; n != 0 {
		t.Errorf("an unchanged reload sent %d ARP frames", n)
	}
	t.Logf("unchanged reload: %d adverts in 3.5 s, largest gap %s, no transition", len(ts), maxGap(ts).Round(time.Millisecond))

	// 2. a VIP added while master: on the interface, announced (and in
	// keepalived's file, reloaded)
	a0 = len(arpCapt.Frames())
	if ans := reload(conf(150, vip2)); ans != "ok" {
		t.Fatalf("reload: %s", ans)
	}
	kreload(instance("VI_1", "BACKUP", 51, 100, strings.Replace(v2pass(vip), vip+"/24\n", vip+"/24\n        "+vip2+"/24\n", 1)))
	if !netns.WaitFor(5*time.Second, func() bool { return l.has(l.p.A, vip2) && garps(arpCapt, a0, vip2) > 0 }) {
		t.Fatalf("the VIP added: on A %v, gratuitous ARPs %d\n%s", l.has(l.p.A, vip2), garps(arpCapt, a0, vip2), a.text())
	}
	if st := l.status().VRRP.Instances[0]; st.State != "MASTER" || st.Transitions != tr || entering() != kt {
		t.Fatalf("adding a VIP moved the master: %+v\n%s", st, k.text())
	}
	if n := garps(arpCapt, a0, vip); n != 0 {
		t.Errorf("adding %s announced %s again (%d ARPs)", vip2, vip, n)
	}
	time.Sleep(4 * time.Second) // keepalived's Master_Down: it must still follow
	if st := l.status().VRRP.Instances[0]; st.State != "MASTER" || st.Transitions != tr || entering() != kt || l.has(l.p.B, vip) {
		t.Fatalf("after both reloads: lvsd %+v\n%s", st, k.text())
	}

	// 3. a bad file: refused with FILE:LINE, nothing changes
	bad := strings.Replace(conf(150, vip2), "interface eth0", "interface nosuch0", 1)
	if ans := reload(bad); !strings.Contains(ans, "lvsd.conf:1: vrrp_instance VI_1: interface nosuch0 does not exist") || !strings.HasSuffix(ans, "refused") {
		t.Fatalf("a reload naming a missing interface: %q", ans)
	}
	if st := l.status().VRRP.Instances[0]; st.State != "MASTER" || st.Transitions != tr || !l.has(l.p.A, vip2) {
		t.Fatalf("a refused reload changed lvsd: %+v", st)
	}

	// 4. a new instance (VRID 52, keepalived has none) starts as at
	// startup and takes its VIP after Master_Down; VI_1 is not touched.
	// Removed again, it stops as on shutdown: a priority-0 advert.
	vip3 := l.p.V4(102)
	vi2 := instance("VI_2", "BACKUP", 52, 120, strings.ReplaceAll(v2pass(vip3), "s3cret", "other"))
	if ans := reload(conf(150, vip2) + vi2); ans != "ok" {
		t.Fatalf("reload: %s", ans)
	}
	if !netns.WaitFor(10*time.Second, func() bool { return l.has(l.p.A, vip3) }) {
		t.Fatalf("the new instance never took %s\n%s", vip3, a.text())
	}
	v0 = len(vrrpCapt.Frames())
	if ans := reload(conf(150, vip2)); ans != "ok" {
		t.Fatalf("reload: %s", ans)
	}
	if l.has(l.p.A, vip3) {
		t.Fatalf("the removed instance's VIP %s is still on A", vip3)
	}
	stop52 := false
	if !netns.WaitFor(5*time.Second, func() bool {
		for _, ad := range adverts(vrrpCapt.Frames()[v0:]) {
			stop52 = stop52 || ad.VRID == 52 && ad.Priority == 0
		}
		return stop52
	}) {
		t.Error("no priority-0 advert for the removed instance")
	}
	if st := l.status().VRRP; len(st.Instances) != 1 || st.Instances[0].Name != "VI_1" || st.Instances[0].State != "MASTER" ||
		st.Instances[0].Transitions != tr || entering() != kt {
		t.Fatalf("adding and removing VI_2 moved VI_1: %+v\n%s", st.Instances, k.text())
	}

	// 5. a lower priority: keepalived takes over, lvsd drops both VIPs
	if ans := reload(conf(50, vip2)); ans != "ok" {
		t.Fatalf("reload: %s", ans)
	}
	took := l.holder("B", vip, 10*time.Second, a, k)
	if !netns.WaitFor(5*time.Second, func() bool { return !l.has(l.p.A, vip2) }) {
		t.Fatalf("lvsd kept %s as backup", vip2)
	}
	if st := l.status().VRRP.Instances[0]; st.State != "BACKUP" || st.Priority != 50 {
		t.Fatalf("lvsd after the lower priority: %+v", st)
	}
	t.Logf("priority 150 -> 50 by reload: keepalived holds the VIP %s later (its Master_Down, 3.6 s)", took.Round(time.Millisecond))
	if strings.Contains(a.text(), "DATA RACE") { // go test -race: lvsd is this binary
		t.Errorf("lvsd:\n%s", a.text())
	}
}
