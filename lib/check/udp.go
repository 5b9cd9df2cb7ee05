package check

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"
)

// checkUDP is keepalived's UDP_CHECK: send the payload to the real; an
// ICMP port unreachable (ECONNREFUSED on the connected socket) is down.
// Without RequireReply, silence until the timeout is up (a UDP service
// need not answer); with it, a reply is needed, starting with Reply and of
// MinReply..MaxReply bytes.
func checkUDP(ctx context.Context, s *Spec) (string, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "udp", s.HostPort())
	if err != nil {
		return "", err
	}
	defer c.Close()
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(s.Timeout())
	}
	c.SetDeadline(deadline)
	if _, err := c.Write([]byte(s.Payload)); err != nil {
		return "", fmt.Errorf("udp send: %w", err)
	}
	buf := make([]byte, 65536)
	n, err := c.Read(buf)
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return "", fmt.Errorf("udp %s: port unreachable", s.HostPort())
	case errors.As(err, &ne) && ne.Timeout():
		if s.RequireReply {
			return "", fmt.Errorf("udp %s: no reply", s.HostPort())
		}
		return "udp: no ICMP error (no reply, none required)", nil
	case err != nil:
		return "", fmt.Errorf("udp %s: %w", s.HostPort(), err)
	}
	if s.RequireReply {
		max := s.MaxReply
		if max == 0 {
			max = 255 // keepalived's default max_reply_length
		}
		if n < s.MinReply || n > max {
			return "", fmt.Errorf("udp %s: reply of %d bytes, want %d..%d", s.HostPort(), n, s.MinReply, max)
		}
		if !bytes.HasPrefix(buf[:n], []byte(s.Reply)) {
			return "", fmt.Errorf("udp %s: reply % x does not start with % x", s.HostPort(), buf[:min(n, 16)], s.Reply)
		}
	}
	return fmt.Sprintf("udp: reply of %d bytes", n), nil
}
