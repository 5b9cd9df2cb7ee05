package vip

import (
	"bytes"
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

var update = flag.Bool("update", false, "rewrite golden files")

func runEnv(env map[string]string, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := ocf.Run(Agent, args, func(k string) string { return env[k] }, &out, &errb)
	return code, out.String(), errb.String()
}

func TestMetadataGolden(t *testing.T) {
	code, out, _ := runEnv(nil, "meta-data")
	if code != 0 {
		t.Fatal("meta-data failed")
	}
	golden := filepath.Join("..", "..", "testdata", "VIP", "metadata.golden")
	if *update {
		os.MkdirAll(filepath.Dir(golden), 0o755)
		os.WriteFile(golden, []byte(out), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test -update)", err)
	}
	if out != string(want) {
		t.Errorf("meta-data differs from %s (go test -update):\n%s", golden, out)
	}
	// Every IPaddr2 parameter we implement keeps its name.
	for _, p := range []string{"ip", "nic", "cidr_netmask", "broadcast", "iflabel", "lvs_support", "arp_interval",
		"arp_count", "arp_count_refresh", "run_arping", "nodad", "noprefixroute", "preferred_lft",
		"flush_routes", "network_namespace", "check_link_status"} {
		if !strings.Contains(out, `<parameter name="`+p+`"`) {
			t.Errorf("meta-data lacks parameter %s", p)
		}
	}
	testenv.ValidateOCFMetadata(t, []byte(out))
}

func settings(t *testing.T, kv ...string) Settings {
	t.Helper()
	env := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		env["OCF_RESKEY_"+kv[i]] = kv[i+1]
	}
	v, err := ocf.Parse(Agent.Params, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	return ReadSettings(v, func(k string) string { return env[k] })
}

func TestReadSettings(t *testing.T) {
	s := settings(t, "ip", "10.0.0.5", "nic", "eth0:web", "cidr_netmask", "255.255.255.0")
	if s.Nic != "eth0" || s.Label != "web" || s.Prefix != 24 || !s.IP.IsValid() || s.IsV6() {
		t.Errorf("%+v", s)
	}
	s = settings(t, "ip", "10.0.0.5", "netmask", "16") // IPaddr2's old name
	if s.Prefix != 16 {
		t.Errorf("netmask alias: %+v", s)
	}
	s = settings(t, "ip", "2001:db8::1", "cidr_netmask", "64")
	if !s.IsV6() || s.Prefix != 64 || s.ARPCount != 5 || s.ARPInterval != 200 || !s.CheckLinkStatus {
		t.Errorf("v6 defaults: %+v", s)
	}
	s = settings(t, "ip", "2001:db8::1", "cidr_netmask", "255.255.255.0")
	if !s.BadNetmask {
		t.Errorf("dotted netmask for IPv6 accepted: %+v", s)
	}
	if lft, err := settings(t, "ip", "2001:db8::1", "preferred_lft", "0").PreferredLifetime(); err != nil || lft == nil || *lft != 0 {
		t.Errorf("preferred_lft 0: %v %v", lft, err)
	}
	if lft, err := settings(t, "ip", "2001:db8::1").PreferredLifetime(); err != nil || lft != nil {
		t.Errorf("preferred_lft default: %v %v", lft, err)
	}
}

func TestResolve(t *testing.T) {
	routes := []addr.Route{
		{Dst: netip.MustParsePrefix("10.0.0.0/24"), Dev: "eth0", Type: addr.TypeUnicast, Scope: addr.ScopeLink, Table: addr.TableMain},
		{Dst: netip.MustParsePrefix("10.0.0.0/16"), Dev: "eth1", Type: addr.TypeUnicast, Scope: addr.ScopeLink, Table: addr.TableMain},
	}
	exists := func(n string) (bool, error) { return n == "eth0" || n == "eth1" || n == "averyveryl0ng", nil }
	for _, c := range []struct {
		kv     []string
		strict bool
		want   string // "nic/prefix label brd" or "code N"
	}{
		{[]string{"ip", "10.0.0.5"}, true, "eth0/24  invalid IP"},
		{[]string{"ip", "10.0.9.5", "broadcast", "+"}, true, "eth1/16  10.0.255.255"},
		{[]string{"ip", "10.0.0.5", "iflabel", "web", "broadcast", "-"}, true, "eth0/24 eth0:web 10.0.0.0"},
		{[]string{"ip", "10.0.0.5", "nic", "eth1:web"}, true, "eth1/16 eth1:web invalid IP"},
		{[]string{"ip", "10.0.0.5", "nic", "eth1", "cidr_netmask", "28", "broadcast", "10.0.0.14"}, true, "eth1/28  10.0.0.14"},
		{[]string{"ip", "10.0.0.5", "iflabel", "0123456789a"}, true, "code 6"}, // eth0:0123456789a = 16
		{[]string{"ip", "10.0.0.5", "iflabel", "0123456789"}, true, "eth0/24 eth0:0123456789 invalid IP"},
		{[]string{"ip", "10.0.0.5", "nic", "averyveryl0ng", "cidr_netmask", "24", "iflabel", "xy"}, false, "code 6"},
		{[]string{"ip", "10.0.0.999"}, true, "code 6"},
		{[]string{"ip", "10.0.0.999"}, false, "code 1"}, // findif fails: caller decides
		{[]string{"ip", "10.0.0.999", "nic", "eth0", "cidr_netmask", "24"}, false, "eth0/24  invalid IP"},
		{[]string{"ip", "10.0.0.5", "nic", "nosuch"}, true, "code 6"},
		{[]string{"ip", "10.0.0.5", "nic", "nosuch"}, false, "code 1"},
		{[]string{"ip", "10.0.0.5", "nic", "nosuch", "cidr_netmask", "24"}, false, "nosuch/24  invalid IP"},
		{[]string{"ip", "10.0.0.5", "cidr_netmask", "33"}, true, "code 6"},
		{[]string{"ip", "10.0.0.5", "broadcast", "10.0.0"}, true, "code 6"},
		{[]string{"ip", "192.168.1.1"}, true, "code 1"},
		{[]string{"ip", "fe80::1"}, true, "code 6"},
		{[]string{"ip", "0.1.2.3"}, true, "code 6"},
		{[]string{"ip", "fe80::1%eth0", "nic", "eth0"}, true, "code 6"},
	} {
		s := settings(t, c.kv...)
		r, err := Resolve(s, routes, c.strict, exists)
		got := ""
		if err != nil {
			got = "code " + string(rune('0'+ocf.CodeOf(err)))
		} else {
			got = r.Nic + "/" + itoa(r.Prefix) + " " + r.Label + " " + r.Broadcast.String()
		}
		if got != c.want {
			t.Errorf("%v strict=%v: got %q (%v), want %q", c.kv, c.strict, got, err, c.want)
		}
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-"
	}
	s := ""
	for {
		s = string(rune('0'+n%10)) + s
		n /= 10
		if n == 0 {
			return s
		}
	}
}

// Bad input: every invalid parameter gives 6 with a reason naming it and
// its value. These need no root: validate-all reads routes and links only.
func TestBadInput(t *testing.T) {
	for _, c := range []struct{ k, v, want string }{
		{"ip", "10.0.0.999", `ip="10.0.0.999"`},
		{"ip", "not-an-ip", `ip="not-an-ip"`},
		{"cidr_netmask", "40", `cidr_netmask="40"`},
		{"cidr_netmask", "255.0.255.0", `cidr_netmask="255.0.255.0"`},
		{"broadcast", "1.2.3", `broadcast="1.2.3"`},
		{"nic", "nosuch-if0", `nic="nosuch-if0"`},
		{"iflabel", "waytoolonglabel", `iflabel="waytoolonglabel"`},
		{"arp_count", "0", "arp_count=0"},
		{"arp_count", "x", `arp_count="x"`},
		{"arp_interval", "-5", "arp_interval=-5"},
		{"arp_count_refresh", "-1", "arp_count_refresh=-1"},
		{"lvs_support", "maybe", `lvs_support="maybe"`},
		{"preferred_lft", "later", `preferred_lft="later"`},
		{"check_link_status", "perhaps", `check_link_status="perhaps"`},
		{"lvs_ipv6_addrlabel", "true", "lvs_ipv6_addrlabel=true"},
		{"lvs_ipv6_addrlabel_value", "x", `lvs_ipv6_addrlabel_value="x"`},
	} {
		env := map[string]string{"OCF_RESKEY_ip": "127.0.0.9", "OCF_RESKEY_nic": "lo", "OCF_RESKEY_cidr_netmask": "8",
			"HA_RSCTMP": t.TempDir()}
		env["OCF_RESKEY_"+c.k] = c.v
		code, _, stderr := runEnv(env, "validate-all")
		if code != ocf.ErrConfigured || !strings.Contains(stderr, "ocf-exit-reason:") || !strings.Contains(stderr, c.want) {
			t.Errorf("%s=%q: code %d, stderr %q", c.k, c.v, code, stderr)
		}
	}
	if code, _, _ := runEnv(map[string]string{}, "validate-all"); code != ocf.ErrConfigured {
		t.Errorf("no ip: code %d", code)
	}
	env := map[string]string{"OCF_RESKEY_ip": "2001:db8::1", "OCF_RESKEY_lvs_support": "true", "OCF_RESKEY_nic": "lo"}
	if code, _, stderr := runEnv(env, "validate-all"); code != ocf.ErrConfigured || !strings.Contains(stderr, "lvs_support") {
		t.Errorf("IPv6 lvs_support: %d %s", code, stderr)
	}
	env = map[string]string{"OCF_RESKEY_ip": "::1", "OCF_RESKEY_nic": "lo", "OCF_RESKEY_cidr_netmask": "128", "OCF_RESKEY_broadcast": "+"}
	if code, _, stderr := runEnv(env, "validate-all"); code != ocf.ErrConfigured || !strings.Contains(stderr, `broadcast="+"`) {
		t.Errorf("IPv6 broadcast: %d %s", code, stderr)
	}
	env = map[string]string{"OCF_RESKEY_ip": "127.0.0.9", "OCF_RESKEY_CRM_meta_clone_max": "2"}
	if code, _, stderr := runEnv(env, "validate-all"); code != ocf.ErrConfigured || !strings.Contains(stderr, "clone") {
		t.Errorf("cloned: %d %s", code, stderr)
	}
	if code, _, _ := runEnv(nil, "frobnicate"); code != ocf.ErrUnimplemented {
		t.Errorf("unknown action: %d", code)
	}
	if code, out, _ := runEnv(nil, "--help"); code != 0 || !strings.Contains(out, "cidr_netmask") {
		t.Errorf("--help: %d %q", code, out)
	}
}

// FuzzSettings: no input makes parsing, validation or route choice panic.
func FuzzSettings(f *testing.F) {
	for _, s := range [][4]string{
		{"10.0.0.5", "eth0:x", "24", "+"}, {"2001:db8::1", "", "64", ""}, {"10.0.0.999", "", "255.255.0.0", "-"},
		{"fe80::1%eth0", "eth0", "", "10.0.0.255"}, {":", ":", "0", "++"},
	} {
		f.Add(s[0], s[1], s[2], s[3])
	}
	routes := []addr.Route{{Dst: netip.MustParsePrefix("10.0.0.0/24"), Dev: "eth0", Type: addr.TypeUnicast, Scope: addr.ScopeLink, Table: addr.TableMain}}
	f.Fuzz(func(t *testing.T, ip, nic, mask, brd string) {
		s := settings(t, "ip", ip, "nic", nic, "cidr_netmask", mask, "broadcast", brd)
		_ = s.CheckStatic()
		for _, strict := range []bool{true, false} {
			r, err := Resolve(s, routes, strict, func(string) (bool, error) { return true, nil })
			if err == nil && r.Valid && (r.Prefix < 0 || r.Prefix > r.IP.BitLen()) {
				t.Fatalf("resolved an impossible prefix: %+v", r)
			}
		}
	})
}
