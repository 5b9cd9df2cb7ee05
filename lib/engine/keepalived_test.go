package engine

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
)

// keepalived's rules for a real's first moments and its transitions:
// without alpha (its default) a real is in the table before its first
// check and goes only after retry+1 failures; with alpha it waits for a
// passing check. notify_up / notify_down run on the check's transitions,
// in order.
func TestKeepalivedAlphaAndNotify(t *testing.T) {
	const conf = `virtual_server 10.0.0.1 80 {
    delay_loop 0.05
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.2 80 {
        weight 1
        notify_up "echo up 2"
        notify_down "echo down 2"
        TCP_CHECK {
            connect_timeout 1
            retry 2
            delay_before_retry 0.05
        }
    }
    real_server 10.0.0.3 80 {
        weight 2
        TCP_CHECK {
            alpha
            connect_timeout 1
        }
    }
}
`
	var mu sync.Mutex
	var ran []string
	cmd := func(line string) { mu.Lock(); ran = append(ran, line); mu.Unlock() }
	commands := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(ran, "; ") }

	r := start(t, conf, nil, nil, Options{Command: cmd})
	// at ready: the real without alpha is in, the alpha one is not
	if got := r.table(); !strings.Contains(got, "-r 10.0.0.2:80 -m -w 1") || strings.Contains(got, "10.0.0.3") {
		t.Fatalf("at start:\n%s", got)
	}
	// failing checks: out after retry+1 = 3 failures, notify_down once
	r.waitTable("-A -t 10.0.0.1:80 -s rr")
	r.mu.Lock()
	for _, rep := range r.log {
		if c := rep.Check; rep.Kind == Health && c.To == check.Down && strings.HasPrefix(c.Sub.Spec.HostPort(), "10.0.0.2") && c.Fails != 3 {
			t.Errorf("down after %d failures, want 3 (retry 2)", c.Fails)
		}
	}
	r.mu.Unlock()
	waitFor(t, func() bool { return commands() == "echo down 2" }, commands)
	// back up: notify_up; the alpha real enters at its first pass
	r.p.set("10.0.0.2:80", true)
	r.p.set("10.0.0.3:80", true)
	r.waitTable("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.0.0.3:80 -m -w 2")
	waitFor(t, func() bool { return commands() == "echo down 2; echo up 2" }, commands)
}

func waitFor(t *testing.T, cond func() bool, got func() string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not reached; got %q", got())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
