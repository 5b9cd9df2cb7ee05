package addr

import (
	"encoding/binary"
	"fmt"
	"net/netip"

	"github.com/vishvananda/netlink/nl"
	"golang.org/x/sys/unix"
)

// ifAddrLblMsg is struct ifaddrlblmsg (linux/if_addrlabel.h); the netlink
// library has no address-label support, so the request is built here.
type ifAddrLblMsg struct {
	family, prefixLen uint8
}

func (m ifAddrLblMsg) Len() int { return 12 }

func (m ifAddrLblMsg) Serialize() []byte {
	b := make([]byte, 12) // family, reserved, prefixlen, flags, ifindex u32, seq u32
	b[0], b[2] = m.family, m.prefixLen
	return b
}

func addrLabel(op int, flags int, p netip.Prefix, label uint32) error {
	if !p.Addr().Is6() {
		return fmt.Errorf("address labels are IPv6 only: %s", p)
	}
	req := nl.NewNetlinkRequest(op, flags|unix.NLM_F_ACK)
	req.AddData(ifAddrLblMsg{family: unix.AF_INET6, prefixLen: uint8(p.Bits())})
	a := p.Addr().As16()
	req.AddData(nl.NewRtAttr(unix.IFAL_ADDRESS, a[:]))
	l := make([]byte, 4)
	binary.NativeEndian.PutUint32(l, label)
	req.AddData(nl.NewRtAttr(unix.IFAL_LABEL, l))
	_, err := req.Execute(unix.NETLINK_ROUTE, 0)
	return err
}

// AddLabel adds an IPv6 address-selection policy label for p (`ip
// addrlabel add prefix P label N`): LVS-DR directors use it so that the VIP
// is not chosen as the source of their own traffic (RFC 6724).
func AddLabel(p netip.Prefix, label uint32) error {
	if err := addrLabel(unix.RTM_NEWADDRLABEL, unix.NLM_F_CREATE|unix.NLM_F_EXCL, p, label); err != nil {
		return fmt.Errorf("adding address label %d for %s: %w", label, p, err)
	}
	return nil
}

// DelLabel removes what AddLabel added (`ip addrlabel del`).
func DelLabel(p netip.Prefix, label uint32) error {
	if err := addrLabel(unix.RTM_DELADDRLABEL, 0, p, label); err != nil {
		return fmt.Errorf("removing address label %d for %s: %w", label, p, err)
	}
	return nil
}
