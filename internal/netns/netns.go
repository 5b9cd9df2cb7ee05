// Package netns builds throwaway test networks: two named network
// namespaces ("hosts") joined by a veth pair, each end called eth0, with
// an IPv4 /24 and an IPv6 /64 unique to the test process. Tests run
// commands in either namespace, or Go functions on a thread moved into it.
// Everything is removed in t.Cleanup.
package netns

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mdlayher/packet"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	vnetns "github.com/vishvananda/netns"
)

var seq atomic.Int32

// Pair is two namespaces A and B joined by veth eth0 <-> eth0.
type Pair struct {
	A, B       string // namespace names (ip netns)
	MACA, MACB net.HardwareAddr
	id         int
}

// Options tune a Pair.
type Options struct {
	NoAddresses bool // leave eth0 without addresses (still up)
}

// New creates a pair; it needs root and iproute2 (the test's own setup
// may use ip; the code under test must not).
func New(t testing.TB, opt ...Options) *Pair {
	t.Helper()
	testenv.Root(t)
	testenv.Command(t, "ip")
	p, err := Create(opt...)
	if p != nil {
		t.Cleanup(p.Delete)
	}
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Create makes a pair outside a test (the benches); Delete removes it.
// On an error what was made is returned too, for Delete.
func Create(opt ...Options) (*Pair, error) {
	var o Options
	if len(opt) > 0 {
		o = opt[0]
	}
	n := int(seq.Add(1))
	id := (os.Getpid()*16 + n) % 60000
	p := &Pair{
		A:    fmt.Sprintf("lvst%d-%da", os.Getpid(), n),
		B:    fmt.Sprintf("lvst%d-%db", os.Getpid(), n),
		MACA: net.HardwareAddr{0x02, 0xa0, byte(id >> 8), byte(id), 0, 1},
		MACB: net.HardwareAddr{0x02, 0xb0, byte(id >> 8), byte(id), 0, 2},
		id:   id,
	}
	steps := [][]string{
		{"netns", "add", p.A}, {"netns", "add", p.B},
		{"link", "add", "eth0", "netns", p.A, "address", p.MACA.String(), "type", "veth",
			"peer", "name", "eth0", "netns", p.B, "address", p.MACB.String()},
	}
	for _, ns := range []string{p.A, p.B} {
		steps = append(steps, []string{"-n", ns, "link", "set", "lo", "up"}, []string{"-n", ns, "link", "set", "eth0", "up"})
	}
	if !o.NoAddresses {
		steps = append(steps,
			[]string{"-n", p.A, "addr", "add", p.V4(1) + "/24", "dev", "eth0"},
			[]string{"-n", p.B, "addr", "add", p.V4(2) + "/24", "dev", "eth0"},
			[]string{"-n", p.A, "addr", "add", p.V6(1) + "/64", "dev", "eth0", "nodad"},
			[]string{"-n", p.B, "addr", "add", p.V6(2) + "/64", "dev", "eth0", "nodad"})
	}
	for _, args := range steps {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			return p, fmt.Errorf("ip %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return p, nil
}

// Delete removes both namespaces (the veth goes with them).
func (p *Pair) Delete() {
	exec.Command("ip", "netns", "del", p.A).Run()
	exec.Command("ip", "netns", "del", p.B).Run()
}

// HasAddr reports whether dev in namespace ns carries address a
// (`ip -j addr`).
func HasAddr(ns, dev, a string) bool {
	out, err := exec.Command("ip", "-n", ns, "-j", "addr", "show", "dev", dev).Output()
	if err != nil {
		return false
	}
	var links []struct {
		Addrs []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	json.Unmarshal(out, &links)
	for _, ln := range links {
		for _, x := range ln.Addrs {
			if x.Local == a {
				return true
			}
		}
	}
	return false
}

// V4 returns host n of the pair's IPv4 /24 (A is .1, B is .2).
func (p *Pair) V4(n int) string {
	return fmt.Sprintf("10.%d.%d.%d", 200+p.id/250%50, p.id%250, n)
}

// V6 returns host n of the pair's IPv6 /64 (A is ::1, B is ::2).
func (p *Pair) V6(n int) string {
	return fmt.Sprintf("fd7d:%x:%x::%x", p.id/250%50, p.id%250, n)
}

// Cmd returns a command that runs in namespace ns (ip netns exec).
func (p *Pair) Cmd(ns string, name string, args ...string) *exec.Cmd {
	return exec.Command("ip", append([]string{"netns", "exec", ns, name}, args...)...)
}

// Run runs a command in ns and fails the test when it fails; it returns
// the combined output.
func (p *Pair) Run(t testing.TB, ns string, name string, args ...string) string {
	t.Helper()
	out, err := p.Cmd(ns, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("in %s: %s %s: %v\n%s", ns, name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// Do runs f on an OS thread moved into namespace ns, then moves the thread
// back (or, if that fails, lets it die with its goroutine).
func Do(ns string, f func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := vnetns.Get()
		if err != nil {
			errc <- err
			return
		}
		defer orig.Close()
		h, err := vnetns.GetFromName(ns)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer h.Close()
		if err := vnetns.Set(h); err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := f()
		if vnetns.Set(orig) == nil {
			runtime.UnlockOSThread()
		}
		errc <- ferr
	}()
	return <-errc
}

// WaitFor polls cond every 10 ms until it holds or timeout passes (never
// a fixed sleep: CI machines are slow).
func WaitFor(timeout time.Duration, cond func() bool) bool {
	end := time.Now().Add(timeout)
	for {
		if cond() {
			return true
		}
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Capture collects the frames of one ethertype arriving on an interface
// of a namespace, through a packet socket opened there (ready when
// NewCapture returns: nothing sent afterwards is missed).
type Capture struct {
	conn   *packet.Conn
	mu     sync.Mutex
	frames [][]byte
	times  []time.Time // when each frame was read
	done   chan struct{}
}

// NewCapture starts capturing ethertype frames on ifname in ns.
func NewCapture(t testing.TB, ns, ifname string, ethertype int) *Capture {
	t.Helper()
	c := &Capture{done: make(chan struct{})}
	err := Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		c.conn, err = packet.Listen(ifi, packet.Raw, ethertype, nil)
		return err
	})
	if err != nil {
		t.Fatalf("capture on %s in %s: %v", ifname, ns, err)
	}
	go func() {
		defer close(c.done)
		buf := make([]byte, 65536)
		for {
			n, _, err := c.conn.ReadFrom(buf)
			if err != nil {
				return
			}
			c.mu.Lock()
			c.frames = append(c.frames, append([]byte(nil), buf[:n]...))
			c.times = append(c.times, time.Now())
			c.mu.Unlock()
		}
	}()
	t.Cleanup(c.Stop)
	return c
}

// Frames returns a copy of what was captured so far.
func (c *Capture) Frames() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([][]byte(nil), c.frames...)
}

// Times returns when each frame of Frames was read.
func (c *Capture) Times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.times...)
}

// Stop ends the capture (idempotent).
func (c *Capture) Stop() {
	c.conn.Close()
	<-c.done
}
