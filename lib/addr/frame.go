package addr

import (
	"encoding/binary"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
)

// Ethernet types.
const (
	EtherTypeARP  = 0x0806
	EtherTypeIPv6 = 0x86dd
)

// ARP operations.
const (
	ARPRequest = 1
	ARPReply   = 2
)

var broadcastMAC = net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

func ethHeader(dst, src net.HardwareAddr, typ uint16) []byte {
	b := make([]byte, 14, 64)
	copy(b[0:6], dst)
	copy(b[6:12], src)
	binary.BigEndian.PutUint16(b[12:14], typ)
	return b
}

// ARPFrame builds an Ethernet frame carrying one ARP packet to the
// broadcast MAC, from mac.
func ARPFrame(op uint16, mac net.HardwareAddr, spa netip.Addr, tha net.HardwareAddr, tpa netip.Addr) []byte {
	b := ethHeader(broadcastMAC, mac, EtherTypeARP)
	var a [28]byte
	binary.BigEndian.PutUint16(a[0:2], 1)      // hardware: Ethernet
	binary.BigEndian.PutUint16(a[2:4], 0x0800) // protocol: IPv4
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], op)
	copy(a[8:14], mac)
	s := spa.As4()
	copy(a[14:18], s[:])
	copy(a[18:24], tha)
	t := tpa.As4()
	copy(a[24:28], t[:])
	return append(b, a[:]...)
}

// GratuitousARP returns the request/reply pair that announces ip at mac,
// byte for byte what resource-agents' send_arp puts on the wire: a request
// (sender = target = ip, target MAC zero) then a reply (target MAC = mac),
// both to the broadcast MAC.
func GratuitousARP(mac net.HardwareAddr, ip netip.Addr) (request, reply []byte) {
	request = ARPFrame(ARPRequest, mac, ip, make(net.HardwareAddr, 6), ip)
	reply = ARPFrame(ARPReply, mac, ip, mac, ip)
	return request, reply
}

// ARPProbe returns an RFC 5227 probe for ip (sender address 0.0.0.0), the
// duplicate address check arping -D makes.
func ARPProbe(mac net.HardwareAddr, ip netip.Addr) []byte {
	return ARPFrame(ARPRequest, mac, netip.IPv4Unspecified(), make(net.HardwareAddr, 6), ip)
}

// ARP is a parsed ARP packet (Ethernet/IPv4 only).
type ARP struct {
	Op       uint16
	SHA, THA net.HardwareAddr
	SPA, TPA netip.Addr
}

// ParseARP parses an Ethernet frame holding an ARP packet.
func ParseARP(frame []byte) (ARP, error) {
	if len(frame) < 14+28 || binary.BigEndian.Uint16(frame[12:14]) != EtherTypeARP {
		return ARP{}, fmt.Errorf("not an ARP frame")
	}
	a := frame[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != 0x0800 || a[4] != 6 || a[5] != 4 {
		return ARP{}, fmt.Errorf("not Ethernet/IPv4 ARP")
	}
	return ARP{
		Op:  binary.BigEndian.Uint16(a[6:8]),
		SHA: net.HardwareAddr(append([]byte(nil), a[8:14]...)),
		SPA: netip.AddrFrom4([4]byte(a[14:18])),
		THA: net.HardwareAddr(append([]byte(nil), a[18:24]...)),
		TPA: netip.AddrFrom4([4]byte(a[24:28])),
	}, nil
}

var allNodes = netip.MustParseAddr("ff02::1")

// NAMessage returns the ICMPv6 unsolicited Neighbor Advertisement for ip
// at mac (override flag, target link-layer address option), with its
// checksum computed for src -> dst.
func NAMessage(mac net.HardwareAddr, ip, src, dst netip.Addr) ([]byte, error) {
	body := make([]byte, 4+16+8)
	body[0] = 0x20 // flags: Override (not Router, not Solicited)
	t := ip.As16()
	copy(body[4:20], t[:])
	body[20], body[21] = 2, 1 // option: target link-layer address, 1 x 8 bytes
	copy(body[22:28], mac)
	m := icmp.Message{Type: ipv6.ICMPTypeNeighborAdvertisement, Body: &icmp.RawBody{Data: body}}
	s, d := src.As16(), dst.As16()
	return m.Marshal(icmp.IPv6PseudoHeader(s[:], d[:]))
}

// NAFrame builds the Ethernet frame of an unsolicited Neighbor
// Advertisement of ip at mac, from ip to all-nodes ff02::1 (MAC
// 33:33:00:00:00:01), hop limit 255 as RFC 4861 requires, flow label 0.
// It is what resource-agents' send_ua sends, as one raw frame, so that it
// does not depend on the address being usable as a source yet.
func NAFrame(mac net.HardwareAddr, ip netip.Addr) ([]byte, error) {
	msg, err := NAMessage(mac, ip, ip, allNodes)
	if err != nil {
		return nil, err
	}
	b := ethHeader(net.HardwareAddr{0x33, 0x33, 0, 0, 0, 1}, mac, EtherTypeIPv6)
	var h [40]byte
	h[0] = 6 << 4
	binary.BigEndian.PutUint16(h[4:6], uint16(len(msg)))
	h[6] = 58 // next header: ICMPv6
	h[7] = 255
	s, d := ip.As16(), allNodes.As16()
	copy(h[8:24], s[:])
	copy(h[24:40], d[:])
	b = append(b, h[:]...)
	return append(b, msg...), nil
}
