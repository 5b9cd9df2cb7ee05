package config

import (
	"strings"
	"testing"
)

// vrrp_strict (global) and strict_mode (instance) change what goes on
// the wire as keepalived 2.2 changes it: RHEL's stock keepalived.conf
// (vrrp_strict, state MASTER at priority 100, auth PASS) runs as BACKUP
// with no authentication, each change warned at the keyword.
func TestStrictMode(t *testing.T) {
	const rhel = `global_defs {
   router_id LVS_DEVEL
   vrrp_skip_check_adv_addr
   vrrp_strict
   vrrp_garp_interval 0
   vrrp_gna_interval 0
}
vrrp_instance VI_1 {
    state MASTER
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    preempt_delay 5
    authentication {
        auth_type PASS
        auth_pass 1111
    }
    virtual_ipaddress {
        192.168.200.16
    }
}
`
	cfg, err := Parse("k.conf", []byte(rhel))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.VRRP[0]
	if in.AuthType != "" || in.AuthPass != "" || in.State != "BACKUP" || in.PreemptDelay != 0 || !in.LowerPrioNoAdvert || in.GARPLowerPrioRepeat != 0 {
		t.Errorf("strict: %+v", in)
	}
	var w []string
	for _, d := range cfg.Warnings {
		if strings.Contains(d.Msg, "vrrp_strict (vrrp_instance VI_1)") {
			w = append(w, d.String())
		}
	}
	for _, want := range []string{"k.conf:4: vrrp_strict (vrrp_instance VI_1): no authentication in strict mode: auth_type PASS ignored",
		"state MASTER must match being the address owner (priority 255): state BACKUP", "preempt_delay is incompatible", "no_accept"} {
		if !strings.Contains(strings.Join(w, "\n"), want) {
			t.Errorf("no warning %q in\n%s", want, strings.Join(w, "\n"))
		}
	}

	// strict_mode off in the instance overrides the global; on in one
	// instance applies there only
	off := strings.Replace(rhel, "    advert_int 1\n", "    advert_int 1\n    strict_mode off\n", 1)
	if cfg, err = Parse("k.conf", []byte(off)); err != nil || cfg.VRRP[0].AuthType != "PASS" || cfg.VRRP[0].State != "MASTER" {
		t.Errorf("strict_mode off: %v %+v", err, cfg.VRRP[0])
	}
	on := strings.Replace(off, "   vrrp_strict\n", "", 1)
	on = strings.Replace(on, "strict_mode off", "strict_mode on", 1)
	if cfg, err = Parse("k.conf", []byte(on)); err != nil || cfg.VRRP[0].AuthType != "" {
		t.Errorf("strict_mode on: %v %+v", err, cfg.VRRP[0])
	}
	// unicast in strict mode: keepalived disables the instance; an error here
	uni := strings.Replace(rhel, "    advert_int 1\n", "    advert_int 1\n    unicast_peer {\n        192.168.200.2\n    }\n", 1)
	if _, err := Parse("k.conf", []byte(uni)); err == nil || !strings.Contains(err.Error(), "k.conf:4: vrrp_strict (vrrp_instance VI_1): unicast peers are not supported in strict mode") {
		t.Errorf("unicast in strict mode: %v", err)
	}
	// no priority, state MASTER: keepalived's address owner, 255
	own := strings.Replace(strings.Replace(rhel, "    priority 100\n", "", 1), "   vrrp_strict\n", "", 1)
	if cfg, err = Parse("k.conf", []byte(own)); err != nil || cfg.VRRP[0].Priority != 255 || cfg.VRRP[0].State != "MASTER" {
		t.Errorf("state MASTER without priority: %v %+v", err, cfg.VRRP[0])
	}
}

// NoVRRP (ocf:lvs:director's lvsd): the virtual servers only, each
// vrrp_instance left out with a warning at its line.
func TestNoVRRP(t *testing.T) {
	const conf = `vrrp_instance VI {
    interface eth1
    virtual_router_id 51
    virtual_ipaddress {
        10.0.0.1/24
    }
}
global_defs {
    lvs_sync_daemon eth1 VI
}
virtual_server 10.0.0.1 80 {
    lb_kind DR
    real_server 10.0.0.5 80 {
        TCP_CHECK {
        }
    }
}
`
	cfg, err := ParseWith("k.conf", []byte(conf), Options{NoVRRP: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.VRRP) != 0 || cfg.LVSSync != nil || len(cfg.Virtuals) != 1 {
		t.Fatalf("VRRP %d, sync %v, virtuals %d", len(cfg.VRRP), cfg.LVSSync, len(cfg.Virtuals))
	}
	var ws []string
	for _, w := range cfg.Warnings {
		ws = append(ws, w.String())
	}
	all := strings.Join(ws, "\n")
	if !strings.Contains(all, "k.conf:1: vrrp_instance VI not run: VRRP is off here") || !strings.Contains(all, "lvs_sync_daemon not run") {
		t.Errorf("warnings:\n%s", all)
	}
}

// NoVRRP through a Reader, a reload reusing the previous read included:
// no VRRP either time, the warning once.
func TestNoVRRPReader(t *testing.T) {
	const conf = "vrrp_instance VI {\n    interface eth1\n    virtual_router_id 51\n    virtual_ipaddress {\n        10.0.0.1/24\n    }\n}\n" +
		"virtual_server 10.0.0.1 80 {\n    real_server 10.0.0.5 80 {\n        weight W\n    }\n}\n"
	rd := NewReader(Options{NoVRRP: true})
	for _, w := range []string{"1", "2"} {
		cfg, err := rd.Parse("k.conf", []byte(strings.Replace(conf, "W", w, 1)))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, d := range cfg.Warnings {
			if strings.Contains(d.Msg, "not run") {
				n++
			}
		}
		if len(cfg.VRRP) != 0 || n != 1 {
			t.Errorf("weight %s: VRRP %d, %d warnings: %v", w, len(cfg.VRRP), n, cfg.Warnings)
		}
	}
}

// An address twice in one instance: kept once, the first with its options.
func TestVIPTwiceInOneInstance(t *testing.T) {
	cfg, err := Parse("k.conf", []byte("vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 51\n    virtual_ipaddress {\n        192.0.2.16\n        192.0.2.18 dev eth0\n        192.0.2.18 dev eth1\n    }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	in := cfg.VRRP[0]
	if len(in.VIPs) != 2 || len(in.VirtualIPs) != 2 || in.VirtualIPDevs["192.0.2.18/32"] != "eth0" {
		t.Fatalf("VIPs %v, addresses %v, devices %v", in.VIPs, in.VirtualIPs, in.VirtualIPDevs)
	}
}
