//go:build vm

package main

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
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
