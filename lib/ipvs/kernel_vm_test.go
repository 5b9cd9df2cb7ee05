//go:build vm

package ipvs

import (
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// ipvsadm runs the real ipvsadm and returns its output.
func ipvsadm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("ipvsadm", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func sh(t *testing.T, cmd string) string {
	t.Helper()
	out, err := exec.Command("sh", "-c", cmd).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, out)
	}
	return string(out)
}

// freshKernel empties the VM's table (the test VM is ours alone; the
// product never flushes) and gives the director a route to the masq reals.
func freshKernel(t *testing.T) *Netlink {
	t.Helper()
	vm.Require(t)
	sh(t, "ipvsadm -C; ip link del dum-lvs 2>/dev/null; ip link add dum-lvs type dummy && ip link set dum-lvs up && "+
		"ip addr add 10.0.255.254/16 dev dum-lvs && ip addr add 2001:db8:1::fe/64 dev dum-lvs nodad")
	t.Cleanup(func() { exec.Command("sh", "-c", "ipvsadm -C; ip link del dum-lvs").Run() })
	k, err := OpenNetlink()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	return k
}

// everyOption is a table using every option the reconciler supports.
func everyOption() []Service {
	masq := func(n int, w int) Dest { return Dest{Addr: rip(n), Port: 8080, Fwd: FwdMasq, Weight: w} }
	var out []Service
	for i, sched := range Schedulers {
		out = append(out, Service{Family: 4, Protocol: "tcp", Addr: vip, Port: uint16(1000 + i), Scheduler: sched,
			Dests: []Dest{masq(1, 1), masq(2, 2)}})
	}
	r6 := func(n int) netip.Addr { return netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%d", n)) }
	out = append(out,
		// persistence with a netmask, one-packet scheduling, udp
		Service{Family: 4, Protocol: "udp", Addr: vip, Port: 53, Scheduler: "wlc", Flags: FlagPersistent | FlagOnePacket,
			Timeout: 600, Netmask: 24, Dests: []Dest{{Addr: rip(3), Port: 53, Fwd: FwdMasq, Weight: 5, Upper: 1000, Lower: 100}}},
		// sched flags, gate, ipip, weight 0
		Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 443, Scheduler: "sh", Flags: FlagSched1 | FlagSched2,
			Dests: []Dest{{Addr: rip(4), Port: 443, Fwd: FwdGate, Weight: 1}, {Addr: rip(5), Port: 443, Fwd: FwdIPIP, Weight: 0}}},
		Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 444, Scheduler: "mh", Flags: FlagSched1 | FlagSched2 | FlagPersistent,
			Timeout: 30, Netmask: 32, Dests: []Dest{{Addr: rip(4), Port: 444, Fwd: FwdGate, Weight: 3}}},
		// firewall marks, v4 and v6
		Service{Family: 4, FWMark: 7, Scheduler: "rr", Flags: FlagPersistent, Timeout: 300, Netmask: 16,
			Dests: []Dest{{Addr: rip(6), Fwd: FwdGate, Weight: 1, Upper: 50}}},
		Service{Family: 6, FWMark: 8, Scheduler: "lc", Dests: []Dest{{Addr: r6(6), Fwd: FwdGate, Weight: 2}}},
		// IPv6 services
		Service{Family: 6, Protocol: "tcp", Addr: vip6, Port: 80, Scheduler: "wrr", Flags: FlagPersistent, Timeout: 120, Netmask: 64,
			Dests: []Dest{{Addr: r6(1), Port: 80, Fwd: FwdMasq, Weight: 4, Upper: 20, Lower: 2}, {Addr: r6(2), Port: 80, Fwd: FwdGate, Weight: 1}}},
		Service{Family: 6, Protocol: "udp", Addr: vip6, Port: 53, Scheduler: "dh", Flags: FlagOnePacket,
			Dests: []Dest{{Addr: r6(3), Port: 5353, Fwd: FwdMasq, Weight: 1}}},
	)
	return out
}

// saveLines is `ipvsadm -Sn` as a sorted set of lines (ipvsadm adds
// "--tun-type ipip" to ipip reals: the default, dropped here).
func saveLines(t *testing.T) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(ipvsadm(t, "-Sn")), "\n") {
		if l = strings.TrimSpace(strings.TrimSuffix(l, " --tun-type ipip")); l != "" {
			out = append(out, l)
		}
	}
	sort.Strings(out)
	return out
}

var thresholdRe = regexp.MustCompile(` -x \d+| -y \d+`)

// planLines renders ops as `ipvsadm -Sn` prints them: without the
// thresholds, which -S does not save (thresholdsOf checks them).
func planLines(ops []Op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, thresholdRe.ReplaceAllString(o.String(), ""))
	}
	sort.Strings(out)
	return out
}

// thresholdsOf parses `ipvsadm -Ln --thresholds` into
// "service real" -> "upper lower" for every real.
func thresholdsOf(t *testing.T) map[string]string {
	out := map[string]string{}
	svc := ""
	proto := map[string]string{"TCP": "-t", "UDP": "-u", "FWM": "-f", "SCTP": "--sctp-service"}
	for _, l := range strings.Split(ipvsadm(t, "-Ln", "--thresholds"), "\n") {
		f := strings.Fields(l)
		switch {
		case len(f) >= 2 && proto[f[0]] != "":
			svc = proto[f[0]] + " " + f[1]
			if f[0] == "FWM" && len(f) > 2 && f[2] == "IPv6" {
				svc += " -6"
			}
		case len(f) >= 4 && f[0] == "->" && f[1] != "RemoteAddress:Port":
			out[svc+" "+f[1]] = f[2] + " " + f[3]
		}
	}
	return out
}

func wantThresholds(desired []Service) map[string]string {
	out := map[string]string{}
	for _, s := range desired {
		n := Normalize(s)
		for _, d := range n.Dests {
			out[n.Key().String()+" "+d.Key().String()] = fmt.Sprintf("%d %d", d.Upper, d.Lower)
		}
	}
	return out
}

func TestKernelEveryOption(t *testing.T) {
	k := freshKernel(t)
	desired := everyOption()
	res, err := Reconcile(k, desired, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("first pass: %s", res.Summary())
	t.Logf("ipvsadm -Ln --persistent-conn:\n%s", ipvsadm(t, "-Ln", "--persistent-conn"))

	// What the kernel reports is what was asked, option by option.
	want := planLines(res.Ops)
	if got := saveLines(t); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("ipvsadm -Sn differs from the plan:\n got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if got, want := thresholdsOf(t), wantThresholds(desired); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("ipvsadm -Ln --thresholds:\n got %v\nwant %v", got, want)
	}
	// --persistent-conn lists exactly the services the config made persistent.
	var persistent []string
	for _, l := range strings.Split(ipvsadm(t, "-Ln", "--persistent-conn"), "\n") {
		if strings.Contains(l, " persistent ") {
			persistent = append(persistent, strings.Fields(l)[1])
		}
	}
	if got := strings.Join(persistent, " "); got != "192.0.2.10:444 192.0.2.10:53 [2001:db8::10]:80 7" {
		t.Errorf("persistent services: %s", got)
	}

	res, err = Reconcile(k, desired, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Ops) != 0 {
		t.Fatalf("second pass is not empty:\n%s", lines(res.Ops))
	}
}

// kinds renders ops as their ipvsadm verbs, e.g. "-e -a -d".
func kinds(ops []Op) string {
	var k []string
	for _, o := range ops {
		k = append(k, opFlag[o.Kind])
	}
	return strings.Join(k, " ")
}

// Each change to the config produces only the matching operations; the
// table was written by ipvsadm (another tool, or a previous lvsd) and is
// adopted in place; a foreign service is never touched.
func TestKernelChanges(t *testing.T) {
	k := freshKernel(t)
	base := func() []Service {
		return []Service{
			{Family: 4, Protocol: "tcp", Addr: vip, Port: 80, Scheduler: "wrr",
				Dests: []Dest{{Addr: rip(1), Port: 80, Fwd: FwdMasq, Weight: 1}, {Addr: rip(2), Port: 80, Fwd: FwdMasq, Weight: 1}}},
			{Family: 4, Protocol: "udp", Addr: vip, Port: 53, Scheduler: "rr",
				Dests: []Dest{{Addr: rip(3), Port: 53, Fwd: FwdMasq, Weight: 1}}},
		}
	}
	owned := []Key{base()[0].Key(), base()[1].Key()}
	// The starting table comes from ipvsadm -R, plus a foreign service.
	ops, _ := Plan(base(), nil, nil)
	restore := strings.Join(planLines(ops), "\n") + "\n-A -t 198.51.100.1:8443 -s lc\n-a -t 198.51.100.1:8443 -r 10.0.9.9:8443 -m -w 7\n"
	cmd := exec.Command("ipvsadm", "-R")
	cmd.Stdin = strings.NewReader(restore)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ipvsadm -R: %v %s", err, out)
	}
	foreign := func() string {
		return ipvsadm(t, "-Ln", "-t", "198.51.100.1:8443")
	}
	before := foreign()

	steps := []struct {
		name  string
		edit  func([]Service) []Service
		kinds string
	}{
		{"adopt unchanged", func(s []Service) []Service { return s }, ""},
		{"weight", func(s []Service) []Service { s[0].Dests[1].Weight = 5; return s }, "-e"},
		{"scheduler", func(s []Service) []Service { s[0].Scheduler = "lc"; return s }, "-E"},
		{"persistence", func(s []Service) []Service {
			s[0].Flags = FlagPersistent
			s[0].Timeout = 60
			s[0].Netmask = 24
			return s
		}, "-E"},
		{"real added", func(s []Service) []Service {
			s[0].Dests = append(s[0].Dests, Dest{Addr: rip(4), Port: 80, Fwd: FwdMasq, Weight: 2})
			return s
		}, "-a"},
		{"real removed", func(s []Service) []Service { s[0].Dests = s[0].Dests[:1]; return s }, "-d"},
		{"virtual added", func(s []Service) []Service {
			return append(s, Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 8080, Scheduler: "rr",
				Dests: []Dest{{Addr: rip(5), Port: 8080, Fwd: FwdMasq, Weight: 1}}})
		}, "-A -a"},
		{"virtual removed", func(s []Service) []Service { return s[:1] }, "-D"},
	}
	var desired []Service
	for _, st := range steps {
		desired = st.edit(base())
		res, err := Reconcile(k, desired, owned, false)
		if err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		if got := kinds(res.Ops); got != st.kinds {
			t.Errorf("%s: ops %q, want %q:\n%s", st.name, got, st.kinds, lines(res.Ops))
		}
		// The kernel now holds exactly the desired table (plus the foreign one).
		want, _ := Plan(desired, nil, nil)
		got := saveLines(t)
		var ours []string
		for _, l := range got {
			if !strings.Contains(l, "198.51.100.1") {
				ours = append(ours, l)
			}
		}
		if strings.Join(ours, "\n") != strings.Join(planLines(want), "\n") {
			t.Errorf("%s: table\n%s\nwant\n%s", st.name, strings.Join(ours, "\n"), strings.Join(planLines(want), "\n"))
		}
		if again, _ := Reconcile(k, desired, owned, true); len(again.Ops) != 0 {
			t.Errorf("%s: second pass not empty: %s", st.name, lines(again.Ops))
		}
		// Reset to base for the next step (an ordinary reconcile too).
		if _, err := Reconcile(k, base(), owned, false); err != nil {
			t.Fatal(err)
		}
		owned = append(owned, Key{Family: 4, Protocol: "tcp", Addr: vip, Port: 8080})
	}
	if after := foreign(); after != before {
		t.Errorf("foreign service changed:\n%s\n->\n%s", before, after)
	}
}

// A stuck or missing kernel answer never hangs a pass: every call is
// bounded (here: a timeout far shorter than the call).
func TestKernelDeadline(t *testing.T) {
	k := freshKernel(t)
	k.Timeout = 1 // 1ns: the watchdog fires during the call...
	var err error
	for i := 0; i < 50 && err == nil; i++ {
		// ...unless the call ends before the runtime runs the timer (a
		// short read may): then it simply succeeded; try again.
		_, err = k.Services()
	}
	if err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("got %v", err)
	}
	k.Timeout = DefaultTimeout // a new handle is opened and works
	if _, err := k.Services(); err != nil {
		t.Fatal(err)
	}
}
