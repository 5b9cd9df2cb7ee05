package realserver

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// sysctls reads the ARP and rp_filter knobs of devs in ns.
func sysctls(t *testing.T, p *netns.Pair, ns string, devs ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, d := range devs {
		for _, n := range []string{"arp_ignore", "arp_announce", "rp_filter"} {
			out[d+"."+n] = strings.TrimSpace(p.Run(t, ns, "cat", fmt.Sprintf("/proc/sys/net/ipv4/conf/%s/%s", d, n)))
		}
	}
	return out
}

// loAddrs lists ns's addresses on dev with their flags (ip -j addr).
func loAddrs(t *testing.T, p *netns.Pair, ns, dev string) map[string][]string {
	t.Helper()
	var links []struct {
		AddrInfo []map[string]any `json:"addr_info"`
	}
	if err := json.Unmarshal([]byte(p.Run(t, ns, "ip", "-j", "addr", "show", "dev", dev)), &links); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			k := fmt.Sprintf("%v/%v", a["local"], a["prefixlen"])
			var flags []string
			for f, v := range a {
				if v == true {
					flags = append(flags, f)
				}
			}
			out[k] = flags
		}
	}
	return out
}

func in(t *testing.T, ns string, f func() error) {
	t.Helper()
	if err := netns.Do(ns, f); err != nil {
		t.Fatal(err)
	}
}

// The real kernel in a fresh namespace: values set, idempotence, the
// partial case, the previous values restored exactly, IPv6 nodad.
func TestNetnsUpStatusDown(t *testing.T) {
	p := netns.New(t)
	p.Run(t, p.A, "ip", "route", "add", "default", "via", p.V4(2))
	// Previous values, some already good: they must come back as they were.
	for k, v := range map[string]string{"all/arp_ignore": "0", "all/arp_announce": "1", "lo/arp_ignore": "0", "eth0/arp_ignore": "8", "eth0/arp_announce": "0"} {
		p.Run(t, p.A, "sh", "-c", "echo "+v+" > /proc/sys/net/ipv4/conf/"+k)
	}
	before := sysctls(t, p, p.A, "all", "lo", "eth0")
	h := &Helper{K: System{}, StateFile: filepath.Join(t.TempDir(), "state.json"), Log: t.Logf}
	vip4, vip6 := p.V4(100), p.V6(100)
	cfg := Config{VIPs: vips(t, vip4, vip6)}
	status := func() Report {
		t.Helper()
		var r Report
		in(t, p.A, func() (err error) { r, err = h.Status(cfg); return })
		return r
	}
	if r := status(); r.Result() != Stopped {
		t.Fatalf("before up: %v %v", r.Result(), r.Problems())
	}
	in(t, p.A, func() error { return h.Up(cfg) })
	got := sysctls(t, p, p.A, "all", "lo", "eth0")
	for k, v := range map[string]string{"all.arp_ignore": "1", "all.arp_announce": "2", "lo.arp_ignore": "1", "lo.arp_announce": "2", "eth0.arp_ignore": "8", "eth0.arp_announce": "2"} {
		if got[k] != v {
			t.Errorf("after up %s = %s, want %s", k, got[k], v)
		}
	}
	lo := loAddrs(t, p, p.A, "lo")
	if _, ok := lo[vip4+"/32"]; !ok {
		t.Errorf("no %s/32 on lo: %v", vip4, lo)
	}
	if f, ok := lo[vip6+"/128"]; !ok || !strings.Contains(fmt.Sprint(f), "nodad") {
		t.Errorf("no %s/128 nodad on lo: %v", vip6, lo)
	}
	if r := status(); r.Result() != Running {
		t.Fatalf("after up: %v %v", r.Result(), r.Problems())
	}
	state, _ := os.ReadFile(h.StateFile)
	in(t, p.A, func() error { return h.Up(cfg) })
	if again, _ := os.ReadFile(h.StateFile); string(again) != string(state) {
		t.Errorf("second up changed the state:\n%s\nwas\n%s", again, state)
	}
	if r := status(); r.Result() != Running {
		t.Fatalf("after the second up: %v %v", r.Result(), r.Problems())
	}

	// Partial: one VIP gone, then a sysctl reset.
	p.Run(t, p.A, "ip", "addr", "del", vip6+"/128", "dev", "lo")
	if r := status(); r.Result() != Partial || !strings.Contains(fmt.Sprint(r.Problems()), vip6+"/128 is not on lo") {
		t.Fatalf("one VIP removed: %v %v", r.Result(), r.Problems())
	}
	in(t, p.A, func() error { return h.Up(cfg) })
	p.Run(t, p.A, "sh", "-c", "echo 0 > /proc/sys/net/ipv4/conf/all/arp_announce")
	if r := status(); r.Result() != Partial || !strings.Contains(fmt.Sprint(r.Problems()), "net.ipv4.conf.all.arp_announce = 0 (want 2)") {
		t.Fatalf("arp_announce reset: %v %v", r.Result(), r.Problems())
	}
	in(t, p.A, func() error { return h.Up(cfg) })

	in(t, p.A, func() error { return h.Down(Config{VIPs: cfg.VIPs}) })
	if got := sysctls(t, p, p.A, "all", "lo", "eth0"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("after down:\n%v\nwant\n%v", got, before)
	}
	if lo := loAddrs(t, p, p.A, "lo"); len(lo) != 2 { // 127.0.0.1/8 and ::1/128
		t.Errorf("after down, lo has %v", lo)
	}
	if r := status(); r.Result() != Stopped {
		t.Fatalf("after down: %v %v", r.Result(), r.Problems())
	}
	in(t, p.A, func() error { return h.Down(cfg) })
	if _, err := os.Stat(h.StateFile); err == nil {
		t.Error("state file after down")
	}
}

// Tunnel mode on a kernel without ipip (this host's) fails clearly and
// changes nothing; the working case runs in the VM (cmd/lvsd).
func TestNetnsTunnelNeedsIPIP(t *testing.T) {
	p := netns.New(t)
	if err := netns.Do(p.A, func() error { return System{}.LoadModule("ipip") }); err == nil {
		t.Skip("ipip loads here: the tunnel case is tested in the VM (cmd/lvsd TestRealserverHelperTraffic)")
	}
	before := sysctls(t, p, p.A, "all", "lo")
	h := &Helper{K: System{}, StateFile: filepath.Join(t.TempDir(), "state.json")}
	cfg := Config{VIPs: vips(t, p.V4(100)), Tunnel: true}
	var err error
	netns.Do(p.A, func() error { err = h.Up(cfg); return nil })
	if err == nil || !strings.Contains(err.Error(), "module ipip") {
		t.Fatalf("up without ipip: %v", err)
	}
	if got := sysctls(t, p, p.A, "all", "lo"); fmt.Sprint(got) != fmt.Sprint(before) {
		t.Errorf("failed up changed %v -> %v", before, got)
	}
	in(t, p.A, func() error { return h.Down(cfg) })
}
