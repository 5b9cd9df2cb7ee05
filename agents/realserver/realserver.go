// Package realserver is the ocf:lvs:realserver resource agent: it makes
// the node an LVS-DR or LVS-TUN real server (each VIP on lo or on the
// tunnel device, ARP for the VIPs silenced, rp_filter relaxed for the
// tunnel), the job the DR how-tos do with a hand-written init script.
// The logic is lib/realserver's, shared with `lvsd realserver`.
package realserver

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/realserver"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// StateName is the agent's state file in HA_RSCTMP, one per node, shared
// by every realserver resource there: the sysctls go back to their
// previous values when the last one stops.
const StateName = "ocf-lvs-realserver.json"

// Agent is ocf:lvs:realserver.
var Agent = &ocf.Agent{
	Name:  "realserver",
	Short: "Makes this node an LVS direct-routing or tunnelling real server",
	Long: "realserver prepares a real server of an LVS director in direct routing (DR, gate) or " +
		"tunnelling (TUN, ipip) mode, what the DR how-tos do by hand with ifconfig lo:0 and " +
		"sysctl.conf. start puts each VIP on lo as a host address (/32, or /128 nodad) and, for IPv4 " +
		"VIPs, sets net.ipv4.conf.all, lo and each outgoing interface's arp_ignore=1 (answer ARP only " +
		"for addresses of the receiving interface, so never for the VIP) and arp_announce=2 (never " +
		"use the VIP as an ARP source): the director, not this node, must receive the VIP's traffic. " +
		"Values that already do the job (arp_ignore 2 or 8) are left alone. With tunnel=true the " +
		"VIPs go on tunl0 (module ipip) or ip6tnl0 (module ip6_tunnel), brought up, and " +
		"net.ipv4.conf.tunl0.rp_filter becomes 2 (loose) unless it is 0, since the decapsulated " +
		"packets arrive on tunl0 from clients routed through another interface. The values replaced " +
		"are kept in HA_RSCTMP and put back when the last realserver resource of the node stops; " +
		"stop removes the VIPs. Usually cloned on the real servers.",
	Params: []ocf.Param{
		{Name: "ip", Required: true, Unique: true, Short: "Virtual IP addresses",
			Long: "The virtual service addresses (the director's VIPs) this node serves, IPv4 or IPv6, separated by spaces or commas; a /32 or /128 suffix is accepted."},
		{Name: "tunnel", Type: ocf.Boolean, Default: "false", Short: "LVS-TUN (ipip) instead of direct routing",
			Long: "The director forwards with IP-in-IP tunnelling (ipvsadm -i, ldirectord ipip): the VIPs go on tunl0 / ip6tnl0 instead of lo, and reverse-path filtering is relaxed on tunl0."},
		{Name: "interfaces", Short: "Interfaces for the ARP settings",
			Long: "Comma- or space-separated interfaces that get arp_ignore and arp_announce besides all and lo (the interfaces ARP requests for the VIPs arrive on). Default: the interfaces of the IPv4 default routes."},
	},
	Actions:  ocf.StatusActions(),
	Validate: validate,
	Start:    start,
	Stop:     stop,
	Monitor:  monitor,
}

// current is what validate resolved for the action (one per process).
var current realserver.Config

func configErr(format string, a ...any) error { return ocf.Errorf(ocf.ErrConfigured, format, a...) }

func helper(c *ocf.Context) *realserver.Helper {
	return &realserver.Helper{K: realserver.System{}, StateFile: filepath.Join(c.StateDir(), StateName),
		Log: func(f string, a ...any) { c.Log.Info(f, a...) }}
}

func validate(c *ocf.Context) error {
	if err := c.RequireRootToChange(); err != nil {
		return err
	}
	raw := c.Params.String("ip")
	vips, err := realserver.ParseVIPs(raw)
	if err != nil {
		return configErr("parameter ip=%q: %v", raw, err)
	}
	cfg := realserver.Config{VIPs: vips, Tunnel: c.Params.Bool("tunnel")}
	if s := strings.TrimSpace(c.Params.String("interfaces")); s != "" {
		for _, d := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
			if err := realserver.CheckIfName(d); err != nil {
				return configErr("parameter interfaces=%q: %v", s, err)
			}
			cfg.Interfaces = append(cfg.Interfaces, d)
		}
	}
	if c.Action == "start" || c.Action == "validate-all" {
		k := realserver.System{}
		for _, d := range cfg.Interfaces {
			if ok, _, err := k.Link(d); err != nil {
				return ocf.Errorf(ocf.ErrGeneric, "looking up interface %s: %v", d, err)
			} else if !ok {
				return configErr("parameter interfaces=%q: no such interface %s", c.Params.String("interfaces"), d)
			}
		}
		if cfg.Tunnel && !c.HaveBinary("modprobe") {
			for _, ip := range cfg.VIPs {
				if ok, _, _ := k.Link(realserver.VIPDev(ip, true)); !ok {
					return ocf.Errorf(ocf.ErrInstalled, "tunnel=true needs %s and modprobe is not installed to load its module", realserver.VIPDev(ip, true))
				}
			}
		}
	}
	current = cfg
	return nil
}

func monitor(c *ocf.Context) error {
	r, err := helper(c).Status(current)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	switch r.Result() {
	case realserver.Stopped:
		if c.Action == "status" {
			fmt.Fprintln(c.Stdout, "stopped")
		}
		return ocf.ErrNotRunning
	case realserver.Partial:
		return ocf.Errorf(ocf.ErrGeneric, "partially configured: %s", strings.Join(r.Problems(), "; "))
	}
	if c.Action == "status" {
		fmt.Fprintln(c.Stdout, "running")
	}
	return nil
}

func start(c *ocf.Context) error {
	h := helper(c)
	if err := h.Up(current); err != nil {
		if errors.Is(err, realserver.ErrNoTunnel) {
			return ocf.Errorf(ocf.ErrInstalled, "%v", err)
		}
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	r, err := h.Status(current)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	if r.Result() != realserver.Running {
		return ocf.Errorf(ocf.ErrGeneric, "still not in place after start: %s", strings.Join(r.Problems(), "; "))
	}
	return nil
}

func stop(c *ocf.Context) error {
	if err := helper(c).Down(current); err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "%v", err)
	}
	return nil
}
