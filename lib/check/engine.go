package check

import (
	"container/heap"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Sub is one (virtual, real) pair to watch. Subs with equal Spec and
// Interval share one probe; each keeps its own failurecount state.
type Sub struct {
	ID           config.RealID // the (virtual, real) pair, unique
	Spec         Spec
	Interval     time.Duration // checkinterval
	FailureCount int           // consecutive failures before an up real goes down
	RetryDelay   time.Duration // keepalived delay_before_retry: next run after a soft failure (0 = Interval)
	MaintNames   []string      // file names in the maintenance dir that force it down
	// StartUp: the real starts up, not unknown (keepalived without alpha):
	// no event until a check takes it down, after FailureCount failures.
	StartUp bool
	// Warmup bounds the random delay of the first run: 0 = StartSpread
	// (at most Interval), negative = at once.
	Warmup time.Duration
	// Weight is the real's configured weight, and Files its keepalived
	// FILE_CHECKs: with Files or a misc_dynamic check in Spec the sub is
	// weighted, its events carry the weight keepalived would give it
	// (see Engine.output).
	Weight int
	Files  []FileWatch
	Data   any // opaque to the engine, handed back in events
}

// FileWatch is one FILE_CHECK of a Sub: the integer in Path, times Weight
// (negated with Reverse), is added to the weight; see
// config.TrackFileStatus for when it takes the real down.
type FileWatch struct {
	Path    string
	Weight  int
	Reverse bool
}

// Event is a state change of one Sub.
type Event struct {
	Sub     *Sub
	From    State
	To      State
	Reason  string
	Latency time.Duration
	Time    time.Time
	Fails   int // consecutive failures so far
	// Weighted: the Sub is weighted (misc_dynamic, FILE_CHECK) and Weight
	// is the real's weight now, to use instead of the configured one while
	// it is up. A weighted Sub also has events whose From and To are equal:
	// its weight changed.
	Weighted bool
	Weight   int
}

// Weighted is the state and weight of a weighted Sub.
type Weighted struct {
	State  State
	Weight int
}

// Options tune an Engine. Zero values take the defaults.
type Options struct {
	// MaxConcurrent bounds checks in flight, and so open sockets (a check
	// holds at most one, ftp two). Default 512.
	MaxConcurrent int
	// MaintenanceDir: while a file named by a Sub's MaintNames exists
	// there, the real is down ("maintenance") and not probed.
	MaintenanceDir string
	// MaintenanceScan is how often the directory is read (default 1s).
	MaintenanceScan time.Duration
	// Probe runs one check; default Run. Tests replace it. Set, it runs
	// every check on a worker goroutine (the poller needs the default).
	Probe func(ctx context.Context, s *Spec) Result
	// Observe, when set, is told of every probe's result (metrics), from
	// the goroutine that ran it; it must be quick. Unlike a Probe wrapper
	// it keeps the hot checks on the poller.
	Observe func(s *Spec, r Result)
	// EventBuffer is the size of the events channel (default 4096). When
	// it is full, checks wait for the reader (back-pressure, not loss).
	EventBuffer int
	// Seed for the start-up jitter (0 = random).
	Seed uint64
	// FileScan is how often FILE_CHECK files are read (default 1s).
	FileScan time.Duration
}

type subState struct {
	sub   Sub
	state State // what the checks say (Step)
	fails int
	maint bool
	// weighted subs only: the exit statuses of its misc_dynamic checks
	// when they last passed, and what was last reported (out, wout): the
	// checks' state with the files' faults, and the weight
	weighted bool
	dyn      []int
	out      State
	wout     int
}

type job struct {
	key      jobID
	spec     Spec
	interval time.Duration
	retry    time.Duration
	subs     []*subState
	next     time.Time
	idx      int // in the heap; -1 when not queued
	running  bool
	gone     bool   // removed by Set while running
	nconn    int    // combined: good connects since the last negotiate
	set      uint64 // the last Set that kept it (Engine.sets)

	// the run in progress (a job runs once at a time)
	start   time.Time
	rspec   Spec // the check of this run (combined: connect or negotiate)
	probe   bool // false: every sub in maintenance
	evs     []Event
	hp      hotProbe
	slowBy  time.Time // a redirect left to net/http, by this deadline
	plans   [2]*hotPlan
	planned [2]bool
}

type jobHeap []*job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, j int) bool { return h[i].next.Before(h[j].next) }
func (h jobHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i]; h[i].idx = i; h[j].idx = j }
func (h *jobHeap) Push(x any)        { j := x.(*job); j.idx = len(*h); *h = append(*h, j) }
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	j.idx = -1
	return j
}

// Engine schedules checks and emits state-change events.
type Engine struct {
	opt     Options
	events  chan Event
	sem     chan struct{}
	work    chan *job // hands a due job to an idle worker
	workers int       // started so far (Run's goroutine only)
	hot     bool      // the default Probe: hot checks run on the poller
	ctx     context.Context
	poller  atomic.Pointer[poller] // set by Run, for poke

	mu    sync.Mutex
	jobs  map[jobID]*job
	queue jobHeap
	rnd   *rand.Rand
	maint map[string]bool  // names present in MaintenanceDir
	files map[string]int64 // FILE_CHECK values by path, as last read
	// wsubs are the weighted subs, by ID: what Weighted and scanFiles
	// read, without a pass over every sub
	wsubs map[config.RealID]*subState
	// emptyOnce: files read empty at the last scan (scanFiles)
	emptyOnce map[string]bool
	runs      uint64
	sets      uint64 // Set calls so far

	wg sync.WaitGroup
}

// StartSpread bounds the delay of a real's first check when its Sub sets
// no Warmup: a director taking over (a failover, a move) has its reals
// checked, and in the table, within it. The spread is StartSpread/1000 per
// sub given to Set, so a handful of reals are probed at once (the
// director's start waits for them) and a thousand are not probed in the
// same millisecond.
const StartSpread = 200 * time.Millisecond

// startSpread is the first-check spread for a Set of n subs.
func startSpread(n int) time.Duration {
	return min(StartSpread, time.Duration(n)*(StartSpread/1000))
}

// New makes an engine; call Set to give it checks and Run to start it.
func New(opt Options) *Engine {
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = 512
	}
	hot := opt.Probe == nil
	if hot {
		opt.Probe = Run
	}
	if opt.EventBuffer <= 0 {
		opt.EventBuffer = 4096
	}
	if opt.MaintenanceScan <= 0 {
		opt.MaintenanceScan = time.Second
	}
	if opt.FileScan <= 0 {
		opt.FileScan = time.Second
	}
	seed := opt.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &Engine{
		hot:       hot,
		opt:       opt,
		events:    make(chan Event, opt.EventBuffer),
		sem:       make(chan struct{}, opt.MaxConcurrent),
		work:      make(chan *job),
		jobs:      map[jobID]*job{},
		files:     map[string]int64{},
		wsubs:     map[config.RealID]*subState{},
		emptyOnce: map[string]bool{},
		rnd:       rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
	}
}

// Events delivers state changes. It is closed when Run returns.
func (e *Engine) Events() <-chan Event { return e.events }

// Runs is the number of probes completed so far.
func (e *Engine) Runs() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runs
}

// jobID identifies one probe schedule: the spec as Key normalizes it, and
// the timing. A comparable struct, not Key's text: a reload of 10,000
// reals formatted 10,000 specs with fmt (most of its time in the VM).
type jobID struct {
	spec            Spec
	interval, retry time.Duration
}

func jobKey(s *Sub) jobID {
	return jobID{spec: s.Spec.normalized(), interval: s.Interval, retry: s.RetryDelay}
}

// Set replaces the checked Subs (start and reload). A Sub whose ID and check
// are unchanged keeps its state; new checks start after a random part of
// their interval.
func (e *Engine) Set(subs []Sub) {
	e.mu.Lock()
	defer e.mu.Unlock()
	// A sub keeps its state when its job (same probe, same timing) was
	// there before with its ID: found in the old job's own short list, so
	// that each sub costs one hash of its spec, not three.
	prev := map[*job][]*subState{}
	byID := map[*job]map[config.RealID]*subState{} // for jobs shared by many subs
	jobs := make(map[jobID]*job, len(e.jobs))
	now := time.Now()
	// j.set marks the jobs this Set has taken: the old map is asked
	// first and once per sub, the new one only for a job made by this Set
	// (a reload of 10,000 unchanged reals hashed each spec four times)
	e.sets++
	cur := e.sets
	spread := startSpread(len(subs))
	clear(e.wsubs)
	for i := range subs {
		s := &subs[i]
		k := jobKey(s)
		j := e.jobs[k]
		switch {
		case j != nil && j.set == cur: // shared with an earlier sub of this Set
		case j != nil:
			j.set = cur
			prev[j] = j.subs
			j.subs = nil
			jobs[k] = j
		default:
			if j = jobs[k]; j == nil {
				warm := s.Warmup
				if warm == 0 {
					// ldirectord checks every real at once when it starts:
					// a real waits at most StartSpread for its first check
					// (spread that little, a thousand reals are not probed
					// in the same millisecond, then in lockstep)
					warm = min(s.Interval, spread)
				}
				j = &job{key: k, spec: s.Spec, interval: s.Interval, retry: s.RetryDelay, idx: -1,
					next: now.Add(firstDelay(e.rnd, warm)), set: cur}
				jobs[k] = j
			}
		}
		j.subs = append(j.subs, e.newSubState(s, findSub(prev, byID, j, s.ID)))
	}
	e.pruneFiles()
	for _, j := range e.jobs {
		if j.set != cur {
			j.gone = true
			if j.idx >= 0 {
				heap.Remove(&e.queue, j.idx)
			}
		}
	}
	for _, j := range jobs {
		if j.idx < 0 && !j.running {
			heap.Push(&e.queue, j)
		}
	}
	e.jobs = jobs
	e.poke()
}

// findSub is the sub id of job j before Set. A job's list is searched,
// unless it is long: one probe can serve many subs (the same real in
// 1,000 virtuals), and a search each made a reload quadratic (most of a
// 10,000-real reload's time in the VM); those get an index, once.
func findSub(prev map[*job][]*subState, byID map[*job]map[config.RealID]*subState, j *job, id config.RealID) *subState {
	subs := prev[j]
	if len(subs) <= 16 {
		for _, s := range subs {
			if s.sub.ID == id {
				return s
			}
		}
		return nil
	}
	m := byID[j]
	if m == nil {
		m = make(map[config.RealID]*subState, len(subs))
		for _, s := range subs {
			m[s.sub.ID] = s
		}
		byID[j] = m
	}
	return m[id]
}

// newSubState is the state of s in Set and SetVirtuals: o's when s was
// there before (o non-nil), else up when it starts up; a weighted sub's
// report (state with its files' faults, and weight) is known at once, as
// keepalived reads its files at start. e.mu is held.
func (e *Engine) newSubState(s *Sub, o *subState) *subState {
	st := &subState{sub: *s, weighted: len(s.Files) > 0 || specDynamic(&s.Spec)}
	if o != nil {
		st.state, st.fails, st.maint, st.dyn = o.state, o.fails, o.maint, o.dyn
	} else if s.StartUp {
		st.state = Up
	}
	st.out = st.state
	if st.weighted {
		for _, f := range s.Files {
			if _, ok := e.files[f.Path]; !ok {
				e.files[f.Path], _ = config.ReadTrackFile(f.Path)
			}
		}
		st.out, st.wout = e.output(st)
		e.wsubs[s.ID] = st
	}
	return st
}

// poke wakes the scheduler (a slot freed, checks set).
func (e *Engine) poke() {
	if p := e.poller.Load(); p != nil {
		p.wake()
	}
}

// Run schedules checks until ctx ends, then waits for the checks in flight
// and closes Events.
//
// Its goroutine is the scheduler and the poller of the hot checks
// (connect, http to an address: poll.go), which it runs itself without a
// goroutine per check; the other checks go to worker goroutines.
func (e *Engine) Run(ctx context.Context) {
	defer close(e.events)
	p, err := newPoller(e.hotDone)
	for err != nil { // out of file descriptors: no check could run either
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Second):
		}
		p, err = newPoller(e.hotDone)
	}
	defer p.close() // the hot checks in flight end unreported
	defer e.wg.Wait()
	defer e.poller.Store(nil)
	e.poller.Store(p)
	e.ctx = ctx
	stop := context.AfterFunc(ctx, p.wake)
	defer stop()
	// always: a reload can set the directory (SetMaintenanceDir)
	e.scanMaint()
	e.wg.Add(2)
	go e.maintLoop(ctx)
	go e.fileLoop(ctx)
	var due []*job
	more := false // the last poll left answers waiting
	for ctx.Err() == nil {
		now := p.now // the poller's last clock read: see poller.now
		wait := time.Hour
		due = due[:0]
		e.mu.Lock()
		for len(e.queue) > 0 {
			d := e.queue[0].next.Sub(now)
			if d > startEarly(e.queue[0].interval) {
				wait = d
				break
			}
			// Answers first: while the poller has answers waiting, or
			// once a batch is started, it reads them before it starts
			// more. So an answer is taken when it comes (its verdict
			// is not held behind hundreds of connects), and on a CPU
			// too slow for the schedule the checks started are those
			// it can finish: the interval stretches, as keepalived's
			// does, instead of checks that passed timing out in the
			// queue and their reals flapping.
			if more || len(due) == launchBatch {
				wait = 0
				break
			}
			if !e.acquire() {
				break // all slots taken: a check that ends frees one and wakes us
			}
			j := heap.Pop(&e.queue).(*job)
			j.running = true
			due = append(due, j)
		}
		e.mu.Unlock()
		// at: the clock read for the next launch. A check that ends at
		// its launch (a local real answers inside connect) read the clock
		// as it ended, a few instructions before the next launch: that
		// read serves as the next check's start, one clock read per check
		// instead of two (in the VM each is an emulated HPET access).
		var at time.Time
		for _, j := range due {
			if at.IsZero() {
				at = time.Now()
			}
			at = e.launch(ctx, p, j, at)
			if len(e.events) > 0 {
				// a check of the group ended at once with a verdict (a
				// refused connect): its reader runs now (see below),
				// not after the group's other connects, a millisecond
				// each under emulation
				runtime.Gosched()
				at = time.Time{} // the reader's work took time
			}
		}
		if len(due) > 0 { // a run may have ended at once (maintenance, a refused socket)
			e.mu.Lock()
			if len(e.queue) > 0 && len(e.sem) < cap(e.sem) { // full: a freed slot wakes us
				wait = min(wait, e.queue[0].next.Sub(p.now))
			}
			e.mu.Unlock()
		}
		if len(e.events) > 0 {
			// a verdict was just sent: its reader (the director's
			// engine), made runnable on this thread by the send, runs
			// now, here, instead of waiting for another thread to wake
			// and take it. That second wake-up on the path from the
			// probe's answer to the netlink write costs milliseconds on
			// a busy or emulated machine; keepalived has one thread.
			runtime.Gosched()
		}
		more = p.poll(wait)
	}
}

// startEarly is how much ahead of its time a check may start with others
// that are due now: one wake-up of the poller then starts a group instead
// of one or two checks (under emulation each wake-up costs about a check's
// CPU). A check started early is due again an interval after that start,
// so the group stays together, as keepalived's checks, started together,
// stay in step. At most 1/50 of the interval, and 20 ms.
func startEarly(interval time.Duration) time.Duration {
	return min(interval/50, 20*time.Millisecond)
}

// launchBatch is how many checks the poller starts between two reads of
// the answers: an answer waits for at most that many connects (in the
// VM under emulation 64 of them took a second), for one epoll_wait more
// per 16 checks.
const launchBatch = 16

func (e *Engine) acquire() bool {
	select {
	case e.sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// launch starts one run of j, which holds a slot, at now (a fresh clock
// read): on the poller when it is a hot check, else on a worker. It
// returns the clock read of the run's end when the run ended inside
// launch (the next launch may start at it), else the zero time.
func (e *Engine) launch(ctx context.Context, p *poller, j *job, now time.Time) time.Time {
	e.begin(j, now)
	if !j.probe || ctx.Err() != nil {
		e.end(ctx, j, Result{}, false, now)
		return now // no clock read since: still fresh
	}
	if e.hot {
		if pl := j.plan(); pl != nil {
			h := &j.hp
			h.plan, h.spec, h.owner = pl, &j.rspec, j
			h.deadline = now.Add(j.rspec.Timeout())
			if p.start(h, now) {
				return h.t1
			}
			return time.Time{}
		}
	}
	e.toWorker(ctx, j)
	return time.Time{}
}

// plan is the hot plan of j's check this run (combined alternates), made
// once; nil when the check is not a hot one.
func (j *job) plan() *hotPlan {
	i := 0
	if j.rspec.Type == "connect" {
		i = 1
	}
	if !j.planned[i] {
		j.planned[i], j.plans[i] = true, planHot(&j.rspec)
	}
	return j.plans[i]
}

// hotDone is the poller's report of a hot check of the engine's.
func (e *Engine) hotDone(h *hotProbe, r Result, slow bool) {
	j := h.owner.(*job)
	if slow { // a redirect: net/http follows it on a worker, by the same deadline
		j.slowBy = h.deadline
		e.toWorker(e.ctx, j)
		return
	}
	e.end(e.ctx, j, r, false, h.t1)
}

func (e *Engine) toWorker(ctx context.Context, j *job) {
	select {
	case e.work <- j: // an idle worker
	default:
		if e.workers < e.opt.MaxConcurrent {
			e.workers++
			e.wg.Add(1)
			go e.worker(ctx, j)
		} else {
			select {
			case e.work <- j:
			case <-ctx.Done():
			}
		}
	}
}

// worker runs checks one after another until ctx ends. Long-lived workers
// (at most MaxConcurrent) instead of a goroutine per check: a new
// goroutine's stack grows on every check's deep call chain (connect, read,
// parse), a measurable share of the CPU at 10,000 checks/s.
func (e *Engine) worker(ctx context.Context, j *job) {
	defer e.wg.Done()
	for {
		var res Result
		if !j.slowBy.IsZero() {
			c, cancel := context.WithDeadline(ctx, j.slowBy)
			res = runWith(c, &j.rspec, checkHTTPClient)
			cancel()
			j.slowBy = time.Time{}
		} else {
			res = e.opt.Probe(ctx, &j.rspec)
		}
		e.end(ctx, j, res, true, time.Now())
		select {
		case j = <-e.work:
		case <-ctx.Done():
			return
		}
	}
}

// begin is the first half of a run, by the scheduler: maintenance, and the
// check this run does (j.rspec).
func (e *Engine) begin(j *job, start time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	j.start, j.evs, j.probe = start, nil, false
	for _, s := range j.subs {
		inMaint := e.inMaint(s)
		if inMaint && !s.maint {
			s.maint = true
			s.state, s.fails = Down, 0
			if ev, ok := e.report(s, "maintenance: "+e.maintName(s), 0, start); ok {
				j.evs = append(j.evs, ev)
			}
		} else if !inMaint && s.maint {
			s.maint = false
			s.state, s.fails = Down, 0 // stays down until a check passes
		}
		if !s.maint {
			j.probe = true
		}
	}
	j.rspec = j.spec
	if j.spec.Type == "combined" {
		if j.nconn >= j.spec.NegotiateEvery {
			j.rspec.Type = "negotiate"
		} else {
			j.rspec.Type = "connect"
		}
	}
}

// end is the second half of a run: the result applied, j scheduled again,
// its slot freed, the events sent (back-pressure: waits for the reader).
func (e *Engine) end(ctx context.Context, j *job, res Result, worker bool, now time.Time) {
	if e.opt.Observe != nil && j.probe && ctx.Err() == nil {
		e.opt.Observe(&j.rspec, res)
	}
	e.mu.Lock()
	soft := false
	evs := j.evs
	j.evs = nil
	if j.probe && ctx.Err() == nil {
		e.runs++
		if j.spec.Type == "combined" {
			switch {
			case j.rspec.Type == "negotiate" && res.OK:
				j.nconn = 0
			case j.rspec.Type == "connect" && res.OK:
				j.nconn++
			case j.rspec.Type == "connect":
				j.nconn = 1 << 30 // a failed connect forces a negotiate next
			}
		}
		for _, s := range j.subs {
			if s.maint {
				continue
			}
			if !res.OK && j.retry > 0 && s.state == Up && s.fails+1 < s.sub.FailureCount {
				soft = true // retry sooner, as keepalived's delay_before_retry
			}
			s.state, s.fails = Step(s.state, s.fails, res.OK, s.sub.FailureCount)
			if res.OK {
				s.dyn = res.Exits
			}
			if ev, ok := e.report(s, res.Reason, res.Latency, now); ok {
				evs = append(evs, ev)
			}
		}
	}
	j.running = false
	if !j.gone {
		iv := j.interval
		if soft && j.retry < iv {
			iv = j.retry
		}
		j.next = nextRun(j.start, now, iv)
		heap.Push(&e.queue, j)
	}
	e.mu.Unlock()
	<-e.sem
	if worker {
		e.poke()
	}
	for _, ev := range evs {
		select {
		case e.events <- ev:
		case <-ctx.Done():
			return
		}
	}
	if !worker && len(evs) > 0 {
		// the poller's verdict: its reader (the director's engine),
		// made runnable on this thread by the send, runs now, before
		// the poller goes on with the rest of its batch. Yielding only
		// back in Run's loop left it queued behind the poller, or
		// waiting for another thread to wake and take it: 0.2-33 ms,
		// median 3 ms, of the VM's 10-real kill test (lvsd --trace)
		runtime.Gosched()
	}
}

// Snapshot returns the current state of every Sub by ID.
func (e *Engine) Snapshot() map[config.RealID]State {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[config.RealID]State{}
	for _, j := range e.jobs {
		for _, s := range j.subs {
			m[s.sub.ID] = s.out
		}
	}
	return m
}

// Weighted is the state and weight of every weighted Sub (misc_dynamic,
// FILE_CHECK) as the engine has it now: after Set, what the files say
// already, for the director's first table.
func (e *Engine) Weighted() map[config.RealID]Weighted {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := make(map[config.RealID]Weighted, len(e.wsubs))
	for id, s := range e.wsubs {
		m[id] = Weighted{s.out, s.wout}
	}
	return m
}

func specDynamic(s *Spec) bool {
	if s.Dynamic {
		return true
	}
	if s.Also != nil {
		for i := range *s.Also {
			if (*s.Also)[i].Dynamic {
				return true
			}
		}
	}
	return false
}

// output is what keepalived makes of a weighted sub: its checks' state,
// down while a FILE_CHECK is in fault; its weight the configured one plus
// what each misc_dynamic check that passed with 2..255 changes (to
// status-2, several adding up as keepalived's) plus each file's value
// times its weight, held in 0..2^31-1 (keepalived's real_weight).
func (e *Engine) output(s *subState) (State, int) {
	st := s.state
	iw := int64(s.sub.Weight)
	w := iw
	for _, d := range s.dyn {
		if d >= 2 {
			w += int64(d) - 2 - iw
		}
	}
	for _, f := range s.sub.Files {
		add, fault := config.TrackFileStatus(e.files[f.Path], f.Weight, f.Reverse, config.CheckFileFault, config.CheckFileMax)
		if fault {
			st = Down
		} else {
			w += add
		}
	}
	return st, int(max(0, min(w, config.CheckFileMax)))
}

// report is the event for s when what it reports changed (its state; the
// weight too for a weighted sub), and records it as reported.
func (e *Engine) report(s *subState, reason string, lat time.Duration, now time.Time) (Event, bool) {
	to, w := s.state, 0
	if s.weighted {
		to, w = e.output(s)
	}
	if to == s.out && w == s.wout {
		return Event{}, false
	}
	ev := Event{Sub: &s.sub, From: s.out, To: to, Reason: reason, Latency: lat, Time: now, Fails: s.fails,
		Weighted: s.weighted, Weight: w}
	if s.weighted && to == s.out {
		ev.Reason = fmt.Sprintf("weight %d -> %d: %s", s.wout, w, reason)
	}
	s.out, s.wout = to, w
	return ev, true
}

// fileLoop reads the FILE_CHECK files every FileScan and reports the
// subs they change. keepalived watches them with inotify; a read a second
// of the few files a configuration names costs as little.
func (e *Engine) fileLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.opt.FileScan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for _, ev := range e.scanFiles(time.Now()) {
			select {
			case e.events <- ev:
			case <-ctx.Done():
				return
			}
		}
	}
}

// scanFiles reads every tracked file and returns the events of the subs
// whose state or weight a new value changes.
func (e *Engine) scanFiles(now time.Time) []Event {
	e.mu.Lock()
	paths := make([]string, 0, len(e.files))
	for p := range e.files {
		paths = append(paths, p)
	}
	e.mu.Unlock()
	if len(paths) == 0 {
		return nil
	}
	vals := make(map[string]int64, len(paths))
	var empty []string
	for _, p := range paths {
		v, ok := config.ReadTrackFile(p)
		if !ok {
			continue // keepalived keeps the last value
		}
		if st, err := os.Stat(p); v == 0 && err == nil && st.Size() == 0 {
			// empty: maybe caught between `>` truncating it and the write
			// (keepalived reads at close_write only); 0 if it stays so
			empty = append(empty, p)
			if !e.emptyOnce[p] {
				continue
			}
		}
		vals[p] = v
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	clear(e.emptyOnce)
	for _, p := range empty {
		e.emptyOnce[p] = true
	}
	changed := map[string]bool{}
	for p, v := range vals {
		if old, ok := e.files[p]; ok && old != v {
			e.files[p] = v
			changed[p] = true
		}
	}
	if len(changed) == 0 {
		return nil
	}
	var evs []Event
	for _, s := range e.wsubs {
		for _, f := range s.sub.Files {
			if changed[f.Path] {
				if ev, ok := e.report(s, fmt.Sprintf("track file %s: %d", f.Path, e.files[f.Path]), 0, now); ok {
					evs = append(evs, ev)
				}
				break
			}
		}
	}
	return evs
}

// pruneFiles forgets the files no weighted sub tracks any more.
func (e *Engine) pruneFiles() {
	if len(e.files) == 0 {
		return
	}
	keep := map[string]bool{}
	for _, s := range e.wsubs {
		for _, f := range s.sub.Files {
			keep[f.Path] = true
		}
	}
	for p := range e.files {
		if !keep[p] {
			delete(e.files, p)
		}
	}
}

// InFlight is the number of checks running now.
func (e *Engine) InFlight() int { return len(e.sem) }

// Jobs is the number of distinct probes scheduled (after dedupe).
func (e *Engine) Jobs() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.jobs)
}

func (e *Engine) inMaint(s *subState) bool { return e.maintName(s) != "" }

func (e *Engine) maintName(s *subState) string {
	if e.maint == nil {
		return ""
	}
	for _, n := range s.sub.MaintNames {
		if e.maint[n] {
			return n
		}
	}
	return ""
}

// The directory is read once per scan, not stat'ed per check: with 10,000
// reals that is one readdir a second instead of 60,000 stats.
func (e *Engine) maintLoop(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.opt.MaintenanceScan)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			e.scanMaint()
		}
	}
}

func (e *Engine) scanMaint() {
	e.mu.Lock()
	dir := e.opt.MaintenanceDir
	e.mu.Unlock()
	var m map[string]bool // nil: no directory, nothing is in maintenance
	if dir != "" {
		m = map[string]bool{}
		if ents, err := os.ReadDir(dir); err == nil {
			for _, d := range ents {
				m[d.Name()] = true
			}
		}
	}
	e.mu.Lock()
	if e.opt.MaintenanceDir == dir { // not changed meanwhile
		e.maint = m
	}
	e.mu.Unlock()
}

// SetMaintenanceDir switches the maintenance directory ("" for none), as a
// reload that sets or changes maintenancedir asks; it is read at once.
// Reals leave or enter maintenance at their next check.
func (e *Engine) SetMaintenanceDir(dir string) {
	e.mu.Lock()
	changed := e.opt.MaintenanceDir != dir
	e.opt.MaintenanceDir = dir
	e.mu.Unlock()
	if changed {
		e.scanMaint()
	}
}
