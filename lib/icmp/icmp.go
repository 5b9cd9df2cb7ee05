// Package icmp sends ICMP echo requests (IPv4 and IPv6) from Go, without the
// ping binary. One Pinger shares one socket per address family (and per
// interface when a probe is bound to one) between any number of concurrent
// probes; replies are matched by source address and sequence number (and by
// echo ID on raw sockets, which see every ICMP packet on the host).
//
// As root it uses raw sockets; otherwise unprivileged datagram ping sockets
// ("udp4"/"udp6", allowed by net.ipv4.ping_group_range), where the kernel
// owns the echo ID.
package icmp

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	xicmp "golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Target is one address to probe, optionally through a given interface
// (SO_BINDTODEVICE; for IPv6 link-local addresses also the zone).
type Target struct {
	Addr  netip.Addr
	Iface string
}

func (t Target) String() string {
	if t.Iface != "" {
		return t.Addr.WithZone("").String() + "%" + t.Iface
	}
	return t.Addr.String()
}

// Result of probing one target.
type Result struct {
	Target Target
	OK     bool          // an echo reply arrived
	RTT    time.Duration // round trip of the answered request
	Err    error         // a local failure (socket, send); not "no answer"
}

type connKey struct {
	v6    bool
	iface string
}

type pendKey struct {
	src netip.Addr // unmapped, no zone
	seq uint16
}

type conn struct {
	pc  net.PacketConn
	raw bool
}

// Pinger owns the sockets shared by concurrent probes. The zero value is
// not usable; use NewPinger. Safe for concurrent use.
type Pinger struct {
	id      uint16
	seq     atomic.Uint32
	mu      sync.Mutex
	conns   map[connKey]*conn
	pending map[pendKey]chan time.Time
	closed  bool
	// Privileged forces raw sockets (true) or datagram sockets (false);
	// nil = raw when running as root.
	Privileged *bool
}

// NewPinger returns a Pinger; sockets are opened on first use.
func NewPinger() *Pinger {
	return &Pinger{
		id:      uint16(os.Getpid()) ^ uint16(rand.Uint32()),
		conns:   map[connKey]*conn{},
		pending: map[pendKey]chan time.Time{},
	}
}

// Close closes the sockets; probes in flight fail.
func (p *Pinger) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, c := range p.conns {
		c.pc.Close()
	}
	p.conns = map[connKey]*conn{}
	return nil
}

func (p *Pinger) privileged() bool {
	if p.Privileged != nil {
		return *p.Privileged
	}
	return os.Geteuid() == 0
}

func bindToDevice(iface string) func(network, address string, c syscall.RawConn) error {
	return func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptString(int(fd), syscall.SOL_SOCKET, syscall.SO_BINDTODEVICE, iface)
		})
		if err != nil {
			return err
		}
		return serr
	}
}

func (p *Pinger) getConn(k connKey) (*conn, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errors.New("icmp: pinger closed")
	}
	if c := p.conns[k]; c != nil {
		return c, nil
	}
	var c *conn
	if p.privileged() {
		network, laddr := "ip4:icmp", "0.0.0.0"
		if k.v6 {
			network, laddr = "ip6:ipv6-icmp", "::"
		}
		lc := net.ListenConfig{}
		if k.iface != "" {
			lc.Control = bindToDevice(k.iface)
		}
		pc, err := lc.ListenPacket(context.Background(), network, laddr)
		if err != nil {
			return nil, fmt.Errorf("icmp: raw socket %s: %w", network, err)
		}
		if k.v6 {
			// Only echo replies reach this socket, not the host's NDP/MLD.
			var f ipv6.ICMPFilter
			f.SetAll(true)
			f.Accept(ipv6.ICMPTypeEchoReply)
			_ = ipv6.NewPacketConn(pc).SetICMPFilter(&f)
		}
		c = &conn{pc: pc, raw: true}
	} else {
		if k.iface != "" {
			return nil, fmt.Errorf("icmp: probing through interface %s needs root", k.iface)
		}
		network, laddr := "udp4", "0.0.0.0"
		if k.v6 {
			network, laddr = "udp6", "::"
		}
		pc, err := xicmp.ListenPacket(network, laddr)
		if err != nil {
			return nil, fmt.Errorf("icmp: datagram ping socket %s (see net.ipv4.ping_group_range, or run as root): %w", network, err)
		}
		c = &conn{pc: pc}
	}
	p.conns[k] = c
	go p.receive(c, k.v6)
	return c, nil
}

func (p *Pinger) receive(c *conn, v6 bool) {
	buf := make([]byte, 1500)
	proto := 1
	if v6 {
		proto = 58
	}
	for {
		n, from, err := c.pc.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return // closed
		}
		now := time.Now()
		b := buf[:n]
		if !v6 && c.raw && n > 20 && b[0]>>4 == 4 {
			// some kernels/paths hand the IPv4 header over; skip it
			if hl := int(b[0]&0x0f) * 4; hl < n {
				b = b[hl:]
			}
		}
		m, err := xicmp.ParseMessage(proto, b)
		if err != nil {
			continue
		}
		if m.Type != ipv4.ICMPTypeEchoReply && m.Type != ipv6.ICMPTypeEchoReply {
			continue
		}
		echo, ok := m.Body.(*xicmp.Echo)
		if !ok {
			continue
		}
		if c.raw && uint16(echo.ID) != p.id {
			continue
		}
		src := addrOf(from)
		if !src.IsValid() {
			continue
		}
		k := pendKey{src: src, seq: uint16(echo.Seq)}
		p.mu.Lock()
		ch := p.pending[k]
		delete(p.pending, k)
		p.mu.Unlock()
		if ch != nil {
			ch <- now
		}
	}
}

func addrOf(a net.Addr) netip.Addr {
	var ip net.IP
	switch a := a.(type) {
	case *net.IPAddr:
		ip = a.IP
	case *net.UDPAddr:
		ip = a.IP
	default:
		return netip.Addr{}
	}
	ad, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return ad.Unmap().WithZone("")
}

// Probe sends up to attempts echo requests to t, one after the other, each
// waiting up to timeout for its reply (bounded by ctx), and reports the
// first answer. ok=false with err=nil means no answer.
func (p *Pinger) Probe(ctx context.Context, t Target, attempts int, timeout time.Duration) (ok bool, rtt time.Duration, err error) {
	if !t.Addr.IsValid() {
		return false, 0, errors.New("icmp: invalid address")
	}
	if attempts < 1 {
		attempts = 1
	}
	addr := t.Addr.Unmap()
	v6 := addr.Is6()
	c, err := p.getConn(connKey{v6: v6, iface: t.Iface})
	if err != nil {
		return false, 0, err
	}
	zone := addr.Zone()
	if zone == "" && v6 && t.Iface != "" && (addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast()) {
		zone = t.Iface
	}
	var dst net.Addr
	if c.raw {
		dst = &net.IPAddr{IP: addr.AsSlice(), Zone: zone}
	} else {
		dst = &net.UDPAddr{IP: addr.AsSlice(), Zone: zone}
	}
	key := addr.WithZone("")
	for i := 0; i < attempts; i++ {
		if ctx.Err() != nil {
			return false, 0, nil
		}
		seq := uint16(p.seq.Add(1))
		var typ xicmp.Type = ipv4.ICMPTypeEcho
		if v6 {
			typ = ipv6.ICMPTypeEchoRequest
		}
		msg := xicmp.Message{Type: typ, Body: &xicmp.Echo{ID: int(p.id), Seq: int(seq), Data: []byte("ocf-lvs-icmp-probe")}}
		b, err := msg.Marshal(nil) // ICMPv6 checksum: filled in by the kernel
		if err != nil {
			return false, 0, err
		}
		ch := make(chan time.Time, 1)
		pk := pendKey{src: key, seq: seq}
		p.mu.Lock()
		p.pending[pk] = ch
		p.mu.Unlock()
		sent := time.Now()
		if _, err := c.pc.WriteTo(b, dst); err != nil {
			p.mu.Lock()
			delete(p.pending, pk)
			p.mu.Unlock()
			// unreachable network etc.: no answer possible, but say why
			return false, 0, fmt.Errorf("icmp: send to %s: %w", t, err)
		}
		timer := time.NewTimer(timeout)
		select {
		case at := <-ch:
			timer.Stop()
			return true, at.Sub(sent), nil
		case <-timer.C:
		case <-ctx.Done():
			timer.Stop()
		}
		p.mu.Lock()
		delete(p.pending, pk)
		p.mu.Unlock()
	}
	return false, 0, nil
}

// ProbeAll probes every target at once (one goroutine each, shared
// sockets) and returns the results in the order of targets.
func (p *Pinger) ProbeAll(ctx context.Context, targets []Target, attempts int, timeout time.Duration) []Result {
	res := make([]Result, len(targets))
	var wg sync.WaitGroup
	for i, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, rtt, err := p.Probe(ctx, t, attempts, timeout)
			res[i] = Result{Target: t, OK: ok, RTT: rtt, Err: err}
		}()
	}
	wg.Wait()
	return res
}

// Probe is a one-shot convenience: a private Pinger for one target.
func Probe(ctx context.Context, addr netip.Addr, iface string, attempts int, timeout time.Duration) (ok bool, rtt time.Duration, err error) {
	p := NewPinger()
	defer p.Close()
	return p.Probe(ctx, Target{Addr: addr, Iface: iface}, attempts, timeout)
}

// ProbeAll is a one-shot convenience around Pinger.ProbeAll.
func ProbeAll(ctx context.Context, targets []Target, attempts int, timeout time.Duration) []Result {
	p := NewPinger()
	defer p.Close()
	return p.ProbeAll(ctx, targets, attempts, timeout)
}

// ParseTarget parses "addr" or "addr%iface" (IPv4 or IPv6, brackets
// allowed around IPv6).
func ParseTarget(s string) (Target, error) {
	var t Target
	host := s
	if len(host) > 1 && host[0] == '[' {
		if j := indexByte(host, ']'); j > 0 {
			rest := host[j+1:]
			host = host[1:j]
			if rest != "" {
				if rest[0] != '%' {
					return t, fmt.Errorf("bad address %q", s)
				}
				host += rest
			}
		}
	}
	if i := indexByte(host, '%'); i >= 0 {
		t.Iface = host[i+1:]
		host = host[:i]
		if t.Iface == "" || len(t.Iface) > 15 {
			return t, fmt.Errorf("bad interface in %q", s)
		}
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return t, fmt.Errorf("bad address %q: not an IPv4 or IPv6 address", s)
	}
	t.Addr = a.Unmap()
	return t, nil
}

func indexByte(s string, c byte) int {
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			return i
		}
	}
	return -1
}
