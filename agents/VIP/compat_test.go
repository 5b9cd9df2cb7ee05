package vip

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

const ipaddr2 = "/usr/lib/ocf/resource.d/heartbeat/IPaddr2"

// crm_resource runs the installed agent with no cluster. It looks for
// agents under its compiled-in /usr/lib/ocf/resource.d (OCF_ROOT only
// reaches the agent), so the temporary install tree is bind-mounted there,
// inside the mount namespace `ip netns exec` makes (slave: the host's
// /usr/lib/ocf is untouched).
func TestNetnsCrmResource(t *testing.T) {
	crm := testenv.Command(t, "crm_resource")
	p := netns.New(t)
	root := t.TempDir() // = DESTDIR/usr/lib/ocf
	os.Chmod(root, 0o755)
	agentDir := filepath.Join(root, "resource.d", "lvs")
	if err := os.MkdirAll(agentDir, 0o755); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(agentBin(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(agentDir, "VIP"), data, 0o755); err != nil {
		t.Fatal(err)
	}
	rsctmp := t.TempDir()
	vip := p.V4(100)
	run := func(op string, opts ...string) (int, string) {
		script := fmt.Sprintf("mount --bind %s /usr/lib/ocf/resource.d && exec %s %s --class ocf --provider lvs --agent VIP",
			filepath.Join(root, "resource.d"), crm, op)
		for _, o := range opts {
			script += " --option " + o
		}
		cmd := p.Cmd(p.A, "sh", "-c", script)
		cmd.Env = append(os.Environ(), "OCF_ROOT="+root, "HA_RSCTMP="+rsctmp)
		out, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return code, string(out)
	}
	// crm_resource's own exit codes: 0 ok, 7 not running, 6 not configured.
	for _, c := range []struct {
		op   string
		want int
		opts []string
	}{
		{"--validate", 0, []string{"ip=" + vip, "cidr_netmask=24"}},
		{"--validate", 6, []string{"ip=10.0.0.999"}},
		{"--force-check", 7, []string{"ip=" + vip}},
		{"--force-start", 0, []string{"ip=" + vip, "iflabel=crm", "arp_count=1"}},
		{"--force-check", 0, []string{"ip=" + vip}},
		{"--force-start", 0, []string{"ip=" + vip, "arp_count=1"}},
		{"--force-stop", 0, []string{"ip=" + vip}},
		{"--force-check", 7, []string{"ip=" + vip}},
		{"--force-stop", 0, []string{"ip=" + vip}},
	} {
		code, out := run(c.op, c.opts...)
		if code != c.want {
			t.Errorf("crm_resource %s %v: exit %d, want %d\n%s", c.op, c.opts, code, c.want, out)
		}
		if c.op == "--force-start" && c.want == 0 {
			if a := addrsOf(t, p.A, vip)["eth0"]; a == nil || a["label"] != "eth0:crm" {
				t.Errorf("after --force-start: %v", a)
			}
		}
	}
	if _, err := os.Stat("/usr/lib/ocf/resource.d/lvs/VIP"); err == nil {
		t.Log("note: an ocf:lvs:VIP is installed on the host too; the test used its own tree")
	}
}

// Side by side with IPaddr2: the same parameters give the same address
// (ip -j addr: prefix, broadcast, label, flags, lifetimes) and the same exit
// codes. IPaddr2 runs in namespace A, VIP in B, one after the other (they
// share the link: IPv6 DAD would see each other).
func TestNetnsSideBySideIPaddr2(t *testing.T) {
	if _, err := os.Stat(ipaddr2); err != nil {
		testenv.Skip(t, "needs %s (package resource-agents)", ipaddr2)
	}
	testenv.Command(t, "setpriv")
	p := netns.New(t)
	ra := newHost(t, p.A, ipaddr2)
	our := newHost(t, p.B, agentBin(t))

	// Address comparison: everything ip -j reports but the address's age.
	for _, params := range [][]string{
		{"ip=" + p.V4(100)},
		{"ip=" + p.V4(100), "cidr_netmask=25", "broadcast=+", "iflabel=web"},
		{"ip=" + p.V4(100), "nic=eth0", "cidr_netmask=255.255.255.0", "broadcast=-"},
		{"ip=" + p.V4(100), "broadcast=" + p.V4(254)},
		{"ip=" + p.V4(100), "nic=eth0:lbl"},
		{"ip=" + p.V4(100), "cidr_netmask=32", "broadcast=+"},
		{"ip=" + p.V4(100), "noprefixroute=true"},
		{"ip=" + p.V6(100), "nodad=true"},
		{"ip=" + p.V6(100), "cidr_netmask=80", "preferred_lft=0", "nodad=true"},
		{"ip=" + p.V6(100), "noprefixroute=true", "nodad=true"},
		{"ip=" + p.V6(100)},
		{"ip=" + p.V6(100), "nodad=true", "lvs_ipv6_addrlabel=true"},
		{"ip=" + p.V6(100), "nodad=true", "lvs_ipv6_addrlabel=true", "lvs_ipv6_addrlabel_value=77"},
	} {
		ip := strings.TrimPrefix(params[0], "ip=")
		params = append(params, "arp_count=1")
		ra.want(0, "start", params...)
		want := addrsOf(t, p.A, ip)
		wantLbl := labelsOf(t, p.A, ip)
		ra.want(0, "monitor", params...)
		ra.want(0, "stop", params...)
		our.want(0, "start", params...)
		got := addrsOf(t, p.B, ip)
		gotLbl := labelsOf(t, p.B, ip)
		our.want(0, "monitor", params...)
		our.want(0, "stop", params...)
		if strings.Contains(strings.Join(params, " "), "addrlabel=true") != (gotLbl != "") {
			t.Errorf("%v: ip addrlabel after VIP start: %q", params, gotLbl)
		}
		if wantLbl != gotLbl || labelsOf(t, p.B, ip) != "" {
			t.Errorf("%v: ip addrlabel: IPaddr2 %q, VIP %q (after stop %q)", params, wantLbl, gotLbl, labelsOf(t, p.B, ip))
		}
		for _, m := range []map[string]addrInfo{want, got} {
			for _, a := range m {
				delete(a, "valid_life_time") // counts down
				if a["preferred_life_time"] != 4294967295.0 {
					delete(a, "preferred_life_time")
				}
			}
		}
		if len(want) != 1 || !reflect.DeepEqual(want, got) {
			t.Errorf("%v:\n IPaddr2 %v\n VIP     %v", params, want, got)
		}
	}

	// Exit codes of the error cases, per action; probes are monitors with
	// interval 0, recurring monitors have one. Each code is asserted, and
	// IPaddr2's must be the same: 1 generic, 4 not root, 6 not configured,
	// 7 not running. want: start, validate-all, probe, recurring monitor, stop.
	recurring := "env:OCF_RESKEY_CRM_meta_interval=10000"
	cases := []struct {
		params []string
		want   [5]int
	}{
		{[]string{"ip=10.0.0.999"}, [5]int{6, 6, 7, 1, 0}},
		{[]string{"ip=" + p.V4(100), "nic=nosuch0"}, [5]int{6, 6, 7, 1, 0}},
		{[]string{"ip=" + p.V4(100), "nic=nosuch0", "cidr_netmask=24"}, [5]int{6, 6, 7, 7, 0}},
		{[]string{"ip=" + p.V4(100), "iflabel=waytoolonglabel"}, [5]int{6, 6, 6, 6, 6}},
		{[]string{"ip=" + p.V4(100), "cidr_netmask=33"}, [5]int{6, 6, 7, 1, 0}},
		{[]string{"ip=" + p.V4(100), "broadcast=1.2.3"}, [5]int{6, 6, 7, 7, 0}},
		{[]string{"ip=" + p.V4(100), "arp_count=0"}, [5]int{6, 6, 6, 6, 6}},
		{[]string{"ip=192.0.2.1"}, [5]int{1, 1, 7, 1, 0}}, // no route covers it
		{[]string{"ip=" + p.V6(100), "lvs_support=true"}, [5]int{6, 6, 6, 6, 6}},
		{[]string{"ip=fe80::99"}, [5]int{6, 6, 7, 7, 0}}, // link-local without nic
		{[]string{"ip=" + p.V4(100), "lvs_ipv6_addrlabel=true"}, [5]int{6, 6, 6, 6, 6}},
		{[]string{"ip=" + p.V4(100), "as:nobody"}, [5]int{4, 0, 7, 7, 4}},
		{[]string{"ip=10.0.0.999", "as:nobody"}, [5]int{4, 6, 7, 1, 4}},
	}
	// The runs are independent: a few at a time (IPaddr2 is slow).
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for _, c := range cases {
		for i, action := range []string{"start", "validate-all", "monitor", "monitor", "stop"} {
			ps := append([]string{}, c.params...)
			if i == 3 {
				ps = append(ps, recurring)
			}
			want := c.want[i]
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				rc1, e1 := ra.run(action, ps...)
				rc2, e2 := our.run(action, ps...)
				if rc1 != want || rc2 != want {
					t.Errorf("%s %v: IPaddr2 %d, VIP %d, want %d\nIPaddr2: %s\nVIP: %s", action, ps, rc1, rc2, want, e1, e2)
				}
			}()
		}
	}
	wg.Wait()
}

// labelsOf returns ns's `ip addrlabel list` lines about ip.
func labelsOf(t *testing.T, ns, ip string) string {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "addrlabel", "list").Output()
	if err != nil {
		t.Fatalf("ip addrlabel list: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.Contains(l, ip+"/") {
			lines = append(lines, strings.TrimSpace(l))
		}
	}
	return strings.Join(lines, "; ")
}
