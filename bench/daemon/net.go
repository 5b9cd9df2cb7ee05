package main

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netns"
)

// The director is the VM's root namespace; the real servers are the
// addresses of 10.1.0.0/16, all local (AnyIP) in one namespace behind a
// veth pair.
const (
	realsNS = "dbreals"
	hostIf  = "dbv0"
	nsIf    = "dbv1"
	vip     = "10.200.0.1"
)

// realAddr is the i-th real (0-based): 10.1.x.y, as bench/ipvs/gen.sh.
func realAddr(i int) netip.Addr {
	return netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 1)})
}

func run(args ...string) error {
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

func setupNet() error {
	script := fmt.Sprintf(`set -e
ip netns add %[1]s
ip link add %[2]s type veth peer name %[3]s netns %[1]s
ip addr add 10.2.0.1/30 dev %[2]s
ip link set %[2]s up
ip route add 10.1.0.0/16 via 10.2.0.2 dev %[2]s
ip -n %[1]s link set lo up
ip -n %[1]s addr add 10.2.0.2/30 dev %[3]s
ip -n %[1]s link set %[3]s up
ip -n %[1]s route add local 10.1.0.0/16 dev lo
ip netns exec %[1]s sysctl -qw net.core.somaxconn=4096 net.ipv4.tcp_max_syn_backlog=4096
sysctl -qw net.ipv4.tcp_tw_reuse=1 net.ipv4.ip_local_port_range="1024 65000"
`, realsNS, hostIf, nsIf)
	return run("sh", "-c", script)
}

func teardownNet() {
	exec.Command("ip", "netns", "del", realsNS).Run()
	exec.Command("ip", "link", "del", hostIf).Run()
}

// servers are the real servers: one listening socket per real address
// (port 80) in the reals' namespace, each accepting and closing (with
// -check http: reading the request and answering "200 OK", body "ok",
// then closing). Killing
// a real closes its listening socket, as its server's death would: the
// next connect to it is refused (RST).
type servers struct {
	mu sync.Mutex
	ls map[netip.Addr]net.Listener
}

func inNS(name string, fn func() error) error {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	orig, err := netns.Get()
	if err != nil {
		return err
	}
	defer orig.Close()
	ns, err := netns.GetFromName(name)
	if err != nil {
		return err
	}
	defer ns.Close()
	if err := netns.Set(ns); err != nil {
		return err
	}
	defer netns.Set(orig)
	return fn()
}

func startServers(n int) (*servers, error) {
	s := &servers{ls: map[netip.Addr]net.Listener{}}
	for i := 0; i < n; i++ {
		if err := s.start(realAddr(i)); err != nil {
			s.close()
			return nil, err
		}
	}
	return s, nil
}

func (s *servers) start(a netip.Addr) error {
	var l net.Listener
	err := inNS(realsNS, func() (err error) {
		l, err = net.Listen("tcp4", netip.AddrPortFrom(a, 80).String())
		return err
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.ls[a] = l
	s.mu.Unlock()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			if checkKind == "http" {
				go answerHTTP(c)
				continue
			}
			c.Close()
		}
	}()
	return nil
}

var httpOK = []byte("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok")

// answerHTTP reads one request's head and answers it.
func answerHTTP(c net.Conn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	buf := make([]byte, 0, 1024)
	for !bytes.Contains(buf, []byte("\r\n\r\n")) && len(buf) < cap(buf) {
		n, err := c.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil {
			return
		}
	}
	c.Write(httpOK)
}

func (s *servers) kill(a netip.Addr) {
	s.mu.Lock()
	l := s.ls[a]
	delete(s.ls, a)
	s.mu.Unlock()
	if l != nil {
		l.Close()
	}
}

func (s *servers) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for a, l := range s.ls {
		l.Close()
		delete(s.ls, a)
	}
}

// The kernel table as /proc/net/ip_vs shows it (no netlink: the poller is
// not counted by the monitor). Addresses are hex there.
func procNeedle(a netip.Addr, port uint16) []byte {
	b := a.As4()
	return []byte(fmt.Sprintf("-> %02X%02X%02X%02X:%04X ", b[0], b[1], b[2], b[3], port))
}

var procBuf = make([]byte, 0, 4<<20)

func readProc() []byte {
	f, err := os.Open("/proc/net/ip_vs")
	if err != nil {
		return nil
	}
	defer f.Close()
	buf := procBuf[:0]
	for {
		if len(buf) == cap(buf) {
			buf = append(buf, 0)[:len(buf)]
		}
		n, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil || n == 0 {
			break
		}
	}
	procBuf = buf
	return buf
}

// procReals counts the reals in the kernel table.
func procReals() int {
	b := readProc()
	return bytes.Count(b, []byte("\n  -> ")) - bytes.Count(b, []byte("-> RemoteAddress"))
}

// fresh empties the table as after boot: deleted reals stay in the
// kernel's dest trash for minutes and every real added meanwhile walks it
// (see docs/ipvs.md), so each tool starts on a reloaded ip_vs.
func fresh() error {
	return run("sh", "-c", `ipvsadm -C; mods=$(lsmod | awk '/^ip_vs_/ { print $1 }'); rmmod $mods ip_vs 2>/dev/null; for m in ip_vs $mods; do modprobe $m; done`)
}
