// bench/check: health-check throughput of `lvsd run --dry-run` against the
// real ldirectord (stand-in ipvsadm), side by side, in one run.
//
// N real addresses live in a network namespace behind a veth pair (an AnyIP
// route: every address of 198.18.0.0/16 is local there), one nginx serves
// them all; the config has checkinterval=1, negotiate http with a receive
// string. Measured per run: checks/s sustained (requests nginx served in
// the window), CPU (utime+stime of the checker and its children / window),
// peak RSS, and the detection latency of a killed real (an nftables rule
// resetting its connections) until the checker reports it down.
//
// The floor: ab (C, a new connection per request) against the same nginx,
// before and after the checkers in the same run; its CPU per request
// (getrusage of the ab process) is what one connection + request +
// response costs a client on this kernel, and every checker's CPU per
// check is printed as a ratio to it.
//
// Run as root: go run ./bench/check [-n 200,1000,10000] [-ld-n 200] [-window 20s] [-ab-n 20000]
// [-lvsd old,new] [-lvsd-args "--cpuprofile /tmp/{BIN}-{N}.pprof"]
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	ns     = fmt.Sprintf("ocfck%d", os.Getpid())
	hostIf = fmt.Sprintf("ck%dh", os.Getpid()%100000)
	nsIf   = fmt.Sprintf("ck%dn", os.Getpid()%100000)
)

const (
	hostAddr = "198.19.0.1"
	nsAddr   = "198.19.0.2"
)

var serverPid int // ip netns exec -> nginx master -> worker

func sh(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/check:", err)
		cleanup()
		os.Exit(1)
	}
}

var cleanups []func()

func cleanup() {
	for i := len(cleanups) - 1; i >= 0; i-- {
		cleanups[i]()
	}
	cleanups = nil
}

// realAddr is the i-th real server address (198.18.0.0/16, skipping .0).
func realAddr(i int) string { i++; return fmt.Sprintf("198.18.%d.%d", i/256, i%256) }

func setupNet(dir string) {
	must(sh("ip", "netns", "add", ns))
	cleanups = append(cleanups, func() { sh("ip", "netns", "del", ns) })
	must(sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf))
	cleanups = append(cleanups, func() { sh("ip", "link", "del", hostIf) })
	must(sh("ip", "link", "set", nsIf, "netns", ns))
	must(sh("ip", "addr", "add", hostAddr+"/30", "dev", hostIf))
	must(sh("ip", "link", "set", hostIf, "up"))
	must(sh("ip", "-n", ns, "addr", "add", nsAddr+"/30", "dev", nsIf))
	must(sh("ip", "-n", ns, "link", "set", nsIf, "up"))
	must(sh("ip", "-n", ns, "link", "set", "lo", "up"))
	// every address of 198.18.0.0/16 is local in the namespace (AnyIP)
	must(sh("ip", "-n", ns, "route", "add", "local", "198.18.0.0/16", "dev", "lo"))
	must(sh("ip", "route", "add", "198.18.0.0/16", "via", nsAddr, "dev", hostIf))
	cleanups = append(cleanups, func() { sh("ip", "route", "del", "198.18.0.0/16") })
	must(sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.core.somaxconn=8192", "net.ipv4.tcp_tw_reuse=1", "net.ipv4.tcp_max_syn_backlog=8192"))
	must(sh("sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"))
	must(sh("ip", "netns", "exec", ns, "nft", "add table inet ck"))
	must(sh("ip", "netns", "exec", ns, "nft", "add chain inet ck input { type filter hook input priority 0 ; }"))

	os.MkdirAll(dir+"/www", 0o755)
	os.WriteFile(dir+"/www/check.html", []byte("real server alive\n"), 0o644)
	conf := fmt.Sprintf(`daemon off; worker_processes 1; pid %[1]s/nginx.pid; error_log %[1]s/nginx.err;
worker_rlimit_nofile 65536;
events { worker_connections 16384; multi_accept on; }
http { access_log %[1]s/access.log; client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp;
  fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  server { listen 80 backlog=8192 reuseport; root %[1]s/www; } }
`, dir)
	os.WriteFile(dir+"/nginx.conf", []byte(conf), 0o644)
	cmd := exec.Command("ip", "netns", "exec", ns, "nginx", "-e", dir+"/nginx.err", "-c", dir+"/nginx.conf")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(cmd.Start())
	serverPid = cmd.Process.Pid
	cleanups = append(cleanups, func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() })
	for i := 0; ; i++ {
		if exec.Command("ip", "netns", "exec", ns, "bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/80").Run() == nil {
			break
		}
		if i > 100 {
			must(fmt.Errorf("nginx did not start"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func writeConfig(path string, n int) {
	var b strings.Builder
	b.WriteString("checktimeout=1\nnegotiatetimeout=1\ncheckinterval=1\nfailurecount=1\nquiescent=no\n")
	fmt.Fprintf(&b, "logfile=\"%s.log\"\n", path)
	b.WriteString("virtual=192.0.2.1:80\n\tservice=http\n\trequest=\"check.html\"\n\treceive=\"alive\"\n\tscheduler=wrr\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\treal=%s:80 gate\n", realAddr(i))
	}
	os.WriteFile(path, []byte(b.String()), 0o644)
}

// accessLines counts requests nginx has logged.
func accessLines(dir string) int {
	f, err := os.Open(dir + "/access.log")
	if err != nil {
		return 0
	}
	defer f.Close()
	n := 0
	buf := make([]byte, 1<<20)
	for {
		k, err := f.Read(buf)
		for _, c := range buf[:k] {
			if c == '\n' {
				n++
			}
		}
		if err != nil {
			return n
		}
	}
}

// cpuTicks is utime+stime of pid and its reaped and live children.
func cpuTicks(pid int) int64 {
	var total int64
	var walk func(p int)
	walk = func(p int) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			return
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		for _, i := range []int{11, 12, 13, 14} { // utime stime cutime cstime
			v, _ := strconv.ParseInt(f[i], 10, 64)
			total += v
		}
		kids, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", p, p))
		for _, k := range strings.Fields(string(kids)) {
			c, _ := strconv.Atoi(k)
			walk(c)
		}
	}
	walk(pid)
	return total
}

func rssKB(pid int) int {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			v, _ := strconv.Atoi(strings.Fields(l)[1])
			return v
		}
	}
	return 0
}

// abFloor runs ab -n n -c 20 against real #0 and returns its CPU (user +
// system, getrusage) per request and the requests per second.
func abFloor(n int) (time.Duration, float64, error) {
	url := "http://" + realAddr(0) + "/check.html"
	cmd := exec.Command("ab", "-q", "-n", strconv.Itoa(n), "-c", "20", url)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, fmt.Errorf("ab: %v: %s", err, out)
	}
	el := time.Since(t0)
	if !strings.Contains(string(out), "Failed requests:        0") {
		return 0, 0, fmt.Errorf("ab: failed requests: %s", out)
	}
	ru := cmd.ProcessState.SysUsage().(*syscall.Rusage)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	return cpu / time.Duration(n), float64(n) / el.Seconds(), nil
}

type result struct {
	name      string
	n         int
	checksPS  float64
	cpuPct    float64
	serverPct float64
	rssMB     float64
	detect    time.Duration
	detectErr string
}

// measure runs cmd (the checker) until `warm` passes, then measures over
// window; then kills one real and waits for downSeen.
func measure(name string, n int, dir string, cmd *exec.Cmd, warm, window time.Duration, downSeen func() bool, arm func()) result {
	r := result{name: name, n: n}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	must(cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	defer func() {
		// TERM first: lvsd flushes its output (and a CPU profile)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
		}
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}()
	pid := cmd.Process.Pid
	// warm-up: until the checks have started (ldirectord first adds and
	// removes every real, forking ipvsadm three times each), then `warm`
	base := accessLines(dir)
	for w0 := time.Now(); accessLines(dir) < base+n && time.Since(w0) < 5*time.Minute; {
		select {
		case <-done:
			must(fmt.Errorf("%s exited during the warm-up: %v", name, cmd.ProcessState))
		case <-time.After(200 * time.Millisecond):
		}
	}
	time.Sleep(warm)
	a0, c0, s0, t0 := accessLines(dir), cpuTicks(pid), cpuTicks(serverPid), time.Now()
	peak := 0
	for time.Since(t0) < window {
		time.Sleep(500 * time.Millisecond)
		if k := rssKB(pid); k > peak {
			peak = k
		}
	}
	a1, c1, s1, el := accessLines(dir), cpuTicks(pid), cpuTicks(serverPid), time.Since(t0)
	r.checksPS = float64(a1-a0) / el.Seconds()
	r.cpuPct = float64(c1-c0) / 100 / el.Seconds() * 100 // USER_HZ=100
	r.serverPct = float64(s1-s0) / 100 / el.Seconds() * 100
	r.rssMB = float64(peak) / 1024

	// kill real #n/2: its connections are reset, as a crashed server's
	arm()
	victim := realAddr(n / 2)
	rule := fmt.Sprintf("add rule inet ck input ip daddr %s tcp dport 80 reject with tcp reset", victim)
	must(sh("ip", "netns", "exec", ns, "nft", rule))
	k0 := time.Now()
	for !downSeen() {
		if time.Since(k0) > 60*time.Second {
			r.detectErr = "not seen in 60s"
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	r.detect = time.Since(k0)
	sh("ip", "netns", "exec", ns, "nft", "flush chain inet ck input")
	return r
}

func main() {
	nsList := flag.String("n", "200,1000,10000", "numbers of reals for lvsd")
	ldN := flag.String("ld-n", "200", "numbers of reals for ldirectord (empty: skip)")
	window := flag.Duration("window", 20*time.Second, "measurement window")
	warm := flag.Duration("warm", 5*time.Second, "time before measuring (all reals up)")
	lvsd := flag.String("lvsd", "bin/lvsd", "lvsd binary; several, comma-separated, run in turn at each N (before/after in one run)")
	standin := flag.String("standin", "testdata/check/ipvsadm-standin", "stand-in ipvsadm for ldirectord")
	lvsdArgs := flag.String("lvsd-args", "", "more arguments of lvsd run, e.g. \"--cpuprofile /tmp/lvsd-{N}.pprof\" ({N}: the number of reals, {BIN}: the binary's name)")
	abN := flag.Int("ab-n", 20000, "requests of the ab floor run before and after the checkers (0: skip)")
	flag.Parse()
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "bench/check: needs root (network namespace)")
		os.Exit(2)
	}
	standinAbs, _ := filepath.Abs(*standin)
	dir, _ := os.MkdirTemp("", "ocf-lvs-bench-check-")
	os.Chmod(dir, 0o755)
	cleanups = append(cleanups, func() { os.RemoveAll(dir) })
	defer cleanup()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sig; cleanup(); os.Exit(1) }()
	setupNet(dir)

	var floors []time.Duration
	floor := func(when string) {
		if *abN <= 0 {
			return
		}
		per, rps, err := abFloor(*abN)
		must(err)
		floors = append(floors, per)
		fmt.Printf("%-10s ab -n %d -c 20 (a new connection per request): %.1f us CPU per request, %.0f requests/s (%s, load %s)\n",
			"floor", *abN, float64(per.Nanoseconds())/1e3, rps, when, loadavg())
	}
	floor("before the checkers")
	var results []result
	bins := strings.Split(*lvsd, ",")
	for _, s := range strings.Split(*nsList, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		if n <= 0 {
			continue
		}
		for bi, bin := range bins {
			// several builds (-lvsd old,new): each in turn at each N, in one run
			name := "lvsd"
			if len(bins) > 1 {
				name = "lvsd:" + filepath.Base(bin)
			}
			abs, _ := filepath.Abs(bin)
			cf := fmt.Sprintf("%s/lvsd-%d-%d.cf", dir, n, bi)
			writeConfig(cf, n)
			outPath := fmt.Sprintf("%s/lvsd-%d-%d.out", dir, n, bi)
			out, _ := os.Create(outPath)
			args := strings.ReplaceAll(strings.ReplaceAll(*lvsdArgs, "{N}", strconv.Itoa(n)), "{BIN}", filepath.Base(bin))
			cmd := exec.Command(abs, append([]string{"run", "--dry-run", "--quiet"}, append(strings.Fields(args), cf)...)...)
			cmd.Stdout, cmd.Stderr = out, out
			victim := realAddr(n/2) + ":80: "
			seen := func() bool { return countLines(outPath, "down tcp:192.0.2.1:80 real "+victim) > 0 }
			w := *warm
			if n >= 5000 {
				w += 5 * time.Second
			}
			r := measure(name, n, dir, cmd, w, *window, seen, func() {})
			out.Close()
			results = append(results, r)
			report(r)
		}
	}
	for _, s := range strings.Split(*ldN, ",") {
		n, _ := strconv.Atoi(strings.TrimSpace(s))
		if n <= 0 {
			continue
		}
		ldDir := fmt.Sprintf("%s/ld-%d", dir, n)
		os.MkdirAll(ldDir, 0o755)
		b, err := os.ReadFile(standinAbs)
		must(err)
		os.WriteFile(ldDir+"/ipvsadm", b, 0o755)
		cf := ldDir + "/ldirectord.cf"
		writeConfig(cf, n)
		cmd := exec.Command("ldirectord", "-d", cf, "start")
		cmd.Dir = ldDir
		out, _ := os.Create(ldDir + "/out")
		cmd.Stdout, cmd.Stderr = out, out
		victim := "-d -t 192.0.2.1:80 -r " + realAddr(n/2) + ":80"
		// it removed every real once at start: wait for one removal more
		before := 0
		seen := func() bool { return countLines(ldDir+"/ipvsadm.log", victim) > before }
		arm := func() { before = countLines(ldDir+"/ipvsadm.log", victim) }
		r := measure("ldirectord", n, dir, cmd, *warm, *window, seen, arm)
		out.Close()
		results = append(results, r)
		report(r)
	}
	floor("after the checkers")
	fmt.Println()
	if len(floors) > 0 {
		var sum time.Duration
		for _, f := range floors {
			sum += f
		}
		fl := float64(sum.Nanoseconds()) / float64(len(floors)) / 1e3
		for _, o := range results {
			per := o.cpuPct / 100 / o.checksPS * 1e6
			fmt.Printf("ratio %s N=%d vs the floor (ab, %.1f us): %.1f us CPU per check, x%.2f\n", o.name, o.n, fl, per, per/fl)
		}
	}
	for _, ld := range results {
		if ld.name != "ldirectord" {
			continue
		}
		for _, o := range results {
			if strings.HasPrefix(o.name, "lvsd") {
				fmt.Printf("ratio lvsd N=%d vs ldirectord N=%d: checks/s x%.1f, CPU per check x%.2f, RSS x%.2f\n",
					o.n, ld.n, o.checksPS/ld.checksPS,
					(o.cpuPct/o.checksPS)/(ld.cpuPct/ld.checksPS), o.rssMB/ld.rssMB)
			}
		}
	}
}

func loadavg() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func report(r result) {
	det := r.detect.Round(time.Millisecond).String()
	if r.detectErr != "" {
		det = r.detectErr
	}
	fmt.Printf("%-10s N=%-6d %8.0f checks/s (%5.1f%% of N/s)  CPU %5.1f%% (%.1f us per check)  RSS %6.1f MB  killed real down after %-8s (nginx CPU %5.1f%%, load %s)\n",
		r.name, r.n, r.checksPS, 100*r.checksPS/float64(r.n), r.cpuPct, r.cpuPct/100/r.checksPS*1e6, r.rssMB, det, r.serverPct, loadavg())
}

func countLines(path, sub string) int {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	n := 0
	for sc.Scan() {
		if strings.Contains(sc.Text(), sub) {
			n++
		}
	}
	return n
}
