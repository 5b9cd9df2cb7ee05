//go:build vm

package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// keepalived's notify_fifo from a keepalived.conf, read by a script's
// stand-in: the lines keepalived writes, in its format and order, as the
// checks take reals down and up with real IPVS underneath.
func TestNotifyFIFOLines(t *testing.T) {
	l := newLab(t, "masq", 2)
	fifo := filepath.Join(l.dir, "lvs.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	// the reader opens it first (read-write: no wait for a writer), as a
	// notify_fifo_script would be reading when keepalived starts
	rd, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rd.Close()
	var mu sync.Mutex
	var lines []string
	go func() {
		sc := bufio.NewScanner(rd)
		for sc.Scan() {
			mu.Lock()
			lines = append(lines, sc.Text())
			mu.Unlock()
		}
	}()
	got := func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), lines...) }
	waitLines := func(what string, want ...string) {
		t.Helper()
		if !netns.WaitFor(30*time.Second, func() bool { return strings.Join(got(), "\n") == strings.Join(want, "\n") }) {
			t.Fatalf("%s: FIFO lines\n%s\nwant\n%s", what, strings.Join(got(), "\n"), strings.Join(want, "\n"))
		}
	}
	cf := filepath.Join(l.dir, "keepalived.conf")
	conf := fmt.Sprintf(`global_defs {
    lvs_notify_fifo %s
}
virtual_server %s 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    alpha
    real_server 10.99.0.11 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
    real_server 10.99.0.12 80 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
        }
    }
}
`, fifo, labVIP)
	os.WriteFile(cf, []byte(conf), 0o644)
	d := startDaemon(t, cf, filepath.Join(l.dir, "ka.state"))
	svc := labVIP + ":80"
	vs := "[" + labVIP + "]:tcp:80"
	rs := func(i int, state string) string { return fmt.Sprintf("RS [10.99.0.1%d]:tcp:80 %s %s", i, vs, state) }
	waitTable(t, "both reals up", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })
	// alpha: no line for the virtual at start (keepalived's
	// update_quorum_state at init notifies quorum down only with a sorry
	// server), then each real's first passing check; quorum is 1, so the
	// virtual is UP after the first real's line, or after both when
	// their checks pass in the same batch
	var start []string
	if !netns.WaitFor(30*time.Second, func() bool { start = got(); return len(start) >= 3 }) {
		t.Fatalf("start lines: %q", start)
	}
	start = start[:3:3]
	up, r1, r2 := "VS "+vs+" UP", rs(1, "UP"), rs(2, "UP")
	okStart := true
	switch {
	case start[0] == r1 && start[1] == r2 || start[0] == r2 && start[1] == r1:
		okStart = start[2] == up
	case start[0] == r1 || start[0] == r2:
		okStart = start[1] == up && (start[2] == r1 || start[2] == r2) && start[2] != start[0]
	default:
		okStart = false
	}
	if !okStart {
		t.Fatalf("start lines: %q", start)
	}
	waitLines("start", start...)
	l.killHTTPD(2)
	waitLines("real 2 killed", append(start, rs(2, "DOWN"))...)
	l.killHTTPD(1)
	waitLines("both killed", append(start, rs(2, "DOWN"), rs(1, "DOWN"), "VS "+vs+" DOWN")...)
	l.startHTTPD(1)
	waitLines("real 1 back", append(start, rs(2, "DOWN"), rs(1, "DOWN"), "VS "+vs+" DOWN", rs(1, "UP"), "VS "+vs+" UP")...)
	d.stop()
	if _, err := os.Stat(fifo); err != nil {
		t.Errorf("the FIFO made by its reader was removed: %v", err)
	}
}
