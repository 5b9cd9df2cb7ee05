package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/common/expfmt"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
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
	inflight prometheus.Gauge
	reloads  *prometheus.CounterVec
	reloaded prometheus.Gauge
	vrrp     *vrrp.Router // VRRP series when set
	syncd    *syncDaemon  // lvs_sync_daemon's series when set
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

func statValues(s ipvs.Stats) [5]float64 {
	return [5]float64{float64(s.Conns), float64(s.PktsIn), float64(s.PktsOut), float64(s.BytesIn), float64(s.BytesOut)}
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		checks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_checks_total",
			Help: "Health check probes run, by check type and outcome (a probe serves every real that shares it)."}, []string{"type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "lvsd_check_duration_seconds",
			Help:    "Time a health check probe took, by check type.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"type"}),
		inflight: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_checks_in_flight", Help: "Health check probes running now."}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "lvsd_reloads_total",
			Help: "Reloads of the configuration, by result (refused: the file had errors and the running configuration was kept)."}, []string{"result"}),
		reloaded: prometheus.NewGauge(prometheus.GaugeOpts{Name: "lvsd_last_reload_timestamp_seconds", Help: "When the last reload was tried (0: none yet)."}),
	}
	m.reloads.WithLabelValues("ok")
	m.reloads.WithLabelValues("refused")
	m.reg.MustRegister(m.checks, m.latency, m.inflight, m.reloads, m.reloaded,
		collectors.NewBuildInfoCollector(), collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// probeFunc is the engine's Probe: nil (check.Run) without metrics.
func (m *metrics) probeFunc() func(context.Context, *check.Spec) check.Result {
	if m == nil {
		return nil
	}
	return m.probe
}

// probe runs a check and counts it.
func (m *metrics) probe(ctx context.Context, s *check.Spec) check.Result {
	m.inflight.Inc()
	r := check.Run(ctx, s)
	m.inflight.Dec()
	outcome := "down"
	if r.OK {
		outcome = "up"
	}
	m.checks.WithLabelValues(s.Type, outcome).Inc()
	m.latency.WithLabelValues(s.Type).Observe(r.Latency.Seconds())
	return r
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
	if m.vrrp != nil {
		m.reg.MustRegister(vrrpCollector{m.vrrp, m.syncd})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/metrics", func(w http.ResponseWriter, r *http.Request) { m.scrape(w, r, eng) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "lvsd: metrics are at /metrics", http.StatusNotFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return
	}
}

// scrape answers /metrics in the text format: the registry's series
// (checks, reloads, VRRP, build, Go, process) through client_golang's
// encoder, then the engine's, written straight from one status snapshot.
// At 10,000 reals those are 110,000 series, and client_golang spent most
// of a scrape sorting and checking them as const metrics (bench/status.sh:
// 0.8 s of CPU); the snapshot is in table order, its series unique by
// construction.
func (m *metrics) scrape(w http.ResponseWriter, r *http.Request, eng *engine.Engine) {
	var buf bytes.Buffer
	mfs, err := m.reg.Gather()
	for _, mf := range mfs {
		expfmt.MetricFamilyToText(&buf, mf) //nolint:errcheck // a bytes.Buffer
	}
	if err != nil {
		fmt.Fprintf(&buf, "# lvsd: gathering: %s\n", strings.ReplaceAll(err.Error(), "\n", " "))
	}
	if eng != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
		st, err := eng.Status(ctx)
		cancel()
		if err != nil {
			http.Error(w, "lvsd: engine status: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		writeEngineMetrics(&buf, st)
	}
	w.Header().Set("Content-Type", string(expfmt.FmtText))
	if strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
		w.Header().Set("Content-Encoding", "gzip")
		gz, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // 15 MiB at 10,000 reals: the default level costs more than the rest
		gz.Write(buf.Bytes())                           //nolint:errcheck // the scraper went away
		gz.Close()
		return
	}
	w.Write(buf.Bytes()) //nolint:errcheck // the scraper went away
}

// family is one metric family of the engine's series.
type family struct{ name, typ, help string }

// textWriter collects the engine's series by family, each written once
// with its HELP and TYPE lines.
type textWriter struct {
	order []family
	lines map[string]*bytes.Buffer
}

func (t *textWriter) add(f family, v float64, labels ...string) {
	b := t.lines[f.name]
	if b == nil {
		b = &bytes.Buffer{}
		t.lines[f.name] = b
		t.order = append(t.order, f)
	}
	b.WriteString(f.name)
	if len(labels) > 0 {
		b.WriteByte('{')
		for i := 0; i+1 < len(labels); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(labels[i])
			b.WriteString(`="`)
			b.WriteString(escapeLabel(labels[i+1]))
			b.WriteByte('"')
		}
		b.WriteByte('}')
	}
	b.WriteByte(' ')
	b.Write(strconv.AppendFloat(nil, v, 'g', -1, 64))
	b.WriteByte('\n')
}

func (t *textWriter) writeTo(w *bytes.Buffer) {
	for _, f := range t.order {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n", f.name, f.help, f.name, f.typ)
		w.Write(t.lines[f.name].Bytes())
	}
}

var labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)

func escapeLabel(s string) string {
	if !strings.ContainsAny(s, "\\\"\n") {
		return s
	}
	return labelEscaper.Replace(s)
}

// writeEngineMetrics is the engine's series from one snapshot. Labels are
// node_exporter's ipvs collector's, in the order client_golang writes
// them (sorted by name).
func writeEngineMetrics(w *bytes.Buffer, st engine.Status) {
	t := &textWriter{lines: map[string]*bytes.Buffer{}}
	t.add(famReals, float64(st.Up), "state", "up")
	t.add(famReals, float64(st.Down), "state", "down")
	t.add(famReals, float64(st.Unknown), "state", "unknown")
	t.add(famWrites, float64(st.Counts.Writes))
	t.add(famWriteErrors, float64(st.Counts.WriteErrors))
	t.add(famReads, float64(st.Counts.Reads))
	t.add(famRepairs, float64(st.Counts.Repairs))
	t.add(famLoaded, float64(st.Loaded.UnixNano())/1e9)
	stats := func(fs [5]family, s ipvs.Stats, l []string) {
		for i, v := range statValues(s) {
			t.add(fs[i], v, l...)
		}
	}
	for _, v := range st.Virtuals {
		vv := virtualValues(v.Key) // address, port, mark, proto
		vl := []string{"local_address", vv[0], "local_mark", vv[2], "local_port", vv[1], "proto", vv[3]}
		t.add(famVirtualUp, float64(v.Up), vl...)
		t.add(famFallback, b2f(v.Fallback), vl...)
		if v.InKernel {
			stats(famVirtStats, v.Stats, vl)
		}
		real := func(a netip.Addr, port uint16) []string {
			return append(vl[:len(vl):len(vl)], "remote_address", a.String(), "remote_port", strconv.Itoa(int(port)))
		}
		for _, r := range v.Reals {
			rl := real(r.Dest.Addr, r.Dest.Port)
			if r.Note.Role == director.RoleReal {
				t.add(famRealUp, b2f(r.Note.Status == director.Up), append(rl, "state", r.Note.Status.String())...)
			}
			t.add(famRealInTable, b2f(r.InKernel), rl...)
			t.add(famWeightConf, float64(r.Dest.Weight), rl...)
			if r.InKernel {
				t.add(famWeightKernel, float64(r.Kernel.Weight), rl...)
				t.add(famActive, float64(r.Kernel.Active), rl...)
				t.add(famInactive, float64(r.Kernel.Inactive), rl...)
				stats(famRealStats, r.Kernel.Stats, rl)
			}
		}
		for _, n := range v.Out { // configured reals not in the table
			if n.Role != director.RoleReal {
				continue
			}
			rl := real(n.ID.Real.Addr(), n.ID.Real.Port())
			t.add(famRealUp, b2f(n.Status == director.Up), append(rl, "state", n.Status.String())...)
			t.add(famRealInTable, 0, rl...)
		}
	}
	t.writeTo(w)
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

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
