package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// hub is a fake link: what one socket writes, the others read (TTL 255).
type hub struct {
	mu    sync.Mutex
	socks []*hubSock
	prios []uint8 // the priority of every advert written (byte 2)
	cut   bool    // the link is down: nothing is carried
}

type hubSock struct {
	h    *hub
	ch   chan Packet
	done chan struct{}
	once sync.Once
}

func (h *hub) open(SocketOptions) (Socket, error) {
	s := &hubSock{h: h, ch: make(chan Packet, 256), done: make(chan struct{})}
	h.mu.Lock()
	h.socks = append(h.socks, s)
	h.mu.Unlock()
	return s, nil
}

func (s *hubSock) ReadPacket(buf []byte) (Packet, error) {
	select {
	case p := <-s.ch:
		n := copy(buf, p.Data)
		p.Data = buf[:n]
		return p, nil
	case <-s.done:
		return Packet{}, ErrClosed
	}
}

func (s *hubSock) WritePacket(msg []byte, src, dst netip.Addr) error {
	s.h.mu.Lock()
	defer s.h.mu.Unlock()
	if len(msg) > 2 {
		s.h.prios = append(s.h.prios, msg[2])
	}
	if s.h.cut {
		return nil
	}
	for _, o := range s.h.socks {
		if o != s {
			select {
			case o.ch <- Packet{Data: append([]byte(nil), msg...), Src: src, Dst: dst, TTL: 255}:
			default:
			}
		}
	}
	return nil
}

func (s *hubSock) Close() error { s.once.Do(func() { close(s.done) }); return nil }

// fakeAddrs records the VIPs a router holds.
type fakeAddrs struct {
	mu   sync.Mutex
	have map[netip.Prefix]bool
	ann  int
}

func (f *fakeAddrs) Add(dev string, v config.VIP) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.have[v.Prefix] = true
	return nil
}
func (f *fakeAddrs) Remove(dev string, v config.VIP) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.have, v.Prefix)
	return nil
}
func (f *fakeAddrs) Has(dev string, v config.VIP) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.have[v.Prefix]
}
func (f *fakeAddrs) Announce(context.Context, string, netip.Addr, int) error {
	f.mu.Lock()
	f.ann++
	f.mu.Unlock()
	return nil
}
func (f *fakeAddrs) holds() bool { f.mu.Lock(); defer f.mu.Unlock(); return len(f.have) > 0 }

type node struct {
	r      *Router
	addrs  *fakeAddrs
	cancel context.CancelFunc
	done   chan struct{}
	notes  chan string
}

func instCfg(prio int, opts ...func(*config.VRRPInstance)) *config.Config {
	vip := config.VIP{Prefix: netip.MustParsePrefix("192.0.2.100/32")}
	in := &config.VRRPInstance{Name: "VI_1", Interface: "eth0", VRID: 51, Priority: prio, State: "BACKUP",
		AdvertInt: 100 * time.Millisecond, Version: 3, VIPs: []config.VIP{vip}, VirtualIPs: []netip.Prefix{vip.Prefix},
		GARPMasterRepeat: 1, Accept: true, Notify: "notify"}
	for _, o := range opts {
		o(in)
	}
	return &config.Config{Source: "test.conf", VRRP: []*config.VRRPInstance{in}}
}

func startNode(t *testing.T, h *hub, cfg *config.Config, self string, exec func(string) int, opts ...func(*Options)) *node {
	t.Helper()
	n := &node{addrs: &fakeAddrs{have: map[netip.Prefix]bool{}}, done: make(chan struct{}), notes: make(chan string, 100)}
	src := netip.MustParseAddr(self)
	o := Options{
		Addrs: n.addrs, Open: h.open, Poll: 20 * time.Millisecond,
		Logf:  func(f string, a ...any) { t.Logf(self+" "+f, a...) },
		Link:  func(string, bool, []netip.Prefix) (bool, netip.Addr, error) { return true, src, nil },
		Spawn: func(l string) { n.notes <- l },
		FIFO:  func(l string) { n.notes <- "fifo " + l },
		Exec: func(_ context.Context, line string, _ time.Duration) int {
			if exec != nil {
				return exec(line)
			}
			return 0
		},
	}
	for _, f := range opts {
		f(&o)
	}
	r, err := New(cfg, o)
	if err != nil {
		t.Fatal(err)
	}
	n.r = r
	ctx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	go func() { r.Run(ctx); close(n.done) }()
	t.Cleanup(n.stop)
	return n
}

func (n *node) stop() { n.cancel(); <-n.done }

func (n *node) state() string { return n.r.Status().Instances[0].State }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// toggle is a track script's result the test switches: its exec fails
// while on (a maintenance file present).
type toggle struct {
	mu sync.Mutex
	on bool
}

func (s *toggle) set(on bool) { s.mu.Lock(); s.on = on; s.mu.Unlock() }

func (s *toggle) exec(string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.on {
		return 1
	}
	return 0
}

// syncPair is the sync group lab: VI_1 (VRID 51) and VI_2 (52, its own
// VIP) in vrrp_sync_group G; with track (the instances' indexes) they
// track the script chk with weight w.
func syncPair(prio, w int, track ...int) *config.Config {
	c := instCfg(prio)
	in2 := *c.VRRP[0]
	in2.Name, in2.VRID = "VI_2", 52
	v := config.VIP{Prefix: netip.MustParsePrefix("192.0.2.101/32")}
	in2.VIPs, in2.VirtualIPs = []config.VIP{v}, []netip.Prefix{v.Prefix}
	c.VRRP = append(c.VRRP, &in2)
	c.SyncGroups = []*config.SyncGroup{{Name: "G", Members: []string{"VI_1", "VI_2"}}}
	if len(track) > 0 {
		c.Scripts = []*config.TrackScript{{Name: "chk", Script: "check", Interval: 20 * time.Millisecond, Rise: 1, Fall: 1}}
		for _, i := range track {
			c.VRRP[i].TrackScripts = []config.TrackRef{{Name: "chk", Weight: w}}
		}
	}
	return c
}

// states is every instance's state, by name: "MASTER,BACKUP".
func (n *node) states() string {
	var s []string
	for _, in := range n.r.Status().Instances {
		s = append(s, in.State)
	}
	return strings.Join(s, ",")
}

// Two routers over a fake link: the higher priority becomes master and
// holds the VIP, the other backs up without it; a clean stop (priority
// 0) moves it; notify gets keepalived's arguments.
func TestRouterElectionAndStop(t *testing.T) {
	h := &hub{}
	a := startNode(t, h, instCfg(150), "192.0.2.1", nil)
	b := startNode(t, h, instCfg(100), "192.0.2.2", nil)
	waitFor(t, "A master, B backup", func() bool { return a.state() == "MASTER" && b.state() == "BACKUP" })
	waitFor(t, "A holds the VIP", a.addrs.holds)
	if b.addrs.holds() {
		t.Error("the backup holds the VIP")
	}
	st := b.r.Status().Instances[0]
	if st.Master != "192.0.2.1" || st.MasterPrio != 150 || st.Received == 0 {
		t.Errorf("backup status: %+v", st)
	}
	a.stop()
	if a.addrs.holds() {
		t.Error("the VIP stayed after a clean stop")
	}
	waitFor(t, "B master after A's stop", func() bool { return b.state() == "MASTER" && b.addrs.holds() })
	var got []string
	for len(a.notes) > 0 {
		got = append(got, <-a.notes)
	}
	want := "notify INSTANCE 'VI_1' MASTER 150"
	all := strings.Join(got, "\n")
	if !strings.Contains(all, want) || !strings.Contains(all, "notify INSTANCE 'VI_1' STOP 150") {
		t.Errorf("notify lines %q, want %q and STOP", got, want)
	}
	// notify_fifo: keepalived's line format
	if !strings.Contains(all, "fifo INSTANCE \"VI_1\" MASTER 150\n") || !strings.Contains(all, "fifo INSTANCE \"VI_1\" STOP 150\n") {
		t.Errorf("FIFO lines %q", got)
	}
	waitFor(t, "B's advert timers measured", func() bool { return b.r.Status().Instances[0].AdvertTimers > 0 })
}

// A track_script with a negative weight moves the master away while it
// fails (seed 003's maintenance file) and back when it passes.
func TestRouterTrackScriptMovesMaster(t *testing.T) {
	h := &hub{}
	var maint toggle
	withScript := func(c *config.Config) *config.Config {
		c.Scripts = []*config.TrackScript{{Name: "chk", Script: "check", Interval: 20 * time.Millisecond, Rise: 1, Fall: 2}}
		c.VRRP[0].TrackScripts = []config.TrackRef{{Name: "chk", Weight: -60}}
		return c
	}
	a := startNode(t, h, withScript(instCfg(150)), "192.0.2.1", maint.exec)
	b := startNode(t, h, instCfg(100), "192.0.2.2", nil)
	waitFor(t, "A master", func() bool { return a.state() == "MASTER" && b.state() == "BACKUP" })
	maint.set(true)
	waitFor(t, "B master while A's script fails", func() bool { return b.state() == "MASTER" && a.state() == "BACKUP" })
	if p := a.r.Status().Instances[0].Priority; p != 90 {
		t.Errorf("A's priority %d, want 150-60", p)
	}
	maint.set(false)
	waitFor(t, "A master again (preempt)", func() bool { return a.state() == "MASTER" && b.state() == "BACKUP" })
}

// Packets that fail the receive checks are counted by reason on the
// instance (or the interface when no instance has the VRID), never obeyed.
func TestRouterDropsCounted(t *testing.T) {
	h := &hub{}
	a := startNode(t, h, instCfg(100), "192.0.2.1", nil)
	fake, _ := h.open(SocketOptions{})
	w := &Wire{Version: 3, VRID: 51, Interval: 100 * time.Millisecond}
	src, dst := netip.MustParseAddr("192.0.2.9"), Group4
	good, _ := w.Encode(200, []netip.Addr{netip.MustParseAddr("192.0.2.100")}, src, dst)
	bad := append([]byte(nil), good...)
	bad[6] ^= 0xff // checksum
	fake.WritePacket(bad, src, dst)
	other := &Wire{Version: 3, VRID: 99, Interval: 100 * time.Millisecond}
	m, _ := other.Encode(200, nil, src, dst)
	fake.WritePacket(m, src, dst)
	fake.WritePacket(good[:5], src, dst)
	waitFor(t, "drops counted", func() bool {
		st := a.r.Status()
		return st.Instances[0].Dropped["checksum"] == 1 && st.Dropped["eth0"]["vrid"] == 1 && st.Dropped["eth0"]["length"] == 1
	})
	time.Sleep(50 * time.Millisecond)
	if s := a.state(); s == "BACKUP" && a.r.Status().Instances[0].Master == "192.0.2.9" {
		t.Error("followed a master whose advert had a bad checksum")
	}
	_ = fmt.Sprint
}

// Equal priorities: the higher primary address wins and keeps it (no
// flap: a master never yields to an equal advert from a lower address).
// Both are masters first, the link down (a split brain): which backup
// times out first is the scheduler's choice, and an equal backup that
// hears a master first rightly stays backup.
func TestRouterTieBreak(t *testing.T) {
	h := &hub{cut: true}
	lo := startNode(t, h, instCfg(100), "192.0.2.1", nil)
	hi := startNode(t, h, instCfg(100), "192.0.2.2", nil)
	waitFor(t, "both masters, the link down", func() bool { return hi.state() == "MASTER" && lo.state() == "MASTER" })
	h.mu.Lock()
	h.cut = false
	h.mu.Unlock()
	waitFor(t, "higher address master", func() bool { return hi.state() == "MASTER" && lo.state() == "BACKUP" })
	n := hi.r.Status().Instances[0].Transitions
	time.Sleep(600 * time.Millisecond) // six adverts
	if m := hi.r.Status().Instances[0].Transitions; m != n || hi.state() != "MASTER" {
		t.Errorf("the master moved %d times after the election", m-n)
	}
}

// vrrp_sync_group: a fault of one member puts the other in FAULT too, so
// the peer takes both; a member's move to MASTER takes the others along.
func TestRouterSyncGroup(t *testing.T) {
	h := &hub{}
	var broken toggle
	a := startNode(t, h, syncPair(150, 0, 0), "192.0.2.1", broken.exec)
	b := startNode(t, h, syncPair(100, 0), "192.0.2.2", nil)
	waitFor(t, "A master of both", func() bool { return a.states() == "MASTER,MASTER" && b.states() == "BACKUP,BACKUP" })
	broken.set(true)
	waitFor(t, "A in fault for both, B master of both", func() bool { return a.states() == "FAULT,FAULT" && b.states() == "MASTER,MASTER" })
	broken.set(false)
	waitFor(t, "A master of both again", func() bool { return a.states() == "MASTER,MASTER" && b.states() == "BACKUP,BACKUP" })
}

// vrrp_sync_group with sync_group_tracking_weight: A's VI_1 drops below
// B's (150-60 < 100) while A's VI_2 stays above. B's VI_1 Master_Down
// runs out, but its partner VI_2 still hears A's VI_2: keepalived's
// can_goto_master holds it back, so the group stays whole at A (the
// "probably won't work" of keepalived's man page) instead of B taking VI_1,
// A's VI_2 following it down and taking itself back: no flap.
func TestRouterSyncGroupWeightNoFlap(t *testing.T) {
	h := &hub{}
	var maint toggle
	a := startNode(t, h, syncPair(150, -60, 0), "192.0.2.1", maint.exec)
	b := startNode(t, h, syncPair(100, 0), "192.0.2.2", nil)
	waitFor(t, "A master of both", func() bool { return a.states() == "MASTER,MASTER" && b.states() == "BACKUP,BACKUP" })
	maint.set(true)
	waitFor(t, "A's VI_1 at 90", func() bool { return a.r.Status().Instances[0].Priority == 90 })
	na, nb := a.r.Status().Instances[0].Transitions, b.r.Status().Instances[0].Transitions
	time.Sleep(time.Second) // ten adverts, about three of B's Master_Down
	if sa, sb := a.states(), b.states(); sa != "MASTER,MASTER" || sb != "BACKUP,BACKUP" ||
		a.r.Status().Instances[0].Transitions != na || b.r.Status().Instances[0].Transitions != nb {
		t.Errorf("the group split or flapped: A %s, B %s", sa, sb)
	}
}

// OnGroup: once per sync group transition, and STOP once every member
// has stopped (keepalived's send_group_notifies and notify_shutdown).
func TestRouterOnGroup(t *testing.T) {
	h := &hub{}
	var mu sync.Mutex
	var seen []string
	src := netip.MustParseAddr("192.0.2.1")
	r, err := New(syncPair(150, 0, 0), Options{
		Addrs: &fakeAddrs{have: map[netip.Prefix]bool{}}, Open: h.open, Poll: 20 * time.Millisecond,
		Logf:    t.Logf,
		Link:    func(string, bool, []netip.Prefix) (bool, netip.Addr, error) { return true, src, nil },
		Spawn:   func(string) {},
		Exec:    func(context.Context, string, time.Duration) int { return 0 },
		OnGroup: func(g string, role Role) { mu.Lock(); seen = append(seen, g+" "+role.String()); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	got := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(seen, ", ") }
	waitFor(t, "the group master", func() bool { return strings.HasSuffix(got(), "MASTER") })
	cancel()
	<-done
	name := syncPair(150, 0, 0).SyncGroups[0].Name
	if want := name + " BACKUP, " + name + " MASTER, " + name + " STOP"; got() != want {
		t.Errorf("OnGroup: %s, want %s", got(), want)
	}
}
