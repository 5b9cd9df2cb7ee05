// Command bench/config times `lvsd check` against `ldirectord FILE status`
// (ldirectord's only way to read a configuration) on generated
// ldirectord.cf files of 1k, 10k and 100k real servers, and prints the
// wall time, peak RSS and the ratio.
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
	fmt.Printf("%-8s %-9s %12s %10s %14s %10s %8s\n", "reals", "size", "lvsd check", "lvsd RSS", "ldirectord", "ld RSS", "ratio")
	for _, nv := range []int{100, 1000, 10000} {
		data := generate(nv, 10)
		f := filepath.Join(dir, fmt.Sprintf("ld-%d.cf", nv*10))
		if err := os.WriteFile(f, data, 0o644); err != nil {
			fail(err)
		}
		lt, lrss := best(*runs, *lvsd, "check", f)
		row := fmt.Sprintf("%-8d %-9s %12s %9dM", nv*10, fmt.Sprintf("%dKiB", len(data)/1024), lt.Round(time.Millisecond), lrss/1024)
		if *ld != "" && nv*10 <= *ldMax {
			dt, drss := best(1, *ld, f, "status")
			row += fmt.Sprintf(" %14s %9dM %7.1fx", dt.Round(time.Millisecond), drss/1024, float64(dt)/float64(lt))
		} else {
			row += fmt.Sprintf(" %14s %10s %8s", "skipped", "-", "-")
		}
		fmt.Println(row)
	}
}

// best runs the command n times and returns the fastest wall time and the
// largest peak RSS (KiB).
func best(n int, name string, args ...string) (time.Duration, int64) {
	var bt time.Duration
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
		}
	}
	return bt, rss
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench/config:", err)
	os.Exit(1)
}
