//go:build vm

package main

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// lvsd run with an ldirectord.cf's emailalert, against Debian's postfix:
// a real's server killed under real IPVS mails "Deleted real server",
// repeats "Inaccessible real server" every emailalertfreq, and "Added
// real server" when it returns.
func TestEmailAlertsFromTheDaemon(t *testing.T) {
	addr, _, subjects := startMailbox(t)
	l := newLab(t, "masq", 2)
	cf := l.daemonConfig("mail.cf", []int{1, 2}, nil, fmt.Sprintf("emailalert=ops@lvs.test\nemailalertfreq=2\nemailalertfrom=lvsd@lvs.test\nsmtp=%s", addr))
	d := startDaemon(t, cf, filepath.Join(l.dir, "mail.state"))
	svc := labVIP + ":80"
	waitTable(t, "both reals up", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })
	id := "10.99.0.12:80 (" + svc + ")"
	if !netns.WaitFor(30*time.Second, func() bool { return countOf(subjects(), "Added real server: "+id+" (Weight set to 1)") == 1 }) {
		t.Fatalf("no start mail: %q\n%s", subjects(), d.logText())
	}
	l.killHTTPD(2)
	if !netns.WaitFor(60*time.Second, func() bool {
		s := subjects()
		return countOf(s, "Deleted real server: "+id) == 1 && countOf(s, "Inaccessible real server: "+id) >= 1
	}) {
		t.Fatalf("no down mails: %q\n%s", subjects(), d.logText())
	}
	l.startHTTPD(2)
	if !netns.WaitFor(60*time.Second, func() bool { return countOf(subjects(), "Added real server: "+id+" (Weight set to 1)") == 2 }) {
		t.Fatalf("no up mail: %q\n%s", subjects(), d.logText())
	}
	d.waitLog("emailalert: Deleted real server: "+id, 5*time.Second)
	d.stop()
}

// lvsd run with a keepalived.conf's notification_email, against
// Debian's postfix: keepalived's subjects for a real's checker going down
// under real IPVS; then the last real down and SIGTERM at once: its mail
// and the quorum's, queued at the stop, are still delivered (the stop
// drains the queue) instead of dropped.
func TestKeepalivedMailsFromTheDaemon(t *testing.T) {
	addr, _, subjects := startMailbox(t)
	l := newLab(t, "masq", 2)
	cf := filepath.Join(l.dir, "keepalived.conf")
	real := func(i int) string {
		return fmt.Sprintf("    real_server 10.99.0.1%d 80 {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n        }\n    }\n", i)
	}
	os.WriteFile(cf, []byte(fmt.Sprintf("global_defs {\n    router_id lb-test\n    notification_email {\n        ops@lvs.test\n    }\n    notification_email_from lvsd@lvs.test\n    smtp_server %s\n}\n"+
		"virtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    smtp_alert\n%s%s}\n", addr, labVIP, real(1), real(2))), 0o644)
	d := startDaemon(t, cf, filepath.Join(l.dir, "ka-mail.state"))
	svc := labVIP + ":80"
	waitTable(t, "both reals up", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })
	rs := func(i int, state string) string {
		return fmt.Sprintf("[lb-test] Realserver [10.99.0.1%d]:tcp:80 of virtual server [%s]:tcp:80 - %s", i, labVIP, state)
	}
	// keepalived's init_service_vs: "=> Starting with quorum up 1+0=1 <= 2 <="
	if !netns.WaitFor(60*time.Second, func() bool {
		return countOf(subjects(), fmt.Sprintf("[lb-test] Virtualserver [%s]:tcp:80 - UP", labVIP)) == 1
	}) {
		t.Fatalf("no start mail: %q\n%s", subjects(), d.logText())
	}
	l.killHTTPD(2)
	if !netns.WaitFor(60*time.Second, func() bool { return countOf(subjects(), rs(2, "DOWN")) == 1 }) {
		t.Fatalf("no down mail: %q\n%s", subjects(), d.logText())
	}
	l.killHTTPD(1)
	d.waitLog("down tcp:"+svc+" real 10.99.0.11:80", 60*time.Second)
	d.stop() // at once: the mails just queued are sent by the stop's drain
	vs := fmt.Sprintf("[lb-test] Virtualserver [%s]:tcp:80 - DOWN", labVIP)
	if !netns.WaitFor(60*time.Second, func() bool { s := subjects(); return countOf(s, rs(1, "DOWN")) == 1 && countOf(s, vs) == 1 }) {
		t.Fatalf("mails queued at the stop not delivered: %q\n%s", subjects(), d.logText())
	}
}

// keepalived's own mails and lvsd's, side by side, from one keepalived.conf
// (quorum 2, omega, smtp_alert) to one postfix under real IPVS: the
// start with quorum up, a real whose port nobody listens on going down, a reload
// (SIGHUP) taking out a real that is up (the quorum lost with it), then
// SIGTERM (omega: keepalived's shutdown mails, if any arrive). Debian's keepalived 2.2.7 runs first; lvsd must deliver
// the same mails (subject and body), no more, no fewer.
func TestKeepalivedMailsSideBySide(t *testing.T) {
	ka := testenv.Command(t, "keepalived")
	addr, maildir, subjects := startMailbox(t)
	host, port, _ := net.SplitHostPort(addr)
	l := newLab(t, "masq", 2)
	cf := filepath.Join(l.dir, "keepalived.conf")
	write := func(reals ...int) {
		text := fmt.Sprintf("global_defs {\n    router_id lb-test\n    notification_email {\n        ops@lvs.test\n    }\n    notification_email_from lvsd@lvs.test\n    smtp_server %s %s\n}\n"+
			"virtual_server %s 80 {\n    delay_loop 1\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n    quorum 2\n    omega\n    smtp_alert\n", host, port, labVIP)
		for _, i := range reals {
			addr := fmt.Sprintf("10.99.0.1%d 80", i)
			if i == 3 {
				addr = "10.99.0.11 81" // nothing listens: down after its first check
			}
			text += fmt.Sprintf("    real_server %s {\n        weight 1\n        TCP_CHECK {\n            connect_timeout 1\n            retry 0\n        }\n    }\n", addr)
		}
		if err := os.WriteFile(cf, []byte(text+"}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mails := func() []string { return mailTexts(maildir) }
	settle := func(n int) { settleMails(subjects, n) }
	svc := labVIP + ":80"

	// keepalived
	cleanTable(t)
	write(1, 2, 3)
	dir := t.TempDir()
	k := exec.Command(ka, "-C", "-n", "-l", "-D", "-f", cf, "-p", filepath.Join(dir, "ka.pid"), "-c", filepath.Join(dir, "ka-c.pid"))
	var klog bytes.Buffer
	k.Stdout, k.Stderr = &klog, &klog
	if err := k.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Process.Kill(); k.Wait() })
	waitTable(t, "keepalived: both reals in", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })
	waitTable(t, "keepalived: real 3 out", 60*time.Second, func(s string) bool { return !hasReal(s, svc, 1, 81) })
	settle(2)
	write(1, 3)
	k.Process.Signal(syscall.SIGHUP)
	waitTable(t, "keepalived: real 2 out", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && !hasReal(s, svc, 2, 80) })
	settle(4)
	n := len(subjects())
	k.Process.Signal(syscall.SIGTERM)
	k.Wait()
	settle(n)
	theirs := mails()
	t.Logf("keepalived's mails:\n%s", strings.Join(theirs, "\n"))
	emptyMaildir(maildir)

	// lvsd
	cleanTable(t)
	write(1, 2, 3)
	d := startDaemon(t, cf, filepath.Join(l.dir, "side.state"))
	waitTable(t, "lvsd: both reals in", 30*time.Second, func(s string) bool { return hasReal(s, svc, 1, 80) && hasReal(s, svc, 2, 80) })
	waitTable(t, "lvsd: real 3 out", 60*time.Second, func(s string) bool { return !hasReal(s, svc, 1, 81) })
	settle(2)
	write(1, 3)
	d.signal(syscall.SIGHUP)
	d.waitLog("reloaded: ", 30*time.Second)
	settle(4)
	n = len(subjects())
	d.stop()
	settle(n)
	ours := mails()
	if strings.Join(ours, "\n") != strings.Join(theirs, "\n") {
		t.Errorf("lvsd's mails:\n%s\nkeepalived's:\n%s\nkeepalived's log:\n%s", strings.Join(ours, "\n"), strings.Join(theirs, "\n"), klog.String())
	}
	if len(theirs) < 4 {
		t.Errorf("keepalived sent %d mails, want at least the start's, the real's and the reload's", len(theirs))
	}
	cleanTable(t)
}
