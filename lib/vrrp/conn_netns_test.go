package vrrp

import (
	"bytes"
	"net/netip"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

func openIn(t *testing.T, ns string, o SocketOptions) Socket {
	t.Helper()
	var s Socket
	if err := netns.Do(ns, func() (err error) { s, err = OpenSocket(o); return }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// reader delivers what a socket reads on a channel (one reader for the
// socket's life: a reader left behind would steal the next packet).
func reader(s Socket) <-chan Packet {
	ch := make(chan Packet, 16)
	go func() {
		for {
			p, err := s.ReadPacket(make([]byte, 1500))
			if err != nil {
				close(ch)
				return
			}
			ch <- p
		}
	}()
	return ch
}

// readOne reads one packet or nothing within d.
func readOne(ch <-chan Packet, d time.Duration) (Packet, bool) {
	select {
	case p, ok := <-ch:
		return p, ok
	case <-time.After(d):
		return Packet{}, false
	}
}

// The raw socket on a real kernel: multicast to the group with TTL 255
// and the destination reported; the sender does not read its own message
// back (loopback off); unicast works on the same socket.
func TestNetnsSocket4(t *testing.T) {
	p := netns.New(t)
	a := openIn(t, p.A, SocketOptions{Interface: "eth0", Multicast: true})
	b := openIn(t, p.B, SocketOptions{Interface: "eth0", Multicast: true})
	ra, rb := reader(a), reader(b)
	srcA := netip.MustParseAddr(p.V4(1))
	msg := []byte{0x21, 7, 100, 1, 0, 1, 0, 0, 10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0}
	if err := a.WritePacket(msg, srcA, Group4); err != nil {
		t.Fatal(err)
	}
	got, ok := readOne(rb, 5*time.Second)
	if !ok {
		t.Fatal("B received nothing")
	}
	if !bytes.Equal(got.Data, msg) || got.Src != srcA || got.Dst != Group4 || got.TTL != 255 {
		t.Errorf("B got %+v", got)
	}
	if _, ok := readOne(ra, 300*time.Millisecond); ok {
		t.Error("A read its own multicast message back (loopback on)")
	}
	// unicast from B to A
	if err := b.WritePacket(msg, netip.MustParseAddr(p.V4(2)), srcA); err != nil {
		t.Fatal(err)
	}
	got, ok = readOne(ra, 5*time.Second)
	if !ok || got.Dst != srcA || got.TTL != 255 || got.Src.String() != p.V4(2) {
		t.Errorf("unicast: %+v %v", got, ok)
	}
}

func TestNetnsSocket6(t *testing.T) {
	p := netns.New(t)
	a := openIn(t, p.A, SocketOptions{Interface: "eth0", IPv6: true, Multicast: true})
	b := openIn(t, p.B, SocketOptions{Interface: "eth0", IPv6: true, Multicast: true})
	ra, rb := reader(a), reader(b)
	var ll netip.Addr
	if !netns.WaitFor(10*time.Second, func() bool {
		netns.Do(p.A, func() error { ll, _ = LinkLocal("eth0"); return nil })
		return ll.IsValid()
	}) {
		t.Fatal("no usable link-local address on A's eth0")
	}
	msg := []byte{0x31, 7, 100, 1, 0, 100, 0, 0}
	msg = append(msg, netip.MustParseAddr(p.V6(100)).AsSlice()...)
	if err := a.WritePacket(msg, ll, Group6); err != nil {
		t.Fatal(err)
	}
	got, ok := readOne(rb, 5*time.Second)
	if !ok {
		t.Fatal("B received nothing")
	}
	if !bytes.Equal(got.Data, msg) || got.Src != ll || got.Dst != Group6 || got.TTL != 255 {
		t.Errorf("B got %+v (want src %s)", got, ll)
	}
	if _, ok := readOne(ra, 300*time.Millisecond); ok {
		t.Error("A read its own multicast message back")
	}
}
