package config

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// WriteTOML prints c in the ocf-lvs TOML format. Reading the output back
// gives the same table (WriteTable) as c: values a virtual inherits from the
// global section are written once, in [global].
func WriteTOML(w io.Writer, c *Config) error {
	t := &tomlWriter{}
	t.comment("ocf-lvs configuration")
	if c.Source != "" {
		t.comment(fmt.Sprintf("migrated from %s (%s) by lvsd migrate", c.Source, c.Format))
	}
	t.global(&c.Global, c.Format != "keepalived")
	for _, v := range c.Virtuals {
		t.virtual(v, &c.Global)
	}
	for _, s := range c.Scripts {
		t.header("[[vrrp_script]]")
		t.str("name", s.Name)
		t.str("script", s.Script)
		t.dur("interval", s.Interval)
		if s.Timeout > 0 {
			t.dur("timeout", s.Timeout)
		}
		t.int("weight", s.Weight)
		if s.Reverse {
			t.bool("reverse", true)
		}
		t.int("rise", s.Rise)
		t.int("fall", s.Fall)
		if s.InitFail {
			t.bool("init_fail", true)
		}
	}
	for _, f := range c.TrackFiles {
		t.header("[[track_file]]")
		t.str("name", f.Name)
		t.str("file", f.File)
		t.int("weight", f.Weight)
		if f.Reverse {
			t.bool("reverse", true)
		}
		if f.Init {
			t.int("init_file", f.InitValue)
		}
		if f.Overwrite {
			t.bool("init_file_overwrite", true)
		}
	}
	for _, in := range c.VRRP {
		t.vrrp(in)
	}
	for _, g := range c.SyncGroups {
		t.header("[[vrrp_sync_group]]")
		t.str("name", g.Name)
		t.strs("group", g.Members)
		t.optStr("notify_master", g.NotifyMaster)
		t.optStr("notify_backup", g.NotifyBackup)
		t.optStr("notify_fault", g.NotifyFault)
		t.optStr("notify", g.Notify)
		if g.TrackingWeight {
			t.bool("sync_group_tracking_weight", true)
		}
		if g.SMTPAlert {
			t.bool("smtp_alert", true)
		}
	}
	if l := c.LVSSync; l != nil {
		t.header("[lvs_sync_daemon]")
		t.str("interface", l.Interface)
		if l.Instance != "" {
			t.str("instance", l.Instance)
		}
		t.int("id", l.SyncID)
		for _, o := range []struct {
			k string
			v int
		}{{"maxlen", l.MaxLen}, {"port", l.Port}, {"ttl", l.TTL}} {
			if o.v != 0 {
				t.int(o.k, o.v)
			}
		}
		if l.Group.IsValid() {
			t.str("group", l.Group.String())
		}
	}
	_, err := io.WriteString(w, t.b.String())
	return err
}

type tomlWriter struct {
	b      strings.Builder
	inAlso bool // writing an also check: the schedule is its first check's
}

func (t *tomlWriter) comment(s string) { fmt.Fprintf(&t.b, "# %s\n", s) }
func (t *tomlWriter) header(h string)  { fmt.Fprintf(&t.b, "\n%s\n", h) }
func (t *tomlWriter) str(k, v string)  { fmt.Fprintf(&t.b, "%s = %s\n", k, tomlQuote(v)) }
func (t *tomlWriter) optStr(k, v string) {
	if v != "" {
		t.str(k, v)
	}
}
func (t *tomlWriter) int(k string, v int) { fmt.Fprintf(&t.b, "%s = %d\n", k, v) }
func (t *tomlWriter) bool(k string, v bool) {
	fmt.Fprintf(&t.b, "%s = %t\n", k, v)
}
func (t *tomlWriter) dur(k string, d time.Duration) { t.str(k, durText(d)) }
func (t *tomlWriter) strs(k string, v []string) {
	q := make([]string, len(v))
	for i, s := range v {
		q[i] = tomlQuote(s)
	}
	fmt.Fprintf(&t.b, "%s = [%s]\n", k, strings.Join(q, ", "))
}

func durText(d time.Duration) string {
	if d%time.Second == 0 {
		return fmt.Sprintf("%ds", d/time.Second)
	}
	return d.String()
}

// tomlQuote writes a TOML basic string.
func tomlQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		case r == 0xFFFD:
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// global writes [global]. all: every director setting, as ldirectord's
// global directives (an ldirectord.cf keeps them in view); else only those
// that differ from the TOML reader's defaults: a keepalived.conf has none
// of ldirectord's globals, so its migration does not invent them.
func (t *tomlWriter) global(g *Global, all bool) {
	t.header("[global]")
	if all || g.CheckInterval != DefaultCheckInterval {
		t.dur("checkinterval", g.CheckInterval)
	}
	if g.CheckTimeout > 0 {
		t.dur("checktimeout", g.CheckTimeout)
	}
	if g.NegotiateTimeout > 0 {
		t.dur("negotiatetimeout", g.NegotiateTimeout)
	}
	if all || g.CheckCount != 1 {
		t.int("checkcount", g.CheckCount)
	}
	if all || g.FailureCount != 1 {
		t.int("failurecount", g.FailureCount)
	}
	flag := func(k string, v, def bool) {
		if all || v != def {
			t.bool(k, v)
		}
	}
	flag("quiescent", g.Quiescent, false)
	flag("readdquiescent", g.ReaddQuiescent, false)
	flag("cleanstop", g.CleanStop, true)
	flag("autoreload", g.AutoReload, false)
	flag("fork", g.Fork, false)
	flag("supervised", g.Supervised, false)
	if all || g.LogFile != DefaultLogFile {
		t.str("logfile", g.LogFile)
	}
	t.optStr("fallbackcommand", g.FallbackCommand)
	t.optStr("callback", g.Callback)
	if len(g.Execute) > 0 {
		t.strs("execute", g.Execute)
	}
	t.optStr("maintenancedir", g.MaintenanceDir)
	t.optStr("emailalert", g.EmailAlert)
	if g.EmailAlertFreq > 0 {
		t.dur("emailalertfreq", g.EmailAlertFreq)
	}
	if all || !sameStrs(g.EmailAlertStatus, []string{"all"}) {
		t.strs("emailalertstatus", g.EmailAlertStatus)
	}
	t.optStr("emailalertfrom", g.EmailAlertFrom)
	t.optStr("smtp", g.SMTP)
	t.optStr("smtp_helo_name", g.SMTPHelo)
	if g.SMTPConnectTimeout > 0 {
		t.dur("smtp_connect_timeout", g.SMTPConnectTimeout)
	}
	t.optStr("metrics", g.Metrics)
	t.optStr("router_id", g.RouterID)
	if g.VRRPRTPriority > 0 {
		t.int("vrrp_rt_priority", g.VRRPRTPriority)
	} else if g.VRRPRTPriority == VRRPRTOff {
		t.int("vrrp_rt_priority", 0)
	}
	t.optStr("notify_fifo", g.NotifyFIFO)
	t.optStr("lvs_notify_fifo", g.LVSNotifyFIFO)
	t.optStr("vrrp_notify_fifo", g.VRRPNotifyFIFO)
	if g.Fallback != nil {
		t.inlineReal("fallback", g.Fallback)
	}
	if g.Fallback6 != nil {
		t.inlineReal("fallback6", g.Fallback6)
	}
}

func (t *tomlWriter) inlineReal(k string, r *Real) {
	fmt.Fprintf(&t.b, "%s = { address = %s, forward = %s }\n", k, tomlQuote(realAddr(r)), tomlQuote(string(r.Forward)))
}

func realAddr(r *Real) string {
	if r.Port == 0 {
		if r.Addr.Is6() {
			return "[" + r.Addr.String() + "]"
		}
		return r.Addr.String()
	}
	return r.HostPort()
}

func sameStrs(a, b []string) bool { return strings.Join(a, "\x00") == strings.Join(b, "\x00") }

func (t *tomlWriter) virtual(v *Virtual, g *Global) {
	t.header("[[virtual]]")
	if v.Protocol == "fwm" {
		t.int("fwmark", int(v.FWMark))
		if v.Family == 6 {
			t.int("family", 6)
		}
	} else {
		t.str("address", v.addrPort())
		t.str("protocol", string(v.Protocol))
	}
	t.str("scheduler", v.Scheduler)
	if len(v.SchedFlags) > 0 {
		t.strs("schedflags", v.SchedFlags)
	}
	if v.Persistent > 0 {
		t.dur("persistent", v.Persistent)
	}
	t.optStr("netmask", v.Netmask)
	if v.OnePacket {
		t.bool("ops", true)
	}
	if v.Quiescent != g.Quiescent {
		t.bool("quiescent", v.Quiescent)
	}
	if v.CleanStop != g.CleanStop {
		t.bool("cleanstop", v.CleanStop)
	}
	if v.FallbackCommand != g.FallbackCommand {
		t.str("fallbackcommand", v.FallbackCommand)
	}
	t.optStr("monitorfile", v.MonitorFile)
	t.optStr("servicename", v.ServiceName)
	t.optStr("comment", v.Comment)
	if v.EmailAlert != g.EmailAlert {
		t.str("emailalert", v.EmailAlert)
	}
	if v.EmailAlertFreq != g.EmailAlertFreq {
		t.dur("emailalertfreq", v.EmailAlertFreq)
	}
	if !sameStrs(v.EmailAlertStatus, g.EmailAlertStatus) {
		t.strs("emailalertstatus", v.EmailAlertStatus)
	}
	if v.SMTP != g.SMTP {
		t.str("smtp", v.SMTP)
	}
	t.optStr("mail_style", v.MailStyle)
	if v.QuorumAlert {
		t.bool("smtp_alert", true)
	}
	if v.Quorum != 0 {
		t.int("quorum", v.Quorum)
	}
	if v.Hysteresis != 0 {
		t.int("hysteresis", v.Hysteresis)
	}
	t.optStr("quorum_up", v.QuorumUp)
	t.optStr("quorum_down", v.QuorumDown)
	if v.InhibitOnFailure {
		t.bool("inhibit_on_failure", true)
	}
	if v.Fallback != nil && !v.FallbackFromGlobal {
		t.inlineReal("fallback", v.Fallback)
	}
	t.header("[virtual.check]")
	gc, gn := ResolveTimeouts(0, 0, g.CheckTimeout, g.NegotiateTimeout)
	t.check(&v.Check, v, gc, gn, g.CheckInterval, g.CheckCount, g.FailureCount)
	t.also("virtual.check", &v.Check, v)
	for _, r := range v.Reals {
		t.header("[[virtual.real]]")
		if v.Protocol != "fwm" && r.Port == v.Port {
			// the port is the virtual's: keep the file short
			if r.Addr.Is6() {
				t.str("address", "["+r.Addr.String()+"]:"+fmt.Sprint(r.Port))
			} else {
				t.str("address", r.HostPort())
			}
		} else {
			t.str("address", realAddr(r))
		}
		t.str("forward", string(r.Forward))
		t.int("weight", r.Weight)
		if r.Lower > 0 {
			t.int("lower", r.Lower)
		}
		if r.Upper > 0 {
			t.int("upper", r.Upper)
		}
		if r.HasOverride {
			t.str("request", r.Request)
			t.str("receive", r.Receive)
		}
		if r.Quiescent != nil {
			t.bool("quiescent", *r.Quiescent)
		}
		t.optStr("notify_up", r.NotifyUp)
		t.optStr("notify_down", r.NotifyDown)
		if r.NoAlert {
			t.bool("smtp_alert", false)
		}
		if len(r.Files) > 0 {
			var s []string
			for _, f := range r.Files {
				s = append(s, fmt.Sprintf("{ track_file = %s, weight = %d, reverse = %v }", tomlQuote(f.Track.Name), f.Weight, f.Reverse))
			}
			fmt.Fprintf(&t.b, "file_check = [%s]\n", strings.Join(s, ", "))
		}
		if r.Check != nil {
			t.header("[virtual.real.check]")
			c := &v.Check
			t.check(r.Check, v, c.CheckTimeout, c.NegotiateTimeout, c.Interval, c.Count, c.FailureCount)
			t.also("virtual.real.check", r.Check, v)
		}
	}
}

// check writes a check table; the base values are what the reader would
// derive when a key is absent, so only differences are written.
func (t *tomlWriter) check(c *Check, v *Virtual, baseCT, baseNT, baseIntv time.Duration, baseCount, baseFail int) {
	t.str("type", c.Type)
	if c.Type == "combined" {
		t.int("negotiate_every", c.NegotiateEvery)
	}
	t.str("service", c.Service)
	if c.Proto != "" && c.Proto != v.Protocol {
		t.str("protocol", string(c.Proto))
	}
	if c.Port != 0 {
		t.int("port", int(c.Port))
	}
	if c.Request != "/" {
		t.str("request", c.Request)
	}
	t.optStr("receive", c.Receive)
	if c.HTTPMethod != "GET" {
		t.str("httpmethod", c.HTTPMethod)
	}
	t.optStr("virtualhost", c.VirtualHost)
	if !(c.Service == "ftp" && c.Login == "anonymous") {
		t.optStr("login", c.Login)
	}
	t.optStr("passwd", c.Passwd)
	t.optStr("database", c.Database)
	t.optStr("secret", c.Secret)
	if !(c.Type == "external" && c.Command == "/bin/true") {
		t.optStr("checkcommand", c.Command)
	}
	if c.MiscPath {
		t.bool("checkcommand_shell", true)
	}
	if c.Dynamic {
		t.bool("checkcommand_dynamic", true)
	}
	if c.RunAs != nil {
		t.str("checkcommand_user", c.RunAs.User)
		t.optStr("checkcommand_group", c.RunAs.Group)
	}
	if c.VerifyTLS {
		t.bool("verify_tls", true)
	}
	if len(c.StatusCodes) > 0 {
		var s []string
		for _, r := range c.StatusCodes {
			if r.Lo == r.Hi {
				s = append(s, fmt.Sprint(r.Lo))
			} else {
				s = append(s, fmt.Sprintf("%d-%d", r.Lo, r.Hi))
			}
		}
		t.strs("status_codes", s)
	}
	if c.Payload != "" {
		t.str("udp_payload", fmt.Sprintf("%x", c.Payload))
	}
	if c.RequireReply {
		t.bool("require_reply", true)
	}
	if c.Reply != "" {
		t.str("reply", fmt.Sprintf("%x", c.Reply))
	}
	if c.MinReply != 0 {
		t.int("min_reply_length", c.MinReply)
	}
	if c.MaxReply != 0 {
		t.int("max_reply_length", c.MaxReply)
	}
	t.optStr("digest", c.Digest)
	t.optStr("dns_type", c.DNSType)
	t.optStr("dns_name", c.DNSName)
	if c.RetryDelay > 0 && !t.inAlso {
		t.dur("retry_delay", c.RetryDelay)
	}
	if c.StartUp && !t.inAlso {
		t.bool("start_up", true)
	}
	if c.Warmup != 0 && !t.inAlso {
		t.dur("warmup", max(c.Warmup, 0))
	}
	if c.Interval != baseIntv {
		t.dur("checkinterval", c.Interval)
	}
	if c.CheckTimeout != baseCT || c.NegotiateTimeout != baseNT {
		t.dur("checktimeout", c.CheckTimeout)
		t.dur("negotiatetimeout", c.NegotiateTimeout)
	}
	if c.Count != baseCount {
		t.int("checkcount", c.Count)
	}
	if c.FailureCount != baseFail {
		t.int("failurecount", c.FailureCount)
	}
}

// also writes a check's also tables after it (header: the check's table
// name); their base is the check itself, as the reader resolves them.
func (t *tomlWriter) also(header string, c *Check, v *Virtual) {
	t.inAlso = true
	for i := range c.Also {
		t.header("[[" + header + ".also]]")
		t.check(&c.Also[i], v, c.CheckTimeout, c.NegotiateTimeout, c.Interval, c.Count, c.FailureCount)
	}
	t.inAlso = false
}

func (t *tomlWriter) vrrp(in *VRRPInstance) {
	t.header("[[vrrp_instance]]")
	t.str("name", in.Name)
	t.str("interface", in.Interface)
	t.int("virtual_router_id", in.VRID)
	t.int("priority", in.Priority)
	t.str("state", in.State)
	if in.NoPreempt {
		t.bool("nopreempt", true)
	}
	if in.PreemptDelay > 0 {
		t.dur("preempt_delay", in.PreemptDelay)
	}
	t.dur("advert_int", in.AdvertInt)
	t.int("version", in.Version)
	t.optStr("auth_type", in.AuthType)
	t.optStr("auth_pass", in.AuthPass)
	if in.UnicastSrc.IsValid() {
		t.str("unicast_src_ip", in.UnicastSrc.String())
	}
	if len(in.UnicastPeers) > 0 {
		var s []string
		for _, p := range in.UnicastPeers {
			s = append(s, p.String())
		}
		t.strs("unicast_peer", s)
	}
	t.strs("virtual_ipaddress", vipStrings(in.VIPs))
	if len(in.Excluded) > 0 {
		t.strs("virtual_ipaddress_excluded", vipStrings(in.Excluded))
	}
	if !in.Accept {
		t.bool("accept", false)
	}
	if in.StartupDelay > 0 {
		t.dur("vrrp_startup_delay", in.StartupDelay)
	}
	if in.UnicastFaultNoPeer {
		t.bool("unicast_fault_no_peer", true)
	}
	if in.ChecksumAsV2 {
		t.bool("v3_checksum_as_v2", true)
	}
	t.optStr("old_unicast_checksum", in.OldUnicastChecksum)
	tracks := func(k string, refs []TrackRef) {
		if len(refs) == 0 {
			return
		}
		var s []string
		for _, r := range refs {
			rev := ""
			if r.Reverse {
				rev = ", reverse = true"
			}
			s = append(s, fmt.Sprintf("{ name = %s, weight = %d%s }", tomlQuote(r.Name), r.Weight, rev))
		}
		fmt.Fprintf(&t.b, "%s = [%s]\n", k, strings.Join(s, ", "))
	}
	tracks("track_script", in.TrackScripts)
	tracks("track_interface", in.TrackInterfaces)
	tracks("track_file", in.TrackFiles)
	t.optStr("notify_master", in.NotifyMaster)
	t.optStr("notify_backup", in.NotifyBackup)
	t.optStr("notify_fault", in.NotifyFault)
	t.optStr("notify_stop", in.NotifyStop)
	t.optStr("notify", in.Notify)
	t.dur("garp_master_delay", in.GARPMasterDelay)
	t.int("garp_master_repeat", in.GARPMasterRepeat)
	if in.GARPMasterRefresh > 0 {
		t.dur("garp_master_refresh", in.GARPMasterRefresh)
	}
	t.int("garp_master_refresh_repeat", in.GARPRefreshRepeat)
	t.int("garp_lower_prio_repeat", in.GARPLowerPrioRepeat)
	t.dur("garp_lower_prio_delay", in.GARPLowerPrioDelay)
	if in.LowerPrioNoAdvert {
		t.bool("lower_prio_no_advert", true)
	}
	if in.SMTPAlert {
		t.bool("smtp_alert", true)
	}
}

// vipStrings writes VIPs in keepalived's words, which TOML reads too.
func vipStrings(vs []VIP) []string {
	var out []string
	for _, v := range vs {
		s := v.Prefix.String()
		if v.Dev != "" {
			s += " dev " + v.Dev
		}
		if v.Broadcast.IsValid() {
			s += " brd " + v.Broadcast.String()
		}
		if v.Label != "" {
			s += " label " + v.Label
		}
		if v.Scope != "" {
			s += " scope " + v.Scope
		}
		if v.NoDAD {
			s += " -nodad"
		}
		out = append(out, s)
	}
	return out
}
