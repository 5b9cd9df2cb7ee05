package config

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// keepalived.conf import. keepalived's grammar is `keyword args...` per
// line, with `{ ... }` blocks; `!` and `#` start comments; `include GLOB`
// inlines files. Everything the model can express is imported; everything
// else is reported, line by line: a warning when ignoring it changes nothing
// for the load balancer (router_id, smtp_alert, snmp names), an error when
// it would (virtual_server_group, a second checker on one real_server).

type kaToken struct {
	text string
	file string
	line int
	nl   bool // first token of a line
	// quoted: a "..." word, never a brace ("{" in a quoted misc_path)
	quoted bool
}

type kaStmt struct {
	key      string
	args     []string
	file     string
	line     int
	children []*kaStmt
	block    bool
	end      int // line of the closing '}' of a block
}

type kaReader struct {
	d     diags
	o     Options
	depth int
	files int
	vars  map[string]string // $NAME=value definitions
	multi *kaMulti          // a multi-line definition being read
	lines int               // lines the preprocessor produced (bounded)
	pre   []string          // preprocess's result, reused line after line
	slab  []kaStmt          // see newStmt
	words []string          // statement arguments, see parseBlock
	said  map[Diag]bool     // see once
}

var reKAVar = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// Bounds of the preprocessor, so that a definition that expands itself or
// a sequence of sequences cannot take the machine: keepalived's own
// example of 65,024 instances fits.
const (
	kaMaxDepth = 16
	kaMaxLines = 1 << 20 // lines a file's definitions and sequences may add
)

// preprocess handles keepalived's line features (keepalived.conf(5)):
// `$NAME=value` definitions, multi-line ones (each line but the last ends
// with '\'), used as $NAME or ${NAME} and replaced at use, recursively
// (undefined names are left alone, as keepalived does; a multi-line value
// gives several lines, which may define names in turn); `~SEQ(var, start,
// step, end)`, `~SEQx(...)` (hexadecimal) and `~LST(var, v1, v2, ...)`,
// which repeat the rest of the line; and `@id` / `@^id` conditional lines,
// kept when the config id (-i, default the short host name) matches / does
// not match. It returns the lines to tokenize, all at line n.
func (r *kaReader) preprocess(file string, n int, line string) []string {
	if r.multi != nil { // the continuation of a multi-line definition
		body, more := strings.CutSuffix(strings.TrimRight(line, " \t\r"), "\\")
		r.multi.lines = append(r.multi.lines, body)
		if !more {
			r.define(r.multi.name, strings.Join(r.multi.lines, "\n"))
			r.multi = nil
		}
		return nil
	}
	r.pre = r.pre[:0]
	if t := strings.TrimLeft(line, " \t"); t == "" || t[0] != '$' && t[0] != '@' && t[0] != '~' &&
		(len(r.vars) == 0 || !strings.Contains(line, "$")) {
		r.pre = append(r.pre, line) // the common line: no allocation (r.pre is reused)
		return r.pre
	}
	r.expand(file, n, line, 0, &r.pre)
	return r.pre
}

type kaMulti struct {
	name  string
	lines []string
}

func (r *kaReader) define(name, val string) {
	if r.vars == nil {
		r.vars = map[string]string{}
	}
	r.vars[name] = val
}

func (r *kaReader) expand(file string, n int, line string, depth int, out *[]string) {
	if depth > kaMaxDepth {
		r.errorf(file, n, "definitions nested more than %d deep (one that uses itself?)", kaMaxDepth)
		return
	}
	if r.lines += 1; r.lines > kaMaxLines {
		if r.lines == kaMaxLines+1 {
			r.errorf(file, n, "the definitions and sequences expand to more than %d lines", kaMaxLines)
		}
		return
	}
	t := strings.TrimSpace(line)
	if strings.HasPrefix(t, "@") {
		id, rest, _ := strings.Cut(t[1:], " ")
		if i := strings.IndexByte(id, '\t'); i >= 0 {
			id, rest = id[:i], id[i+1:]+" "+rest
		}
		neg := strings.HasPrefix(id, "^")
		id = strings.TrimPrefix(id, "^")
		if (id == r.o.ConfigID) == neg {
			return
		}
		t = strings.TrimSpace(rest)
		line = rest
	}
	if strings.HasPrefix(t, "$") {
		name, val, isDef := strings.Cut(t[1:], "=")
		if isDef && reKAName.MatchString(name) {
			if body, more := strings.CutSuffix(strings.TrimRight(val, " \t\r"), "\\"); more {
				r.multi = &kaMulti{name: name, lines: []string{body}}
				return
			}
			r.define(name, strings.TrimSpace(val))
			return
		}
		if isDef && strings.Contains(name, "(") {
			r.errorf(file, n, "parameterised definition $%s: keepalived 2.2 (Debian 12's) has none, so neither does lvsd "+
				"(fix: set plain $NAME=value definitions before each use, as keepalived.conf(5) shows)", name)
			return
		}
	}
	if strings.HasPrefix(t, "~SEQ") || strings.HasPrefix(t, "~LST") {
		r.sequence(file, n, t, depth, out)
		return
	}
	if len(r.vars) > 0 && strings.Contains(line, "$") {
		changed := false
		exp := reKAVar.ReplaceAllStringFunc(line, func(m string) string {
			k := strings.Trim(m, "${}")
			if v, ok := r.vars[k]; ok {
				changed = true
				return v
			}
			return m
		})
		if changed {
			for _, l := range strings.Split(exp, "\n") {
				r.expand(file, n, l, depth+1, out)
			}
			return
		}
	}
	*out = append(*out, line)
}

var reKASeq = regexp.MustCompile(`^~(SEQx?|LST)\(([^)]*)\)\s*(.*)$`)

// sequence expands ~SEQ / ~SEQx / ~LST: the rest of the line once per
// value, with the variable defined to it.
func (r *kaReader) sequence(file string, n int, t string, depth int, out *[]string) {
	m := reKASeq.FindStringSubmatch(t)
	if m == nil {
		r.errorf(file, n, "invalid sequence %q: want ~SEQ(var, start, step, end), ~SEQx(...) or ~LST(var, v1, v2, ...)", t)
		return
	}
	args := strings.Split(m[2], ",")
	for i := range args {
		args[i] = strings.TrimSpace(args[i])
	}
	name, rest := args[0], m[3]
	if !reKAName.MatchString(name) || len(args) < 2 {
		r.errorf(file, n, "invalid ~%s(%s): want a variable name and values", m[1], m[2])
		return
	}
	var vals []string
	if m[1] == "LST" {
		vals = args[1:]
	} else {
		num := func(s string) (int64, bool) {
			x, err := strconv.ParseInt(s, 0, 64)
			return x, err == nil && x > -1<<40 && x < 1<<40
		}
		var start, step, end int64
		ok := true
		switch len(args) {
		case 2: // ~SEQ(var, end)
			end, ok = num(args[1])
			start = 1
			if end < 0 {
				start = -1
			}
		case 3: // ~SEQ(var, start, end)
			var ok2 bool
			start, ok = num(args[1])
			end, ok2 = num(args[2])
			ok = ok && ok2
		case 4:
			var ok2, ok3 bool
			start, ok = num(args[1])
			step, ok2 = num(args[2])
			end, ok3 = num(args[3])
			ok = ok && ok2 && ok3
		default:
			ok = false
		}
		if step == 0 {
			step = 1
			if end < start {
				step = -1
			}
		}
		if !ok || (step > 0) != (end >= start) && start != end {
			r.errorf(file, n, "invalid ~%s(%s): want (var, [start,] [step,] end) with a step toward end", m[1], m[2])
			return
		}
		for x := start; (step > 0 && x <= end) || (step < 0 && x >= end); x += step {
			if len(vals) >= kaMaxLines {
				r.errorf(file, n, "~%s(%s) has more than %d values", m[1], m[2], kaMaxLines)
				return
			}
			if m[1] == "SEQx" {
				vals = append(vals, strconv.FormatInt(x, 16))
			} else {
				vals = append(vals, strconv.FormatInt(x, 10))
			}
		}
	}
	old, had := r.vars[name]
	for _, v := range vals {
		r.define(name, v)
		r.expand(file, n, rest, depth+1, out)
		if r.lines > kaMaxLines {
			break
		}
	}
	if had {
		r.vars[name] = old
	} else {
		delete(r.vars, name)
	}
}

// kaKeywords are the keywords this reader knows (in any block), for the
// did-you-mean of an unknown one.
var kaKeywords = []string{
	"global_defs", "vrrp_script", "vrrp_instance", "vrrp_sync_group", "virtual_server", "virtual_server_group",
	"static_ipaddress", "static_routes", "static_rules", "virtual_routes", "virtual_rules",
	"linkbeat_interfaces", "vrrp_track_file", "track_file", "vrrp_track_process", "track_process", "garp_group",
	"bfd_instance", "net_namespace", "instance", "use_pid_dir", "notification_email", "notification_email_from",
	"smtp_server", "vrrp_version", "vrrp_garp_master_delay", "vrrp_garp_master_repeat",
	"vrrp_garp_master_refresh", "vrrp_garp_master_refresh_repeat", "script", "interval", "timeout", "weight",
	"rise", "fall", "user", "init_fail", "state", "interface", "virtual_router_id", "priority", "advert_int",
	"version", "nopreempt", "preempt", "preempt_delay", "authentication", "auth_type", "auth_pass",
	"unicast_src_ip", "unicast_peer", "virtual_ipaddress", "virtual_ipaddress_excluded", "track_script",
	"track_interface", "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify",
	"garp_master_delay", "garp_master_repeat", "garp_master_refresh", "garp_master_refresh_repeat", "use_vmac",
	"vmac_xmit_base", "track_bfd", "unicast_fault_no_peer", "old_unicast_checksum", "group", "smtp_alert",
	"global_tracking", "sync_group_tracking_weight", "connect_timeout", "delay_before_retry", "delay_loop",
	"retry", "nb_get_retry", "virtualhost", "alpha", "warmup", "log_all_failures", "fwmark", "lb_algo",
	"lvs_sched", "lb_kind", "lvs_method", "protocol", "persistence_timeout", "persistence_granularity", "ops",
	"flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback", "inhibit_on_failure",
	"quorum", "hysteresis", "quorum_up", "quorum_down", "sorry_server", "sorry_server_lvs_method",
	"real_server", "ip_family", "ha_suspend", "snmp_name", "omega", "sorry_server_inhibit",
	"persistence_engine", "net_mask", "uthreshold", "lthreshold", "notify_up", "notify_down", "connect_port",
	"connect_ip", "bindto", "bind_port", "bind_if", "url", "http_protocol", "fast_recovery", "enable_sni",
	"tls_compliant", "type", "name", "misc_path", "misc_timeout", "misc_dynamic", "helo_name", "host", "path",
	"status_code", "digest", "regex", "regex_no_match", "regex_options", "regex_stack", "regex_min_offset",
	"regex_max_offset", "HTTP_GET", "SSL_GET", "TCP_CHECK", "DNS_CHECK", "MISC_CHECK", "SMTP_CHECK",
	"PING_CHECK", "UDP_CHECK", "FILE_CHECK", "BFD_CHECK", "include", "payload", "require_reply",
	"min_reply_length", "max_reply_length",
}

func kaKnown(key string) bool {
	for _, k := range kaKeywords {
		if k == key {
			return true
		}
	}
	return false
}

// kaSuggest is " (did you mean ...?)" for an unknown keyword close to a known one.
func kaSuggest(key string) string {
	if m := closest(key, kaKeywords); m != "" && m != key {
		return fmt.Sprintf(" (did you mean %q?)", m)
	}
	return ""
}

var reKAName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (r *kaReader) errorf(file string, line int, format string, args ...any) {
	if d := (Diag{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}); len(r.d.errs) < maxErrors && r.once(d) {
		r.d.errs = append(r.d.errs, d)
	}
}

func (r *kaReader) warnf(file string, line int, format string, args ...any) {
	if d := (Diag{File: file, Line: line, Msg: fmt.Sprintf(format, args...)}); len(r.d.warnings) < maxErrors && r.once(d) {
		r.d.warnings = append(r.d.warnings, d)
	}
}

// once: d is not reported yet (a virtual_server group's block is read
// once per entry of the group, its messages told once).
func (r *kaReader) once(d Diag) bool {
	if r.said == nil {
		r.said = map[Diag]bool{}
	}
	if r.said[d] {
		return false
	}
	r.said[d] = true
	return true
}

// tokenize splits a file into tokens, expanding includes in place. Tokens
// are substrings of one copy of the file: no allocation per token or line.
func (r *kaReader) tokenize(name string, data []byte, out []kaToken) []kaToken {
	text := string(data)
	if out == nil {
		out = make([]kaToken, 0, len(text)/8+16) // about one token per 8 bytes
	}
	for n := 1; len(text) > 0; n++ {
		line := text
		if i := strings.IndexByte(text, '\n'); i >= 0 {
			line, text = text[:i], text[i+1:]
		} else {
			text = ""
		}
		lines := r.preprocess(name, n, line)
		if len(lines) > 1 { // an include among them would reuse r.pre
			lines = append([]string(nil), lines...)
		}
		for _, s := range lines {
			start := len(out)
			for len(s) > 0 {
				c := s[0]
				switch {
				case c == ' ' || c == '\t' || c == '\r':
					s = s[1:]
					continue
				case c == '!' || c == '#':
					s = ""
					continue
				case c == '{' || c == '}':
					out = append(out, kaToken{text: s[:1], file: name, line: n})
					s = s[1:]
					continue
				case c == '"':
					end := strings.IndexByte(s[1:], '"')
					if end < 0 {
						r.errorf(name, n, "missing closing quote")
						out = append(out, kaToken{text: s[1:], file: name, line: n})
						s = ""
						continue
					}
					out = append(out, kaToken{text: s[1 : end+1], file: name, line: n, quoted: true})
					s = s[end+2:]
					continue
				}
				j := tokenEnd(s)
				out = append(out, kaToken{text: s[:j], file: name, line: n})
				s = s[j:]
			}
			if len(out) == start {
				continue
			}
			out[start].nl = true
			if out[start].text == "include" {
				toks := out[start:]
				out = out[:start]
				if len(toks) != 2 {
					r.errorf(name, n, "include needs exactly one file pattern")
					continue
				}
				out = r.include(name, n, toks[1].text, out)
			}
		}
	}
	if r.multi != nil && r.depth == 0 { // a multi-line definition ending the file
		r.define(r.multi.name, strings.Join(r.multi.lines, "\n"))
		r.multi = nil
	}
	return out
}

// tokenEnd is the length of the word at the start of s: up to a blank, a
// brace or a quote.
func tokenEnd(s string) int {
	for j := 0; j < len(s); j++ {
		switch s[j] {
		case ' ', '\t', '\r', '{', '}', '"':
			return j
		}
	}
	return len(s)
}

func (r *kaReader) include(from string, line int, pattern string, out []kaToken) []kaToken {
	if r.depth >= 8 {
		r.errorf(from, line, "include nested too deep (a loop?)")
		return out
	}
	if !filepath.IsAbs(pattern) {
		pattern = filepath.Join(filepath.Dir(from), pattern)
	}
	matches, err := r.o.Glob(pattern)
	if err != nil {
		r.errorf(from, line, "include %s: %v", pattern, err)
		return out
	}
	if len(matches) == 0 {
		r.warnf(from, line, "include %s: no file matches", pattern)
		return out
	}
	sort.Strings(matches)
	for _, m := range matches {
		r.files++
		if r.files > 1000 {
			r.errorf(from, line, "too many included files")
			return out
		}
		data, err := r.o.ReadFile(m)
		if err != nil {
			r.errorf(from, line, "include %s: %v", m, err)
			continue
		}
		r.depth++
		out = r.tokenize(m, data, out)
		r.depth--
	}
	return out
}

// newStmt allocates statements by the hundred (a generated file has tens
// of thousands).
func (r *kaReader) newStmt(t kaToken) *kaStmt {
	if len(r.slab) == 0 {
		r.slab = make([]kaStmt, 256)
	}
	s := &r.slab[0]
	r.slab = r.slab[1:]
	*s = kaStmt{key: t.text, file: t.file, line: t.line}
	return s
}

// parseBlock builds statements until a closing brace (or the end).
func (r *kaReader) parseBlock(toks []kaToken, i int, top bool, open kaToken) ([]*kaStmt, int) {
	var out []*kaStmt
	var cur *kaStmt
	for i < len(toks) {
		t := toks[i]
		switch {
		case t.text == "}" && !t.quoted:
			if top {
				r.errorf(t.file, t.line, "unexpected '}'")
				i++
				cur = nil
				continue
			}
			return out, i + 1
		case t.text == "{" && !t.quoted:
			if cur == nil {
				r.errorf(t.file, t.line, "'{' without a keyword")
				cur = &kaStmt{file: t.file, line: t.line}
			}
			cur.block = true
			cur.children, i = r.parseBlock(toks, i+1, false, t)
			if i-1 < len(toks) && toks[i-1].text == "}" && !toks[i-1].quoted {
				cur.end = toks[i-1].line
			}
			cur = nil
			continue
		case t.nl || cur == nil:
			cur = r.newStmt(t)
			out = append(out, cur)
			// the rest of the line up to a brace: the arguments, taken
			// from one shared array
			j := i + 1
			for j < len(toks) && !toks[j].nl && (toks[j].quoted || toks[j].text != "{" && toks[j].text != "}") {
				j++
			}
			if j > i+1 {
				a := len(r.words)
				for _, w := range toks[i+1 : j] {
					r.words = append(r.words, w.text)
				}
				cur.args = r.words[a:len(r.words):len(r.words)]
			}
			i = j
			continue
		default:
			cur.args = append(cur.args, t.text)
		}
		i++
	}
	if !top {
		r.errorf(open.file, open.line, "block opened here is not closed")
	}
	return out, i
}

func parseKeepalived(name string, data []byte, o Options) (*Config, error) {
	r := &kaReader{d: diags{file: name}, o: o}
	toks := r.tokenize(name, data, nil)
	stmts, _ := r.parseBlock(toks, 0, true, kaToken{})
	cfg := &Config{Source: name, Format: "keepalived"}
	g := &cfg.Global
	// keepalived has no global check settings (each checker has its
	// delay_loop): lvsd's defaults, which pace only its table re-reads
	g.CheckInterval, g.CheckCount, g.FailureCount = DefaultCheckInterval, 1, 1
	g.CleanStop, g.LogFile, g.EmailAlertStatus = true, DefaultLogFile, []string{"all"}
	im := &kaImport{r: r, cfg: cfg, vsSeen: map[string]*Virtual{}, version: 2}
	for _, s := range stmts {
		if s.key == "global_defs" {
			im.globalDefs(s)
		}
	}
	for _, s := range stmts {
		switch s.key {
		case "global_defs":
		case "vrrp_script":
			im.script(s)
		case "vrrp_track_file", "track_file":
			im.trackFile(s)
		case "virtual_server_group":
			im.virtualServerGroup(s)
		}
	}
	var prev *kaStmt // the last top-level block, for a '}' that closed it early
	stray := false   // the statements after it are already reported
	for _, s := range stmts {
		if !kaTopLevel[s.key] && prev != nil && kaKnown(s.key) {
			// a keyword of the block above, at top level: one error for the
			// lot, where the mistake probably is
			if !stray {
				r.errorf(s.file, s.line, "%s is not a top-level keyword: the '}' at line %d closed %s (line %d) before it "+
					"(fix: remove that '}', or the one that is unexpected further down)", s.key, prev.end, prev.key, prev.line)
			}
			stray = true
			continue
		}
		stray = false
		if s.block {
			prev = s
		}
		switch s.key {
		case "global_defs", "vrrp_script", "vrrp_track_file", "track_file":
		case "vrrp_instance":
			im.instance(s)
		case "vrrp_sync_group":
			im.syncGroup(s)
		case "virtual_server":
			im.virtualServer(s)
		case "virtual_server_group": // read before the virtual_servers
		case "static_ipaddress", "static_routes", "static_rules", "virtual_routes", "virtual_rules":
			r.warnf(s.file, s.line, "%s not imported: lvsd does not manage static addresses or routes; configure them in the system", s.key)
		case "linkbeat_interfaces", "vrrp_track_process", "track_process", "garp_group", "bfd_instance", "net_namespace", "instance", "use_pid_dir":
			r.errorf(s.file, s.line, "%s is not supported by lvsd", s.key)
		default:
			r.errorf(s.file, s.line, "unknown keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	im.finish()
	cfg.Warnings = sorted(r.d.warnings)
	if len(r.d.errs) > 0 {
		return nil, r.d.fail()
	}
	return cfg, nil
}

type kaImport struct {
	r       *kaReader
	cfg     *Config
	vsSeen  map[string]*Virtual
	scripts map[string]*TrackScript
	groups  map[string][]vsHead // virtual_server_group entries
	// realSeen: the reals of the virtual_server being read
	realSeen map[netip.AddrPort]bool
	files    map[string]*TrackFile
	version  int
	re       patterns // regex patterns compiled so far
	// the check shared by the reals without a checker of one virtual_server
	onCheck   *Check
	onCheckVS *Virtual
	onDefs    checkDefaults
	// reals without a checker: one warning for all of them (a generated
	// file has thousands), naming the first
	unchecked struct {
		n, vs       int
		lastVS      *Virtual
		file, first string
		line        int
		lastFile    string
		lastLine    int
	}
	startupDelay time.Duration // vrrp_startup_delay
	// keepalived's smtp_alert: global_defs' smtp_alert / smtp_alert_checker
	// (nil: unset) and each virtual_server's own; a virtual gets the
	// global notification_email only where one is on (finish)
	smtpAlert, smtpAlertChecker *bool
	vsSMTPAlert                 map[*Virtual]bool
	checksumAsV2                bool // global v3_checksum_as_v2
	garp                        struct {
		delay, refresh          time.Duration
		repeat, refreshRepeat   int
		delaySet, refreshSet    bool
		repeatSet, refRepeatSet bool
		// vrrp_garp_lower_prio_repeat / _delay, vrrp_lower_prio_no_advert
		lowerRepeat               int
		lowerRepeatSet            bool
		lowerDelay                time.Duration
		lowerDelaySet, lowerNoAdv bool
	}
}

func (im *kaImport) want(s *kaStmt, n int) bool {
	if len(s.args) != n {
		im.r.errorf(s.file, s.line, "%s takes %d value(s), got %d", s.key, n, len(s.args))
		return false
	}
	return true
}

func (im *kaImport) num(s *kaStmt, min, max int) (int, bool) {
	if !im.want(s, 1) {
		return 0, false
	}
	x, err := strconv.Atoi(s.args[0])
	if err != nil || x < min || x > max {
		im.r.errorf(s.file, s.line, "%s: invalid value %q (%d..%d)", s.key, s.args[0], min, max)
		return 0, false
	}
	return x, true
}

// timer reads keepalived's <TIMER>: seconds, possibly fractional.
func (im *kaImport) timer(s *kaStmt) (time.Duration, bool) {
	if !im.want(s, 1) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s.args[0], 64)
	if err != nil || f < 0 || f > 1e6 {
		im.r.errorf(s.file, s.line, "%s: invalid time %q (seconds)", s.key, s.args[0])
		return 0, false
	}
	return time.Duration(f * float64(time.Second)).Round(time.Millisecond), true
}

func (im *kaImport) ignored(s *kaStmt, why string) {
	im.r.warnf(s.file, s.line, "%s ignored: %s", s.key, why)
}

func (im *kaImport) noBlock(s *kaStmt) bool {
	if s.block {
		im.r.errorf(s.file, s.line, "%s does not take a block", s.key)
		return false
	}
	return true
}

func (im *kaImport) globalDefs(b *kaStmt) {
	g := &im.cfg.Global
	for _, s := range b.children {
		switch s.key {
		case "notification_email":
			var to []string
			for _, c := range s.children {
				to = append(to, c.key)
				to = append(to, c.args...)
			}
			g.EmailAlert = strings.Join(to, ",")
		case "notification_email_from":
			if im.want(s, 1) {
				g.EmailAlertFrom = s.args[0]
			}
		case "smtp_server":
			if len(s.args) >= 1 {
				g.SMTP = s.args[0]
				if len(s.args) > 1 {
					im.r.warnf(s.file, s.line, "smtp_server port %s ignored: alerts use port 25", s.args[1])
				}
			}
		case "notify_fifo", "lvs_notify_fifo", "vrrp_notify_fifo":
			if len(s.args) < 1 {
				im.r.errorf(s.file, s.line, "%s takes a FIFO path [username [groupname]]", s.key)
				break
			}
			p := s.args[0]
			if !strings.HasPrefix(p, "/") {
				p = "/" + p // keepalived runs in /
				im.r.warnf(s.file, s.line, "%s %s: a relative path, taken from / as keepalived does: %s", s.key, s.args[0], p)
			}
			if len(s.args) > 1 {
				im.r.warnf(s.file, s.line, "%s %s: the owner is ignored: lvsd creates the FIFO as its own user, mode 0600", s.key, strings.Join(s.args[1:], " "))
			}
			switch s.key {
			case "notify_fifo":
				g.NotifyFIFO = p
			case "vrrp_notify_fifo":
				g.VRRPNotifyFIFO = p
			default:
				g.LVSNotifyFIFO = p
			}
		case "vrrp_version":
			if x, ok := im.num(s, 2, 3); ok {
				im.version = x
			}
		case "vrrp_garp_master_delay":
			if x, ok := im.num(s, 0, 1000); ok {
				im.garp.delay, im.garp.delaySet = time.Duration(x)*time.Second, true
			}
		case "vrrp_garp_master_repeat":
			if x, ok := im.num(s, 0, 1000); ok {
				im.garp.repeat, im.garp.repeatSet = x, true
			}
		case "vrrp_garp_master_refresh":
			if x, ok := im.num(s, 0, 100000); ok {
				im.garp.refresh, im.garp.refreshSet = time.Duration(x)*time.Second, true
			}
		case "vrrp_garp_master_refresh_repeat":
			if x, ok := im.num(s, 0, 1000); ok {
				im.garp.refreshRepeat, im.garp.refRepeatSet = x, true
			}
		case "vrrp_garp_lower_prio_repeat":
			if x, ok := im.num(s, 0, 1000); ok {
				im.garp.lowerRepeat, im.garp.lowerRepeatSet = x, true
			}
		case "vrrp_garp_lower_prio_delay":
			if x, ok := im.num(s, 0, 1000); ok {
				im.garp.lowerDelay, im.garp.lowerDelaySet = time.Duration(x)*time.Second, true
			}
		case "vrrp_lower_prio_no_advert":
			im.garp.lowerNoAdv = kaOn(s.args)
		case "vrrp_startup_delay":
			im.startupDelay, _ = im.timer(s)
		case "v3_checksum_as_v2":
			im.checksumAsV2 = true
		case "lvs_sync_daemon":
			// keepalived: IFACE [[inst] INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP];
			// without an instance both daemons run all the time.
			ls := &LVSSync{Line: s.line, SyncID: -1}
			if len(s.args) < 1 {
				im.r.errorf(s.file, s.line, "lvs_sync_daemon takes INTERFACE [[inst] VRRP_INSTANCE] [id N] [maxlen N] [port N] [ttl N] [group IP]")
				break
			}
			ls.Interface = s.args[0]
			if len(ls.Interface) >= 16 {
				im.r.errorf(s.file, s.line, "lvs_sync_daemon interface name %q too long (at most 15 characters)", ls.Interface)
			}
			rest := s.args[1:]
			if len(rest) > 0 && rest[0] == "inst" {
				rest = rest[1:]
				if len(rest) == 0 {
					im.r.errorf(s.file, s.line, "lvs_sync_daemon inst has no value")
				}
			}
			opt := map[string]bool{"id": true, "maxlen": true, "port": true, "ttl": true, "group": true}
			if len(rest) > 0 && !opt[rest[0]] {
				ls.Instance, rest = rest[0], rest[1:]
			}
			for i := 0; i < len(rest); i += 2 {
				if i+1 >= len(rest) {
					im.r.errorf(s.file, s.line, "lvs_sync_daemon %s has no value", rest[i])
					break
				}
				k, v := rest[i], rest[i+1]
				n := func(lo, hi int) int {
					x, err := strconv.Atoi(v)
					if err != nil || x < lo || x > hi {
						im.r.errorf(s.file, s.line, "lvs_sync_daemon %s %q: want %d..%d", k, v, lo, hi)
						return 0
					}
					return x
				}
				switch k {
				case "id":
					ls.SyncID = n(0, 255)
				case "maxlen":
					ls.MaxLen = n(1, 65507)
				case "port":
					ls.Port = n(1, 65535)
				case "ttl":
					ls.TTL = n(1, 255)
				case "group":
					g, err := netip.ParseAddr(v)
					if err != nil || !g.IsMulticast() {
						im.r.errorf(s.file, s.line, "lvs_sync_daemon group %q: want a multicast address", v)
					}
					ls.Group = g
				default:
					im.r.errorf(s.file, s.line, "lvs_sync_daemon: unknown option %q (id, maxlen, port, ttl, group)", k)
				}
			}
			im.cfg.LVSSync = ls
		case "smtp_alert", "smtp_alert_checker":
			b := kaOn(s.args)
			if s.key == "smtp_alert" {
				im.smtpAlert = &b
			} else {
				im.smtpAlertChecker = &b
			}
		case "vrrp_rt_priority":
			g.VRRPRTPriority, _ = im.num(s, 1, 99)
		case "router_id", "smtp_connect_timeout", "smtp_helo_name", "smtp_alert_vrrp",
			"enable_traps", "enable_snmp_keepalived", "enable_snmp_checker", "enable_snmp_vrrp", "enable_snmp_rfc",
			"enable_dbus", "script_user", "enable_script_security", "max_auto_priority", "vrrp_skip_check_adv_addr",
			"vrrp_strict", "vrrp_garp_interval", "vrrp_gna_interval", "lvs_timeouts", "checker_log_all_failures",
			"vrrp_no_swap", "checker_no_swap", "vrrp_priority", "checker_priority", "vrrp_rlimit_rttime",
			"checker_rlimit_rttime", "dynamic_interfaces", "process_names", "vrrp_check_unicast_src",
			"vrrp_higher_prio_send_advert", "lvs_flush", "lvs_flush_onstop", "default_interface", "vrrp_mcast_group4",
			"vrrp_mcast_group6", "vrrp_iptables", "vrrp_ipsets", "nftables", "snmp_socket", "umask":
			im.ignored(s, "not used by lvsd")
		default:
			im.ignored(s, "unknown global_defs keyword"+kaSuggest(s.key))
		}
	}
}

func (im *kaImport) script(b *kaStmt) {
	if !im.want(b, 1) {
		return
	}
	t := &TrackScript{Line: b.line, Name: b.args[0], Interval: time.Second, Rise: 1, Fall: 1}
	for _, s := range b.children {
		switch s.key {
		case "script":
			t.Script = strings.Join(s.args, " ")
		case "interval":
			t.Interval, _ = im.timer(s)
		case "timeout":
			t.Timeout, _ = im.timer(s)
		case "weight":
			if len(s.args) == 2 && s.args[1] == "reverse" {
				im.r.errorf(s.file, s.line, "weight ... reverse is not supported")
				s.args = s.args[:1]
			}
			t.Weight, _ = im.num(s, -253, 253)
		case "rise":
			t.Rise, _ = im.num(s, 1, 1000000)
		case "fall":
			t.Fall, _ = im.num(s, 1, 1000000)
		case "user":
			im.ignored(s, "lvsd runs track scripts as the user it runs as")
		case "init_fail":
			t.InitFail = true
		default:
			im.r.errorf(s.file, s.line, "unknown vrrp_script keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	if t.Script == "" {
		im.r.errorf(b.file, b.line, "vrrp_script %s has no script", t.Name)
	}
	if im.scripts == nil {
		im.scripts = map[string]*TrackScript{}
	}
	if o := im.scripts[t.Name]; o != nil {
		if reflect.DeepEqual(*o, withLine(*t, o.Line)) {
			im.r.warnf(b.file, b.line, "vrrp_script %s repeated identically; kept once", t.Name)
			return
		}
		im.r.errorf(b.file, b.line, "vrrp_script %s defined twice differently (first at line %d)", t.Name, o.Line)
		return
	}
	im.scripts[t.Name] = t
	im.cfg.Scripts = append(im.cfg.Scripts, t)
}

func withLine(t TrackScript, l int) TrackScript { t.Line = l; return t }

// trackFile reads a top-level track_file (vrrp_track_file) block.
func (im *kaImport) trackFile(b *kaStmt) {
	if !im.want(b, 1) {
		return
	}
	t := &TrackFile{Line: b.line, Name: b.args[0], Weight: 1}
	for _, s := range b.children {
		switch s.key {
		case "file":
			if im.want(s, 1) {
				t.File = s.args[0]
			}
		case "weight":
			if len(s.args) == 2 && s.args[1] == "reverse" {
				im.r.errorf(s.file, s.line, "weight ... reverse is not supported")
				s.args = s.args[:1]
			}
			t.Weight, _ = im.num(s, -254, 254)
		case "init_file":
			t.Init = true
			for _, a := range s.args {
				if a == "overwrite" {
					t.Overwrite = true
				} else if x, err := strconv.Atoi(a); err == nil {
					t.InitValue = x
				} else {
					im.r.errorf(s.file, s.line, "init_file: %q is neither a number nor overwrite", a)
				}
			}
		default:
			im.r.errorf(s.file, s.line, "unknown track_file keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	if t.File == "" {
		im.r.errorf(b.file, b.line, "track_file %s has no file", t.Name)
	}
	if im.files == nil {
		im.files = map[string]*TrackFile{}
	}
	if o := im.files[t.Name]; o != nil {
		im.r.errorf(b.file, b.line, "track_file %s defined twice (first at line %d)", t.Name, o.Line)
		return
	}
	im.files[t.Name] = t
	im.cfg.TrackFiles = append(im.cfg.TrackFiles, t)
}

func (im *kaImport) tracks(b *kaStmt, what string) []TrackRef {
	var out []TrackRef
	for _, s := range b.children {
		ref := TrackRef{Name: s.key}
		a := s.args
		if len(a) >= 2 && a[0] == "weight" {
			w, err := strconv.Atoi(a[1])
			if err != nil || w < -254 || w > 254 {
				im.r.errorf(s.file, s.line, "%s %s: invalid weight %q", what, s.key, a[1])
			}
			ref.Weight = w
			a = a[2:]
		}
		if len(a) > 0 {
			im.r.errorf(s.file, s.line, "%s %s: unsupported options %q", what, s.key, strings.Join(a, " "))
		}
		if what == "track_script" {
			if sc := im.scripts[s.key]; sc == nil {
				im.r.errorf(s.file, s.line, "track_script %s: no vrrp_script of that name", s.key)
			} else if len(s.args) == 0 {
				ref.Weight = sc.Weight
			}
		}
		if what == "track_file" {
			if tf := im.files[s.key]; tf == nil {
				im.r.errorf(s.file, s.line, "track_file %s: no track_file block of that name", s.key)
			} else if len(s.args) == 0 {
				ref.Weight = tf.Weight
			}
		}
		out = append(out, ref)
	}
	return out
}

func (im *kaImport) instance(b *kaStmt) {
	if !im.want(b, 1) {
		return
	}
	in := &VRRPInstance{Line: b.line, Name: b.args[0], Priority: 100, State: "BACKUP", AdvertInt: time.Second,
		Version: im.version, GARPMasterDelay: 5 * time.Second, GARPMasterRepeat: 5, GARPRefreshRepeat: 1,
		Accept: true, StartupDelay: im.startupDelay, ChecksumAsV2: im.checksumAsV2}
	if im.garp.delaySet {
		in.GARPMasterDelay = im.garp.delay
	}
	if im.garp.repeatSet {
		in.GARPMasterRepeat = im.garp.repeat
	}
	if im.garp.refreshSet {
		in.GARPMasterRefresh = im.garp.refresh
	}
	if im.garp.refRepeatSet {
		in.GARPRefreshRepeat = im.garp.refreshRepeat
	}
	// keepalived: the lower-priority GARPs default to the global
	// vrrp_garp_master_repeat and _delay, not the instance's own
	in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay = 5, 5*time.Second
	if im.garp.repeatSet {
		in.GARPLowerPrioRepeat = im.garp.repeat
	}
	if im.garp.delaySet {
		in.GARPLowerPrioDelay = im.garp.delay
	}
	if im.garp.lowerRepeatSet {
		in.GARPLowerPrioRepeat = im.garp.lowerRepeat
	}
	if im.garp.lowerDelaySet {
		in.GARPLowerPrioDelay = im.garp.lowerDelay
	}
	in.LowerPrioNoAdvert = im.garp.lowerNoAdv
	for _, o := range im.cfg.VRRP {
		if o.Name == in.Name {
			im.r.errorf(b.file, b.line, "vrrp_instance %s defined twice (first at line %d)", in.Name, o.Line)
		}
	}
	versionSet := false
	vipEntries := 0
	given := map[string]bool{}
	for _, s := range b.children {
		given[s.key] = true
		switch s.key {
		case "state":
			if im.want(s, 1) {
				in.State = strings.ToUpper(s.args[0])
				if in.State != "MASTER" && in.State != "BACKUP" {
					im.r.errorf(s.file, s.line, "state must be MASTER or BACKUP")
				}
			}
		case "interface":
			if im.want(s, 1) {
				in.Interface = s.args[0]
			}
		case "virtual_router_id":
			in.VRID, _ = im.num(s, 1, 255)
		case "priority":
			in.Priority, _ = im.num(s, 1, 255)
		case "advert_int":
			in.AdvertInt, _ = im.timer(s)
		case "version":
			in.Version, _ = im.num(s, 2, 3)
			versionSet = true
		case "nopreempt":
			in.NoPreempt = true
		case "preempt":
			in.NoPreempt = false
		case "preempt_delay":
			in.PreemptDelay, _ = im.timer(s)
		case "authentication":
			for _, a := range s.children {
				switch a.key {
				case "auth_type":
					if im.want(a, 1) {
						in.AuthType = strings.ToUpper(a.args[0])
						if in.AuthType != "PASS" && in.AuthType != "AH" {
							im.r.errorf(a.file, a.line, "auth_type must be PASS or AH")
						}
					}
				case "auth_pass":
					if im.want(a, 1) {
						in.AuthPass = a.args[0]
						if len(in.AuthPass) > 8 {
							im.r.warnf(a.file, a.line, "auth_pass longer than 8 characters: only the first 8 are sent (as keepalived does)")
						}
					}
				default:
					im.r.errorf(a.file, a.line, "unknown authentication keyword %q%s", a.key, kaSuggest(a.key))
				}
			}
		case "unicast_src_ip":
			if im.want(s, 1) {
				a, err := netip.ParseAddr(s.args[0])
				if err != nil {
					im.r.errorf(s.file, s.line, "unicast_src_ip: invalid address %q", s.args[0])
				}
				in.UnicastSrc = a
			}
		case "unicast_peer":
			for _, p := range s.children {
				a, err := netip.ParseAddr(p.key)
				if err != nil {
					im.r.errorf(p.file, p.line, "unicast_peer: invalid address %q", p.key)
					continue
				}
				if len(p.args) > 0 {
					im.r.warnf(p.file, p.line, "unicast_peer options %q ignored", strings.Join(p.args, " "))
				}
				in.UnicastPeers = append(in.UnicastPeers, a)
			}
		case "virtual_ipaddress", "virtual_ipaddress_excluded":
			if s.key == "virtual_ipaddress" {
				vipEntries += len(s.children)
			}
			for _, v := range s.children {
				vip, err := parseVIP(append([]string{v.key}, v.args...))
				if err != "" {
					im.r.errorf(v.file, v.line, "%s", err)
					continue
				}
				vip.Line = v.line
				addVIP(in, vip, s.key == "virtual_ipaddress_excluded")
			}
		case "accept":
			in.Accept = true
		case "no_accept":
			in.Accept = false
			im.r.warnf(s.file, s.line, "no_accept: lvsd installs no firewall rule; a backup's VIPs are absent, so it receives nothing for them anyway")
		case "unicast_fault_no_peer":
			in.UnicastFaultNoPeer = true
		case "old_unicast_checksum":
			in.OldUnicastChecksum = "always"
			if len(s.args) == 1 && s.args[0] == "never" {
				in.OldUnicastChecksum = "never"
			} else if len(s.args) > 0 {
				im.r.errorf(s.file, s.line, "old_unicast_checksum takes nothing or never")
			}
		case "v3_checksum_as_v2":
			in.ChecksumAsV2 = true
			if len(s.args) == 1 {
				in.ChecksumAsV2 = s.args[0] != "false" && s.args[0] != "no" && s.args[0] != "off"
			}
		case "lvs_sync_daemon_interface":
			im.r.errorf(s.file, s.line, "lvs_sync_daemon_interface is obsolete (keepalived too): use lvs_sync_daemon IFACE INSTANCE in global_defs")
		case "track_script":
			in.TrackScripts = im.tracks(s, "track_script")
		case "track_interface":
			in.TrackInterfaces = im.tracks(s, "track_interface")
		case "track_file":
			in.TrackFiles = im.tracks(s, "track_file")
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			cmd := strings.Join(s.args, " ")
			switch s.key {
			case "notify_master":
				in.NotifyMaster = cmd
			case "notify_backup":
				in.NotifyBackup = cmd
			case "notify_fault":
				in.NotifyFault = cmd
			case "notify_stop":
				in.NotifyStop = cmd
			default:
				in.Notify = cmd
			}
		case "garp_master_delay":
			if x, ok := im.num(s, 0, 1000); ok {
				in.GARPMasterDelay = time.Duration(x) * time.Second
			}
		case "garp_master_repeat":
			in.GARPMasterRepeat, _ = im.num(s, 0, 1000)
		case "garp_master_refresh":
			if x, ok := im.num(s, 0, 100000); ok {
				in.GARPMasterRefresh = time.Duration(x) * time.Second
			}
		case "garp_master_refresh_repeat":
			in.GARPRefreshRepeat, _ = im.num(s, 0, 1000)
		case "garp_lower_prio_repeat":
			in.GARPLowerPrioRepeat, _ = im.num(s, 0, 1000)
		case "garp_lower_prio_delay":
			if x, ok := im.num(s, 0, 1000); ok {
				in.GARPLowerPrioDelay = time.Duration(x) * time.Second
			}
		case "lower_prio_no_advert":
			in.LowerPrioNoAdvert = kaOn(s.args)
		case "smtp_alert", "dont_track_primary", "debug", "native_ipv6",
			"higher_prio_send_advert", "skip_check_adv_addr", "strict_mode", "kernel_rx_buf_size", "mcast_src_ip",
			"check_unicast_src", "unicast_ttl", "down_timer_adverts", "linkbeat_use_polling", "track_src_ip":
			im.ignored(s, "not used by lvsd")
		case "use_vmac", "vmac_xmit_base", "virtual_routes", "virtual_rules", "track_process", "track_bfd":
			im.r.errorf(s.file, s.line, "%s is not supported by lvsd", s.key)
		default:
			im.r.errorf(s.file, s.line, "unknown vrrp_instance keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	if !versionSet && len(in.VirtualIPs) > 0 && in.VirtualIPs[0].Addr().Is6() {
		in.Version = 3 // keepalived: IPv6 instances use VRRPv3
	}
	if in.Interface == "" {
		im.r.errorf(b.file, b.line, "vrrp_instance %s has no interface", in.Name)
	}
	if !given["virtual_router_id"] {
		im.r.errorf(b.file, b.line, "vrrp_instance %s has no virtual_router_id", in.Name)
	}
	if len(in.VirtualIPs) == 0 && vipEntries == 0 { // (bad entries are reported already)
		im.r.errorf(b.file, b.line, "vrrp_instance %s has no virtual_ipaddress", in.Name)
	}
	if msg := checkAdvert(in); msg != "" {
		im.r.errorf(b.file, b.line, "vrrp_instance %s: %s", in.Name, msg)
	}
	if in.Version == 3 && in.AuthType != "" {
		im.r.warnf(b.file, b.line, "vrrp_instance %s: VRRPv3 has no authentication; authentication ignored", in.Name)
		in.AuthType, in.AuthPass = "", ""
	}
	im.cfg.VRRP = append(im.cfg.VRRP, in)
}

func (im *kaImport) syncGroup(b *kaStmt) {
	if !im.want(b, 1) {
		return
	}
	g := &SyncGroup{Line: b.line, Name: b.args[0]}
	for _, s := range b.children {
		switch s.key {
		case "group":
			for _, m := range s.children {
				g.Members = append(g.Members, m.key)
				g.Members = append(g.Members, m.args...)
			}
		case "notify_master":
			g.NotifyMaster = strings.Join(s.args, " ")
		case "notify_backup":
			g.NotifyBackup = strings.Join(s.args, " ")
		case "notify_fault":
			g.NotifyFault = strings.Join(s.args, " ")
		case "notify":
			g.Notify = strings.Join(s.args, " ")
		case "sync_group_tracking_weight":
			g.TrackingWeight = true
		case "smtp_alert", "global_tracking", "notify_stop":
			im.ignored(s, "not used by lvsd")
		case "track_script", "track_interface", "track_file":
			im.r.errorf(s.file, s.line, "%s in a vrrp_sync_group is not supported: put it in each vrrp_instance", s.key)
		default:
			im.r.errorf(s.file, s.line, "unknown vrrp_sync_group keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	if len(g.Members) == 0 {
		im.r.errorf(b.file, b.line, "vrrp_sync_group %s has no group members", g.Name)
		return
	}
	for _, o := range im.cfg.SyncGroups {
		if o.Name == g.Name {
			if reflect.DeepEqual(o.Members, g.Members) && o.Notify == g.Notify && o.NotifyMaster == g.NotifyMaster {
				im.r.warnf(b.file, b.line, "vrrp_sync_group %s repeated identically; kept once", g.Name)
				return
			}
			im.r.errorf(b.file, b.line, "vrrp_sync_group %s defined twice (first at line %d)", g.Name, o.Line)
			return
		}
	}
	im.cfg.SyncGroups = append(im.cfg.SyncGroups, g)
}

// checkDefaults are the checker options a virtual_server or real_server
// sets for the checkers below it.
type checkDefaults struct {
	connectTimeout, retryDelay, interval time.Duration
	retry                                int
	set                                  defSet // which of them the block set
	virtualHost                          string
	alpha                                bool          // checks start failed (default: reals start up)
	warmup                               time.Duration // config.Check.Warmup
}

// defSet is a set of checker option names, as bits: copied with the
// defaults it belongs to, at no cost per real_server.
type defSet uint8

var defBits = map[string]defSet{"connect_timeout": 1, "delay_before_retry": 2, "delay_loop": 4, "retry": 8, "virtualhost": 16, "alpha": 32, "warmup": 64}

func (d defSet) has(key string) bool { return d&defBits[key] != 0 }

func (im *kaImport) checkDefault(s *kaStmt, d *checkDefaults) bool {
	switch s.key {
	case "connect_timeout":
		d.connectTimeout, _ = im.timer(s)
		if d.connectTimeout < time.Millisecond {
			im.r.errorf(s.file, s.line, "connect_timeout must be positive")
			d.connectTimeout = kaConnectTimeout
		}
	case "delay_before_retry":
		d.retryDelay, _ = im.timer(s)
	case "delay_loop":
		d.interval, _ = im.timer(s)
		if d.interval < time.Millisecond {
			im.r.errorf(s.file, s.line, "delay_loop must be positive")
			d.interval = 60 * time.Second
		}
	case "retry", "nb_get_retry":
		d.retry, _ = im.num(s, 0, 1000)
		s.key = "retry"
	case "virtualhost":
		if im.want(s, 1) {
			d.virtualHost = s.args[0]
		}
	case "alpha":
		d.alpha = len(s.args) == 0 || isTrue(s.args[0])
	case "warmup":
		w, ok := im.timer(s)
		if !ok {
			return true
		}
		d.warmup = w
		if w == 0 {
			d.warmup = NoWarmup
		}
	case "log_all_failures":
		im.ignored(s, "lvsd logs every state change of a real, not each failed check")
		return true
	default:
		return false
	}
	d.set |= defBits[s.key]
	return true
}

// kaConnectTimeout is keepalived's connect_timeout default, which bounds
// every phase of its checks (it has no separate negotiate timeout).
const kaConnectTimeout = 5 * time.Second

var kaForward = map[string]Forward{"NAT": Masq, "DR": Gate, "TUN": IPIP}

func (im *kaImport) method(s *kaStmt) (Forward, bool) {
	if len(s.args) == 0 {
		im.r.errorf(s.file, s.line, "%s needs NAT, DR or TUN", s.key)
		return "", false
	}
	f, ok := kaForward[strings.ToUpper(s.args[0])]
	if !ok {
		im.r.errorf(s.file, s.line, "%s must be NAT, DR or TUN, not %q", s.key, s.args[0])
		return "", false
	}
	if len(s.args) > 1 && !(len(s.args) == 3 && s.args[1] == "type" && s.args[2] == "ipip") {
		im.r.errorf(s.file, s.line, "%s %s: tunnel options %q are not supported (ipip only)", s.key, s.args[0], strings.Join(s.args[1:], " "))
	}
	return f, true
}

func (im *kaImport) hostPort(s *kaStmt, args []string, needPort bool) (netip.Addr, uint16, bool) {
	if len(args) == 0 || len(args) > 2 {
		im.r.errorf(s.file, s.line, "%s: want ADDRESS [PORT]", s.key)
		return netip.Addr{}, 0, false
	}
	a, err := netip.ParseAddr(args[0])
	if err != nil {
		im.r.errorf(s.file, s.line, "%s: invalid address %q", s.key, args[0])
		return netip.Addr{}, 0, false
	}
	var port uint16
	if len(args) == 2 {
		p, err := strconv.ParseUint(args[1], 10, 16)
		if err != nil {
			im.r.errorf(s.file, s.line, "%s: invalid port %q", s.key, args[1])
			return netip.Addr{}, 0, false
		}
		port = uint16(p)
	}
	return a.Unmap(), port, true
}

// vsHead is what a virtual_server line (or one entry of the
// virtual_server_group it names) says: an address and port, or a mark.
type vsHead struct {
	addr   netip.Addr
	port   uint16
	fwmark uint32
	six    bool   // fwmark ... inet6
	group  bool   // an entry of a virtual_server_group
	name   string // for messages: "10.0.0.1 80", "group WEB (10.0.0.2:80)"
}

func (im *kaImport) virtualServer(b *kaStmt) {
	switch {
	case len(b.args) >= 1 && b.args[0] == "group":
		if len(b.args) != 2 {
			im.r.errorf(b.file, b.line, "virtual_server group takes one group name")
			return
		}
		g, ok := im.groups[b.args[1]]
		if !ok {
			im.r.errorf(b.file, b.line, "virtual_server group %s: no virtual_server_group of that name", b.args[1])
			return
		}
		// keepalived makes one IPVS service per entry of the group, each
		// with the block's reals (their checks are shared: lib/check probes
		// a real checked the same way once)
		for _, h := range g {
			im.virtualServerAt(b, h)
		}
	case len(b.args) >= 2 && b.args[0] == "fwmark":
		m, err := strconv.ParseUint(b.args[1], 10, 32)
		if err != nil || m == 0 {
			im.r.errorf(b.file, b.line, "virtual_server fwmark: invalid mark %q", b.args[1])
			return
		}
		im.virtualServerAt(b, vsHead{fwmark: uint32(m), six: len(b.args) == 3 && b.args[2] == "inet6",
			name: strings.Join(b.args, " ")})
	default:
		a, p, ok := im.hostPort(b, b.args, true)
		if !ok {
			return
		}
		im.virtualServerAt(b, vsHead{addr: a, port: p, name: strings.Join(b.args, " ")})
	}
}

// maxGroupEntries bounds what ranges expand to (a /16 written as ranges
// is 65,536 services: a typo rather than a plan).
const maxGroupEntries = 4096

// virtualServerGroup reads a virtual_server_group: entries `ADDR PORT`,
// `ADDR-END PORT` (a range of the last IPv4 octet, or of the last IPv6
// group in hex, as keepalived reads it) and `fwmark N`.
func (im *kaImport) virtualServerGroup(b *kaStmt) {
	if !im.want(b, 1) {
		return
	}
	name := b.args[0]
	if _, dup := im.groups[name]; dup {
		im.r.errorf(b.file, b.line, "virtual_server_group %s defined twice", name)
		return
	}
	var out []vsHead
	for _, e := range b.children {
		if e.key == "fwmark" {
			if len(e.args) < 1 {
				im.r.errorf(e.file, e.line, "virtual_server_group %s: fwmark needs a mark", name)
				continue
			}
			m, err := strconv.ParseUint(e.args[0], 10, 32)
			if err != nil || m == 0 {
				im.r.errorf(e.file, e.line, "virtual_server_group %s: invalid fwmark %q", name, e.args[0])
				continue
			}
			out = append(out, vsHead{fwmark: uint32(m), group: true, name: fmt.Sprintf("group %s (fwmark %d)", name, m)})
			continue
		}
		first, last, ok := im.addrRange(e, e.key)
		if !ok {
			continue
		}
		var port uint16
		if len(e.args) > 0 {
			p, err := strconv.ParseUint(e.args[0], 10, 16)
			if err != nil {
				im.r.errorf(e.file, e.line, "virtual_server_group %s: invalid port %q", name, e.args[0])
				continue
			}
			port = uint16(p)
		}
		if len(e.args) > 1 {
			im.r.errorf(e.file, e.line, "virtual_server_group %s: want ADDRESS[-END] PORT, or fwmark N", name)
			continue
		}
		for a := first; ; a = a.Next() {
			if len(out) >= maxGroupEntries {
				im.r.errorf(e.file, e.line, "virtual_server_group %s: more than %d entries", name, maxGroupEntries)
				break
			}
			out = append(out, vsHead{addr: a, port: port, group: true, name: fmt.Sprintf("group %s (%s)", name, netip.AddrPortFrom(a, port))})
			if a == last {
				break
			}
		}
	}
	if len(out) == 0 {
		im.r.warnf(b.file, b.line, "virtual_server_group %s has no entry: its virtual_servers are not created", name)
	}
	if im.groups == nil {
		im.groups = map[string][]vsHead{}
	}
	im.groups[name] = out
}

// addrRange reads ADDR or ADDR-END: END replaces the last octet (IPv4) or
// the last 16-bit group, in hex (IPv6).
func (im *kaImport) addrRange(e *kaStmt, s string) (first, last netip.Addr, ok bool) {
	lo, hi, isRange := strings.Cut(s, "-")
	a, err := netip.ParseAddr(lo)
	if err != nil {
		im.r.errorf(e.file, e.line, "virtual_server_group: invalid address %q", lo)
		return first, last, false
	}
	a = a.Unmap()
	if !isRange {
		return a, a, true
	}
	if a.Is4() {
		end, err := strconv.ParseUint(hi, 10, 8)
		b := a.As4()
		if err != nil || byte(end) <= b[3] {
			im.r.errorf(e.file, e.line, "virtual_server_group: invalid range %q (the end is a last octet above the start's, as keepalived wants: 10.0.0.1-10)", s)
			return first, last, false
		}
		b[3] = byte(end)
		return a, netip.AddrFrom4(b), true
	}
	end, err := strconv.ParseUint(hi, 16, 16)
	b := a.As16()
	if err != nil || uint16(end) <= uint16(b[14])<<8|uint16(b[15]) {
		im.r.errorf(e.file, e.line, "virtual_server_group: invalid range %q (the end is a last group in hex above the start's, as keepalived wants: 2001:db8::1-a)", s)
		return first, last, false
	}
	b[14], b[15] = byte(end>>8), byte(end)
	return a, netip.AddrFrom16(b), true
}

func (im *kaImport) virtualServerAt(b *kaStmt, h vsHead) {
	v := &Virtual{Line: b.line, Family: 4, Protocol: "tcp", Scheduler: "wlc"}
	if h.fwmark != 0 {
		v.Protocol, v.FWMark = "fwm", h.fwmark
		if h.six {
			v.Family = 6
		}
	} else {
		v.Addr, v.Port = h.addr, h.port
		if h.addr.Is6() {
			v.Family = 6
		}
	}
	vsFwd := Masq // keepalived's default lvs_method is NAT
	var defs checkDefaults
	defs.interval = 60 * time.Second
	var sorry *kaStmt
	var sorryFwd Forward
	var reals []*kaStmt
	protoSet := false
	site := vSite{netmaskName: "persistence_granularity", schedFlagsName: "scheduler flags"}
	for _, s := range b.children {
		if im.checkDefault(s, &defs) {
			continue
		}
		if s.key == "protocol" {
			protoSet = true
		}
		switch s.key {
		case "lb_algo", "lvs_sched":
			if im.want(s, 1) {
				v.Scheduler = s.args[0]
				if msg := schedulerProblem(v.Scheduler); msg != "" {
					// keepalived ignores it ("Invalid lvs_scheduler") and uses wlc
					im.r.errorf(s.file, s.line, "%s: %s", s.key, msg)
				}
			}
		case "lb_kind", "lvs_method":
			if f, ok := im.method(s); ok {
				vsFwd = f
			}
		case "protocol":
			if im.want(s, 1) {
				switch strings.ToUpper(s.args[0]) {
				case "TCP":
					v.Protocol = "tcp"
				case "UDP":
					v.Protocol = "udp"
				case "SCTP":
					v.Protocol = "sctp"
				default:
					im.r.errorf(s.file, s.line, "protocol %s is not supported (TCP, UDP or SCTP)", s.args[0])
				}
				if v.FWMark != 0 {
					v.Protocol = "fwm"
				}
			}
		case "persistence_timeout":
			if len(s.args) == 0 {
				v.Persistent = 360 * time.Second
			} else if x, ok := im.num(s, 0, 1<<30); ok {
				v.Persistent = time.Duration(x) * time.Second
			}
		case "persistence_granularity":
			if im.want(s, 1) {
				v.Netmask = s.args[0]
				site.netmaskLine = s.line
			}
		case "ops":
			v.OnePacket = true
			site.opsLine = s.line
		case "flag-1", "flag-2", "flag-3", "sh-port", "sh-fallback", "mh-port", "mh-fallback":
			v.SchedFlags = append(v.SchedFlags, s.key)
		case "inhibit_on_failure":
			v.InhibitOnFailure = len(s.args) == 0 || isTrue(s.args[0])
		case "quorum":
			v.Quorum, _ = im.num(s, 0, 1<<30)
		case "hysteresis":
			v.Hysteresis, _ = im.num(s, 0, 1<<30)
		case "quorum_up":
			v.QuorumUp = strings.Join(s.args, " ")
		case "quorum_down":
			v.QuorumDown = strings.Join(s.args, " ")
		case "sorry_server":
			sorry = s
		case "sorry_server_lvs_method":
			sorryFwd, _ = im.method(s)
		case "real_server":
			reals = append(reals, s)
		case "ip_family":
			if im.want(s, 1) && s.args[0] == "inet6" {
				v.Family = 6
			}
		case "smtp_alert":
			if im.vsSMTPAlert == nil {
				im.vsSMTPAlert = map[*Virtual]bool{}
			}
			im.vsSMTPAlert[v] = kaOn(s.args)
		case "ha_suspend", "snmp_name", "omega", "sorry_server_inhibit", "persistence_engine", "net_mask":
			im.ignored(s, "not supported by lvsd")
		default:
			im.r.errorf(s.file, s.line, "unknown virtual_server keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	if !protoSet && v.Protocol != "fwm" {
		v.Protocol = "udp"
		im.r.warnf(b.file, b.line, "virtual_server without protocol: UDP, as keepalived defaults to (write protocol TCP if that is what you meant)")
	}
	name := h.name
	if len(reals) == 0 {
		also := ""
		if sorry != nil {
			also = " (nor is its sorry_server)"
		}
		im.r.warnf(b.file, b.line, "virtual_server %s has no real_server: not created%s, as keepalived does "+
			"(\"has no real servers - ignoring\") (fix: add real_server blocks to it, or remove it)", name, also)
		return
	}
	if zeroPortProblem(v) {
		im.r.warnf(b.file, b.line, "virtual_server %s: port 0 (every port) is only valid for a persistent service: "+
			"persistence_timeout 360 set, as keepalived does (\"zero port only valid for persistent services\") "+
			"(fix: virtual_server %s PORT, or persistence_timeout N to balance every port)", name, v.Addr)
		v.Persistent = 360 * time.Second
	}
	v.Quiescent = v.InhibitOnFailure
	v.CleanStop = true
	v.EmailAlertStatus = []string{"all"}
	if h.group && v.Netmask != "" {
		// seen in the VM: keepalived 2.2.7 programs a group's services
		// with the full mask, whatever persistence_granularity says
		im.r.warnf(b.file, site.netmaskLine, "persistence_granularity ignored in a virtual_server group: keepalived "+
			"programs the group's services with the full mask, and so does lvsd (fix: remove it, or write the "+
			"addresses as virtual_servers of their own to have it)")
		v.Netmask = ""
	}
	resolveVirtual(v, site,
		func(line int, f string, a ...any) { im.r.errorf(b.file, line, f, a...) },
		func(line int, f string, a ...any) { im.r.warnf(b.file, line, f, a...) })
	if sorry != nil {
		a, p, ok := im.hostPort(sorry, sorry.args, false)
		if ok {
			if p == 0 {
				p = v.Port
			}
			f := vsFwd
			if sorryFwd != "" {
				f = sorryFwd
			}
			v.Fallback = &Real{Line: sorry.line, Addr: a, Port: p, Forward: f, Weight: 1}
		}
	}
	var checks []*Check
	im.realSeen = nil
	if len(reals) > 16 {
		im.realSeen = make(map[netip.AddrPort]bool, len(reals))
	}
	for _, s := range reals {
		r, c := im.realServer(s, v, vsFwd, defs)
		if r == nil {
			continue
		}
		v.Reals = append(v.Reals, r)
		checks = append(checks, c)
	}
	// inhibit_on_failure on every real_server is the virtual's quiescent
	if len(v.Reals) > 0 && !v.Quiescent {
		all := true
		for _, r := range v.Reals {
			all = all && r.Quiescent != nil && *r.Quiescent
		}
		if all {
			v.Quiescent = true
			for _, r := range v.Reals {
				r.Quiescent = nil
			}
		}
	}
	// one check for the virtual when every real has the same one
	if len(checks) > 0 {
		v.Check = *checks[0]
		for i, r := range v.Reals {
			if !reflect.DeepEqual(checks[i], &v.Check) { // pointers: no copy boxed
				c := *checks[i] // checks may be shared by reals
				r.Check = &c
			}
		}
	} else {
		v.Check = im.newCheck(v, defs, "on")
	}
	key := v.Key()
	if o := im.vsSeen[key]; o != nil {
		// seed 003 mixes DR and TUN reals under one service with two blocks
		if o.Scheduler != v.Scheduler || o.Persistent != v.Persistent || o.Netmask != v.Netmask || !reflect.DeepEqual(o.SchedFlags, v.SchedFlags) {
			im.r.errorf(b.file, b.line, "virtual_server %s defined again (line %d) with different service settings", key, o.Line)
			return
		}
		im.r.warnf(b.file, b.line, "virtual_server %s defined again (first at line %d): its real servers are merged into the first", key, o.Line)
		had := make(map[netip.AddrPort]bool, len(o.Reals))
		for _, r := range o.Reals {
			had[netip.AddrPortFrom(r.Addr, r.Port)] = true
		}
		for _, r := range v.Reals {
			if had[netip.AddrPortFrom(r.Addr, r.Port)] {
				im.r.errorf(b.file, r.Line, "real_server %s defined twice in virtual_server %s (also in the block at line %d)", r.HostPort(), key, o.Line)
				continue
			}
			if !reflect.DeepEqual(v.Check, o.Check) && r.Check == nil {
				c := v.Check
				r.Check = &c
			}
			o.Reals = append(o.Reals, r)
		}
		return
	}
	im.vsSeen[key] = v
	im.cfg.Virtuals = append(im.cfg.Virtuals, v)
}

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
}

func (im *kaImport) newCheck(v *Virtual, d checkDefaults, typ string) Check {
	c := Check{Type: typ, Service: "none", Request: "/", HTTPMethod: "GET", Interval: d.interval, Count: 1,
		CheckTimeout: kaConnectTimeout, NegotiateTimeout: kaConnectTimeout, FailureCount: 2, RetryDelay: time.Second,
		StartUp: !d.alpha, Warmup: d.warmup}
	if d.set.has("connect_timeout") {
		c.CheckTimeout, c.NegotiateTimeout = d.connectTimeout, d.connectTimeout
	}
	return c
}

func (im *kaImport) realServer(b *kaStmt, v *Virtual, fwd Forward, vdefs checkDefaults) (*Real, *Check) {
	a, p, ok := im.hostPort(b, b.args, false)
	if !ok {
		return nil, nil
	}
	if a.Is6() != (v.Family == 6) && v.Protocol != "fwm" {
		im.r.errorf(b.file, b.line, "real_server %s is not of the virtual server's address family", a)
		return nil, nil
	}
	if p == 0 && v.Protocol != "fwm" {
		p = v.Port
	}
	r := &Real{Line: b.line, Addr: a, Port: p, Forward: fwd, Weight: 1}
	defs := vdefs
	var checkers []*kaStmt // all must pass, as in keepalived
	for _, s := range b.children {
		if im.checkDefault(s, &defs) {
			continue
		}
		switch s.key {
		case "weight":
			r.Weight, _ = im.num(s, 0, 65535)
		case "lvs_method":
			if f, ok := im.method(s); ok {
				r.Forward = f
			}
		case "inhibit_on_failure":
			q := len(s.args) == 0 || isTrue(s.args[0])
			r.Quiescent = &q
		case "uthreshold":
			r.Upper, _ = im.num(s, 0, 1<<30)
		case "lthreshold":
			r.Lower, _ = im.num(s, 0, 1<<30)
		case "TCP_CHECK", "HTTP_GET", "SSL_GET", "DNS_CHECK", "MISC_CHECK", "SMTP_CHECK", "PING_CHECK", "UDP_CHECK":
			checkers = append(checkers, s)
		case "FILE_CHECK", "BFD_CHECK":
			im.r.errorf(s.file, s.line, "%s is not supported by lvsd", s.key)
		case "notify_up", "notify_down":
			if len(s.args) == 0 {
				im.r.errorf(s.file, s.line, "%s needs a script", s.key)
				continue
			}
			if len(s.args) > 1 {
				im.ignored(s, "username/groupname: lvsd runs the script as the user it runs as (the script is kept)")
			}
			if s.key == "notify_up" {
				r.NotifyUp = s.args[0]
			} else {
				r.NotifyDown = s.args[0]
			}
		case "smtp_alert", "snmp_name":
			im.ignored(s, "not supported by lvsd")
		default:
			im.r.errorf(s.file, s.line, "unknown real_server keyword %q%s", s.key, kaSuggest(s.key))
		}
	}
	configured := r.Port
	portMsg := fixRealPort(v, r)
	// a map, not a scan of the reals so far: a ~SEQ or a generated file
	// gives one virtual_server tens of thousands of reals
	// (a few reals are faster to compare than to hash)
	ap := netip.AddrPortFrom(r.Addr, r.Port)
	dup := im.realSeen[ap]
	if im.realSeen == nil {
		for _, o := range v.Reals {
			dup = dup || o.Addr == r.Addr && o.Port == r.Port
		}
	}
	if dup {
		im.r.errorf(b.file, b.line, "real_server %s defined twice in this virtual_server", r.HostPort())
		return nil, nil
	}
	if im.realSeen != nil {
		im.realSeen[ap] = true
	}
	if r.Quiescent != nil && *r.Quiescent == v.Quiescent {
		r.Quiescent = nil
	}
	if len(checkers) == 0 {
		if portMsg != "" {
			im.r.warnf(b.file, b.line, "%s", portMsg)
		}
		im.noChecker(b, r, v)
		// reals without a checker under the same defaults share one
		// (10,000 such reals must not cost 10,000 checks)
		if im.onCheck == nil || im.onCheckVS != v || im.onDefs != defs {
			c := im.newCheck(v, defs, "on")
			im.onCheck, im.onCheckVS, im.onDefs = &c, v, defs
		}
		return r, im.onCheck
	}
	var c Check
	for i, ck := range checkers {
		one := im.checker(ck, v, defs)
		if portMsg != "" && one.Port == 0 && one.Type != "ping" && one.Type != "external" {
			// keepalived checks the port written on real_server (only the
			// kernel rewrites it), not the virtual's
			one.Port = configured
			for j := range one.Also {
				if one.Also[j].Port == 0 {
					one.Also[j].Port = configured
				}
			}
			if i == 0 {
				portMsg += fmt.Sprintf("; its %s connects to port %d, as keepalived does (connect_port sets another)", ck.key, configured)
			}
		}
		if i == 0 {
			c = one
			continue
		}
		// one schedule for the lot: the first checker's
		if one.Interval != c.Interval || one.FailureCount != c.FailureCount || one.RetryDelay != c.RetryDelay {
			im.r.warnf(ck.file, ck.line, "%s runs with the first checker (%s at line %d): lvsd checks a real_server's "+
				"checkers together, on the first one's delay_loop %s, retry %d and delay_before_retry %s, and the real "+
				"is up while all of them pass (keepalived times each on its own)", ck.key, checkers[0].key,
				checkers[0].line, dur(c.Interval), c.FailureCount-1, dur(c.RetryDelay))
		}
		also := one.Also
		one.Also = nil
		c.Also = append(append(c.Also, one), also...)
	}
	for i := range c.Also { // what the first one's schedule says, so said once
		a := &c.Also[i]
		a.Interval, a.FailureCount, a.RetryDelay, a.StartUp, a.Warmup = c.Interval, c.FailureCount, c.RetryDelay, c.StartUp, c.Warmup
	}
	if portMsg != "" {
		im.r.warnf(b.file, b.line, "%s", portMsg)
	}
	return r, &c
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
	case "DNS_CHECK":
		c.Type, c.Service, c.DNSType, c.DNSName, retry, c.RetryDelay = "negotiate", "dns", "SOA", ".", 3, c.Interval
	case "MISC_CHECK":
		c.Type, retry, c.MiscPath = "external", 0, true
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
			c.Command = strings.Join(s.args, " ")
		case "misc_timeout":
			if x, ok := im.num(s, 1, 1<<20); ok {
				c.CheckTimeout, c.NegotiateTimeout = time.Duration(x)*time.Second, time.Duration(x)*time.Second
			}
		case "misc_dynamic":
			im.r.errorf(s.file, s.line, "misc_dynamic (weight from the exit code) is not supported")
		case "user":
			im.ignored(s, "lvsd runs check commands as the user it runs as")
		case "helo_name":
			im.ignored(s, "lvsd sends its host name in EHLO")
		case "host":
			im.r.errorf(s.file, s.line, "SMTP_CHECK host blocks are not supported: the real server is checked")
		default:
			im.r.errorf(s.file, s.line, "unknown %s keyword %q%s", b.key, s.key, kaSuggest(s.key))
		}
	}
	if b.key == "TCP_CHECK" && v.Protocol == "udp" {
		im.r.warnf(b.file, b.line, "TCP_CHECK on a UDP virtual_server: lvsd's connect check pings UDP reals (as ldirectord does) where keepalived opens a TCP connection")
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

// kaOn reads keepalived's optional boolean argument (none: on).
func kaOn(args []string) bool {
	if len(args) == 0 {
		return true
	}
	switch strings.ToLower(args[0]) {
	case "off", "no", "false", "0":
		return false
	}
	return true
}

func (im *kaImport) finish() {
	// keepalived mails a checker's transitions only where smtp_alert is on:
	// the virtual_server's own, else smtp_alert_checker, else smtp_alert
	g := &im.cfg.Global
	for _, v := range im.cfg.Virtuals {
		on, set := im.vsSMTPAlert[v]
		switch {
		case set:
		case im.smtpAlertChecker != nil:
			on = *im.smtpAlertChecker
		case im.smtpAlert != nil:
			on = *im.smtpAlert
		}
		if on && g.EmailAlert != "" {
			v.EmailAlert, v.SMTP = g.EmailAlert, g.SMTP
		}
	}
	if u := im.unchecked; u.n == 1 {
		im.r.warnf(u.file, u.line, "real_server %s has no checker: always up (checktype on)", u.first)
	} else if u.n > 1 {
		last := fmt.Sprintf("line %d", u.lastLine)
		if u.lastFile != u.file {
			last = fmt.Sprintf("%s:%d", u.lastFile, u.lastLine)
		}
		im.r.warnf(u.file, u.line, "real_server %s and %d more real_servers (in %d virtual_servers, the last at %s) have no checker: always up (checktype on)",
			u.first, u.n-1, u.vs, last)
	}
	names := map[string]bool{}
	for _, in := range im.cfg.VRRP {
		names[in.Name] = true
	}
	for _, g := range im.cfg.SyncGroups {
		for _, m := range g.Members {
			if !names[m] {
				im.r.errorf(im.r.d.file, g.Line, "vrrp_sync_group %s: no vrrp_instance %q", g.Name, m)
			}
		}
	}
	if ls := im.cfg.LVSSync; ls != nil && ls.Instance != "" && !names[ls.Instance] {
		im.r.errorf(im.r.d.file, ls.Line, "lvs_sync_daemon: no vrrp_instance %q", ls.Instance)
	}
	im.cfg.LVSSync.DefaultSyncID(im.cfg.VRRP)
	vipOwners(im.cfg, func(line int, format string, args ...any) { im.r.errorf(im.r.d.file, line, format, args...) })
	syncGroupWeights(im.cfg, func(line int, format string, args ...any) { im.r.warnf(im.r.d.file, line, format, args...) })
}
