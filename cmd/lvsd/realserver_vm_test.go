//go:build vm

package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// rsKnobs are the settings the helper may touch in a real's namespace.
var rsKnobs = []string{"all/arp_ignore", "all/arp_announce", "lo/arp_ignore", "lo/arp_announce",
	"eth0/arp_ignore", "eth0/arp_announce", "all/rp_filter", "tunl0/rp_filter"}

// rsSnapshot reads rsKnobs, tunl0's state and the VIP's places in ns.
func rsSnapshot(t *testing.T, ns string) string {
	t.Helper()
	var b strings.Builder
	err := netns.Do(ns, func() error {
		for _, k := range rsKnobs {
			v, err := os.ReadFile("/proc/sys/net/ipv4/conf/" + k)
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "%s=%s ", k, strings.TrimSpace(string(v)))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("ip", "-n", ns, "-o", "addr", "show", "to", labVIP).CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v %s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			b.WriteString("vip@" + f[1] + " ")
		}
	}
	out, err = exec.Command("ip", "-n", ns, "-o", "addr", "show", "to", labVIP6+"/128").CombinedOutput()
	if err != nil {
		t.Fatalf("ip addr: %v %s", err, out)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if f := strings.Fields(l); len(f) > 1 {
			b.WriteString("vip6@" + f[1] + " ")
			if !strings.Contains(l, "nodad") {
				b.WriteString("(not nodad) ")
			}
		}
	}
	for _, d := range []string{"tunl0", "ip6tnl0"} {
		link, _ := exec.Command("ip", "-n", ns, "-o", "link", "show", d).CombinedOutput()
		fmt.Fprintf(&b, "%s-up=%v ", d, strings.Contains(strings.SplitN(string(link), ">", 2)[0], ",UP"))
	}
	return b.String()
}

// rsRun runs argv in ns (the test binary as lvsd, or the agent) and
// returns its exit code and output.
func rsRun(t *testing.T, ns string, env []string, argv ...string) (int, string) {
	t.Helper()
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	cmd.Env = append(os.Environ(), env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), out.String()
	} else if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

var macRe = regexp.MustCompile(`reply from \S+ \[([0-9a-fA-F:]+)\]`)

// arpRepliers asks for the VIP from the client (broadcast requests only,
// so every host that answers is heard) and returns the MACs that did.
func (l *lab) arpRepliers(t *testing.T) map[string]bool {
	out, _ := exec.Command("ip", "netns", "exec", "c"+l.sfx, "busybox", "arping", "-b", "-c", "3", "-w", "3", "-I", "eth0", labVIP).CombinedOutput()
	macs := map[string]bool{}
	for _, m := range macRe.FindAllStringSubmatch(string(out), -1) {
		macs[strings.ToLower(m[1])] = true
	}
	return macs
}

// An lvsd director with DR or TUN reals set up by the helper only: real 1
// by `lvsd realserver`, real 2 by the ocf:lvs:realserver agent, each with
// an IPv4 and an IPv6 VIP. Traffic flows through both VIPs to each; only the director answers ARP for the
// VIP; with strict rp_filter on all and tunl0 beforehand (the RHEL
// default) the tunnel still passes; down puts every value back exactly,
// removes the VIPs, and a second down does nothing.
func testRealserverHelper(t *testing.T, fwd string) {
	agentBin, err := filepath.Abs("../../bin/realserver")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(agentBin); err != nil {
		t.Fatalf("%v (make vmtest builds bin/)", err)
	}
	settleLab(t, 2)
	l := buildLab(t, fwd, 2, false)
	l.addIPv6(t)
	tunnel := fwd == "ipip"
	before := map[string]string{}
	for i := 1; i <= 2; i++ {
		ns := fmt.Sprintf("r%d%s", i, l.sfx)
		err := netns.Do(ns, func() error {
			for k, v := range map[string]string{"all/rp_filter": "1", "tunl0/rp_filter": "1", "eth0/arp_ignore": "0", "lo/arp_announce": "1"} {
				if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+k, []byte(v), 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		before[ns] = rsSnapshot(t, ns)
	}
	r1, r2 := "r1"+l.sfx, "r2"+l.sfx
	state := filepath.Join(l.dir, "rs1.json")
	lvsdEnv := []string{"LVSD_TEST_MAIN=1"}
	rsCmd := func(verb string) []string {
		a := []string{os.Args[0], "realserver", verb, labVIP, labVIP6, "--state", state}
		if tunnel {
			a = append(a, "--tunnel")
		}
		return a
	}
	agentEnv := []string{"HA_RSCTMP=" + filepath.Join(l.dir, "rsctmp2"), "OCF_ROOT=/usr/lib/ocf", "OCF_RESOURCE_INSTANCE=rs", "OCF_RESKEY_ip=" + labVIP + "," + labVIP6,
		fmt.Sprintf("OCF_RESKEY_tunnel=%v", tunnel)}
	must := func(want int, ns string, env []string, argv ...string) string {
		t.Helper()
		rc, out := rsRun(t, ns, env, argv...)
		if rc != want {
			t.Fatalf("in %s: %v: exit %d, want %d\n%s", ns, argv, rc, want, out)
		}
		return out
	}
	must(0, r1, lvsdEnv, rsCmd("up")...)
	must(0, r2, agentEnv, agentBin, "start")
	must(0, r1, lvsdEnv, rsCmd("status")...)
	must(0, r2, agentEnv, agentBin, "monitor")
	dev, dev6 := "lo", "lo"
	if tunnel {
		dev, dev6 = "tunl0", "ip6tnl0"
	}
	for _, ns := range []string{r1, r2} {
		got := rsSnapshot(t, ns)
		for _, w := range []string{"all/arp_ignore=1", "all/arp_announce=2", "lo/arp_announce=2", "eth0/arp_ignore=1", "vip@" + dev, "vip6@" + dev6} {
			if !strings.Contains(got, w) {
				t.Errorf("%s after up lacks %s: %s", ns, w, got)
			}
		}
		if tunnel && !strings.Contains(got, "tunl0/rp_filter=2") || tunnel && !strings.Contains(got, "all/rp_filter=1") ||
			tunnel && !strings.Contains(got, "tunl0-up=true") || tunnel && !strings.Contains(got, "ip6tnl0-up=true") {
			t.Errorf("%s tunnel: want tunl0 and ip6tnl0 up, tunl0 rp_filter 2, all/rp_filter untouched: %s", ns, got)
		}
		if strings.Contains(got, "not nodad") {
			t.Errorf("%s: the IPv6 VIP is not nodad: %s", ns, got)
		}
	}

	cf := l.config("rr.cf", "rr", "10.99.0.11:80 "+fwd+" 1", "10.99.0.12:80 "+fwd+" 1")
	v6 := fmt.Sprintf("\nvirtual6=[%s]:80\n\tscheduler=rr\n\tchecktype=on\n\treal6=[fd99::11]:80 %s 1\n\treal6=[fd99::12]:80 %[2]s 1\n", labVIP6, fwd)
	f, err := os.OpenFile(cf, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(v6)
	f.Close()
	applyOK(t, cf)
	if c := count(l.get(6)); c["r1"] != 3 || c["r2"] != 3 {
		t.Fatalf("%s through the VIP: %v", fwd, c)
	}
	var got6 []string
	err = netns.Do("c"+l.sfx, func() error {
		for i := 0; i < 6; i++ {
			b, err := httpGet("[" + labVIP6 + "]:80")
			if err != nil {
				return fmt.Errorf("request %d through the IPv6 VIP: %v", i, err)
			}
			got6 = append(got6, b)
		}
		return nil
	})
	if c := count(got6); err != nil || c["r1"] != 3 || c["r2"] != 3 {
		t.Fatalf("%s IPv6 through the VIP: %v %v\n%s", fwd, c, err, shell(t, "ipvsadm -Ln"))
	}
	brMAC, err := os.ReadFile("/sys/class/net/br" + l.sfx + "/address")
	if err != nil {
		t.Fatal(err)
	}
	if macs := l.arpRepliers(t); len(macs) != 1 || !macs[strings.TrimSpace(string(brMAC))] {
		t.Errorf("ARP for the VIP answered by %v, want only the director (%s)", macs, strings.TrimSpace(string(brMAC)))
	}

	must(0, r1, lvsdEnv, rsCmd("down")...)
	must(0, r2, agentEnv, agentBin, "stop")
	for _, ns := range []string{r1, r2} {
		if got := rsSnapshot(t, ns); got != before[ns] {
			t.Errorf("%s after down:\n%s\nwant\n%s", ns, got, before[ns])
		}
	}
	if out := must(0, r1, lvsdEnv, rsCmd("down")...); out != "" {
		t.Errorf("second down did something: %s", out)
	}
	must(0, r2, agentEnv, agentBin, "stop")
	must(7, r1, lvsdEnv, rsCmd("status")...)
	must(7, r2, agentEnv, agentBin, "monitor")
	for _, ns := range []string{r1, r2} {
		if got := rsSnapshot(t, ns); got != before[ns] {
			t.Errorf("%s after the second down:\n%s\nwant\n%s", ns, got, before[ns])
		}
	}
	// Without the helper's work the reals drop the VIP's packets.
	err = netns.Do("c"+l.sfx, func() error { _, err := httpGet(labVIP + ":80"); return err })
	if err == nil {
		t.Errorf("%s: the VIP still answers after down", fwd)
	}
}

func TestRealserverHelperGate(t *testing.T) { testRealserverHelper(t, "gate") }
func TestRealserverHelperIPIP(t *testing.T) { testRealserverHelper(t, "ipip") }
