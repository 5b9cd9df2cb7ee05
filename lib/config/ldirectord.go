package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ldirectord.cf reader. It follows ldirectord's own code (read_config,
// ld_setup) rather than its man page: the same directives, defaults and
// timeout resolution. Where ldirectord rejects something harmless (a blank
// after yes/no, an unquoted request, a quoted "l:5") the value is accepted
// with a warning; where it silently misreads something (virtual=1.2.3.4 taken
// as fwmark 1, a real "host::port" parsed from the middle) we report an error.

// Defaults ldirectord applies (set_defaults).
const (
	DefaultCheckInterval    = 10 * time.Second
	DefaultCheckTimeout     = 5 * time.Second
	DefaultNegotiateTimeout = 30 * time.Second
	DefaultLogFile          = "/var/log/ldirectord.log"
)

// unset marks a numeric directive that was not given (ldirectord's -1).
const unset = -1

type ldVirtual struct {
	v                                   *Virtual
	checkTimeout, negotiateTimeout      int
	checkCount, failureCount, checkIntv int
	quiescent, cleanStop                *bool
	serviceSet, ftpLogin                bool
	fallbackSet, emailSet, emailFreqSet bool
	emailStatusSet, smtpSet, fbCmdSet   bool
	persistentLine, netmaskLine         int
	schedFlagsLine, opsLine             int
	serviceLine                         int
	reals                               []lineVal
	addrRaw, portRaw                    string
	addrOK                              bool // addrRaw/portRaw parsed
	realSeen                            map[netip.AddrPort]int
}

type lineVal struct {
	line int
	val  string
}

type ldParser struct {
	d   diags
	o   Options
	cfg *Config
	// global numeric directives, unset = -1 as in ldirectord
	checkTimeout, negotiateTimeout int
	checkInterval, checkCount      int
	failureCount                   int
	fallback, fallback6            *lineVal
	virtuals                       []*ldVirtual
	seen                           map[string]int
	trailing                       bool     // the current line ends in blanks
	re                             patterns // receive patterns compiled so far
}

func parseLdirectord(name string, data []byte, o Options) (*Config, error) {
	p := &ldParser{
		d:            diags{file: name},
		o:            o,
		cfg:          &Config{Source: name, Format: "ldirectord"},
		seen:         map[string]int{},
		checkTimeout: unset, negotiateTimeout: unset,
		checkInterval: 10, checkCount: 1, failureCount: 1,
	}
	g := &p.cfg.Global
	g.CleanStop = true
	g.LogFile = DefaultLogFile
	g.EmailAlertStatus = []string{"all"}

	rest := string(data) // lines below are substrings of this one copy
	var cur *ldVirtual
	blankAfter := 0 // line of a blank line seen inside the current virtual
	for n := 1; rest != ""; n++ {
		raw := rest
		if i := strings.IndexByte(rest, '\n'); i >= 0 {
			raw, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		raw = strings.TrimRight(raw, "\r")
		trimmed := strings.TrimSpace(raw)
		p.trailing = strings.TrimRight(raw, " \t") != raw
		if trimmed == "" {
			if cur != nil && blankAfter == 0 {
				blankAfter = n
			}
			continue
		}
		if trimmed[0] == '#' {
			continue // ldirectord skips comment lines anywhere, even in a block
		}
		indented := raw[0] == ' ' || raw[0] == '\t'
		if indented {
			if cur == nil {
				p.d.errorf(n, "indented line %q outside a virtual service (a global directive starts in column 0)", trimmed)
				continue
			}
			if blankAfter != 0 {
				p.d.warnf(n, "line continues the virtual service of line %d after a blank line (ldirectord ends the block at the blank line %d and rejects this line)", cur.v.Line, blankAfter)
				blankAfter = 0
			}
			if col := indentWidth(raw); col < 4 {
				p.d.warnf(n, "indented by %d columns; ldirectord needs at least 4 (or a tab)", col)
			}
			p.virtualLine(cur, n, trimmed)
			continue
		}
		blankAfter = 0
		key, val, ok := splitDirective(trimmed)
		if ok && (key == "virtual" || key == "virtual6") {
			cur = p.newVirtual(n, key == "virtual6", stripComment(&p.d, n, val, false))
			continue
		}
		cur = nil
		p.globalLine(n, trimmed)
	}
	p.finish()
	p.cfg.Warnings = sorted(p.d.warnings)
	if len(p.d.errs) > 0 {
		return nil, p.d.fail()
	}
	return p.cfg, nil
}

func indentWidth(s string) int {
	w := 0
	for _, c := range s {
		switch c {
		case ' ':
			w++
		case '\t':
			w += 4
		default:
			return w
		}
	}
	return w
}

// splitDirective splits "name = value" (blanks allowed around '=').
func splitDirective(s string) (key, val string, ok bool) {
	i := strings.IndexByte(s, '=')
	if i <= 0 {
		return strings.TrimSpace(s), "", false
	}
	key = strings.TrimSpace(s[:i])
	for _, c := range key {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return key, "", false
		}
	}
	return key, strings.TrimSpace(s[i+1:]), true
}

// stripComment removes an inline "# ..." outside double quotes. ldirectord
// strips comments only inside virtual blocks (and there even inside quotes);
// on a global line it keeps them as part of the value.
func stripComment(d *diags, line int, v string, global bool) string {
	inq := false
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '"':
			inq = !inq
		case '#':
			if !inq && (i == 0 || v[i-1] == ' ' || v[i-1] == '\t') {
				if global {
					d.warnf(line, "inline comment ignored (ldirectord reads it as part of the value)")
				}
				return strings.TrimSpace(v[:i])
			}
		}
	}
	return v
}

// quoted returns the text between double quotes. ldirectord requires the
// quotes for some directives; without them we accept the bare value with a
// warning.
func (p *ldParser) quoted(line int, key, v string, required bool) (string, bool) {
	if strings.HasPrefix(v, "\"") {
		end := strings.LastIndexByte(v, '"')
		if end == 0 {
			p.d.errorf(line, "%s: missing closing quote (fix: %s=\"%s\")", key, key, strings.TrimSpace(v[1:]))
			return "", false
		}
		if rest := strings.TrimSpace(v[end+1:]); rest != "" {
			p.d.warnf(line, "%s: text after the closing quote ignored: %q", key, rest)
		}
		return v[1:end], true
	}
	if required && v != "" {
		p.d.warnf(line, "%s: value should be in double quotes (ldirectord rejects it unquoted)", key)
	}
	return v, true
}

func (p *ldParser) yesNo(line int, key, v string) (bool, bool) {
	switch v {
	case "yes", "no":
		if p.trailing {
			p.d.warnf(line, "%s: blank after %q ignored (ldirectord rejects it)", key, v)
		}
		return v == "yes", true
	}
	if l := strings.ToLower(strings.TrimSpace(v)); l == "yes" || l == "no" {
		p.d.warnf(line, "%s: %q read as %q (ldirectord accepts only exactly yes or no)", key, v, l)
		return l == "yes", true
	}
	p.d.errorf(line, "%s must be 'yes' or 'no', not %q", key, v)
	return false, false
}

// number reads a non-negative integer. ldirectord takes the first run of
// digits anywhere in the value; we take a leading one and warn about the rest.
func (p *ldParser) number(line int, key, v string, min int) (int, bool) {
	j := 0
	for j < len(v) && v[j] >= '0' && v[j] <= '9' {
		j++
	}
	if j == 0 {
		p.d.errorf(line, "%s: invalid value %q (a number is required)", key, v)
		return 0, false
	}
	n, err := strconv.Atoi(v[:j])
	if err != nil || n > 1<<30 {
		p.d.errorf(line, "%s: value %q out of range", key, v)
		return 0, false
	}
	if j < len(v) {
		p.d.warnf(line, "%s: %q read as %d", key, v, n)
	}
	if n < min {
		p.d.errorf(line, "%s: invalid value %d (must be at least %d)", key, n, min)
		return 0, false
	}
	return n, true
}

func secs(n int) time.Duration { return time.Duration(n) * time.Second }

func (p *ldParser) globalLine(n int, s string) {
	key, val, ok := splitDirective(s)
	g := &p.cfg.Global
	if !ok {
		if key == "supervised" {
			p.d.warnf(n, "bare supervised: please write supervised=yes")
			g.Supervised = true
			return
		}
		p.d.errorf(n, "unknown directive %q%s", s, ldSuggest(s, ldGlobalKeys))
		return
	}
	v := stripComment(&p.d, n, val, true)
	switch key {
	case "checktimeout":
		if x, ok := p.number(n, key, v, 1); ok {
			p.checkTimeout = x
		}
	case "negotiatetimeout":
		if x, ok := p.number(n, key, v, 1); ok {
			p.negotiateTimeout = x
		}
	case "checkinterval":
		if x, ok := p.number(n, key, v, 1); ok {
			p.checkInterval = x
		}
	case "checkcount":
		if x, ok := p.number(n, key, v, 1); ok {
			p.checkCount = x
		}
		p.d.warnf(n, "checkcount is deprecated in ldirectord (see failurecount); used as the number of ping attempts")
	case "failurecount":
		if x, ok := p.number(n, key, v, 1); ok {
			p.failureCount = x
		}
	case "fallback":
		p.fallback = &lineVal{n, v}
	case "fallback6":
		p.fallback6 = &lineVal{n, v}
	case "fallbackcommand":
		if c, ok := p.quoted(n, key, v, false); c != "" {
			g.FallbackCommand = c
		} else if ok { // an unclosed quote is already reported
			p.d.errorf(n, "invalid fallback command")
		}
	case "autoreload":
		g.AutoReload, _ = p.yesNo(n, key, v)
	case "callback":
		g.Callback, _ = p.quoted(n, key, v, true)
	case "logfile":
		lf, ok := p.quoted(n, key, v, true)
		if ok && lf == "" {
			p.d.errorf(n, "logfile: empty value")
		}
		g.LogFile = lf
	case "execute":
		if v == "" {
			p.d.errorf(n, "execute: no configuration file given")
		}
		g.Execute = append(g.Execute, v)
	case "fork":
		g.Fork, _ = p.yesNo(n, key, v)
	case "supervised":
		g.Supervised, _ = p.yesNo(n, key, v)
	case "quiescent":
		g.Quiescent, _ = p.yesNo(n, key, v)
	case "readdquiescent":
		g.ReaddQuiescent, _ = p.yesNo(n, key, v)
	case "emailalert":
		g.EmailAlert = p.email(n, v)
	case "emailalertfreq":
		if x, ok := p.number(n, key, v, 0); ok {
			g.EmailAlertFreq = secs(x)
		}
	case "emailalertstatus":
		g.EmailAlertStatus = p.emailStatus(n, v)
	case "emailalertfrom":
		if v == "" {
			p.d.errorf(n, "no email from address specified")
		}
		g.EmailAlertFrom = v
	case "cleanstop":
		g.CleanStop, _ = p.yesNo(n, key, v)
	case "smtp":
		g.SMTP = p.smtp(n, v)
	case "maintenancedir":
		if v == "" {
			p.d.errorf(n, "maintenance directory not specified")
		}
		g.MaintenanceDir = v
	case "timeout":
		p.d.errorf(n, "timeout directive deprecated in favour of checktimeout and negotiatetimeout")
	case "connecttimeout":
		p.d.errorf(n, "connecttimeout directive deprecated in favour of negotiatetimeout")
	default:
		if virtualKeys[key] {
			p.d.errorf(n, "%s is a per-virtual directive: indent it under a virtual= line", key)
			return
		}
		p.d.errorf(n, "unknown directive %q%s", key, ldSuggest(key, ldGlobalKeys))
	}
}

// ldGlobalKeys and ldVirtualKeys are the directives globalLine and
// virtualLine take (TestLdirectordKeysKnown keeps them in step), for the
// did-you-mean of an unknown one.
var (
	ldGlobalKeys = []string{"checktimeout", "negotiatetimeout", "checkinterval", "checkcount", "failurecount",
		"fallback", "fallback6", "fallbackcommand", "autoreload", "callback", "logfile", "execute", "fork",
		"supervised", "quiescent", "readdquiescent", "emailalert", "emailalertfreq", "emailalertstatus",
		"emailalertfrom", "cleanstop", "smtp", "maintenancedir"}
	ldVirtualKeys = []string{"real", "real6", "request", "receive", "checktype", "checkcommand", "checktimeout",
		"negotiatetimeout", "checkcount", "failurecount", "checkinterval", "checkport", "login", "passwd",
		"database", "secret", "scheduler", "persistent", "schedflags", "netmask", "protocol", "ops", "service",
		"httpmethod", "virtualhost", "fallback", "fallback6", "fallbackcommand", "quiescent", "cleanstop",
		"emailalert", "emailalertfreq", "emailalertstatus", "monitorfile", "smtp", "servicename", "comment"}
)

// ldSuggest is the fix for an unknown directive: "name value" without '='
// (fix: name=value), or a known name close to it.
func ldSuggest(s string, names []string) string {
	if w, rest, ok := strings.Cut(s, " "); ok {
		for _, k := range names {
			if k == w {
				return fmt.Sprintf(" (fix: %s=%s)", w, strings.TrimSpace(rest))
			}
		}
	}
	if m := closest(s, names); m != "" {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

// virtualKeys are the directives only valid inside a virtual block.
var virtualKeys = map[string]bool{"real": true, "real6": true, "request": true, "receive": true,
	"checktype": true, "checkcommand": true, "checkport": true, "login": true, "passwd": true,
	"database": true, "secret": true, "service": true, "httpmethod": true, "virtualhost": true,
	"scheduler": true, "persistent": true, "netmask": true, "schedflags": true, "protocol": true,
	"ops": true, "monitorfile": true, "servicename": true, "comment": true, "load": true}

func (p *ldParser) email(n int, v string) string {
	if strings.HasPrefix(v, "\"") && strings.HasSuffix(v, "\"") && len(v) >= 2 {
		v = v[1 : len(v)-1]
	}
	if v == "" {
		p.d.errorf(n, "no email address specified")
	}
	return v
}

func (p *ldParser) smtp(n int, v string) string {
	ok := v != ""
	for _, c := range v {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._+-:[]", c)) {
			ok = false
		}
	}
	if !ok {
		p.d.errorf(n, "invalid SMTP server address %q", v)
	}
	return v
}

// emailStatus is parse_emailalertstatus: all, none, or a comma list.
func (p *ldParser) emailStatus(n int, v string) []string {
	var out []string
	parts := strings.Split(v, ",")
	none := false
	for _, s := range parts {
		if strings.TrimSpace(s) == "none" {
			none = true
		}
	}
	for _, s := range parts {
		s = strings.TrimSpace(s)
		switch s {
		case "none":
			continue
		case "all", "starting", "running", "stopping", "reloading":
			if none {
				p.d.errorf(n, "invalid email alert status: %q specified with \"none\"", s)
			}
			out = append(out, s)
		default:
			p.d.errorf(n, "invalid email alert status at: %q", s)
		}
	}
	if none {
		return []string{"none"}
	}
	return out
}

// newVirtual starts a virtual= / virtual6= block.
func (p *ldParser) newVirtual(n int, six bool, val string) *ldVirtual {
	v := &Virtual{Line: n, Family: 4, Scheduler: "wrr", Protocol: "tcp",
		Check: Check{Type: "negotiate", Request: "/", HTTPMethod: "GET"}}
	if six {
		v.Family = 6
	}
	lv := &ldVirtual{v: v, checkTimeout: unset, negotiateTimeout: unset,
		checkCount: unset, failureCount: unset, checkIntv: unset}
	p.virtuals = append(p.virtuals, lv)
	p.cfg.Virtuals = append(p.cfg.Virtuals, v)

	spec := val
	if f := strings.Fields(val); len(f) > 1 {
		p.d.warnf(n, "text after the virtual address ignored: %q", strings.Join(f[1:], " "))
		spec = f[0]
	}
	if spec == "" {
		p.d.errorf(n, "virtual: no address given")
		return lv
	}
	if isDigits(spec) {
		m, err := strconv.ParseUint(spec, 10, 32)
		if err != nil || m == 0 {
			p.d.errorf(n, "invalid firewall mark %q (1..4294967295)", spec)
		}
		v.Protocol, v.FWMark, v.Check.Service = "fwm", uint32(m), "none"
		lv.serviceSet = true
		return lv
	}
	host, port, ok := splitHostPort(spec)
	if !ok || host == "" {
		p.d.errorf(n, "invalid address for virtual server %q (want address:port, [v6address]:port or a firewall mark)", spec)
		return lv
	}
	if strings.HasPrefix(spec, "[") && !six {
		p.d.errorf(n, "cannot specify an IPv6 address here, use virtual6")
		return lv
	}
	lv.addrRaw, lv.portRaw, lv.addrOK = host, port, true
	if port == "53" || port == "domain" {
		v.Protocol = "udp"
	}
	return lv
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// splitHostPort splits host:port and [v6]:port; the port is required.
func splitHostPort(s string) (host, port string, ok bool) {
	if strings.HasPrefix(s, "[") {
		end := strings.IndexByte(s, ']')
		if end < 0 || end+1 >= len(s) || s[end+1] != ':' {
			return "", "", false
		}
		return s[1:end], s[end+2:], s[end+2:] != ""
	}
	i := strings.LastIndexByte(s, ':')
	if i <= 0 || i == len(s)-1 || strings.Count(s, ":") > 1 {
		return "", "", false
	}
	return s[:i], s[i+1:], true
}

func (p *ldParser) virtualLine(lv *ldVirtual, n int, s string) {
	v := lv.v
	s = stripComment(&p.d, n, s, false)
	key, val, ok := splitDirective(s)
	if !ok {
		p.d.errorf(n, "unknown directive %q in virtual service%s", s, ldSuggest(s, ldVirtualKeys))
		return
	}
	c := &v.Check
	switch key {
	case "real", "real6":
		if (key == "real6") != (v.Family == 6) && v.Protocol != "fwm" {
			want := "real"
			if v.Family == 6 {
				want = "real6"
			}
			p.d.errorf(n, "cannot specify %q here, use %q", key, want)
			return
		}
		if key == "real6" && v.Family != 6 {
			p.d.errorf(n, "cannot specify \"real6\" in an IPv4 firewall-mark virtual, use virtual6=")
			return
		}
		lv.reals = append(lv.reals, lineVal{n, val})
	case "request":
		r, ok := p.quoted(n, key, val, true)
		if ok && r == "" {
			p.d.errorf(n, "no request string specified")
		}
		c.Request = r
	case "receive":
		r, ok := p.quoted(n, key, val, true)
		if ok && r == "" {
			p.d.errorf(n, "invalid receive string (empty)")
		}
		c.Receive = r
		var msg string
		if c.ReceiveRE, msg = p.re.compile("receive", r); msg != "" {
			p.d.errorf(n, "%s", msg)
		}
	case "checktype":
		p.checkType(n, c, val)
	case "checkcommand":
		cmd, ok := p.quoted(n, key, val, false)
		if ok && cmd == "" {
			p.d.errorf(n, "invalid check command")
		}
		c.Command = cmd
	case "checktimeout":
		lv.checkTimeout, _ = p.number(n, key, val, 1)
	case "negotiatetimeout":
		lv.negotiateTimeout, _ = p.number(n, key, val, 1)
	case "connecttimeout":
		p.d.errorf(n, "connecttimeout directive deprecated in favour of negotiatetimeout")
	case "timeout":
		p.d.errorf(n, "timeout directive deprecated in favour of checktimeout and negotiatetimeout")
	case "checkcount":
		lv.checkCount, _ = p.number(n, key, val, 1)
		p.d.warnf(n, "checkcount is deprecated in ldirectord (see failurecount); used as the number of ping attempts")
	case "failurecount":
		lv.failureCount, _ = p.number(n, key, val, 1)
	case "checkinterval":
		lv.checkIntv, _ = p.number(n, key, val, 1)
	case "checkport":
		if x, ok := p.number(n, key, val, 1); ok {
			if x > 65535 {
				p.d.errorf(n, "checkport must be in range 1..65535")
			}
			c.Port = uint16(x)
		}
	case "login":
		c.Login, _ = p.quoted(n, key, val, true)
		if c.Login == "" {
			p.d.errorf(n, "invalid login string")
		}
		lv.ftpLogin = true
	case "passwd":
		c.Passwd, _ = p.quoted(n, key, val, true)
		if c.Passwd == "" {
			p.d.errorf(n, "invalid password")
		}
	case "database":
		c.Database, _ = p.quoted(n, key, val, true)
		if c.Database == "" {
			p.d.errorf(n, "invalid database")
		}
	case "secret":
		c.Secret, _ = p.quoted(n, key, val, true)
		if c.Secret == "" {
			p.d.errorf(n, "invalid secret")
		}
	case "load":
		p.d.warnf(n, "load is not used by ldirectord nor by lvsd; ignored")
	case "scheduler":
		if msg := schedulerProblem(val); msg != "" {
			p.d.errorf(n, "%s", msg)
		}
		v.Scheduler = val
	case "persistent":
		if x, ok := p.number(n, key, val, 0); ok {
			if x == 0 {
				p.d.warnf(n, "persistent=0: the service is not persistent")
			}
			v.Persistent = secs(x)
		}
		lv.persistentLine = n
	case "schedflags":
		if val == "" {
			p.d.errorf(n, "invalid sched-flags")
		}
		v.SchedFlags = nil
		lv.schedFlagsLine = n
		for _, f := range strings.Split(val, ",") {
			if f = strings.TrimSpace(f); f != "" {
				v.SchedFlags = append(v.SchedFlags, f)
			}
		}
	case "netmask":
		p.netmask(n, v, val)
		lv.netmaskLine = n
	case "protocol":
		switch {
		case v.Protocol == "fwm" && val == "fwm":
		case v.Protocol == "fwm":
			p.d.errorf(n, "protocol must be fwm if the virtual service is a fwmark (a number)")
		case val == "tcp" || val == "udp":
			v.Protocol = Protocol(val)
		default:
			p.d.errorf(n, "protocol must be tcp or udp if the virtual service is an address and port, not %q", val)
		}
	case "ops":
		v.OnePacket, _ = p.yesNo(n, key, val)
		lv.opsLine = n
	case "service":
		if !isService(val) {
			p.d.errorf(n, "service must be one of %s, not %q", strings.Join(Services, ", "), val)
			return
		}
		c.Service = val
		lv.serviceSet, lv.serviceLine = true, n
	case "httpmethod":
		m := strings.ToUpper(val)
		if m != "GET" && m != "HEAD" {
			p.d.errorf(n, "httpmethod must be GET or HEAD, not %q", val)
		}
		c.HTTPMethod = m
	case "virtualhost":
		c.VirtualHost = strings.Trim(val, "\"")
	case "fallback", "fallback6":
		if (key == "fallback6") != (v.Family == 6) {
			want := "fallback"
			if v.Family == 6 {
				want = "fallback6"
			}
			p.d.errorf(n, "cannot specify %q here, use %q", key, want)
			return
		}
		v.Fallback = p.parseFallback(n, val, v.Family == 6)
		lv.fallbackSet = true
	case "fallbackcommand":
		v.FallbackCommand, _ = p.quoted(n, key, val, false)
		if v.FallbackCommand == "" {
			p.d.errorf(n, "invalid fallback command")
		}
		lv.fbCmdSet = true
	case "quiescent":
		if b, ok := p.yesNo(n, key, val); ok {
			lv.quiescent = &b
		}
	case "cleanstop":
		if b, ok := p.yesNo(n, key, val); ok {
			lv.cleanStop = &b
		}
	case "emailalert":
		v.EmailAlert = p.email(n, val)
		lv.emailSet = true
	case "emailalertfreq":
		if x, ok := p.number(n, key, val, 0); ok {
			v.EmailAlertFreq = secs(x)
		}
		lv.emailFreqSet = true
	case "emailalertstatus":
		v.EmailAlertStatus = p.emailStatus(n, val)
		lv.emailStatusSet = true
	case "monitorfile":
		v.MonitorFile, _ = p.quoted(n, key, val, false)
		if v.MonitorFile == "" {
			p.d.errorf(n, "monitorfile: no file given")
		}
	case "smtp":
		v.SMTP = p.smtp(n, val)
		lv.smtpSet = true
	case "servicename":
		v.ServiceName = val
	case "comment":
		v.Comment = val
	default:
		switch key {
		case "checkinterval", "autoreload", "callback", "logfile", "execute", "fork", "supervised",
			"readdquiescent", "emailalertfrom", "maintenancedir":
			p.d.errorf(n, "%s is a global directive: it must start in column 0, outside a virtual service", key)
			return
		}
		p.d.errorf(n, "unknown directive %q in virtual service%s", key, ldSuggest(key, ldVirtualKeys))
	}
}

func (p *ldParser) checkType(n int, c *Check, val string) {
	if isDigits(val) {
		x, err := strconv.Atoi(val)
		if err != nil || x > 1<<30 {
			p.d.errorf(n, "checktype: number %q out of range", val)
			return
		}
		c.Type, c.NegotiateEvery = "combined", x
		return
	}
	switch val {
	case "connect", "negotiate", "ping", "off", "on", "external":
		c.Type = val
	case "external-perl":
		p.d.warnf(n, "checktype external-perl runs the command as a program (external): it must be executable")
		c.Type = "external"
	default:
		p.d.errorf(n, "checktype must be \"connect\", \"negotiate\", \"on\", \"off\", \"ping\", \"external\", \"external-perl\" or a positive number, not %q", val)
	}
}

// netmask takes the value; resolveVirtual checks it against the family,
// which virtual6= may give after it.
func (p *ldParser) netmask(n int, v *Virtual, val string) {
	if val == "" {
		p.d.errorf(n, "invalid netmask %q: a value is required", val)
		return
	}
	v.Netmask = val
}

// parseFallback reads `host[:port] [gate|masq|ipip]` (v6 hosts in brackets).
func (p *ldParser) parseFallback(n int, val string, six bool) *Real {
	f := strings.Fields(val)
	if len(f) == 0 || len(f) > 2 {
		p.d.errorf(n, "invalid fallback server %q (want host[:port] [gate|masq|ipip])", val)
		return nil
	}
	r := &Real{Line: n, Forward: "gate", Weight: 1}
	if len(f) == 2 {
		if !isForward(f[1]) {
			p.d.errorf(n, "forward method must be gate, masq or ipip, not %q", f[1])
			return nil
		}
		r.Forward = Forward(f[1])
	}
	host, port := f[0], ""
	if h, pt, ok := splitHostPort(f[0]); ok {
		host, port = h, pt
	} else if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	}
	a, ok := p.resolveOne(n, host, six, "fallback server")
	if !ok {
		return nil
	}
	r.Addr = a
	if port != "" {
		pt, ok := lookupPort(port, "tcp")
		if !ok {
			p.d.errorf(n, "invalid port %q for fallback server", port)
			return nil
		}
		r.Port = pt
	}
	return r
}

func (p *ldParser) resolve(n int, host string, six bool, what string) ([]netip.Addr, bool) {
	if a, err := netip.ParseAddr(host); err == nil {
		a = a.Unmap()
		if a.Is6() != six {
			if six {
				p.d.errorf(n, "invalid IPv6 address %q for %s (an IPv4 address needs virtual=/real=/fallback=)", host, what)
			} else {
				p.d.errorf(n, "invalid IPv4 address %q for %s (an IPv6 address needs virtual6=/real6=/fallback6=)", host, what)
			}
			return nil, false
		}
		return []netip.Addr{a}, true
	}
	if !validHostname(host) {
		p.d.errorf(n, "invalid address %q for %s", host, what)
		return nil, false
	}
	addrs, err := p.o.Resolver(host, six)
	if err != nil || len(addrs) == 0 {
		fam := "IPv4"
		if six {
			fam = "IPv6"
		}
		p.d.errorf(n, "could not resolve %q to an %s address for %s", host, fam, what)
		return nil, false
	}
	return addrs, true
}

func (p *ldParser) resolveOne(n int, host string, six bool, what string) (netip.Addr, bool) {
	a, ok := p.resolve(n, host, six, what)
	if !ok {
		return netip.Addr{}, false
	}
	return a[0], true
}

func validHostname(s string) bool {
	if s == "" || len(s) > 253 {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_') {
			return false
		}
	}
	return true
}

// finish resolves what needs the whole block: addresses, ports, service,
// reals, fallbacks, and the effective per-virtual values (ld_setup).
func (p *ldParser) finish() {
	g := &p.cfg.Global
	g.CheckInterval = secs(p.checkInterval)
	g.CheckCount = p.checkCount
	g.FailureCount = p.failureCount
	if p.checkTimeout > 0 {
		g.CheckTimeout = secs(p.checkTimeout)
	}
	if p.negotiateTimeout > 0 {
		g.NegotiateTimeout = secs(p.negotiateTimeout)
	}
	if p.fallback != nil {
		g.Fallback = p.parseFallback(p.fallback.line, p.fallback.val, false)
	}
	if p.fallback6 != nil {
		g.Fallback6 = p.parseFallback(p.fallback6.line, p.fallback6.val, true)
	}
	for _, lv := range p.virtuals {
		p.finishVirtual(lv)
	}
	if !g.Fork {
		for _, lv := range p.virtuals {
			if lv.checkIntv != unset {
				p.d.warnf(lv.v.Line, "checkinterval in this virtual service is honoured by lvsd; ldirectord ignores it when fork=no")
			}
		}
	}
}

func (p *ldParser) finishVirtual(lv *ldVirtual) {
	v, g := lv.v, &p.cfg.Global
	six := v.Family == 6
	if v.Protocol != "fwm" && lv.addrOK {
		if a, ok := p.resolveOne(v.Line, lv.addrRaw, six, "virtual service"); ok {
			v.Addr = a
		}
		port, ok := lookupPort(lv.portRaw, v.Protocol)
		if !ok {
			p.d.errorf(v.Line, "invalid port %q for virtual service", lv.portRaw)
		}
		v.Port = port
		if !lv.serviceSet {
			v.Check.Service = ServiceForPort(port)
		}
		if ok && zeroPortProblem(v) {
			p.d.errorf(v.Line, "virtual=%s:%s: port 0 (every port) is only valid for a persistent service; ipvsadm refuses it "+
				"(\"Zero port specified for non-persistent service\") (fix: give the port, virtual=%s:80, or persistent=N "+
				"to balance every port)", lv.addrRaw, lv.portRaw, lv.addrRaw)
		}
	}
	if v.Check.Service == "ftp" && !lv.ftpLogin {
		v.Check.Login = "anonymous" // ldirectord's default; passwd defaults to ldirectord@<hostname> in the checker
	}
	resolveVirtual(v, vSite{schedFlagsLine: lv.schedFlagsLine, netmaskLine: lv.netmaskLine, opsLine: lv.opsLine},
		p.d.errorf, p.d.warnf)
	if (v.Check.Type == "external") && v.Check.Command == "" {
		v.Check.Command = "/bin/true" // ldirectord's default checkcommand
	}
	if msg := serviceProblem(&v.Check, !lv.serviceSet); msg != "" {
		line := v.Line
		if lv.serviceSet && lv.serviceLine > 0 {
			line = lv.serviceLine
		}
		p.d.warnf(line, "%s", msg) // a warning: Debian's sample ldirectord.cf has an oracle virtual
	}

	// Duplicate detection uses the resolved identity, as ldirectord does.
	id := v.Key()
	if first, dup := p.seen[id]; dup {
		p.d.errorf(v.Line, "duplicate virtual server %s (first defined at line %d)", id, first)
	} else if v.Protocol == "fwm" || v.Addr.IsValid() {
		p.seen[id] = v.Line
	}

	if len(lv.reals) > 16 { // a few reals are faster to compare than to hash
		lv.realSeen = make(map[netip.AddrPort]int, len(lv.reals))
	}
	for _, r := range lv.reals {
		p.addReals(lv, r.line, r.val)
	}

	inheritFallback(v, g)
	if emptyVirtual(v) && len(lv.reals) == 0 { // real= lines with errors: those are reported
		p.d.warnf(v.Line, "%s", emptyVirtualMsg(v.Key(), "add real= lines (real=ADDR:PORT gate|masq|ipip) to it, or a fallback="))
	}
	what, line := "service dns (the default for its port)", v.Line
	if lv.serviceSet {
		what, line = "service=dns", lv.serviceLine
	}
	dnsProblems(v, what, `request="www.example.com" receive="192\.0\.2\.1"`, func(r *Real, msg string) {
		if r != nil {
			p.d.errorf(r.Line, "%s", msg)
		} else {
			p.d.errorf(line, "%s", msg)
		}
	})
	if !lv.fbCmdSet {
		v.FallbackCommand = g.FallbackCommand
	}
	v.Quiescent = g.Quiescent
	if lv.quiescent != nil {
		v.Quiescent = *lv.quiescent
	}
	v.CleanStop = g.CleanStop
	if lv.cleanStop != nil {
		v.CleanStop = *lv.cleanStop
	}
	if !lv.emailSet {
		v.EmailAlert = g.EmailAlert
	}
	if !lv.emailFreqSet {
		v.EmailAlertFreq = g.EmailAlertFreq
	}
	if !lv.emailStatusSet {
		v.EmailAlertStatus = g.EmailAlertStatus
	}
	if !lv.smtpSet {
		v.SMTP = g.SMTP
	}

	// Timeouts exactly as ld_setup resolves them.
	c := &v.Check
	c.CheckTimeout = secs(firstSet(lv.checkTimeout, lv.negotiateTimeout, p.checkTimeout, p.negotiateTimeout, 5))
	c.NegotiateTimeout = secs(firstSet(lv.negotiateTimeout, lv.checkTimeout, p.negotiateTimeout, p.checkTimeout, 30))
	c.Interval = secs(firstSet(lv.checkIntv, p.checkInterval))
	c.Count = firstSet(lv.checkCount, p.checkCount)
	c.FailureCount = firstSet(lv.failureCount, p.failureCount)
}

func firstSet(vals ...int) int {
	for _, v := range vals {
		if v > 0 {
			return v
		}
	}
	return vals[len(vals)-1]
}

// addReals parses one real= line (possibly a range) into the virtual:
// ip|host[->ip|host][:port] gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]
func (p *ldParser) addReals(lv *ldVirtual, n int, val string) {
	v := lv.v
	six := v.Family == 6
	spec, rest := val, ""
	if i := strings.IndexAny(val, " \t"); i >= 0 {
		spec, rest = val[:i], strings.TrimSpace(val[i+1:])
	}
	if rest == "" {
		p.d.errorf(n, "invalid real server line %q: forward method (gate, masq or ipip) missing", val)
		return
	}
	// split the port off the end: [v6]:port, host:port, a->b:port
	hosts, port := spec, ""
	if strings.HasSuffix(spec, "]") {
		// no port
	} else if i := strings.LastIndexByte(spec, ':'); i >= 0 && (!six || strings.Contains(spec[:i], "]")) {
		hosts, port = spec[:i], spec[i+1:]
		if port == "" || strings.Contains(hosts, "::") && !six || strings.HasSuffix(hosts, ":") {
			p.d.errorf(n, "invalid address for real server %q (wrong format)", spec)
			return
		}
	}
	from, to, isRange := strings.Cut(hosts, "->")
	unbr := func(s string) string {
		if strings.HasPrefix(s, "[") && strings.HasSuffix(s, "]") {
			return s[1 : len(s)-1]
		}
		return s
	}
	from, to = unbr(from), unbr(to)
	var rport uint16
	if port != "" {
		pt, ok := lookupPort(port, v.Protocol)
		if !ok {
			p.d.errorf(n, "invalid port (%s) for real server (could not resolve port)", port)
			return
		}
		rport = pt
	}
	if rport == 0 && v.Protocol != "fwm" {
		// as ipvsadm does for -r without a port, or with port 0 (which the
		// model, and so TOML, cannot tell apart from no port)
		rport = v.Port
	}
	tmpl := Real{Line: n, Port: rport, Weight: 1}
	if !p.realFlags(n, &tmpl, rest) {
		return
	}
	a1, ok := p.resolveOne(n, from, six, "real server")
	if !ok {
		return
	}
	addrs := []netip.Addr{a1}
	if isRange {
		if six {
			p.d.errorf(n, "address range for IPv6 is not supported")
			return
		}
		a2, ok := p.resolveOne(n, to, six, "real server (end of range)")
		if !ok {
			return
		}
		if a2.Less(a1) {
			p.d.errorf(n, "invalid range %s->%s: the first address must not be greater than the last", a1, a2)
			return
		}
		const maxRange = 65536
		for a := a1.Next(); a.IsValid() && !a2.Less(a); a = a.Next() {
			if len(addrs) >= maxRange {
				p.d.errorf(n, "range %s->%s has more than %d addresses", a1, a2, maxRange)
				return
			}
			addrs = append(addrs, a)
		}
	}
	if msg := fixRealPort(v, &tmpl); msg != "" {
		p.d.warnf(n, "%s", msg)
	}
	for _, a := range addrs {
		r := tmpl
		r.Addr = a
		if first := lv.seenReal(&r); first != 0 {
			p.d.errorf(n, "duplicate real server %s in this virtual service (first at line %d)", r.HostPort(), first)
			return
		}
		v.Reals = append(v.Reals, &r)
	}
}

// seenReal returns the line of an earlier real with r's address and port
// (0: none), and remembers r.
func (lv *ldVirtual) seenReal(r *Real) int {
	ap := netip.AddrPortFrom(r.Addr, r.Port)
	if lv.realSeen != nil {
		if first, dup := lv.realSeen[ap]; dup {
			return first
		}
		lv.realSeen[ap] = r.Line
		return 0
	}
	for _, o := range lv.v.Reals {
		if o.Addr == r.Addr && o.Port == r.Port {
			return o.Line
		}
	}
	return 0
}

// realFlags reads `gate|masq|ipip [weight] ["request", "receive"] [l:N] [u:N]`.
func (p *ldParser) realFlags(n int, r *Real, s string) bool {
	word, s := nextWord(s)
	if !isForward(word) {
		if isForward(strings.ToLower(word)) {
			p.d.warnf(n, "forward method %q read as %q", word, strings.ToLower(word))
			word = strings.ToLower(word)
		} else {
			p.d.errorf(n, "forward method must be gate, masq or ipip, not %q", word)
			return false
		}
	}
	r.Forward = Forward(word)
	if w, rest := nextWord(s); isDigits(w) {
		x, err := strconv.Atoi(w)
		if err != nil || x > 65535 {
			p.d.errorf(n, "weight %q out of range (0..65535)", w)
			return false
		}
		r.Weight, s = x, rest
	} else if w != "" && w[0] == '-' && isDigits(w[1:]) {
		p.d.errorf(n, "weight %q out of range (0..65535)", w)
		return false
	}
	if w, _ := nextWord(s); strings.HasPrefix(s, "\"") && !isQuotedThreshold(w) {
		req, rest, ok := cutQuoted(s)
		rest = strings.TrimLeft(rest, ", \t")
		recv, rest2, ok2 := cutQuoted(rest)
		if !ok || !ok2 {
			p.d.errorf(n, "invalid real server line: want \"request\", \"receive\" in double quotes, around %q", s)
			return false
		}
		r.Request, r.Receive, r.HasOverride = req, recv, true
		var msg string
		if r.ReceiveRE, msg = p.re.compile("receive", recv); msg != "" {
			p.d.errorf(n, "%s", msg)
			return false
		}
		s = strings.TrimSpace(rest2)
	}
	for s != "" {
		w, rest := nextWord(s)
		if isQuotedThreshold(w) {
			p.d.warnf(n, "threshold %s read without its quotes (ldirectord rejects the quotes)", w)
			w = strings.Trim(w, "\"")
		}
		var dst *int
		switch {
		case strings.HasPrefix(w, "l:") && r.Lower == 0:
			dst = &r.Lower
		case strings.HasPrefix(w, "u:") && r.Upper == 0:
			dst = &r.Upper
		default:
			p.d.errorf(n, "invalid real server line, around %q", s)
			return false
		}
		x, err := strconv.Atoi(w[2:])
		if err != nil || x < 0 || x > 1<<30 {
			p.d.errorf(n, "invalid threshold %q", w)
			return false
		}
		*dst, s = x, rest
	}
	if r.Lower > 0 && r.Upper > 0 && r.Lower > r.Upper {
		p.d.warnf(n, "lower threshold l:%d is above upper threshold u:%d", r.Lower, r.Upper)
	}
	return true
}

func isQuotedThreshold(w string) bool {
	return len(w) >= 5 && w[0] == '"' && w[len(w)-1] == '"' && (w[1:3] == "l:" || w[1:3] == "u:")
}

func nextWord(s string) (string, string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t"); i >= 0 {
		return s[:i], strings.TrimSpace(s[i+1:])
	}
	return s, ""
}

// cutQuoted reads "text" at the start of s.
func cutQuoted(s string) (string, string, bool) {
	if !strings.HasPrefix(s, "\"") {
		return "", s, false
	}
	end := strings.IndexByte(s[1:], '"')
	if end < 0 {
		return "", s, false
	}
	return s[1 : end+1], s[end+2:], true
}
