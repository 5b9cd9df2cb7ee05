package check

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// The director's stop waits for Run to end (lib/engine stops the checks
// before lvsd exits, and the agent's stop waits for that exit): Run must
// end when its context does, not when the checks in flight time out.
// Every service, on the poller and on workers, and an external command,
// each in flight against a server that accepts (or reads) and never
// answers, with a 60 s timeout. A DNS check held Run until its timeout
// (miekg/dns heeds only ctx's deadline once connected).
func TestRunEndsWithChecksInFlight(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var accepted atomic.Int64
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			accepted.Add(1)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	const timeout = 60 * time.Second
	var subs []Sub
	add := func(s Spec) {
		s.CheckTimeout, s.NegotiateTimeout = timeout, timeout
		subs = append(subs, Sub{ID: config.RealID{Virtual: itoa(len(subs))}, Spec: s, Interval: time.Hour, FailureCount: 1})
	}
	hp := ln.Addr().String()
	tcp := 0
	for _, svc := range Services {
		if svc == "none" || svc == "oracle" || svc == "radius" { // radius: UDP
			continue
		}
		s := specFor(t, svc, hp)
		s.Login, s.Passwd, s.Database, s.Request, s.Receive = "u", "p", "d", "x", "y"
		if svc == "http_proxy" {
			s.Request = "http://origin.example/"
		}
		add(s)
		tcp++
	}
	udp, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { udp.Close() })
	r := specFor(t, "radius", udp.LocalAddr().String())
	r.Login, r.Passwd, r.Secret = "u", "p", "s"
	add(r)
	d := specFor(t, "dns", udp.LocalAddr().String())
	d.Protocol, d.Request, d.Receive = "udp", "x.example", "."
	add(d)
	c := specFor(t, "", hp)
	c.Type = "connect"
	add(c)
	tcp++
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	script := filepath.Join(dir, "slow")
	os.WriteFile(script, []byte("#!/bin/sh\n: > "+started+"\nexec sleep 60\n"), 0o755)
	x := specFor(t, "", hp)
	x.Type, x.Command = "external", script
	add(x)

	e := New(Options{})
	e.Set(subs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { e.Run(ctx); close(done) }()
	go func() {
		for range e.Events() {
		}
	}()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := os.Stat(started)
		if accepted.Load() >= int64(tcp) && err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s: %d of %d connections accepted, the command started: %v", accepted.Load(), tcp, err == nil)
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // the requests sent: each check waits for its answer
	t0 := time.Now()
	cancel()
	select {
	case <-done:
		t.Logf("%d checks in flight: Run ended %v after its context", len(subs), time.Since(t0).Round(time.Microsecond))
	case <-time.After(timeout / 2):
		buf := make([]byte, 1<<20)
		t.Logf("%s", buf[:runtime.Stack(buf, true)])
		t.Fatalf("Run still running %v after its context ended, with %d checks in flight (timeout %v)", timeout/2, len(subs), timeout)
	}
}
