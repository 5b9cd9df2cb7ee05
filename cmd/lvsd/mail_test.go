package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"mime"
	"net"
	netmail "net/mail"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// startMailbox runs Debian's postfix on a loopback port, delivering every
// mail for @lvs.test into one Maildir (virtual delivery); it returns the
// smtp address and a function listing the subjects delivered so far.
func startMailbox(t *testing.T) (addr, maildir string, subjects func() []string) {
	return startMailboxOn(t, "127.0.0.1")
}

// startMailboxOn is startMailbox listening on ip (an address of this
// host), relaying for its /24 too (a namespace on a veth).
func startMailboxOn(t *testing.T, ip string) (addr, maildir string, subjects func() []string) {
	testenv.Root(t)
	postfix := testenv.Command(t, "postfix")
	dir, err := os.MkdirTemp("", "lvsd-postfix-") // short: postfix's socket paths
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755) // postfix's own users walk it
	for _, d := range []string{"conf", "spool", "data", "mail"} {
		os.MkdirAll(filepath.Join(dir, d), 0o755)
	}
	exec.Command("chown", "postfix", dir+"/data").Run()
	exec.Command("chown", "65534:65534", dir+"/mail").Run()
	ln, err := net.Listen("tcp", net.JoinHostPort(ip, "0"))
	if err != nil {
		t.Fatal(err)
	}
	addr = ln.Addr().String()
	ln.Close()
	maildir = filepath.Join(dir, "mail", "ops", "new")
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
inet_interfaces = %[2]s
inet_protocols = ipv4
myhostname = mx.lvs.test
mydestination =
maillog_file = /dev/stdout
mynetworks = 127.0.0.0/8 %[3]s
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = lvs.test
virtual_mailbox_base = %[1]s/mail
virtual_mailbox_maps = static:ops/
virtual_uid_maps = static:65534
virtual_gid_maps = static:65534
virtual_minimum_uid = 100
`, dir, ip, netip.PrefixFrom(netip.MustParseAddr(ip), 24).Masked())
	var master strings.Builder
	fmt.Fprintf(&master, "%s inet n - n - - smtpd\n", addr)
	for _, l := range []string{"postlog unix-dgram n - n - 1 postlogd", "cleanup unix n - n - 0 cleanup", "rewrite unix - - n - - trivial-rewrite",
		"anvil unix - - n - 1 anvil", "proxymap unix - - n - - proxymap", "defer unix - - n - 0 bounce", "bounce unix - - n - 0 bounce",
		"trace unix - - n - 0 bounce", "verify unix - - n - 1 verify", "qmgr unix n - n 300 1 qmgr", "scache unix - - n - 1 scache",
		"virtual unix - n n - - virtual", "error unix - - n - - error", "retry unix - - n - - error", "discard unix - - n - - discard",
		"smtp unix - - n - - smtp"} {
		master.WriteString(l + "\n")
	}
	os.WriteFile(dir+"/conf/main.cf", []byte(main), 0o644)
	os.WriteFile(dir+"/conf/master.cf", []byte(master.String()), 0o644)
	cmd := exec.Command(postfix, "-c", dir+"/conf", "start-fg")
	var out strings.Builder
	var mu sync.Mutex
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &mu, w: &out}, &lockedWriter{mu: &mu, w: &out}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		exec.Command(postfix, "-c", dir+"/conf", "stop").Run()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	})
	// postfix's start script takes a minute under the VM's emulation
	if !netns.WaitFor(150*time.Second, func() bool {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	}) {
		mu.Lock()
		defer mu.Unlock()
		t.Fatalf("postfix not listening on %s:\n%s", addr, out.String())
	}
	subjects = func() []string {
		files, _ := filepath.Glob(filepath.Join(maildir, "*"))
		var s []string
		for _, f := range files {
			b, _ := os.ReadFile(f)
			if m, err := netmail.ReadMessage(bytes.NewReader(b)); err == nil {
				subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")) // folded lines joined
				s = append(s, subj)
			}
		}
		return s
	}
	return addr, maildir, subjects
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func health(v *config.Virtual, r *config.Real, from, to check.State) engine.Report {
	return engine.Report{Time: time.Now(), Kind: engine.Health, Check: &check.Event{From: from, To: to, Sub: &check.Sub{Data: check.Pair{V: v, R: r}}}}
}

func countOf(s []string, sub string) int {
	n := 0
	for _, x := range s {
		if strings.Contains(x, sub) {
			n++
		}
	}
	return n
}

// ldirectord's alerts delivered by a real postfix to a mailbox: a real
// down, repeated every emailalertfreq while it stays down, up again (no
// more repeats); a virtual whose emailalertstatus excludes running gets
// none; a dead mail server is logged after bounded retries and never
// makes the reporting side wait.
func TestEmailAlertsToPostfix(t *testing.T) {
	addr, maildir, subjects := startMailbox(t)
	web := &config.Virtual{Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, EmailAlert: "ops@lvs.test, oncall@lvs.test",
		EmailAlertFreq: time.Second, SMTP: addr, ServiceName: "www", Comment: "front page"}
	r := &config.Real{Addr: netip.MustParseAddr("10.0.0.2"), Port: 80, Weight: 2}
	quiet := &config.Virtual{Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.1"), Port: 443, EmailAlert: "ops@lvs.test",
		SMTP: addr, EmailAlertStatus: []string{"starting", "stopping"}}
	rq := &config.Real{Addr: netip.MustParseAddr("10.0.0.3"), Port: 443, Weight: 1}
	cfg := &config.Config{Global: config.Global{EmailAlertFrom: "lvs@lvs.test"}, Virtuals: []*config.Virtual{web, quiet}}
	var logMu sync.Mutex
	var logs []string
	a := newAlerter(cfg, func(f string, x ...any) { logMu.Lock(); logs = append(logs, fmt.Sprintf(f, x...)); logMu.Unlock() })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go a.run(ctx)
	a.setStatus("running")

	a.report(health(web, r, check.Up, check.Down))
	a.report(health(quiet, rq, check.Up, check.Down)) // filtered: running is not in its emailalertstatus
	down := "[www] Deleted real server: 10.0.0.2:80 (192.0.2.1:80)"
	again := "[www] Inaccessible real server: 10.0.0.2:80 (192.0.2.1:80)"
	if !netns.WaitFor(30*time.Second, func() bool { s := subjects(); return countOf(s, down) == 2 && countOf(s, again) >= 2 }) {
		t.Fatalf("mailbox: %q\nlog: %q", subjects(), logs)
	}
	a.report(health(web, r, check.Down, check.Up))
	upS := "[www] Added real server: 10.0.0.2:80 (192.0.2.1:80) (Weight set to 2)"
	if !netns.WaitFor(30*time.Second, func() bool { return countOf(subjects(), upS) == 2 }) {
		t.Fatalf("no up mail: %q", subjects())
	}
	n := countOf(subjects(), again)
	time.Sleep(2500 * time.Millisecond)
	if s := subjects(); countOf(s, again) != n || countOf(s, "10.0.0.3") != 0 {
		t.Errorf("repeats after the real came back, or the filtered virtual mailed: %q", s)
	}
	// the body is ldirectord's
	if b := mailWith(maildir, down); !strings.Contains(b, "Log-Message: "+down) || !strings.Contains(b, "Daemon-Status: running") ||
		!strings.Contains(b, "Service name: www") || !strings.Contains(b, "Comment: front page") || !strings.Contains(b, "From: <lvs@lvs.test>") {
		t.Errorf("body:\n%s", b)
	}

	// a dead mail server: logged after its retries; report never waits
	dead := *web
	dead.SMTP, dead.EmailAlertFreq = freePort(t), 0
	a.retry = []time.Duration{10 * time.Millisecond, 10 * time.Millisecond}
	t0 := time.Now()
	for i := 0; i < 300; i++ { // more than the queue holds
		a.report(health(&dead, r, check.Up, check.Down))
	}
	if took := time.Since(t0); took > time.Second {
		t.Errorf("300 reports took %s with a dead mail server", took)
	}
	if !netns.WaitFor(30*time.Second, func() bool {
		logMu.Lock()
		defer logMu.Unlock()
		return countOf(logs, "not sent after 3 attempts") > 0 && countOf(logs, "the mail queue is full") > 0
	}) {
		t.Errorf("log: %q", logs)
	}
}

// mailWith is the whole mail in maildir whose subject is subject.
func mailWith(maildir, subject string) string {
	files, _ := filepath.Glob(filepath.Join(maildir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if m, err := netmail.ReadMessage(bytes.NewReader(b)); err == nil {
			if subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject")); subj == subject {
				return string(b)
			}
		}
	}
	return ""
}

// keepalived's mails (a keepalived.conf's notification_email with
// smtp_alert), delivered by a real postfix: its subjects and bodies as
// smtp.c and the checkers write them, a real whose smtp_alert is off
// mails nothing, the quorum's mail; and the mails queued at an orderly
// stop are sent before drain returns, not dropped.
func TestKeepalivedAlertsToPostfix(t *testing.T) {
	addr, maildir, subjects := startMailbox(t)
	v := &config.Virtual{Protocol: "tcp", Family: 4, Addr: netip.MustParseAddr("192.0.2.1"), Port: 80, EmailAlert: "ops@lvs.test",
		SMTP: addr, MailStyle: "keepalived", QuorumAlert: true, Quorum: 2, Hysteresis: 1}
	r := &config.Real{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 2}
	quiet := &config.Real{Addr: netip.MustParseAddr("10.0.0.3"), Port: 8080, Weight: 1, NoAlert: true}
	cfg := &config.Config{Global: config.Global{EmailAlertFrom: "lvs@lvs.test", RouterID: "lb-1", SMTPHelo: "lb-1.lvs.test", SMTPConnectTimeout: 5 * time.Second},
		Virtuals: []*config.Virtual{v}}
	var logMu sync.Mutex
	var logs []string
	a := newAlerter(cfg, func(f string, x ...any) { logMu.Lock(); logs = append(logs, fmt.Sprintf(f, x...)); logMu.Unlock() })
	go a.run(context.Background())
	a.setStatus("running")
	ev := func(real *config.Real, from, to check.State) engine.Report {
		return engine.Report{Time: time.Now(), Kind: engine.Health, Check: &check.Event{From: from, To: to,
			Sub: &check.Sub{Spec: check.Spec{Type: "connect"}, Data: check.Pair{V: v, R: real}}}}
	}
	a.report(ev(r, check.Up, check.Down))
	a.report(ev(quiet, check.Up, check.Down))
	a.report(engine.Report{Kind: engine.Quorum, Virtual: v, On: false, Weight: 1, Held: true})
	a.report(ev(r, check.Down, check.Up))
	a.report(engine.Report{Kind: engine.Quorum, Virtual: v, On: true, Weight: 3})
	a.drain(30 * time.Second) // the orderly stop: all of it sent first
	down := "[lb-1] Realserver [10.0.0.2]:tcp:8080 of virtual server [192.0.2.1]:tcp:80 - DOWN"
	up := "[lb-1] Realserver [10.0.0.2]:tcp:8080 of virtual server [192.0.2.1]:tcp:80 - UP"
	lost, gained := "[lb-1] Virtualserver [192.0.2.1]:tcp:80 - DOWN", "[lb-1] Virtualserver [192.0.2.1]:tcp:80 - UP"
	if !netns.WaitFor(30*time.Second, func() bool { return len(subjects()) >= 4 }) {
		t.Fatalf("mailbox after drain: %q\nlog: %q", subjects(), logs)
	}
	s := subjects()
	for _, want := range []string{down, up, lost, gained} {
		if countOf(s, want) != 1 {
			t.Errorf("%d of %q in %q", countOf(s, want), want, s)
		}
	}
	if len(s) != 4 || countOf(s, "10.0.0.3") != 0 {
		t.Errorf("mails: %q (the real with smtp_alert off mailed?)", s)
	}
	for subject, body := range map[string]string{
		down: "=> TCP CHECK failed on service <=", up: "=> TCP CHECK succeed on service <=",
		lost: "=> Lost quorum 2+1=1 <= 1 <=", gained: "=> Gained quorum 2+1=3 <= 3 <=",
	} {
		if m := mailWith(maildir, subject); !strings.Contains(m, body) || !strings.Contains(m, "From: <lvs@lvs.test>") {
			t.Errorf("%s: body:\n%s\nsubjects %q", subject, m, subjects())
		}
	}
	// smtp_helo_name: the name postfix records the mail was sent with
	if m := mailWith(maildir, down); !strings.Contains(m, "Received: from lb-1.lvs.test ") {
		t.Errorf("smtp_helo_name lb-1.lvs.test not the HELO name:\n%s", m)
	}

	// a dead mail server at the stop: drain gives up at its bound, says so
	b := newAlerter(cfg, func(f string, x ...any) { logMu.Lock(); logs = append(logs, fmt.Sprintf(f, x...)); logMu.Unlock() })
	dead := *v
	dead.SMTP = freePort(t)
	go b.run(context.Background())
	b.setStatus("stopping")
	b.report(engine.Report{Kind: engine.Quorum, Virtual: &dead, On: false})
	t0 := time.Now()
	b.drain(2 * time.Second)
	if took := time.Since(t0); took > 10*time.Second {
		t.Errorf("drain took %s with a bound of 2s", took)
	}
	logMu.Lock()
	defer logMu.Unlock()
	if countOf(logs, "Virtualserver [192.0.2.1]:tcp:80 - DOWN: not sent after 3 attempts") != 1 {
		t.Errorf("log: %q", logs)
	}
}

func TestKeepalivedCheckLines(t *testing.T) {
	for _, tc := range []struct {
		s    check.Spec
		up   bool
		want string
	}{
		{check.Spec{Type: "connect"}, false, "=> TCP CHECK failed on service <="},
		{check.Spec{Type: "ping"}, true, "=> ICMP CHECK succeed on service <="},
		{check.Spec{Type: "negotiate", Service: "http"}, false, "=> CHECK failed on service : HTTP/SSL request failed <="},
		{check.Spec{Type: "negotiate", Service: "https"}, true, "=> CHECK succeed on service <="},
		{check.Spec{Type: "negotiate", Service: "dns"}, false, "=> DNS_CHECK: failed on service <="},
		{check.Spec{Type: "udp"}, true, "=> UDP CHECK succeed on service <="},
	} {
		if got := keepalivedCheckLine(tc.s, tc.up); got != tc.want {
			t.Errorf("%+v %v: %q, want %q", tc.s.Type, tc.up, got, tc.want)
		}
	}
}

// mailsWith are the bodies (after the header) of the mails in maildir
// whose subject is subject.
func mailsWith(maildir, subject string) []string {
	var out []string
	for _, m := range mailTexts(maildir) {
		if subj, body, _ := strings.Cut(m, " | "); subj == subject {
			out = append(out, body)
		}
	}
	return out
}

// mailTexts is every mail in maildir as "subject | body", sorted.
func mailTexts(maildir string) []string {
	files, _ := filepath.Glob(filepath.Join(maildir, "*"))
	var out []string
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if m, err := netmail.ReadMessage(bytes.NewReader(b)); err == nil {
			subj, _ := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
			body, _ := io.ReadAll(m.Body)
			out = append(out, subj+" | "+strings.TrimSpace(string(body)))
		}
	}
	sort.Strings(out)
	return out
}

// settleMails waits for n mails (30 s at most), then 3 s more for any
// that should not come.
func settleMails(subjects func() []string, n int) {
	netns.WaitFor(30*time.Second, func() bool { return len(subjects()) >= n })
	time.Sleep(3 * time.Second)
}

// emptyMaildir removes every mail delivered so far.
func emptyMaildir(maildir string) {
	files, _ := filepath.Glob(filepath.Join(maildir, "*"))
	for _, f := range files {
		os.Remove(f)
	}
}

// keepalived's mails at a start and at a reload, from the engine itself
// (over an in-memory kernel) to a real postfix: "Starting with quorum up"
// at start; a real down (its checker's mail); a reload taking out a real
// that is up: its "=> Removing <=" mail, the old virtual's "Lost quorum"
// (its old numbers) and the reload's own "Starting with quorum down", as
// keepalived's clear_diff_services then init_services send them. The
// real down keeps the total weight at the quorum (keepalived would lower
// a quorum above it).
func TestKeepalivedStartAndReloadMailsToPostfix(t *testing.T) {
	addr, maildir, subjects := startMailbox(t)
	host, port, _ := net.SplitHostPort(addr)
	conf := func(reals ...string) *config.Config {
		text := fmt.Sprintf("global_defs {\n  router_id lb-1\n  notification_email {\n    ops@lvs.test\n  }\n  notification_email_from lvs@lvs.test\n  smtp_server %s %s\n}\n", host, port) +
			"virtual_server 192.0.2.1 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  quorum 2\n  smtp_alert\n"
		for _, r := range reals {
			text += "  real_server " + r + " 8080 {\n    weight 1\n    TCP_CHECK {\n      connect_timeout 1\n      retry 0\n    }\n  }\n"
		}
		cfg, err := config.Parse("keepalived.conf", []byte(text+"}\n"))
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	cfg := conf("10.0.0.2", "10.0.0.3", "10.0.0.4")
	a := newAlerter(cfg, t.Logf)
	go a.run(context.Background())
	a.setStatus("running")
	eng := engine.New(cfg, engine.Options{Kernel: ipvs.NewMem(nil), Report: a.report, Command: func(string) {},
		Probe: func(_ context.Context, s *check.Spec) check.Result {
			return check.Result{OK: s.HostPort() != "10.0.0.4:8080"}
		}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	<-eng.Ready()
	failed := "[lb-1] Realserver [10.0.0.4]:tcp:8080 of virtual server [192.0.2.1]:tcp:80 - DOWN"
	if !netns.WaitFor(30*time.Second, func() bool { return countOf(subjects(), failed) == 1 }) {
		t.Fatalf("no %q: %q", failed, subjects())
	}
	if err := eng.Reload(ctx, conf("10.0.0.2", "10.0.0.4")); err != nil {
		t.Fatal(err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	a.drain(30 * time.Second)
	up, down := "[lb-1] Virtualserver [192.0.2.1]:tcp:80 - UP", "[lb-1] Virtualserver [192.0.2.1]:tcp:80 - DOWN"
	removed := "[lb-1] Realserver [10.0.0.3]:tcp:8080 of virtual server [192.0.2.1]:tcp:80 - DOWN"
	if !netns.WaitFor(30*time.Second, func() bool { return len(subjects()) >= 5 }) {
		t.Fatalf("mailbox: %q", subjects())
	}
	for subject, want := range map[string][]string{
		up:      {"=> Starting with quorum up 2+0=2 <= 3 <="},
		failed:  {"=> TCP CHECK failed on service <="},
		removed: {"=> Removing <="},
		down:    {"=> Lost quorum 2+0=2 <= 1 <=", "=> Starting with quorum down 2+0=2 <= 1 <="},
	} {
		if got := mailsWith(maildir, subject); strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("%s: %q, want %q", subject, got, want)
		}
	}
	if s := subjects(); len(s) != 5 {
		t.Errorf("mails: %q", s)
	}
}
