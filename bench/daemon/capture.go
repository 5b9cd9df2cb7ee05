package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// A packet socket on one interface with a classic BPF filter; every
// packet that passes is handed to fn with the kernel's receive timestamp
// (SO_TIMESTAMPNS), so the reader's own scheduling delay does not count.
type capture struct {
	fd   int
	stop atomic.Bool
	done chan struct{}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func openCapture(ifname string, proto uint16, filter []bpf.Instruction, fn func(t time.Time, pkttype uint8, b []byte)) (*capture, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, int(htons(proto)))
	if err != nil {
		return nil, fmt.Errorf("packet socket: %w", err)
	}
	raw, err := bpf.Assemble(filter)
	if err != nil {
		unix.Close(fd)
		return nil, err
	}
	prog := make([]unix.SockFilter, len(raw))
	for i, r := range raw {
		prog[i] = unix.SockFilter{Code: r.Op, Jt: r.Jt, Jf: r.Jf, K: r.K}
	}
	fp := unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]}
	if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &fp); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("attach filter: %w", err)
	}
	unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 32<<20)
	// the reader wakes up at least every 100 ms to see whether it is to
	// stop: the descriptor is closed only once it has (a reader still
	// blocked on a closed descriptor number would read the next socket
	// given that number).
	tv := unix.NsecToTimeval(int64(100 * time.Millisecond))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv)
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		unix.Close(fd)
		return nil, err
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Protocol: htons(proto), Ifindex: ifi.Index}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind %s: %w", ifname, err)
	}
	c := &capture{fd: fd, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		buf := make([]byte, 1<<16)
		oob := make([]byte, 256)
		for !c.stop.Load() {
			n, oobn, _, from, err := unix.Recvmsg(fd, buf, oob, 0)
			if err != nil {
				if err == unix.EINTR || err == unix.EAGAIN {
					continue
				}
				return
			}
			t := time.Now()
			if msgs, err := unix.ParseSocketControlMessage(oob[:oobn]); err == nil {
				for _, m := range msgs {
					if m.Header.Level == unix.SOL_SOCKET && m.Header.Type == unix.SCM_TIMESTAMPNS && len(m.Data) >= 16 {
						ts := (*unix.Timespec)(unsafe.Pointer(&m.Data[0]))
						t = time.Unix(ts.Unix())
					}
				}
			}
			var pt uint8
			if ll, ok := from.(*unix.SockaddrLinklayer); ok {
				pt = ll.Pkttype
			}
			fn(t, pt, buf[:n])
		}
	}()
	return c, nil
}

func (c *capture) close() {
	c.stop.Store(true)
	<-c.done
	unix.Close(c.fd)
}

// synWatch records when a TCP SYN to one address leaves the director: the
// start of each health check of that real, whatever tool sends it.
type synWatch struct {
	c    *capture
	mu   sync.Mutex
	syns []time.Time
}

func watchSYNs(ifname string, dst netip.Addr) (*synWatch, error) {
	ip := binary.BigEndian.Uint32(dst.AsSlice())
	// SOCK_RAW on a veth: a 14-byte Ethernet header, then IPv4.
	filter := []bpf.Instruction{
		bpf.LoadAbsolute{Off: 12, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: 0x0800, SkipTrue: 8},
		bpf.LoadAbsolute{Off: 14 + 16, Size: 4},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: ip, SkipTrue: 6},
		bpf.LoadAbsolute{Off: 14 + 9, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.IPPROTO_TCP, SkipTrue: 4},
		bpf.LoadMemShift{Off: 14},
		bpf.LoadIndirect{Off: 14 + 13, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x10, SkipTrue: 1}, // ACK set: drop
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: 0x02, SkipTrue: 1}, // SYN: keep
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 128},
	}
	w := &synWatch{}
	c, err := openCapture(ifname, unix.ETH_P_ALL, filter, func(t time.Time, _ uint8, _ []byte) {
		w.mu.Lock()
		w.syns = append(w.syns, t)
		w.mu.Unlock()
	})
	if err != nil {
		return nil, err
	}
	w.c = c
	return w, nil
}

// after is the first SYN at or after t0.
func (w *synWatch) after(t0 time.Time) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, t := range w.syns {
		if !t.Before(t0) {
			return t, true
		}
	}
	return time.Time{}, false
}

// between are the SYNs in [a, b).
func (w *synWatch) between(a, b time.Time) []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []time.Time
	for _, t := range w.syns {
		if !t.Before(a) && t.Before(b) {
			out = append(out, t)
		}
	}
	return out
}

func (w *synWatch) close() { w.c.close() }
