package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strconv"
	"strings"
	"time"
)

// keepalived.conf LVS: virtual_server, virtual_server_group, real_server.

// checkDefaults are the checker options a virtual_server or real_server
// sets for the checkers below it.
type checkDefaults struct {
	connectTimeout, retryDelay, interval time.Duration
	retry                                int
	set                                  defSet // which of them the block set
	virtualHost                          string
	alpha                                bool          // checks start failed (default: reals start up)
	warmup                               time.Duration // config.Check.Warmup
	vsLoop                               time.Duration // the virtual_server's delay_loop (MISC_CHECK's timeout)
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
	im.repeats(b)
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
		im.noReuse = true // it reads the group
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
			v.QuorumUp = im.command(s)
		case "quorum_down":
			v.QuorumDown = im.command(s)
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
		case "ha_suspend", "snmp_name", "omega", "sorry_server_inhibit", "persistence_engine":
			im.ignored(s, "not supported by lvsd")
		case "nat_mask", "net_mask":
			// keepalived 1.x's; 2.2 reports them unknown and runs on
			// (RHEL's stock keepalived.conf has nat_mask)
			im.ignored(s, "keepalived 2 does not know it either (keepalived 1.x's, no effect)")
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
	for _, c := range checks {
		c.protoOf(v) // now that the virtual's protocol is known
	}
	if len(checks) > 0 {
		v.Check = *checks[0]
		for i, r := range v.Reals {
			// reals without a checker share one Check (realServer): no
			// comparison for those (it was a quarter of a 10,000-real read)
			if checks[i] != checks[0] && !checks[i].Same(&v.Check) {
				c := *checks[i] // checks may be shared by reals
				r.Check = &c
			}
		}
	} else {
		v.Check = im.newCheck(v, defs, "on")
	}
	key := v.Key()
	if o := im.vsSeen[key]; o != nil {
		if im.merged = true; im.reused[o] {
			return // o is the running configuration's: read the file whole
		}
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
	if im.vsFile == nil {
		im.vsFile = map[*Virtual]string{}
	}
	im.vsFile[v] = b.file
	im.cfg.Virtuals = append(im.cfg.Virtuals, v)
}

func (im *kaImport) realServer(b *kaStmt, v *Virtual, fwd Forward, vdefs checkDefaults) (*Real, *Check) {
	im.repeats(b)
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
	defs.vsLoop = vdefs.interval
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
		case "FILE_CHECK":
			if fc, ok := im.fileCheck(s); ok {
				r.Files = append(r.Files, fc)
			}
		case "BFD_CHECK":
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
		case "smtp_alert":
			if im.rsSMTPAlert == nil {
				im.rsSMTPAlert = map[*Real]bool{}
			}
			im.rsSMTPAlert[r] = kaOn(s.args)
		case "snmp_name":
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
	if len(checkers) == 0 && len(r.Files) > 0 {
		// FILE_CHECK alone: the files say it all, from the start
		// (keepalived: no alpha for a file checker)
		if portMsg != "" {
			im.r.warnf(b.file, b.line, "%s", portMsg)
		}
		c := im.newCheck(v, defs, "on")
		c.StartUp = true
		return r, &c
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
