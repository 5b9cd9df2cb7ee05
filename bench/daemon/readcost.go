package main

import (
	"fmt"
	"net/netip"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// readCost is what one read of the kernel table costs lvsd's resync (the
// same lib/ipvs read: a dump of the services, then one of each service's
// reals), on a table of one virtual with n reals, filled in batches: the
// 2% rule (resync period at least 50 times a resync's cost) decides from
// it whether checkinterval stands.
func readCost(n, reads int) (time.Duration, error) {
	// the table emptied, ip_vs not reloaded: the IPVS generic netlink
	// family gets a new number when the module comes back, and the one
	// this process looked up first stays cached (moby/ipvs and lib/ipvs
	// look it up once), so a second read test after a reload found "no
	// IPVS" (the runs of 2026-12-03 14:24 and 2026-12-04 13:49)
	if err := run("ipvsadm", "-C"); err != nil {
		return 0, err
	}
	var k *ipvs.Netlink
	var err error
	waitFor(10*time.Second, 100*time.Millisecond, func() bool { k, err = ipvs.OpenNetlink(); return err == nil })
	if err != nil {
		return 0, err
	}
	defer k.Close()
	s := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr(vip), Port: 80, Scheduler: "wrr"}
	ops := []ipvs.Op{{Kind: ipvs.AddService, Service: s}}
	for i := 0; i < n; i++ {
		ops = append(ops, ipvs.Op{Kind: ipvs.AddDest, Service: s, Dest: ipvs.Dest{Addr: bigReal(i), Port: 80, Fwd: ipvs.FwdGate, Weight: 1}})
	}
	for _, err := range ipvs.ApplyOps(k, ops) {
		if err != nil {
			return 0, fmt.Errorf("filling %d reals: %w", n, err)
		}
	}
	var ds []time.Duration
	for i := 0; i < reads; i++ {
		t0 := time.Now()
		svcs, err := k.Services()
		if err != nil {
			return 0, err
		}
		ds = append(ds, time.Since(t0))
		if len(svcs) != 1 || len(svcs[0].Dests) != n {
			return 0, fmt.Errorf("read %d services, want 1 of %d reals", len(svcs), n)
		}
	}
	return median(ds), nil
}

// bigReal is the i-th real of a read-cost table (10.64.0.0/10: none of
// the kill test's addresses; never contacted).
func bigReal(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, byte(64 + i>>16), byte(i >> 8), byte(i)})
}
