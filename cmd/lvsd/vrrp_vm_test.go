//go:build vm

package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// lvs_sync_daemon with two lvsd in VRRP mode on a real IPVS kernel: the
// master runs the kernel's master sync daemon, the backup the backup one,
// and they swap when the master stops.
func TestVRRPSyncDaemon(t *testing.T) {
	l := &vrrpLab{t: t, p: netns.New(t), dir: t.TempDir()}
	conf := func(prio int) string {
		return "global_defs {\n    lvs_sync_daemon eth0 VI_1 id 9\n}\n" + instance("VI_1", "BACKUP", 60, prio, v3(l.p.V4(100), 24))
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	fa, fb := l.write("a.conf", conf(150)), l.write("b.conf", conf(100))
	a := startProc(t, "lvsd A", "netns", "exec", l.p.A, self, "run", "--pidfile", "none", "--socket", filepath.Join(l.dir, "a.sock"), fa)
	b := startProc(t, "lvsd B", "netns", "exec", l.p.B, self, "run", "--pidfile", "none", "--socket", filepath.Join(l.dir, "b.sock"), fb)
	daemon := func(ns string) string {
		out, _ := l.p.Cmd(ns, "ipvsadm", "-L", "--daemon").CombinedOutput()
		return string(out)
	}
	wait := func(ns, want, not string) {
		t.Helper()
		if !netns.WaitFor(20*time.Second, func() bool {
			d := daemon(ns)
			return strings.Contains(d, want) && (not == "" || !strings.Contains(d, not))
		}) {
			t.Fatalf("%s: ipvsadm -L --daemon: %q, want %q\nA:\n%s\nB:\n%s", ns, daemon(ns), want, a.text(), b.text())
		}
	}
	l.holder("A", l.p.V4(100), 20*time.Second, a, b)
	wait(l.p.A, "master sync daemon (mcast=eth0, syncid=9", "backup sync daemon")
	wait(l.p.B, "backup sync daemon (mcast=eth0, syncid=9", "master sync daemon")
	// lvsd status shows what ipvsadm shows
	for _, c := range []struct{ sock, role string }{{"a.sock", "master"}, {"b.sock", "backup"}} {
		ans, err := ask(filepath.Join(l.dir, c.sock), "status")
		var st statusJSON
		if err == nil {
			err = json.Unmarshal([]byte(ans), &st)
		}
		if err != nil || st.VRRP == nil || len(st.VRRP.SyncDaemons) != 1 ||
			st.VRRP.SyncDaemons[0] != (syncDaemonJSON{Role: c.role, Interface: "eth0", SyncID: 9, Instance: "VI_1"}) {
			t.Errorf("%s: status sync_daemons: %v %+v", c.sock, err, st.VRRP)
		}
	}
	a.stop()
	if d := daemon(l.p.A); strings.TrimSpace(d) != "" {
		t.Errorf("A's sync daemons after its stop:\n%s", d)
	}
	l.holder("B", l.p.V4(100), 20*time.Second, a, b)
	wait(l.p.B, "master sync daemon (mcast=eth0, syncid=9", "backup sync daemon")
}
