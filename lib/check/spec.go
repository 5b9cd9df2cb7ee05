// Package check runs ldirectord's (and keepalived's) health checks against
// real servers and reports state changes. It knows nothing about IPVS: the
// director rules turn its events into table operations.
//
// Spec describes one check of one real server; Run performs it once, bounded
// by the context. Engine schedules thousands of them (interval with start-up
// jitter, bounded concurrency, failurecount, maintenance directory) and
// shares identical checks between virtual services.
package check

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Spec is everything a single check needs. Two subscriptions whose Specs
// (and intervals) are equal share one probe.
type Spec struct {
	Type           string          // connect, ping, external, negotiate, combined, on, off
	Service        string          // negotiate: http, https, http_proxy, dns, mysql, ...
	NegotiateEvery int             // combined (checktype=N): negotiate after N good connects
	Protocol       config.Protocol // the probe's: the virtual's protocol (tcp, udp, sctp or fwm), or the check's own (config.Check.Proto)

	Addr     netip.Addr // the real server
	Port     uint16     // port checked: checkport, else the real's, else the service's
	RealPort uint16     // the real's own port (external's 4th argument)
	VIP      string     // virtual address or fwmark (external's 1st argument)
	VPort    uint16     // virtual port (external's 2nd argument)

	Request, Receive        string
	HTTPMethod, VirtualHost string
	Login, Passwd           string
	Database, Secret        string
	Command                 string // external: checkcommand
	Shell                   bool   // keepalived MISC_CHECK: Command is a sh -c line, no arguments added
	Dynamic                 bool   // keepalived misc_dynamic: exit 2..255 passes too, and sets the weight
	RunAs                   bool   // run Command as UID:GID (keepalived MISC_CHECK user)
	UID, GID                uint32
	CheckTimeout            time.Duration
	NegotiateTimeout        time.Duration
	Count                   int              // ping attempts (checkcount)
	VerifyTLS               bool             // https/ldaps/pops/imaps: verify the certificate
	StatusCodes             config.StatusSet // keepalived status_code; empty = any 2xx (after redirects)
	Digest                  string           // keepalived HTTP_GET digest: md5 hex of the body
	DNSType, DNSName        string           // keepalived DNS_CHECK; ldirectord: A/PTR of Request
	// keepalived UDP_CHECK (Type "udp"): the datagram sent, and whether a
	// reply is needed, what it starts with and its length bounds
	Payload, Reply     string
	RequireReply       bool
	MinReply, MaxReply int
	// Also are more checks of the real that must pass too (keepalived's
	// several checkers on one real_server, or url blocks): run after this
	// one, each bounded by its own timeout. A pointer keeps Spec
	// comparable (two such reals are probed apart, never shared).
	Also *[]Spec
	// ReceiveRE is Receive as compiled when the configuration was read
	// (SpecFor passes the model's); nil only for a Spec built by hand.
	ReceiveRE *regexp.Regexp
}

// Key identifies identical checks (dedupe).
// The virtual's address and the real's own port matter only to external
// checks (they are its arguments): a real checked the same way in two
// virtual services is probed once.
func (s *Spec) Key() string {
	return fmt.Sprintf("%+v", s.normalized())
}

// normalized is the spec with what does not change the probe cleared.
func (s *Spec) normalized() Spec {
	c := *s
	if (c.Type != "external" && c.Type != "external-perl") || c.Shell {
		c.VIP, c.VPort, c.RealPort = "", 0, 0
	}
	c.ReceiveRE = nil // Receive says it (and a pointer differs per load)
	return c
}

// receivePattern is the compiled Receive: the configuration's when it is
// this Receive's, else (a Spec built by hand) compiled once and cached.
func (s *Spec) receivePattern() (*regexp.Regexp, error) {
	if s.ReceiveRE != nil && s.ReceiveRE.String() == s.Receive {
		return s.ReceiveRE, nil
	}
	return receiveRE(s.Receive)
}

// HostPort is the address checked, "ip:port" or "[v6]:port".
func (s *Spec) HostPort() string {
	return net.JoinHostPort(s.Addr.String(), strconv.Itoa(int(s.Port)))
}

// Timeout is the bound on one run: checktimeout for connect, ping and
// external; negotiatetimeout for negotiate (as ldirectord does).
func (s *Spec) Timeout() time.Duration {
	d := s.CheckTimeout
	if s.Type == "negotiate" {
		d = s.NegotiateTimeout
	}
	if d <= 0 { // a Spec built by hand: lib/config always resolves them
		d = config.DefaultCheckTimeout
	}
	return d
}

// Result of one run.
type Result struct {
	OK      bool
	Reason  string // why: "HTTP 200 OK", "connect: connection refused", ...
	Latency time.Duration
	// Exits are the exit statuses of the misc_dynamic checks run (0 or
	// 2..255 when OK), in order: they set the weight (see Engine.output).
	Exits []int
}

// Services lists every negotiate service Run understands.
var Services = []string{"http", "https", "http_proxy", "dns", "mysql", "pgsql",
	"oracle", "ldap", "ldaps", "smtp", "submission", "pop", "pops", "imap",
	"imaps", "nntp", "ftp", "radius", "sip", "simpletcp", "none"}

// Run performs one check, bounded by ctx and by s.Timeout().
//
// With Also, every check runs in turn and the first failure is the result
// (its reason names which check failed); all passing give one result.
func Run(ctx context.Context, s *Spec) Result {
	r := runOne(ctx, s)
	if s.Also == nil || !r.OK {
		return r
	}
	for i := range *s.Also {
		a := runOne(ctx, &(*s.Also)[i])
		r.Latency += a.Latency
		r.Exits = append(r.Exits, a.Exits...)
		if !a.OK {
			a.Latency = r.Latency
			a.Reason = fmt.Sprintf("check %d of %d: %s", i+2, len(*s.Also)+1, a.Reason)
			return a
		}
		r.Reason += "; " + a.Reason
	}
	return r
}

func runOne(ctx context.Context, s *Spec) Result {
	ctx, cancel := context.WithTimeout(ctx, s.Timeout())
	defer cancel()
	if s.Dynamic && s.Type == "external" { // the exit status is the result
		var st int
		r := runWith(ctx, s, func(ctx context.Context, s *Spec) (reason string, err error) {
			reason, st, err = runCommand(ctx, s)
			return reason, err
		})
		r.Exits = []int{st}
		return r
	}
	if plan := planHot(s); plan != nil {
		r, slow, err := runHot(ctx, s, plan)
		if err == nil && !slow {
			return r
		}
		if slow { // a redirect: net/http follows it, in what is left of the time
			return runWith(ctx, s, checkHTTPClient)
		}
	}
	return runWith(ctx, s, run)
}

// runWith runs fn as one check bounded by ctx.
func runWith(ctx context.Context, s *Spec, fn func(context.Context, *Spec) (string, error)) Result {
	t0 := time.Now()
	reason, err := fn(ctx, s)
	r := Result{OK: err == nil, Reason: reason, Latency: time.Since(t0)}
	if err != nil {
		r.Reason = errReason(ctx, err)
	}
	if strings.ContainsAny(r.Reason, "\r\n\t") { // one line for logs and events
		r.Reason = strings.Join(strings.Fields(r.Reason), " ")
	}
	return r
}

func errReason(ctx context.Context, err error) string {
	if ctx.Err() == context.DeadlineExceeded {
		return "timeout: " + err.Error()
	}
	return err.Error()
}

func run(ctx context.Context, s *Spec) (string, error) {
	switch s.Type {
	case "on":
		return "checktype on", nil
	case "off":
		return "", fmt.Errorf("checktype off")
	case "connect":
		if s.Protocol == "udp" { // ldirectord pings udp reals for connect
			return checkPing(ctx, s)
		}
		return checkConnect(ctx, s)
	case "ping":
		return checkPing(ctx, s)
	case "udp":
		return checkUDP(ctx, s)
	case "external", "external-perl":
		return checkExternal(ctx, s)
	case "negotiate", "":
		return negotiate(ctx, s)
	}
	return "", fmt.Errorf("unknown checktype %q", s.Type)
}

func negotiate(ctx context.Context, s *Spec) (string, error) {
	switch s.Service {
	case "http", "https", "http_proxy":
		return checkHTTP(ctx, s)
	case "dns":
		return checkDNS(ctx, s)
	case "mysql":
		return checkMySQL(ctx, s)
	case "pgsql":
		return checkPgSQL(ctx, s)
	case "oracle":
		return "", fmt.Errorf("oracle: unsupported (no pure-Go Oracle driver is available); use checktype=connect or external")
	case "ldap", "ldaps":
		return checkLDAP(ctx, s)
	case "smtp", "submission":
		return checkSMTP(ctx, s)
	case "pop", "pops":
		return checkPOP(ctx, s)
	case "imap", "imaps":
		return checkIMAP(ctx, s)
	case "nntp":
		return checkNNTP(ctx, s)
	case "ftp":
		return checkFTP(ctx, s)
	case "radius":
		return checkRADIUS(ctx, s)
	case "sip":
		return checkSIP(ctx, s)
	case "simpletcp":
		return checkSimpleTCP(ctx, s)
	case "none", "":
		return "service none", nil
	}
	return "", fmt.Errorf("unknown service %q", s.Service)
}
