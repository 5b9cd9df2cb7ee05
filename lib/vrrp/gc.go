package vrrp

import (
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
)

// The garbage collector and the VRRP threads. A collection stops the
// world twice; the stop is run by an ordinary thread and waits for every
// thread running Go code to reach a safe point, so on a saturated box it
// lasts as long as the kernel keeps one of them off the CPU (measured:
// 104 ms, and 491 ms before), and a VRRP thread back from its wait
// cannot run Go code meanwhile: its advert goes out that late. At
// advert_int 0.05 s a backup's Master_Down is 0.18 s. So in VRRP mode the
// collector runs on memory, not on the heap's growth: GOGC off (which
// also ends the runtime's forced collection every 2 minutes, that no
// amount of cutting garbage avoids) and a soft memory limit of
// max(gcFloor, gcRatio x the heap live after the last collection), set
// again after each. VRRP alone (a few MB live, the steady garbage cut
// to a few KB a second) then collects about once an hour, not every 30 s;
// with virtual servers and their checks the live heap sets the limit, as
// GOGC=200 would, without the 2-minute collections. GOGC or GOMEMLIMIT
// in the environment is the administrator's choice: left as it is.
const (
	gcFloor = 64 << 20
	gcRatio = 3
)

var gcOnce sync.Once

// HoldGC sets that policy for the process (once; the daemon calls it
// when VRRP starts) and reports what it did.
func HoldGC(logf func(string, ...any)) {
	gcOnce.Do(func() {
		if os.Getenv("GOGC") != "" || os.Getenv("GOMEMLIMIT") != "" {
			logf("vrrp: GOGC / GOMEMLIMIT set in the environment: the garbage collector left as it says")
			return
		}
		debug.SetGCPercent(-1)
		setGCLimit()
		armGCLimit()
	})
}

// armGCLimit sets the limit again after the next collection (a cleanup
// of an object that only a collection can find unreachable), and so on.
func armGCLimit() {
	s := new([16]byte) // not a tiny alloc: its own object
	runtime.AddCleanup(s, func(struct{}) { setGCLimit(); armGCLimit() }, struct{}{})
}

func setGCLimit() {
	liveHeap := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(liveHeap)
	limit := int64(gcFloor)
	if v := liveHeap[0].Value; v.Kind() == metrics.KindUint64 {
		limit = max(limit, int64(v.Uint64())*gcRatio)
	}
	debug.SetMemoryLimit(limit)
}
