package vrrp

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"
)

var (
	t0     = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	self   = netip.MustParseAddr("10.0.0.2")
	lower  = netip.MustParseAddr("10.0.0.1")
	higher = netip.MustParseAddr("10.0.0.3")
)

// step is one event of a scenario, at t0+at, with the role and actions
// expected (timers as offsets from t0).
type step struct {
	at   time.Duration
	ev   Event
	role Role
	acts string // actions joined by "; "
}

func start() Event       { return Event{Kind: EvStart} }
func fire(t Timer) Event { return Event{Kind: EvTimer, Timer: t} }
func adv(p uint8, src netip.Addr) Event {
	return Event{Kind: EvAdvert, Priority: p, Src: src, Interval: time.Second}
}

func fmtActs(acts []Action) string {
	var s []string
	for _, a := range acts {
		if a.Kind == ActSetTimer {
			s = append(s, fmt.Sprintf("set %v +%v", a.Timer, a.At.Sub(t0)))
			continue
		}
		s = append(s, a.String())
	}
	return strings.Join(s, "; ")
}

func run(t *testing.T, c Config, steps []step) State {
	t.Helper()
	var s State
	var armed [NumTimers]time.Time
	for i, st := range steps {
		var acts []Action
		s, acts = Step(&c, s, st.ev, t0.Add(st.at))
		if got := fmtActs(acts); got != st.acts || s.Role != st.role {
			t.Fatalf("step %d (+%v, event %+v):\n got %v: %s\nwant %v: %s", i, st.at, st.ev, s.Role, got, st.role, st.acts)
		}
		// the runner, arming and cancelling as told (a timer that fired is
		// spent), agrees with State
		if st.ev.Kind == EvTimer && !t0.Add(st.at).Before(armed[st.ev.Timer]) {
			armed[st.ev.Timer] = time.Time{}
		}
		for _, a := range acts {
			switch a.Kind {
			case ActSetTimer:
				armed[a.Timer] = a.At
			case ActCancelTimer:
				armed[a.Timer] = time.Time{}
			case ActSendAdvert, ActAnnounce:
				if s.Role != Master && a.Priority != 0 {
					t.Fatalf("step %d: %v while %v", i, a, s.Role)
				}
			}
		}
		for tm, at := range s.Timers {
			if !at.Equal(armed[tm]) {
				t.Fatalf("step %d: State has %v at %v, the actions left %v", i, Timer(tm), at, armed[tm])
			}
		}
	}
	return s
}

var (
	v2 = Config{Version: 2, Priority: 100, Interval: time.Second, Self: self, GARPRepeat: 5, GARPDelay: 5 * time.Second}
	// Master_Down for priority 100 at 1 s: 3 s + (256-100)/256 s
	down100  = "set master-down +3.609375s"
	toMaster = "advert 100; add-vips; announce 5; notify MASTER 100; set advert +%v; set garp-delay +%v"
)

func becameMaster(at time.Duration) string {
	return fmt.Sprintf(toMaster, at+time.Second, at+5*time.Second)
}

func TestStepStart(t *testing.T) {
	t.Run("backup waits Master_Down", func(t *testing.T) {
		run(t, v2, []step{{0, start(), Backup, "notify BACKUP 100; " + down100}})
	})
	t.Run("state MASTER below 255 waits like a backup", func(t *testing.T) {
		c := v2
		c.StartMaster = true
		run(t, c, []step{{0, start(), Backup, "notify BACKUP 100; " + down100}})
	})
	t.Run("owner goes straight to master", func(t *testing.T) {
		c := v2
		c.StartMaster, c.Priority = true, 255
		run(t, c, []step{{0, start(), Master, "advert 255; add-vips; announce 5; notify MASTER 255; set advert +1s; set garp-delay +5s"}})
	})
	t.Run("owner in state BACKUP waits (skew of 255)", func(t *testing.T) {
		c := v2
		c.Priority = 255
		run(t, c, []step{{0, start(), Backup, "notify BACKUP 255; set master-down +3.003906s"}})
	})
	t.Run("fault before start", func(t *testing.T) {
		run(t, v2, []step{
			{0, Event{Kind: EvFault}, Init, ""},
			{0, start(), Fault, "notify FAULT 100"},
			{time.Second, Event{Kind: EvFaultCleared}, Backup, "notify BACKUP 100; set master-down +4.609375s"},
		})
	})
	t.Run("v3 skew scales with the interval", func(t *testing.T) {
		c := v2
		c.Version, c.Interval = 3, 100*time.Millisecond
		// 3 x 0.1 s + 156 x 10 cs x 625/16 µs, truncated to the µs as keepalived
		run(t, c, []step{{0, start(), Backup, "notify BACKUP 100; set master-down +360.937ms"}})
	})
}

func TestStepBackup(t *testing.T) {
	boot := step{0, start(), Backup, "notify BACKUP 100; " + down100}
	t.Run("master silent: take over, advert before addresses", func(t *testing.T) {
		run(t, v2, []step{boot, {3609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(3609375 * time.Microsecond)}})
	})
	t.Run("higher advert restarts Master_Down", func(t *testing.T) {
		s := run(t, v2, []step{boot, {time.Second, adv(150, higher), Backup, "set master-down +4.609375s"}})
		if s.Master != higher || s.MasterPriority != 150 {
			t.Fatalf("master %v %d", s.Master, s.MasterPriority)
		}
	})
	t.Run("equal priority is followed", func(t *testing.T) {
		run(t, v2, []step{boot, {time.Second, adv(100, lower), Backup, "set master-down +4.609375s"}})
	})
	t.Run("lower advert ignored with preempt: timer runs out", func(t *testing.T) {
		run(t, v2, []step{boot,
			{time.Second, adv(50, lower), Backup, ""},
			{3609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(3609375 * time.Microsecond)},
		})
	})
	t.Run("nopreempt follows a lower master", func(t *testing.T) {
		c := v2
		c.NoPreempt = true
		run(t, c, []step{boot, {time.Second, adv(50, lower), Backup, "set master-down +4.609375s"}})
	})
	t.Run("priority 0: take over after the skew only", func(t *testing.T) {
		run(t, v2, []step{boot,
			{time.Second, adv(150, higher), Backup, "set master-down +4.609375s"},
			{2 * time.Second, adv(0, higher), Backup, "set master-down +2.609375s"},
			{2609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(2609375 * time.Microsecond)},
		})
	})
	t.Run("preempt_delay follows a lower master for the delay, then preempts", func(t *testing.T) {
		c := v2
		c.PreemptDelay = 10 * time.Second
		run(t, c, []step{boot,
			{1 * time.Second, adv(50, lower), Backup, "set master-down +4.609375s"}, // delay starts: until +11 s
			{10 * time.Second, adv(50, lower), Backup, "set master-down +13.609375s"},
			{11 * time.Second, adv(50, lower), Backup, ""}, // delay over: ignored
			{13609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(13609375 * time.Microsecond)},
		})
	})
	t.Run("preempt_delay stops on a higher advert", func(t *testing.T) {
		c := v2
		c.PreemptDelay = 10 * time.Second
		s := run(t, c, []step{boot,
			{1 * time.Second, adv(50, lower), Backup, "set master-down +4.609375s"},
			{2 * time.Second, adv(150, higher), Backup, "set master-down +5.609375s"},
		})
		if !s.PreemptUntil.IsZero() {
			t.Fatalf("preempt delay still running until %v", s.PreemptUntil)
		}
	})
	t.Run("v3 adopts the master's interval", func(t *testing.T) {
		c := v2
		c.Version = 3
		ev := adv(150, higher)
		ev.Interval = 2 * time.Second
		// 3 x 2 s + 156 x 200 cs x 625/16 µs
		s := run(t, c, []step{boot, {time.Second, ev, Backup, "set master-down +8.21875s"}})
		if s.MasterInterval != 2*time.Second {
			t.Fatalf("master interval %v", s.MasterInterval)
		}
	})
	t.Run("v2 keeps its own interval", func(t *testing.T) {
		ev := adv(150, higher)
		ev.Interval = 2 * time.Second
		run(t, v2, []step{boot, {time.Second, ev, Backup, "set master-down +4.609375s"}})
	})
	t.Run("priority change moves Master_Down by the skew", func(t *testing.T) {
		run(t, v2, []step{boot,
			{time.Second, Event{Kind: EvPriority, Priority: 200}, Backup, "set master-down +3.21875s"},
			{time.Second, Event{Kind: EvPriority, Priority: 0}, Backup, "set master-down +3.996093s"}, // clamped to 1
		})
	})
	t.Run("stale timer ignored", func(t *testing.T) {
		run(t, v2, []step{boot,
			{time.Second, adv(150, higher), Backup, "set master-down +4.609375s"},
			{3609375 * time.Microsecond, fire(TimerMasterDown), Backup, ""},
			{time.Second, fire(TimerAdvert), Backup, ""},
		})
	})
}

func TestStepMaster(t *testing.T) {
	owner := v2
	owner.StartMaster, owner.Priority = true, 255
	boot := step{0, start(), Backup, "notify BACKUP 100; " + down100}
	up := step{3609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(3609375 * time.Microsecond)}
	at := 5 * time.Second
	t.Run("lower advert answered at once (split brain heals)", func(t *testing.T) {
		run(t, v2, []step{boot, up, {at, adv(50, higher), Master, "advert 100"}})
	})
	t.Run("lower advert: no answer with vrrp_lower_prio_no_advert, GARP with garp_lower_prio_repeat", func(t *testing.T) {
		c := v2
		c.LowerPrioNoAdvert, c.GARPLowerPrioRepeat = true, 2
		run(t, c, []step{boot, up, {at, adv(50, higher), Master, "announce 2"}})
	})
	t.Run("lower advert: garp_lower_prio_delay's second burst, none once backup", func(t *testing.T) {
		c := v2
		c.GARPLowerPrioRepeat, c.GARPLowerPrioDelay = 5, 5*time.Second
		run(t, c, []step{boot, up, {at, adv(50, higher), Master, "advert 100; announce 5; set garp-lower-delay +10s"},
			{10 * time.Second, fire(TimerLowerGARP), Master, "announce 5"}})
		run(t, c, []step{boot, up, {at, adv(50, higher), Master, "advert 100; announce 5; set garp-lower-delay +10s"},
			{6 * time.Second, adv(150, higher), Backup,
				"remove-vips; cancel advert; cancel garp-delay; cancel garp-lower-delay; notify BACKUP 100; set master-down +9.609375s"}})
	})
	t.Run("higher advert: back to backup, addresses dropped", func(t *testing.T) {
		run(t, v2, []step{boot, up, {at, adv(150, lower), Backup,
			"remove-vips; cancel advert; cancel garp-delay; notify BACKUP 100; set master-down +8.609375s"}})
	})
	t.Run("equal priority, higher address wins", func(t *testing.T) {
		run(t, v2, []step{boot, up, {at, adv(100, higher), Backup,
			"remove-vips; cancel advert; cancel garp-delay; notify BACKUP 100; set master-down +8.609375s"}})
	})
	t.Run("equal priority, lower address loses", func(t *testing.T) {
		run(t, v2, []step{boot, up, {at, adv(100, lower), Master, "advert 100"}})
	})
	t.Run("own advert looped back is ignored", func(t *testing.T) {
		run(t, v2, []step{boot, up, {at, adv(100, self), Master, ""}})
	})
	t.Run("priority 0 from another master: assert at once", func(t *testing.T) {
		run(t, v2, []step{boot, up, {at, adv(0, higher), Master, "advert 100"}})
	})
	t.Run("owner keeps 255 against 254", func(t *testing.T) {
		run(t, owner, []step{{0, start(), Master, "advert 255; add-vips; announce 5; notify MASTER 255; set advert +1s; set garp-delay +5s"},
			{time.Second / 2, adv(254, higher), Master, "advert 255"},
			{time.Second / 2, Event{Kind: EvPriority, Priority: 10}, Master, ""}})
	})
	t.Run("advert timer on its grid, never a burst", func(t *testing.T) {
		run(t, owner, []step{{0, start(), Master, "advert 255; add-vips; announce 5; notify MASTER 255; set advert +1s; set garp-delay +5s"},
			{time.Second + 30*time.Millisecond, fire(TimerAdvert), Master, "advert 255; set advert +2s"},
			{4500 * time.Millisecond, fire(TimerAdvert), Master, "advert 255; set advert +5.5s"},
			{5 * time.Second, fire(TimerGARP), Master, "announce 5"},
		})
	})
	t.Run("garp_master_refresh while master", func(t *testing.T) {
		c := owner
		c.GARPDelay, c.GARPRefresh, c.GARPRefreshRepeat = 0, 3*time.Second, 2
		run(t, c, []step{{0, start(), Master, "advert 255; add-vips; announce 5; notify MASTER 255; set advert +1s; set garp-refresh +3s"},
			{3 * time.Second, fire(TimerRefresh), Master, "announce 2; set garp-refresh +6s"},
		})
	})
	t.Run("a lowered master advertises its new priority and yields", func(t *testing.T) {
		run(t, v2, []step{boot, up,
			{at, Event{Kind: EvPriority, Priority: 40}, Master, ""},
			{4609375 * time.Microsecond, fire(TimerAdvert), Master, "advert 40; set advert +5.609375s"},
			{at, adv(90, higher), Backup, "remove-vips; cancel advert; cancel garp-delay; notify BACKUP 40; set master-down +8.84375s"},
		})
	})
}

func TestStepFaultAndStop(t *testing.T) {
	boot := step{0, start(), Backup, "notify BACKUP 100; " + down100}
	up := step{3609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(3609375 * time.Microsecond)}
	at := 5 * time.Second
	t.Run("fault in master: priority 0, addresses dropped, no adverts", func(t *testing.T) {
		run(t, v2, []step{boot, up,
			{at, Event{Kind: EvFault}, Fault, "advert 0; remove-vips; cancel advert; cancel garp-delay; notify FAULT 100"},
			{at, adv(150, higher), Fault, ""},
			{at, fire(TimerAdvert), Fault, ""},
			{6 * time.Second, Event{Kind: EvFaultCleared}, Backup, "notify BACKUP 100; set master-down +9.609375s"},
		})
	})
	t.Run("fault in backup", func(t *testing.T) {
		run(t, v2, []step{boot, {at, Event{Kind: EvFault}, Fault, "cancel master-down; notify FAULT 100"}})
	})
	t.Run("owner leaves fault straight to master", func(t *testing.T) {
		c := v2
		c.StartMaster, c.Priority, c.GARPDelay = true, 255, 0
		run(t, c, []step{{0, start(), Master, "advert 255; add-vips; announce 5; notify MASTER 255; set advert +1s"},
			{at, Event{Kind: EvFault}, Fault, "advert 0; remove-vips; cancel advert; notify FAULT 255"},
			{at, Event{Kind: EvFaultCleared}, Master, "advert 255; add-vips; announce 5; notify MASTER 255; set advert +6s"},
		})
	})
	t.Run("stop in master: priority 0 then addresses dropped", func(t *testing.T) {
		run(t, v2, []step{boot, up,
			{at, Event{Kind: EvStop}, Stop, "advert 0; remove-vips; cancel advert; cancel garp-delay; notify STOP 100"},
			{at, start(), Stop, ""},
		})
	})
	t.Run("stop in backup", func(t *testing.T) {
		run(t, v2, []step{boot, {at, Event{Kind: EvStop}, Stop, "cancel master-down; notify STOP 100"}})
	})
}

// vrrp_sync_group: the runner moves the other members with these.
func TestStepSyncGroup(t *testing.T) {
	boot := step{0, start(), Backup, "notify BACKUP 100; " + down100}
	at := time.Second
	t.Run("force master from backup", func(t *testing.T) {
		run(t, v2, []step{boot, {at, Event{Kind: EvForceMaster}, Master, "cancel master-down; " + becameMaster(at)},
			{at, Event{Kind: EvForceMaster}, Master, ""}})
	})
	t.Run("force backup from master", func(t *testing.T) {
		run(t, v2, []step{boot, {at, Event{Kind: EvForceMaster}, Master, "cancel master-down; " + becameMaster(at)},
			{2 * at, Event{Kind: EvForceBackup}, Backup, "remove-vips; cancel advert; cancel garp-delay; notify BACKUP 100; set master-down +5.609375s"},
			{2 * at, Event{Kind: EvForceBackup}, Backup, ""}})
	})
	t.Run("fault and init do not move", func(t *testing.T) {
		run(t, v2, []step{{0, Event{Kind: EvForceMaster}, Init, ""}, boot,
			{at, Event{Kind: EvFault}, Fault, "cancel master-down; notify FAULT 100"},
			{at, Event{Kind: EvForceMaster}, Fault, ""},
			{at, Event{Kind: EvForceBackup}, Fault, ""}})
	})
}

func TestSkew(t *testing.T) {
	for _, tc := range []struct {
		version int
		prio    uint8
		iv      time.Duration
		want    time.Duration
	}{
		{2, 100, time.Second, 609375 * time.Microsecond},
		{2, 254, time.Second, 7812 * time.Microsecond},
		{2, 1, 5 * time.Second, 996093 * time.Microsecond}, // v2: independent of the interval
		{3, 100, time.Second, 609375 * time.Microsecond},
		{3, 100, 50 * time.Millisecond, 30468 * time.Microsecond},
		{3, 255, 10 * time.Millisecond, 39 * time.Microsecond},
	} {
		if got := Skew(tc.version, tc.prio, tc.iv); got != tc.want {
			t.Errorf("Skew(v%d, %d, %v) = %v, want %v", tc.version, tc.prio, tc.iv, got, tc.want)
		}
	}
}

func TestNext(t *testing.T) {
	var s State
	if _, _, ok := s.Next(); ok {
		t.Fatal("no timer armed, Next says one is")
	}
	s.Timers[TimerRefresh] = t0.Add(2 * time.Second)
	s.Timers[TimerAdvert] = t0.Add(time.Second)
	if tm, at, ok := s.Next(); !ok || tm != TimerAdvert || !at.Equal(t0.Add(time.Second)) {
		t.Fatalf("Next = %v %v %v", tm, at, ok)
	}
}

// A reload applies new settings in place: no transition, no advert, no
// announcement; a changed priority moves as a tracking change would, a
// shorter advert_int brings the next advert forward.
func TestStepReconfig(t *testing.T) {
	boot := step{0, start(), Backup, "notify BACKUP 100; " + down100}
	up := step{3609375 * time.Microsecond, fire(TimerMasterDown), Master, becameMaster(3609375 * time.Microsecond)}
	follow := step{time.Second, adv(150, higher), Backup, "set master-down +4.609375s"}
	at := 4 * time.Second
	for _, tc := range []struct {
		name  string
		steps []step
		edit  func(*Config)
		prio  uint8
		role  Role
		acts  string
	}{
		{"master, unchanged: nothing at all", []step{boot, up}, func(*Config) {}, 100, Master, ""},
		{"backup, unchanged: nothing at all", []step{boot, follow}, func(*Config) {}, 100, Backup, ""},
		{"master, lower priority: next advert carries it", []step{boot, up}, func(c *Config) { c.Priority = 50 }, 50, Master, ""},
		{"backup, higher priority: Master_Down moves with the skew", []step{boot, follow}, func(c *Config) { c.Priority = 200 }, 200, Backup,
			"set master-down +4.21875s"},
		{"master, shorter advert_int: the next advert comes sooner", []step{boot, up}, func(c *Config) { c.Interval = 200 * time.Millisecond }, 100, Master,
			"set advert +4.2s"},
		{"master, longer advert_int: from the next advert on", []step{boot, up}, func(c *Config) { c.Interval = 3 * time.Second }, 100, Master, ""},
		{"master, garp_master_refresh on and garp_master_delay off", []step{boot, up}, func(c *Config) { c.GARPRefresh, c.GARPDelay = 10*time.Second, 0 }, 100, Master,
			"set garp-refresh +14s; cancel garp-delay"},
		{"becoming the owner: 255 at once", []step{boot, up}, func(c *Config) { c.Priority = 255 }, 100, Master, ""},
		{"fault: stays in fault", []step{boot, {time.Second, Event{Kind: EvFault}, Fault, "cancel master-down; notify FAULT 100"}},
			func(c *Config) { c.Priority = 120 }, 120, Fault, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := run(t, v2, tc.steps)
			c := v2
			tc.edit(&c)
			n, acts := Step(&c, s, Event{Kind: EvReconfig, Priority: tc.prio}, t0.Add(at))
			if got := fmtActs(acts); got != tc.acts || n.Role != tc.role {
				t.Errorf("got %v: %q, want %v: %q", n.Role, got, tc.role, tc.acts)
			}
			want := tc.prio
			if c.Priority == PriorityOwner {
				want = PriorityOwner
			}
			if n.Priority != want {
				t.Errorf("priority %d, want %d", n.Priority, want)
			}
		})
	}
}
