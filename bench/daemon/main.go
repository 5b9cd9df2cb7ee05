// bench/daemon: the director daemons side by side in the test VM (run by
// bench/daemon.sh inside vmrun; needs root and a kernel with IPVS).
//
//  1. A real killed -> its netlink delete. One virtual with N reals (10 and
//     1,000), connect checks with the same settings for every tool
//     (checkinterval = delay_loop, checktimeout = connect_timeout,
//     failurecount 1 = retry 0, quiescent=no = keepalived's default):
//     lvsd run and ldirectord on the ldirectord.cf, lvsd run and
//     keepalived on the keepalived.conf of the same table. The real's
//     server is killed (its listening socket closed: the next connect gets
//     a reset) at a random point of the check period, and three instants
//     are taken, by the kernel, the same way for every tool:
//     - the probe: the first SYN to the real after the kill (a packet
//     socket on the director's veth, kernel timestamp) - detection is
//     kill -> probe, the checkinterval phase;
//     - the delete: the IPVS del-real request and its ack on an nlmon
//     device (every netlink message of the machine, kernel timestamps) -
//     reaction is probe -> ack, the daemon's own work: the RST, its
//     decision, its table reads and its write;
//     - then one read of /proc/net/ip_vs confirms the real is gone (no
//     polling: a poll loop would compete with the daemon for the
//     emulated CPU and slow the very thing measured).
//     IPVS writes and reads between kill and delete are counted on nlmon.
//  2. Reload of a 1,000 x 10 keepalived.conf (no checkers: every real up)
//     with one real's weight changed: SIGHUP -> the changed real written,
//     SIGHUP -> the last IPVS write of the reload (ack), the writes and
//     reads (nlmon), CPU time of the daemon; lvsd run vs keepalived on the
//     same file.
package main

import (
	"bufio"
	"encoding/base64"
	"flag"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	profile  string // directory for lvsd CPU profiles ("" none)
	traceDir string // directory for lvsd execution traces ("" none)
	verbose  bool
)

func main() {
	lvsd := flag.String("lvsd", "bin/lvsd", "lvsd binary")
	lvsdBase := flag.String("lvsd-base", "", "an earlier lvsd binary: tools lvsd-ka-base and lvsd-ld-base run it (before/after in one run)")
	sizesF := flag.String("sizes", "10,1000", "reals per table in the kill test (empty: skip it)")
	toolsF := flag.String("tools", "lvsd-ld,ldirectord,lvsd-ka,keepalived", "tools of the kill test, in order")
	trials := flag.Int("trials", 10, "kills per tool and size")
	interval := flag.Int("interval", 1, "checkinterval / delay_loop (s)")
	timeout := flag.Int("timeout", 1, "checktimeout / connect_timeout (s)")
	ldTrials := flag.Int("ld-trials", 5, "kills for ldirectord (its cycle is long on a large table)")
	ldMax := flag.Int("ld-max", 10, "largest table ldirectord is run on; above it only the pace of its start is measured (-ld-probe)")
	ldBudget := flag.Duration("ld-budget", 10*time.Minute, "how long ldirectord may take to start checking")
	ldProbeFor := flag.Duration("ld-probe", time.Minute, "above -ld-max: how long ldirectord's start is watched to measure its pace")
	readSizes := flag.String("read-sizes", "1000,10000", "reals of the tables whose netlink read is timed, as lvsd's resync reads them (empty: none)")
	reload := flag.Int("reload", 10000, "reals of the reload test, in services of 10 (0: skip it)")
	reloads := flag.Int("reloads", 3, "reloads per tool")
	reloadTools := flag.String("reload-tools", "lvsd-ka,keepalived", "tools of the reload test")
	flag.StringVar(&profile, "profile", "", "directory: run lvsd with --cpuprofile there and print the profiles (base64) at the end")
	flag.StringVar(&traceDir, "trace", "", "directory: run lvsd with --trace there and print the traces (base64) at the end")
	flag.DurationVar(&perfFor, "perf", 0, "after the CPU is measured, sample the whole VM with perf for this long (where the CPU goes, kernel included)")
	flag.DurationVar(&straceFor, "strace", 0, "after the CPU is measured, count the daemon's system calls per check for this long (strace -c -f; slows it meanwhile)")
	flag.StringVar(&checkKind, "check", "connect", "the check of the kill test: connect (TCP connect) or http (GET /, 200 OK and \"ok\" expected)")
	flag.BoolVar(&verbose, "v", false, "print every probe and IPVS request around each kill")
	flag.Parse()

	if checkKind != "connect" && checkKind != "http" {
		check(fmt.Errorf("-check %q: connect or http", checkKind))
	}
	// one listener per real and a connection per check: 10,000 reals
	// need more than the VM's default hard limit (4096); the daemons
	// started from here inherit it
	lim := syscall.Rlimit{Cur: 1 << 20, Max: 1 << 20}
	check(syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim))
	dir, _ := os.MkdirTemp("", "bench-daemon")
	for _, d := range []string{profile, traceDir} {
		if d != "" {
			os.MkdirAll(d, 0o755)
		}
	}
	teardownNet()
	check(setupNet())
	defer teardownNet()
	ver := func(args ...string) string {
		out, _ := runOut(args...)
		return strings.TrimSpace(strings.SplitN(out, "\n", 2)[0])
	}
	uname, _ := runOut("uname", "-r")
	fmt.Printf("bench/daemon: kernel %s, %d vCPU (%s), %s, %s, %s\n", strings.TrimSpace(uname), cpus(), accel(),
		ver("ipvsadm", "-v"), ver("ldirectord", "-v"), ver("keepalived", "-v"))
	fmt.Printf("lvsd: %s; check settings: %s checks, checkinterval=delay_loop=%d s, checktimeout=connect_timeout=%d s, failurecount=1 (retry 0), quiescent=no\n",
		*lvsd, checkKind, *interval, *timeout)
	loadavg("VM load at start")

	all := map[string]tool{
		"lvsd-ld": lvsdTool(*lvsd, "lvsd-ld", "ldirectord.cf"), "ldirectord": ldirectordTool(),
		"lvsd-ka": lvsdTool(*lvsd, "lvsd-ka", "keepalived.conf"), "keepalived": keepalivedTool(),
	}
	if *lvsdBase != "" {
		for _, k := range []string{"lvsd-ka", "lvsd-ld"} {
			t := lvsdTool(*lvsdBase, k+"-base", all[k].conf)
			t.name = strings.Replace(t.name, "lvsd run", "lvsd run BASE", 1)
			all[k+"-base"] = t
		}
	}
	var kills []*killResult
	for _, s := range split(*sizesF) {
		n, err := strconv.Atoi(s)
		check(err)
		ld := filepath.Join(dir, fmt.Sprintf("kill%d.cf", n))
		ka := filepath.Join(dir, fmt.Sprintf("kill%d.conf", n))
		check(os.WriteFile(ld, []byte(ldirectordCF(n, *interval, *timeout, ldLog(ld))), 0o644))
		check(os.WriteFile(ka, []byte(keepalivedConf(n, *interval, *timeout)), 0o644))
		srv, err := startServers(n)
		check(err)
		for _, k := range split(*toolsF) {
			t, ok := all[k]
			if !ok {
				check(fmt.Errorf("unknown tool %q", k))
			}
			cf := ld
			if t.conf == "keepalived.conf" {
				cf = ka
			}
			r := &killResult{tool: t, n: n}
			kills = append(kills, r)
			if k == "ldirectord" && n > *ldMax {
				ldProbe(r, cf, dir, *ldProbeFor)
				continue
			}
			budget, n := 2*time.Minute, *trials
			if k == "ldirectord" {
				budget, n = *ldBudget, *ldTrials
			}
			killTest(r, cf, dir, srv, n, budget)
		}
		srv.close()
	}
	var reads []string
	for _, s := range split(*readSizes) {
		n, err := strconv.Atoi(s)
		check(err)
		d, err := readCost(n, 3)
		if err != nil {
			reads = append(reads, fmt.Sprintf("1 x %d reals: %v", n, err))
			continue
		}
		reads = append(reads, fmt.Sprintf("1 x %d reals: %s (median of 3; 2%% rule: resync every %s at least)", n, ms(d), (50*d).Round(100*time.Millisecond)))
		fmt.Println("\n== table read, " + reads[len(reads)-1])
	}
	var rel []*reloadResult
	if *reload > 0 {
		for _, k := range split(*reloadTools) {
			if _, ok := all[k]; !ok {
				check(fmt.Errorf("unknown tool %q", k))
			}
			rel = append(rel, reloadTest(all[k], dir, *reload/10, 10, *reloads))
		}
	}
	loadavg("VM load at end")
	report(kills, rel)
	if len(reads) > 0 {
		fmt.Println("\n3. One netlink read of the kernel table (lib/ipvs, as lvsd's resync makes it)")
		for _, r := range reads {
			fmt.Println("   " + r)
		}
	}
	if profile != "" || traceDir != "" {
		printProfiles()
	}
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/daemon:", err)
		teardownNet()
		os.Exit(1)
	}
}

func runOut(args ...string) (string, error) {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	return string(out), err
}

func cpus() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	n := 0
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "processor") {
			n++
		}
	}
	return n
}

func accel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	if strings.Contains(string(b), "QEMU TCG") {
		return "TCG: emulated, only the ratios mean something"
	}
	return "KVM"
}

func loadavg(what string) {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) >= 3 {
		fmt.Printf("%s: %s %s %s\n", what, f[0], f[1], f[2])
	}
}

// waitFor polls cond every step until it holds or d passes.
func waitFor(d, step time.Duration, cond func() bool) bool {
	end := time.Now().Add(d)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(step)
	}
}

type trial struct {
	kill, probe, req, ack time.Time
	writes, reads         int
	lvsdLog               string // lvsd's own log: down -> write
	err                   string
}

type killResult struct {
	tool            tool
	n               int
	note            string
	ready           time.Duration // start -> every real in the table
	period          time.Duration // the real's probe period, measured
	cpu             float64       // CPU while checking (fraction of one CPU)
	rss             int64         // resident memory at the end of that window (bytes)
	window          time.Duration // over which cpu was measured
	checks          int           // TCP connects made in that window
	readCost        time.Duration // one read of /proc/net/ip_vs
	trials          []trial
	startW, startRd int           // IPVS writes and reads to fill the table
	ldPerReal       time.Duration // ldirectord's start: time per real (ldProbe)
}

func killTest(r *killResult, cf, dir string, srv *servers, trials int, budget time.Duration) {
	n := r.n
	victim := realAddr(n - 1)
	vap := netip.AddrPortFrom(victim, 80)
	vipAP := netip.MustParseAddrPort(vip + ":80")
	needle := procNeedle(victim, 80)
	fmt.Printf("\n== kill, %d reals, %s (victim %s)\n", n, r.tool.name, vap)
	fail := func(f string, a ...any) {
		r.note = fmt.Sprintf(f, a...)
		fmt.Println("   " + r.note)
	}
	if err := fresh(); err != nil {
		fail("%v", err)
		return
	}
	if r.tool.key == "ldirectord" {
		if err := prefill(n); err != nil {
			fail("%v", err)
			return
		}
	}
	mon, err := startNlmon()
	if err != nil {
		fail("%v", err)
		return
	}
	defer mon.close()
	syn, err := watchSYNs(hostIf, victim)
	if err != nil {
		fail("%v", err)
		return
	}
	defer syn.close()
	t0 := time.Now()
	p, err := r.tool.start(cf, dir)
	if err != nil {
		fail("%v", err)
		return
	}
	defer p.stop()
	step := 200 * time.Millisecond
	if n >= 1000 {
		step = time.Second
	}
	if !waitFor(min(budget, 5*time.Minute), step, func() bool { return procReals() >= n }) {
		fail("the table did not fill within %s: %d of %d reals (log %s)", budget, procReals(), n, tail(p.log, 5))
		return
	}
	full := time.Now()
	r.ready = full.Sub(t0)
	r.startW, r.startRd, _ = mon.counts(t0, full)
	// the checks are running: four probes of the victim
	if !waitFor(budget, 50*time.Millisecond, func() bool { return len(syn.between(full, time.Now())) >= 4 }) {
		fail("fewer than 4 probes of %s within %s", victim, budget)
		return
	}
	if r.tool.key == "ldirectord" { // the table was there: ready is when it checks
		full = syn.between(full, time.Now())[0]
		r.ready = full.Sub(t0)
		r.startW, r.startRd, _ = mon.counts(t0, full)
	}
	fmt.Printf("   checking after %s (%d IPVS writes, %d reads until then)\n", r.ready.Round(time.Millisecond), r.startW, r.startRd)
	ss := syn.between(full, time.Now())
	var gaps []time.Duration
	for i := 1; i < len(ss); i++ {
		gaps = append(gaps, ss[i].Sub(ss[i-1]))
	}
	r.period = median(gaps)
	// the CPU of steady checking: not the start's (the binary's pages
	// read over 9p on a first run, the table's writes), over enough
	// probes of a small table
	time.Sleep(max(time.Second, r.period))
	// the checks made meanwhile are the director's TCP active opens (no
	// one else opens a connection from its namespace); the marks let
	// bench/daemon.sh read QEMU's own CPU time on the host around the
	// same window (the whole VM's emulation work, which neither the
	// host's load nor the guest's tick accounting skews)
	a0 := activeOpens()
	fmt.Printf("=== cpu start %s %d\n", r.tool.key, n)
	c0, w0 := cpuTime(p.pids()), time.Now()
	time.Sleep(max(10*time.Second, 3*r.period))
	r.window = time.Since(w0)
	r.cpu = float64(cpuTime(p.pids())-c0) / float64(r.window)
	r.checks = activeOpens() - a0
	r.rss = rss(p.pids())
	fmt.Printf("=== cpu end %s %d %d\n", r.tool.key, n, r.checks)
	rc0 := time.Now()
	for i := 0; i < 5; i++ {
		readProc()
	}
	r.readCost = time.Since(rc0) / 5
	fmt.Printf("   probe period %s, CPU while checking %.1f%% of one vCPU, %d checks in %s (%.0f/s): %s per check (%s by the probe period), RSS %.1f MB, one read of /proc/net/ip_vs %s\n",
		r.period.Round(time.Millisecond), 100*r.cpu, r.checks, r.window.Round(100*time.Millisecond), float64(r.checks)/r.window.Seconds(),
		ms(r.perCheck()), ms(r.perCheckByPeriod()), float64(r.rss)/1e6, r.readCost.Round(10*time.Microsecond))
	if perfFor > 0 {
		if s, err := perfProfile(perfFor, dir, p.pids()); err != nil {
			fmt.Printf("   perf: %v\n", err)
		} else {
			fmt.Print(s)
		}
	}
	if straceFor > 0 {
		if cs, err := straceCount(p.pids(), straceFor); err != nil {
			fmt.Printf("   strace: %v\n", err)
		} else {
			printStrace(cs, straceFor)
		}
		// the checks that fell behind under strace catch up before a kill
		time.Sleep(max(2*time.Second, 2*r.period))
	}
	wait := max(30*time.Second, 4*r.period)
	// kill 0 warms up: the first removal runs code paths (and, in the VM,
	// pages of the binaries read over 9p) for the first time in every tool
	for k := 0; k <= trials; k++ {
		time.Sleep(time.Duration(rand.Int64N(int64(r.period) + 1)))
		var tr trial
		tr.kill = time.Now()
		srv.kill(victim)
		var probe time.Time
		if !waitFor(wait, 2*time.Millisecond, func() (ok bool) { probe, ok = syn.after(tr.kill); return }) {
			tr.err = "no probe after the kill"
		}
		tr.probe = probe
		// the nlmon reader runs on its own: checking its list is cheap
		var del *nlEvent
		if waitFor(wait, 2*time.Millisecond, func() (ok bool) {
			del, ok = mon.destWrite(tr.kill, cmdDelDest, vipAP, vap)
			return ok && !del.ack.IsZero()
		}) {
			tr.req, tr.ack = del.t, del.ack
			if containsNeedle(readProc(), needle) {
				tr.err = "acked, but still in /proc/net/ip_vs"
			}
		} else if tr.err == "" {
			tr.err = fmt.Sprintf("no del-real acked on nlmon within %s of the kill", wait)
		}
		end := tr.ack
		if end.IsZero() {
			end = time.Now()
		}
		tr.writes, tr.reads, _ = mon.counts(tr.kill, end)
		if strings.HasPrefix(r.tool.key, "lvsd") {
			if down, del := lvsdLogTimes(p.log, vap, tr.kill); !down.IsZero() && !del.IsZero() && !tr.probe.IsZero() {
				// the stamps are truncated to the millisecond: +-1 ms
				tr.lvsdLog = fmt.Sprintf("probe -> \"down\" %d ms, \"down\" -> \"ipvsadm -d\" %d ms",
					down.Sub(tr.probe.Truncate(time.Millisecond)).Milliseconds(), del.Sub(down).Milliseconds())
			}
		}
		if verbose {
			for _, s := range syn.between(tr.kill.Add(-3*time.Second), end.Add(time.Second)) {
				fmt.Printf("      syn %+d ms\n", s.Sub(tr.kill).Milliseconds())
			}
			for _, e := range mon.events(tr.kill.Add(-3*time.Second), end.Add(time.Second)) {
				fmt.Printf("      nl %+.2f ms cmd %d seq %d svc %s dest %s w %d ack %+.2f ms err %d\n", float64(e.t.Sub(tr.kill))/1e6, e.cmd, e.seq, e.svc, e.dest, e.weight, float64(e.ack.Sub(tr.kill))/1e6, e.err)
			}
		}
		if k > 0 {
			r.trials = append(r.trials, tr)
		}
		label := fmt.Sprintf("kill %d", k)
		if k == 0 {
			label = "warm-up kill (not counted)"
		}
		fmt.Printf("   %s: detection %s, reaction %s (request %s), kill -> delete %s; %d writes, %d reads%s%s\n", label,
			ms(tr.probe.Sub(tr.kill)), ms(tr.ack.Sub(tr.probe)), ms(tr.req.Sub(tr.probe)), ms(tr.ack.Sub(tr.kill)),
			tr.writes, tr.reads, opt("; lvsd log: ", tr.lvsdLog), opt("; ", tr.err))
		check(srv.start(victim))
		back := time.Now()
		if !waitFor(wait, 20*time.Millisecond, func() bool { return containsNeedle(readProc(), needle) }) {
			fail("the real did not come back within %s", wait)
			return
		}
		// the next kill starts on a steady director
		waitFor(wait, 20*time.Millisecond, func() bool { return len(syn.between(back, time.Now())) >= 1 })
	}
}

// prefill puts the kill test's table in the kernel with ipvsadm -R:
// ldirectord checks the table twice per real before its first check cycle
// (ld_start: ipvsadm -L -n and --thresholds for each real), and on an
// empty table it also adds and deletes every real first (three writes and
// six ipvsadm runs per real); on a full table only the reads remain.
func prefill(n int) error {
	var b strings.Builder
	fmt.Fprintf(&b, "-A -t %s:80 -s wrr\n", vip)
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "-a -t %s:80 -r %s:80 -g -w 1\n", vip, realAddr(i))
	}
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ipvsadm -R: %v: %s", err, out)
	}
	return nil
}

// ldProbe watches ldirectord's start on a (prefilled) table too large to
// wait for: each real costs it two ipvsadm reads of the whole table (one
// dump of the reals each, seen on nlmon); their pace gives how long the
// start would take, and the least a removal costs (the same two reads,
// then the delete).
func ldProbe(r *killResult, cf, dir string, d time.Duration) {
	n := r.n
	fmt.Printf("\n== kill, %d reals, %s: its start only, watched for %s\n", n, r.tool.name, d)
	fail := func(f string, a ...any) {
		r.note = fmt.Sprintf(f, a...)
		fmt.Println("   " + r.note)
	}
	if err := fresh(); err != nil {
		fail("%v", err)
		return
	}
	if err := prefill(n); err != nil {
		fail("%v", err)
		return
	}
	mon, err := startNlmon()
	if err != nil {
		fail("%v", err)
		return
	}
	defer mon.close()
	t0 := time.Now()
	p, err := r.tool.start(cf, dir)
	if err != nil {
		fail("%v", err)
		return
	}
	time.Sleep(d)
	p.stop()
	var dumps []time.Time
	for _, e := range mon.events(t0, time.Now()) {
		if e.cmd == cmdGetDest {
			dumps = append(dumps, e.t)
		}
	}
	reals := len(dumps) / 2
	if reals < 2 {
		fail("not run to the end: in %s its start read the table %d times", d, len(dumps))
		return
	}
	per := dumps[2*(reals-1)].Sub(dumps[0]) / time.Duration(reals-1)
	r.ldPerReal = per
	fail("not run to the end: in %s its start read the whole table for %d of %d reals (2 ipvsadm runs each), %s per real: "+
		"the start alone would take about %s; then each removal costs at least those 2 reads and an ipvsadm -d, more than %s",
		d, reals, n, ms(per), (per * time.Duration(n)).Round(time.Minute), ms(per))
}

func containsNeedle(b, needle []byte) bool { return strings.Contains(string(b), string(needle)) }

func opt(prefix, s string) string {
	if s == "" {
		return ""
	}
	return prefix + s
}

func ms(d time.Duration) string {
	if d <= 0 || d > time.Hour {
		return "-"
	}
	switch {
	case d < 10*time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	case d < 10*time.Second:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	}
	return fmt.Sprintf("%.1f s", d.Seconds())
}

func median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	l := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, " | ")
}

// lvsdLogTimes is lvsd's own account of the last removal of ap: the
// stamps (milliseconds) of its "down" line and of the "ipvsadm -d" line
// after it.
func lvsdLogTimes(log string, ap netip.AddrPort, day time.Time) (down, del time.Time) {
	f, err := os.Open(log)
	if err != nil {
		return
	}
	defer f.Close()
	var dl, wl string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		if strings.Contains(l, " down ") && strings.Contains(l, "real "+ap.String()+":") {
			dl, wl = l, ""
		} else if dl != "" && wl == "" && strings.Contains(l, "ipvsadm -d ") && strings.Contains(l, "-r "+ap.String()+" ") {
			wl = l
		}
	}
	return logStamp(dl, day), logStamp(wl, day)
}

// logStamp is the time of an lvsd log line ("15:04:05.000 ..."), on day.
func logStamp(l string, day time.Time) time.Time {
	f := strings.Fields(l)
	if len(f) == 0 {
		return time.Time{}
	}
	t, err := time.ParseInLocation("15:04:05.000", f[0], time.Local)
	if err != nil {
		return time.Time{}
	}
	y, m, d := day.Date()
	return time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.Local)
}

func printProfiles() {
	files, _ := filepath.Glob(filepath.Join(profile, "*.pprof"))
	if traceDir != "" {
		t, _ := filepath.Glob(filepath.Join(traceDir, "*.trace"))
		files = append(files, t...)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		fmt.Printf("=== profile %s\n", filepath.Base(f))
		s := base64.StdEncoding.EncodeToString(b)
		for len(s) > 76 {
			fmt.Println(s[:76])
			s = s[76:]
		}
		fmt.Println(s)
		fmt.Println("=== end")
	}
}
