//go:build vm

package main

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// Each ldirectord rule of `lvsd run`, watched in the kernel table
// (ipvsadm -Sn) while the daemon runs against the lab's real servers
// (busybox httpd on :80, an echo on :9000), connect checks every second.
// One lab serves every rule (a subtest each: TestRules/quiescent ...);
// each subtest starts from an empty table with every server running.

// ruleVirtual is a virtual on the VIP's port with connect checks and two
// masq reals: real 1 weight 2, real 2 weight 3 (so that "back to its
// weight" is visible). extra lines go in the virtual's block.
func ruleVirtual(port int, extra ...string) string {
	b := fmt.Sprintf("\nvirtual=%s:%d\n\tscheduler=rr\n\tchecktype=connect\n", labVIP, port)
	for _, e := range extra {
		b += "\t" + e + "\n"
	}
	return b + fmt.Sprintf("\treal=10.99.0.11:%d masq 2\n\treal=10.99.0.12:%d masq 3\n", port, port)
}

// ruleConfig writes an ldirectord.cf: checkinterval=1, checktimeout=1,
// the global lines, then the virtuals.
func (l *lab) ruleConfig(t *testing.T, name string, global []string, virtuals ...string) string {
	b := "checkinterval=1\nchecktimeout=1\n" + strings.Join(global, "\n") + "\n" + strings.Join(virtuals, "")
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// ruleWeight is real i's weight in the VIP's service on port; -1 when it
// is not in the table.
func ruleWeight(table string, port, i int) int {
	w, ok := weightOf(table, fmt.Sprintf("-t %s:%d", labVIP, port), fmt.Sprintf("10.99.0.1%d:%d", i, port))
	if !ok {
		return -1
	}
	return w
}

func (l *lab) httpdDead(i int) bool { return l.procs[2*(i-1)].ProcessState != nil }
func (l *lab) echoDead(i int) bool  { return l.procs[2*(i-1)+1].ProcessState != nil }

// killEcho stops real i's echo server; startEcho starts it again.
func (l *lab) killEcho(i int) {
	p := l.procs[2*(i-1)+1]
	p.Process.Kill()
	p.Wait()
}

func (l *lab) startEcho(i int) {
	l.bg(fmt.Sprintf("r%d%s", i, l.sfx), "busybox", "nc", "-ll", "-p", "9000", "-e", "cat")
	l.procs[2*(i-1)+1] = l.procs[len(l.procs)-1]
	l.procs = l.procs[:len(l.procs)-1]
}

// reset empties the table and restarts any server a previous subtest
// left dead, waiting until each answers.
func (l *lab) reset(t *testing.T) {
	t.Helper()
	vm.ResetIPVS(t)
	for i := 1; i <= l.reals; i++ {
		if l.httpdDead(i) {
			l.startHTTPD(i)
		}
		if l.echoDead(i) {
			l.startEcho(i)
		}
		for _, port := range []int{80, 9000} {
			addr := fmt.Sprintf("10.99.0.1%d:%d", i, port)
			if !netns.WaitFor(30*time.Second, func() bool {
				c, err := net.DialTimeout("tcp", addr, time.Second)
				if err == nil {
					c.Close()
				}
				return err == nil
			}) {
				t.Fatalf("%s never answered", addr)
			}
		}
	}
}

// getT is lab.get for a subtest: n requests through the VIP from the
// client, which real answered each.
func (l *lab) getT(t *testing.T, n int) []string {
	t.Helper()
	var out []string
	err := netns.Do("c"+l.sfx, func() error {
		for i := 0; i < n; i++ {
			b, err := httpGet(labVIP + ":80")
			if err != nil {
				return fmt.Errorf("request %d through the VIP: %v", i, err)
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v\nipvsadm:\n%s", err, shell(t, "ipvsadm -Ln"))
	}
	return out
}

// echoOnce opens a connection to the VIP's :9000 from the client and
// checks one line comes back.
func (l *lab) echoOnce(t *testing.T, msg string) {
	t.Helper()
	err := netns.Do("c"+l.sfx, func() error {
		c, err := net.DialTimeout("tcp", labVIP+":9000", 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		fmt.Fprintln(c, msg)
		got, err := bufio.NewReader(c).ReadString('\n')
		if strings.TrimSpace(got) != msg {
			return fmt.Errorf("echo of %q: got %q, %v", msg, got, err)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("echo through the VIP: %v", err)
	}
}

// script writes an executable shell script that appends its arguments,
// one line per run, to out.
func script(t *testing.T, dir, name, out string) string {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("#!/bin/sh\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	return p
}

func lines(path string) []string {
	b, _ := os.ReadFile(path)
	s := strings.TrimSpace(string(b))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// waitLines waits until path holds want, line for line.
func waitLines(t *testing.T, path string, within time.Duration, want ...string) {
	t.Helper()
	if !netns.WaitFor(within, func() bool { return strings.Join(lines(path), "\n") == strings.Join(want, "\n") }) {
		t.Fatalf("%s: want %q within %s, have %q", filepath.Base(path), want, within, lines(path))
	}
}

// waitSorted is waitLines in any order.
func waitSorted(t *testing.T, path string, within time.Duration, want ...string) {
	t.Helper()
	w := slices.Sorted(slices.Values(want))
	if !netns.WaitFor(within, func() bool { return slices.Equal(slices.Sorted(slices.Values(lines(path))), w) }) {
		t.Fatalf("%s: want %q in any order within %s, have %q", filepath.Base(path), want, within, lines(path))
	}
}

// stays checks, for d, that cond holds on every read of the table.
func stays(t *testing.T, what string, d time.Duration, cond func(string) bool) {
	t.Helper()
	for end := time.Now().Add(d); time.Now().Before(end); {
		if s := savedTable(t); !cond(s) {
			t.Fatalf("%s: no longer so; ipvsadm -Sn:\n%s", what, s)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestRules(t *testing.T) {
	l := newLabSettled(t, "masq", 3)
	const vip80 = labVIP + ":80"

	// quiescent=yes: a down real stays in the table at weight 0 (no new
	// connections), and gets its own weight back when it is up again.
	t.Run("quiescent", func(t *testing.T) {
		l.reset(t)
		cf := l.ruleConfig(t, "q.cf", []string{"quiescent=yes"}, ruleVirtual(80))
		d := startDaemon(t, cf, filepath.Join(l.dir, "q.state"))
		waitTable(t, "both up at their weights", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
		l.killHTTPD(2)
		waitTable(t, "real 2 quiesced", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 0 })
		d.waitLog("ipvsadm -e -t "+vip80+" -r 10.99.0.12:80 -m -w 0", 5*time.Second)
		stays(t, "real 2 at weight 0, not deleted", 3*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 0 && ruleWeight(s, 80, 1) == 2 })
		if c := count(l.getT(t, 6)); c["r1"] != 6 {
			t.Errorf("a quiesced real got new connections: %v", c)
		}
		l.startHTTPD(2)
		waitTable(t, "real 2 back at weight 3", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
		if c := count(l.getT(t, 6)); c["r1"] == 0 || c["r2"] == 0 {
			t.Errorf("real 2 back but not answering: %v", c)
		}
	})

	// readdquiescent=yes: a quiesced real deleted by hand is put back at
	// weight 0 (on the next resync).
	t.Run("readdquiescent=yes", func(t *testing.T) {
		l.reset(t)
		cf := l.ruleConfig(t, "rq.cf", []string{"quiescent=yes", "readdquiescent=yes"}, ruleVirtual(80))
		d := startDaemon(t, cf, filepath.Join(l.dir, "rq.state"))
		waitTable(t, "both up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
		l.killHTTPD(2)
		waitTable(t, "real 2 quiesced", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 0 })
		shell(t, "ipvsadm -d -t "+vip80+" -r 10.99.0.12:80")
		waitTable(t, "quiesced real re-added at weight 0", 15*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 0 })
		d.waitLog("repair: ipvsadm -a -t "+vip80+" -r 10.99.0.12:80 -m -w 0", 5*time.Second)
		l.startHTTPD(2)
		waitTable(t, "real 2 back at weight 3", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
	})

	// readdquiescent=no: the quiesced real deleted by hand stays deleted
	// (so that an operator can drop its persistent connections) until it
	// is up again. At start a down real is still added at weight 0, as
	// ldirectord's ld_start does.
	t.Run("readdquiescent=no", func(t *testing.T) {
		l.reset(t)
		l.killHTTPD(2)
		cf := l.ruleConfig(t, "rn.cf", []string{"quiescent=yes", "readdquiescent=no"}, ruleVirtual(80))
		d := startDaemon(t, cf, filepath.Join(l.dir, "rn.state"))
		waitTable(t, "real 1 up, real 2 added at weight 0 at start", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 0 })
		d.waitLog("down tcp:"+vip80+" real 10.99.0.12:80", 10*time.Second)
		shell(t, "ipvsadm -d -t "+vip80+" -r 10.99.0.12:80")
		mark := len(d.logText())
		stays(t, "quiesced real deleted by hand stays deleted", 5*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == -1 && ruleWeight(s, 80, 1) == 2 })
		if after := d.logText()[mark:]; strings.Contains(after, "10.99.0.12:80 -m") {
			t.Errorf("lvsd wrote for the deleted real:\n%s", after)
		}
		l.startHTTPD(2)
		waitTable(t, "real 2 added back once up", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
	})

	// fallback: with no real up the fallback (global, its port taken from
	// the virtual) is in the table at weight 1 and answers; it goes as
	// soon as one real is up. With quiescent=yes the down reals stay at
	// weight 0 beside it.
	t.Run("fallback", func(t *testing.T) {
		l.reset(t)
		cf := l.ruleConfig(t, "fb.cf", []string{"quiescent=no", "fallback=10.99.0.13 masq"}, ruleVirtual(80), ruleVirtual(9000, "quiescent=yes"))
		d := startDaemon(t, cf, filepath.Join(l.dir, "fb.state"))
		fb := func(s string, port int) int { return ruleWeight(s, port, 3) }
		waitTable(t, "reals up, no fallback", 30*time.Second, func(s string) bool {
			return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 && ruleWeight(s, 9000, 1) == 2 && ruleWeight(s, 9000, 2) == 3 && fb(s, 80) == -1 && fb(s, 9000) == -1
		})
		for i := 1; i <= 2; i++ {
			l.killHTTPD(i)
			l.killEcho(i)
		}
		waitTable(t, "fallback on, reals out (:80) or at weight 0 (:9000)", 20*time.Second, func(s string) bool {
			return fb(s, 80) == 1 && ruleWeight(s, 80, 1) == -1 && ruleWeight(s, 80, 2) == -1 &&
				fb(s, 9000) == 1 && ruleWeight(s, 9000, 1) == 0 && ruleWeight(s, 9000, 2) == 0
		})
		d.waitLog("fallback on for tcp:"+vip80, 5*time.Second)
		if c := count(l.getT(t, 4)); c["r3"] != 4 {
			t.Errorf("the fallback does not answer for the VIP: %v", c)
		}
		l.echoOnce(t, "to-the-fallback")
		l.startHTTPD(1)
		l.startEcho(1)
		waitTable(t, "fallback off once a real is up", 20*time.Second, func(s string) bool {
			return fb(s, 80) == -1 && ruleWeight(s, 80, 1) == 2 && fb(s, 9000) == -1 && ruleWeight(s, 9000, 1) == 2 && ruleWeight(s, 9000, 2) == 0
		})
		d.waitLog("fallback off for tcp:"+vip80, 5*time.Second)
		if c := count(l.getT(t, 4)); c["r1"] != 4 {
			t.Errorf("after fallback off: %v", c)
		}
	})

	// fallbackcommand: run with `start VIP:PORT PROTO` when no real is up,
	// `stop ...` when the first comes back; not again while one stays up.
	t.Run("fallbackcommand", func(t *testing.T) {
		l.reset(t)
		out := filepath.Join(t.TempDir(), "fallback.log")
		fbs := script(t, t.TempDir(), "fb.sh", out)
		l.killHTTPD(1)
		l.killHTTPD(2)
		out9000 := filepath.Join(t.TempDir(), "fallback9000.log")
		own := script(t, t.TempDir(), "own.sh", out9000)
		cf := l.ruleConfig(t, "fc.cf", []string{"quiescent=no", `fallbackcommand="` + fbs + `"`}, ruleVirtual(80), ruleVirtual(9000, `fallbackcommand="`+own+`"`))
		d := startDaemon(t, cf, filepath.Join(l.dir, "fc.state"))
		start, stop := "start "+vip80+" tcp", "stop "+vip80+" tcp"
		waitLines(t, out, 10*time.Second, start)
		// the :9000 virtual's own command: start, as no real is known up
		// at the start (ldirectord's ld_start: fallback_on), and stop at
		// its first check; the two are started together, the order in
		// which they finish is fallbackcommand_order's
		waitSorted(t, out9000, 10*time.Second, "start "+labVIP+":9000 tcp", "stop "+labVIP+":9000 tcp")
		l.startHTTPD(1)
		waitLines(t, out, 20*time.Second, start, stop)
		l.startHTTPD(2)
		waitTable(t, "both up", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
		time.Sleep(1500 * time.Millisecond)
		waitLines(t, out, time.Second, start, stop)
		l.killHTTPD(1)
		l.killHTTPD(2)
		waitLines(t, out, 20*time.Second, start, stop, start)
		d.stop()
		time.Sleep(500 * time.Millisecond)
		waitLines(t, out, time.Second, start, stop, start)
		waitSorted(t, out9000, time.Second, "start "+labVIP+":9000 tcp", "stop "+labVIP+":9000 tcp")
	})

	// failurecount=3: a real goes down only after 3 consecutive failed
	// checks, so at least 2 checkintervals after its server died; a
	// virtual's own failurecount=1 takes its real out at the first.
	t.Run("failurecount", func(t *testing.T) {
		l.reset(t)
		cf := l.ruleConfig(t, "f.cf", []string{"quiescent=no", "failurecount=3"}, ruleVirtual(80), ruleVirtual(9000, "failurecount=1"))
		d := startDaemon(t, cf, filepath.Join(l.dir, "f.state"))
		waitTable(t, "all up", 30*time.Second, func(s string) bool {
			return ruleWeight(s, 80, 2) == 3 && ruleWeight(s, 9000, 2) == 3 && ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 9000, 1) == 2
		})
		killed := time.Now()
		l.killHTTPD(2)
		l.killEcho(2)
		var out80, out9000 time.Time
		waitTable(t, "real 2 out of both", 30*time.Second, func(s string) bool {
			now := time.Now()
			if out9000.IsZero() && ruleWeight(s, 9000, 2) == -1 {
				out9000 = now
			}
			if out80.IsZero() && ruleWeight(s, 80, 2) == -1 {
				out80 = now
			}
			return !out80.IsZero() && !out9000.IsZero()
		})
		t80, t9000 := out80.Sub(killed), out9000.Sub(killed)
		t.Logf("checkinterval=1: failurecount=3 real out %s after its server died, failurecount=1 real %s", t80.Round(time.Millisecond), t9000.Round(time.Millisecond))
		if t80 < 1900*time.Millisecond {
			t.Errorf("failurecount=3: out after %s, before 3 checks 1 s apart could fail", t80)
		}
		if t80 > 3*time.Second+6*time.Second {
			t.Errorf("failurecount=3: out only after %s", t80)
		}
		if !out9000.Before(out80) {
			t.Errorf("failurecount=1 real out at %s, not before the failurecount=3 one (%s)", t9000, t80)
		}
		d.waitLog("down tcp:"+vip80+" real 10.99.0.12:80", 5*time.Second)
		if log := d.logText(); !strings.Contains(log, "failure 3)") {
			t.Errorf("the down line does not count 3 failures:\n%s", log)
		}
	})

	// maintenancedir: a file named after the real (ip:port, ip, fqdn:port,
	// fqdn, short:port, short) takes it out without probing; removing it
	// brings the real back after its next passing check.
	t.Run("maintenancedir", func(t *testing.T) {
		l.reset(t)
		// the real's host name, for the fqdn and short names (the VM's
		// root is an overlay: /etc/hosts is the VM's own)
		hosts, err := os.ReadFile("/etc/hosts")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile("/etc/hosts", append(bytes.Clone(hosts), "10.99.0.12 web2.lvs.test web2\n"...), 0o644); err != nil {
			t.Fatalf("cannot name the real in /etc/hosts: %v", err)
		}
		t.Cleanup(func() { os.WriteFile("/etc/hosts", hosts, 0o644) })
		md := t.TempDir()
		// a file there at the start: the real never enters
		os.WriteFile(filepath.Join(md, "10.99.0.12:80"), nil, 0o644)
		cf := l.ruleConfig(t, "m.cf", []string{"quiescent=no", "maintenancedir=" + md}, ruleVirtual(80))
		d := startDaemon(t, cf, filepath.Join(l.dir, "m.state"))
		waitTable(t, "real 1 up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 })
		d.waitLog("real 10.99.0.12:80: maintenance: 10.99.0.12:80", 10*time.Second)
		stays(t, "real 2 kept out by the file there at the start", 2*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == -1 })
		os.Remove(filepath.Join(md, "10.99.0.12:80"))
		waitTable(t, "both up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
		for _, name := range []string{"10.99.0.12:80", "10.99.0.12", "web2.lvs.test:80", "web2.lvs.test", "web2:80", "web2"} {
			f := filepath.Join(md, name)
			mark := len(d.logText())
			os.WriteFile(f, nil, 0o644)
			waitTable(t, name+" in maintenancedir: real 2 out", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == -1 && ruleWeight(s, 80, 1) == 2 })
			want := "real 10.99.0.12:80: maintenance: " + name + "\n"
			if !netns.WaitFor(5*time.Second, func() bool { return strings.Contains(d.logText()[mark:], want) }) {
				t.Errorf("no %q in the log:\n%s", want, d.logText()[mark:])
			}
			os.Remove(f)
			waitTable(t, name+" removed: real 2 back", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
		}
		// a file for another real, or another port, takes nothing out
		os.WriteFile(filepath.Join(md, "10.99.0.12:9000"), nil, 0o644)
		os.WriteFile(filepath.Join(md, "10.99.0.13"), nil, 0o644)
		stays(t, "unrelated maintenance files", 3*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
	})

	// autoreload=yes: a change of the file's content reloads it without a
	// signal, written in place or renamed over; a rewrite of the same
	// bytes does not.
	t.Run("autoreload", func(t *testing.T) {
		l.reset(t)
		one := fmt.Sprintf("\nvirtual=%s:80\n\tchecktype=connect\n\treal=10.99.0.11:80 masq 2\n", labVIP)
		cf := l.ruleConfig(t, "ar.cf", []string{"quiescent=no", "autoreload=yes"}, one)
		d := startDaemon(t, cf, filepath.Join(l.dir, "ar.state"))
		waitTable(t, "real 1 up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == -1 })
		reloads := func() int { return strings.Count(d.logText(), "reloaded: ") }
		l.ruleConfig(t, "ar.cf", []string{"quiescent=no", "autoreload=yes"}, ruleVirtual(80))
		waitTable(t, "rewritten in place: real 2 added without a signal", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
		if n := reloads(); n != 1 {
			t.Fatalf("%d reloads for one change:\n%s", n, d.logText())
		}
		same := must(os.ReadFile(cf))
		os.WriteFile(cf, same, 0o644)
		now := time.Now()
		os.Chtimes(cf, now, now)
		time.Sleep(2 * time.Second)
		if n := reloads(); n != 1 {
			t.Errorf("an unchanged rewrite reloaded (%d reloads):\n%s", n, d.logText())
		}
		tmp := cf + ".new"
		os.WriteFile(tmp, []byte(strings.Replace(string(same), "10.99.0.12:80 masq 3", "10.99.0.12:80 masq 5", 1)), 0o644)
		os.Rename(tmp, cf)
		waitTable(t, "renamed over: real 2 at its new weight", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 5 })
		if n := reloads(); n != 2 {
			t.Errorf("%d reloads after the second change", n)
		}
		// a broken change is refused and the running configuration kept;
		// the next good one is taken
		before := savedTable(t)
		good := must(os.ReadFile(cf))
		os.WriteFile(cf, append(bytes.Clone(good), "\tnosuchdirective=1\n"...), 0o644)
		d.waitLog("refused: the running configuration is kept", 10*time.Second)
		stays(t, "table after a refused autoreload", 2*time.Second, func(s string) bool { return s == before })
		os.WriteFile(cf, []byte(strings.Replace(string(good), "10.99.0.12:80 masq 5", "10.99.0.12:80 masq 4", 1)), 0o644)
		waitTable(t, "fixed: real 2 at weight 4", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 4 })
		if n := reloads(); n != 3 {
			t.Errorf("%d reloads after the broken and the fixed change, want 3", n)
		}
	})

	// callback: called with the configuration's path on each change of
	// the file (not on an unchanged rewrite); with autoreload=yes the file
	// is reloaded too.
	t.Run("callback", func(t *testing.T) {
		l.reset(t)
		out := filepath.Join(t.TempDir(), "callback.log")
		cb := script(t, t.TempDir(), "cb.sh", out)
		global := []string{"quiescent=no", "autoreload=yes", `callback="` + cb + `"`}
		one := fmt.Sprintf("\nvirtual=%s:80\n\tchecktype=connect\n\treal=10.99.0.11:80 masq 2\n", labVIP)
		cf := l.ruleConfig(t, "cb.cf", global, one)
		d := startDaemon(t, cf, filepath.Join(l.dir, "cb.state"))
		waitTable(t, "real 1 up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 })
		l.ruleConfig(t, "cb.cf", global, ruleVirtual(80))
		waitLines(t, out, 10*time.Second, cf)
		waitTable(t, "reloaded: real 2 added", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
		os.WriteFile(cf, must(os.ReadFile(cf)), 0o644)
		time.Sleep(2 * time.Second)
		waitLines(t, out, time.Second, cf)
		if n := strings.Count(d.logText(), "reloaded: "); n != 1 {
			t.Errorf("%d reloads", n)
		}
	})

	// callback without autoreload: ldirectord's check_cfgfile calls the
	// callback on a change whatever autoreload says, and rereads the file
	// only with autoreload=yes ("- ignore new configuration").
	t.Run("callback_autoreload=no", func(t *testing.T) {
		l.reset(t)
		out := filepath.Join(t.TempDir(), "callback.log")
		cb := script(t, t.TempDir(), "cb.sh", out)
		global := []string{"quiescent=no", "autoreload=no", `callback="` + cb + `"`}
		one := fmt.Sprintf("\nvirtual=%s:80\n\tchecktype=connect\n\treal=10.99.0.11:80 masq 2\n", labVIP)
		cf := l.ruleConfig(t, "cbn.cf", global, one)
		d := startDaemon(t, cf, filepath.Join(l.dir, "cbn.state"))
		waitTable(t, "real 1 up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 })
		before := savedTable(t)
		l.ruleConfig(t, "cbn.cf", global, ruleVirtual(80))
		if !netns.WaitFor(10*time.Second, func() bool { return len(lines(out)) > 0 }) {
			t.Errorf("callback not called on a change of the file with autoreload=no (ldirectord calls it); log:\n%s", d.logText())
		} else if got := lines(out); len(got) != 1 || got[0] != cf {
			t.Errorf("callback got %q, want %q", got, cf)
		}
		time.Sleep(2 * time.Second)
		if s := savedTable(t); s != before || strings.Contains(d.logText(), "reloaded: ") {
			t.Errorf("autoreload=no reloaded the changed file:\n%s\nlog:\n%s", s, d.logText())
		}
	})

	// fallbackcommand runs are ordered: ldirectord's system_wrapper
	// waits for each. A "start" still running when "stop" is decided must
	// not finish after it: a sorry server that "start" brings up would be
	// left running with the reals back.
	t.Run("fallbackcommand_order", func(t *testing.T) {
		l.reset(t)
		out := filepath.Join(t.TempDir(), "fallback.log")
		slow := filepath.Join(t.TempDir(), "slow.sh")
		if err := os.WriteFile(slow, []byte("#!/bin/sh\n[ \"$1\" = start ] && sleep 1\necho \"$@\" >> "+out+"\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		cf := l.ruleConfig(t, "fo.cf", []string{"quiescent=no", `fallbackcommand="` + slow + `"`}, ruleVirtual(80))
		d := startDaemon(t, cf, filepath.Join(l.dir, "fo.state"))
		waitTable(t, "both up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
		d.waitLog("run: "+slow+" stop "+vip80+" tcp", 10*time.Second)
		waitLines(t, out, 10*time.Second, "start "+vip80+" tcp", "stop "+vip80+" tcp")
	})

	// autoreload and callback follow the running configuration, as
	// ldirectord's read_config resets them on every reload: turned on by
	// a SIGHUP reload, the next change of the file is reloaded; turned
	// off by a reload, the next change is not.
	t.Run("autoreload_set_by_reload", func(t *testing.T) {
		l.reset(t)
		one := fmt.Sprintf("\nvirtual=%s:80\n\tchecktype=connect\n\treal=10.99.0.11:80 masq 2\n", labVIP)
		cf := l.ruleConfig(t, "ars.cf", []string{"quiescent=no", "autoreload=no"}, one)
		d := startDaemon(t, cf, filepath.Join(l.dir, "ars.state"))
		waitTable(t, "real 1 up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 })
		l.ruleConfig(t, "ars.cf", []string{"quiescent=no", "autoreload=yes"}, ruleVirtual(80))
		d.signal(syscall.SIGHUP)
		waitTable(t, "SIGHUP: real 2 added", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 2) == 3 })
		l.ruleConfig(t, "ars.cf", []string{"quiescent=no", "autoreload=yes"}, strings.Replace(ruleVirtual(80), "masq 3", "masq 5", 1))
		if !netns.WaitFor(10*time.Second, func() bool { return ruleWeight(savedTable(t), 80, 2) == 5 }) {
			t.Errorf("autoreload=yes set by a reload: a change of the file is not reloaded; log:\n%s", d.logText())
		}

		cf2 := l.ruleConfig(t, "ars2.cf", []string{"quiescent=no", "autoreload=yes"}, ruleVirtual(9000))
		d2 := startDaemon(t, cf2, filepath.Join(l.dir, "ars2.state"))
		waitTable(t, ":9000 up", 30*time.Second, func(s string) bool { return ruleWeight(s, 9000, 2) == 3 })
		l.ruleConfig(t, "ars2.cf", []string{"quiescent=no", "autoreload=no"}, strings.Replace(ruleVirtual(9000), "masq 3", "masq 4", 1))
		waitTable(t, "autoreloaded: real 2 at weight 4", 20*time.Second, func(s string) bool { return ruleWeight(s, 9000, 2) == 4 })
		l.ruleConfig(t, "ars2.cf", []string{"quiescent=no", "autoreload=no"}, strings.Replace(ruleVirtual(9000), "masq 3", "masq 6", 1))
		time.Sleep(3 * time.Second)
		if w := ruleWeight(savedTable(t), 9000, 2); w != 4 {
			t.Errorf("autoreload=no set by a reload: a change of the file was still reloaded (weight %d); log:\n%s", w, d2.logText())
		}
	})

	// maintenancedir set by a reload is honoured, as the rest of the
	// global section is (ldirectord rereads $MAINTDIR on reload).
	t.Run("maintenancedir_set_by_reload", func(t *testing.T) {
		l.reset(t)
		md := t.TempDir()
		cf := l.ruleConfig(t, "mr.cf", []string{"quiescent=no"}, ruleVirtual(80))
		d := startDaemon(t, cf, filepath.Join(l.dir, "mr.state"))
		waitTable(t, "both up", 30*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
		l.ruleConfig(t, "mr.cf", []string{"quiescent=no", "maintenancedir=" + md}, ruleVirtual(80))
		d.signal(syscall.SIGHUP)
		d.waitLog("reloaded: ", 20*time.Second)
		os.WriteFile(filepath.Join(md, "10.99.0.12:80"), nil, 0o644)
		if !netns.WaitFor(10*time.Second, func() bool { return ruleWeight(savedTable(t), 80, 2) == -1 }) {
			t.Errorf("maintenancedir set by a reload: a file there does not take the real out; log:\n%s", d.logText())
		}
	})

	// keepalived.conf: without alpha (keepalived's default) a real is in
	// the table before its first check, even a dead one, and leaves after
	// retry+1 failures with notify_down; with alpha it waits for a
	// passing check. notify_up runs when the real's server is back.
	t.Run("keepalived_alpha_notify", func(t *testing.T) {
		l.reset(t)
		l.killHTTPD(1)
		l.killHTTPD(2) // dead too: the alpha real must wait (its first check comes within 200 ms)
		out := filepath.Join(t.TempDir(), "notify.log")
		n := script(t, t.TempDir(), "notify.sh", out)
		conf := fmt.Sprintf(`virtual_server %s 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.99.0.11 80 {
        weight 2
        notify_up "%[2]s up"
        notify_down "%[2]s down"
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 10.99.0.12 80 {
        weight 3
        TCP_CHECK {
            alpha
            connect_timeout 1
        }
    }
}
`, labVIP, n)
		cf := filepath.Join(l.dir, "keepalived.conf")
		if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
			t.Fatal(err)
		}
		d := startDaemon(t, cf, filepath.Join(l.dir, "ka.state"))
		if s := savedTable(t); ruleWeight(s, 80, 1) != 2 || ruleWeight(s, 80, 2) != -1 {
			t.Errorf("at ready: the real without alpha is not in at weight 2, or the alpha one is in:\n%s", s)
		}
		waitTable(t, "the dead real without alpha out after 2 failures", 20*time.Second, func(s string) bool {
			return ruleWeight(s, 80, 1) == -1 && ruleWeight(s, 80, 2) == -1
		})
		waitLines(t, out, 10*time.Second, "down")
		l.startHTTPD(1)
		l.startHTTPD(2)
		waitTable(t, "both back", 20*time.Second, func(s string) bool { return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 })
		waitLines(t, out, 10*time.Second, "down", "up")
		d.stop()
	})

	// cleanstop=no: SIGTERM leaves the table exactly as it is, and the
	// VIP keeps answering.
	t.Run("cleanstop=no", func(t *testing.T) {
		l.reset(t)
		shell(t, "ipvsadm -A -t 10.99.2.200:80 -s rr")
		cf := l.ruleConfig(t, "cn.cf", []string{"quiescent=no", "cleanstop=no"}, ruleVirtual(80), ruleVirtual(9000))
		d := startDaemon(t, cf, filepath.Join(l.dir, "cn.state"))
		waitTable(t, "all up", 30*time.Second, func(s string) bool {
			return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 && ruleWeight(s, 9000, 1) == 2 && ruleWeight(s, 9000, 2) == 3
		})
		before := savedTable(t)
		d.stop()
		if s := savedTable(t); s != before {
			t.Fatalf("cleanstop=no changed the table on SIGTERM:\n%s\nwas:\n%s", s, before)
		}
		if log := d.logText(); !strings.Contains(log, "stopped: 0 virtual services removed") {
			t.Errorf("stop not logged as removing nothing:\n%s", log)
		}
		if c := count(l.getT(t, 4)); c["r1"]+c["r2"] != 4 {
			t.Errorf("after the stop: %v", c)
		}
		l.echoOnce(t, "after-stop")
		// what cleanstop=no is for: start again, adopt the table, write nothing
		d2 := startDaemon(t, cf, filepath.Join(l.dir, "cn.state"))
		for _, r := range []string{vip80 + " real 10.99.0.11:80", vip80 + " real 10.99.0.12:80", labVIP + ":9000 real 10.99.0.11:9000", labVIP + ":9000 real 10.99.0.12:9000"} {
			d2.waitLog("up   tcp:"+r, 20*time.Second)
		}
		time.Sleep(1500 * time.Millisecond)
		if log := d2.logText(); strings.Contains(log, " ipvsadm ") {
			t.Errorf("the restart after cleanstop=no wrote to the table:\n%s", log)
		}
		if s := savedTable(t); s != before {
			t.Errorf("the restart changed the table:\n%s\nwas:\n%s", s, before)
		}
	})

	// cleanstop=yes: SIGTERM removes the configuration's services; a
	// virtual's own cleanstop=no keeps that one as it is; a foreign
	// service is not touched.
	t.Run("cleanstop=yes", func(t *testing.T) {
		l.reset(t)
		shell(t, "ipvsadm -A -t 10.99.2.200:80 -s rr")
		cf := l.ruleConfig(t, "cy.cf", []string{"quiescent=no", "cleanstop=yes"}, ruleVirtual(80), ruleVirtual(9000, "cleanstop=no"))
		d := startDaemon(t, cf, filepath.Join(l.dir, "cy.state"))
		waitTable(t, "all up", 30*time.Second, func(s string) bool {
			return ruleWeight(s, 80, 1) == 2 && ruleWeight(s, 80, 2) == 3 && ruleWeight(s, 9000, 1) == 2 && ruleWeight(s, 9000, 2) == 3
		})
		keep := func(s string) string {
			var out []string
			for _, line := range strings.Split(s, "\n") {
				if strings.Contains(line, labVIP+":9000") || strings.Contains(line, "10.99.2.200:80") {
					out = append(out, line)
				}
			}
			return strings.Join(out, "\n")
		}
		before := keep(savedTable(t))
		d.stop()
		s := savedTable(t)
		if hasService(s, "-t "+vip80) {
			t.Errorf("cleanstop=yes left %s:\n%s", vip80, s)
		}
		if keep(s) != before {
			t.Errorf("the cleanstop=no virtual or the foreign service changed:\n%s\nwas:\n%s", keep(s), before)
		}
		if log := d.logText(); !strings.Contains(log, "stopped: 1 virtual services removed (cleanstop), 1 left") {
			t.Errorf("stop not logged:\n%s", log)
		}
		l.echoOnce(t, "kept-virtual")
	})
}
