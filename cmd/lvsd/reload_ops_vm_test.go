//go:build vm

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// A reload that changes the metrics address and the notify FIFO applies
// both at once: the new address serves and the old one is closed, the new
// FIFO gets the lines (the old one, made by lvsd, is removed). A metrics
// address that cannot be bound refuses the reload with the reason, and
// the old listener and configuration stay. Run with -d: its debug lines
// name the real kernel's writes and the reload's difference.
func TestReloadMetricsAndFIFO(t *testing.T) {
	dir := t.TempDir()
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	cf := filepath.Join(dir, "ops.toml")
	write := func(metrics, fifo string) {
		os.WriteFile(cf, []byte(fmt.Sprintf(`[global]
checkinterval = "1s"
checktimeout = "1s"
metrics = %q
notify_fifo = %q
[[virtual]]
address = "192.0.2.77:80"
[virtual.check]
type = "connect"
[[virtual.real]]
address = %q
forward = "masq"
`, metrics, fifo, up.Addr().String())), 0o644)
	}
	a, b := freePort(t), freePort(t)
	p, q := filepath.Join(dir, "p.fifo"), filepath.Join(dir, "q.fifo")
	write(a, p)
	d := startDaemonWith(t, cf, filepath.Join(dir, "ops.state"), []string{"-d"})
	serves := func(addr string) bool { _, err := scrape(addr); return err == nil }
	if !serves(a) {
		t.Fatalf("no metrics at %s:\n%s", a, d.logText())
	}
	if st, err := os.Stat(p); err != nil || st.Mode()&os.ModeNamedPipe == 0 {
		t.Fatalf("FIFO %s: %v", p, err)
	}

	write(b, q)
	if ans, err := ask(d.sock, "reload"); err != nil || strings.TrimSpace(ans) != "ok" {
		t.Fatalf("reload: %q %v\n%s", ans, err, d.logText())
	}
	// -d: the real kernel's netlink writes, and the reload's difference
	d.waitLog("debug: netlink: ipvsadm -A -t 192.0.2.77:80 -s ", 5*time.Second)
	d.waitLog("debug: reload: global: Metrics, NotifyFIFO changed", 5*time.Second)
	if !serves(b) || serves(a) {
		t.Fatalf("after the reload: %s serves %v, %s serves %v\n%s", b, serves(b), a, serves(a), d.logText())
	}
	if _, err := os.Stat(p); err == nil {
		t.Errorf("old FIFO %s (made by lvsd) still there", p)
	}
	rd, err := os.OpenFile(q, os.O_RDWR, 0)
	if err != nil {
		t.Fatalf("new FIFO: %v\n%s", err, d.logText())
	}
	defer rd.Close()
	lines := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	up.Close() // the real goes down: its line on the new FIFO
	want := fmt.Sprintf("RS [127.0.0.1]:tcp:%d [192.0.2.77]:tcp:80 DOWN", up.Addr().(*net.TCPAddr).Port)
	select {
	case l := <-lines:
		if l != want {
			t.Errorf("new FIFO: %q, want %q", l, want)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no line on the new FIFO:\n%s", d.logText())
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	write(taken.Addr().String(), q)
	ans, err := ask(d.sock, "reload")
	if err != nil || !strings.Contains(ans, "address already in use") || !strings.Contains(ans, "refused") {
		t.Fatalf("reload to a taken address: %q %v", ans, err)
	}
	if !serves(b) {
		t.Fatalf("the old listener %s stopped after a refused reload:\n%s", b, d.logText())
	}
	d.signal(syscall.SIGHUP) // the same by signal: refused, in the log
	d.waitLog("refused: the running configuration is kept", 10*time.Second)
	if !netns.WaitFor(5*time.Second, func() bool { return serves(b) }) {
		t.Fatal("the old listener stopped after a refused SIGHUP")
	}
	d.stop()
	if _, err := os.Stat(q); err == nil {
		t.Errorf("FIFO %s (made by lvsd) left at exit", q)
	}
}
