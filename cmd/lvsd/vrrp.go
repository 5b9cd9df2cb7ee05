package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	sdaemon "github.com/coreos/go-systemd/v22/daemon"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// vrrpJSON is the VRRP part of the status.
type vrrpJSON struct {
	Instances []vrrp.InstanceStatus `json:"instances"`
	// drops no instance claimed (another VRID, malformed), per interface
	Dropped map[string]map[string]uint64 `json:"dropped_by_interface,omitempty"`
	// lvs_sync_daemon: the IPVS sync daemons running (absent without it)
	SyncDaemons []syncDaemonJSON `json:"sync_daemons,omitempty"`
}

func vrrpView(st vrrp.Status, sd *syncDaemon) vrrpJSON {
	return vrrpJSON{Instances: st.Instances, Dropped: st.Dropped, SyncDaemons: sd.status()}
}

func writeVRRPTable(w io.Writer, v vrrpJSON) {
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	if len(v.Instances) > 0 { // none: an lvs_sync_daemon without VRRP
		fmt.Fprintln(tw, "VRRP instance\tInterface\tVRID\tVer\tState\tPrio\tMaster\tSince\tSent\tRecv\tLate(last/max)\tDropped")
	}
	for _, in := range v.Instances {
		prio := fmt.Sprint(in.Priority)
		if in.Priority != in.BasePriority {
			prio = fmt.Sprintf("%d(%d)", in.Priority, in.BasePriority)
		}
		master := "-"
		if in.Master != "" {
			master = fmt.Sprintf("%s/%d", in.Master, in.MasterPrio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\tv%d\t%s\t%s\t%s\t%s\t%d\t%d\t%s/%s\t%s\n", in.Name, in.Interface, in.VRID, in.Version,
			in.State, prio, master, in.Since.Format("15:04:05"), in.Sent, in.Received,
			in.LateLast.Round(time.Microsecond), in.LateMax.Round(time.Microsecond), dropText(in.Dropped))
		if len(in.Faults) > 0 {
			fmt.Fprintf(tw, "  fault: %s\t\t\t\t\t\t\t\t\t\t\t\n", strings.Join(in.Faults, ", "))
		}
	}
	tw.Flush()
	var ifs []string
	for k := range v.Dropped {
		ifs = append(ifs, k)
	}
	sort.Strings(ifs)
	for _, k := range ifs {
		fmt.Fprintf(w, "dropped on %s (no instance claimed them): %s\n", k, dropText(v.Dropped[k]))
	}
	if v.SyncDaemons != nil {
		fmt.Fprintln(w, syncDaemonsText(v.SyncDaemons))
	}
}

// syncDaemonsText is lvs_sync_daemon's line in lvsd status.
func syncDaemonsText(ds []syncDaemonJSON) string {
	if len(ds) == 0 {
		return "lvs_sync_daemon: none running"
	}
	var parts []string
	for _, d := range ds {
		p := fmt.Sprintf("%s on %s (sync id %d", d.Role, d.Interface, d.SyncID)
		if d.Instance != "" {
			p += ", follows " + d.Instance
		}
		if d.Group != "" {
			p += ", group " + d.Group
		}
		if d.Port != 0 {
			p += fmt.Sprintf(", port %d", d.Port)
		}
		parts = append(parts, p+")")
	}
	return "lvs_sync_daemon: " + strings.Join(parts, "; ")
}

func dropText(m map[string]uint64) string {
	if len(m) == 0 {
		return "-"
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	var out []string
	for _, k := range ks {
		out = append(out, fmt.Sprintf("%s=%d", k, m[k]))
	}
	return strings.Join(out, ",")
}

// openVRRPFIFOs opens notify_fifo and vrrp_notify_fifo for the VRRP
// lines (the engine's own open of notify_fifo is for its LVS lines; two
// writers of one FIFO are fine, lines are written whole).
func openVRRPFIFOs(g *config.Global) (*notifyFIFO, error) {
	if len(g.VRRPNotifyFIFO) == 0 && len(g.NotifyFIFO) == 0 {
		return nil, nil
	}
	return openNotifyFIFOs(&config.Global{NotifyFIFO: g.NotifyFIFO, LVSNotifyFIFO: g.VRRPNotifyFIFO})
}

// reloadShared is the reloads' state that the daemon's two modes share
// (under mu): the running file's digest, the last reload tried, and the
// reload the socket calls.
type reloadShared struct {
	mu   *sync.Mutex
	sum  *string
	last **reloadJSON
	fn   *atomic.Pointer[func(string) []string]
	hup  func() // first on each SIGHUP: --logfile reopened
}

// engineStart is how vrrpOnly ends: code, or (cfg set) a reload gave the
// file virtual_server blocks and the engine is to start with what that
// reload opened (refusing it when IPVS or a FIFO could not be opened).
type engineStart struct {
	code int
	cfg  *config.Config
	nl   *ipvs.Netlink
	fifo *notifyFIFO // notify_fifo / lvs_notify_fifo, for the LVS lines
}

// vrrpOnly runs a configuration without virtual_server: VRRP and its
// addresses only, IPVS never touched (keepalived -P), so it runs on a
// kernel without IPVS. A reload that adds virtual_server blocks ends it
// with the engine to start (and VRRP goes on untouched).
func vrrpOnly(ctx context.Context, path string, cfg *config.Config, f runFlags, log *logger, side *vrrpSide, sh reloadShared, hup <-chan os.Signal) engineStart {
	// nothing but VRRP in the process: every thread at the VRRP threads'
	// priority, as keepalived's VRRP process (lib/vrrp rt.go); off again
	// before the virtual servers' checks start
	vrrp.WholeProcess(true)
	defer vrrp.WholeProcess(false)
	upgrade := make(chan engineStart, 1)
	upgrading := false // under sh.mu
	reload := func(why string) []string {
		sh.mu.Lock()
		defer sh.mu.Unlock()
		if upgrading {
			return []string{"lvsd run: the virtual servers are starting: reload again in a moment"}
		}
		next, errs := loadQuiet(f.reader, path)
		*sh.last = &reloadJSON{Time: time.Now(), Trigger: why, Result: "ok"}
		var up engineStart
		if errs == nil && len(next.Virtuals) > 0 {
			// what the engine needs that can fail, first: the reload
			// is refused with the reason, VRRP untouched
			var err error
			if !f.memIPVS {
				up.nl, err = ipvs.OpenNetlink()
			}
			if err != nil {
				errs = []string{fmt.Sprintf("%s: virtual_server blocks need IPVS: %v", path, err)}
			} else if up.fifo, err = openNotifyFIFOs(&next.Global); err != nil {
				if up.nl != nil {
					up.nl.Close()
				}
				errs = []string{fmt.Sprintf("%s: %v", path, err)}
			}
		}
		if errs == nil {
			sdaemon.SdNotify(false, "RELOADING=1\n"+sdaemon.SdNotifyMonotonicUsec())
			errs = side.reload(cfg, next)
			sdaemon.SdNotify(false, sdaemon.SdNotifyReady)
			if errs != nil && len(next.Virtuals) > 0 {
				if up.nl != nil {
					up.nl.Close()
				}
				up.fifo.discard()
			}
		}
		if errs != nil {
			(*sh.last).Result, (*sh.last).Errors = "refused", errs
			for _, l := range errs {
				log.printf("%s", l)
			}
			log.printf("lvsd run: reload of %s (%s) refused: the running configuration is kept", path, why)
			f.m.reload(false)
			return errs
		}
		f.m.reload(true)
		cfg, *sh.sum = next, readerDigest(f.reader)
		if len(next.Virtuals) > 0 {
			log.printf("lvsd run: %s now has virtual_server blocks: the virtual servers start (IPVS)", path)
			up.cfg, upgrading = next, true
			upgrade <- up
		}
		return nil
	}
	sh.fn.Store(&reload)
	log.printf("started: VRRP only (%d instance(s), no virtual_server: IPVS is not used)", len(side.router().Status().Instances))
	notifyReady()
	sdaemon.SdNotify(false, fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=VRRP for %s", os.Getpid(), filepath.Base(path)))
	for {
		select {
		case <-ctx.Done():
			sdaemon.SdNotify(false, sdaemon.SdNotifyStopping)
			side.close()
			log.printf("stopped")
			return engineStart{}
		case <-hup:
			sh.hup()
			go reload("SIGHUP")
		case up := <-upgrade:
			return up
		}
	}
}

// vrrpCollector turns the router's status into VRRP series at each scrape
// (keepalived's exporters parse dump files for the same: stale, racy).
type vrrpCollector struct{ s *vrrpSide }

var (
	vrrpLabels        = []string{"instance", "interface", "vrid"}
	descVRRPState     = prometheus.NewDesc("lvsd_vrrp_state", "1 for the instance's current state (INIT, BACKUP, MASTER, FAULT, STOP).", append(vrrpLabels, "state"), nil)
	descVRRPPrio      = prometheus.NewDesc("lvsd_vrrp_priority", "Effective priority (tracking applied).", vrrpLabels, nil)
	descVRRPBase      = prometheus.NewDesc("lvsd_vrrp_priority_configured", "Configured priority.", vrrpLabels, nil)
	descVRRPSent      = prometheus.NewDesc("lvsd_vrrp_adverts_sent_total", "Adverts sent.", vrrpLabels, nil)
	descVRRPRecv      = prometheus.NewDesc("lvsd_vrrp_adverts_received_total", "Adverts received and accepted.", vrrpLabels, nil)
	descVRRPDropped   = prometheus.NewDesc("lvsd_vrrp_adverts_dropped_total", "Adverts refused by the receive checks, by reason.", append(vrrpLabels, "reason"), nil)
	descVRRPIfDropped = prometheus.NewDesc("lvsd_vrrp_interface_dropped_total", "Adverts no instance claimed (another VRID, malformed), by reason.", []string{"interface", "reason"}, nil)
	descVRRPTrans     = prometheus.NewDesc("lvsd_vrrp_transitions_total", "State changes.", vrrpLabels, nil)
	descVRRPLate      = prometheus.NewDesc("lvsd_vrrp_advert_timer_late_seconds", "Lateness of the last advert timer.", vrrpLabels, nil)
	descVRRPLateMax   = prometheus.NewDesc("lvsd_vrrp_advert_timer_late_max_seconds", "Worst advert timer lateness since start.", vrrpLabels, nil)
	descVRRPLateOver  = prometheus.NewDesc("lvsd_vrrp_advert_timer_late_total", "Advert timers later than a tenth of advert_int.", vrrpLabels, nil)
	descSyncDaemon    = prometheus.NewDesc("lvsd_ipvs_sync_daemon_running", "1 while lvsd runs the IPVS connection-sync daemon of this role (lvs_sync_daemon).", []string{"role", "interface", "sync_id"}, nil)
)

func (vrrpCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descVRRPState, descVRRPPrio, descVRRPBase, descVRRPSent, descVRRPRecv, descVRRPDropped,
		descVRRPIfDropped, descVRRPTrans, descVRRPLate, descVRRPLateMax, descVRRPLateOver, descSyncDaemon} {
		ch <- d
	}
}

func (c vrrpCollector) Collect(ch chan<- prometheus.Metric) {
	r := c.s.router()
	if r == nil {
		return // no vrrp_instance (a reload may start VRRP)
	}
	st := r.Status()
	for _, in := range st.Instances {
		l := []string{in.Name, in.Interface, fmt.Sprint(in.VRID)}
		g := func(d *prometheus.Desc, v float64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v, append(append([]string(nil), l...), extra...)...)
		}
		n := func(d *prometheus.Desc, v uint64, extra ...string) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), append(append([]string(nil), l...), extra...)...)
		}
		for _, s := range []vrrp.Role{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Fault, vrrp.Stop} {
			g(descVRRPState, b2f(in.State == s.String()), s.String())
		}
		g(descVRRPPrio, float64(in.Priority))
		g(descVRRPBase, float64(in.BasePriority))
		n(descVRRPSent, in.Sent)
		n(descVRRPRecv, in.Received)
		for reason, v := range in.Dropped {
			n(descVRRPDropped, v, reason)
		}
		n(descVRRPTrans, in.Transitions)
		g(descVRRPLate, in.LateLast.Seconds())
		g(descVRRPLateMax, in.LateMax.Seconds())
		n(descVRRPLateOver, in.LateOver)
	}
	for ifname, m := range st.Dropped {
		for reason, v := range m {
			ch <- prometheus.MustNewConstMetric(descVRRPIfDropped, prometheus.CounterValue, float64(v), ifname, reason)
		}
	}
	if sd := c.s.syncd(); sd != nil {
		running := map[string]bool{}
		for _, d := range sd.status() {
			running[d.Role] = true
		}
		for _, role := range []string{ipvs.SyncMaster.String(), ipvs.SyncBackup.String()} {
			ch <- prometheus.MustNewConstMetric(descSyncDaemon, prometheus.GaugeValue, b2f(running[role]),
				role, sd.cfg.Interface, fmt.Sprint(sd.cfg.SyncID))
		}
	}
}

func stripSync(s *config.LVSSync) *config.LVSSync {
	if s == nil {
		return nil
	}
	x := *s
	x.Line = 0
	return &x
}
