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

// stats32 are IPVS_*_ATTR_STATS (the 32-bit counters, as moby reads them).
func stats32(b []byte) Stats {
	var s Stats
	eachAttr(b, func(typ uint16, v []byte) {
		switch typ {
		case ipvsStatsConns:
			s.Conns = uint64(u32(v))
		case ipvsStatsPktsIn:
			s.PktsIn = uint64(u32(v))
		case ipvsStatsPktsOut:
			s.PktsOut = uint64(u32(v))
		case ipvsStatsBytesIn:
			s.BytesIn = u64(v)
		case ipvsStatsBytesOut:
			s.BytesOut = u64(v)
		}
	})
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

// parseService decodes one IPVS_CMD_ATTR_SERVICE as fromMoby does; proto
// is its protocol number.
func parseService(msg []byte) (s Service, proto uint16, err error) {
	var af uint16
	var addr []byte
	var mask uint32
	eachAttr(msg, func(typ uint16, v []byte) {
		if typ != ipvsCmdAttrService {
			return
		}
		eachAttr(v, func(typ uint16, v []byte) {
			switch typ {
			case ipvsSvcAttrAF:
				af = u16(v)
			case ipvsSvcAttrProtocol:
				proto = u16(v)
			case ipvsSvcAttrAddr:
				addr = v
			case ipvsSvcAttrPort:
				if len(v) >= 2 {
					s.Port = binary.BigEndian.Uint16(v)
				}
			case ipvsSvcAttrFWMark:
				s.FWMark = u32(v)
			case ipvsSvcAttrSched:
				s.Scheduler = cString(v)
			case ipvsSvcAttrFlags:
				s.Flags = u32(v) & UserFlags
			case ipvsSvcAttrTimeout:
				s.Timeout = u32(v)
			case ipvsSvcAttrNetmask:
				mask = u32(v)
			case ipvsSvcAttrPEName:
				s.PE = cString(v)
			case ipvsSvcAttrStats:
				s.Stats = stats32(v)
			}
		})
	})
	s.Family = 4
	if af == unix.AF_INET6 {
		s.Family = 6
	}
	s.Netmask = netmaskBits(s.Family, mask)
	if s.FWMark == 0 {
		s.Protocol = protoName(proto)
		a, ok := addrOf(addr, af)
		if !ok {
			return s, proto, fmt.Errorf("ipvs: service with bad address %v", addr)
		}
		s.Addr = a
	} else {
		s.Port = 0
	}
	return s, proto, nil
}

// parseDest decodes one IPVS_CMD_ATTR_DEST (its family: its own
// attribute, else the service's).
func parseDest(msg []byte, svcAF uint16) (Dest, error) {
	var d Dest
	af := svcAF
	var addr []byte
	eachAttr(msg, func(typ uint16, v []byte) {
		if typ != ipvsCmdAttrDest {
			return
		}
		eachAttr(v, func(typ uint16, v []byte) {
			switch typ {
			case ipvsDestAttrAF:
				af = u16(v)
			case ipvsDestAttrAddr:
				addr = v
			case ipvsDestAttrPort:
				if len(v) >= 2 {
					d.Port = binary.BigEndian.Uint16(v)
				}
			case ipvsDestAttrFwd:
				d.Fwd = u32(v) & FwdMask
			case ipvsDestAttrWeight:
				d.Weight = int(u16(v)) // as moby reads it
			case ipvsDestAttrUThresh:
				d.Upper = u32(v)
			case ipvsDestAttrLThresh:
				d.Lower = u32(v)
			case ipvsDestAttrActive:
				d.Active = int(u32(v))
			case ipvsDestAttrInactive:
				d.Inactive = int(u32(v))
			case ipvsDestAttrStats:
				d.Stats = stats32(v)
			}
		})
	})
	a, ok := addrOf(addr, af)
	if !ok {
		return d, fmt.Errorf("ipvs: real with bad address %v", addr)
	}
	d.Addr = a
	return d, nil
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

// dumpServices is the table read of Services (the caller holds n.mu).
func (n *Netlink) dumpServices() ([]Service, error) {
	fam, err := ipvsFamilyID()
	if err != nil {
		return nil, err
	}
	d, err := openDumper(fam, n.Timeout)
	if err != nil {
		return nil, err
	}
	defer d.close()
	var out []Service
	var protos []uint16
	n.reads++
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
		n.reads++
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
