package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// Protocol is VRRP's IP protocol number.
const Protocol = 112

// The VRRP multicast groups (RFC 3768, RFC 9568).
var (
	Group4 = netip.MustParseAddr("224.0.0.18")
	Group6 = netip.MustParseAddr("ff02::12")
)

// Packet is one received VRRP message and what the kernel said about it.
type Packet struct {
	Data    []byte     // the VRRP message (IP header removed)
	Src     netip.Addr // IP source
	Dst     netip.Addr // IP destination (the group, or our address for unicast)
	TTL     int        // IPv4 TTL or IPv6 hop limit; -1 when the kernel did not say
	IfIndex int
}

// Socket is the thin kernel layer of VRRP: one raw IP protocol 112 socket
// on one interface and one family. The runner only sees this interface,
// so it is tested without root over a fake (see pipeSocket in the tests).
type Socket interface {
	// ReadPacket blocks for the next message; buf holds its data.
	ReadPacket(buf []byte) (Packet, error)
	// WritePacket sends a VRRP message from src (which must be on the
	// interface) to dst, with TTL / hop limit 255.
	WritePacket(msg []byte, src, dst netip.Addr) error
	Close() error
}

// SocketOptions say how to open a Socket.
type SocketOptions struct {
	Interface string
	IPv6      bool
	// Multicast joins the VRRP group on the interface (not for an
	// instance speaking unicast only).
	Multicast bool
	// RcvBuf, when set, is SO_RCVBUF in bytes.
	RcvBuf int
}

// OpenSocket opens the raw socket: bound to the interface
// (SO_BINDTODEVICE, so a message for the same VRID on another link is
// never seen), TTL / hop limit 255 for multicast and unicast, multicast
// loopback off (our own adverts are not read back), the group joined on
// the interface, and TTL and destination delivered with each message.
func OpenSocket(o SocketOptions) (Socket, error) {
	ifi, err := net.InterfaceByName(o.Interface)
	if err != nil {
		return nil, fmt.Errorf("interface %s: %w", o.Interface, err)
	}
	network, laddr := "ip4:112", "0.0.0.0"
	if o.IPv6 {
		network, laddr = "ip6:112", "::"
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = unix.SetsockoptString(int(fd), unix.SOL_SOCKET, unix.SO_BINDTODEVICE, o.Interface)
			if serr == nil && o.RcvBuf > 0 {
				serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, o.RcvBuf)
			}
		})
		if err != nil {
			return err
		}
		if serr != nil {
			return fmt.Errorf("SO_BINDTODEVICE %s: %w", o.Interface, serr)
		}
		return nil
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr)
	if err != nil {
		return nil, fmt.Errorf("raw VRRP socket on %s: %w", o.Interface, err)
	}
	var s *rawSocket
	var settings []setting
	if o.IPv6 {
		s, settings = open6(ipv6.NewPacketConn(pc), ifi)
	} else {
		s, settings = open4(ipv4.NewPacketConn(pc), ifi)
	}
	if o.Multicast {
		settings = append(settings, setting{"joining " + s.group.String(), s.JoinGroup})
	}
	for _, st := range settings {
		if err := st.set(); err != nil {
			pc.Close()
			return nil, fmt.Errorf("VRRP socket on %s: %s: %w", o.Interface, st.what, err)
		}
	}
	return s, nil
}

// rawSocket is the Socket of either family: x/net's ipv4 and ipv6
// PacketConns set the same options and carry the same control data
// under other names (open4, open6), the rest is one code.
type rawSocket struct {
	ifi   *net.Interface
	group netip.Addr
	join  func(*net.Interface, net.Addr) error
	read  func(buf []byte) (Packet, error)
	write func(msg []byte, src, dst netip.Addr) error
	close func() error
}

// setting is one socket option set at open, named for its error.
type setting struct {
	what string
	set  func() error
}

func (s *rawSocket) ReadPacket(buf []byte) (Packet, error)             { return s.read(buf) }
func (s *rawSocket) WritePacket(msg []byte, src, dst netip.Addr) error { return s.write(msg, src, dst) }
func (s *rawSocket) Close() error                                      { return s.close() }

// JoinGroup joins the VRRP group on the interface (at open, or for a
// reload that adds a multicast instance where only unicast ones were).
func (s *rawSocket) JoinGroup() error {
	return s.join(s.ifi, &net.IPAddr{IP: net.IP(s.group.AsSlice())})
}

// received is a message as read: its source, and what the control
// message said (TTL / hop limit, interface, destination), if any.
func received(data []byte, src net.Addr, cm bool, ttl, ifindex int, dst net.IP) Packet {
	p := Packet{Data: data, TTL: -1}
	if a, ok := src.(*net.IPAddr); ok {
		p.Src, _ = netip.AddrFromSlice(a.IP)
	}
	if cm {
		p.TTL, p.IfIndex = ttl, ifindex
		p.Dst, _ = netip.AddrFromSlice(dst)
	}
	return p
}

func open4(c *ipv4.PacketConn, ifi *net.Interface) (*rawSocket, []setting) {
	s := &rawSocket{ifi: ifi, group: Group4, join: c.JoinGroup, close: c.Close,
		read: func(buf []byte) (Packet, error) {
			n, cm, src, err := c.ReadFrom(buf)
			if err != nil {
				return Packet{}, err
			}
			var p Packet
			if cm != nil {
				p = received(buf[:n], src, true, cm.TTL, cm.IfIndex, cm.Dst)
			} else {
				p = received(buf[:n], src, false, 0, 0, nil)
			}
			p.Src, p.Dst = p.Src.Unmap(), p.Dst.Unmap()
			return p, nil
		},
		write: func(msg []byte, src, dst netip.Addr) error {
			// IP_PKTINFO: the source address and the interface for this message
			cm := &ipv4.ControlMessage{IfIndex: ifi.Index}
			if src.IsValid() {
				cm.Src = net.IP(src.AsSlice())
			}
			_, err := c.WriteTo(msg, cm, &net.IPAddr{IP: net.IP(dst.AsSlice())})
			return err
		}}
	return s, []setting{
		{"TTL 255", func() error { return c.SetTTL(255) }},
		{"multicast TTL 255", func() error { return c.SetMulticastTTL(255) }},
		{"multicast loopback off", func() error { return c.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return c.SetMulticastInterface(ifi) }},
		{"control messages", func() error {
			return c.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		}},
	}
}

func open6(c *ipv6.PacketConn, ifi *net.Interface) (*rawSocket, []setting) {
	s := &rawSocket{ifi: ifi, group: Group6, join: c.JoinGroup, close: c.Close,
		read: func(buf []byte) (Packet, error) {
			n, cm, src, err := c.ReadFrom(buf)
			if err != nil {
				return Packet{}, err
			}
			if cm != nil {
				return received(buf[:n], src, true, cm.HopLimit, cm.IfIndex, cm.Dst), nil
			}
			return received(buf[:n], src, false, 0, 0, nil), nil
		},
		write: func(msg []byte, src, dst netip.Addr) error {
			// the VRRP checksum covers the pseudo-header, so the caller
			// computed it with src: the kernel must send from exactly that
			// address
			cm := &ipv6.ControlMessage{IfIndex: ifi.Index, HopLimit: 255}
			if src.IsValid() {
				cm.Src = net.IP(src.AsSlice())
			}
			// no zone on dst: Go would resolve its name in the caller's
			// network namespace; IPV6_PKTINFO's index already names the link
			_, err := c.WriteTo(msg, cm, &net.IPAddr{IP: net.IP(dst.AsSlice())})
			return err
		}}
	return s, []setting{
		{"hop limit 255", func() error { return c.SetHopLimit(255) }},
		{"multicast hop limit 255", func() error { return c.SetMulticastHopLimit(255) }},
		{"multicast loopback off", func() error { return c.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return c.SetMulticastInterface(ifi) }},
		{"control messages", func() error {
			return c.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
	}
}

// ErrClosed is what ReadPacket returns once the socket is closed.
var ErrClosed = net.ErrClosed

// closed reports whether err is the end of a socket we closed.
func closed(err error) bool { return errors.Is(err, net.ErrClosed) }

// LinkLocal is the interface's usable IPv6 link-local address (the source
// of VRRPv3 IPv6 adverts, as keepalived and RFC 9568 use); invalid while
// it is tentative or when there is none.
func LinkLocal(ifname string) (netip.Addr, error) {
	as, err := addr.Addresses(netip.IPv6Unspecified())
	if err != nil {
		return netip.Addr{}, err
	}
	for _, a := range as {
		if a.Dev == ifname && a.Prefix.Addr().IsLinkLocalUnicast() && a.Flags&(addr.FlagTentative|addr.FlagDADFailed) == 0 {
			return a.Prefix.Addr(), nil
		}
	}
	return netip.Addr{}, nil
}

// PrimaryAddr is the source of IPv4 adverts, as keepalived picks it: the
// interface's first IPv4 address that is not one of the VIPs; invalid
// when there is none.
func PrimaryAddr(ifname string, vips []netip.Prefix) (netip.Addr, error) {
	as, err := addr.Addresses(netip.IPv4Unspecified())
	if err != nil {
		return netip.Addr{}, err
	}
next:
	for _, a := range as {
		if a.Dev != ifname {
			continue
		}
		for _, v := range vips {
			if v.Addr() == a.Prefix.Addr() {
				continue next
			}
		}
		return a.Prefix.Addr(), nil
	}
	return netip.Addr{}, nil
}
