package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

func vrrpMailConfig(smtp string) *config.Config {
	return &config.Config{
		Global: config.Global{EmailAlert: "ops@lvs.test", SMTP: smtp, EmailAlertFrom: "lvs@lvs.test", RouterID: "lb-1"},
		VRRP:   []*config.VRRPInstance{{Name: "VI_1", SMTPAlert: true}, {Name: "VI_2"}},
	}
}

// No mailer without an instance that mails, recipients or a server: the
// router's OnRole then carries the sync daemon alone.
func TestVRRPMailNeeds(t *testing.T) {
	c := vrrpMailConfig("192.0.2.25")
	if newVRRPMail(c, t.Logf) == nil {
		t.Fatal("smtp_alert with notification_email and smtp_server: no mailer")
	}
	for name, edit := range map[string]func(*config.Config){
		"no smtp_alert":         func(c *config.Config) { c.VRRP[0].SMTPAlert = false },
		"no notification_email": func(c *config.Config) { c.Global.EmailAlert = "" },
		"no smtp_server":        func(c *config.Config) { c.Global.SMTP = "" },
	} {
		c := vrrpMailConfig("192.0.2.25")
		edit(c)
		if newVRRPMail(c, t.Logf) != nil {
			t.Errorf("%s: a mailer", name)
		}
	}
}

// keepalived's VRRP mails, delivered to Debian's postfix and read back:
// one per state entered (a second MASTER sends nothing), keepalived's
// subjects and bodies, nothing for an instance without smtp_alert or for
// INIT; what is queued at the stop is sent by the drain.
func TestVRRPMailsToPostfix(t *testing.T) {
	addr, maildir, subjects := startMailbox(t)
	var mu sync.Mutex
	var logs []string
	m := newVRRPMail(vrrpMailConfig(addr), func(f string, x ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, x...)); mu.Unlock() })
	go m.a.run(context.Background())
	for _, r := range []vrrp.Role{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Master, vrrp.Fault, vrrp.Stop} {
		m.onRole("VI_1", r)
		m.onRole("VI_2", r)
	}
	m.a.drain(30 * time.Second)
	want := map[string]string{
		"[lb-1] VRRP Instance VI_1 - Entering BACKUP state": "=> VRRP Instance is no longer owning VRRP VIPs <=",
		"[lb-1] VRRP Instance VI_1 - Entering MASTER state": "=> VRRP Instance is now owning VRRP VIPs <=",
		"[lb-1] VRRP Instance VI_1 - Entering FAULT state":  "=> VRRP Instance is no longer owning VRRP VIPs <=",
		"[lb-1] VRRP Instance VI_1 - Stopping":              "=> VRRP Instance stopping <=",
	}
	if !netns.WaitFor(30*time.Second, func() bool { return len(subjects()) >= len(want) }) {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("mailbox: %q\nlog: %q", subjects(), logs)
	}
	s := subjects()
	if len(s) != len(want) || countOf(s, "VI_2") != 0 {
		t.Errorf("mails: %q", s)
	}
	for subject, body := range want {
		if countOf(s, subject) != 1 {
			t.Errorf("%d of %q in %q", countOf(s, subject), subject, s)
		}
		if msg := mailWith(maildir, subject); !strings.Contains(msg, body) || !strings.Contains(msg, "From: <lvs@lvs.test>") {
			t.Errorf("%s: mail:\n%s", subject, msg)
		}
	}
}

// The daemon's VRRP mails: lvsd in a namespace, alone on its link, with
// keepalived.conf's notification_email, smtp_server (postfix on the host,
// over a veth) and smtp_alert on VI_1 only: VI_1 entering MASTER is mailed,
// and its STOP at the orderly stop; VI_2 (no smtp_alert) mails nothing.
func TestNetnsVRRPMails(t *testing.T) {
	l := newVRRPLab(t)
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	ip("link", "add", "lvsmail0", "type", "veth", "peer", "name", "mail0", "netns", l.p.A)
	t.Cleanup(func() { exec.Command("ip", "link", "del", "lvsmail0").Run() })
	ip("addr", "add", "10.254.77.1/30", "dev", "lvsmail0")
	ip("link", "set", "lvsmail0", "up")
	ip("-n", l.p.A, "addr", "add", "10.254.77.2/30", "dev", "mail0")
	ip("-n", l.p.A, "link", "set", "mail0", "up")
	addr, maildir, subjects := startMailboxOn(t, "10.254.77.1")
	host, port, _ := net.SplitHostPort(addr)
	vip, vip2 := l.p.V4(100), l.p.V4(101)
	conf := fmt.Sprintf("global_defs {\n  router_id lb-1\n  notification_email {\n    ops@lvs.test\n  }\n  notification_email_from lvs@lvs.test\n  smtp_server %s %s\n}\n", host, port) +
		instance("VI_1", "MASTER", 61, 150, v3(vip, 24)+"\n    smtp_alert") + instance("VI_2", "MASTER", 62, 150, v3(vip2, 24))
	a := l.lvsd(conf)
	l.holder("A", vip, 15*time.Second, a)
	master := "[lb-1] VRRP Instance VI_1 - Entering MASTER state"
	if !netns.WaitFor(60*time.Second, func() bool { return countOf(subjects(), master) == 1 }) {
		t.Fatalf("no %q in %q\n%s", master, subjects(), a.text())
	}
	a.stop()
	stopping := "[lb-1] VRRP Instance VI_1 - Stopping"
	if !netns.WaitFor(60*time.Second, func() bool { return countOf(subjects(), stopping) == 1 }) {
		t.Fatalf("no %q in %q after the stop\n%s", stopping, subjects(), a.text())
	}
	if s := subjects(); countOf(s, "VI_2") != 0 || countOf(s, "VI_1") > 3 {
		t.Errorf("mails: %q", s)
	}
	if m := mailWith(maildir, master); !strings.Contains(m, "=> VRRP Instance is now owning VRRP VIPs <=") || !strings.Contains(m, "From: <lvs@lvs.test>") {
		t.Errorf("the MASTER mail:\n%s", m)
	}
}
