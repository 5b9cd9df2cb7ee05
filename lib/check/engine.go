package check

import (
	"container/heap"
	"context"
	"math/rand/v2"
	"os"
	"sync"
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
	Data   any // opaque to the engine, handed back in events
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
	// Probe runs one check; default Run. Tests replace it.
	Probe func(ctx context.Context, s *Spec) Result
	// EventBuffer is the size of the events channel (default 4096). When
	// it is full, checks wait for the reader (back-pressure, not loss).
	EventBuffer int
	// Seed for the start-up jitter (0 = random).
	Seed uint64
}

type subState struct {
	sub   Sub
	state State
	fails int
	maint bool
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
	wake    chan struct{}
	work    chan *job // hands a due job to an idle worker
	workers int       // started so far (Run's goroutine only)

	mu    sync.Mutex
	jobs  map[jobID]*job
	queue jobHeap
	rnd   *rand.Rand
	maint map[string]bool // names present in MaintenanceDir
	runs  uint64
	sets  uint64 // Set calls so far

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
	if opt.Probe == nil {
		opt.Probe = Run
	}
	if opt.EventBuffer <= 0 {
		opt.EventBuffer = 4096
	}
	if opt.MaintenanceScan <= 0 {
		opt.MaintenanceScan = time.Second
	}
	seed := opt.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &Engine{
		opt:    opt,
		events: make(chan Event, opt.EventBuffer),
		sem:    make(chan struct{}, opt.MaxConcurrent),
		wake:   make(chan struct{}, 1),
		work:   make(chan *job),
		jobs:   map[jobID]*job{},
		rnd:    rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)),
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
		st := &subState{sub: *s}
		if o := findSub(prev, byID, j, s.ID); o != nil {
			st.state, st.fails, st.maint = o.state, o.fails, o.maint
		} else if s.StartUp {
			st.state = Up
		}
		j.subs = append(j.subs, st)
	}
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

func (e *Engine) poke() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Run schedules checks until ctx ends, then waits for the checks in flight
// and closes Events.
func (e *Engine) Run(ctx context.Context) {
	defer close(e.events)
	defer e.wg.Wait()
	// always: a reload can set the directory (SetMaintenanceDir)
	e.scanMaint()
	e.wg.Add(1)
	go e.maintLoop(ctx)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		e.mu.Lock()
		var due *job
		wait := time.Hour
		if len(e.queue) > 0 {
			top := e.queue[0]
			if d := time.Until(top.next); d <= 0 {
				due = heap.Pop(&e.queue).(*job)
				due.running = true
			} else {
				wait = d
			}
		}
		e.mu.Unlock()
		if due == nil {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				return
			case <-e.wake:
			case <-timer.C:
			}
			continue
		}
		select { // the concurrency bound: wait for a free slot
		case e.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		select {
		case e.work <- due: // an idle worker
		default:
			if e.workers < e.opt.MaxConcurrent {
				e.workers++
				e.wg.Add(1)
				go e.worker(ctx, due)
			} else {
				select {
				case e.work <- due:
				case <-ctx.Done():
					return
				}
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
		e.runJob(ctx, j)
		select {
		case j = <-e.work:
		case <-ctx.Done():
			return
		}
	}
}

func (e *Engine) runJob(ctx context.Context, j *job) {
	start := time.Now()

	e.mu.Lock()
	var evs []Event
	probe := false
	for _, s := range j.subs {
		inMaint := e.inMaint(s)
		if inMaint && !s.maint {
			s.maint = true
			if s.state != Down {
				evs = append(evs, Event{Sub: &s.sub, From: s.state, To: Down,
					Reason: "maintenance: " + e.maintName(s), Time: start})
			}
			s.state, s.fails = Down, 0
		} else if !inMaint && s.maint {
			s.maint = false
			s.state, s.fails = Down, 0 // stays down until a check passes
		}
		if !s.maint {
			probe = true
		}
	}
	spec := j.spec
	if spec.Type == "combined" {
		if j.nconn >= spec.NegotiateEvery {
			spec.Type = "negotiate"
		} else {
			spec.Type = "connect"
		}
	}
	e.mu.Unlock()

	var res Result
	if probe && ctx.Err() == nil {
		res = e.opt.Probe(ctx, &spec)
	}
	now := time.Now()

	e.mu.Lock()
	soft := false
	if probe && ctx.Err() == nil {
		e.runs++
		if j.spec.Type == "combined" {
			switch {
			case spec.Type == "negotiate" && res.OK:
				j.nconn = 0
			case spec.Type == "connect" && res.OK:
				j.nconn++
			case spec.Type == "connect":
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
			from := s.state
			s.state, s.fails = Step(s.state, s.fails, res.OK, s.sub.FailureCount)
			if s.state != from {
				evs = append(evs, Event{Sub: &s.sub, From: from, To: s.state,
					Reason: res.Reason, Latency: res.Latency, Time: now, Fails: s.fails})
			}
		}
	}
	j.running = false
	if !j.gone {
		iv := j.interval
		if soft && j.retry < iv {
			iv = j.retry
		}
		j.next = nextRun(start, now, iv)
		heap.Push(&e.queue, j)
	}
	e.mu.Unlock()
	<-e.sem
	e.poke()
	for _, ev := range evs {
		select {
		case e.events <- ev:
		case <-ctx.Done():
			return
		}
	}
}

// Snapshot returns the current state of every Sub by ID.
func (e *Engine) Snapshot() map[config.RealID]State {
	e.mu.Lock()
	defer e.mu.Unlock()
	m := map[config.RealID]State{}
	for _, j := range e.jobs {
		for _, s := range j.subs {
			m[s.sub.ID] = s.state
		}
	}
	return m
}

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
