package config

import (
	"fmt"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// The rules that do not depend on the format, in one place: every reader
// runs resolveVirtual on each virtual service it read, so a rule has one
// outcome whichever file says it.

// vSite says where a virtual's settings were written, in the file's own
// names: their lines (0: the virtual's line) and how the file names them.
type vSite struct {
	schedFlagsLine, netmaskLine, opsLine int
	schedFlagsName, netmaskName, opsName string
}

// resolveVirtual types what the kernel layer needs (scheduler flag bits,
// persistence prefix length) and applies the shared rules; errf and warnf
// report with the reader's file (a keepalived include has its own).
func resolveVirtual(v *Virtual, s vSite, errf, warnf func(line int, format string, args ...any)) {
	at := func(n int) int {
		if n == 0 {
			return v.Line
		}
		return n
	}
	name := func(n, def string) string {
		if n == "" {
			return def
		}
		return n
	}
	if f, err := ipvs.SchedFlagBits(v.SchedFlags); err != nil {
		errf(at(s.schedFlagsLine), "%s: %v", name(s.schedFlagsName, "schedflags"), err)
	} else {
		v.SchedFlagBits = f
	}
	if m, err := NetmaskBits(v.Family, v.Netmask); err != nil {
		errf(at(s.netmaskLine), "invalid %s %q: %v", name(s.netmaskName, "netmask"), v.Netmask, err)
	} else {
		v.MaskBits = m
	}
	if v.Netmask != "" && v.Persistent == 0 {
		warnf(at(s.netmaskLine), "%s has no effect without persistence; ignored", name(s.netmaskName, "netmask"))
	}
	// ipvsadm: "-o ... UDP only"; ldirectord and keepalived ignore it elsewhere
	if v.OnePacket && v.Protocol != UDP {
		warnf(at(s.opsLine), "%s (one-packet scheduling) applies to UDP services only; ignored", name(s.opsName, "ops"))
		v.OnePacket = false
	}
}

// inheritFallback is ldirectord's rule, the TOML format's too: the
// virtual's own fallback, else the global one of its family; its port is
// the virtual's when it gives none.
func inheritFallback(v *Virtual, g *Global) {
	if v.Fallback == nil {
		gf := g.Fallback
		if v.Family == 6 {
			gf = g.Fallback6
		}
		if gf != nil {
			f := *gf
			v.Fallback, v.FallbackFromGlobal = &f, true
		}
	}
	if v.Fallback != nil && v.Fallback.Port == 0 {
		v.Fallback.Port = v.Port
	}
}

// fixRealPort applies the kernel's rule: with gate or ipip forwarding the
// real server receives the packet unchanged, so IPVS sets its port to the
// virtual's (keepalived says "ports don't match - resetting"). A fwmark
// service has no port of its own.
func fixRealPort(v *Virtual, r *Real) string {
	if v.Protocol == "fwm" || r.Forward == "masq" || r.Port == v.Port {
		return ""
	}
	msg := fmt.Sprintf("real server port %d differs from the virtual's %d: with %s forwarding the kernel uses %d", r.Port, v.Port, r.Forward, v.Port)
	r.Port = v.Port
	return msg
}
