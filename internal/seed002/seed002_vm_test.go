//go:build vm

// Package seed002 runs seed 002's cluster (UltraMonkey: Pacemaker,
// VIPcheck, IPaddr2, ldirectord, ping) with the ocf:lvs agents in the IPVS
// VM: two real Pacemaker + corosync nodes, each in its own network, mount
// and UTS namespace (so each has its own IPVS table), the group VIPCHK1 ->
// LB_VIP -> LDIRECTOR1 and the PINGD clone with seed 002's constraints
// (testdata/seed002/cib.xml), DR and NAT real servers and a client behind
// the gateway. Stonith is off: the lab has no fencing device, so nothing
// here tests split-brain protection beyond VIPcheck.
package seed002

import (
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// The lab, on seed 002's addresses:
//
//	s2gw   br0 192.168.5.1 (DGW, the ping target), 10.0.0.1 to the client
//	s2cli  10.0.0.100, default via 10.0.0.1
//	s2ld1  192.168.5.35 (LD1), s2ld2 192.168.5.45 (LD2), default via .1
//	s2fe1  192.168.5.33, s2fe2 192.168.5.43: DR reals, the VIP on lo
//	s2nat  192.168.5.34: NAT real, default via the VIP
const (
	vip = "192.168.5.55"
	gw  = "192.168.5.1"
	cli = "s2cli"
)

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// batch runs ip commands in ns with one process (process starts are
// what costs under emulation).
func batch(t *testing.T, ns, cmds string) {
	t.Helper()
	c := exec.Command("ip", "-n", ns, "-batch", "-")
	c.Stdin = strings.NewReader(cmds)
	if out, err := c.CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s -batch: %v\n%s\n%s", ns, err, out, cmds)
	}
}

func sysctl(t *testing.T, ns string, kv ...string) {
	t.Helper()
	for _, s := range kv {
		k, v, _ := strings.Cut(s, "=")
		p := "/proc/sys/net/" + strings.ReplaceAll(k, ".", "/")
		if err := netns.Do(ns, func() error { return os.WriteFile(p, []byte(v), 0o644) }); err != nil {
			t.Fatalf("%s: %s: %v", ns, s, err)
		}
	}
}

// killNS SIGKILLs every process in a network namespace until none is
// left (pacemakerd respawns its children while it lives).
func killNS(ns string) {
	for i := 0; i < 50; i++ {
		out, _ := exec.Command("ip", "netns", "pids", ns).Output()
		pids := strings.Fields(string(out))
		if len(pids) == 0 {
			return
		}
		for _, p := range pids {
			if n, err := strconv.Atoi(p); err == nil {
				syscall.Kill(n, syscall.SIGKILL)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// poll is netns.WaitFor with a pause between tries: each try here starts
// processes, which would otherwise starve the cluster under emulation.
func poll(within, every time.Duration, cond func() bool) bool {
	return netns.WaitFor(within, func() bool {
		if cond() {
			return true
		}
		time.Sleep(every)
		return false
	})
}

type lab struct {
	t     *testing.T
	dir   string
	nss   []string
	nodes []*node
}

type node struct {
	name, ns, addr, dir string
	pid                 int // corosync's: the node's mount and UTS namespaces
}

// netns makes namespace ns with eth0 (addr/24) on the gateway's bridge.
func (l *lab) netns(ns, addr, more string) {
	t := l.t
	exec.Command("ip", "netns", "del", ns).Run()
	run(t, "ip", "netns", "add", ns)
	l.nss = append(l.nss, ns)
	batch(t, "s2gw", fmt.Sprintf("link add v%s type veth peer name eth0 netns %s\nlink set v%s master br0 up\n", ns, ns, ns))
	batch(t, ns, fmt.Sprintf("link set lo up\naddr add %s/24 dev eth0\nlink set eth0 up\n%s", addr, more))
}

// real is a busybox httpd answering its name on / and seed 002's check
// page (haCheker/haCheck.html: "up and running").
func (l *lab) real(ns, addr, name, more string) {
	l.netns(ns, addr, more)
	www := filepath.Join(l.dir, "www-"+name)
	os.MkdirAll(filepath.Join(www, "haCheker"), 0o755)
	os.WriteFile(filepath.Join(www, "index.html"), []byte(name+"\n"), 0o644)
	os.WriteFile(filepath.Join(www, "haCheker", "haCheck.html"), []byte("up and running\n"), 0o644)
	if err := exec.Command("ip", "netns", "exec", ns, "busybox", "httpd", "-p", "80", "-h", www).Run(); err != nil {
		l.t.Fatalf("httpd in %s: %v", ns, err) // it daemonizes; killNS ends it
	}
}

// labOpts picks the lab's cluster: the CIB in testdata/seed002 (cib.xml,
// the ocf:lvs group; cib-heartbeat.xml, the heartbeat one for
// bench/failover.sh) and corosync's token (0: the file's default, 3000 ms).
type labOpts struct {
	cib   string
	token time.Duration
}

const ocfLVSDir = "/usr/lib/ocf/resource.d/lvs"

func newLab(t *testing.T, o labOpts) *lab {
	vm.ResetIPVS(t) // also vm.Require
	// the cluster tools live in /usr/sbin, which the VM's PATH may lack
	t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin:/sbin")
	for _, c := range []string{"corosync", "corosync-cfgtool", "pacemakerd", "crm_mon", "crm_resource", "attrd_updater", "ipvsadm", "busybox", "nsenter", "unshare"} {
		testenv.Command(t, c)
	}
	// The nodes bind-mount their agents on this directory in their own
	// mount namespaces, but the directory is made in the VM's shared root:
	// removed after the nodes are gone (a cleanup runs after those
	// registered later), so that the package tests after this one find the
	// root without it, as a system without the packages has it.
	if _, err := os.Stat(ocfLVSDir); os.IsNotExist(err) {
		if err := os.MkdirAll(ocfLVSDir, 0o755); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(ocfLVSDir) })
	}
	l := &lab{t: t, dir: t.TempDir()}
	t.Cleanup(func() {
		for i := len(l.nss) - 1; i >= 0; i-- {
			killNS(l.nss[i])
			exec.Command("ip", "netns", "del", l.nss[i]).Run()
		}
	})

	// Private copies of the agents (where each node's Pacemaker looks for
	// ocf:lvs:*, a bind mount over /usr/lib/ocf/resource.d) and of lvsd:
	// a make build on the host cannot change them under the running test.
	cp := func(src, dst string) {
		b, err := os.ReadFile(src)
		if err == nil {
			err = os.WriteFile(dst, b, 0o755)
		}
		if err != nil {
			t.Fatalf("%v (run make build before make vmtest)", err)
		}
	}
	os.MkdirAll(filepath.Join(l.dir, "ocf", "lvs"), 0o755)
	for _, a := range []string{"VIP", "VIPcheck", "ping", "director"} {
		cp(filepath.Join("../../bin", a), filepath.Join(l.dir, "ocf", "lvs", a))
	}
	cp("../../bin/lvsd", filepath.Join(l.dir, "lvsd"))
	if o.cib == "" {
		o.cib = "cib.xml"
	}
	cib, err := os.ReadFile("../../testdata/seed002/" + o.cib)
	if err != nil {
		t.Fatal(err)
	}
	cib = []byte(strings.Replace(string(cib), `value="/usr/sbin/lvsd"`, `value="`+filepath.Join(l.dir, "lvsd")+`"`, 1))
	os.WriteFile(filepath.Join(l.dir, "cib.xml"), cib, 0o644)

	exec.Command("ip", "netns", "del", "s2gw").Run()
	run(t, "ip", "netns", "add", "s2gw")
	l.nss = append(l.nss, "s2gw")
	batch(t, "s2gw", "link set lo up\nlink add br0 type bridge\nlink set br0 up\naddr add "+gw+"/24 dev br0\n")
	sysctl(t, "s2gw", "ipv4.ip_forward=1")
	exec.Command("ip", "netns", "del", cli).Run()
	run(t, "ip", "netns", "add", cli)
	l.nss = append(l.nss, cli)
	batch(t, "s2gw", "link add vcli type veth peer name eth0 netns "+cli+"\naddr add 10.0.0.1/24 dev vcli\nlink set vcli up\n")
	batch(t, cli, "link set lo up\naddr add 10.0.0.100/24 dev eth0\nlink set eth0 up\nroute add default via 10.0.0.1\n")

	// DR reals as the seed sets them up: the VIP on lo, arp_ignore=1,
	// arp_announce=2.
	for _, fe := range []struct{ ns, addr, name string }{{"s2fe1", "192.168.5.33", "FE1"}, {"s2fe2", "192.168.5.43", "FE2"}} {
		l.real(fe.ns, fe.addr, fe.name, "addr add "+vip+"/32 dev lo\nroute add default via "+gw+"\n")
		sysctl(t, fe.ns, "ipv4.conf.all.arp_ignore=1", "ipv4.conf.eth0.arp_ignore=1", "ipv4.conf.all.arp_announce=2", "ipv4.conf.eth0.arp_announce=2")
	}
	// The NAT real, one arm: its replies go to whoever holds the VIP,
	// which rewrites them; no ICMP redirect may teach it a shorter way.
	l.real("s2nat", "192.168.5.34", "NAT1", "route add default via "+vip+"\n")
	sysctl(t, "s2nat", "ipv4.conf.all.accept_redirects=0", "ipv4.conf.eth0.accept_redirects=0")

	conf, _ := filepath.Abs("../../testdata/seed002/corosync.conf")
	if o.token > 0 {
		b, err := os.ReadFile(conf)
		if err != nil {
			t.Fatal(err)
		}
		conf = filepath.Join(l.dir, "corosync.conf")
		tok := fmt.Sprintf("totem {\n  token: %d\n", o.token.Milliseconds())
		os.WriteFile(conf, []byte(strings.Replace(string(b), "totem {\n", tok, 1)), 0o644)
	}
	ldcf, err := os.ReadFile("../../testdata/seed002/ldirectord.cf")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []*node{{name: "ld1", addr: "192.168.5.35"}, {name: "ld2", addr: "192.168.5.45"}} {
		n.ns, n.dir = "s2"+n.name, filepath.Join(l.dir, n.name)
		l.netns(n.ns, n.addr, "route add default via "+gw+"\n")
		// the seed's director sysctls (NAT needs forwarding)
		sysctl(t, n.ns, "ipv4.ip_forward=1", "ipv4.conf.all.send_redirects=0", "ipv4.conf.eth0.send_redirects=0")
		os.MkdirAll(filepath.Join(n.dir, "log"), 0o755)
		os.MkdirAll(filepath.Join(n.dir, "ha.d"), 0o755)
		os.WriteFile(filepath.Join(n.dir, "ha.d", "ldirectord.cf"), ldcf, 0o644)
		c := exec.Command("ip", "netns", "exec", n.ns, "unshare", "-m", "-u", "--propagation", "private", "sh", "-c", nodeSetup)
		c.Env = append(os.Environ(), "NODE="+n.name, "DIR="+n.dir, "LAB="+l.dir, "CONF="+conf)
		f, _ := os.Create(filepath.Join(n.dir, "corosync.out"))
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go c.Wait()
		n.pid = c.Process.Pid // ip netns exec, unshare and sh all exec
		l.nodes = append(l.nodes, n)
	}
	for _, n := range l.nodes {
		var o string
		if !poll(60*time.Second, 200*time.Millisecond, func() bool {
			var err error
			o, err = n.out("corosync-cfgtool", "-s")
			return err == nil && strings.Contains(o, "nodeid")
		}) {
			b, _ := os.ReadFile(filepath.Join(n.dir, "corosync.out"))
			t.Fatalf("%s: corosync does not answer: %s\n%s\n%s", n.name, o, b, n.tail("log/cluster/corosync.log"))
		}
		f, _ := os.Create(filepath.Join(n.dir, "pacemakerd.out"))
		c := n.cmd("pacemakerd")
		c.Env = append(os.Environ(), "PCMK_logfile=/var/log/pacemaker/pacemaker.log")
		c.Stdout, c.Stderr = f, f
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		go c.Wait()
	}
	// Logs of a failed run, before the cleanup above kills everything.
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(l.dump())
		}
	})
	return l
}

// nodeSetup runs in the node's new mount and UTS namespaces: its own /run
// (pid files, /run/resource-agents), /dev/shm (libqb), cluster state and
// logs, ldirectord.cf, the ocf:lvs agents, and the seed's CIB, then
// corosync.
const nodeSetup = `set -e
mkdir -p /etc/ha.d
mount --bind "$DIR/ha.d" /etc/ha.d
mount --bind "$DIR/log" /var/log
# only ocf:lvs is private: the heartbeat group (bench/failover.sh) uses
# Debian's ocf:heartbeat agents beside it
mkdir -p /usr/lib/ocf/resource.d/lvs
mount --bind "$LAB/ocf/lvs" /usr/lib/ocf/resource.d/lvs
for d in /run /dev/shm /var/lib/corosync /var/lib/pacemaker; do mount -t tmpfs tmpfs $d; done
mkdir -p /var/lib/pacemaker/cib /var/lib/pacemaker/pengine /var/lib/pacemaker/blackbox /var/lib/pacemaker/cores
mkdir -p /var/log/pacemaker /var/log/cluster /run/crm /run/resource-agents
cp "$LAB/cib.xml" /var/lib/pacemaker/cib/cib.xml
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
chmod 750 /var/lib/pacemaker/*
hostname "$NODE"
exec corosync -f -c "$CONF"
`

// cmd runs a command in the node's network, mount and UTS namespaces,
// and its root (-r: entering a mount namespace resets the root, and the
// VM's tests run chrooted).
func (n *node) cmd(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"-t", strconv.Itoa(n.pid), "-m", "-n", "-u", "-r", "--", name}, args...)...)
}

func (n *node) out(name string, args ...string) (string, error) {
	b, err := n.cmd(name, args...).CombinedOutput()
	return string(b), err
}

func (n *node) tail(rel string) string {
	b, _ := os.ReadFile(filepath.Join(n.dir, rel))
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return fmt.Sprintf("--- %s %s:\n%s", n.name, rel, b)
}

// ipvs is the node's own IPVS table (its network namespace's).
func (n *node) ipvs() string {
	o, _ := exec.Command("ip", "netns", "exec", n.ns, "ipvsadm", "-Sn").CombinedOutput()
	return strings.TrimSpace(string(o))
}

// fullTable waits for the node's table to hold both virtuals with every
// real: lvsd adds a real after its first check passes, a few seconds
// after the director's start under emulation.
func (n *node) fullTable() (string, bool) {
	var tb string
	ok := poll(30*time.Second, 500*time.Millisecond, func() bool {
		tb = n.ipvs()
		for _, want := range []string{"-A -t " + vip + ":80 -s rr", "-a -t " + vip + ":80 -r 192.168.5.33:80 -g", "-a -t " + vip + ":80 -r 192.168.5.43:80 -g", "-a -t " + vip + ":8080 -r 192.168.5.34:80 -m"} {
			if !strings.Contains(tb, want) {
				return false
			}
		}
		return true
	})
	return tb, ok
}

// hasVIP asks netlink from a thread in the node's namespace: no process,
// so it can be polled often.
func (n *node) hasVIP() bool {
	has := false
	netns.Do(n.ns, func() error {
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		as, _ := ifi.Addrs()
		for _, a := range as {
			has = has || strings.HasPrefix(a.String(), vip+"/")
		}
		return nil
	})
	return has
}

// groupOn is where n's cluster runs every member of GrpBalancer, "" when
// they are not together.
func (n *node) groupOn() string {
	o, _ := n.out("crm_mon", "-1", "-r")
	on := ""
	for _, m := range []string{"VIPCHK1", "LB_VIP", "LDIRECTOR1"} {
		i := strings.Index(o, m+"\t")
		if i < 0 {
			i = strings.Index(o, m+" ")
		}
		if i < 0 {
			return ""
		}
		line, _, _ := strings.Cut(o[i:], "\n")
		f := strings.Fields(line)
		if !strings.Contains(line, "Started") || (on != "" && f[len(f)-1] != on) {
			return ""
		}
		on = f[len(f)-1]
	}
	return on
}

func (n *node) pingd(of string) string {
	o, _ := n.out("attrd_updater", "-Q", "-n", "pingd", "-N", of)
	if _, v, ok := strings.Cut(o, `value="`); ok {
		v, _, _ = strings.Cut(v, `"`)
		return v
	}
	return ""
}

func (l *lab) dump() string {
	var b strings.Builder
	for _, n := range l.nodes {
		if o, err := n.out("crm_mon", "-1", "-A", "-r", "--failcounts"); err == nil {
			fmt.Fprintf(&b, "--- %s crm_mon:\n%s\n", n.name, o)
		}
		fmt.Fprintf(&b, "--- %s ipvsadm -Sn:\n%s\n", n.name, n.ipvs())
		b.WriteString(n.tail("log/pacemaker/pacemaker.log") + "\n")
		b.WriteString(n.tail("log/ldirectord.log") + "\n")
	}
	return b.String()
}

// load sends HTTP requests to the VIP from the client, a new connection
// each, every 100 ms (startLoad) or as often as startLoadN says, and
// records every answer and failure.
type load struct {
	port int
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	evs  []ev
}

type ev struct {
	at   time.Time
	body string // the real's name
	err  error
}

func get(addr string, timeout time.Duration) (string, error) {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
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

func startLoad(t *testing.T, port int) *load {
	return startLoadN(t, port, 1, 100*time.Millisecond, time.Second)
}

// startLoadN starts a request every `every` from n workers taking turns,
// each a thread in the client's namespace (a socket's namespace is its
// creator thread's): a request that hangs for its timeout does not delay
// the next, so the first answer after an outage is seen within `every`.
func startLoadN(t *testing.T, port, n int, every, timeout time.Duration) *load {
	ld := &load{port: port, stop: make(chan struct{}), done: make(chan struct{})}
	var wg sync.WaitGroup
	t0 := time.Now()
	for w := 0; w < n; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			netns.Do(cli, func() error {
				for k := 0; ; k++ {
					next := t0.Add(time.Duration(k*n+w) * every)
					for time.Until(next) < 0 { // a slot missed while waiting: no burst
						k++
						next = t0.Add(time.Duration(k*n+w) * every)
					}
					select {
					case <-ld.stop:
						return nil
					case <-time.After(time.Until(next)):
					}
					body, err := get(fmt.Sprintf("%s:%d", vip, port), timeout)
					ld.mu.Lock()
					ld.evs = append(ld.evs, ev{time.Now(), body, err})
					ld.mu.Unlock()
				}
			})
		}(w)
	}
	go func() { wg.Wait(); close(ld.done) }()
	t.Cleanup(func() { close(ld.stop); <-ld.done })
	return ld
}

func (ld *load) since(t0 time.Time) []ev {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	var r []ev
	for _, e := range ld.evs {
		if !e.at.Before(t0) {
			r = append(r, e)
		}
	}
	return r
}

// steady waits for 5 answers in a row after t0 and returns the first.
func (ld *load) steady(t *testing.T, t0 time.Time, within time.Duration) time.Time {
	t.Helper()
	var first time.Time
	var last error
	if !poll(within, 100*time.Millisecond, func() bool {
		run := 0
		for _, e := range ld.since(t0) {
			if e.err != nil {
				run, last = 0, e.err
				continue
			}
			if run == 0 {
				first = e.at
			}
			run++
		}
		return run >= 5
	}) {
		t.Fatalf("port %d: no steady answers within %v after %s (last error: %v)", ld.port, within, t0.Format("15:04:05.000"), last)
	}
	return first
}

// outage logs the gap in service caused by the event at t0: from the last
// answer before the first failure after t0 to back (0 if none failed).
func (ld *load) outage(t *testing.T, what string, t0, back time.Time) time.Duration {
	var lastOK time.Time
	fails := 0
	for _, e := range ld.since(time.Time{}) {
		switch {
		case e.err == nil && (fails == 0 || e.at.Before(t0)):
			lastOK = e.at
		case e.err != nil && !e.at.Before(t0) && e.at.Before(back):
			fails++
		}
	}
	gap := time.Duration(0)
	if fails > 0 {
		gap = back.Sub(lastOK)
	}
	t.Logf("%s, port %d: outage %.2f s (%d failed requests; last answer %.2f s after the event, answers again %.2f s after it)",
		what, ld.port, gap.Seconds(), fails, lastOK.Sub(t0).Seconds(), back.Sub(t0).Seconds())
	return gap
}

// by counts the answers after t0 per real.
func (ld *load) by(t0 time.Time) map[string]int {
	m := map[string]int{}
	for _, e := range ld.since(t0) {
		if e.err == nil {
			m[e.body]++
		}
	}
	return m
}

// moved waits (after the event at t0) for the VIP on to and steady service
// on both virtuals, logs the outages, and checks the cluster's view and
// both tables: from's emptied by the director's stop (cleanstop), or left
// alone if from crashed.
func (l *lab) moved(t *testing.T, what string, t0 time.Time, from, to *node, web, nat *load, crashed bool) {
	t.Helper()
	logf := filepath.Join(to.dir, "log", "ldirectord.log")
	var off int64
	if st, err := os.Stat(logf); err == nil {
		off = st.Size()
	}
	if !poll(120*time.Second, 50*time.Millisecond, to.hasVIP) {
		t.Fatalf("%s: the VIP is not on %s within 120 s", what, to.name)
	}
	vipAt := time.Now()
	back := web.steady(t, vipAt, 60*time.Second)
	backNat := nat.steady(t, vipAt, 60*time.Second)
	t.Logf("%s: VIP on %s %.2f s after the event", what, to.name, vipAt.Sub(t0).Seconds())
	web.outage(t, what, t0, back)
	nat.outage(t, what, t0, backNat)
	if !poll(30*time.Second, 500*time.Millisecond, func() bool { return to.groupOn() == to.name }) {
		o, _ := to.out("crm_mon", "-1", "-r")
		t.Errorf("%s: GrpBalancer not started on %s:\n%s", what, to.name, o)
	}
	if tb, ok := to.fullTable(); !ok {
		t.Errorf("%s: %s's table within 30 s:\n%s", what, to.name, tb)
	}
	// When lvsd started and put each real in: the reals' first checks are
	// part of the outage.
	if b, err := os.ReadFile(logf); err == nil && int64(len(b)) >= off {
		var ls []string
		for _, line := range strings.Split(string(b[off:]), "\n") {
			if strings.Contains(line, " started: ") || strings.Contains(line, "# add real") {
				ls = append(ls, line)
			}
		}
		t.Logf("%s: %s's lvsd (%s):\n%s", what, to.name, t0.Format("event 15:04:05.000"), strings.Join(ls, "\n"))
	}
	if crashed {
		return
	}
	if from.hasVIP() {
		t.Errorf("%s: the VIP is still on %s", what, from.name)
	}
	if tb := from.ipvs(); tb != "" {
		t.Errorf("%s: %s's table after the director stopped there (cleanstop):\n%s", what, from.name, tb)
	}
}

// started waits for the cold start: the group on one node (a), with pingd
// 100 on both.
func (l *lab) started(t *testing.T) (a, b *node) {
	t.Helper()
	if !poll(180*time.Second, 500*time.Millisecond, func() bool {
		for _, n := range l.nodes {
			if n.hasVIP() {
				a = n
			}
		}
		return a != nil && a.groupOn() == a.name
	}) {
		t.Fatal("GrpBalancer not started within 180 s")
	}
	b = l.nodes[0]
	if b == a {
		b = l.nodes[1]
	}
	if !poll(60*time.Second, 500*time.Millisecond, func() bool { return a.pingd(a.name) == "100" && a.pingd(b.name) == "100" }) {
		t.Fatalf("pingd not 100 on both nodes: %s=%q %s=%q", a.name, a.pingd(a.name), b.name, a.pingd(b.name))
	}
	return a, b
}

// TestSeed002Cluster: cold start, then the ping target lost from the
// active node (the group moves), a planned move back (crm_resource
// --move), and a crash of that node (corosync and Pacemaker killed -9).
// The client's outage is logged for each.
func TestSeed002Cluster(t *testing.T) {
	start := time.Now()
	l := newLab(t, labOpts{})
	// Both nodes start together; the group goes to one of them (the DC
	// decides); a is the active node, b the other.
	a, b := l.started(t)
	t.Logf("cold start: GrpBalancer started on %s and pingd 100 on both %.1f s after the test began", a.name, time.Since(start).Seconds())
	if tb := b.ipvs(); tb != "" {
		t.Errorf("%s's IPVS table is not empty while %s directs:\n%s", b.name, a.name, tb)
	}
	if tb, ok := a.fullTable(); !ok {
		t.Fatalf("%s's table within 30 s:\n%s", a.name, tb)
	}
	web, nat := startLoad(t, 80), startLoad(t, 8080)
	ready := time.Now()
	web.steady(t, ready, 60*time.Second)
	nat.steady(t, ready, 60*time.Second)
	if by := web.by(ready); by["FE1"] == 0 || by["FE2"] == 0 || len(by) != 2 {
		t.Errorf("DR virtual answered by %v, want FE1 and FE2 (rr)", by)
	}
	if by := nat.by(ready); by["NAT1"] == 0 || len(by) != 1 {
		t.Errorf("NAT virtual answered by %v, want NAT1", by)
	}
	if t.Failed() {
		return
	}

	ok := t.Run("ping-lost", func(t *testing.T) {
		// The gateway unreachable from a only; the cluster link is not.
		t0 := time.Now()
		batch(t, a.ns, "route add prohibit "+gw+"/32\n")
		l.moved(t, "ping target lost from "+a.name, t0, a, b, web, nat, false)
		if v := b.pingd(a.name); v != "0" {
			t.Errorf("pingd of %s: %q, want 0", a.name, v)
		}
		// Back: pingd 100 again on a; stickiness keeps the group on b.
		batch(t, a.ns, "route del prohibit "+gw+"/32\n")
		if !poll(60*time.Second, time.Second, func() bool { return b.pingd(a.name) == "100" }) {
			t.Errorf("pingd of %s not back to 100", a.name)
		}
		if on := b.groupOn(); on != b.name {
			t.Errorf("after the gateway came back the group is on %q", on)
		}
	})
	ok = ok && t.Run("planned-move", func(t *testing.T) {
		// --move without --node bans the current node: with the seed's
		// INFINITY stickiness a preference for a would only tie with it.
		t0 := time.Now()
		if o, err := b.out("crm_resource", "--move", "-r", "GrpBalancer"); err != nil {
			t.Fatalf("crm_resource --move: %v\n%s", err, o)
		}
		l.moved(t, "crm_resource --move from "+b.name, t0, b, a, web, nat, false)
		if o, err := a.out("crm_resource", "--clear", "-r", "GrpBalancer"); err != nil {
			t.Errorf("crm_resource --clear: %v\n%s", err, o)
		}
	})
	ok = ok && t.Run("node-crash", func(t *testing.T) {
		// A power cut: every process of a's (corosync, Pacemaker, lvsd)
		// killed -9 and its link down, so that its kernel, which lives on
		// in the namespace, no longer answers for the VIP.
		t0 := time.Now()
		killNS(a.ns)
		batch(t, "s2gw", "link set v"+a.ns+" down\n")
		l.moved(t, a.name+" crash", t0, a, b, web, nat, true)
		t1 := time.Now()
		if !poll(10*time.Second, 200*time.Millisecond, func() bool { by := web.by(t1); return by["FE1"] > 0 && by["FE2"] > 0 }) {
			t.Errorf("after the crash the DR virtual answered by %v", web.by(t1))
		}
	})
	t.Logf("whole test %.1f s", time.Since(start).Seconds())
}
