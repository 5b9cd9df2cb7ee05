package ipvs

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"syscall"
	"time"

	"github.com/vishvananda/netlink/nl"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// The kernel's IPVS connection-sync daemon (ipvsadm --start-daemon):
// the master multicasts the connection entries of this director, a backup
// receives them into its own table, so that a director taking over knows
// the connections in flight (with DR they go on without a reset).
// moby/ipvs has no call for it; these are the generic netlink commands
// IPVS_CMD_NEW_DAEMON / DEL_DAEMON / GET_DAEMON of include/uapi/linux/ip_vs.h.

// SyncRole is the role of a sync daemon: the kernel runs at most one
// master and one backup per network namespace.
type SyncRole int

// The roles, with the kernel's IP_VS_STATE_* values.
const (
	SyncMaster SyncRole = 1
	SyncBackup SyncRole = 2
)

func (r SyncRole) String() string {
	switch r {
	case SyncMaster:
		return "master"
	case SyncBackup:
		return "backup"
	}
	return fmt.Sprintf("role(%d)", int(r))
}

// SyncConfig is what a sync daemon is started with. Zero values are the
// kernel's defaults (maxlen from the MTU, port 8848, TTL 1, group
// 224.0.0.81); they need Linux 4.3 or later.
type SyncConfig struct {
	Interface string // multicast interface (mandatory)
	SyncID    uint8  // only entries of this sync id are taken by a backup
	MaxLen    uint16 // UDP payload size
	Port      uint16 // UDP port
	TTL       uint8  // multicast TTL
	Group     netip.Addr
}

// SyncDaemon is one running sync daemon, as the kernel reports it.
type SyncDaemon struct {
	Role SyncRole
	SyncConfig
}

func (d SyncDaemon) String() string {
	s := fmt.Sprintf("%s sync daemon (mcast=%s, syncid=%d", d.Role, d.Interface, d.SyncID)
	if d.MaxLen != 0 {
		s += fmt.Sprintf(", maxlen=%d", d.MaxLen)
	}
	if d.Group.IsValid() {
		s += fmt.Sprintf(", group=%s", d.Group)
	}
	if d.Port != 0 {
		s += fmt.Sprintf(", port=%d", d.Port)
	}
	if d.TTL != 0 {
		s += fmt.Sprintf(", ttl=%d", d.TTL)
	}
	return s + ")"
}

const (
	ipvsCmdNewDaemon  = 9
	ipvsCmdDelDaemon  = 10
	ipvsCmdGetDaemon  = 11
	ipvsCmdAttrDaemon = 3

	ipvsDaemonAttrState   = 1
	ipvsDaemonAttrIfname  = 2
	ipvsDaemonAttrSyncID  = 3
	ipvsDaemonAttrMaxLen  = 4
	ipvsDaemonAttrGroup   = 5
	ipvsDaemonAttrGroup6  = 6
	ipvsDaemonAttrPort    = 7
	ipvsDaemonAttrTTL     = 8
	ipvsIfnameMax         = 16 // IP_VS_IFNAME_MAXLEN, with the NUL
	ipvsSyncDaemonTimeout = DefaultTimeout
)

// ErrSyncRunning is returned by StartSyncDaemon when a daemon of that
// role already runs (EEXIST); SyncDaemons tells with what settings.
var ErrSyncRunning = errors.New("a sync daemon of that role is already running")

// ErrSyncNotRunning is returned by StopSyncDaemon when no daemon of that
// role runs (ESRCH).
var ErrSyncNotRunning = errors.New("no sync daemon of that role is running")

// Check reports what the kernel would refuse before it is asked.
func (c SyncConfig) Check() error {
	if c.Interface == "" {
		return errors.New("sync daemon: no interface")
	}
	if len(c.Interface) >= ipvsIfnameMax {
		return fmt.Errorf("sync daemon: interface name %q too long (at most %d characters)", c.Interface, ipvsIfnameMax-1)
	}
	if c.Group.IsValid() && !c.Group.Unmap().IsMulticast() {
		return fmt.Errorf("sync daemon: group %s is not a multicast address", c.Group)
	}
	return nil
}

// StartSyncDaemon starts the kernel's sync daemon in role r.
func StartSyncDaemon(r SyncRole, c SyncConfig) error {
	if err := c.Check(); err != nil {
		return err
	}
	err := syncCall(appendDaemonMsg(nil, 0, 1, ipvsCmdNewDaemon, r, &c), nil)
	if errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("ipvs: start %s sync daemon: %w", r, ErrSyncRunning)
	}
	if err != nil {
		return fmt.Errorf("ipvs: start %s sync daemon on %s: %w", r, c.Interface, err)
	}
	return nil
}

// StopSyncDaemon stops the sync daemon of role r.
func StopSyncDaemon(r SyncRole) error {
	err := syncCall(appendDaemonMsg(nil, 0, 1, ipvsCmdDelDaemon, r, nil), nil)
	if errors.Is(err, unix.ESRCH) {
		return fmt.Errorf("ipvs: stop %s sync daemon: %w", r, ErrSyncNotRunning)
	}
	if err != nil {
		return fmt.Errorf("ipvs: stop %s sync daemon: %w", r, err)
	}
	return nil
}

// SyncDaemons lists the running sync daemons (ipvsadm -L --daemon).
func SyncDaemons() ([]SyncDaemon, error) {
	var out []SyncDaemon
	err := syncCall(appendDaemonMsg(nil, 0, 1, ipvsCmdGetDaemon, 0, nil), func(b []byte) error {
		d, err := parseDaemon(b)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("ipvs: list sync daemons: %w", err)
	}
	return out, nil
}

// appendDaemonMsg appends one IPVS daemon command; family 0 is filled by
// syncCall. GET is a dump; NEW carries the whole config, DEL the role
// only; r 0 sends no daemon attribute.
func appendDaemonMsg(b []byte, family uint16, seq uint32, cmd uint8, r SyncRole, c *SyncConfig) []byte {
	start := len(b)
	flags := uint16(unix.NLM_F_REQUEST | unix.NLM_F_ACK)
	if cmd == ipvsCmdGetDaemon {
		flags = unix.NLM_F_REQUEST | unix.NLM_F_DUMP
	}
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = binary.NativeEndian.AppendUint16(b, family)
	b = binary.NativeEndian.AppendUint16(b, flags)
	b = binary.NativeEndian.AppendUint32(b, seq)
	b = binary.NativeEndian.AppendUint32(b, 0)
	b = append(b, cmd, ipvsGenlVersion, 0, 0)
	if r != 0 {
		nest := len(b)
		b = attrHeader(b, ipvsCmdAttrDaemon, 0)
		b = attrU32(b, ipvsDaemonAttrState, uint32(r))
		if c != nil {
			b = attrString(b, ipvsDaemonAttrIfname, c.Interface)
			b = attrU32(b, ipvsDaemonAttrSyncID, uint32(c.SyncID))
			if c.MaxLen != 0 {
				b = attrU16(b, ipvsDaemonAttrMaxLen, c.MaxLen)
			}
			if g := c.Group.Unmap(); g.Is4() {
				b = attrAddr(b, ipvsDaemonAttrGroup, g)
			} else if g.Is6() {
				b = attrAddr(b, ipvsDaemonAttrGroup6, g)
			}
			if c.Port != 0 {
				// A u16 in host order (ipvsadm sends it so; the
				// kernel converts), unlike a service's port.
				b = attrU16(b, ipvsDaemonAttrPort, c.Port)
			}
			if c.TTL != 0 {
				b = attrHeader(b, ipvsDaemonAttrTTL, 1)
				b = append(b, c.TTL, 0, 0, 0)
			}
		}
		endNest(b, nest)
	}
	binary.NativeEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}

// parseDaemon reads one GET_DAEMON answer: the generic netlink header,
// then IPVS_CMD_ATTR_DAEMON. It never panics on a short or odd message.
func parseDaemon(b []byte) (SyncDaemon, error) {
	var d SyncDaemon
	if len(b) < 4 {
		return d, errors.New("short generic netlink message")
	}
	var nest []byte
	for _, a := range attrs(b[4:]) {
		if a.typ&0x3fff == ipvsCmdAttrDaemon {
			nest = a.val
		}
	}
	if nest == nil {
		return d, errors.New("no daemon attribute")
	}
	for _, a := range attrs(nest) {
		v := a.val
		switch a.typ & 0x3fff {
		case ipvsDaemonAttrState:
			if len(v) >= 4 {
				d.Role = SyncRole(binary.NativeEndian.Uint32(v))
			}
		case ipvsDaemonAttrIfname:
			for i, c := range v {
				if c == 0 {
					v = v[:i]
					break
				}
			}
			d.Interface = string(v)
		case ipvsDaemonAttrSyncID:
			if len(v) >= 4 {
				d.SyncID = uint8(binary.NativeEndian.Uint32(v))
			}
		case ipvsDaemonAttrMaxLen:
			if len(v) >= 2 {
				d.MaxLen = binary.NativeEndian.Uint16(v)
			}
		case ipvsDaemonAttrPort:
			if len(v) >= 2 {
				d.Port = binary.NativeEndian.Uint16(v)
			}
		case ipvsDaemonAttrTTL:
			if len(v) >= 1 {
				d.TTL = v[0]
			}
		case ipvsDaemonAttrGroup:
			if len(v) >= 4 {
				d.Group = netip.AddrFrom4([4]byte(v[:4]))
			}
		case ipvsDaemonAttrGroup6:
			if len(v) >= 16 {
				d.Group = netip.AddrFrom16([16]byte(v[:16]))
			}
		}
	}
	if d.Role != SyncMaster && d.Role != SyncBackup {
		return d, fmt.Errorf("unknown sync daemon state %d", int(d.Role))
	}
	return d, nil
}

type nlAttr struct {
	typ uint16
	val []byte
}

// attrs splits a run of netlink attributes; a malformed tail ends it.
func attrs(b []byte) []nlAttr {
	var out []nlAttr
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		if l < 4 || l > len(b) {
			break
		}
		out = append(out, nlAttr{binary.NativeEndian.Uint16(b[2:]), b[4:l]})
		b = b[min(len(b), (l+3)&^3):]
	}
	return out
}

// syncCall sends one message on a socket of its own and reads the answer
// until its ack (or, for a dump, NLMSG_DONE), each data message's
// payload handed to each; bounded by the default timeout. The commands
// are rare (a VRRP transition), so no socket is kept.
func syncCall(msg []byte, each func([]byte) error) error {
	if !ipvsPresent() { // VRRP-only mode has opened nothing that loaded ip_vs
		return ErrNoIPVS
	}
	fam, err := ipvsFamilyID()
	if err != nil {
		return err
	}
	binary.NativeEndian.PutUint16(msg[4:], fam)
	sock, err := nl.GetNetlinkSocketAt(netns.None(), netns.None(), unix.NETLINK_GENERIC)
	if err != nil {
		return fmt.Errorf("netlink socket: %w", err)
	}
	defer sock.Close()
	fd := sock.GetFd()
	tv := unix.NsecToTimeval(int64(ipvsSyncDaemonTimeout))
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv) //nolint:errcheck // a read then waits longer
	for {
		err = unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("netlink send: %w", err)
	}
	seq := binary.NativeEndian.Uint32(msg[8:])
	rbuf := make([]byte, 16<<10)
	deadline := time.Now().Add(ipvsSyncDaemonTimeout)
	for {
		n, _, err := unix.Recvfrom(fd, rbuf, 0)
		if err == unix.EINTR {
			continue
		}
		if err == unix.EAGAIN || time.Now().After(deadline) {
			return fmt.Errorf("netlink call timed out after %s", ipvsSyncDaemonTimeout)
		}
		if err != nil {
			return fmt.Errorf("netlink receive: %w", err)
		}
		done, err := syncAnswer(rbuf[:n], seq, each)
		if done || err != nil {
			return err
		}
	}
}

// syncAnswer reads one datagram of answers to seq: done at the ack, an
// error ack or NLMSG_DONE.
func syncAnswer(b []byte, seq uint32, each func([]byte) error) (bool, error) {
	for len(b) >= unix.NLMSG_HDRLEN {
		l := int(binary.NativeEndian.Uint32(b))
		if l < unix.NLMSG_HDRLEN || l > len(b) {
			return true, fmt.Errorf("netlink receive: bad message length %d of %d", l, len(b))
		}
		typ := binary.NativeEndian.Uint16(b[4:])
		if binary.NativeEndian.Uint32(b[8:]) == seq {
			body := b[unix.NLMSG_HDRLEN:l]
			switch typ {
			case unix.NLMSG_ERROR:
				if len(body) < 4 {
					return true, errors.New("netlink receive: short error message")
				}
				if code := int32(binary.NativeEndian.Uint32(body)); code != 0 {
					return true, syscall.Errno(-code)
				}
				return true, nil
			case unix.NLMSG_DONE:
				return true, nil
			default:
				if each != nil {
					if err := each(body); err != nil {
						return true, err
					}
				}
			}
		}
		b = b[min(len(b), (l+unix.NLMSG_ALIGNTO-1)&^(unix.NLMSG_ALIGNTO-1)):]
	}
	return false, nil
}
