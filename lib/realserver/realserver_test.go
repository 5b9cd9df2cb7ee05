package realserver

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// fake is an in-memory Kernel for the decisions (the kernel itself is
// tested in netns_test.go and in the VM).
type fake struct {
	sysctl  map[string]string // Sysctl.String() -> value
	addrs   map[string]bool   // "dev prefix"
	links   map[string]bool   // dev -> up
	modules map[string]string // module -> the device it creates
	routes  []Route
	writes  int
}

func newFake() *fake {
	f := &fake{sysctl: map[string]string{}, addrs: map[string]bool{}, links: map[string]bool{"lo": true, "eth0": true},
		modules: map[string]string{"ipip": Tunl4, "ip6_tunnel": Tunl6}, routes: []Route{{Default: true, Dev: "eth0"}, {Dev: "eth0"}}}
	for _, d := range []string{"all", "lo", "eth0", "default"} {
		for _, n := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			f.sysctl[Sysctl{"ipv4", d, n}.String()] = "0"
		}
	}
	return f
}

func (f *fake) ReadSysctl(s Sysctl) (string, error) {
	v, ok := f.sysctl[s.String()]
	if !ok {
		return "", fs.ErrNotExist
	}
	return v, nil
}
func (f *fake) WriteSysctl(s Sysctl, v string) error {
	if _, ok := f.sysctl[s.String()]; !ok {
		return fs.ErrNotExist
	}
	f.writes++
	f.sysctl[s.String()] = v
	return nil
}
func (f *fake) HasAddr(dev string, p netip.Prefix) (bool, error) {
	return f.addrs[dev+" "+p.String()], nil
}
func (f *fake) AddAddr(dev string, p netip.Prefix) error {
	if _, ok := f.links[dev]; !ok {
		return fmt.Errorf("no %s", dev)
	}
	if f.addrs[dev+" "+p.String()] {
		return fmt.Errorf("exists")
	}
	f.writes++
	f.addrs[dev+" "+p.String()] = true
	return nil
}
func (f *fake) DelAddr(dev string, p netip.Prefix) error {
	f.writes++
	delete(f.addrs, dev+" "+p.String())
	return nil
}
func (f *fake) Link(dev string) (bool, bool, error) { up, ok := f.links[dev]; return ok, up, nil }
func (f *fake) SetLink(dev string, up bool) error {
	if f.links[dev] != up {
		f.writes++
	}
	f.links[dev] = up
	return nil
}
func (f *fake) LoadModule(name string) error {
	dev, ok := f.modules[name]
	if !ok {
		return fmt.Errorf("modprobe: FATAL: Module %s not found", name)
	}
	if _, ok := f.links[dev]; !ok {
		f.links[dev] = false
		if dev == Tunl4 {
			for _, n := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
				f.sysctl[Sysctl{"ipv4", dev, n}.String()] = f.sysctl[Sysctl{"ipv4", "default", n}.String()]
			}
		}
	}
	return nil
}
func (f *fake) Routes() ([]Route, error) { return f.routes, nil }

func (f *fake) snapshot() string {
	var b []string
	for k, v := range f.sysctl {
		b = append(b, k+"="+v)
	}
	for k, v := range f.addrs {
		if v {
			b = append(b, k)
		}
	}
	for k, v := range f.links {
		b = append(b, fmt.Sprintf("%s up=%v", k, v))
	}
	slices.Sort(b)
	return strings.Join(b, "\n")
}

func vips(t *testing.T, s ...string) []netip.Addr {
	t.Helper()
	v, err := ParseVIPs(s...)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func newHelper(t *testing.T, k Kernel) *Helper {
	return &Helper{K: k, StateFile: filepath.Join(t.TempDir(), "rs", "state.json"), Log: t.Logf}
}

func TestParseVIPs(t *testing.T) {
	got := vips(t, "10.0.0.1, 2001:db8::1/128", "10.0.0.2 10.0.0.1/32")
	if fmt.Sprint(got) != "[10.0.0.1 2001:db8::1 10.0.0.2]" {
		t.Errorf("got %v", got)
	}
	for _, bad := range []string{"", " , ", "10.0.0.1/24", "2001:db8::1/64", "10.0.0.1/x", "10.0.0.1/", "10.0.0", "0.0.0.0", "127.0.0.1", "fe80::1", "ff02::1", "::", "255.255.255.255", "x", "fe80::1%eth0", "224.0.0.18"} {
		if _, err := ParseVIPs(bad); err == nil {
			t.Errorf("ParseVIPs(%q) accepted", bad)
		}
	}
	if v := vips(t, "::ffff:10.1.2.3"); !v[0].Is4() {
		t.Errorf("mapped address kept as IPv6: %v", v)
	}
}

func TestPlan(t *testing.T) {
	names := func(p Plan) string {
		var s []string
		for _, w := range p.Sysctls {
			s = append(s, w.String()+"="+w.Set)
		}
		for _, l := range p.Links {
			s = append(s, "link "+l.Dev)
		}
		for _, v := range p.VIPs {
			s = append(s, v.Prefix().String()+"@"+v.Dev)
		}
		return strings.Join(s, " ")
	}
	for _, c := range []struct {
		cfg    Config
		ifaces []string
		want   string
	}{
		{Config{VIPs: vips(t, "10.0.0.1")}, []string{"eth0", "lo"},
			"net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 " +
				"net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 10.0.0.1/32@lo"},
		// IPv6 needs no sysctl (neighbour solicitations are answered for
		// the receiving interface's addresses only).
		{Config{VIPs: vips(t, "2001:db8::1")}, []string{"eth0"}, "2001:db8::1/128@lo"},
		{Config{VIPs: vips(t, "10.0.0.1"), Tunnel: true}, []string{"eth0.7"},
			"net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.lo.arp_ignore=1 net.ipv4.conf.lo.arp_announce=2 " +
				"net.ipv4.conf.eth0/7.arp_ignore=1 net.ipv4.conf.eth0/7.arp_announce=2 net.ipv4.conf.tunl0.rp_filter=2 link tunl0 10.0.0.1/32@tunl0"},
		{Config{VIPs: vips(t, "2001:db8::1"), Tunnel: true}, nil, "link ip6tnl0 2001:db8::1/128@ip6tnl0"},
	} {
		if got := names(MakePlan(c.cfg, c.ifaces)); got != c.want {
			t.Errorf("%+v %v:\n got %s\nwant %s", c.cfg, c.ifaces, got, c.want)
		}
	}
	if p := (Sysctl{"ipv4", "eth0.7", "arp_ignore"}).Path(); p != "/proc/sys/net/ipv4/conf/eth0.7/arp_ignore" {
		t.Error(p)
	}
	for _, c := range [][3]string{{"0", "1", "1"}, {"2", "1", "2"}, {"1", "absent", "1"}, {"x", "2", "x"}} {
		if got := InForce(c[0], c[1]); got != c[2] {
			t.Errorf("InForce(%s, %s) = %s, want %s", c[0], c[1], got, c[2])
		}
	}
	if d := DefaultDevs([]Route{{Dev: "eth1"}, {Default: true, Dev: "bond0"}, {Default: true, Dev: "bond0"}, {Default: true, Dev: "eth2"}}); fmt.Sprint(d) != "[bond0 eth2]" {
		t.Error(d)
	}
}

func TestUpDownIdempotentRestores(t *testing.T) {
	k := newFake()
	k.sysctl["net.ipv4.conf.eth0.arp_ignore"] = "2" // already does the job: left alone
	k.sysctl["net.ipv4.conf.all.arp_announce"] = "1"
	before := k.snapshot()
	h := newHelper(t, k)
	cfg := Config{VIPs: vips(t, "10.0.0.1", "2001:db8::1")}
	if err := h.Up(cfg); err != nil {
		t.Fatal(err)
	}
	r, err := h.Status(cfg)
	if err != nil || r.Result() != Running {
		t.Fatalf("after up: %v %v %v", r.Result(), r.Problems(), err)
	}
	if k.sysctl["net.ipv4.conf.eth0.arp_ignore"] != "2" || k.sysctl["net.ipv4.conf.all.arp_ignore"] != "1" || !k.addrs["lo 2001:db8::1/128"] {
		t.Fatalf("up:\n%s", k.snapshot())
	}
	after, n := k.snapshot(), k.writes
	if err := h.Up(cfg); err != nil {
		t.Fatal(err)
	}
	if k.snapshot() != after || k.writes != n {
		t.Fatalf("second up changed something (%d writes)", k.writes-n)
	}
	st, _, _ := LoadState(h.StateFile)
	for _, s := range st.Sysctls {
		if s.String() == "net.ipv4.conf.all.arp_announce" && s.Prev != "1" {
			t.Fatalf("second up overwrote the saved value: %+v", s)
		}
	}
	if err := h.Down(Config{}); err != nil {
		t.Fatal(err)
	}
	if got := k.snapshot(); got != before {
		t.Fatalf("down did not restore:\n%s\nwant\n%s", got, before)
	}
	if _, err := os.Stat(h.StateFile); err == nil {
		t.Fatal("state file left after the last down")
	}
	if r, _ := h.Status(cfg); r.Result() != Stopped {
		t.Fatalf("after down: %v", r.Result())
	}
	n = k.writes
	if err := h.Down(cfg); err != nil || k.writes != n {
		t.Fatalf("second down: %v, %d writes", err, k.writes-n)
	}
}

// Two VIP sets through one state file: the sysctls stay until the last
// VIP goes.
func TestSharedStateLastDownRestores(t *testing.T) {
	k := newFake()
	before := k.snapshot()
	h := newHelper(t, k)
	a, b := Config{VIPs: vips(t, "10.0.0.1")}, Config{VIPs: vips(t, "10.0.0.2")}
	if err := h.Up(a); err != nil {
		t.Fatal(err)
	}
	if err := h.Up(b); err != nil {
		t.Fatal(err)
	}
	if err := h.Down(a); err != nil {
		t.Fatal(err)
	}
	if r, _ := h.Status(b); r.Result() != Running {
		t.Fatalf("b after a's down: %v %v", r.Result(), r.Problems())
	}
	if r, _ := h.Status(a); r.Result() != Stopped {
		t.Fatalf("a after its down: %v", r.Result())
	}
	if err := h.Down(b); err != nil {
		t.Fatal(err)
	}
	if got := k.snapshot(); got != before {
		t.Fatalf("not restored:\n%s\nwant\n%s", got, before)
	}
}

func TestStatusPartial(t *testing.T) {
	k := newFake()
	h := newHelper(t, k)
	cfg := Config{VIPs: vips(t, "10.0.0.1", "10.0.0.2")}
	if err := h.Up(cfg); err != nil {
		t.Fatal(err)
	}
	k.DelAddr("lo", netip.MustParsePrefix("10.0.0.2/32"))
	r, _ := h.Status(cfg)
	if r.Result() != Partial || fmt.Sprint(r.Problems()) != "[10.0.0.2/32 is not on lo]" {
		t.Fatalf("one VIP gone: %v %v", r.Result(), r.Problems())
	}
	h.Up(cfg)
	// A device's own value reset is still covered by all's (the kernel
	// takes the larger): running.
	k.sysctl["net.ipv4.conf.lo.arp_announce"] = "1"
	if r, _ = h.Status(cfg); r.Result() != Running {
		t.Fatalf("lo reset, all holds: %v %v", r.Result(), r.Problems())
	}
	k.sysctl["net.ipv4.conf.all.arp_ignore"] = "0"
	k.sysctl["net.ipv4.conf.eth0.arp_ignore"] = "3" // answers for lo's global addresses
	r, _ = h.Status(cfg)
	if r.Result() != Partial || fmt.Sprint(r.Problems()) != "[net.ipv4.conf.all.arp_ignore = 0 (want 1 or 2 or 8) net.ipv4.conf.eth0.arp_ignore = 3 (want 1 or 2 or 8)]" {
		t.Fatalf("sysctls reset: %v %v", r.Result(), r.Problems())
	}
	k.sysctl["net.ipv4.conf.eth0.arp_ignore"] = "1"
	// all.arp_ignore, changed by someone else since up (to 2), is left;
	// lo.arp_announce, back at what up wrote, is restored.
	k.sysctl["net.ipv4.conf.lo.arp_announce"] = "2"
	k.sysctl["net.ipv4.conf.all.arp_ignore"] = "2"
	if err := h.Down(cfg); err != nil {
		t.Fatal(err)
	}
	if k.sysctl["net.ipv4.conf.all.arp_ignore"] != "2" || k.sysctl["net.ipv4.conf.lo.arp_announce"] != "0" || k.sysctl["net.ipv4.conf.eth0.arp_ignore"] != "0" ||
		k.sysctl["net.ipv4.conf.lo.arp_ignore"] != "0" {
		t.Fatalf("down:\n%s", k.snapshot())
	}
	// Settings alone (sysctl.conf) with no VIP: stopped.
	k.sysctl["net.ipv4.conf.all.arp_ignore"] = "1"
	if r, _ := h.Status(cfg); r.Result() != Stopped {
		t.Fatalf("no VIP: %v", r.Result())
	}
}

func TestTunnel(t *testing.T) {
	k := newFake()
	k.sysctl["net.ipv4.conf.default.rp_filter"] = "1" // tunl0 inherits strict
	k.sysctl["net.ipv4.conf.all.rp_filter"] = "1"
	h := newHelper(t, k)
	cfg := Config{VIPs: vips(t, "10.0.0.1", "2001:db8::1"), Tunnel: true}
	if err := h.Up(cfg); err != nil {
		t.Fatal(err)
	}
	if !k.links[Tunl4] || !k.links[Tunl6] || k.sysctl["net.ipv4.conf.tunl0.rp_filter"] != "2" || k.sysctl["net.ipv4.conf.all.rp_filter"] != "1" ||
		!k.addrs["tunl0 10.0.0.1/32"] || !k.addrs["ip6tnl0 2001:db8::1/128"] {
		t.Fatalf("tunnel up:\n%s", k.snapshot())
	}
	if r, _ := h.Status(cfg); r.Result() != Running {
		t.Fatalf("%v %v", r.Result(), r.Problems())
	}
	k.SetLink(Tunl4, false)
	if r, _ := h.Status(cfg); r.Result() != Partial || !slices.Contains(r.Problems(), "tunl0 is down") {
		t.Fatalf("tunl0 down: %v %v", r.Result(), r.Problems())
	}
	k.SetLink(Tunl4, true)
	if err := h.Down(Config{}); err != nil {
		t.Fatal(err)
	}
	if k.links[Tunl4] || k.links[Tunl6] || k.sysctl["net.ipv4.conf.tunl0.rp_filter"] != "1" || k.addrs["tunl0 10.0.0.1/32"] {
		t.Fatalf("tunnel down:\n%s", k.snapshot())
	}
	delete(k.modules, "ipip")
	delete(k.links, Tunl4)
	if err := h.Up(cfg); err == nil || !strings.Contains(err.Error(), "module ipip") {
		t.Fatalf("no ipip: %v", err)
	}
}

func TestUpMissingInterface(t *testing.T) {
	h := newHelper(t, newFake())
	err := h.Up(Config{VIPs: vips(t, "10.0.0.1"), Interfaces: []string{"eth9"}})
	if err == nil || !strings.Contains(err.Error(), "eth9") {
		t.Fatalf("got %v", err)
	}
}

// No input crashes the parser; what it accepts is usable as a VIP.
func FuzzParseVIPs(f *testing.F) {
	for _, s := range []string{"10.0.0.1", "10.0.0.1, 2001:db8::1/128", "::ffff:1.2.3.4", "fe80::1%eth0", "1.2.3.4/33", ",,, \t"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := ParseVIPs(s)
		if err != nil {
			return
		}
		for _, a := range v {
			if !a.IsValid() || a.Zone() != "" || a.IsLoopback() || a.Is4In6() {
				t.Fatalf("%q gave %v", s, a)
			}
			if p := (VIPAddr{IP: a}).Prefix(); p.Bits() != a.BitLen() {
				t.Fatalf("%q: prefix %v", s, p)
			}
		}
	})
}
