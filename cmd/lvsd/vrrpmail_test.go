package main

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

func vrrpMailConfig(smtp string) *config.Config {
	return &config.Config{
		Global:     config.Global{EmailAlert: "ops@lvs.test", SMTP: smtp, EmailAlertFrom: "lvs@lvs.test", RouterID: "lb-1"},
		VRRP:       []*config.VRRPInstance{{Name: "VI_1", SMTPAlert: true}, {Name: "VI_2"}, {Name: "VI_3", SMTPAlert: true}},
		SyncGroups: []*config.SyncGroup{{Name: "G1", Members: []string{"VI_1", "VI_2"}, SMTPAlert: true}},
	}
}

// Mails need an instance or a group with smtp_alert, recipients and a
// server; a configuration with VRRP has a mailer all the same (a reload
// may turn them on), one without has none.
func TestVRRPMailNeeds(t *testing.T) {
	c := vrrpMailConfig("192.0.2.25")
	if s, ok := vrrpMailWants(c); !ok || !s.want["VI_1"] || s.want["VI_2"] || !s.groups["G1"] {
		t.Fatalf("smtp_alert with notification_email and smtp_server: %+v %v", s, ok)
	}
	for name, edit := range map[string]func(*config.Config){
		"no smtp_alert": func(c *config.Config) {
			c.VRRP[0].SMTPAlert, c.VRRP[2].SMTPAlert, c.SyncGroups[0].SMTPAlert = false, false, false
		},
		"no notification_email": func(c *config.Config) { c.Global.EmailAlert = "" },
		"no smtp_server":        func(c *config.Config) { c.Global.SMTP = "" },
	} {
		c := vrrpMailConfig("192.0.2.25")
		edit(c)
		if _, ok := vrrpMailWants(c); ok {
			t.Errorf("%s: mails", name)
		}
		if newVRRPMail(c, t.Logf) == nil {
			t.Errorf("%s: no mailer for a reload to turn on", name)
		}
	}
	if newVRRPMail(&config.Config{}, t.Logf) != nil {
		t.Error("a mailer without VRRP")
	}
}

// keepalived's VRRP mails, delivered to Debian's postfix and read back:
// one per state entered (a second MASTER sends nothing), keepalived's
// subjects and bodies for an instance and a sync group, nothing for an
// instance without smtp_alert or for INIT; what is queued at the stop is
// sent by the drain. A reload (set) moves smtp_alert from VI_1 to VI_2,
// turns the group's off and changes the recipient and the sender: the
// mails after it follow.
func TestVRRPMailsToPostfix(t *testing.T) {
	addr, maildir, subjects := startMailbox(t)
	var mu sync.Mutex
	var logs []string
	m := newVRRPMail(vrrpMailConfig(addr), func(f string, x ...any) { mu.Lock(); logs = append(logs, fmt.Sprintf(f, x...)); mu.Unlock() })
	go m.a.run(context.Background())
	for _, r := range []vrrp.Role{vrrp.Init, vrrp.Backup, vrrp.Master, vrrp.Master, vrrp.Fault} {
		m.onRole("VI_1", r)
		m.onRole("VI_2", r)
		m.onGroup("G1", r)
	}
	next := vrrpMailConfig(addr)
	next.VRRP[0].SMTPAlert, next.VRRP[1].SMTPAlert, next.SyncGroups[0].SMTPAlert = false, true, false
	next.Global.EmailAlert, next.Global.EmailAlertFrom = "ops2@lvs.test", "lvs2@lvs.test"
	// VI_3, removed by the reload while MASTER: keepalived's deleted
	// instance, mailed as FAULT (with the settings it had)
	m.onRole("VI_3", vrrp.Master)
	m.removed("VI_3")
	m.onRole("VI_3", vrrp.Stop)
	// sent before the reload (the sender is read when a mail is sent,
	// as keepalived's smtp.c reads email_from)
	if !netns.WaitFor(30*time.Second, func() bool { return len(subjects()) >= 8 }) {
		t.Fatalf("mailbox before the reload: %q", subjects())
	}
	m.set(next)
	m.removed("VI_1") // already in FAULT: nothing more, as keepalived
	m.onRole("VI_1", vrrp.Stop)
	m.onRole("VI_2", vrrp.Stop)
	m.onGroup("G1", vrrp.Stop)
	m.a.drain(30 * time.Second)
	type mail struct{ body, from string }
	want := map[string]mail{
		"[lb-1] VRRP Instance VI_1 - Entering BACKUP state": {"=> VRRP Instance is no longer owning VRRP VIPs <=", "lvs@"},
		"[lb-1] VRRP Instance VI_1 - Entering MASTER state": {"=> VRRP Instance is now owning VRRP VIPs <=", "lvs@"},
		"[lb-1] VRRP Instance VI_1 - Entering FAULT state":  {"=> VRRP Instance is no longer owning VRRP VIPs <=", "lvs@"},
		"[lb-1] VRRP Group G1 - Entering BACKUP state":      {"=> All VRRP group instances are now in BACKUP state <=", "lvs@"},
		"[lb-1] VRRP Group G1 - Entering MASTER state":      {"=> All VRRP group instances are now in MASTER state <=", "lvs@"},
		"[lb-1] VRRP Group G1 - Entering FAULT state":       {"=> All VRRP group instances are now in FAULT state <=", "lvs@"},
		"[lb-1] VRRP Instance VI_2 - Stopping":              {"=> VRRP Instance stopping <=", "lvs2@"},
		"[lb-1] VRRP Instance VI_3 - Entering MASTER state": {"=> VRRP Instance is now owning VRRP VIPs <=", "lvs@"},
		"[lb-1] VRRP Instance VI_3 - Entering FAULT state":  {"=> VRRP Instance is no longer owning VRRP VIPs <=", "lvs@"},
	}
	if !netns.WaitFor(30*time.Second, func() bool { return len(subjects()) >= len(want) }) {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("mailbox: %q\nlog: %q", subjects(), logs)
	}
	s := subjects()
	if len(s) != len(want) {
		t.Errorf("mails: %q", s)
	}
	for subject, w := range want {
		if countOf(s, subject) != 1 {
			t.Errorf("%d of %q in %q", countOf(s, subject), subject, s)
		}
		msg := mailWith(maildir, subject)
		if !strings.Contains(msg, w.body) || !strings.Contains(msg, "From: <"+w.from+"lvs.test>") {
			t.Errorf("%s: mail:\n%s", subject, msg)
		}
		if to := map[bool]string{true: "To: <ops2@lvs.test>", false: "To: <ops@lvs.test>"}[w.from == "lvs2@"]; !strings.Contains(msg, to) {
			t.Errorf("%s: not %s:\n%s", subject, to, msg)
		}
	}
}

// The daemon's VRRP mails: lvsd in a namespace, alone on its link, with
// keepalived.conf's notification_email, smtp_server (postfix on the host,
// over a veth) and smtp_alert on VI_1 only: VI_1 entering MASTER is mailed,
// VI_2 (no smtp_alert) mails nothing; a reload (SIGHUP) removes VI_1,
// mailed as keepalived mails a deleted instance (FAULT), and turns VI_2's
// smtp_alert on: its STOP is mailed at the orderly stop.
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
	// a reload removes VI_1 (keepalived mails a deleted instance as
	// FAULT) and turns VI_2's smtp_alert on: its STOP is mailed
	l.write("lvsd.conf", strings.SplitN(conf, "vrrp_instance", 2)[0]+instance("VI_2", "MASTER", 62, 150, v3(vip2, 24)+"\n    smtp_alert"))
	a.cmd.Process.Signal(syscall.SIGHUP)
	fault := "[lb-1] VRRP Instance VI_1 - Entering FAULT state"
	if !netns.WaitFor(30*time.Second, func() bool { return countOf(subjects(), fault) == 1 }) {
		t.Fatalf("no %q after the reload removing VI_1: %q\n%s", fault, subjects(), a.text())
	}
	if s := subjects(); countOf(s, "VI_2") != 0 {
		t.Errorf("VI_2 mailed before its smtp_alert: %q", s)
	}
	a.stop()
	stopping := "[lb-1] VRRP Instance VI_2 - Stopping"
	if !netns.WaitFor(60*time.Second, func() bool { return countOf(subjects(), stopping) == 1 }) {
		t.Fatalf("no %q in %q after the stop\n%s", stopping, subjects(), a.text())
	}
	if s := subjects(); countOf(s, "VI_2") != 1 || countOf(s, "VI_1") != 3 || countOf(s, "VI_1 - Stopping") != 0 {
		t.Errorf("mails: %q", s)
	}
	if m := mailWith(maildir, master); !strings.Contains(m, "=> VRRP Instance is now owning VRRP VIPs <=") || !strings.Contains(m, "From: <lvs@lvs.test>") {
		t.Errorf("the MASTER mail:\n%s", m)
	}
}

// keepalived's sync group mails and lvsd's, side by side: Debian's
// keepalived alone in one namespace, then lvsd alone in the other, each
// with the same keepalived.conf (vrrp_sync_group G1 of VI_1 and VI_2,
// smtp_alert on the group and on VI_1), becoming MASTER and stopping
// (SIGTERM); postfix on the host, over a veth to each. lvsd delivers the
// mails keepalived delivers: subjects and bodies, no more, no fewer.
func TestNetnsSyncGroupMailsSideBySide(t *testing.T) {
	l := newVRRPLab(t)
	ip := func(args ...string) {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	for i, ns := range []string{l.p.A, l.p.B} {
		host, peer := fmt.Sprintf("lvsgm%d", i), fmt.Sprintf("gm%d", i)
		ip("link", "add", host, "type", "veth", "peer", "name", peer, "netns", ns)
		t.Cleanup(func() { exec.Command("ip", "link", "del", host).Run() })
		ip("addr", "add", fmt.Sprintf("10.254.79.%d/30", 4*i+1), "dev", host)
		ip("link", "set", host, "up")
		ip("-n", ns, "addr", "add", fmt.Sprintf("10.254.79.%d/30", 4*i+2), "dev", peer)
		ip("-n", ns, "link", "set", peer, "up")
		if i == 1 { // the server's address is on the other veth: a route to it
			ip("-n", ns, "route", "add", "10.254.79.1/32", "via", "10.254.79.5")
		}
	}
	addr, maildir, subjects := startMailboxOn(t, "10.254.79.1")
	host, port, _ := net.SplitHostPort(addr)
	vip, vip2 := l.p.V4(110), l.p.V4(111)
	conf := fmt.Sprintf("global_defs {\n  router_id lb-1\n  notification_email {\n    ops@lvs.test\n  }\n  notification_email_from lvs@lvs.test\n  smtp_server %s %s\n}\n", host, port) +
		"vrrp_sync_group G1 {\n  group {\n    VI_1\n    VI_2\n  }\n  smtp_alert\n}\n" +
		instance("VI_1", "BACKUP", 71, 150, v3(vip, 24)+"\n    smtp_alert") + instance("VI_2", "BACKUP", 72, 150, v3(vip2, 24))
	mails := func() []string { return mailTexts(maildir) }
	settle := func(n int) { settleMails(subjects, n) }
	master := "[lb-1] VRRP Group G1 - Entering MASTER state"

	k := l.keepalived(conf)
	l.holder("B", vip, 20*time.Second, k)
	l.holder("B", vip2, 20*time.Second, k)
	if !netns.WaitFor(30*time.Second, func() bool { return countOf(subjects(), master) == 1 }) {
		t.Fatalf("keepalived: no %q in %q\n%s", master, subjects(), k.text())
	}
	settle(len(subjects()))
	n := len(subjects())
	k.stop()
	settle(n)
	theirs := mails()
	t.Logf("keepalived's mails:\n%s", strings.Join(theirs, "\n"))
	emptyMaildir(maildir)

	a := l.lvsd(conf)
	l.holder("A", vip, 20*time.Second, a)
	l.holder("A", vip2, 20*time.Second, a)
	if !netns.WaitFor(30*time.Second, func() bool { return countOf(subjects(), master) == 1 }) {
		t.Fatalf("lvsd: no %q in %q\n%s", master, subjects(), a.text())
	}
	settle(len(subjects()))
	n = len(subjects())
	a.stop()
	settle(n)
	// keepalived queues its STOP mails (vrrp_notify.c's notify_shutdown)
	// but exits before their SMTP dialog ends: none arrives. lvsd's stop
	// sends them (its drain): those two are lvsd's own.
	stops := []string{"[lb-1] VRRP Group G1 - Stopping | => All VRRP group instances are now stopping <=",
		"[lb-1] VRRP Instance VI_1 - Stopping | => VRRP Instance stopping <="}
	var ours, ourStops []string
	for _, m := range mails() {
		if strings.Contains(m, " - Stopping | ") {
			ourStops = append(ourStops, m)
		} else {
			ours = append(ours, m)
		}
	}
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") || strings.Join(ourStops, "\n") != strings.Join(stops, "\n") {
		t.Errorf("lvsd's mails:\n%s\n%s\nkeepalived's (and the two STOP mails):\n%s", strings.Join(ours, "\n"), strings.Join(ourStops, "\n"), strings.Join(theirs, "\n"))
	}
	if len(theirs) != 4 {
		t.Errorf("keepalived delivered %d mails, want 4 (BACKUP then MASTER, of G1 and VI_1)", len(theirs))
	}
}
