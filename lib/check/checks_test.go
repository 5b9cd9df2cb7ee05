package check

import (
	"bufio"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

func specFor(t *testing.T, service, hostport string) Spec {
	t.Helper()
	ap := netip.MustParseAddrPort(hostport)
	return Spec{Type: "negotiate", Service: service, Protocol: "tcp", Addr: ap.Addr(), Port: ap.Port(),
		CheckTimeout: 2 * time.Second, NegotiateTimeout: 2 * time.Second}
}

func mustUp(t *testing.T, s Spec) Result {
	t.Helper()
	r := Run(context.Background(), &s)
	if !r.OK {
		t.Fatalf("%s %s: down: %s", s.Type, s.Service, r.Reason)
	}
	return r
}

func mustDown(t *testing.T, s Spec, contains string) Result {
	t.Helper()
	r := Run(context.Background(), &s)
	if r.OK {
		t.Fatalf("%s %s: up (%s), want down", s.Type, s.Service, r.Reason)
	}
	if !strings.Contains(r.Reason, contains) {
		t.Fatalf("%s %s: reason %q does not say %q", s.Type, s.Service, r.Reason, contains)
	}
	return r
}

func TestHTTPCheck(t *testing.T) {
	var lastHost string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		lastHost = r.Host
		switch r.URL.Path {
		case "/ok":
			fmt.Fprint(w, "service is ALIVE")
		case "/moved":
			http.Redirect(w, r, "/ok", http.StatusFound)
		case "/err":
			http.Error(w, "broken", 503)
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	hp := strings.TrimPrefix(srv.URL, "http://")
	s := specFor(t, "http", hp)
	s.Request, s.Receive = "ok", "ALIVE"
	mustUp(t, s)
	if lastHost != "127.0.0.1" {
		t.Fatalf("Host header %q, want the real's address", lastHost)
	}
	s.VirtualHost = "www.example.com"
	mustUp(t, s)
	if lastHost != "www.example.com" {
		t.Fatalf("Host header %q, want virtualhost", lastHost)
	}
	s.Request = "/moved"
	mustUp(t, s) // redirects are followed
	s.Request, s.Receive = "/ok", "DEAD"
	mustDown(t, s, "receive")
	s.Request, s.Receive = "/err", ""
	mustDown(t, s, "503")
	s.StatusCodes = config.NewStatusSet([]config.StatusRange{{Lo: 500, Hi: 503}})
	mustUp(t, s) // keepalived status_code range
	s.StatusCodes, s.Request = config.StatusSet{}, "/ok"
	sum := md5.Sum([]byte("service is ALIVE"))
	s.Digest = hex.EncodeToString(sum[:])
	mustUp(t, s)
	s.Digest = "00000000000000000000000000000000"
	mustDown(t, s, "digest")
	s.Digest, s.HTTPMethod = "", "HEAD"
	mustUp(t, s)
	s.Request = "http://" + hp + "/ok" // absolute URL in request
	s.HTTPMethod = "GET"
	mustUp(t, s)
}

func TestHTTPSCheckVerify(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "tls ok") }))
	defer srv.Close()
	s := specFor(t, "https", strings.TrimPrefix(srv.URL, "https://"))
	s.Receive = "tls ok"
	mustUp(t, s) // self-signed accepted: no verification by default
	s.VerifyTLS = true
	mustDown(t, s, "certificate")
}

// hang accepts connections (TCP) and reads datagrams (UDP) and never answers.
func hang(t *testing.T, network string) string {
	t.Helper()
	hp, stop := hangStop(t, network)
	t.Cleanup(stop)
	return hp
}

func hangStop(t *testing.T, network string) (string, func()) {
	t.Helper()
	if network == "udp" {
		pc, err := net.ListenPacket("udp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return pc.LocalAddr().String(), func() { pc.Close() }
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	return ln.Addr().String(), func() {
		ln.Close()
		<-done
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	}
}

// Every service against a server that accepts and never answers: down
// within its timeout, never hanging.
func TestHangingServerIsDownWithinTimeout(t *testing.T) {
	tcp, udp := hang(t, "tcp"), hang(t, "udp")
	for _, svc := range Services {
		if svc == "none" || svc == "oracle" {
			continue
		}
		hp := tcp
		if svc == "radius" {
			hp = udp
		}
		s := specFor(t, svc, hp)
		s.NegotiateTimeout = 300 * time.Millisecond
		s.Login, s.Passwd, s.Secret, s.Database = "u", "p", "s", "d"
		s.Request, s.Receive = "x", "y"
		if svc == "http_proxy" {
			s.Request = "http://origin.example/"
		}
		t0 := time.Now()
		r := Run(context.Background(), &s)
		d := time.Since(t0)
		if r.OK {
			t.Errorf("%s: up against a silent server", svc)
		}
		if d > time.Second { // 300ms timeout plus slack for a loaded CI machine
			t.Errorf("%s: took %v with a 300ms timeout", svc, d)
		}
		t.Logf("%-10s down in %v: %s", svc, d.Round(time.Millisecond), r.Reason)
	}
	s := specFor(t, "dns", udp) // dns over udp too
	s.Protocol, s.NegotiateTimeout, s.Request, s.Receive = "udp", 300*time.Millisecond, "x.example", "."
	if r := Run(context.Background(), &s); r.OK || r.Latency > time.Second {
		t.Errorf("dns/udp: %+v", r)
	}
}

func TestOracleUnsupported(t *testing.T) {
	s := specFor(t, "oracle", "127.0.0.1:1521")
	mustDown(t, s, "unsupported")
}

func TestConnectCheck(t *testing.T) {
	hp := hang(t, "tcp")
	s := specFor(t, "", hp)
	s.Type = "connect"
	mustUp(t, s)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	s = specFor(t, "", closed)
	s.Type = "connect"
	mustDown(t, s, "refused")
}

func TestOnOffNone(t *testing.T) {
	mustUp(t, Spec{Type: "on"})
	mustDown(t, Spec{Type: "off"}, "off")
	mustUp(t, Spec{Type: "negotiate", Service: "none"})
}

func TestExternalCheck(t *testing.T) {
	dir := t.TempDir()
	script := filepath.Join(dir, "chk")
	os.WriteFile(script, []byte("#!/bin/sh\necho \"$@\" > "+dir+"/args\n[ \"$3\" = 10.9.9.9 ] && exit 0\nexit 1\n"), 0o755)
	s := Spec{Type: "external", Command: script, VIP: "192.0.2.1", VPort: 80,
		Addr: mustAddr("10.9.9.9"), Port: 8080, RealPort: 8080, CheckTimeout: 2 * time.Second}
	mustUp(t, s)
	b, _ := os.ReadFile(dir + "/args")
	if string(b) != "192.0.2.1 80 10.9.9.9 8080\n" {
		t.Fatalf("args %q", b)
	}
	s.Addr = mustAddr("10.9.9.8")
	mustDown(t, s, "exit status 1")

	// a script whose child hangs holding stdout: the whole group dies at the timeout
	hangScript := filepath.Join(dir, "hang")
	os.WriteFile(hangScript, []byte("#!/bin/sh\nsleep 30 &\necho $! > "+dir+"/child\nsleep 30\n"), 0o755)
	s.Command, s.CheckTimeout = hangScript, 300*time.Millisecond
	t0 := time.Now()
	mustDown(t, s, "killed")
	if d := time.Since(t0); d > 2*time.Second {
		t.Fatalf("external took %v", d)
	}
	b, _ = os.ReadFile(dir + "/child")
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := os.ReadFile("/proc/" + pid + "/stat")
		if err != nil || strings.Contains(string(st), ") Z ") {
			break // gone (or a zombie waiting for init)
		}
		if time.Now().After(deadline) {
			t.Fatalf("child %s of the external check survived the timeout", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// responder serves one canned dialogue per connection (in-process stand-ins
// for nntp and simpletcp, which Debian has no quick server for).
func responder(t *testing.T, handle func(c net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); handle(c) }()
		}
	}()
	return ln.Addr().String()
}

func TestNNTPCheck(t *testing.T) {
	ok := responder(t, func(c net.Conn) { fmt.Fprint(c, "200 news.example.com ready\r\n") })
	mustUp(t, specFor(t, "nntp", ok))
	bad := responder(t, func(c net.Conn) { fmt.Fprint(c, "502 no permission\r\n") })
	mustDown(t, specFor(t, "nntp", bad), "502")
}

func TestSimpleTCPCheck(t *testing.T) {
	hp := responder(t, func(c net.Conn) {
		line, _ := bufio.NewReader(c).ReadString('\n')
		if line == "PING\n" {
			fmt.Fprint(c, "hello\nPONG ready\n")
		} else {
			fmt.Fprint(c, "ERR\n")
		}
	})
	s := specFor(t, "simpletcp", hp)
	s.Request, s.Receive = `/PING\n`, "^PONG"
	mustUp(t, s)
	s.Request = `/NOPE\n`
	mustDown(t, s, "no line")
}

// sipResponder answers OPTIONS with the given status line over udp and tcp.
func sipResponder(t *testing.T, status string) (tcp, udp string) {
	t.Helper()
	answer := func(req string) string {
		var via, callid string
		for _, l := range strings.Split(req, "\r\n") {
			if strings.HasPrefix(l, "Via:") {
				via = l
			}
			if strings.HasPrefix(l, "Call-ID:") {
				callid = l
			}
		}
		return status + "\r\n" + via + "\r\n" + callid + "\r\nCSeq: 63104 OPTIONS\r\nContent-Length: 0\r\n\r\n"
	}
	tcp = responder(t, func(c net.Conn) {
		buf := make([]byte, 4096)
		n, _ := c.Read(buf)
		fmt.Fprint(c, answer(string(buf[:n])))
	})
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, a, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo([]byte(answer(string(buf[:n]))), a)
		}
	}()
	return tcp, pc.LocalAddr().String()
}

func TestSIPCheck(t *testing.T) {
	tcp, udp := sipResponder(t, "SIP/2.0 200 OK")
	s := specFor(t, "sip", tcp)
	s.Login = "check@example.com"
	mustUp(t, s)
	s = specFor(t, "sip", udp)
	s.Protocol, s.Login = "udp", "check@example.com"
	mustUp(t, s)
	// an answer other than 200 is down, over either transport
	tcp, udp = sipResponder(t, "SIP/2.0 503 Service Unavailable")
	s = specFor(t, "sip", udp)
	s.Protocol = "udp"
	mustDown(t, s, "503")
	s = specFor(t, "sip", tcp)
	mustDown(t, s, "503")
}

func TestRadiusPacket(t *testing.T) {
	pkt, auth, id := radiusRequest("bob", "hello", "xyzzy5461")
	if pkt[0] != 1 || pkt[1] != id || int(pkt[2])<<8|int(pkt[3]) != len(pkt) {
		t.Fatalf("header %x", pkt[:4])
	}
	// a reply signed with the right secret verifies, a wrong one does not
	reply := []byte{2, id, 0, 20}
	reply = append(reply, make([]byte, 16)...)
	h := md5.New()
	h.Write(reply[:4])
	h.Write(auth[:])
	h.Write([]byte("xyzzy5461"))
	copy(reply[4:], h.Sum(nil))
	if c, ok := radiusCheckReply(reply, id, auth, "xyzzy5461"); !ok || c != 2 {
		t.Fatal("good reply rejected")
	}
	if _, ok := radiusCheckReply(reply, id, auth, "other"); ok {
		t.Fatal("reply with the wrong secret accepted")
	}
}

func TestStatusRanges(t *testing.T) {
	r := func(lo, hi int) config.StatusRange { return config.StatusRange{Lo: lo, Hi: hi} }
	for _, c := range []struct {
		code   int
		ranges []config.StatusRange
		want   bool
	}{{200, nil, true}, {302, nil, false}, {302, []config.StatusRange{r(200, 299), r(302, 302)}, true},
		{404, []config.StatusRange{r(200, 299), r(400, 403)}, false}, {401, []config.StatusRange{r(200, 200), r(401, 401)}, true},
		{100, []config.StatusRange{r(100, 599)}, true}, {599, []config.StatusRange{r(100, 599)}, true},
		{600, []config.StatusRange{r(100, 599)}, false}, {99, []config.StatusRange{r(100, 599)}, false}} {
		if got := statusOK(c.code, config.NewStatusSet(c.ranges)); got != c.want {
			t.Errorf("statusOK(%d, %v) = %v", c.code, c.ranges, got)
		}
	}
}

// 10,000 real checks through the engine, then stop: no goroutine and no
// file descriptor may be left behind.
func TestNoLeakAfter10000Checks(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "ok") }))
	defer srv.Close()
	tcpHang, stopHang := hangStop(t, "tcp")
	hp := netip.MustParseAddrPort(strings.TrimPrefix(srv.URL, "http://"))
	hg := netip.MustParseAddrPort(tcpHang)
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	g0, fd0 := runtime.NumGoroutine(), countFDs(t)

	var subs []Sub
	for i := 0; i < 100; i++ {
		s := Spec{Type: "negotiate", Service: "http", Protocol: "tcp", Addr: hp.Addr(), Port: hp.Port(),
			Request: "/x" + itoa(i), Receive: "ok", NegotiateTimeout: time.Second}
		if i%4 == 1 {
			s.Type, s.Service = "connect", ""
		}
		if i%10 == 9 { // some never answer: timeouts must not leak either
			s.Addr, s.Port, s.NegotiateTimeout = hg.Addr(), hg.Port(), 20*time.Millisecond
		}
		subs = append(subs, Sub{ID: config.RealID{Virtual: itoa(i)}, Spec: s, Interval: 5 * time.Millisecond, FailureCount: 1})
	}
	e := New(Options{MaxConcurrent: 64})
	e.Set(subs)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	go func() {
		for range e.Events() {
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for e.Runs() < 10000 {
		if time.Now().After(deadline) {
			t.Fatalf("only %d checks in 60s", e.Runs())
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	<-done
	t.Logf("%d checks", e.Runs())
	stopHang() // the silent server's own accepted connections
	srv.CloseClientConnections()
	// sockets in TIME_WAIT are not fds; closing goroutines of net/http may
	// take a moment to exit.
	var g1, fd1 int
	for i := 0; i < 100; i++ {
		runtime.GC()
		g1, fd1 = runtime.NumGoroutine(), countFDs(t)
		if g1 <= g0 && fd1 <= fd0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	buf := make([]byte, 1<<20)
	n := runtime.Stack(buf, true)
	t.Fatalf("leak: goroutines %d -> %d, fds %d -> %d\n%s", g0, g1, fd0, fd1, buf[:n])
}

func countFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil { // Linux always has it: a failure, not a skip
		t.Fatalf("counting fds: %v", err)
	}
	return len(ents)
}

func FuzzStatusRanges(f *testing.F) {
	f.Add(200, 200, 299)
	f.Add(302, 500, 100)
	f.Fuzz(func(t *testing.T, code, lo, hi int) {
		s := config.NewStatusSet([]config.StatusRange{{Lo: lo, Hi: hi}}) // must not panic
		if want := code >= max(lo, 100) && code <= min(hi, 599); s.Has(code) != want {
			t.Fatalf("%d in %d-%d: %v", code, lo, hi, s.Has(code))
		}
	})
}

// Replies come from the network: no input may panic the parser.
func FuzzRadiusReply(f *testing.F) {
	f.Add([]byte{2, 7, 0, 20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16})
	f.Add([]byte{2, 7, 0, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		radiusCheckReply(b, 7, [16]byte{}, "s")
	})
}

func TestPingCheck(t *testing.T) {
	testenv.Root(t) // raw ICMP sockets (unprivileged ping sockets depend on ping_group_range)
	s := Spec{Type: "ping", Addr: mustAddr("127.0.0.1"), CheckTimeout: time.Second, Count: 2}
	mustUp(t, s)
	s.Addr = mustAddr("::1")
	mustUp(t, s)
	// a udp virtual's connect check pings, as ldirectord does
	s = Spec{Type: "connect", Protocol: "udp", Addr: mustAddr("127.0.0.1"), Port: 53, CheckTimeout: time.Second}
	if r := mustUp(t, s); !strings.Contains(r.Reason, "echo reply") {
		t.Fatalf("udp connect did not ping: %s", r.Reason)
	}
}

// TestAlsoAllMustPass: a spec with Also (keepalived's several checkers on
// one real_server) is up only when every check passes; the failing one is
// named.
func TestAlsoAllMustPass(t *testing.T) {
	ctx := context.Background()
	up := Spec{Type: "on", Also: &[]Spec{{Type: "on"}, {Type: "on"}}}
	if r := Run(ctx, &up); !r.OK {
		t.Fatalf("all on: %+v", r)
	}
	down := Spec{Type: "on", Also: &[]Spec{{Type: "on"}, {Type: "off"}}}
	if r := Run(ctx, &down); r.OK || !strings.Contains(r.Reason, "check 3 of 3") {
		t.Fatalf("one off: %+v", r)
	}
	first := Spec{Type: "off", Also: &[]Spec{{Type: "on"}}}
	if r := Run(ctx, &first); r.OK {
		t.Fatalf("first off: %+v", r)
	}
}

// TestServicesOneTable: the services the configuration accepts are the
// ones Run understands, and the port table is lib/config's alone.
func TestServicesOneTable(t *testing.T) {
	have := map[string]bool{}
	for _, s := range Services {
		have[s] = true
	}
	for _, s := range config.Services {
		if !have[s] {
			t.Errorf("service %q is accepted by lib/config but not run by lib/check", s)
		}
		delete(have, s)
	}
	for s := range have {
		t.Errorf("service %q is run by lib/check but refused by lib/config", s)
	}
	if config.ServicePort("https") != 443 || config.ServiceForPort(53) != "dns" || config.ServiceForPort(1) != "none" {
		t.Error("port table")
	}
}
