package main

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os/exec"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// The netlink monitor: an nlmon device shows every netlink message of the
// machine, so the IPVS requests of lvsd (moby/ipvs), keepalived (its
// libipvs) and ipvsadm (forked by ldirectord) are counted and timed the
// same way, by the kernel, without tracing any of them. A request is
// timed when the kernel receives it; its ack (NLMSG_ERROR, error 0) when
// the kernel has applied it: the entry is gone from the table then.

// IPVS generic netlink commands (linux/ip_vs.h).
const (
	cmdNewService = 1
	cmdSetService = 2
	cmdDelService = 3
	cmdGetService = 4
	cmdNewDest    = 5
	cmdSetDest    = 6
	cmdDelDest    = 7
	cmdGetDest    = 8
	cmdGetConfig  = 13
	cmdGetInfo    = 15
	cmdZero       = 16
	cmdFlush      = 17
)

func isWrite(cmd uint8) bool {
	switch cmd {
	case cmdNewService, cmdSetService, cmdDelService, cmdNewDest, cmdSetDest, cmdDelDest, 9, 10, 12, cmdZero, cmdFlush:
		return true
	}
	return false
}

var cmdNames = map[uint8]string{cmdNewService: "add-service", cmdSetService: "edit-service", cmdDelService: "del-service",
	cmdNewDest: "add-real", cmdSetDest: "edit-real", cmdDelDest: "del-real", cmdFlush: "flush"}

// nlEvent is one IPVS request and, once seen, its ack.
type nlEvent struct {
	t      time.Time // the kernel got the request
	ack    time.Time // the kernel acked it (zero: not seen)
	err    int32
	cmd    uint8
	dump   bool
	seq    uint32
	svc    netip.AddrPort // the virtual service
	dest   netip.AddrPort // for real (dest) commands
	weight uint32
}

type nlmon struct {
	fam  uint16
	c    *capture
	mu   sync.Mutex
	evs  []*nlEvent
	link string
}

func startNlmon() (*nlmon, error) {
	f, err := netlink.GenlFamilyGet("IPVS")
	if err != nil {
		return nil, fmt.Errorf("IPVS generic netlink family: %w", err)
	}
	m := &nlmon{fam: f.ID, link: "dbnlmon0"}
	exec.Command("ip", "link", "del", m.link).Run()
	if out, err := exec.Command("sh", "-c", "modprobe nlmon && ip link add "+m.link+" type nlmon && ip link set "+m.link+" up").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("nlmon: %v: %s", err, out)
	}
	sw := func(v uint16) uint32 { return uint32(v>>8 | v<<8) } // nlmsg_type is host order, ldh loads big-endian
	filter := []bpf.Instruction{
		bpf.LoadExtension{Num: bpf.ExtProto},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: unix.NETLINK_GENERIC, SkipTrue: 6},
		bpf.LoadAbsolute{Off: 4, Size: 2},
		bpf.JumpIf{Cond: bpf.JumpEqual, Val: sw(unix.NLMSG_ERROR), SkipTrue: 5},
		bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: sw(m.fam), SkipTrue: 3},
		bpf.LoadAbsolute{Off: 6, Size: 1},
		bpf.JumpIf{Cond: bpf.JumpBitsSet, Val: unix.NLM_F_REQUEST, SkipTrue: 2},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0},
		bpf.RetConstant{Val: 0xffff},
	}
	c, err := openCapture(m.link, unix.ETH_P_ALL, filter, m.packet)
	if err != nil {
		exec.Command("ip", "link", "del", m.link).Run()
		return nil, err
	}
	m.c = c
	return m, nil
}

func (m *nlmon) close() {
	m.c.close()
	exec.Command("ip", "link", "del", m.link).Run()
}

func (m *nlmon) packet(t time.Time, _ uint8, b []byte) {
	le := binary.LittleEndian
	for len(b) >= 16 {
		n := int(le.Uint32(b))
		if n < 16 || n > len(b) {
			return
		}
		msg := b[:n]
		typ, flags, seq := le.Uint16(msg[4:]), le.Uint16(msg[6:]), le.Uint32(msg[8:])
		switch {
		case typ == m.fam && flags&unix.NLM_F_REQUEST != 0 && n >= 20:
			ev := &nlEvent{t: t, cmd: msg[16], seq: seq, dump: flags&unix.NLM_F_DUMP == unix.NLM_F_DUMP}
			parseAttrs(msg[20:], func(typ uint16, v []byte) {
				if typ == 1 { // IPVS_CMD_ATTR_SERVICE
					var addr netip.Addr
					var port uint16
					parseAttrs(v, func(typ uint16, v []byte) {
						switch {
						case typ == 3 && len(v) >= 4: // IPVS_SVC_ATTR_ADDR
							addr = netip.AddrFrom4([4]byte(v[:4]))
						case typ == 4 && len(v) >= 2: // IPVS_SVC_ATTR_PORT
							port = binary.BigEndian.Uint16(v)
						}
					})
					ev.svc = netip.AddrPortFrom(addr, port)
				}
				if typ == 2 { // IPVS_CMD_ATTR_DEST
					var addr netip.Addr
					var port uint16
					parseAttrs(v, func(typ uint16, v []byte) {
						switch {
						case typ == 1 && len(v) >= 4: // IPVS_DEST_ATTR_ADDR (v4 in the first 4 bytes)
							addr = netip.AddrFrom4([4]byte(v[:4]))
						case typ == 2 && len(v) >= 2: // IPVS_DEST_ATTR_PORT
							port = binary.BigEndian.Uint16(v)
						case typ == 4 && len(v) >= 4: // IPVS_DEST_ATTR_WEIGHT
							ev.weight = le.Uint32(v)
						}
					})
					ev.dest = netip.AddrPortFrom(addr, port)
				}
			})
			m.mu.Lock()
			m.evs = append(m.evs, ev)
			m.mu.Unlock()
		case typ == unix.NLMSG_ERROR && n >= 36:
			code := int32(le.Uint32(msg[16:]))
			otyp, oseq := le.Uint16(msg[24:]), le.Uint32(msg[28:])
			if otyp != m.fam {
				break
			}
			m.mu.Lock()
			for i := len(m.evs) - 1; i >= 0 && i >= len(m.evs)-64; i-- {
				if e := m.evs[i]; e.seq == oseq && e.ack.IsZero() && !e.dump {
					e.ack, e.err = t, code
					break
				}
			}
			m.mu.Unlock()
		}
		a := (n + 3) &^ 3
		if a >= len(b) {
			return
		}
		b = b[a:]
	}
}

func parseAttrs(b []byte, fn func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		fn(binary.LittleEndian.Uint16(b[2:])&0x3fff, b[4:l])
		a := (l + 3) &^ 3
		if a > len(b) {
			return
		}
		b = b[a:]
	}
}

// counts are the IPVS writes and reads (dumps and gets) requested in [a, b].
func (m *nlmon) counts(a, b time.Time) (writes, reads int, byCmd map[string]int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	byCmd = map[string]int{}
	for _, e := range m.evs {
		if e.t.Before(a) || e.t.After(b) {
			continue
		}
		if isWrite(e.cmd) {
			writes++
			byCmd[cmdNames[e.cmd]]++
		} else {
			reads++
		}
	}
	return
}

// lastWrite is the last IPVS write requested in [a, b], and when the
// kernel acked it (its request time if no ack was seen).
func (m *nlmon) lastWrite(a, b time.Time) (req, done time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.evs {
		if e.t.Before(a) || e.t.After(b) || !isWrite(e.cmd) {
			continue
		}
		req, done, ok = e.t, e.ack, true
		if done.IsZero() {
			done = e.t
		}
	}
	return
}

// destWrite is the first write of cmd (0: any write) for dest of svc at
// or after t0: its request and ack times.
func (m *nlmon) destWrite(t0 time.Time, cmd uint8, svc, dest netip.AddrPort) (*nlEvent, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range m.evs {
		if e.t.Before(t0) || e.svc != svc || e.dest != dest || !isWrite(e.cmd) || (cmd != 0 && e.cmd != cmd) {
			continue
		}
		c := *e
		return &c, true
	}
	return nil, false
}

// lastWriteSeen is when the last IPVS write was requested.
func (m *nlmon) lastWriteSeen() time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := len(m.evs) - 1; i >= 0; i-- {
		if isWrite(m.evs[i].cmd) {
			return m.evs[i].t
		}
	}
	return time.Time{}
}

// events are copies of the requests seen in [a, b].
func (m *nlmon) events(a, b time.Time) []nlEvent {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []nlEvent
	for _, e := range m.evs {
		if !e.t.Before(a) && !e.t.After(b) {
			out = append(out, *e)
		}
	}
	return out
}
