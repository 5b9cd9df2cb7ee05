package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/benchconf"
	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// bigConfig is services x reals, every real up.
func bigConfig(b testing.TB, services, reals int) *config.Config {
	var cf strings.Builder
	cf.WriteString("checkinterval=1\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&cf, "virtual=192.0.%d.%d:80\n\tservice=http\n", 2+s/250, 1+s%250)
		for r := 0; r < reals; r++ {
			n := s*reals + r
			fmt.Fprintf(&cf, "\treal=10.%d.%d.%d:80 masq 1\n", n/65536, (n/256)%256, n%256)
		}
	}
	cfg, err := config.Parse("big.cf", []byte(cf.String()))
	if err != nil {
		b.Fatal(err)
	}
	return cfg
}

// upEngine is a running director over ipvs.Mem with services x reals,
// every real up and written.
func upEngine(b *testing.B, services, reals int) (*config.Config, *ipvs.Mem, *Engine) {
	cfg := bigConfig(b, services, reals)
	k := ipvs.NewMem(nil)
	e := New(cfg, Options{Kernel: k, Command: func(string) {}})
	if err := e.begin(); err != nil {
		b.Fatal(err)
	}
	for _, id := range realIDs(cfg) {
		e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
	}
	e.pass(false)
	return cfg, k, e
}

// One real going down in a running director: what the engine spends
// between the check's result and its netlink write (over ipvs.Mem, so
// the kernel's own cost is not in it).
func BenchmarkOneRealDown(b *testing.B) {
	for _, size := range []struct{ services, reals int }{{1, 10}, {1, 1000}, {1, 10000}, {1000, 10}} {
		b.Run(fmt.Sprintf("%dx%d", size.services, size.reals), func(b *testing.B) {
			cfg, k, e := upEngine(b, size.services, size.reals)
			id := realIDs(cfg)[0]
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				to := check.Down
				if i%2 == 1 {
					to = check.Up
				}
				w := k.Writes()
				e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: to})
				e.passHealth()
				if k.Writes() != w+1 {
					b.Fatalf("%d writes for one change", k.Writes()-w)
				}
			}
		})
	}
}

// A reload of 1,000 x 10 reals with one weight changed: what the engine
// spends between the new configuration (read and valid) and its one
// write (over ipvs.Mem).
func BenchmarkReload10k(b *testing.B) {
	cfgs := [2]*config.Config{bigConfig(b, 1000, 10), bigConfig(b, 1000, 10)}
	cfgs[1].Virtuals[0].Reals[9].Weight = 5
	k := ipvs.NewMem(nil)
	e := New(cfgs[0], Options{Kernel: k, Command: func(string) {}})
	if err := e.begin(); err != nil {
		b.Fatal(err)
	}
	e.checks.Set(check.FromConfig(e.cfg, nil))
	for _, id := range realIDs(cfgs[0]) {
		e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
	}
	e.pass(false)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := k.Writes()
		if err := e.onReload(cfgs[(i+1)%2]); err != nil {
			b.Fatal(err)
		}
		if k.Writes() != w+1 {
			b.Fatalf("%d writes for one change", k.Writes()-w)
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkReloadFile is the daemon's whole reload of a 1,000 x 10 file
// with one weight changed, as bench/daemon.sh measures it in the VM: read
// the file with the config.Reader that read it at start (lvsd run's; a
// keepalived.conf is read in part), then Engine.Reload through the running
// engine's loop, to its one write (over ipvs.Mem). cpu-ms/op is the process's CPU
// (GC and the check engine's goroutines too): the host is shared, so
// wall time alone misleads.
func BenchmarkReloadFile(b *testing.B) {
	for _, f := range []struct {
		name string
		gen  func(services, reals, changed, w int) []byte
	}{{"keepalived.conf", benchconf.Keepalived}, {"ldirectord.cf", benchconf.Ldirectord}} {
		b.Run(f.name, func(b *testing.B) {
			path := filepath.Join(b.TempDir(), f.name)
			bodies := [2][]byte{f.gen(1000, 10, 0, 1), f.gen(1000, 10, 0, 5)}
			if err := os.WriteFile(path, bodies[0], 0o644); err != nil {
				b.Fatal(err)
			}
			rd := config.NewReader(config.Options{})
			cfg, err := rd.Load(path)
			if err != nil {
				b.Fatal(err)
			}
			k := ipvs.NewMem(nil)
			up := func(context.Context, *check.Spec) check.Result { return check.Result{OK: true} }
			e := New(cfg, Options{Kernel: k, Command: func(string) {}, Probe: up, Resync: time.Hour})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			defer func() { cancel(); <-done }()
			<-e.Ready()
			// every real in: keepalived's start up, ldirectord's after the first check
			for deadline := time.Now().Add(time.Minute); ; {
				st, _ := e.Status(ctx)
				if st.Up == 10000 && k.Writes() >= 11000 {
					break
				}
				if time.Now().After(deadline) {
					b.Fatalf("%d reals up, %d writes", st.Up, k.Writes())
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.ReportAllocs()
			b.ResetTimer()
			var cpu time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				if err := os.WriteFile(path, bodies[(i+1)%2], 0o644); err != nil {
					b.Fatal(err)
				}
				w := k.Writes()
				c0 := cpuTime()
				b.StartTimer()
				next, err := rd.Load(path)
				if err != nil {
					b.Fatal(err)
				}
				if err := e.Reload(ctx, next); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				cpu += cpuTime() - c0
				if k.Writes() != w+1 {
					b.Fatalf("%d writes for one change", k.Writes()-w)
				}
				b.StartTimer()
			}
			b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
		})
	}
}

// A resync of a running director with nothing to repair: the table read
// (ipvs.Mem's copy here; the kernel's own cost is in the VM's figures)
// and what the engine does with it.
func BenchmarkResync(b *testing.B) {
	for _, size := range []struct{ services, reals int }{{1, 10}, {1, 1000}, {1, 10000}, {1000, 10}} {
		b.Run(fmt.Sprintf("%dx%d", size.services, size.reals), func(b *testing.B) {
			_, k, e := upEngine(b, size.services, size.reals)
			w := k.Writes()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				e.pass(true)
			}
			if k.Writes() != w {
				b.Fatalf("%d writes in resyncs of an unchanged table", k.Writes()-w)
			}
		})
	}
}
