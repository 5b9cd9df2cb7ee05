package config

import (
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// keepalived.conf global_defs.

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
				if len(s.args) > 1 { // keepalived's smtp_server IP [PORT]
					if p, err := strconv.ParseUint(s.args[1], 10, 16); err != nil || p == 0 {
						im.r.errorf(s.file, s.line, "smtp_server port %q: want 1..65535", s.args[1])
					} else {
						g.SMTP = net.JoinHostPort(s.args[0], s.args[1])
					}
				}
			}
		case "smtp_helo_name":
			if im.want(s, 1) {
				g.SMTPHelo = s.args[0]
			}
		case "smtp_connect_timeout":
			if x, ok := im.num(s, 1, 3600); ok {
				g.SMTPConnectTimeout = time.Duration(x) * time.Second
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
		case "vrrp_strict":
			im.strict = s
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
		case "smtp_alert", "smtp_alert_checker", "smtp_alert_vrrp":
			b := kaOn(s.args)
			switch s.key {
			case "smtp_alert":
				im.smtpAlert = &b
			case "smtp_alert_checker":
				im.smtpAlertChecker = &b
			default:
				im.smtpAlertVRRP = &b
			}
		case "vrrp_rt_priority":
			// 0 is lvsd's: off (keepalived raises it to 1)
			if p, ok := im.num(s, 0, 99); ok {
				g.VRRPRTPriority = p
				if p == 0 {
					g.VRRPRTPriority = VRRPRTOff
				}
			}
		case "router_id":
			if im.want(s, 1) {
				g.RouterID = s.args[0]
			}
		case "enable_traps", "enable_snmp_keepalived", "enable_snmp_checker", "enable_snmp_vrrp", "enable_snmp_rfc",
			"enable_dbus", "script_user", "enable_script_security", "max_auto_priority", "vrrp_skip_check_adv_addr",
			"vrrp_garp_interval", "vrrp_gna_interval", "lvs_timeouts", "checker_log_all_failures",
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
