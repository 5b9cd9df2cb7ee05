// Command apply times the apply phase of one reconcile pass (the writes,
// after the table is read and planned) with its user/system CPU split,
// through the batch executor or one netlink call per op as before.
// bench/ipvs/apply-inside.sh (bench/ipvs-apply.sh) runs it in the VM on a
// freshly loaded ip_vs:
//
//	apply -mode batch|one FILE
package main

import (
	"flag"
	"fmt"
	"os"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// clock starts at the first write.
type clock struct {
	wall time.Time
	ru   syscall.Rusage
}

func (c *clock) start() {
	if c.wall.IsZero() {
		syscall.Getrusage(syscall.RUSAGE_SELF, &c.ru) //nolint:errcheck // never fails
		c.wall = time.Now()
	}
}

// one is the kernel without ApplyBatch: Reconcile writes op by op
// (moby/ipvs, one netlink call each).
type one struct {
	k *ipvs.Netlink
	c *clock
}

func (o one) Services() ([]ipvs.Service, error) { return o.k.Services() }
func (o one) Apply(op ipvs.Op) error            { o.c.start(); return o.k.Apply(op) }

type batch struct{ one }

func (b batch) ApplyBatch(ops []ipvs.Op) []error { b.c.start(); return b.k.ApplyBatch(ops) }

func secs(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }

func main() {
	mode := flag.String("mode", "batch", "batch (ApplyBatch) or one (one netlink call per op)")
	timeout := flag.Duration("timeout", ipvs.DefaultTimeout, "deadline of each netlink call")
	flag.Parse()
	if flag.NArg() != 1 || (*mode != "batch" && *mode != "one") {
		fmt.Fprintln(os.Stderr, "usage: apply -mode batch|one FILE")
		os.Exit(2)
	}
	cfg, err := config.Load(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	table := director.Table(cfg, director.Input{Health: director.AllUp})
	k, err := ipvs.OpenNetlink()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	k.Timeout = *timeout
	c := &clock{}
	var kern ipvs.Kernel = one{k, c}
	if *mode == "batch" {
		kern = batch{one{k, c}}
	}
	res, err := ipvs.Reconcile(kern, table.Services, nil, false)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru) //nolint:errcheck // never fails
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if c.wall.IsZero() {
		fmt.Printf("apply phase (%s): no writes\n", *mode)
		return
	}
	wall := time.Since(c.wall).Seconds()
	user, sys := secs(ru.Utime)-secs(c.ru.Utime), secs(ru.Stime)-secs(c.ru.Stime)
	_, writes := k.Counts()
	fmt.Printf("apply phase (%s): %d ops, %d netlink writes, wall %.3f s, user %.3f s, sys %.3f s, wall/sys %.2f\n",
		*mode, res.Applied, writes, wall, user, sys, wall/sys)
}
