package main

import (
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
)

// observe's series, resolved once per check type, still count each
// probe by type and outcome, and its latency.
func TestObserveCounts(t *testing.T) {
	m := newMetrics()
	for i := 0; i < 3; i++ {
		m.observe(&check.Spec{Type: "connect"}, check.Result{OK: true, Latency: time.Millisecond})
	}
	m.observe(&check.Spec{Type: "connect"}, check.Result{Latency: 2 * time.Millisecond})
	m.observe(&check.Spec{Type: "negotiate"}, check.Result{OK: true, Latency: time.Millisecond})
	got := map[string]float64{}
	var lat = map[string]uint64{}
	fams, err := m.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		for _, s := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range s.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			switch f.GetName() {
			case "lvsd_checks_total":
				got[l["type"]+"/"+l["outcome"]] = s.GetCounter().GetValue()
			case "lvsd_check_duration_seconds":
				lat[l["type"]] = s.GetHistogram().GetSampleCount()
			}
		}
	}
	want := map[string]float64{"connect/up": 3, "connect/down": 1, "negotiate/up": 1, "negotiate/down": 0}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("lvsd_checks_total %s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	if lat["connect"] != 4 || lat["negotiate"] != 1 {
		t.Errorf("lvsd_check_duration_seconds counts %v, want connect 4, negotiate 1", lat)
	}
}

// One probe's result counted (on the poller's thread, every check): no
// allocation, no label lookup.
func BenchmarkObserve(b *testing.B) {
	m := newMetrics()
	s := &check.Spec{Type: "connect"}
	r := check.Result{OK: true, Latency: time.Millisecond}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		m.observe(s, r)
	}
}
