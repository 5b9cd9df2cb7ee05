package main

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/user"
	"strconv"
	"strings"
	"sync"
	"time"

	mail "github.com/wneessen/go-mail"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
)

// alerter is ldirectord's e-mail alerts (emailalert, emailalertfreq,
// emailalertstatus, emailalertfrom, smtp; keepalived's notification_email,
// notification_email_from and smtp_server import to the same): one mail
// per real going down or up, a fallback going on or off, and, every
// emailalertfreq while a real stays down, "Inaccessible real server".
// Subjects and body are ldirectord's. Mails are queued and sent by one
// goroutine with go-mail (smtp set) or sendmail (not set, as ldirectord's
// Mail::Send): the engine never waits for a mail server; a dead one is
// logged, retried a bounded number of times, then the mail is dropped.
type alerter struct {
	from     string
	routerID string        // keepalived's router_id (the host name when unset)
	host     string        // for the body, as ldirectord's "ldirectord host:"
	helo     string        // smtp_helo_name ("" = host)
	timeout  time.Duration // smtp_connect_timeout (0 = 10 s)
	log      func(format string, a ...any)
	send     func(ctx context.Context, a alert) error
	retry    []time.Duration // waits between attempts

	mu     sync.Mutex
	status string                // starting, running, reloading, stopping
	down   map[string]*downAlert // real (virtual) -> its last alert, for emailalertfreq
	q      chan alert

	// an orderly stop (drain): what is queued is still sent, within a bound
	stopOnce sync.Once
	stopping chan struct{}
	deadline time.Time // set before stopping is closed
	finished chan struct{}
}

type alert struct {
	to      []string
	smtp    string
	subject string
	body    string
}

type downAlert struct {
	v    *config.Virtual
	real string
	at   time.Time
}

// newAlerter makes the alerter of a run; each report carries its
// virtual, whose emailalert* settings (the running configuration's) decide.
func newAlerter(cfg *config.Config, log func(string, ...any)) *alerter {
	host, _ := os.Hostname()
	a := &alerter{from: cfg.Global.EmailAlertFrom, routerID: cfg.Global.RouterID, host: host, log: log, status: "starting",
		helo: cfg.Global.SMTPHelo, timeout: cfg.Global.SMTPConnectTimeout,
		down: map[string]*downAlert{}, q: make(chan alert, 256), retry: []time.Duration{2 * time.Second, 10 * time.Second},
		stopping: make(chan struct{}), finished: make(chan struct{})}
	a.send = a.sendMail
	return a
}

// setGlobal follows a reload's emailalertfrom (notification_email_from)
// and router_id.
func (a *alerter) setGlobal(g *config.Global) {
	a.mu.Lock()
	a.from, a.routerID, a.helo, a.timeout = g.EmailAlertFrom, g.RouterID, g.SMTPHelo, g.SMTPConnectTimeout
	a.mu.Unlock()
}

// setStatus is the daemon's status, as emailalertstatus filters it.
func (a *alerter) setStatus(s string) {
	if a == nil {
		return
	}
	a.mu.Lock()
	a.status = s
	a.mu.Unlock()
}

// virtualName is ldirectord's get_virtual: ip:port, or the fwmark.
func virtualName(v *config.Virtual) string {
	if v.Protocol == "fwm" {
		return strconv.Itoa(int(v.FWMark))
	}
	return netip.AddrPortFrom(v.Addr, v.Port).String()
}

func realName(v *config.Virtual, r *config.Real) string {
	port := r.Port
	if port == 0 {
		port = v.Port
	}
	return netip.AddrPortFrom(r.Addr, port).String()
}

// report turns an engine report into the mail ldirectord sends for it.
// It runs on the engine's goroutine: it only queues.
func (a *alerter) report(r engine.Report) {
	if a == nil {
		return
	}
	switch r.Kind {
	case engine.Health:
		p, ok := r.Check.Sub.Data.(check.Pair)
		if !ok || p.V == nil || p.R == nil {
			return
		}
		if p.V.MailStyle == "keepalived" {
			a.keepalivedReal(r.Check, p)
			return
		}
		rs, id := realName(p.V, p.R), realName(p.V, p.R)+" ("+virtualName(p.V)+")"
		switch {
		case r.Check.To == check.Down && r.Check.From == check.Up:
			subject := "Deleted real server: " + id
			if quiet := p.R.Quiescent; (quiet != nil && *quiet) || (quiet == nil && (p.V.Quiescent || p.V.InhibitOnFailure)) {
				subject = "Quiescent real server: " + id + " (Weight set to 0)"
			}
			a.mu.Lock()
			if p.V.EmailAlertFreq > 0 {
				a.down[id] = &downAlert{v: p.V, real: rs, at: r.Time}
			}
			a.mu.Unlock()
			a.queue(p.V, subject)
		case r.Check.To == check.Up && r.Check.From != check.Up:
			a.mu.Lock()
			delete(a.down, id)
			a.mu.Unlock()
			a.queue(p.V, fmt.Sprintf("Added real server: %s (Weight set to %d)", id, p.R.Weight))
		}
	case engine.Quorum:
		if v := r.Virtual; v != nil && v.MailStyle == "keepalived" && v.QuorumAlert {
			a.keepalivedQuorum(r)
		}
	case engine.Removed:
		if v := r.Virtual; v != nil && r.Real != nil && v.MailStyle == "keepalived" && !r.Real.NoAlert {
			a.keepalivedRemoved(v, r.Real)
		}
	case engine.Fallback:
		if r.Virtual == nil || r.Virtual.Fallback == nil || r.Virtual.MailStyle == "keepalived" {
			return
		}
		id := realName(r.Virtual, r.Virtual.Fallback) + " (" + virtualName(r.Virtual) + ")"
		if r.On {
			a.queue(r.Virtual, "Added fallback server: "+id+" (Weight set to 1)")
		} else {
			a.queue(r.Virtual, "Deleted fallback server: "+id)
		}
	}
}

// resend is ldirectord's ld_emailalert_resend: every emailalertfreq while
// a real stays down.
func (a *alerter) resend(now time.Time) {
	a.mu.Lock()
	var due []*downAlert
	var ids []string
	for id, d := range a.down {
		if now.Sub(d.at) >= d.v.EmailAlertFreq {
			d.at = now
			due, ids = append(due, d), append(ids, id)
		}
	}
	a.mu.Unlock()
	for i, d := range due {
		a.queue(d.v, "Inaccessible real server: "+ids[i])
	}
}

func wantStatus(filter []string, status string) bool {
	if len(filter) == 0 {
		return true // ldirectord's default: all
	}
	for _, f := range filter {
		if f == "all" || f == status {
			return true
		}
	}
	return false
}

// keepalivedReal is keepalived's mail for a real's checker going up (from
// down, or its first pass with alpha) or down (from up), as its checkers
// send it (smtp.c's SMTP_MSG_RS): subject "[router_id] Realserver
// [10.0.0.2]:tcp:80 of virtual server [192.0.2.1]:tcp:80 - DOWN", the
// checker's line as the body.
func (a *alerter) keepalivedReal(ev *check.Event, p check.Pair) {
	up := ev.To == check.Up && (ev.From == check.Down || (ev.From == check.Unknown && !ev.Sub.StartUp))
	down := ev.To == check.Down && ev.From == check.Up
	if (!up && !down) || p.R.NoAlert {
		return
	}
	state := "DOWN"
	if up {
		state = "UP"
	}
	a.queueMail(p.V, a.kaRealSubject(p.V, p.R, state), keepalivedCheckLine(ev.Sub.Spec, up))
}

// kaRealSubject is smtp.c's subject of SMTP_MSG_RS and SMTP_MSG_RS_SHUT.
func (a *alerter) kaRealSubject(v *config.Virtual, r *config.Real, state string) string {
	port := r.Port
	if port == 0 {
		port = v.Port
	}
	return fmt.Sprintf("[%s] Realserver %s of virtual server %s - %s", a.router(), kaTrio(r.Addr, kaProto(v), port), kaVS(v), state)
}

// keepalivedRemoved is keepalived's mail for a real a reload took out
// while it was up (ipwrapper.c's clear_service_rs, SMTP_MSG_RS_SHUT).
func (a *alerter) keepalivedRemoved(v *config.Virtual, r *config.Real) {
	a.queueMail(v, a.kaRealSubject(v, r, "DOWN"), "=> Removing <=")
}

// keepalivedCheckLine is the body keepalived's checker of that kind
// sends (check_tcp.c, check_http.c, check_ping.c, ...).
func keepalivedCheckLine(s check.Spec, up bool) string {
	verdict := "failed"
	if up {
		verdict = "succeed"
	}
	switch {
	case s.Type == "connect":
		return "=> TCP CHECK " + verdict + " on service <="
	case s.Type == "ping":
		return "=> ICMP CHECK " + verdict + " on service <="
	case s.Type == "udp":
		return "=> UDP CHECK " + verdict + " on service <="
	case s.Type == "negotiate" && s.Service == "dns":
		return "=> DNS_CHECK: " + verdict + " on service <="
	case s.Type == "negotiate" && (s.Service == "http" || s.Service == "https") && !up:
		return "=> CHECK failed on service : HTTP/SSL request failed <="
	case s.Type == "external" || s.Type == "external-perl":
		return "=> MISC CHECK " + verdict + " on service <="
	}
	return "=> CHECK " + verdict + " on service <="
}

// keepalivedQuorum is keepalived's mail for a virtual gaining or losing
// quorum (ipwrapper.c's do_vs_notifies, SMTP_MSG_VS): "[router_id]
// Virtualserver [192.0.2.1]:tcp:80 - UP", body "=> Gained quorum
// 1+0=1 <= 2 <=" (quorum, hysteresis, the threshold crossed, the weight
// of the reals up).
func (a *alerter) keepalivedQuorum(r engine.Report) {
	v := r.Virtual
	q := v.Quorum
	if q <= 0 {
		q = 1 // keepalived's default
	}
	what := map[[2]bool]string{{true, true}: "Starting with quorum up", {true, false}: "Gained quorum",
		{false, true}: "Starting with quorum down", {false, false}: "Lost quorum"}[[2]bool{r.On, r.First}]
	// the threshold crossed, from the state before (update_quorum_state)
	threshold := q + v.Hysteresis
	if r.Held {
		threshold = q - v.Hysteresis
	}
	state := "DOWN"
	if r.On {
		state = "UP"
	}
	a.queueMail(v, fmt.Sprintf("[%s] Virtualserver %s - %s", a.router(), kaVS(v), state),
		fmt.Sprintf("=> %s %d+%d=%d <= %d <=", what, q, v.Hysteresis, threshold, r.Weight))
}

func (a *alerter) router() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.routerID != "" {
		return a.routerID
	}
	return a.host // keepalived's default router_id: the host name
}

func (a *alerter) queue(v *config.Virtual, subject string) {
	a.mu.Lock()
	status := a.status
	a.mu.Unlock()
	if v.EmailAlert == "" || !wantStatus(v.EmailAlertStatus, status) {
		return
	}
	if v.ServiceName != "" {
		subject = "[" + v.ServiceName + "] " + subject
	}
	body := fmt.Sprintf("lvsd host: %s\nLog-Message: %s\nDaemon-Status: %s\n", a.host, subject, status)
	if v.ServiceName != "" || v.Comment != "" {
		body += "\n"
		if v.ServiceName != "" {
			body += "Service name: " + v.ServiceName + "\n"
		}
		if v.Comment != "" {
			body += "Comment: " + v.Comment + "\n"
		}
	}
	a.queueMail(v, subject, body)
}

// queueMail queues one mail to the virtual's recipients, never waiting.
func (a *alerter) queueMail(v *config.Virtual, subject, body string) {
	a.mu.Lock()
	status := a.status
	a.mu.Unlock()
	if v.EmailAlert == "" || !wantStatus(v.EmailAlertStatus, status) {
		return
	}
	var to []string
	for _, t := range strings.Split(v.EmailAlert, ",") {
		if t = strings.TrimSpace(t); t != "" {
			to = append(to, t)
		}
	}
	select {
	case a.q <- alert{to: to, smtp: v.SMTP, subject: subject, body: body}:
		a.log("emailalert: %s", subject)
	default:
		a.log("emailalert: %s: not sent, the mail queue is full (the mail server is slow or down)", subject)
	}
}

// run sends the queued mails and repeats the down alerts until drain
// (the orderly stop: what is queued then is still sent, within its bound)
// or ctx ends (abandoned: nothing more is sent).
func (a *alerter) run(ctx context.Context) {
	defer close(a.finished)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case m := <-a.q:
			a.deliver(ctx, m)
		case now := <-tick.C:
			a.resend(now)
		case <-a.stopping:
			end, cancel := context.WithDeadline(ctx, a.deadline)
			defer cancel()
			for {
				select {
				case m := <-a.q:
					a.deliver(end, m)
				default:
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}

// drain is the orderly stop: the mails queued (the stop's own among
// them) are sent, within bound; those left then are logged as not sent.
func (a *alerter) drain(bound time.Duration) {
	if a == nil {
		return
	}
	a.stopOnce.Do(func() {
		a.deadline = time.Now().Add(bound)
		close(a.stopping)
	})
	select {
	case <-a.finished:
	case <-time.After(bound + time.Second): // a send past its deadline
	}
	if n := len(a.q); n > 0 {
		a.log("emailalert: %d mail(s) not sent: the stop waits %s at most for the mail server", n, bound)
	}
}

func (a *alerter) deliver(ctx context.Context, m alert) {
	var err error
	for i := 0; ; i++ {
		if err = a.send(ctx, m); err == nil {
			return
		}
		if i >= len(a.retry) || ctx.Err() != nil {
			break
		}
		select {
		case <-time.After(a.retry[i]):
		case <-a.stopping: // at the stop: the next attempt now, within the stop's bound
		case <-ctx.Done():
		}
	}
	a.log("emailalert: %s: not sent after %d attempts: %v", m.subject, len(a.retry)+1, err)
}

// sendMail sends through smtp (host or host:port, port 25 by default,
// STARTTLS when offered), or sendmail when no smtp is set.
func (a *alerter) sendMail(ctx context.Context, m alert) error {
	// 8bit, as keepalived and ldirectord send their plain lines: a body
	// of "=> TCP CHECK failed on service <=" stays greppable in a mailbox
	msg := mail.NewMsg(mail.WithEncoding(mail.NoEncoding))
	a.mu.Lock()
	from, helo, timeout := a.from, a.helo, a.timeout
	a.mu.Unlock()
	if helo == "" {
		helo = a.host
	}
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	if from == "" {
		from = "root@" + a.host // ldirectord: the user at the host name
		if u, err := user.Current(); err == nil {
			from = u.Username + "@" + a.host
		}
	}
	if err := msg.From(from); err != nil {
		return fmt.Errorf("emailalertfrom %q: %w", from, err)
	}
	if err := msg.To(m.to...); err != nil {
		return fmt.Errorf("emailalert %q: %w", strings.Join(m.to, ","), err)
	}
	msg.Subject(m.subject)
	msg.SetDate()
	msg.SetBodyString(mail.TypeTextPlain, m.body)
	if m.smtp == "" {
		return msg.WriteToSendmail()
	}
	host, port := m.smtp, 25
	if h, p, err := net.SplitHostPort(m.smtp); err == nil {
		n, err := strconv.Atoi(p)
		if err != nil {
			return fmt.Errorf("smtp %q: bad port", m.smtp)
		}
		host, port = h, n
	}
	c, err := mail.NewClient(host, mail.WithPort(port), mail.WithTLSPolicy(mail.TLSOpportunistic),
		mail.WithTimeout(timeout), mail.WithHELO(helo))
	if err != nil {
		return err
	}
	return c.DialAndSendWithContext(ctx, msg)
}
