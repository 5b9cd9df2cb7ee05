package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"syscall"
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
	fmt.Fprintln(tw, "VRRP instance\tInterface\tVRID\tVer\tState\tPrio\tMaster\tSince\tSent\tRecv\tLate(last/max)\tDropped")
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

// newRouter opens the VRRP side of a configuration, or nil without
// vrrp_instance. Its errors (an interface that does not exist) come
// before anything is sent. With lvs_sync_daemon it starts the IPVS
// sync daemon, which follows the instance's role; the caller closes it.
func newRouter(cfg *config.Config, log *logger, fifo *notifyFIFO, mail *vrrpMail) (*vrrp.Router, *syncDaemon, error) {
	if len(cfg.VRRP) == 0 {
		return nil, nil, nil
	}
	o := vrrp.Options{Logf: log.printf, RTPriority: cfg.Global.VRRPRTPriority}
	if fifo != nil {
		o.FIFO = fifo.write
	}
	var sd *syncDaemon
	var onRole []func(string, vrrp.Role)
	if cfg.LVSSync != nil {
		sd = newSyncDaemon(cfg.LVSSync, kernelSync{}, log.printf)
		onRole = append(onRole, sd.onRole)
	}
	if mail != nil {
		onRole = append(onRole, mail.onRole)
	}
	if len(onRole) > 0 {
		o.OnRole = func(instance string, r vrrp.Role) {
			for _, f := range onRole {
				f(instance, r)
			}
		}
	}
	r, err := vrrp.New(cfg, o)
	if err != nil {
		return nil, nil, err
	}
	if sd != nil {
		sd.start()
	}
	return r, sd, nil
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

// vrrpOnly runs a configuration without virtual_server: VRRP and its
// addresses only, IPVS never touched (keepalived -P), so it runs on a
// kernel without IPVS.
func vrrpOnly(ctx context.Context, path string, cfg *config.Config, f runFlags, log *logger, r *vrrp.Router, sd *syncDaemon) int {
	if f.pidfile != "none" {
		pidPath := runFile(f.pidfile, path, ".pid")
		if err := writePidFile(pidPath); err != nil {
			log.printf("lvsd run: %v", err)
			return 1
		}
		defer os.Remove(pidPath)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var mu sync.Mutex // reloads come from the signal and the socket
	sum := digestString(path)
	var lastReload *reloadJSON // under mu
	reload := func(why string) []string {
		mu.Lock()
		defer mu.Unlock()
		d := digestString(path)
		next, errs := loadQuiet(path)
		lastReload = &reloadJSON{Time: time.Now(), Trigger: why, Result: "ok"}
		if errs == nil {
			sdaemon.SdNotify(false, "RELOADING=1\n"+sdaemon.SdNotifyMonotonicUsec())
			errs = reloadVRRP(r, sd, cfg, next, log.printf)
			sdaemon.SdNotify(false, sdaemon.SdNotifyReady)
		}
		if errs != nil {
			lastReload.Result, lastReload.Errors = "refused", errs
			for _, l := range errs {
				log.printf("%s", l)
			}
			log.printf("lvsd run: reload of %s (%s) refused: the running configuration is kept", path, why)
			f.m.reload(false)
			return errs
		}
		f.m.reload(true)
		if len(next.Virtuals) > 0 {
			log.printf("lvsd run: %s now has virtual_server blocks: they run from the next start (this lvsd runs VRRP only)", path)
		}
		cfg, sum = next, d
		return nil
	}
	if f.socket != "none" {
		sockPath := runFile(f.socket, path, ".sock")
		ln, err := listenControl(sockPath)
		if err != nil {
			log.printf("lvsd run: control socket: %v", err)
			return 1
		}
		defer os.Remove(sockPath)
		c := &control{vrrp: r, syncd: sd, path: path, digest: func() string { mu.Lock(); defer mu.Unlock(); return sum },
			reload:     func() []string { return reload("lvsd reload") },
			lastReload: func() *reloadJSON { mu.Lock(); defer mu.Unlock(); return lastReload }}
		go c.serve(ctx, ln)
	}
	if f.m != nil {
		f.m.vrrp, f.m.syncd = r, sd
		go f.m.serve(ctx, f.metricsLn, nil)
	}
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	log.printf("started: VRRP only (%d instance(s), no virtual_server: IPVS is not used)", len(r.Status().Instances))
	notifyReady()
	sdaemon.SdNotify(false, fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=VRRP for %s", os.Getpid(), filepath.Base(path)))
	for {
		select {
		case err := <-done:
			sdaemon.SdNotify(false, sdaemon.SdNotifyStopping)
			if err != nil {
				log.printf("lvsd run: %v", err)
				return 1
			}
			log.printf("stopped")
			return 0
		case <-hup:
			go reload("SIGHUP")
		}
	}
}

// vrrpCollector turns the router's status into VRRP series at each scrape
// (keepalived's exporters parse dump files for the same: stale, racy).
type vrrpCollector struct {
	r  *vrrp.Router
	sd *syncDaemon // nil without lvs_sync_daemon
}

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
	st := c.r.Status()
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
	if c.sd != nil {
		running := map[string]bool{}
		for _, d := range c.sd.status() {
			running[d.Role] = true
		}
		for _, role := range []string{ipvs.SyncMaster.String(), ipvs.SyncBackup.String()} {
			ch <- prometheus.MustNewConstMetric(descSyncDaemon, prometheus.GaugeValue, b2f(running[role]),
				role, c.sd.cfg.Interface, fmt.Sprint(c.sd.cfg.SyncID))
		}
	}
}

// reloadVRRP applies the VRRP part of a reloaded configuration (the
// router's Reload: unchanged instances untouched, changed ones in place,
// removed ones stopped, new ones started). Its errors (an interface that
// does not exist) refuse the whole reload: nil means applied. Without a
// router (no vrrp_instance at start) VRRP added by the file waits for
// the next start, and lvs_sync_daemon's settings are read at start.
func reloadVRRP(r *vrrp.Router, sd *syncDaemon, old, next *config.Config, logf func(string, ...any)) []string {
	if r == nil {
		if vrrpChanged(old, next) {
			logf("lvsd run: vrrp_instance blocks in %s: VRRP starts at the next start (this lvsd runs without it)", next.Source)
		}
		return nil
	}
	lines, err := r.Reload(next)
	if err != nil {
		return strings.Split(err.Error(), "\n")
	}
	for _, l := range lines {
		logf("%s", l)
	}
	if !reflect.DeepEqual(old.Global.VRRPNotifyFIFO, next.Global.VRRPNotifyFIFO) || !reflect.DeepEqual(old.Global.NotifyFIFO, next.Global.NotifyFIFO) {
		logf("lvsd run: the notify FIFOs changed in %s: VRRP's lines go to the ones opened at start until the next start", next.Source)
	}
	if !reflect.DeepEqual(stripSync(old.LVSSync), stripSync(next.LVSSync)) {
		if sd == nil || next.LVSSync == nil {
			logf("lvsd run: lvs_sync_daemon added or removed in %s: it takes effect at the next start", next.Source)
		} else {
			role := vrrp.Backup
			for _, in := range r.Status().Instances {
				if in.Name == next.LVSSync.Instance && in.State == vrrp.Master.String() {
					role = vrrp.Master
				}
			}
			logf("lvsd run: lvs_sync_daemon changed in %s: the sync daemons restart with it", next.Source)
			sd.reload(next.LVSSync, role)
		}
	}
	return nil
}

func stripSync(s *config.LVSSync) *config.LVSSync {
	if s == nil {
		return nil
	}
	x := *s
	x.Line = 0
	return &x
}

// vrrpChanged: the VRRP side of a reloaded configuration differs.
func vrrpChanged(a, b *config.Config) bool {
	type part struct {
		VRRP    []*config.VRRPInstance
		Groups  []*config.SyncGroup
		Scripts []*config.TrackScript
		Files   []*config.TrackFile
		Sync    *config.LVSSync
		RT      int
	}
	strip := func(c *config.Config) part {
		p := part{Groups: c.SyncGroups, Sync: c.LVSSync, RT: c.Global.VRRPRTPriority, Files: c.TrackFiles}
		for _, in := range c.VRRP {
			x := *in
			x.Line = 0 // a line moved is not a change
			x.VIPs, x.Excluded = noLines(in.VIPs), noLines(in.Excluded)
			p.VRRP = append(p.VRRP, &x)
		}
		for _, s := range c.Scripts {
			x := *s
			x.Line = 0
			p.Scripts = append(p.Scripts, &x)
		}
		return p
	}
	return !reflect.DeepEqual(strip(a), strip(b))
}

func noLines(vs []config.VIP) []config.VIP {
	out := append([]config.VIP(nil), vs...)
	for i := range out {
		out[i].Line = 0
	}
	return out
}
