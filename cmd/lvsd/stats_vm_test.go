//go:build vm

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// ipvsadmStats is one line of `ipvsadm -Ln --stats --exact` (a service's
// or a real's): conns, packets and bytes in and out.
func ipvsadmStats(t *testing.T, prefix string) (statsJSON, bool) {
	for _, l := range strings.Split(shell(t, "ipvsadm -Ln --stats --exact"), "\n") {
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(strings.TrimSpace(l), prefix) {
			continue
		}
		n := f[len(f)-5:]
		v := make([]uint64, 5)
		for i := range n {
			v[i], _ = strconv.ParseUint(n[i], 10, 64)
		}
		return statsJSON{v[0], v[1], v[2], v[3], v[4]}, true
	}
	return statsJSON{}, false
}

// The kernel's IPVS counters in lvsd status and the metrics move under
// client traffic, and once the traffic stops they equal ipvsadm's, per
// virtual and per real, at the next table read.
func TestStatsMoveUnderTraffic(t *testing.T) {
	l := newLab(t, "masq", 2)
	cf := l.daemonConfig("s.cf", []int{1, 2}, nil, "")
	maddr := "127.0.0.1:19101"
	d := startDaemonWith(t, cf, filepath.Join(l.dir, "s.state"), []string{"--metrics", maddr})
	svc := labVIP + ":80"
	waitTable(t, "both reals up", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })
	status := func() statusJSON {
		t.Helper()
		var st statusJSON
		ans, err := ask(d.sock, "status")
		if err != nil || json.Unmarshal([]byte(ans), &st) != nil || len(st.Virtuals) != 1 {
			t.Fatalf("status: %v\n%s", err, ans)
		}
		return st
	}
	before := status().Virtuals[0].Stats
	ld := l.startLoad(t)
	time.Sleep(3 * time.Second)
	ld.stop()
	ok, fails, errs, answered := ld.snapshot()
	if ok < 10 || len(fails) > 0 || answered["r1"] == 0 || answered["r2"] == 0 {
		t.Fatalf("load: %d ok, %d failed %v, %v", ok, len(fails), errs, answered)
	}
	// at the next reads (every resync) lvsd's counters are the kernel's
	var st statusJSON
	var kv statsJSON
	same := netns.WaitFor(20*time.Second, func() bool {
		st = status()
		var found bool
		kv, found = ipvsadmStats(t, "TCP  "+svc)
		// the kernel sums its per-CPU counters into what it reports in
		// its estimator's pass (every 2 s, later under emulation): wait
		// until every request is counted
		if !found || st.Virtuals[0].Stats != kv || kv.Conns < before.Conns+uint64(ok) {
			return false
		}
		for _, r := range st.Virtuals[0].Reals {
			k, found := ipvsadmStats(t, "-> "+r.Real)
			if !found || r.Stats == nil || *r.Stats != k {
				return false
			}
		}
		return true
	})
	if !same {
		t.Fatalf("lvsd's counters never equalled ipvsadm's:\n%+v\n%s", st.Virtuals[0], shell(t, "ipvsadm -Ln --stats --exact"))
	}
	v := st.Virtuals[0].Stats
	if v.Conns < before.Conns+uint64(ok) || v.PktsIn <= before.PktsIn || v.PktsOut <= before.PktsOut || v.BytesIn <= before.BytesIn || v.BytesOut <= before.BytesOut {
		t.Errorf("counters did not move with %d requests: before %+v, after %+v", ok, before, v)
	}
	for _, r := range st.Virtuals[0].Reals {
		if r.Stats.Conns == 0 || r.Stats.BytesOut == 0 {
			t.Errorf("real %s took no traffic by its counters: %+v", r.Real, r.Stats)
		}
	}
	body, err := scrape(maddr)
	want := fmt.Sprintf(`lvsd_virtual_connections_total{local_address=%q,local_mark="",local_port="80",proto="TCP"} %d`, labVIP, v.Conns)
	if err != nil || !strings.Contains(body, want+"\n") {
		t.Errorf("metrics lack %s:\n%v", want, err)
	}
	wantR := fmt.Sprintf(`lvsd_real_outgoing_bytes_total{local_address=%q,local_mark="",local_port="80",proto="TCP",remote_address="10.99.0.11",remote_port="80"} `, labVIP)
	if !strings.Contains(body, wantR) {
		t.Errorf("metrics lack %s", wantR)
	}
	var tb strings.Builder
	writeStatsTable(&tb, st)
	t.Logf("%d requests; lvsd status --stats:\n%s", ok, tb.String())
	d.stop()
}
