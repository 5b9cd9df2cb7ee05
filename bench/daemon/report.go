package main

import (
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"
)

// stat is the median and range of one measure over the good trials.
type stat struct {
	med, lo, hi time.Duration
	n           int
}

func statOf(ds []time.Duration) stat {
	var ok []time.Duration
	for _, d := range ds {
		if d > 0 && d < time.Hour {
			ok = append(ok, d)
		}
	}
	if len(ok) == 0 {
		return stat{}
	}
	s := stat{med: median(ok), lo: ok[0], hi: ok[0], n: len(ok)}
	for _, d := range ok {
		s.lo, s.hi = min(s.lo, d), max(s.hi, d)
	}
	return s
}

func (s stat) String() string {
	if s.n == 0 {
		return "-"
	}
	if s.n == 1 {
		return ms(s.med)
	}
	return fmt.Sprintf("%s (%s..%s)", ms(s.med), strings.TrimSuffix(ms(s.lo), " ms"), ms(s.hi))
}

func (r *killResult) stats() (det, react, gone stat, writes, reads string) {
	var d, re, g []time.Duration
	var ws, rs []int
	for _, t := range r.trials {
		if t.err != "" {
			continue
		}
		d = append(d, t.probe.Sub(t.kill))
		re = append(re, t.ack.Sub(t.probe))
		g = append(g, t.ack.Sub(t.kill))
		ws, rs = append(ws, t.writes), append(rs, t.reads)
	}
	return statOf(d), statOf(re), statOf(g), intRange(ws), intRange(rs)
}

// perCheck is the CPU one check costs the tool: its CPU while checking
// over the checks it made meanwhile (TCP connects counted by the kernel).
func (r *killResult) perCheck() time.Duration {
	if r.checks <= 0 {
		return r.perCheckByPeriod()
	}
	return time.Duration(r.cpu * float64(r.window) / float64(r.checks))
}

// perCheckByPeriod is the same estimated as before the checks were
// counted: every real once per probe period (the victim's, measured).
func (r *killResult) perCheckByPeriod() time.Duration {
	if r.n == 0 || r.period <= 0 {
		return 0
	}
	return time.Duration(r.cpu * float64(r.period) / float64(r.n))
}

func intRange(v []int) string {
	if len(v) == 0 {
		return "-"
	}
	lo, hi := v[0], v[0]
	for _, x := range v {
		lo, hi = min(lo, x), max(hi, x)
	}
	if lo == hi {
		return fmt.Sprint(lo)
	}
	return fmt.Sprintf("%d-%d", lo, hi)
}

func ratio(a, b time.Duration) string {
	if a <= 0 || b <= 0 {
		return "n/a"
	}
	x := float64(a) / float64(b)
	if x < 1 {
		return fmt.Sprintf("%.2fx", x)
	}
	if x < 10 {
		return fmt.Sprintf("%.1fx", x)
	}
	return fmt.Sprintf("%.0fx", x)
}

func report(kills []*killResult, rel []*reloadResult) {
	fmt.Println("\n==================== summary ====================")
	if len(kills) > 0 {
		fmt.Println("\n1. A real killed -> its netlink delete (median of the kills, min..max)")
		fmt.Println("   detection = kill -> the first probe (SYN) to the real; reaction = that probe -> the del-real acked by the kernel (nlmon);")
		fmt.Println("   kill -> delete = detection + reaction; writes/reads = IPVS netlink requests from the kill to the delete")
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "reals\ttool\tprobe period\tdetection\treaction\tkill -> delete\twrites\treads\tCPU checking\tCPU per check\tRSS\tstart (table full)\t")
		var notes []string
		for _, r := range kills {
			if r.note != "" {
				notes = append(notes, fmt.Sprintf("%d reals, %s: %s", r.n, r.tool.name, r.note))
			}
			if len(r.trials) == 0 {
				fmt.Fprintf(w, "%d\t%s\t(see below)\t\t\t\t\t\t\t\t\t\t\n", r.n, r.tool.name)
				continue
			}
			det, react, gone, ws, rs := r.stats()
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.1f%%\t%s\t%.1f MB\t%s, %d writes\t\n", r.n, r.tool.name, ms(r.period), det, react, gone, ws, rs,
				100*r.cpu, ms(r.perCheck()), float64(r.rss)/1e6, ms(r.ready), r.startW)
		}
		w.Flush()
		for _, n := range notes {
			fmt.Println("   " + n)
		}
		fmt.Println()
		// each lvsd run against both peers at the same size: the target is
		// detection + < 5 ms (the median reaction) and never slower than
		// either peer
		for _, me := range kills {
			if !strings.HasPrefix(me.tool.key, "lvsd") || len(me.trials) == 0 {
				continue
			}
			_, mr, md, _, _ := me.stats()
			// no delete measured (the real was never removed) is a miss,
			// not a zero reaction
			verdict := mr.med > 0 && mr.med < 5*time.Millisecond
			for _, peer := range kills {
				if peer.n != me.n || strings.HasPrefix(peer.tool.key, "lvsd") || len(peer.trials) == 0 {
					continue
				}
				_, pr, pd, _, _ := peer.stats()
				fmt.Printf("ratio at %d reals, %s / %s: reaction %s, kill -> delete %s; CPU per check %s / %s: %s\n", me.n, peer.tool.name, me.tool.name,
					ratio(pr.med, mr.med), ratio(pd.med, md.med), me.tool.name, peer.tool.name, ratio(me.perCheck(), peer.perCheck()))
				verdict = verdict && mr.med <= pr.med
			}
			fmt.Printf("target at %d reals, %s: detection + < 5 ms and no slower than a peer: reaction median %s, max %s: %s\n",
				me.n, me.tool.name, ms(mr.med), ms(mr.hi), map[bool]string{true: "met", false: "MISSED"}[verdict])
		}
	}
	if len(rel) > 0 {
		fmt.Println("\n2. Reload (SIGHUP) of a keepalived.conf, one real's weight changed (median of the reloads, min..max)")
		fmt.Println("   changed = SIGHUP -> the changed real's write acked; done = SIGHUP -> the reload's last IPVS write acked;")
		fmt.Println("   writes/reads = IPVS netlink requests after the SIGHUP (nlmon); CPU = the daemon's user+system time for the reload")
		w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
		fmt.Fprintln(w, "reals\ttool\tchanged\tdone\twrites\treads\tCPU\tstart (table full)\t")
		type sum struct{ changed, done, cpu stat }
		sums := map[string]sum{}
		for _, r := range rel {
			if len(r.rs) == 0 {
				fmt.Fprintf(w, "%d\t%s\t%s\t\t\t\t\t\t\n", r.services*r.reals, r.tool.name, r.note)
				continue
			}
			var c, d, cp []time.Duration
			var ws, rs []int
			for _, o := range r.rs {
				c, d, cp = append(c, o.changed), append(d, o.done), append(cp, o.cpu)
				ws, rs = append(ws, o.writes), append(rs, o.reads)
			}
			s := sum{statOf(c), statOf(d), statOf(cp)}
			sums[r.tool.key] = s
			fmt.Fprintf(w, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.services*r.reals, r.tool.name, s.changed, s.done, intRange(ws), intRange(rs), s.cpu,
				ms(r.start), r.note)
		}
		w.Flush()
		for _, key := range []string{"lvsd-ka", "lvsd-ka-base"} {
			k, l := sums["keepalived"], sums[key]
			if k.done.n == 0 || l.done.n == 0 {
				continue
			}
			fmt.Printf("\nratio keepalived / %s: changed real %s, done %s, CPU %s\n", key, ratio(k.changed.med, l.changed.med), ratio(k.done.med, l.done.med), ratio(k.cpu.med, l.cpu.med))
			verdict := "met"
			if float64(k.done.med)/float64(l.done.med) < 10 {
				verdict = "MISSED"
			}
			fmt.Printf("target: >= 10x faster than keepalived (done), %s: %s\n", key, verdict)
		}
		if b, l := sums["lvsd-ka-base"], sums["lvsd-ka"]; b.done.n > 0 && l.done.n > 0 {
			fmt.Printf("ratio lvsd BASE / lvsd: changed real %s, done %s, CPU %s\n", ratio(b.changed.med, l.changed.med), ratio(b.done.med, l.done.med), ratio(b.cpu.med, l.cpu.med))
		}
		for _, r := range rel {
			if strings.HasPrefix(r.tool.key, "lvsd") && len(r.rs) > 0 {
				verdict := "met"
				for _, o := range r.rs {
					if o.writes != 1 {
						verdict = "MISSED"
					}
				}
				fmt.Printf("target: 1 write per reload (%s): %s\n", r.tool.name, verdict)
			}
		}
	}
}
