package vrrp

import (
	"encoding/hex"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzDecode: no input crashes Decode or the receive checks, and what
// Decode accepts survives Encode and Decode again unchanged.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile(goldenFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if fs := strings.Fields(line); len(fs) == 6 && fs[0][0] != '#' {
				if p, err := hex.DecodeString(fs[5]); err == nil {
					f.Add(p, strings.Contains(fs[2], ":"))
				}
			}
		}
	}
	f.Add([]byte{0x31, 1, 100, 0, 0, 100, 0, 0}, false)
	f.Add([]byte{0x21, 1, 100, 255, 2, 1, 0, 0}, false)
	f.Add([]byte{}, true)
	src, dst := src4, Group4
	src6, dst6 := netip.MustParseAddr("fe80::1"), Group6
	wires := []Wire{
		{Version: 2, VRID: 51, Interval: time.Second, Auth: AuthPass, Password: Password("secret")},
		{Version: 3, VRID: 53, Interval: 100 * time.Millisecond},
		{Version: 3, VRID: 55, Interval: time.Second, ChecksumAsV2: true, Unicast: true, CheckSrc: true, Peers: []Peer{{Addr: src4, MinTTL: 1}}},
	}
	f.Fuzz(func(t *testing.T, data []byte, v6 bool) {
		rx := Packet{Data: data, Src: src, Dst: dst, TTL: 255}
		if v6 {
			rx.Src, rx.Dst = src6, dst6
		}
		a, r := Decode(rx)
		for i := range wires {
			wires[i].Check(rx, a)
		}
		if r.Dropped() {
			return
		}
		a.Type = TypeAdvert
		b, err := Encode(a, rx.Src, rx.Dst, false)
		if err != nil {
			return // fields Encode refuses (interval 0, AH, unknown auth...)
		}
		rx.Data = b
		again, r := Decode(rx)
		if r != Accepted {
			t.Fatalf("re-encoded %x: %v", b, r)
		}
		a.Checksum = again.Checksum
		if a.Version == 3 || a.Auth != AuthPass {
			a.AuthData = [8]byte{} // not on the wire (v2 without PASS: Encode writes zeros)
		}
		if !reflect.DeepEqual(a, again) {
			t.Fatalf("round trip of %x:\n %+v\n %+v", data, a, again)
		}
		w := Wire{Version: a.Version, VRID: a.VRID, Interval: a.Interval, Auth: a.Auth, Password: a.AuthData}
		if r := w.Check(rx, again); r != Accepted {
			t.Fatalf("our own encoding of %x dropped: %v", data, r)
		}
	})
}

// FuzzStep drives the state machine with any sequence of events (each
// input byte pair is one event and a time step) and checks what must
// always hold: the addresses are up exactly while MASTER, only a master
// sends adverts (others only priority 0, when leaving), each role has its
// timer armed, and the State's timers are those the actions left.
func FuzzStep(f *testing.F) {
	f.Add([]byte{0, 0, 3, 40, 2, 1, 5, 9, 6, 0, 1, 0}, uint8(100), uint8(0))
	f.Add([]byte{0, 0, 2, 0, 2, 200, 3, 0, 4, 0, 3, 1}, uint8(255), uint8(7))
	f.Fuzz(func(t *testing.T, evs []byte, prio uint8, flags uint8) {
		if prio == 0 {
			prio = 1
		}
		c := Config{Version: 2 + int(flags&1), Priority: prio, Interval: time.Second, Self: self,
			StartMaster: flags&2 != 0, NoPreempt: flags&4 != 0, GARPRepeat: 5, GARPLowerPrioRepeat: int(flags >> 7)}
		if flags&8 != 0 {
			c.PreemptDelay = 5 * time.Second
		}
		if flags&16 != 0 {
			c.GARPDelay = 2 * time.Second
		}
		if flags&32 != 0 {
			c.GARPRefresh = 3 * time.Second
		}
		if flags&64 != 0 {
			c.GARPLowerPrioDelay = 5 * time.Second
		}
		var (
			s     State
			now   = t0
			vips  bool
			armed [NumTimers]time.Time
		)
		srcs := []netip.Addr{lower, self, higher}
		for i := 0; i+1 < len(evs); i += 2 {
			op, arg := evs[i], evs[i+1]
			now = now.Add(time.Duration(arg) * 50 * time.Millisecond)
			var ev Event
			switch op % 11 {
			case 0:
				ev = Event{Kind: EvStart}
			case 1:
				ev = Event{Kind: EvStop}
			case 2, 3:
				ev = Event{Kind: EvAdvert, Priority: arg, Src: srcs[int(op/10)%3], Interval: time.Duration(1+arg%4) * time.Second}
			case 4:
				tm := Timer(arg % uint8(NumTimers))
				if !s.Timers[tm].IsZero() && now.Before(s.Timers[tm]) && op&0x80 != 0 {
					now = s.Timers[tm] // fire it on time
				}
				ev = Event{Kind: EvTimer, Timer: tm}
			case 5:
				ev = Event{Kind: EvFault}
			case 6:
				ev = Event{Kind: EvFaultCleared}
			case 7:
				ev = Event{Kind: EvPriority, Priority: arg}
			case 8:
				ev = Event{Kind: EvForceMaster}
			case 9:
				ev = Event{Kind: EvForceBackup}
			case 10:
				// a reload: another interval, garp_master_refresh and
				// garp_lower_prio_delay toggled, a new priority
				c.Interval = time.Duration(1+arg%3) * time.Second
				c.GARPRefresh = time.Duration(arg&8) * time.Second
				c.GARPLowerPrioDelay = time.Duration(arg&4) * time.Second
				ev = Event{Kind: EvReconfig, Priority: arg}
			}
			if ev.Kind == EvTimer && !now.Before(armed[ev.Timer]) {
				armed[ev.Timer] = time.Time{}
			}
			var acts []Action
			s, acts = Step(&c, s, ev, now)
			for _, a := range acts {
				switch a.Kind {
				case ActAddVIPs:
					if vips {
						t.Fatalf("event %d %+v: addresses added twice", i/2, ev)
					}
					vips = true
				case ActRemoveVIPs:
					if !vips {
						t.Fatalf("event %d %+v: addresses removed while not up", i/2, ev)
					}
					vips = false
				case ActSendAdvert:
					if a.Priority != 0 && s.Role != Master {
						t.Fatalf("event %d %+v: advert %d while %v", i/2, ev, a.Priority, s.Role)
					}
				case ActSetTimer:
					if !a.At.After(now) && a.Timer != TimerMasterDown {
						t.Fatalf("event %d %+v: %v armed in the past", i/2, ev, a)
					}
					armed[a.Timer] = a.At
				case ActCancelTimer:
					armed[a.Timer] = time.Time{}
				}
			}
			if vips != (s.Role == Master) {
				t.Fatalf("event %d %+v: addresses up %v while %v", i/2, ev, vips, s.Role)
			}
			if s.Timers != armed {
				t.Fatalf("event %d %+v: State timers %v, actions left %v", i/2, ev, s.Timers, armed)
			}
			if s.Role == Master && s.Timers[TimerAdvert].IsZero() || s.Role == Backup && s.Timers[TimerMasterDown].IsZero() {
				t.Fatalf("event %d %+v: %v without its timer", i/2, ev, s.Role)
			}
			if s.Role != Master && s.Role != Backup && s != (State{Role: s.Role, Priority: s.Priority, MasterInterval: s.MasterInterval,
				Master: s.Master, MasterPriority: s.MasterPriority, Faulted: s.Faulted, PreemptUntil: s.PreemptUntil}) {
				t.Fatalf("event %d %+v: %v with timers armed %v", i/2, ev, s.Role, s.Timers)
			}
			if s.Priority == 0 || c.Priority == PriorityOwner && s.Priority != PriorityOwner {
				t.Fatalf("event %d %+v: priority %d (configured %d)", i/2, ev, s.Priority, c.Priority)
			}
		}
	})
}
