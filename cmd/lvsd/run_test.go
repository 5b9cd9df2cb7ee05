package main

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
)

func TestRunHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if rc := run([]string{"run", "--help"}, &out, &errb); rc != 0 || !strings.Contains(out.String(), "--dry-run") {
		t.Fatalf("rc %d\n%s%s", rc, out.String(), errb.String())
	}
	if rc := run([]string{"run", "x.cf"}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "x.cf") {
		t.Fatalf("missing file: rc %d %s", rc, errb.String())
	}
}

func TestRunDryRunBadConfig(t *testing.T) {
	p := filepath.Join(t.TempDir(), "bad.cf")
	os.WriteFile(p, []byte("virtual=192.0.2.1:80\n\treal=10.0.0.1:80 masq\n\tnosuchdirective=1\n"), 0o644)
	var out, errb bytes.Buffer
	if rc := run([]string{"run", "--dry-run", "--for", "100ms", p}, &out, &errb); rc != 2 || !strings.Contains(errb.String(), "bad.cf:3") {
		t.Fatalf("rc %d, stderr %q", rc, errb.String())
	}
}

// A real http server up, a closed port down: the dry run prints both
// changes with reasons and the ipvsadm operations (fallback off when the
// first real comes up, the down real left out with quiescent=no, weight 0
// with quiescent=yes).
func TestRunDryRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "Welcome home") }))
	defer srv.Close()
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	up := strings.TrimPrefix(srv.URL, "http://")
	cf := fmt.Sprintf(`checkinterval=1
checktimeout=1
virtual=192.0.2.10:80
	real=%s masq 2
	real=%s masq 3
	fallback=127.0.0.1:80 gate
	service=http
	request="/"
	receive="Welcome"
virtual=192.0.2.11:80
	real=%s masq
	real=%s masq
	quiescent=yes
	service=http
	request="/"
	receive="Welcome"
`, up, closed, up, closed)
	p := filepath.Join(t.TempDir(), "l.cf")
	os.WriteFile(p, []byte(cf), 0o644)
	wants := []string{
		"start: no real server known up yet",
		"fallback on for tcp:192.0.2.10:80",
		"-a -t 192.0.2.10:80 -r 127.0.0.1:80 -g -w 1",
		"up   tcp:192.0.2.10:80 real " + up + ": HTTP 200 OK",
		"-a -t 192.0.2.10:80 -r " + up + " -m -w 2",
		"-d -t 192.0.2.10:80 -r 127.0.0.1:80",
		"# fallback off",
		"down tcp:192.0.2.10:80 real " + closed + ": http: dial tcp " + closed,
		"-a -t 192.0.2.11:80 -r " + closed + " -m -w 0", // quiescent: kept at weight 0
	}
	rc, o, e := dryRunUntil(t, p, wants...)
	if rc != 0 {
		t.Fatalf("rc %d: %s", rc, e)
	}
	for _, want := range wants {
		if !strings.Contains(o, want) {
			t.Errorf("output lacks %q", want)
		}
	}
	if strings.Contains(o, "-a -t 192.0.2.10:80 -r "+closed) {
		t.Error("down real added with quiescent=no")
	}
	if !strings.Contains(e, "4 real checks (2 distinct probes)") {
		t.Errorf("identical checks not shared: %s", e)
	}
	if t.Failed() {
		t.Log(o)
	}
}

// syncBuffer is a bytes.Buffer the test may read while lvsd run writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// dryRunUntil runs `lvsd run --dry-run FILE` until its stdout holds every
// one of wants (or 30 s pass), then stops it with SIGINT as a user would,
// and returns its exit code, stdout and stderr. No wall-clock guess of how
// long the checks take: a loaded machine only makes it wait longer.
func dryRunUntil(t *testing.T, path string, wants ...string) (int, string, string) {
	t.Helper()
	var out, errb syncBuffer
	rcc := make(chan int, 1)
	go func() { rcc <- run([]string{"run", "--dry-run", "--for", "60s", path}, &out, &errb) }()
	all := func() bool {
		o := out.String()
		for _, w := range wants {
			if !strings.Contains(o, w) {
				return false
			}
		}
		return true
	}
	for deadline := time.Now().Add(30 * time.Second); !all() && time.Now().Before(deadline); {
		select {
		case rc := <-rcc:
			return rc, out.String(), errb.String()
		case <-time.After(20 * time.Millisecond):
		}
	}
	if out.String() == "" { // SIGINT before run's handler would kill the test binary
		t.Fatalf("lvsd run --dry-run printed nothing in 30 s; stderr:\n%s", errb.String())
	}
	// run's signal handler is in place: its first line is printed after it
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	select {
	case rc := <-rcc:
		return rc, out.String(), errb.String()
	case <-time.After(30 * time.Second):
		t.Fatalf("lvsd run --dry-run did not stop on SIGINT; stdout:\n%s", out.String())
		return 0, "", ""
	}
}

// A quorum verdict is logged with the weight and the bound it met or
// missed, only where the configuration sets a quorum.
func TestQuorumLine(t *testing.T) {
	v := &config.Virtual{Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, Quorum: 3, Hysteresis: 1}
	for _, tc := range []struct {
		r    engine.Report
		want string
	}{
		{engine.Report{Kind: engine.Quorum, Virtual: v, On: true, Weight: 4, First: true}, "quorum held for tcp:192.0.2.1:80: up weight 4 >= 4 (quorum 3, hysteresis 1)"},
		{engine.Report{Kind: engine.Quorum, Virtual: v, On: false, Weight: 1, Held: true}, "quorum lost for tcp:192.0.2.1:80: up weight 1 < 2 (quorum 3, hysteresis 1)"},
		{engine.Report{Kind: engine.Quorum, Virtual: v, On: false, Weight: 3, First: true}, "quorum lost for tcp:192.0.2.1:80: up weight 3 < 4 (quorum 3, hysteresis 1)"},
		{engine.Report{Kind: engine.Quorum, Virtual: &config.Virtual{Protocol: "tcp", Addr: v.Addr, Port: 80}, On: false}, ""},
	} {
		if got := describe(tc.r); got != tc.want {
			t.Errorf("%+v:\n got %q\nwant %q", tc.r, got, tc.want)
		}
	}
}

// --no-vrrp (the director agent's): a keepalived.conf whose vrrp_instance
// names an interface this host lacks runs its virtual servers alone, the
// instance warned about; without the flag the same file is refused.
func TestRunNoVRRP(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "keepalived.conf")
	os.WriteFile(p, []byte("vrrp_instance VI {\n    interface nosuch0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.1/24\n    }\n}\n"+
		"virtual_server 192.0.2.1 80 {\n    lb_kind NAT\n    protocol TCP\n    real_server 10.0.0.5 80 {\n        weight 1\n    }\n}\n"), 0o644)
	args := func(extra ...string) []string {
		return append(append([]string{"run"}, extra...), "--ipvs-in-memory", "--for", "300ms", "--pidfile", "none", "--socket", "none",
			"--state", filepath.Join(dir, "s"), p)
	}
	var out, errb bytes.Buffer
	if rc := run(args("--no-vrrp"), &out, &errb); rc != 0 || !strings.Contains(errb.String(), "keepalived.conf:1: warning: vrrp_instance VI not run") ||
		!strings.Contains(errb.String(), "ipvsadm -a -t 192.0.2.1:80 -r 10.0.0.5:80") {
		t.Fatalf("--no-vrrp: rc %d\n%s", rc, errb.String())
	}
	errb.Reset()
	if rc := run(args(), &out, &errb); rc == 0 || !strings.Contains(errb.String(), "nosuch0") {
		t.Fatalf("without --no-vrrp: rc %d\n%s", rc, errb.String())
	}
}
