//go:build vm

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
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
	vm.ResetIPVS(t)
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
// directly. One `ip -batch` per namespace: process starts are slow under
// emulation.
func newLab(t *testing.T, fwd string, reals int) *lab { return buildLab(t, fwd, reals, true) }

// buildLab is newLab; byHand=false leaves the gate and ipip reals without
// the VIP and its settings, for the realserver helper to make
// (realserver_vm_test.go).
func buildLab(t *testing.T, fwd string, reals int, byHand bool) *lab {
	cleanTable(t)
	l := &lab{t: t, sfx: fmt.Sprint(os.Getpid() % 100000), reals: reals, dir: t.TempDir()}
	s := l.sfx
	t.Cleanup(l.close)
	if err := os.WriteFile("/proc/sys/net/ipv4/ip_forward", []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	top := fmt.Sprintf(`netns add c%[1]s
link add br%[1]s type bridge
link set br%[1]s up
addr add 10.99.0.1/24 dev br%[1]s
addr add 10.99.1.1/24 dev br%[1]s
addr add %[2]s/32 dev br%[1]s
link add vc%[1]s type veth peer name eth0 netns c%[1]s
link set vc%[1]s master br%[1]s up
`, s, labVIP)
	for i := 1; i <= reals; i++ {
		top = fmt.Sprintf("netns add r%[2]d%[1]s\n", s, i) + top +
			fmt.Sprintf("link add vr%[2]d%[1]s type veth peer name eth0 netns r%[2]d%[1]s\nlink set vr%[2]d%[1]s master br%[1]s up\n", s, i)
	}
	ipBatch(t, "", top)
	ipBatch(t, "c"+s, "link set lo up\nlink set eth0 up\naddr add 10.99.1.2/24 dev eth0\nroute add default via 10.99.1.1\n")
	for i := 1; i <= reals; i++ {
		ns := fmt.Sprintf("r%d%s", i, s)
		b := fmt.Sprintf("link set lo up\nlink set eth0 up\naddr add 10.99.0.1%d/24 dev eth0\nroute add default via 10.99.0.1\n", i)
		if fwd != "masq" && !byHand {
			b += "route add 10.99.1.0/24 dev eth0\n" // answers go straight to the client
		}
		if fwd != "masq" && byHand {
			b += fmt.Sprintf("addr add %s/32 dev lo\nroute add 10.99.1.0/24 dev eth0 src 10.99.0.1%d\nlink set tunl0 up\n", labVIP, i)
			err := netns.Do(ns, func() error {
				for k, v := range map[string]string{"all/arp_ignore": "1", "all/arp_announce": "2", "all/rp_filter": "0",
					"default/rp_filter": "0", "tunl0/rp_filter": "0"} {
					if err := os.WriteFile("/proc/sys/net/ipv4/conf/"+k, []byte(v), 0o644); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		ipBatch(t, ns, b)
		www := fmt.Sprintf("%s/www%d", l.dir, i)
		os.MkdirAll(www, 0o755)
		os.WriteFile(www+"/index.html", []byte(fmt.Sprintf("r%d\n", i)), 0o644)
		l.bg(ns, "busybox", "httpd", "-f", "-p", "80", "-h", www)
		l.bg(ns, "busybox", "nc", "-ll", "-p", "9000", "-e", "cat")
	}
	// Poll until every real answers (directly, not through IPVS).
	for i := 1; i <= reals; i++ {
		addr, want := fmt.Sprintf("10.99.0.1%d:80", i), fmt.Sprintf("r%d", i)
		var got string
		var err error
		if !netns.WaitFor(30*time.Second, func() bool { got, err = httpGet(addr); return got == want }) {
			t.Fatalf("real %d never answered: %q %v", i, got, err)
		}
		echo := fmt.Sprintf("10.99.0.1%d:9000", i)
		if !netns.WaitFor(30*time.Second, func() bool {
			c, err := net.DialTimeout("tcp", echo, time.Second)
			if err == nil {
				c.Close()
			}
			return err == nil
		}) {
			t.Fatalf("echo server of real %d never answered", i)
		}
	}
	return l
}

// ipBatch runs iproute2 commands, one per line, in namespace ns ("" = ours).
func ipBatch(t *testing.T, ns, cmds string) {
	t.Helper()
	args := []string{"-batch", "-"}
	if ns != "" {
		args = append([]string{"-n", ns}, args...)
	}
	cmd := exec.Command("ip", args...)
	cmd.Stdin = strings.NewReader(cmds)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ip %v:\n%s\n%v %s", args, cmds, err, out)
	}
}

// httpGet fetches / over HTTP/1.0 on a new connection and returns the body.
func httpGet(addr string) (string, error) {
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\nHost: vip\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	_, body, ok := strings.Cut(string(b), "\r\n\r\n")
	if !ok {
		return "", fmt.Errorf("not HTTP: %q", b)
	}
	return strings.TrimSpace(body), nil
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
	err := netns.Do("c"+l.sfx, func() error {
		for i := 0; i < n; i++ {
			b, err := httpGet(labVIP + ":80")
			if err != nil {
				return fmt.Errorf("request %d through the VIP: %v", i, err)
			}
			out = append(out, b)
		}
		return nil
	})
	if err != nil {
		l.t.Fatalf("%v\nipvsadm:\n%s", err, shell(l.t, "ipvsadm -Ln"))
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
	c   net.Conn
	out *bufio.Reader
}

func (l *lab) dialEcho() *echoConn {
	var c net.Conn
	err := netns.Do("c"+l.sfx, func() (err error) {
		c, err = net.DialTimeout("tcp", labVIP+":9000", 5*time.Second)
		return err
	})
	if err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { c.Close() })
	return &echoConn{c: c, out: bufio.NewReader(c)}
}

// ping sends a line and waits for its echo.
func (e *echoConn) ping(t *testing.T, msg string) {
	t.Helper()
	e.c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := fmt.Fprintln(e.c, msg); err != nil {
		t.Fatalf("send %q: %v", msg, err)
	}
	s, err := e.out.ReadString('\n')
	if err != nil || strings.TrimSpace(s) != msg {
		t.Fatalf("echo of %q: got %q, %v (connection reset?)", msg, s, err)
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
	b, err := os.ReadFile(cf2)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(cf2, []byte(strings.ReplaceAll(string(b), "\tscheduler=rr\n", "\tscheduler=rr\n\tpersistent=300\n")), 0o644)
	out := applyOK(t, cf2)
	if strings.Contains(out, "-D ") || strings.Contains(out, "-d ") {
		t.Fatalf("reload deleted something:\n%s", out)
	}
	// the edits are in the kernel: edited in place, not re-added
	tab := shell(t, "ipvsadm -Ln -t "+labVIP+":80")
	for _, re := range []string{`(?m)^TCP\s+\S+:80 rr persistent 300\s*$`, `10\.99\.0\.11:80\s+Masq\s+5\s`, `10\.99\.0\.12:80\s+Masq\s+2\s`, `10\.99\.0\.13:80\s+Masq\s+1\s`} {
		if !regexp.MustCompile(re).MatchString(tab) {
			t.Errorf("after the reload the table lacks %s:\n%s", re, tab)
		}
	}
	conn.ping(t, "after-reload")
	conn.ping(t, "still-there")
	if c := shell(t, "ipvsadm -Lnc"); !strings.Contains(c, "ESTABLISHED") {
		t.Errorf("no ESTABLISHED connection in ipvsadm -Lnc:\n%s", c)
	}
}

// The kernel refusing an operation (a scheduler whose module is not
// loaded: the VM's kernel cannot load it on demand): apply writes what it
// can, marks the refused lines "# REFUSED", exits 1 and leaves the state
// file alone. Then --state is written by a clean pass and used by the next
// to remove the virtual the file dropped, leaving a foreign one alone.
func TestApplyRefusedAndState(t *testing.T) {
	cleanTable(t)
	if out, err := exec.Command("modprobe", "-r", "ip_vs_mh").CombinedOutput(); err != nil {
		t.Fatalf("modprobe -r ip_vs_mh: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("modprobe", "ip_vs_mh").Run() })
	dir := t.TempDir()
	state := filepath.Join(dir, "a.state")
	both := filepath.Join(dir, "both.cf")
	os.WriteFile(both, []byte("virtual=192.0.2.60:80\n\treal=10.0.0.1:80 masq\n\tscheduler=rr\n\tchecktype=on\n"+
		"virtual=192.0.2.61:80\n\treal=10.0.0.2:80 masq\n\tscheduler=mh\n\tchecktype=on\n"), 0o644)
	shell(t, "ipvsadm -A -t 192.0.2.99:80 -s rr") // not ours

	rc, out, errs := runLvsd("apply", "--state", state, both)
	if rc != 1 {
		t.Fatalf("a refused operation: rc %d, want 1\n%s\n%s", rc, out, errs)
	}
	if !regexp.MustCompile(`(?m)^-A -t 192\.0\.2\.61:80 -s mh.*# REFUSED$`).MatchString(out) ||
		regexp.MustCompile(`(?m)^-A -t 192\.0\.2\.60:80 .*# REFUSED$`).MatchString(out) {
		t.Errorf("the refused service is not (or not alone) marked:\n%s", out)
	}
	if !strings.Contains(errs, "192.0.2.61:80") {
		t.Errorf("stderr does not name the refused service:\n%s", errs)
	}
	tab := savedTable(t)
	if !strings.Contains(tab, "-a -t 192.0.2.60:80 -r 10.0.0.1:80 -m -w 1") || strings.Contains(tab, "192.0.2.61") {
		t.Errorf("partial apply: want the rr service in, the mh one out:\n%s", tab)
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("state file written by a failed pass: %v", err)
	}

	// the module back: a clean pass, and the state file names both
	if out, err := exec.Command("modprobe", "ip_vs_mh").CombinedOutput(); err != nil {
		t.Fatalf("modprobe ip_vs_mh: %v %s", err, out)
	}
	applyOK(t, "--state", state, both)
	b, err := os.ReadFile(state)
	if err != nil || !strings.Contains(string(b), "192.0.2.60") || !strings.Contains(string(b), "192.0.2.61") {
		t.Fatalf("state after a clean pass: %v\n%s", err, b)
	}

	// a file without .61: the state says it was ours, so it goes
	one := filepath.Join(dir, "one.cf")
	os.WriteFile(one, []byte("virtual=192.0.2.60:80\n\treal=10.0.0.1:80 masq\n\tscheduler=rr\n\tchecktype=on\n"), 0o644)
	out = applyOK(t, "--state", state, one)
	if !strings.Contains(out, "-D -t 192.0.2.61:80") {
		t.Errorf("the dropped virtual was not removed:\n%s", out)
	}
	tab = savedTable(t)
	if strings.Contains(tab, "192.0.2.61") || !strings.Contains(tab, "192.0.2.60:80") || !strings.Contains(tab, "-A -t 192.0.2.99:80") {
		t.Errorf("after the pass with the state: want .60 and the foreign .99, not .61:\n%s", tab)
	}
	// without the state file, a dropped virtual is left alone (never flushed)
	applyOK(t, both)
	out = applyOK(t, one)
	if strings.Contains(out, "-D -t 192.0.2.61:80") || !strings.Contains(savedTable(t), "192.0.2.61") {
		t.Errorf("without --state a virtual not in the file was removed:\n%s", out)
	}
}
