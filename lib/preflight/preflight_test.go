package preflight

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

func parse(t *testing.T, text string) *config.Config {
	t.Helper()
	cfg, err := config.Parse("lvs.cf", []byte(text))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, text)
	}
	return cfg
}

func addrs(ps ...string) Fact[[]Addr] {
	var out []Addr
	for _, p := range ps {
		dev, pfx, _ := strings.Cut(p, " ")
		out = append(out, Addr{Dev: dev, Prefix: netip.MustParsePrefix(pfx)})
	}
	return Known(out)
}

// director: IPVS loaded, forwarding on, default neighbour limits, eth0 in
// 192.0.2.0/24 and 2001:db8::/64, lo.
func director() Facts {
	return Facts{
		IPVS:  Known(true),
		V4:    Family{Forwarding: Known(true), GCThresh3: Known(1024)},
		V6:    Family{Forwarding: Known(true), GCThresh3: Known(1024)},
		Addrs: addrs("lo 127.0.0.1/8", "lo ::1/128", "eth0 192.0.2.1/24", "eth0 2001:db8::1/64", "eth0 fe80::1/64"),
	}
}

// want is a warning's kind, line and fragments of its message and fix.
type want struct {
	kind Kind
	line int
	msg  []string
	fix  []string
}

func TestCheck(t *testing.T) {
	const mixed = `virtual=192.0.2.100:80
	real=192.0.2.10:80 masq
	real=192.0.2.11:80 masq
	real=192.0.2.12:80 gate
	real=198.51.100.5:80 masq
	fallback=127.0.0.1:80 gate
virtual6=[2001:db8::100]:80
	real6=[2001:db8::10]:80 masq
	real6=[2001:db8::11]:80 gate
`
	tests := []struct {
		name string
		cfg  string
		f    func(*Facts)
		want []want
	}{
		{name: "a director that serves it", cfg: mixed},
		{name: "nothing known, nothing warned", cfg: mixed, f: func(f *Facts) { *f = Facts{} }},
		{name: "ip_vs not loaded", cfg: mixed, f: func(f *Facts) { f.IPVS = Known(false) },
			want: []want{{KindIPVS, 1, []string{"IPVS is not loaded", "/proc/net/ip_vs"}, []string{"modprobe ip_vs", "/etc/modules-load.d/ip_vs.conf"}}}},
		{name: "ip_vs unknown", cfg: mixed, f: func(f *Facts) { f.IPVS = Fact[bool]{} }},
		{name: "ip_forward off: one warning for the masq reals", cfg: mixed, f: func(f *Facts) { f.V4.Forwarding = Known(false) },
			want: []want{{KindForwarding, 2, []string{"real 192.0.2.10:80 is masq (NAT)", "net.ipv4.ip_forward = 0", "(and 2 more masq reals)"},
				[]string{"sysctl -w net.ipv4.ip_forward=1, and put the line 'net.ipv4.ip_forward = 1' in /etc/sysctl.d/90-lvs.conf"}}}},
		{name: "IPv6 forwarding off", cfg: mixed, f: func(f *Facts) { f.V6.Forwarding = Known(false) },
			want: []want{{KindForwarding, 8, []string{"real [2001:db8::10]:80 is masq", "net.ipv6.conf.all.forwarding = 0"},
				[]string{"net.ipv6.conf.all.forwarding=1", "accept_ra = 2"}}}},
		{name: "forwarding off, masq real on the director itself", cfg: `virtual=192.0.2.100:80
	real=127.0.0.1:8080 masq
	real=192.0.2.1:8080 masq
`, f: func(f *Facts) { f.V4.Forwarding = Known(false) }},
		{name: "forwarding off, DR only", cfg: `virtual=192.0.2.100:80
	real=192.0.2.12:80 gate
`, f: func(f *Facts) { f.V4.Forwarding = Known(false); f.V6.Forwarding = Known(false) }},
		{name: "DR real off-link", cfg: `virtual=192.0.2.100:80
	real=192.0.2.12:80 gate
	real=198.51.100.7:80 gate
	real=198.51.100.8:80 ipip
	real=198.51.100.9:80 masq
virtual6=[2001:db8::100]:80
	real6=[2001:db8:1::7]:80 gate
`, want: []want{
			{KindDROffLink, 3, []string{"real 198.51.100.7:80 is gate (direct routing)", "no subnet of this director's interfaces"}, []string{"ipip", "masq"}},
			{KindDROffLink, 7, []string{"real [2001:db8:1::7]:80 is gate"}, nil},
		}},
		{name: "a /32 makes nothing on-link", cfg: `virtual=192.0.2.100:80
	real=203.0.113.9:80 gate
`, f: func(f *Facts) { f.Addrs = addrs("eth1 203.0.113.1/32") },
			want: []want{{KindDROffLink, 2, []string{"real 203.0.113.9:80 is gate"}, nil}}},
		{name: "the global fallback is warned once", cfg: `fallback=198.51.100.1:80 gate
virtual=192.0.2.100:80
	real=192.0.2.12:80 gate
virtual=192.0.2.101:80
	real=192.0.2.12:80 gate
`, want: []want{{KindDROffLink, 1, []string{"real 198.51.100.1:80 is gate"}, nil}}},
		{name: "addresses unknown: no DR or neighbour warning", cfg: `virtual=192.0.2.100:80
	real=198.51.100.7:80 gate
`, f: func(f *Facts) { f.Addrs = Fact[[]Addr]{} }},
		{name: "VRRP only: no IPVS needed", cfg: ``, f: func(f *Facts) { f.IPVS = Known(false) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := director()
			if tc.f != nil {
				tc.f(&f)
			}
			var cfg *config.Config
			if tc.cfg == "" {
				cfg = &config.Config{Source: "keepalived.conf", VRRP: []*config.VRRPInstance{{Line: 1, Name: "VI_1"}}}
			} else {
				cfg = parse(t, tc.cfg)
			}
			expect(t, Check(cfg, f), tc.want)
		})
	}
}

func expect(t *testing.T, got []Warning, want []want) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d warnings, want %d:\n%s", len(got), len(want), dump(got))
	}
	for i, w := range want {
		g := got[i]
		if g.Kind != w.kind || g.Line != w.line {
			t.Errorf("warning %d: %s at line %d, want %s at line %d:\n%s", i, g.Kind, g.Line, w.kind, w.line, g)
		}
		for _, s := range w.msg {
			if !strings.Contains(g.Msg, s) {
				t.Errorf("warning %d: message lacks %q:\n%s", i, s, g.Msg)
			}
		}
		if g.Fix == "" {
			t.Errorf("warning %d has no fix", i)
		}
		for _, s := range w.fix {
			if !strings.Contains(g.Fix, s) {
				t.Errorf("warning %d: fix lacks %q:\n%s", i, s, g.Fix)
			}
		}
	}
}

func dump(ws []Warning) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintln(&b, w)
	}
	return b.String()
}

// manyReals writes a virtual (line 1) with n reals from base on, one a line
// (real i on line i+2).
func manyReals(n int, six bool, fwd string) string {
	var b strings.Builder
	if six {
		b.WriteString("virtual6=[2001:db8::100]:80\n")
	} else {
		b.WriteString("virtual=192.0.2.100:80\n")
	}
	for i := 0; i < n; i++ {
		if six {
			fmt.Fprintf(&b, "\treal6=[2001:db8:0:1::%x]:80 %s\n", i+1, fwd)
		} else {
			fmt.Fprintf(&b, "\treal=10.1.%d.%d:80 %s\n", (i+1)/256, (i+1)%256, fwd)
		}
	}
	return b.String()
}

func TestCheckNeighbourTable(t *testing.T) {
	f := director()
	f.Addrs = addrs("lo 127.0.0.1/8", "eth0 10.1.255.254/16", "eth1 2001:db8:0:1::ffff/64")

	// 2000 on-link reals, a table of 1024: the 1025th (line 1026) and on
	// never resolve.
	expect(t, Check(parse(t, manyReals(2000, false, "gate")), f), []want{{KindNeighbours, 1026,
		[]string{"2000 distinct on-link IPv4 real servers", "net.ipv4.neigh.default.gc_thresh3 = 1024", "about 976 of them"},
		[]string{"sysctl -w net.ipv4.neigh.default.gc_thresh3=4096 net.ipv4.neigh.default.gc_thresh2=2048",
			"'net.ipv4.neigh.default.gc_thresh3 = 4096' and 'net.ipv4.neigh.default.gc_thresh2 = 2048' in /etc/sysctl.d/90-lvs.conf"}}})

	// exactly the limit fits; masq reals count as much as gate ones
	expect(t, Check(parse(t, manyReals(1024, false, "masq")), f), nil)

	// a raised limit
	g := f
	g.V4.GCThresh3 = Known(4096)
	expect(t, Check(parse(t, manyReals(2000, false, "gate")), g), nil)

	// off-link reals use the gateway's entry, not one each
	h := f
	h.Addrs = addrs("eth0 10.2.0.1/16")
	ws := Check(parse(t, manyReals(2000, false, "masq")), h)
	expect(t, ws, nil)

	// the same real in two virtuals is one neighbour
	dup := manyReals(1000, false, "gate") + strings.Replace(manyReals(1000, false, "gate"), "192.0.2.100:80", "192.0.2.101:80", 1)
	expect(t, Check(parse(t, dup), f), nil)

	// the director's own address is not a neighbour
	own := f
	own.Addrs = addrs("eth0 10.1.0.1/16")
	expect(t, Check(parse(t, manyReals(1025, false, "gate")), own), nil)

	// IPv6 against its own limit
	expect(t, Check(parse(t, manyReals(1500, true, "gate")), f), []want{{KindNeighbours, 1026,
		[]string{"1500 distinct on-link IPv6 real servers", "net.ipv6.neigh.default.gc_thresh3 = 1024", "about 476"},
		[]string{"net.ipv6.neigh.default.gc_thresh3 = 4096"}}})

	// outside the host's namespace the limit cannot be read: the default is
	// assumed, and the fix is for the host
	u := f
	u.V4.GCThresh3 = Fact[int]{}
	expect(t, Check(parse(t, manyReals(1100, false, "gate")), u), []want{{KindNeighbours, 1026,
		[]string{"1100 distinct", "gc_thresh3, 1024 by default"},
		[]string{"on the host", "shared by every namespace", "gc_thresh3 = 4096"}}})
}

func TestCheckDRCapped(t *testing.T) {
	f := director()
	f.Addrs = addrs("eth0 192.0.2.1/24")
	ws := Check(parse(t, manyReals(15, false, "gate")), f)
	if len(ws) != maxDROffLink+1 {
		t.Fatalf("%d warnings:\n%s", len(ws), dump(ws))
	}
	last := ws[maxDROffLink]
	if last.Line != maxDROffLink+2 || !strings.Contains(last.Msg, "5 more gate (direct routing) real lines from this line on") {
		t.Errorf("last: %s", last)
	}
}

func TestWarningString(t *testing.T) {
	w := Warning{Diag: config.Diag{File: "/etc/ha.d/ldirectord.cf", Line: 7, Msg: "m"}, Fix: "f"}
	if s := w.String(); s != "/etc/ha.d/ldirectord.cf:7: warning: m (fix: f)" {
		t.Errorf("%q", s)
	}
	w.Line = 0
	if s := w.String(); s != "/etc/ha.d/ldirectord.cf: warning: m (fix: f)" {
		t.Errorf("%q", s)
	}
}

// readFacts over a made-up /proc: what is there is read, a missing file is
// unknown without an error, a bad one is unknown with an error.
func TestReadFactsTree(t *testing.T) {
	proc := t.TempDir()
	put := func(p, s string) {
		t.Helper()
		p = filepath.Join(proc, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	put("thread-self/net/ip_vs", "IP Virtual Server version 1.2.1\n")
	put("net/dev", "") // /proc/net of the main thread: not the one read
	put("sys/net/ipv4/ip_forward", "1\n")
	put("sys/net/ipv4/neigh/default/gc_thresh3", "8192\n")
	put("sys/net/ipv6/neigh/default/gc_thresh3", "lots\n")
	list := func() ([]Addr, error) { return addrs("eth0 192.0.2.1/24").V, nil }

	f := readFacts(proc, list)
	if f.IPVS != Known(true) || f.V4.Forwarding != Known(true) || f.V4.GCThresh3 != Known(8192) {
		t.Errorf("read: %+v", f)
	}
	if f.V6.Forwarding.OK || f.V6.GCThresh3.OK {
		t.Errorf("IPv6 facts known: %+v", f.V6)
	}
	if len(f.Errors) != 1 || !strings.Contains(f.Errors[0].Error(), `"lots" is not a number`) {
		t.Errorf("errors: %v", f.Errors)
	}
	if !f.Addrs.OK || len(f.Addrs.V) != 1 {
		t.Errorf("addrs: %+v", f.Addrs)
	}

	// no ip_vs; an old kernel without thread-self: /proc/net is read
	os.RemoveAll(filepath.Join(proc, "thread-self"))
	f = readFacts(proc, func() ([]Addr, error) { return nil, os.ErrPermission })
	if f.IPVS != Known(false) || f.Addrs.OK || len(f.Errors) != 2 {
		t.Errorf("without ip_vs: %+v", f)
	}
	put("net/ip_vs", "")
	if f = readFacts(proc, list); f.IPVS != Known(true) {
		t.Errorf("/proc/net/ip_vs: %+v", f.IPVS)
	}
}

// A VRRP instance on an interface this host lacks: lvsd run refuses it,
// so lvsd check warns with the host's interfaces; VRRP-only files too.
func TestCheckVRRPInterface(t *testing.T) {
	cfg, err := config.Parse("k.conf", []byte("vrrp_instance VI {\n    interface eth1\n    virtual_router_id 51\n    virtual_ipaddress {\n        10.0.0.1/24\n    }\n}\n"))
	if err != nil {
		t.Fatal(err)
	}
	ws := Check(cfg, Facts{Links: Known([]string{"lo", "eth0"})})
	if len(ws) != 1 || ws[0].Kind != KindInterface || ws[0].String() !=
		"k.conf:1: warning: vrrp_instance VI: interface eth1 does not exist on this host: lvsd run refuses to start with it (fix: name one of this host's interfaces (lo, eth0), or check the file on the director it is for)" {
		t.Fatalf("%v", ws)
	}
	if ws := Check(cfg, Facts{Links: Known([]string{"lo", "eth1"})}); len(ws) != 0 {
		t.Fatalf("interface present: %v", ws)
	}
}
