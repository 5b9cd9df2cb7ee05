package addr

import (
	"bytes"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
)

func pfx(s string) netip.Prefix { return netip.MustParsePrefix(s) }

func TestFindInterface(t *testing.T) {
	link := func(dst, dev string) Route {
		return Route{Dst: pfx(dst), Dev: dev, Type: TypeUnicast, Scope: ScopeLink, Table: TableMain}
	}
	v6 := func(dst, dev string) Route {
		return Route{Dst: pfx(dst), Dev: dev, Type: TypeUnicast, Scope: ScopeUniverse, Table: TableMain}
	}
	routes := []Route{
		{Dev: "eth9", Type: TypeUnicast, Table: TableMain},                                    // default
		{Dst: pfx("10.0.0.0/8"), Dev: "eth8", Type: 6 /* blackhole */, Table: TableMain},      // ignored
		{Dst: pfx("10.1.0.0/16"), Dev: "eth8", Type: 7 /* unreachable */, Table: TableMain},   // ignored
		{Dst: pfx("10.1.2.0/25"), Dev: "eth7", Type: TypeUnicast, Scope: 0, Table: TableMain}, // via a gateway: ignored
		link("10.1.0.0/16", "eth1"),
		link("10.1.2.0/24", "eth2"),
		link("10.1.2.128/26", "eth3"),
		link("10.1.2.5/32", "eth4"), // host route: ignored, as findif does
		link("192.168.0.0/24", "eth5"),
		link("192.168.0.0/24", "eth6"),                                                          // tie: the later route wins
		{Dst: pfx("10.1.2.0/24"), Dev: "eth2", Type: TypeUnicast, Scope: ScopeLink, Table: 100}, // other table
		{Dst: pfx("127.0.0.0/8"), Dev: "lo", Type: TypeLocal, Scope: ScopeHost, Table: TableLocal},
		v6("2001:db8::/32", "eth1"),
		v6("2001:db8:1::/64", "eth2"),
		v6("2001:db8:1::5/128", "eth4"),
		{Dst: pfx("::/0"), Dev: "eth9", Type: TypeUnicast, Table: TableMain},
	}
	for _, c := range []struct {
		ip, nic string
		prefix  int
		want    string // "nic/prefix" or "error"
	}{
		{"10.1.2.5", "", -1, "eth2/24"},
		{"10.1.2.150", "", -1, "eth3/26"},
		{"10.1.9.9", "", -1, "eth1/16"},
		{"10.2.0.1", "", -1, "error"}, // only the blackhole and the default cover it
		{"8.8.8.8", "", -1, "error"},
		{"192.168.0.7", "", -1, "eth6/24"},
		{"10.1.2.5", "eth1", -1, "eth1/16"}, // nic given: its best route
		{"10.1.2.5", "", 20, "eth1/20"},     // prefix given: kept; routes no longer than it
		{"10.1.2.5", "", 28, "eth2/28"},
		{"10.1.2.5", "eth7", -1, "error"},
		{"10.2.0.1", "eth7", 24, "eth7/24"}, // both given: no route needed
		{"127.0.0.2", "", -1, "lo/8"},
		{"2001:db8:1::7", "", -1, "eth2/64"},
		{"2001:db8:2::7", "", -1, "eth1/32"},
		{"2001:db9::1", "", -1, "error"},
		{"2001:db8:1::7", "eth1", -1, "eth1/32"},
	} {
		ch, err := FindInterface(Query{IP: netip.MustParseAddr(c.ip), Prefix: c.prefix, Nic: c.nic}, routes)
		got := "error"
		if err == nil {
			got = ch.Nic + "/" + strconv.Itoa(ch.Prefix)
		} else if !errors.Is(err, ErrNoRoute) {
			t.Errorf("%s: unexpected error %v", c.ip, err)
		}
		if got != c.want {
			t.Errorf("FindInterface(%s nic=%q prefix=%d) = %s, want %s", c.ip, c.nic, c.prefix, got, c.want)
		}
	}
}

func TestBroadcast(t *testing.T) {
	ip := netip.MustParseAddr("10.1.2.77")
	for _, c := range []struct {
		prefix     int
		spec, want string
	}{
		{24, "", "invalid IP"},
		{24, "+", "10.1.2.255"},
		{24, "-", "10.1.2.0"},
		{20, "+", "10.1.15.255"},
		{30, "+", "10.1.2.79"},
		{31, "+", "invalid IP"},
		{32, "-", "invalid IP"},
		{24, "10.1.2.254", "10.1.2.254"},
	} {
		b, err := Broadcast(ip, c.prefix, c.spec)
		if err != nil || b.String() != c.want {
			t.Errorf("Broadcast(/%d, %q) = %v %v, want %s", c.prefix, c.spec, b, err, c.want)
		}
	}
	for _, bad := range []string{"x", "10.1.2", "2001:db8::1", "++"} {
		if _, err := Broadcast(ip, 24, bad); err == nil {
			t.Errorf("Broadcast(%q): no error", bad)
		}
	}
}

func TestParseNetmask(t *testing.T) {
	for s, want := range map[string]int{"": -1, "24": 24, "1": 1, "32": 32, "255.255.255.0": 24,
		"255.255.255.255": 32, "255.255.128.0": 17, "128.0.0.0": 1} {
		if n, err := ParseNetmask(s, 32); err != nil || n != want {
			t.Errorf("ParseNetmask(%q) = %d %v, want %d", s, n, err, want)
		}
	}
	if n, err := ParseNetmask("64", 128); err != nil || n != 64 {
		t.Errorf("v6 64: %d %v", n, err)
	}
	for _, bad := range []string{"0", "33", "-1", "abc", "255.0.255.0", "0.0.0.0", "255.255.255.0x", "1234", "24 "} {
		if _, err := ParseNetmask(bad, 32); err == nil {
			t.Errorf("ParseNetmask(%q): no error", bad)
		}
	}
	for _, bad := range []string{"129", "255.255.255.0"} {
		if _, err := ParseNetmask(bad, 128); err == nil {
			t.Errorf("ParseNetmask(%q, 128): no error", bad)
		}
	}
}

func unhex(s string) []byte {
	b, err := hex.DecodeString(strings.Join(strings.Fields(s), ""))
	if err != nil {
		panic(err)
	}
	return b
}

// The expected frames are what resource-agents' send_arp and send_ua put
// on the wire (captured with tcpdump -XX in a namespace), except the IPv6
// flow label, which send_ua leaves to the kernel and we set to 0.
var mac = net.HardwareAddr{0x02, 0, 0, 0, 0, 0x01}

func TestGratuitousARPBytes(t *testing.T) {
	req, rep := GratuitousARP(mac, netip.MustParseAddr("192.0.2.9"))
	wantReq := unhex("ffff ffff ffff 0200 0000 0001 0806 0001 0800 0604 0001 0200 0000 0001 c000 0209 0000 0000 0000 c000 0209")
	wantRep := unhex("ffff ffff ffff 0200 0000 0001 0806 0001 0800 0604 0002 0200 0000 0001 c000 0209 0200 0000 0001 c000 0209")
	if !bytes.Equal(req, wantReq) {
		t.Errorf("request\n got %x\nwant %x", req, wantReq)
	}
	if !bytes.Equal(rep, wantRep) {
		t.Errorf("reply\n got %x\nwant %x", rep, wantRep)
	}
	a, err := ParseARP(rep)
	if err != nil || a.Op != ARPReply || a.SPA.String() != "192.0.2.9" || a.SHA.String() != mac.String() {
		t.Errorf("ParseARP: %+v %v", a, err)
	}
	probe := ARPProbe(mac, netip.MustParseAddr("192.0.2.9"))
	wantProbe := unhex("ffff ffff ffff 0200 0000 0001 0806 0001 0800 0604 0001 0200 0000 0001 0000 0000 0000 0000 0000 c000 0209")
	if !bytes.Equal(probe, wantProbe) {
		t.Errorf("probe\n got %x\nwant %x", probe, wantProbe)
	}
	if _, err := ParseARP(probe[:30]); err == nil {
		t.Error("ParseARP of a short frame: no error")
	}
}

func TestNABytes(t *testing.T) {
	f, err := NAFrame(mac, netip.MustParseAddr("2001:db8::9"))
	if err != nil {
		t.Fatal(err)
	}
	want := unhex(`3333 0000 0001 0200 0000 0001 86dd 6000
		0000 0020 3aff 2001 0db8 0000 0000 0000
		0000 0000 0009 ff02 0000 0000 0000 0000
		0000 0000 0001 8800 f91a 2000 0000 2001
		0db8 0000 0000 0000 0000 0000 0009 0201
		0200 0000 0001`)
	if !bytes.Equal(f, want) {
		t.Errorf("NA frame\n got %x\nwant %x", f, want)
	}
}

func TestAnnounceFrames(t *testing.T) {
	fs, _ := AnnounceFrames(mac, netip.MustParseAddr("192.0.2.9"), false)
	if len(fs) != 2 || fs[0][21] != ARPRequest || fs[1][21] != ARPReply {
		t.Errorf("v4 pair: %x", fs)
	}
	fs, _ = AnnounceFrames(mac, netip.MustParseAddr("192.0.2.9"), true)
	if len(fs) != 1 || fs[0][21] != ARPReply {
		t.Errorf("v4 reply only: %x", fs)
	}
	fs, _ = AnnounceFrames(mac, netip.MustParseAddr("2001:db8::9"), false)
	if len(fs) != 1 || fs[0][54] != 136 {
		t.Errorf("v6: %x", fs)
	}
	if _, err := AnnounceFrames(nil, netip.MustParseAddr("192.0.2.9"), false); err == nil {
		t.Error("no MAC: no error")
	}
}
