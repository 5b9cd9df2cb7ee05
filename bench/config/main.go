// Command bench/config times `lvsd check` against `ldirectord FILE status`
// (ldirectord's only way to read a configuration) on generated
// ldirectord.cf files of 1k, 10k and 100k real servers, and prints the
// wall and CPU time, peak RSS and the ratio of CPU times.
//
//	go run ./bench/config [-lvsd bin/lvsd] [-ldirectord /usr/sbin/ldirectord]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

func main() {
	lvsd := flag.String("lvsd", "bin/lvsd", "lvsd binary")
	ld := flag.String("ldirectord", "/usr/sbin/ldirectord", "ldirectord script (empty: skip)")
	ldMax := flag.Int("ldirectord-max", 10000, "largest number of reals given to ldirectord (it is quadratic)")
	runs := flag.Int("runs", 3, "runs per measurement (best is printed)")
	flag.Parse()
	dir, err := os.MkdirTemp("", "bench-config-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(dir)
	fmt.Println("wall = best elapsed time of the runs; cpu = its user+system time (steadier on a busy machine)")
	fmt.Printf("%-7s %-8s %21s %9s %23s %9s %8s\n", "reals", "size", "lvsd check wall/cpu", "lvsd RSS", "ldirectord wall/cpu", "ld RSS", "ratio")
	for _, nv := range []int{100, 1000, 10000} {
		data := generate(nv, 10)
		f := filepath.Join(dir, fmt.Sprintf("ld-%d.cf", nv*10))
		if err := os.WriteFile(f, data, 0o644); err != nil {
			fail(err)
		}
		lt, lc, lrss := best(*runs, *lvsd, "check", f)
		row := fmt.Sprintf("%-7d %-8s %21s %8dM", nv*10, fmt.Sprintf("%dKiB", len(data)/1024), ms(lt)+" / "+ms(lc), lrss/1024)
		if *ld != "" && nv*10 <= *ldMax {
			dt, dc, drss := best(1, *ld, f, "status")
			row += fmt.Sprintf(" %23s %8dM %7.0fx", ms(dt)+" / "+ms(dc), drss/1024, float64(dc)/float64(lc))
		} else {
			row += fmt.Sprintf(" %23s %9s %8s", "skipped", "-", "-")
		}
		fmt.Println(row)
	}
}

func ms(d time.Duration) string { return d.Round(time.Millisecond).String() }

// best runs the command n times and returns the fastest wall time, the CPU
// time of that run and the largest peak RSS (KiB).
func best(n int, name string, args ...string) (time.Duration, time.Duration, int64) {
	var bt, bc time.Duration
	var rss int64
	for i := 0; i < n; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		cmd := exec.CommandContext(ctx, name, args...)
		start := time.Now()
		err := cmd.Run()
		d := time.Since(start)
		cancel()
		// ldirectord status exits 3 for a valid config that is not running
		if ee, ok := err.(*exec.ExitError); err != nil && !(ok && ee.ExitCode() == 3) {
			fail(fmt.Errorf("%s %v: %v", name, args, err))
		}
		if u, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && u.Maxrss > rss {
			rss = u.Maxrss
		}
		if i == 0 || d < bt {
			bt = d
			bc = cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
		}
	}
	return bt, bc, rss
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/config:", err)
	os.Exit(1)
}
