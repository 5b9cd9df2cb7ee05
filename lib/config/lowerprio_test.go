package config

import (
	"bytes"
	"testing"
	"time"
)

// vrrp_lower_prio_no_advert and the lower-priority GARPs, as keepalived
// reads them: by default the global vrrp_garp_master_repeat and _delay
// (5, 5 s), then vrrp_garp_lower_prio_*, then the instance's own; TOML
// the instance's keys; migrate writes them.
func TestLowerPrioSettings(t *testing.T) {
	inst := func(extra string) string {
		return "vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 51\n    priority 100\n" + extra +
			"    virtual_ipaddress {\n        192.0.2.10\n    }\n}\n"
	}
	for _, c := range []struct {
		name, global, inst string
		noAdv              bool
		repeat             int
		delay              time.Duration
	}{
		{"keepalived's defaults", "", "", false, 5, 5 * time.Second},
		{"the global garp_master settings", "vrrp_garp_master_repeat 3\n    vrrp_garp_master_delay 2", "", false, 3, 2 * time.Second},
		{"the global lower_prio settings", "vrrp_garp_master_repeat 3\n    vrrp_garp_lower_prio_repeat 1\n    vrrp_garp_lower_prio_delay 0\n    vrrp_lower_prio_no_advert", "", true, 1, 0},
		{"the instance's own", "vrrp_lower_prio_no_advert true\n    vrrp_garp_lower_prio_repeat 1",
			"    garp_lower_prio_repeat 4\n    garp_lower_prio_delay 9\n    lower_prio_no_advert false\n", false, 4, 9 * time.Second},
		{"the instance's garp_master_repeat is not the default", "", "    garp_master_repeat 1\n", false, 5, 5 * time.Second},
	} {
		text := inst(c.inst)
		if c.global != "" {
			text = "global_defs {\n    " + c.global + "\n}\n" + text
		}
		cfg, err := Parse("k.conf", []byte(text))
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		in := cfg.VRRP[0]
		if in.LowerPrioNoAdvert != c.noAdv || in.GARPLowerPrioRepeat != c.repeat || in.GARPLowerPrioDelay != c.delay {
			t.Errorf("%s: no_advert %v repeat %d delay %s, want %v %d %s", c.name, in.LowerPrioNoAdvert, in.GARPLowerPrioRepeat,
				in.GARPLowerPrioDelay, c.noAdv, c.repeat, c.delay)
		}
		// migrate: the TOML written reads back the same
		var b bytes.Buffer
		if err := WriteTOML(&b, cfg); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("k.toml", b.Bytes())
		if err != nil {
			t.Errorf("%s: TOML: %v", c.name, err)
			continue
		}
		if b := back.VRRP[0]; b.LowerPrioNoAdvert != c.noAdv || b.GARPLowerPrioRepeat != c.repeat || b.GARPLowerPrioDelay != c.delay {
			t.Errorf("%s: through TOML: %v %d %s", c.name, b.LowerPrioNoAdvert, b.GARPLowerPrioRepeat, b.GARPLowerPrioDelay)
		}
	}
}
