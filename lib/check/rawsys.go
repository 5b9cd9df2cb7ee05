package check

import (
	"encoding/binary"
	"syscall"
	"unsafe"
)

// The poller's system calls, made raw: none of them blocks (the sockets
// are non-blocking, a close with SO_LINGER 0 resets at once), so the Go
// scheduler is not told (syscall.Syscall's entersyscall/exitsyscall).
// Told, it lets its monitor thread take the poller's P away during any
// call that outlasts a 20 µs tick while another goroutine is runnable,
// wakes a thread to run it, and the poller must get a P back afterwards:
// futex wake-ups and thread hand-offs per check. Under emulation (the
// VM's QEMU TCG) a connect takes a millisecond (the handshake with a
// local real runs inside it) and those hand-offs, each with its clock
// reads and inter-processor interrupts, cost more CPU per check than the
// calls (docs/check.md). epoll_wait, which sleeps, stays a scheduler-
// aware call.

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func rawSocket(family, typ int) (int, error) {
	fd, _, e := syscall.RawSyscall(syscall.SYS_SOCKET, uintptr(family), uintptr(typ), 0)
	if e != 0 {
		return -1, e
	}
	return int(fd), nil
}

var lingerZero = syscall.Linger{Onoff: 1, Linger: 0}

// rawLingerZero makes close send a reset (see basic.go's abort).
func rawLingerZero(fd int) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_SETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_LINGER,
		uintptr(unsafe.Pointer(&lingerZero)), unsafe.Sizeof(lingerZero), 0)
	return errnoErr(e)
}

// rawSockaddr is a socket address in the kernel's layout, made once per
// check (syscall.Connect converts its Sockaddr on every call).
type rawSockaddr struct {
	b [syscall.SizeofSockaddrInet6]byte
	n uintptr
}

func makeRawSockaddr(sa syscall.Sockaddr) rawSockaddr {
	var r rawSockaddr
	switch a := sa.(type) {
	case *syscall.SockaddrInet4:
		p := (*syscall.RawSockaddrInet4)(unsafe.Pointer(&r.b[0]))
		p.Family = syscall.AF_INET
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p.Port))[:], uint16(a.Port))
		p.Addr = a.Addr
		r.n = syscall.SizeofSockaddrInet4
	case *syscall.SockaddrInet6:
		p := (*syscall.RawSockaddrInet6)(unsafe.Pointer(&r.b[0]))
		p.Family = syscall.AF_INET6
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&p.Port))[:], uint16(a.Port))
		p.Addr = a.Addr
		p.Scope_id = a.ZoneId
		r.n = syscall.SizeofSockaddrInet6
	}
	return r
}

func rawConnect(fd int, sa *rawSockaddr) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_CONNECT, uintptr(fd), uintptr(unsafe.Pointer(&sa.b[0])), sa.n)
	return errnoErr(e)
}

func rawClose(fd int) {
	syscall.RawSyscall(syscall.SYS_CLOSE, uintptr(fd), 0, 0)
}

// rawSoError is the socket's pending error (SO_ERROR), read and cleared.
func rawSoError(fd int) (syscall.Errno, error) {
	var v int32
	l := uint32(4)
	_, _, e := syscall.RawSyscall6(syscall.SYS_GETSOCKOPT, uintptr(fd), syscall.SOL_SOCKET, syscall.SO_ERROR,
		uintptr(unsafe.Pointer(&v)), uintptr(unsafe.Pointer(&l)), 0)
	if e != 0 {
		return 0, e
	}
	return syscall.Errno(v), nil
}

func rawEpollCtl(ep, op, fd int, ev *syscall.EpollEvent) error {
	_, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_CTL, uintptr(ep), uintptr(op), uintptr(fd), uintptr(unsafe.Pointer(ev)), 0, 0)
	return errnoErr(e)
}

// rawEpollPoll is epoll_wait with no timeout: it never sleeps.
func rawEpollPoll(ep int, evs []syscall.EpollEvent) (int, error) {
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, uintptr(ep), uintptr(unsafe.Pointer(&evs[0])), uintptr(len(evs)), 0, 0, 0)
	if e != 0 {
		return 0, e
	}
	return int(n), nil
}
