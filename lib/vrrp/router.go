package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Options wire a Router to the system; zero values are the real one.
type Options struct {
	Logf  func(format string, args ...any) // one line per event (default: none)
	Addrs Addresser                        // default NewKernelAddrs(), closed when Run returns
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
	// RTPriority is the SCHED_RR priority (1-99) of the VRRP threads:
	// each instance's and each socket reader's (keepalived's
	// vrrp_rt_priority); 0 is DefaultRTPriority, below 0 normal
	// scheduling. Without the right (CAP_SYS_NICE) they run at normal
	// priority, logged once.
	RTPriority int
	// FIFO, when set, gets keepalived's notify_fifo line for each state
	// change: `INSTANCE "VI_1" MASTER 100`, `GROUP "G" BACKUP 0`.
	FIFO func(line string)
	// OnRole is called (off the timer goroutine) after an instance's role
	// changed: the daemon switches the IPVS sync daemon with it.
	OnRole func(instance string, r Role)
	// OnGroup is called (off the timer goroutine) once per vrrp_sync_group
	// transition: MASTER, BACKUP, FAULT, and STOP once all its members
	// stopped (keepalived's send_group_notifies).
	OnGroup func(group string, r Role)
	// OnReload is called by Reload with the new configuration once it
	// can no longer fail, after the instances it removes have stopped and
	// before the others take it (whoever follows settings outside VRRP's
	// own, as the mails' recipients, takes them there).
	OnReload func(next *config.Config)
	// OnRemove is called by Reload with the name of each instance it
	// removes, before that instance stops (its STOP follows on OnRole).
	OnRemove func(instance string)
}

// Router runs a configuration's VRRP instances: one thread each (rt.go)
// driving Step with its timers; receiving (a thread per socket),
// tracking, addresses and scripts run elsewhere and queue to it, so a
// slow netlink call or script never delays an advert.
type Router struct {
	o      Options
	logs   *logQueue
	rtOnce sync.Once

	reloadMu sync.Mutex // one reload at a time, none while stopping

	mu      sync.Mutex // the fields below: Status reads them while a reload changes them
	cfg     *config.Config
	insts   []*inst
	of      map[*config.VRRPInstance]*inst // the running instance of each of cfg.VRRP
	sockets map[sockKey]*sock
	groups  []*group
	ctx     context.Context // Run's; nil before Run
	trk     *trackers
	threads map[int]bool // the VRRP threads running, by TID (rt.go)

	ownAddrs bool // o.Addrs is New's KernelAddrs: Run closes it
}

type sockKey struct {
	dev string
	v6  bool
}

// sock is one raw socket shared by the instances on an interface and
// family; its reader demultiplexes by VRID.
type sock struct {
	key       sockKey
	s         Socket
	multicast bool // the group is joined
	r         *Router

	mu      sync.Mutex
	members []member          // replaced, never changed in place: the reader takes a snapshot
	drops   map[Reason]uint64 // dropped before an instance was found
}

// member is an instance as the socket's reader sees it: its receive
// checks (the reader's own Wire: it records an adopted checksum form).
type member struct {
	in   *inst
	wire *Wire
}

// pending: a message waits on the socket (Socket.Pending, if it has one).
func (s *sock) pending() bool {
	p, ok := s.s.(interface{ Pending() bool })
	return ok && p.Pending()
}

func (s *sock) snapshot() []member {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.members
}

func (s *sock) add(in *inst) {
	s.mu.Lock()
	s.members = append(append([]member(nil), s.members...), member{in, in.wire})
	s.mu.Unlock()
}

func (s *sock) remove(in *inst) (empty bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []member
	for _, m := range s.members {
		if m.in != in {
			ms = append(ms, m)
		}
	}
	s.members = ms
	return len(ms) == 0
}

func (s *sock) setWire(in *inst, w *Wire) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ms := append([]member(nil), s.members...)
	for i := range ms {
		if ms[i].in == in {
			ms[i].wire = w
		}
	}
	s.members = ms
}

// checkInterfaces: every interface named (instance, dev, track_interface)
// exists, else FILE:LINE errors.
func checkInterfaces(cfg *config.Config, link func(string, bool, []netip.Prefix) (bool, netip.Addr, error)) []string {
	var errs []string
	at := func(line int) string { return fmt.Sprintf("%s:%d", cfg.Source, line) }
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
			if _, _, err := link(d, false, nil); errors.Is(err, os.ErrNotExist) {
				errs = append(errs, fmt.Sprintf("%s: vrrp_instance %s: interface %s does not exist", at(ic.Line), ic.Name, d))
			} else if err != nil {
				errs = append(errs, fmt.Sprintf("%s: vrrp_instance %s: interface %s: %v", at(ic.Line), ic.Name, d, err))
			}
		}
	}
	return errs
}

// New checks what can only be checked on the running system (every
// interface exists) and opens the sockets; nothing is sent before Run.
func New(cfg *config.Config, o Options) (*Router, error) {
	if o.Logf == nil {
		o.Logf = func(string, ...any) {}
	}
	own := o.Addrs == nil
	if own {
		o.Addrs = NewKernelAddrs()
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
	if o.RTPriority == 0 {
		o.RTPriority = DefaultRTPriority
	}
	logs := newLogQueue(o.Logf)
	o.Logf = logs.logf
	r := &Router{o: o, logs: logs, cfg: cfg, sockets: map[sockKey]*sock{}, of: map[*config.VRRPInstance]*inst{}, ownAddrs: own}
	if errs := checkInterfaces(cfg, o.Link); len(errs) > 0 {
		return nil, fmt.Errorf("%s", strings.Join(errs, "\n"))
	}
	for _, ic := range cfg.VRRP {
		in := newInst(r, ic)
		r.insts = append(r.insts, in)
		r.of[ic] = in
	}
	r.groups = buildGroups(r, cfg, r.of, nil)
	for _, g := range r.groups {
		for _, m := range g.members {
			m.group = g
		}
	}
	opened, err := r.placeSockets(r.insts)
	if err != nil {
		return nil, err
	}
	for _, s := range opened {
		r.sockets[s.key] = s
	}
	return r, nil
}

// buildGroups makes the sync groups of cfg over its instances; a group
// of the same name in old keeps its role (no repeated group notify).
func buildGroups(r *Router, cfg *config.Config, of map[*config.VRRPInstance]*inst, old []*group) []*group {
	byName := map[string]*inst{}
	for _, ic := range cfg.VRRP {
		byName[ic.Name] = of[ic]
	}
	var out []*group
	for _, g := range cfg.SyncGroups {
		gr := &group{cfg: g, r: r}
		for _, o := range old {
			if o.cfg.Name == g.Name {
				o.mu.Lock()
				gr.role = o.role
				o.mu.Unlock()
			}
		}
		for _, m := range g.Members {
			if in := byName[m]; in != nil {
				gr.members = append(gr.members, in)
			}
		}
		out = append(out, gr)
	}
	return out
}

// placeSockets puts each instance on the socket of its interface and
// family, opening the ones missing (returned; nothing read yet) and
// joining the group on an open one that now needs it. On an error the
// sockets it opened are closed and no instance is placed.
func (r *Router) placeSockets(insts []*inst) ([]*sock, error) {
	var opened []*sock
	want := map[sockKey]bool{} // multicast needed
	for _, in := range insts {
		k := sockKey{in.cfg.Interface, in.v6}
		want[k] = want[k] || !in.wire.Unicast
	}
	fail := func(err error) ([]*sock, error) {
		for _, s := range opened {
			s.s.Close()
		}
		return nil, err
	}
	for k, mc := range want {
		if s := r.sockets[k]; s != nil {
			if mc && !s.multicast {
				j, ok := s.s.(interface{ JoinGroup() error })
				if ok {
					if err := j.JoinGroup(); err != nil {
						return fail(fmt.Errorf("VRRP socket on %s: %w", k.dev, err))
					}
				}
				s.multicast = true
			}
			continue
		}
		so, err := r.o.Open(SocketOptions{Interface: k.dev, IPv6: k.v6, Multicast: mc})
		if err != nil {
			return fail(err)
		}
		opened = append(opened, &sock{key: k, s: so, multicast: mc, drops: map[Reason]uint64{}, r: r})
	}
	for _, in := range insts {
		k := sockKey{in.cfg.Interface, in.v6}
		s := r.sockets[k]
		for _, o := range opened {
			if o.key == k {
				s = o
			}
		}
		in.sock = s
		s.add(in)
	}
	return opened, nil
}

func (r *Router) closeSockets() {
	for _, s := range r.sockets {
		if s.s != nil {
			s.s.Close()
		}
	}
}

// startInst runs an instance's thread (r.mu held, Run started).
func (r *Router) startInst(in *inst) {
	ctx, cancel := context.WithCancel(r.ctx)
	in.stop = cancel
	go func() {
		defer r.rtThread("vrrp:" + in.cfg.Name)()
		defer close(in.done)
		in.run(ctx)
	}()
}

// Run runs every instance until ctx ends, then stops them cleanly
// (priority-0 advert, VIPs removed, notify_stop) and returns.
func (r *Router) Run(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	whole.setPrio(r.rtPriority()) // WholeProcess: the rest of the process too
	defer whole.setPrio(0)
	for _, s := range r.sockets {
		go s.read()
	}
	initTrackFiles(r.cfg.TrackFiles, r.o.Logf)
	r.trk = newTrackers(r, r.insts, r.cfg, nil)
	r.trk.start() // the first values are queued before the instances start
	for _, in := range r.insts {
		r.startInst(in)
	}
	r.mu.Unlock()
	<-ctx.Done()
	r.reloadMu.Lock() // a reload under way ends first
	defer r.reloadMu.Unlock()
	r.mu.Lock()
	insts := r.insts
	r.mu.Unlock()
	for _, in := range insts {
		<-in.done
	}
	r.trk.stop()
	r.closeSockets()
	if k, ok := r.o.Addrs.(*KernelAddrs); ok && r.ownAddrs {
		k.Close()
	}
	r.logs.flush()
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
	r.mu.Lock()
	defer r.mu.Unlock()
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

// read receives for the instances of one socket until it is closed, on
// its own VRRP thread (rt.go).
func (s *sock) read() {
	defer s.r.rtThread("vrrprx:" + s.key.dev)()
	buf := make([]byte, 65536)
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
		ms := s.snapshot()
		find := func(vrid uint8) *Wire {
			for _, m := range ms {
				if m.wire.VRID == vrid {
					return m.wire
				}
			}
			return nil
		}
		a, w, re := Receive(p, find)
		var in *inst
		for _, m := range ms {
			if m.wire == w {
				in = m.in
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
					name = in.status().Name
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
			w.OldChecksum = OldChecksumOn // this goroutine's Wire; the sender's is told below
		}
		if re == AdoptInterval {
			if now := time.Now(); now.Sub(lastAdopt) > time.Minute {
				lastAdopt = now
				in.logf("master %s advertises every %s, ours is %s: following the master's (VRRPv3)", p.Src, a.Interval, w.Interval)
			}
		}
		select {
		case in.rx <- rxAdvert{prio: a.Priority, src: p.Src.Unmap(), interval: a.Interval, oldChecksum: re == AdoptOldChecksum}:
			in.wk.wake()
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
