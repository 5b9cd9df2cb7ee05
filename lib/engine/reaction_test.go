package engine

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// stampKernel is a Mem that records its calls in order ("read" for a
// table read, else the write), and when each write was made.
type stampKernel struct {
	*ipvs.Mem
	mu    sync.Mutex
	calls []string
	ops   []time.Time // when each write was made
}

func (k *stampKernel) Services() ([]ipvs.Service, error) {
	k.mu.Lock()
	k.calls = append(k.calls, "read")
	k.mu.Unlock()
	return k.Mem.Services()
}

func (k *stampKernel) Apply(op ipvs.Op) error {
	t := time.Now()
	k.mu.Lock()
	k.calls, k.ops = append(k.calls, op.String()), append(k.ops, t)
	k.mu.Unlock()
	return k.Mem.Apply(op)
}

// A failed check's verdict reaches its netlink delete on its own path:
// no tick, batch window or timer stands between them (issue 9: a killed
// real deleted within detection + 5 ms). The real checks run (connect,
// on the poller, to a closed port on the loopback: a reset), for an
// ldirectord.cf and a keepalived.conf of the same table; checks and
// resync are an hour apart, so the delete can only come from the
// verdict: one write, no table read after the start's, made right after
// the probe's result.
func TestVerdictDeletesAtOnce(t *testing.T) {
	up, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer up.Close()
	go func() {
		for {
			c, err := up.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	gone, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	goneAP := netip.MustParseAddrPort(gone.Addr().String())
	gone.Close() // its connects get a reset
	upAP := netip.MustParseAddrPort(up.Addr().String())
	files := map[string]string{
		"ldirectord.cf": fmt.Sprintf("checkinterval=3600\nchecktimeout=1\nfailurecount=1\nquiescent=no\nvirtual=192.0.2.10:80\n\tchecktype=connect\n\treal=%s masq 1\n\treal=%s masq 1\n", upAP, goneAP),
		"keepalived.conf": fmt.Sprintf("virtual_server 192.0.2.10 80 {\n delay_loop 3600\n lb_algo wrr\n lb_kind NAT\n protocol TCP\n"+
			" real_server %s %d {\n  weight 1\n  TCP_CHECK {\n   connect_timeout 1\n   retry 0\n   delay_before_retry 3600\n  }\n }\n"+
			" real_server %s %d {\n  weight 1\n  TCP_CHECK {\n   connect_timeout 1\n   retry 0\n   delay_before_retry 3600\n  }\n }\n}\n",
			upAP.Addr(), upAP.Port(), goneAP.Addr(), goneAP.Port()),
	}
	for name, text := range files {
		t.Run(name, func(t *testing.T) {
			cfg, err := config.Parse(name, []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			s := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("192.0.2.10"), Port: 80, Scheduler: "wrr"}
			for _, ap := range []netip.AddrPort{upAP, goneAP} {
				s.Dests = append(s.Dests, ipvs.Dest{Addr: ap.Addr(), Port: ap.Port(), Fwd: ipvs.FwdMasq, Weight: 1})
			}
			k := &stampKernel{Mem: ipvs.NewMem([]ipvs.Service{s})}
			var mu sync.Mutex
			var failed time.Time
			e := New(cfg, Options{Kernel: k, Resync: time.Hour, Command: func(string) {},
				Observe: func(sp *check.Spec, r check.Result) {
					if !r.OK && sp.Port == goneAP.Port() {
						mu.Lock()
						failed = time.Now()
						mu.Unlock()
					}
				}})
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- e.Run(ctx) }()
			deadline := time.Now().Add(10 * time.Second)
			for {
				k.mu.Lock()
				n := len(k.ops)
				k.mu.Unlock()
				if n > 0 || time.Now().After(deadline) {
					break
				}
				time.Sleep(time.Millisecond)
			}
			time.Sleep(50 * time.Millisecond) // nothing else follows
			cancel()
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			k.mu.Lock()
			defer k.mu.Unlock()
			mu.Lock()
			defer mu.Unlock()
			// the start's read, the delete, then what the stop does
			want := fmt.Sprintf("-d -t 192.0.2.10:80 -r %s", goneAP)
			if len(k.calls) < 2 || k.calls[0] != "read" || k.calls[1] != want {
				t.Fatalf("kernel calls %q, want the start's read and %q first", k.calls, want)
			}
			if failed.IsZero() {
				t.Fatal("the failed probe was not observed")
			}
			lag := k.ops[0].Sub(failed)
			t.Logf("failed probe -> delete: %s", lag)
			// scheduling on a loaded machine aside, no wait: a tick or a
			// retry timer would be a second away
			if lag < 0 || lag > 500*time.Millisecond {
				t.Fatalf("failed probe -> delete took %s", lag)
			}
		})
	}
}

// A resync that finds the kernel as written decides nothing (no table,
// no plan: the decision does not change between check events); one that
// finds drift still repairs it (TestDriftRepaired).
func TestResyncUnchangedDecidesNothing(t *testing.T) {
	var mu sync.Mutex
	var quiet, planned int
	debug := func(format string, a ...any) {
		line := fmt.Sprintf(format, a...)
		mu.Lock()
		defer mu.Unlock()
		switch {
		case line == "resync: the kernel holds what was last written: nothing to decide":
			quiet++
		case line == "plan, full pass (resync: the kernel read again): 1 virtuals decided, 0 operations":
			planned++
		}
	}
	r := start(t, web, nil, []string{"10.0.0.1:80", "10.0.0.2:80"}, Options{Resync: 5 * time.Millisecond, Debug: debug})
	r.waitTable("-A -t 192.0.2.10:80 -s wrr\n-a -t 192.0.2.10:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.10:80 -r 10.0.0.2:80 -m -w 3")
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		q, p := quiet, planned
		mu.Unlock()
		if p > 0 {
			t.Fatalf("%d resyncs of an unchanged table decided and planned it", p)
		}
		if q >= 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d quiet resyncs in 10 s", q)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
