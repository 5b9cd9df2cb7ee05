package main

import (
	"fmt"
	"sync"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// vrrpMail is keepalived's vrrp_smtp_notifier and vrrp_sync_smtp_notifier:
// a vrrp_instance or vrrp_sync_group with smtp_alert mails each
// transition to MASTER, BACKUP, FAULT or STOP to notification_email,
// once per state entered, with keepalived's subject and body. It is fed
// from the router's OnRole and OnGroup (off the timer goroutine) and only
// queues on its alerter: a mail server never delays VRRP. A reload's
// settings (which instances and groups mail, the recipients, the server,
// the sender) are taken by set, from the router's OnReload (vrrpSide).
type vrrpMail struct {
	a *alerter

	mu        sync.Mutex
	s         vrrpMailSettings
	last      map[string]vrrp.Role // keepalived's last_email_state, by instance
	lastGroup map[string]vrrp.Role // and by sync group
	gone      map[string]bool      // instances a reload is removing
}

// vrrpMailSettings is what a configuration says of VRRP's mails.
type vrrpMailSettings struct {
	to     config.Virtual // the recipients and server, in the alerter's terms
	want   map[string]bool
	groups map[string]bool
}

// vrrpMailWants is the mail settings of cfg; ok is false when nothing
// can be mailed: no instance or group with smtp_alert, or no
// notification_email or smtp_server (keepalived's smtp_alert sends none
// without them).
func vrrpMailWants(cfg *config.Config) (s vrrpMailSettings, ok bool) {
	g := &cfg.Global
	s = vrrpMailSettings{to: config.Virtual{EmailAlert: g.EmailAlert, SMTP: g.SMTP}, want: map[string]bool{}, groups: map[string]bool{}}
	for _, in := range cfg.VRRP {
		if in.SMTPAlert {
			s.want[in.Name] = true
		}
	}
	for _, sg := range cfg.SyncGroups {
		if sg.SMTPAlert {
			s.groups[sg.Name] = true
		}
	}
	return s, (len(s.want) > 0 || len(s.groups) > 0) && g.EmailAlert != "" && g.SMTP != ""
}

// newVRRPMail is the mailer of a configuration with VRRP (nil without a
// vrrp_instance): made even when nothing mails yet, as a reload may turn
// smtp_alert on.
func newVRRPMail(cfg *config.Config, log func(string, ...any)) *vrrpMail {
	if len(cfg.VRRP) == 0 {
		return nil
	}
	a := newAlerter(cfg, log)
	a.setStatus("running") // the status filter is ldirectord's: VRRP mails always go
	m := &vrrpMail{a: a, last: map[string]vrrp.Role{}, lastGroup: map[string]vrrp.Role{}, gone: map[string]bool{}}
	m.set(cfg)
	return m
}

// set takes a configuration's settings (at start, and at each reload).
func (m *vrrpMail) set(cfg *config.Config) {
	s, ok := vrrpMailWants(cfg)
	if !ok {
		s.want, s.groups = nil, nil
	}
	m.mu.Lock()
	m.s = s
	m.mu.Unlock()
	m.a.setGlobal(&cfg.Global)
}

// vrrpMailText is the subject's end and the body keepalived sends for a
// state an instance entered (vrrp_notify.c's vrrp_smtp_notifier); none
// for the others.
func vrrpMailText(r vrrp.Role) (string, string) {
	t := map[vrrp.Role][2]string{
		vrrp.Master: {"Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="},
		vrrp.Backup: {"Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		vrrp.Fault:  {"Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="},
		vrrp.Stop:   {"Stopping", "=> VRRP Instance stopping <="},
	}[r]
	return t[0], t[1]
}

// vrrpGroupMailText is the same for a sync group (vrrp_sync_smtp_notifier).
func vrrpGroupMailText(r vrrp.Role) (string, string) {
	if r == vrrp.Stop {
		return "Stopping", "=> All VRRP group instances are now stopping <="
	}
	if what, _ := vrrpMailText(r); what != "" {
		return what, "=> All VRRP group instances are now in " + r.String() + " state <="
	}
	return "", ""
}

// removed marks an instance a reload removes: its stop is mailed as
// keepalived mails an instance deleted at a reload (vrrp.c's
// clear_diff_vrrp: DELETED, sent as FAULT without notify_deleted, and
// nothing when it already was in FAULT).
func (m *vrrpMail) removed(instance string) {
	m.mu.Lock()
	m.gone[instance] = true
	m.mu.Unlock()
}

func (m *vrrpMail) onRole(instance string, r vrrp.Role) {
	m.mu.Lock()
	if r == vrrp.Stop && m.gone[instance] {
		delete(m.gone, instance)
		r = vrrp.Fault
	}
	m.mu.Unlock()
	what, body := vrrpMailText(r)
	m.once(m.last, func(s *vrrpMailSettings) bool { return s.want[instance] }, instance, r, "VRRP Instance "+instance+" - "+what, body)
}

func (m *vrrpMail) onGroup(group string, r vrrp.Role) {
	what, body := vrrpGroupMailText(r)
	m.once(m.lastGroup, func(s *vrrpMailSettings) bool { return s.groups[group] }, group, r, "VRRP Group "+group+" - "+what, body)
}

// once queues "[router_id] subject" when body is one (a state keepalived
// mails), name mails (wants) and its last mail was not for this state.
func (m *vrrpMail) once(last map[string]vrrp.Role, wants func(*vrrpMailSettings) bool, name string, r vrrp.Role, subject, body string) {
	if body == "" {
		return
	}
	m.mu.Lock()
	to := m.s.to
	if !wants(&m.s) || last[name] == r {
		m.mu.Unlock()
		return
	}
	last[name] = r
	m.mu.Unlock()
	m.a.queueMail(&to, fmt.Sprintf("[%s] %s", m.a.router(), subject), body)
}
