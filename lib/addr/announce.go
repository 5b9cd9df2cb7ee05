package addr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"golang.org/x/sys/unix"
)

// AnnounceFrames returns the frames of one announcement round for ip at
// mac: IPv4 a gratuitous ARP request then reply (only the reply when
// replyOnly, for networks that ignore gratuitous requests), IPv6 one
// unsolicited Neighbor Advertisement.
func AnnounceFrames(mac net.HardwareAddr, ip netip.Addr, replyOnly bool) ([][]byte, error) {
	if len(mac) != 6 {
		return nil, fmt.Errorf("interface has no Ethernet address (%v): cannot announce", mac)
	}
	if ip.Is4() {
		req, rep := GratuitousARP(mac, ip)
		if replyOnly {
			return [][]byte{rep}, nil
		}
		return [][]byte{req, rep}, nil
	}
	na, err := NAFrame(mac, ip)
	if err != nil {
		return nil, err
	}
	return [][]byte{na}, nil
}

func listen(l Link, ethertype int) (*packet.Conn, error) {
	c, err := packet.Listen(&net.Interface{Index: l.Index, Name: l.Name, HardwareAddr: l.MAC}, packet.Raw, ethertype, nil)
	if err != nil {
		return nil, fmt.Errorf("packet socket on %s: %w", l.Name, err)
	}
	return c, nil
}

// Announce sends count rounds of announcements for ip on l, interval
// apart (none after the last), stopping early when ctx ends.
func Announce(ctx context.Context, l Link, ip netip.Addr, replyOnly bool, count int, interval time.Duration) error {
	if count <= 0 {
		return nil
	}
	frames, err := AnnounceFrames(l.MAC, ip, replyOnly)
	if err != nil {
		return err
	}
	// A send-only socket: protocol 0 receives nothing.
	c, err := listen(l, 0)
	if err != nil {
		return err
	}
	defer c.Close()
	for i := 0; i < count; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(interval):
			}
		}
		for _, f := range frames {
			if _, err := c.WriteTo(f, &packet.Addr{HardwareAddr: net.HardwareAddr(f[0:6])}); err != nil {
				return fmt.Errorf("sending announcement on %s: %w", l.Name, err)
			}
		}
	}
	return nil
}

// AnnounceHeld sends one round of announcements for ip on l and returns
// the socket it sent from, for a process that outlives the caller to hold
// (os/exec's ExtraFiles), or to close: the last close waits for the kernel
// (see Announcer), and so does the exit of a process holding the last
// reference. The VIP agent's start paid it, 12 to 26 ms on a loaded host
// against about 1 ms of CPU; handed to its background announcer, the wait
// happens when that one ends, off the start's path.
func AnnounceHeld(l Link, ip netip.Addr, replyOnly bool) (*os.File, error) {
	a := NewAnnouncer()
	if err := a.Announce(l, ip, replyOnly, 1); err != nil {
		a.Close()
		return nil, err
	}
	return a.Release(), nil
}

// ProbeARP checks whether another host already uses ip on l's link, as
// `arping -D` does: it sends probes (sender 0.0.0.0) interval apart and
// listens until wait has passed since the first. It returns the MAC of the
// first host that claims ip (an ARP packet with ip as sender address from
// another MAC), or nil.
func ProbeARP(ctx context.Context, l Link, ip netip.Addr, probes int, interval, wait time.Duration) (net.HardwareAddr, error) {
	if !ip.Is4() {
		return nil, fmt.Errorf("ARP probe needs an IPv4 address")
	}
	if len(l.MAC) != 6 {
		return nil, fmt.Errorf("interface %s has no Ethernet address", l.Name)
	}
	c, err := listen(l, EtherTypeARP)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	probe := ARPProbe(l.MAC, ip)
	start := time.Now()
	end := start.Add(wait)
	if d, ok := ctx.Deadline(); ok && d.Before(end) {
		end = d
	}
	sent := 0
	buf := make([]byte, 1514)
	for {
		now := time.Now()
		if sent < probes && !now.Before(start.Add(time.Duration(sent)*interval)) {
			if _, err := c.WriteTo(probe, &packet.Addr{HardwareAddr: broadcastMAC}); err != nil {
				return nil, fmt.Errorf("sending ARP probe on %s: %w", l.Name, err)
			}
			sent++
		}
		if !now.Before(end) {
			return nil, nil
		}
		next := end
		if sent < probes {
			if t := start.Add(time.Duration(sent) * interval); t.Before(next) {
				next = t
			}
		}
		_ = c.SetReadDeadline(next)
		n, _, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return nil, fmt.Errorf("reading ARP on %s: %w", l.Name, err)
		}
		a, err := ParseARP(buf[:n])
		if err != nil || a.SPA != ip || a.SHA.String() == l.MAC.String() {
			continue
		}
		return a.SHA, nil
	}
}

// Announcer sends announcements from one packet socket kept open, for
// any interface (sendto names it), where Announce opens and closes a
// socket each time. Closing an AF_PACKET socket waits in the kernel for
// an RCU grace period (packet_release: synchronize_net), which a
// saturated box stretches: measured 16 ms, and up to 600 ms, on a VRRP
// master's real-time thread sending its delayed gratuitous ARPs at
// advert_int 0.05 s, long enough for its backup to take over. The socket
// has protocol 0: it receives nothing. Safe for concurrent use.
type Announcer struct {
	mu sync.Mutex
	fd int // -1: not open (yet, or closed)
}

// NewAnnouncer returns an Announcer; its socket opens at the first
// announcement, in the network namespace of the thread sending it.
func NewAnnouncer() *Announcer { return &Announcer{fd: -1} }

// Announce sends count rounds of announcements for ip on l at once (no
// wait between rounds: keepalived's default vrrp_garp_interval 0).
func (a *Announcer) Announce(l Link, ip netip.Addr, replyOnly bool, count int) error {
	if count <= 0 {
		return nil
	}
	frames, err := AnnounceFrames(l.MAC, ip, replyOnly)
	if err != nil {
		return err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fd < 0 {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
		if err != nil {
			return fmt.Errorf("packet socket: %w", err)
		}
		a.fd = fd
	}
	for i := 0; i < count; i++ {
		for _, f := range frames {
			to := &unix.SockaddrLinklayer{Ifindex: l.Index, Halen: 6}
			copy(to.Addr[:], f[0:6])
			if err := unix.Sendto(a.fd, f, 0, to); err != nil {
				return fmt.Errorf("sending announcement on %s: %w", l.Name, err)
			}
		}
	}
	return nil
}

// Release hands the socket over as a file (nil when none is open) and
// forgets it: a later Announce opens a new one.
func (a *Announcer) Release() *os.File {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fd < 0 {
		return nil
	}
	f := os.NewFile(uintptr(a.fd), "packet")
	a.fd = -1
	return f
}

// Close closes the socket (it waits for the kernel: not on a thread
// that must not wait). A later Announce opens a new one.
func (a *Announcer) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.fd < 0 {
		return nil
	}
	err := unix.Close(a.fd)
	a.fd = -1
	return err
}
