package vrrp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Wire constants (RFC 3768 section 5, RFC 9568 section 5).
const (
	TTL           = 255 // TTL / hop limit of every multicast advert
	TypeAdvert    = 1   // the only packet type
	PriorityOwner = 255 // the address owner
	PriorityStop  = 0   // "I am stopping": backups take over after the skew only

	headerLen = 8
	authLen   = 8 // v2 authentication data
)

// AuthType is the v2 authentication type (RFC 2338 5.3.6; RFC 3768 keeps
// the field and deprecates both methods, keepalived still speaks PASS).
type AuthType uint8

const (
	AuthNone AuthType = 0
	AuthPass AuthType = 1 // 8 bytes of cleartext password, zero padded
	AuthAH   AuthType = 2 // IPsec AH: refused here (not a VRRP payload)
)

func (t AuthType) String() string {
	switch t {
	case AuthNone:
		return "none"
	case AuthPass:
		return "PASS"
	case AuthAH:
		return "AH"
	}
	return fmt.Sprintf("auth%d", uint8(t))
}

// Password returns the 8 bytes of v2 PASS data for s, as keepalived stores
// auth_pass: the first 8 bytes, zero padded.
func Password(s string) [8]byte {
	var p [8]byte
	copy(p[:], s)
	return p
}

// Advert is one VRRP advertisement as fields.
type Advert struct {
	Version  int           // 2 or 3
	Type     int           // TypeAdvert (Decode reports what it read)
	VRID     uint8         // 1-255
	Priority uint8         // 0 stop, 1-254, 255 owner
	Interval time.Duration // v2: whole seconds 1-255; v3: centiseconds 1-4095 (max advert interval)
	Addrs    []netip.Addr  // the virtual addresses, all of one family
	Auth     AuthType      // v2 only
	AuthData [8]byte       // v2 only: PASS password (see Password)
	Checksum uint16        // as read by Decode; Encode computes it
}

// ErrAH is returned for v2 IPsec AH authentication, which keepalived can
// send but which this package does not speak: configure PASS or none.
var ErrAH = errors.New("vrrp: authentication type AH is not supported (use PASS or none)")

// Encode returns the VRRP message for a: the IP payload, the kernel writes
// the IP header. src and dst are the IP source and destination the message
// will carry: the v3 checksum covers them (the IP pseudo-header), unless
// checksumAsV2 is set (keepalived's v3_checksum_as_v2, IPv4 only), which
// computes it over the VRRP message alone, as v2 does.
func Encode(a Advert, src, dst netip.Addr, checksumAsV2 bool) ([]byte, error) {
	v6 := src.Is6()
	if !src.IsValid() || !dst.IsValid() || src.Is4() != dst.Is4() || src.Is4In6() || dst.Is4In6() {
		return nil, fmt.Errorf("vrrp: source %v and destination %v must be addresses of one family", src, dst)
	}
	if a.VRID == 0 {
		return nil, errors.New("vrrp: virtual router id 0 (must be 1-255)")
	}
	if len(a.Addrs) > 255 {
		return nil, fmt.Errorf("vrrp: %d addresses in one advert (at most 255)", len(a.Addrs))
	}
	for _, ad := range a.Addrs {
		if ad.Is4() == v6 || ad.Is4In6() {
			return nil, fmt.Errorf("vrrp: address %v in an %s advert", ad, family(v6))
		}
	}
	n := headerLen + len(a.Addrs)*addrLen(v6)
	var ver byte
	switch a.Version {
	case 2:
		if v6 {
			return nil, errors.New("vrrp: version 2 is IPv4 only (RFC 3768): use version 3 for IPv6")
		}
		if a.Auth == AuthAH {
			return nil, ErrAH
		}
		if a.Auth != AuthNone && a.Auth != AuthPass {
			return nil, fmt.Errorf("vrrp: unknown authentication type %d", a.Auth)
		}
		if a.Interval < time.Second || a.Interval > 255*time.Second || a.Interval%time.Second != 0 {
			return nil, fmt.Errorf("vrrp: version 2 advert interval %v (whole seconds 1-255)", a.Interval)
		}
		n += authLen
		ver = 2
	case 3:
		if a.Auth != AuthNone {
			return nil, errors.New("vrrp: version 3 has no authentication")
		}
		if a.Interval < 10*time.Millisecond || a.Interval > 4095*10*time.Millisecond || a.Interval%(10*time.Millisecond) != 0 {
			return nil, fmt.Errorf("vrrp: version 3 advert interval %v (centiseconds, 0.01-40.95 s)", a.Interval)
		}
		ver = 3
	default:
		return nil, fmt.Errorf("vrrp: version %d (2 or 3)", a.Version)
	}
	b := make([]byte, n)
	b[0] = ver<<4 | TypeAdvert
	b[1] = a.VRID
	b[2] = a.Priority
	b[3] = byte(len(a.Addrs))
	if ver == 2 {
		b[4] = byte(a.Auth)
		b[5] = byte(a.Interval / time.Second)
	} else {
		binary.BigEndian.PutUint16(b[4:], uint16(a.Interval/(10*time.Millisecond))) // 4 reserved bits zero
	}
	off := headerLen
	for _, ad := range a.Addrs {
		off += copy(b[off:], ad.AsSlice())
	}
	if ver == 2 && a.Auth == AuthPass {
		copy(b[off:], a.AuthData[:])
	}
	pseudo := ver == 3 && (v6 || !checksumAsV2)
	binary.BigEndian.PutUint16(b[6:], checksum(b, src, dst, pseudo))
	return b, nil
}

// Decode reads the fields of the VRRP message in rx.Data (the IP payload,
// IPv4: cut at the IP header's total length). It judges only what it must
// to read them: a known version, and the length the header announces
// (addresses, and for v2 the authentication data), exactly. The family
// comes from rx.Src. Everything else is Check's.
func Decode(rx Packet) (Advert, Reason) {
	var a Advert
	b := rx.Data
	rx.Src, rx.Dst = rx.Src.Unmap(), rx.Dst.Unmap()
	if !rx.Src.IsValid() || (rx.Dst.IsValid() && rx.Src.Is4() != rx.Dst.Is4()) {
		return a, DropFamily
	}
	v6 := !rx.Src.Is4()
	if len(b) < headerLen {
		return a, DropLength
	}
	a.Version = int(b[0] >> 4)
	a.Type = int(b[0] & 0x0f)
	a.VRID = b[1]
	a.Priority = b[2]
	a.Checksum = binary.BigEndian.Uint16(b[6:])
	count := int(b[3])
	want := headerLen + count*addrLen(v6)
	switch a.Version {
	case 2:
		if v6 {
			return a, DropVersion
		}
		a.Auth = AuthType(b[4])
		a.Interval = time.Duration(b[5]) * time.Second
		want += authLen
	case 3:
		a.Interval = time.Duration(binary.BigEndian.Uint16(b[4:])&0x0fff) * 10 * time.Millisecond
	default:
		return a, DropVersion
	}
	if len(b) != want {
		return a, DropLength
	}
	a.Addrs = make([]netip.Addr, count)
	off := headerLen
	for i := range a.Addrs {
		if v6 {
			a.Addrs[i] = netip.AddrFrom16([16]byte(b[off:]))
		} else {
			a.Addrs[i] = netip.AddrFrom4([4]byte(b[off:]))
		}
		off += addrLen(v6)
	}
	if a.Version == 2 {
		copy(a.AuthData[:], b[off:])
	}
	return a, Accepted
}

func addrLen(v6 bool) int {
	if v6 {
		return 16
	}
	return 4
}

func family(v6 bool) string {
	if v6 {
		return "IPv6"
	}
	return "IPv4"
}

// checksum is the Internet checksum of b with its checksum field counted
// as zero, over the IP pseudo-header of src and dst first when pseudo is
// set (RFC 9568 5.2.8: IPv4 as RFC 768, IPv6 as RFC 8200 8.1).
func checksum(b []byte, src, dst netip.Addr, pseudo bool) uint16 {
	var sum uint32
	add := func(p []byte) {
		for len(p) >= 2 {
			sum += uint32(p[0])<<8 | uint32(p[1])
			p = p[2:]
		}
		if len(p) == 1 {
			sum += uint32(p[0]) << 8
		}
	}
	if pseudo {
		add(src.AsSlice())
		add(dst.AsSlice())
		if src.Is4() {
			add([]byte{0, Protocol, byte(len(b) >> 8), byte(len(b))})
		} else {
			add([]byte{byte(len(b) >> 24), byte(len(b) >> 16), byte(len(b) >> 8), byte(len(b)), 0, 0, 0, Protocol})
		}
	}
	add(b[:6])
	add(b[8:])
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
