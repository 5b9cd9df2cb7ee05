package main

import (
	"fmt"
	"strings"
)

// generate writes an ldirectord.cf with nv virtual services of nr reals
// each, in the style of the field (http checks, DR, a few options).
func generate(nv, nr int) []byte {
	var b strings.Builder
	b.WriteString("checktimeout=3\ncheckinterval=5\nquiescent=yes\nautoreload=no\n\n")
	for v := 0; v < nv; v++ {
		fmt.Fprintf(&b, "virtual=10.%d.%d.%d:80\n", 1+v/65536, (v/256)%256, v%256)
		for r := 0; r < nr; r++ {
			n := v*nr + r
			fmt.Fprintf(&b, "\treal=172.%d.%d.%d:80 gate %d\n", 16+n/65536, (n/256)%256, n%256, 1+r%5)
		}
		b.WriteString("\tservice=http\n\trequest=\"/health\"\n\treceive=\"OK\"\n\tscheduler=wlc\n\tprotocol=tcp\n\tchecktype=negotiate\n\n")
	}
	return []byte(b.String())
}
