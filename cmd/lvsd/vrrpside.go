package main

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// vrrpWant is what a configuration asks of the VRRP side as a whole (its
// instances are the router's: vrrp.PlanReload): the router running, the
// IPVS sync daemon's settings, the FIFOs VRRP's lines go to and the
// real-time priority. Without vrrp_instance it asks for none of them, as
// keepalived runs no VRRP process then (vrrp_rt_priority and an
// instance's lvs_sync_daemon belong to that process), except an
// lvs_sync_daemon naming no instance: keepalived's checker then runs the
// master and the backup daemon all the time (checker_ipvs_syncd_needed).
type vrrpWant struct {
	router bool
	sync   *config.LVSSync // line numbers cleared
	fifos  string          // the VRRP FIFOs' paths, "" for none
	rt     int             // vrrp_rt_priority, 0 for none
}

func vrrpWants(c *config.Config) vrrpWant {
	if len(c.VRRP) == 0 {
		if c.LVSSync != nil && c.LVSSync.Instance == "" {
			return vrrpWant{sync: stripSync(c.LVSSync)}
		}
		return vrrpWant{}
	}
	return vrrpWant{router: true, sync: stripSync(c.LVSSync), fifos: vrrpFIFOPaths(&c.Global), rt: c.Global.VRRPRTPriority}
}

// sideStep is what a reload does to one part of the VRRP side.
type sideStep int

const (
	stepKeep   sideStep = iota // as it is
	stepStart                  // not running: started
	stepStop                   // running: stopped
	stepChange                 // running: changed in place (the router: its Reload)
)

func (s sideStep) String() string {
	return [...]string{"keep", "start", "stop", "change"}[s]
}

// vrrpSidePlan is a reload's decision for the VRRP side.
type vrrpSidePlan struct {
	Router, Sync, FIFO, RT sideStep
}

// planVRRPSide decides, from the running configuration and the new one,
// what a reload starts, stops or changes on the VRRP side, as
// keepalived's reload does: its parent starts the VRRP process when a
// file without VRRP gains it, and that process reopens the notify
// FIFOs, restarts the sync daemons whose settings changed and sets its
// scheduling again. Minus keepalived's bugs: a removed lvs_sync_daemon
// is stopped (keepalived leaves the kernel's daemons running), and a
// file whose vrrp_instances are all gone stops the router (each instance
// as on shutdown: priority 0, addresses removed), where keepalived's VRRP
// process runs on with nothing to do. Pure.
func planVRRPSide(old, next *config.Config) vrrpSidePlan {
	a, b := vrrpWants(old), vrrpWants(next)
	return vrrpSidePlan{
		Router: stepOf(a.router, b.router, true),
		Sync:   stepOf(a.sync != nil, b.sync != nil, !reflect.DeepEqual(a.sync, b.sync)),
		FIFO:   stepOf(a.fifos != "", b.fifos != "", a.fifos != b.fifos),
		RT:     rtStep(a, b),
	}
}

// rtStep: vrrp_rt_priority is the router's (its Run sets it): a router
// running before and after the reload takes a changed value in place,
// whatever the values mean (a priority, the default, off); a router
// stopped leaves normal scheduling behind; one started sets its own.
func rtStep(a, b vrrpWant) sideStep {
	switch {
	case a.router && b.router && a.rt != b.rt:
		return stepChange
	case a.router && !b.router && a.rt != 0:
		return stepStop
	case !a.router && b.router && b.rt != 0:
		return stepStart
	}
	return stepKeep
}

func stepOf(had, has, differ bool) sideStep {
	switch {
	case !had && has:
		return stepStart
	case had && !has:
		return stepStop
	case had && has && differ:
		return stepChange
	}
	return stepKeep
}

// vrrpFIFOPaths names the FIFOs that get VRRP's lines: notify_fifo and
// vrrp_notify_fifo.
func vrrpFIFOPaths(g *config.Global) string {
	var ps []string
	for _, p := range []string{g.NotifyFIFO, g.VRRPNotifyFIFO} {
		if p != "" && (len(ps) == 0 || ps[0] != p) {
			ps = append(ps, p)
		}
	}
	return strings.Join(ps, ", ")
}

// vrrpSide is lvsd's VRRP: the router, the IPVS sync daemon that follows
// it, and the FIFOs its lines go to, each started, stopped or changed by
// a reload as planVRRPSide decides. Reloads are serialised by the
// daemon; the status, the metrics and the router's callbacks read the
// parts running now.
type vrrpSide struct {
	logf func(string, ...any)
	mail atomic.Pointer[vrrpMail] // nil: no VRRP mails

	// rmu: one reload at a time, none once closed; it is held while a
	// reload works, mu only to read or set the fields (lvsd status and
	// the metrics never wait for a reload)
	rmu    sync.Mutex
	closed bool            // under rmu
	ctx    context.Context // the daemon's (under rmu): a router started by a reload runs under it
	stopR  func()          // (under rmu) stops r and waits for its Run
	mu     sync.Mutex
	r      *vrrp.Router // under mu
	sd     atomic.Pointer[syncDaemon]
	fifo   atomic.Pointer[notifyFIFO]
}

// newVRRPSide opens the VRRP side of the starting configuration: the
// router (its errors, an interface that does not exist, come before
// anything is sent), VRRP's FIFOs (fifo, opened by the caller: the side
// closes them), its mails and the sync daemon. Nothing runs before run.
// Without vrrp_instance it has only an lvs_sync_daemon naming no
// instance, if any: a reload may start the rest.
func newVRRPSide(cfg *config.Config, fifo *notifyFIFO, logf func(string, ...any)) (*vrrpSide, error) {
	s := &vrrpSide{logf: logf}
	if len(cfg.VRRP) == 0 {
		if vrrpWants(cfg).sync != nil {
			s.startSync(cfg, vrrp.Backup)
		}
		return s, nil
	}
	s.startMail(cfg)
	r, err := s.newRouter(cfg)
	if err != nil {
		s.closeMail()
		return nil, err
	}
	s.r = r
	s.fifo.Store(fifo)
	s.startSync(cfg, vrrp.Backup)
	return s, nil
}

// startMail starts VRRP's mailer (smtp_alert) if there is none yet and
// cfg has VRRP; one there takes cfg's settings (a reload starting VRRP
// again).
func (s *vrrpSide) startMail(cfg *config.Config) {
	if m := s.mail.Load(); m != nil {
		m.set(cfg)
		return
	}
	if m := newVRRPMail(cfg, s.logf); m != nil {
		go m.a.run(context.Background())
		s.mail.Store(m)
	}
}

// closeMail sends out the mails queued (the stop's), within a bound.
func (s *vrrpSide) closeMail() {
	if m := s.mail.Load(); m != nil {
		m.a.drain(10 * time.Second)
	}
}

// newRouter makes a router whose callbacks go to the side's FIFO, sync
// daemon and mails of the moment.
func (s *vrrpSide) newRouter(cfg *config.Config) (*vrrp.Router, error) {
	o := vrrp.Options{Logf: s.logf, RTPriority: cfg.Global.VRRPRTPriority}
	o.FIFO = func(line string) {
		if f := s.fifo.Load(); f != nil {
			f.write(line)
		}
	}
	o.OnRole = func(instance string, r vrrp.Role) {
		if sd := s.sd.Load(); sd != nil {
			sd.onRole(instance, r)
		}
		if m := s.mail.Load(); m != nil {
			m.onRole(instance, r)
		}
	}
	o.OnGroup = func(group string, r vrrp.Role) {
		if m := s.mail.Load(); m != nil {
			m.onGroup(group, r)
		}
	}
	o.OnReload = func(next *config.Config) { // the mails' settings, at the reload
		if m := s.mail.Load(); m != nil {
			m.set(next)
		}
	}
	o.OnRemove = func(instance string) {
		if m := s.mail.Load(); m != nil {
			m.removed(instance)
		}
	}
	return vrrp.New(cfg, o)
}

// startSync starts lvs_sync_daemon's daemons (if configured) in the role
// of the instance it follows (role: that instance's now).
func (s *vrrpSide) startSync(cfg *config.Config, role vrrp.Role) {
	if cfg.LVSSync == nil {
		return
	}
	sd := newSyncDaemon(cfg.LVSSync, kernelSync{}, s.logf)
	sd.start(role)
	s.sd.Store(sd)
}

// run starts the router (if any) under ctx, and any a reload starts
// later. It returns at once.
func (s *vrrpSide) run(ctx context.Context) {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	s.ctx = ctx
	if r := s.router(); r != nil {
		s.runRouter(r)
	}
}

// runRouter runs r until the daemon stops or a reload stops it (s.rmu
// held).
func (s *vrrpSide) runRouter(r *vrrp.Router) {
	vrrp.HoldGC(s.logf) // the collector's stops delay the VRRP threads (lib/vrrp/gc.go)
	ctx, cancel := context.WithCancel(s.ctx)
	done := make(chan struct{})
	go func() { r.Run(ctx); close(done) }()
	s.stopR = func() { cancel(); <-done }
	s.mu.Lock()
	s.r = r
	s.mu.Unlock()
}

// stopRouter stops the router as on shutdown (s.rmu held).
func (s *vrrpSide) stopRouter() {
	if s.stopR == nil {
		return
	}
	s.stopR()
	s.stopR = nil
	s.mu.Lock()
	s.r = nil
	s.mu.Unlock()
}

// router is the router running, nil for none.
func (s *vrrpSide) router() *vrrp.Router {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.r
}

func (s *vrrpSide) syncd() *syncDaemon {
	if s == nil {
		return nil
	}
	return s.sd.Load()
}

// view is the VRRP part of lvsd status, nil without a router or sync
// daemon (without a router: the sync daemons only).
func (s *vrrpSide) view() *vrrpJSON {
	r := s.router()
	if r == nil {
		if sd := s.syncd(); sd != nil {
			return &vrrpJSON{Instances: []vrrp.InstanceStatus{}, SyncDaemons: sd.status()}
		}
		return nil
	}
	v := vrrpView(r.Status(), s.syncd())
	return &v
}

// close stops the router (each master: priority 0, addresses removed,
// notify_stop, their FIFO lines), then the sync daemons, then closes the
// FIFOs and sends the mails queued (the stop's).
func (s *vrrpSide) close() {
	s.rmu.Lock()
	defer s.rmu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	s.stopRouter()
	s.sd.Load().close()
	s.fifo.Load().close()
	s.closeMail()
}

// role is the role now of the instance lvs_sync_daemon follows (BACKUP
// when it is new or not found: the sync daemon then follows its moves).
func roleOf(r *vrrp.Router, instance string) vrrp.Role {
	if r == nil {
		return vrrp.Backup
	}
	for _, in := range r.Status().Instances {
		if in.Name == instance && in.State == vrrp.Master.String() {
			return vrrp.Master
		}
	}
	return vrrp.Backup
}

// reload applies the VRRP part of a reloaded configuration, as
// planVRRPSide decides, and the router's own Reload for its instances
// (unchanged ones untouched, changed ones in place, removed ones
// stopped, new ones started). What can fail (a FIFO, an interface that
// does not exist, a socket) comes first: its errors refuse the whole
// reload with nothing changed. nil: applied.
func (s *vrrpSide) reload(old, next *config.Config) []string {
	p := planVRRPSide(old, next)
	s.rmu.Lock()
	defer s.rmu.Unlock()
	r := s.router()
	if s.closed || s.ctx == nil {
		return []string{"VRRP is starting or stopping: not reloaded"}
	}
	fail := func(err error) []string { return strings.Split(err.Error(), "\n") }
	var nextFIFO *notifyFIFO
	if p.FIFO == stepStart || p.FIFO == stepChange {
		var err error
		if nextFIFO, err = openVRRPFIFOs(&next.Global); err != nil {
			return []string{fmt.Sprintf("%s: %v", next.Source, err)}
		}
	}
	swapFIFO := func() {
		if p.FIFO == stepKeep {
			return
		}
		s.fifo.Swap(nextFIFO.takeOver(s.fifo.Load())).close()
		s.logf("lvsd run: VRRP's notify FIFO now %s (was %s)", orNone(vrrpWants(next).fifos), orNone(vrrpWants(old).fifos))
	}
	started := false
	switch p.Router {
	case stepStart:
		s.startMail(next)
		nr, err := s.newRouter(next)
		if err != nil {
			nextFIFO.discard()
			return fail(err)
		}
		swapFIFO() // before it runs: its first lines go to the new FIFOs
		s.runRouter(nr)
		r, started = nr, true
		s.logf("lvsd run: vrrp_instance blocks in %s: VRRP started (%d instance(s))", next.Source, len(next.VRRP))
	case stepChange:
		lines, err := r.Reload(next)
		if err != nil {
			nextFIFO.discard()
			return fail(err)
		}
		for _, l := range lines {
			s.logf("%s", l)
		}
	case stepStop:
		s.stopRouter()
		if p.RT != stepKeep {
			r.SetRTPriority(0) // the threads back at normal scheduling
		}
		r = nil
		s.logf("lvsd run: no vrrp_instance left in %s: VRRP stopped", next.Source)
	}
	if !started {
		swapFIFO() // after a stop: its STOP lines went to the old FIFOs
	}
	// the sync daemons after the router: one that follows a new
	// instance takes its role now (onRole changes only what differs)
	switch p.Sync {
	case stepStart:
		s.startSync(next, roleOf(r, next.LVSSync.Instance))
		// a move between the role read and the store above went
		// nowhere: the role now again (onRole changes only what differs)
		s.sd.Load().onRole(next.LVSSync.Instance, roleOf(r, next.LVSSync.Instance))
		s.logf("lvsd run: lvs_sync_daemon added in %s: the sync daemons started", next.Source)
	case stepStop:
		s.sd.Swap(nil).close()
		s.logf("lvsd run: lvs_sync_daemon removed from %s: the sync daemons stopped", next.Source)
	case stepChange:
		s.logf("lvsd run: lvs_sync_daemon changed in %s: the sync daemons restart with it", next.Source)
		s.sd.Load().reload(next.LVSSync, roleOf(r, next.LVSSync.Instance))
	}
	if p.RT != stepKeep && r != nil && !started { // a new router's Run sets its own
		r.SetRTPriority(vrrpWants(next).rt)
	}
	return nil
}
