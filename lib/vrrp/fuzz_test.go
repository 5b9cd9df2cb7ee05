package vrrp

import (
	"encoding/hex"
	"net/netip"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// FuzzDecode: no input crashes Decode or the receive checks, and what
// Decode accepts survives Encode and Decode again unchanged.
func FuzzDecode(f *testing.F) {
	if b, err := os.ReadFile(goldenFile); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if fs := strings.Fields(line); len(fs) == 6 && fs[0][0] != '#' {
				if p, err := hex.DecodeString(fs[5]); err == nil {
					f.Add(p, strings.Contains(fs[2], ":"))
				}
			}
		}
	}
	f.Add([]byte{0x31, 1, 100, 0, 0, 100, 0, 0}, false)
	f.Add([]byte{0x21, 1, 100, 255, 2, 1, 0, 0}, false)
	f.Add([]byte{}, true)
	src, dst := src4, Group4
	src6, dst6 := netip.MustParseAddr("fe80::1"), Group6
	wires := []Wire{
		{Version: 2, VRID: 51, Interval: time.Second, Auth: AuthPass, Password: Password("secret")},
		{Version: 3, VRID: 53, Interval: 100 * time.Millisecond},
		{Version: 3, VRID: 55, Interval: time.Second, ChecksumAsV2: true, Unicast: true, CheckSrc: true, Peers: []Peer{{Addr: src4, MinTTL: 1}}},
	}
	f.Fuzz(func(t *testing.T, data []byte, v6 bool) {
		rx := Packet{Data: data, Src: src, Dst: dst, TTL: 255}
		if v6 {
			rx.Src, rx.Dst = src6, dst6
		}
		a, r := Decode(rx)
		for i := range wires {
			wires[i].Check(rx, a)
		}
		if r.Dropped() {
			return
		}
		a.Type = TypeAdvert
		b, err := Encode(a, rx.Src, rx.Dst, false)
		if err != nil {
			return // fields Encode refuses (interval 0, AH, unknown auth...)
		}
		rx.Data = b
		again, r := Decode(rx)
		if r != Accepted {
			t.Fatalf("re-encoded %x: %v", b, r)
		}
		a.Checksum = again.Checksum
		if a.Version == 3 || a.Auth != AuthPass {
			a.AuthData = [8]byte{} // not on the wire (v2 without PASS: Encode writes zeros)
		}
		if !reflect.DeepEqual(a, again) {
			t.Fatalf("round trip of %x:\n %+v\n %+v", data, a, again)
		}
		w := Wire{Version: a.Version, VRID: a.VRID, Interval: a.Interval, Auth: a.Auth, Password: a.AuthData}
		if r := w.Check(rx, again); r != Accepted {
			t.Fatalf("our own encoding of %x dropped: %v", data, r)
		}
	})
}
