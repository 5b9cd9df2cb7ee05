package config

import (
	"encoding/hex"
	"math"
	"strconv"
	"strings"
	"time"
)

// keepalived.conf checkers: HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK,
// SMTP_CHECK, DNS_CHECK, UDP_CHECK, PING_CHECK, FILE_CHECK and url blocks.

func (im *kaImport) newCheck(v *Virtual, d checkDefaults, typ string) Check {
	c := Check{Type: typ, Service: "none", Request: "/", HTTPMethod: "GET", Interval: d.interval, Count: 1,
		CheckTimeout: kaConnectTimeout, NegotiateTimeout: kaConnectTimeout, FailureCount: 2, RetryDelay: time.Second,
		StartUp: !d.alpha, Warmup: d.warmup}
	if d.set.has("connect_timeout") {
		c.CheckTimeout, c.NegotiateTimeout = d.connectTimeout, d.connectTimeout
	}
	return c
}

func (im *kaImport) checker(b *kaStmt, v *Virtual, defs checkDefaults) Check {
	c := im.newCheck(v, defs, "connect")
	retry := 1
	c.RetryDelay = time.Second
	switch b.key {
	case "HTTP_GET", "SSL_GET":
		c.Type, c.Service, c.RetryDelay = "negotiate", "http", 3*time.Second
		if b.key == "SSL_GET" {
			c.Service = "https"
		}
		c.VirtualHost = defs.virtualHost
	case "TCP_CHECK":
		c.Proto = TCP // keepalived connects over tcp, also for a udp virtual_server
	case "DNS_CHECK":
		c.Type, c.Service, c.DNSType, c.DNSName, retry, c.RetryDelay = "negotiate", "dns", "SOA", ".", 3, c.Interval
		c.Proto = UDP // keepalived asks over udp, also for a tcp virtual_server
	case "MISC_CHECK":
		// misc_timeout's default: the virtual_server's delay_loop
		c.Type, retry, c.MiscPath = "external", 0, true
		c.CheckTimeout, c.NegotiateTimeout = defs.vsLoop, defs.vsLoop
	case "SMTP_CHECK":
		c.Type, c.Service = "negotiate", "smtp"
	case "PING_CHECK":
		c.Type = "ping"
	case "UDP_CHECK":
		c.Type = "udp"
	}
	if defs.set.has("retry") {
		retry = defs.retry
	}
	if defs.set.has("delay_before_retry") {
		c.RetryDelay = defs.retryDelay
	}
	var urls []*kaStmt // every url must pass, as in keepalived
	for _, s := range b.children {
		d := defs
		if im.checkDefault(s, &d) {
			switch s.key {
			case "connect_timeout":
				c.CheckTimeout, c.NegotiateTimeout = d.connectTimeout, d.connectTimeout
			case "delay_before_retry":
				c.RetryDelay = d.retryDelay
			case "delay_loop":
				c.Interval = d.interval
			case "retry":
				retry = d.retry
			case "virtualhost":
				c.VirtualHost = d.virtualHost
			case "alpha":
				c.StartUp = !d.alpha
			case "warmup":
				c.Warmup = d.warmup
			}
			continue
		}
		switch s.key {
		case "connect_port":
			if x, ok := im.num(s, 1, 65535); ok {
				c.Port = uint16(x)
			}
		case "connect_ip", "bindto", "bind_port", "bind_if", "fwmark":
			im.r.errorf(s.file, s.line, "%s is not supported by lvsd checks (they connect from the director to the real server)", s.key)
		case "url":
			urls = append(urls, s)
		case "http_protocol", "fast_recovery", "enable_sni", "tls_compliant":
			im.ignored(s, "lvsd sends HTTP/1.1 with SNI")
		case "type":
			if im.want(s, 1) {
				c.DNSType = strings.ToUpper(s.args[0])
			}
		case "name":
			if im.want(s, 1) {
				c.DNSName = s.args[0]
			}
		case "payload", "require_reply":
			if b.key != "UDP_CHECK" {
				im.r.errorf(s.file, s.line, "%s is a UDP_CHECK keyword", s.key)
				continue
			}
			var x []byte
			if len(s.args) > 0 {
				var err error
				if x, err = hex.DecodeString(strings.Join(s.args, "")); err != nil {
					im.r.errorf(s.file, s.line, "%s: invalid hex string %q", s.key, strings.Join(s.args, " "))
					continue
				}
			}
			if s.key == "payload" {
				c.Payload = string(x)
			} else {
				c.RequireReply, c.Reply = true, string(x)
			}
		case "min_reply_length":
			c.MinReply, _ = im.num(s, 0, 65535)
		case "max_reply_length":
			c.MaxReply, _ = im.num(s, 0, 65535)
		case "misc_path":
			c.Command = im.command(s)
		case "misc_timeout":
			// keepalived: whole seconds, 0 = the virtual_server's delay_loop
			if x, ok := im.num(s, 0, 1<<20); ok && x > 0 {
				c.CheckTimeout, c.NegotiateTimeout = time.Duration(x)*time.Second, time.Duration(x)*time.Second
			} else if ok {
				c.CheckTimeout, c.NegotiateTimeout = defs.vsLoop, defs.vsLoop
			}
		case "misc_dynamic":
			if b.key != "MISC_CHECK" {
				im.r.errorf(s.file, s.line, "misc_dynamic is a MISC_CHECK keyword")
				continue
			}
			c.Dynamic = true
		case "user":
			if b.key != "MISC_CHECK" {
				im.r.errorf(s.file, s.line, "user is a MISC_CHECK keyword")
				continue
			}
			if len(s.args) == 0 || len(s.args) > 2 {
				im.r.errorf(s.file, s.line, "user: USER [GROUP] expected (keepalived: \"No user specified for misc checker script\")")
				continue
			}
			g := ""
			if len(s.args) == 2 {
				g = s.args[1]
			}
			im.noReuse = true // the user is looked up again at each read
			ra, err := LookupRunAs(s.args[0], g)
			if err != nil {
				im.r.errorf(s.file, s.line, "user: %v (keepalived: \"Failed to set uid/gid for misc checker script\")", err)
				continue
			}
			c.RunAs = ra
		case "helo_name":
			im.ignored(s, "lvsd sends its host name in EHLO")
		case "host":
			im.r.errorf(s.file, s.line, "SMTP_CHECK host blocks are not supported: the real server is checked")
		default:
			im.r.errorf(s.file, s.line, "unknown %s keyword %q%s", b.key, s.key, kaSuggest(s.key))
		}
	}
	if b.key == "MISC_CHECK" && c.Command == "" {
		im.r.errorf(b.file, b.line, "MISC_CHECK without misc_path")
	}
	c.FailureCount = retry + 1
	if c.Type == "connect" || c.Type == "ping" || c.Type == "udp" {
		c.Service = "none"
	}
	// several url blocks: one check per url, run together
	base := c
	for i, u := range urls {
		if i == 0 {
			im.url(u, &c)
			continue
		}
		one := base
		im.url(u, &one)
		c.Also = append(c.Also, one)
	}
	return c
}

// protoOf clears Proto where it is v's protocol anyway, so that a
// TCP_CHECK of a tcp virtual_server is the plain connect check it is
// (and compares equal to it); only a transport other than the virtual's
// stays.
func (c *Check) protoOf(v *Virtual) {
	if c.Proto == v.Protocol {
		c.Proto = ""
	}
	for i := range c.Also {
		c.Also[i].protoOf(v)
	}
}

func (im *kaImport) url(b *kaStmt, c *Check) {
	for _, s := range b.children {
		switch s.key {
		case "path":
			if im.want(s, 1) {
				c.Request = s.args[0]
			}
		case "status_code":
			for _, a := range s.args {
				m := reStatus.FindStringSubmatch(a)
				if m == nil {
					im.r.errorf(s.file, s.line, "invalid status_code %q", a)
					continue
				}
				lo, _ := strconv.Atoi(m[1])
				hi := lo
				if m[2] != "" {
					hi, _ = strconv.Atoi(m[2])
				}
				c.StatusCodes = append(c.StatusCodes, StatusRange{lo, hi})
			}
		case "digest":
			if im.want(s, 1) {
				c.Digest = strings.ToLower(s.args[0])
				if !validDigest(c.Digest) {
					im.r.errorf(s.file, s.line, digestFix, s.args[0])
				}
			}
		case "virtualhost":
			if im.want(s, 1) {
				c.VirtualHost = s.args[0]
			}
		case "regex":
			c.Receive = strings.Join(s.args, " ")
			var msg string
			if c.ReceiveRE, msg = im.re.compile("regex", c.Receive); msg != "" {
				im.r.errorf(s.file, s.line, "%s", msg)
			}
		case "regex_no_match", "regex_options", "regex_stack", "regex_min_offset", "regex_max_offset":
			im.r.errorf(s.file, s.line, "%s is not supported (regex must match)", s.key)
		default:
			im.r.errorf(s.file, s.line, "unknown url keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
}

// fileCheck reads a FILE_CHECK block of a real_server: `track_file NAME`
// (a track_file block, defined anywhere in the file) and `weight N
// [reverse|noreverse]`, by default the track_file's.
func (im *kaImport) fileCheck(b *kaStmt) (FileCheck, bool) {
	fc := FileCheck{Line: b.line}
	weightSet := false
	ok := true
	for _, s := range b.children {
		switch s.key {
		case "track_file":
			if !im.want(s, 1) {
				ok = false
				continue
			}
			im.noReuse = true // fc.Track is this read's
			switch fc.Track = im.files[s.args[0]]; {
			case fc.Track == nil:
				im.r.errorf(s.file, s.line, "track_file %s not found (fix: define it in a top-level track_file block)", s.args[0])
				ok = false
			case im.fileSrc[fc.Track] == s.file && fc.Track.Line > s.line:
				// keepalived reads the file in order: "not found"
				im.r.errorf(s.file, s.line, "track_file %s not found above (defined at line %d: keepalived reads the file in order) "+
					"(fix: move the track_file block above this virtual_server)", s.args[0], fc.Track.Line)
				fc.Track, ok = nil, false
			}
		case "weight":
			w, rev, good := im.weight(s, s.args, math.MaxInt32, false, true)
			if good {
				fc.Weight, fc.Reverse, weightSet = w, rev, true
			}
			ok = ok && good
		default:
			im.r.errorf(s.file, s.line, "unknown FILE_CHECK keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	if fc.Track == nil {
		if ok {
			im.r.errorf(b.file, b.line, "FILE_CHECK has no track_file (keepalived: \"FILE_CHECK has no track_file specified\")")
		}
		return fc, false
	}
	if !weightSet {
		// keepalived: without a weight line, the track_file's weight and
		// reverse; with one, its own (no option: not reversed)
		fc.Weight, fc.Reverse = fc.Track.Weight, fc.Track.Reverse
	}
	return fc, ok
}

// noChecker records a real_server without a checker (warned in finish).
func (im *kaImport) noChecker(b *kaStmt, r *Real, v *Virtual) {
	u := &im.unchecked
	if u.n == 0 {
		u.file, u.line, u.first = b.file, b.line, r.HostPort()
	}
	u.n++
	u.lastFile, u.lastLine = b.file, b.line
	if u.lastVS != v {
		u.vs++
		u.lastVS = v
	}
}
