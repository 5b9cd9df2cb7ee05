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
	if o.IPv6 {
		s := &socket6{pc: ipv6.NewPacketConn(pc), ifi: ifi}
		if err := s.setup(o.Multicast); err != nil {
			pc.Close()
			return nil, fmt.Errorf("VRRP socket on %s: %w", o.Interface, err)
		}
		return s, nil
	}
	s := &socket4{pc: ipv4.NewPacketConn(pc), ifi: ifi}
	if err := s.setup(o.Multicast); err != nil {
		pc.Close()
		return nil, fmt.Errorf("VRRP socket on %s: %w", o.Interface, err)
	}
	return s, nil
}

type socket4 struct {
	pc  *ipv4.PacketConn
	ifi *net.Interface
}

func (s *socket4) setup(multicast bool) error {
	steps := []struct {
		what string
		err  func() error
	}{
		{"TTL 255", func() error { return s.pc.SetTTL(255) }},
		{"multicast TTL 255", func() error { return s.pc.SetMulticastTTL(255) }},
		{"multicast loopback off", func() error { return s.pc.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return s.pc.SetMulticastInterface(s.ifi) }},
		{"control messages", func() error {
			return s.pc.SetControlMessage(ipv4.FlagTTL|ipv4.FlagDst|ipv4.FlagInterface, true)
		}},
	}
	if multicast {
		steps = append(steps, struct {
			what string
			err  func() error
		}{"joining 224.0.0.18", func() error {
			return s.pc.JoinGroup(s.ifi, &net.IPAddr{IP: net.IP(Group4.AsSlice())})
		}})
	}
	for _, st := range steps {
		if err := st.err(); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

func (s *socket4) ReadPacket(buf []byte) (Packet, error) {
	n, cm, src, err := s.pc.ReadFrom(buf)
	if err != nil {
		return Packet{}, err
	}
	p := Packet{Data: buf[:n], TTL: -1}
	if a, ok := src.(*net.IPAddr); ok {
		p.Src, _ = netip.AddrFromSlice(a.IP)
		p.Src = p.Src.Unmap()
	}
	if cm != nil {
		p.TTL, p.IfIndex = cm.TTL, cm.IfIndex
		p.Dst, _ = netip.AddrFromSlice(cm.Dst)
		p.Dst = p.Dst.Unmap()
	}
	return p, nil
}

func (s *socket4) WritePacket(msg []byte, src, dst netip.Addr) error {
	// IP_PKTINFO: the source address and the interface for this message
	cm := &ipv4.ControlMessage{IfIndex: s.ifi.Index}
	if src.IsValid() {
		cm.Src = net.IP(src.AsSlice())
	}
	_, err := s.pc.WriteTo(msg, cm, &net.IPAddr{IP: net.IP(dst.AsSlice())})
	return err
}

func (s *socket4) Close() error { return s.pc.Close() }

type socket6 struct {
	pc  *ipv6.PacketConn
	ifi *net.Interface
}

func (s *socket6) setup(multicast bool) error {
	steps := []struct {
		what string
		err  func() error
	}{
		{"hop limit 255", func() error { return s.pc.SetHopLimit(255) }},
		{"multicast hop limit 255", func() error { return s.pc.SetMulticastHopLimit(255) }},
		{"multicast loopback off", func() error { return s.pc.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return s.pc.SetMulticastInterface(s.ifi) }},
		{"control messages", func() error {
			return s.pc.SetControlMessage(ipv6.FlagHopLimit|ipv6.FlagDst|ipv6.FlagInterface, true)
		}},
	}
	if multicast {
		steps = append(steps, struct {
			what string
			err  func() error
		}{"joining ff02::12", func() error {
			return s.pc.JoinGroup(s.ifi, &net.IPAddr{IP: net.IP(Group6.AsSlice())})
		}})
	}
	for _, st := range steps {
		if err := st.err(); err != nil {
			return fmt.Errorf("%s: %w", st.what, err)
		}
	}
	return nil
}

func (s *socket6) ReadPacket(buf []byte) (Packet, error) {
	n, cm, src, err := s.pc.ReadFrom(buf)
	if err != nil {
		return Packet{}, err
	}
	p := Packet{Data: buf[:n], TTL: -1}
	if a, ok := src.(*net.IPAddr); ok {
		p.Src, _ = netip.AddrFromSlice(a.IP)
	}
	if cm != nil {
		p.TTL, p.IfIndex = cm.HopLimit, cm.IfIndex
		p.Dst, _ = netip.AddrFromSlice(cm.Dst)
	}
	return p, nil
}

func (s *socket6) WritePacket(msg []byte, src, dst netip.Addr) error {
	// the VRRP checksum covers the pseudo-header, so the caller computed
	// it with src: the kernel must send from exactly that address
	cm := &ipv6.ControlMessage{IfIndex: s.ifi.Index, HopLimit: 255}
	if src.IsValid() {
		cm.Src = net.IP(src.AsSlice())
	}
	// no zone on dst: Go would resolve its name in the caller's network
	// namespace; IPV6_PKTINFO's index already names the link
	_, err := s.pc.WriteTo(msg, cm, &net.IPAddr{IP: net.IP(dst.AsSlice())})
	return err
}

func (s *socket6) Close() error { return s.pc.Close() }

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

// JoinGroup joins the VRRP group on the interface, for a reload that
// adds a multicast instance where only unicast ones were.
func (s *socket4) JoinGroup() error {
	return s.pc.JoinGroup(s.ifi, &net.IPAddr{IP: net.IP(Group4.AsSlice())})
}

// JoinGroup is socket4's for IPv6.
func (s *socket6) JoinGroup() error {
	return s.pc.JoinGroup(s.ifi, &net.IPAddr{IP: net.IP(Group6.AsSlice())})
}
