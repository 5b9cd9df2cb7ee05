package config

import (
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
