package main

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// keepalivedNew is l.keepalived with keepalived 2.3.3 (testenv.KeepalivedNew).
func (l *vrrpLab) keepalivedNew(conf string) *proc {
	// built VRRP only: no -P or -c (the checker's options) to give it
	pid, vpid := filepath.Join(l.dir, "kn.pid"), filepath.Join(l.dir, "kn.vrrp.pid")
	os.Remove(pid)
	os.Remove(vpid)
	args := []string{"netns", "exec", l.p.B, testenv.KeepalivedNew(l.t), "-n", "-l", "-D", "-R",
		"-f", l.write("keepalived-new.conf", conf), "-p", pid, "-r", vpid}
	pids := []string{vpid, pid}
	p := startProc(l.t, "keepalived 2.3.3", args...)
	p.pids = pids
	return p
}

// vrrpPayloads are the VRRP messages (IP header stripped) in frames sent
// from src, with the priority prio.
func vrrpPayloads(frames [][]byte, src string, prio int) [][]byte {
	var out [][]byte
	for _, f := range frames {
		if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 || f[14+9] != 112 {
			continue
		}
		ihl := int(f[14]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(f[16:18]))
		from, _ := netip.AddrFromSlice(f[26:30])
		if from.String() != src || len(f) < 14+total || total < ihl+8 {
			continue
		}
		m := f[14+ihl : 14+total]
		if int(m[2]) == prio {
			out = append(out, append([]byte(nil), m...))
		}
	}
	return out
}

// v3_checksum_as_v2 (VRRPv3 IPv4, the checksum without the IP
// pseudo-header: keepalived 2.2.8 and later) on the wire with keepalived
// 2.3.3, both set so: lvsd follows keepalived's adverts as a backup, and
// keepalived follows lvsd's (a backup under lvsd's master for 2 s, many
// times its Master_Down). With the
// pseudo-header out, lvsd's advert at keepalived's priority is
// keepalived's, byte for byte, though sent from another address. Without
// the option on lvsd's side, keepalived drops its adverts (checksum) and
// both hold the VIP: the option is what makes the pair work.
func TestNetnsVRRPKeepalivedChecksumAsV2(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	asV2 := "\n    v3_checksum_as_v2"
	// each side's capture sees what the other sends
	captA := netns.NewCapture(t, l.p.A, "eth0", 0x0800)
	captB := netns.NewCapture(t, l.p.B, "eth0", 0x0800)

	// keepalived master at 100, lvsd backup at 50: lvsd takes keepalived's
	// adverts (a wrong checksum would be dropped: lvsd would take over)
	k := l.keepalivedNew(instance("VI_1", "MASTER", 61, 100, v3(vip, 24)+asV2))
	a := l.lvsd(instance("VI_1", "BACKUP", 61, 50, v3(vip, 24)+asV2))
	l.waitSocket(a)
	l.holder("B", vip, 15*time.Second, a, k)
	if !netns.WaitFor(10*time.Second, func() bool {
		s := l.status().VRRP.Instances[0]
		return s.State == "BACKUP" && s.Master == l.p.V4(2) && s.MasterPrio == 100
	}) {
		t.Fatalf("lvsd does not follow keepalived 2.3.3 with v3_checksum_as_v2: %+v", l.status().VRRP.Instances[0])
	}
	time.Sleep(time.Second) // ten adverts, each one Master_Down's worth of a wrong verdict
	if l.has(l.p.A, vip) {
		t.Fatalf("lvsd took the VIP from a live keepalived master: %+v\n%s", l.status().VRRP.Instances[0], a.text())
	}
	if d := l.status().VRRP.Instances[0].Dropped; len(d) > 0 {
		t.Errorf("lvsd dropped keepalived's adverts: %v", d)
	}
	theirs := vrrpPayloads(captA.Frames(), l.p.V4(2), 100)

	// lvsd alone at 100: its adverts
	k.kill()
	a.stop()
	a = l.lvsd(instance("VI_1", "BACKUP", 61, 100, v3(vip, 24)+asV2))
	l.waitSocket(a)
	l.survivor("A", vip, 15*time.Second, a)
	// keepalived back as a backup at 50: it must stay one (it takes
	// lvsd's adverts)
	k = l.keepalivedNew(instance("VI_1", "BACKUP", 61, 50, v3(vip, 24)+asV2))
	time.Sleep(2 * time.Second)
	l.holder("A", vip, time.Second, a, k)
	ours := vrrpPayloads(captB.Frames(), l.p.V4(1), 100)
	if len(theirs) == 0 || len(ours) == 0 {
		t.Fatalf("adverts captured: keepalived's %d, lvsd's %d", len(theirs), len(ours))
	}
	if !bytes.Equal(ours[len(ours)-1], theirs[len(theirs)-1]) {
		t.Errorf("lvsd's advert differs from keepalived 2.3.3's at the same priority:\nlvsd       % x\nkeepalived % x", ours[len(ours)-1], theirs[len(theirs)-1])
	}
	// a clean stop (priority 0) hands over at once
	a.stop()
	took := l.holder("B", vip, 5*time.Second, a, k)
	t.Logf("v3_checksum_as_v2 with keepalived 2.3.3: adverts byte for byte (% x); clean stop handed over in %s", ours[len(ours)-1], took.Round(time.Millisecond))

	// the forms mixed, lvsd without the option at 150: keepalived 2.3.3
	// with it checks no checksum at all, so it hears lvsd and yields;
	// lvsd drops keepalived's adverts (checksum) until it does
	a = l.lvsd(instance("VI_1", "BACKUP", 61, 150, v3(vip, 24)))
	l.waitSocket(a)
	l.holder("A", vip, 10*time.Second, a, k)
	if d := l.status().VRRP.Instances[0].Dropped; d["checksum"] == 0 {
		t.Errorf("lvsd without the option took keepalived's v2-form checksums: %v", d)
	}
	a.stop()
	k.kill()

	// lvsd with the option, backup at 50, against Debian's keepalived
	// 2.2.7 (no such option: the RFC form) at 100: lvsd hears it too
	k = l.keepalived(instance("VI_1", "MASTER", 61, 100, v3(vip, 24)))
	l.holder("B", vip, 15*time.Second, k)
	a = l.lvsd(instance("VI_1", "BACKUP", 61, 50, v3(vip, 24)+asV2))
	l.waitSocket(a)
	if !netns.WaitFor(10*time.Second, func() bool {
		s := l.status().VRRP.Instances[0]
		return s.State == "BACKUP" && s.Master == l.p.V4(2) && s.MasterPrio == 100
	}) {
		t.Fatalf("lvsd with v3_checksum_as_v2 does not follow keepalived 2.2.7 (RFC form): %+v", l.status().VRRP.Instances[0])
	}
	time.Sleep(time.Second)
	if l.has(l.p.A, vip) {
		t.Errorf("lvsd with v3_checksum_as_v2 took the VIP from keepalived 2.2.7: %+v", l.status().VRRP.Instances[0])
	}
}
