package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// keepalived.conf VRRP: vrrp_script, track_file, vrrp_instance,
// vrrp_sync_group.

func (im *kaImport) script(b *kaStmt) {
	if !im.want(b, 1) {
		return
	}
	t := &TrackScript{Line: b.line, Name: b.args[0], Interval: time.Second, Rise: 1, Fall: 1}
	for _, s := range b.children {
		switch s.key {
		case "script":
			t.Script = im.command(s)
		case "interval":
			t.Interval, _ = im.timer(s)
		case "timeout":
			t.Timeout, _ = im.timer(s)
		case "weight":
			t.Weight, t.Reverse, _ = im.weight(s, s.args, 253, false, false)
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
			t.Weight, t.Reverse, _ = im.weight(s, s.args, 254, false, false)
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
	if im.fileSrc == nil {
		im.fileSrc = map[*TrackFile]string{}
	}
	im.fileSrc[t] = b.file
	im.cfg.TrackFiles = append(im.cfg.TrackFiles, t)
}

// weight reads keepalived's `weight N [reverse]` from args (the words
// after the keyword or after the tracked name): N in -hi..hi, then
// reverse, or (noreverse true: where keepalived takes it) noreverse.
// clamp254: keepalived takes ±254 with a warning, as ±253 (a tracked
// script or interface).
func (im *kaImport) weight(s *kaStmt, args []string, hi int, clamp254, noreverse bool) (w int, reverse, ok bool) {
	lo := -hi
	if len(args) == 0 {
		im.r.errorf(s.file, s.line, "%s: weight without a value (fix: weight N, N in %d..%d)", s.key, lo, hi)
		return 0, false, false
	}
	w, err := strconv.Atoi(args[0])
	switch {
	case err == nil && clamp254 && (w == 254 || w == -254):
		im.r.warnf(s.file, s.line, "%s: weight %d set to %d (keepalived: \"cannot be +/-254\")", s.key, w, w/254*253)
		w = w / 254 * 253
	case err != nil || w < lo || w > hi:
		im.r.errorf(s.file, s.line, "%s: invalid weight %q (%d..%d)", s.key, args[0], lo, hi)
		return 0, false, false
	}
	if len(args) > 1 {
		switch {
		case args[1] == "reverse":
			reverse = true
		case args[1] == "noreverse" && noreverse:
		default:
			opts := "reverse"
			if noreverse {
				opts = "reverse or noreverse"
			}
			im.r.errorf(s.file, s.line, "%s: unknown weight option %q (fix: %s)", s.key, args[1], opts)
			return 0, false, false
		}
	}
	if len(args) > 2 {
		im.r.warnf(s.file, s.line, "%s: %q after the weight ignored, as keepalived does", s.key, strings.Join(args[2:], " "))
	}
	return w, reverse, true
}

// tracks reads track_script, track_interface and track_file blocks:
// `NAME [weight N [reverse]]` per line (noreverse too for scripts and
// files). A script or file without weight, or with weight and no
// reverse option, takes its definition's weight / reverse, as keepalived.
func (im *kaImport) tracks(b *kaStmt, what string) []TrackRef {
	var out []TrackRef
	for _, s := range b.children {
		ref := TrackRef{Name: s.key}
		defW, defRev := 0, false
		switch what {
		case "track_script":
			if sc := im.scripts[s.key]; sc == nil {
				im.r.errorf(s.file, s.line, "track_script %s: no vrrp_script of that name", s.key)
			} else {
				defW, defRev = sc.Weight, sc.Reverse
			}
		case "track_file":
			if tf := im.files[s.key]; tf == nil {
				im.r.errorf(s.file, s.line, "track_file %s: no track_file block of that name", s.key)
			} else {
				defW, defRev = tf.Weight, tf.Reverse
			}
		}
		ref.Weight, ref.Reverse = defW, defRev
		a := s.args
		switch {
		case len(a) == 0:
		case a[0] != "weight":
			im.r.errorf(s.file, s.line, "%s %s: unknown option %q (fix: %s weight N [reverse])", what, s.key, a[0], s.key)
		default:
			w, rev, ok := im.weight(s, a[1:], 254, what != "track_file", what != "track_interface")
			if ok {
				ref.Weight = w
				if len(a) > 2 {
					ref.Reverse = rev
				}
			}
		}
		out = append(out, ref)
	}
	return out
}

func (im *kaImport) instance(b *kaStmt) {
	im.repeats(b)
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
	strict := im.strict // vrrp_strict, or the instance's strict_mode
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
			// keepalived 2.2: deprecated, and taken as the global
			// lvs_sync_daemon IFACE INSTANCE unless one is set already
			if !im.want(s, 1) {
				break
			}
			if l := im.cfg.LVSSync; l != nil {
				im.r.warnf(s.file, s.line, "lvs_sync_daemon_interface ignored: lvs_sync_daemon is already %s (keepalived too)", l.Interface)
				break
			}
			im.r.warnf(s.file, s.line, "lvs_sync_daemon_interface in a vrrp_instance is deprecated (keepalived too): taken as lvs_sync_daemon %s %s (fix: write that in global_defs)", s.args[0], in.Name)
			im.cfg.LVSSync = &LVSSync{Line: s.line, Interface: s.args[0], Instance: in.Name, SyncID: -1}
		case "track_script":
			in.TrackScripts = im.tracks(s, "track_script")
		case "track_interface":
			in.TrackInterfaces = im.tracks(s, "track_interface")
		case "track_file":
			in.TrackFiles = im.tracks(s, "track_file")
		case "notify_master", "notify_backup", "notify_fault", "notify_stop", "notify":
			cmd := im.command(s)
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
		case "smtp_alert":
			if im.vrrpSMTPAlert == nil {
				im.vrrpSMTPAlert = map[string]bool{}
			}
			im.vrrpSMTPAlert[in.Name] = kaOn(s.args)
		case "dont_track_primary", "debug", "native_ipv6",
			"higher_prio_send_advert", "skip_check_adv_addr", "kernel_rx_buf_size", "mcast_src_ip",
			"check_unicast_src", "unicast_ttl", "down_timer_adverts", "linkbeat_use_polling", "track_src_ip":
			im.ignored(s, "not used by lvsd")
		case "strict_mode":
			strict = nil
			if kaOn(s.args) {
				strict = s
			}
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
	if !given["priority"] && in.State == "MASTER" {
		in.Priority = 255 // keepalived: no priority, state MASTER: the address owner
	}
	if strict != nil {
		im.strictMode(in, strict, given)
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
			g.NotifyMaster = im.command(s)
		case "notify_backup":
			g.NotifyBackup = im.command(s)
		case "notify_fault":
			g.NotifyFault = im.command(s)
		case "notify":
			g.Notify = im.command(s)
		case "sync_group_tracking_weight":
			g.TrackingWeight = true
		case "smtp_alert":
			if im.groupSMTPAlert == nil {
				im.groupSMTPAlert = map[*SyncGroup]bool{}
			}
			im.groupSMTPAlert[g] = kaOn(s.args)
		case "global_tracking", "notify_stop":
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

// strictMode applies keepalived's vrrp_strict / strict_mode to in as
// keepalived 2.2 does (vrrp.c), each change warned about at the keyword
// that asked for it: what goes on the wire must be what a keepalived
// peer on the same file sends, or the pair splits (auth none there, PASS
// here: each drops the other's adverts).
func (im *kaImport) strictMode(in *VRRPInstance, s *kaStmt, given map[string]bool) {
	why := func(format string, args ...any) {
		im.r.warnf(s.file, s.line, "%s (vrrp_instance %s): %s, as keepalived does", s.key, in.Name, fmt.Sprintf(format, args...))
	}
	if in.AuthType != "" {
		why("no authentication in strict mode: auth_type %s ignored", in.AuthType)
		in.AuthType, in.AuthPass = "", ""
	}
	if owner := in.Priority == 255; given["state"] && (in.State == "MASTER") != owner {
		want := map[bool]string{true: "MASTER", false: "BACKUP"}[owner]
		why("state %s must match being the address owner (priority 255): state %s", in.State, want)
		in.State = want
	}
	if in.PreemptDelay > 0 {
		why("preempt_delay is incompatible with strict mode: reset")
		in.PreemptDelay = 0
	}
	if len(in.UnicastPeers) > 0 {
		im.r.errorf(s.file, s.line, "%s (vrrp_instance %s): unicast peers are not supported in strict mode (keepalived disables the instance)", s.key, in.Name)
	}
	if given["lower_prio_no_advert"] && !in.LowerPrioNoAdvert {
		why("lower_prio_no_advert is on in strict mode")
	}
	in.LowerPrioNoAdvert = true
	in.GARPLowerPrioRepeat, in.GARPLowerPrioDelay = 0, 0
	if in.Priority != 255 && !given["accept"] {
		im.r.warnf(s.file, s.line, "%s (vrrp_instance %s): keepalived defaults to no_accept here and drops traffic to the VIPs with a firewall rule (the known \"VIP does not answer ping\" of vrrp_strict); lvsd installs none, so the VIPs answer", s.key, in.Name)
	}
}
