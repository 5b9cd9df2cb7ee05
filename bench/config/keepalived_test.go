package main

import (
	"fmt"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// generateKeepalived is bench/ipvs/genk.sh in Go: nv DR virtual_servers of
// nr real_server blocks without a checker.
func generateKeepalived(nv, nr int) []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n\n")
	for s := 0; s < nv; s++ {
		fmt.Fprintf(&b, "virtual_server 10.200.%d.%d 80 {\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", s/250, s%250+1)
		for r := 0; r < nr; r++ {
			fmt.Fprintf(&b, "    real_server 10.1.%d.%d 80 {\n        weight 1\n    }\n", r/250, r%250+1)
		}
		b.WriteString("}\n\n")
	}
	return []byte(b.String())
}

// go test -bench Keepalived ./bench/config: parse time of keepalived.conf
// files of 1k, 10k and 100k real servers (10 per virtual_server).
func BenchmarkParseKeepalived(b *testing.B) {
	for _, nv := range []int{100, 1000, 10000} {
		data := generateKeepalived(nv, 10)
		b.Run(fmt.Sprintf("reals=%d", nv*10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := config.Parse("keepalived.conf", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkApplyPlan is what `lvsd apply` computes before its first netlink
// write on an empty table: parse, desired table, plan (1,000 x 10).
func BenchmarkApplyPlan(b *testing.B) {
	for _, f := range []struct {
		name string
		data []byte
	}{{"keepalived.conf", generateKeepalived(1000, 10)}, {"ldirectord.cf", generate(1000, 10)}} {
		b.Run(f.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c, err := config.Parse(f.name, f.data)
				if err != nil {
					b.Fatal(err)
				}
				desired := director.Table(c, director.Input{Health: director.AllUp})
				if _, err := ipvs.Plan(desired.Services, nil, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// generateKeepalivedWeight is generateKeepalived with the last real of the
// first virtual_server at weight w.
func generateKeepalivedWeight(nv, nr, w int) []byte {
	b := generateKeepalived(nv, nr)
	// the first "weight 1" after the first virtual_server's last real_server line
	last := fmt.Sprintf("    real_server 10.1.%d.%d 80 {\n        weight 1", (nr-1)/250, (nr-1)%250+1)
	return []byte(strings.Replace(string(b), last, last[:len(last)-1]+fmt.Sprint(w), 1))
}

// go test -bench ReloadKeepalived ./bench/config: a reload's read of a
// keepalived.conf with one real's weight changed, by a config.Reader that
// read the previous version (lvsd run's reload), against a whole read.
func BenchmarkReloadKeepalived(b *testing.B) {
	for _, nv := range []int{100, 1000, 10000} {
		bodies := [2][]byte{generateKeepalivedWeight(nv, 10, 1), generateKeepalivedWeight(nv, 10, 5)}
		for _, how := range []string{"whole", "reader"} {
			b.Run(fmt.Sprintf("reals=%d/%s", nv*10, how), func(b *testing.B) {
				rd := config.NewReader(config.Options{})
				if _, err := rd.Parse("keepalived.conf", bodies[0]); err != nil {
					b.Fatal(err)
				}
				b.SetBytes(int64(len(bodies[0])))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					data := bodies[(i+1)%2]
					var err error
					if how == "whole" {
						_, err = config.Parse("keepalived.conf", data)
					} else {
						_, err = rd.Parse("keepalived.conf", data)
					}
					if err != nil {
						b.Fatal(err)
					}
				}
				if how == "reader" && rd.Partial != b.N {
					b.Fatalf("%d of %d reads in part", rd.Partial, b.N)
				}
			})
		}
	}
}
