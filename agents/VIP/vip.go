// Package vip is the ocf:lvs:VIP resource agent: IPaddr2's job (a virtual
// IPv4 or IPv6 address on an interface, announced to the neighbours) done
// through netlink and raw frames from one Go binary, with IPaddr2's
// parameters and exit codes.
package vip

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// Agent is ocf:lvs:VIP.
var Agent = &ocf.Agent{
	Name:  "VIP",
	Short: "Manages a virtual IPv4 or IPv6 address (IPaddr2 compatible)",
	Long: "VIP adds a virtual IPv4 or IPv6 address to a network interface and announces it to " +
		"the neighbours: gratuitous ARP request/reply pairs for IPv4, unsolicited Neighbor " +
		"Advertisements after duplicate address detection for IPv6. It takes IPaddr2's " +
		"parameters and returns IPaddr2's exit codes, but works through netlink and raw " +
		"frames from one static binary (no ip, send_arp or send_ua processes), so monitor " +
		"and start are many times faster. Without nic and cidr_netmask, the interface and " +
		"prefix length come from the longest connected route that covers the address, as " +
		"IPaddr2's findif does.",
	Params: []ocf.Param{
		{Name: "ip", Required: true, Unique: true, Short: "IPv4 or IPv6 address",
			Long: "The virtual address, IPv4 dotted quad (192.168.1.1) or IPv6 (2001:db8::1)."},
		{Name: "nic", Short: "Network interface",
			Long: "The base interface to add the address to. Default: the interface of the longest " +
				"directly connected route covering ip (default, unreachable and blackhole routes are " +
				"ignored). nic=eth0:label is accepted as in IPaddr2 (deprecated: use iflabel)."},
		{Name: "cidr_netmask", Short: "CIDR netmask",
			Long: "Prefix length (24), or an IPv4 dotted-quad netmask (255.255.255.0). Default: that of the route chosen for nic."},
		{Name: "broadcast", Short: "Broadcast address",
			Long: "IPv4 broadcast address, or + (host bits set) or - (host bits cleared). Default: none."},
		{Name: "iflabel", Short: "Interface label",
			Long: "IPv4 address label, shown as nic:iflabel; at most 15 characters including the interface name and the colon."},
		{Name: "lvs_support", Type: ocf.Boolean, Default: "false", Short: "Enable support for LVS direct routing",
			Long: "If the address is configured as a /32 on lo (an LVS-DR real server), take it off lo " +
				"while the VIP runs and put it back on stop. IPv4 only."},
		{Name: "lvs_ipv6_addrlabel", Type: ocf.Boolean, Default: "false", Short: "Add an IPv6 address label for the VIP",
			Long: "LVS-DR with IPv6: while the VIP runs, give it an address-selection label (ip addrlabel) so that the director's " +
				"own traffic (health checks to the real servers) does not use the VIP as its source address (RFC 6724)."},
		{Name: "lvs_ipv6_addrlabel_value", Type: ocf.Integer, Default: "99", Short: "IPv6 address label value",
			Long: "The label used by lvs_ipv6_addrlabel; an unused one in `ip addrlabel list`."},
		{Name: "arp_interval", Type: ocf.Integer, Default: "200", Short: "Interval between announcements (ms)",
			Long: "Milliseconds between two gratuitous ARP (IPv4) or Neighbor Advertisement (IPv6) rounds."},
		{Name: "arp_count", Type: ocf.Integer, Default: "5", Short: "Announcements sent on start",
			Long: "Number of announcement rounds sent on start: the first before start returns, the others in the background."},
		{Name: "arp_count_refresh", Type: ocf.Integer, Default: "0", Short: "Announcements sent on monitor",
			Long: "Number of announcement rounds sent on each successful monitor (0: none); helps neighbours with stuck caches after a split brain."},
		{Name: "arp_reply", Type: ocf.Boolean, Default: "false", Short: "Announce with ARP replies only",
			Long: "Send gratuitous ARP replies only, without the requests (what IPaddr2 gets with arp_sender=iputils_arping send_arp_opts=-A), for networks that ignore gratuitous requests."},
		{Name: "run_arping", Type: ocf.Boolean, Default: "false", Short: "Check for a duplicate IPv4 address before start",
			Long: "Before adding an IPv4 address, send two ARP probes (as arping -D) and fail start if another host answers for the address."},
		{Name: "nodad", Type: ocf.Boolean, Default: "false", Short: "Skip IPv6 duplicate address detection",
			Long: "Add an IPv6 address with the nodad flag: usable at once, no duplicate address detection."},
		{Name: "noprefixroute", Type: ocf.Boolean, Default: "false", Short: "Use the noprefixroute flag",
			Long: "Do not create the prefix route of the address (ip address ... noprefixroute)."},
		{Name: "preferred_lft", Default: "forever", Short: "IPv6 preferred lifetime",
			Long: "Preferred lifetime of an IPv6 address: forever, or seconds (0 keeps the address from being chosen as a source address)."},
		{Name: "flush_routes", Type: ocf.Boolean, Default: "false", Short: "Flush the route cache on stop",
			Long: "Flush the kernel's route cache after removing the address, so that local connections stop using it at once."},
		{Name: "check_link_status", Type: ocf.Boolean, Default: "true", Short: "Link down means not running",
			Long: "When the interface is down or has no carrier, monitor reports the address as not running (7), so that Pacemaker moves it."},
		{Name: "network_namespace", Short: "Network namespace to use",
			Long: "Work inside this network namespace (/run/netns/NAME, as ip netns exec). The namespace and the interface must exist."},
	},
	Actions:  ocf.StatusActions(),
	Validate: validate,
	Start:    start,
	Stop:     stop,
	Monitor:  monitor,
}

// run holds what validate found for the action that follows (one action
// per process; ocf.Run calls validate, then the action, on one goroutine).
type run struct {
	s   Settings
	r   Resolved
	err error // a findif failure, handled per action
}

var current run

// validate mirrors IPaddr2's ip_validate/ip_init: root first (start and
// stop), the namespace, static checks, then the interface choice.
func validate(c *ocf.Context) error {
	if err := c.RequireRootToChange(); err != nil {
		return err
	}
	s := ReadSettings(c.Params, c.Env)
	if s.NetworkNamespace != "" {
		if err := addr.EnterNetns(s.NetworkNamespace); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "parameter network_namespace=%q: %v", s.NetworkNamespace, err)
		}
	}
	if err := s.CheckStatic(); err != nil {
		return err
	}
	strict := c.Action == "start" || c.Action == "validate-all"
	var routes []addr.Route
	needRoutes := s.Nic == "" || s.NetmaskRaw == "" || s.BadNetmask
	if needRoutes && s.IP.IsValid() {
		var err error
		if routes, err = addr.Routes(s.IP); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "reading routes: %v", err)
		}
	}
	r, err := Resolve(s, routes, strict, func(name string) (bool, error) {
		_, err := addr.LinkByName(name)
		if errors.Is(err, os.ErrNotExist) {
			return false, nil
		}
		return err == nil, err
	})
	current = run{s: s, r: r}
	var fe *ErrFindIf
	if errors.As(err, &fe) {
		// IPaddr2: a probe says not running, stop succeeds, others fail.
		switch {
		case c.Probe:
			c.Log.Info("%v", err)
			return ocf.ErrNotRunning
		case c.Action == "stop":
			c.Log.Warn("%v", err)
			current.err = err
			return nil
		}
		return ocf.Errorf(ocf.ErrGeneric, "%v (ip=%s nic=%q cidr_netmask=%q)", err, s.IPRaw, s.Nic, s.NetmaskRaw)
	}
	return err
}

// served reports whether the address is on the chosen interface with the
// chosen prefix length (IPaddr2's ip_served), and the link's state.
func served(r Resolved) (bool, addr.Link, error) {
	if !r.Valid || r.Nic == "" {
		return false, addr.Link{}, nil
	}
	_, ok, err := addr.Has(r.Nic, r.PrefixAddr())
	if err != nil || !ok {
		return false, addr.Link{}, err
	}
	l, err := addr.LinkByName(r.Nic)
	return true, l, err
}

func linkDown(l addr.Link) bool { return !l.Loopback && (!l.Up || !l.LowerUp) }

func monitor(c *ocf.Context) error {
	s, r := current.s, current.r
	ok, l, err := served(r)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "reading addresses: %v", err)
	}
	if ok && s.CheckLinkStatus && linkDown(l) {
		c.Log.Warn("%s is on %s but the link is down (up=%v carrier=%v): not running", r.PrefixAddr(), r.Nic, l.Up, l.LowerUp)
		ok = false
	}
	if !ok {
		if c.Action == "status" {
			fmt.Fprintln(c.Stdout, "stopped")
		}
		return ocf.ErrNotRunning
	}
	if s.ARPCountRefresh > 0 && !l.Loopback {
		announce(c, s, r, l, s.ARPCountRefresh)
	}
	if c.Action == "status" {
		fmt.Fprintln(c.Stdout, "running")
	}
	return nil
}

func start(c *ocf.Context) error {
	s, r := current.s, current.r
	if r.Nic == "" {
		return configErr("No nic found or specified")
	}
	p := r.PrefixAddr()
	ok, _, err := served(r)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "reading addresses: %v", err)
	}
	if ok {
		return nil
	}
	l, err := addr.LinkByName(r.Nic)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "Failed to add %s: %v", s.IPRaw, err)
	}
	wasUp := l.Up
	if s.RunARPing && r.IP.Is4() && !l.Loopback {
		ctx, cancel := actionContext(c)
		mac, err := addr.ProbeARP(ctx, l, r.IP, 2, 500*time.Millisecond, time.Second)
		cancel()
		if err != nil {
			c.Log.Warn("duplicate address check of %s: %v", r.IP, err)
		} else if mac != nil {
			return ocf.Errorf(ocf.ErrGeneric, "IPv4 address collision %s [DAD]: %s answers for it on %s; not added", r.IP, mac, r.Nic)
		}
	}
	if s.LVSSupport {
		if err := takeFromLoopback(c, r.IP); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "Failed to add %s: lvs_support: %v", s.IPRaw, err)
		}
	}
	if s.AddrLabel && r.IP.Is6() {
		if err := addr.AddLabel(netip.PrefixFrom(r.IP, 128), uint32(s.AddrLabelValue)); err != nil {
			c.Log.Warn("%v", err) // IPaddr2 goes on too
		}
	}
	lft, _ := s.PreferredLifetime()
	spec := addr.Spec{Dev: r.Nic, Prefix: p, Broadcast: r.Broadcast, Label: r.Label,
		NoDAD: s.NoDAD, NoPrefixRoute: s.NoPrefixRoute}
	if r.IP.Is6() {
		spec.PreferredLft = lft
	}
	c.Log.Info("Adding %s to %s%s", p, r.Nic, describe(r))
	if err := addr.Add(spec); err != nil {
		if s.LVSSupport {
			restoreLoopback(c, r.IP)
		}
		delAddrLabel(s, r)
		return ocf.Errorf(ocf.ErrGeneric, "Failed to add %s: %v", s.IPRaw, err)
	}
	// From here on, a failure removes what was added.
	undo := func(reason error) error {
		if err := addr.Remove(r.Nic, p); err != nil {
			c.Log.Error("could not remove %s from %s after a failed start: %v", p, r.Nic, err)
		}
		if s.LVSSupport {
			restoreLoopback(c, r.IP)
		}
		delAddrLabel(s, r)
		return reason
	}
	if err := addr.SetUp(r.Nic); err != nil {
		return undo(ocf.Errorf(ocf.ErrGeneric, "Failed to bring %s up: %v", r.Nic, err))
	}
	if l.Loopback {
		return nil // nobody to announce to
	}
	if r.IP.Is6() && !s.NoDAD {
		ctx, cancel := actionContext(c)
		err := addr.WaitDAD(ctx, r.Nic, p, 10*time.Millisecond)
		cancel()
		switch {
		case errors.Is(err, addr.ErrDADFailed):
			return undo(ocf.Errorf(ocf.ErrGeneric, "IPv6 address collision %s [DAD]: another host on %s uses it; address removed", r.IP, r.Nic))
		case errors.Is(err, context.DeadlineExceeded):
			c.Log.Warn("IPv6 address %s: DAD is still tentative", r.IP)
		case err != nil:
			return undo(ocf.Errorf(ocf.ErrGeneric, "waiting for DAD of %s: %v", r.IP, err))
		}
	}
	if l, err = addr.LinkByName(r.Nic); err == nil && s.CheckLinkStatus && wasUp && linkDown(l) {
		return undo(ocf.Errorf(ocf.ErrGeneric, "%s has no carrier (check_link_status): %s not started", r.Nic, p))
	}
	announce(c, s, r, l, s.ARPCount)
	return nil
}

func stop(c *ocf.Context) error {
	s, r := current.s, current.r
	killAnnouncer(c, s.IPRaw)
	if current.err != nil {
		return nil // findif failed: nothing of ours can be there
	}
	ok, _, err := served(r)
	if err != nil {
		return ocf.Errorf(ocf.ErrGeneric, "reading addresses: %v", err)
	}
	if ok {
		if err := addr.Remove(r.Nic, r.PrefixAddr()); err != nil {
			return ocf.Errorf(ocf.ErrGeneric, "Unable to remove IP [%s] from interface [%s]: %v", s.IPRaw, r.Nic, err)
		}
		c.Log.Info("Removed %s from %s", r.PrefixAddr(), r.Nic)
		delAddrLabel(s, r)
		if s.FlushRoutes {
			if err := addr.FlushRouteCache(r.IP); err != nil {
				c.Log.Warn("flushing the route cache: %v", err)
			}
		}
	}
	if s.LVSSupport {
		restoreLoopback(c, r.IP)
	}
	return nil
}

// actionContext bounds waits by the action's timeout (10 s when unknown,
// as IPaddr2 waits for DAD), keeping a tenth in reserve.
func actionContext(c *ocf.Context) (context.Context, context.CancelFunc) {
	d := 10 * time.Second
	if c.Timeout > 0 && c.Timeout-c.Timeout/10 < d {
		d = c.Timeout - c.Timeout/10
	}
	return context.WithTimeout(context.Background(), d)
}

// loopbackFile is where IPaddr2 keeps a loopback address it took away
// ($HA_RSCTMP/<ip>); the same file and format, so either agent restores it.
func loopbackFile(c *ocf.Context, ip netip.Addr) string {
	return filepath.Join(c.StateDir(), ip.String())
}

// takeFromLoopback removes ip/32 from lo* interfaces (an LVS-DR real
// server's VIP) and remembers it.
func takeFromLoopback(c *ocf.Context, ip netip.Addr) error {
	as, err := addr.Find(ip)
	if err != nil {
		return err
	}
	for _, a := range as {
		if a.Prefix.Bits() != 32 || !strings.HasPrefix(a.Dev, "lo") {
			continue
		}
		c.Log.Info("Removing conflicting loopback %s from %s", a.Prefix, a.Dev)
		if err := os.MkdirAll(c.StateDir(), 0o755); err != nil {
			c.Log.Error("Could not save conflicting loopback %s: %v", a.Dev, err)
		} else if err := os.WriteFile(loopbackFile(c, ip), []byte(fmt.Sprintf("%s 32 255.255.255.255 %s\n", ip, a.Dev)), 0o644); err != nil {
			c.Log.Error("Could not save conflicting loopback %s: %v", a.Dev, err)
		}
		if err := addr.Remove(a.Dev, a.Prefix); err != nil {
			return err
		}
	}
	return nil
}

// restoreLoopback puts back what takeFromLoopback removed.
func restoreLoopback(c *ocf.Context, ip netip.Addr) {
	f := loopbackFile(c, ip)
	data, err := os.ReadFile(f)
	if err != nil {
		return
	}
	fs := strings.Fields(string(data))
	dev := "lo"
	if len(fs) >= 4 {
		dev = fs[3]
	}
	p := netip.PrefixFrom(ip, 32)
	c.Log.Info("Restoring loopback IP address %s on %s", p, dev)
	if _, ok, _ := addr.Has(dev, p); !ok {
		if err := addr.Add(addr.Spec{Dev: dev, Prefix: p, Broadcast: netip.MustParseAddr("255.255.255.255")}); err != nil {
			c.Log.Error("restoring %s on %s: %v", p, dev, err)
			return
		}
	}
	os.Remove(f)
}

func describe(r Resolved) string {
	var b strings.Builder
	if r.Broadcast.IsValid() {
		b.WriteString(" broadcast " + r.Broadcast.String())
	}
	if r.Label != "" {
		b.WriteString(" label " + r.Label)
	}
	return b.String()
}

// delAddrLabel removes the lvs_ipv6_addrlabel label (errors ignored, as
// IPaddr2 does: it may never have been added).
func delAddrLabel(s Settings, r Resolved) {
	if s.AddrLabel && r.IP.Is6() {
		_ = addr.DelLabel(netip.PrefixFrom(r.IP, 128), uint32(s.AddrLabelValue))
	}
}
