package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// metrics is `lvsd run --metrics ADDR`: Prometheus series read from the
// engine's own state at each scrape (no dump file to go stale, as
// keepalived's exporters scrape), plus counters fed by the check probes
// and reloads. Label names follow node_exporter's ipvs collector, so its
// dashboards and joins work on lvsd's series.
type metrics struct {
	reg      *prometheus.Registry
	checks   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	series   atomic.Pointer[map[string]*checkSeries] // by check type, copied on a new type (under seriesMu)
	seriesMu sync.Mutex
	inflight prometheus.GaugeFunc
	eng      atomic.Pointer[engine.Engine] // its series; nil until the engine runs (VRRP only: a reload may start it)
	reloads  *prometheus.CounterVec
	reloaded prometheus.Gauge
	vrrp     *vrrpSide // VRRP and lvs_sync_daemon series when set (and running)

	once sync.Once // the VRRP collector registered

	mu   sync.Mutex // scrapes, one at a time: what follows
	buf  []byte     // the last scrape's exposition, reused
	gz   *gzip.Writer
	expo expo
}

var (
	realLabels    = []string{"local_address", "local_port", "local_mark", "proto", "remote_address", "remote_port"}
	virtualLabels = []string{"local_address", "local_port", "local_mark", "proto"}

	famRealUp       = family{"lvsd_real_up", "gauge", "1 when the real's checks say it is up, 0 when down or not checked yet."}
	famRealInTable  = family{"lvsd_real_in_table", "gauge", "1 when the real is in the kernel's IPVS table."}
	famWeightConf   = family{"lvsd_real_weight_desired", "gauge", "The weight the rules give the real (0: quiesced or draining)."}
	famWeightKernel = family{"lvsd_real_weight", "gauge", "The real's weight in the kernel, as last read or written."}
	famActive       = family{"lvsd_real_connections_active", "gauge", "Active connections of the real, as the kernel counted them at the last read."}
	famInactive     = family{"lvsd_real_connections_inactive", "gauge", "Inactive connections of the real, as the kernel counted them at the last read."}
	famVirtualUp    = family{"lvsd_virtual_reals_up", "gauge", "Reals up in the virtual service."}
	famFallback     = family{"lvsd_virtual_fallback_active", "gauge", "1 while the fallback (sorry server) stands in."}
	famReals        = family{"lvsd_reals", "gauge", "Checked reals by state."}
	famWrites       = family{"lvsd_netlink_writes_total", "counter", "IPVS netlink writes made."}
	famWriteErrors  = family{"lvsd_netlink_write_errors_total", "counter", "IPVS netlink writes the kernel refused (retried)."}
	famReads        = family{"lvsd_table_reads_total", "counter", "Reads of the whole IPVS table (start, resync, after a refusal)."}
	famRepairs      = family{"lvsd_drift_repairs_total", "counter", "Writes that put back what was changed in the kernel behind lvsd's back."}
	famRealStats    = statFamilies("real", "the real")
	famVirtStats    = statFamilies("virtual", "the virtual service")
	famLoaded       = family{"lvsd_config_loaded_timestamp_seconds", "gauge", "When the running configuration was loaded."}
)

// statFamilies are the IPVS counters of a real or virtual (node_exporter's
// names, per entry): connections, packets and bytes in and out.
func statFamilies(what, whose string) [5]family {
	at := " of " + whose + ", as the kernel counted them at the last table read (they wrap at 2^32 but bytes)."
	return [5]family{
		{"lvsd_" + what + "_connections_total", "counter", "Connections" + at},
		{"lvsd_" + what + "_incoming_packets_total", "counter", "Incoming packets" + at},
		{"lvsd_" + what + "_outgoing_packets_total", "counter", "Outgoing packets" + at},
		{"lvsd_" + what + "_incoming_bytes_total", "counter", "Incoming bytes" + at},
		{"lvsd_" + what + "_outgoing_bytes_total", "counter", "Outgoing bytes" + at},
	}
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_checks_total",
			Help: "Health check probes run, by check type and outcome (a probe serves every real that shares it)."}, []string{"type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lvsd_check_duration_seconds",
			Help:    "Time a health check probe took, by check type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"type"}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_reloads_total",
			Help: "Reloads of the configuration, by result (refused: the file had errors and the running configuration was kept)."}, []string{"result"}),
		reloaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_last_reload_timestamp_seconds", Help: "When the last reload was tried (0: none yet)."}),
	}
	m.inflight = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "lvsd_checks_in_flight", Help: "Health check probes running now."}, func() float64 {
		if e := m.eng.Load(); e != nil {
			return float64(e.ChecksInFlight())
		}
		return 0
	})
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("refused")
	m.reg.MustRegister(m.checks, m.latency, m.inflight, m.reloads, m.reloaded,
		collectors.NewBuildInfoCollector(), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observeFunc is the engine's Observe: nil without metrics.
func (m *metrics) observeFunc() func(*check.Spec, check.Result) {
	if m == nil {
		return nil
	}
	return m.observe
}

// observe counts one probe's result (engine.Options.Observe: the hot
// checks stay on the poller, so it runs on the poller's thread for every
// check). The type's series are resolved once (seriesFor), not by
// WithLabelValues per check: that hashes the label values and takes the
// vector's lock each time; here a check is a map read and atomic adds.
func (m *metrics) observe(s *check.Spec, r check.Result) {
	cs := m.seriesFor(s.Type)
	if r.OK {
		cs.up.Inc()
	} else {
		cs.down.Inc()
	}
	cs.latency.Observe(r.Latency.Seconds())
}

// checkSeries are one check type's series.
type checkSeries struct {
	up, down prometheus.Counter
	latency  prometheus.Observer
}

// seriesFor is typ's series, made the first time typ is seen (so the
// exposition has only the types that ran, as before). The map is never
// changed once published: readers need no lock.
func (m *metrics) seriesFor(typ string) *checkSeries {
	if p := m.series.Load(); p != nil {
		if cs := (*p)[typ]; cs != nil {
			return cs
		}
	}
	m.seriesMu.Lock()
	defer m.seriesMu.Unlock()
	old := m.series.Load()
	if old != nil {
		if cs := (*old)[typ]; cs != nil {
			return cs
		}
	}
	next := make(map[string]*checkSeries, 1)
	if old != nil {
		for k, v := range *old {
			next[k] = v
		}
	}
	cs := &checkSeries{up: m.checks.WithLabelValues(typ, "up"), down: m.checks.WithLabelValues(typ, "down"),
		latency: m.latency.WithLabelValues(typ)}
	next[typ] = cs
	m.series.Store(&next)
	return cs
}

// reload records a reload's result.
func (m *metrics) reload(ok bool) {
	if m == nil {
		return
	}
	m.reloaded.Set(float64(time.Now().UnixNano()) / 1e9)
	if ok {
		m.reloads.WithLabelValues("ok").Inc()
	} else {
		m.reloads.WithLabelValues("refused").Inc()
	}
}

// listenMetrics binds addr at start, so that an address that cannot be
// bound fails the start with that reason, not later.
func listenMetrics(addr string) (net.Listener, error) {
	return net.Listen("tcp", addr)
}

// serve answers /metrics on ln until ctx ends.
func (m *metrics) serve(ctx context.Context, ln net.Listener, eng *engine.Engine) {
	ms := m.server(eng)
	ms.set(ln.Addr().String(), ln)
	<-ctx.Done()
	ms.close()
}

// server is a metricsServer for m: an address that a reload can change.
func (m *metrics) server(eng *engine.Engine) *metricsServer {
	if eng != nil {
		m.eng.Store(eng)
	}
	m.once.Do(func() {
		if m.vrrp != nil {
			m.reg.MustRegister(vrrpCollector{m.vrrp})
		}
	})
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { m.scrape(w, r, m.eng.Load()) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "lvsd: metrics are at /metrics", http.StatusNotFound)
	})
	return &metricsServer{h: mux}
}

// metricsServer serves the metrics at one address at a time. A reload
// that changes the address binds the new one first: when that fails the
// old listener keeps serving and the reload is refused with the reason.
type metricsServer struct {
	h    http.Handler
	mu   sync.Mutex
	addr string // "" when off
	srv  *http.Server
}

// set serves on ln (addr: as configured), closing what served before.
func (s *metricsServer) set(addr string, ln net.Listener) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		s.srv.Close()
		s.srv = nil
	}
	s.addr = addr
	if ln == nil {
		return
	}
	srv := &http.Server{Handler: s.h, ReadHeaderTimeout: 10 * time.Second}
	s.srv = srv
	go srv.Serve(ln) //nolint:errcheck // ends with Close
}

// rebind moves the metrics to addr ("": off). Unchanged: nothing done.
func (s *metricsServer) rebind(addr string) error {
	s.mu.Lock()
	same := addr == s.addr
	s.mu.Unlock()
	if same {
		return nil
	}
	var ln net.Listener
	if addr != "" {
		var err error
		if ln, err = listenMetrics(addr); err != nil {
			return err
		}
	}
	s.set(addr, ln)
	return nil
}

func (s *metricsServer) current() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

func (s *metricsServer) close() { s.set("", nil) }

// scrape answers /metrics in the text format: the registry's series
// (checks, reloads, VRRP, build, Go, process) through client_golang's
// encoder, then the engine's, written straight from one status snapshot.
// At 10,000 reals those are 110,000 series, and client_golang spent most
// of a scrape sorting and checking them as const metrics (bench/status.sh:
// 0.8 s of CPU); the snapshot is in table order, its series unique by
// construction. The engine's goroutine only takes the snapshot: the
// encoding runs on the scraper's, with each real's label string kept from
// one scrape to the next and the buffer sized by the last scrape.
func (m *metrics) scrape(w http.ResponseWriter, r *http.Request, eng *engine.Engine) {
	var st engine.Status
	if eng != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		var err error
		st, err = eng.Status(ctx)
		cancel()
		if err != nil {
			http.Error(w, "lvsd: engine status: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
	}
	m.mu.Lock() // one encoding at a time: its buffer and label cache
	defer m.mu.Unlock()
	buf := bytes.NewBuffer(m.buf[:0])
	mfs, err := m.reg.Gather()
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(buf, mf) //nolint:errcheck // a bytes.Buffer
	}
	if err != nil {
		fmt.Fprintf(buf, "# lvsd: gathering: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	out := buf.Bytes()
	if eng != nil {
		out = m.expo.engine(out, st)
	}
	m.buf = out
	w.Header().Set("Content-Type", string(expfmt.FmtText))
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		if m.gz == nil {
			m.gz, _ = gzip.NewWriterLevel(w, gzip.BestSpeed) // 15 MiB at 10,000 reals: the default level costs more than the rest
		} else {
			m.gz.Reset(w)
		}
		m.gz.Write(out) //nolint:errcheck // the scraper went away
		m.gz.Close()
		return
	}
	w.Write(out) //nolint:errcheck // the scraper went away
}

// family is one metric family of the engine's series.
type family struct{ name, typ, help string }

// expo writes the engine's series in the text format. Each family is
// written whole (HELP, TYPE, its series) in one walk over the rows, the
// label strings of a real made once and kept while the real is in the
// table: a scrape of 10,000 reals is appends to one buffer.
type expo struct {
	labels map[realKey]string // `{local_address="...",...,remote_port="..."` (no closing brace)
	vlabel map[ipvs.Key]string
	rows   []row
	seen   int // entries used by the last scrape, for pruning
}

type realKey struct {
	svc  ipvs.Key
	dest ipvs.DestKey
}

// row is one real (or virtual: real false) of the snapshot.
type row struct {
	labels   string
	real     bool
	checked  bool // a configured real (not a fallback): has lvsd_real_up
	state    string
	up       bool
	inTable  bool
	weight   int
	kernel   ipvs.Dest
	vUp      int
	fallback bool
	stats    ipvs.Stats
}

func (x *expo) realLabels(k ipvs.Key, vl string, a netip.Addr, port uint16) string {
	rk := realKey{svc: k, dest: ipvs.DestKey{Addr: a, Port: port}}
	if s, ok := x.labels[rk]; ok {
		return s
	}
	s := vl + `,remote_address="` + escapeLabel(a.String()) + `",remote_port="` + strconv.Itoa(int(port)) + `"`
	x.labels[rk] = s
	return s
}

func (x *expo) virtualLabels(k ipvs.Key) string {
	if s, ok := x.vlabel[k]; ok {
		return s
	}
	vv := virtualValues(k) // address, port, mark, proto
	s := `{local_address="` + escapeLabel(vv[0]) + `",local_mark="` + vv[2] + `",local_port="` + vv[1] + `",proto="` + escapeLabel(vv[3]) + `"`
	x.vlabel[k] = s
	return s
}

// engine appends the engine's series from one snapshot to b. Labels are
// node_exporter's ipvs collector's, in the order client_golang writes
// them (sorted by name).
func (x *expo) engine(b []byte, st engine.Status) []byte {
	if x.labels == nil || len(x.labels) > 2*x.seen+1024 {
		// reals come and go with reloads: start afresh when most of the
		// cache is for entries gone
		x.labels, x.vlabel = map[realKey]string{}, map[ipvs.Key]string{}
	}
	rows := x.rows[:0]
	for _, v := range st.Virtuals {
		vl := x.virtualLabels(v.Key)
		rows = append(rows, row{labels: vl, vUp: v.Up, fallback: v.Fallback, inTable: v.InKernel, stats: v.Stats})
		for _, r := range v.Reals {
			rows = append(rows, row{labels: x.realLabels(v.Key, vl, r.Dest.Addr, r.Dest.Port), real: true,
				checked: r.Note.Role == director.RoleReal, state: r.Note.Status.String(), up: r.Note.Status == director.Up,
				inTable: r.InKernel, weight: r.Dest.Weight, kernel: r.Kernel, stats: r.Kernel.Stats})
		}
		for _, n := range v.Out { // configured reals not in the table
			if n.Role != director.RoleReal {
				continue
			}
			rows = append(rows, row{labels: x.realLabels(v.Key, vl, n.ID.Real.Addr(), n.ID.Real.Port()), real: true,
				checked: true, state: n.Status.String(), up: n.Status == director.Up, weight: -1})
		}
	}
	x.rows, x.seen = rows, len(rows)

	head := func(f family) {
		b = append(b, "# HELP "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.help...)
		b = append(b, "\n# TYPE "...)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = append(b, f.typ...)
		b = append(b, '\n')
	}
	line := func(f family, labels, extra string, v uint64) {
		b = append(b, f.name...)
		b = append(b, labels...)
		b = append(b, extra...)
		b = append(b, "} "...)
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	plain := func(f family, v uint64) {
		head(f)
		b = append(b, f.name...)
		b = append(b, ' ')
		b = strconv.AppendUint(b, v, 10)
		b = append(b, '\n')
	}
	// each family: its rows that have it
	each := func(f family, real bool, want func(*row) bool, value func(*row) uint64) {
		head(f)
		for i := range rows {
			if r := &rows[i]; r.real == real && (want == nil || want(r)) {
				line(f, r.labels, "", value(r))
			}
		}
	}
	head(famReals)
	for _, s := range []struct {
		state string
		n     int
	}{{"up", st.Up}, {"down", st.Down}, {"unknown", st.Unknown}} {
		line(famReals, `{state="`+s.state+`"`, "", uint64(s.n))
	}
	plain(famWrites, uint64(st.Counts.Writes))
	plain(famWriteErrors, uint64(st.Counts.WriteErrors))
	plain(famReads, uint64(st.Counts.Reads))
	plain(famRepairs, uint64(st.Counts.Repairs))
	head(famLoaded)
	b = append(b, famLoaded.name...)
	b = append(b, ' ')
	b = strconv.AppendFloat(b, float64(st.Loaded.UnixNano())/1e9, 'g', -1, 64)
	b = append(b, '\n')

	each(famVirtualUp, false, nil, func(r *row) uint64 { return uint64(r.vUp) })
	each(famFallback, false, nil, func(r *row) uint64 { return b2u(r.fallback) })
	inTable := func(r *row) bool { return r.inTable }
	for i, f := range famVirtStats {
		each(f, false, inTable, func(r *row) uint64 { return statValue(r.stats, i) })
	}
	head(famRealUp)
	for i := range rows {
		if r := &rows[i]; r.real && r.checked {
			line(famRealUp, r.labels, `,state="`+r.state+`"`, b2u(r.up))
		}
	}
	each(famRealInTable, true, nil, func(r *row) uint64 { return b2u(r.inTable) })
	each(famWeightConf, true, func(r *row) bool { return r.weight >= 0 }, func(r *row) uint64 { return uint64(r.weight) })
	each(famWeightKernel, true, inTable, func(r *row) uint64 { return uint64(max(r.kernel.Weight, 0)) })
	each(famActive, true, inTable, func(r *row) uint64 { return uint64(r.kernel.Active) })
	each(famInactive, true, inTable, func(r *row) uint64 { return uint64(r.kernel.Inactive) })
	for i, f := range famRealStats {
		each(f, true, inTable, func(r *row) uint64 { return statValue(r.stats, i) })
	}
	return b
}

func statValue(s ipvs.Stats, i int) uint64 {
	switch i {
	case 0:
		return uint64(s.Conns)
	case 1:
		return uint64(s.PktsIn)
	case 2:
		return uint64(s.PktsOut)
	case 3:
		return uint64(s.BytesIn)
	}
	return uint64(s.BytesOut)
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return labelEscaper.Replace(s)
}

// virtualValues are the virtual's label values: address, port and mark as
// node_exporter writes them (an fwmark service has no address or port).
func virtualValues(k ipvs.Key) []string {
	addr, port := "", "0"
	if k.FWMark == 0 && k.Addr.IsValid() {
		addr, port = k.Addr.String(), strconv.Itoa(int(k.Port))
	}
	mark := ""
	if k.FWMark != 0 {
		mark = strconv.Itoa(int(k.FWMark))
	}
	proto := strings.ToUpper(k.Protocol) // as /proc/net/ip_vs: TCP, UDP, SCTP
	if k.FWMark != 0 {
		proto = "FWM"
	}
	return []string{addr, port, mark, proto}
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func b2f(b bool) float64 { return float64(b2u(b)) }
