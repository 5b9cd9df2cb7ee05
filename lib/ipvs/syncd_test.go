package ipvs

import (
	"encoding/binary"
	"net/netip"
	"testing"

	"golang.org/x/sys/unix"
)

// The messages as the kernel reads them (ip_vs_genl_new_daemon): the
// daemon nest with state, interface (NUL-terminated), sync id, and the
// optional attributes in their kernel types (port in host order, as
// ipvsadm sends it).
func TestDaemonMsgRoundTrip(t *testing.T) {
	for _, c := range []SyncDaemon{
		{Role: SyncMaster, SyncConfig: SyncConfig{Interface: "eth0", SyncID: 51}},
		{Role: SyncBackup, SyncConfig: SyncConfig{Interface: "bond0.123", SyncID: 7, MaxLen: 1400, Port: 8849, TTL: 3,
			Group: netip.MustParseAddr("239.1.2.3")}},
		{Role: SyncMaster, SyncConfig: SyncConfig{Interface: "eth1", Group: netip.MustParseAddr("ff02::81")}},
	} {
		b := appendDaemonMsg(nil, 0x20, 9, ipvsCmdNewDaemon, c.Role, &c.SyncConfig)
		if l := binary.NativeEndian.Uint32(b); int(l) != len(b) || l%4 != 0 {
			t.Fatalf("%v: length %d of %d", c, l, len(b))
		}
		if f := binary.NativeEndian.Uint16(b[6:]); f != unix.NLM_F_REQUEST|unix.NLM_F_ACK {
			t.Errorf("%v: flags %#x", c, f)
		}
		if b[unix.NLMSG_HDRLEN] != ipvsCmdNewDaemon {
			t.Errorf("%v: command %d", c, b[unix.NLMSG_HDRLEN])
		}
		got, err := parseDaemon(b[unix.NLMSG_HDRLEN:])
		if err != nil || got != c {
			t.Errorf("round trip of %v: %v, %v", c, got, err)
		}
		for _, a := range attrs(attrs(b[unix.NLMSG_HDRLEN+4:])[0].val) {
			if a.typ == ipvsDaemonAttrPort && binary.NativeEndian.Uint16(a.val) != c.Port {
				t.Errorf("%v: port not in host order: % x", c, a.val)
			}
			if a.typ == ipvsDaemonAttrIfname && a.val[len(c.Interface)] != 0 {
				t.Errorf("%v: interface not NUL-terminated", c)
			}
		}
	}
	del := appendDaemonMsg(nil, 0x20, 9, ipvsCmdDelDaemon, SyncBackup, nil)
	if d, err := parseDaemon(del[unix.NLMSG_HDRLEN:]); err != nil || d.Role != SyncBackup || d.Interface != "" {
		t.Errorf("del carries the state only: %v %v", d, err)
	}
	get := appendDaemonMsg(nil, 0x20, 9, ipvsCmdGetDaemon, 0, nil)
	if len(get) != unix.NLMSG_HDRLEN+4 || binary.NativeEndian.Uint16(get[6:])&unix.NLM_F_DUMP != unix.NLM_F_DUMP {
		t.Errorf("get is a bare dump request: % x", get)
	}
}

func TestSyncConfigCheck(t *testing.T) {
	for _, c := range []SyncConfig{{}, {Interface: "a-very-long-ifname"}, {Interface: "eth0", Group: netip.MustParseAddr("10.0.0.1")}} {
		if c.Check() == nil {
			t.Errorf("%+v accepted", c)
		}
	}
	if err := (SyncConfig{Interface: "eth0", Group: netip.MustParseAddr("224.0.0.81")}).Check(); err != nil {
		t.Error(err)
	}
}

// An answer from the kernel is parsed without panicking, whatever it is.
func FuzzParseDaemon(f *testing.F) {
	c := SyncConfig{Interface: "eth0", SyncID: 5, MaxLen: 1000, Port: 1, TTL: 2, Group: netip.MustParseAddr("239.0.0.1")}
	f.Add(appendDaemonMsg(nil, 1, 1, ipvsCmdNewDaemon, SyncMaster, &c)[unix.NLMSG_HDRLEN:])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		parseDaemon(b)                                      //nolint:errcheck // only must not panic
		syncAnswer(b, 1, func([]byte) error { return nil }) //nolint:errcheck
	})
}
