package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// freePort is a loopback address nobody listens on (closed again at once).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// metricsDryRun runs `lvsd run --dry-run --metrics` (the same engine and
// metrics as the daemon, over an imagined table) with one real up (a
// listener) and one down (a closed port) until the test ends.
func metricsDryRun(t *testing.T) (addr string) {
	t.Helper()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { up.Close() })
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	down := freePort(t)
	cf := filepath.Join(t.TempDir(), "m.cf")
	os.WriteFile(cf, []byte(fmt.Sprintf("checkinterval=1\nchecktimeout=1\nvirtual=192.0.2.1:80\n\tchecktype=connect\n\treal=%s masq 2\n\treal=%s masq 3\n", up.Addr(), down)), 0o644)
	addr = freePort(t)
	cmd := exec.Command(os.Args[0], "run", "--dry-run", "--metrics", addr, cf)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	// both reals decided: the down one after its first failed check
	deadline := time.Now().Add(20 * time.Second)
	for {
		body, err := scrape(addr)
		if err == nil && strings.Contains(body, `state="up"} 1`) && strings.Contains(body, `state="down"} 0`) &&
			strings.Contains(body, `lvsd_reals{state="down"} 1`) && strings.Contains(body, `lvsd_reals{state="up"} 1`) {
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("metrics never showed both reals decided: %v\n%s\nstderr:\n%s", err, body, errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func scrape(addr string) (string, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// The series an operator needs, with node_exporter's label names, and
// promtool's linter passes on the exposition.
func TestMetricsSeries(t *testing.T) {
	addr := metricsDryRun(t)
	body, _ := scrape(addr)
	for _, want := range []string{
		`lvsd_real_up{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP",remote_address="127.0.0.1",`,
		`lvsd_real_in_table{`,
		`lvsd_real_weight_desired{`,
		`lvsd_virtual_reals_up{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP"} 1`,
		`lvsd_reals{state="up"} 1`,
		`lvsd_reals{state="down"} 1`,
		`lvsd_checks_total{outcome="up",type="connect"}`,
		`lvsd_checks_total{outcome="down",type="connect"}`,
		`lvsd_check_duration_seconds_bucket{type="connect",le="0.001"}`,
		`lvsd_checks_in_flight `,
		`lvsd_reloads_total{result="refused"} 0`,
		`lvsd_netlink_writes_total `,
		`lvsd_drift_repairs_total 0`,
		`lvsd_real_connections_total{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP",remote_address="127.0.0.1",`,
		`lvsd_real_outgoing_bytes_total{`,
		`lvsd_virtual_incoming_packets_total{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP"} 0`,
		`lvsd_virtual_outgoing_bytes_total{`,
		`go_build_info{`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %s in:\n%s", want, body)
		}
	}
	promtool := testenv.Command(t, "promtool")
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Errorf("promtool check metrics: %v\n%s", err, out)
	}
	if resp, err := http.Get("http://" + addr + "/"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET /: %d", resp.StatusCode)
		}
	}
}

// Debian's Prometheus scrapes lvsd and its query API returns the series.
func TestMetricsScrapedByPrometheus(t *testing.T) {
	prom := testenv.Command(t, "prometheus")
	addr := metricsDryRun(t)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	os.WriteFile(cfg, []byte(fmt.Sprintf("global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: lvsd\n    static_configs:\n      - targets: ['%s']\n", addr)), 0o644)
	web := freePort(t)
	cmd := exec.Command(prom, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"), "--web.listen-address="+web)
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &errb, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	q := "http://" + web + "/api/v1/query?query=" + "lvsd_real_up%7Bstate%3D%22up%22%7D"
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ans struct {
			Status string
			Data   struct {
				Result []struct {
					Metric map[string]string
					Value  []any
				}
			}
		}
		if resp, err := http.Get(q); err == nil {
			json.NewDecoder(resp.Body).Decode(&ans)
			resp.Body.Close()
		}
		if ans.Status == "success" && len(ans.Data.Result) == 1 {
			r := ans.Data.Result[0]
			if r.Metric["job"] != "lvsd" || r.Metric["local_port"] != "80" || fmt.Sprint(r.Value[1]) != "1" {
				t.Fatalf("prometheus has %v", r)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus never returned lvsd_real_up: %+v\n%s", ans, errb.String())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// An address that cannot be bound fails the start at once, with the reason.
func TestMetricsBindFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cf := filepath.Join(t.TempDir(), "m.cf")
	os.WriteFile(cf, []byte("virtual=192.0.2.1:80\n\treal=127.0.0.1:1 masq\n"), 0o644)
	var out, errb bytes.Buffer
	rc := run([]string{"run", "--dry-run", "--for", "5s", "--metrics", ln.Addr().String(), cf}, &out, &errb)
	if rc != 1 || !strings.Contains(errb.String(), "--metrics") || !strings.Contains(errb.String(), "address already in use") {
		t.Fatalf("rc %d\n%s", rc, errb.String())
	}
}

// The alert rules shipped in packaging/ load, and fire as their unit
// tests say (a real down, a virtual with no real up, a refused reload).
func TestAlertRules(t *testing.T) {
	promtool := testenv.Command(t, "promtool")
	dir := "../../packaging/prometheus"
	for _, args := range [][]string{{"check", "rules", "lvsd-alerts.yml"}, {"test", "rules", "lvsd-alerts.test.yml"}} {
		cmd := exec.Command(promtool, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
}

// TOML's metrics key: lvsd run serves there without --metrics; --metrics
// none turns it off; an address it cannot bind fails the start naming the key.
func TestMetricsTOMLKey(t *testing.T) {
	addr := freePort(t)
	dir := t.TempDir()
	toml := func(a string) string {
		p := filepath.Join(dir, "m.toml")
		os.WriteFile(p, []byte(fmt.Sprintf("[global]\nmetrics = %q\n[[virtual]]\naddress = \"192.0.2.1:80\"\n[virtual.check]\ntype = \"on\"\n[[virtual.real]]\naddress = \"127.0.0.1:1\"\nforward = \"masq\"\n", a)), 0o644)
		return p
	}
	cf := toml(addr)
	cmd := exec.Command(os.Args[0], "run", "--dry-run", cf)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	var errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = io.Discard, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	deadline := time.Now().Add(20 * time.Second)
	for {
		body, err := scrape(addr)
		if err == nil && strings.Contains(body, "lvsd_real_up{") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no metrics at %s from the TOML key: %v\n%s", addr, err, errb.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	// the address is taken now: a second run fails, naming the key; with
	// --metrics none it runs
	var out, e2 bytes.Buffer
	if rc := run([]string{"run", "--dry-run", "--for", "5s", cf}, &out, &e2); rc != 1 ||
		!strings.Contains(e2.String(), fmt.Sprintf("metrics = %q in %s", addr, cf)) || !strings.Contains(e2.String(), "address already in use") {
		t.Fatalf("bind failure from the key: rc %d\n%s", rc, e2.String())
	}
	e2.Reset()
	if rc := run([]string{"run", "--dry-run", "--for", "300ms", "--metrics", "none", cf}, &out, &e2); rc != 0 {
		t.Fatalf("--metrics none: rc %d\n%s", rc, e2.String())
	}
}

// The engine's series, written by hand, parse as the text format with
// each family once, and label values are escaped.
func TestEngineMetricsText(t *testing.T) {
	k := ipvs.Key{Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	real := func(a string, w int, st director.Status, in bool) engine.RealStatus {
		d := ipvs.Dest{Addr: netip.MustParseAddr(a), Port: 8080, Weight: w}
		kd := d
		kd.Stats = ipvs.Stats{Conns: 7, BytesOut: 1 << 60} // beyond a float's exact integers
		return engine.RealStatus{Dest: d, Note: director.Note{Role: director.RoleReal, Status: st}, InKernel: in, Kernel: kd}
	}
	st := engine.Status{Up: 1, Down: 1, Virtuals: []engine.VirtualStatus{{
		VirtualState: director.VirtualState{Key: k, Up: 1, Out: []director.Note{{ID: config.RealID{Virtual: "tcp:192.0.2.1:80", Real: netip.MustParseAddrPort("10.0.0.9:8080")}, Role: director.RoleReal, Status: director.Down}}},
		InKernel:     true,
		Reals:        []engine.RealStatus{real("10.0.0.1", 3, director.Up, true), real("10.0.0.2", 0, director.Down, false)},
	}}}
	var x expo
	for range 2 { // the second from the label cache
		b := x.engine(nil, st)
		p := expfmt.NewTextParser(model.UTF8Validation)
		mfs, err := p.TextToMetricFamilies(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if n := len(mfs["lvsd_real_up"].Metric); n != 3 {
			t.Errorf("%d lvsd_real_up series, want 3 (two in the table, one out)\n%s", n, b)
		}
		if n := len(mfs["lvsd_real_weight"].Metric); n != 1 {
			t.Errorf("%d lvsd_real_weight series, want 1 (in the kernel)\n%s", n, b)
		}
		for _, want := range []string{
			`lvsd_real_up{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP",remote_address="10.0.0.1",remote_port="8080",state="up"} 1`,
			`lvsd_real_in_table{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP",remote_address="10.0.0.9",remote_port="8080"} 0`,
			`lvsd_real_outgoing_bytes_total{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP",remote_address="10.0.0.1",remote_port="8080"} 1152921504606846976`,
			`lvsd_real_weight_desired{local_address="192.0.2.1",local_mark="",local_port="80",proto="TCP",remote_address="10.0.0.2",remote_port="8080"} 0`,
			`lvsd_reals{state="down"} 1`,
		} {
			if !strings.Contains(string(b), want+"\n") {
				t.Errorf("no %s in\n%s", want, b)
			}
		}
	}
	if got := escapeLabel(`a"b\c` + "\n"); got != `a\"b\\c\n` {
		t.Errorf("escapeLabel: %s", got)
	}
}

// A reload's new metrics address: bound first, then served, the old one
// closed; an address that cannot be bound leaves the old one serving;
// "" turns the metrics off.
func TestMetricsRebind(t *testing.T) {
	ms := newMetrics().server(nil)
	a, b := freePort(t), freePort(t)
	serves := func(addr string) bool { _, err := scrape(addr); return err == nil }
	if err := ms.rebind(a); err != nil || !serves(a) {
		t.Fatalf("rebind %s: %v", a, err)
	}
	if err := ms.rebind(b); err != nil || !serves(b) || serves(a) || ms.current() != b {
		t.Fatalf("rebind %s: %v (old still served: %v)", b, err, serves(a))
	}
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = ms.rebind(taken.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "address already in use") || !serves(b) || ms.current() != b {
		t.Fatalf("rebind to a taken address: %v; still at %s: %v", err, b, serves(b))
	}
	if err := ms.rebind(""); err != nil || serves(b) || ms.current() != "" {
		t.Fatalf("rebind off: %v, still served %v", err, serves(b))
	}
}
