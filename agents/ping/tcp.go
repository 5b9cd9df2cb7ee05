package ping

import (
	"context"
	"net"
	"time"
)

// tcpProbe reports whether a TCP connection to hostport ("host:port",
// "[v6]:port") can be established within timeout (bounded by ctx). A
// refused connection (RST) or an unanswered SYN both mean down; err says
// which.
func tcpProbe(ctx context.Context, hostport string, timeout time.Duration) (ok bool, rtt time.Duration, err error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	t0 := time.Now()
	c, err := d.DialContext(ctx, "tcp", hostport)
	if err != nil {
		return false, 0, err
	}
	rtt = time.Since(t0)
	c.Close()
	return true, rtt, nil
}
