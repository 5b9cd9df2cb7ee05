package engine

import (
	"fmt"
	"strings"
	"testing"

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

// One real going down in a running director: what the engine spends
// between the check's result and its netlink write (over ipvs.Mem, so
// the kernel's own cost is not in it).
func BenchmarkOneRealDown(b *testing.B) {
	for _, size := range []struct{ services, reals int }{{1, 10}, {1, 1000}, {1, 10000}, {1000, 10}} {
		b.Run(fmt.Sprintf("%dx%d", size.services, size.reals), func(b *testing.B) {
			cfg := bigConfig(b, size.services, size.reals)
			k := ipvs.NewMem(nil)
			e := New(cfg, Options{Kernel: k, Command: func(string) {}})
			if err := e.begin(); err != nil {
				b.Fatal(err)
			}
			for _, id := range realIDs(cfg) {
				e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
			}
			e.pass(false)
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
