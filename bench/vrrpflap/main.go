// Command vrrpflap counts spurious VRRP takeovers on a loaded machine: an
// lvsd pair and a keepalived pair (Debian's, `keepalived -P`) side by
// side, same settings (v3, advert_int 0.05 s by default), each pair in two
// network namespaces on one veth link, while -burn processes (default:
// one per core) spin on the CPUs for -minutes. A backup adding the VIP
// while its master lives is a spurious takeover (the master's adverts
// came too late, or the backup's timers ran late); the target is 0.
// Counted from RTM_NEWADDR events in the backups' namespaces. Each
// process's CPU time over the window is printed too: with -burn 0 that
// is the idle cost (-instances N runs N instances per router). -reals N
// gives each lvsd a virtual_server of N reals with HTTP_GET checks every
// second (served in its namespace), run over an in-memory IPVS table
// (lvsd run --ipvs-in-memory: this host has no ip_vs): VRRP beside the
// checks in one process, keepalived's usual file; keepalived stays -P
// (its checker is another process anyway). Needs root, keepalived and
// bin/lvsd. Run by bench/vrrp.sh (-flap-minutes).
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vishvananda/netlink"
	vnetns "github.com/vishvananda/netns"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// rtPriority is -rt: global_defs { vrrp_rt_priority N } in every file.
var rtPriority int

// instances is -instances: vrrp_instances per router (VRID 51, 52...).
var instances int

// reals is -reals: HTTP_GET reals beside VRRP in each lvsd.
var reals int

// lvsdArgs is -lvsd-args: more arguments of each lvsd run ({NAME}: a for
// the master, b for the backup).
var lvsdArgs string

func main() {
	minutes := flag.Float64("minutes", 5, "how long both pairs run under load")
	advert := flag.String("advert", "0.05", "advert_int (v3)")
	burn := flag.Int("burn", runtime.NumCPU(), "CPU-spinning processes during the window")
	lvsd := flag.String("lvsd", "bin/lvsd", "the lvsd binary")
	base := flag.String("lvsd-base", "", "a second lvsd binary (before a change): a third pair, lvsd-base, in the same run")
	keep := flag.String("keep-logs", "", "copy lvsd's logs to this directory at the end")
	flag.StringVar(&lvsdArgs, "lvsd-args", "", "more arguments of each lvsd run, e.g. \"--trace /tmp/{NAME}.trace --memprofile /tmp/{NAME}.pprof\" ({NAME}: a, the master; b, the backup)")
	flag.IntVar(&instances, "instances", 1, "vrrp_instances per router (each its own VRID and VIP)")
	flag.IntVar(&rtPriority, "rt", 0, "vrrp_rt_priority for both pairs (SCHED_RR 1-99; 0: normal scheduling)")
	flag.IntVar(&reals, "reals", 0, "a virtual_server of this many HTTP_GET reals (delay_loop 1) in each lvsd's file, over an in-memory IPVS table")
	serve := flag.String("serve", "", "internal: serve HTTP at this address (the reals of -reals, in an lvsd's namespace)")
	flag.Parse()
	if *serve != "" {
		fatal(http.ListenAndServe(*serve, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })))
	}
	bins := map[string]string{}
	for impl, b := range map[string]string{"lvsd": *lvsd, "lvsd-base": *base} {
		if b == "" {
			continue
		}
		abs, err := filepath.Abs(b)
		if err != nil {
			fatal(err)
		}
		bins[impl] = abs
	}
	dir, err := os.MkdirTemp("", "bench-vrrpflap")
	if err != nil {
		fatal(err)
	}
	defer os.RemoveAll(dir)
	pairs := []*pair{{impl: "lvsd"}}
	if bins["lvsd-base"] != "" {
		pairs = append(pairs, &pair{impl: "lvsd-base"})
	}
	pairs = append(pairs, &pair{impl: "keepalived"}) // last: the CPU ratios' reference
	for _, p := range pairs {
		defer p.close()
		if err := p.start(dir, bins[p.impl], *advert); err != nil {
			fatal(fmt.Errorf("%s: %v", p.impl, err))
		}
	}
	var burners []*exec.Cmd
	for i := 0; i < *burn; i++ {
		c := exec.Command("sh", "-c", "while :; do :; done")
		if err := c.Start(); err != nil {
			fatal(err)
		}
		burners = append(burners, c)
	}
	window := time.Duration(*minutes * float64(time.Minute))
	mode := "lvsd VRRP only"
	if reals > 0 {
		mode = fmt.Sprintf("lvsd with a virtual_server of %d HTTP_GET reals (in-memory IPVS)", reals)
	}
	fmt.Printf("spurious takeovers, v3 advert_int %s s, %s, %d CPU burners on %d cores (load %s at start), vrrp_rt_priority %d, %s\n",
		*advert, window, *burn, runtime.NumCPU(), loadavg(), rtPriority, mode)
	t0 := time.Now()
	probe := startProbe(t0)
	steal0 := steal()
	for _, p := range pairs {
		p.cpu0 = p.cpu()
	}
	time.Sleep(window)
	for _, p := range pairs {
		p.cpu1 = p.cpu()
	}
	stalls := probe()
	stolen := steal() - steal0
	for _, c := range burners {
		c.Process.Kill()
		c.Wait()
	}
	for _, p := range pairs {
		fmt.Printf("  %-10s %d takeover(s) in %s%s\n", p.impl, len(p.moves), time.Since(t0).Round(time.Second), p.times(t0))
		if len(p.logs) > 0 {
			fmt.Printf("             %s\n", p.lateness())
		}
	}
	cpu := make([]time.Duration, len(pairs))
	for i, p := range pairs {
		for j := range 2 {
			cpu[i] += p.cpu1[j] - p.cpu0[j]
		}
		fmt.Printf("  %-10s CPU in the window: master %s, backup %s (%.2f%% of one core for the pair)\n", p.impl,
			p.cpu1[0]-p.cpu0[0], p.cpu1[1]-p.cpu0[1], 100*cpu[i].Seconds()/time.Since(t0).Seconds())
	}
	if ka := cpu[len(cpu)-1]; ka > 0 {
		for i, p := range pairs[:len(pairs)-1] {
			fmt.Printf("  CPU %s / keepalived: %.2fx\n", p.impl, cpu[i].Seconds()/ka.Seconds())
		}
	}
	if *keep != "" {
		exec.Command("sh", "-c", fmt.Sprintf("mkdir -p %q && cp %q/*.log %q/", *keep, dir, *keep)).Run()
	}
	fmt.Printf("  machine    %s; %.1f s of CPU stolen by the hypervisor (/proc/stat steal)\n", stalls, stolen)
	fmt.Printf("(load %s at the end; target 0)\n", loadavg())
}

// startProbe runs a real-time thread (SCHED_FIFO 99, sleeping 5 ms in
// the kernel) that notes every wake-up more than 50 ms late: a stall of
// the whole machine (the hypervisor, the kernel), which no process
// escapes. The returned func stops it and says what it saw.
func startProbe(t0 time.Time) func() string {
	var mu sync.Mutex
	var gaps []string
	var worst time.Duration
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		attr := unix.SchedAttr{Size: unix.SizeofSchedAttr, Policy: unix.SCHED_FIFO, Priority: 99}
		if err := unix.SchedSetAttr(0, &attr, 0); err != nil {
			mu.Lock()
			gaps = append(gaps, "probe not real-time: "+err.Error())
			mu.Unlock()
		}
		ts := unix.NsecToTimespec((5 * time.Millisecond).Nanoseconds())
		last := time.Now()
		for {
			select {
			case <-stop:
				return
			default:
			}
			unix.Nanosleep(&ts, nil)
			now := time.Now()
			if late := now.Sub(last) - 5*time.Millisecond; late > 50*time.Millisecond {
				mu.Lock()
				gaps = append(gaps, fmt.Sprintf("+%.1fs (%s)", now.Sub(t0).Seconds(), late.Round(time.Millisecond)))
				worst = max(worst, late)
				mu.Unlock()
			}
			last = now
		}
	}()
	return func() string {
		close(stop)
		<-done
		mu.Lock()
		defer mu.Unlock()
		if len(gaps) == 0 {
			return "stall probe (SCHED_FIFO 99 thread): no wake-up more than 50 ms late"
		}
		return fmt.Sprintf("stall probe (SCHED_FIFO 99 thread): %d wake-up(s) more than 50 ms late: %s", len(gaps), strings.Join(gaps, " "))
	}
}

// steal is the CPU time stolen from this machine so far, in seconds.
func steal() float64 {
	b, _ := os.ReadFile("/proc/stat")
	f := strings.Fields(strings.SplitN(string(b), "\n", 2)[0])
	if len(f) < 9 {
		return 0
	}
	var j float64
	fmt.Sscan(f[8], &j)
	return j / 100 // USER_HZ
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench/vrrpflap:", err)
	os.Exit(1)
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// pair is one master (priority 150) and one backup (100), in a
// namespace pair of internal/netns (as the netns tests).
type pair struct {
	impl  string
	np    *netns.Pair
	cmds  []*exec.Cmd
	done  chan struct{}
	moves chan time.Time
	logs  []string // lvsd's, master's first

	cpu0, cpu1 [2]time.Duration // CPU time of the master's and backup's processes
}

// cpu is the CPU time (user + system, all threads) used so far by the
// processes in each namespace (keepalived: its parent and VRRP child).
func (p *pair) cpu() (t [2]time.Duration) {
	for i, ns := range []string{p.np.A, p.np.B} {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			b, err := os.ReadFile("/proc/" + f + "/stat")
			if err != nil {
				continue
			}
			_, rest, _ := strings.Cut(string(b), ") ") // the name may hold spaces
			fs := strings.Fields(rest)
			if len(fs) < 13 {
				continue
			}
			var ut, st int64
			fmt.Sscan(fs[11], &ut)
			fmt.Sscan(fs[12], &st)
			t[i] += time.Duration(ut+st) * time.Second / 100 // USER_HZ
		}
	}
	return t
}

// lateness sums up lvsd's own account of its advert timers: the lines
// it logs for one later than a tenth of the interval, and the worst.
func (p *pair) lateness() string {
	var out []string
	for i, f := range p.logs {
		b, _ := os.ReadFile(f)
		n, worst := 0, time.Duration(0)
		for _, l := range strings.Split(string(b), "\n") {
			_, after, ok := strings.Cut(l, "advert timer ")
			if !ok {
				continue
			}
			n++
			if d, err := time.ParseDuration(strings.Fields(after)[0]); err == nil && d > worst {
				worst = d
			}
		}
		out = append(out, fmt.Sprintf("%s: %d advert timers late by over a tenth of the interval (worst %s)", []string{"master", "backup"}[i], n, worst))
	}
	return strings.Join(out, "; ")
}

func (p *pair) vip() string { return p.np.V4(100) }

func (p *pair) start(dir, lvsd, advert string) error {
	np, err := netns.Create()
	p.np = np
	if err != nil {
		return err
	}
	A, B := np.A, np.B
	launch := func(ns, name string, prio int) error {
		f := filepath.Join(dir, fmt.Sprintf("%s-%s.conf", p.impl, name))
		global := ""
		if rtPriority > 0 {
			global = fmt.Sprintf("global_defs {\n    vrrp_rt_priority %d\n}\n", rtPriority)
		}
		conf := global
		for i := range instances {
			conf += fmt.Sprintf(`vrrp_instance VI_%d {
    state BACKUP
    interface eth0
    virtual_router_id %d
    priority %d
    version 3
    advert_int %s
    virtual_ipaddress {
        %s/24
    }
}
`, i+1, 51+i, prio, advert, p.np.V4(100+i))
		}
		isLvsd := p.impl != "keepalived"
		if isLvsd && reals > 0 {
			conf += virtualServer(p.vip(), reals)
			self, _ := os.Executable()
			srv := exec.Command("ip", "netns", "exec", ns, self, "-serve", ":80")
			if err := srv.Start(); err != nil {
				return err
			}
			p.cmds = append(p.cmds, srv)
		}
		os.WriteFile(f, []byte(conf), 0o644)
		var c *exec.Cmd
		if isLvsd {
			args := []string{"netns", "exec", ns, lvsd, "run", "--pidfile", "none", "--socket", "none"}
			if reals > 0 {
				args = append(args, "--ipvs-in-memory", "--state", filepath.Join(dir, p.impl+"-"+name+".state"))
			}
			args = append(args, strings.Fields(strings.ReplaceAll(lvsdArgs, "{NAME}", name))...)
			c = exec.Command("ip", append(args, f)...)
			lf, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%s.log", p.impl, name)))
			if err != nil {
				return err
			}
			defer lf.Close()
			c.Stdout, c.Stderr = lf, lf
			p.logs = append(p.logs, lf.Name())
		} else {
			args, _ := netns.KeepalivedArgs(ns, "keepalived", f, dir, p.impl+"-"+name)
			c = exec.Command("ip", args...)
		}
		if err := c.Start(); err != nil {
			return err
		}
		p.cmds = append(p.cmds, c)
		return nil
	}
	if err := launch(A, "a", 150); err != nil {
		return err
	}
	if err := launch(B, "b", 100); err != nil {
		return err
	}
	end := time.Now().Add(30 * time.Second)
	for !(netns.HasAddr(A, "eth0", p.vip()) && !netns.HasAddr(B, "eth0", p.vip())) {
		if time.Now().After(end) {
			return fmt.Errorf("no single master within 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(2 * time.Second)
	h, err := vnetns.GetFromName(B)
	if err != nil {
		return err
	}
	ch := make(chan netlink.AddrUpdate, 64)
	p.done, p.moves = make(chan struct{}), make(chan time.Time, 10000)
	if err := netlink.AddrSubscribeAt(h, ch, p.done); err != nil {
		h.Close()
		return err
	}
	go func() {
		defer h.Close()
		for u := range ch {
			for i := range instances {
				if u.NewAddr && u.LinkAddress.IP.Equal(net.ParseIP(p.np.V4(100+i))) {
					p.moves <- time.Now()
				}
			}
		}
	}()
	return nil
}

// virtualServer is keepalived's usual block: VIP:80, DR, n reals on the
// namespace's loopback (127.1.x.y, where -serve answers), HTTP_GET.
func virtualServer(vip string, n int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "virtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n", vip)
	for i := range n {
		fmt.Fprintf(&b, "    real_server 127.1.%d.%d 80 {\n        HTTP_GET {\n            url {\n                path /\n                status_code 200\n            }\n            connect_timeout 1\n        }\n    }\n", i/250, 1+i%250)
	}
	b.WriteString("}\n")
	return b.String()
}

func (p *pair) times(t0 time.Time) string {
	var s []string
	for len(p.moves) > 0 {
		s = append(s, fmt.Sprintf("+%.1fs", (<-p.moves).Sub(t0).Seconds()))
	}
	if len(s) == 0 {
		return ""
	}
	return " at " + strings.Join(s, " ")
}

func (p *pair) close() {
	if p.done != nil {
		close(p.done)
		p.done = nil
	}
	for _, c := range p.cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range p.cmds {
		c.Wait()
	}
	p.cmds = nil
	if p.np == nil {
		return
	}
	for _, ns := range []string{p.np.A, p.np.B} {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		for _, f := range strings.Fields(string(out)) {
			var pid int
			fmt.Sscan(f, &pid)
			syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	p.np.Delete()
	p.np = nil
}
