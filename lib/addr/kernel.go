package addr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"runtime"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// Forever is the "forever" address lifetime.
const Forever = ^uint32(0)

// Link is what the address code needs to know about an interface.
type Link struct {
	Name     string
	Index    int
	MAC      net.HardwareAddr
	Up       bool // administratively up (IFF_UP)
	LowerUp  bool // carrier (IFF_LOWER_UP)
	Loopback bool
}

// Address is one address configured on an interface.
type Address struct {
	Prefix    netip.Prefix // address and prefix length
	Dev       string
	Label     string // IPv4 only; the interface name when no label was set
	Broadcast netip.Addr
	Flags     int // IFA_F_*
}

// Address flags (linux/if_addr.h).
const (
	FlagNoDAD         = unix.IFA_F_NODAD
	FlagDADFailed     = unix.IFA_F_DADFAILED
	FlagTentative     = unix.IFA_F_TENTATIVE
	FlagNoPrefixRoute = unix.IFA_F_NOPREFIXROUTE
)

// Spec is an address to add.
type Spec struct {
	Dev           string
	Prefix        netip.Prefix // the address and its prefix length
	Broadcast     netip.Addr   // IPv4; invalid = none
	Label         string       // IPv4; must start with Dev
	NoDAD         bool         // IPv6: skip duplicate address detection
	NoPrefixRoute bool
	PreferredLft  *uint32 // seconds; nil = forever
	Scope         int     // RT_SCOPE_* (ScopeUniverse: global, the default); a secondary must share its primary's
}

// retry repeats a netlink dump that a concurrent change interrupted.
func retry[T any](f func() (T, error)) (T, error) {
	var v T
	var err error
	for i := 0; i < 5; i++ {
		if v, err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, err
}

func family(ip netip.Addr) int {
	if ip.Is4() {
		return netlink.FAMILY_V4
	}
	return netlink.FAMILY_V6
}

func toLink(l netlink.Link) Link {
	a := l.Attrs()
	return Link{
		Name:     a.Name,
		Index:    a.Index,
		MAC:      a.HardwareAddr,
		Up:       a.Flags&net.FlagUp != 0,
		LowerUp:  a.RawFlags&unix.IFF_LOWER_UP != 0,
		Loopback: a.Flags&net.FlagLoopback != 0,
	}
}

// LinkByName looks an interface up; a missing one gives an error wrapping
// os.ErrNotExist.
func LinkByName(name string) (Link, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return Link{}, fmt.Errorf("interface %s: %w", name, os.ErrNotExist)
		}
		return Link{}, fmt.Errorf("interface %s: %w", name, err)
	}
	return toLink(l), nil
}

// linkNames maps interface indexes to names (routes and addresses carry
// only the index).
func linkNames() (map[int]string, error) {
	links, err := retry(netlink.LinkList)
	if err != nil {
		return nil, err
	}
	names := make(map[int]string, len(links))
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	return names, nil
}

// Routes lists the routes of ip's family in the main and local tables,
// with interface names, for FindInterface.
func Routes(ip netip.Addr) ([]Route, error) {
	names, err := linkNames()
	if err != nil {
		return nil, err
	}
	rs, err := retry(func() ([]netlink.Route, error) {
		return netlink.RouteListFiltered(family(ip), &netlink.Route{Table: unix.RT_TABLE_UNSPEC}, netlink.RT_FILTER_TABLE)
	})
	if err != nil {
		return nil, err
	}
	out := make([]Route, 0, len(rs))
	for _, r := range rs {
		if r.Table != TableMain && r.Table != TableLocal {
			continue
		}
		rt := Route{Dev: names[r.LinkIndex], Type: r.Type, Scope: int(r.Scope), Table: r.Table}
		if r.Dst != nil {
			if a, ok := netip.AddrFromSlice(r.Dst.IP); ok {
				bits, _ := r.Dst.Mask.Size()
				rt.Dst = netip.PrefixFrom(a.Unmap(), bits)
			}
		}
		out = append(out, rt)
	}
	return out, nil
}

func toAddress(dev string, a netlink.Addr) Address {
	ip, _ := netip.AddrFromSlice(a.IP)
	bits, _ := a.Mask.Size()
	out := Address{Prefix: netip.PrefixFrom(ip.Unmap(), bits), Dev: dev, Label: a.Label, Flags: a.Flags}
	if b, ok := netip.AddrFromSlice(a.Broadcast); ok {
		out.Broadcast = b.Unmap()
	}
	return out
}

// Addresses lists the addresses of ip's family on every interface.
func Addresses(ip netip.Addr) ([]Address, error) {
	names, err := linkNames()
	if err != nil {
		return nil, err
	}
	as, err := retry(func() ([]netlink.Addr, error) { return netlink.AddrList(nil, family(ip)) })
	if err != nil {
		return nil, err
	}
	out := make([]Address, 0, len(as))
	for _, a := range as {
		out = append(out, toAddress(names[a.LinkIndex], a))
	}
	return out, nil
}

// Find returns the addresses equal to ip (any prefix length, any
// interface).
func Find(ip netip.Addr) ([]Address, error) {
	all, err := Addresses(ip)
	if err != nil {
		return nil, err
	}
	var out []Address
	for _, a := range all {
		if a.Prefix.Addr() == ip {
			out = append(out, a)
		}
	}
	return out, nil
}

// Has reports whether dev carries exactly p (address and prefix length),
// the test IPaddr2 makes to decide whether the address is served. A
// missing dev carries nothing.
func Has(dev string, p netip.Prefix) (Address, bool, error) {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) || errors.Is(err, unix.ENODEV) {
			return Address{}, false, nil
		}
		return Address{}, false, err
	}
	as, err := retry(func() ([]netlink.Addr, error) { return netlink.AddrList(l, family(p.Addr())) })
	if err != nil {
		return Address{}, false, err
	}
	for _, a := range as {
		if x := toAddress(dev, a); x.Prefix == p {
			return x, true, nil
		}
	}
	return Address{}, false, nil
}

func nlAddr(p netip.Prefix) *netlink.Addr {
	return &netlink.Addr{IPNet: &net.IPNet{
		IP:   net.IP(p.Addr().AsSlice()),
		Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen()),
	}}
}

// Add adds an address (`ip addr add`), failing if it exists.
func Add(s Spec) error {
	l, err := netlink.LinkByName(s.Dev)
	if err != nil {
		return fmt.Errorf("interface %s: %w", s.Dev, err)
	}
	a := nlAddr(s.Prefix)
	if s.Prefix.Addr().Is4() {
		a.Label = s.Label
		a.Broadcast = net.IPv4zero // none: stops netlink from computing one
		if s.Broadcast.IsValid() {
			a.Broadcast = net.IP(s.Broadcast.AsSlice())
		}
	} else if s.NoDAD {
		a.Flags |= unix.IFA_F_NODAD
	}
	if s.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	a.Scope = s.Scope
	if s.PreferredLft != nil && *s.PreferredLft != Forever {
		// netlink sends lifetimes only when one is non-zero; valid stays forever.
		a.ValidLft, a.PreferedLft = int(Forever), int(*s.PreferredLft)
	}
	if err := netlink.AddrAdd(l, a); err != nil {
		return fmt.Errorf("adding %s to %s: %w", s.Prefix, s.Dev, err)
	}
	return nil
}

// Remove deletes p from dev (`ip addr del`).
func Remove(dev string, p netip.Prefix) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("interface %s: %w", dev, err)
	}
	if err := netlink.AddrDel(l, nlAddr(p)); err != nil {
		return fmt.Errorf("removing %s from %s: %w", p, dev, err)
	}
	return nil
}

// SetUp brings an interface administratively up.
func SetUp(dev string) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("interface %s: %w", dev, err)
	}
	if l.Attrs().Flags&net.FlagUp != 0 {
		return nil
	}
	return netlink.LinkSetUp(l)
}

// SetDown brings an interface administratively down (the realserver
// helper puts a tunnel device back as it found it).
func SetDown(dev string) error {
	l, err := netlink.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("interface %s: %w", dev, err)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		return nil
	}
	return netlink.LinkSetDown(l)
}

// FlushRouteCache asks the kernel to drop cached routes (`ip route flush
// cache`), so local connections stop using a removed address at once.
func FlushRouteCache(ip netip.Addr) error {
	f := "/proc/sys/net/ipv4/route/flush"
	if !ip.Is4() {
		f = "/proc/sys/net/ipv6/route/flush"
	}
	return os.WriteFile(f, []byte("1\n"), 0o200)
}

// ErrDADFailed means another host on the link already uses the address.
var ErrDADFailed = errors.New("duplicate address detected (DAD failed): another host on the link uses this address")

// WaitDAD waits until IPv6 duplicate address detection of p on dev ends:
// nil once the address is no longer tentative, ErrDADFailed when the
// kernel flagged it dadfailed, ctx's error when it is still tentative at
// the deadline. poll is the polling period.
func WaitDAD(ctx context.Context, dev string, p netip.Prefix, poll time.Duration) error {
	for {
		a, ok, err := Has(dev, p)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("%s vanished from %s during duplicate address detection", p, dev)
		}
		if a.Flags&FlagDADFailed != 0 {
			return ErrDADFailed
		}
		if a.Flags&FlagTentative == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(poll):
		}
	}
}

// EnterNetns moves the calling goroutine, locked to its OS thread, into the
// named network namespace (/run/netns/NAME), as `ip netns exec` would; the
// thread is never returned to the original namespace, so callers do all
// their work from this goroutine afterwards. Sockets created from it
// (netlink, packet) live in that namespace, and child processes started
// from it inherit it.
func EnterNetns(name string) error {
	runtime.LockOSThread()
	h, err := netns.GetFromName(name)
	if err != nil {
		return fmt.Errorf("network namespace %s: %w", name, err)
	}
	defer h.Close()
	if err := netns.Set(h); err != nil {
		return fmt.Errorf("entering network namespace %s: %w", name, err)
	}
	return nil
}
