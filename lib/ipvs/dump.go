package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The table read, in-house: one dump of the services, then one dump of
// the reals of each, on one socket, into one reused buffer, decoded in
// place. The kernel has no dump of every destination: IPVS_CMD_GET_DEST
// needs a service (ip_vs_genl_dump_dests returns nothing without one), so
// a table of N services still takes 1 + N requests. What this saves is
// moby/ipvs's cost per request (a 64 KiB receive buffer allocated per
// read, attribute slices, a watchdog per call): most of a resync's CPU at
// 1,000 services in the VM profile.

const (
	ipvsCmdGetService = 4
	ipvsCmdGetDest    = 8

	ipvsSvcAttrStats     = 10
	ipvsDestAttrActive   = 7
	ipvsDestAttrInactive = 8
	ipvsDestAttrStats    = 10
	ipvsDestAttrAF       = 11

	ipvsStatsConns    = 1
	ipvsStatsPktsIn   = 2
	ipvsStatsPktsOut  = 3
	ipvsStatsBytesIn  = 4
	ipvsStatsBytesOut = 5

	nlaTypeMask = ^uint16(unix.NLA_F_NESTED | unix.NLA_F_NET_BYTEORDER)
)

// dumper is one netlink socket for the dumps of one table read.
type dumper struct {
	fd      int
	fam     uint16
	seq     uint32
	buf     []byte
	timeout time.Duration
}

func openDumper(fam uint16, timeout time.Duration) (*dumper, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_GENERIC)
	if err != nil {
		return nil, fmt.Errorf("ipvs: netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("ipvs: netlink socket: %w", err)
	}
	// the kernel sizes a dump's datagrams by the reader's buffer (as
	// moby's 64 KiB): fewer, fuller reads
	return &dumper{fd: fd, fam: fam, seq: 1, buf: make([]byte, 64<<10), timeout: timeout}, nil
}

func (d *dumper) close() { unix.Close(d.fd) }

// dump sends one dump request (cmd, with the service identity of s when
// not nil) and calls each with the attributes of every message of the
// answer, until its end.
func (d *dumper) dump(cmd uint8, s *Service, proto uint16, each func(attrs []byte) error) error {
	seq := d.seq
	d.seq++
	req := make([]byte, 0, 64)
	req = binary.NativeEndian.AppendUint32(req, 0)
	req = binary.NativeEndian.AppendUint16(req, d.fam)
	req = binary.NativeEndian.AppendUint16(req, unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	req = binary.NativeEndian.AppendUint32(req, seq)
	req = binary.NativeEndian.AppendUint32(req, 0)
	req = append(req, cmd, ipvsGenlVersion, 0, 0)
	if s != nil {
		nest := len(req)
		req = attrHeader(req, ipvsCmdAttrService, 0)
		af := uint16(unix.AF_INET)
		if s.Family == 6 {
			af = unix.AF_INET6
		}
		req = attrU16(req, ipvsSvcAttrAF, af)
		if s.FWMark != 0 {
			req = attrU32(req, ipvsSvcAttrFWMark, s.FWMark)
		} else {
			req = attrU16(req, ipvsSvcAttrProtocol, proto)
			req = attrAddr(req, ipvsSvcAttrAddr, s.Addr)
			req = attrBE16(req, ipvsSvcAttrPort, s.Port)
		}
		endNest(req, nest)
	}
	binary.NativeEndian.PutUint32(req, uint32(len(req)))
	for {
		err := unix.Sendto(d.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return fmt.Errorf("netlink send: %w", err)
		}
		break
	}
	deadline := time.Now().Add(d.timeout)
	for {
		if time.Now().After(deadline) {
			return fmt.Errorf("netlink call timed out after %s", d.timeout)
		}
		n, _, err := unix.Recvfrom(d.fd, d.buf, unix.MSG_DONTWAIT)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			left := time.Until(deadline)
			if left <= 0 {
				return fmt.Errorf("netlink call timed out after %s", d.timeout)
			}
			unix.Poll([]unix.PollFd{{Fd: int32(d.fd), Events: unix.POLLIN}}, int(left/time.Millisecond)+1) //nolint:errcheck // the next read tells
			continue
		case err != nil:
			return fmt.Errorf("netlink receive: %w", err)
		}
		b := d.buf[:n]
		for len(b) >= unix.NLMSG_HDRLEN {
			l := int(binary.NativeEndian.Uint32(b))
			if l < unix.NLMSG_HDRLEN || l > len(b) {
				return fmt.Errorf("netlink receive: bad message length %d of %d", l, len(b))
			}
			typ, mseq := binary.NativeEndian.Uint16(b[4:]), binary.NativeEndian.Uint32(b[8:])
			msg := b[unix.NLMSG_HDRLEN:l]
			b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
			if mseq != seq {
				continue // a late answer to an earlier request
			}
			switch typ {
			case unix.NLMSG_DONE:
				return nil
			case unix.NLMSG_ERROR:
				if len(msg) >= 4 {
					if code := int32(binary.NativeEndian.Uint32(msg)); code != 0 {
						return syscall.Errno(-code)
					}
				}
				return nil
			case d.fam:
				if len(msg) < 4 {
					return errors.New("netlink receive: short generic netlink message")
				}
				if err := each(msg[4:]); err != nil {
					return err
				}
			}
		}
	}
}

// eachAttr calls f with the type and value of each attribute of b.
func eachAttr(b []byte, f func(typ uint16, v []byte)) {
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			return
		}
		f(binary.NativeEndian.Uint16(b[2:])&nlaTypeMask, b[4:l])
		b = b[min(len(b), (l+3)&^3):]
	}
}

func u16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.NativeEndian.Uint16(v)
}

func u32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(v)
}

func u64(v []byte) uint64 {
	if len(v) < 8 {
		return 0
	}
	return binary.NativeEndian.Uint64(v)
}

// attrDecoders decode attributes into a T, indexed by attribute type;
// a type without one (or beyond the table: a newer kernel's) is skipped.
// Services, reals and their counters are read with this one shape.
type attrDecoders[T any] []func(x *T, v []byte)

// decodeAttrs decodes each attribute of b into x.
func decodeAttrs[T any](b []byte, x *T, dec attrDecoders[T]) {
	eachAttr(b, func(typ uint16, v []byte) {
		if int(typ) < len(dec) && dec[typ] != nil {
			dec[typ](x, v)
		}
	})
}

// decodeNest decodes the attributes nested in msg's attribute outer
// (IPVS_CMD_ATTR_SERVICE, IPVS_CMD_ATTR_DEST) into x.
func decodeNest[T any](msg []byte, outer uint16, x *T, dec attrDecoders[T]) {
	eachAttr(msg, func(typ uint16, v []byte) {
		if typ == outer {
			decodeAttrs(v, x, dec)
		}
	})
}

func be16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.BigEndian.Uint16(v)
}

// statsAttrs are IPVS_*_ATTR_STATS (the 32-bit counters, as moby reads them).
var statsAttrs = attrDecoders[Stats]{
	ipvsStatsConns:    func(s *Stats, v []byte) { s.Conns = uint64(u32(v)) },
	ipvsStatsPktsIn:   func(s *Stats, v []byte) { s.PktsIn = uint64(u32(v)) },
	ipvsStatsPktsOut:  func(s *Stats, v []byte) { s.PktsOut = uint64(u32(v)) },
	ipvsStatsBytesIn:  func(s *Stats, v []byte) { s.BytesIn = u64(v) },
	ipvsStatsBytesOut: func(s *Stats, v []byte) { s.BytesOut = u64(v) },
}

func stats32(b []byte) (s Stats) {
	decodeAttrs(b, &s, statsAttrs)
	return s
}

// addrOf is an nf_inet_addr of family af (AF_INET: its first 4 bytes).
func addrOf(v []byte, af uint16) (netip.Addr, bool) {
	switch {
	case af == unix.AF_INET && len(v) >= 4:
		return netip.AddrFrom4([4]byte(v[:4])), true
	case af == unix.AF_INET6 && len(v) >= 16:
		return netip.AddrFrom16([16]byte(v[:16])).Unmap(), true
	}
	return netip.Addr{}, false
}

// svcMsg is a service being decoded, with what is resolved after its
// attributes (the family decides how the address and netmask read).
type svcMsg struct {
	s         Service
	af, proto uint16
	addr      []byte
	mask      uint32
}

var svcAttrs = attrDecoders[svcMsg]{
	ipvsSvcAttrAF:       func(m *svcMsg, v []byte) { m.af = u16(v) },
	ipvsSvcAttrProtocol: func(m *svcMsg, v []byte) { m.proto = u16(v) },
	ipvsSvcAttrAddr:     func(m *svcMsg, v []byte) { m.addr = v },
	ipvsSvcAttrPort: func(m *svcMsg, v []byte) {
		if len(v) >= 2 {
			m.s.Port = be16(v)
		}
	},
	ipvsSvcAttrFWMark:  func(m *svcMsg, v []byte) { m.s.FWMark = u32(v) },
	ipvsSvcAttrSched:   func(m *svcMsg, v []byte) { m.s.Scheduler = cString(v) },
	ipvsSvcAttrFlags:   func(m *svcMsg, v []byte) { m.s.Flags = u32(v) & UserFlags },
	ipvsSvcAttrTimeout: func(m *svcMsg, v []byte) { m.s.Timeout = u32(v) },
	ipvsSvcAttrNetmask: func(m *svcMsg, v []byte) { m.mask = u32(v) },
	ipvsSvcAttrPEName:  func(m *svcMsg, v []byte) { m.s.PE = cString(v) },
	ipvsSvcAttrStats:   func(m *svcMsg, v []byte) { m.s.Stats = stats32(v) },
}

// parseService decodes one IPVS_CMD_ATTR_SERVICE as fromMoby does; proto
// is its protocol number.
func parseService(msg []byte) (Service, uint16, error) {
	var m svcMsg
	decodeNest(msg, ipvsCmdAttrService, &m, svcAttrs)
	s := m.s
	s.Family = 4
	if m.af == unix.AF_INET6 {
		s.Family = 6
	}
	s.Netmask = netmaskBits(s.Family, m.mask)
	if s.FWMark == 0 {
		s.Protocol = protoName(m.proto)
		a, ok := addrOf(m.addr, m.af)
		if !ok {
			return s, m.proto, fmt.Errorf("ipvs: service with bad address %v", m.addr)
		}
		s.Addr = a
	} else {
		s.Port = 0
	}
	return s, m.proto, nil
}

// destMsg is a real being decoded (its family: its own attribute, else
// the service's).
type destMsg struct {
	d    Dest
	af   uint16
	addr []byte
}

var destAttrs = attrDecoders[destMsg]{
	ipvsDestAttrAF:   func(m *destMsg, v []byte) { m.af = u16(v) },
	ipvsDestAttrAddr: func(m *destMsg, v []byte) { m.addr = v },
	ipvsDestAttrPort: func(m *destMsg, v []byte) {
		if len(v) >= 2 {
			m.d.Port = be16(v)
		}
	},
	ipvsDestAttrFwd:      func(m *destMsg, v []byte) { m.d.Fwd = u32(v) & FwdMask },
	ipvsDestAttrWeight:   func(m *destMsg, v []byte) { m.d.Weight = int(u16(v)) }, // as moby reads it
	ipvsDestAttrUThresh:  func(m *destMsg, v []byte) { m.d.Upper = u32(v) },
	ipvsDestAttrLThresh:  func(m *destMsg, v []byte) { m.d.Lower = u32(v) },
	ipvsDestAttrActive:   func(m *destMsg, v []byte) { m.d.Active = int(u32(v)) },
	ipvsDestAttrInactive: func(m *destMsg, v []byte) { m.d.Inactive = int(u32(v)) },
	ipvsDestAttrStats:    func(m *destMsg, v []byte) { m.d.Stats = stats32(v) },
}

// parseDest decodes one IPVS_CMD_ATTR_DEST (its family: its own
// attribute, else the service's).
func parseDest(msg []byte, svcAF uint16) (Dest, error) {
	m := destMsg{af: svcAF}
	decodeNest(msg, ipvsCmdAttrDest, &m, destAttrs)
	a, ok := addrOf(m.addr, m.af)
	if !ok {
		return m.d, fmt.Errorf("ipvs: real with bad address %v", m.addr)
	}
	m.d.Addr = a
	return m.d, nil
}

func cString(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

func protoName(p uint16) string {
	for name, num := range protoNum {
		if num == p {
			return name
		}
	}
	return fmt.Sprintf("proto%d", p)
}

func (n *Netlink) countRead() {
	n.mu.Lock()
	n.reads++
	n.mu.Unlock()
}

// dumpServices is the table read of Services (n.mu taken only to count).
func (n *Netlink) dumpServices(timeout time.Duration) ([]Service, error) {
	fam, err := ipvsFamilyID()
	if err != nil {
		return nil, err
	}
	d, err := openDumper(fam, timeout)
	if err != nil {
		return nil, err
	}
	defer d.close()
	var out []Service
	var protos []uint16
	n.countRead()
	if err := d.dump(ipvsCmdGetService, nil, 0, func(msg []byte) error {
		s, proto, err := parseService(msg)
		out = append(out, s)
		protos = append(protos, proto)
		return err
	}); err != nil {
		return nil, fmt.Errorf("ipvs: list services: %w", err)
	}
	for i := range out {
		s := &out[i]
		af := uint16(unix.AF_INET)
		if s.Family == 6 {
			af = unix.AF_INET6
		}
		n.countRead()
		if err := d.dump(ipvsCmdGetDest, s, protos[i], func(msg []byte) error {
			x, err := parseDest(msg, af)
			s.Dests = append(s.Dests, x)
			return err
		}); err != nil {
			return nil, fmt.Errorf("ipvs: list reals of %s: %w", s.Key(), err)
		}
	}
	return out, nil
}
