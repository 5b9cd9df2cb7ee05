package main

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// straceFor: how long the system calls of a checking daemon are counted
// (strace -c -f on its processes, after the CPU is measured; 0: not).
// Under strace every call stops the process twice, so the daemon runs
// far slower meanwhile: only the calls per check mean something, not
// their times.
var straceFor time.Duration

// sysCount is one line of strace -c: calls and errors of one system call.
type sysCount struct {
	name          string
	calls, errors int
}

// straceCount counts the system calls of pids (every thread) for d.
func straceCount(pids []int, d time.Duration) ([]sysCount, error) {
	args := []string{"-s", "INT", strconv.Itoa(int(d.Seconds())), "strace", "-c", "-f", "-U", "name,calls,errors"}
	n := 0
	for _, p := range pids {
		if p > 0 {
			args = append(args, "-p", strconv.Itoa(p))
			n++
		}
	}
	if n == 0 {
		return nil, fmt.Errorf("no process to trace")
	}
	out, _ := exec.Command("timeout", args...).CombinedOutput()
	var cs []sysCount
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || f[0] == "syscall" || f[0] == "total" || strings.HasPrefix(f[0], "-") {
			continue
		}
		c, err := strconv.Atoi(f[1])
		if err != nil {
			continue
		}
		e := 0
		if len(f) > 2 {
			e, _ = strconv.Atoi(f[2])
		}
		cs = append(cs, sysCount{f[0], c, e})
	}
	if len(cs) == 0 {
		return nil, fmt.Errorf("strace: %s", strings.TrimSpace(string(out)))
	}
	sort.Slice(cs, func(i, j int) bool { return cs[i].calls > cs[j].calls })
	return cs, nil
}

// printStrace prints the calls per check: a check is one socket() (every
// tool opens one socket per connect check, and nothing else here does).
func printStrace(cs []sysCount, d time.Duration) {
	checks := 0
	for _, c := range cs {
		if c.name == "socket" {
			checks = c.calls
		}
	}
	if checks == 0 {
		fmt.Printf("   strace -c -f for %s: no socket() call: no check counted\n", d)
		return
	}
	total := 0
	var parts []string
	for _, c := range cs {
		total += c.calls
		p := fmt.Sprintf("%s %.2f", c.name, float64(c.calls)/float64(checks))
		if c.errors > 0 {
			p += fmt.Sprintf(" (%.2f failed)", float64(c.errors)/float64(checks))
		}
		parts = append(parts, p)
	}
	fmt.Printf("   strace -c -f for %s: %d checks (socket calls), %.2f system calls per check: %s\n",
		d, checks, float64(total)/float64(checks), strings.Join(parts, ", "))
}

// perfFor: how long the whole VM is sampled by perf (cpu-clock, every
// CPU, kernel and user) while a daemon checks; 0: not. The flat profile
// by command and symbol says where the emulated CPU goes, kernel
// included, which the daemon's own profile cannot (its system calls are
// one opaque frame there).
var perfFor time.Duration

func perfProfile(d time.Duration, dir string, pids []int) (string, error) {
	perfRuns++
	data := fmt.Sprintf("%s/perf-%d.data", dir, perfRuns)
	// the kernel lowers the sampling rate after a slow sample (as under
	// emulation), and perf record then refuses -F: no limit for the run
	exec.Command("sysctl", "-qw", "kernel.perf_cpu_time_max_percent=0", "kernel.perf_event_max_sample_rate=100000").Run()
	out, err := exec.Command("perf", "record", "-q", "-e", "cpu-clock", "-F", "499", "-a", "-g", "-o", data,
		"--", "sleep", strconv.Itoa(int(d.Seconds()))).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("perf record: %v: %s", err, strings.TrimSpace(string(out)))
	}
	var b strings.Builder
	report := func(title string, args ...string) error {
		out, err := exec.Command("perf", append([]string{"report", "-i", data, "--stdio", "-q"}, args...)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("perf report: %v: %s", err, strings.TrimSpace(string(out)))
		}
		fmt.Fprintf(&b, "   perf, %s:\n", title)
		n := 0
		for _, l := range strings.Split(string(out), "\n") {
			if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
				continue
			}
			if n++; n > 70 {
				break
			}
			b.WriteString("     " + strings.TrimSpace(l) + "\n")
		}
		if n == 0 {
			b.WriteString("     (nothing: " + strings.TrimSpace(string(out)) + ")\n")
		}
		return nil
	}
	// flat, then with the callees' samples (children): which system
	// call, interrupt or scheduler path the time is under
	for _, mode := range []string{"--no-children comm", "--no-children comm,sym", "--children comm,sym"} {
		f := strings.Fields(mode)
		if err := report(fmt.Sprintf("whole VM for %s, %s", d, mode), f[0], "-g", "none", "--sort", f[1], "--percent-limit", "0.7"); err != nil {
			return "", err
		}
	}
	// who reads the clock: under emulation the VM's clocksource is the
	// HPET, which the vDSO cannot read, so every clock read is a system
	// call (and an emulated device access)
	var pa []string
	for _, p := range pids {
		if p > 0 {
			pa = append(pa, strconv.Itoa(p))
		}
	}
	data2 := data + ".clock"
	out, err = exec.Command("perf", "record", "-q", "-e", "raw_syscalls:sys_enter", "--filter", "id == 228", "-g",
		"-p", strings.Join(pa, ","), "-o", data2, "--", "sleep", "3").CombinedOutput()
	if err != nil {
		fmt.Fprintf(&b, "   perf record of clock_gettime: %v: %s\n", err, strings.TrimSpace(string(out)))
		return b.String(), nil
	}
	data = data2
	if err := report("clock_gettime calls of the daemon for 3s, by caller", "--no-children", "-G", "--sort", "sym",
		"-g", "caller,2,callee,function,percent", "--percent-limit", "2"); err != nil {
		fmt.Fprintf(&b, "   %v\n", err)
	}
	return b.String(), nil
}

var perfRuns int

// activeOpens is the TCP connects this namespace has started
// (ActiveOpens of /proc/net/snmp).
func activeOpens() int {
	b, err := os.ReadFile("/proc/net/snmp")
	if err != nil {
		return 0
	}
	var names []string
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || f[0] != "Tcp:" {
			continue
		}
		if names == nil {
			names = f
			continue
		}
		for i, n := range names {
			if n == "ActiveOpens" && i < len(f) {
				v, _ := strconv.Atoi(f[i])
				return v
			}
		}
	}
	return 0
}
