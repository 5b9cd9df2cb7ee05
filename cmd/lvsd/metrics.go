package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

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
}

var (
	realLabels    = []string{"local_address", "local_port", "local_mark", "proto", "remote_address", "remote_port"}
	virtualLabels = []string{"local_address", "local_port", "local_mark", "proto"}

	descRealUp       = prometheus.NewDesc("lvsd_real_up", "1 when the real's checks say it is up, 0 when down or not checked yet.", append(realLabels, "state"), nil)
	descRealInTable  = prometheus.NewDesc("lvsd_real_in_table", "1 when the real is in the kernel's IPVS table.", realLabels, nil)
	descWeightConf   = prometheus.NewDesc("lvsd_real_weight_desired", "The weight the rules give the real (0: quiesced or draining).", realLabels, nil)
	descWeightKernel = prometheus.NewDesc("lvsd_real_weight", "The real's weight in the kernel, as last read or written.", realLabels, nil)
	descActive       = prometheus.NewDesc("lvsd_real_connections_active", "Active connections of the real, as the kernel counted them at the last read.", realLabels, nil)
	descInactive     = prometheus.NewDesc("lvsd_real_connections_inactive", "Inactive connections of the real, as the kernel counted them at the last read.", realLabels, nil)
	descVirtualUp    = prometheus.NewDesc("lvsd_virtual_reals_up", "Reals up in the virtual service.", virtualLabels, nil)
	descFallback     = prometheus.NewDesc("lvsd_virtual_fallback_active", "1 while the fallback (sorry server) stands in.", virtualLabels, nil)
	descReals        = prometheus.NewDesc("lvsd_reals", "Checked reals by state.", []string{"state"}, nil)
	descWrites       = prometheus.NewDesc("lvsd_netlink_writes_total", "IPVS netlink writes made.", nil, nil)
	descWriteErrors  = prometheus.NewDesc("lvsd_netlink_write_errors_total", "IPVS netlink writes the kernel refused (retried).", nil, nil)
	descReads        = prometheus.NewDesc("lvsd_table_reads_total", "Reads of the whole IPVS table (start, resync, after a refusal).", nil, nil)
	descRepairs      = prometheus.NewDesc("lvsd_drift_repairs_total", "Writes that put back what was changed in the kernel behind lvsd's back.", nil, nil)
	descRealStats    = statDescs("real", "the real", realLabels)
	descVirtStats    = statDescs("virtual", "the virtual service", virtualLabels)
	descLoaded       = prometheus.NewDesc("lvsd_config_loaded_timestamp_seconds", "When the running configuration was loaded.", nil, nil)
)

// statDescs are the IPVS counters of a real or virtual (node_exporter's
// names, per entry): connections, packets and bytes in and out.
func statDescs(what, whose string, labels []string) [5]*prometheus.Desc {
	at := " of " + whose + ", as the kernel counted them at the last table read (they wrap at 2^32 but bytes)."
	return [5]*prometheus.Desc{
		prometheus.NewDesc("lvsd_"+what+"_connections_total", "Connections"+at, labels, nil),
		prometheus.NewDesc("lvsd_"+what+"_incoming_packets_total", "Incoming packets"+at, labels, nil),
		prometheus.NewDesc("lvsd_"+what+"_outgoing_packets_total", "Outgoing packets"+at, labels, nil),
		prometheus.NewDesc("lvsd_"+what+"_incoming_bytes_total", "Incoming bytes"+at, labels, nil),
		prometheus.NewDesc("lvsd_"+what+"_outgoing_bytes_total", "Outgoing bytes"+at, labels, nil),
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
	if eng != nil {
		m.reg.MustRegister(engineCollector{eng})
	}
	if m.vrrp != nil {
		m.reg.MustRegister(vrrpCollector{m.vrrp})
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError}))
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "lvsd: metrics are at /metrics", http.StatusNotFound)
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { <-ctx.Done(); srv.Close() }()
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return
	}
}

// engineCollector turns one engine status snapshot into the table's series.
type engineCollector struct{ eng *engine.Engine }

func (engineCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRealUp, descRealInTable, descWeightConf, descWeightKernel, descActive, descInactive,
		descVirtualUp, descFallback, descReals, descWrites, descWriteErrors, descReads, descRepairs, descLoaded} {
		ch <- d
	}
	for i := range descRealStats {
		ch <- descRealStats[i]
		ch <- descVirtStats[i]
	}
}

func (c engineCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := c.eng.Status(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(descReals, err)
		return
	}
	gauge := func(d *prometheus.Desc, v float64, l ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, l...)
	}
	counter := func(d *prometheus.Desc, v int) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	stats := func(ds [5]*prometheus.Desc, s ipvs.Stats, l []string) {
		for i, v := range statValues(s) {
			ch <- prometheus.MustNewConstMetric(ds[i], prometheus.CounterValue, v, l...)
		}
	}
	gauge(descReals, float64(st.Up), "up")
	gauge(descReals, float64(st.Down), "down")
	gauge(descReals, float64(st.Unknown), "unknown")
	counter(descWrites, st.Counts.Writes)
	counter(descWriteErrors, st.Counts.WriteErrors)
	counter(descReads, st.Counts.Reads)
	counter(descRepairs, st.Counts.Repairs)
	gauge(descLoaded, float64(st.Loaded.UnixNano())/1e9)
	for _, v := range st.Virtuals {
		vl := virtualValues(v.Key)
		gauge(descVirtualUp, float64(v.Up), vl...)
		gauge(descFallback, b2f(v.Fallback), vl...)
		if v.InKernel {
			stats(descVirtStats, v.Stats, vl)
		}
		for _, r := range v.Reals {
			rl := append(vl[:len(vl):len(vl)], r.Dest.Addr.String(), strconv.Itoa(int(r.Dest.Port)))
			if r.Note.Role == director.RoleReal {
				gauge(descRealUp, b2f(r.Note.Status == director.Up), append(rl, r.Note.Status.String())...)
			}
			gauge(descRealInTable, b2f(r.InKernel), rl...)
			gauge(descWeightConf, float64(r.Dest.Weight), rl...)
			if r.InKernel {
				gauge(descWeightKernel, float64(r.Kernel.Weight), rl...)
				gauge(descActive, float64(r.Kernel.Active), rl...)
				gauge(descInactive, float64(r.Kernel.Inactive), rl...)
				stats(descRealStats, r.Kernel.Stats, rl)
			}
		}
		for _, n := range v.Out { // configured reals not in the table
			if n.Role != director.RoleReal {
				continue
			}
			rl := append(vl[:len(vl):len(vl)], n.ID.Real.Addr().String(), strconv.Itoa(int(n.ID.Real.Port())))
			gauge(descRealUp, b2f(n.Status == director.Up), append(rl, n.Status.String())...)
			gauge(descRealInTable, 0, rl...)
		}
	}
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
