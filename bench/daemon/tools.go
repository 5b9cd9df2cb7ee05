package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// checkKind is the check every tool runs: "connect" (a TCP connect) or
// "http" (GET / answered "200 OK" with body "ok": ldirectord's negotiate
// check with receive="ok", keepalived's HTTP_GET with status_code 200).
var checkKind = "connect"

// ldirectordCF is one virtual (vip:80, wrr) with n gate reals, checkKind
// checks. Every tool gets the same check settings: checkinterval =
// keepalived's delay_loop, checktimeout = connect_timeout, failurecount 1
// = retry 0, quiescent=no = keepalived's default (a failed real is
// deleted).
func ldirectordCF(n, interval, timeout int, log string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "checkinterval=%d\nchecktimeout=%d\nfailurecount=1\nquiescent=no\nautoreload=no\nlogfile=%q\n\n", interval, timeout, log)
	fmt.Fprintf(&b, "virtual=%s:80\n\tscheduler=wrr\n", vip)
	if checkKind == "http" {
		b.WriteString("\tchecktype=negotiate\n\tservice=http\n\trequest=\"/\"\n\treceive=\"ok\"\n")
	} else {
		b.WriteString("\tchecktype=connect\n")
	}
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "\treal=%s:80 gate 1\n", realAddr(i))
	}
	return b.String()
}

func keepalivedConf(n, interval, timeout int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n    router_id bench\n}\n\nvirtual_server %s 80 {\n    delay_loop %d\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", vip, interval)
	for i := 0; i < n; i++ {
		if checkKind == "http" {
			fmt.Fprintf(&b, "    real_server %s 80 {\n        weight 1\n        HTTP_GET {\n            url {\n                path /\n                status_code 200\n            }\n            connect_timeout %d\n            retry 0\n            delay_before_retry %d\n        }\n    }\n", realAddr(i), timeout, interval)
			continue
		}
		fmt.Fprintf(&b, "    real_server %s 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout %d\n            retry 0\n            delay_before_retry %d\n        }\n    }\n", realAddr(i), timeout, interval)
	}
	b.WriteString("}\n")
	return b.String()
}

// proc is a running tool.
type proc struct {
	name string
	log  string
	pids func() []int // the processes whose CPU time counts
	hup  func() error
	stop func()
}

type tool struct {
	name  string // as printed
	key   string // lvsd-ld, ldirectord, lvsd-ka, keepalived
	conf  string // "ldirectord.cf" or "keepalived.conf"
	start func(cf, dir string) (*proc, error)
}

func lvsdTool(bin, key, conf string) tool {
	return tool{name: "lvsd run (" + conf + ")", key: key, conf: conf, start: func(cf, dir string) (*proc, error) {
		log := filepath.Join(dir, key+".log")
		lf, err := os.Create(log)
		if err != nil {
			return nil, err
		}
		args := []string{"run", "--pidfile", "none", "--socket", "none", "--state", filepath.Join(dir, key+".state")}
		if profile != "" {
			args = append(args, "--cpuprofile", filepath.Join(profile, fmt.Sprintf("%s-%d.pprof", key, time.Now().Unix())))
		}
		if traceDir != "" {
			args = append(args, "--trace", filepath.Join(traceDir, fmt.Sprintf("%s-%d.trace", key, time.Now().Unix())))
		}
		cmd := exec.Command(bin, append(args, cf)...)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			lf.Close()
			return nil, err
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); lf.Close(); close(done) }()
		return &proc{name: key, log: log, pids: func() []int { return []int{cmd.Process.Pid} },
			hup: func() error { return cmd.Process.Signal(syscall.SIGHUP) },
			stop: func() {
				if profile != "" || traceDir != "" { // SIGTERM writes the profile (and cleanstop empties the table)
					cmd.Process.Signal(syscall.SIGTERM)
					select {
					case <-done:
						return
					case <-time.After(60 * time.Second):
					}
				}
				cmd.Process.Kill()
				<-done
			}}, nil
	}}
}

func readPid(path string) int {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return p
}

func ldLog(cf string) string { return strings.TrimSuffix(cf, ".cf") + ".ldirectord.log" }

// ldirectord daemonises; its pid is in /var/run/ldirectord.NAME.pid.
func ldirectordTool() tool {
	return tool{name: "ldirectord + ipvsadm", key: "ldirectord", conf: "ldirectord.cf", start: func(cf, dir string) (*proc, error) {
		pidf := "/var/run/ldirectord." + filepath.Base(cf) + ".pid"
		os.Remove(pidf)
		if out, err := exec.Command("ldirectord", cf, "start").CombinedOutput(); err != nil {
			return nil, fmt.Errorf("ldirectord start: %v: %s", err, out)
		}
		var pid int
		for i := 0; i < 300 && pid == 0; i++ {
			pid = readPid(pidf)
			time.Sleep(100 * time.Millisecond)
		}
		if pid == 0 {
			return nil, fmt.Errorf("ldirectord wrote no pid file %s", pidf)
		}
		return &proc{name: "ldirectord", log: ldLog(cf), pids: func() []int { return []int{pid} },
			hup: func() error { return syscall.Kill(pid, syscall.SIGHUP) },
			stop: func() {
				syscall.Kill(pid, syscall.SIGKILL)
				for i := 0; i < 100 && syscall.Kill(pid, 0) == nil; i++ {
					time.Sleep(50 * time.Millisecond)
				}
				os.Remove(pidf)
			}}, nil
	}}
}

// keepalived, checker process only (-C), in the foreground, its log on
// stderr (-l; -G: no syslog, which would fall back to the console here);
// SIGHUP to the parent reloads (it signals its checker child).
func keepalivedTool() tool {
	return tool{name: "keepalived", key: "keepalived", conf: "keepalived.conf", start: func(cf, dir string) (*proc, error) {
		log := filepath.Join(dir, "keepalived.log")
		lf, err := os.Create(log)
		if err != nil {
			return nil, err
		}
		pidf, cpidf := filepath.Join(dir, "k.pid"), filepath.Join(dir, "kc.pid")
		os.Remove(pidf)
		os.Remove(cpidf)
		cmd := exec.Command("keepalived", "-C", "-n", "-l", "-G", "-D", "-f", cf, "-p", pidf, "-c", cpidf)
		cmd.Stdout, cmd.Stderr = lf, lf
		if err := cmd.Start(); err != nil {
			lf.Close()
			return nil, err
		}
		done := make(chan struct{})
		go func() { cmd.Wait(); lf.Close(); close(done) }()
		return &proc{name: "keepalived", log: log,
			pids: func() []int { return []int{cmd.Process.Pid, readPid(cpidf)} },
			hup:  func() error { return cmd.Process.Signal(syscall.SIGHUP) },
			stop: func() {
				if c := readPid(cpidf); c > 0 {
					syscall.Kill(c, syscall.SIGKILL)
				}
				cmd.Process.Kill()
				<-done
			}}, nil
	}}
}

// rss is the resident memory of the processes (VmRSS), in bytes.
func rss(pids []int) int64 {
	var total int64
	for _, p := range pids {
		if p <= 0 {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				total += kb << 10
			}
		}
	}
	return total
}

// cpuTime is the user+system time of the processes and their waited-for
// children (ldirectord's ipvsadm forks), from /proc/PID/stat.
func cpuTime(pids []int) time.Duration {
	var ticks int64
	for _, p := range pids {
		if p <= 0 {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		// fields after the name: state is f[0]; utime, stime, cutime, cstime are f[11..14]
		for _, x := range f[11:15] {
			v, _ := strconv.ParseInt(x, 10, 64)
			ticks += v
		}
	}
	return time.Duration(ticks) * 10 * time.Millisecond // USER_HZ = 100
}
