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
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// dirLab is seed 004's site in the VM, on the seed's own addresses: two
// directors running `lvsd run` on the seed's keepalived.conf (VRRP
// instance VI on eth1, VIP 10.0.0.1, HTTP_GET to two DR reals), each in
// its own network namespace (so each has its own IPVS table and sync
// daemon), the reals 10.0.0.5 and .6 made DR reals by `lvsd realserver
// up` (VIP on lo, arp_ignore=1, arp_announce=2), a client 10.0.0.100, all
// on one bridge.
type dirLab struct {
	t   *testing.T
	dir string
	nss []string
}

const (
	vrrpVIP = "10.0.0.1"
	vrrpCli = "vcli"
)

func (l *dirLab) ns(name, ifname, addr string) { l.nsOn("br0", name, ifname, addr+"/24") }

// nsOn makes namespace name (unless it exists) with ifname (addr with its
// prefix) on bridge br of the lab.
func (l *dirLab) nsOn(br, name, ifname, addr string) {
	t := l.t
	if exec.Command("ip", "netns", "exec", name, "true").Run() != nil {
		shell(t, "ip netns add "+name+" && ip -n "+name+" link set lo up")
		l.nss = append(l.nss, name)
	}
	v := "v" + name + ifname
	shell(t, fmt.Sprintf("ip -n vbr link add %s type veth peer name %s netns %s && ip -n vbr link set %s master %s up", v, ifname, name, v, br))
	shell(t, fmt.Sprintf("ip -n %s addr add %s dev %s && ip -n %s link set %s up", name, addr, ifname, name, ifname))
}

// newBareLab is the lab's bridges (br0, br1 in namespace vbr) and the
// cleanup of every namespace made on them.
func newBareLab(t *testing.T) *dirLab {
	vm.ResetIPVS(t)
	t.Setenv("PATH", os.Getenv("PATH")+":/usr/sbin:/sbin")
	l := &dirLab{t: t, dir: t.TempDir()}
	t.Cleanup(func() {
		for i := len(l.nss) - 1; i >= 0; i-- {
			exec.Command("sh", "-c", "for p in $(ip netns pids "+l.nss[i]+"); do kill -9 $p; done").Run()
			exec.Command("ip", "netns", "exec", l.nss[i], "ipvsadm", "-C").Run()
			exec.Command("ip", "netns", "del", l.nss[i]).Run()
		}
	})
	for _, n := range []string{"vd1", "vd2", "vr1", "vr2", vrrpCli, "vbr"} {
		exec.Command("ip", "netns", "del", n).Run()
	}
	shell(t, "ip netns add vbr && ip -n vbr link add br0 type bridge && ip -n vbr link set br0 up && "+
		"ip -n vbr link add br1 type bridge && ip -n vbr link set br1 up")
	l.nss = append(l.nss, "vbr")
	return l
}

// realUp makes ns a DR real of vips with lvsd realserver up.
func (l *dirLab) realUp(ns string, vips ...string) {
	self, _ := os.Executable()
	c := exec.Command("ip", append([]string{"netns", "exec", ns, self, "realserver", "up", "--interfaces", "eth0",
		"--state", filepath.Join(l.dir, ns+".state")}, vips...)...)
	c.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	if out, err := c.CombinedOutput(); err != nil {
		l.t.Fatalf("lvsd realserver up in %s: %v\n%s", ns, err, out)
	}
}

func newDirLab(t *testing.T) *dirLab {
	l := newBareLab(t)
	l.ns("vd1", "eth1", "10.0.0.2")
	l.ns("vd2", "eth1", "10.0.0.3")
	l.ns(vrrpCli, "eth0", "10.0.0.100")
	for i, addr := range []string{"10.0.0.5", "10.0.0.6"} {
		ns := fmt.Sprintf("vr%d", i+1)
		l.ns(ns, "eth0", addr)
		l.realUp(ns, vrrpVIP)
		www := filepath.Join(l.dir, "www-"+ns)
		os.MkdirAll(www, 0o755)
		os.WriteFile(filepath.Join(www, "index.html"), []byte(ns+"\n"), 0o644)
		shell(t, fmt.Sprintf("ip netns exec %s busybox httpd -p 80 -h %s", ns, www))
		l.echo(ns, 7)
	}
	return l
}

// echo serves TCP port in ns: every line comes back prefixed with the
// real's name, for as long as the connection lives.
func (l *dirLab) echo(ns string, port int) {
	var ln net.Listener
	if err := netns.Do(ns, func() (err error) { ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port)); return }); err != nil {
		l.t.Fatal(err)
	}
	l.t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				r := bufio.NewReader(c)
				for {
					s, err := r.ReadString('\n')
					if err != nil {
						return
					}
					io.WriteString(c, ns+" "+s)
				}
			}()
		}
	}()
}

// dial connects from the client's namespace (the socket stays there).
func dirDial(t *testing.T, addr string) net.Conn {
	t.Helper()
	var c net.Conn
	if err := netns.Do(vrrpCli, func() (err error) { c, err = net.DialTimeout("tcp", addr, 5*time.Second); return }); err != nil {
		t.Fatalf("connect to %s from the client: %v", addr, err)
	}
	return c
}

// get fetches / through the VIP with a new connection.
func dirGet(t *testing.T) (string, error) {
	var c net.Conn
	err := netns.Do(vrrpCli, func() (err error) { c, err = net.DialTimeout("tcp", vrrpVIP+":80", 2*time.Second); return })
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	io.WriteString(c, "GET / HTTP/1.0\r\n\r\n")
	b, err := io.ReadAll(c)
	if err != nil {
		return "", err
	}
	if !strings.HasPrefix(string(b), "HTTP/1.") || !strings.Contains(strings.SplitN(string(b), "\n", 2)[0], " 200 ") {
		return "", fmt.Errorf("answer %q", b)
	}
	return string(b[strings.Index(string(b), "\r\n\r\n")+4:]), nil
}

// seed004 is testdata's seed 004 keepalived.conf for one director: its
// priority, the lab's interface names kept (eth1), a TCP_CHECK'd echo
// service beside the seed's HTTP one, and lvs_sync_daemon if asked.
func (l *dirLab) seed004(name string, prio int, sync bool) string {
	s := l.seedConf("seed004.conf", "priority 101", fmt.Sprintf("priority %d", prio))
	if sync {
		s = "global_defs {\n  lvs_sync_daemon eth1 VI\n}\n" + s
	}
	s += `
virtual_server 10.0.0.1 7 {
  delay_loop 10
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server 10.0.0.5 7 {
    TCP_CHECK {
      connect_timeout 5
    }
  }
  real_server 10.0.0.6 7 {
    TCP_CHECK {
      connect_timeout 5
    }
  }
}
`
	return l.writeConf(name+".conf", s)
}

// seedConf is testdata's keepalived file src with each (old, new) pair of
// edits made once: the minimum a node needs (its priority, the lab's
// names). An edit that finds nothing fails the test: the seed's file
// changed under it.
func (l *dirLab) seedConf(src string, edits ...string) string {
	b, err := os.ReadFile(filepath.Join("../../testdata/config/keepalived", src))
	if err != nil {
		l.t.Fatal(err)
	}
	s := string(b)
	for i := 0; i+1 < len(edits); i += 2 {
		if !strings.Contains(s, edits[i]) {
			l.t.Fatalf("%s has no %q to edit", src, edits[i])
		}
		s = strings.Replace(s, edits[i], edits[i+1], 1)
	}
	return s
}

// writeConf writes s to rel in the lab's directory and returns its path.
func (l *dirLab) writeConf(rel, s string) string {
	p := filepath.Join(l.dir, rel)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

// director runs `lvsd run` in ns (ip netns exec execs it: the pid is
// lvsd's, so kill -9 kills the director).
func (l *dirLab) director(ns, conf string) *daemonProc {
	t := l.t
	self, _ := os.Executable()
	d := &daemonProc{t: t, end: make(chan struct{})}
	st := filepath.Join(l.dir, ns)
	d.cmd = exec.Command("ip", "netns", "exec", ns, self, "run", "--pidfile", "none", "--state", st+".state", "--socket", st+".sock", conf)
	d.cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	d.cmd.Stdout, d.cmd.Stderr = d, d
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { d.cmd.Wait(); close(d.end) }()
	t.Cleanup(func() {
		d.cmd.Process.Kill()
		<-d.end
		if t.Failed() {
			t.Logf("%s's log:\n%s", ns, d.logText())
		}
	})
	return d
}

func hasAddr(ns, a string) bool {
	out, _ := exec.Command("ip", "-n", ns, "-4", "-o", "addr", "show").Output()
	return strings.Contains(string(out), " "+a+"/")
}

func dirIn(t *testing.T, ns, cmd string) string {
	t.Helper()
	return shell(t, "ip netns exec "+ns+" "+cmd)
}

// roundTrip sends one line on the long-lived connection and reads its echo.
func echoLine(c net.Conn, r *bufio.Reader, msg string) (string, error) {
	c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(c, msg+"\n"); err != nil {
		return "", err
	}
	s, err := r.ReadString('\n')
	return strings.TrimSpace(s), err
}

// The master director killed (kill -9, then its link down: the box is
// gone): the backup takes the VIP and serves new requests, and with
// lvs_sync_daemon a TCP connection opened before the failover goes on
// through the backup with no reset: the backup's sync daemon had received
// its entry (read with ipvsadm -Lnc before the kill), so the backup's
// IPVS sends its packets to the same real.
func TestVRRPDirectorsSeed004Failover(t *testing.T) { testVRRPFailover(t, true) }

// Without lvs_sync_daemon the same connection is reset by the new master
// (its IPVS has no entry; the VIP's local stack answers the mid-stream
// segment with RST): what the sync daemon prevents, and the proof that
// the test above can fail.
func TestVRRPDirectorsSeed004FailoverNoSync(t *testing.T) { testVRRPFailover(t, false) }

func testVRRPFailover(t *testing.T, sync bool) {
	l := newDirLab(t)
	syncIface := ""
	if sync {
		syncIface = "eth1"
	}
	d1, d2 := l.pairUp(l.seed004("vd1", 101, sync), l.seed004("vd2", 100, sync), vrrpVIP, syncIface, 200, 30*time.Second)
	var body string
	if !netns.WaitFor(30*time.Second, func() bool { var err error; body, err = dirGet(t); return err == nil }) {
		_, err := dirGet(t)
		t.Fatalf("no answer through the VIP: %v\nvd1 ipvsadm:\n%s", err, dirIn(t, "vd1", "ipvsadm -Ln"))
	}
	t.Logf("through the VIP on vd1: %s", strings.TrimSpace(body))

	c := dirDial(t, vrrpVIP+":7")
	defer c.Close()
	r := bufio.NewReader(c)
	var real string
	for i := 0; i < 10; i++ {
		s, err := echoLine(c, r, fmt.Sprintf("before %d", i))
		if err != nil {
			t.Fatalf("echo before the failover: %v", err)
		}
		real, _, _ = strings.Cut(s, " ")
	}
	if sync {
		l.waitSynced(vrrpVIP+":7", 15*time.Second)
	}

	t0, _ := l.killMaster(d1, "eth1", vrrpVIP, 30*time.Second)
	if !netns.WaitFor(20*time.Second, func() bool { var err error; body, err = dirGet(t); return err == nil }) {
		_, err := dirGet(t)
		t.Fatalf("no answer through the VIP after the failover: %v\nvd2 ipvsadm:\n%s", err, dirIn(t, "vd2", "ipvsadm -Ln"))
	}
	t.Logf("through the VIP on vd2 %.2f s after the kill: %s", time.Since(t0).Seconds(), strings.TrimSpace(body))

	s, err := echoLine(c, r, "after")
	if !sync {
		if err == nil {
			t.Fatalf("without the sync daemon the connection survived (%q): the test cannot tell", s)
		}
		t.Logf("without lvs_sync_daemon: %v (as expected)", err)
		return
	}
	if err != nil || s != real+" after" {
		t.Fatalf("the long-lived connection after the failover: %q, %v (want %q)\nvd2 -Lnc:\n%s", s, err, real+" after", dirIn(t, "vd2", "ipvsadm -Lnc"))
	}
	for i := 0; i < 5; i++ {
		if s, err := echoLine(c, r, fmt.Sprintf("after %d", i)); err != nil || s != fmt.Sprintf("%s after %d", real, i) {
			t.Fatalf("after the failover: %q %v", s, err)
		}
	}
	t.Logf("the connection to %s went on through vd2 with no reset", real)
	d2.stop()
	if out := dirIn(t, "vd2", "ipvsadm -L --daemon"); strings.TrimSpace(out) != "" {
		t.Errorf("lvsd stopped, sync daemons left: %s", out)
	}
}

// pairUp starts the directors vd1 on conf1, then (once vd1 holds vip:
// both BACKUP with nopreempt in the seeds, so the first one up becomes
// master after Master_Down) vd2 on conf2 as its backup. With syncIface
// set, vd1 runs the master IPVS sync daemon on it (sync id syncID) and
// vd2 the backup one.
func (l *dirLab) pairUp(conf1, conf2, vip, syncIface string, syncID int, within time.Duration) (d1, d2 *daemonProc) {
	t := l.t
	d1 = l.director("vd1", conf1)
	if !netns.WaitFor(within, func() bool { return hasAddr("vd1", vip) }) {
		t.Fatalf("vd1 never held the VIP %s:\n%s", vip, d1.logText())
	}
	d2 = l.director("vd2", conf2)
	d2.waitLog("-> BACKUP", within)
	if syncIface != "" {
		d1.waitLog(fmt.Sprintf("master sync daemon started on %s (sync id %d)", syncIface, syncID), 10*time.Second)
		for ns, role := range map[string]string{"vd1": "master", "vd2": "backup"} {
			want := fmt.Sprintf("%s sync daemon (mcast=%s, syncid=%d", role, syncIface, syncID)
			if out := dirIn(t, ns, "ipvsadm -L --daemon"); !strings.Contains(out, want) {
				t.Fatalf("%s (%s): ipvsadm -L --daemon:\n%s", ns, role, out)
			}
		}
	}
	return d1, d2
}

// waitSynced waits until the backup vd2's IPVS connection table holds an
// entry with conn (carried by the sync daemon, after sync_threshold
// packets).
func (l *dirLab) waitSynced(conn string, within time.Duration) {
	t := l.t
	if !netns.WaitFor(within, func() bool { return strings.Contains(dirIn(t, "vd2", "ipvsadm -Lnc"), conn) }) {
		t.Fatalf("the connection %s never reached vd2's table:\nvd1 -Lnc:\n%s\nvd2 -Lnc:\n%s",
			conn, dirIn(t, "vd1", "ipvsadm -Lnc"), dirIn(t, "vd2", "ipvsadm -Lnc"))
	}
	for _, line := range strings.Split(dirIn(t, "vd2", "ipvsadm -Lnc"), "\n") {
		if strings.Contains(line, conn) {
			t.Logf("vd2 (backup) knows the connection: %s", strings.Join(strings.Fields(line), " "))
		}
	}
}

// killMaster kills vd1's director (kill -9, then its link down: the box
// is gone) and waits until vd2 holds vip: t0 is the kill, took until the
// VIP was on vd2.
func (l *dirLab) killMaster(d1 *daemonProc, ifname, vip string, within time.Duration) (t0 time.Time, took time.Duration) {
	t := l.t
	t0 = time.Now()
	d1.signal(syscall.SIGKILL)
	<-d1.end
	shell(t, "ip -n vd1 link set "+ifname+" down")
	t.Logf("vd1's %s down %.2f s after the kill", ifname, time.Since(t0).Seconds())
	if !netns.WaitFor(within, func() bool { return hasAddr("vd2", vip) }) {
		t.Fatalf("vd2 never took the VIP %s", vip)
	}
	took = time.Since(t0)
	t.Logf("VIP on vd2 %.2f s after the kill", took.Seconds())
	return t0, took
}

// Seed 003's keepalived.conf on two lvsd directors: four instances in two
// vrrp_sync_groups over two interfaces (bond0, bond1), all BACKUP with
// nopreempt, a maintenance-file vrrp_script (weight 0) on each, DR
// TCP_CHECK services on ports 80 and 443; lvs_sync_daemon on bond0
// following VI_PRI_1. Creating the maintenance file on the master moves
// every instance to the other director (the script fails, FAULT, the
// sync groups follow) and the client's connections to two VIPs go on
// through it with no reset; removing the file brings the old master back
// as BACKUP only (nopreempt).
func TestVRRPDirectorsSeed003Maintenance(t *testing.T) {
	l := newBareLab(t)
	for i, d := range []string{"vd1", "vd2"} {
		l.nsOn("br0", d, "bond0", fmt.Sprintf("10.65.40.%d/23", 2+i))
		l.nsOn("br1", d, "bond1", fmt.Sprintf("203.0.113.%d/26", 2+i))
	}
	l.nsOn("br0", vrrpCli, "eth0", "10.65.40.100/23")
	vips := []string{"10.65.40.10", "10.65.40.11", "203.0.113.10", "203.0.113.11"}
	for i, addr := range []string{"10.65.40.21", "10.65.40.22"} {
		ns := fmt.Sprintf("vr%d", i+1)
		l.nsOn("br0", ns, "eth0", addr+"/23")
		l.realUp(ns, vips...)
		l.echo(ns, 80)
		l.echo(ns, 443)
	}
	b, err := os.ReadFile("../../testdata/config/keepalived/seed003-maint.conf")
	if err != nil {
		t.Fatal(err)
	}
	conf := func(d string) (cf, maint string) {
		maint = filepath.Join(l.dir, d+".maint")
		s := strings.ReplaceAll(string(b), "/etc/keepalived/xxx", maint)
		s = strings.ReplaceAll(s, "notify /etc/keepalived/notify.sh", "notify /bin/true")
		// The VM is emulated: starting bash can take longer than the
		// script's default timeout (its interval, 2 s), which would fail
		// the script on both directors with no maintenance file.
		s = strings.ReplaceAll(s, "interval 2\n", "interval 2\ntimeout 15\n")
		s = "global_defs {\n  lvs_sync_daemon bond0 VI_PRI_1\n}\n" + s
		cf = filepath.Join(l.dir, d+".conf")
		os.WriteFile(cf, []byte(s), 0o644)
		return cf, maint
	}
	holds := func(ns string) int {
		n := 0
		for _, v := range vips {
			if hasAddr(ns, v) {
				n++
			}
		}
		return n
	}
	c1, maint1 := conf("vd1")
	d1 := l.director("vd1", c1)
	if !netns.WaitFor(40*time.Second, func() bool { return holds("vd1") == 4 }) {
		t.Fatalf("vd1 holds %d of the 4 VIPs:\n%s", holds("vd1"), d1.logText())
	}
	c2, _ := conf("vd2")
	d2 := l.director("vd2", c2)
	d2.waitLog("VI_PUB_2: INIT -> BACKUP", 30*time.Second)
	d1.waitLog("master sync daemon started on bond0 (sync id 138)", 10*time.Second)

	type conn struct {
		c    net.Conn
		r    *bufio.Reader
		real string
	}
	var conns []conn
	for _, addr := range []string{"10.65.40.10:80", "10.65.40.11:443"} {
		var c net.Conn
		if !netns.WaitFor(30*time.Second, func() bool {
			err := netns.Do(vrrpCli, func() (err error) { c, err = net.DialTimeout("tcp", addr, 2*time.Second); return })
			return err == nil
		}) {
			t.Fatalf("no connection to %s:\n%s", addr, dirIn(t, "vd1", "ipvsadm -Ln"))
		}
		defer c.Close()
		cc := conn{c: c, r: bufio.NewReader(c)}
		for i := 0; i < 10; i++ {
			s, err := echoLine(c, cc.r, fmt.Sprintf("before %d", i))
			if err != nil {
				t.Fatalf("%s before the move: %v", addr, err)
			}
			cc.real, _, _ = strings.Cut(s, " ")
		}
		conns = append(conns, cc)
	}
	if !netns.WaitFor(15*time.Second, func() bool {
		out := dirIn(t, "vd2", "ipvsadm -Lnc")
		return strings.Contains(out, "10.65.40.10:80") && strings.Contains(out, "10.65.40.11:443")
	}) {
		t.Fatalf("the connections never reached vd2's table:\n%s", dirIn(t, "vd2", "ipvsadm -Lnc"))
	}

	t0 := time.Now()
	os.WriteFile(maint1, nil, 0o644)
	if !netns.WaitFor(60*time.Second, func() bool { return holds("vd2") == 4 && holds("vd1") == 0 }) {
		t.Fatalf("after the maintenance file: vd1 holds %d, vd2 %d VIPs\nvd1:\n%s\nvd2:\n%s", holds("vd1"), holds("vd2"), d1.logText(), d2.logText())
	}
	t.Logf("all four VIPs on vd2 %.2f s after the maintenance file", time.Since(t0).Seconds())
	d2.waitLog("master sync daemon started on bond0", 10*time.Second)
	for i, cc := range conns {
		s, err := echoLine(cc.c, cc.r, "after")
		if err != nil || s != cc.real+" after" {
			t.Fatalf("connection %d after the move: %q %v (want %q)\nvd2 -Lnc:\n%s", i, s, err, cc.real+" after", dirIn(t, "vd2", "ipvsadm -Lnc"))
		}
	}
	t.Log("both connections went on through vd2 with no reset")

	os.Remove(maint1)
	d1.waitLog("VI_PRI_1: FAULT -> BACKUP", 60*time.Second)
	time.Sleep(3 * time.Second) // a few adverts: nopreempt keeps vd2 master
	if holds("vd2") != 4 || holds("vd1") != 0 {
		t.Fatalf("after the maintenance: vd1 holds %d, vd2 %d VIPs (nopreempt: vd2 keeps them)", holds("vd1"), holds("vd2"))
	}
	if out := dirIn(t, "vd1", "ipvsadm -L --daemon"); !strings.Contains(out, "backup sync daemon") || strings.Contains(out, "master sync daemon") {
		t.Errorf("vd1 back as BACKUP: ipvsadm -L --daemon:\n%s", out)
	}
}
