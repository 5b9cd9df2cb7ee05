package main

import (
	"errors"
	"sync"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// syncKernel is the kernel's IPVS sync daemon (lib/ipvs), faked in tests.
type syncKernel interface {
	Start(ipvs.SyncRole, ipvs.SyncConfig) error
	Stop(ipvs.SyncRole) error
}

type kernelSync struct{}

func (kernelSync) Start(r ipvs.SyncRole, c ipvs.SyncConfig) error { return ipvs.StartSyncDaemon(r, c) }
func (kernelSync) Stop(r ipvs.SyncRole) error                     { return ipvs.StopSyncDaemon(r) }

// syncDaemon runs keepalived's lvs_sync_daemon: the IPVS connection-sync
// master while the instance is MASTER, the backup otherwise (so a director
// taking over already has the connections in flight), or both all the time
// when no instance is named. Its role changes come from the VRRP
// instances' effects goroutines (vrrp.Options.OnRole), never their timers.
type syncDaemon struct {
	instance string
	cfg      ipvs.SyncConfig
	k        syncKernel
	logf     func(string, ...any)

	mu      sync.Mutex
	running map[ipvs.SyncRole]bool
	closed  bool
}

func newSyncDaemon(l *config.LVSSync, k syncKernel, logf func(string, ...any)) *syncDaemon {
	return &syncDaemon{instance: l.Instance, k: k, logf: logf, running: map[ipvs.SyncRole]bool{},
		cfg: ipvs.SyncConfig{Interface: l.Interface, SyncID: uint8(l.SyncID), MaxLen: uint16(l.MaxLen),
			Port: uint16(l.Port), TTL: uint8(l.TTL), Group: l.Group}}
}

// syncRoles is the decision: the daemons wanted for an instance role
// (named: true when lvs_sync_daemon names an instance).
func syncRoles(named bool, r vrrp.Role) map[ipvs.SyncRole]bool {
	switch {
	case !named:
		return map[ipvs.SyncRole]bool{ipvs.SyncMaster: true, ipvs.SyncBackup: true}
	case r == vrrp.Master:
		return map[ipvs.SyncRole]bool{ipvs.SyncMaster: true}
	case r == vrrp.Stop:
		return map[ipvs.SyncRole]bool{}
	}
	return map[ipvs.SyncRole]bool{ipvs.SyncBackup: true} // INIT, BACKUP, FAULT
}

// start stops what an earlier run may have left (keepalived does so too:
// a killed daemon leaves the kernel's threads running), then starts the
// daemons of the followed instance's role now (BACKUP at lvsd's start;
// a reload adding lvs_sync_daemon finds it maybe MASTER).
func (s *syncDaemon) start(role vrrp.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range []ipvs.SyncRole{ipvs.SyncMaster, ipvs.SyncBackup} {
		if err := s.k.Stop(r); err == nil {
			s.logf("lvs_sync_daemon: stopped the %s sync daemon left running", r)
		} else if !errors.Is(err, ipvs.ErrSyncNotRunning) {
			s.logf("lvs_sync_daemon: %v", err)
		}
	}
	s.apply(syncRoles(s.instance != "", role))
}

// onRole follows the named instance's role.
func (s *syncDaemon) onRole(instance string, r vrrp.Role) {
	if instance != s.instance || s.instance == "" || r == vrrp.Init {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		s.apply(syncRoles(true, r))
	}
}

// reload takes a reload's changed lvs_sync_daemon: the daemons running
// stop, those of the followed instance's role now (role) start with the
// new settings (keepalived's reload stops and restarts them too).
func (s *syncDaemon) reload(l *config.LVSSync, role vrrp.Role) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.apply(map[ipvs.SyncRole]bool{})
	n := newSyncDaemon(l, s.k, s.logf)
	s.instance, s.cfg = n.instance, n.cfg
	s.apply(syncRoles(s.instance != "", role))
}

// close stops every daemon started (lvsd's exit; keepalived's too).
func (s *syncDaemon) close() {
	if s == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.apply(map[ipvs.SyncRole]bool{})
	s.closed = true
}

// apply stops the roles not wanted before starting the wanted ones: the
// kernel's master and backup may share the port, and a node changes
// role, it does not run both (keepalived's ipvs_syncd_master/backup).
func (s *syncDaemon) apply(want map[ipvs.SyncRole]bool) {
	for _, r := range []ipvs.SyncRole{ipvs.SyncMaster, ipvs.SyncBackup} {
		if s.running[r] && !want[r] {
			if err := s.k.Stop(r); err != nil && !errors.Is(err, ipvs.ErrSyncNotRunning) {
				s.logf("lvs_sync_daemon: %v", err)
			}
			delete(s.running, r)
			s.logf("lvs_sync_daemon: %s sync daemon stopped", r)
		}
	}
	for _, r := range []ipvs.SyncRole{ipvs.SyncMaster, ipvs.SyncBackup} {
		if want[r] && !s.running[r] {
			if err := s.k.Start(r, s.cfg); err != nil {
				s.logf("lvs_sync_daemon: %v", err)
				continue
			}
			s.running[r] = true
			s.logf("lvs_sync_daemon: %s sync daemon started on %s (sync id %d)", r, s.cfg.Interface, s.cfg.SyncID)
		}
	}
}

// syncDaemonJSON is one IPVS sync daemon lvsd runs, in lvsd status.
type syncDaemonJSON struct {
	Role      string `json:"role"` // master or backup
	Interface string `json:"interface"`
	SyncID    int    `json:"sync_id"`
	Instance  string `json:"instance,omitempty"` // the VRRP instance it follows ("": both run all the time)
	Port      int    `json:"port,omitempty"`
	TTL       int    `json:"ttl,omitempty"`
	MaxLen    int    `json:"maxlen,omitempty"`
	Group     string `json:"group,omitempty"`
}

// status lists the daemons running now, as started (this is their one
// owner: the kernel's are only read by ipvsadm --daemon).
func (s *syncDaemon) status() []syncDaemonJSON {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []syncDaemonJSON{}
	for _, r := range []ipvs.SyncRole{ipvs.SyncMaster, ipvs.SyncBackup} {
		if !s.running[r] {
			continue
		}
		d := syncDaemonJSON{Role: r.String(), Interface: s.cfg.Interface, SyncID: int(s.cfg.SyncID), Instance: s.instance,
			Port: int(s.cfg.Port), TTL: int(s.cfg.TTL), MaxLen: int(s.cfg.MaxLen)}
		if s.cfg.Group.IsValid() {
			d.Group = s.cfg.Group.String()
		}
		out = append(out, d)
	}
	return out
}
