package main

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	sdaemon "github.com/coreos/go-systemd/v22/daemon"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
	"github.com/ocf-lvs/ocf-lvs/lib/preflight"
)

func init() {
	register(subcommand{name: "run", summary: "run the director: health checks driving kernel IPVS (--dry-run: print the operations, change nothing)", run: runRun})
}

const runHelp = `usage: lvsd run [options] FILE

Runs the director for FILE (ldirectord.cf, keepalived.conf, or ocf-lvs
TOML; VRRP below) in the foreground: every health check on its own
interval, and the kernel IPVS table kept equal to what the checks say, by
diff (never flushed; services of other configurations never touched).

  - Start adopts the kernel table in place: a real already there keeps its
    weight until its first check result (a restart causes no flap and no
    reset); a new real enters after its first passing check.
  - quiescent, readdquiescent, fallback, fallbackcommand, failurecount,
    checkinterval, maintenancedir and cleanstop act as in ldirectord;
    keepalived's inhibit_on_failure, sorry_server and quorum/hysteresis
    (quorum_up / quorum_down) as in keepalived.
  - The kernel table is re-read every checkinterval (longer only when one
    read costs more than 2% of that); an entry deleted or edited by hand is
    put back and the repair logged.
  - SIGHUP (or ` + "`lvsd reload FILE`" + `) reloads: a bad file is reported as
    FILE:LINE and the running configuration is kept; unchanged checks keep
    their state; a real or virtual removed from the file drains (weight 0,
    deleted when its active connections end, --drain-timeout at most).
  - SIGTERM / SIGINT stop; cleanstop=yes (the default) removes the virtual
    services of FILE, cleanstop=no leaves them as they are.

VRRP mode: a keepalived.conf (or TOML) with vrrp_instance blocks runs VRRP
in the same process, on the wire with keepalived (v2 with PASS, v3, IPv4
and IPv6, multicast or unicast_peer): the master holds the
virtual_ipaddress and announces it (gratuitous ARP / unsolicited NA),
track_script / track_file / track_interface move the priority, notify_*
and notify run as in keepalived, vrrp_sync_group members fail over
together. Each instance has its own timer goroutine; the lateness of its
advert timer is in ` + "`lvsd status`" + `. A configuration with no virtual_server
never touches IPVS (keepalived -P): it runs on a kernel without IPVS. On
SIGTERM the master sends priority 0 and removes its addresses, so the
backup takes over at once. A reload applies the VRRP part as
keepalived's does: unchanged instances keep their state (no transition),
changed ones are updated in place, removed ones stop, new ones start;
VRRP starts when the file gains its first vrrp_instance and stops (as on
SIGTERM) when it loses the last; lvs_sync_daemon, the VRRP FIFOs and
vrrp_rt_priority follow the file; virtual_server blocks added to a
VRRP-only lvsd start the IPVS side (refused where the kernel has none).

Each state change and each IPVS write is logged on stderr, one line each.
-d (--debug; ldirectord's -d, keepalived's -D) adds lines starting
"debug: ": each check's result with its latency, each netlink call with
its result and duration, each plan and what it decided per virtual, and a
reload's difference (virtuals and reals added, removed, changed; settings
named, never their values). Off, none of it is formatted.

A reload also applies a changed notify_fifo / lvs_notify_fifo (the new
FIFOs opened, the old closed) and a changed metrics key (the new address
bound first: when it cannot be, the reload is refused with the reason and
the old listener keeps serving; --metrics on the command line wins over
the key).
With --dry-run nothing touches the kernel: the table starts empty, is only
imagined, and the changes are printed on stdout as ipvsadm-restore lines;
when it ends (--for D, or a signal) it prints each real's final state (up,
down, not checked yet) per virtual, and exits 0 if every virtual has a
real up, 3 if one has none.

Exit status: 0 stopped, 1 the kernel has no IPVS or could not be read,
2 FILE is invalid (errors as FILE:LINE: message; also a vrrp_instance
interface that does not exist here).

options:
`

type runFlags struct {
	dry     bool
	memIPVS bool // --ipvs-in-memory
	noVRRP  bool // --no-vrrp
	dur     time.Duration
	stats   time.Duration
	maxc    int
	quiet   bool
	cpuprof string
	memprof string
	trace   string
	state   string
	pidfile string
	drain   time.Duration
	resync  time.Duration
	timeout time.Duration
	socket  string
	metrics string
	logfile string
	// set from metrics at start
	metricsLn   net.Listener
	m           *metrics
	metricsFlag bool // --metrics given: the TOML key (and its reloads) ignored
	debug       bool
	// reader read the file at start and reads it at each reload (a
	// keepalived.conf in part: config.Reader)
	reader *config.Reader
}

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var f runFlags
	fs.BoolVar(&f.dry, "dry-run", false, "check and print, never touch the kernel")
	fs.BoolVar(&f.memIPVS, "ipvs-in-memory", false, "benchmarks: the daemon whole (VRRP, checks, reloads, socket) over an in-memory IPVS table, the kernel's IPVS never opened (a host without ip_vs)")
	fs.BoolVar(&f.noVRRP, "no-vrrp", false, "do not run the file's vrrp_instance blocks (nor lvs_sync_daemon), each one warned about: the virtual servers only, for a cluster that owns the addresses itself (ocf:lvs:director passes it)")
	fs.DurationVar(&f.dur, "for", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	fs.DurationVar(&f.stats, "stats", 0, "print check throughput to stderr at this period (0: never)")
	fs.IntVar(&f.maxc, "max-concurrent", 1024, "checks (and so sockets) in flight at most")
	fs.BoolVar(&f.quiet, "quiet", false, "dry run: print state changes only, not the IPVS operations")
	fs.StringVar(&f.cpuprof, "cpuprofile", "", "write a Go CPU profile to this file (performance work)")
	fs.StringVar(&f.memprof, "memprofile", "", "write a Go heap profile (every allocation sampled, alloc_space) to this file at exit (performance work)")
	fs.StringVar(&f.trace, "trace", "", "write a Go execution trace to this file (performance work: go tool trace)")
	fs.StringVar(&f.state, "state", "", "state file: the virtual services this configuration owns (default /run/lvsd/NAME.state)")
	fs.StringVar(&f.pidfile, "pidfile", "", "pid file (default /run/lvsd/NAME.pid; \"none\": no pid file)")
	fs.StringVar(&f.socket, "socket", "", "control socket for lvsd status / ctl / reload (default /run/lvsd/NAME.sock; \"none\": no socket; a dry run has one only when named)")
	fs.DurationVar(&f.drain, "drain-timeout", 60*time.Second, "a removed real or virtual is deleted when its active connections end, or after this long (0: at once, as ldirectord)")
	fs.DurationVar(&f.resync, "resync", 0, "re-read and repair the kernel table this often (0: checkinterval, longer for a costly table)")
	fs.DurationVar(&f.timeout, "timeout", ipvs.DefaultTimeout, "deadline of each netlink call")
	fs.StringVar(&f.logfile, "logfile", "", "append the log to this file instead of stderr; reopened on SIGHUP and when renamed away (logrotate)")
	fs.BoolVar(&f.debug, "d", false, "debug lines in the log (\"debug: \"): each check's result and latency, each netlink call, each plan, a reload's difference")
	fs.BoolVar(&f.debug, "debug", false, "the same as -d")
	fs.StringVar(&f.metrics, "metrics", "", "serve Prometheus metrics at http://ADDR/metrics (host:port; default: the TOML's metrics key, else off; \"none\": off)")
	if code, done := parseFileArg(fs, runHelp, args, stdout); done {
		return code
	}
	path := fs.Arg(0)
	f.reader = config.NewReader(config.Options{NoVRRP: f.noVRRP})
	cfg, ok := report(f.reader.Load(path))(stderr)
	if !ok {
		return 2
	}
	if f.cpuprof != "" {
		pf, err := os.Create(f.cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd run: %v\n", err)
			return 1
		}
		pprof.StartCPUProfile(pf)
		defer pprof.StopCPUProfile()
	}
	if f.memprof != "" {
		pf, err := os.Create(f.memprof)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd run: %v\n", err)
			return 1
		}
		runtime.MemProfileRate = 1 // steady-state garbage is small: see every byte of it
		defer func() {
			pprof.Lookup("allocs").WriteTo(pf, 0)
			pf.Close()
		}()
	}
	if f.trace != "" {
		tf, err := os.Create(f.trace)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd run: %v\n", err)
			return 1
		}
		trace.Start(tf)
		defer func() { trace.Stop(); tf.Close() }()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if f.dur > 0 {
		ctx, cancel = context.WithTimeout(ctx, f.dur)
		defer cancel()
	}
	from := "--metrics"
	f.metricsFlag = f.metrics != ""
	switch f.metrics {
	case "":
		f.metrics = cfg.Global.Metrics // TOML's metrics key
		from = fmt.Sprintf("metrics = %q in %s", f.metrics, path)
	case "none":
		f.metrics = ""
	}
	if f.metrics != "" {
		ln, err := listenMetrics(f.metrics)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd run: %s: %v\n", from, err)
			return 1
		}
		f.metricsLn, f.m = ln, newMetrics()
		defer ln.Close()
	}
	if f.dry {
		return dryRun(ctx, cfg, f, stdout, stderr)
	}
	return daemon(ctx, path, cfg, f, stderr)
}

// instanceName is the configuration's name for its run files, as
// ldirectord names its pid file: the file's base name.
func instanceName(path string) string {
	return filepath.Base(path)
}

func runFile(flagValue, path, ext string) string {
	if flagValue != "" {
		return flagValue
	}
	return filepath.Join("/run/lvsd", instanceName(path)+ext)
}

func daemon(ctx context.Context, path string, cfg *config.Config, f runFlags, stderr io.Writer) int {
	var lf *logFile
	if f.logfile != "" {
		var err error
		if lf, err = openLogFile(f.logfile); err != nil {
			fmt.Fprintf(stderr, "lvsd run: --logfile: %v\n", err)
			return 1
		}
		defer lf.Close()
		stderr = lf
	}
	log := newLogger(stderr)
	defer log.sync() // the last lines are written before lvsd exits
	// How long the stop took, from the signal (or --for's end) to the
	// last step before the exit: the agent's stop, and so a cluster's
	// move, waits for it. The engine's stopped line has its own steps.
	var stopAt atomic.Int64
	context.AfterFunc(ctx, func() { stopAt.Store(time.Now().UnixNano()) })
	defer func() {
		if at := stopAt.Load(); at != 0 {
			log.printf("lvsd run: exiting, %s after the stop signal", msSince(time.Unix(0, at)))
		}
	}()
	var vfifo *notifyFIFO
	if len(cfg.VRRP) > 0 {
		var err error
		if vfifo, err = openVRRPFIFOs(&cfg.Global); err != nil {
			log.printf("lvsd run: %v", err)
			return 1
		}
	}
	side, err := newVRRPSide(cfg, vfifo, log.printf)
	if err != nil {
		vfifo.discard()
		log.printf("%v", err)
		return 2
	}
	// VRRP beside the director, as keepalived runs both: its own
	// goroutines, stopped cleanly (priority 0, VIPs removed) when the
	// daemon ends, before the process exits; then the sync daemons, and
	// VRRP's mails (smtp_alert: the STOPs) sent within a bound
	defer side.close()
	if f.pidfile != "none" {
		pidPath := runFile(f.pidfile, path, ".pid")
		if err := writePidFile(pidPath); err != nil {
			log.printf("lvsd run: %v", err)
			return 1
		}
		defer os.Remove(pidPath)
	}
	// what both modes share (VRRP only, and with the engine a reload of
	// VRRP only may start): the reloads' state, the metrics, the socket
	var mu sync.Mutex // reloads come from signals, the file watch and the socket
	// the digest of the bytes read, not of the file read again
	sum := readerDigest(f.reader)
	var lastReload *reloadJSON // under mu
	var reloadFn atomic.Pointer[func(string) []string]
	starting := func(string) []string { return []string{"lvsd run: starting: reload again in a moment"} }
	reloadFn.Store(&starting)
	if f.m == nil {
		f.m = newMetrics() // a reload may turn the metrics key on
	}
	f.m.vrrp = side
	msrv := f.m.server(nil)
	if f.metricsLn != nil {
		msrv.set(f.metrics, f.metricsLn)
	}
	defer msrv.close()
	ctl := &control{vrrp: side, path: path, reload: func() []string { return (*reloadFn.Load())("lvsd reload") }, logged: log.sync,
		digest:     func() string { mu.Lock(); defer mu.Unlock(); return sum },
		lastReload: func() *reloadJSON { mu.Lock(); defer mu.Unlock(); return lastReload }}
	if f.socket != "none" {
		sockPath := runFile(f.socket, path, ".sock")
		ln, err := listenControl(sockPath)
		if err != nil {
			log.printf("lvsd run: control socket: %v", err)
			return 1
		}
		defer os.Remove(sockPath)
		go ctl.serve(ctx, ln)
	}
	// one SIGHUP channel for both modes: never a moment without (its
	// default action would end lvsd)
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	reopenLog := func() {
		if lf != nil {
			// logrotate's postrotate: kill -HUP (or lvsd reload)
			if err := lf.Reopen(); err != nil {
				log.printf("lvsd run: --logfile: reopen %s: %v (still writing to the file open before)", f.logfile, err)
			}
		}
	}
	side.run(ctx)
	var up engineStart // opened by the reload that starts the engine
	if side.router() != nil && len(cfg.Virtuals) == 0 {
		up = vrrpOnly(ctx, path, cfg, f, log, side, reloadShared{mu: &mu, sum: &sum, last: &lastReload, fn: &reloadFn, hup: reopenLog}, hup)
		if up.cfg == nil {
			return up.code
		}
		// a reload gave it virtual_server blocks: the engine starts
		// beside the VRRP running (keepalived's parent starts its
		// checker process then), with what that reload opened
		cfg = up.cfg
	}
	var kernel ipvs.Kernel
	if f.memIPVS {
		kernel = ipvs.NewMem(nil) // vrrpOnly opened no netlink either
	} else {
		nl := up.nl
		if nl == nil {
			if nl, err = ipvs.OpenNetlink(); err != nil {
				log.printf("lvsd run: %v", err)
				return 1
			}
		}
		defer nl.Close()
		nl.Timeout = f.timeout
		kernel = nl
	}
	facts := hostFacts()
	facts.IPVS = preflight.Known(true) // OpenNetlink just proved (or loaded) it; in memory: not needed
	for _, w := range preflight.Check(cfg, facts) {
		log.printf("%s", w)
	}
	statePath := runFile(f.state, path, ".state")
	owned, err := readState(statePath)
	if err != nil {
		log.printf("lvsd run: %v (ignored: only the configured services are owned)", err)
	}
	first := up.fifo
	if up.cfg == nil {
		if first, err = openNotifyFIFOs(&cfg.Global); err != nil {
			log.printf("lvsd run: %v", err)
			return 1
		}
	}
	var fifo atomic.Pointer[notifyFIFO] // a reload may reopen it
	fifo.Store(first)
	defer func() { fifo.Load().close() }()
	alerts := newAlerter(cfg, log.printf)
	// not on ctx: at SIGTERM the stop's own mails are still to come; the
	// queue is sent out (10 s at most) once the engine has stopped
	go alerts.run(context.Background())
	defer alerts.drain(10 * time.Second)
	report := func(r engine.Report) { log.report(r); fifo.Load().report(r); alerts.report(r) }
	ovPath := overridesPath(statePath, path)
	overrides, bad := readOverrides(ovPath)
	for _, l := range bad {
		log.printf("lvsd run: %s", l)
	}
	if len(overrides) > 0 {
		log.printf("overrides in force (%s): %d", ovPath, len(overrides))
	}
	// systemd: Type=notify with a watchdog fed by the engine's own loop
	watchdog, _ := sdaemon.SdWatchdogEnabled(false)
	var beat func()
	if watchdog > 0 {
		beat = func() { sdaemon.SdNotify(false, sdaemon.SdNotifyWatchdog) }
	}
	observe := f.m.observeFunc()
	var debugf func(string, ...any) // nil: no debug line is formatted
	if f.debug {
		debugf = log.debugf
		kernel, observe = newDebugKernel(kernel, log.debugf), observers(observe, debugObserve(log.debugNow))
	}
	eng := engine.New(cfg, engine.Options{
		Kernel: kernel, Owned: owned, DrainTimeout: f.drain, Resync: f.resync, MaxConcurrent: f.maxc, Debug: debugf,
		Lookup: reverseName, Report: report, Flush: log.flush, Heartbeat: beat, HeartbeatEvery: watchdog / 3, Observe: observe,
		Overrides: overrides, SaveOverrides: func(o director.Overrides) error { return writeOverrides(ovPath, path, o) },
		SaveOwned: func(k []ipvs.Key) error {
			if err := os.MkdirAll(filepath.Dir(statePath), 0o755); err != nil {
				return err
			}
			return writeState(statePath, k)
		},
	})
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	dumpPath := filepath.Join(filepath.Dir(statePath), instanceName(path)+".status.json")
	reload := func(why string) []string {
		mu.Lock()
		defer mu.Unlock()
		next, errs := loadQuiet(f.reader, path)
		lastReload = &reloadJSON{Time: time.Now(), Trigger: why, Result: "ok"}
		// what a reload opens anew (a changed notify_fifo, metrics
		// address) is opened before anything changes: a failure refuses
		// the reload with its reason, and the old stays in use
		var nextFIFO *notifyFIFO
		if errs == nil && fifoPaths(&next.Global) != fifoPaths(&cfg.Global) {
			var err error
			if nextFIFO, err = openNotifyFIFOs(&next.Global); err != nil {
				errs = []string{fmt.Sprintf("%s: %v", path, err)}
			}
		}
		var nextLn net.Listener
		metricsMoved := false
		if errs == nil && next.Global.Metrics != cfg.Global.Metrics {
			switch {
			case f.metricsFlag:
				log.printf("lvsd run: the metrics key changed in %s (%q): ignored, the command line's --metrics %q stands", path, next.Global.Metrics, f.metrics)
			case next.Global.Metrics != "" && next.Global.Metrics != msrv.current():
				ln, err := listenMetrics(next.Global.Metrics)
				if err != nil {
					errs = []string{fmt.Sprintf("%s: metrics = %q: %v (the metrics stay at %q)", path, next.Global.Metrics, err, msrv.current())}
					nextFIFO.discard()
				}
				nextLn, metricsMoved = ln, err == nil
			default:
				metricsMoved = true // turned off (or back to where it serves)
			}
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
		sdaemon.SdNotify(false, "RELOADING=1\n"+sdaemon.SdNotifyMonotonicUsec())
		// VRRP first: what can refuse it (an interface that does not
		// exist) must refuse the whole reload, before IPVS is touched
		if errs := side.reload(cfg, next); errs != nil {
			nextFIFO.discard()
			if nextLn != nil {
				nextLn.Close()
			}
			lastReload.Result, lastReload.Errors = "refused", errs
			for _, l := range errs {
				log.printf("%s", l)
			}
			log.printf("lvsd run: reload of %s (%s) refused: the running configuration is kept", path, why)
			f.m.reload(false)
			sdaemon.SdNotify(false, sdaemon.SdNotifyReady)
			return errs
		}
		f.m.reload(true)
		if nextFIFO != nil || fifoPaths(&next.Global) != fifoPaths(&cfg.Global) {
			old := fifo.Swap(nextFIFO.takeOver(fifo.Load()))
			old.close()
			log.printf("lvsd run: notify FIFO now %s (was %s)", orNone(fifoPaths(&next.Global)), orNone(fifoPaths(&cfg.Global)))
		}
		if metricsMoved {
			was := msrv.current()
			if nextLn != nil {
				msrv.set(next.Global.Metrics, nextLn)
			} else if next.Global.Metrics == "" {
				msrv.close()
			}
			log.printf("lvsd run: metrics now at %s (were at %s)", orNone(msrv.current()), orNone(was))
		}
		if f.debug {
			for _, l := range configDiff(cfg, next) {
				log.debugNow("reload: %s", l)
			}
		}
		alerts.setStatus("reloading")
		alerts.setGlobal(&next.Global)
		defer alerts.setStatus("running")
		if err := eng.Reload(ctx, next); err != nil {
			log.printf("lvsd run: reload: %v", err)
		}
		log.sync() // its lines are in the log when lvsd reload answers
		sdaemon.SdNotify(false, sdaemon.SdNotifyReady)
		// the digest of the bytes loaded, after the writes: off their path
		cfg, sum = next, readerDigest(f.reader)
		return nil
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	ctl.eng.Store(eng)
	f.m.eng.Store(eng)
	reloadFn.Store(&reload)
	go func() {
		select {
		case <-eng.Ready():
			alerts.setStatus("running")
			notifyReady()
			sdaemon.SdNotify(false, fmt.Sprintf("READY=1\nMAINPID=%d\nSTATUS=directing %s", os.Getpid(), path))
		case <-ctx.Done():
		}
		<-ctx.Done()
		alerts.setStatus("stopping")
		sdaemon.SdNotify(false, sdaemon.SdNotifyStopping)
	}()
	if f.stats > 0 {
		go printStats(ctx, eng, f.stats, stderr)
	}
	// The file is always watched: autoreload and callback are read from the
	// running configuration at each change, so that a reload turning them
	// on or off takes effect (ldirectord's check_cfgfile does the same).
	changed, err := watchFile(ctx, path)
	if err != nil && (cfg.Global.AutoReload || cfg.Global.Callback != "") {
		log.printf("lvsd run: autoreload: cannot watch %s: %v (reload with SIGHUP)", path, err)
	}
	for {
		select {
		case err := <-done:
			if err != nil {
				log.printf("lvsd run: %v", err)
				return 1
			}
			return 0
		case <-hup:
			reopenLog()
			go reload("SIGHUP")
		case <-usr1:
			// keepalived users' habit: kill -USR1, then read the dump
			go func() {
				mu.Lock()
				d, last := sum, lastReload
				mu.Unlock()
				if err := dumpStatus(ctx, eng, d, last, dumpPath); err != nil {
					log.printf("lvsd run: status dump: %v", err)
				} else {
					log.printf("status written to %s (SIGUSR1)", dumpPath)
				}
			}()
		case _, ok := <-changed:
			if !ok {
				changed = nil
				continue
			}
			mu.Lock()
			cb, auto := cfg.Global.Callback, cfg.Global.AutoReload
			mu.Unlock()
			if cb != "" {
				// ldirectord: the callback gets the configuration's path on
				// any change, with autoreload or without
				log.printf("run: %s %s", cb, path)
				startCommand(cb + " " + shellQuote(path))
			}
			if auto {
				go reload("autoreload: the file changed")
			} else {
				log.printf("%s changed on disk: not reloaded (autoreload=no; reload with SIGHUP or lvsd reload)", path)
			}
		}
	}
}

// readerDigest is the SHA-256 of the bytes rd read last, in hex.
func readerDigest(rd *config.Reader) string { return fmt.Sprintf("%x", rd.Digest()) }

// digestString is the SHA-256 of the file, in hex ("" if unreadable).
func digestString(path string) string {
	d := digest(path)
	if d == ([32]byte{}) {
		return ""
	}
	return fmt.Sprintf("%x", d)
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// startCommand runs a command line with sh in the background.
func startCommand(line string) {
	cmd := exec.Command("/bin/sh", "-c", line)
	if cmd.Start() == nil {
		go cmd.Wait() //nolint:errcheck // fire and forget, as ldirectord
	}
}

// notifyReady tells whoever started us that the first full pass is done:
// a parent waiting on the descriptor named by LVSD_READY_FD (`lvsd start`,
// the director agent) gets one line.
func notifyReady() { readyOnce.Do(notifyReadyFD) }

// readyOnce: the descriptor is written once (a VRRP-only lvsd whose reload
// starts the engine is ready before, and its descriptor closed since).
var readyOnce sync.Once

func notifyReadyFD() {
	fd, err := strconv.Atoi(os.Getenv("LVSD_READY_FD"))
	if err != nil || fd < 3 {
		return
	}
	f := os.NewFile(uintptr(fd), "ready")
	f.WriteString("ready\n")
	f.Close()
}

// loadQuiet reads a configuration for a reload with rd: its warnings and
// errors as lines, errors non-nil when it cannot be used.
func loadQuiet(rd *config.Reader, path string) (*config.Config, []string) {
	var b strings.Builder
	cfg, ok := report(rd.Load(path))(&b)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	if !ok {
		return nil, lines
	}
	return cfg, nil
}

func writePidFile(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	if b, err := os.ReadFile(path); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid != os.Getpid() && alive(pid) {
			return fmt.Errorf("already running for this configuration with pid %d (%s)", pid, path)
		}
	}
	return os.WriteFile(path, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644)
}

// alive: the pid is a running lvsd (or ldirectord link) process.
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	name := filepath.Base(strings.SplitN(string(b), "\x00", 2)[0])
	return name == "lvsd" || name == "ldirectord" || strings.HasSuffix(name, ".test")
}

// logFile is --logfile: lines appended to a path, reopened on SIGHUP
// and, as ldirectord opens its log for each line, when the path no
// longer names the file open (renamed or removed by logrotate).
type logFile struct {
	mu   sync.Mutex
	path string
	f    *os.File
}

func openLogFile(path string) (*logFile, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	return &logFile{path: path, f: f}, nil
}

// Reopen closes the file and opens the path again; on failure the file
// open before stays.
func (l *logFile) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	l.f.Close()
	l.f = f
	return nil
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if st, err := os.Stat(l.path); err != nil || !sameFile(st, l.f) {
		if f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644); err == nil {
			l.f.Close()
			l.f = f
		}
	}
	return l.f.Write(p)
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// logger writes one line per report on stderr, serialised. The engine's
// reports are buffered until it calls flush (engine.Options.Flush: once
// what it handled is reported), so that a start or reload writing 11,000
// entries makes one write(2), not 11,000; other lines go out at once.
//
// The writes themselves are made by a goroutine of the logger's (one
// at a time, in order), never by the engine's: its flush hands the lines
// over and returns. A start's 11,000 lines (1.2 MB) took 2.7-6.3 s to
// write in the emulated VM, and the engine, writing them itself, took
// the first reload only after (issue 9). Who must see the lines written
// waits for them (sync): printf's callers, a reload's and a ctl
// request's answer, the exit.
type logger struct {
	mu      sync.Mutex
	w       io.Writer
	buf     []byte     // lines not handed to the writer yet
	out     []byte     // handed over, not written yet
	spare   []byte     // a written buffer, for the next hand-over
	handed  uint64     // hand-overs so far
	written uint64     // hand-overs written
	writing bool       // the writer goroutine runs
	done    *sync.Cond // on mu: written moved
}

func newLogger(w io.Writer) *logger {
	l := &logger{w: w}
	l.done = sync.NewCond(&l.mu)
	return l
}

func (l *logger) printf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = fmt.Appendf(l.buf, "%s %s\n", stamp(time.Now()), fmt.Sprintf(format, a...))
	l.syncLocked()
}

// debugf is a debug line from the engine's goroutine: buffered with its
// reports, written at its flush.
func (l *logger) debugf(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = fmt.Appendf(l.buf, "%s debug: %s\n", stamp(time.Now()), fmt.Sprintf(format, a...))
	if len(l.buf) >= 1<<20 {
		l.flushLocked()
	}
}

// debugNow is a debug line from elsewhere (a check's goroutine, a
// reload), written at once.
func (l *logger) debugNow(format string, a ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = fmt.Appendf(l.buf, "%s debug: %s\n", stamp(time.Now()), fmt.Sprintf(format, a...))
	l.syncLocked()
}

func (l *logger) report(r engine.Report) {
	line := describe(r)
	if line == "" {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf = fmt.Appendf(l.buf, "%s %s\n", stamp(r.Time), line)
	if len(l.buf) >= 1<<20 {
		l.flushLocked()
	}
}

// flush hands the lines buffered to the writer and returns at once.
func (l *logger) flush() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
}

// sync returns once every line so far is written.
func (l *logger) sync() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.syncLocked()
}

func (l *logger) syncLocked() {
	l.flushLocked()
	for l.written < l.handed {
		l.done.Wait()
	}
}

func (l *logger) flushLocked() {
	if len(l.buf) == 0 {
		return
	}
	if len(l.out) == 0 { // the writer is idle or writing older lines: swap
		l.out, l.buf = l.buf, l.spare[:0]
		l.spare = nil
	} else {
		l.out = append(l.out, l.buf...)
		l.buf = l.buf[:0]
	}
	// a buffer grown by a start's 11,000 lines is not kept for ever
	if cap(l.buf) > 4<<20 {
		l.buf = nil
	}
	l.handed++
	if !l.writing {
		l.writing = true
		go l.writeOut()
	}
}

// writeOut writes what is handed over until nothing is left.
func (l *logger) writeOut() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for len(l.out) > 0 {
		b, upTo := l.out, l.handed
		l.out = nil
		l.mu.Unlock()
		l.w.Write(b) //nolint:errcheck // a log nobody reads stops nothing
		l.mu.Lock()
		if l.spare == nil && cap(b) <= 4<<20 {
			l.spare = b[:0]
		}
		l.written = upTo
		l.done.Broadcast()
	}
	l.writing = false
}

// describe is a report as one log line.
func describe(r engine.Report) string {
	switch r.Kind {
	case engine.Started:
		return "started: " + r.Msg
	case engine.Health:
		return healthLine(r.Check)
	case engine.Wrote:
		return fmt.Sprintf("ipvsadm %s   # %s", r.Op, why(r.Op, r.Note))
	case engine.Repaired:
		return fmt.Sprintf("repair: ipvsadm %s   # the kernel differed (changed by hand?): %s", r.Op, why(r.Op, r.Note))
	case engine.WriteFailed:
		if r.Op.Service.Scheduler == "" && r.Op.Kind == 0 && r.Op.Service.Family == 0 {
			return fmt.Sprintf("error: %v", r.Err)
		}
		return fmt.Sprintf("error: %v (retried on the next pass)", r.Err)
	case engine.ReadFailed:
		return fmt.Sprintf("error: reading the IPVS table: %v (retried)", r.Err)
	case engine.Fallback:
		state := "off"
		if r.On {
			state = "on"
		}
		return fmt.Sprintf("fallback %s for %s", state, r.Virtual.Key())
	case engine.Quorum:
		return quorumLine(r)
	case engine.Command:
		return "run: " + r.Msg
	case engine.Reloaded:
		return "reloaded: " + r.Msg
	case engine.DrainStart:
		if r.Op.Kind == ipvs.DelService {
			return fmt.Sprintf("drain: virtual %s removed from the configuration: weight 0, deleted when its connections end", r.Op.Service.Key())
		}
		return fmt.Sprintf("drain: real %s of %s removed from the configuration: weight 0, deleted when its connections end", r.Op.Dest.Key(), r.Op.Service.Key())
	case engine.Stopped:
		return r.Msg
	case engine.Overridden:
		return "ctl: " + r.Msg
	}
	return ""
}

// quorumLine is a quorum verdict, logged where the configuration sets
// a quorum (keepalived's "Gained quorum" / "Lost quorum"); without one
// (quorum 1) the fallback line tells the same.
func quorumLine(r engine.Report) string {
	v := r.Virtual
	if v == nil || v.Quorum <= 0 {
		return ""
	}
	need := v.Quorum + v.Hysteresis
	if r.Held {
		need = v.Quorum - v.Hysteresis
	}
	if r.On {
		return fmt.Sprintf("quorum held for %s: up weight %d >= %d (quorum %d, hysteresis %d)", v.Key(), r.Weight, need, v.Quorum, v.Hysteresis)
	}
	return fmt.Sprintf("quorum lost for %s: up weight %d < %d (quorum %d, hysteresis %d)", v.Key(), r.Weight, need, v.Quorum, v.Hysteresis)
}

func healthLine(ev *check.Event) string {
	extra := ""
	if ev.Latency > 0 {
		extra = fmt.Sprintf(" (%s", ev.Latency.Round(10*time.Microsecond))
		if ev.To == check.Down && ev.Fails > 1 {
			extra += fmt.Sprintf(", failure %d", ev.Fails)
		}
		extra += ")"
	}
	return fmt.Sprintf("%-4s %s real %s: %s%s", ev.To, ev.Sub.ID.Virtual, ev.Sub.ID.Real, ev.Reason, extra)
}

// why names an operation in ldirectord's terms, from the table's note.
func why(o ipvs.Op, n director.Note) string {
	switch o.Kind {
	case ipvs.AddService:
		return "add virtual service"
	case ipvs.EditService:
		return "edit virtual service: " + o.Why
	case ipvs.DelService:
		return "delete virtual service"
	}
	switch {
	case n.Role == director.RoleFallback && o.Kind == ipvs.DelDest:
		return "fallback off"
	case n.Role == director.RoleFallback:
		return "fallback on"
	case n.Role == director.RoleDraining && o.Kind == ipvs.DelDest:
		return "drained: deleted"
	case n.Role == director.RoleDraining:
		return "removed from the configuration: draining at weight 0"
	case o.Kind == ipvs.DelDest && n.ID.Virtual == "":
		return "not in the configuration"
	case o.Kind == ipvs.DelDest:
		return "delete real (down, quiescent=no)"
	case o.Kind == ipvs.AddDest && o.Dest.Weight == 0:
		return "add real at weight 0 (" + n.Why + ")"
	case o.Kind == ipvs.AddDest:
		return "add real (" + n.Why + ")"
	case o.Dest.Weight == 0:
		return "edit weight 0 (" + n.Why + ")"
	}
	return "edit " + o.Why + " (" + n.Why + ")"
}

// dryRun runs the same engine over an imagined, initially empty, table and
// prints what it would do on stdout.
func dryRun(ctx context.Context, cfg *config.Config, f runFlags, stdout, stderr io.Writer) int {
	w := bufio.NewWriter(stdout)
	var mu sync.Mutex
	out := func(format string, a ...any) {
		mu.Lock()
		fmt.Fprintf(w, format, a...)
		w.Flush()
		mu.Unlock()
	}
	out("%s start: no real server known up yet\n", stamp(time.Now()))
	if n := len(cfg.VRRP); n > 0 {
		out("%s dry run: the %d vrrp_instance(s) are not run (no address is added, no advert sent); the virtual servers are\n", stamp(time.Now()), n)
	}
	var kernel ipvs.Kernel = ipvs.NewMem(nil)
	observe := f.m.observeFunc()
	var debugf func(string, ...any)
	if f.debug { // on stderr, the imagined table's operations on stdout
		dl := newLogger(stderr)
		debugf = dl.debugNow
		kernel, observe = newDebugKernel(kernel, dl.debugNow), observers(observe, debugObserve(dl.debugNow))
	}
	eng := engine.New(cfg, engine.Options{
		Kernel: kernel, DrainTimeout: f.drain, Resync: f.resync, MaxConcurrent: f.maxc, Lookup: reverseName,
		Command: func(string) {}, // imagined too
		Observe: observe, Debug: debugf,
		Report: func(r engine.Report) {
			switch r.Kind {
			case engine.Started:
				fmt.Fprintf(stderr, "lvsd run: %s; dry run, the kernel is not touched\n", r.Msg)
			case engine.Health:
				out("%s %s\n", stamp(r.Time), healthLine(r.Check))
			case engine.Fallback:
				state := "off"
				if r.On {
					state = "on"
				}
				out("             fallback %s for %s\n", state, r.Virtual.Key())
			case engine.Command:
				out("             would run %s\n", r.Msg)
			case engine.Wrote, engine.Repaired:
				if !f.quiet {
					out("             ipvsadm %-48s # %s\n", r.Op, why(r.Op, r.Note))
				}
			default:
				if l := describe(r); l != "" {
					out("             %s\n", l)
				}
			}
		},
	})
	if f.stats > 0 {
		go printStats(ctx, eng, f.stats, stderr)
	}
	if f.m != nil {
		go f.m.serve(ctx, f.metricsLn, eng)
	}
	// --socket named: the dry run answers status (and lvsd ctl) too, for
	// looking at an imagined table the way one looks at a real one
	if f.socket != "" && f.socket != "none" {
		ln, err := listenControl(f.socket)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd run: control socket: %v\n", err)
			return 1
		}
		defer os.Remove(f.socket)
		sum := digestString(cfg.Source)
		c := &control{reload: func() []string { return []string{"a dry run does not reload"} },
			digest: func() string { return sum }}
		c.eng.Store(eng)
		go c.serve(ctx, ln)
	}
	// The engine runs on its own context so that its final state can still
	// be asked for when ctx ends (--for, a signal).
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	done := make(chan error, 1)
	go func() { done <- eng.Run(runCtx) }()
	var st engine.Status
	var stErr error
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "lvsd run: %v\n", err)
		return 1
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		st, stErr = eng.Status(sctx)
		cancel()
	}
	stop()
	if err := <-done; err != nil {
		fmt.Fprintf(stderr, "lvsd run: %v\n", err)
		return 1
	}
	if stErr != nil {
		fmt.Fprintf(stderr, "lvsd run: no final state: %v\n", stErr)
		return 1
	}
	mu.Lock()
	defer mu.Unlock()
	return drySummary(w, st)
}

// drySummary prints the final up/down table of a dry run; 0 when every
// virtual has a real up, 3 when one has none (fallback or nothing).
func drySummary(w *bufio.Writer, st engine.Status) int {
	defer w.Flush()
	health := func(n director.Note) string {
		switch {
		case n.Role == director.RoleFallback:
			return "fallback"
		case n.Status == director.Unknown:
			return "not checked yet"
		}
		return n.Status.String()
	}
	without := 0
	fmt.Fprintf(w, "%s summary: %d up, %d down, %d not checked yet\n", stamp(time.Now()), st.Up, st.Down, st.Unknown)
	for _, v := range st.Virtuals {
		verdict := fmt.Sprintf("%d real(s) up", v.Up)
		if v.Up == 0 {
			without++
			verdict = "NO REAL UP"
			if v.Fallback {
				verdict += ", fallback in the table"
			}
		}
		fmt.Fprintf(w, "%s: %s\n", v.Virtual.Key(), verdict)
		for _, r := range v.Reals {
			fmt.Fprintf(w, "  -> %-24s %s\n", r.Note.ID.Real, health(r.Note))
		}
		for _, n := range v.Out {
			fmt.Fprintf(w, "  -> %-24s %s (out of the table)\n", n.ID.Real, health(n))
		}
	}
	if without > 0 {
		fmt.Fprintf(w, "%d of %d virtual services have no real up (exit 3)\n", without, len(st.Virtuals))
		return 3
	}
	return 0
}

// reverseName is a real's host name for maintenancedir (fqdn and short
// file names), looked up once with a bound.
func reverseName(a netip.Addr) string {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	names, err := net.DefaultResolver.LookupAddr(ctx, a.String())
	if err != nil || len(names) == 0 {
		return ""
	}
	return names[0]
}

func printStats(ctx context.Context, eng *engine.Engine, every time.Duration, w io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, t0 := eng.CheckRuns(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := eng.CheckRuns()
			st, _ := eng.Status(ctx)
			up, down := st.Up, st.Down
			fmt.Fprintf(w, "stats: %d checks in %.1fs: %.0f checks/s; %d up, %d down\n",
				n-last, now.Sub(t0).Seconds(), float64(n-last)/now.Sub(t0).Seconds(), up, down)
			last, t0 = n, now
		}
	}
}

// msSince is the time since t in milliseconds, to 0.1.
func msSince(t time.Time) string {
	return strconv.FormatFloat(float64(time.Since(t))/float64(time.Millisecond), 'f', 1, 64) + " ms"
}

func stamp(t time.Time) string { return t.Format("15:04:05.000") }
