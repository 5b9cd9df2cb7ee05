package vrrp

import (
	"fmt"
	"net/netip"
	"time"
)

// Role is the state of a VRRP instance (RFC 9568 6.4), in keepalived's
// words (notify scripts and the notify FIFO print them).
type Role int

const (
	Init Role = iota
	Backup
	Master
	Fault
	Stop
)

func (r Role) String() string {
	switch r {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stop:
		return "STOP"
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Config is what the state machine needs of an instance.
type Config struct {
	Version      int           // 2 or 3: the skew formula
	Priority     uint8         // base priority; 255 = address owner
	Interval     time.Duration // our advert_int
	Self         netip.Addr    // our primary address: the tie-break between equal priorities
	StartMaster  bool          // state MASTER: only the owner (255) goes straight to master
	NoPreempt    bool          // nopreempt: a backup never takes over from a live master
	PreemptDelay time.Duration // preempt_delay: a backup keeps following a lower master this long

	LowerPrioNoAdvert   bool          // vrrp_lower_prio_no_advert: no advert in answer to a lower one
	GARPRepeat          int           // garp_master_repeat: announcements on becoming master
	GARPDelay           time.Duration // garp_master_delay: a second burst this long after (0: none)
	GARPRefresh         time.Duration // garp_master_refresh: re-announce this often while master (0: never)
	GARPRefreshRepeat   int           // garp_master_refresh_repeat
	GARPLowerPrioRepeat int           // garp_lower_prio_repeat: announce on a lower advert (0: no)
	GARPLowerPrioDelay  time.Duration // garp_lower_prio_delay: again this long after (0: once)
}

// Timer names one of an instance's deadlines.
type Timer int

const (
	TimerMasterDown Timer = iota // backup: the master is silent, take over
	TimerAdvert                  // master: send the next advert
	TimerGARP                    // master: garp_master_delay's second burst
	TimerRefresh                 // master: garp_master_refresh
	TimerLowerGARP               // master: garp_lower_prio_delay's second burst
	NumTimers
)

func (t Timer) String() string {
	switch t {
	case TimerMasterDown:
		return "master-down"
	case TimerAdvert:
		return "advert"
	case TimerGARP:
		return "garp-delay"
	case TimerRefresh:
		return "garp-refresh"
	case TimerLowerGARP:
		return "garp-lower-delay"
	}
	return fmt.Sprintf("Timer(%d)", int(t))
}

// State is an instance's whole state; Step returns the next one.
type State struct {
	Role           Role
	Priority       uint8         // effective priority (tracking applied)
	MasterInterval time.Duration // v3: the master's interval, adopted; else ours
	Master         netip.Addr    // source of the last advert followed
	MasterPriority uint8
	Faulted        bool                 // a fault is on (an Init instance remembers it)
	PreemptUntil   time.Time            // preempt_delay running until then (zero: not started)
	Timers         [NumTimers]time.Time // armed deadlines, zero: off
}

// Next returns the earliest armed deadline, for a runner that keeps a
// single time.Timer.
func (s State) Next() (Timer, time.Time, bool) {
	best, ok := Timer(0), false
	for t, at := range s.Timers {
		if !at.IsZero() && (!ok || at.Before(s.Timers[best])) {
			best, ok = Timer(t), true
		}
	}
	return best, s.Timers[best], ok
}

// EventKind says what happened.
type EventKind int

const (
	EvStart        EventKind = iota // the instance starts (after vrrp_startup_delay)
	EvStop                          // shutdown
	EvAdvert                        // an advert passed the receive checks: Priority, Src, Interval
	EvTimer                         // Timer's deadline passed
	EvFault                         // interface down or a weight-0 tracker failed
	EvFaultCleared                  // every fault is gone
	EvPriority                      // the effective priority is now Priority (track weights)
	EvForceBackup                   // vrrp_sync_group: a member went BACKUP, a master follows now
	EvForceMaster                   // vrrp_sync_group: a member became MASTER, a backup follows now
	EvReconfig                      // a reload changed the instance in place: config is the new one, Priority the effective one
)

// Event is one input to Step.
type Event struct {
	Kind     EventKind
	Priority uint8         // EvAdvert, EvPriority
	Src      netip.Addr    // EvAdvert: IP source (the master's primary address)
	Interval time.Duration // EvAdvert: its advert interval
	Timer    Timer         // EvTimer
}

// ActionKind says what the runner must do.
type ActionKind int

const (
	ActSendAdvert  ActionKind = iota // send an advert with Priority (0: "I am stopping")
	ActAddVIPs                       // add the virtual addresses
	ActRemoveVIPs                    // remove them
	ActAnnounce                      // Count gratuitous ARPs / unsolicited NAs per address
	ActNotify                        // notify scripts, FIFO: Role, Priority
	ActSetTimer                      // arm Timer at At
	ActCancelTimer                   // disarm Timer
)

// Action is one output of Step, in the order to execute them.
type Action struct {
	Kind     ActionKind
	Priority uint8
	Role     Role
	Count    int
	Timer    Timer
	At       time.Time
}

func (a Action) String() string {
	switch a.Kind {
	case ActSendAdvert:
		return fmt.Sprintf("advert %d", a.Priority)
	case ActAddVIPs:
		return "add-vips"
	case ActRemoveVIPs:
		return "remove-vips"
	case ActAnnounce:
		return fmt.Sprintf("announce %d", a.Count)
	case ActNotify:
		return fmt.Sprintf("notify %v %d", a.Role, a.Priority)
	case ActSetTimer:
		return fmt.Sprintf("set %v %s", a.Timer, a.At.Format("15:04:05.000000"))
	case ActCancelTimer:
		return fmt.Sprintf("cancel %v", a.Timer)
	}
	return fmt.Sprintf("Action(%d)", int(a.Kind))
}

// Skew is the Skew_Time of RFC 9568 6.1 for priority prio and master
// interval iv, in keepalived's integer microseconds: v2 (256-prio)/256 s,
// v3 (256-prio) x iv / 256.
func Skew(version int, prio uint8, iv time.Duration) time.Duration {
	p := int64(256 - int(prio))
	if version == 3 {
		return time.Duration(p*int64(iv/(10*time.Millisecond))*625/16) * time.Microsecond
	}
	return time.Duration(p*1000000/256) * time.Microsecond
}

// MasterDown is Master_Down_Interval: 3 x the master's interval + skew.
func (c *Config) MasterDown(s State) time.Duration {
	return 3*s.MasterInterval + c.skew(s)
}

func (c *Config) skew(s State) time.Duration {
	p := s.Priority
	if c.Priority == PriorityOwner {
		p = PriorityOwner
	}
	iv := s.MasterInterval
	if c.Version != 3 {
		iv = c.Interval
	}
	return Skew(c.Version, p, iv)
}

// Step is the state machine of RFC 9568 section 6 as keepalived runs it:
// given the state, one event and the time, it returns the next state and
// what to do, in order. It has no clock and no side effects.
func Step(c *Config, s State, ev Event, now time.Time) (State, []Action) {
	m := machine{c: c, s: s, now: now}
	if m.s.Priority == 0 {
		m.s.Priority = c.Priority // a zero State starts from the configured priority
	}
	switch ev.Kind {
	case EvStart:
		m.start()
	case EvStop:
		m.stop()
	case EvAdvert:
		m.advert(ev)
	case EvTimer:
		m.timer(ev.Timer)
	case EvFault:
		m.fault()
	case EvFaultCleared:
		m.faultCleared()
	case EvPriority:
		m.priority(ev.Priority)
	case EvForceBackup:
		if m.s.Role == Master {
			m.becomeBackup()
		}
	case EvReconfig:
		m.reconfig(ev.Priority)
	case EvForceMaster:
		// only a backup: a member in FAULT stays there (its group is then
		// in FAULT too), and Init has not started
		if m.s.Role == Backup {
			m.becomeMaster()
		}
	}
	return m.s, m.acts
}

type machine struct {
	c    *Config
	s    State
	now  time.Time
	acts []Action
}

func (m *machine) do(a Action) { m.acts = append(m.acts, a) }

func (m *machine) set(t Timer, at time.Time) {
	m.s.Timers[t] = at
	m.do(Action{Kind: ActSetTimer, Timer: t, At: at})
}

func (m *machine) cancel(t Timer) {
	if !m.s.Timers[t].IsZero() {
		m.s.Timers[t] = time.Time{}
		m.do(Action{Kind: ActCancelTimer, Timer: t})
	}
}

func (m *machine) notify() {
	m.do(Action{Kind: ActNotify, Role: m.s.Role, Priority: m.s.Priority})
}

func (m *machine) start() {
	if m.s.Role != Init {
		return
	}
	m.s.MasterInterval = m.c.Interval
	if m.s.Faulted {
		m.s.Role = Fault
		m.notify()
		return
	}
	if m.c.StartMaster && m.c.Priority == PriorityOwner {
		m.becomeMaster()
		return
	}
	// state MASTER below 255 waits a whole Master_Down like a backup, so
	// a restarted node does not take the addresses from a live master
	m.becomeBackup()
}

func (m *machine) stop() {
	if m.s.Role == Stop {
		return
	}
	if m.s.Role == Master {
		m.do(Action{Kind: ActSendAdvert, Priority: PriorityStop})
		m.do(Action{Kind: ActRemoveVIPs})
	}
	for t := range NumTimers {
		m.cancel(t)
	}
	m.s.Role = Stop
	m.notify()
}

// becomeBackup enters BACKUP (from Init, Master or Fault) with a fresh
// Master_Down timer.
func (m *machine) becomeBackup() {
	if m.s.Role == Master {
		m.do(Action{Kind: ActRemoveVIPs})
	}
	m.cancel(TimerAdvert)
	m.cancel(TimerGARP)
	m.cancel(TimerRefresh)
	m.cancel(TimerLowerGARP)
	m.s.Role = Backup
	m.s.PreemptUntil = time.Time{}
	m.notify()
	m.set(TimerMasterDown, m.now.Add(m.c.MasterDown(m.s)))
}

// becomeMaster sends the advert first, so the old master (if alive)
// drops the addresses before our gratuitous ARPs move them (keepalived's
// vrrp_state_master_tx).
func (m *machine) becomeMaster() {
	m.cancel(TimerMasterDown)
	m.s.Role = Master
	m.s.MasterInterval = m.c.Interval
	m.s.Master, m.s.MasterPriority = netip.Addr{}, 0
	m.do(Action{Kind: ActSendAdvert, Priority: m.s.Priority})
	m.do(Action{Kind: ActAddVIPs})
	m.do(Action{Kind: ActAnnounce, Count: m.c.GARPRepeat})
	m.notify()
	m.set(TimerAdvert, m.now.Add(m.c.Interval))
	if m.c.GARPDelay > 0 {
		m.set(TimerGARP, m.now.Add(m.c.GARPDelay))
	}
	if m.c.GARPRefresh > 0 {
		m.set(TimerRefresh, m.now.Add(m.c.GARPRefresh))
	}
}

func (m *machine) advert(ev Event) {
	switch m.s.Role {
	case Backup:
		m.backupAdvert(ev)
	case Master:
		m.masterAdvert(ev)
	}
}

// backupAdvert is keepalived's vrrp_state_backup.
func (m *machine) backupAdvert(ev Event) {
	if ev.Priority == PriorityStop {
		// the master is stopping: take over after the skew only
		m.set(TimerMasterDown, m.now.Add(m.c.skew(m.s)))
		return
	}
	delaying := m.c.PreemptDelay > 0 && (m.s.PreemptUntil.IsZero() || m.now.Before(m.s.PreemptUntil))
	if !(m.c.NoPreempt || ev.Priority >= m.s.Priority || delaying) {
		// a lower master we may preempt: let Master_Down run out
		return
	}
	if m.c.Version == 3 && ev.Interval > 0 {
		m.s.MasterInterval = ev.Interval
	}
	m.s.Master, m.s.MasterPriority = ev.Src, ev.Priority
	if m.c.PreemptDelay > 0 {
		if ev.Priority >= m.s.Priority {
			m.s.PreemptUntil = time.Time{}
		} else if m.s.PreemptUntil.IsZero() {
			m.s.PreemptUntil = m.now.Add(m.c.PreemptDelay)
		}
	}
	m.set(TimerMasterDown, m.now.Add(m.c.MasterDown(m.s)))
}

// masterAdvert is keepalived's vrrp_state_master_rx.
func (m *machine) masterAdvert(ev Event) {
	cmp := ev.Src.Compare(m.c.Self)
	switch {
	case ev.Priority == PriorityStop:
		// another master stopping: assert ourselves at once
		m.do(Action{Kind: ActSendAdvert, Priority: m.s.Priority})
	case ev.Priority > m.s.Priority || ev.Priority == m.s.Priority && cmp > 0:
		if m.c.Version == 3 && ev.Interval > 0 {
			m.s.MasterInterval = ev.Interval
		}
		m.becomeBackup()
		m.s.Master, m.s.MasterPriority = ev.Src, ev.Priority
	case ev.Priority < m.s.Priority || cmp < 0:
		// a lower router thinks it is master (a split brain healing, or
		// it missed our adverts): answer at once so it steps down now
		if !m.c.LowerPrioNoAdvert {
			m.do(Action{Kind: ActSendAdvert, Priority: m.s.Priority})
		}
		if m.c.GARPLowerPrioRepeat > 0 {
			m.do(Action{Kind: ActAnnounce, Count: m.c.GARPLowerPrioRepeat})
			if m.c.GARPLowerPrioDelay > 0 {
				m.set(TimerLowerGARP, m.now.Add(m.c.GARPLowerPrioDelay))
			}
		}
	}
	// equal priority from our own address: our own advert looped back
}

func (m *machine) timer(t Timer) {
	at := m.s.Timers[t]
	if at.IsZero() || m.now.Before(at) {
		return // disarmed or re-armed since: a stale wake-up
	}
	m.s.Timers[t] = time.Time{}
	switch t {
	case TimerMasterDown:
		if m.s.Role == Backup {
			m.becomeMaster()
		}
	case TimerAdvert:
		if m.s.Role == Master {
			m.do(Action{Kind: ActSendAdvert, Priority: m.s.Priority})
			m.set(TimerAdvert, next(at, m.now, m.c.Interval))
		}
	case TimerGARP:
		if m.s.Role == Master {
			m.do(Action{Kind: ActAnnounce, Count: m.c.GARPRepeat})
		}
	case TimerLowerGARP:
		if m.s.Role == Master {
			m.do(Action{Kind: ActAnnounce, Count: m.c.GARPLowerPrioRepeat})
		}
	case TimerRefresh:
		if m.s.Role == Master {
			m.do(Action{Kind: ActAnnounce, Count: max(m.c.GARPRefreshRepeat, 1)})
			m.set(TimerRefresh, next(at, m.now, m.c.GARPRefresh))
		}
	}
}

// next keeps a periodic timer on its grid (a late wake-up does not shift
// later adverts), but never schedules a burst to catch up.
func next(at, now time.Time, iv time.Duration) time.Time {
	n := at.Add(iv)
	if !n.After(now) {
		n = now.Add(iv)
	}
	return n
}

func (m *machine) fault() {
	m.s.Faulted = true
	switch m.s.Role {
	case Backup, Master:
		if m.s.Role == Master {
			// keepalived tells the backups at once rather than leave them
			// Master_Down without a master
			m.do(Action{Kind: ActSendAdvert, Priority: PriorityStop})
			m.do(Action{Kind: ActRemoveVIPs})
		}
		for t := range NumTimers {
			m.cancel(t)
		}
		m.s.Role = Fault
		m.notify()
	}
}

func (m *machine) faultCleared() {
	m.s.Faulted = false
	if m.s.Role != Fault {
		return
	}
	m.s.MasterInterval = m.c.Interval
	if m.c.StartMaster && m.c.Priority == PriorityOwner {
		m.becomeMaster()
		return
	}
	m.becomeBackup()
}

// priority applies a new effective priority, clamped to 1-254 as
// keepalived does; the owner's never moves. A backup's Master_Down moves
// with its skew; a master's next advert carries the new value.
func (m *machine) priority(p uint8) {
	if m.c.Priority == PriorityOwner {
		return
	}
	p = min(max(p, 1), PriorityOwner-1)
	if p == m.s.Priority {
		return
	}
	old := m.c.skew(m.s)
	m.s.Priority = p
	if at := m.s.Timers[TimerMasterDown]; m.s.Role == Backup && !at.IsZero() {
		m.set(TimerMasterDown, at.Add(m.c.skew(m.s)-old))
	}
}

// reconfig applies a reload's new settings without a transition (as
// keepalived keeps a matching instance's state): the new priority as a
// tracking change would (the owner's is 255), our advert_int (a v3
// backup keeps following its master's), and a master's periodic timers
// brought forward when the new period is shorter (a longer one takes
// effect from the next advert). No advert and no announcement here: an
// unchanged reload is not seen on the wire.
func (m *machine) reconfig(p uint8) {
	if m.s.Role == Master || m.c.Version != 3 {
		m.s.MasterInterval = m.c.Interval
	}
	if m.c.Priority == PriorityOwner {
		p = PriorityOwner
	} else {
		p = min(max(p, 1), PriorityOwner-1)
	}
	if p != m.s.Priority {
		old := m.c.skew(m.s)
		m.s.Priority = p
		if at := m.s.Timers[TimerMasterDown]; m.s.Role == Backup && !at.IsZero() {
			m.set(TimerMasterDown, at.Add(m.c.skew(m.s)-old))
		}
	}
	if m.s.Role != Master {
		return
	}
	if at := m.s.Timers[TimerAdvert]; at.IsZero() || m.now.Add(m.c.Interval).Before(at) {
		m.set(TimerAdvert, m.now.Add(m.c.Interval))
	}
	if m.c.GARPRefresh <= 0 {
		m.cancel(TimerRefresh)
	} else if at := m.s.Timers[TimerRefresh]; at.IsZero() || m.now.Add(m.c.GARPRefresh).Before(at) {
		m.set(TimerRefresh, m.now.Add(m.c.GARPRefresh))
	}
	if m.c.GARPDelay <= 0 {
		m.cancel(TimerGARP)
	}
	if m.c.GARPLowerPrioDelay <= 0 || m.c.GARPLowerPrioRepeat <= 0 {
		m.cancel(TimerLowerGARP)
	}
}
