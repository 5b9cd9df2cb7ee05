//go:build vm

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// promQuery asks Prometheus's HTTP API for an instant vector: each
// series's labels and value.
func promQuery(web, q string) (map[string]float64, []map[string]string, error) {
	resp, err := http.Get("http://" + web + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	var ans struct {
		Status string
		Error  string
		Data   struct {
			Result []struct {
				Metric map[string]string
				Value  []any
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&ans); err != nil {
		return nil, nil, err
	}
	if ans.Status != "success" {
		return nil, nil, fmt.Errorf("%s: %s", ans.Status, ans.Error)
	}
	vals := map[string]float64{}
	var labels []map[string]string
	for _, r := range ans.Data.Result {
		if len(r.Value) != 2 {
			continue
		}
		v, _ := strconv.ParseFloat(fmt.Sprint(r.Value[1]), 64)
		vals[r.Metric["remote_address"]] = v
		labels = append(labels, r.Metric)
	}
	return vals, labels, nil
}

// Debian's Prometheus scrapes lvsd every second while clients go through
// the VIP: its HTTP API returns the kernel's IPVS counters per virtual and
// per real, with node_exporter's label names, and they go up with the
// traffic between two queries.
func TestPrometheusScrapesIPVSCounters(t *testing.T) {
	prom := testenv.Command(t, "prometheus")
	l := newLab(t, "masq", 2)
	cf := l.daemonConfig("p.cf", []int{1, 2}, nil, "")
	maddr := freePort(t)
	d := startDaemonWith(t, cf, filepath.Join(l.dir, "p.state"), []string{"--metrics", maddr})
	svc := labVIP + ":80"
	waitTable(t, "both reals up", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })

	cfg := filepath.Join(l.dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: lvsd\n    static_configs:\n      - targets: ['%s']\n", maddr)), 0o644)
	web := freePort(t)
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(l.dir, "tsdb"), "--web.listen-address="+web)
	var plog bytes.Buffer
	cmd.Stdout, cmd.Stderr = &plog, &plog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })

	ld := l.startLoad(t)
	sel := fmt.Sprintf(`{job="lvsd",local_address=%q,local_port="80",proto="TCP"}`, labVIP)
	series := []string{"lvsd_virtual_connections_total", "lvsd_virtual_incoming_bytes_total", "lvsd_virtual_outgoing_bytes_total",
		"lvsd_real_connections_total", "lvsd_real_outgoing_bytes_total"}
	// first: every series present, and the reals' counters above zero
	first := map[string]map[string]float64{}
	var lastErr error
	if !netns.WaitFor(2*time.Minute, func() bool {
		for _, s := range series {
			v, labels, err := promQuery(web, s+sel)
			lastErr = err
			want := 1
			if strings.HasPrefix(s, "lvsd_real_") {
				want = 2
			}
			if err != nil || len(v) != want {
				return false
			}
			for _, lb := range labels {
				if s == "lvsd_real_connections_total" && (lb["remote_port"] != "80" || lb["local_mark"] != "") {
					lastErr = fmt.Errorf("labels %v", lb)
					return false
				}
			}
			for _, x := range v {
				if x <= 0 {
					return false
				}
			}
			first[s] = v
		}
		return true
	}) {
		t.Fatalf("Prometheus never had every series above zero (last: %v, %v)\nprometheus:\n%s", first, lastErr, plog.String())
	}
	if _, ok := first["lvsd_real_connections_total"]["10.99.0.11"]; !ok {
		t.Errorf("no real 10.99.0.11 in %v", first["lvsd_real_connections_total"])
	}
	// then: every one of them higher, the clients still going
	var now map[string]float64
	for _, s := range series {
		if !netns.WaitFor(time.Minute, func() bool {
			v, _, err := promQuery(web, s+sel)
			if err != nil {
				return false
			}
			now = v
			for k, x := range first[s] {
				if v[k] <= x {
					return false
				}
			}
			return true
		}) {
			t.Errorf("%s did not go up under traffic: %v then %v", s, first[s], now)
		}
	}
	ld.stop()
	ok, fails, errs, _ := ld.snapshot()
	if ok == 0 || len(fails) > 0 {
		t.Errorf("client load: %d ok, %d failed %v", ok, len(fails), errs)
	}
	// promtool's linter on what Prometheus scraped, real counters in it
	body, err := scrape(maddr)
	if err != nil {
		t.Fatal(err)
	}
	lint := exec.Command(testenv.Command(t, "promtool"), "check", "metrics")
	lint.Stdin = strings.NewReader(body)
	if out, err := lint.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	t.Logf("%d requests; Prometheus: %v", ok, first)
	d.stop()
}
