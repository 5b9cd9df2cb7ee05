package vrrp

import (
	"bytes"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

var (
	src4 = netip.MustParseAddr("10.0.0.1")
	src6 = netip.MustParseAddr("fe80::1")
	vip4 = []netip.Addr{netip.MustParseAddr("10.0.0.100"), netip.MustParseAddr("10.0.0.101")}
	vip6 = []netip.Addr{netip.MustParseAddr("2001:db8::100")}
)

// Bytes pinned by hand from RFC 3768 5.1's layout, so that a symmetric
// byte-order bug in Encode and Decode cannot pass the round trip.
func TestEncodeV2Pass(t *testing.T) {
	a := Advert{Version: 2, VRID: 51, Priority: 150, Interval: time.Second,
		Addrs: vip4[:1], Auth: AuthPass, AuthData: Password("secret")}
	b, err := Encode(a, src4, Group4, false)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{
		0x21, 51, 150, 1, // ver 2 type 1, vrid, prio, count
		1, 1, 0, 0, // auth PASS, 1 s, checksum (below)
		10, 0, 0, 100,
		's', 'e', 'c', 'r', 'e', 't', 0, 0,
	}
	// checksum by hand: 16-bit words summed, folded, inverted
	var sum uint32
	for i := 0; i < len(want); i += 2 {
		sum += uint32(want[i])<<8 | uint32(want[i+1])
	}
	sum = sum&0xffff + sum>>16
	want[6], want[7] = byte(^sum>>8), byte(^sum)
	if !bytes.Equal(b, want) {
		t.Fatalf("encode:\n got %x\nwant %x", b, want)
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name     string
		a        Advert
		src, dst netip.Addr
		asV2     bool
	}{
		{"v2 none", Advert{Version: 2, VRID: 1, Priority: 100, Interval: 3 * time.Second, Addrs: vip4}, src4, Group4, false},
		{"v2 pass", Advert{Version: 2, VRID: 255, Priority: 255, Interval: time.Second, Addrs: vip4, Auth: AuthPass, AuthData: Password("12345678")}, src4, Group4, false},
		{"v3 v4", Advert{Version: 3, VRID: 7, Priority: 0, Interval: 50 * time.Millisecond, Addrs: vip4}, src4, Group4, false},
		{"v3 v4 as v2", Advert{Version: 3, VRID: 7, Priority: 1, Interval: 40950 * time.Millisecond, Addrs: vip4}, src4, Group4, true},
		{"v3 v6", Advert{Version: 3, VRID: 9, Priority: 200, Interval: time.Second, Addrs: vip6}, src6, Group6, false},
		{"v3 no addresses", Advert{Version: 3, VRID: 9, Priority: 200, Interval: time.Second, Addrs: []netip.Addr{}}, src6, Group6, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, err := Encode(tc.a, tc.src, tc.dst, tc.asV2)
			if err != nil {
				t.Fatal(err)
			}
			got, r := Decode(Packet{Data: b, Src: tc.src, Dst: tc.dst, TTL: 255})
			if r != Accepted {
				t.Fatalf("decode: %v", r)
			}
			want := tc.a
			want.Type = TypeAdvert
			want.Checksum = got.Checksum
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("decode:\n got %+v\nwant %+v", got, want)
			}
			w := Wire{Version: tc.a.Version, VRID: tc.a.VRID, Interval: tc.a.Interval, Auth: tc.a.Auth,
				Password: tc.a.AuthData, ChecksumAsV2: tc.asV2}
			if r := w.Check(Packet{Data: b, Src: tc.src, Dst: tc.dst, TTL: 255}, got); r != Accepted {
				t.Fatalf("check: %v", r)
			}
		})
	}
}

// The two v3 IPv4 checksum forms differ. The RFC form takes only its own;
// v3_checksum_as_v2 takes both (keepalived with the option checks none,
// so it hears a peer without it): a broken checksum is dropped by both.
func TestChecksumForms(t *testing.T) {
	a := Advert{Version: 3, VRID: 7, Priority: 100, Interval: time.Second, Addrs: vip4}
	pseudo, _ := Encode(a, src4, Group4, false)
	plain, _ := Encode(a, src4, Group4, true)
	if bytes.Equal(pseudo, plain) {
		t.Fatal("pseudo-header checksum equals the plain one")
	}
	for _, tc := range []struct {
		b    []byte
		asV2 bool
		want Reason
	}{{pseudo, false, Accepted}, {plain, true, Accepted}, {pseudo, true, Accepted}, {plain, false, DropChecksum},
		{broken(pseudo), true, DropChecksum}, {broken(plain), true, DropChecksum}, {broken(pseudo), false, DropChecksum}} {
		rx := Packet{Data: tc.b, Src: src4, Dst: Group4, TTL: 255}
		w := Wire{Version: 3, VRID: 7, Interval: time.Second, ChecksumAsV2: tc.asV2}
		if _, _, r := Receive(rx, func(uint8) *Wire { return &w }); r != tc.want {
			t.Errorf("asV2=%v: %v, want %v", tc.asV2, r, tc.want)
		}
	}
	// the pseudo-header covers the addresses: another source breaks it
	rx := Packet{Data: pseudo, Src: netip.MustParseAddr("10.0.0.2"), Dst: Group4, TTL: 255}
	w := Wire{Version: 3, VRID: 7, Interval: time.Second}
	if _, _, r := Receive(rx, func(uint8) *Wire { return &w }); r != DropChecksum {
		t.Errorf("other source: %v, want checksum", r)
	}
}

func TestEncodeErrors(t *testing.T) {
	ok := Advert{Version: 3, VRID: 1, Priority: 100, Interval: time.Second, Addrs: vip4}
	many := make([]netip.Addr, 256)
	for i := range many {
		many[i] = src4
	}
	for _, tc := range []struct {
		name     string
		edit     func(*Advert)
		src, dst netip.Addr
		want     string
	}{
		{"AH", func(a *Advert) { a.Version, a.Auth = 2, AuthAH }, src4, Group4, "AH is not supported"},
		{"v2 IPv6", func(a *Advert) { a.Version, a.Addrs = 2, vip6 }, src6, Group6, "IPv4 only"},
		{"v2 fraction", func(a *Advert) { a.Version, a.Interval = 2, 1500*time.Millisecond }, src4, Group4, "whole seconds"},
		{"v3 too long", func(a *Advert) { a.Interval = 41 * time.Second }, src4, Group4, "0.01-40.95"},
		{"v3 millis", func(a *Advert) { a.Interval = 15 * time.Millisecond }, src4, Group4, "centiseconds"},
		{"v3 auth", func(a *Advert) { a.Auth = AuthPass }, src4, Group4, "no authentication"},
		{"version 4", func(a *Advert) { a.Version = 4 }, src4, Group4, "version 4"},
		{"vrid 0", func(a *Advert) { a.VRID = 0 }, src4, Group4, "id 0"},
		{"mixed family", func(a *Advert) { a.Addrs = vip6 }, src4, Group4, "2001:db8::100 in an IPv4 advert"},
		{"src dst family", func(*Advert) {}, src4, Group6, "one family"},
		{"256 addresses", func(a *Advert) { a.Addrs = many }, src4, Group4, "at most 255"},
	} {
		a := ok
		tc.edit(&a)
		_, err := Encode(a, tc.src, tc.dst, false)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}

// broken is b with its checksum off by one.
func broken(b []byte) []byte {
	c := append([]byte(nil), b...)
	c[7]++
	return c
}
