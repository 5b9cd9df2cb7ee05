package config

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// keepalived.conf import. keepalived's grammar is `keyword args...` per
// line, with `{ ... }` blocks; `!` and `#` start comments; `include GLOB`
// inlines files. Everything the model can express is imported; everything
// else is reported, line by line: a warning when ignoring it changes nothing
// for the load balancer (router_id, smtp_alert, snmp names), an error when
// it would.
//
// The reader is in files by concern: keepalived_lex.go (preprocessor,
// include, tokens, blocks), this file (the top level and the importer's
// helpers), keepalived_global.go, keepalived_vrrp.go, keepalived_vs.go
// (virtual_server, groups, real_server) and keepalived_checkers.go.

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
	"persistence_engine", "net_mask", "nat_mask", "uthreshold", "lthreshold", "notify_up", "notify_down", "connect_port",
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

func parseKeepalived(name string, data []byte, o Options) (*Config, error) {
	cfg, _, err := readKeepalived(name, data, o, false)
	return cfg, err
}

// readKeepalived reads a whole file. With keep, it also returns what a
// Reader needs to read the file's next version in part (nil when this
// read cannot serve: see kaLast).
func readKeepalived(name string, data []byte, o Options, keep bool) (*Config, *kaLast, error) {
	r := &kaReader{d: diags{file: name}, o: o}
	toks := r.tokenize(name, data, 1, nil)
	stmts, _ := r.parseBlock(toks, 0, true, kaToken{})
	items := make([]kaItem, len(stmts))
	for i, s := range stmts {
		items[i].s = s
	}
	cfg, im, err := importKeepalived(r, items, keep && !r.special)
	if err != nil || !keep || r.special {
		return cfg, nil, err
	}
	return cfg, newKALast(name, data, items, im), nil
}

// kaItem is one top-level statement to import, or (reuse) a virtual_server
// block whose import the previous read of the file made, its lines moved
// by shift since.
type kaItem struct {
	s     *kaStmt
	reuse *kaDone
	shift int
	done  *kaDone // filled by importKeepalived when it records
}

// importKeepalived gives the top-level statements their meaning. With
// record, each virtual_server's import is recorded in its item (done)
// for the next read.
func importKeepalived(r *kaReader, items []kaItem, record bool) (*Config, *kaImport, error) {
	name := r.d.file
	cfg := &Config{Source: name, Format: "keepalived"}
	g := &cfg.Global
	// keepalived has no global check settings (each checker has its
	// delay_loop): lvsd's defaults, which pace only its table re-reads
	g.CheckInterval, g.CheckCount, g.FailureCount = DefaultCheckInterval, 1, 1
	g.CleanStop, g.LogFile, g.EmailAlertStatus = true, DefaultLogFile, []string{"all"}
	im := &kaImport{r: r, cfg: cfg, vsSeen: make(map[string]*Virtual, len(items)), version: 2}
	for _, it := range items {
		if it.reuse != nil {
			im.reused = make(map[*Virtual]bool, len(items))
			break
		}
	}
	for _, it := range items {
		if it.s != nil && it.s.key == "global_defs" {
			im.globalDefs(it.s)
		}
	}
	for _, it := range items {
		if it.s == nil {
			continue
		}
		switch s := it.s; s.key {
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
	for i := range items {
		it := &items[i]
		if it.reuse != nil {
			if it.reuse = im.reuse(it.reuse, it.shift); it.reuse == nil {
				return nil, im, errNoReuse
			}
			prev, stray = &it.reuse.head, false
			continue
		}
		s := it.s
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
			if record {
				it.done = im.recordVirtualServer(s)
			} else {
				im.virtualServer(s)
			}
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
	for _, it := range items {
		for _, v := range it.done.virtualsOrNil() {
			if im.finishSaid[v] {
				it.done.ok = false // its warning comes from finish, not from its record
			}
		}
	}
	cfg.Warnings = sorted(r.d.warnings)
	if len(r.d.errs) > 0 {
		return nil, im, r.d.fail()
	}
	return cfg, im, nil
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
	fileSrc  map[*TrackFile]string // the file a track_file block is in
	version  int
	re       patterns // regex patterns compiled so far
	// the check shared by the reals without a checker of one virtual_server
	onCheck   *Check
	onCheckVS *Virtual
	onDefs    checkDefaults
	// reals without a checker: one warning for all of them (a generated
	// file has thousands), naming the first
	unchecked kaUnchecked
	// a Reader's read in part: the virtuals reused from the previous read
	// (finished then), and what makes a virtual_server's import
	// unfit for reuse (noReuse: it read a group, a track_file or a user;
	// merged: a virtual_server defined twice)
	reused          map[*Virtual]bool
	noReuse, merged bool
	finishSaid      map[*Virtual]bool // finish warned about it: read it again next time
	startupDelay    time.Duration     // vrrp_startup_delay
	// keepalived's smtp_alert: global_defs' smtp_alert / smtp_alert_checker
	// (nil: unset) and each virtual_server's own; a virtual gets the
	// global notification_email only where one is on (finish)
	smtpAlert, smtpAlertChecker *bool
	smtpAlertVRRP               *bool
	vrrpSMTPAlert               map[string]bool // vrrp_instance name -> its own smtp_alert
	groupSMTPAlert              map[*SyncGroup]bool
	vsFile                      map[*Virtual]string // the file declaring each virtual_server
	vsSMTPAlert                 map[*Virtual]bool
	rsSMTPAlert                 map[*Real]bool
	checksumAsV2                bool    // global v3_checksum_as_v2
	strict                      *kaStmt // global vrrp_strict (nil: off)
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

func isTrue(s string) bool {
	switch strings.ToLower(s) {
	case "on", "true", "yes", "1":
		return true
	}
	return false
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
	// keepalived's smtp_alert (check_data.c): a virtual_server's quorum
	// mails and each real_server's check mails are on by their own
	// smtp_alert, else smtp_alert_checker, else smtp_alert, else off for a
	// virtual and on for a real. Mails need notification_email and
	// smtp_server, as keepalived sends none without a server.
	g := &im.cfg.Global
	resolve := func(own bool, set, dflt bool) bool {
		switch {
		case set:
			return own
		case im.smtpAlertChecker != nil:
			return *im.smtpAlertChecker
		case im.smtpAlert != nil:
			return *im.smtpAlert
		}
		return dflt
	}
	im.finishSaid = map[*Virtual]bool{}
	for _, v := range im.cfg.Virtuals {
		if im.reused[v] {
			continue // finished by the read it comes from (same global_defs)
		}
		// check_data.c: a quorum above the reals' total weight could
		// never be reached, so keepalived lowers it to that weight (and a
		// hysteresis to below the quorum)
		total := 0
		for _, r := range v.Reals {
			total += r.Weight
		}
		if v.Quorum > total && total > 0 {
			im.finishSaid[v] = true
			im.r.warnf(im.vsFile[v], v.Line, "quorum %d for %s exceeds the total weight of its real servers %d: quorum %d (keepalived too)", v.Quorum, v.Key(), total, total)
			v.Quorum = total
		}
		if v.Quorum > 0 && v.Hysteresis >= v.Quorum {
			im.finishSaid[v] = true
			im.r.warnf(im.vsFile[v], v.Line, "hysteresis %d for %s >= quorum %d: hysteresis %d (keepalived too)", v.Hysteresis, v.Key(), v.Quorum, v.Quorum-1)
			v.Hysteresis = v.Quorum - 1
		}
		own, set := im.vsSMTPAlert[v]
		v.QuorumAlert = resolve(own, set, false)
		any := v.QuorumAlert
		for _, r := range v.Reals {
			own, set := im.rsSMTPAlert[r]
			r.NoAlert = !resolve(own, set, true)
			any = any || !r.NoAlert
		}
		if any && g.EmailAlert != "" && g.SMTP != "" {
			v.EmailAlert, v.SMTP, v.MailStyle = g.EmailAlert, g.SMTP, "keepalived"
		}
	}
	// a vrrp_instance's and a vrrp_sync_group's: its own, else
	// smtp_alert_vrrp, else smtp_alert (vrrp.c), off by default
	vrrpAlert := func(own, set bool) bool {
		switch {
		case set:
			return own
		case im.smtpAlertVRRP != nil:
			return *im.smtpAlertVRRP
		case im.smtpAlert != nil:
			return *im.smtpAlert
		}
		return false
	}
	for _, in := range im.cfg.VRRP {
		own, set := im.vrrpSMTPAlert[in.Name]
		in.SMTPAlert = vrrpAlert(own, set)
	}
	for _, g := range im.cfg.SyncGroups {
		own, set := im.groupSMTPAlert[g]
		g.SMTPAlert = vrrpAlert(own, set)
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
	vipOwners(im.cfg, func(line int, format string, args ...any) { im.r.errorf(im.r.d.file, line, format, args...) },
		func(line int, format string, args ...any) { im.r.warnf(im.r.d.file, line, format, args...) })
	syncGroupWeights(im.cfg, func(line int, format string, args ...any) { im.r.warnf(im.r.d.file, line, format, args...) })
}

// command is a keepalived script line (vrrp_script script, notify_*,
// misc_path, quorum_up / quorum_down). lvsd runs it with /bin/sh -c, as
// keepalived 1.x did (system()); keepalived 2.x splits it into words
// and runs them without a shell, so shell syntax outside quotes is an
// argument there. Such a line is kept and warned about: its author
// meant the shell (how-tos of the 1.x era, seed 003's maintenance
// check), and under keepalived 2 the same line silently does otherwise.
func (im *kaImport) command(s *kaStmt) string {
	line := strings.Join(s.args, " ")
	if op := kaShellSyntax(line); op != "" {
		im.r.warnf(s.file, s.line, "%s %q: %q is shell syntax: lvsd runs the line with /bin/sh -c (as keepalived 1.x did); keepalived 2.x runs it without a shell, "+
			"where %q is an argument of %s, so a keepalived 2 peer sees another result (fix, so both agree: call the shell yourself, /bin/sh -c '...', or put the line in a script file)",
			s.key, line, op, op, kaFirstWord(line))
	}
	return line
}

// kaShellSyntax is the first shell operator or expansion outside quotes
// in line ("" when none), as keepalived 2's word splitting leaves them.
func kaShellSyntax(line string) string {
	var quote byte
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '&' || c == '|' || c == ';' || c == '>' || c == '<' || c == '`':
			j := i + 1
			for j < len(line) && j < i+2 && strings.IndexByte("&|>", line[j]) >= 0 {
				j++
			}
			return line[i:j]
		case c == '$' && i+1 < len(line) && (line[i+1] == '(' || line[i+1] == '{' || isAlpha(line[i+1])):
			return line[i : i+2]
		}
	}
	return ""
}

func isAlpha(c byte) bool { return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z') }

func kaFirstWord(line string) string {
	if f := strings.Fields(line); len(f) > 0 {
		return f[0]
	}
	return line
}

// kaScalars are the keywords of a block that take one value: written
// twice with different values, the last counts (keepalived too, and
// silently); a copy-paste slip (seed 000 as published has priority 100
// and priority 50 in one instance) is warned about.
var kaScalars = map[string]bool{
	"state": true, "interface": true, "virtual_router_id": true, "priority": true, "advert_int": true,
	"version": true, "unicast_src_ip": true, "preempt_delay": true,
	"delay_loop": true, "lb_algo": true, "lvs_sched": true, "lb_kind": true, "lvs_method": true, "protocol": true,
	"persistence_timeout": true, "persistence_granularity": true, "quorum": true, "hysteresis": true,
	"sorry_server": true, "weight": true, "connect_timeout": true, "connect_port": true, "retry": true,
	"nb_get_retry": true, "delay_before_retry": true, "warmup": true,
}

// repeats warns of a one-value keyword given twice in b with different
// values.
func (im *kaImport) repeats(b *kaStmt) {
	first := map[string]*kaStmt{}
	for _, s := range b.children {
		if s.block || !kaScalars[s.key] {
			continue
		}
		f, ok := first[s.key]
		if !ok {
			first[s.key] = s
			continue
		}
		if strings.Join(f.args, " ") != strings.Join(s.args, " ") {
			im.r.warnf(s.file, s.line, "%s given twice in this block (%s at line %d, %s here): the last counts, as in keepalived",
				s.key, strings.Join(f.args, " "), f.line, strings.Join(s.args, " "))
		}
		first[s.key] = s
	}
}
