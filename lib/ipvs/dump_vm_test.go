//go:build vm

package ipvs

import (
	"fmt"
	"net/netip"
	"reflect"
	"testing"
)

// The in-house table read (dump.go) returns exactly what moby/ipvs's
// does, field by field (counters included), on a table with every option,
// IPv4 and IPv6, firewall marks and 300 services of 20 reals (answers
// spread over several datagrams).
func TestDumpSameAsMoby(t *testing.T) {
	k := freshKernel(t)
	desired := everyOption()
	for i := 0; i < 300; i++ {
		s := Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr(fmt.Sprintf("192.0.3.%d", i%250+1)), Port: uint16(2000 + i), Scheduler: "wlc"}
		for j := 0; j < 20; j++ {
			s.Dests = append(s.Dests, Dest{Addr: netip.MustParseAddr(fmt.Sprintf("10.0.%d.%d", 100+j, i%250+1)), Port: 80, Fwd: FwdMasq, Weight: j + 1})
		}
		desired = append(desired, s)
	}
	if _, err := Reconcile(k, desired, nil, false); err != nil {
		t.Fatal(err)
	}
	r0, _ := k.Counts()
	got, err := k.Services()
	if err != nil {
		t.Fatal(err)
	}
	r1, _ := k.Counts()
	want, err := k.servicesMoby()
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) || len(got) < 300 {
		t.Fatalf("%d services read, moby %d", len(got), len(want))
	}
	if r1-r0 != 1+len(got) {
		t.Errorf("%d netlink reads counted for %d services, want %d", r1-r0, len(got), 1+len(got))
	}
	for i := range got {
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Fatalf("service %d:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// and it plans nothing against the table it read
	if ops, err := Plan(desired, got, nil); err != nil || len(ops) != 0 {
		t.Fatalf("plan against the read table: %v %v", ops, err)
	}
}
