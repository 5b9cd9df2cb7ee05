package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// VRRP on the wire with Debian's keepalived (2.2.7), each in its own
// network namespace on one veth link: lvsd in A, keepalived in B. The
// VIP's presence is read with `ip -j addr` in each namespace, lvsd's
// adverts are captured in B and decoded; everything is polled.

type proc struct {
	t    *testing.T
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	log  bytes.Buffer
	end  chan struct{}
	pids []string // keepalived's pid files (parent, VRRP child)
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.log.Write(b)
}

func (p *proc) text() string { p.mu.Lock(); defer p.mu.Unlock(); return p.log.String() }

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: name, end: make(chan struct{})}
	p.cmd = exec.Command("ip", args...)
	p.cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.end) }()
	t.Cleanup(func() {
		p.kill()
		if t.Failed() {
			t.Logf("--- %s log:\n%s", p.name, p.text())
		}
	})
	return p
}

// kill is silent death: SIGKILL (keepalived: its VRRP child and parent,
// so nothing sends a priority-0 advert or respawns it).
func (p *proc) kill() {
	netns.KillPidFiles(p.pids)
	p.cmd.Process.Kill()
	<-p.end
}

// stop is a clean stop (SIGTERM), waited for.
func (p *proc) stop() {
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.end:
	case <-time.After(20 * time.Second):
		p.t.Fatalf("%s did not stop on SIGTERM:\n%s", p.name, p.text())
	}
}

type vrrpLab struct {
	t   *testing.T
	p   *netns.Pair
	dir string
}

func newVRRPLab(t *testing.T) *vrrpLab {
	testenv.Root(t)
	testenv.Command(t, "keepalived")
	l := &vrrpLab{t: t, p: netns.New(t), dir: t.TempDir()}
	// IPv6 link-local addresses (VRRPv3's sources) out of DAD on both
	// sides, so neither daemon starts without a source
	for _, ns := range []string{l.p.A, l.p.B} {
		if !netns.WaitFor(10*time.Second, func() bool {
			out, _ := l.p.Cmd(ns, "ip", "-6", "addr", "show", "dev", "eth0", "tentative").Output()
			return len(bytes.TrimSpace(out)) == 0
		}) {
			t.Fatal("link-local address still tentative")
		}
	}
	return l
}

func (l *vrrpLab) write(name, text string) string {
	f := filepath.Join(l.dir, name)
	if err := os.WriteFile(f, []byte(text), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return f
}

func (l *vrrpLab) lvsd(conf string, flags ...string) *proc {
	self, err := os.Executable()
	if err != nil {
		l.t.Fatal(err)
	}
	f := l.write("lvsd.conf", conf)
	args := append([]string{"netns", "exec", l.p.A, self, "run", "--pidfile", "none", "--socket", l.sock()}, flags...)
	return startProc(l.t, "lvsd", append(args, f)...)
}

func (l *vrrpLab) sock() string { return filepath.Join(l.dir, "lvsd.sock") }

func (l *vrrpLab) keepalived(conf string) *proc {
	// -l: log to stderr, read by the tests
	args, pids := netns.KeepalivedArgs(l.p.B, testenv.Command(l.t, "keepalived"), l.write("keepalived.conf", conf), l.dir, "k", "-l")
	p := startProc(l.t, "keepalived", args...)
	p.pids = pids
	return p
}

// has reports whether namespace ns carries address a on eth0.
func (l *vrrpLab) has(ns, a string) bool { return netns.HasAddr(ns, "eth0", a) }

// holder waits until exactly side ("A" lvsd, "B" keepalived) holds vip.
func (l *vrrpLab) holder(side, vip string, within time.Duration, procs ...*proc) time.Duration {
	l.t.Helper()
	return l.holds(side, vip, within, true, procs...)
}

// survivor waits until side holds vip after the other was killed with -9
// (a dead node keeps its addresses: only the survivor is looked at).
func (l *vrrpLab) survivor(side, vip string, within time.Duration, procs ...*proc) time.Duration {
	l.t.Helper()
	return l.holds(side, vip, within, false, procs...)
}

func (l *vrrpLab) holds(side, vip string, within time.Duration, alone bool, procs ...*proc) time.Duration {
	l.t.Helper()
	t0 := time.Now()
	want := l.p.A
	other := l.p.B
	if side == "B" {
		want, other = other, want
	}
	if !netns.WaitFor(within, func() bool { return l.has(want, vip) && (!alone || !l.has(other, vip)) }) {
		var logs []string
		for _, p := range procs {
			logs = append(logs, "--- "+p.name+":\n"+p.text())
		}
		l.t.Fatalf("%s does not hold %s alone within %s (A: %v, B: %v)\n%s", side, vip, within, l.has(l.p.A, vip), l.has(l.p.B, vip), strings.Join(logs, "\n"))
	}
	return time.Since(t0)
}

func (l *vrrpLab) status() statusJSON {
	l.t.Helper()
	ans, err := ask(l.sock(), "status")
	if err != nil {
		l.t.Fatal(err)
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(ans), &s); err != nil || s.VRRP == nil {
		l.t.Fatalf("status: %v\n%s", err, ans)
	}
	return s
}

func (l *vrrpLab) waitSocket(p *proc) {
	l.t.Helper()
	if !netns.WaitFor(20*time.Second, func() bool { _, err := ask(l.sock(), "status"); return err == nil }) {
		l.t.Fatalf("lvsd's control socket never answered:\n%s", p.text())
	}
}

func instance(name, state string, vrid, prio int, extra string) string {
	return fmt.Sprintf(`vrrp_instance %s {
    state %s
    interface eth0
    virtual_router_id %d
    priority %d
%s
}
`, name, state, vrid, prio, extra)
}

func v2pass(vip string) string {
	return fmt.Sprintf(`    advert_int 1
    authentication {
        auth_type PASS
        auth_pass s3cret
    }
    virtual_ipaddress {
        %s/24
    }`, vip)
}

func v3(vip string, bits int) string {
	return fmt.Sprintf(`    version 3
    advert_int 0.1
    virtual_ipaddress {
        %s/%d
    }`, vip, bits)
}

// adverts decodes the VRRP messages captured in frames (IPv4, Ethernet).
func adverts(frames [][]byte) []vrrp.Advert {
	var out []vrrp.Advert
	for _, f := range frames {
		if len(f) < 14+20 || binary.BigEndian.Uint16(f[12:14]) != 0x0800 || f[14+9] != vrrp.Protocol {
			continue
		}
		ihl := int(f[14]&0x0f) * 4
		total := int(binary.BigEndian.Uint16(f[16:18]))
		src, _ := netip.AddrFromSlice(f[26:30])
		dst, _ := netip.AddrFromSlice(f[30:34])
		a, r := vrrp.Decode(vrrp.Packet{Data: f[14+ihl : 14+total], Src: src, Dst: dst, TTL: int(f[22])})
		if !r.Dropped() {
			out = append(out, a)
		}
	}
	return out
}

// VRRPv2 with PASS, advert_int 1: lvsd (150) against keepalived (100).
// lvsd wins the election; its adverts carry what keepalived's do; a clean
// stop sends priority 0 and keepalived takes over at once; lvsd back
// preempts; kill -9 of lvsd: keepalived takes over after Master_Down.
func TestNetnsVRRPKeepalivedV2Pass(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	capt := netns.NewCapture(t, l.p.B, "eth0", 0x0800)
	k := l.keepalived(instance("VI_1", "BACKUP", 51, 100, v2pass(vip)))
	a := l.lvsd(instance("VI_1", "BACKUP", 51, 150, v2pass(vip)))
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a, k)
	st := l.status().VRRP.Instances[0]
	if st.State != "MASTER" || st.Priority != 150 || st.Sent == 0 {
		t.Errorf("lvsd status: %+v", st)
	}
	var mine vrrp.Advert
	for _, ad := range adverts(capt.Frames()) {
		if ad.Priority == 150 {
			mine = ad
		}
	}
	if mine.Version != 2 || mine.VRID != 51 || mine.Interval != time.Second || mine.Auth != vrrp.AuthPass ||
		mine.AuthData != vrrp.Password("s3cret") || len(mine.Addrs) != 1 || mine.Addrs[0].String() != vip {
		t.Errorf("lvsd's advert: %+v", mine)
	}
	a.stop()
	took := l.holder("B", vip, 10*time.Second, a, k)
	zero := false
	for _, ad := range adverts(capt.Frames()) {
		zero = zero || ad.Priority == 0
	}
	if !zero {
		t.Error("no priority-0 advert on lvsd's clean stop")
	}
	t.Logf("clean stop: keepalived holds the VIP %s later (its Master_Down would be 3.6 s)", took.Round(time.Millisecond))

	a = l.lvsd(instance("VI_1", "BACKUP", 51, 150, v2pass(vip)))
	l.holder("A", vip, 15*time.Second, a, k)
	a.kill()
	took = l.survivor("B", vip, 15*time.Second, a, k)
	t.Logf("kill -9: keepalived holds the VIP %s later", took.Round(time.Millisecond))
}

// VRRPv3 IPv4 at 0.1 s: keepalived (150, state MASTER) against lvsd
// (100); lvsd follows; keepalived's clean stop and kill -9 both move the
// VIP to lvsd, keepalived back preempts.
func TestNetnsVRRPKeepalivedV3Master(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	kconf := instance("VI_1", "MASTER", 52, 150, v3(vip, 24))
	k := l.keepalived(kconf)
	a := l.lvsd(instance("VI_1", "BACKUP", 52, 100, v3(vip, 24)), "--metrics", "127.0.0.1:9555")
	l.waitSocket(a)
	l.holder("B", vip, 15*time.Second, a, k)
	// VRRP series, VRRP only (no engine): well-formed, the state right
	metrics := l.p.Run(t, l.p.A, testenv.Command(t, "curl"), "-sf", "http://127.0.0.1:9555/metrics")
	if !strings.Contains(metrics, `lvsd_vrrp_state{instance="VI_1",interface="eth0",state="BACKUP",vrid="52"} 1`) ||
		!strings.Contains(metrics, "lvsd_vrrp_adverts_received_total") {
		t.Errorf("metrics:\n%s", metrics)
	}
	pt := exec.Command(testenv.Command(t, "promtool"), "check", "metrics")
	pt.Stdin = strings.NewReader(metrics)
	if out, err := pt.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if !netns.WaitFor(10*time.Second, func() bool {
		s := l.status().VRRP.Instances[0]
		return s.State == "BACKUP" && s.Master == l.p.V4(2) && s.MasterPrio == 150
	}) {
		t.Fatalf("lvsd does not follow keepalived: %+v", l.status().VRRP.Instances[0])
	}
	k.stop()
	l.holder("A", vip, 10*time.Second, a, k)
	k = l.keepalived(kconf)
	l.holder("B", vip, 15*time.Second, a, k)
	k.kill()
	l.survivor("A", vip, 10*time.Second, a, k)
	if s := l.status().VRRP.Instances[0]; s.LateMax > 50*time.Millisecond {
		t.Logf("note: an advert timer was %s late", s.LateMax)
	}
}

// nopreempt (both BACKUP): lvsd (150) started after keepalived (100) took
// the VIP does not take it back.
func TestNetnsVRRPKeepalivedNoPreempt(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	k := l.keepalived(instance("VI_1", "BACKUP", 53, 100, v3(vip, 24)+"\n    nopreempt"))
	l.holder("B", vip, 15*time.Second, k)
	a := l.lvsd(instance("VI_1", "BACKUP", 53, 150, v3(vip, 24)+"\n    nopreempt"))
	l.waitSocket(a)
	if !netns.WaitFor(5*time.Second, func() bool { return l.status().VRRP.Instances[0].State == "BACKUP" }) {
		t.Fatal("lvsd not BACKUP")
	}
	time.Sleep(time.Second) // ten adverts: long enough for a wrong preemption to show
	if l.has(l.p.A, vip) || !l.has(l.p.B, vip) {
		t.Fatalf("nopreempt: the higher priority took the VIP (A %v, B %v)\n%s", l.has(l.p.A, vip), l.has(l.p.B, vip), a.text())
	}
	k.stop()
	l.holder("A", vip, 10*time.Second, a, k)
}

// VRRPv3 over IPv6 (ff02::12, link-local sources): both ways round.
func TestNetnsVRRPKeepalivedV3IPv6(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V6(100)
	k := l.keepalived(instance("VI_6", "BACKUP", 54, 100, v3(vip, 64)))
	a := l.lvsd(instance("VI_6", "BACKUP", 54, 150, v3(vip, 64)))
	l.waitSocket(a)
	l.holder("A", vip, 20*time.Second, a, k)
	a.stop()
	l.holder("B", vip, 10*time.Second, a, k)
	a = l.lvsd(instance("VI_6", "BACKUP", 54, 150, v3(vip, 64)))
	l.holder("A", vip, 20*time.Second, a, k)
}

// Unicast (unicast_src_ip / unicast_peer), v3 IPv4.
func TestNetnsVRRPKeepalivedUnicast(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	uni := func(src, peer string) string {
		return fmt.Sprintf("    unicast_src_ip %s\n    unicast_peer {\n        %s\n    }", src, peer)
	}
	k := l.keepalived(instance("VI_1", "BACKUP", 55, 150, v3(vip, 24)+"\n"+uni(l.p.V4(2), l.p.V4(1))))
	a := l.lvsd(instance("VI_1", "BACKUP", 55, 100, v3(vip, 24)+"\n"+uni(l.p.V4(1), l.p.V4(2))))
	l.waitSocket(a)
	l.holder("B", vip, 15*time.Second, a, k)
	k.kill()
	l.survivor("A", vip, 10*time.Second, a, k)
}

// seed 003's pattern: a track_script that fails while a maintenance file
// exists moves the master away (weight -60: 150 -> 90 < 100) and back.
func TestNetnsVRRPKeepalivedMaintenanceFile(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	maint := filepath.Join(l.dir, "maintenance")
	// vrrp_notify_fifo: keepalived's lines, read from a FIFO we made
	fifo := filepath.Join(l.dir, "vrrp.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// raw and non-blocking: an os.File would wait in the poller
	rd, err := syscall.Open(fifo, syscall.O_RDWR|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer syscall.Close(rd)
	var fifoText strings.Builder
	fifoHas := func(line string) bool {
		buf := make([]byte, 4096)
		for {
			n, err := syscall.Read(rd, buf)
			if err != nil || n <= 0 {
				break
			}
			fifoText.Write(buf[:n])
		}
		return strings.Contains(fifoText.String(), line+"\n")
	}
	k := l.keepalived(instance("VI_1", "BACKUP", 56, 100, v3(vip, 24)))
	a := l.lvsd(fmt.Sprintf("global_defs {\n    vrrp_notify_fifo %s\n}\n", fifo) + fmt.Sprintf(`vrrp_script chk_maint {
    script "/bin/sh -c '! test -e %s'"
    interval 0.2
    fall 1
    rise 1
    weight -60
}
`, maint) + instance("VI_1", "BACKUP", 56, 150, v3(vip, 24)+"\n    track_script {\n        chk_maint\n    }"))
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a, k)
	os.WriteFile(maint, nil, 0o644)
	l.holder("B", vip, 10*time.Second, a, k)
	if p := l.status().VRRP.Instances[0].Priority; p != 90 {
		t.Errorf("priority in maintenance %d, want 90", p)
	}
	os.Remove(maint)
	l.holder("A", vip, 10*time.Second, a, k)
	for _, want := range []string{`INSTANCE "VI_1" BACKUP 150`, `INSTANCE "VI_1" MASTER 150`, `INSTANCE "VI_1" BACKUP 90`} {
		if !netns.WaitFor(5*time.Second, func() bool { return fifoHas(want) }) {
			t.Errorf("vrrp_notify_fifo: no %q in %q", want, fifoText.String())
		}
	}
}

// weight ... reverse against keepalived 2.2.7: lvsd's priority 150 with a
// passing track_script of weight 10 reverse (-10) and a track_file of
// weight 30 reverse (-30 x its value): the file at 2 takes lvsd to 80,
// below keepalived's 100, which takes the VIP; back at 0, lvsd (140)
// takes it again.
func TestNetnsVRRPKeepalivedReverse(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(101)
	drain := filepath.Join(l.dir, "drain")
	os.WriteFile(drain, []byte("0\n"), 0o644)
	k := l.keepalived(instance("VI_1", "BACKUP", 57, 100, v3(vip, 24)))
	a := l.lvsd(fmt.Sprintf(`vrrp_script chk_ok {
    script "/bin/true"
    interval 0.2
    weight 10 reverse
}
track_file drain {
    file %s
    weight 30 reverse
}
`, drain) + instance("VI_1", "BACKUP", 57, 150, v3(vip, 24)+"\n    track_script {\n        chk_ok\n    }\n    track_file {\n        drain\n    }"))
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a, k)
	if !netns.WaitFor(10*time.Second, func() bool { return l.status().VRRP.Instances[0].Priority == 140 }) {
		t.Errorf("priority %d, want 140 (150, -10 for the passing reverse script)", l.status().VRRP.Instances[0].Priority)
	}
	os.WriteFile(drain, []byte("2\n"), 0o644)
	l.holder("B", vip, 10*time.Second, a, k)
	if p := l.status().VRRP.Instances[0].Priority; p != 80 {
		t.Errorf("priority with the file at 2: %d, want 80", p)
	}
	os.WriteFile(drain, []byte("0\n"), 0o644)
	l.holder("A", vip, 10*time.Second, a, k)
}

// Forged, short, wrong-TTL, bad-checksum, wrong-VRID, wrong-password and
// wrong-interval adverts sent at lvsd (master at 150) claim priority 254:
// each is ignored (lvsd stays master with the VIP) and counted by reason.
func TestNetnsVRRPBadAdverts(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	// the VIP with keepalived's options, and an excluded one: as ip shows them
	opts := strings.Replace(v2pass(vip), vip+"/24", vip+"/24 brd + dev eth0 label eth0:vip", 1) +
		"\n    virtual_ipaddress_excluded {\n        198.51.100.7/32 scope link\n    }"
	a := l.lvsd(instance("VI_1", "BACKUP", 57, 150, opts))
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a)
	if !netns.WaitFor(5*time.Second, func() bool { return l.has(l.p.A, "198.51.100.7") }) {
		t.Error("the virtual_ipaddress_excluded address is not on the master")
	}
	out := l.p.Run(t, l.p.A, "ip", "-j", "addr", "show", "dev", "eth0")
	wantOpts := fmt.Sprintf(`"local":"%s","prefixlen":24,"broadcast":"%s","scope":"global","secondary":true,"label":"eth0:vip"`, vip, l.p.V4(255))
	if !strings.Contains(out, wantOpts) || !strings.Contains(out, `"local":"198.51.100.7","prefixlen":32,"scope":"link"`) {
		t.Errorf("VIP options: want %s in\n%s", wantOpts, out)
	}
	src := netip.MustParseAddr(l.p.V4(2))
	vipA := netip.MustParseAddr(vip)
	good := &vrrp.Wire{Version: 2, VRID: 57, Interval: time.Second, Auth: vrrp.AuthPass, Password: vrrp.Password("s3cret")}
	enc := func(w *vrrp.Wire) []byte {
		b, err := w.Encode(254, []netip.Addr{vipA}, src, vrrp.Group4)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	wrongVRID, wrongPass, wrongIv := *good, *good, *good
	wrongVRID.VRID = 58
	wrongPass.Password = vrrp.Password("guess")
	wrongIv.Interval = 2 * time.Second
	badSum := enc(good)
	badSum[6] ^= 0x55
	send := func(msg []byte, ttl int) {
		err := netns.Do(l.p.B, func() error {
			c, err := net.ListenPacket("ip4:112", "0.0.0.0")
			if err != nil {
				return err
			}
			defer c.Close()
			pc := ipv4.NewPacketConn(c)
			ifi, err := net.InterfaceByName("eth0")
			if err != nil {
				return err
			}
			pc.SetMulticastInterface(ifi)
			pc.SetMulticastTTL(ttl)
			_, err = pc.WriteTo(msg, nil, &net.IPAddr{IP: net.IP(vrrp.Group4.AsSlice())})
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	send(enc(good)[:10], 255)  // short
	send(enc(good), 64)        // TTL not 255: from off the link
	send(badSum, 255)          // checksum
	send(enc(&wrongVRID), 255) // no instance has VRID 58
	send(enc(&wrongPass), 255) // password
	send(enc(&wrongIv), 255)   // v2 interval mismatch
	want := map[string]uint64{"ttl": 1, "checksum": 1, "password": 1, "interval": 1}
	if !netns.WaitFor(10*time.Second, func() bool {
		s := l.status().VRRP
		d := s.Instances[0].Dropped
		for k, n := range want {
			if d[k] != n {
				return false
			}
		}
		return s.Dropped["eth0"]["vrid"] == 1 && s.Dropped["eth0"]["length"] == 1
	}) {
		s := l.status().VRRP
		t.Fatalf("drops: instance %v, interface %v; want %v and vrid, length", s.Instances[0].Dropped, s.Dropped, want)
	}
	if s := l.status().VRRP.Instances[0]; s.State != "MASTER" || s.Received != 0 || !l.has(l.p.A, vip) {
		t.Errorf("a bad advert was obeyed: %+v", s)
	}
}

// vrrp_rt_priority: lvsd's VRRP threads (the instance's, named
// vrrp:VI_1, and its socket's reader, vrrprx:eth0) run SCHED_RR at that
// priority (policy 2 and rt_priority in /proc/PID/task/TID/stat); unset,
// they run at vrrp.DefaultRTPriority; `vrrp_rt_priority 0` leaves every
// thread at normal priority. VRRP-only (no virtual_server, as here),
// every other thread of lvsd runs at the same priority too, as
// keepalived's VRRP process (lib/vrrp rt.go, WholeProcess); with virtual
// servers only the VRRP threads do (lib/vrrp TestRouterRealtimeThreads).
func TestNetnsVRRPRealtime(t *testing.T) {
	for _, tc := range []struct {
		global string
		want   string // the VRRP threads' "policy priority"
	}{
		{"global_defs {\n    vrrp_rt_priority 20\n}\n", "2 20"},
		{"", fmt.Sprintf("2 %d", vrrp.DefaultRTPriority)},
		{"global_defs {\n    vrrp_rt_priority 0\n}\n", "0 0"},
	} {
		t.Run(tc.want, func(t *testing.T) {
			l := newVRRPLab(t)
			vip := l.p.V4(100)
			a := l.lvsd(tc.global + instance("VI_1", "BACKUP", 58, 150, v3(vip, 24)))
			l.waitSocket(a)
			l.holder("A", vip, 15*time.Second, a)
			if e := schedWait(t, a.cmd.Process.Pid, tc.want, tc.want); e != "" {
				t.Errorf("%s\n%s", e, a.text())
			}
		})
	}
}

// VRRP beside a virtual_server from the start (keepalived's usual file;
// IPVS in memory with --ipvs-in-memory, as the host has none): the
// engine runs its checks beside VRRP, and only the VRRP threads are
// real-time, the checks and the rest of lvsd at normal scheduling.
func TestNetnsVRRPRealtimeWithChecks(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	vs := fmt.Sprintf("virtual_server %s 80 {\n    delay_loop 1\n    lb_kind DR\n    protocol TCP\n"+
		"    real_server 127.0.0.1 9 {\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n}\n", vip)
	a := l.lvsd(instance("VI_1", "BACKUP", 58, 150, v3(vip, 24))+vs, "--ipvs-in-memory", "--state", filepath.Join(l.dir, "lvsd.state"))
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a)
	if st := l.status(); len(st.Virtuals) != 1 {
		t.Fatalf("want the virtual server running beside VRRP: %+v\n%s", st.Virtuals, a.text())
	}
	if !netns.WaitFor(5*time.Second, func() bool { return strings.Contains(a.text(), "127.0.0.1:9") && strings.Contains(a.text(), "down") }) {
		t.Errorf("no check verdict for the real (127.0.0.1:9 refuses: down):\n%s", a.text())
	}
	if e := schedWait(t, a.cmd.Process.Pid, fmt.Sprintf("2 %d", vrrp.DefaultRTPriority), "0 0"); e != "" {
		t.Errorf("%s\n%s", e, a.text())
	}
}

// schedWait waits (3 s at most: the sweep of lib/vrrp runs every
// second) until pid's VRRP threads run at want and its other threads at
// others ("policy rt_priority"; "0 0": normal), and says what differs.
func schedWait(t *testing.T, pid int, want, others string) string {
	t.Helper()
	w := map[string]string{"vrrp:VI_1": want, "vrrprx:eth0": want}
	var e string
	for end := time.Now().Add(3 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		vt, off := schedOf(t, pid, others)
		if e = ""; !reflect.DeepEqual(vt, w) || len(off) > 0 {
			e = fmt.Sprintf("VRRP threads %v, want %v; other threads not at %q: %q", vt, w, others, off)
		}
		if e == "" || time.Now().After(end) {
			return e
		}
	}
}

// schedOf reads the scheduling of pid's threads ("policy rt_priority"
// from /proc/PID/task/TID/stat: after comm's brackets, rt_priority is
// field 38 and policy 39, from 0): the VRRP threads' by name (vrrp:NAME,
// vrrprx:IF), and the others not at want.
func schedOf(t *testing.T, pid int, want string) (vrrpThreads map[string]string, others []string) {
	t.Helper()
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	vrrpThreads = map[string]string{}
	for _, f := range tasks {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		comm := string(b[bytes.IndexByte(b, '(')+1 : bytes.LastIndexByte(b, ')')])
		fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(fields) < 39 {
			t.Fatalf("%s: %q", f, b)
		}
		sched := fields[38] + " " + fields[37]
		if strings.HasPrefix(comm, "vrrp:") || strings.HasPrefix(comm, "vrrprx:") {
			vrrpThreads[comm] = sched
		} else if sched != want {
			others = append(others, comm+" "+sched)
		}
	}
	return vrrpThreads, others
}

// Three routers on one bridge: two lvsd (150, 120) and keepalived (100).
// The highest is master; stopped, the middle one (lvsd) takes over, not
// keepalived; killed too, keepalived takes over.
func TestNetnsVRRPThreeRouters(t *testing.T) {
	testenv.Root(t)
	ka := testenv.Command(t, "keepalived")
	id := fmt.Sprintf("%d", os.Getpid()%100000)
	br, ns := "vr3br"+id, []string{"vr3a" + id, "vr3b" + id, "vr3k" + id}
	sh := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	sh("netns", "add", br)
	t.Cleanup(func() { exec.Command("ip", "netns", "del", br).Run() })
	sh("-n", br, "link", "add", "br0", "type", "bridge")
	sh("-n", br, "link", "set", "br0", "up")
	for i, n := range ns {
		sh("netns", "add", n)
		n := n
		t.Cleanup(func() { exec.Command("ip", "netns", "del", n).Run() })
		sh("-n", br, "link", "add", fmt.Sprintf("p%d", i), "type", "veth", "peer", "name", "eth0", "netns", n)
		sh("-n", br, "link", "set", fmt.Sprintf("p%d", i), "master", "br0", "up")
		sh("-n", n, "link", "set", "lo", "up")
		sh("-n", n, "link", "set", "eth0", "up")
		sh("-n", n, "addr", "add", fmt.Sprintf("192.0.2.%d/24", i+1), "dev", "eth0")
	}
	dir := t.TempDir()
	vip := "192.0.2.100"
	conf := func(prio int) string { return instance("VI_1", "BACKUP", 63, prio, v3(vip, 24)) }
	self, _ := os.Executable()
	lv := func(i, prio int) *proc {
		f := filepath.Join(dir, fmt.Sprintf("l%d.conf", i))
		os.WriteFile(f, []byte(conf(prio)), 0o644)
		return startProc(t, fmt.Sprintf("lvsd %d", i), "netns", "exec", ns[i], self, "run", "--pidfile", "none", "--socket", "none", f)
	}
	fk := filepath.Join(dir, "k.conf")
	os.WriteFile(fk, []byte(conf(100)), 0o644)
	k := startProc(t, "keepalived", "netns", "exec", ns[2], ka, "-P", "-n", "-l", "-D", "-R", "-f", fk,
		"-p", filepath.Join(dir, "k.pid"), "-r", filepath.Join(dir, "k.vrrp.pid"), "-c", filepath.Join(dir, "k.chk.pid"))
	k.pids = []string{filepath.Join(dir, "k.vrrp.pid"), filepath.Join(dir, "k.pid")}
	a, b := lv(0, 150), lv(1, 120)
	l := &vrrpLab{t: t, p: &netns.Pair{}}
	holders := func() string {
		var h []string
		for _, n := range ns {
			if l.has(n, vip) {
				h = append(h, n)
			}
		}
		return strings.Join(h, ",")
	}
	wait := func(want string, procs ...*proc) {
		t.Helper()
		if !netns.WaitFor(20*time.Second, func() bool { return holders() == want }) {
			var logs []string
			for _, p := range procs {
				logs = append(logs, p.name+":\n"+p.text())
			}
			t.Fatalf("VIP on %q, want %q\n%s", holders(), want, strings.Join(logs, "\n"))
		}
	}
	wait(ns[0], a, b, k)
	a.stop()
	wait(ns[1], a, b, k)
	b.stop()
	wait(ns[2], a, b, k)
}
