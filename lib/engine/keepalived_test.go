package engine

import (
	"context"
	"fmt"
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

// keepalived's quorum and removal notices (ipwrapper.c): at start a
// virtual with quorum up is reported ("Starting with quorum up"), one
// down only with a sorry server; a reload taking out an up real reports
// it, then the old virtual's loss of quorum (its old numbers), then the
// reload's own verdict; a virtual taken out that held quorum loses it.
func TestKeepalivedQuorumReports(t *testing.T) {
	vs := func(ip, extra, reals string) string {
		return "virtual_server " + ip + " 80 {\n    delay_loop 0.05\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n" + extra + reals + "}\n"
	}
	rs := func(ip, extra string) string {
		return "    real_server " + ip + " 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n" + extra + "        }\n    }\n"
	}
	// 10.0.1.3 never up: the total weight stays at the quorum after the
	// reload (keepalived lowers a quorum above it)
	never := rs("10.0.1.3", "            alpha\n")
	keep := vs("10.0.0.1", "    quorum 2\n", rs("10.0.1.1", "")+rs("10.0.1.2", "")+never)
	sorry := vs("10.0.0.2", "    sorry_server 10.0.9.9 80\n", rs("10.0.2.1", "            alpha\n"))
	quiet := vs("10.0.0.3", "", rs("10.0.3.1", "            alpha\n"))
	gone := vs("10.0.0.4", "", rs("10.0.4.1", ""))
	r := start(t, keep+sorry+quiet+gone, nil, []string{"10.0.1.1:80", "10.0.1.2:80", "10.0.4.1:80"}, Options{})
	notices := func() []string {
		r.mu.Lock()
		defer r.mu.Unlock()
		var s []string
		for _, rep := range r.log {
			switch rep.Kind {
			case Quorum:
				s = append(s, fmt.Sprintf("quorum %s on=%v first=%v held=%v w=%d", rep.Virtual.Addr, rep.On, rep.First, rep.Held, rep.Weight))
			case Removed:
				s = append(s, fmt.Sprintf("removed %s of %s", rep.Real.Addr, rep.Virtual.Addr))
			}
		}
		return s
	}
	want := []string{
		"quorum 10.0.0.1 on=true first=true held=false w=2",
		"quorum 10.0.0.2 on=false first=true held=false w=0",
		"quorum 10.0.0.4 on=true first=true held=false w=1",
	}
	if got := notices(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("at start:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	next := parse(t, vs("10.0.0.1", "    quorum 2\n", rs("10.0.1.1", "")+never)+sorry+quiet)
	if err := r.e.Reload(context.Background(), next); err != nil {
		t.Fatal(err)
	}
	want = append(want,
		"removed 10.0.1.2 of 10.0.0.1",
		"quorum 10.0.0.1 on=false first=false held=true w=1", // the old virtual's loss
		"removed 10.0.4.1 of 10.0.0.4",
		"quorum 10.0.0.4 on=false first=false held=true w=0",
		"quorum 10.0.0.1 on=false first=true held=true w=1", // the reload's verdict
	)
	if got := notices(); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("after the reload:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestQuorumNotice(t *testing.T) {
	for _, c := range []struct{ seen, prev, now, fallback, want bool }{
		{false, false, true, false, true},   // Starting with quorum up
		{false, false, false, false, false}, // alpha, no sorry server: nothing
		{false, false, false, true, true},   // Starting with quorum down (the sorry server goes in)
		{true, true, false, false, true},
		{true, false, true, false, true},
		{true, true, true, true, false},
	} {
		if got := quorumNotice(c.seen, c.prev, c.now, c.fallback); got != c.want {
			t.Errorf("%+v: %v", c, got)
		}
	}
}

// quorum_up / quorum_down run with every quorum notice, as keepalived's
// do_vs_notifies runs them: at the start ("Starting with quorum up") and
// on each transition, once, in order; while the quorum is lost the sorry
// server stands in alone.
func TestKeepalivedQuorumCommands(t *testing.T) {
	rs := func(ip string) string {
		return "    real_server " + ip + " 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n"
	}
	conf := "virtual_server 10.0.0.1 80 {\n    delay_loop 0.05\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n" +
		"    quorum 2\n    quorum_up \"echo quorum up\"\n    quorum_down \"echo quorum down\"\n" +
		"    sorry_server 10.0.9.9 80\n" + rs("10.0.1.1") + rs("10.0.1.2") + "}\n"
	var mu sync.Mutex
	var ran []string
	cmd := func(line string) { mu.Lock(); ran = append(ran, line); mu.Unlock() }
	commands := func() string { mu.Lock(); defer mu.Unlock(); return strings.Join(ran, "; ") }

	r := start(t, conf, nil, []string{"10.0.1.1:80", "10.0.1.2:80"}, Options{Command: cmd})
	both := "-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.1.1:80 -m -w 1\n-a -t 10.0.0.1:80 -r 10.0.1.2:80 -m -w 1"
	r.waitTable(both)
	waitFor(t, func() bool { return commands() == "echo quorum up" }, commands)
	// one real down: weight 1 < quorum 2, the sorry server in
	r.p.set("10.0.1.2:80", false)
	r.waitTable("-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.9.9:80 -m -w 1")
	waitFor(t, func() bool { return commands() == "echo quorum up; echo quorum down" }, commands)
	r.p.set("10.0.1.2:80", true)
	r.waitTable(both)
	waitFor(t, func() bool { return commands() == "echo quorum up; echo quorum down; echo quorum up" }, commands)
	// and nothing more while the state holds
	time.Sleep(200 * time.Millisecond)
	if got := commands(); got != "echo quorum up; echo quorum down; echo quorum up" {
		t.Fatalf("ran %q", got)
	}
}
