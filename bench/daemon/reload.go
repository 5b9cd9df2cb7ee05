package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/benchconf"
)

type reloadOne struct {
	weight     int
	changed    time.Duration // SIGHUP -> the changed real's write acked
	done       time.Duration // SIGHUP -> the reload's last IPVS write acked
	logDone    time.Duration // lvsd: SIGHUP -> its "reloaded:" line (ms stamps)
	writes     int
	reads      int
	byCmd      map[string]int
	cpu        time.Duration
	logWrites  int // lvsd: "ipvsadm" lines logged by the reload
	inKernel   int // the weight /proc/net/ip_vs shows afterwards
	keepalived string
	err        string
}

type reloadResult struct {
	tool      tool
	services  int
	reals     int
	note      string
	start     time.Duration
	startW    int
	rs        []reloadOne
	cfgSize   int
	firstLine string
}

func reloadTest(t tool, dir string, services, reals, reloads int) *reloadResult {
	r := &reloadResult{tool: t, services: services, reals: reals}
	n := services * reals
	fmt.Printf("\n== reload, %d x %d keepalived.conf (%d reals, no checkers), one weight changed, %s\n", services, reals, n, t.name)
	fail := func(f string, a ...any) *reloadResult {
		r.note = fmt.Sprintf(f, a...)
		fmt.Println("   " + r.note)
		return r
	}
	if err := fresh(); err != nil {
		return fail("%v", err)
	}
	mon, err := startNlmon()
	if err != nil {
		return fail("%v", err)
	}
	defer mon.close()
	cf := filepath.Join(dir, "reload.conf")
	body := string(benchconf.Keepalived(services, reals, 0, 1))
	r.cfgSize = len(body)
	if err := os.WriteFile(cf, []byte(body), 0o644); err != nil {
		return fail("%v", err)
	}
	t0 := time.Now()
	p, err := t.start(cf, dir)
	if err != nil {
		return fail("%v", err)
	}
	defer p.stop()
	if !waitFor(5*time.Minute, time.Second, func() bool { return procReals() >= n }) {
		return fail("the table did not fill within 5 min: %d of %d (%s)", procReals(), n, tail(p.log, 3))
	}
	r.start = time.Since(t0)
	quiet := 3 * time.Second
	waitFor(2*time.Minute, 200*time.Millisecond, func() bool { return time.Since(mon.lastWriteSeen()) > quiet })
	r.startW, _, _ = mon.counts(t0, time.Now())
	// keepalived puts a real without a checker in the table at once; lvsd
	// after its first (always passing) check, spread over delay_loop
	// (keepalived's default, 60 s): the start times differ for that reason
	fmt.Printf("   table full after %s (%d IPVS writes)\n", r.start.Round(time.Millisecond), r.startW)
	svc := netip.MustParseAddrPort("10.200.0.1:80")
	changed := netip.AddrPortFrom(realAddr(reals-1), 80)
	for i := 0; i < reloads; i++ {
		one := reloadOne{weight: 5}
		if i%2 == 1 {
			one.weight = 1
		}
		tmp := cf + ".new"
		if err := os.WriteFile(tmp, benchconf.Keepalived(services, reals, 0, one.weight), 0o644); err != nil {
			return fail("%v", err)
		}
		os.Rename(tmp, cf)
		logOff := fileSize(p.log)
		c0 := cpuTime(p.pids())
		hup := time.Now()
		if err := p.hup(); err != nil {
			return fail("SIGHUP: %v", err)
		}
		var ev *nlEvent
		if !waitFor(3*time.Minute, 5*time.Millisecond, func() (ok bool) {
			ev, ok = mon.destWrite(hup, 0, svc, changed)
			return ok && ev.weight == uint32(one.weight)
		}) {
			one.err = "the changed real was not written within 3 min"
		}
		waitFor(3*time.Minute, 50*time.Millisecond, func() bool {
			last := mon.lastWriteSeen()
			if last.Before(hup) {
				last = hup
			}
			return time.Since(last) > quiet
		})
		end := time.Now()
		one.cpu = cpuTime(p.pids()) - c0
		if ev != nil {
			a := ev.ack
			if a.IsZero() {
				a = ev.t
			}
			one.changed = a.Sub(hup)
		}
		if _, done, ok := mon.lastWrite(hup, end); ok {
			one.done = done.Sub(hup)
		}
		one.writes, one.reads, one.byCmd = mon.counts(hup, end)
		one.inKernel = procWeightIn(svc, changed)
		if strings.HasPrefix(t.key, "lvsd") {
			one.logDone, one.logWrites = lvsdReloadLog(p.log, logOff, hup)
		} else {
			one.keepalived = grepFrom(p.log, logOff, "Reload")
		}
		r.rs = append(r.rs, one)
		logged := ""
		if strings.HasPrefix(t.key, "lvsd") {
			logged = fmt.Sprint(one.logWrites)
		}
		fmt.Printf("   reload %d (weight -> %d): changed real written after %s, last write after %s%s; %d IPVS writes %v, %d reads; CPU %s; kernel weight now %d%s%s\n",
			i+1, one.weight, ms(one.changed), ms(one.done), opt(", \"reloaded:\" logged after ", ms(one.logDone)),
			one.writes, one.byCmd, one.reads, one.cpu, one.inKernel,
			opt("; lvsd logged ipvsadm lines: ", logged), opt("; keepalived log: ", one.keepalived)+opt("; ", one.err))
	}
	return r
}

func fileSize(path string) int64 {
	st, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return st.Size()
}

func readFrom(path string, off int64) []byte {
	b, err := os.ReadFile(path)
	if err != nil || off > int64(len(b)) {
		return nil
	}
	return b[off:]
}

// lvsdReloadLog reads lvsd's log after a SIGHUP: when "reloaded:" was
// logged (its stamp minus the SIGHUP, at the millisecond) and how many
// ipvsadm writes it logged.
func lvsdReloadLog(path string, off int64, hup time.Time) (time.Duration, int) {
	var done time.Duration
	writes := 0
	sc := bufio.NewScanner(bytes.NewReader(readFrom(path, off)))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		l := sc.Text()
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		if f[1] == "ipvsadm" || (f[1] == "repair:" && len(f) > 2 && f[2] == "ipvsadm") {
			writes++
		}
		if f[1] == "reloaded:" && done == 0 {
			if t, err := time.ParseInLocation("15:04:05.000", f[0], time.Local); err == nil {
				y, m, d := hup.Date()
				t = time.Date(y, m, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.Local)
				done = t.Sub(hup.Truncate(time.Millisecond))
			}
		}
	}
	return done, writes
}

func grepFrom(path string, off int64, word string) string {
	var out []string
	for _, l := range strings.Split(string(readFrom(path, off)), "\n") {
		if strings.Contains(l, word) {
			out = append(out, strings.TrimSpace(l))
		}
	}
	return strings.Join(out, " | ")
}

// procWeightIn is the weight of dest in service svc (-1: not there).
func procWeightIn(svc, dest netip.AddrPort) int {
	b := readProc()
	s4, d4 := svc.Addr().As4(), dest.Addr().As4()
	sh := fmt.Sprintf("TCP  %02X%02X%02X%02X:%04X ", s4[0], s4[1], s4[2], s4[3], svc.Port())
	dh := fmt.Sprintf("-> %02X%02X%02X%02X:%04X ", d4[0], d4[1], d4[2], d4[3], dest.Port())
	i := bytes.Index(b, []byte(sh))
	if i < 0 {
		return -1
	}
	block := b[i+len(sh):]
	if j := bytes.Index(block, []byte("\nTCP ")); j >= 0 {
		block = block[:j]
	}
	k := bytes.Index(block, []byte(dh))
	if k < 0 {
		return -1
	}
	line := string(block[k:])
	if e := strings.IndexByte(line, '\n'); e >= 0 {
		line = line[:e]
	}
	f := strings.Fields(line)
	var w int
	if len(f) >= 4 {
		fmt.Sscan(f[3], &w)
	}
	return w
}
