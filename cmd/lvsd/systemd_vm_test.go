//go:build vm && vmsystemd

package main

// These tests need systemd as PID 1 in the VM: `make vmtest-systemd`
// boots it so (vmrun -systemd) and runs only them; `make vmtest`'s chroot
// boot does not build them (vm/tests.sh lists `//go:build vm` files only).

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// requireSystemd fails the test unless systemd is PID 1 here: this file
// is built only for the systemd boot, where anything else is a broken VM.
func requireSystemd(t *testing.T) {
	t.Helper()
	vm.Require(t)
	comm, _ := os.ReadFile("/proc/1/comm")
	if strings.TrimSpace(string(comm)) != "systemd" {
		t.Fatalf("PID 1 is %q, not systemd: run these tests with make vmtest-systemd", comm)
	}
}

// installUnits puts bin/lvsd and packaging/systemd/*.service where the
// Debian package does (/usr/sbin, /lib/systemd/system; in the VM's
// overlay, the host sees none of it) and reloads systemd. lvsd is a
// private copy: the host's bin/ may be rebuilt while the VM runs.
func installUnits(t *testing.T) {
	t.Helper()
	shell(t, "install -m 0755 ../../bin/lvsd /usr/sbin/lvsd && install -m 0644 ../../packaging/systemd/lvsd.service ../../packaging/systemd/lvsd@.service /lib/systemd/system/ && systemctl daemon-reload")
}

// unitProps is `systemctl show -p ...` of unit as a map.
func unitProps(t *testing.T, unit string, props ...string) map[string]string {
	t.Helper()
	out := shell(t, "systemctl show "+unit+" -p "+strings.Join(props, ","))
	m := map[string]string{}
	for _, l := range strings.Split(out, "\n") {
		if k, v, ok := strings.Cut(l, "="); ok {
			m[k] = v
		}
	}
	return m
}

// journal is the unit's journal (lvsd's stderr and systemd's lines on it).
func journal(unit string) string {
	out, _ := exec.Command("journalctl", "--no-pager", "-o", "short-monotonic", "-u", unit).CombinedOutput()
	return string(out)
}

// Both units pass systemd-analyze verify on the running system, with the
// real lvsd installed as the package installs it.
func TestUnderSystemdAnalyzeVerify(t *testing.T) {
	requireSystemd(t)
	installUnits(t)
	os.MkdirAll("/etc/lvsd", 0o755)
	os.WriteFile("/etc/lvsd/lvs.toml", nil, 0o644)
	out, err := exec.Command("systemd-analyze", "verify", "--man=no", "/lib/systemd/system/lvsd.service", "lvsd@demo.cf.service").CombinedOutput()
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, "lvsd") {
			t.Errorf("systemd-analyze verify: %s", l)
		}
	}
	if err != nil {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	// the boot's cost, for docs/vm.md
	boot, _ := exec.Command("systemd-analyze", "time").CombinedOutput()
	t.Logf("systemd-analyze time: %s", boot)
}

// lvsd@.service under the real systemd: `systemctl start` returns (the
// unit active) only after lvsd's READY=1, which comes after the first full
// pass: every virtual service of the file is in the kernel by then;
// `systemctl reload` applies an edited file (and refuses a broken one,
// the director keeping its table); lvsd stopped dead (SIGSTOP: the engine
// loop feeds no WATCHDOG=1) is killed by the unit's watchdog and
// restarted, a new process taking the table over; `systemctl stop` takes
// the services out (cleanstop).
func TestUnderSystemdUnitLifecycle(t *testing.T) {
	requireSystemd(t)
	installUnits(t)
	l := newLab(t, "masq", 2)
	const unit = "lvsd@demo.cf.service"
	const cf = "/etc/ha.d/demo.cf"
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("journal of %s:\n%s", unit, journal(unit))
		}
		exec.Command("systemctl", "stop", unit).Run()
	})
	write := func(body string) {
		t.Helper()
		if err := os.WriteFile(cf, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	src, err := os.ReadFile(l.daemonConfig("demo.cf", []int{1, 2}, []int{1, 2}, ""))
	if err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("/etc/ha.d", 0o755)
	write(string(src))
	web, echo := labVIP+":80", labVIP+":9000"

	// start: blocks until READY=1; the table is the first pass's by then
	if out, err := exec.Command("systemctl", "start", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl start %s: %v\n%s\n%s", unit, err, out, journal(unit))
	}
	table := savedTable(t)
	p := unitProps(t, unit, "ActiveState", "SubState", "StatusText", "MainPID", "Type", "WatchdogUSec", "NRestarts")
	t.Logf("at start's return: %v; ipvsadm -Sn:\n%s", p, table)
	if p["ActiveState"] != "active" || p["SubState"] != "running" || p["Type"] != "notify" {
		t.Fatalf("after systemctl start: %v", p)
	}
	// STATUS= rides on lvsd's READY=1 message: systemd has it when active
	if p["StatusText"] != "directing "+cf {
		t.Errorf("StatusText %q: lvsd's READY=1 message not seen", p["StatusText"])
	}
	for _, svc := range []string{web, echo} {
		if !strings.Contains(table, "-A -t "+svc+" ") {
			t.Errorf("active before the first pass: no %s in the table:\n%s", svc, table)
		}
	}
	pid1 := p["MainPID"]
	full := func(s string) bool {
		return hasReal(s, web, 1, 80) && hasReal(s, web, 2, 80) && hasReal(s, echo, 1, 9000) && hasReal(s, echo, 2, 9000)
	}
	waitTable(t, "every real up", 60*time.Second, full)

	// reload: the edited file applies; a broken one is refused by
	// ExecReload's lvsd check and the director keeps its table
	src2, _ := os.ReadFile(l.daemonConfig("demo2.cf", []int{1}, nil, ""))
	write(string(src2))
	if out, err := exec.Command("systemctl", "reload", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl reload: %v\n%s\n%s", err, out, journal(unit))
	}
	waitTable(t, "the reloaded file's table", 30*time.Second, func(s string) bool {
		return hasReal(s, web, 1, 80) && !hasReal(s, web, 2, 80) && !strings.Contains(s, echo)
	})
	var st statusJSON
	// with a pid file (the unit's default, not the other tests'), `lvsd
	// status` says ldirectord's "running with pid" line; with --json on
	// stderr, so that stdout is the JSON alone
	out, err := exec.Command("/usr/sbin/lvsd", "status", "--json", "demo.cf").Output()
	if err != nil || json.Unmarshal(out, &st) != nil {
		t.Fatalf("lvsd status --json demo.cf: %v\n%s", err, out)
	}
	if st.LastReload == nil || st.LastReload.Result != "ok" || st.Config != cf {
		t.Errorf("lvsd status after systemctl reload: config %q, last reload %+v", st.Config, st.LastReload)
	}
	if p := unitProps(t, unit, "ActiveState", "MainPID"); p["ActiveState"] != "active" || p["MainPID"] != pid1 {
		t.Errorf("after the reload: %v (MainPID was %s)", p, pid1)
	}
	before := savedTable(t)
	write(string(src2) + "\nvirtual=" + labVIP + ":81\n\tscheduler=nope\n")
	if out, err := exec.Command("systemctl", "reload", unit).CombinedOutput(); err == nil {
		t.Errorf("systemctl reload of a broken file succeeded:\n%s", out)
	}
	if p := unitProps(t, unit, "ActiveState", "MainPID"); p["ActiveState"] != "active" || p["MainPID"] != pid1 {
		t.Errorf("after a refused reload: %v (MainPID was %s)", p, pid1)
	}
	if after := savedTable(t); after != before {
		t.Errorf("a refused reload changed the table:\n%s\nwas:\n%s", after, before)
	}
	write(string(src2))

	// watchdog: lvsd stopped dead feeds no WATCHDOG=1; systemd aborts it
	// after WatchdogSec and Restart=on-failure starts a new one
	shell(t, "kill -STOP "+pid1)
	stopped := time.Now()
	var p2 map[string]string
	if !netns.WaitFor(4*time.Minute, func() bool {
		p2 = unitProps(t, unit, "ActiveState", "MainPID", "NRestarts")
		return p2["ActiveState"] == "active" && p2["MainPID"] != pid1 && p2["MainPID"] != "0"
	}) {
		t.Fatalf("not restarted 4 min after SIGSTOP of %s: %v\n%s", pid1, p2, journal(unit))
	}
	t.Logf("restarted %.0fs after SIGSTOP: %v", time.Since(stopped).Seconds(), p2)
	j := journal(unit)
	if !strings.Contains(j, "Watchdog timeout") || p2["NRestarts"] != "1" {
		t.Errorf("restart not by the watchdog (NRestarts %s):\n%s", p2["NRestarts"], j)
	}
	waitTable(t, "the table after the restart", 60*time.Second, func(s string) bool {
		return hasReal(s, web, 1, 80) && !hasReal(s, web, 2, 80) && !strings.Contains(s, echo)
	})

	// stop: STOPPING=1, cleanstop takes the services out
	if out, err := exec.Command("systemctl", "stop", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl stop: %v\n%s", err, out)
	}
	if p := unitProps(t, unit, "ActiveState", "Result"); p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after systemctl stop: %v\n%s", p, journal(unit))
	}
	if s := savedTable(t); strings.Contains(s, labVIP) {
		t.Errorf("services left after systemctl stop (cleanstop):\n%s", s)
	}
	var sd []string
	for _, l := range strings.Split(journal(unit), "\n") {
		if strings.Contains(l, " systemd[1]: ") {
			sd = append(sd, l)
		}
	}
	t.Logf("systemd's lines on %s:\n%s", unit, strings.Join(sd, "\n"))
}

// lvsd.service runs the director of /etc/lvsd/lvs.toml (here the lab's
// ldirectord.cf turned into TOML by lvsd migrate): active after READY=1
// with the file's virtual service in the kernel, stopped with cleanstop.
func TestUnderSystemdTOMLUnit(t *testing.T) {
	requireSystemd(t)
	installUnits(t)
	t0 := time.Now()
	step := func(what string) { t.Logf("%5.1fs %s", time.Since(t0).Seconds(), what) }
	l := newLab(t, "masq", 1)
	step("lab built")
	const unit = "lvsd.service"
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("journal of %s:\n%s", unit, journal(unit))
		}
		exec.Command("systemctl", "stop", unit).Run()
	})
	os.MkdirAll("/etc/lvsd", 0o755)
	shell(t, "/usr/sbin/lvsd migrate "+l.daemonConfig("t.cf", []int{1}, nil, "")+" > /etc/lvsd/lvs.toml")
	step("lvsd migrate")
	if out, err := exec.Command("systemctl", "start", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl start %s: %v\n%s\n%s", unit, err, out, journal(unit))
	}
	step("systemctl start")
	table := savedTable(t)
	p := unitProps(t, unit, "ActiveState", "StatusText")
	if p["ActiveState"] != "active" || p["StatusText"] != "directing /etc/lvsd/lvs.toml" || !strings.Contains(table, "-A -t "+labVIP+":80 ") {
		t.Fatalf("after systemctl start: %v; ipvsadm -Sn:\n%s", p, table)
	}
	waitTable(t, "the real up", 60*time.Second, func(s string) bool { return hasReal(s, labVIP+":80", 1, 80) })
	step("the real up")
	if out, err := exec.Command("systemctl", "stop", unit).CombinedOutput(); err != nil {
		t.Fatalf("systemctl stop: %v\n%s", err, out)
	}
	step("systemctl stop")
	if p := unitProps(t, unit, "ActiveState", "Result"); p["ActiveState"] != "inactive" || p["Result"] != "success" {
		t.Errorf("after systemctl stop: %v", p)
	}
	if s := savedTable(t); strings.Contains(s, labVIP) {
		t.Errorf("services left after systemctl stop (cleanstop):\n%s", s)
	}
}
