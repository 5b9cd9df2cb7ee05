package check

import (
	"bufio"
	"context"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// rawServer answers every connection with answer(request line) on
// loopback: "" hangs (accepts, never answers), "RESET" resets after the
// request.
func rawServer(t *testing.T, answer func(reqLine string) string) netip.AddrPort {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	t.Cleanup(func() {
		ln.Close()
		for _, c := range held {
			c.Close()
		}
	})
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				br := bufio.NewReader(c)
				line, _ := br.ReadString('\n')
				for {
					l, err := br.ReadString('\n')
					if err != nil || l == "\r\n" {
						break
					}
				}
				a := answer(strings.TrimSpace(line))
				switch a {
				case "":
					return // held open until the cleanup (never answered)
				case "RESET":
					c.(*net.TCPConn).SetLinger(0)
				default:
					c.Write([]byte(a))
				}
				c.Close()
			}()
			held = append(held, c)
		}
	}()
	return netip.MustParseAddrPort(ln.Addr().String())
}

// The poller (the engine's hot path, and Run's) gives the reasons the
// checks always gave, for every outcome of connect and http checks.
func TestPollerReasons(t *testing.T) {
	big := strings.Repeat("x", 300<<10) + "alive"
	srv := rawServer(t, func(req string) string {
		switch {
		case strings.HasPrefix(req, "GET /ok "):
			return "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello alive"
		case strings.HasPrefix(req, "GET /404 "):
			return "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n"
		case strings.HasPrefix(req, "GET /chunked "):
			return "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nhello \r\n5\r\nalive\r\n0\r\n\r\n"
		case strings.HasPrefix(req, "GET /eof "):
			return "HTTP/1.0 200 OK\r\n\r\nto the end: alive"
		case strings.HasPrefix(req, "GET /big "):
			return "HTTP/1.1 200 OK\r\nContent-Length: " + itoa(len(big)) + "\r\n\r\n" + big
		case strings.HasPrefix(req, "GET /short "):
			return "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nalive"
		case strings.HasPrefix(req, "GET /redirect "):
			return "HTTP/1.1 302 Found\r\nLocation: /ok\r\nContent-Length: 0\r\n\r\n"
		case strings.HasPrefix(req, "GET /garbage "):
			return "SSH-2.0-OpenSSH_9.2\r\n"
		case strings.HasPrefix(req, "GET /reset "):
			return "RESET"
		case strings.HasPrefix(req, "HEAD /ok "):
			return "HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n"
		}
		return "" // /hang
	})
	// a port nobody listens on
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	refused := netip.MustParseAddrPort(ln.Addr().String())
	ln.Close()
	a := srv.String()

	httpSpec := func(ap netip.AddrPort, req, recv string) Spec {
		return Spec{Type: "negotiate", Service: "http", Protocol: "tcp", Addr: ap.Addr(), Port: ap.Port(),
			Request: req, Receive: recv, NegotiateTimeout: 300 * time.Millisecond}
	}
	head := httpSpec(srv, "ok", "")
	head.HTTPMethod = "HEAD"
	codes := httpSpec(srv, "redirect", "")
	codes.StatusCodes = config.NewStatusSet([]config.StatusRange{{Lo: 302, Hi: 302}})
	for _, c := range []struct {
		name   string
		spec   Spec
		ok     bool
		reason string
	}{
		{"ok", httpSpec(srv, "ok", "alive"), true, "HTTP 200 OK"},
		{"receive", httpSpec(srv, "ok", "dead"), false, "HTTP 200 OK: receive /dead/ not in body (11 bytes)"},
		{"404", httpSpec(srv, "404", ""), false, "HTTP 404 Not Found from http://" + a + "/404"},
		{"chunked", httpSpec(srv, "chunked", "hello alive"), true, "HTTP 200 OK"},
		{"to EOF", httpSpec(srv, "eof", "end: alive"), true, "HTTP 200 OK"},
		{"large body", httpSpec(srv, "big", "alive$"), true, "HTTP 200 OK"},
		{"short body", httpSpec(srv, "short", ""), false, "http: reading body: unexpected EOF"},
		{"redirect followed", httpSpec(srv, "redirect", "alive"), true, "HTTP 200 OK"},
		{"redirect as status_code", codes, true, "HTTP 302 Found"},
		{"HEAD", head, true, "HTTP 200 OK"},
		{"garbage", httpSpec(srv, "garbage", ""), false, `http: malformed HTTP response "SSH-2.0-OpenSSH_9.2"`},
		{"reset", httpSpec(srv, "reset", ""), false, "http: read tcp " + a + ": connection reset by peer"},
		{"hang", httpSpec(srv, "hang", ""), false, "timeout: http: read tcp " + a + ": i/o timeout"},
		{"refused", httpSpec(refused, "ok", ""), false, "http: dial tcp " + refused.String() + ": connect: connection refused"},
		{"connect", Spec{Type: "connect", Protocol: "tcp", Addr: srv.Addr(), Port: srv.Port(), CheckTimeout: time.Second}, true, "connected to " + a},
		{"connect refused", Spec{Type: "connect", Protocol: "tcp", Addr: refused.Addr(), Port: refused.Port(), CheckTimeout: time.Second},
			false, "connect: dial tcp " + refused.String() + ": connect: connection refused"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if planHot(&c.spec) == nil {
				t.Fatal("not a hot check")
			}
			r := Run(context.Background(), &c.spec)
			if r.OK != c.ok || r.Reason != c.reason {
				t.Errorf("Run: %v %q, want %v %q", r.OK, r.Reason, c.ok, c.reason)
			}
			// the engine's own poller, one run
			e := New(Options{})
			e.Set([]Sub{{ID: config.RealID{Virtual: c.name}, Spec: c.spec, Interval: time.Hour, FailureCount: 1, Warmup: -1}})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go e.Run(ctx)
			select {
			case ev := <-e.Events():
				if (ev.To == Up) != c.ok || ev.Reason != c.reason {
					t.Errorf("engine: %v %q, want ok=%v %q", ev.To, ev.Reason, c.ok, c.reason)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("engine: no event")
			}
		})
	}
}

func TestHTTPRequestBytes(t *testing.T) {
	s := Spec{Type: "negotiate", Service: "http", Addr: netip.MustParseAddr("192.0.2.7"), Port: 8080, Request: "/a?b=c", VirtualHost: "www.example.com"}
	p := planHot(&s)
	want := "GET /a?b=c HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: ocf-lvs-check\r\nAccept: */*\r\nConnection: close\r\n\r\n"
	if string(p.req) != want || p.addr != "192.0.2.7:8080" || p.url != "http://192.0.2.7:8080/a?b=c" {
		t.Fatalf("plan %q %s %s", p.req, p.addr, p.url)
	}
	s.VirtualHost = ""
	if p := planHot(&s); !strings.Contains(string(p.req), "\r\nHost: 192.0.2.7\r\n") {
		t.Fatalf("Host without virtualhost: %q", p.req)
	}
	for _, s := range []Spec{
		{Type: "negotiate", Service: "https", Addr: s.Addr, Port: 443},
		{Type: "negotiate", Service: "http", Addr: s.Addr, Port: 80, Request: "http://www.example.com/"},
		{Type: "connect", Protocol: "udp", Addr: s.Addr, Port: 53},
		{Type: "negotiate", Service: "http", Addr: netip.MustParseAddr("fe80::1%lo"), Port: 80},
	} {
		if planHot(&s) != nil {
			t.Errorf("%+v: a hot check", s)
		}
	}
}

// Observe sees every result, and the hot checks stay on the poller.
func TestEngineObserve(t *testing.T) {
	srv := rawServer(t, func(string) string { return "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nalive" })
	var mu sync.Mutex
	seen := 0
	e := New(Options{Observe: func(s *Spec, r Result) {
		mu.Lock()
		defer mu.Unlock()
		if s.Service == "http" && r.OK {
			seen++
		}
	}})
	if !e.hot {
		t.Fatal("Observe took the checks off the poller")
	}
	sp := Spec{Type: "negotiate", Service: "http", Addr: srv.Addr(), Port: srv.Port(), Receive: "alive", NegotiateTimeout: time.Second}
	e.Set([]Sub{{ID: config.RealID{Virtual: "o"}, Spec: sp, Interval: 10 * time.Millisecond, FailureCount: 1, Warmup: -1}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.Run(ctx)
	go func() {
		for range e.Events() {
		}
	}()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := seen
		mu.Unlock()
		if n >= 5 && e.Runs() >= 5 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("observed %d of %d runs", n, e.Runs())
		}
	}
}

// Answers that wait behind others' (a CPU too slow for the schedule: the
// poller gets to them after their deadline) are read, not timed out: a
// probe times out only when its socket has nothing to say. Before, every
// probe past the first batch of events failed with a timeout, and on a
// saturated machine reals whose checks had passed flapped.
func TestPollerAnswersBeforeTimeouts(t *testing.T) {
	// http checks, answered as soon as accepted: a connect check to
	// the loopback is done inside connect, without epoll
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	defer func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Write([]byte("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	ap := netip.MustParseAddrPort(ln.Addr().String())
	spec := &Spec{Type: "negotiate", Service: "http", Addr: ap.Addr(), Port: ap.Port(), Request: "/", CheckTimeout: time.Second}
	plan := planHot(spec)
	if plan == nil || !plan.http {
		t.Fatalf("not a hot http check: %+v", spec)
	}
	var results []Result
	p, err := newPoller(func(h *hotProbe, r Result, slow bool) {
		results = append(results, r) // the polling goroutine: this one
	})
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	const n = 600 // more than one batch of events (256)
	for i := 0; i < n; i++ {
		p.start(&hotProbe{plan: plan, spec: spec, deadline: time.Now().Add(20 * time.Millisecond)}, time.Now())
	}
	// every answer arrives, every deadline passes
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		k := len(conns)
		mu.Unlock()
		if k == n || time.Now().After(end) {
			break
		}
	}
	time.Sleep(50 * time.Millisecond)
	for i := 0; i < 100 && p.inflight() > 0; i++ {
		p.poll(0)
	}
	failed := 0
	for _, r := range results {
		if !r.OK {
			failed++
		}
	}
	if len(results) != n || failed > 0 {
		t.Fatalf("%d results for %d probes, %d failed (first: %+v)", len(results), n, failed, results[0])
	}
}

// A real that has answered by the time connect returns (on this host:
// the handshake or the reset runs inside connect) is reported by start
// itself, without a round of epoll: the verdict of a refused real is not
// held behind the connects started after it.
func TestPollerLocalAnswerAtOnce(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed.Close()
	var results []Result
	p, err := newPoller(func(h *hotProbe, r Result, slow bool) { results = append(results, r) })
	if err != nil {
		t.Fatal(err)
	}
	defer p.close()
	for _, a := range []net.Addr{ln.Addr(), closed.Addr()} {
		ap := netip.MustParseAddrPort(a.String())
		spec := &Spec{Type: "connect", Addr: ap.Addr(), Port: ap.Port(), CheckTimeout: time.Second}
		p.start(&hotProbe{plan: planHot(spec), spec: spec, deadline: time.Now().Add(time.Second)}, time.Now())
	}
	if len(results) != 2 || !results[0].OK || results[1].OK || !strings.HasSuffix(results[1].Reason, "connection refused") || p.inflight() != 0 {
		t.Fatalf("after start, before any poll: %+v (%d in flight)", results, p.inflight())
	}
}
