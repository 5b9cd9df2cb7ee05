package main

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
)

func healthReport(v *config.Virtual, r *config.Real, from, to check.State) engine.Report {
	return engine.Report{Kind: engine.Health, Check: &check.Event{From: from, To: to, Sub: &check.Sub{Data: check.Pair{V: v, R: r}}}}
}

// The lines are keepalived's (ipwrapper.c notify_fifo_vs / notify_fifo_rs
// with FMT_VS / FMT_RS), on the transitions keepalived writes them.
func TestFIFOLines(t *testing.T) {
	v := &config.Virtual{Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80}
	r := &config.Real{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080}
	v6 := &config.Virtual{Protocol: "udp", Family: 6, Addr: netip.MustParseAddr("2001:db8::1"), Port: 53}
	r6 := &config.Real{Addr: netip.MustParseAddr("2001:db8::2")}
	fw := &config.Virtual{Protocol: "fwm", Family: 4, FWMark: 7}
	rf := &config.Real{Addr: netip.MustParseAddr("10.0.0.3")}
	for _, tc := range []struct {
		r    engine.Report
		want string
	}{
		{engine.Report{Kind: engine.Quorum, Virtual: v, On: true}, "VS [192.0.2.1]:tcp:80 UP\n"},
		{engine.Report{Kind: engine.Quorum, Virtual: fw, On: false}, "VS FWM 7 DOWN\n"},
		{healthReport(v, r, check.Unknown, check.Up), "RS [10.0.0.2]:tcp:8080 [192.0.2.1]:tcp:80 UP\n"},
		{healthReport(v, r, check.Up, check.Down), "RS [10.0.0.2]:tcp:8080 [192.0.2.1]:tcp:80 DOWN\n"},
		{healthReport(v6, r6, check.Down, check.Up), "RS [2001:db8::2]:udp:53 [2001:db8::1]:udp:53 UP\n"},
		{healthReport(fw, rf, check.Up, check.Down), "RS [10.0.0.3]:none:0 FWM 7 DOWN\n"},
		// never up (alpha, at start) going down: no transition, as notify_down
		{healthReport(v, r, check.Unknown, check.Down), ""},
		// a reload took the real out while it was up (clear_service_rs)
		{engine.Report{Kind: engine.Removed, Virtual: v, Real: r}, "RS [10.0.0.2]:tcp:8080 [192.0.2.1]:tcp:80 DOWN\n"},
		{engine.Report{Kind: engine.Wrote}, ""},
	} {
		if got := fifoLine(tc.r); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.r.Kind, got, tc.want)
		}
	}
}

// The FIFO is made when absent (and removed at close), opened so that
// lvsd never waits for a reader: a full pipe drops lines; a file that is
// not a FIFO is refused.
func TestNotifyFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "n.fifo")
	n, err := openNotifyFIFOs(&config.Global{NotifyFIFO: p, LVSNotifyFIFO: p})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&os.ModeNamedPipe == 0 || st.Mode().Perm() != 0o600 {
		t.Fatalf("fifo: %v %v", st, err)
	}
	rd, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	n.write("VS [192.0.2.1]:tcp:80 UP\n")
	br := bufio.NewReader(rd)
	l, err := br.ReadString('\n')
	if l != "VS [192.0.2.1]:tcp:80 UP\n" {
		t.Fatalf("read %q %v", l, err)
	}
	// the same path named twice gets each line once
	if len(n.fds) != 1 {
		t.Fatalf("%d files for one path", len(n.fds))
	}
	done := make(chan struct{})
	go func() {
		for i := 0; i < 5000; i++ { // ~150 KB: more than a pipe holds
			n.write("RS [10.0.0.2]:tcp:80 [192.0.2.1]:tcp:80 DOWN\n")
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("writing to a full FIFO blocked")
	}
	if n.dropped == 0 {
		t.Error("no line dropped on a full pipe")
	}
	n.close()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Errorf("the FIFO lvsd made is left: %v", err)
	}
	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, nil, 0o600)
	if _, err := openNotifyFIFOs(&config.Global{NotifyFIFO: plain}); err == nil || !strings.Contains(err.Error(), "is not a FIFO") {
		t.Errorf("a plain file: %v", err)
	}
	if n, err := openNotifyFIFOs(&config.Global{}); n != nil || err != nil {
		t.Errorf("none configured: %v %v", n, err)
	}
}

// A reload that changes the FIFOs: the new set opened, a FIFO lvsd made
// and both name is kept (the old set's close leaves it), the rest of the
// old set's are removed, and lines go to the new set.
func TestNotifyFIFOReopen(t *testing.T) {
	dir := t.TempDir()
	p, q := filepath.Join(dir, "p.fifo"), filepath.Join(dir, "q.fifo")
	old, err := openNotifyFIFOs(&config.Global{NotifyFIFO: p})
	if err != nil {
		t.Fatal(err)
	}
	next, err := openNotifyFIFOs(&config.Global{NotifyFIFO: p, LVSNotifyFIFO: q})
	if err != nil {
		t.Fatal(err)
	}
	rd, err := os.OpenFile(q, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	next.takeOver(old).write("RS x UP\n")
	old.close()
	old.write("lost\n") // closed: nothing, no panic
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s, named by both, removed by the old set's close: %v", p, err)
	}
	b := make([]byte, 64)
	n, _ := rd.Read(b)
	if string(b[:n]) != "RS x UP\n" {
		t.Fatalf("read %q from the new FIFO", b[:n])
	}
	next.close()
	for _, f := range []string{p, q} {
		if _, err := os.Stat(f); err == nil {
			t.Errorf("%s left after the new set's close", f)
		}
	}
	if fifoPaths(&config.Global{NotifyFIFO: p, LVSNotifyFIFO: p}) != p || fifoPaths(&config.Global{}) != "" {
		t.Error("fifoPaths")
	}
}
