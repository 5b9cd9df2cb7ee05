package vip

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// The agent under test, built once (readable by nobody: see netns.Binary).
var vipBin = &netns.Binary{Pkg: "github.com/ocf-lvs/ocf-lvs/cmd/VIP"}

func TestMain(m *testing.M) {
	code := m.Run()
	vipBin.Remove()
	os.Exit(code)
}

func agentBin(t *testing.T) string {
	t.Helper()
	return vipBin.Path(t)
}

// host runs agents in one namespace with one HA_RSCTMP.
type host struct {
	t      *testing.T
	ns     string
	rsctmp string
	agent  string // path of the agent to run
}

func newHost(t *testing.T, ns, agent string) *host {
	d := t.TempDir()
	os.Chmod(d, 0o777) // the not-root cases run as nobody
	return &host{t: t, ns: ns, rsctmp: d, agent: agent}
}

// run runs one action with OCF_RESKEY_ k=v pairs (and any other NAME=v
// given as "env:NAME=v"); it returns the exit code and stderr.
func (h *host) run(action string, kv ...string) (int, string) {
	h.t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH"), "OCF_ROOT=/usr/lib/ocf", "HA_RSCTMP=" + h.rsctmp,
		"OCF_RESOURCE_INSTANCE=vip-test"}
	var pre []string
	for _, s := range kv {
		switch {
		case strings.HasPrefix(s, "env:"):
			env = append(env, s[4:])
		case s == "as:nobody":
			pre = []string{"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"}
		case s == "as:no-net-admin": // root, but the kernel refuses it every network change
			pre = []string{"setpriv", "--bounding-set=-net_admin", "--inh-caps=-net_admin"}
		case s == "as:no-fds": // no descriptor left past stdio: every netlink socket gets EMFILE
			pre = []string{"prlimit", "--nofile=3:3"}
		default:
			env = append(env, "OCF_RESKEY_"+s)
		}
	}
	args := []string{}
	if h.ns != "" {
		args = append(args, "ip", "netns", "exec", h.ns)
	}
	args = append(append(append(args, pre...), h.agent), action)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		return -1, fmt.Sprintf("running %s %s: %v", h.agent, action, err) // no Fatal: may run in a goroutine
	}
	return code, stderr.String()
}

func (h *host) want(code int, action string, kv ...string) string {
	h.t.Helper()
	got, stderr := h.run(action, kv...)
	if got != code {
		h.t.Errorf("%s %s %v: exit %d, want %d\n%s", filepath.Base(h.agent), action, kv, got, code, stderr)
	}
	return stderr
}

// addrInfo is one entry of `ip -j addr`'s addr_info, plus the interface.
type addrInfo map[string]any

// addrsOf returns ns's addresses equal to ip (ip -j addr), keyed "ifname".
func addrsOf(t *testing.T, ns, ip string) map[string]addrInfo {
	t.Helper()
	out, err := exec.Command("ip", "-n", ns, "-j", "addr", "show").Output()
	if err != nil {
		t.Fatalf("ip -j addr: %v", err)
	}
	var links []struct {
		Ifname   string     `json:"ifname"`
		AddrInfo []addrInfo `json:"addr_info"`
	}
	if err := json.Unmarshal(out, &links); err != nil {
		t.Fatal(err)
	}
	res := map[string]addrInfo{}
	for _, l := range links {
		for _, a := range l.AddrInfo {
			if a["local"] == ip {
				res[l.Ifname] = a
			}
		}
	}
	return res
}

// frames returns the captured frames equal to one of want.
func matching(c *netns.Capture, want [][]byte) [][]byte {
	var got [][]byte
	for _, f := range c.Frames() {
		for _, w := range want {
			if bytes.Equal(f, w) {
				got = append(got, f)
			}
		}
	}
	return got
}

func TestNetnsStartMonitorStop(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	for _, fam := range []string{"v4", "v6"} {
		t.Run(fam, func(t *testing.T) {
			h.t = t
			ip, et := p.V4(100), addr.EtherTypeARP
			params := []string{"ip=" + ip, "iflabel=web", "broadcast=+", "arp_count=3", "arp_interval=700"}
			if fam == "v6" {
				ip, et = p.V6(100), addr.EtherTypeIPv6
				params = []string{"ip=" + ip, "arp_count=3", "arp_interval=700"}
			}
			vip := netip.MustParseAddr(ip)
			want, _ := addr.AnnounceFrames(p.MACA, vip, false)
			capt := netns.NewCapture(t, p.B, "eth0", et)

			h.want(7, "monitor", params...)
			t0 := time.Now()
			h.want(0, "start", params...)
			took := time.Since(t0)
			// start returns after the first round; the other two (1.4 s
			// later) come from the background announcer.
			if early := len(matching(capt, want)); early >= 3*len(want) {
				t.Errorf("all %d announcement frames were sent before start returned (%v)", early, took)
			}
			// the announcer holds the first round's socket (fd 3), whose
			// last close would have made start wait for the kernel
			if pf, _ := filepath.Glob(filepath.Join(h.rsctmp, "VIP-announce-*.pid")); len(pf) != 1 {
				t.Errorf("announcer pid files: %v", pf)
			} else if b, err := os.ReadFile(pf[0]); err != nil {
				t.Error(err)
			} else if l, err := os.Readlink("/proc/" + strings.TrimSpace(string(b)) + "/fd/3"); err != nil || !strings.HasPrefix(l, "socket:") {
				t.Errorf("announcer's fd 3: %q, %v; want the first round's socket", l, err)
			}
			as := addrsOf(t, p.A, ip)
			a, ok := as["eth0"]
			if !ok || len(as) != 1 {
				t.Fatalf("after start: %v", as)
			}
			if fam == "v4" {
				if a["prefixlen"] != 24.0 || a["label"] != "eth0:web" || a["broadcast"] != p.V4(255) {
					t.Errorf("v4 address: %v", a)
				}

			} else if a["prefixlen"] != 64.0 || a["tentative"] == true {
				t.Errorf("v6 address: %v", a)
			}
			h.want(0, "monitor", params...)
			h.want(0, "monitor", append(params, "env:OCF_RESKEY_CRM_meta_interval=10000")...)
			h.want(0, "start", params...)

			// 3 rounds, byte for byte as built.
			var got [][]byte
			netns.WaitFor(6*time.Second, func() bool { got = matching(capt, want); return len(got) >= 3*len(want) })
			if len(got) != 3*len(want) {
				t.Errorf("peer saw %d announcement frames, want %d", len(got), 3*len(want))
			}

			// arp_count_refresh: monitor announces again.
			before := len(matching(capt, want))
			h.want(0, "monitor", append(params, "arp_count_refresh=1")...)
			if !netns.WaitFor(2*time.Second, func() bool { return len(matching(capt, want)) >= before+len(want) }) {
				t.Errorf("monitor with arp_count_refresh=1 sent nothing")
			}

			h.want(0, "stop", params...)
			h.want(0, "stop", params...)
			h.want(7, "monitor", params...)
			if as := addrsOf(t, p.A, ip); len(as) != 0 {
				t.Errorf("after stop: %v", as)
			}
			if ents, _ := os.ReadDir(h.rsctmp); len(ents) != 0 {
				t.Errorf("state left behind: %v", ents)
			}
		})
	}
}

// DAD: the peer already holds the address. IPv6 fails DAD; IPv4 with
// run_arping sees the peer answer. Start fails and leaves nothing.
func TestNetnsDuplicateAddress(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	stderr := h.want(ocf.ErrGeneric, "start", "ip="+p.V6(2))
	if !strings.Contains(stderr, "ocf-exit-reason:") || !strings.Contains(stderr, "DAD") || !strings.Contains(stderr, "removed") {
		t.Errorf("v6 DAD reason: %s", stderr)
	}
	if as := addrsOf(t, p.A, p.V6(2)); len(as) != 0 {
		t.Errorf("v6 address left behind after DAD failure: %v", as)
	}
	h.want(7, "monitor", "ip="+p.V6(2))

	stderr = h.want(ocf.ErrGeneric, "start", "ip="+p.V4(2), "run_arping=true")
	if !strings.Contains(stderr, "collision") || !strings.Contains(stderr, p.MACB.String()) {
		t.Errorf("v4 run_arping reason: %s", stderr)
	}
	if as := addrsOf(t, p.A, p.V4(2)); len(as) != 0 {
		t.Errorf("v4 address added despite the collision: %v", as)
	}
	// a free address passes the check
	h.want(0, "start", "ip="+p.V4(3), "run_arping=true")
	h.want(0, "stop", "ip="+p.V4(3), "run_arping=true")
}

// Link down (the peer's end goes down: no carrier) = not running, unless
// check_link_status=false.
func TestNetnsLinkDown(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	ip := "ip=" + p.V4(100)
	h.want(0, "start", ip, "arp_count=1")
	p.Run(t, p.B, "ip", "link", "set", "eth0", "down")
	h.want(7, "monitor", ip, "env:OCF_RESKEY_CRM_meta_interval=10000")
	h.want(0, "monitor", ip, "check_link_status=false")
	p.Run(t, p.B, "ip", "link", "set", "eth0", "up")
	if !netns.WaitFor(5*time.Second, func() bool { c, _ := h.run("monitor", ip); return c == 0 }) {
		t.Error("monitor not 0 after the link came back")
	}
	if stderr := h.want(0, "stop", ip, "flush_routes=true"); strings.Contains(stderr, "flush") {
		t.Errorf("flush_routes: %s", stderr)
	}
	h.want(7, "monitor", ip)
}

// lvs_support: a /32 of the VIP on lo (LVS-DR real server) leaves lo while
// the VIP runs, and comes back on stop.
func TestNetnsLVSSupport(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	vip := p.V4(100)
	p.Run(t, p.A, "ip", "addr", "add", vip+"/32", "dev", "lo")
	params := []string{"ip=" + vip, "lvs_support=true", "arp_count=1"}
	h.want(0, "start", params...)
	as := addrsOf(t, p.A, vip)
	if _, onLo := as["lo"]; onLo || as["eth0"] == nil {
		t.Errorf("after start: %v, want on eth0 only", as)
	}
	if _, err := os.Stat(filepath.Join(h.rsctmp, vip)); err != nil {
		t.Errorf("loopback state file (IPaddr2's name): %v", err)
	}
	h.want(0, "monitor", params...)
	h.want(0, "stop", params...)
	as = addrsOf(t, p.A, vip)
	if lo := as["lo"]; lo == nil || lo["prefixlen"] != 32.0 || as["eth0"] != nil {
		t.Errorf("after stop: %v, want %s/32 back on lo only", as, vip)
	}

	// A failed start (no carrier) puts lo back as it was.
	p.Run(t, p.B, "ip", "link", "set", "eth0", "down")
	stderr := h.want(ocf.ErrGeneric, "start", params...)
	if !strings.Contains(stderr, "carrier") {
		t.Errorf("start without carrier: %s", stderr)
	}
	as = addrsOf(t, p.A, vip)
	if lo := as["lo"]; lo == nil || as["eth0"] != nil {
		t.Errorf("after a failed start: %v, want %s/32 on lo only", as, vip)
	}
}

// status prints running/stopped as IPaddr2 does.
func TestNetnsStatus(t *testing.T) {
	p := netns.New(t)
	for _, c := range []struct {
		code int
		out  string
	}{{7, "stopped"}, {0, "running"}} {
		if c.code == 0 {
			p.Run(t, p.A, "ip", "addr", "add", p.V4(100)+"/24", "dev", "eth0")
		}
		cmd := p.Cmd(p.A, agentBin(t), "status")
		cmd.Env = []string{"OCF_RESKEY_ip=" + p.V4(100), "HA_RSCTMP=" + t.TempDir(), "OCF_RESKEY_CRM_meta_interval=1000"}
		out, _ := cmd.Output()
		if code := cmd.ProcessState.ExitCode(); code != c.code || strings.TrimSpace(string(out)) != c.out {
			t.Errorf("status: %d %q, want %d %q", code, out, c.code, c.out)
		}
	}
}

// network_namespace: the agent, started outside, works inside the namespace.
// The kernel refusing the agent's changes: start's add and stop's remove
// fail with 1 and the kernel's reason, and leave the addresses as they
// were; a later stop with the rights removes it.
func TestNetnsKernelRefuses(t *testing.T) {
	testenv.Command(t, "setpriv")
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	ip := "ip=" + p.V4(100)
	// add refused: no CAP_NET_ADMIN (still uid 0, so past the root check)
	stderr := h.want(ocf.ErrGeneric, "start", ip, "arp_count=1", "as:no-net-admin")
	if !strings.Contains(stderr, "ocf-exit-reason:Failed to add "+p.V4(100)) || !strings.Contains(stderr, "operation not permitted") {
		t.Errorf("refused add: %s", stderr)
	}
	if as := addrsOf(t, p.A, p.V4(100)); len(as) != 0 {
		t.Errorf("address there after a refused add: %v", as)
	}
	h.want(7, "monitor", ip)
	// remove refused
	h.want(0, "start", ip, "arp_count=1")
	stderr = h.want(ocf.ErrGeneric, "stop", ip, "as:no-net-admin")
	if !strings.Contains(stderr, "ocf-exit-reason:Unable to remove IP ["+p.V4(100)+"] from interface [eth0]") || !strings.Contains(stderr, "operation not permitted") {
		t.Errorf("refused remove: %s", stderr)
	}
	h.want(0, "monitor", ip) // still running: Pacemaker will escalate, not lose it
	h.want(0, "stop", ip)
	h.want(7, "monitor", ip)

	// an IPv6 address where IPv6 is off: the kernel refuses the address
	// itself (EACCES), whoever asks
	p.Run(t, p.A, "sysctl", "-qw", "net.ipv6.conf.eth0.disable_ipv6=1")
	v6 := []string{"ip=" + p.V6(100), "nic=eth0", "cidr_netmask=64"}
	stderr = h.want(ocf.ErrGeneric, "start", v6...)
	if !strings.Contains(stderr, "ocf-exit-reason:Failed to add "+p.V6(100)) || !strings.Contains(stderr, "permission denied") {
		t.Errorf("v6 on a link without IPv6: %s", stderr)
	}
	h.want(7, "monitor", v6...)
	h.want(0, "stop", v6...)
}

var staticOnce sync.Once
var staticBin string

// staticAgentBin is cmd/VIP built without cgo: a static binary, so it
// starts with no descriptor free (no dynamic loader to open libc).
func staticAgentBin(t *testing.T) string {
	t.Helper()
	staticOnce.Do(func() {
		bin := filepath.Join(filepath.Dir(agentBin(t)), "VIP-static")
		cmd := exec.Command("go", "build", "-o", bin, "github.com/ocf-lvs/ocf-lvs/cmd/VIP")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("go build (static): %v\n%s", err, out)
		}
		staticBin = bin
	})
	if staticBin == "" {
		t.Fatal("static build failed earlier")
	}
	return staticBin
}

// Reading routes or addresses failing (the agent may hold no descriptor
// past stdio, so the kernel refuses its netlink sockets with EMFILE):
// monitor, start and stop fail with 1 and the reason, and change nothing;
// the address stays on the interface through a stop that could not read.
func TestNetnsReadErrors(t *testing.T) {
	testenv.Command(t, "prlimit")
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	hs := newHost(t, p.A, staticAgentBin(t))
	hs.rsctmp = h.rsctmp
	ip := "ip=" + p.V4(100)
	explicit := []string{ip, "nic=eth0", "cidr_netmask=24"} // no route lookup
	for _, c := range []struct {
		action string
		params []string
		what   string
	}{
		{"monitor", []string{ip}, "reading routes: too many open files"},
		{"start", []string{ip}, "reading routes: too many open files"},
		{"monitor", explicit, "reading addresses: too many open files"},
		{"start", explicit, "too many open files"},
	} {
		stderr := hs.want(ocf.ErrGeneric, c.action, append(c.params, "as:no-fds")...)
		if !strings.Contains(stderr, "ocf-exit-reason:") || !strings.Contains(stderr, c.what) {
			t.Errorf("%s %v: want %q in the reason:\n%s", c.action, c.params, c.what, stderr)
		}
	}
	if as := addrsOf(t, p.A, p.V4(100)); len(as) != 0 {
		t.Errorf("address added by a start that could not read: %v", as)
	}
	h.want(0, "start", append(explicit, "arp_count=1")...)
	if stderr := hs.want(ocf.ErrGeneric, "stop", append(explicit, "as:no-fds")...); !strings.Contains(stderr, "ocf-exit-reason:reading addresses: too many open files") {
		t.Errorf("stop that cannot read addresses:\n%s", stderr)
	}
	if as := addrsOf(t, p.A, p.V4(100)); as["eth0"] == nil {
		t.Errorf("address gone after a stop that failed: %v", as)
	}
	h.want(0, "stop", explicit...)
	h.want(7, "monitor", explicit...)
}

// The interface vanishes in the middle of start (deleted while run_arping
// probes for a duplicate, before the address is added): start fails with
// 1 naming the address, not a crash or a false success.
func TestNetnsInterfaceVanishesMidStart(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	capt := netns.NewCapture(t, p.B, "eth0", 0x0806)
	type res struct {
		code   int
		stderr string
	}
	done := make(chan res, 1)
	go func() {
		c, e := h.run("start", "ip="+p.V4(100), "run_arping=true")
		done <- res{c, e}
	}()
	// the first ARP probe says the agent is inside its duplicate check
	if !netns.WaitFor(20*time.Second, func() bool { return len(capt.Frames()) > 0 }) {
		t.Fatal("no ARP probe from start's duplicate check")
	}
	p.Run(t, p.A, "ip", "link", "del", "eth0")
	r := <-done
	// the add itself was tried, and failed: the kernel's "Link not found"
	if r.code != ocf.ErrGeneric || !strings.Contains(r.stderr, "Adding "+p.V4(100)) || !strings.Contains(r.stderr, "ocf-exit-reason:Failed to add "+p.V4(100)) {
		t.Errorf("start with the interface gone: exit %d\n%s", r.code, r.stderr)
	}
	// with no interface left to find, a probe says not running and stop
	// succeeds (IPaddr2 does the same)
	h.want(7, "monitor", "ip="+p.V4(100))
	h.want(0, "stop", "ip="+p.V4(100))
}

func TestNetnsNetworkNamespaceParam(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, "", agentBin(t))
	params := []string{"ip=" + p.V4(100), "network_namespace=" + p.A, "arp_count=2", "arp_interval=50"}
	h.want(0, "start", params...)
	if as := addrsOf(t, p.A, p.V4(100)); as["eth0"] == nil {
		t.Errorf("not in %s: %v", p.A, as)
	}
	h.want(0, "monitor", params...)
	h.want(0, "stop", params...)
	h.want(7, "monitor", params...)
	if code, _ := h.run("monitor", "ip="+p.V4(100), "network_namespace=nosuch-ns"); code == 0 || code == 7 {
		t.Errorf("missing namespace: monitor %d", code)
	}
}

func TestNetnsOCFTester(t *testing.T) {
	tester := testenv.Command(t, "ocf-tester")
	p := netns.New(t)
	bin := agentBin(t)
	for _, c := range []struct{ name, ip string }{{"v4", p.V4(100)}, {"v6", p.V6(100)}} {
		t.Run(c.name, func(t *testing.T) {
			cmd := p.Cmd(p.A, tester, "-n", "vip_"+c.name, "-o", "ip="+c.ip, "-o", "arp_count=2", bin)
			cmd.Env = append(os.Environ(), "HA_RSCTMP="+t.TempDir())
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "passed all tests") {
				t.Fatalf("ocf-tester: %v\n%s", err, out)
			}
		})
	}
}

// lvs_ipv6_addrlabel: the VIP gets a label while it runs.
func TestNetnsIPv6AddrLabel(t *testing.T) {
	p := netns.New(t)
	h := newHost(t, p.A, agentBin(t))
	params := []string{"ip=" + p.V6(100), "nodad=true", "lvs_ipv6_addrlabel=true", "lvs_ipv6_addrlabel_value=42", "arp_count=1"}
	h.want(0, "start", params...)
	want := "prefix " + p.V6(100) + "/128 label 42"
	if out := p.Run(t, p.A, "ip", "addrlabel", "list"); !strings.Contains(out, want) {
		t.Errorf("after start, no %q in:\n%s", want, out)
	}
	h.want(0, "stop", params...)
	if out := p.Run(t, p.A, "ip", "addrlabel", "list"); strings.Contains(out, want) {
		t.Errorf("after stop, still %q", want)
	}
}
