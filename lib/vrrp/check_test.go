package vrrp

import (
	"encoding/binary"
	"net/netip"
	"testing"
	"time"
)

// Every receive check: a good message, changed in one way, is dropped for
// that reason (and only that one).
func TestReceiveChecks(t *testing.T) {
	v2 := Wire{Version: 2, VRID: 51, Interval: time.Second, Auth: AuthPass, Password: Password("secret")}
	v3 := Wire{Version: 3, VRID: 51, Interval: time.Second}
	v3u := Wire{Version: 3, VRID: 51, Interval: time.Second, Unicast: true, CheckSrc: true,
		Peers: []Peer{{Addr: src4, MinTTL: 250, MaxTTL: 255}, {Addr: netip.MustParseAddr("10.0.0.3")}}}
	me := netip.MustParseAddr("10.0.0.2")
	// fix recomputes the checksum after an edit, so that only the edit counts
	fix := func(b []byte, src, dst netip.Addr, pseudo bool) {
		binary.BigEndian.PutUint16(b[6:], checksum(b, src, dst, pseudo))
	}
	for _, tc := range []struct {
		name string
		w    Wire
		src  netip.Addr
		dst  netip.Addr
		ttl  int
		edit func([]byte) []byte
		want Reason
	}{
		{"v2 good", v2, src4, Group4, 255, nil, Accepted},
		{"v3 good", v3, src4, Group4, 255, nil, Accepted},
		{"v3 IPv6 good", v3, src6, Group6, 255, nil, Accepted},
		{"TTL unknown is not checked", v3, src4, Group4, -1, nil, Accepted},
		{"v3 other interval adopted", v3, src4, Group4, 255, func(b []byte) []byte {
			b[5] = 50 // 0.5 s
			fix(b, src4, Group4, true)
			return b
		}, AdoptInterval},
		{"short header", v3, src4, Group4, 255, func(b []byte) []byte { return b[:7] }, DropLength},
		{"missing address", v3, src4, Group4, 255, func(b []byte) []byte { return b[:len(b)-1] }, DropLength},
		{"trailing byte", v3, src4, Group4, 255, func(b []byte) []byte { return append(b, 0) }, DropLength},
		{"v2 auth data missing", v2, src4, Group4, 255, func(b []byte) []byte { return b[:len(b)-8] }, DropLength},
		{"count says more", v3, src4, Group4, 255, func(b []byte) []byte { b[3]++; return b }, DropLength},
		{"version 1", v3, src4, Group4, 255, func(b []byte) []byte { b[0] = 0x11; return b }, DropVersion},
		{"v2 to a v3 instance", v3, src4, Group4, 255, func(b []byte) []byte {
			b, _ = Encode(v2.Advert(100, vip4), src4, Group4, false)
			return b
		}, DropVersion},
		{"wrong VRID", v3, src4, Group4, 255, func(b []byte) []byte { b[1] = 52; fix(b, src4, Group4, true); return b }, DropVRID},
		{"TTL 254", v3, src4, Group4, 254, nil, DropTTL},
		{"hop limit 64", v3, src6, Group6, 64, nil, DropTTL},
		{"type 2", v3, src4, Group4, 255, func(b []byte) []byte { b[0] = 0x32; fix(b, src4, Group4, true); return b }, DropType},
		{"bad checksum", v3, src4, Group4, 255, func(b []byte) []byte { b[7]++; return b }, DropChecksum},
		{"bad IPv6 checksum", v3, src6, Group6, 255, func(b []byte) []byte { b[2]++; return b }, DropChecksum},
		{"v2 bad checksum", v2, src4, Group4, 255, func(b []byte) []byte { b[len(b)-1] = 'x'; return b }, DropChecksum},
		{"v2 no auth", v2, src4, Group4, 255, func(b []byte) []byte { b[4] = 0; fix(b, src4, Group4, false); return b }, DropAuthType},
		{"v2 AH", v2, src4, Group4, 255, func(b []byte) []byte { b[4] = 2; fix(b, src4, Group4, false); return b }, DropAuthType},
		{"v2 wrong password", v2, src4, Group4, 255, func(b []byte) []byte { b[len(b)-8] = 'S'; fix(b, src4, Group4, false); return b }, DropPassword},
		{"v2 other interval", v2, src4, Group4, 255, func(b []byte) []byte { b[5] = 2; fix(b, src4, Group4, false); return b }, DropInterval},
		{"v3 max interval 0", v3, src4, Group4, 255, func(b []byte) []byte { b[4], b[5] = 0xf0, 0; fix(b, src4, Group4, true); return b }, DropInterval},
		{"multicast expected", v3, src4, me, 255, func(b []byte) []byte { fix(b, src4, me, true); return b }, DropDestination},
		{"unicast good, TTL in window", v3u, src4, me, 250, func(b []byte) []byte { fix(b, src4, me, true); return b }, Accepted},
		{"unicast peer without window", v3u, netip.MustParseAddr("10.0.0.3"), me, 1, func(b []byte) []byte {
			fix(b, netip.MustParseAddr("10.0.0.3"), me, true)
			return b
		}, Accepted},
		{"unicast TTL below window", v3u, src4, me, 249, func(b []byte) []byte { fix(b, src4, me, true); return b }, DropTTL},
		{"unicast expected", v3u, src4, Group4, 255, nil, DropDestination},
		{"unicast unknown source", v3u, netip.MustParseAddr("10.0.0.9"), me, 255, func(b []byte) []byte {
			fix(b, netip.MustParseAddr("10.0.0.9"), me, true)
			return b
		}, DropPeer},
		{"family mismatch", v3, src4, Group6, 255, nil, DropFamily},
	} {
		t.Run(tc.name, func(t *testing.T) {
			addrs := vip4
			if tc.src.Is6() {
				addrs = vip6
			}
			dst := Group4
			if tc.src.Is6() {
				dst = Group6
			}
			b, err := tc.w.Encode(100, addrs, tc.src, dst)
			if err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				b = tc.edit(b)
			}
			rx := Packet{Data: b, Src: tc.src, Dst: tc.dst, TTL: tc.ttl}
			w := tc.w
			_, got, r := Receive(rx, func(vrid uint8) *Wire {
				if vrid == w.VRID {
					return &w
				}
				return nil
			})
			if r != tc.want {
				t.Fatalf("reason %v, want %v", r, tc.want)
			}
			if r.Dropped() != (tc.want != Accepted && tc.want != AdoptInterval) {
				t.Fatalf("Dropped() = %v for %v", r.Dropped(), r)
			}
			if !r.Dropped() && got != &w {
				t.Fatalf("Receive returned wire %p, want %p", got, &w)
			}
		})
	}
}

func TestReasonNames(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range Reasons() {
		s := r.String()
		if s == "" || s == "unknown" || seen[s] {
			t.Errorf("reason %d: name %q", int(r), s)
		}
		seen[s] = true
	}
	if Reason(-1).String() != "unknown" || nReasons.String() != "unknown" {
		t.Error("out-of-range reasons must print unknown")
	}
}
