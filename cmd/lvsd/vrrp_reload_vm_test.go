//go:build vm

package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// reloadLab is a vrrpLab whose lvsd (namespace A) runs on the VM's real
// IPVS, keepalived 2.2.7 in B as the VRRP peer.
type reloadLab struct {
	*vrrpLab
	vip string
	a   *proc
}

func newReloadLab(t *testing.T) *reloadLab {
	testenv.Root(t)
	testenv.Command(t, "ipvsadm")
	l := &reloadLab{vrrpLab: newVRRPLab(t)}
	l.vip = l.p.V4(100)
	return l
}

// vs is a DR virtual_server with one real and no checker (always up).
func (l *reloadLab) vs(reals ...string) string {
	s := "virtual_server 192.0.2.80 80 {\n    lb_algo rr\n    lb_kind DR\n    protocol TCP\n"
	for _, r := range reals {
		s += "    real_server " + r + " 80 {\n        weight 1\n    }\n"
	}
	return s + "}\n"
}

func (l *reloadLab) inst(prio int) string { return instance("VI_1", "BACKUP", 61, prio, v2pass(l.vip)) }

func (l *reloadLab) start(conf string) {
	l.a = l.lvsd(conf, "--state", filepath.Join(l.dir, "a.state"), "--drain-timeout", "0")
	l.waitSocket(l.a)
}

func (l *reloadLab) reload(conf string) {
	l.t.Helper()
	l.write("lvsd.conf", conf)
	if ans, err := ask(l.sock(), "reload"); err != nil || strings.TrimSpace(ans) != "ok" {
		l.t.Fatalf("reload: %v %q\n%s", err, ans, l.a.text())
	}
}

// table is ipvsadm -Sn in lvsd's namespace.
func (l *reloadLab) table() string {
	out, _ := l.p.Cmd(l.p.A, "ipvsadm", "-Sn").CombinedOutput()
	return strings.TrimSpace(string(out))
}

func (l *reloadLab) daemons() string {
	out, _ := l.p.Cmd(l.p.A, "ipvsadm", "-L", "--daemon").CombinedOutput()
	return strings.TrimSpace(string(out))
}

// waitFor: cond within 15 s, else the test fails with what.
func (l *reloadLab) waitFor(what string, cond func() bool) {
	l.t.Helper()
	if !netns.WaitFor(15*time.Second, cond) {
		l.t.Fatalf("%s: ipvsadm -Sn:\n%s\nipvsadm -L --daemon:\n%s\nlvsd:\n%s", what, l.table(), l.daemons(), l.a.text())
	}
}

func (l *reloadLab) statusAny() statusJSON {
	l.t.Helper()
	ans, err := ask(l.sock(), "status")
	var st statusJSON
	if err == nil {
		err = json.Unmarshal([]byte(ans), &st)
	}
	if err != nil {
		l.t.Fatalf("status: %v %s", err, ans)
	}
	return st
}

const (
	vsLine   = "-A -t 192.0.2.80:80 -s rr"
	realLine = "-a -t 192.0.2.80:80 -r 192.0.2.81:80 -g -w 1"
)

// An lvsd started with only a virtual_server (no VRRP), reloaded: the
// vrrp_instance added starts VRRP (it takes the VIP from keepalived by
// preemption) with lvs_sync_daemon's master daemon, and the IPVS table
// is untouched; lvs_sync_daemon removed stops the kernel's daemon (where
// keepalived 2.2.7 leaves it running), added back with another id starts
// it again, VRRP untouched both times; every virtual_server removed
// takes the service out of the kernel (keepalived's checker does the
// same) while VRRP and the engine run on.
func TestVRRPReloadAddsVRRP(t *testing.T) {
	l := newReloadLab(t)
	k := l.keepalived(l.inst(100))
	l.start(l.vs("192.0.2.81"))
	l.waitFor("the virtual server at start", func() bool { return strings.Contains(l.table(), realLine) })
	if st := l.statusAny(); st.VRRP != nil || l.daemons() != "" {
		t.Fatalf("VRRP before any vrrp_instance: %+v, daemons %q", st.VRRP, l.daemons())
	}
	l.holder("B", l.vip, 15*time.Second, l.a, k)
	before := l.table()

	sync := func(id int) string { return fmt.Sprintf("global_defs {\n    lvs_sync_daemon eth0 VI_1 id %d\n}\n", id) }
	l.reload(sync(9) + l.inst(150) + l.vs("192.0.2.81"))
	l.holder("A", l.vip, 15*time.Second, l.a, k)
	l.waitFor("the master sync daemon", func() bool {
		return strings.Contains(l.daemons(), "master sync daemon (mcast=eth0, syncid=9") && !strings.Contains(l.daemons(), "backup")
	})
	if got := l.table(); got != before {
		t.Errorf("starting VRRP changed the IPVS table:\n%s\nwas\n%s", got, before)
	}
	tr := l.status().VRRP.Instances[0].Transitions
	// VRRP beside virtual servers: only the VRRP threads real-time
	if e := schedWait(t, l.a.cmd.Process.Pid, fmt.Sprintf("2 %d", vrrp.DefaultRTPriority), "0 0"); e != "" {
		t.Errorf("VRRP started beside the virtual servers: %s", e)
	}

	l.reload(l.inst(150) + l.vs("192.0.2.81"))
	l.waitFor("no sync daemon after lvs_sync_daemon was removed", func() bool { return l.daemons() == "" })
	l.reload(sync(10) + l.inst(150) + l.vs("192.0.2.81"))
	l.waitFor("the sync daemon added back", func() bool { return strings.Contains(l.daemons(), "master sync daemon (mcast=eth0, syncid=10") })
	if st := l.status().VRRP.Instances[0]; st.State != "MASTER" || st.Transitions != tr {
		t.Fatalf("lvs_sync_daemon's reloads moved VRRP: %+v", st)
	}

	l.reload(sync(10) + l.inst(150))
	l.waitFor("the virtual server removed", func() bool { return !strings.Contains(l.table(), "-A ") })
	if st := l.status(); len(st.Virtuals) != 0 || st.VRRP.Instances[0].State != "MASTER" || st.VRRP.Instances[0].Transitions != tr {
		t.Fatalf("after every virtual_server was removed: %+v %+v", st.Virtuals, st.VRRP.Instances)
	}
	l.a.stop()
	if d := l.daemons(); d != "" {
		t.Errorf("sync daemons after lvsd's stop:\n%s", d)
	}
}

// A VRRP-only lvsd (keepalived -P: IPVS untouched) whose reload adds a
// virtual_server starts the engine: the service and its real appear in
// the kernel, VRRP runs on untouched (no transition, still master
// against keepalived), lvsd status shows both; the reloads after it are
// the engine's (a real added appears).
func TestVRRPOnlyReloadStartsIPVS(t *testing.T) {
	l := newReloadLab(t)
	k := l.keepalived(l.inst(100))
	l.start(l.inst(150))
	l.holder("A", l.vip, 15*time.Second, l.a, k)
	if tb := l.table(); strings.Contains(tb, "-A ") {
		t.Fatalf("a VRRP-only lvsd wrote IPVS:\n%s", tb)
	}
	tr := l.status().VRRP.Instances[0].Transitions
	rt := fmt.Sprintf("2 %d", vrrp.DefaultRTPriority)
	if e := schedWait(t, l.a.cmd.Process.Pid, rt, rt); e != "" {
		t.Errorf("VRRP only: %s", e) // the whole process real-time
	}

	l.reload(l.inst(150) + l.vs("192.0.2.81"))
	l.waitFor("the virtual server started by reload", func() bool {
		tb := l.table()
		return strings.Contains(tb, vsLine) && strings.Contains(tb, realLine)
	})
	if !netns.WaitFor(10*time.Second, func() bool { return len(l.statusAny().Virtuals) == 1 }) {
		t.Fatalf("status after the engine started: %+v\n%s", l.statusAny(), l.a.text())
	}
	if st := l.status().VRRP.Instances[0]; st.State != "MASTER" || st.Transitions != tr || !l.has(l.p.A, l.vip) {
		t.Fatalf("starting the engine moved VRRP: %+v\n%s", st, k.text())
	}
	if e := schedWait(t, l.a.cmd.Process.Pid, rt, "0 0"); e != "" {
		t.Errorf("with virtual servers: %s", e) // only the VRRP threads real-time: not the checks
	}
	l.reload(l.inst(150) + l.vs("192.0.2.81", "192.0.2.82"))
	l.waitFor("the real added by the next reload", func() bool {
		return strings.Contains(l.table(), "-a -t 192.0.2.80:80 -r 192.0.2.82:80 -g -w 1")
	})
	if !strings.Contains(l.a.text(), "now has virtual_server blocks: the virtual servers start") {
		t.Errorf("lvsd's log:\n%s", l.a.text())
	}
	l.a.stop()
}

// keepalived's lvs_sync_daemon naming no instance, in a file without
// vrrp_instance: its checker runs the kernel's master and backup sync
// daemons all the time (checker_ipvs_syncd_needed), so does lvsd. A
// reload changing its id restarts both; one adding a vrrp_instance leaves
// them running as they are (still unnamed: both); one removing the
// lvs_sync_daemon stops them; lvsd's stop stops what runs.
func TestSyncDaemonWithoutVRRP(t *testing.T) {
	l := newReloadLab(t)
	sync := func(id int) string { return fmt.Sprintf("global_defs {\n    lvs_sync_daemon eth0 id %d\n}\n", id) }
	both := func(id int) func() bool {
		return func() bool {
			d := l.daemons()
			return strings.Contains(d, fmt.Sprintf("master sync daemon (mcast=eth0, syncid=%d", id)) &&
				strings.Contains(d, fmt.Sprintf("backup sync daemon (mcast=eth0, syncid=%d", id))
		}
	}
	l.start(sync(7) + l.vs("192.0.2.81"))
	l.waitFor("the virtual server at start", func() bool { return strings.Contains(l.table(), realLine) })
	l.waitFor("both sync daemons at start", both(7))
	st := l.statusAny()
	if st.VRRP == nil || len(st.VRRP.Instances) != 0 || len(st.VRRP.SyncDaemons) != 2 ||
		st.VRRP.SyncDaemons[0] != (syncDaemonJSON{Role: "master", Interface: "eth0", SyncID: 7}) ||
		st.VRRP.SyncDaemons[1] != (syncDaemonJSON{Role: "backup", Interface: "eth0", SyncID: 7}) {
		t.Fatalf("status: %+v", st.VRRP)
	}
	l.reload(sync(8) + l.vs("192.0.2.81"))
	l.waitFor("both restarted with id 8", both(8))
	k := l.keepalived(l.inst(100))
	l.reload(sync(8) + l.inst(150) + l.vs("192.0.2.81"))
	l.holder("A", l.vip, 15*time.Second, l.a, k)
	l.waitFor("both still running beside VRRP", both(8))
	if n := strings.Count(l.a.text(), "sync daemon started"); n != 4 {
		t.Errorf("%d sync daemon starts, want 4 (2 at start, 2 at the id's change):\n%s", n, l.a.text())
	}
	l.reload(l.inst(150) + l.vs("192.0.2.81"))
	l.waitFor("no sync daemon after lvs_sync_daemon was removed", func() bool { return l.daemons() == "" })
	l.reload(sync(9) + l.vs("192.0.2.81"))
	l.waitFor("both again, VRRP removed", both(9))
	l.a.stop()
	if d := l.daemons(); d != "" {
		t.Errorf("sync daemons after lvsd's stop:\n%s", d)
	}
}
