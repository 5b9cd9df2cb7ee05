package main

import (
	"fmt"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// go test -bench . ./bench/config: parse time of generated ldirectord.cf
// files of 1k, 10k and 100k real servers (10 per virtual service).
func BenchmarkParseLdirectord(b *testing.B) {
	for _, nv := range []int{100, 1000, 10000} {
		data := generate(nv, 10)
		b.Run(fmt.Sprintf("reals=%d", nv*10), func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := config.Parse("bench.cf", data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
