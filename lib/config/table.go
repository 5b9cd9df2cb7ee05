package config

import (
	"bufio"
	"encoding"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
	"time"
)

// WriteTable prints the resolved configuration in the shape of `ipvsadm -Ln`
// (what `lvsd check` shows; "plan" is ipvs.Plan, the operations):
// one block per virtual service with its reals, then how they are checked
// and what happens when they fail. It is deterministic (golden tests compare
// it) and says nothing about where the values came from, so an ldirectord.cf
// and the TOML `lvsd migrate` made of it print the same plan.
//
// It speaks the file's own terms (cfg.Format): an ldirectord.cf or a TOML
// file in ldirectord's directives, a keepalived.conf in keepalived's, with
// the checker of each real_server under it (keepalived has no per-virtual
// check) and none of ldirectord's global directives, which keepalived has not.
func WriteTable(w io.Writer, c *Config) error { return writeTableAs(w, c, c.Format) }

func writeTableAs(w io.Writer, c *Config, format string) error {
	b := bufio.NewWriterSize(w, 1<<16)
	ka := format == "keepalived"
	if ka {
		writeKAGlobal(b, &c.Global)
	} else {
		writeGlobal(b, &c.Global)
	}
	if len(c.Virtuals) > 0 {
		fmt.Fprintln(b, "Prot LocalAddress:Port Scheduler Flags")
		fmt.Fprintln(b, "  -> RemoteAddress:Port           Forward Weight Thresholds")
	}
	for _, v := range c.Virtuals {
		if ka {
			writeKAVirtual(b, v)
		} else {
			writeVirtual(b, v)
		}
	}
	for _, s := range c.Scripts {
		fmt.Fprintf(b, "vrrp_script %s script=%q interval=%s timeout=%s weight=%d rise=%d fall=%d",
			s.Name, s.Script, dur(s.Interval), dur(s.Timeout), s.Weight, s.Rise, s.Fall)
		if s.Reverse {
			b.WriteString(" reverse")
		}
		if s.InitFail {
			b.WriteString(" init_fail")
		}
		b.WriteString("\n")
	}
	for _, f := range c.TrackFiles {
		fmt.Fprintf(b, "track_file %s file=%q weight=%d", f.Name, f.File, f.Weight)
		if f.Reverse {
			b.WriteString(" reverse")
		}
		if f.Init {
			fmt.Fprintf(b, " init_file=%d", f.InitValue)
		}
		if f.Overwrite {
			b.WriteString(" overwrite")
		}
		b.WriteString("\n")
	}
	if l := c.LVSSync; l != nil {
		fmt.Fprintf(b, "lvs_sync_daemon interface=%s instance=%s id=%d", l.Interface, l.Instance, l.SyncID)
		for _, o := range []struct {
			k string
			v int
		}{{"maxlen", l.MaxLen}, {"port", l.Port}, {"ttl", l.TTL}} {
			if o.v != 0 {
				fmt.Fprintf(b, " %s=%d", o.k, o.v)
			}
		}
		if l.Group.IsValid() {
			fmt.Fprintf(b, " group=%s", l.Group)
		}
		b.WriteString("\n")
	}
	for _, g := range c.SyncGroups {
		tw := ""
		if g.TrackingWeight {
			tw = " sync_group_tracking_weight"
		}
		if g.SMTPAlert {
			tw += " smtp_alert"
		}
		fmt.Fprintf(b, "vrrp_sync_group %s group=%s%s%s\n", g.Name, strings.Join(g.Members, ","),
			kvs("notify_master", g.NotifyMaster, "notify_backup", g.NotifyBackup, "notify_fault", g.NotifyFault, "notify", g.Notify), tw)
	}
	for _, in := range c.VRRP {
		writeVRRP(b, in)
	}
	return b.Flush()
}

func yn(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// optDur is dur, or "" (left out) for 0.
func optDur(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

func dur(d time.Duration) string {
	if d == 0 {
		return "0s"
	}
	return d.String()
}

// kvs renders " k=v" for the non-empty string values of pairs.
func kvs(pairs ...string) string {
	s := ""
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] != "" {
			s += fmt.Sprintf(" %s=%q", pairs[i], pairs[i+1])
		}
	}
	return s
}

func writeGlobal(b *bufio.Writer, g *Global) {
	to := func(d time.Duration) string {
		if d == 0 {
			return "unset"
		}
		return dur(d)
	}
	fmt.Fprintf(b, "global checkinterval=%s checktimeout=%s negotiatetimeout=%s checkcount=%d failurecount=%d\n",
		dur(g.CheckInterval), to(g.CheckTimeout), to(g.NegotiateTimeout), g.CheckCount, g.FailureCount)
	fmt.Fprintf(b, "global quiescent=%s readdquiescent=%s cleanstop=%s autoreload=%s fork=%s supervised=%s logfile=%q\n",
		yn(g.Quiescent), yn(g.ReaddQuiescent), yn(g.CleanStop), yn(g.AutoReload), yn(g.Fork), yn(g.Supervised), g.LogFile)
	if g.Fallback != nil {
		fmt.Fprintf(b, "global fallback=%s\n", fallbackStr(g.Fallback))
	}
	if g.Fallback6 != nil {
		fmt.Fprintf(b, "global fallback6=%s\n", fallbackStr(g.Fallback6))
	}
	if s := kvs("fallbackcommand", g.FallbackCommand, "callback", g.Callback, "maintenancedir", g.MaintenanceDir,
		"emailalert", g.EmailAlert, "emailalertfrom", g.EmailAlertFrom, "smtp", g.SMTP, "smtp_helo_name", g.SMTPHelo,
		"smtp_connect_timeout", optDur(g.SMTPConnectTimeout), "metrics", g.Metrics,
		"notify_fifo", g.NotifyFIFO, "lvs_notify_fifo", g.LVSNotifyFIFO, "vrrp_notify_fifo", g.VRRPNotifyFIFO); s != "" {
		fmt.Fprintf(b, "global%s\n", s)
	}
	if g.EmailAlert != "" || g.EmailAlertFreq != 0 || strings.Join(g.EmailAlertStatus, ",") != "all" {
		fmt.Fprintf(b, "global emailalertfreq=%s emailalertstatus=%s\n", dur(g.EmailAlertFreq), strings.Join(g.EmailAlertStatus, ","))
	}
	for _, e := range g.Execute {
		fmt.Fprintf(b, "global execute=%q\n", e)
	}
}

func fallbackStr(r *Real) string {
	port := "(virtual's port)"
	if r.Port != 0 {
		return fmt.Sprintf("%s %s", r.HostPort(), r.Forward)
	}
	return fmt.Sprintf("%s%s %s", r.Addr, port, r.Forward)
}

var fwdName = map[Forward]string{Gate: "Route", Masq: "Masq", IPIP: "Tunnel"}

// VirtualHeader is the ipvsadm -Ln line of a virtual service.
func (v *Virtual) VirtualHeader() string {
	var s string
	if v.Protocol == "fwm" {
		s = fmt.Sprintf("FWM  %d", v.FWMark)
		if v.Family == 6 {
			s += " IPv6"
		}
	} else {
		s = fmt.Sprintf("%-4s %s", strings.ToUpper(string(v.Protocol)), v.addrPort())
	}
	s += " " + v.Scheduler
	if len(v.SchedFlags) > 0 {
		s += " (" + strings.Join(v.SchedFlags, ",") + ")"
	}
	if v.Persistent > 0 {
		s += fmt.Sprintf(" persistent %d", int(v.Persistent/time.Second))
		if v.Netmask != "" {
			s += " mask " + v.Netmask
		}
	}
	if v.OnePacket {
		s += " ops"
	}
	return s
}

func (v *Virtual) addrPort() string {
	if v.Family == 6 {
		return fmt.Sprintf("[%s]:%d", v.Addr, v.Port)
	}
	return fmt.Sprintf("%s:%d", v.Addr, v.Port)
}

func realLine(prefix string, r *Real) string {
	s := fmt.Sprintf("%-34s %-7s %-6d", "  "+prefix+" "+r.HostPort(), fwdName[r.Forward], r.Weight)
	var th []string
	if r.Lower > 0 {
		th = append(th, fmt.Sprintf("l:%d", r.Lower))
	}
	if r.Upper > 0 {
		th = append(th, fmt.Sprintf("u:%d", r.Upper))
	}
	if len(th) > 0 {
		s += " " + strings.Join(th, " ")
	}
	if r.HasOverride {
		s += fmt.Sprintf(" request=%q receive=%q", r.Request, r.Receive)
	}
	if r.Quiescent != nil {
		s += " quiescent=" + yn(*r.Quiescent)
	}
	s += kvs("notify_up", r.NotifyUp, "notify_down", r.NotifyDown)
	return strings.TrimRight(s, " ")
}

func writeVirtual(b *bufio.Writer, v *Virtual) {
	fmt.Fprintln(b, v.VirtualHeader())
	for _, r := range v.Reals {
		fmt.Fprintln(b, realLine("->", r))
		writeFileChecks(b, r, "file_check")
		if r.Check != nil {
			fmt.Fprintf(b, "     check %s\n", checkLine(r.Check, v))
			for i := range r.Check.Also {
				fmt.Fprintf(b, "     and check %s\n", checkLine(&r.Check.Also[i], v))
			}
			fmt.Fprintf(b, "     timing %s\n", timingLine(r.Check))
		}
	}
	if v.Fallback != nil {
		fmt.Fprintln(b, realLine("fallback", v.Fallback))
	}
	fmt.Fprintf(b, "  check %s\n", checkLine(&v.Check, v))
	for i := range v.Check.Also {
		fmt.Fprintf(b, "  and check %s\n", checkLine(&v.Check.Also[i], v))
	}
	fmt.Fprintf(b, "  timing %s\n", timingLine(&v.Check))
	fmt.Fprintf(b, "  on-failure quiescent=%s cleanstop=%s%s\n", yn(v.Quiescent), yn(v.CleanStop),
		kvs("fallbackcommand", v.FallbackCommand, "monitorfile", v.MonitorFile))
	if v.EmailAlert != "" {
		fmt.Fprintf(b, "  alerts emailalert=%q emailalertfreq=%s emailalertstatus=%s%s\n", v.EmailAlert,
			dur(v.EmailAlertFreq), strings.Join(v.EmailAlertStatus, ","), kvs("smtp", v.SMTP))
	}
	if v.Quorum > 0 || v.Hysteresis > 0 || v.QuorumUp != "" || v.QuorumDown != "" {
		fmt.Fprintf(b, "  quorum=%d hysteresis=%d%s\n", v.Quorum, v.Hysteresis, kvs("quorum_up", v.QuorumUp, "quorum_down", v.QuorumDown))
	}
	if s := kvs("servicename", v.ServiceName, "comment", v.Comment); s != "" {
		fmt.Fprintf(b, " %s\n", s)
	}
}

func checkLine(c *Check, v *Virtual) string {
	s := c.Type
	if c.Type == "combined" {
		s = fmt.Sprintf("connect, negotiate every %d", c.NegotiateEvery)
	}
	uses := c.Type == "negotiate" || c.Type == "combined"
	if uses {
		s += " service=" + c.Service
	}
	if c.Proto != "" && c.Proto != v.Protocol {
		s += " protocol=" + string(c.Proto)
	}
	if c.Type != "on" && c.Type != "off" && c.Type != "ping" {
		if c.Port != 0 {
			s += fmt.Sprintf(" port=%d", c.Port)
		} else if v.Protocol == "fwm" && ServicePort(c.Service) != 0 {
			s += fmt.Sprintf(" port=real's,else %d", ServicePort(c.Service))
		} else {
			s += " port=real's"
		}
	}
	if uses {
		if c.Service != "none" {
			s += fmt.Sprintf(" request=%q receive=%q", c.Request, c.Receive)
		}
		switch c.Service {
		case "http", "https", "http_proxy":
			s += " httpmethod=" + c.HTTPMethod
			if c.VirtualHost != "" {
				s += fmt.Sprintf(" virtualhost=%q", c.VirtualHost)
			}
			if c.VerifyTLS {
				s += " verifytls=yes"
			}
		}
		s += kvs("login", c.Login, "passwd", c.Passwd, "database", c.Database, "secret", c.Secret)
	}
	if c.Type == "external" {
		s += fmt.Sprintf(" command=%q", c.Command)
		if c.MiscPath {
			s += " shell=yes"
		}
		if c.Dynamic {
			s += " dynamic=yes (the exit status sets the weight)"
		}
		s += runAsWord(c.RunAs)
	}
	for i, r := range c.StatusCodes {
		if i == 0 {
			s += " status="
		} else {
			s += ","
		}
		if r.Lo == r.Hi {
			s += fmt.Sprint(r.Lo)
		} else {
			s += fmt.Sprintf("%d-%d", r.Lo, r.Hi)
		}
	}
	s += kvs("digest", c.Digest, "dnstype", c.DNSType, "dnsname", c.DNSName)
	if c.Type == "udp" {
		s += udpKV(c)
	}
	return s
}

func timingLine(c *Check) string {
	s := fmt.Sprintf("interval=%s checktimeout=%s negotiatetimeout=%s failurecount=%d checkcount=%d",
		dur(c.Interval), dur(c.CheckTimeout), dur(c.NegotiateTimeout), c.FailureCount, c.Count)
	if c.RetryDelay > 0 {
		s += " retrydelay=" + dur(c.RetryDelay)
	}
	return s
}

func writeVRRP(b *bufio.Writer, in *VRRPInstance) {
	fmt.Fprintf(b, "vrrp_instance %s interface=%s virtual_router_id=%d priority=%d state=%s version=%d advert_int=%s",
		in.Name, in.Interface, in.VRID, in.Priority, in.State, in.Version, dur(in.AdvertInt))
	if in.NoPreempt {
		b.WriteString(" nopreempt")
	}
	if in.PreemptDelay > 0 {
		fmt.Fprintf(b, " preempt_delay=%s", dur(in.PreemptDelay))
	}
	if in.AuthType != "" {
		fmt.Fprintf(b, " auth_type=%s auth_pass=%q", in.AuthType, in.AuthPass)
	}
	if !in.Accept {
		b.WriteString(" no_accept")
	}
	if in.StartupDelay > 0 {
		fmt.Fprintf(b, " startup_delay=%s", dur(in.StartupDelay))
	}
	if in.UnicastFaultNoPeer {
		b.WriteString(" unicast_fault_no_peer")
	}
	if in.ChecksumAsV2 {
		b.WriteString(" v3_checksum_as_v2")
	}
	if in.OldUnicastChecksum != "" {
		fmt.Fprintf(b, " old_unicast_checksum=%s", in.OldUnicastChecksum)
	}
	if in.SMTPAlert {
		b.WriteString(" smtp_alert")
	}
	b.WriteString("\n")
	for _, v := range vipStrings(in.VIPs) {
		fmt.Fprintf(b, "  vip %s\n", v)
	}
	for _, v := range vipStrings(in.Excluded) {
		fmt.Fprintf(b, "  vip %s (excluded: not in the adverts)\n", v)
	}
	if in.UnicastSrc.IsValid() || len(in.UnicastPeers) > 0 {
		var ps []string
		for _, p := range in.UnicastPeers {
			ps = append(ps, p.String())
		}
		src := "-"
		if in.UnicastSrc.IsValid() {
			src = in.UnicastSrc.String()
		}
		fmt.Fprintf(b, "  unicast src=%s peers=%s\n", src, strings.Join(ps, ","))
	}
	for _, l := range []struct {
		k    string
		refs []TrackRef
	}{{"track_script", in.TrackScripts}, {"track_interface", in.TrackInterfaces}, {"track_file", in.TrackFiles}} {
		for _, t := range l.refs {
			fmt.Fprintf(b, "  %s %s weight=%d%s%s\n", l.k, t.Name, t.Weight, reverseWord(t.Reverse), trackEffect(l.k, t))
		}
	}
	if s := kvs("notify_master", in.NotifyMaster, "notify_backup", in.NotifyBackup, "notify_fault", in.NotifyFault,
		"notify_stop", in.NotifyStop, "notify", in.Notify); s != "" {
		fmt.Fprintf(b, " %s\n", s)
	}
	fmt.Fprintf(b, "  garp master_delay=%s master_repeat=%d master_refresh=%s refresh_repeat=%d\n",
		dur(in.GARPMasterDelay), in.GARPMasterRepeat, dur(in.GARPMasterRefresh), in.GARPRefreshRepeat)
}

// WriteJSON prints the resolved configuration as JSON: field names as in
// the Go model, durations as strings ("5s"), addresses as text.
func WriteJSON(w io.Writer, c *Config) error {
	e := json.NewEncoder(w)
	e.SetIndent("", "  ")
	return e.Encode(jsonValue(reflect.ValueOf(c)))
}

var (
	durationType = reflect.TypeOf(time.Duration(0))
	regexpType   = reflect.TypeOf((*regexp.Regexp)(nil))
)

// jsonNames give --json the configuration's own names (TOML's, which are
// ldirectord's for the director and keepalived's for VRRP) where the Go
// field name differs from it once lowercased.
var jsonNames = map[string]string{
	"Config.Virtuals": "virtual", "Config.VRRP": "vrrp_instance", "Config.SyncGroups": "vrrp_sync_group",
	"Config.Scripts": "vrrp_script",
	"Virtual.Addr":   "address", "Virtual.FWMark": "fwmark", "Virtual.OnePacket": "ops", "Virtual.Reals": "real",
	"Virtual.FallbackFromGlobal": "fallback_from_global", "Virtual.QuorumUp": "quorum_up",
	"Virtual.QuorumDown": "quorum_down", "Virtual.InhibitOnFailure": "inhibit_on_failure",
	"Virtual.SorryServer": "sorry_server",
	"Real.Addr":           "address", "Real.HasOverride": "has_override", "Real.NotifyUp": "notify_up",
	"Real.NotifyDown": "notify_down",
	"Check.Dynamic":   "checkcommand_dynamic", "Check.RunAs": "checkcommand_user", "Real.Files": "file_check",
	"FileCheck.Track":      "track_file",
	"Check.NegotiateEvery": "negotiate_every", "Check.Command": "checkcommand", "Check.MiscPath": "checkcommand_shell",
	"Check.Interval": "checkinterval", "Check.Count": "checkcount", "Check.VerifyTLS": "verify_tls",
	"Check.StatusCodes": "status_codes", "Check.DNSType": "dns_type", "Check.DNSName": "dns_name",
	"Check.RetryDelay": "retry_delay", "Check.StartUp": "start_up",
	"VRRPInstance.VRID": "virtual_router_id", "VRRPInstance.PreemptDelay": "preempt_delay",
	"VRRPInstance.AdvertInt": "advert_int", "VRRPInstance.AuthType": "auth_type",
	"VRRPInstance.AuthPass": "auth_pass", "VRRPInstance.UnicastSrc": "unicast_src_ip",
	"VRRPInstance.UnicastPeers": "unicast_peer", "VRRPInstance.VirtualIPs": "virtual_ipaddress",
	"VRRPInstance.VirtualIPDevs": "virtual_ipaddress_dev", "VRRPInstance.TrackScripts": "track_script",
	"VRRPInstance.TrackInterfaces": "track_interface", "VRRPInstance.TrackFiles": "track_file",
	"VRRPInstance.NotifyMaster": "notify_master", "VRRPInstance.NotifyBackup": "notify_backup",
	"VRRPInstance.NotifyFault": "notify_fault", "VRRPInstance.NotifyStop": "notify_stop",
	"VRRPInstance.GARPMasterDelay": "garp_master_delay", "VRRPInstance.GARPMasterRepeat": "garp_master_repeat",
	"VRRPInstance.GARPMasterRefresh":   "garp_master_refresh",
	"VRRPInstance.GARPRefreshRepeat":   "garp_master_refresh_repeat",
	"VRRPInstance.GARPLowerPrioRepeat": "garp_lower_prio_repeat", "VRRPInstance.GARPLowerPrioDelay": "garp_lower_prio_delay",
	"VRRPInstance.LowerPrioNoAdvert": "lower_prio_no_advert", "VRRPInstance.SMTPAlert": "smtp_alert",
	"SyncGroup.Members": "group", "SyncGroup.NotifyMaster": "notify_master", "SyncGroup.NotifyBackup": "notify_backup",
	"SyncGroup.NotifyFault": "notify_fault",
}

func jsonName(typ, field string) string {
	if n, ok := jsonNames[typ+"."+field]; ok {
		return n
	}
	return strings.ToLower(field)
}

// jsonValue mirrors v with time.Duration rendered by its String method.
func jsonValue(v reflect.Value) any {
	if v.Type() == durationType {
		return v.Interface().(time.Duration).String()
	}
	if m, ok := v.Interface().(encoding.TextMarshaler); ok && v.Kind() != reflect.Pointer {
		b, _ := m.MarshalText()
		return string(b)
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return nil
		}
		return jsonValue(v.Elem())
	case reflect.Struct:
		out := make(map[string]any, v.NumField())
		for i := 0; i < v.NumField(); i++ {
			// a compiled pattern is its string field, already there
			if f := v.Type().Field(i); f.IsExported() && f.Type != regexpType {
				out[jsonName(v.Type().Name(), f.Name)] = jsonValue(v.Field(i))
			}
		}
		return out
	case reflect.Slice:
		if v.IsNil() {
			return []any{}
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = jsonValue(v.Index(i))
		}
		return out
	case reflect.Map:
		out := make(map[string]any, v.Len())
		for _, k := range v.MapKeys() {
			out[fmt.Sprint(k.Interface())] = jsonValue(v.MapIndex(k))
		}
		return out
	}
	return v.Interface()
}
