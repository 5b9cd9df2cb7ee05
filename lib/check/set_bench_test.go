package check

import (
	"fmt"
	"testing"
	"time"
)

// A reload of 10,000 reals hands Set 10,000 subs that are all already
// scheduled: the cost of one reload's check side.
func BenchmarkSetReload10k(b *testing.B) {
	subs := make([]Sub, 10000)
	for i := range subs {
		subs[i] = sub(fmt.Sprint(i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), 80, time.Second, 1)
		subs[i].Spec.Type, subs[i].Spec.Service, subs[i].Spec.Request, subs[i].Spec.Receive = "negotiate", "http", "/", "ok"
	}
	e := New(Options{Probe: newFake().probe})
	e.Set(subs)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Set(subs)
	}
}

// The same 10 reals behind 1,000 virtuals (bench/daemon's reload file):
// 10 probes of 1,000 subs each.
func BenchmarkSetReloadShared(b *testing.B) {
	subs := make([]Sub, 10000)
	for i := range subs {
		subs[i] = sub(fmt.Sprint(i), fmt.Sprintf("10.1.0.%d", i%10+1), 80, time.Second, 1)
		subs[i].Spec.Type = "on"
	}
	e := New(Options{Probe: newFake().probe})
	e.Set(subs)
	if e.Jobs() != 10 {
		b.Fatalf("%d jobs", e.Jobs())
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e.Set(subs)
	}
}
