package vrrp

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// TestTsharkReadsOurs gives our encodings to Wireshark's VRRP dissector,
// a second reader written apart from keepalived, field by field. It also
// checks v3_checksum_as_v2, which Debian's keepalived 2.2.7 cannot send:
// Wireshark's vrrp.v3_checksum_as_in_v2 preference verifies that form,
// and each form fails the other's verification.
func TestTsharkReadsOurs(t *testing.T) {
	bin := testenv.Command(t, "tshark")
	s4, s6, peer := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("fe80::1"), netip.MustParseAddr("192.0.2.2")
	type tc struct {
		name     string
		w        Wire
		prio     uint8
		addrs    []netip.Addr
		src, dst netip.Addr
		want     string // tshark fields, tab separated (see fields below), checksum status last
	}
	cases := []tc{
		{"v2 PASS", Wire{Version: 2, VRID: 51, Interval: time.Second, Auth: AuthPass, Password: Password("secret")}, 150,
			addrs("192.0.2.100", "192.0.2.101"), s4, Group4, "2 1 51 150 2 1 1  192.0.2.100,192.0.2.101  secret"},
		{"v2 none, stop", Wire{Version: 2, VRID: 52, Interval: 3 * time.Second}, 0,
			addrs("192.0.2.110"), s4, Group4, "2 1 52 0 1 0 3  192.0.2.110  "},
		{"v3 IPv4", Wire{Version: 3, VRID: 53, Interval: 100 * time.Millisecond}, 254,
			addrs("192.0.2.120", "192.0.2.121", "192.0.2.122"), s4, Group4, "3 1 53 254 3   10 192.0.2.120,192.0.2.121,192.0.2.122  "},
		{"v3 IPv4 unicast", Wire{Version: 3, VRID: 55, Interval: 4095 * 10 * time.Millisecond, Unicast: true}, 1,
			addrs("192.0.2.130"), s4, peer, "3 1 55 1 1   4095 192.0.2.130  "},
		{"v3 IPv6", Wire{Version: 3, VRID: 54, Interval: time.Second}, 255,
			addrs("2001:db8::100", "2001:db8::101"), s6, Group6, "3 1 54 255 2   100  2001:db8::100,2001:db8::101 "},
	}
	asV2 := tc{"v3 IPv4 v3_checksum_as_v2", Wire{Version: 3, VRID: 57, Interval: time.Second, ChecksumAsV2: true}, 100,
		addrs("192.0.2.150"), s4, Group4, "3 1 57 100 1   100 192.0.2.150  "}
	fields := []string{"vrrp.version", "vrrp.type", "vrrp.virt_rtr_id", "vrrp.prio", "vrrp.addr_count",
		"vrrp.auth_type", "vrrp.adver_int", "vrrp.short_adver_int", "vrrp.ip_addr", "vrrp.ipv6_addr", "vrrp.auth_string", "vrrp.checksum.status"}
	all := append(cases, asV2)
	var frames [][]byte
	for _, c := range all {
		msg, err := c.w.Encode(c.prio, c.addrs, c.src, c.dst)
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, frame(msg, c.src, c.dst))
	}
	f := filepath.Join(t.TempDir(), "vrrp.pcap")
	if err := os.WriteFile(f, pcap(frames), 0o644); err != nil {
		t.Fatal(err)
	}
	// read returns tshark's fields, one line per frame
	read := func(asInV2 bool) []string {
		t.Helper()
		args := []string{"-r", f, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,",
			"-o", fmt.Sprintf("vrrp.v3_checksum_as_in_v2:%v", asInV2)}
		for _, x := range fields {
			args = append(args, "-e", x)
		}
		cmd := exec.Command(bin, args...)
		var stderr strings.Builder
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("tshark: %v\n%s", err, stderr.String())
		}
		lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
		if len(lines) != len(all) {
			t.Fatalf("tshark read %d frames, want %d:\n%s", len(lines), len(all), out)
		}
		return lines
	}
	want := func(c tc, status string) string {
		return strings.ReplaceAll(c.want, " ", "\t") + "\t" + status
	}
	const good, bad = "1", "0" // Wireshark's PROTO_CHECKSUM_E_GOOD / _BAD
	rfc, v2form := read(false), read(true)
	for i, c := range cases {
		if rfc[i] != want(c, good) {
			t.Errorf("%s: tshark reads\n %q\nwant %q", c.name, rfc[i], want(c, good))
		}
	}
	last := len(all) - 1
	if v2form[last] != want(asV2, good) {
		t.Errorf("%s: tshark (v3_checksum_as_in_v2) reads\n %q\nwant %q", asV2.name, v2form[last], want(asV2, good))
	}
	if rfc[last] != want(asV2, bad) {
		t.Errorf("%s: tshark's RFC checksum should fail it, reads %q", asV2.name, rfc[last])
	}
	if v2form[2] != want(cases[2], bad) {
		t.Errorf("%s (RFC form): tshark's as-v2 checksum should fail it, reads %q", cases[2].name, v2form[2])
	}
}

// frame wraps a VRRP message in Ethernet and the IP header the kernel
// would write (TTL 255).
func frame(msg []byte, src, dst netip.Addr) []byte {
	eth := []byte{1, 0, 0x5e, 0, 0, 0x12, 2, 0, 0, 0, 0, 1, 0x08, 0x00}
	if src.Is6() {
		eth[12], eth[13] = 0x86, 0xdd
		ip := make([]byte, 40)
		ip[0] = 0x60
		binary.BigEndian.PutUint16(ip[4:], uint16(len(msg)))
		ip[6], ip[7] = Protocol, TTL
		copy(ip[8:], src.AsSlice())
		copy(ip[24:], dst.AsSlice())
		return append(append(eth, ip...), msg...)
	}
	ip := make([]byte, 20)
	ip[0], ip[1] = 0x45, 0xc0
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(msg)))
	ip[8], ip[9] = TTL, Protocol
	copy(ip[12:], src.AsSlice())
	copy(ip[16:], dst.AsSlice())
	var sum uint32
	for i := 0; i < 20; i += 2 {
		sum += uint32(binary.BigEndian.Uint16(ip[i:]))
	}
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
	return append(append(eth, ip...), msg...)
}

// pcap is a capture file (Ethernet link type) holding the frames.
func pcap(frames [][]byte) []byte {
	b := make([]byte, 24)
	binary.LittleEndian.PutUint32(b[0:], 0xa1b2c3d4)
	binary.LittleEndian.PutUint16(b[4:], 2)
	binary.LittleEndian.PutUint16(b[6:], 4)
	binary.LittleEndian.PutUint32(b[16:], 65535)
	binary.LittleEndian.PutUint32(b[20:], 1)
	for _, f := range frames {
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(len(f)))
		b = append(append(b, rec...), f...)
	}
	return b
}
