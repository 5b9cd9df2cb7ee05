//go:build vm

package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// lvsd ctl against real IPVS: the kernel table follows each command when
// it returns; a drained real keeps its established connection; the
// overrides survive a SIGHUP reload and a restart (SIGTERM with cleanstop,
// so the restart builds the table afresh from the overrides file);
// enable gives the real back to its checks.
func TestCtlOverridesInTheKernel(t *testing.T) {
	l := newLab(t, "masq", 2)
	cf := l.daemonConfig("o.cf", []int{1, 2}, []int{1, 2}, "")
	state := filepath.Join(l.dir, "o.state")
	d := startDaemon(t, cf, state)
	svc, echo := labVIP+":80", labVIP+":9000"
	rule := func(s, real string, w int) string { return fmt.Sprintf("-a -t %s -r %s -m -w %d", s, real, w) }
	full := func(s string) bool {
		return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) && hasReal(s, echo, 1, 9000) && hasReal(s, echo, 2, 9000)
	}
	waitTable(t, "all reals up", 30*time.Second, full)
	conn := l.dialEcho()
	conn.ping(t, "before-drain")
	ctl := func(args ...string) string {
		t.Helper()
		var out, errs strings.Builder
		if rc := ctlRun(append([]string{"--socket", d.sock}, args...), &out, &errs); rc != 0 {
			t.Fatalf("lvsd ctl %v: exit %d: %s\n%s", args, rc, errs.String(), d.logText())
		}
		return out.String()
	}
	has := func(rules ...string) func(string) bool {
		return func(s string) bool {
			for _, r := range rules {
				if !strings.Contains(s+"\n", r+"\n") {
					return false
				}
			}
			return true
		}
	}
	now := func(what string, cond func(string) bool) {
		t.Helper()
		// the command returns once its writes are acked: no wait needed
		if s := savedTable(t); !cond(s) {
			t.Fatalf("%s: not in the kernel when lvsd ctl returned:\n%s\n%s", what, s, d.logText())
		}
	}

	// drain both echo reals: weight 0, the open connection goes on
	ctl("drain", "10.99.0.11", "tcp:"+echo)
	ctl("drain", "10.99.0.12:9000")
	now("echo reals drained", has(rule(echo, "10.99.0.11:9000", 0), rule(echo, "10.99.0.12:9000", 0),
		rule(svc, "10.99.0.11:80", 1), rule(svc, "10.99.0.12:80", 1)))
	conn.ping(t, "drained")
	// weight and disable on the web service
	ctl("weight", "10.99.0.11", "5", svc)
	ctl("disable", "10.99.0.12", "tcp:"+svc)
	overridden := func(s string) bool {
		return has(rule(echo, "10.99.0.11:9000", 0), rule(echo, "10.99.0.12:9000", 0), rule(svc, "10.99.0.11:80", 5))(s) &&
			!hasReal(s, svc, 2, 80)
	}
	now("weight 5 and disabled", overridden)
	d.waitLog("ctl: disable 10.99.0.12 tcp:"+svc, 5*time.Second)

	// status shows them
	var st statusJSON
	if ans, err := ask(d.sock, "status"); err != nil || json.Unmarshal([]byte(ans), &st) != nil || len(st.Overrides) != 4 {
		t.Fatalf("status: %v\n%s", err, ans)
	}

	// SIGHUP: kept, no write
	writes := strings.Count(d.logText(), " ipvsadm ")
	d.signal(syscall.SIGHUP)
	d.waitLog("reloaded: ", 20*time.Second)
	time.Sleep(2 * time.Second) // a few checks and a resync
	if s := savedTable(t); !overridden(s) {
		t.Fatalf("after the reload:\n%s\n%s", s, d.logText())
	}
	var afterHUP statusJSON
	if ans, err := ask(d.sock, "status"); err != nil || json.Unmarshal([]byte(ans), &afterHUP) != nil ||
		afterHUP.LastReload == nil || afterHUP.LastReload.Trigger != "SIGHUP" || afterHUP.LastReload.Result != "ok" {
		t.Errorf("the last reload in the status: %v\n%s", err, ans)
	}
	if n := strings.Count(d.logText(), " ipvsadm "); n != writes {
		t.Errorf("the reload wrote %d times:\n%s", n-writes, d.logText())
	}
	conn.ping(t, "after-reload")
	conn.c.Close()

	// restart: SIGTERM removes the services (cleanstop), the new daemon
	// builds them again with the overrides of the file
	d.stop()
	if s := savedTable(t); strings.Contains(s, svc) {
		t.Fatalf("cleanstop left:\n%s", s)
	}
	ov := must(os.ReadFile(filepath.Join(l.dir, "o.cf.overrides")))
	d2 := startDaemon(t, cf, state)
	d2.waitLog("overrides in force", 5*time.Second)
	tab := waitTable(t, "the overrides after a restart", 30*time.Second, func(s string) bool {
		return overridden(s) && hasReal(s, echo, 1, 9000) && hasReal(s, echo, 2, 9000)
	})
	if strings.Contains(tab, "-r 10.99.0.12:80") {
		t.Fatalf("the disabled real entered at restart:\n%s\n%s", tab, ov)
	}
	time.Sleep(2 * time.Second)
	if s := savedTable(t); !overridden(s) {
		t.Fatalf("after the restart's checks:\n%s", s)
	}

	// enable: back to the checks' verdict
	ctl("enable", "10.99.0.11")
	out := ctl("enable", "10.99.0.12")
	if !strings.Contains(out, "its overrides removed") {
		t.Errorf("enable said %q", out)
	}
	now("all enabled", has(rule(svc, "10.99.0.11:80", 1), rule(svc, "10.99.0.12:80", 1), rule(echo, "10.99.0.11:9000", 1), rule(echo, "10.99.0.12:9000", 1)))
	if _, err := os.Stat(filepath.Join(l.dir, "o.cf.overrides")); !os.IsNotExist(err) {
		t.Errorf("the overrides file is left after the last enable: %v", err)
	}
	// an unknown real: refused, names the reals
	var o2, e2 strings.Builder
	if rc := ctlRun([]string{"--socket", d2.sock, "drain", "10.99.0.19"}, &o2, &e2); rc != 1 || !strings.Contains(e2.String(), "its reals: 10.99.0.11:80") {
		t.Errorf("unknown real: %d %q", rc, e2.String())
	}
	d2.stop()
}
