package main

import (
	"fmt"
	"sync"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// vrrpMail is keepalived's vrrp_smtp_notifier: a vrrp_instance with
// smtp_alert mails each transition to MASTER, BACKUP, FAULT or STOP to
// notification_email, once per state entered, with keepalived's subject
// and body. It is fed from the router's OnRole (off the timer goroutine)
// and only queues on its alerter: a mail server never delays VRRP.
type vrrpMail struct {
	a    *alerter
	to   config.Virtual // the recipients and server, in the alerter's terms
	want map[string]bool
	mu   sync.Mutex
	last map[string]vrrp.Role // keepalived's last_email_state
}

// newVRRPMail is nil when no instance mails or no mail can be sent
// (keepalived sends none without notification_email and smtp_server).
func newVRRPMail(cfg *config.Config, log func(string, ...any)) *vrrpMail {
	g := &cfg.Global
	want := map[string]bool{}
	for _, in := range cfg.VRRP {
		if in.SMTPAlert {
			want[in.Name] = true
		}
	}
	if len(want) == 0 || g.EmailAlert == "" || g.SMTP == "" {
		return nil
	}
	a := newAlerter(cfg, log)
	a.setStatus("running") // the status filter is ldirectord's: VRRP mails always go
	return &vrrpMail{a: a, to: config.Virtual{EmailAlert: g.EmailAlert, SMTP: g.SMTP}, want: want, last: map[string]vrrp.Role{}}
}

// vrrpMailText is the subject's end and the body keepalived sends for a
// state entered; "" for a state it sends nothing for.
func vrrpMailText(r vrrp.Role) (string, string) {
	switch r {
	case vrrp.Master:
		return "Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="
	case vrrp.Backup:
		return "Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="
	case vrrp.Fault:
		return "Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="
	case vrrp.Stop:
		return "Stopping", "=> VRRP Instance stopping <="
	}
	return "", ""
}

func (m *vrrpMail) onRole(instance string, r vrrp.Role) {
	what, body := vrrpMailText(r)
	if what == "" {
		return
	}
	m.mu.Lock()
	if !m.want[instance] || m.last[instance] == r {
		m.mu.Unlock()
		return
	}
	m.last[instance] = r
	m.mu.Unlock()
	m.a.queueMail(&m.to, fmt.Sprintf("[%s] VRRP Instance %s - %s", m.a.router(), instance, what), body)
}
