package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

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
	if s.rc, err = pc.(syscall.Conn).SyscallConn(); err == nil {
		s.closeFD, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC)
	}
	if err != nil {
		pc.Close()
		return nil, fmt.Errorf("VRRP socket on %s: %w", o.Interface, err)
	}
	if o.Multicast {
		settings = append(settings, setting{"joining " + s.group.String(), s.JoinGroup})
	}
	for _, st := range settings {
		if err := st.set(); err != nil {
			s.Close()
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

	rc        syscall.RawConn
	rd        reading // the reader's (recv)
	oob       []byte  // the reader's control message buffer
	closeFD   int     // an eventfd: Close wakes the reader's poll with it
	closeOnce sync.Once
	closeErr  error
}

// setting is one socket option set at open, named for its error.
type setting struct {
	what string
	set  func() error
}

func (s *rawSocket) ReadPacket(buf []byte) (Packet, error)             { return s.read(buf) }
func (s *rawSocket) WritePacket(msg []byte, src, dst netip.Addr) error { return s.write(msg, src, dst) }

// Close wakes the reader (its poll), then closes: the net package's
// Close waits until the reader has left the socket (recv is in rc.Read).
func (s *rawSocket) Close() error {
	s.closeOnce.Do(func() {
		unix.Write(s.closeFD, one[:])
		s.closeErr = s.close()
		unix.Close(s.closeFD)
	})
	return s.closeErr
}

// recv waits for a message in the kernel (poll on the socket and on
// closeFD), not in the Go runtime's network poller, so the socket's
// real-time reader thread is woken by the kernel itself (rt.go); then it
// reads the message without blocking. The reader's func and its results
// live in s (one reader per socket), made once: a closure per call was
// 200 allocations a second (one per maxWait), most of VRRP's garbage.
// Each poll waits one slice (rt.go) at most.
func (s *rawSocket) recv(buf []byte) (n, oobn int, from unix.Sockaddr, err error) {
	r := &s.rd
	if r.fn == nil {
		r.fn = r.read
	}
	r.buf, r.oob, r.closeFD = buf, s.oob, s.closeFD
	for {
		r.eagain = false
		if rerr := s.rc.Read(r.fn); rerr != nil {
			return 0, 0, nil, rerr
		}
		if !r.eagain {
			n, oobn, from, err = r.n, r.oobn, r.from, r.err
			r.from, r.buf = nil, nil
			return n, oobn, from, err
		}
	}
}

// reading is recv's state: the func rc.Read calls and what it found.
type reading struct {
	fn      func(fd uintptr) bool
	fds     [2]unix.PollFd
	buf     []byte
	oob     []byte
	closeFD int

	n, oobn int
	from    unix.Sockaddr
	err     error
	eagain  bool
}

func (r *reading) read(fd uintptr) bool {
	r.fds = [2]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}, {Fd: int32(r.closeFD), Events: unix.POLLIN}}
	np, err := unix.Poll(r.fds[:], int(slice()/time.Millisecond))
	r.err = err
	if err == unix.EINTR || np == 0 && err == nil {
		r.err, r.eagain = nil, true // a signal, or the slice (rt.go) passed: poll again
		return true
	}
	if err != nil {
		return true
	}
	if r.fds[1].Revents != 0 {
		r.err = net.ErrClosed
		return true
	}
	r.n, r.oobn, _, r.from, r.err = unix.Recvmsg(int(fd), r.buf, r.oob, unix.MSG_DONTWAIT)
	if r.err == unix.EAGAIN || r.err == unix.EINTR {
		r.err, r.eagain = nil, true
	}
	return true
}

// Pending reports whether a message waits to be read: a backup whose
// Master_Down ran out lets the reader deliver it first (after a stall,
// the timer and the adverts are due at once).
func (s *rawSocket) Pending() bool {
	pending := false
	s.rc.Control(func(fd uintptr) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, _ := unix.Poll(fds, 0)
		pending = n > 0 && fds[0].Revents&unix.POLLIN != 0
	})
	return pending
}

func sockaddrIP(sa unix.Sockaddr) netip.Addr {
	switch a := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrFrom4(a.Addr)
	case *unix.SockaddrInet6:
		return netip.AddrFrom16(a.Addr)
	}
	return netip.Addr{}
}

// JoinGroup joins the VRRP group on the interface (at open, or for a
// reload that adds a multicast instance where only unicast ones were).
func (s *rawSocket) JoinGroup() error {
	return s.join(s.ifi, &net.IPAddr{IP: net.IP(s.group.AsSlice())})
}

// received is a message as read: its source, and what the control
// message said (TTL / hop limit, interface, destination), if any.
func received(data []byte, src unix.Sockaddr, cm bool, ttl, ifindex int, dst net.IP) Packet {
	p := Packet{Data: data, TTL: -1, Src: sockaddrIP(src)}
	if cm {
		p.TTL, p.IfIndex = ttl, ifindex
		p.Dst, _ = netip.AddrFromSlice(dst)
	}
	return p
}

func open4(c *ipv4.PacketConn, ifi *net.Interface) (*rawSocket, []setting) {
	const flags = ipv4.FlagTTL | ipv4.FlagDst | ipv4.FlagInterface
	s := &rawSocket{ifi: ifi, group: Group4, join: c.JoinGroup, close: c.Close, oob: ipv4.NewControlMessage(flags)}
	s.read = func(buf []byte) (Packet, error) {
		n, oobn, src, err := s.recv(buf)
		if err != nil {
			return Packet{}, err
		}
		// an IPv4 raw socket reads the IP header too
		hl := int(buf[0]&0x0f) << 2
		if n < ipv4.HeaderLen || hl < ipv4.HeaderLen || n < hl {
			return Packet{}, fmt.Errorf("IPv4 header too short (%d bytes read)", n)
		}
		var cm ipv4.ControlMessage
		var p Packet
		if oobn > 0 && cm.Parse(s.oob[:oobn]) == nil {
			p = received(buf[hl:n], src, true, cm.TTL, cm.IfIndex, cm.Dst)
		} else {
			p = received(buf[hl:n], src, false, 0, 0, nil)
		}
		p.Src, p.Dst = p.Src.Unmap(), p.Dst.Unmap()
		return p, nil
	}
	s.write = func(msg []byte, src, dst netip.Addr) error {
		// IP_PKTINFO: the source address and the interface for this message
		cm := &ipv4.ControlMessage{IfIndex: ifi.Index}
		if src.IsValid() {
			cm.Src = net.IP(src.AsSlice())
		}
		_, err := c.WriteTo(msg, cm, &net.IPAddr{IP: net.IP(dst.AsSlice())})
		return err
	}
	return s, []setting{
		{"TTL 255", func() error { return c.SetTTL(255) }},
		{"multicast TTL 255", func() error { return c.SetMulticastTTL(255) }},
		{"multicast loopback off", func() error { return c.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return c.SetMulticastInterface(ifi) }},
		{"control messages", func() error { return c.SetControlMessage(flags, true) }},
	}
}

func open6(c *ipv6.PacketConn, ifi *net.Interface) (*rawSocket, []setting) {
	const flags = ipv6.FlagHopLimit | ipv6.FlagDst | ipv6.FlagInterface
	s := &rawSocket{ifi: ifi, group: Group6, join: c.JoinGroup, close: c.Close, oob: ipv6.NewControlMessage(flags)}
	s.read = func(buf []byte) (Packet, error) {
		n, oobn, src, err := s.recv(buf)
		if err != nil {
			return Packet{}, err
		}
		var cm ipv6.ControlMessage
		if oobn > 0 && cm.Parse(s.oob[:oobn]) == nil {
			return received(buf[:n], src, true, cm.HopLimit, cm.IfIndex, cm.Dst), nil
		}
		return received(buf[:n], src, false, 0, 0, nil), nil
	}
	s.write = func(msg []byte, src, dst netip.Addr) error {
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
	}
	return s, []setting{
		{"hop limit 255", func() error { return c.SetHopLimit(255) }},
		{"multicast hop limit 255", func() error { return c.SetMulticastHopLimit(255) }},
		{"multicast loopback off", func() error { return c.SetMulticastLoopback(false) }},
		{"multicast interface", func() error { return c.SetMulticastInterface(ifi) }},
		{"control messages", func() error { return c.SetControlMessage(flags, true) }},
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
	l, err := addr.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, err
	}
	return linkLocal(l.Index)
}

func linkLocal(index int) (netip.Addr, error) {
	as, err := ifaceAddrs(index, true)
	for _, a := range as {
		ip, _ := netip.AddrFromSlice(a.IP)
		if ip.IsLinkLocalUnicast() && a.Flags&(addr.FlagTentative|addr.FlagDADFailed) == 0 {
			return ip, nil
		}
	}
	return netip.Addr{}, err
}

// PrimaryAddr is the source of IPv4 adverts, as keepalived picks it: the
// interface's first IPv4 address that is not one of the VIPs; invalid
// when there is none.
func PrimaryAddr(ifname string, vips []netip.Prefix) (netip.Addr, error) {
	l, err := addr.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, err
	}
	return primaryAddr(l.Index, vips)
}

func primaryAddr(index int, vips []netip.Prefix) (netip.Addr, error) {
	as, err := ifaceAddrs(index, false)
next:
	for _, a := range as {
		ip, _ := netip.AddrFromSlice(a.IP)
		ip = ip.Unmap()
		for _, v := range vips {
			if v.Addr() == ip {
				continue next
			}
		}
		return ip, nil
	}
	return netip.Addr{}, err
}

// ifaceAddrs lists one family's addresses on the interface of that index,
// in the kernel's order: one address dump and not the whole link table
// too (addr.Addresses reads it for the names). The trackers call it every
// Poll, and what it allocated made the garbage collector run every 35 s;
// its stop-the-world pauses, on ordinary threads, delay the VRRP threads
// on a saturated box (measured: 329 ms).
func ifaceAddrs(index int, v6 bool) ([]netlink.Addr, error) {
	fam := netlink.FAMILY_V4
	if v6 {
		fam = netlink.FAMILY_V6
	}
	l := &netlink.Dummy{LinkAttrs: netlink.LinkAttrs{Index: index}}
	for i := 0; ; i++ {
		as, err := netlink.AddrList(l, fam)
		if !errors.Is(err, netlink.ErrDumpInterrupted) || i == 4 {
			return as, err
		}
	}
}
