package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// bigEngine runs an engine over ipvs.Mem with virtuals x reals, every
// probe passing at once, until every real is up (the scrape's input at
// 10,000 reals, as bench/status.sh has it, without the sockets).
func bigEngine(b testing.TB, virtuals, reals int) *engine.Engine {
	var cf strings.Builder
	cf.WriteString("checkinterval=3600\nquiescent=no\n")
	for v := 0; v < virtuals; v++ {
		fmt.Fprintf(&cf, "virtual=192.0.2.%d:80\n\tchecktype=connect\n\tscheduler=wrr\n", v+1)
		for r := 0; r < reals; r++ {
			n := v*reals + r
			fmt.Fprintf(&cf, "\treal=10.%d.%d.%d:8080 masq 1\n", n/65536, (n/256)%256, n%256)
		}
	}
	cfg, err := config.Parse("big.cf", []byte(cf.String()))
	if err != nil {
		b.Fatal(err)
	}
	eng := engine.New(cfg, engine.Options{Kernel: ipvs.NewMem(nil), MaxConcurrent: 1024, Command: func(string) {},
		Probe: func(context.Context, *check.Spec) check.Result {
			return check.Result{OK: true, Latency: time.Millisecond}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { eng.Run(ctx); close(done) }()
	b.Cleanup(func() { cancel(); <-done })
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		st, err := eng.Status(ctx)
		if err == nil && st.Up == virtuals*reals {
			return eng
		}
		if time.Now().After(deadline) {
			b.Fatalf("only %d of %d up", st.Up, virtuals*reals)
		}
	}
}

// A scrape at 10,000 reals: the handler's whole work (registry, engine
// snapshot, exposition; gzip as Prometheus asks for it), and the part of
// it spent on the engine's goroutine.
func BenchmarkScrape10k(b *testing.B) {
	eng := bigEngine(b, 10, 1000)
	m := newMetrics()
	for _, gz := range []bool{false, true} {
		b.Run(fmt.Sprintf("gzip=%v", gz), func(b *testing.B) {
			size := 0
			b.ResetTimer()
			defer cpuPerOp(b)()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
				if gz {
					req.Header.Set("Accept-Encoding", "gzip")
				}
				w := httptest.NewRecorder()
				m.scrape(w, req, eng)
				size = w.Body.Len()
			}
			b.ReportMetric(float64(size)/1024, "KiB")
		})
	}
	b.Run("status", func(b *testing.B) {
		defer cpuPerOp(b)()
		for i := 0; i < b.N; i++ {
			if _, err := eng.Status(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// `lvsd status --json` at 10,000 reals: the control socket's answer
// (snapshot, view, JSON).
func BenchmarkStatusJSON10k(b *testing.B) {
	eng := bigEngine(b, 10, 1000)
	c := &control{path: "big.cf", digest: func() string { return "" }}
	c.eng.Store(eng)
	size := 0
	b.ResetTimer()
	defer cpuPerOp(b)()
	for i := 0; i < b.N; i++ {
		a, p := net.Pipe()
		go func() { fmt.Fprintln(p, "status") }()
		done := make(chan int)
		go func() { n, _ := io.Copy(io.Discard, p); done <- int(n) }()
		c.handle(context.Background(), a)
		size = <-done
	}
	b.ReportMetric(float64(size)/1024, "KiB")
}

// cpuPerOp reports the process's CPU time per op (user + system, GC
// included): on a shared, loaded machine the wall time per op says more
// about the neighbours than about the code. The engine is idle meanwhile
// (every real up, checks an hour apart).
func cpuPerOp(b *testing.B) func() {
	t0 := cpuTime()
	return func() { b.ReportMetric(float64((cpuTime()-t0).Microseconds())/1000/float64(b.N), "cpu-ms/op") }
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
