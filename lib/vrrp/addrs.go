package vrrp

import (
	"context"
	"errors"
	"net/netip"
	"syscall"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// Addresser adds, removes and announces the virtual addresses: the only
// address code the runner calls, so its tests can watch it without root.
// The kernel one is lib/addr, the same code and frames as the VIP agent.
type Addresser interface {
	Add(dev string, v config.VIP) error
	Remove(dev string, v config.VIP) error
	Has(dev string, v config.VIP) bool
	// Announce sends count gratuitous ARPs (IPv4) or unsolicited
	// Neighbor Advertisements (IPv6) for ip from dev.
	Announce(ctx context.Context, dev string, ip netip.Addr, count int) error
}

// scopes are keepalived's (and ip's) scope names; "" is global. The
// kernel refuses a secondary address whose scope differs from its
// primary's (same subnet), as `ip addr add` reports.
var scopes = map[string]int{"": addr.ScopeUniverse, "site": 200, "link": addr.ScopeLink, "host": addr.ScopeHost, "nowhere": 255}

// KernelAddrs is the Addresser of a real system (NewKernelAddrs). Its
// announcements go out of one packet socket kept open (addr.Announcer):
// opening and closing one per burst made a master's real-time thread
// wait for the kernel's close, up to 600 ms on a saturated box.
type KernelAddrs struct {
	ann *addr.Announcer
}

// NewKernelAddrs returns the Addresser of a real system; Close closes its
// announcement socket.
func NewKernelAddrs() *KernelAddrs { return &KernelAddrs{ann: addr.NewAnnouncer()} }

// Close closes the announcement socket (off the VRRP threads: it waits
// for the kernel).
func (k *KernelAddrs) Close() error { return k.ann.Close() }

func (*KernelAddrs) Add(dev string, v config.VIP) error {
	err := addr.Add(addr.Spec{Dev: dev, Prefix: v.Prefix, Broadcast: v.Broadcast, Label: v.Label, NoDAD: v.NoDAD,
		Scope: scopes[v.Scope]})
	if errors.Is(err, syscall.EEXIST) {
		return nil // already there (a restart while master): ours again
	}
	return err
}

func (*KernelAddrs) Remove(dev string, v config.VIP) error {
	err := addr.Remove(dev, v.Prefix)
	if errors.Is(err, syscall.EADDRNOTAVAIL) || errors.Is(err, syscall.ENOENT) {
		return nil // already gone
	}
	return err
}

func (*KernelAddrs) Has(dev string, v config.VIP) bool {
	_, ok, _ := addr.Has(dev, v.Prefix)
	return ok
}

func (k *KernelAddrs) Announce(_ context.Context, dev string, ip netip.Addr, count int) error {
	l, err := addr.LinkByName(dev)
	if err != nil {
		return err
	}
	// keepalived's vrrp_garp_interval and vrrp_gna_interval default to 0:
	// the whole burst at once (addr.Announce waits on a Go timer between
	// rounds, even of 0, which a VRRP thread must not: rt.go)
	return k.ann.Announce(l, ip, false, count)
}
