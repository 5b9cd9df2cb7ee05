//go:build vm

package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

func shell(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("sh", "-ec", script).CombinedOutput()
	if err != nil {
		t.Fatalf("%s\n%v\n%s", script, err, out)
	}
	return string(out)
}

// cleanTable empties the VM's IPVS table for this test (the VM is ours
// alone; lvsd itself never flushes).
func cleanTable(t *testing.T) {
	vm.Require(t)
	shell(t, "ipvsadm -C")
	t.Cleanup(func() { exec.Command("ipvsadm", "-C").Run() })
}

// savedTable is `ipvsadm -Sn`, sorted (the golden files are sorted).
func savedTable(t *testing.T) string {
	out := strings.Split(strings.TrimSpace(shell(t, "ipvsadm -Sn")), "\n")
	sort.Strings(out)
	return strings.Join(out, "\n")
}

func applyOK(t *testing.T, args ...string) string {
	t.Helper()
	rc, out, errs := runLvsd(append([]string{"apply"}, args...)...)
	if rc != 0 {
		t.Fatalf("lvsd apply %v: rc %d\n%s\n%s", args, rc, out, errs)
	}
	return out
}

var writesRe = regexp.MustCompile(`applied (\d+) netlink writes`)

func writes(t *testing.T, out string) string {
	m := writesRe.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no summary in:\n%s", out)
	}
	return m[1]
}

// Every option of testdata/ipvs/every-option.cf reaches the kernel as
// ipvsadm reports it; a second pass writes nothing.
func TestApplyEveryOption(t *testing.T) {
	cleanTable(t)
	// IPVS needs a route to a masq real ("address not unicast" otherwise).
	shell(t, "ip link add dum-apply type dummy; ip link set dum-apply up; ip addr add 10.0.255.254/16 dev dum-apply; ip addr add 2001:db8:1::fe/64 dev dum-apply nodad")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "dum-apply").Run() })

	cf := "../../testdata/ipvs/every-option.cf"
	out := applyOK(t, cf)
	if writes(t, out) != "55" {
		t.Fatalf("first pass:\n%s", out)
	}
	want, err := os.ReadFile("../../testdata/ipvs/every-option.ipvsadm")
	if err != nil {
		t.Fatal(err)
	}
	if got := savedTable(t); got != strings.TrimSpace(string(want)) {
		t.Errorf("ipvsadm -Sn:\n%s\nwant (testdata/ipvs/every-option.ipvsadm):\n%s", got, want)
	}
	th := shell(t, "ipvsadm -Ln --thresholds")
	for _, w := range []string{`10.0.0.3:53\s+1000\s+100`, `10.0.0.6:0\s+50\s+0`, `\[2001:db8:1::1\]:80\s+20\s+2`} {
		if !regexp.MustCompile(w).MatchString(th) {
			t.Errorf("ipvsadm -Ln --thresholds lacks %s:\n%s", w, th)
		}
	}
	pc := shell(t, "ipvsadm -Ln --persistent-conn")
	for _, w := range []string{"UDP  192.0.2.10:53 wlc persistent 600 mask 255.255.255.0 ops", "FWM  7 rr persistent 300 mask 255.255.0.0",
		"TCP  [2001:db8::10]:80 wrr persistent 120 mask 64", "TCP  192.0.2.10:443 sh (sh-fallback,sh-port)"} {
		if !strings.Contains(pc, w) {
			t.Errorf("ipvsadm -Ln --persistent-conn lacks %q:\n%s", w, pc)
		}
	}
	again := applyOK(t, cf)
	if writes(t, again) != "0" || strings.Contains(again, "\n-") || strings.HasPrefix(again, "-") {
		t.Fatalf("second pass not empty:\n%s", again)
	}
}

// lab is a director (the VM's own namespace), a client namespace and real
// server namespaces on one bridge. The client is on its own subnet and
// routes through the director; the VIP is local to the director.
//
//	client 10.99.1.2 --+
//	director 10.99.1.1, 10.99.0.1, VIP 10.99.2.100 (br) --+-- bridge
//	real i 10.99.0.1i --+
type lab struct {
	t     *testing.T
	sfx   string
	reals int
	dir   string
	procs []*exec.Cmd
}

const labVIP = "10.99.2.100"

// newLab builds the lab for a forwarding method: masq reals route back
// through the director; gate and ipip reals hold the VIP (lo, arp_ignore=1,
// arp_announce=2, as the seeds' DR setups do) and answer the client
// directly.
func newLab(t *testing.T, fwd string, reals int) *lab {
	cleanTable(t)
	l := &lab{t: t, sfx: fmt.Sprint(os.Getpid() % 100000), reals: reals, dir: t.TempDir()}
	s := l.sfx
	script := fmt.Sprintf(`
sysctl -qw net.ipv4.ip_forward=1
ip link add br%[1]s type bridge; ip link set br%[1]s up
ip addr add 10.99.0.1/24 dev br%[1]s; ip addr add 10.99.1.1/24 dev br%[1]s; ip addr add %[2]s/32 dev br%[1]s
ip netns add c%[1]s
ip link add vc%[1]s type veth peer name eth0 netns c%[1]s
ip link set vc%[1]s master br%[1]s up
ip -n c%[1]s link set lo up; ip -n c%[1]s link set eth0 up
ip -n c%[1]s addr add 10.99.1.2/24 dev eth0; ip -n c%[1]s route add default via 10.99.1.1
`, s, labVIP)
	for i := 1; i <= reals; i++ {
		script += fmt.Sprintf(`
ip netns add r%[2]d%[1]s
ip link add vr%[2]d%[1]s type veth peer name eth0 netns r%[2]d%[1]s
ip link set vr%[2]d%[1]s master br%[1]s up
ip -n r%[2]d%[1]s link set lo up; ip -n r%[2]d%[1]s link set eth0 up
ip -n r%[2]d%[1]s addr add 10.99.0.1%[2]d/24 dev eth0; ip -n r%[2]d%[1]s route add default via 10.99.0.1
mkdir -p %[3]s/www%[2]d; echo r%[2]d > %[3]s/www%[2]d/index.html
`, s, i, l.dir)
		if fwd != "masq" {
			script += fmt.Sprintf(`
ip netns exec r%[2]d%[1]s sh -ec 'sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
ip addr add %[3]s/32 dev lo
ip route add 10.99.1.0/24 dev eth0 src 10.99.0.1%[2]d
ip link set tunl0 up; sysctl -qw net.ipv4.conf.tunl0.rp_filter=0'
`, s, i, labVIP)
		}
	}
	t.Cleanup(l.close)
	shell(t, script)
	for i := 1; i <= reals; i++ {
		l.bg(fmt.Sprintf("r%d%s", i, s), "busybox", "httpd", "-f", "-p", "80", "-h", fmt.Sprintf("%s/www%d", l.dir, i))
		l.bg(fmt.Sprintf("r%d%s", i, s), "busybox", "nc", "-ll", "-p", "9000", "-e", "cat")
	}
	// Poll until every real answers (directly, not through IPVS).
	for i := 1; i <= reals; i++ {
		deadline := time.Now().Add(30 * time.Second)
		for {
			out, err := exec.Command("curl", "-s", "-m", "2", fmt.Sprintf("http://10.99.0.1%d/", i)).Output()
			if err == nil && strings.TrimSpace(string(out)) == fmt.Sprintf("r%d", i) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("real %d never answered: %v %s", i, err, out)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return l
}

func (l *lab) bg(ns string, argv ...string) {
	cmd := exec.Command("ip", append([]string{"netns", "exec", ns}, argv...)...)
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.procs = append(l.procs, cmd)
}

func (l *lab) close() {
	for _, p := range l.procs {
		p.Process.Kill()
		p.Wait()
	}
	s := l.sfx
	script := fmt.Sprintf("ip netns del c%[1]s; ip link del br%[1]s", s)
	for i := 1; i <= l.reals; i++ {
		script += fmt.Sprintf("; ip netns del r%d%s", i, s)
	}
	exec.Command("sh", "-c", script).Run()
}

// config writes an ldirectord.cf for the lab's VIP.
func (l *lab) config(name, sched string, realLines ...string) string {
	body := fmt.Sprintf("checktimeout=3\nquiescent=yes\n\nvirtual=%s:80\n\tscheduler=%s\n\tchecktype=on\n", labVIP, sched)
	for _, r := range realLines {
		body += "\treal=" + r + "\n"
	}
	body += fmt.Sprintf("\nvirtual=%s:9000\n\tscheduler=%s\n\tchecktype=on\n", labVIP, sched)
	for _, r := range realLines {
		body += "\treal=" + strings.Replace(r, ":80 ", ":9000 ", 1) + "\n"
	}
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// get fetches the VIP from the client namespace n times; each is a new
// connection. It returns which real answered each.
func (l *lab) get(n int) []string {
	var out []string
	for i := 0; i < n; i++ {
		b, err := exec.Command("ip", "netns", "exec", "c"+l.sfx, "curl", "-s", "-m", "5", "http://"+labVIP+"/").CombinedOutput()
		if err != nil {
			l.t.Fatalf("request %d through the VIP: %v %s\nipvsadm:\n%s", i, err, b, shell(l.t, "ipvsadm -Ln"))
		}
		out = append(out, strings.TrimSpace(string(b)))
	}
	return out
}

func count(answers []string) map[string]int {
	m := map[string]int{}
	for _, a := range answers {
		m[a]++
	}
	return m
}

func testTraffic(t *testing.T, fwd string) {
	l := newLab(t, fwd, 2)
	cf := l.config("rr.cf", "rr", "10.99.0.11:80 "+fwd+" 1", "10.99.0.12:80 "+fwd+" 1")
	applyOK(t, cf)
	got := l.get(6)
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Fatalf("%s rr does not alternate: %v", fwd, got)
		}
	}
	// wrr follows the weights: 3:1.
	cf = l.config("wrr.cf", "wrr", "10.99.0.11:80 "+fwd+" 3", "10.99.0.12:80 "+fwd+" 1")
	out := applyOK(t, cf)
	if c := count(l.get(8)); c["r1"] != 6 || c["r2"] != 2 {
		t.Fatalf("%s wrr 3:1 over 8 requests: %v\n%s", fwd, c, out)
	}
	// weight 0 gets no new connections; the change is one write per service.
	cf = l.config("w0.cf", "wrr", "10.99.0.11:80 "+fwd+" 3", "10.99.0.12:80 "+fwd+" 0")
	out = applyOK(t, cf)
	if writes(t, out) != "2" || strings.Count(out, "-e -t ") != 2 {
		t.Fatalf("weight 0 change:\n%s", out)
	}
	if c := count(l.get(6)); c["r1"] != 6 {
		t.Fatalf("%s: weight-0 real got new connections: %v", fwd, c)
	}
}

func TestTrafficMasq(t *testing.T) { testTraffic(t, "masq") }
func TestTrafficGate(t *testing.T) { testTraffic(t, "gate") }
func TestTrafficIPIP(t *testing.T) { testTraffic(t, "ipip") }

// echoConn is a long-lived TCP connection from the client namespace
// through the VIP to an echo server on a real.
type echoConn struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
}

func (l *lab) dialEcho() *echoConn {
	cmd := exec.Command("ip", "netns", "exec", "c"+l.sfx, "busybox", "nc", labVIP, "9000")
	in, _ := cmd.StdinPipe()
	out, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		l.t.Fatal(err)
	}
	l.procs = append(l.procs, cmd)
	return &echoConn{cmd: cmd, in: in, out: bufio.NewReader(out)}
}

// ping sends a line and waits for its echo.
func (e *echoConn) ping(t *testing.T, msg string) {
	t.Helper()
	if _, err := fmt.Fprintln(e.in, msg); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
	got := make(chan string, 1)
	go func() { s, _ := e.out.ReadString('\n'); got <- s }()
	select {
	case s := <-got:
		if strings.TrimSpace(s) != msg {
			t.Fatalf("echo of %q: got %q (connection reset?)", msg, s)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no echo of %q within 10s", msg)
	}
}

// A long-lived connection through the VIP survives a reconciler restart
// (a fresh lvsd apply finds its services in the kernel and edits in place)
// and config reloads that change the scheduler, weights and reals.
func TestHitlessRestart(t *testing.T) {
	l := newLab(t, "masq", 2)
	cf := l.config("a.cf", "wlc", "10.99.0.11:80 masq 1", "10.99.0.12:80 masq 1")
	applyOK(t, cf)
	conn := l.dialEcho()
	conn.ping(t, "before")

	// restart: a new reconciler, same config: nothing to write.
	if out := applyOK(t, cf); writes(t, out) != "0" {
		t.Fatalf("restart rewrote the table:\n%s", out)
	}
	conn.ping(t, "after-restart")

	// reload: scheduler, persistence and weights edited, a real added.
	cf2 := l.config("b.cf", "rr", "10.99.0.11:80 masq 5", "10.99.0.12:80 masq 2", "10.99.0.13:80 masq 1")
	out := applyOK(t, cf2)
	if strings.Contains(out, "-D ") || strings.Contains(out, "-d ") {
		t.Fatalf("reload deleted something:\n%s", out)
	}
	conn.ping(t, "after-reload")
	conn.ping(t, "still-there")
	if c := shell(t, "ipvsadm -Lnc"); !strings.Contains(c, "ESTABLISHED") {
		t.Errorf("no ESTABLISHED connection in ipvsadm -Lnc:\n%s", c)
	}
}
