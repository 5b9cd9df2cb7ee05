package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	_ "unsafe" // go:linkname, below

	moby "github.com/moby/ipvs"
	"github.com/ocf-lvs/ocf-lvs/lib/addr"
)

// ErrNoIPVS is returned when the running kernel has no IPVS: moby/ipvs's
// New does not fail then, and every later call would fail obscurely.
var ErrNoIPVS = errors.New("the kernel has no IPVS: load ip_vs (modprobe ip_vs)")

// DefaultTimeout bounds every netlink call.
const DefaultTimeout = 5 * time.Second

// Kernel is the IPVS table: read whole, changed one op at a time.
type Kernel interface {
	// Services reads every service, then the destinations of each. It
	// may run beside Apply, from another goroutine (lib/engine's resync).
	Services() ([]Service, error)
	// Apply performs one operation (one netlink write).
	Apply(Op) error
}

// Netlink is the Kernel on github.com/moby/ipvs: one handle, used by one
// call at a time, each call bounded by Timeout. A call that overruns
// closes the handle (which unblocks it) and the next call opens a new one.
type Netlink struct {
	Timeout time.Duration

	mu     sync.Mutex
	h      *moby.Handle
	reads  int
	writes int
	times  WriteTimes // ApplyBatch's, cumulative
}

// ipvsPresent reports whether this network namespace has IPVS, loading the
// module once when it is missing.
func ipvsPresent() bool {
	if _, err := os.Stat("/proc/net/ip_vs"); err == nil {
		return true
	}
	exec.Command("modprobe", "-q", "ip_vs").Run() //nolint:errcheck // checked just below
	_, err := os.Stat("/proc/net/ip_vs")
	return err == nil
}

// moby/ipvs's first New in a process runs `modprobe -va ip_vs` whether
// the module is loaded or not, then resolves the IPVS generic netlink
// family, once (its ipvsOnce). That is a fork and exec of modprobe (libkmod
// reading modules.dep and friends) on every lvsd start, after ipvsPresent
// has just found the module or loaded it: about 1 ms on a host, 100 to
// 200 ms of the director's start under emulation (bench/agents.sh). Its
// once is done here instead, with its own family lookup and without the
// exec; a renamed symbol in a newer moby/ipvs fails the build, not a run.
//
//go:linkname mobyOnce github.com/moby/ipvs.ipvsOnce
var mobyOnce sync.Once

//go:linkname mobyFamily github.com/moby/ipvs.ipvsFamily
var mobyFamily int

//go:linkname mobyGetFamily github.com/moby/ipvs.getIPVSFamily
func mobyGetFamily() (int, error)

// resolveFamily does moby/ipvs's setup without its modprobe: a family not
// found leaves it 0, and the first call fails as it would have.
func resolveFamily() {
	mobyOnce.Do(func() {
		if f, err := mobyGetFamily(); err == nil {
			mobyFamily = f
		}
	})
}

// OpenNetlink opens the IPVS handle of the current network namespace.
func OpenNetlink() (*Netlink, error) {
	if !ipvsPresent() {
		return nil, ErrNoIPVS
	}
	resolveFamily()
	n := &Netlink{Timeout: DefaultTimeout}
	// A first read proves the generic netlink family answers: the timeouts
	// (a few bytes), not a dump of every service.
	if err := n.call(false, func(h *moby.Handle) error { _, err := h.GetConfig(); return err }); err != nil {
		n.Close()
		return nil, fmt.Errorf("%w (%v)", ErrNoIPVS, err)
	}
	n.reads = 0
	return n, nil
}

// Close releases the handle.
func (n *Netlink) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.h != nil {
		n.h.Close()
		n.h = nil
	}
	return nil
}

// Counts returns the netlink reads and writes made so far.
func (n *Netlink) Counts() (reads, writes int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.reads, n.writes
}

// WriteTimes is what ApplyBatch spent, summed over its calls: the ops it
// sent, its wall time and the CPU of the thread that ran it (user: the
// encoding and the bookkeeping; system: the kernel running the IPVS
// commands inside sendmsg). The apply phase's wall/system ratio says how
// close the writes are to the kernel's own cost.
type WriteTimes struct {
	Ops             int
	Wall, User, Sys time.Duration
}

// Sub is t minus an earlier reading.
func (t WriteTimes) Sub(o WriteTimes) WriteTimes {
	return WriteTimes{Ops: t.Ops - o.Ops, Wall: t.Wall - o.Wall, User: t.User - o.User, Sys: t.Sys - o.Sys}
}

// String has both ratios to the system time: wall/sys also counts the
// time the thread waited for a CPU (a loaded host, an emulated one),
// cpu/sys ((user+sys)/sys) only the writes' own work.
func (t WriteTimes) String() string {
	w, c := 0.0, 0.0
	if t.Sys > 0 {
		w, c = float64(t.Wall)/float64(t.Sys), float64(t.User+t.Sys)/float64(t.Sys)
	}
	return fmt.Sprintf("%d batched writes in %s wall, %s user, %s sys (wall/sys %.2f, cpu/sys %.2f)", t.Ops,
		t.Wall.Round(time.Millisecond), t.User.Round(time.Millisecond), t.Sys.Round(time.Millisecond), w, c)
}

// WriteTimes returns ApplyBatch's totals so far.
func (n *Netlink) WriteTimes() WriteTimes {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.times
}

func (n *Netlink) call(write bool, f func(*moby.Handle) error) error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.h == nil {
		h, err := moby.New("")
		if err != nil {
			return fmt.Errorf("ipvs: netlink handle: %w", err)
		}
		n.h = h
	}
	if write {
		n.writes++
	} else {
		n.reads++
	}
	h := n.h
	// A watchdog rather than a goroutine per call: the call runs here, and
	// only an overrun costs anything (process and thread hand-offs are
	// what an 11,000-write pass would otherwise spend its time on).
	var expired atomic.Bool
	watchdog := time.AfterFunc(n.Timeout, func() {
		expired.Store(true)
		// moby/ipvs retries receive timeouts forever; closing the socket
		// is what makes the stuck call return.
		h.Close()
	})
	err := f(h)
	if !watchdog.Stop() || expired.Load() {
		n.h = nil
		return fmt.Errorf("ipvs: netlink call timed out after %s", n.Timeout)
	}
	return err
}

// Services implements Kernel: the in-house dump (dump.go), bounded by
// Timeout per request. It reads on a socket of its own, without the
// handle's lock: a read may run beside writes (lib/engine reads the
// table off its goroutine, so that a verdict's write does not wait for a
// resync's dump of 10,000 reals).
func (n *Netlink) Services() ([]Service, error) {
	n.mu.Lock()
	timeout := n.Timeout
	n.mu.Unlock()
	return n.dumpServices(timeout)
}

// servicesMoby is the same read through moby/ipvs (the VM test compares
// the two).
func (n *Netlink) servicesMoby() ([]Service, error) {
	var svcs []*moby.Service
	if err := n.call(false, func(h *moby.Handle) (err error) { svcs, err = h.GetServices(); return }); err != nil {
		return nil, fmt.Errorf("ipvs: list services: %w", err)
	}
	out := make([]Service, 0, len(svcs))
	for _, ms := range svcs {
		s, err := fromMoby(ms)
		if err != nil {
			return nil, err
		}
		s.Stats = statsOf(moby.DstStats(ms.Stats))
		var dests []*moby.Destination
		if err := n.call(false, func(h *moby.Handle) (err error) { dests, err = h.GetDestinations(ms); return }); err != nil {
			return nil, fmt.Errorf("ipvs: list reals of %s: %w", s.Key(), err)
		}
		for _, md := range dests {
			a, ok := netip.AddrFromSlice(md.Address)
			if !ok {
				return nil, fmt.Errorf("ipvs: real of %s: bad address %v", s.Key(), md.Address)
			}
			s.Dests = append(s.Dests, Dest{Addr: a.Unmap(), Port: md.Port, Fwd: md.ConnectionFlags & FwdMask,
				Weight: md.Weight, Upper: md.UpperThreshold, Lower: md.LowerThreshold,
				Active: md.ActiveConnections, Inactive: md.InactiveConnections, Stats: statsOf(md.Stats)})
		}
		out = append(out, s)
	}
	return out, nil
}

func statsOf(s moby.DstStats) Stats {
	return Stats{Conns: uint64(s.Connections), PktsIn: uint64(s.PacketsIn), PktsOut: uint64(s.PacketsOut), BytesIn: s.BytesIn, BytesOut: s.BytesOut}
}

// Apply implements Kernel.
func (n *Netlink) Apply(op Op) error {
	ms, err := toMoby(&op.Service)
	if err != nil {
		return err
	}
	md := &moby.Destination{Address: net.IP(op.Dest.Addr.AsSlice()), Port: op.Dest.Port, Weight: op.Dest.Weight,
		ConnectionFlags: op.Dest.Fwd, UpperThreshold: op.Dest.Upper, LowerThreshold: op.Dest.Lower}
	err = n.call(true, func(h *moby.Handle) error {
		switch op.Kind {
		case AddService:
			return h.NewService(ms)
		case EditService:
			return h.UpdateService(ms)
		case DelService:
			return h.DelService(ms)
		case AddDest:
			return h.NewDestination(ms, md)
		case EditDest:
			return h.UpdateDestination(ms, md)
		case DelDest:
			return h.DelDestination(ms, md)
		}
		return fmt.Errorf("unknown op %d", op.Kind)
	})
	if err != nil {
		return fmt.Errorf("ipvsadm %s: %w", op, err)
	}
	return nil
}

var protoNum = map[string]uint16{"tcp": syscall.IPPROTO_TCP, "udp": syscall.IPPROTO_UDP, "sctp": 132}

func toMoby(s *Service) (*moby.Service, error) {
	ms := &moby.Service{FWMark: s.FWMark, SchedName: s.Scheduler, Flags: s.Flags & UserFlags,
		Timeout: s.Timeout, PEName: s.PE, AddressFamily: syscall.AF_INET}
	if s.Family == 6 {
		ms.AddressFamily = syscall.AF_INET6
	}
	if s.FWMark == 0 {
		ms.Protocol = protoNum[s.Protocol]
		ms.Address = net.IP(s.Addr.AsSlice())
		ms.Port = s.Port
	}
	nm := s.Netmask
	if s.Flags&FlagPersistent == 0 || nm < 0 {
		nm = fullMask(s.Family)
	}
	if s.Family == 6 {
		ms.Netmask = uint32(nm)
	} else {
		// The kernel takes the IPv4 mask as a big-endian u32; moby writes
		// the attribute in native order.
		var b [4]byte
		binary.BigEndian.PutUint32(b[:], ^uint32(0)<<(32-nm))
		if nm == 0 {
			b = [4]byte{}
		}
		ms.Netmask = binary.NativeEndian.Uint32(b[:])
	}
	return ms, nil
}

func fromMoby(ms *moby.Service) (Service, error) {
	s := Service{FWMark: ms.FWMark, Scheduler: ms.SchedName, Flags: ms.Flags & UserFlags,
		Timeout: ms.Timeout, PE: ms.PEName, Family: 4}
	if ms.AddressFamily == syscall.AF_INET6 {
		s.Family = 6
	}
	if ms.FWMark == 0 {
		for name, num := range protoNum {
			if num == ms.Protocol {
				s.Protocol = name
			}
		}
		if s.Protocol == "" {
			s.Protocol = fmt.Sprintf("proto%d", ms.Protocol)
		}
		a, ok := netip.AddrFromSlice(ms.Address)
		if !ok {
			return s, fmt.Errorf("ipvs: service with bad address %v", ms.Address)
		}
		s.Addr, s.Port = a.Unmap(), ms.Port
	}
	s.Netmask = netmaskBits(s.Family, ms.Netmask)
	return s, nil
}

// netmaskBits is the persistence netmask attribute as a prefix length:
// IPv6 sends the length, IPv4 the mask's bytes in network order (read
// natively here); -1 when not a prefix.
func netmaskBits(family int, raw uint32) int {
	if family == 6 {
		return int(raw)
	}
	var b [4]byte
	binary.NativeEndian.PutUint32(b[:], raw)
	ones, ok := addr.MaskBits4(netip.AddrFrom4(b))
	if !ok { // not a prefix
		return -1
	}
	return ones
}
