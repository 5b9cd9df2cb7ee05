package config

import (
	"net/netip"
	"strings"
	"testing"
)

const lvsSyncInstance = `
vrrp_instance VI_1 {
    state BACKUP
    interface lo
    virtual_router_id 51
    priority 100
    virtual_ipaddress {
        192.0.2.10
    }
}
`

// lvs_sync_daemon as keepalived reads it: the instance with or without
// "inst", or none; the sync id defaulting to the instance's VRID; the
// optional settings typed.
func TestLVSSyncDaemon(t *testing.T) {
	for _, c := range []struct {
		line string
		want LVSSync
	}{
		{"lvs_sync_daemon eth0 VI_1", LVSSync{Interface: "eth0", Instance: "VI_1", SyncID: 51}},
		{"lvs_sync_daemon eth0 inst VI_1 id 0", LVSSync{Interface: "eth0", Instance: "VI_1", SyncID: 0}},
		{"lvs_sync_daemon eth0 id 7", LVSSync{Interface: "eth0", SyncID: 7}},
		{"lvs_sync_daemon eth0", LVSSync{Interface: "eth0", SyncID: 0}},
		{"lvs_sync_daemon bond0 VI_1 id 9 maxlen 1400 port 8849 ttl 2 group 239.1.1.1",
			LVSSync{Interface: "bond0", Instance: "VI_1", SyncID: 9, MaxLen: 1400, Port: 8849, TTL: 2, Group: netip.MustParseAddr("239.1.1.1")}},
		{"lvs_sync_daemon eth1 VI_1 group ff02::1:81", LVSSync{Interface: "eth1", Instance: "VI_1", SyncID: 51, Group: netip.MustParseAddr("ff02::1:81")}},
	} {
		cfg, err := Parse("k.conf", []byte("global_defs {\n    "+c.line+"\n}\n"+lvsSyncInstance))
		if err != nil {
			t.Errorf("%s: %v", c.line, err)
			continue
		}
		got := *cfg.LVSSync
		got.Line = 0
		if got != c.want {
			t.Errorf("%s: %+v, want %+v", c.line, got, c.want)
		}
	}
	for _, c := range []struct{ line, err string }{
		{"lvs_sync_daemon eth0 VI_9", `k.conf:2: lvs_sync_daemon: no vrrp_instance "VI_9"`},
		{"lvs_sync_daemon eth0 VI_1 id 300", `k.conf:2: lvs_sync_daemon id "300": want 0..255`},
		{"lvs_sync_daemon eth0 VI_1 port", `k.conf:2: lvs_sync_daemon port has no value`},
		{"lvs_sync_daemon eth0 VI_1 group 10.0.0.1", `k.conf:2: lvs_sync_daemon group "10.0.0.1": want a multicast address`},
		{"lvs_sync_daemon eth0 VI_1 mtu 1400", `k.conf:2: lvs_sync_daemon: unknown option "mtu"`},
		{"lvs_sync_daemon averyveryverylongname VI_1", `k.conf:2: lvs_sync_daemon interface name "averyveryverylongname" too long`},
	} {
		_, err := Parse("k.conf", []byte("global_defs {\n    "+c.line+"\n}\n"+lvsSyncInstance))
		if err == nil || !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: %v, want %s", c.line, err, c.err)
		}
	}
}

func TestLVSSyncDaemonTOML(t *testing.T) {
	base := `
[[vrrp_instance]]
name = "VI_1"
interface = "lo"
virtual_router_id = 51
priority = 100
virtual_ipaddress = ["192.0.2.10"]
`
	cfg, err := Parse("l.toml", []byte(base+"[lvs_sync_daemon]\ninterface = \"eth0\"\ninstance = \"VI_1\"\nport = 8849\ngroup = \"239.1.1.1\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if l := cfg.LVSSync; l.SyncID != 51 || l.Port != 8849 || l.Group.String() != "239.1.1.1" || l.Instance != "VI_1" {
		t.Errorf("%+v", l)
	}
	if _, err := Parse("l.toml", []byte(base+"[lvs_sync_daemon]\ninterface = \"eth0\"\nttl = 256\n")); err == nil ||
		!strings.Contains(err.Error(), "ttl must be 1..255") {
		t.Errorf("ttl 256: %v", err)
	}
}
