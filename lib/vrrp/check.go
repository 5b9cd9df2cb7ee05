package vrrp

import (
	"crypto/subtle"
	"net/netip"
	"time"
)

// Reason is why a received message was dropped, or Accepted. Callers count
// received messages by Reason (String is the metric label) and log drops
// rate-limited.
type Reason int

const (
	Accepted         Reason = iota // passed every check
	AdoptInterval                  // accepted (v3): the master's interval differs from ours; RFC 9568 6.4.2 adopts it
	AdoptOldChecksum               // accepted (v3 IPv4 unicast): the peer uses keepalived <= 1.3.6 checksum: set Wire.OldChecksum = OldChecksumOn
	DropFamily                     // source and destination are not addresses of one family
	DropLength                     // shorter or longer than the header, its addresses (and v2 auth data)
	DropVersion                    // not the instance's version (or not 2 / 3 at all)
	DropVRID                       // no instance with this virtual router id on the interface
	DropTTL                        // multicast with TTL / hop limit not 255, unicast outside the peer's window
	DropType                       // not an advertisement (type 1)
	DropChecksum                   // checksum mismatch
	DropAuthType                   // v2: authentication type not ours (AH is always refused)
	DropPassword                   // v2 PASS: wrong password
	DropInterval                   // v2: advert interval not ours (RFC 3768 7.1), or a v3 max interval of 0
	DropDestination                // multicast where unicast is configured, or the other way round
	DropPeer                       // unicast source not a configured unicast_peer
	nReasons
)

var reasonNames = [...]string{
	Accepted:         "accepted",
	AdoptInterval:    "adopt_interval",
	AdoptOldChecksum: "adopt_old_checksum",
	DropFamily:       "family",
	DropLength:       "length",
	DropVersion:      "version",
	DropVRID:         "vrid",
	DropTTL:          "ttl",
	DropType:         "type",
	DropChecksum:     "checksum",
	DropAuthType:     "auth_type",
	DropPassword:     "password",
	DropInterval:     "interval",
	DropDestination:  "destination",
	DropPeer:         "peer",
}

func (r Reason) String() string {
	if r >= 0 && r < nReasons {
		return reasonNames[r]
	}
	return "unknown"
}

// Dropped reports whether the message must be ignored.
func (r Reason) Dropped() bool { return r != Accepted && r != AdoptInterval && r != AdoptOldChecksum }

// Reasons lists every Reason, for callers that pre-register counters.
func Reasons() []Reason {
	rs := make([]Reason, nReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Peer is a unicast_peer, with keepalived's optional TTL window
// (unicast_peer { ADDR min_ttl N max_ttl M }).
type Peer struct {
	Addr           netip.Addr
	MinTTL, MaxTTL int // 0, 0: any TTL
}

// OldChecksum is keepalived's old_unicast_checksum. keepalived 1.3.6 and
// earlier (RHEL 7 ships 1.3.5) computed the VRRPv3 IPv4 checksum of a
// unicast advert with the group 224.0.0.18 as the pseudo-header's
// destination, not the peer; later versions send the RFC form and fall
// back to the old one when a peer sends it.
type OldChecksum int

const (
	OldChecksumAuto  OldChecksum = iota // default: RFC form; Check says AdoptOldChecksum if the peer uses the old one
	OldChecksumNever                    // old_unicast_checksum never: RFC form only
	OldChecksumOn                       // old_unicast_checksum: old form, sent and expected
)

// Wire is what one VRRP instance sends and accepts on the wire: the
// settings the codec and the receive checks need, nothing else.
type Wire struct {
	Version      int           // 2 or 3
	VRID         uint8         // 1-255
	Interval     time.Duration // our advert_int
	Auth         AuthType      // v2: AuthNone or AuthPass
	Password     [8]byte       // v2 PASS (see Password)
	ChecksumAsV2 bool          // v3 IPv4: keepalived's v3_checksum_as_v2
	Unicast      bool          // unicast_peer configured: no TTL 255 rule, unicast destination
	Peers        []Peer        // unicast peers (TTL windows; the source check below)
	CheckSrc     bool          // unicast: drop sources that are not Peers (check_unicast_src)
	OldChecksum  OldChecksum   // v3 IPv4 unicast: old_unicast_checksum
}

// Advert returns the advert this instance sends with priority prio and
// the virtual addresses addrs.
func (w *Wire) Advert(prio uint8, addrs []netip.Addr) Advert {
	a := Advert{Version: w.Version, Type: TypeAdvert, VRID: w.VRID, Priority: prio, Interval: w.Interval, Addrs: addrs}
	if w.Version == 2 {
		a.Auth, a.AuthData = w.Auth, w.Password
	}
	return a
}

// Encode is Encode of w.Advert(prio, addrs) from src to dst.
func (w *Wire) Encode(prio uint8, addrs []netip.Addr, src, dst netip.Addr) ([]byte, error) {
	if w.OldChecksum == OldChecksumOn && w.Version == 3 && dst.Is4() {
		dst = Group4 // the destination only enters the checksum
	}
	return Encode(w.Advert(prio, addrs), src, dst, w.ChecksumAsV2)
}

// Check runs the receive checks of RFC 3768 7.1 / RFC 9568 7.1, as
// keepalived's vrrp_check_packet applies them, on a message Decode read
// from rx. The order only decides which reason a message with several
// faults is counted under; a dropped message never reaches Step.
func (w *Wire) Check(rx Packet, a Advert) Reason {
	src, dst := rx.Src.Unmap(), rx.Dst.Unmap()
	if a.VRID != w.VRID {
		return DropVRID
	}
	if w.Unicast {
		if p, ok := w.peer(src); ok {
			if rx.TTL >= 0 && (p.MinTTL > 0 && rx.TTL < p.MinTTL || p.MaxTTL > 0 && rx.TTL > p.MaxTTL) {
				return DropTTL
			}
		} else if w.CheckSrc {
			return DropPeer
		}
	} else if rx.TTL >= 0 && rx.TTL != TTL {
		// a router more than one hop away forged or forwarded it
		return DropTTL
	}
	if a.Version != w.Version {
		return DropVersion
	}
	if a.Type != TypeAdvert {
		return DropType
	}
	ok, old := w.checksum(rx.Data, src, dst, a)
	if !ok {
		return DropChecksum
	}
	if a.Version == 2 {
		if a.Auth != w.Auth || a.Auth == AuthAH {
			return DropAuthType
		}
		if a.Auth == AuthPass && subtle.ConstantTimeCompare(a.AuthData[:], w.Password[:]) != 1 {
			return DropPassword
		}
		if a.Interval != w.Interval {
			// two masters with different timers would both think the other dead
			return DropInterval
		}
	}
	if a.Interval == 0 {
		return DropInterval
	}
	if dst.IsValid() && dst.IsMulticast() == w.Unicast {
		return DropDestination
	}
	if old {
		return AdoptOldChecksum
	}
	if a.Version == 3 && a.Interval != w.Interval {
		return AdoptInterval
	}
	return Accepted
}

// checksum checks a's checksum in the instance's form; old reports that it
// matched only keepalived 1.3.6's unicast form, which OldChecksumAuto
// then accepts (keepalived's fallback).
func (w *Wire) checksum(b []byte, src, dst netip.Addr, a Advert) (ok, old bool) {
	if len(b) < headerLen {
		return false, false
	}
	pseudo := a.Version == 3 && (src.Is6() || !w.ChecksumAsV2)
	oldForm := pseudo && src.Is4()
	if oldForm && w.OldChecksum == OldChecksumOn {
		dst = Group4
	}
	if checksum(b, src, dst, pseudo) == a.Checksum {
		return true, false
	}
	// v3_checksum_as_v2 also takes the RFC form: a peer without the
	// option (keepalived before 2.2.8, or not set there) is still heard,
	// as keepalived with the option hears it (it checks no checksum at
	// all then; this still checks one of the two)
	if a.Version == 3 && src.Is4() && w.ChecksumAsV2 && checksum(b, src, dst, true) == a.Checksum {
		return true, false
	}
	if oldForm && w.Unicast && w.OldChecksum == OldChecksumAuto && dst != Group4 && checksum(b, src, Group4, true) == a.Checksum {
		return true, true
	}
	return false, false
}

func (w *Wire) peer(src netip.Addr) (Peer, bool) {
	for _, p := range w.Peers {
		if p.Addr.Unmap() == src {
			return p, true
		}
	}
	return Peer{}, false
}

// Receive decodes rx and runs the checks of the instance find returns for
// its VRID (nil: DropVRID). It returns that instance's Wire, nil when the
// message was dropped before one was found.
func Receive(rx Packet, find func(vrid uint8) *Wire) (Advert, *Wire, Reason) {
	a, r := Decode(rx)
	if r.Dropped() {
		return a, nil, r
	}
	w := find(a.VRID)
	if w == nil {
		return a, nil, DropVRID
	}
	return a, w, w.Check(rx, a)
}
