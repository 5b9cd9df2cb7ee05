package vrrp

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

type rxAdvert struct {
	prio        uint8
	src         netip.Addr
	interval    time.Duration
	oldChecksum bool // the peer speaks keepalived <= 1.3.6's unicast checksum: answer in it
}

// trackMsg is a tracker's news for an instance: the value of one tracked
// thing ("script NAME", "file NAME", "interface NAME", "group", "source").
type trackMsg struct {
	key string
	ok  bool       // script passes, interface up, group not in fault
	val int        // track_file's value
	src netip.Addr // "source": the advert source address now
}

// inst is one running VRRP instance. Its run goroutine (its own thread,
// rt.go) alone touches state, timers, cfg and the tracking maps (a reload
// changes them through ctl, on that goroutine); status is copied out
// under mu. Whoever queues to rx, track or ctl wakes it (wk). Effects
// queued to eff carry what they need, so they never read cfg.
type inst struct {
	r     *Router
	cfg   *config.VRRPInstance
	sm    *Config // Step's configuration
	wire  *Wire   // the receive checks' at creation (the socket's reader owns its copy)
	tx    *Wire   // the sender's copy (run goroutine only)
	v6    bool
	sock  *sock
	group *group
	addrs []netip.Addr // advertised (VIPs), one family
	peers []netip.Addr // unicast destinations (none: multicast)

	rx    chan rxAdvert
	track chan trackMsg
	eff   *queue      // side effects, in order, off the timer goroutine
	ctl   chan func() // a reload's changes, run on the timer goroutine
	wk    *wakeup
	done  chan struct{}
	stop  context.CancelFunc

	reloaded bool // started by a reload: no vrrp_startup_delay (keepalived: at boot only)

	// run goroutine only
	state      State
	src        netip.Addr
	values     map[string]trackMsg
	faulted    bool
	ownFaulted bool // faulted for a reason of its own (sync groups: see onTrack)

	mu sync.Mutex
	st InstanceStatus
}

func newInst(r *Router, ic *config.VRRPInstance) *inst {
	in := &inst{r: r, rx: make(chan rxAdvert, 64), track: make(chan trackMsg, 64),
		eff: newQueue(), ctl: make(chan func(), 16), done: make(chan struct{}), values: map[string]trackMsg{},
		wk: newWakeup()}
	runtime.AddCleanup(in, func(w *wakeup) { w.close() }, in.wk) // made but never run (a reload that failed)
	in.configure(ic)
	in.wire = wireOf(ic)
	in.st = InstanceStatus{Name: ic.Name, Interface: ic.Interface, VRID: ic.VRID, Version: ic.Version,
		State: Init.String(), Priority: ic.Priority, BasePriority: ic.Priority, Since: time.Now()}
	return in
}

// wireOf is the instance's wire settings: the receive checks and the sender.
func wireOf(ic *config.VRRPInstance) *Wire {
	w := &Wire{Version: ic.Version, VRID: uint8(ic.VRID), Interval: ic.AdvertInt, ChecksumAsV2: ic.ChecksumAsV2,
		Unicast: len(ic.UnicastPeers) > 0}
	if ic.AuthType == "PASS" {
		w.Auth, w.Password = AuthPass, Password(ic.AuthPass)
	}
	switch ic.OldUnicastChecksum {
	case "always":
		w.OldChecksum = OldChecksumOn
	case "never":
		w.OldChecksum = OldChecksumNever
	}
	for _, p := range ic.UnicastPeers {
		w.Peers = append(w.Peers, Peer{Addr: p})
	}
	return w
}

// configure takes ic's settings: at creation, and on the run goroutine
// for a reload (the state, the tracking values and the adopted checksum
// form are kept).
func (in *inst) configure(ic *config.VRRPInstance) {
	adopted := in.tx != nil && in.tx.OldChecksum == OldChecksumOn && ic.OldUnicastChecksum == ""
	in.cfg = ic
	in.addrs, in.peers = nil, nil
	for _, v := range ic.VIPs {
		in.addrs = append(in.addrs, v.Prefix.Addr())
	}
	if len(in.addrs) > 0 {
		in.v6 = in.addrs[0].Is6()
	}
	in.peers = append(in.peers, ic.UnicastPeers...)
	in.tx = wireOf(ic)
	if adopted {
		in.tx.OldChecksum = OldChecksumOn
	}
	self := netip.Addr{}
	if in.sm != nil {
		self = in.sm.Self
	}
	in.sm = &Config{Version: ic.Version, Priority: uint8(ic.Priority), Interval: ic.AdvertInt, Self: self,
		StartMaster: ic.State == "MASTER", NoPreempt: ic.NoPreempt, PreemptDelay: ic.PreemptDelay,
		GARPRepeat: ic.GARPMasterRepeat, GARPDelay: ic.GARPMasterDelay, GARPRefresh: ic.GARPMasterRefresh,
		GARPRefreshRepeat: ic.GARPRefreshRepeat, LowerPrioNoAdvert: ic.LowerPrioNoAdvert,
		GARPLowerPrioRepeat: ic.GARPLowerPrioRepeat, GARPLowerPrioDelay: ic.GARPLowerPrioDelay}
}

// call runs f on the instance's goroutine and returns once it ran and
// the effects it queued are done (at once if the instance has ended).
func (in *inst) call(f func()) {
	ran := make(chan struct{})
	select {
	case in.ctl <- func() { f(); in.effect(func() { close(ran) }) }:
		in.wk.wake()
		select {
		case <-ran:
		case <-in.done:
		}
	case <-in.done:
	}
}

// reconfigure applies a reload's Update on the run goroutine: new
// settings in place, no transition; a master adds (and announces) the
// addresses the reload added (those it removed went in an earlier call).
func (in *inst) reconfigure(c Change) {
	in.configure(c.New)
	in.sm.Self = in.source()
	w := wireOf(c.New)
	if in.tx.OldChecksum == OldChecksumOn {
		w.OldChecksum = OldChecksumOn
	}
	in.sock.setWire(in, w)
	in.mu.Lock()
	in.st.Name, in.st.Version, in.st.BasePriority = c.New.Name, c.New.Version, c.New.Priority
	in.mu.Unlock()
	if in.state.Role == Master && len(c.AddVIPs) > 0 {
		vs, n := in.placed(c.AddVIPs), in.sm.GARPRepeat
		in.addVIPs(vs)
		in.announce(vs, n)
	}
	if in.state.Role != Init {
		in.reevaluate("reload", true)
	}
}

// dropVIPs removes, if master, the addresses a reload takes away.
func (in *inst) dropVIPs(c Change) {
	if in.state.Role == Master && len(c.RemoveVIPs) > 0 {
		vs := in.placed(c.RemoveVIPs)
		in.removeVIPs(vs, false)
	}
}

func (in *inst) logf(format string, args ...any) {
	in.mu.Lock()
	name := in.st.Name // any goroutine: a reload may rename the instance
	in.mu.Unlock()
	in.r.o.Logf("vrrp: %s: "+format, append([]any{name}, args...)...)
}

func (in *inst) countDrop(re Reason) {
	in.mu.Lock()
	if in.st.Dropped == nil {
		in.st.Dropped = map[string]uint64{}
	}
	in.st.Dropped[reasonName(re)]++
	in.mu.Unlock()
}

func (in *inst) status() InstanceStatus {
	in.mu.Lock()
	defer in.mu.Unlock()
	s := in.st
	if s.Dropped != nil {
		m := make(map[string]uint64, len(s.Dropped))
		for k, v := range s.Dropped {
			m[k] = v
		}
		s.Dropped = m
	}
	s.Faults = append([]string(nil), s.Faults...)
	return s
}

// run is the instance's loop, on its own thread (Router.startInst): it
// waits in the kernel (wakeup.wait) until its next timer or until woken
// for a queued message, takes every message queued (an advert before a
// timer due at the same time), then fires the timer if due.
func (in *inst) run(ctx context.Context) {
	effDone := make(chan struct{})
	go func() {
		defer close(effDone)
		in.eff.run()
	}()
	defer func() { in.eff.close(); <-effDone }()
	defer in.wk.close()
	defer context.AfterFunc(ctx, in.wk.wake)()

	// Addresses left by an earlier run that died: a backup must not hold
	// them (keepalived removes them when it starts too).
	all := in.placed(in.allVIPs())
	in.removeVIPs(all, true)
	if d := in.cfg.StartupDelay; d > 0 && !in.reloaded {
		in.logf("vrrp_startup_delay: waiting %s before the first election", d)
		end := time.Now().Add(d)
		for time.Now().Before(end) {
			in.wk.wait(end)
			if ctx.Err() != nil {
				return
			}
			in.drainCtl()
		}
	}
	// the first tracker values (link, source, scripts' initial states)
	// decide whether we start in FAULT
	in.drainTrack()
	in.sm.Self = in.source() // the tie-break between equal priorities
	in.state.Faulted = in.faulted
	in.state.Priority = in.effective()
	in.step(Event{Kind: EvStart}, time.Now())

	var armed Timer
	var deadline time.Time
	var holdUntil time.Time // sync group: our takeover waits for the others
	graces := 0             // Master_Down deferred for an advert waiting on the socket
	rearm := func() {
		t, at, ok := in.state.Next()
		if !ok {
			deadline = time.Time{}
			return
		}
		if t == TimerMasterDown && at.Before(holdUntil) {
			at = holdUntil
		}
		armed, deadline = t, at
	}
	rearm()
	for {
		in.wk.wait(deadline)
		if ctx.Err() != nil {
			in.step(Event{Kind: EvStop}, time.Now())
			return
		}
		for more := true; more; rearm() {
			select {
			case a := <-in.rx:
				in.onAdvert(a)
			case m := <-in.track:
				in.onTrack(m)
			case f := <-in.ctl:
				f()
			default:
				more = false
			}
		}
		now := time.Now()
		if deadline.IsZero() || now.Before(deadline) {
			continue
		}
		if armed == TimerMasterDown && graces < 3 && in.sock.pending() {
			graces++ // an advert is there: the reader first, at most 3 ms
			in.wk.wait(now.Add(time.Millisecond))
			continue
		}
		graces = 0
		late := now.Sub(deadline)
		if armed == TimerAdvert {
			in.lateness(late)
		}
		if armed == TimerMasterDown && in.group != nil && in.state.Role == Backup && !in.group.canGoMaster(in) {
			// keepalived's vrrp_sync_can_goto_master: a member takes
			// over only when every member would (one still hearing
			// its master holds the group back), or the group flaps
			in.group.want(in, true)
			holdUntil = now.Add(in.state.MasterInterval)
		} else {
			holdUntil = time.Time{}
			in.step(Event{Kind: EvTimer, Timer: armed}, now)
		}
		rearm()
	}
}

func (in *inst) onAdvert(a rxAdvert) {
	in.mu.Lock()
	in.st.Received++
	in.mu.Unlock()
	if a.oldChecksum && in.tx.OldChecksum != OldChecksumOn {
		in.tx.OldChecksum = OldChecksumOn
		in.logf("%s uses keepalived 1.3.6's unicast checksum: sending it too (old_unicast_checksum)", a.src)
	}
	in.step(Event{Kind: EvAdvert, Priority: a.prio, Src: a.src, Interval: a.interval}, time.Now())
}

// lateness records how late an advert timer fired (lvsd status).
func (in *inst) lateness(late time.Duration) {
	in.mu.Lock()
	in.st.AdvertTimers++
	in.st.LateLast = late
	if late > in.st.LateMax {
		in.st.LateMax = late
	}
	over := late > in.cfg.AdvertInt/10
	if over {
		in.st.LateOver++
	}
	in.mu.Unlock()
	if over {
		in.logf("advert timer %s late (interval %s): a late advert can look like a dead master", late.Round(time.Microsecond), in.cfg.AdvertInt)
	}
}

// drainCtl runs a reload's calls already queued, without waiting.
func (in *inst) drainCtl() {
	for {
		select {
		case f := <-in.ctl:
			f()
		default:
			return
		}
	}
}

// drainTrack takes the tracker messages already queued, without waiting.
func (in *inst) drainTrack() {
	for {
		select {
		case m := <-in.track:
			in.values[m.key] = m
			if m.key == "source" {
				in.src = m.src
			}
		default:
			in.faulted = len(in.faults()) > 0
			in.setFaults()
			return
		}
	}
}

func (in *inst) onTrack(m trackMsg) {
	switch m.key {
	case "source":
		in.src = m.src // a source appearing clears "no source address"
		in.sm.Self = in.source()
	case "force":
		// vrrp_sync_group: another member moved; Step ignores what does
		// not apply (a FAULT member stays FAULT)
		kind := EvForceBackup
		if m.ok {
			kind = EvForceMaster
		}
		in.step(Event{Kind: kind}, time.Now())
		return
	default:
		in.values[m.key] = m
	}
	in.reevaluate(m.key, false)
}

// reevaluate applies the faults and the effective priority after a
// tracker's news (why: its key) or a reload (the new settings: Step's
// EvReconfig, which also moves the timers).
func (in *inst) reevaluate(why string, reload bool) {
	in.setFaults()
	now := time.Now()
	f := len(in.faults()) > 0
	if f != in.faulted {
		in.faulted = f
		if f {
			in.logf("fault: %s", strings.Join(in.faults(), ", "))
			in.step(Event{Kind: EvFault}, now)
		} else {
			in.logf("fault cleared")
			in.state.Priority = in.effective()
			in.step(Event{Kind: EvFaultCleared}, now)
		}
		if in.group != nil {
			in.group.fault(in, f)
		}
	} else if in.group != nil && why != "group" && in.ownFault() != in.ownFaulted {
		// still in FAULT, but only for the group's sake now (or again for
		// our own): the group must hear it, or two members faulted by one
		// shared script hold each other in FAULT for ever
		in.group.fault(in, f)
	}
	if in.group != nil {
		in.ownFaulted = in.ownFault()
	}
	p := in.effective()
	if p != in.state.Priority {
		in.logf("priority %d -> %d (%s)", in.state.Priority, p, why)
	}
	if reload {
		in.step(Event{Kind: EvReconfig, Priority: p}, now)
	} else if p != in.state.Priority {
		in.step(Event{Kind: EvPriority, Priority: p}, now)
	}
}

// faults lists what puts the instance in FAULT now.
// ownFault: a fault of the instance's own, not the one its sync group gave it.
func (in *inst) ownFault() bool {
	for _, f := range in.faults() {
		if !strings.HasPrefix(f, "sync group ") {
			return true
		}
	}
	return false
}

func (in *inst) faults() []string {
	var out []string
	if m, ok := in.values["interface "+in.cfg.Interface]; ok && !m.ok {
		out = append(out, "interface "+in.cfg.Interface+" down")
	}
	for _, t := range in.cfg.TrackInterfaces {
		if m, ok := in.values["interface "+t.Name]; ok {
			if _, f := config.TrackWeight(m.ok, t.Weight, t.Reverse); f {
				out = append(out, "interface "+t.Name+map[bool]string{false: " down", true: " up (reverse)"}[m.ok])
			}
		}
	}
	for _, t := range in.cfg.TrackScripts {
		if m, ok := in.values["script "+t.Name]; ok {
			if _, f := config.TrackWeight(m.ok, t.Weight, t.Reverse); f {
				out = append(out, "track_script "+t.Name+map[bool]string{false: " failed", true: " passes (reverse)"}[m.ok])
			}
		}
	}
	for _, t := range in.cfg.TrackFiles {
		if m, ok := in.values["file "+t.Name]; ok {
			if _, f := config.TrackFileStatus(int64(m.val), t.Weight, t.Reverse, config.VRRPFileFault, config.VRRPFileMax); f {
				out = append(out, fmt.Sprintf("track_file %s is %d", t.Name, m.val))
			}
		}
	}
	if m, ok := in.values["group"]; ok && !m.ok {
		out = append(out, "sync group "+in.group.cfg.Name+" in fault")
	}
	if in.cfg.UnicastFaultNoPeer && len(in.peers) == 0 {
		out = append(out, "no unicast_peer (unicast_fault_no_peer)")
	}
	if !in.src.IsValid() && !in.cfg.UnicastSrc.IsValid() {
		out = append(out, "no source address on "+in.cfg.Interface)
	}
	return out
}

func (in *inst) setFaults() {
	f := in.faults()
	in.mu.Lock()
	in.st.Faults = f
	in.mu.Unlock()
}

// effective is the priority with the tracking weights (keepalived's
// rules, config.TrackWeight: a positive weight adds while the script
// passes / the interface is up, a negative one while it fails, reverse
// turns the sign; a file adds value x weight, config.TrackFileStatus),
// kept in 1..254; the owner (255) is not moved.
func (in *inst) effective() uint8 {
	base := in.cfg.Priority
	if base == PriorityOwner {
		return PriorityOwner
	}
	p := base
	for _, t := range in.cfg.TrackScripts {
		if m, ok := in.values["script "+t.Name]; ok {
			a, _ := config.TrackWeight(m.ok, t.Weight, t.Reverse)
			p += a
		}
	}
	for _, t := range in.cfg.TrackInterfaces {
		if m, ok := in.values["interface "+t.Name]; ok {
			a, _ := config.TrackWeight(m.ok, t.Weight, t.Reverse)
			p += a
		}
	}
	for _, t := range in.cfg.TrackFiles {
		if m, ok := in.values["file "+t.Name]; ok {
			if a, f := config.TrackFileStatus(int64(m.val), t.Weight, t.Reverse, config.VRRPFileFault, config.VRRPFileMax); !f {
				p += int(a)
			}
		}
	}
	return uint8(max(1, min(254, p)))
}

// step feeds Step and carries out its actions: adverts, address changes
// and their announcements here, at once (quick netlink and packet socket
// calls, in order; queued, they waited for an ordinary thread, which a
// busy box delays: a failover took 0.9 s instead of 0.15); notify
// scripts and the daemon's callbacks go to the effects goroutine.
func (in *inst) step(ev Event, now time.Time) {
	prev, prevDown := in.state.Role, in.state.Timers[TimerMasterDown]
	s, acts := Step(in.sm, in.state, ev, now)
	in.state = s
	if in.group != nil && (s.Role != Backup || s.Timers[TimerMasterDown] != prevDown) {
		// following a master again (an advert that restarted Master_Down;
		// a lower one does not) or no longer a backup: not waiting
		in.group.want(in, false)
	}
	// the status first: the addresses may be seen before the loop ends
	in.mu.Lock()
	in.st.State = s.Role.String()
	in.st.Priority = int(s.Priority)
	in.st.Master, in.st.MasterPrio = "", 0
	if s.Role == Master {
		in.st.Master, in.st.MasterPrio = in.source().String(), int(s.Priority)
	} else if s.Master.IsValid() {
		in.st.Master, in.st.MasterPrio = s.Master.String(), int(s.MasterPriority)
	}
	if s.Role != prev {
		in.st.Transitions++
		in.st.Since = now
	}
	in.mu.Unlock()
	for _, a := range acts {
		switch a.Kind {
		case ActSendAdvert:
			in.send(a.Priority)
		case ActAddVIPs:
			vs := in.placed(in.allVIPs())
			in.addVIPs(vs)
		case ActRemoveVIPs:
			vs := in.placed(in.allVIPs())
			in.removeVIPs(vs, false)
		case ActAnnounce:
			vs, n := in.placed(in.allVIPs()), a.Count
			in.announce(vs, n)
		case ActNotify:
			c, role, prio := in.cfg, a.Role, a.Priority
			in.effect(func() { in.notify(c, role, prio) })
		}
	}
	if s.Role != prev {
		in.logf("%s -> %s (priority %d)", prev, s.Role, s.Priority)
		if in.group != nil && s.Role != Stop {
			in.group.moved(in, s.Role)
		} else if in.group != nil {
			in.group.stopped(in)
		}
	}
}

func (in *inst) source() netip.Addr {
	if in.cfg.UnicastSrc.IsValid() {
		return in.cfg.UnicastSrc
	}
	return in.src
}

func (in *inst) send(prio uint8) {
	src := in.source()
	dsts := in.peers
	if len(dsts) == 0 {
		dsts = []netip.Addr{Group4}
		if in.v6 {
			dsts = []netip.Addr{Group6}
		}
	}
	var failed error
	for _, d := range dsts {
		msg, err := in.tx.Encode(prio, in.addrs, src, d)
		if err == nil {
			err = in.sock.s.WritePacket(msg, src, d)
		}
		if err != nil {
			failed = err
		}
	}
	in.mu.Lock()
	if failed != nil {
		in.st.SendErrors++
	} else {
		in.st.Sent++
	}
	n := in.st.SendErrors
	in.mu.Unlock()
	if failed != nil && (n < 10 || n%100 == 0) {
		in.logf("sending the advert from %s: %v", src, failed)
	}
}

func (in *inst) effect(f func()) { in.eff.put(f) }

// placedVIP is an address with the device it goes on.
type placedVIP struct {
	dev string
	v   config.VIP
}

// placed resolves each address's device (the instance's interface
// unless dev is given), for the effects goroutine.
func (in *inst) placed(vs []config.VIP) []placedVIP {
	out := make([]placedVIP, 0, len(vs))
	for _, v := range vs {
		d := v.Dev
		if d == "" {
			d = in.cfg.Interface
		}
		out = append(out, placedVIP{d, v})
	}
	return out
}

func (in *inst) allVIPs() []config.VIP {
	return append(append([]config.VIP(nil), in.cfg.VIPs...), in.cfg.Excluded...)
}

func (in *inst) addVIPs(vs []placedVIP) {
	for _, p := range vs {
		if err := in.r.o.Addrs.Add(p.dev, p.v); err != nil {
			in.addrError()
			in.logf("%v", err)
		}
	}
}

// removeVIPs removes the addresses; onlyPresent (at start) first looks
// whether each is there, so a clean start logs nothing.
func (in *inst) removeVIPs(vs []placedVIP, onlyPresent bool) {
	for _, p := range vs {
		if onlyPresent {
			if !in.r.o.Addrs.Has(p.dev, p.v) {
				continue
			}
			in.logf("%s on %s at start: removed (a backup does not hold it)", p.v.Prefix, p.dev)
		}
		if err := in.r.o.Addrs.Remove(p.dev, p.v); err != nil {
			in.addrError()
			in.logf("removing %s from %s: %v", p.v.Prefix, p.dev, err)
		}
	}
}

func (in *inst) addrError() {
	in.mu.Lock()
	in.st.AddressErrors++
	in.mu.Unlock()
}

func (in *inst) announce(vs []placedVIP, n int) {
	if n <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, p := range vs {
		if err := in.r.o.Addrs.Announce(ctx, p.dev, p.v.Prefix.Addr(), n); err != nil {
			in.logf("announcing %s on %s: %v", p.v.Prefix.Addr(), p.dev, err)
		}
	}
}

// notify runs notify_master/backup/fault/stop (no arguments) and notify
// with keepalived's arguments: INSTANCE "NAME" STATE PRIORITY.
func (in *inst) notify(c *config.VRRPInstance, role Role, prio uint8) {
	var line string
	switch role {
	case Master:
		line = c.NotifyMaster
	case Backup:
		line = c.NotifyBackup
	case Fault:
		line = c.NotifyFault
	case Stop:
		line = c.NotifyStop
	}
	if line != "" {
		in.r.o.Spawn(line)
	}
	if c.Notify != "" && role != Init {
		in.r.o.Spawn(fmt.Sprintf("%s INSTANCE %s %s %d", c.Notify, shellQuote(c.Name), role, prio))
	}
	if in.r.o.FIFO != nil && role != Init {
		in.r.o.FIFO(fmt.Sprintf("INSTANCE %q %s %d\n", c.Name, role, prio))
	}
	if in.r.o.OnRole != nil {
		in.r.o.OnRole(c.Name, role)
	}
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// group is a vrrp_sync_group: a fault of one member is a fault of all,
// so the peer takes over all of them together.
type group struct {
	cfg     *config.SyncGroup
	r       *Router
	members []*inst
	mu      sync.Mutex
	faulty  map[*inst]bool
	wants   map[*inst]bool // Master_Down ran out, held back by canGoMaster
	stops   map[*inst]bool // members stopped
	role    Role
}

func (g *group) fault(from *inst, on bool) {
	g.mu.Lock()
	if g.faulty == nil {
		g.faulty = map[*inst]bool{}
	}
	// only a member's own faults count, not the one the group gave it
	own := false
	for _, f := range from.faults() {
		if !strings.HasPrefix(f, "sync group ") {
			own = true
		}
	}
	g.faulty[from] = own
	msgs := make([]trackMsg, len(g.members))
	for i, m := range g.members {
		ok := true
		for x, f := range g.faulty {
			if x != m && f {
				ok = false
			}
		}
		msgs[i] = trackMsg{key: "group", ok: ok}
	}
	g.mu.Unlock()
	for i, m := range g.members {
		if m == from {
			in := m
			in.values["group"] = msgs[i] // our own goroutine: no channel
			continue
		}
		select {
		case m.track <- msgs[i]:
			m.wk.wake()
		default:
			from.logf("sync group %s: %s's queue is full; group fault not passed on", g.cfg.Name, m.cfg.Name)
		}
	}
}

// want records whether in's Master_Down ran out while it is held back.
func (g *group) want(in *inst, on bool) {
	g.mu.Lock()
	if g.wants == nil {
		g.wants = map[*inst]bool{}
	}
	g.wants[in] = on
	g.mu.Unlock()
}

// canGoMaster: no other member is a backup still hearing its master.
func (g *group) canGoMaster(in *inst) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, m := range g.members {
		if m == in {
			continue
		}
		if m.status().State == Backup.String() && !g.wants[m] {
			return false
		}
	}
	return true
}

// moved makes the other members follow a member's move to MASTER or
// BACKUP (keepalived's vrrp_sync_master / vrrp_sync_backup) and runs the
// group's notify scripts, once per group transition.
func (g *group) moved(from *inst, r Role) {
	g.mu.Lock()
	if r == g.role {
		g.mu.Unlock()
		return
	}
	g.role = r
	g.mu.Unlock()
	if r == Master || r == Backup {
		for _, m := range g.members {
			if m == from {
				continue
			}
			select {
			case m.track <- trackMsg{key: "force", ok: r == Master}:
				m.wk.wake()
			default:
				from.logf("sync group %s: %s's queue is full; not moved with the group", g.cfg.Name, m.cfg.Name)
			}
		}
	}
	c := g.cfg
	var line string
	switch r {
	case Master:
		line = c.NotifyMaster
	case Backup:
		line = c.NotifyBackup
	case Fault:
		line = c.NotifyFault
	}
	if line != "" {
		from.effect(func() { g.r.o.Spawn(line) })
	}
	if c.Notify != "" {
		from.effect(func() { g.r.o.Spawn(fmt.Sprintf("%s GROUP %s %s 0", c.Notify, shellQuote(c.Name), r)) })
	}
	if g.r.o.FIFO != nil && r != Init {
		from.effect(func() { g.r.o.FIFO(fmt.Sprintf("GROUP %q %s 0\n", c.Name, r)) })
	}
	if g.r.o.OnGroup != nil && r != Init {
		from.effect(func() { g.r.o.OnGroup(c.Name, r) })
	}
}

// stopped records a member's stop; once all are stopped the group is
// (keepalived's notify_shutdown: the groups' STOP after the instances').
func (g *group) stopped(from *inst) {
	g.mu.Lock()
	if g.stops == nil {
		g.stops = map[*inst]bool{}
	}
	g.stops[from] = true
	all := g.role != Stop
	for _, m := range g.members {
		all = all && g.stops[m]
	}
	if all {
		g.role = Stop
	}
	g.mu.Unlock()
	if all && g.r.o.OnGroup != nil {
		name := g.cfg.Name
		from.effect(func() { g.r.o.OnGroup(name, Stop) })
	}
}
