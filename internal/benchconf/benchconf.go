// Package benchconf writes the large tables the reload benchmarks and
// tests read: services x reals (virtuals 10.200.x.y:80, reals
// 10.1.x.y:80, as bench/ipvs/genk.sh), DR, no checker (every real up),
// weight 1 but the last real of service `changed`, at w.
package benchconf

import (
	"fmt"
	"strings"
)

func weight(s, r, reals, changed, w int) int {
	if s == changed && r == reals-1 {
		return w
	}
	return 1
}

// Keepalived is the table as a keepalived.conf.
func Keepalived(services, reals, changed, w int) []byte {
	var b strings.Builder
	b.WriteString("global_defs {\n    router_id bench\n}\n\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&b, "virtual_server 10.200.%d.%d 80 {\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n", s/250, s%250+1)
		for r := 0; r < reals; r++ {
			fmt.Fprintf(&b, "    real_server 10.1.%d.%d 80 {\n        weight %d\n    }\n", r/250, r%250+1, weight(s, r, reals, changed, w))
		}
		b.WriteString("}\n\n")
	}
	return []byte(b.String())
}

// Ldirectord is the same table as an ldirectord.cf (checktype=on).
func Ldirectord(services, reals, changed, w int) []byte {
	var b strings.Builder
	b.WriteString("checktimeout=1\n")
	for s := 0; s < services; s++ {
		fmt.Fprintf(&b, "virtual=10.200.%d.%d:80\n\tchecktype=on\n\tscheduler=wrr\n", s/250, s%250+1)
		for r := 0; r < reals; r++ {
			fmt.Fprintf(&b, "\treal=10.1.%d.%d:80 gate %d\n", r/250, r%250+1, weight(s, r, reals, changed, w))
		}
	}
	return []byte(b.String())
}
