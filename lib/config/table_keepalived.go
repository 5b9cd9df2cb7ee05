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
		return "no checker: always up"
	case "off":
		return "no checker: always down"
	case "connect":
		name = "TCP_CHECK"
		if v.Protocol == "udp" {
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
