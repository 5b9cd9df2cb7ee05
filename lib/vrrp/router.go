package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Options wire a Router to the system; zero values are the real one.
type Options struct {
	Logf  func(format string, args ...any) // one line per event (default: none)
	Addrs Addresser                        // default KernelAddrs
	Open  func(SocketOptions) (Socket, error)
	// Exec runs a command line (sh -c) and returns its exit status, -1
	// when it could not run or timed out; track scripts use it.
	Exec func(ctx context.Context, line string, timeout time.Duration) int
	// Spawn starts a notify command without waiting for it.
	Spawn func(line string)
	// Link reports whether an interface is up with carrier, and its
	// advert source (primary IPv4 address or IPv6 link-local).
	Link func(name string, v6 bool, vips []netip.Prefix) (up bool, src netip.Addr, err error)
	// Poll is the period of the track_file / track_interface / link
	// reads (default 500 ms).
	Poll time.Duration
	// RTPriority, when set (1-99), runs the process at SCHED_RR with this
	// priority (keepalived's vrrp_rt_priority).
	RTPriority int
	// FIFO, when set, gets keepalived's notify_fifo line for each state
	// change: `INSTANCE "VI_1" MASTER 100`, `GROUP "G" BACKUP 0`.
	FIFO func(line string)
	// OnRole is called (off the timer goroutine) after an instance's role
	// changed: the daemon switches the IPVS sync daemon with it.
	OnRole func(instance string, r Role)
}

// Router runs a configuration's VRRP instances: one goroutine each with
// its own timer driving Step; receiving, tracking, addresses and scripts
// run on other goroutines and talk to it over channels, so a slow netlink
// call or script never delays an advert.
type Router struct {
	o       Options
	cfg     *config.Config
	insts   []*inst
	sockets map[sockKey]*sock
	groups  []*group
}

type sockKey struct {
	dev string
	v6  bool
}

// sock is one raw socket shared by the instances on an interface and
// family; its reader demultiplexes by VRID.
type sock struct {
	key   sockKey
	s     Socket
	insts []*inst
	mu    sync.Mutex
	drops map[Reason]uint64 // dropped before an instance was found
	r     *Router
}

// New checks what can only be checked on the running system (every
// interface exists) and opens the sockets; nothing is sent before Run.
func New(cfg *config.Config, o Options) (*Router, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	if o.Addrs == nil {
		o.Addrs = KernelAddrs{}
	}
	if o.Open == nil {
		o.Open = OpenSocket
	}
	if o.Exec == nil {
		o.Exec = execLine
	}
	if o.Spawn == nil {
		o.Spawn = spawnLine
	}
	if o.Link == nil {
		o.Link = kernelLink
	}
	if o.Poll <= 0 {
		o.Poll = 500 * time.Millisecond
	}
	r := &Router{o: o, cfg: cfg, sockets: map[sockKey]*sock{}}
	var errs []string
	at := func(line int) string { return fmt.Sprintf("%s:%d", cfg.Source, line) }
	byName := map[string]*inst{}
	for _, ic := range cfg.VRRP {
		devs := []string{ic.Interface}
		for _, v := range append(append([]config.VIP(nil), ic.VIPs...), ic.Excluded...) {
			if v.Dev != "" {
				devs = append(devs, v.Dev)
			}
		}
		for _, t := range ic.TrackInterfaces {
			devs = append(devs, t.Name)
		}
		for _, d := range devs {
			if _, _, err := o.Link(d, false, nil); errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Sprintf("%s: vrrp_instance %s: interface %s does not exist", at(ic.Line), ic.Name, d))
			} else if err != nil {
				errs = append(errs, fmt.Sprintf("%s: vrrp_instance %s: interface %s: %v", at(ic.Line), ic.Name, d, err))
			}
		}
		in := newInst(r, ic)
		r.insts = append(r.insts, in)
		byName[ic.Name] = in
	}
	for _, g := range cfg.SyncGroups {
		gr := &group{cfg: g, r: r}
		for _, m := range g.Members {
			if in := byName[m]; in != nil {
				gr.members = append(gr.members, in)
				in.group = gr
			}
		}
		r.groups = append(r.groups, gr)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	for _, in := range r.insts {
		k := sockKey{in.cfg.Interface, in.v6}
		s := r.sockets[k]
		if s == nil {
			s = &sock{key: k, drops: map[Reason]uint64{}, r: r}
			r.sockets[k] = s
		}
		s.insts = append(s.insts, in)
		in.sock = s
	}
	for k, s := range r.sockets {
		multicast := false
		for _, in := range s.insts {
			multicast = multicast || !in.wire.Unicast
		}
		so, err := o.Open(SocketOptions{Interface: k.dev, IPv6: k.v6, Multicast: multicast})
		if err != nil {
			r.closeSockets()
			return nil, err
		}
		s.s = so
	}
	return r, nil
}

func (r *Router) closeSockets() {
	for _, s := range r.sockets {
		if s.s != nil {
			s.s.Close()
		}
	}
}

// Run runs every instance until ctx ends, then stops them cleanly
// (priority-0 advert, VIPs removed, notify_stop) and returns.
func (r *Router) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	rctx, cancelReaders := context.WithCancel(context.Background())
	for _, s := range r.sockets {
		go s.read()
	}
	r.realtime()
	initTrackFiles(r.cfg, r.o.Logf)
	newTrackers(r).start(rctx) // the first values are queued before the instances start
	for _, in := range r.insts {
		wg.Add(1)
		go func() { defer wg.Done(); in.run(ctx) }()
	}
	wg.Wait()
	cancelReaders()
	r.closeSockets()
	return nil
}

// Status is a snapshot of every instance and of the drops no instance
// claimed (wrong VRID, malformed messages), per interface.
type Status struct {
	Instances []InstanceStatus
	Dropped   map[string]map[string]uint64 // interface (+ " ipv6") -> reason -> count
}

// InstanceStatus is one instance as `lvsd status` shows it.
type InstanceStatus struct {
	Name          string            `json:"name"`
	Interface     string            `json:"interface"`
	VRID          int               `json:"vrid"`
	Version       int               `json:"version"`
	State         string            `json:"state"`
	Priority      int               `json:"priority"`      // effective
	BasePriority  int               `json:"base_priority"` // configured
	Master        string            `json:"master,omitempty"`
	MasterPrio    int               `json:"master_priority,omitempty"`
	Since         time.Time         `json:"since"`
	Transitions   uint64            `json:"transitions"`
	Sent          uint64            `json:"adverts_sent"`
	Received      uint64            `json:"adverts_received"`
	Dropped       map[string]uint64 `json:"dropped,omitempty"`
	Faults        []string          `json:"faults,omitempty"`
	LateLast      time.Duration     `json:"late_last_ns"` // lateness of the last advert timer
	LateMax       time.Duration     `json:"late_max_ns"`  // worst since start
	LateOver      uint64            `json:"late_over"`    // advert timers later than a tenth of the interval
	AdvertTimers  uint64            `json:"advert_timers"`
	SendErrors    uint64            `json:"send_errors,omitempty"`
	AddressErrors uint64            `json:"address_errors,omitempty"`
}

// Status returns the state of every instance.
func (r *Router) Status() Status {
	st := Status{Dropped: map[string]map[string]uint64{}}
	for _, in := range r.insts {
		st.Instances = append(st.Instances, in.status())
	}
	for k, s := range r.sockets {
		s.mu.Lock()
		if len(s.drops) > 0 {
			name := k.dev
			if k.v6 {
				name += " ipv6"
			}
			m := map[string]uint64{}
			for re, n := range s.drops {
				m[re.String()] = n
			}
			st.Dropped[name] = m
		}
		s.mu.Unlock()
	}
	sort.Slice(st.Instances, func(i, j int) bool { return st.Instances[i].Name < st.Instances[j].Name })
	return st
}

// read receives for the instances of one socket until it is closed.
func (s *sock) read() {
	buf := make([]byte, 65536)
	find := func(vrid uint8) *Wire {
		for _, in := range s.insts {
			if in.wire.VRID == vrid {
				return in.wire
			}
		}
		return nil
	}
	var logd Drops // the log's rate limit: a reason's first drop, then one line a minute
	lastAdopt := time.Time{}
	for {
		p, err := s.s.ReadPacket(buf)
		if err != nil {
			if closed(err) {
				return
			}
			s.r.o.Logf("vrrp: reading on %s: %v", s.key.dev, err)
			time.Sleep(100 * time.Millisecond) // no busy loop on a persistent error
			continue
		}
		a, w, re := Receive(p, find)
		var in *inst
		for _, x := range s.insts {
			if x.wire == w {
				in = x
			}
		}
		if re.Dropped() {
			if in != nil {
				in.countDrop(re)
			} else {
				s.mu.Lock()
				s.drops[re]++
				s.mu.Unlock()
			}
			if log, n := logd.Add(re, time.Now()); log {
				name := s.key.dev
				if in != nil {
					name = in.cfg.Name
				}
				more := ""
				if n > 0 {
					more = fmt.Sprintf("; %d more not logged", n)
				}
				s.r.o.Logf("vrrp: %s: dropped an advert from %s: %s (VRID %d, TTL %d%s)", name, p.Src, re, a.VRID, p.TTL, more)
			}
			continue
		}
		if re == AdoptOldChecksum {
			in.wire.OldChecksum = OldChecksumOn // this goroutine's Wire; the sender's is told below
		}
		if re == AdoptInterval {
			if now := time.Now(); now.Sub(lastAdopt) > time.Minute {
				lastAdopt = now
				s.r.o.Logf("vrrp: %s: master %s advertises every %s, ours is %s: following the master's (VRRPv3)", in.cfg.Name, p.Src, a.Interval, in.wire.Interval)
			}
		}
		select {
		case in.rx <- rxAdvert{prio: a.Priority, src: p.Src.Unmap(), interval: a.Interval, oldChecksum: re == AdoptOldChecksum}:
		default:
			in.countDrop(dropQueue)
		}
	}
}

// dropQueue counts adverts dropped because the instance's queue was full
// (its goroutine stalled): never expected, so counted to be seen.
const dropQueue Reason = -1

func reasonName(r Reason) string {
	if r == dropQueue {
		return "queue_full"
	}
	return r.String()
}

// realtime puts every thread of the process at SCHED_RR with
// Options.RTPriority (threads made later inherit it from their creator),
// as keepalived's VRRP process runs: the Go runtime's timers and network
// poller, which wake the instance goroutines, run on any thread, so one
// real-time thread alone would still wait behind a busy CPU. A failure (no
// CAP_SYS_NICE, an RT limit) is logged and lvsd goes on at normal
// priority.
func (r *Router) realtime() {
	if r.o.RTPriority <= 0 {
		return
	}
	attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_RR, Priority: uint32(r.o.RTPriority)}
	var err error
	for pass := 0; pass < 2 && err == nil; pass++ { // again: a thread made during the first pass
		var tasks []os.DirEntry
		if tasks, err = os.ReadDir("/proc/self/task"); err != nil {
			break
		}
		for _, t := range tasks {
			tid, _ := strconv.Atoi(t.Name())
			if e := unix.SchedSetAttr(tid, &attr, 0); e != nil && !errors.Is(e, unix.ESRCH) && err == nil {
				err = e
			}
		}
	}
	if err != nil {
		r.o.Logf("vrrp: vrrp_rt_priority %d: %v (normal priority)", r.o.RTPriority, err)
		return
	}
	r.o.Logf("vrrp: vrrp_rt_priority %d: lvsd runs SCHED_RR", r.o.RTPriority)
}
