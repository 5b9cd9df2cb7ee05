package check

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"
)

// TestUDPCheck: keepalived's UDP_CHECK against real sockets on loopback:
// a closed port (ICMP port unreachable) is down; a silent one is up
// unless a reply is required; a reply must start with the bytes asked.
func TestUDPCheck(t *testing.T) {
	srv, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	go func() {
		buf := make([]byte, 512)
		for {
			n, from, err := srv.ReadFrom(buf)
			if err != nil {
				return
			}
			if string(buf[:n]) == "ping" {
				srv.WriteTo([]byte("pong!"), from)
			}
		}
	}()
	port := uint16(srv.LocalAddr().(*net.UDPAddr).Port)
	closed, _ := net.ListenPacket("udp", "127.0.0.1:0")
	cport := uint16(closed.LocalAddr().(*net.UDPAddr).Port)
	closed.Close()
	lo := netip.MustParseAddr("127.0.0.1")
	spec := func(p uint16, payload string, req bool, reply string) Spec {
		return Spec{Type: "udp", Addr: lo, Port: p, Payload: payload, RequireReply: req, Reply: reply, CheckTimeout: 300 * time.Millisecond}
	}
	ctx := context.Background()
	for _, c := range []struct {
		name string
		s    Spec
		ok   bool
		why  string
	}{
		{"reply", spec(port, "ping", true, "pong"), true, "reply of 5 bytes"},
		{"wrong reply", spec(port, "ping", true, "pang"), false, "does not start with"},
		{"silent, no reply needed", spec(port, "hello", false, ""), true, "no ICMP error"},
		{"silent, reply needed", spec(port, "hello", true, ""), false, "no reply"},
		{"closed port", spec(cport, "ping", false, ""), false, "port unreachable"},
	} {
		r := Run(ctx, &c.s)
		if r.OK != c.ok || !strings.Contains(r.Reason, c.why) {
			t.Errorf("%s: %+v, want ok=%v and %q", c.name, r, c.ok, c.why)
		}
	}
}
