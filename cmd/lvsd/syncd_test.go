package main

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// fakeSync records the calls and answers as the kernel: EEXIST for a
// role running, ESRCH for one not running.
type fakeSync struct {
	calls   []string
	running map[ipvs.SyncRole]bool
}

func (f *fakeSync) Start(r ipvs.SyncRole, c ipvs.SyncConfig) error {
	f.calls = append(f.calls, fmt.Sprintf("start %s %s/%d", r, c.Interface, c.SyncID))
	if f.running[r] {
		return ipvs.ErrSyncRunning
	}
	f.running[r] = true
	return nil
}

func (f *fakeSync) Stop(r ipvs.SyncRole) error {
	f.calls = append(f.calls, "stop "+r.String())
	if !f.running[r] {
		return ipvs.ErrSyncNotRunning
	}
	delete(f.running, r)
	return nil
}

func (f *fakeSync) take() string { s := strings.Join(f.calls, ", "); f.calls = nil; return s }

// The sync daemon follows the instance as keepalived's does: backup at
// start (a stale one from a killed run stopped first), master on MASTER
// (the backup stopped first), backup again on BACKUP and FAULT, nothing
// after STOP or close; other instances' moves are not followed.
func TestSyncDaemonFollowsRole(t *testing.T) {
	k := &fakeSync{running: map[ipvs.SyncRole]bool{ipvs.SyncMaster: true}} // left by a kill -9
	var logs []string
	sd := newSyncDaemon(&config.LVSSync{Interface: "eth0", Instance: "VI_1", SyncID: 51}, k,
		func(f string, a ...any) { logs = append(logs, fmt.Sprintf(f, a...)) })
	sd.start(vrrp.Backup)
	steps := []struct {
		inst string
		role vrrp.Role
		want string
	}{
		{"", 0, "stop master, stop backup, start backup eth0/51"},
		{"VI_1", vrrp.Backup, ""},
		{"VI_2", vrrp.Master, ""},
		{"VI_1", vrrp.Master, "stop backup, start master eth0/51"},
		{"VI_1", vrrp.Master, ""},
		{"VI_1", vrrp.Fault, "stop master, start backup eth0/51"},
		{"VI_1", vrrp.Backup, ""},
		{"VI_1", vrrp.Master, "stop backup, start master eth0/51"},
		{"VI_1", vrrp.Stop, "stop master"},
	}
	for i, s := range steps {
		if i > 0 {
			sd.onRole(s.inst, s.role)
		}
		if got := k.take(); got != s.want {
			t.Errorf("step %d (%s %s): %q, want %q", i, s.inst, s.role, got, s.want)
		}
	}
	sd.close()
	sd.onRole("VI_1", vrrp.Master)
	if got := k.take(); got != "" || len(k.running) != 0 {
		t.Errorf("after stop and close: %q, running %v", got, k.running)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "stopped the master sync daemon left running") {
		t.Errorf("the stale daemon is not logged: %q", logs)
	}
	var nilSD *syncDaemon
	nilSD.close() // no lvs_sync_daemon: run's deferred close is a no-op
}

// Without an instance both daemons run from start to exit.
func TestSyncDaemonNoInstance(t *testing.T) {
	k := &fakeSync{running: map[ipvs.SyncRole]bool{}}
	sd := newSyncDaemon(&config.LVSSync{Interface: "eth1", SyncID: 0}, k, func(string, ...any) {})
	sd.start(vrrp.Backup)
	sd.onRole("VI_1", vrrp.Master)
	sd.close()
	want := "stop master, stop backup, start master eth1/0, start backup eth1/0, stop master, stop backup"
	if got := k.take(); got != want {
		t.Errorf("%q, want %q", got, want)
	}
	if !reflect.DeepEqual(syncRoles(true, vrrp.Init), map[ipvs.SyncRole]bool{ipvs.SyncBackup: true}) {
		t.Error("INIT is a backup")
	}
}

// lvsd status and the metrics show the sync daemons lvsd runs, from the
// syncDaemon that starts them (their one owner).
func TestSyncDaemonStatus(t *testing.T) {
	k := &fakeSync{running: map[ipvs.SyncRole]bool{}}
	sd := newSyncDaemon(&config.LVSSync{Interface: "eth1", Instance: "VI_1", SyncID: 51, Port: 8849}, k, func(string, ...any) {})
	sd.start(vrrp.Backup)
	if got := sd.status(); len(got) != 1 || got[0] != (syncDaemonJSON{Role: "backup", Interface: "eth1", SyncID: 51, Instance: "VI_1", Port: 8849}) {
		t.Errorf("status as backup: %+v", got)
	}
	sd.onRole("VI_1", vrrp.Master)
	var b strings.Builder
	writeVRRPTable(&b, vrrpView(vrrp.Status{}, sd))
	if !strings.Contains(b.String(), "lvs_sync_daemon: master on eth1 (sync id 51, follows VI_1, port 8849)") {
		t.Errorf("status text:\n%s", b.String())
	}
	reg := prometheus.NewRegistry()
	side := &vrrpSide{r: &vrrp.Router{}}
	side.sd.Store(sd)
	reg.MustRegister(vrrpCollector{side})
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "lvsd_ipvs_sync_daemon_running" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "role" {
					got[l.GetValue()] = m.GetGauge().GetValue()
				}
			}
		}
	}
	if !reflect.DeepEqual(got, map[string]float64{"master": 1, "backup": 0}) {
		t.Errorf("lvsd_ipvs_sync_daemon_running: %v", got)
	}
	sd.close()
	b.Reset()
	writeVRRPTable(&b, vrrpView(vrrp.Status{}, sd))
	if !strings.Contains(b.String(), "lvs_sync_daemon: none running") {
		t.Errorf("after close:\n%s", b.String())
	}
	b.Reset()
	writeVRRPTable(&b, vrrpView(vrrp.Status{}, nil))
	if strings.Contains(b.String(), "lvs_sync_daemon") {
		t.Errorf("without lvs_sync_daemon:\n%s", b.String())
	}
}

// A reload with other lvs_sync_daemon settings restarts the daemons
// running with them, in the followed instance's role.
func TestSyncDaemonReload(t *testing.T) {
	k := &fakeSync{running: map[ipvs.SyncRole]bool{}}
	sd := newSyncDaemon(&config.LVSSync{Interface: "eth1", Instance: "VI_1", SyncID: 51}, k, func(string, ...any) {})
	sd.start(vrrp.Backup)
	k.take()
	sd.reload(&config.LVSSync{Interface: "eth2", Instance: "VI_1", SyncID: 52}, vrrp.Backup)
	if got := k.take(); got != "stop backup, start backup eth2/52" {
		t.Errorf("reload as backup: %s", got)
	}
	sd.onRole("VI_1", vrrp.Master)
	k.take()
	sd.reload(&config.LVSSync{Interface: "eth2", Instance: "VI_2", SyncID: 53}, vrrp.Master)
	if got := k.take(); got != "stop master, start master eth2/53" {
		t.Errorf("reload as master: %s", got)
	}
	sd.onRole("VI_1", vrrp.Backup) // no longer followed
	if got := k.take(); got != "" {
		t.Errorf("the old instance still followed: %s", got)
	}
}
