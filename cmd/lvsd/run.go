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
	"os/signal"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func init() {
	register(subcommand{name: "run", summary: "health-check the real servers of a configuration (--dry-run: print the IPVS operations, change nothing)", run: runRun})
}

const runHelp = `usage: lvsd run --dry-run [options] FILE

Runs every health check of FILE (ldirectord.cf, keepalived.conf or ocf-lvs
TOML) on its own interval, as the daemon will, and prints each state change
of a real server with its reason and latency, followed by the IPVS
operations it causes, as ipvsadm-restore lines: add (-a), edit weight 0
(-e ... -w 0, quiescent=yes), delete (-d, quiescent=no), and the fallback
server added when no real of a virtual is up and removed when one is.
Nothing touches the kernel: the table starts empty and is only imagined.

Identical checks of the same real in several virtual services run once;
failurecount, checkinterval, checktimeout/negotiatetimeout and
maintenancedir apply as in ldirectord. Stop with Ctrl-C (or --for).

Exit status: 0 stopped, 2 FILE is invalid (errors as FILE:LINE: message).

options:
`

func runRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "check and print, never touch the kernel (required for now)")
	dur := fs.Duration("for", 0, "stop after this long (0: until SIGINT/SIGTERM)")
	stats := fs.Duration("stats", 0, "print check throughput to stderr at this period (0: never)")
	maxc := fs.Int("max-concurrent", 1024, "checks (and so sockets) in flight at most")
	quiet := fs.Bool("quiet", false, "print state changes only, not the IPVS operations")
	cpuprof := fs.String("cpuprofile", "", "write a Go CPU profile to this file (performance work)")
	if code, done := parseFileArg(fs, runHelp, args, stdout); done {
		return code
	}
	if !*dry {
		fmt.Fprintln(stderr, "lvsd run: only --dry-run is available in this build (use `lvsd apply` to program IPVS once)")
		return 2
	}
	cfg, ok := loadReport(fs.Arg(0), stderr)
	if !ok {
		return 2
	}
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintf(stderr, "lvsd run: %v\n", err)
			return 1
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if *dur > 0 {
		ctx, cancel = context.WithTimeout(ctx, *dur)
		defer cancel()
	}
	d := newDryRun(cfg, stdout, *quiet)
	var lookup func(netip.Addr) string
	if cfg.Global.MaintenanceDir != "" {
		lookup = reverseName
	}
	subs := check.FromConfig(cfg, lookup)
	eng := check.New(check.Options{MaxConcurrent: *maxc, MaintenanceDir: cfg.Global.MaintenanceDir})
	eng.Set(subs)
	fmt.Fprintf(stderr, "lvsd run: %d real checks (%d distinct probes) from %s; dry run, the kernel is not touched\n",
		len(subs), eng.Jobs(), cfg.Source)
	if err := d.start(); err != nil {
		fmt.Fprintf(stderr, "lvsd run: %v\n", err)
		return 2
	}
	go eng.Run(ctx)
	if *stats > 0 {
		go printStats(ctx, eng, *stats, stderr)
	}
	for ev := range eng.Events() {
		batch := []check.Event{ev}
	drain: // apply every change already waiting in one table computation
		for len(batch) < 4096 {
			select {
			case ev, ok := <-eng.Events():
				if !ok {
					break drain
				}
				batch = append(batch, ev)
			default:
				break drain
			}
		}
		if err := d.apply(batch); err != nil {
			fmt.Fprintf(stderr, "lvsd run: %v\n", err)
			return 1
		}
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

func printStats(ctx context.Context, eng *check.Engine, every time.Duration, w io.Writer) {
	t := time.NewTicker(every)
	defer t.Stop()
	last, t0 := eng.Runs(), time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			n := eng.Runs()
			up, down := 0, 0
			for _, s := range eng.Snapshot() {
				switch s {
				case check.Up:
					up++
				case check.Down:
					down++
				}
			}
			fmt.Fprintf(w, "stats: %d checks in %.1fs: %.0f checks/s; %d up, %d down\n",
				n-last, now.Sub(t0).Seconds(), float64(n-last)/now.Sub(t0).Seconds(), up, down)
			last, t0 = n, now
		}
	}
}

// dryRun keeps the imagined table and prints the operations of each change.
type dryRun struct {
	cfg    *config.Config
	w      *bufio.Writer
	quiet  bool
	health director.HealthMap
	table  []ipvs.Service
	owned  []ipvs.Key
	anyUp  map[*config.Virtual]bool
}

func newDryRun(cfg *config.Config, w io.Writer, quiet bool) *dryRun {
	return &dryRun{cfg: cfg, w: bufio.NewWriter(w), quiet: quiet, health: director.HealthMap{},
		owned: director.Keys(cfg), anyUp: map[*config.Virtual]bool{}}
}

// start prints the table as it is set up before any check has answered:
// virtual services, quiescent reals at weight 0, fallbacks.
func (d *dryRun) start() error {
	fmt.Fprintf(d.w, "%s start: no real server known up yet\n", stamp(time.Now()))
	for _, v := range d.cfg.Virtuals {
		d.fallbackNote(v, false)
	}
	err := d.replan()
	d.w.Flush()
	return err
}

func stamp(t time.Time) string { return t.Format("15:04:05.000") }

func (d *dryRun) apply(batch []check.Event) error {
	for _, ev := range batch {
		p := ev.Sub.Data.(check.Pair)
		d.health[director.KeyOf(p.V, p.R)] = ev.To == check.Up
		extra := ""
		if ev.Latency > 0 {
			extra = fmt.Sprintf(" (%s", ev.Latency.Round(10*time.Microsecond))
			if ev.To == check.Down && ev.Fails > 1 {
				extra += fmt.Sprintf(", failure %d", ev.Fails)
			}
			extra += ")"
		}
		fmt.Fprintf(d.w, "%s %-4s %s real %s: %s%s\n", stamp(ev.Time), ev.To, p.V.Key(), p.R.HostPort(), ev.Reason, extra)
	}
	for _, v := range d.cfg.Virtuals {
		up := false
		for _, r := range v.Reals {
			if d.health[director.KeyOf(v, r)] {
				up = true
				break
			}
		}
		if up != d.anyUp[v] {
			d.anyUp[v] = up
			d.fallbackNote(v, up)
		}
	}
	err := d.replan()
	d.w.Flush()
	return err
}

// fallbackNote says when a virtual's fallback (and fallbackcommand) would
// be switched: on when no real is up, off when one comes up.
func (d *dryRun) fallbackNote(v *config.Virtual, anyUp bool) {
	if v.Fallback == nil && v.FallbackCommand == "" {
		return
	}
	state, arg := "on", "start"
	if anyUp {
		state, arg = "off", "stop"
	}
	fmt.Fprintf(d.w, "             fallback %s for %s", state, v.Key())
	if v.FallbackCommand != "" {
		proto := v.Protocol
		fmt.Fprintf(d.w, ": would run %s %s %s %s", v.FallbackCommand, arg, vipPort(v), proto)
	}
	fmt.Fprintln(d.w)
}

func vipPort(v *config.Virtual) string {
	if v.Protocol == "fwm" {
		return fmt.Sprint(v.FWMark)
	}
	return netip.AddrPortFrom(v.Addr, v.Port).String()
}

func (d *dryRun) replan() error {
	next, err := director.Table(d.cfg, d.health)
	if err != nil {
		return err
	}
	ops, err := ipvs.Plan(next, d.table, d.owned)
	if err != nil {
		return err
	}
	d.table = next
	if d.quiet {
		return nil
	}
	for _, o := range ops {
		line := o.String()
		fmt.Fprintf(d.w, "             ipvsadm %-48s # %s\n", line, d.why(o))
	}
	return nil
}

// why names an operation in ldirectord's terms.
func (d *dryRun) why(o ipvs.Op) string {
	isFallback := false
	for _, v := range d.cfg.Virtuals {
		if fb := v.Fallback; fb != nil && fb.Addr == o.Dest.Addr && (fb.Port == o.Dest.Port || fb.Port == 0 && v.Port == o.Dest.Port) {
			if s, err := director.Service(v); err == nil && s.Key() == o.Service.Key() {
				isFallback = true
			}
		}
	}
	switch o.Kind {
	case ipvs.AddService:
		return "add virtual service"
	case ipvs.EditService:
		return "edit virtual service: " + o.Why
	case ipvs.DelService:
		return "delete virtual service"
	case ipvs.AddDest:
		if isFallback {
			return "fallback on"
		}
		if o.Dest.Weight == 0 {
			return "add real at weight 0 (quiescent)"
		}
		return "add real (up)"
	case ipvs.EditDest:
		if o.Dest.Weight == 0 {
			return "edit weight 0 (down, quiescent=yes)"
		}
		return "edit weight " + fmt.Sprint(o.Dest.Weight) + " (up)"
	case ipvs.DelDest:
		if isFallback {
			return "fallback off"
		}
		return "delete real (down, quiescent=no)"
	}
	return strings.TrimSpace(o.Why)
}
