package main

import (
	"fmt"
	"io"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// BenchmarkCheck is what `lvsd check` does: parse and print the plan.
func BenchmarkCheck(b *testing.B) {
	for _, nv := range []int{100, 1000, 10000} {
		data := generate(nv, 10)
		b.Run(fmt.Sprintf("reals=%d", nv*10), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				c, err := config.Parse("bench.cf", data)
				if err != nil {
					b.Fatal(err)
				}
				if err := config.WriteTable(io.Discard, c); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
