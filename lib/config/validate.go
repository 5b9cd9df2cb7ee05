package config

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// Checks shared by the three readers: what would otherwise pass `lvsd
// check` and fail only later (at check time, or when the kernel is
// programmed) is reported when the file is read, with its line and fix.

// patterns compiles receive / regex patterns once per file: 10,000 reals
// with the same pattern share one *regexp.Regexp (and so compare equal by
// pointer, which keeps the keepalived reader's check sharing cheap).
type patterns map[string]*regexp.Regexp

// compile returns the compiled pattern ("" for none) or the message of an
// error naming directive (receive, regex, ...) and the fix.
func (ps *patterns) compile(directive, pat string) (*regexp.Regexp, string) {
	if pat == "" {
		return nil, ""
	}
	if re, ok := (*ps)[pat]; ok {
		return re, ""
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		why := strings.TrimPrefix(err.Error(), "error parsing regexp: ")
		return nil, fmt.Sprintf("%s %q is not a valid regular expression: %s; lvsd compiles patterns in Go's RE2 "+
			"syntax, which has no lookahead/lookbehind, backreferences or possessive quantifiers (fix: rewrite it "+
			"without them, or match a plain substring)", directive, pat, why)
	}
	if *ps == nil {
		*ps = patterns{}
	}
	(*ps)[pat] = re
	return re, ""
}

// extraSchedulers are accepted besides ipvs.Schedulers: twos (Linux 6.7)
// is in keepalived's list and in newer kernels than the one lib/ipvs names.
var extraSchedulers = []string{"twos"}

func knownScheduler(s string) bool {
	for _, k := range ipvs.Schedulers {
		if k == s {
			return true
		}
	}
	for _, k := range extraSchedulers {
		if k == s {
			return true
		}
	}
	return false
}

// schedulerProblem says what is wrong with scheduler name s ("" if
// nothing): the kernel refuses a scheduler it has no module for, so
// `-s wrrr` would fail only when the table is programmed.
func schedulerProblem(s string) string {
	if s == "" || strings.TrimLeft(s, "abcdefghijklmnopqrstuvwxyz") != "" {
		msg := fmt.Sprintf("invalid scheduler %q, should be only lowercase letters (a-z)", s)
		if l := strings.ToLower(s); knownScheduler(l) {
			msg += fmt.Sprintf(" (did you mean %q?)", l)
		}
		return msg
	}
	if knownScheduler(s) {
		return ""
	}
	msg := fmt.Sprintf("unknown scheduler %q: the kernel has no IPVS scheduler of that name", s)
	if m := closest(s, append(append([]string(nil), ipvs.Schedulers...), extraSchedulers...)); m != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", m)
	}
	return msg + " (fix: one of " + strings.Join(ipvs.Schedulers, " ") + " " + strings.Join(extraSchedulers, " ") + ")"
}

// closest is the name within edit distance 2 (1 for short names) of s, if
// one is nearest.
func closest(s string, names []string) string {
	best, bestD, tie := "", 3, false
	if len(s) <= 3 {
		bestD = 2
	}
	for _, n := range names {
		d := editDistance(s, n)
		switch {
		case d < bestD:
			best, bestD, tie = n, d, false
		case d == bestD && best != "":
			tie = true
		}
	}
	if tie {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance (names are a few ASCII letters).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			c = min(c, prev[j]+1, cur[j-1]+1)
			cur[j] = c
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// negotiates: the check type runs the negotiate step (where request and
// receive are used).
func negotiates(c *Check) bool { return c.Type == "negotiate" || c.Type == "combined" }

// dnsProblems reports ldirectord-style dns checks (service dns without
// keepalived's dns_type) that cannot succeed: lib/check counts an empty
// receive as down (as ldirectord does), and an empty request looks up an
// empty name. at receives each problem: r nil for the virtual's check
// (what names it: "service=dns", ...), else the real whose own check or
// request/receive override has it. example is the fix in the reader's syntax.
func dnsProblems(v *Virtual, what, example string, at func(r *Real, msg string)) {
	missing := func(c *Check, req, rcv string) string {
		if !negotiates(c) || c.Service != "dns" || c.DNSType != "" {
			return ""
		}
		var miss []string
		if strings.TrimPrefix(req, "/") == "" {
			miss = append(miss, "request")
		}
		if rcv == "" {
			miss = append(miss, "receive")
		}
		return strings.Join(miss, " and ")
	}
	inherit := len(v.Reals) == 0 // some real uses the virtual's check as it is
	for _, r := range v.Reals {
		c := r.Check
		if c == nil {
			c = &v.Check
		}
		req, rcv := c.Request, c.Receive
		if r.HasOverride {
			req, rcv = r.Request, r.Receive
		}
		if r.Check == nil && !r.HasOverride {
			inherit = true
		} else if m := missing(c, req, rcv); m != "" {
			at(r, fmt.Sprintf("real server %s: its dns check has no %s, so every check of it would fail at run time "+
				"(an empty receive is down, as in ldirectord) (fix: give the name to look up and a pattern for its "+
				"address, e.g. \"www.example.com\", \"192\\.0\\.2\\.1\")", r.HostPort(), m))
		}
	}
	if m := missing(&v.Check, v.Check.Request, v.Check.Receive); m != "" && inherit {
		at(nil, fmt.Sprintf("%s: the dns check has no %s, so every real would be down at run time "+
			"(an empty receive is down, as in ldirectord) (fix: give the name to look up and a pattern for its "+
			"address, e.g. %s, or use a connect check)", what, m, example))
	}
}

// zeroPortProblem: IPVS takes port 0 (every port) only for a persistent
// service; ipvsadm refuses the rest ("Zero port specified for
// non-persistent service") and keepalived makes them persistent.
func zeroPortProblem(v *Virtual) bool {
	return v.Protocol != "fwm" && v.Port == 0 && v.Persistent == 0
}

// emptyVirtual: a virtual service with no real server and no fallback
// answers every connection with ICMP port unreachable.
func emptyVirtual(v *Virtual) bool { return len(v.Reals) == 0 && v.Fallback == nil }

func emptyVirtualMsg(name, fix string) string {
	return fmt.Sprintf("virtual service %s has no real server and no fallback: IPVS refuses every connection to it "+
		"(ICMP port unreachable) (fix: %s)", name, fix)
}

// validDigest: keepalived's digest is the MD5 of the body, 32 hex digits
// (keepalived rejects anything else; lib/check compares it with the body's).
func validDigest(d string) bool {
	if len(d) != 32 {
		return false
	}
	for _, c := range d {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

const digestFix = "digest %q must be the MD5 of the expected body, 32 hex digits (fix: genhash -s ADDR -p PORT -u PATH prints it, or md5sum of the page)"

// serviceProblem says what is wrong with a check's service ("" if
// nothing), for a warning at load: a service lvsd has no checker for
// would otherwise pass `lvsd check` quietly and then hold every real down. Oracle (ldirectord's DBD::Oracle) has
// no pure-Go driver; a virtual on port 1521 gets it by default.
func serviceProblem(c *Check, implied bool) string {
	if c.Service != "oracle" || (c.Type != "negotiate" && c.Type != "combined") {
		return ""
	}
	from := "service=oracle"
	if implied {
		from = "port 1521, whose default service is oracle (as ldirectord)"
	}
	return from + ": lvsd cannot check Oracle (no pure-Go Oracle driver), so every real would be down " +
		"(fix: checktype=connect, or checktype=external with checkcommand running your own probe)"
}
