package check

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// checkDNS: ldirectord queries request (A, or PTR when it is an address)
// over the virtual's protocol and is up when an A address or PTR name
// matches receive (an empty receive is down). keepalived's DNS_CHECK
// (DNSType set) queries DNSName (default ".") for DNSType and is up on a
// NOERROR answer holding a record of that type.
func checkDNS(ctx context.Context, s *Spec) (string, error) {
	name := strings.TrimPrefix(s.Request, "/")
	qtype := dns.TypeA
	keepalived := s.DNSType != ""
	if keepalived {
		t, ok := dns.StringToType[strings.ToUpper(s.DNSType)]
		if !ok {
			return "", fmt.Errorf("dns: unknown type %q", s.DNSType)
		}
		qtype = t
		name = s.DNSName
		if name == "" {
			name = "."
		}
	} else {
		if s.Receive == "" {
			return "", fmt.Errorf("dns: empty receive (ldirectord counts that as down)")
		}
		if a, err := netip.ParseAddr(name); err == nil {
			name, _ = dns.ReverseAddr(a.String())
			qtype = dns.TypePTR
		}
	}
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.RecursionDesired = true
	c := &dns.Client{Net: "udp"}
	if s.Protocol == "tcp" {
		c.Net = "tcp"
	}
	if d, ok := ctx.Deadline(); ok {
		c.Timeout = timeUntil(d)
	}
	// miekg/dns heeds ctx's deadline but not its cancellation once
	// connected: a query in flight held the engine's stop (and so the
	// director's, and a cluster's move) until its timeout. The connection
	// is closed when ctx ends (a deadline moved to the past, as dial does
	// for the other checks, could be set again by the exchange after).
	co, err := c.DialContext(ctx, s.HostPort())
	if err != nil {
		return "", fmt.Errorf("dns %s %s: %w", dns.TypeToString[qtype], name, err)
	}
	stop := context.AfterFunc(ctx, func() { co.Close() })
	defer func() {
		if stop() { // else the AfterFunc closed it
			co.Close()
		}
	}()
	r, _, err := c.ExchangeWithConnContext(ctx, m, co)
	if err != nil {
		return "", fmt.Errorf("dns %s %s: %w", dns.TypeToString[qtype], name, err)
	}
	if r.Rcode != dns.RcodeSuccess {
		return "", fmt.Errorf("dns %s %s: %s", dns.TypeToString[qtype], name, dns.RcodeToString[r.Rcode])
	}
	var re interface{ MatchString(string) bool }
	if s.Receive != "" {
		rx, err := s.receivePattern()
		if err != nil {
			return "", err
		}
		re = rx
	}
	for _, rr := range r.Answer {
		if rr.Header().Rrtype != qtype {
			continue
		}
		var v string
		switch x := rr.(type) {
		case *dns.A:
			v = x.A.String()
		case *dns.AAAA:
			v = x.AAAA.String()
		case *dns.PTR:
			v = x.Ptr
		default:
			v = rr.String()
		}
		if re == nil || re.MatchString(v) {
			return fmt.Sprintf("dns %s %s: %s", dns.TypeToString[qtype], name, v), nil
		}
	}
	if keepalived && s.Receive == "" {
		return "", fmt.Errorf("dns %s %s: no %s record in the answer", dns.TypeToString[qtype], name, dns.TypeToString[qtype])
	}
	return "", fmt.Errorf("dns %s %s: no answer matches /%s/", dns.TypeToString[qtype], name, s.Receive)
}
