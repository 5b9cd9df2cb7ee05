package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// BatchKernel is a Kernel that applies many operations per system call.
// Reconcile uses it when the Kernel has it.
type BatchKernel interface {
	// ApplyBatch performs ops in order and returns one error per op, nil
	// when the kernel accepted it. A refused op does not stop the others,
	// except that the AddDest ops of a refused AddService fail too
	// (without being sent). Each op is still one netlink message.
	ApplyBatch(ops []Op) []error
}

// The generic netlink IPVS family (include/uapi/linux/ip_vs.h).
const (
	ipvsGenlName    = "IPVS"
	ipvsGenlVersion = 1

	ipvsCmdAttrService = 1
	ipvsCmdAttrDest    = 2

	ipvsSvcAttrAF       = 1
	ipvsSvcAttrProtocol = 2
	ipvsSvcAttrAddr     = 3
	ipvsSvcAttrPort     = 4
	ipvsSvcAttrFWMark   = 5
	ipvsSvcAttrSched    = 6
	ipvsSvcAttrFlags    = 7
	ipvsSvcAttrTimeout  = 8
	ipvsSvcAttrNetmask  = 9
	ipvsSvcAttrPEName   = 11

	ipvsDestAttrAddr    = 1
	ipvsDestAttrPort    = 2
	ipvsDestAttrFwd     = 3
	ipvsDestAttrWeight  = 4
	ipvsDestAttrUThresh = 5
	ipvsDestAttrLThresh = 6
)

// ipvsCmd is the IPVS_CMD_* of each op kind.
var ipvsCmd = [...]uint8{AddService: 1, EditService: 2, DelService: 3, AddDest: 5, EditDest: 6, DelDest: 7}

// Batch sizes. One sendmsg carries at most batchBytes of messages; the
// kernel handles them all inside that call and queues their acks on the
// socket, so a batch also holds no more messages than the receive buffer
// has room for acks (batchAckCost each: an skb of a 36-byte ack).
var (
	batchBytes   = 64 << 10
	batchRcvBuf  = 4 << 20
	batchAckCost = 1024
)

// ipvsFamily is the generic netlink id of IPVS, resolved once (as
// moby/ipvs does: an ip_vs reload under a running process is not
// followed).
var ipvsFamily struct {
	mu sync.Mutex
	id uint16
}

func ipvsFamilyID() (uint16, error) {
	ipvsFamily.mu.Lock()
	defer ipvsFamily.mu.Unlock()
	if ipvsFamily.id == 0 {
		f, err := netlink.GenlFamilyGet(ipvsGenlName)
		if err != nil {
			return 0, fmt.Errorf("%w (generic netlink family %s: %v)", ErrNoIPVS, ipvsGenlName, err)
		}
		ipvsFamily.id = f.ID
	}
	return ipvsFamily.id, nil
}

// ApplyBatch implements BatchKernel. The ops go to the kernel as IPVS
// messages packed into few sendmsg calls (no batch command exists, but the
// kernel runs every message of a buffer in order and goes on after one
// fails). Only failures are acked, plus a NOOP closing each buffer whose
// ack says the kernel is done with it: a buffer of 400 writes costs one
// sendmsg and one recvmsg. Each buffer is a call bounded by Timeout, as
// every Netlink call: a socket that does not answer in time is closed and
// its ops are reported as timed out; the next buffer opens a new one.
func (n *Netlink) ApplyBatch(ops []Op) []error {
	errs := make([]error, len(ops))
	if len(ops) == 0 {
		return errs
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	// timed on its own thread (RUSAGE_THREAD): the process's other
	// goroutines (checks, GC) are not counted as the writes' cost
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0, r0 := time.Now(), threadCPU()
	defer func() {
		r := threadCPU()
		n.times.Ops += len(ops)
		n.times.Wall += time.Since(t0)
		n.times.User += time.Duration(r.Utime.Nano() - r0.Utime.Nano())
		n.times.Sys += time.Duration(r.Stime.Nano() - r0.Stime.Nano())
	}()
	fam, err := ipvsFamilyID()
	if err != nil {
		for i := range ops {
			errs[i] = fmt.Errorf("ipvsadm %s: %w", ops[i], err)
		}
		return errs
	}
	// A service add ends its buffer when its reals follow, so that they are
	// not sent when it is refused (were it refused as existing, they would
	// land in a service that is not ours). Reconcile sends all service adds
	// first, so this costs it nothing.
	var lastDest map[Key]int
	refused := map[Key]bool{}
	for i := range ops {
		if ops[i].Kind == AddService {
			lastDest = map[Key]int{}
			break
		}
	}
	if lastDest != nil {
		for i := range ops {
			if ops[i].Kind == AddDest {
				lastDest[ops[i].Service.Key()] = i
			}
		}
	}

	var c *batchConn
	defer func() {
		if c != nil {
			c.sock.Close()
		}
	}()
	buf := make([]byte, 0, batchBytes)
	var idx []int // the ops in buf, by index
	for i := 0; i < len(ops); {
		if c == nil {
			if c, err = openBatchConn(); err != nil {
				for ; i < len(ops); i++ {
					errs[i] = fmt.Errorf("ipvsadm %s: %w", ops[i], err)
				}
				return errs
			}
		}
		buf, idx = buf[:0], idx[:0]
		base := c.seq
		for i < len(ops) && len(idx) < c.maxMsgs {
			op := &ops[i]
			if lastDest != nil && op.Kind == AddDest && refused[op.Service.Key()] {
				errs[i] = fmt.Errorf("ipvsadm %s: not sent: the kernel refused its virtual service", op)
				i++
				continue
			}
			mark := len(buf)
			buf = appendOp(buf, fam, base+uint32(len(idx)), op)
			if len(buf)+unix.NLMSG_HDRLEN > batchBytes && len(idx) > 0 {
				buf = buf[:mark]
				break
			}
			idx = append(idx, i)
			i++
			if lastDest != nil && op.Kind == AddService && lastDest[op.Service.Key()] >= i {
				break
			}
		}
		if len(idx) == 0 {
			continue
		}
		n.writes += len(idx)
		if !c.run(buf, idx, ops, errs, n.Timeout) {
			c.sock.Close()
			c = nil
		}
		for _, j := range idx {
			if ops[j].Kind == AddService && errs[j] != nil {
				refused[ops[j].Service.Key()] = true
			}
		}
	}
	return errs
}

func threadCPU() unix.Rusage {
	var r unix.Rusage
	unix.Getrusage(unix.RUSAGE_THREAD, &r) //nolint:errcheck // cannot fail on Linux
	return r
}

// batchConn is one netlink socket for a batch.
type batchConn struct {
	sock    *nl.NetlinkSocket
	seq     uint32
	maxMsgs int
	rbuf    []byte
}

func openBatchConn() (*batchConn, error) {
	sock, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("ipvs: netlink socket: %w", err)
	}
	fd := sock.GetFd()
	// An error ack then carries the request's header only, not all of it.
	unix.SetsockoptInt(fd, unix.SOL_NETLINK, unix.NETLINK_CAP_ACK, 1) //nolint:errcheck // older kernels: bigger acks, still counted below
	// Past rmem_max needs CAP_NET_ADMIN, which writing IPVS needs anyway.
	if sock.SetReceiveBufferSize(batchRcvBuf, true) != nil {
		sock.SetReceiveBufferSize(batchRcvBuf, false) //nolint:errcheck // the size is read back
	}
	rcv, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		sock.Close()
		return nil, fmt.Errorf("ipvs: netlink socket: %w", err)
	}
	// Room for an ack of every message and the NOOP's, so that even a
	// buffer the kernel refuses whole loses no ack (a lost ack would leave
	// its op's outcome unknown).
	return &batchConn{sock: sock, seq: 1, maxMsgs: max(1, rcv/batchAckCost-1), rbuf: make([]byte, 16<<10)}, nil
}

// run sends one buffer of messages (ops[idx[k]] with sequence number
// c.seq+k) closed by a NOOP asking for an ack, then reads acks until that
// one: every error ack before it names a refused op, and every other op
// was accepted. It fills errs for the ops of idx and reports whether the
// socket can be used again.
//
// Generic netlink runs the messages inside sendto and queues the acks
// before it returns, so the reads normally never wait; the deadline
// (counted from the end of sendto, which may itself take long on a busy
// kernel) only bounds a kernel that would not answer.
func (c *batchConn) run(buf []byte, idx []int, ops []Op, errs []error, timeout time.Duration) bool {
	base := c.seq
	noop := base + uint32(len(idx))
	c.seq = noop + 1
	buf = appendNoop(buf, noop)
	fail := func(err error) {
		for _, j := range idx {
			if errs[j] == nil {
				errs[j] = fmt.Errorf("ipvsadm %s: %w", ops[j], err)
			}
		}
	}
	fd := c.sock.GetFd()
	for {
		err := unix.Sendto(fd, buf, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			fail(fmt.Errorf("ipvs: netlink send: %w", err))
			return false
		}
		break
	}
	deadline := time.Now().Add(timeout)
	overrun := false
	for {
		n, _, err := unix.Recvfrom(fd, c.rbuf, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.ENOBUFS:
			overrun = true // acks were dropped: which ops failed is unknown
			continue
		case err == unix.EAGAIN:
			left := time.Until(deadline)
			if left <= 0 {
				fail(fmt.Errorf("ipvs: netlink call timed out after %s (the kernel may have applied it)", timeout))
				return false
			}
			unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}, int(left/time.Millisecond)+1) //nolint:errcheck // the next read tells
			continue
		case err != nil:
			fail(fmt.Errorf("ipvs: netlink receive: %w", err))
			return false
		}
		done, err := c.acks(c.rbuf[:n], base, noop, idx, ops, errs)
		if err != nil {
			fail(err)
			return false
		}
		if done {
			if overrun {
				fail(errors.New("ipvs: netlink receive buffer overrun, acks lost: outcome unknown"))
				return false
			}
			return true
		}
	}
}

// acks reads the acks of one datagram: each error ack for a message of
// this buffer sets its op's error (matched by sequence number); the NOOP's
// ack says the buffer is done.
func (c *batchConn) acks(b []byte, base, noop uint32, idx []int, ops []Op, errs []error) (done bool, err error) {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return false, fmt.Errorf("ipvs: netlink receive: bad message length %d of %d", l, len(b))
		}
		typ, seq := binary.NativeEndian.Uint16(b[4:]), binary.NativeEndian.Uint32(b[8:])
		if typ == unix.NLMSG_ERROR && l >= unix.NLMSG_HDRLEN+4 {
			code := int32(binary.NativeEndian.Uint32(b[unix.NLMSG_HDRLEN:]))
			switch k := seq - base; {
			case seq == noop:
				done = true
			case k < uint32(len(idx)) && code != 0:
				j := idx[k]
				errs[j] = fmt.Errorf("ipvsadm %s: %w", ops[j], syscall.Errno(-code))
			}
		}
		b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
	}
	return done, nil
}

// appendOp appends op as the IPVS message moby/ipvs sends for it, except
// that the service of a real's op or of a removal carries only what
// identifies it (the kernel reads no more: ip_vs_genl_parse_service with
// full_entry false), and the real of a removal only its address and port.
// No ack is asked for: the kernel acks failures anyway.
func appendOp(b []byte, family uint16, seq uint32, op *Op) []byte {
	start := len(b)
	b = binary.NativeEndian.AppendUint32(b, 0) // length, set below
	b = binary.NativeEndian.AppendUint16(b, family)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0) // port id: the kernel fills it
	b = append(b, ipvsCmd[op.Kind], ipvsGenlVersion, 0, 0)

	s := &op.Service
	full := op.Kind == AddService || op.Kind == EditService
	nest := len(b)
	b = attrHeader(b, ipvsCmdAttrService, 0)
	af := uint16(unix.AF_INET)
	if s.Family == 6 {
		af = unix.AF_INET6
	}
	b = attrU16(b, ipvsSvcAttrAF, af)
	if s.FWMark != 0 {
		b = attrU32(b, ipvsSvcAttrFWMark, s.FWMark)
	} else {
		b = attrU16(b, ipvsSvcAttrProtocol, protoNum[s.Protocol])
		b = attrAddr(b, ipvsSvcAttrAddr, s.Addr)
		b = attrBE16(b, ipvsSvcAttrPort, s.Port)
	}
	if full {
		b = attrString(b, ipvsSvcAttrSched, s.Scheduler)
		if s.PE != "" {
			b = attrString(b, ipvsSvcAttrPEName, s.PE)
		}
		b = attrHeader(b, ipvsSvcAttrFlags, 8)
		b = binary.NativeEndian.AppendUint32(b, s.Flags&UserFlags)
		b = binary.NativeEndian.AppendUint32(b, ^uint32(0)) // mask: every flag is set as given
		b = attrU32(b, ipvsSvcAttrTimeout, s.Timeout)
		b = attrHeader(b, ipvsSvcAttrNetmask, 4)
		b = appendNetmask(b, s)
	}
	endNest(b, nest)

	if op.Kind == AddDest || op.Kind == EditDest || op.Kind == DelDest {
		d := &op.Dest
		nest := len(b)
		b = attrHeader(b, ipvsCmdAttrDest, 0)
		b = attrAddr(b, ipvsDestAttrAddr, d.Addr)
		b = attrBE16(b, ipvsDestAttrPort, d.Port)
		if op.Kind != DelDest {
			b = attrU32(b, ipvsDestAttrFwd, d.Fwd&FwdMask)
			b = attrU32(b, ipvsDestAttrWeight, uint32(d.Weight))
			b = attrU32(b, ipvsDestAttrUThresh, d.Upper)
			b = attrU32(b, ipvsDestAttrLThresh, d.Lower)
		}
		endNest(b, nest)
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// appendNoop appends an NLMSG_NOOP asking for an ack: the kernel acks it
// after every message before it.
func appendNoop(b []byte, seq uint32) []byte {
	b = binary.NativeEndian.AppendUint32(b, unix.NLMSG_HDRLEN)
	b = binary.NativeEndian.AppendUint16(b, unix.NLMSG_NOOP)
	b = binary.NativeEndian.AppendUint16(b, unix.NLM_F_REQUEST|unix.NLM_F_ACK)
	b = binary.NativeEndian.AppendUint32(b, seq)
	return binary.NativeEndian.AppendUint32(b, 0)
}

// appendNetmask is the persistence netmask as toMoby has moby send it:
// IPv4 as the mask's bytes in network order, IPv6 as a prefix length.
func appendNetmask(b []byte, s *Service) []byte {
	nm := s.Netmask
	if s.Flags&FlagPersistent == 0 || nm < 0 || nm > fullMask(s.Family) {
		nm = fullMask(s.Family)
	}
	if s.Family == 6 {
		return binary.NativeEndian.AppendUint32(b, uint32(nm))
	}
	return binary.BigEndian.AppendUint32(b, ^uint32(0)<<(32-nm))
}

// Attributes (struct nlattr: u16 length, u16 type, data padded to 4).

func attrHeader(b []byte, typ uint16, n int) []byte {
	b = binary.NativeEndian.AppendUint16(b, uint16(unix.SizeofRtAttr+n))
	return binary.NativeEndian.AppendUint16(b, typ)
}

func endNest(b []byte, at int) { binary.NativeEndian.PutUint16(b[at:], uint16(len(b)-at)) }

func attrU16(b []byte, typ uint16, v uint16) []byte {
	b = attrHeader(b, typ, 2)
	b = binary.NativeEndian.AppendUint16(b, v)
	return append(b, 0, 0)
}

func attrBE16(b []byte, typ uint16, v uint16) []byte {
	b = attrHeader(b, typ, 2)
	b = binary.BigEndian.AppendUint16(b, v)
	return append(b, 0, 0)
}

func attrU32(b []byte, typ uint16, v uint32) []byte {
	b = attrHeader(b, typ, 4)
	return binary.NativeEndian.AppendUint32(b, v)
}

var zeros [4]byte

// attrString is NUL-terminated (nl.ZeroTerminated), padded.
func attrString(b []byte, typ uint16, s string) []byte {
	b = attrHeader(b, typ, len(s)+1)
	b = append(b, s...)
	return append(b, zeros[:4-len(s)%4]...)
}

// attrAddr is 4 bytes for IPv4 (also v4-mapped, as moby's rawIPData), 16
// for IPv6, none for no address.
func attrAddr(b []byte, typ uint16, a netip.Addr) []byte {
	switch a = a.Unmap(); {
	case a.Is4():
		v := a.As4()
		return append(attrHeader(b, typ, 4), v[:]...)
	case a.Is6():
		v := a.As16()
		return append(attrHeader(b, typ, 16), v[:]...)
	}
	return attrHeader(b, typ, 0)
}
