package check

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// TestDetectionBound asserts the README's claim: a killed real server is
// reported down within checkinterval + checktimeout (1 s + 1 s here, the
// figures the README quotes), through the engine with real probes. Two
// ways to die: the server stops answering while its socket still accepts
// (the probe must overrun to its timeout and fail, not hang), and the
// server is gone (connection refused). The bound is asserted with one
// interval of slack for a loaded machine; the ordering is exact: nothing
// is reported before the kill, and a hung probe not before its timeout.
func TestDetectionBound(t *testing.T) {
	const interval, timeout = time.Second, time.Second
	for _, how := range []string{"hang", "gone"} {
		t.Run(how, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			var hung atomic.Bool
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					go func() {
						defer c.Close()
						if hung.Load() {
							time.Sleep(10 * timeout) // accepted, never answered
							return
						}
						bufio.NewReader(c).ReadString('\n')
						fmt.Fprint(c, "HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
					}()
				}
			}()
			hp := netip.MustParseAddrPort(ln.Addr().String())
			s := Spec{Type: "negotiate", Service: "http", Protocol: "tcp", Addr: hp.Addr(), Port: hp.Port(),
				Request: "/", Receive: "ok", NegotiateTimeout: timeout, CheckTimeout: timeout}
			e := New(Options{})
			e.Set([]Sub{{ID: config.RealID{Virtual: "tcp:192.0.2.1:80", Real: hp}, Spec: s, Interval: interval, FailureCount: 1}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go e.Run(ctx)
			next := func(want State) Event {
				t.Helper()
				for {
					select {
					case ev := <-e.Events():
						if ev.To == want {
							return ev
						}
						if ev.To != Unknown {
							t.Fatalf("unexpected %v -> %v: %s", ev.From, ev.To, ev.Reason)
						}
					case <-time.After(30 * time.Second):
						t.Fatalf("no %v in 30 s", want)
					}
				}
			}
			next(Up)
			killed := time.Now()
			if how == "hang" {
				hung.Store(true)
			} else {
				ln.Close()
			}
			ev := next(Down)
			took := ev.Time.Sub(killed)
			t.Logf("%s: down %v after the kill (%s; probe %v)", how, took.Round(time.Millisecond), ev.Reason, ev.Latency.Round(time.Millisecond))
			if took > interval+timeout+interval {
				t.Errorf("down %v after the kill: the bound is checkinterval + checktimeout (%v), plus %v slack", took, interval+timeout, interval)
			}
			if how == "hang" {
				if ev.Latency < timeout || !strings.Contains(strings.ToLower(ev.Reason), "timeout") && !strings.Contains(ev.Reason, "deadline") {
					t.Errorf("the hung probe: latency %v, reason %q; want a timeout at %v", ev.Latency, ev.Reason, timeout)
				}
				if ev.Latency > timeout+interval {
					t.Errorf("the hung probe overran its timeout: %v (timeout %v)", ev.Latency, timeout)
				}
			}
		})
	}
}
