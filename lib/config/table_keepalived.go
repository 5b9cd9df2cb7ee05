package config

import (
	"bufio"
	"fmt"
)

// The plan of a keepalived.conf, in keepalived's terms: what lvsd will do
// with the file, told with the keywords its author wrote.

// writeKAGlobal prints the global_defs lvsd uses (the alert addresses);
// nothing when there are none: keepalived has no checkinterval, logfile or
// autoreload to report.
func writeKAGlobal(b *bufio.Writer, g *Global) {
	if s := kvs("notification_email", g.EmailAlert, "notification_email_from", g.EmailAlertFrom,
		"smtp_server", g.SMTP, "notify_fifo", g.NotifyFIFO, "lvs_notify_fifo", g.LVSNotifyFIFO, "vrrp_notify_fifo", g.VRRPNotifyFIFO); s != "" {
		fmt.Fprintf(b, "global_defs%s\n", s)
	}
}

func writeKAVirtual(b *bufio.Writer, v *Virtual) {
	fmt.Fprintln(b, v.VirtualHeader())
	for _, r := range v.Reals {
		fmt.Fprintln(b, kaRealLine("->", r))
		writeFileChecks(b, r, "FILE_CHECK")
		c := r.Check
		if c == nil {
			c = &v.Check
		}
		fmt.Fprintf(b, "     %s\n", kaCheckerLine(c, v, r))
		for i := range c.Also {
			// run with the first, on its schedule: all must pass
			a := c.Also[i]
			a.Interval, a.FailureCount, a.RetryDelay, a.StartUp, a.Warmup = c.Interval, c.FailureCount, c.RetryDelay, c.StartUp, c.Warmup
			fmt.Fprintf(b, "     and %s\n", kaCheckerLine(&a, v, r))
		}
	}
	if v.Fallback != nil {
		fmt.Fprintln(b, kaRealLine("sorry_server", v.Fallback))
	}
	s := "  inhibit_on_failure=" + yn(v.Quiescent)
	if v.Quorum > 0 || v.Hysteresis > 0 || v.QuorumUp != "" || v.QuorumDown != "" {
		s += fmt.Sprintf(" quorum=%d hysteresis=%d%s", v.Quorum, v.Hysteresis,
			kvs("quorum_up", v.QuorumUp, "quorum_down", v.QuorumDown))
	}
	fmt.Fprintln(b, s)
}

// kaRealLine is realLine with keepalived's name for a real's quiescent.
func kaRealLine(prefix string, r *Real) string {
	q := r.Quiescent
	r2 := *r
	r2.Quiescent = nil
	s := realLine(prefix, &r2)
	if q != nil {
		s += " inhibit_on_failure=" + yn(*q)
	}
	return s
}

// kaCheckerLine names the checker real r gets and every setting it runs
// with, the port it connects to included (keepalived checks the port
// written on real_server, or connect_port).
func kaCheckerLine(c *Check, v *Virtual, r *Real) string {
	name := ""
	switch c.Type {
	case "on":
		if len(r.Files) > 0 {
			return "no other checker: up while its FILE_CHECKs say so"
		}
		return "no checker: always up"
	case "off":
		return "no checker: always down"
	case "connect":
		name = "TCP_CHECK"
		if c.Proto != TCP && v.Protocol == UDP { // a connect check of a udp virtual pings (ldirectord's meaning)
			name += " (a UDP virtual_server: lvsd pings the real)"
		}
	case "ping":
		name = "PING_CHECK"
	case "udp":
		name = "UDP_CHECK"
	case "external":
		name = "MISC_CHECK"
	case "negotiate":
		switch c.Service {
		case "http":
			name = "HTTP_GET"
		case "https":
			name = "SSL_GET"
		case "dns":
			name = "DNS_CHECK"
		case "smtp":
			name = "SMTP_CHECK"
		}
	}
	if name == "" {
		// not a keepalived checker (a TOML file printed in keepalived's terms)
		return "check " + checkLine(c, v) + " " + timingLine(c)
	}
	s := name
	if c.Type != "ping" && c.Type != "external" {
		port := c.Port
		if port == 0 {
			port = r.Port
		}
		if port == 0 {
			port = ServicePort(c.Service)
		}
		s += fmt.Sprintf(" connect_port=%d", port)
	}
	switch name {
	case "HTTP_GET", "SSL_GET":
		s += fmt.Sprintf(" url path=%q", c.Request)
		for i, sr := range c.StatusCodes {
			if i == 0 {
				s += " status_code="
			} else {
				s += ","
			}
			s += sr.String()
		}
		s += kvs("digest", c.Digest, "regex", c.Receive, "virtualhost", c.VirtualHost)
	case "DNS_CHECK":
		s += kvs("type", c.DNSType, "name", c.DNSName)
	case "UDP_CHECK":
		s += udpKV(c)
	case "MISC_CHECK":
		s += kvs("misc_path", c.Command)
		if !c.MiscPath {
			s += " (run with ldirectord's arguments)"
		}
		if c.Dynamic {
			s += " misc_dynamic (exit 0: weight as configured, 1: down, 2-255: weight exit-2; other, signal, timeout: down)"
		}
		s += runAsWord(c.RunAs)
	}
	if c.Type == "external" {
		s += " misc_timeout=" + dur(c.CheckTimeout)
	} else {
		s += " connect_timeout=" + dur(c.CheckTimeout)
	}
	s += fmt.Sprintf(" delay_loop=%s retry=%d delay_before_retry=%s", dur(c.Interval), c.FailureCount-1, dur(c.RetryDelay))
	if !c.StartUp {
		s += " alpha"
	}
	switch {
	case c.Warmup == NoWarmup:
		s += " warmup=0s"
	case c.Warmup > 0:
		s += " warmup=" + dur(c.Warmup)
	}
	return s
}

func (sr StatusRange) String() string {
	if sr.Lo == sr.Hi {
		return fmt.Sprint(sr.Lo)
	}
	return fmt.Sprintf("%d-%d", sr.Lo, sr.Hi)
}

// udpKV is a UDP_CHECK's settings, the bytes in hex as keepalived writes them.
func udpKV(c *Check) string {
	s := ""
	if c.Payload != "" {
		s += fmt.Sprintf(" payload=%x", c.Payload)
	}
	if c.RequireReply {
		s += fmt.Sprintf(" require_reply=%x min_reply_length=%d max_reply_length=%d", c.Reply, c.MinReply, c.MaxReply)
	}
	return s
}

// writeFileChecks prints a real's FILE_CHECKs (key: FILE_CHECK, or TOML's
// file_check) and what their files do to it.
func writeFileChecks(b *bufio.Writer, r *Real, key string) {
	for _, f := range r.Files {
		fmt.Fprintf(b, "     %s track_file=%s file=%q weight=%d%s: %s\n", key, f.Track.Name, f.Track.File, f.Weight,
			reverseWord(f.Reverse), fileEffect(f.Weight, f.Reverse, "the real down", "its weight"))
	}
}

func reverseWord(rev bool) string {
	if rev {
		return " reverse"
	}
	return ""
}

func runAsWord(ra *RunAs) string {
	if ra == nil {
		return ""
	}
	s := " user=" + ra.User
	if ra.Group != "" {
		s += ":" + ra.Group
	}
	return s
}

// fileEffect says what a tracked file's value v does, with weight w.
func fileEffect(w int, rev bool, down, what string) string {
	switch {
	case w == 0 && rev:
		return "value 0 puts " + down + ", any other nothing"
	case w == 0:
		return "a value other than 0 puts " + down + ", 0 nothing"
	case rev:
		return fmt.Sprintf("value v adds %d*v to %s", -w, what)
	}
	return fmt.Sprintf("value v adds %d*v to %s", w, what)
}

// trackEffect says what a VRRP tracker does to the instance's priority.
func trackEffect(kind string, t TrackRef) string {
	if kind == "track_file" {
		return ": " + fileEffect(t.Weight, t.Reverse, "the instance in FAULT", "the priority (FAULT at -254)")
	}
	what := "while it passes"
	fails := "while it fails"
	if kind == "track_interface" {
		what, fails = "while up", "while down"
	}
	add, _ := TrackWeight(true, t.Weight, t.Reverse)
	addF, _ := TrackWeight(false, t.Weight, t.Reverse)
	switch {
	case t.Weight == 0 && t.Reverse:
		return ": FAULT " + what
	case t.Weight == 0:
		return ": FAULT " + fails
	case add != 0:
		return fmt.Sprintf(": priority %+d %s", add, what)
	}
	return fmt.Sprintf(": priority %+d %s", addF, fails)
}
