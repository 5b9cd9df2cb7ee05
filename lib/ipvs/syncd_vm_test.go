//go:build vm

package ipvs

import (
	"errors"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
)

// The sync daemons started, listed and stopped through the kernel's
// netlink commands, checked against ipvsadm both ways: what we start
// ipvsadm -L --daemon shows, what ipvsadm --start-daemon starts we read.
func TestSyncDaemonKernel(t *testing.T) {
	freshKernel(t)
	sh(t, "ip link set dum-lvs multicast on")
	stopAll := func() { exec.Command("sh", "-c", "ipvsadm --stop-daemon master; ipvsadm --stop-daemon backup").Run() }
	stopAll()
	t.Cleanup(stopAll)

	if err := StartSyncDaemon(SyncMaster, SyncConfig{Interface: "dum-lvs", SyncID: 51}); err != nil {
		t.Fatal(err)
	}
	out := ipvsadm(t, "-L", "--daemon")
	if !strings.Contains(out, "master sync daemon (mcast=dum-lvs, syncid=51") {
		t.Fatalf("ipvsadm -L --daemon after StartSyncDaemon(master):\n%s", out)
	}
	if err := StartSyncDaemon(SyncMaster, SyncConfig{Interface: "dum-lvs", SyncID: 51}); !errors.Is(err, ErrSyncRunning) {
		t.Errorf("second master start: %v, want ErrSyncRunning", err)
	}
	ipvsadm(t, "--start-daemon", "backup", "--mcast-interface", "dum-lvs", "--syncid", "7",
		"--sync-maxlen", "1200", "--mcast-group", "239.1.2.3", "--mcast-port", "8850", "--mcast-ttl", "2")
	ds, err := SyncDaemons()
	if err != nil {
		t.Fatal(err)
	}
	want := map[SyncRole]SyncConfig{
		SyncBackup: {Interface: "dum-lvs", SyncID: 7, MaxLen: 1200, Group: netip.MustParseAddr("239.1.2.3"), Port: 8850, TTL: 2},
	}
	if len(ds) != 2 {
		t.Fatalf("SyncDaemons: %v, want master and backup\nipvsadm: %s", ds, ipvsadm(t, "-L", "--daemon"))
	}
	for _, d := range ds {
		if w, ok := want[d.Role]; ok && d.SyncConfig != w {
			t.Errorf("read %v, ipvsadm started %+v", d, w)
		}
		if d.Role == SyncMaster && (d.Interface != "dum-lvs" || d.SyncID != 51) {
			t.Errorf("read %v", d)
		}
		// Our listing reads as ipvsadm's (the kernel fills the defaults).
		if !strings.Contains(ipvsadm(t, "-L", "--daemon"), d.String()) {
			t.Errorf("%q not in ipvsadm -L --daemon:\n%s", d, ipvsadm(t, "-L", "--daemon"))
		}
	}
	// Every optional attribute as we send it: the kernel reports the same
	// daemon as when ipvsadm starts it with the same options.
	backupLine := func() string {
		for _, l := range strings.Split(ipvsadm(t, "-L", "--daemon"), "\n") {
			if strings.HasPrefix(l, "backup") {
				return l
			}
		}
		return ""
	}
	ipvsadm(t, "--stop-daemon", "backup")
	ipvsadm(t, "--start-daemon", "backup", "--mcast-interface", "dum-lvs", "--syncid", "9",
		"--sync-maxlen", "1000", "--mcast-group", "ff02::1:81", "--mcast-port", "9000", "--mcast-ttl", "4")
	theirs := backupLine()
	if err := StopSyncDaemon(SyncBackup); err != nil {
		t.Fatal(err)
	}
	if err := StartSyncDaemon(SyncBackup, SyncConfig{Interface: "dum-lvs", SyncID: 9, MaxLen: 1000,
		Group: netip.MustParseAddr("ff02::1:81"), Port: 9000, TTL: 4}); err != nil {
		t.Fatal(err)
	}
	if ours := backupLine(); ours != theirs || theirs == "" {
		t.Errorf("ipvsadm -L --daemon: ours %q, ipvsadm's %q", ours, theirs)
	}
	for _, r := range []SyncRole{SyncMaster, SyncBackup} {
		if err := StopSyncDaemon(r); err != nil {
			t.Fatal(err)
		}
		if err := StopSyncDaemon(r); !errors.Is(err, ErrSyncNotRunning) {
			t.Errorf("second stop of %s: %v, want ErrSyncNotRunning", r, err)
		}
	}
	if ds, err := SyncDaemons(); err != nil || len(ds) != 0 {
		t.Errorf("after stop: %v %v", ds, err)
	}
	if err := StartSyncDaemon(SyncMaster, SyncConfig{Interface: "nosuch0"}); err == nil {
		t.Error("a missing interface accepted")
	}
}
