// Package engine runs a director: one goroutine owns its state (the
// configuration, the health of every real, what the kernel holds, what is
// draining) and selects over batched check events, reloads, a resync tick,
// status requests and stop. Each change asks lib/director for the desired
// table and lib/ipvs for the operations, then writes them. The resync tick
// re-reads the kernel and repairs drift (an entry deleted or edited by
// hand is put back, and the repair is reported). google/seesaw's vserver
// loop is the model.
//
// The dry run is the same engine over an ipvs.Mem kernel.
package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// Options wire an Engine to the world. Kernel is required.
type Options struct {
	Kernel ipvs.Kernel
	// Owned are the services a previous run of this configuration owned
	// (the state file): those no longer configured are drained and removed.
	Owned []ipvs.Key
	// SaveOwned is called with the owned services whenever they change.
	SaveOwned func([]ipvs.Key) error
	// DrainTimeout: a real or virtual removed from the configuration stays
	// at weight 0 until its active connections end, at most this long.
	// 0 deletes at once (ldirectord).
	DrainTimeout time.Duration
	// Resync is how often the kernel table is re-read and repaired. 0: the
	// configuration's checkinterval, lengthened when one read is costly.
	Resync time.Duration
	// Probe runs one check (default check.Run); MaxConcurrent bounds them.
	Probe         func(context.Context, *check.Spec) check.Result
	MaxConcurrent int
	// Observe, when set, is told of every probe's result (metrics, -d)
	// from the goroutine that ran it; unlike a Probe wrapper it keeps the
	// hot checks on the poller.
	Observe func(*check.Spec, check.Result)
	// Lookup names a real's host for maintenancedir (nil: addresses only).
	Lookup func(netip.Addr) string
	// Command runs fallbackcommand / quorum_up / quorum_down lines, one at
	// a time in the order decided, off the engine's goroutine (default: sh
	// -c, output discarded).
	Command func(line string)
	// Report receives every event, in order, from the engine's goroutine.
	Report func(Report)
	// Heartbeat, when set, is called from the engine's own loop every
	// HeartbeatEvery: a systemd watchdog fed from there restarts a stuck
	// loop, not just a dead process.
	Heartbeat      func()
	HeartbeatEvery time.Duration
	// Flush, when set, is called from the engine's goroutine once the
	// reports of what it just handled are all made (before a reload or
	// ctl request is answered): a Report that buffers its lines writes
	// them out then, one write for a pass of 11,000 writes instead of one
	// each.
	Flush func()
	// Overrides are the operator's (lvsd ctl) in force at start, as saved
	// by a previous run; SaveOverrides keeps them whenever they change (a
	// change it cannot save is refused).
	Overrides     director.Overrides
	SaveOverrides func(director.Overrides) error
	// Debug, when set (lvsd run -d), gets the engine's decisions as lines:
	// each table read, each plan and what it decided, each real's
	// re-decision. Nil costs nothing: no line is formatted.
	Debug func(format string, a ...any)
}

// Kind of a Report.
type Kind int

const (
	Started     Kind = iota // the first pass is done (Msg: summary)
	Health                  // a real changed state (Check)
	Wrote                   // one IPVS write made (Op, Note)
	WriteFailed             // the kernel refused a write (Op, Err); retried
	Repaired                // a write that repairs drift found in the kernel (Op, Note)
	Fallback                // a virtual's fallback went on or off (Virtual, On)
	Command                 // a command was started (Msg)
	Reloaded                // a new configuration is running (Msg)
	DrainStart              // an entry removed from the configuration drains (Op: its key)
	ReadFailed              // reading the kernel table failed (Err)
	Stopped                 // the engine stopped (Msg)
	Overridden              // an operator's override was set or removed (Msg)
	Quorum                  // a virtual's quorum verdict changed, or its first one (Virtual, On: held; see quorumNotice)
	Removed                 // a reload took out a real that was up (Virtual, Real: the old configuration's)
)

// Report is one thing the engine did or saw.
type Report struct {
	Time    time.Time
	Kind    Kind
	Check   *check.Event
	Op      ipvs.Op
	Note    director.Note
	Virtual *config.Virtual
	On      bool
	Err     error
	Msg     string
	// Quorum: the weight of the reals up, and whether the verdict is
	// made by a start or reload pass (keepalived's "Starting with quorum
	// up/down": its init_service_vs decides at each start and reload).
	// Removed: the real (Virtual, Real) a reload took out while it was
	// up, or (Real nil) the virtual a reload took out.
	Weight int
	First  bool
	Held   bool // Quorum: held before this verdict
	Real   *config.Real
}

// Engine is one running director.
type Engine struct {
	opt Options

	reload chan reloadReq
	status chan chan Status
	ctl    chan ctlReq
	ready  chan struct{}

	// Owned by Run's goroutine only.
	cfg       *config.Config
	loaded    time.Time
	checks    *check.Engine
	events    <-chan check.Event
	health    director.HealthMap
	weights   map[config.RealID]int // from weighted checks (misc_dynamic, FILE_CHECK)
	believed  *ipvs.Mem             // what the kernel holds, as last read or written
	desired   *director.Desired
	prev      *director.Desired // the table before the last pass: why a deleted entry was there
	owned     map[ipvs.Key]bool
	quorum    map[string]bool
	fallback  map[string]bool
	drains    map[drainRef]drain // removed entries: their deadline, the read that may end them
	touched   map[string]bool    // virtuals to decide again at the next health pass
	changed   []config.RealID    // reals whose health changed since the last pass (passReals)
	realsOf   *config.Config     // the configuration reals indexes
	reals     map[config.RealID]*config.Real
	byVirtual map[string]int // virtual key -> index in desired.Virtuals
	dirty     bool           // a write failed: read the kernel before the next plan
	starting  bool
	resync    time.Duration
	readCost  time.Duration
	counts    Counts
	lastStart time.Time
	cmds      *commands
	overrides director.Overrides
	lastCheck map[config.RealID]CheckInfo // the result that made each real's current state
	nchecks   int                         // checks given to the check engine

	prevReadCost time.Duration // the read before the last (resyncPeriod)

	// The resync's table read runs off the loop (startRead), so that a
	// verdict or a reload arriving meanwhile is handled at once, not
	// after a dump of 10,000 reals. What the loop writes while it runs is
	// noted: the read may have dumped those services before or after each
	// write, so they are taken as the loop holds them (freshest).
	reads      chan readResult
	reading    bool              // a read runs
	readSeq    uint64            // the running read counts only while this is its number
	written    map[ipvs.Key]bool // services written while the read runs
	failedRead bool              // a write failed while the read runs
}

// readResult is a table read made off the engine's goroutine.
type readResult struct {
	seq  uint64
	svcs []ipvs.Service
	err  error
	cost time.Duration
}

// CheckInfo is the check result that made a real's current state: its
// reason and latency, and when (since when the real is in that state).
type CheckInfo struct {
	Reason  string
	Latency time.Duration
	Since   time.Time
}

// Counts are the engine's totals since it started.
type Counts struct {
	Reads, Writes, WriteErrors, Repairs, Reloads, ReloadErrors int
}

type ctlReq struct {
	o    director.Override
	done chan ctlAnswer
}

type ctlAnswer struct {
	msg string
	err error
}

type reloadReq struct {
	cfg  *config.Config
	done chan error
}

// drain is one draining entry: deleted at until, or once a table read
// shows its connections ended; only a read started after it began
// (number above after) tells: one started before it, running off the
// loop, holds the connections of an older moment.
type drain struct {
	until time.Time
	after uint64
}

// drainRef is a draining destination, or (whole) a draining service.
type drainRef struct {
	svc   ipvs.Key
	dest  ipvs.DestKey
	whole bool
}

// New makes an engine for cfg. Run starts it.
func New(cfg *config.Config, opt Options) *Engine {
	return &Engine{opt: opt, cfg: cfg, reload: make(chan reloadReq), status: make(chan chan Status), ctl: make(chan ctlReq), ready: make(chan struct{}),
		reads:     make(chan readResult, 1),
		overrides: opt.Overrides,
		cmds:      newCommands(opt.Command),
		checks:    check.New(check.Options{MaxConcurrent: opt.MaxConcurrent, MaintenanceDir: cfg.Global.MaintenanceDir, Probe: opt.Probe, Observe: opt.Observe})}
}

// ChecksInFlight is the number of checks running now (any goroutine).
func (e *Engine) ChecksInFlight() int { return e.checks.InFlight() }

// CheckRuns is the number of probes completed so far (any goroutine).
func (e *Engine) CheckRuns() uint64 { return e.checks.Runs() }

// Ready is closed once the first full pass is done: the kernel read, the
// table adopted and every write of the start made.
func (e *Engine) Ready() <-chan struct{} { return e.ready }

// Reload replaces the running configuration (already read and valid).
// It returns once the new configuration's first pass is done.
func (e *Engine) Reload(ctx context.Context, cfg *config.Config) error {
	r := reloadReq{cfg: cfg, done: make(chan error, 1)}
	select {
	case e.reload <- r:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Status asks the engine for a snapshot of its state.
func (e *Engine) Status(ctx context.Context) (Status, error) {
	ch := make(chan Status, 1)
	select {
	case e.status <- ch:
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
	select {
	case s := <-ch:
		return s, nil
	case <-ctx.Done():
		return Status{}, ctx.Err()
	}
}

// Override sets (or with Enable removes) an operator's override, as lvsd
// ctl asks: checked against the running configuration (an unknown real
// or virtual is an error naming those that exist, and changes nothing),
// saved, then applied by a pass. msg says what changed.
func (e *Engine) Override(ctx context.Context, o director.Override) (msg string, err error) {
	r := ctlReq{o: o, done: make(chan ctlAnswer, 1)}
	select {
	case e.ctl <- r:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	select {
	case a := <-r.done:
		return a.msg, a.err
	case <-ctx.Done():
		return "", ctx.Err()
	}
}

func (e *Engine) onOverride(o director.Override) (string, error) {
	o, err := director.Resolve(e.cfg, o)
	if err != nil {
		return "", err
	}
	next := e.overrides.With(o)
	if slices.Equal(next, e.overrides) {
		return "nothing to change: " + o.String() + " is already so", nil
	}
	if e.opt.SaveOverrides != nil {
		if err := e.opt.SaveOverrides(next); err != nil {
			return "", fmt.Errorf("not applied: saving the overrides: %w", err)
		}
	}
	e.overrides = next
	msg := o.String()
	if o.Action == director.Enable {
		msg = fmt.Sprintf("%s: its overrides removed", msg)
	}
	e.report(Report{Kind: Overridden, Msg: msg})
	for _, v := range e.cfg.Virtuals {
		for _, r := range v.Reals {
			if o.Matches(v, r) {
				e.touched[v.Key()] = true
			}
		}
	}
	e.passHealth()
	if e.dirty {
		return msg, errors.New("set, but the kernel refused some writes (retried)")
	}
	return msg, nil
}

func (e *Engine) report(r Report) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	if e.opt.Report != nil {
		e.opt.Report(r)
	}
}

// Run drives the director until ctx ends, then stops it as the
// configuration says (cleanstop). The error is a start failure (the kernel
// could not be read).
func (e *Engine) Run(ctx context.Context) error {
	if err := e.begin(); err != nil {
		return err
	}
	checkCtx, stopChecks := context.WithCancel(context.Background())
	e.initFiles(false)
	subs := check.FromConfig(e.cfg, e.lookup())
	e.nchecks = len(subs)
	e.checks.Set(subs)
	e.startUp(subs)
	e.events = e.checks.Events()
	checksDone := make(chan struct{})
	go func() { e.checks.Run(checkCtx); close(checksDone) }()
	defer func() {
		t0 := time.Now()
		stopChecks()
		<-checksDone
		if e.opt.Debug != nil {
			e.opt.Debug("stop: the checks in flight ended in %s", ms(time.Since(t0)))
		}
	}()

	e.startDrains(e.believedServices())
	w0 := e.writeTimes()
	e.starting = true
	e.pass(false)
	e.starting = false
	msg := fmt.Sprintf("%d virtual services, %d real checks (%d distinct probes) from %s; kernel read in %s, resync every %s",
		len(e.cfg.Virtuals), len(subs), e.checks.Jobs(), e.cfg.Source, e.readCost.Round(time.Microsecond), e.resync)
	if w := e.writeTimes().Sub(w0); w.Ops > 0 {
		msg += "; " + w.String()
	}
	e.report(Report{Kind: Started, Msg: msg})
	e.flush()
	close(e.ready)
	err := e.loop(ctx)
	defer e.flush()
	// the commands decided (a fallback stop at cleanstop, say) run before
	// the daemon exits, within a bound
	if !e.cmds.wait(commandsAtExit) {
		e.report(Report{Kind: Command, Msg: fmt.Sprintf("commands still running after %s at exit: not waited for", commandsAtExit)})
	}
	return err
}

const commandsAtExit = 10 * time.Second

// begin sets up the state and reads the kernel table.
func (e *Engine) begin() error {
	e.health = director.HealthMap{}
	e.weights = map[config.RealID]int{}
	e.lastCheck = map[config.RealID]CheckInfo{}
	e.believed = ipvs.NewMem(nil)
	e.owned = map[ipvs.Key]bool{}
	e.quorum = map[string]bool{}
	e.fallback = map[string]bool{}
	e.drains = map[drainRef]drain{}
	e.touched = map[string]bool{}
	for _, k := range e.opt.Owned {
		e.owned[k] = true
	}
	if err := e.read(); err != nil {
		return err
	}
	e.loaded = time.Now()
	e.lastStart = e.loaded
	e.resync = e.resyncPeriod()
	return nil
}

// loop is the engine's select, until ctx ends.
func (e *Engine) loop(ctx context.Context) error {
	tick := time.NewTicker(e.resync)
	defer tick.Stop()
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	var beat <-chan time.Time
	if e.opt.Heartbeat != nil && e.opt.HeartbeatEvery > 0 {
		t := time.NewTicker(e.opt.HeartbeatEvery)
		defer t.Stop()
		beat = t.C
		e.opt.Heartbeat()
	}
	for {
		select {
		case <-beat:
			e.opt.Heartbeat()
		case <-ctx.Done():
			t0 := time.Now()
			if e.reading { // nothing of the engine outlives Run
				<-e.reads
				e.reading = false
			}
			e.stop(t0)
			e.flush()
			return nil
		case ev, ok := <-e.events:
			if !ok {
				e.events = nil
				continue
			}
			e.onHealth(ev)
			e.drainEvents()
			e.passHealth()
		case r := <-e.reload:
			err := e.onReload(r.cfg)
			e.flush()
			r.done <- err
			if e.resync != e.resyncPeriod() {
				e.resync = e.resyncPeriod()
				tick.Reset(e.resync)
			}
		case <-tick.C:
			e.startRead()
		case r := <-e.reads:
			e.onRead(r)
			// the period follows what a table read costs now (the read
			// at start may have been of an empty kernel)
			if p := e.resyncPeriod(); p != e.resync {
				e.resync = p
				tick.Reset(p)
			}
		case <-retry.C:
			e.startRead()
		case ch := <-e.status:
			ch <- e.snapshot()
		case r := <-e.ctl:
			msg, err := e.onOverride(r.o)
			e.flush()
			r.done <- ctlAnswer{msg, err}
		}
		e.flush()
		if e.dirty {
			retry.Reset(time.Second) // a refused write is retried, from a fresh read
		}
	}
}

// writeTimes is the kernel's batched-write totals (zero when it keeps
// none: ipvs.Mem), for the start's report.
func (e *Engine) writeTimes() ipvs.WriteTimes {
	if t, ok := e.opt.Kernel.(interface{ WriteTimes() ipvs.WriteTimes }); ok {
		return t.WriteTimes()
	}
	return ipvs.WriteTimes{}
}

func (e *Engine) flush() {
	if e.opt.Flush != nil {
		e.opt.Flush()
	}
}

func (e *Engine) lookup() func(netip.Addr) string {
	if e.cfg.Global.MaintenanceDir == "" {
		return nil
	}
	return e.opt.Lookup
}

// resyncPeriod is checkinterval (ldirectord reads the table every cycle),
// or 50 times the cost of one table read when that is longer, so that
// re-reading the table costs at most 2% of the time. The cost is the
// lesser of the last two reads: a table that grew lengthens the period,
// one read slowed by a busy machine does not (a drain waits for a read
// to see its connections end).
func (e *Engine) resyncPeriod() time.Duration {
	if e.opt.Resync > 0 {
		return e.opt.Resync
	}
	p := e.cfg.Global.CheckInterval
	if p <= 0 {
		p = 10 * time.Second
	}
	cost := e.readCost
	if e.prevReadCost > 0 {
		cost = min(cost, e.prevReadCost)
	}
	return max(p, 50*cost)
}

func (e *Engine) onHealth(ev check.Event) {
	st := director.Down
	switch ev.To {
	case check.Up:
		st = director.Up
	case check.Unknown:
		st = director.Unknown
	}
	e.health[ev.Sub.ID] = st
	if ev.Weighted {
		e.weights[ev.Sub.ID] = ev.Weight
	}
	e.lastCheck[ev.Sub.ID] = CheckInfo{Reason: ev.Reason, Latency: ev.Latency, Since: ev.Time}
	e.changed = append(e.changed, ev.Sub.ID)
	e.report(Report{Time: ev.Time, Kind: Health, Check: &ev})
	// keepalived's notify_up / notify_down: on the check's verdict; a real
	// never up (alpha, at start) going down is no transition
	if p, ok := ev.Sub.Data.(check.Pair); ok && p.R != nil {
		switch {
		case ev.To == check.Up && ev.From != check.Up && p.R.NotifyUp != "":
			e.command(p.R.NotifyUp)
		case ev.To == check.Down && ev.From == check.Up && p.R.NotifyDown != "":
			e.command(p.R.NotifyDown)
		}
	}
}

// initFiles writes FILE_CHECK's init_file values (keepalived's
// track_file init_file), before the files are first read.
func (e *Engine) initFiles(reload bool) {
	for _, err := range check.InitFiles(e.cfg, reload) {
		e.report(Report{Kind: Command, Err: err, Msg: err.Error()})
	}
}

// startUp counts as up the reals whose checks start up (keepalived
// without alpha) and that have no verdict yet.
func (e *Engine) startUp(subs []check.Sub) {
	for _, s := range subs {
		if _, ok := e.health[s.ID]; !ok && s.StartUp {
			e.health[s.ID] = director.Up
		}
	}
	// weighted checks know their state and weight from the start (the
	// files are read): what the engine has for them, not a guess
	for id, w := range e.checks.Weighted() {
		e.health[id] = [...]director.Status{check.Unknown: director.Unknown, check.Up: director.Up, check.Down: director.Down}[w.State]
		if w.State == check.Unknown {
			delete(e.health, id)
		}
		e.weights[id] = w.Weight
	}
}

// drainEvents takes every check event already waiting, so that a burst
// (a switch dying with 1,000 reals behind it) is one table computation.
func (e *Engine) drainEvents() {
	for i := 0; i < 4096; i++ {
		select {
		case ev, ok := <-e.events:
			if !ok {
				e.events = nil
				return
			}
			e.onHealth(ev)
		default:
			return
		}
	}
}

// read replaces what the engine believes the kernel holds with the kernel's
// own table, read here, on the loop (the start, the stop, a pass after a
// refused write). A read running off the loop no longer counts.
func (e *Engine) read() error {
	e.readSeq++
	t0 := time.Now()
	actual, err := e.opt.Kernel.Services()
	if err != nil {
		return err
	}
	e.adopt(actual, time.Since(t0))
	return nil
}

// adopt takes a table read as what the kernel holds.
func (e *Engine) adopt(actual []ipvs.Service, cost time.Duration) {
	e.prevReadCost, e.readCost = e.readCost, cost
	e.counts.Reads++
	if e.opt.Debug != nil {
		n := 0
		for _, s := range actual {
			n += len(s.Dests)
		}
		e.opt.Debug("table read: %d services, %d destinations in %s", len(actual), n, e.readCost.Round(time.Microsecond))
	}
	e.believed.Set(actual)
	e.dirty = false
}

// startRead starts the resync's table read on a goroutine of its own
// (one at a time); onRead takes its result on the loop.
func (e *Engine) startRead() {
	if e.reading {
		return
	}
	seq, k := e.readStarted(), e.opt.Kernel
	go func() {
		t0 := time.Now()
		svcs, err := k.Services()
		e.reads <- readResult{seq: seq, svcs: svcs, err: err, cost: time.Since(t0)}
	}()
}

// readStarted notes a read starting off the loop, and numbers it.
func (e *Engine) readStarted() uint64 {
	e.reading = true
	e.readSeq++
	e.written, e.failedRead = map[ipvs.Key]bool{}, false
	return e.readSeq
}

// onRead is a resync's table read, back on the loop: compared with what
// the engine holds, the services it wrote while the read ran taken as it
// holds them (fresher), and drift, if any, repaired as pass(true) does.
func (e *Engine) onRead(r readResult) {
	e.reading = false
	written, failed := e.written, e.failedRead
	e.written, e.failedRead = nil, false
	if r.seq != e.readSeq {
		return // the loop read the table itself since: this one is older
	}
	if r.err != nil {
		e.report(Report{Kind: ReadFailed, Err: r.err})
		e.dirty = true
		return
	}
	quiet := !e.dirty && len(e.drains) == 0 && e.desired != nil && !e.starting
	before := e.believedServices()
	e.adopt(fresher(r.svcs, before, written), r.cost)
	if failed {
		// what the kernel holds of the refused write's service is known
		// neither from the read nor from the loop: the retry reads again
		e.dirty = true
		return
	}
	if e.settle(before, r.seq) && quiet {
		if e.opt.Debug != nil {
			e.opt.Debug("resync: the kernel holds what was last written: nothing to decide")
		}
		return
	}
	e.decide(true)
}

// fresher is a table read made while the engine wrote: the services in
// written (written during the read) as held (the engine's record, which
// has every write the kernel took), the others as read. A read older
// than a write must not undo it, nor report it as drift. The counters
// (connections, for the drains) are the read's wherever it has the
// entry: held's are those of an older read.
func fresher(read, held []ipvs.Service, written map[ipvs.Key]bool) []ipvs.Service {
	if len(written) == 0 {
		return read
	}
	out := make([]ipvs.Service, 0, len(read))
	was := map[ipvs.Key]*ipvs.Service{}
	for i := range read {
		s := &read[i]
		if !written[s.Key()] {
			out = append(out, *s)
		} else {
			was[s.Key()] = s
		}
	}
	for _, s := range held {
		if !written[s.Key()] {
			continue
		}
		if r := was[s.Key()]; r != nil {
			s.Stats = r.Stats
			rd := make(map[ipvs.DestKey]*ipvs.Dest, len(r.Dests))
			for i := range r.Dests {
				rd[r.Dests[i].Key()] = &r.Dests[i]
			}
			s.Dests = slices.Clone(s.Dests)
			for i := range s.Dests {
				d := &s.Dests[i]
				if x := rd[d.Key()]; x != nil {
					d.Active, d.Inactive, d.Stats = x.Active, x.Inactive, x.Stats
				}
			}
		}
		out = append(out, s)
	}
	return out
}

// settle follows table read number seq (before: what the engine held
// until then): the drains whose connections ended stop. It says whether the kernel
// held what was last written.
func (e *Engine) settle(before []ipvs.Service, seq uint64) (same bool) {
	e.expireDrains(seq)
	return ipvs.SameEntries(before, e.believedServices())
}

func (e *Engine) believedServices() []ipvs.Service {
	s, _ := e.believed.Services()
	return s
}

// pass computes the desired table and writes the difference. With fromKernel,
// the kernel is read first and what differs from what was last written is
// drift: its writes are reported as repairs.
func (e *Engine) pass(fromKernel bool) {
	if fromKernel || e.dirty {
		// a resync that finds the kernel as last read or written, with
		// nothing draining and no write refused, has nothing to decide:
		// between check events the decision does not change. Deciding
		// and planning the whole table anyway was most of a resync's
		// cost (1 x 1,000 reals: 6.7 ms on the host, every second)
		quiet := fromKernel && !e.dirty && len(e.drains) == 0 && e.desired != nil && !e.starting
		before := e.believedServices()
		if err := e.read(); err != nil {
			e.report(Report{Kind: ReadFailed, Err: err})
			e.dirty = true
			return
		}
		same := e.settle(before, e.readSeq)
		if quiet && same {
			if e.opt.Debug != nil {
				e.opt.Debug("resync: the kernel holds what was last written: nothing to decide")
			}
			return
		}
		if !fromKernel {
			fromKernel = !same
		}
	}
	e.decide(fromKernel)
}

// decide computes the whole desired table from what the engine holds and
// writes the difference; repair: the writes are reported as repairs.
func (e *Engine) decide(fromKernel bool) {
	current := e.believedServices()
	d := director.Table(e.cfg, director.Input{Health: e.health, Current: current, QuorumHeld: e.quorum,
		Draining: e.drainingServices(current), ReaddQuiescent: e.cfg.Global.ReaddQuiescent, Starting: e.starting,
		Overrides: e.overrides, Weights: e.weights})
	e.prev, e.desired = e.desired, d
	e.byVirtual = make(map[string]int, len(d.Virtuals))
	for i, st := range d.Virtuals {
		e.byVirtual[st.Virtual.Key()] = i
	}
	owned := d.Owned()
	planOwned := append(slices.Clone(owned), keys(e.owned)...)
	ops, err := ipvs.Plan(d.Services, current, planOwned)
	if err != nil {
		e.report(Report{Kind: WriteFailed, Err: err})
		return
	}
	if e.opt.Debug != nil {
		why := "after a refused write"
		switch {
		case e.starting:
			why = "start or reload"
		case fromKernel:
			why = "resync: the kernel read again"
		}
		e.debugPlan("full pass ("+why+")", d.Virtuals, ops)
	}
	e.touched = map[string]bool{}
	e.changed = e.changed[:0]
	e.write(ops, fromKernel)
	e.transitions(d.Virtuals)
	newOwned := map[ipvs.Key]bool{}
	for _, k := range owned {
		newOwned[k] = true
	}
	if !e.dirty {
		e.setOwned(newOwned)
	}
}

// debugPlan is one plan as debug lines: how many virtuals it decided
// and, per virtual, reals up and the operations (the writes themselves
// are reported one by one as they are made).
func (e *Engine) debugPlan(what string, vs []director.VirtualState, ops []ipvs.Op) {
	e.opt.Debug("plan, %s: %d virtuals decided, %d operations", what, len(vs), len(ops))
	per := map[ipvs.Key]int{}
	for _, op := range ops {
		per[op.Service.Key()]++
	}
	for _, v := range vs {
		if n := per[v.Key]; n > 0 || len(vs) <= 16 {
			e.opt.Debug("plan: %s: %d up (weight %d), quorum %v, fallback %v, %d left out, %d operations",
				v.Virtual.Key(), v.Up, v.UpWeight, v.Quorum, v.Fallback, len(v.Out), n)
		}
	}
}

func keys(m map[ipvs.Key]bool) []ipvs.Key {
	out := make([]ipvs.Key, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// write makes each op, in order (many at once in batches, when the kernel
// has them: a start or reload of 10,000 reals); a refused op is reported
// and retried on the next pass (the engine re-reads the kernel then).
func (e *Engine) write(ops []ipvs.Op, repair bool) {
	for i, err := range ipvs.ApplyOps(e.opt.Kernel, ops) {
		if err == ipvs.ErrNotSent {
			continue // a real of a refused service: that refusal is reported
		}
		op := ops[i]
		note, ok := e.desired.Note(op.Service.Key(), op.Dest.Key())
		if !ok && e.prev != nil {
			note, _ = e.prev.Note(op.Service.Key(), op.Dest.Key())
		}
		e.wrote(op, note, repair, err)
	}
}

// writeOp makes one op and reports it; false when the kernel refused it.
func (e *Engine) writeOp(op ipvs.Op, note director.Note, repair bool) bool {
	return e.wrote(op, note, repair, e.opt.Kernel.Apply(op))
}

// wrote records and reports one op the kernel took (err nil) or refused.
func (e *Engine) wrote(op ipvs.Op, note director.Note, repair bool, err error) bool {
	if e.reading {
		e.written[op.Service.Key()] = true
		e.failedRead = e.failedRead || err != nil
	}
	if err != nil {
		e.counts.WriteErrors++
		e.dirty = true
		e.report(Report{Kind: WriteFailed, Op: op, Note: note, Err: err})
		return false
	}
	e.counts.Writes++
	if err := e.believed.Apply(op); err != nil {
		e.dirty = true // what we hold differs from the kernel: read it again
	}
	kind := Wrote
	if repair {
		kind = Repaired
		e.counts.Repairs++
	}
	e.report(Report{Kind: kind, Op: op, Note: note})
	return true
}

// passReals re-decides each real whose health changed on its own
// (director's UpdateReal) and writes its difference from the kernel: a
// check's verdict reaches its netlink write without the virtual being
// decided and planned again, so one real of 1,000 behind one virtual
// costs one real. A virtual UpdateReal declines (its quorum or fallback
// turns, a real configured twice, entries draining) is left in touched
// for the per-virtual pass.
func (e *Engine) passReals() {
	changed := e.changed
	e.changed = e.changed[:0]
	if len(changed) == 0 {
		return
	}
	if e.realsOf != e.cfg {
		e.reals = map[config.RealID]*config.Real{}
		for _, v := range e.cfg.Virtuals {
			for _, r := range v.Reals {
				e.reals[v.ID(r)] = r
			}
		}
		e.realsOf = e.cfg
	}
	in := director.Input{Health: e.health, QuorumHeld: e.quorum, ReaddQuiescent: e.cfg.Global.ReaddQuiescent, Overrides: e.overrides, Weights: e.weights}
	for _, id := range changed {
		i, ok := e.byVirtual[id.Virtual]
		r := e.reals[id]
		if !ok || r == nil || e.touched[id.Virtual] || len(e.drains) > 0 || e.dirty {
			e.touched[id.Virtual] = true
			continue
		}
		ch, ok := e.desired.UpdateReal(e.cfg.Source, i, r, in, e.believed.Dest)
		if !ok {
			if e.opt.Debug != nil {
				e.opt.Debug("real %s of %s: its virtual is decided whole (quorum, fallback or drains may turn)", id.Real, id.Virtual)
			}
			e.touched[id.Virtual] = true
			continue
		}
		op, need := ipvs.PlanDest(ch.Service, ch.Dest, ch.In, ch.Kernel, ch.InKernel)
		if e.opt.Debug != nil {
			what := "no write (the kernel has it so)"
			if need {
				what = "ipvsadm " + op.String()
			}
			e.opt.Debug("real %s of %s decided alone: %s: %s", id.Real, id.Virtual, ch.Note.Why, what)
		}
		if need {
			e.writeOp(op, ch.Note, false)
		}
	}
}

// passHealth is a pass after health changes: only the virtuals whose
// reals changed are decided and planned, so that one real going down in a
// table of 1,000 services costs what that one service costs.
func (e *Engine) passHealth() {
	if e.dirty || e.desired == nil {
		e.pass(false)
		return
	}
	e.passReals()
	only := map[*config.Virtual]bool{}
	var keys []ipvs.Key
	for vk := range e.touched {
		if i, ok := e.byVirtual[vk]; ok {
			st := e.desired.Virtuals[i]
			only[st.Virtual] = true
			keys = append(keys, st.Key)
		}
	}
	e.touched = map[string]bool{}
	if len(keys) == 0 {
		return
	}
	current := e.believed.Get(keys)
	part := director.Table(e.cfg, director.Input{Health: e.health, Current: current, QuorumHeld: e.quorum,
		Draining: e.drainingServices(current), ReaddQuiescent: e.cfg.Global.ReaddQuiescent, Only: only,
		Overrides: e.overrides, Starting: e.starting, Weights: e.weights})
	ops, err := ipvs.Plan(part.Services, current, keys)
	if err != nil {
		e.report(Report{Kind: WriteFailed, Err: err})
		return
	}
	if e.opt.Debug != nil {
		e.debugPlan("health pass", part.Virtuals, ops)
	}
	e.prev = e.desired.Part(keys)
	e.desired.Merge(part)
	e.write(ops, false)
	e.transitions(part.Virtuals)
}

// transitions runs fallbackcommand and quorum_up / quorum_down on changes.
func (e *Engine) transitions(virtuals []director.VirtualState) {
	for _, st := range virtuals {
		v, k := st.Virtual, st.Virtual.Key()
		on := !st.Quorum
		if prev, seen := e.fallback[k]; (!seen && on) || (seen && prev != on) {
			if v.Fallback != nil || v.FallbackCommand != "" {
				e.report(Report{Kind: Fallback, Virtual: v, On: on})
			}
			if v.FallbackCommand != "" {
				arg := "stop"
				if on {
					arg = "start"
				}
				e.command(fmt.Sprintf("%s %s %s %s", v.FallbackCommand, arg, vipPort(v), v.Protocol))
			}
		}
		if prevQ, seenQ := e.quorum[k]; quorumNotice(seenQ, prevQ, st.Quorum, v.Fallback != nil) {
			e.notifyQuorum(Report{Kind: Quorum, Virtual: v, On: st.Quorum, Weight: st.UpWeight, First: e.starting || !seenQ, Held: prevQ})
		}
		e.fallback[k] = on
		e.quorum[k] = st.Quorum
	}
}

// notifyQuorum reports a virtual's quorum verdict and runs its
// quorum_up / quorum_down: keepalived's do_vs_notifies runs the script
// with every notice, the start's ("Starting with quorum up") included,
// and its quorum is 1 when none is configured.
func (e *Engine) notifyQuorum(r Report) {
	e.report(r)
	if r.On && r.Virtual.QuorumUp != "" {
		e.command(r.Virtual.QuorumUp)
	} else if !r.On && r.Virtual.QuorumDown != "" {
		e.command(r.Virtual.QuorumDown)
	}
}

// quorumNotice is whether a virtual's quorum verdict is reported, as
// keepalived's update_quorum_state notifies (ipwrapper.c): a change; at
// a virtual's first verdict (its start, or a reload adding it) quorum
// up, or quorum down only when a sorry server (fallback) goes in.
func quorumNotice(seen, prev, now, fallback bool) bool {
	if seen {
		return prev != now
	}
	return now || fallback
}

func vipPort(v *config.Virtual) string {
	if v.Protocol == "fwm" {
		return fmt.Sprint(v.FWMark)
	}
	return netip.AddrPortFrom(v.Addr, v.Port).String()
}

func (e *Engine) command(line string) {
	e.report(Report{Kind: Command, Msg: line})
	e.cmds.add(line)
}

func (e *Engine) setOwned(m map[ipvs.Key]bool) {
	same := len(m) == len(e.owned)
	for k := range m {
		same = same && e.owned[k]
	}
	e.owned = m
	if !same && e.opt.SaveOwned != nil {
		ks := keys(m)
		slices.SortFunc(ks, func(a, b ipvs.Key) int { return compareKey(a, b) })
		if err := e.opt.SaveOwned(ks); err != nil {
			e.report(Report{Kind: WriteFailed, Err: fmt.Errorf("state file: %w", err)})
		}
	}
}

func compareKey(a, b ipvs.Key) int {
	if a == b {
		return 0
	}
	if a.String() < b.String() {
		return -1
	}
	return 1
}

// onReload switches to cfg: unchanged checks keep their state and
// schedule; what left the configuration drains.
func (e *Engine) onReload(cfg *config.Config) error {
	e.counts.Reloads++
	old := e.cfg
	e.cfg = cfg
	e.loaded = time.Now()
	e.initFiles(true)
	e.starting = true
	if !e.reloadPart(old) {
		e.reloadAll(old)
	}
	e.starting = false
	e.report(Report{Kind: Reloaded, Msg: fmt.Sprintf("%s: %d virtual services (was %d), %d real checks (%d distinct probes)",
		cfg.Source, len(cfg.Virtuals), len(old.Virtuals), e.nchecks, e.checks.Jobs())})
	if e.dirty {
		return errors.New("reloaded, but the kernel refused some writes (retried)")
	}
	return nil
}

// reloadAll gives every check to the check engine and decides the whole
// table.
func (e *Engine) reloadAll(old *config.Config) {
	subs := check.FromConfig(e.cfg, e.lookup())
	e.nchecks = len(subs)
	ids := make(map[config.RealID]bool, len(subs))
	for _, s := range subs {
		ids[s.ID] = true
	}
	up := map[config.RealID]bool{}
	for id, st := range e.health {
		if !ids[id] {
			up[id] = st == director.Up
			delete(e.health, id)
			delete(e.lastCheck, id)
			delete(e.weights, id)
		}
	}
	e.reportRemoved(old, up)
	e.checks.SetMaintenanceDir(e.cfg.Global.MaintenanceDir)
	e.checks.Set(subs)
	e.startUp(subs)
	e.startDrains(e.believedServices())
	e.pass(false)
}

// reloadPart decides again only the virtuals the reload changed, when
// the new configuration has the old one's virtuals one for one (same
// number, order and keys) and the same global rules: a reload of 1,000
// virtuals that changes one weight costs that virtual, not the table.
// The others keep their checks (state and schedule), their decided part,
// their notes and their kernel entries. False, and nothing done, when
// the whole table must be decided (a virtual added, removed or moved, a
// global rule changed, a write refused since the last pass, names looked
// up for a maintenance directory).
func (e *Engine) reloadPart(old *config.Config) bool {
	// (with a maintenance dir, every real's host name is looked up again)
	if e.desired == nil || e.dirty || old.Global.ReaddQuiescent != e.cfg.Global.ReaddQuiescent ||
		old.Global.MaintenanceDir != e.cfg.Global.MaintenanceDir || e.lookup() != nil {
		return false
	}
	changed, ok := e.desired.Rebind(e.cfg)
	if e.opt.Debug != nil {
		if ok {
			e.opt.Debug("reload: %d of %d virtuals changed: only they are decided again", len(changed), len(e.cfg.Virtuals))
		} else {
			e.opt.Debug("reload: the virtuals are not the old ones one for one: the whole table is decided again")
		}
	}
	if !ok {
		return false
	}
	if len(changed) == 0 {
		return true
	}
	part := &config.Config{Global: e.cfg.Global, Virtuals: make([]*config.Virtual, 0, len(changed))}
	was := &config.Config{Global: old.Global, Virtuals: make([]*config.Virtual, 0, len(changed))}
	vks := make(map[string]bool, len(changed))
	keys := make([]ipvs.Key, 0, len(changed))
	for _, i := range changed {
		v := e.cfg.Virtuals[i]
		part.Virtuals = append(part.Virtuals, v)
		was.Virtuals = append(was.Virtuals, old.Virtuals[i])
		vks[v.Key()] = true
		keys = append(keys, e.desired.Virtuals[i].Key)
		e.touched[v.Key()] = true
	}
	subs := check.FromConfig(part, e.lookup())
	ids := make(map[config.RealID]bool, len(subs))
	for _, s := range subs {
		ids[s.ID] = true
	}
	gone := check.FromConfig(was, nil)
	up := map[config.RealID]bool{}
	for _, s := range gone {
		if !ids[s.ID] {
			up[s.ID] = e.health[s.ID] == director.Up
			delete(e.health, s.ID)
			delete(e.lastCheck, s.ID)
		}
	}
	e.reportRemoved(was, up)
	e.nchecks += len(subs) - len(gone)
	e.checks.SetVirtuals(vks, subs)
	e.startUp(subs)
	svcs, dests := configuredIn(part)
	e.startDrainsOf(e.believed.Get(keys), svcs, dests)
	e.passHealth()
	return true
}

// reportRemoved reports, before a reload's pass, what keepalived's
// clear_diff_services notifies (ipwrapper.c): each real of old the
// reload took out while it was up (gone: the reals taken out, true when
// up), then the old virtual's quorum lost by their going (its own
// numbers: update_vs_notifies), or, for a virtual taken out, the loss
// of the quorum it held (weight 0). A virtual kept stays held until the
// reload's pass decides it with the new configuration.
func (e *Engine) reportRemoved(old *config.Config, gone map[config.RealID]bool) {
	kept := make(map[string]bool, len(e.cfg.Virtuals))
	for _, v := range e.cfg.Virtuals {
		kept[v.Key()] = true
	}
	for _, v := range old.Virtuals {
		k, lost := v.Key(), false
		for _, r := range v.Reals {
			if len(gone) > 0 && gone[v.ID(r)] {
				lost = true
				e.report(Report{Kind: Removed, Virtual: v, Real: r})
			}
		}
		switch {
		case !e.quorum[k]:
		case !kept[k]:
			e.notifyQuorum(Report{Kind: Quorum, Virtual: v, On: false, Held: true})
			delete(e.quorum, k)
		case lost:
			st := director.Table(old, director.Input{Health: e.health, QuorumHeld: e.quorum, Only: map[*config.Virtual]bool{v: true},
				Overrides: e.overrides, Weights: e.weights})
			for _, s := range st.Virtuals {
				if s.Virtual == v && !s.Quorum {
					e.notifyQuorum(Report{Kind: Quorum, Virtual: v, On: false, Weight: s.UpWeight, Held: true})
				}
			}
		}
	}
}

// configured is every (service, destination) the configuration can put in
// the table: its reals and fallbacks, whatever their health.
func (e *Engine) configured() (svcs map[ipvs.Key]bool, dests map[drainRef]bool) {
	return configuredIn(e.cfg)
}

func configuredIn(cfg *config.Config) (svcs map[ipvs.Key]bool, dests map[drainRef]bool) {
	svcs, dests = make(map[ipvs.Key]bool, len(cfg.Virtuals)), map[drainRef]bool{}
	director.Configured(cfg, func(k ipvs.Key) { svcs[k] = true },
		func(k ipvs.Key, dk ipvs.DestKey) { dests[drainRef{svc: k, dest: dk}] = true })
	return
}

// startDrains finds what the kernel holds for this configuration's owned
// services that the configuration no longer has, and drains it: weight 0
// now, deleted when idle or at the deadline. Entries back in the
// configuration stop draining.
func (e *Engine) startDrains(current []ipvs.Service) {
	svcs, dests := e.configured()
	e.startDrainsOf(current, svcs, dests)
}

// startDrainsOf is startDrains for the services current holds, svcs and
// dests being what the configuration has of them.
func (e *Engine) startDrainsOf(current []ipvs.Service, svcs map[ipvs.Key]bool, dests map[drainRef]bool) {
	for r := range e.drains {
		if (r.whole && svcs[r.svc]) || (!r.whole && dests[r]) {
			delete(e.drains, r)
		}
	}
	dr := drain{until: time.Now().Add(e.opt.DrainTimeout), after: e.readSeq}
	for _, s := range current {
		k := s.Key()
		if !e.owned[k] && !svcs[k] {
			continue // foreign: never touched
		}
		if !svcs[k] {
			if e.opt.DrainTimeout <= 0 {
				continue // deleted by the next plan
			}
			if _, ok := e.drains[drainRef{svc: k, whole: true}]; !ok {
				e.drains[drainRef{svc: k, whole: true}] = dr
				e.report(Report{Kind: DrainStart, Op: ipvs.Op{Kind: ipvs.DelService, Service: s}})
			}
		}
		if e.opt.DrainTimeout <= 0 {
			continue
		}
		for _, d := range s.Dests {
			r := drainRef{svc: k, dest: d.Key()}
			if dests[r] {
				continue
			}
			if _, ok := e.drains[r]; !ok {
				e.drains[r] = dr
				e.report(Report{Kind: DrainStart, Op: ipvs.Op{Kind: ipvs.DelDest, Service: s, Dest: d}})
			}
		}
	}
}

// expireDrains ends the drains whose connections are gone (as read by
// read number seq, when it started after them) or whose deadline passed.
func (e *Engine) expireDrains(seq uint64) {
	if len(e.drains) == 0 {
		return
	}
	now := time.Now()
	held := map[drainRef]ipvs.Dest{}
	svcs := map[ipvs.Key]bool{}
	for _, s := range e.believedServices() {
		svcs[s.Key()] = true
		for _, d := range s.Dests {
			held[drainRef{svc: s.Key(), dest: d.Key()}] = d
		}
	}
	for r, dr := range e.drains {
		if r.whole {
			continue
		}
		d, ok := held[r]
		if (seq > dr.after && (!ok || d.Active == 0)) || now.After(dr.until) {
			delete(e.drains, r)
		}
	}
	for r, dr := range e.drains {
		if !r.whole {
			continue
		}
		busy := false
		for o := range e.drains {
			busy = busy || (!o.whole && o.svc == r.svc)
		}
		if (seq > dr.after && (!svcs[r.svc] || !busy)) || now.After(dr.until) {
			delete(e.drains, r)
		}
	}
}

// drainingServices are the draining entries as the kernel holds them.
func (e *Engine) drainingServices(current []ipvs.Service) []ipvs.Service {
	if len(e.drains) == 0 {
		return nil
	}
	var out []ipvs.Service
	for _, s := range current {
		k := s.Key()
		whole := false
		if _, ok := e.drains[drainRef{svc: k, whole: true}]; ok {
			whole = true
		}
		ds := s
		ds.Dests = nil
		for _, d := range s.Dests {
			if _, ok := e.drains[drainRef{svc: k, dest: d.Key()}]; ok {
				ds.Dests = append(ds.Dests, d)
			}
		}
		if whole || len(ds.Dests) > 0 {
			out = append(out, ds)
		}
	}
	return out
}

// stop removes what cleanstop says (each virtual's own setting), leaves
// the rest as it is, and records what stays owned. t0 is when the stop
// began: the stopped line says what each step took from there (a cluster
// waits for the director's stop before it moves the VIP).
func (e *Engine) stop(t0 time.Time) {
	if err := e.read(); err != nil {
		e.report(Report{Kind: ReadFailed, Err: err})
		e.report(Report{Kind: Stopped, Msg: "stopped; the kernel table could not be read, nothing removed"})
		return
	}
	current := e.believedServices()
	keep := map[ipvs.Key]bool{}
	for _, v := range e.cfg.Virtuals {
		if s := director.Service(v); !v.CleanStop {
			keep[s.Key()] = true
		}
	}
	var desired []ipvs.Service
	owned := keys(e.owned)
	for _, s := range current {
		if keep[s.Key()] {
			desired = append(desired, s)
		}
	}
	tRead := time.Now()
	ops, err := ipvs.Plan(desired, current, owned)
	if err == nil {
		e.desired = &director.Desired{}
		e.write(ops, false)
	}
	tWrite := time.Now()
	left := map[ipvs.Key]bool{}
	for k := range keep {
		left[k] = true
	}
	for _, s := range current {
		if e.owned[s.Key()] && !keep[s.Key()] && e.dirty {
			left[s.Key()] = true // refused: still ours
		}
	}
	e.setOwned(left)
	end := time.Now()
	removed := 0
	for _, o := range ops {
		if o.Kind == ipvs.DelService {
			removed++
		}
	}
	e.report(Report{Kind: Stopped, Time: end, Msg: fmt.Sprintf("stopped: %d virtual services removed (cleanstop), %d left in the kernel (cleanstop=no); in %s: table read %s, %d writes %s, state file %s",
		removed, len(keep), ms(end.Sub(t0)), ms(tRead.Sub(t0)), len(ops), ms(tWrite.Sub(tRead)), ms(end.Sub(tWrite)))})
}

// ms is a duration as the stop's line gives it: milliseconds, to 0.1.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d)/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

// Status is a snapshot of a running director.
type Status struct {
	Source   string
	Loaded   time.Time
	Started  time.Time
	Resync   time.Duration
	ReadCost time.Duration
	Counts   Counts
	// Up, Down and Unknown count the checked reals by state.
	Up, Down, Unknown int
	Virtuals          []VirtualStatus
	// Checks: the result that made each checked real's state, by real.
	Checks map[config.RealID]CheckInfo
	// Overrides in force (lvsd ctl), in the order set; Applies says which
	// still name a configured real (one removed by a reload is kept, in
	// case it comes back).
	Overrides []OverrideStatus
}

// OverrideStatus is one override in force.
type OverrideStatus struct {
	director.Override
	Applies bool
}

// VirtualStatus is one virtual and its reals as the engine sees them.
type VirtualStatus struct {
	director.VirtualState
	Reals []RealStatus
	// InKernel: the service is in the kernel; Stats its counters as last
	// read (every resync: connections, packets and bytes count on).
	InKernel bool
	Stats    ipvs.Stats
}

// RealStatus is one destination: desired and as the kernel holds it.
type RealStatus struct {
	Dest     ipvs.Dest // desired
	Note     director.Note
	InKernel bool
	Kernel   ipvs.Dest // as last read or written
}

func (e *Engine) snapshot() Status {
	st := Status{Source: e.cfg.Source, Loaded: e.loaded, Started: e.lastStart, Resync: e.resync, ReadCost: e.readCost, Counts: e.counts}
	for _, o := range e.overrides {
		st.Overrides = append(st.Overrides, OverrideStatus{Override: o, Applies: o.Applies(e.cfg)})
	}
	st.Checks = maps.Clone(e.lastCheck)
	for _, h := range e.health {
		switch h {
		case director.Up:
			st.Up++
		case director.Down:
			st.Down++
		}
	}
	for _, v := range e.cfg.Virtuals {
		st.Unknown += len(v.Reals)
	}
	st.Unknown = max(st.Unknown-st.Up-st.Down, 0)
	if e.desired == nil {
		return st
	}
	// desired and held are both sorted by destination: joined in one walk
	// per service, no map of every destination (10,000 reals: this runs
	// on the engine's goroutine at each status and scrape)
	st.Virtuals = make([]VirtualStatus, 0, len(e.desired.Virtuals))
	for i, vs := range e.desired.Virtuals {
		out := VirtualStatus{VirtualState: vs}
		s := ipvs.Normalize(e.desired.Services[i])
		k := s.Key()
		var held []ipvs.Dest
		if h := e.believed.Get([]ipvs.Key{k}); len(h) == 1 {
			out.Stats, out.InKernel, held = h[0].Stats, true, h[0].Dests
		}
		out.Reals = make([]RealStatus, 0, len(s.Dests))
		j := 0
		for _, d := range s.Dests {
			dk := d.Key()
			n, _ := e.desired.Note(k, dk)
			rs := RealStatus{Dest: d, Note: n}
			for j < len(held) && held[j].Key().Less(dk) {
				j++
			}
			if j < len(held) && held[j].Key() == dk {
				rs.Kernel, rs.InKernel = held[j], true
			}
			out.Reals = append(out.Reals, rs)
		}
		st.Virtuals = append(st.Virtuals, out)
	}
	return st
}
