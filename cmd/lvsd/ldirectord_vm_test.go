//go:build vm

package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// Debian's ocf:heartbeat:ldirectord runs `$LDIRECTORD $LDIRCONF
// start|stop|status` (its ldirectord and configfile parameters) and maps
// status 0, 3, 1 "stale pid file" and 2 to OCF codes; its stop with a
// broken file falls back to `pgrep -f "$LDIRECTORD $LDIRCONF start"`.
const ldAgent = "/usr/lib/ocf/resource.d/heartbeat/ldirectord"

// ldirectordLink copies bin/lvsd (make vmtest builds it) into dir, so
// that a rebuild on the host while the VM runs cannot crash it (see
// docs/vm.md), and returns an `ldirectord` symlink to the copy.
func ldirectordLink(t *testing.T, dir string) (lvsd, link string) {
	t.Helper()
	b, err := os.ReadFile("../../bin/lvsd")
	if err != nil {
		t.Fatalf("%v (run make build before make vmtest)", err)
	}
	lvsd, link = filepath.Join(dir, "lvsd"), filepath.Join(dir, "ldirectord")
	if err := os.WriteFile(lvsd, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("lvsd", link); err != nil {
		t.Fatal(err)
	}
	return lvsd, link
}

// The real agent drives lvsd through the ldirectord link on the VM's
// IPVS: ocf-tester passes, start puts the file's virtual service in the
// kernel with lvsd as the daemon, stop removes it (cleanstop).
func TestLdirectordAgent(t *testing.T) {
	cleanTable(t)
	tester := testenv.Command(t, "ocf-tester")
	if _, err := os.Stat(ldAgent); err != nil {
		testenv.Skip(t, "needs %s (Debian resource-agents)", ldAgent)
	}
	dir := t.TempDir()
	lvsd, ld := ldirectordLink(t, dir)
	// IPVS refuses a masq real without a route to it.
	exec.Command("ip", "link", "del", "dum-ldra").Run()
	shell(t, "ip link add dum-ldra type dummy; ip link set dum-ldra up; ip addr add 10.251.0.254/24 dev dum-ldra")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "dum-ldra").Run() })

	cf, logf := filepath.Join(dir, "ldra.cf"), filepath.Join(dir, "ldra.log")
	good := fmt.Sprintf("checkinterval=1\nlogfile=%q\n\nvirtual=10.251.1.100:80\n\tscheduler=rr\n\tchecktype=on\n"+
		"\treal=10.251.0.1:80 masq 1\n\treal=10.251.0.2:80 masq 2\n", logf)
	want := "-A -t 10.251.1.100:80 -s rr\n" +
		"-a -t 10.251.1.100:80 -r 10.251.0.1:80 -m -w 1\n" +
		"-a -t 10.251.1.100:80 -r 10.251.0.2:80 -m -w 2"
	writeCf := func(body string) {
		if err := os.WriteFile(cf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	writeCf(good)
	pidFile := "/run/lvsd/ldra.cf.pid"
	pid := func() int {
		b, _ := os.ReadFile(pidFile)
		p, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		return p
	}
	// The daemon outlives a failed test otherwise (stop refuses a broken file).
	t.Cleanup(func() {
		if p := pid(); p > 0 && alive(p) {
			syscall.Kill(p, syscall.SIGTERM)
			netns.WaitFor(10*time.Second, func() bool { return !alive(p) })
		}
	})
	logText := func() string { b, _ := os.ReadFile(logf); return string(b) }

	// run runs the agent or ocf-tester with the parameters in the
	// environment, as Pacemaker and ocf-tester pass them. Its output is
	// a pipe, as Pacemaker's is: a daemon that kept it open would hang
	// the action until the timeout.
	run := func(argv ...string) (int, string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		c := exec.CommandContext(ctx, argv[0], argv[1:]...)
		c.Env = append(os.Environ(), "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=ldra",
			"OCF_RESKEY_configfile="+cf, "OCF_RESKEY_ldirectord="+ld)
		out, err := c.CombinedOutput()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("%s: %v", argv, err)
		}
		return c.ProcessState.ExitCode(), string(out)
	}
	act := func(code int, action string) {
		t.Helper()
		t0 := time.Now()
		if got, out := run(ldAgent, action); got != code {
			t.Fatalf("agent %s: exit %d, want %d\n%s\nlvsd's log:\n%s", action, got, code, out, logText())
		}
		t.Logf("agent %s: %d in %s", action, code, time.Since(t0).Round(time.Millisecond))
	}

	t0 := time.Now()
	rc, out := run(tester, "-v", "-n", "ldra", "-o", "configfile="+cf, "-o", "ldirectord="+ld, ldAgent)
	if rc != 0 || !strings.Contains(out, ldAgent+" passed all tests") {
		t.Fatalf("ocf-tester: exit %d\n%s\nlvsd's log:\n%s", rc, out, logText())
	}
	t.Logf("ocf-tester passed in %s", time.Since(t0).Round(time.Millisecond))
	if got := savedTable(t); got != "" {
		t.Fatalf("ocf-tester ends with a stop, yet ipvsadm -Sn:\n%s", got)
	}

	act(7, "monitor")
	act(0, "start")
	// start returns after lvsd's first pass; the reals join on their
	// first check.
	waitTable(t, "after the agent's start", 20*time.Second, func(got string) bool { return got == want })
	p := pid()
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", p))
	cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p))
	if got := strings.ReplaceAll(string(cmdline), "\x00", " "); exe != lvsd || got != ld+" "+cf+" start " {
		t.Fatalf("the daemon (pid %d) is %s with command line %q, want %s running as %q", p, exe, got, lvsd, ld+" "+cf+" start")
	}
	act(0, "monitor")
	act(0, "stop")
	if got := savedTable(t); got != "" || alive(p) {
		t.Fatalf("after the agent's stop, pid %d alive %v; ipvsadm -Sn:\n%s", p, alive(p), got)
	}
	act(7, "monitor")

	// A pid file left by a daemon that died (kill -9): status exits 1
	// saying "ldirectord stale pid file", which the agent takes for
	// stopped; start starts over it.
	if err := os.WriteFile(pidFile, []byte("999999\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	act(7, "monitor")
	act(0, "start")
	waitTable(t, "after a start over a stale pid file", 20*time.Second, func(got string) bool { return got == want })
	act(0, "stop")

	// A file broken while the daemon runs: status exits 2, so monitor
	// fails and stop finds the daemon with pgrep, which works because the
	// daemon keeps ldirectord's command line. The agent sends SIGKILL
	// unless SIGTERM ended it at once, so the table is not checked here.
	writeCf(good)
	act(0, "start")
	p = pid()
	writeCf("bogus=1\n")
	act(1, "monitor")
	act(0, "stop")
	if !netns.WaitFor(10*time.Second, func() bool { return !alive(p) }) {
		t.Fatalf("the agent's stop of a broken file left pid %d running", p)
	}
	if !strings.Contains(logText(), "10.251.1.100:80") {
		t.Errorf("the file's logfile has nothing of lvsd's writes:\n%s", logText())
	}
}
