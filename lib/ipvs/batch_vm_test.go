//go:build vm

package ipvs

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// oneByOne hides ApplyBatch: Reconcile then writes op by op (moby/ipvs).
type oneByOne struct{ *Netlink }

func (o oneByOne) Services() ([]Service, error) { return o.Netlink.Services() }
func (o oneByOne) Apply(op Op) error            { return o.Netlink.Apply(op) }

// batchDesired is every option, 150 services of 10 reals, and what the
// kernel refuses: a service with no such scheduler (its reals must not be
// sent) and a masq real on a multicast address in a service it accepts.
func batchDesired() []Service {
	out := everyOption()
	for s := 0; s < 150; s++ {
		svc := Service{Family: 4, Protocol: "tcp", Addr: netip.AddrFrom4([4]byte{10, 200, 0, byte(s + 1)}), Port: 80, Scheduler: "wrr"}
		for r := 0; r < 10; r++ {
			svc.Dests = append(svc.Dests, Dest{Addr: rip(100 + r), Port: 80, Fwd: FwdGate, Weight: 1 + r%3})
		}
		out = append(out, svc)
	}
	out = append(out,
		Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 81, Scheduler: "nosuch", Dests: []Dest{gate(7, 1), gate(8, 1)}},
		Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 82, Scheduler: "rr",
			Dests: []Dest{{Addr: netip.MustParseAddr("224.0.0.9"), Port: 80, Fwd: FwdMasq, Weight: 1}, gate(9, 1)}})
	return out
}

// batchChanged edits, removes and adds on top of batchDesired's table.
func batchChanged() []Service {
	var out []Service
	for i, s := range batchDesired() {
		switch {
		case s.Scheduler == "nosuch" || s.Port == 82:
			continue // removed (owned)
		case i%7 == 0:
			s.Scheduler = "rr" // edited in place
		case i%5 == 0 && len(s.Dests) > 2:
			s.Dests = s.Dests[1:] // a real removed
			s.Dests[0].Weight += 10
		case i%3 == 0 && s.Family == 4:
			s.Dests = append(s.Dests, Dest{Addr: rip(300), Port: s.Port, Fwd: FwdGate, Weight: 2})
		}
		out = append(out, s)
	}
	return out
}

type pass struct {
	applied int
	failed  string
	err     string
	table   []string
	thresh  map[string]string
}

func reconcilePass(t *testing.T, k Kernel, desired []Service, owned []Key) pass {
	t.Helper()
	res, err := Reconcile(k, desired, owned, false)
	if res == nil {
		t.Fatal(err)
	}
	p := pass{applied: res.Applied, failed: lines(res.Failed), table: saveLines(t), thresh: thresholdsOf(t)}
	if err != nil {
		p.err = err.Error()
	}
	return p
}

func samePass(t *testing.T, what string, one, batch pass) {
	t.Helper()
	if one.applied != batch.applied || one.failed != batch.failed || one.err != batch.err {
		t.Errorf("%s: one by one: applied %d, failed\n%s\nerr %s\nbatched: applied %d, failed\n%s\nerr %s",
			what, one.applied, one.failed, one.err, batch.applied, batch.failed, batch.err)
	}
	if a, b := strings.Join(one.table, "\n"), strings.Join(batch.table, "\n"); a != b {
		t.Errorf("%s: tables differ:\none by one\n%s\nbatched\n%s", what, a, b)
	}
	if fmt.Sprint(one.thresh) != fmt.Sprint(batch.thresh) {
		t.Errorf("%s: thresholds differ:\n%v\n%v", what, one.thresh, batch.thresh)
	}
}

// A batched Reconcile leaves the table, the counts, the refused ops and
// the errors of the op-by-op one, for a new table and for changes to it;
// with small buffers too (many sendmsg boundaries, a service's reals
// split over buffers).
func TestBatchSameAsOneByOne(t *testing.T) {
	k := freshKernel(t)
	desired, changed := batchDesired(), batchChanged()
	var owned []Key
	for _, s := range desired {
		owned = append(owned, s.Key())
	}
	one := reconcilePass(t, oneByOne{k}, desired, nil)
	oneChanged := reconcilePass(t, oneByOne{k}, changed, owned)
	if one.err == "" || !strings.Contains(one.failed, "-a -t 192.0.2.10:81 -r 10.0.0.7:81") || !strings.Contains(one.failed, "224.0.0.9") {
		t.Fatalf("the refusals did not happen: failed\n%s\nerr %s", one.failed, one.err)
	}
	if len(one.table) < 1600 {
		t.Fatalf("only %d table lines", len(one.table))
	}
	t.Logf("one by one: %d applied, %d lines; refused:\n%s", one.applied, len(one.table), one.err)
	for _, size := range []int{batchBytes, 2048} {
		t.Run(strconv.Itoa(size), func(t *testing.T) {
			defer func(b int) { batchBytes = b }(batchBytes)
			batchBytes = size
			sh(t, "ipvsadm -C")
			_, w0 := k.Counts()
			t0 := k.WriteTimes()
			samePass(t, "new table", one, reconcilePass(t, k, desired, nil))
			samePass(t, "changes", oneChanged, reconcilePass(t, k, changed, owned))
			_, w1 := k.Counts()
			wt := k.WriteTimes().Sub(t0)
			t.Logf("batch of %d bytes: %d writes; %s", size, w1-w0, wt)
			// the apply phase's own clock: its thread's CPU within its wall
			// time (tick-sampled: a little slack)
			if wt.Ops == 0 || wt.Ops > w1-w0+len(desired)*20 || wt.Wall <= 0 || wt.User+wt.Sys > wt.Wall+20*time.Millisecond {
				t.Errorf("WriteTimes: %+v for %d writes", wt, w1-w0)
			}
		})
	}
}

// A batch the kernel refuses whole reports every op's own error, with no
// ack lost, also when the receive buffer holds few acks (many buffers).
func TestBatchAllRefused(t *testing.T) {
	k := freshKernel(t)
	var ops []Op
	for i := 0; i < 3000; i++ {
		ops = append(ops, Op{Kind: DelDest, Service: web(), Dest: gate(i, 1)})
	}
	for _, rcv := range []int{batchRcvBuf, 64 << 10} {
		t.Run(strconv.Itoa(rcv), func(t *testing.T) {
			defer func(b int) { batchRcvBuf = b }(batchRcvBuf)
			batchRcvBuf = rcv
			for i, err := range k.ApplyBatch(ops) {
				if !errors.Is(err, syscall.ESRCH) || !strings.HasPrefix(err.Error(), "ipvsadm "+ops[i].String()+": ") {
					t.Fatalf("op %d: %v", i, err)
				}
			}
		})
	}
}

// An error ack costs the receive buffer at most batchAckCost (the bound
// on a buffer's messages rests on it): measured on the kernel's own
// accounting (/proc/net/netlink Rmem) with acks left unread.
func TestBatchAckCost(t *testing.T) {
	freshKernel(t)
	fam, err := ipvsFamilyID()
	if err != nil {
		t.Fatal(err)
	}
	c, err := openBatchConn()
	if err != nil {
		t.Fatal(err)
	}
	defer c.sock.Close()
	const n = 200
	var buf []byte
	for i := 0; i < n; i++ {
		buf = appendOp(buf, fam, uint32(i+1), &Op{Kind: DelService, Service: web()})
	}
	if err := syscall.Sendto(c.sock.GetFd(), buf, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		t.Fatal(err)
	}
	pid, err := c.sock.GetPid()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile("/proc/net/netlink")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		f := strings.Fields(l)
		if len(f) > 4 && f[1] == "16" && f[2] == strconv.Itoa(int(pid)) {
			rmem, _ := strconv.Atoi(f[4])
			t.Logf("%d acks queued: Rmem %d, %d bytes each; batchAckCost %d, maxMsgs %d", n, rmem, rmem/n, batchAckCost, c.maxMsgs)
			if rmem == 0 || rmem/n > batchAckCost {
				t.Fatalf("an ack costs %d bytes", rmem/n)
			}
			return
		}
	}
	t.Fatalf("socket of port %d not in /proc/net/netlink:\n%s", pid, b)
}
