//go:build vm

package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// The kill / return / reload steps of daemon_vm_test.go for a UDP service
// (DNS over direct routing, as seed 000 balances it with keepalived) and
// for an IPv6 virtual (TCP, masq).

// startLoadFunc is startLoad with any request: req runs in the client
// namespace every 20 ms until stopped; a failure is recorded at the time
// its request was sent (a UDP query fails only when its timeout ends).
func (l *lab) startLoadFunc(t *testing.T, req func() (string, error)) *load {
	return startLoadIn(t, "c"+l.sfx, req)
}

// startLoadIn is startLoadFunc from namespace ns.
func startLoadIn(t *testing.T, ns string, req func() (string, error)) *load {
	ld := &load{stopc: make(chan struct{}), done: make(chan struct{}), answered: map[string]int{}}
	go func() {
		defer close(ld.done)
		netns.Do(ns, func() error {
			for {
				select {
				case <-ld.stopc:
					return nil
				default:
				}
				sent := time.Now()
				body, err := req()
				ld.mu.Lock()
				if err != nil {
					ld.failures = append(ld.failures, sent)
					ld.errs = append(ld.errs, sent.Format("15:04:05.000 ")+err.Error())
				} else {
					ld.ok++
					ld.answered[body]++
					ld.okSent = append(ld.okSent, sent)
				}
				ld.mu.Unlock()
				time.Sleep(20 * time.Millisecond)
			}
		})
	}()
	t.Cleanup(ld.stop)
	return ld
}

// firstAnswerAfter is the send time of the first answered request sent
// after t (zero if none was).
func (ld *load) firstAnswerAfter(t time.Time) time.Time {
	ld.mu.Lock()
	defer ld.mu.Unlock()
	for _, s := range ld.okSent {
		if s.After(t) {
			return s
		}
	}
	return time.Time{}
}

// checkFailWindow fails t for a request that failed outside
// [from, to]: before the real's server died, or after lvsd took it out.
func checkFailWindow(t *testing.T, fails []time.Time, errs []string, from, to time.Time) {
	t.Helper()
	for _, f := range fails {
		if f.Before(from) || f.After(to) {
			t.Errorf("a request sent at %s failed, outside the kill (%s) to removal (%s) window: %v", f.Format("15:04:05.000"),
				from.Format("15:04:05.000"), to.Format("15:04:05.000"), errs)
			return
		}
	}
}

// weightOf is the weight of real of service svc ("-t 10.0.0.1:80",
// "-u ...") in an `ipvsadm -Sn` table; ok is false when it is not there.
func weightOf(table, svc, real string) (w int, ok bool) {
	prefix := "-a " + svc + " -r " + real + " "
	for _, line := range strings.Split(table, "\n") {
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line[len(prefix):])
		for i := 0; i+1 < len(f); i++ {
			if f[i] == "-w" {
				n, err := strconv.Atoi(f[i+1])
				return n, err == nil
			}
		}
		return 0, false
	}
	return 0, false
}

func hasService(table, svc string) bool {
	return regexp.MustCompile(`(?m)^-A ` + regexp.QuoteMeta(svc) + ` `).MatchString(table)
}

// --- DNS over UDP, direct routing (seed 000) ---

// srcPorts gives each DNS query of the load its own client port, never
// reused in a run: a UDP "connection" in IPVS lives 300 s, and a reused
// port would follow an old entry to a real taken out of the table (or of
// an earlier test's lab) instead of being scheduled again.
var srcPorts atomic.Int32

func nextSrcPort() int { return 20000 + int(srcPorts.Add(1))%40000 }

// dnsQuery asks server for www.lvs.test A over UDP from its own port and
// returns the address in the answer (which real answered).
func dnsQuery(server string) (string, error) { return dnsAsk("udp", server, time.Second) }

// dnsAsk is dnsQuery over network netw ("udp": from its own port; "tcp":
// a new connection) with a timeout.
func dnsAsk(netw, server string, timeout time.Duration) (string, error) {
	c := &dns.Client{Net: netw, Timeout: timeout}
	if netw == "udp" {
		c.Dialer = &net.Dialer{Timeout: timeout, LocalAddr: &net.UDPAddr{Port: nextSrcPort()}}
	}
	r, _, err := c.Exchange(wwwQuery(), server)
	return wwwAnswer(r, err)
}

func wwwQuery() *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion("www.lvs.test.", dns.TypeA)
	return m
}

// wwwAnswer is the address in an answer to wwwQuery.
func wwwAnswer(r *dns.Msg, err error) (string, error) {
	if err != nil {
		return "", err
	}
	if r.Rcode != dns.RcodeSuccess {
		return "", fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			return a.A.String(), nil
		}
	}
	return "", fmt.Errorf("no A record in %v", r.Answer)
}

// dnsAnswer is what real i's unbound answers for www.lvs.test.
func dnsAnswer(i int) string { return fmt.Sprintf("192.0.2.1%d", i) }

// startUnbound runs a real Debian unbound in real i's namespace
// (unboundIn), answering www.lvs.test with dnsAnswer(i).
func (l *lab) startUnbound(t *testing.T, i int) *exec.Cmd {
	return unboundIn(t, fmt.Sprintf("r%d%s", i, l.sfx), filepath.Join(l.dir, fmt.Sprintf("unbound%d", i)),
		dnsAnswer(i), fmt.Sprintf("10.99.0.1%d:53", i))
}

// unboundIn runs a real Debian unbound in namespace ns, its config and
// pid file in dir, a local zone answering www.lvs.test with answer, and
// waits until it answers at probe (asked in ns). interface-automatic: with direct
// routing the query is for the VIP (on lo) and the answer must come from
// it (seed 000: "unbound answered only with interface-automatic: yes").
// The root is a local zone with an SOA: keepalived's DNS_CHECK asks for
// ". SOA" by default, and the VM has no Internet to ask. A TCP session
// lives 2 minutes idle (30 s by default), so one kept open across a
// director failover is not closed by the server while it waits.
func unboundIn(t *testing.T, ns, dir, answer, probe string) *exec.Cmd {
	t.Helper()
	unbound, err := exec.LookPath("unbound")
	if err != nil {
		t.Fatalf("unbound (Debian package unbound, scripts/deps.txt) is not installed: %v", err)
	}
	os.MkdirAll(dir, 0o755)
	conf := fmt.Sprintf(`server:
  interface: 0.0.0.0
  interface-automatic: yes
  port: 53
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "%[1]s"
  pidfile: "%[1]s/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 0
  num-threads: 1
  do-ip6: no
  tcp-idle-timeout: 120000
  auto-trust-anchor-file: ""
  trust-anchor-file: ""
  module-config: "iterator"
  access-control: 0.0.0.0/0 allow
  local-zone: "." static
  local-data: ". 60 IN SOA ns.lvs.test. root.lvs.test. 1 3600 600 86400 60"
  local-zone: "lvs.test." static
  local-data: "www.lvs.test. 60 IN A %[2]s"
  local-data: "lvs.test. 60 IN SOA ns.lvs.test. root.lvs.test. 1 3600 600 86400 60"
remote-control:
  control-enable: no
`, dir, answer)
	cf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(cf, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, unbound, "-d", "-c", cf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	var got string
	ask := func() error { got, err = dnsQuery(probe); return nil }
	if !netns.WaitFor(30*time.Second, func() bool { netns.Do(ns, ask); return got == answer }) {
		t.Fatalf("unbound in %s never answered: %q %v\n%s", ns, got, err, out.String())
	}
	return cmd
}

func stopProc(c *exec.Cmd) {
	c.Process.Kill()
	c.Wait()
}

// dnsConfig is an ldirectord.cf for a UDP DNS virtual on the VIP, reals
// by direct routing, negotiate checks (service=dns: request a name,
// receive its address) every second; quiescent as seed 000's
// inhibit_on_failure.
func (l *lab) dnsConfig(name string, reals []int, extra string) string {
	b := fmt.Sprintf("checkinterval=1\nchecktimeout=2\nquiescent=yes\n%s\nvirtual=%s:53\n\tprotocol=udp\n\tscheduler=rr\n\tchecktype=negotiate\n\tservice=dns\n\trequest=\"www.lvs.test\"\n\treceive=\"192\\.0\\.2\\.1[0-9]\"\n",
		extra, labVIP)
	for _, i := range reals {
		b += fmt.Sprintf("\treal=10.99.0.1%d:53 gate 1\n", i)
	}
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func dnsReal(i int) string { return fmt.Sprintf("10.99.0.1%d:53", i) }

// A real's unbound killed under steady DNS load through the VIP: queries
// fail only until lvsd quiesces the real (weight 0: new queries, each
// from a new port, go to the others), none after; the real returns at
// its weight when unbound is back, and answers again.
func TestDaemonUDPRealKilledUnderLoad(t *testing.T) {
	l := newLabSettled(t, "gate", 3)
	servers := map[int]*exec.Cmd{}
	for i := 1; i <= 3; i++ {
		servers[i] = l.startUnbound(t, i)
	}
	cf := l.dnsConfig("dns.cf", []int{1, 2, 3}, "")
	d := startDaemon(t, cf, filepath.Join(l.dir, "dns.state"))
	svc := "-u " + labVIP + ":53"
	weight := func(s string, i int) int {
		w, ok := weightOf(s, svc, dnsReal(i))
		if !ok {
			return -1
		}
		return w
	}
	waitTable(t, "three DNS reals up", 30*time.Second, func(s string) bool {
		return weight(s, 1) == 1 && weight(s, 2) == 1 && weight(s, 3) == 1
	})
	if s := savedTable(t); !strings.Contains(s, "-a "+svc+" -r 10.99.0.11:53 -g -w 1") {
		t.Fatalf("not a direct-routing UDP real:\n%s", s)
	}
	ld := l.startLoadFunc(t, func() (string, error) { return dnsQuery(labVIP + ":53") })
	time.Sleep(time.Second)
	if _, _, errs, answered := ld.snapshot(); len(errs) > 0 || len(answered) != 3 {
		t.Fatalf("before the kill: answers %v, errors %v", answered, errs)
	}
	killed := time.Now()
	stopProc(servers[2])
	waitTable(t, "real 2 quiesced", 30*time.Second, func(s string) bool { return weight(s, 2) == 0 })
	out := time.Now()
	d.waitLog("down udp:"+labVIP+":53 real 10.99.0.12:53", 5*time.Second)
	time.Sleep(2 * time.Second)
	okBefore, fails, errs, answered := ld.snapshot()
	checkFailWindow(t, fails, errs, killed.Add(-200*time.Millisecond), out.Add(500*time.Millisecond))
	if took := out.Sub(killed); took > 3*time.Second+5*time.Second {
		t.Errorf("real quiesced %s after its server died", took)
	}
	t.Logf("killed DNS real quiesced after %s; %d failed queries in that window, %d answered", out.Sub(killed).Round(time.Millisecond), len(fails), okBefore)

	servers[2] = l.startUnbound(t, 2)
	waitTable(t, "real 2 back", 30*time.Second, func(s string) bool { return weight(s, 2) == 1 })
	back := time.Now()
	d.waitLog("up   udp:"+labVIP+":53 real 10.99.0.12:53", 5*time.Second)
	time.Sleep(2 * time.Second)
	ld.stop()
	_, fails2, errs2, answered2 := ld.snapshot()
	if len(fails2) != len(fails) {
		t.Errorf("%d queries failed after the real was quiesced: %v", len(fails2)-len(fails), errs2[len(fails):])
	}
	if answered2[dnsAnswer(1)] == 0 || answered2[dnsAnswer(3)] == 0 {
		t.Errorf("load not spread: %v", answered2)
	}
	if answered2[dnsAnswer(2)] <= answered[dnsAnswer(2)] {
		t.Errorf("real 2 answered nothing in the %s after it returned: before %v, after %v", time.Since(back).Round(time.Millisecond), answered, answered2)
	}
	d.stop()
	if s := savedTable(t); hasService(s, svc) {
		t.Errorf("cleanstop left the service:\n%s", s)
	}
}

// A reload under DNS load: a broken file is refused and the table is
// untouched; real 1 leaves, real 3 joins, a second UDP virtual goes; no
// query fails. A UDP real has no active connections (IPVS counts UDP
// entries as inactive), so the removed one drains at once rather than
// holding on for the drain timeout. A foreign service is untouched.
func TestDaemonUDPReloadUnderLoad(t *testing.T) {
	l := newLabSettled(t, "gate", 3)
	for i := 1; i <= 3; i++ {
		l.startUnbound(t, i)
	}
	shell(t, "ipvsadm -A -u 10.99.2.200:53 -s rr")
	extra := fmt.Sprintf("\nvirtual=%s:54\n\tprotocol=udp\n\tchecktype=on\n\treal=10.99.0.13:54 gate 1\n", labVIP)
	cfA := l.dnsConfig("a.cf", []int{1, 2}, "")
	os.WriteFile(cfA, append(must(os.ReadFile(cfA)), extra...), 0o644)
	d := startDaemon(t, cfA, filepath.Join(l.dir, "a.state"))
	svc, other := "-u "+labVIP+":53", "-u "+labVIP+":54"
	in := func(s string, i int) bool { w, ok := weightOf(s, svc, dnsReal(i)); return ok && w == 1 }
	waitTable(t, "config A", 30*time.Second, func(s string) bool {
		return in(s, 1) && in(s, 2) && hasService(s, other)
	})
	ld := l.startLoadFunc(t, func() (string, error) { return dnsQuery(labVIP + ":53") })
	time.Sleep(time.Second)

	before := savedTable(t)
	good := must(os.ReadFile(cfA))
	os.WriteFile(cfA, append(good, "\tnosuchdirective=1\n"...), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("refused: the running configuration is kept", 20*time.Second)
	if !strings.Contains(d.logText(), cfA+":") {
		t.Errorf("the refusal does not name FILE:LINE:\n%s", d.logText())
	}
	time.Sleep(1500 * time.Millisecond)
	if after := savedTable(t); after != before {
		t.Fatalf("a refused reload changed the table:\n%s\nwas:\n%s", after, before)
	}

	cfB := l.dnsConfig("b.cf", []int{2, 3}, "")
	os.WriteFile(cfA, must(os.ReadFile(cfB)), 0o644)
	d.signal(syscall.SIGHUP)
	reloaded := time.Now()
	d.waitLog("reloaded: ", 20*time.Second)
	waitTable(t, "config B", 30*time.Second, func(s string) bool {
		_, r1 := weightOf(s, svc, dnsReal(1))
		return in(s, 2) && in(s, 3) && !r1 && !hasService(s, other)
	})
	if took := time.Since(reloaded); took > 20*time.Second {
		t.Errorf("the removed UDP real took %s to go (drain timeout is 60 s; UDP has no active connections to wait for)", took)
	}
	if s := savedTable(t); !strings.Contains(s, "-A -u 10.99.2.200:53 -s rr") {
		t.Fatalf("the foreign service was touched:\n%s", s)
	}
	_, _, _, mid := ld.snapshot()
	time.Sleep(2 * time.Second)
	ld.stop()
	ok, fails, errs, answered := ld.snapshot()
	if len(fails) > 0 {
		t.Errorf("%d of %d queries failed across the reloads: %v", len(fails), ok+len(fails), errs)
	}
	if answered[dnsAnswer(3)] <= mid[dnsAnswer(3)] || answered[dnsAnswer(1)] != mid[dnsAnswer(1)] {
		t.Errorf("after the reload real 3 should answer and real 1 not: at config B %v, 2 s later %v", mid, answered)
	}
	d.stop()
	if s := savedTable(t); !strings.Contains(s, "10.99.2.200:53") || hasService(s, svc) {
		t.Errorf("after cleanstop:\n%s", s)
	}
}

// --- IPv6 ---

const (
	labVIP6     = "fd99:2::100"
	labForeign6 = "fd99:2::200"
)

// newLabSettled is newLab whose teardown waits until the lab's links are
// gone: a namespace's veth goes away asynchronously after `ip netns del`
// (slower with IPv6 addresses, and much slower under emulation), and the
// next lab of the same process reuses the names.
func newLabSettled(t *testing.T, fwd string, reals int) *lab {
	settleLab(t, reals)
	return newLab(t, fwd, reals)
}

// settleLab registers newLabSettled's wait; call it before building a lab.
func settleLab(t *testing.T, reals int) {
	sfx := fmt.Sprint(os.Getpid() % 100000)
	links := []string{"vc" + sfx, "br" + sfx}
	for i := 1; i <= reals; i++ {
		links = append(links, fmt.Sprintf("vr%d%s", i, sfx))
	}
	t.Cleanup(func() { // registered first: runs after the lab's own close
		for _, n := range links {
			exec.Command("ip", "link", "del", n).Run()
		}
		netns.WaitFor(30*time.Second, func() bool {
			for _, n := range links {
				if _, err := os.Stat("/sys/class/net/" + n); err == nil {
					return false
				}
			}
			return true
		})
	})
}

// addIPv6 gives the lab a second family: the director forwards IPv6,
// holds fd99::1 (reals' subnet), fd99:1::1 (client's) and the VIP
// fd99:2::100 on the bridge; real i is fd99::1i and the client fd99:1::2,
// each routing through the director. Every address is nodad: a tentative
// address cannot be used for a second or so.
func (l *lab) addIPv6(t *testing.T) {
	t.Helper()
	const fw = "/proc/sys/net/ipv6/conf/all/forwarding"
	old, err := os.ReadFile(fw)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(fw, []byte("1"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.WriteFile(fw, old, 0o644) })
	s := l.sfx
	ipBatch(t, "", fmt.Sprintf("addr add fd99::1/64 dev br%[1]s nodad\naddr add fd99:1::1/64 dev br%[1]s nodad\naddr add %[2]s/128 dev br%[1]s nodad\n", s, labVIP6))
	ipBatch(t, "c"+s, "addr add fd99:1::2/64 dev eth0 nodad\nroute add ::/0 via fd99:1::1\n")
	for i := 1; i <= l.reals; i++ {
		ns := fmt.Sprintf("r%d%s", i, s)
		// The client and the reals share the bridge, so the director's
		// IPv6 forward of a real's reply comes out where it came in: the
		// kernel then sends the real a redirect ("the client is on-link"),
		// which IPv6 has no send_redirects knob for, and the real's next
		// replies would bypass the director, un-NATed. Reals refuse it.
		err := netns.Do(ns, func() error {
			for _, k := range []string{"all", "default", "eth0"} {
				if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+k+"/accept_redirects", []byte("0"), 0o644); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		ipBatch(t, ns, fmt.Sprintf("addr add fd99::1%d/64 dev eth0 nodad\nroute add ::/0 via fd99::1\n", i))
	}
	for i := 1; i <= l.reals; i++ {
		addr, want := fmt.Sprintf("[fd99::1%d]:80", i), fmt.Sprintf("r%d", i)
		var got string
		if !netns.WaitFor(30*time.Second, func() bool { got, err = httpGet(addr); return got == want }) {
			t.Fatalf("real %d never answered over IPv6: %q %v", i, got, err)
		}
	}
}

// daemonConfig6 is daemonConfig for the IPv6 VIP: http checks on :80,
// connect checks on the :9000 echo service.
func (l *lab) daemonConfig6(name string, web, echo []int, extra string) string {
	b := fmt.Sprintf("checkinterval=1\nchecktimeout=2\nquiescent=no\n%s\nvirtual6=[%s]:80\n\tscheduler=rr\n\tchecktype=negotiate\n\tservice=http\n\trequest=\"index.html\"\n\treceive=\"r[0-9]\"\n", extra, labVIP6)
	for _, i := range web {
		b += fmt.Sprintf("\treal6=[fd99::1%d]:80 masq 1\n", i)
	}
	if len(echo) > 0 {
		b += fmt.Sprintf("\nvirtual6=[%s]:9000\n\tscheduler=rr\n\tchecktype=connect\n", labVIP6)
		for _, i := range echo {
			b += fmt.Sprintf("\treal6=[fd99::1%d]:9000 masq 1\n", i)
		}
	}
	p := filepath.Join(l.dir, name)
	if err := os.WriteFile(p, []byte(b), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return p
}

func real6(i, port int) string { return fmt.Sprintf("[fd99::1%d]:%d", i, port) }

func hasReal6(table, svc string, i, port int) bool {
	_, ok := weightOf(table, "-t "+svc, real6(i, port))
	return ok
}

// dialEcho6 is dialEcho to the IPv6 VIP.
func (l *lab) dialEcho6(t *testing.T) *echoConn {
	var c net.Conn
	err := netns.Do("c"+l.sfx, func() (err error) {
		c, err = net.DialTimeout("tcp", "["+labVIP6+"]:9000", 5*time.Second)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return newEchoConn(c)
}

func newEchoConn(c net.Conn) *echoConn { return &echoConn{c: c, out: bufio.NewReader(c)} }

// TestDaemonRealKilledUnderLoad over IPv6: a v6 VIP, v6 masq reals.
func TestDaemonIPv6RealKilledUnderLoad(t *testing.T) {
	l := newLabSettled(t, "masq", 3)
	l.addIPv6(t)
	cf := l.daemonConfig6("kill6.cf", []int{1, 2, 3}, nil, "")
	d := startDaemon(t, cf, filepath.Join(l.dir, "kill6.state"))
	svc := "[" + labVIP6 + "]:80"
	waitTable(t, "three v6 reals up", 30*time.Second, func(s string) bool {
		return hasReal6(s, svc, 1, 80) && hasReal6(s, svc, 2, 80) && hasReal6(s, svc, 3, 80)
	})
	if s := savedTable(t); !strings.Contains(s, "-a -t "+svc+" -r [fd99::11]:80 -m -w 1") {
		t.Fatalf("not a v6 masq real:\n%s", s)
	}
	ld := l.startLoadFunc(t, func() (string, error) { return httpGet(svc) })
	time.Sleep(time.Second)
	killed := time.Now()
	l.killHTTPD(2)
	waitTable(t, "v6 real 2 out", 30*time.Second, func(s string) bool { return !hasReal6(s, svc, 2, 80) })
	out := time.Now()
	d.waitLog("down tcp:"+svc+" real [fd99::12]:80", 5*time.Second)
	time.Sleep(2 * time.Second)
	okBefore, fails, errs, _ := ld.snapshot()
	// fails are send times: a request in flight when its server died
	// (sent just before the kill) fails with it, not because of lvsd
	checkFailWindow(t, fails, errs, killed.Add(-200*time.Millisecond), out.Add(500*time.Millisecond))
	if took := out.Sub(killed); took > 3*time.Second+5*time.Second {
		t.Errorf("v6 real removed %s after its server died", took)
	}
	t.Logf("killed v6 real out of the table after %s; %d failed requests in that window, %d ok", out.Sub(killed).Round(time.Millisecond), len(fails), okBefore)
	l.startHTTPD(2)
	waitTable(t, "v6 real 2 back", 30*time.Second, func(s string) bool { return hasReal6(s, svc, 2, 80) })
	d.waitLog("up   tcp:"+svc+" real [fd99::12]:80", 5*time.Second)
	_, _, _, mid := ld.snapshot()
	time.Sleep(2 * time.Second)
	ld.stop()
	_, fails2, errs2, answered := ld.snapshot()
	if len(fails2) != len(fails) {
		t.Errorf("%d requests failed after the v6 real was taken out: %v", len(fails2)-len(fails), errs2[len(fails):])
	}
	if answered["r1"] == 0 || answered["r3"] == 0 || answered["r2"] <= mid["r2"] {
		t.Errorf("load not spread (real 2 back at %v): %v", mid, answered)
	}
	d.stop()
	if s := savedTable(t); strings.Contains(s, svc) {
		t.Errorf("cleanstop left the v6 service:\n%s", s)
	}
}

// TestDaemonReloadDrainsUnderLoad over IPv6: refused broken file, reals
// and a virtual removed, a live v6 connection to a removed real survives
// until it closes (drain), the foreign v6 service untouched, no request
// failed.
func TestDaemonIPv6ReloadDrainsUnderLoad(t *testing.T) {
	l := newLabSettled(t, "masq", 3)
	l.addIPv6(t)
	shell(t, "ipvsadm -A -t ["+labForeign6+"]:80 -s rr")
	cfA := l.daemonConfig6("a6.cf", []int{1, 2}, []int{1}, "")
	os.WriteFile(cfA, append(must(os.ReadFile(cfA)), fmt.Sprintf("\nvirtual6=[%s]:8080\n\tchecktype=on\n\treal6=[fd99::13]:80 masq 1\n", labVIP6)...), 0o644)
	d := startDaemon(t, cfA, filepath.Join(l.dir, "a6.state"))
	svc, echo, gone := "["+labVIP6+"]:80", "["+labVIP6+"]:9000", "["+labVIP6+"]:8080"
	waitTable(t, "v6 config A", 30*time.Second, func(s string) bool {
		return hasReal6(s, svc, 1, 80) && hasReal6(s, svc, 2, 80) && hasReal6(s, echo, 1, 9000) && strings.Contains(s, gone)
	})
	conn := l.dialEcho6(t)
	conn.ping(t, "before-reload")
	ld := l.startLoadFunc(t, func() (string, error) { return httpGet(svc) })
	time.Sleep(time.Second)

	before := savedTable(t)
	good := must(os.ReadFile(cfA))
	os.WriteFile(cfA, append(good, "\tnosuchdirective=1\n"...), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("refused: the running configuration is kept", 20*time.Second)
	if !strings.Contains(d.logText(), cfA+":") {
		t.Errorf("the refusal does not name FILE:LINE:\n%s", d.logText())
	}
	time.Sleep(1500 * time.Millisecond)
	if after := savedTable(t); after != before {
		t.Fatalf("a refused reload changed the table:\n%s\nwas:\n%s", after, before)
	}

	cfB := l.daemonConfig6("b6.cf", []int{2, 3}, []int{2}, "")
	os.WriteFile(cfA, must(os.ReadFile(cfB)), 0o644)
	d.signal(syscall.SIGHUP)
	d.waitLog("reloaded: ", 20*time.Second)
	waitTable(t, "v6 config B", 30*time.Second, func(s string) bool {
		return hasReal6(s, svc, 3, 80) && !hasReal6(s, svc, 1, 80) && hasReal6(s, echo, 2, 9000) && !strings.Contains(s, gone)
	})
	tab := savedTable(t)
	if w, ok := weightOf(tab, "-t "+echo, real6(1, 9000)); !ok || w != 0 {
		t.Fatalf("the v6 real with a live connection is not draining at weight 0:\n%s", tab)
	}
	if !strings.Contains(tab, "-A -t ["+labForeign6+"]:80 -s rr") {
		t.Fatalf("the foreign v6 service was touched:\n%s", tab)
	}
	conn.ping(t, "after-reload")
	time.Sleep(2 * time.Second)
	conn.ping(t, "still-draining")
	conn.c.Close()
	waitTable(t, "drained v6 real deleted once its connection closed", 30*time.Second, func(s string) bool { return !hasReal6(s, echo, 1, 9000) })
	ld.stop()
	ok, fails, errs, _ := ld.snapshot()
	if len(fails) > 0 {
		t.Errorf("%d of %d v6 requests failed across the reloads: %v", len(fails), ok+len(fails), errs)
	}
	d.stop()
	if s := savedTable(t); !strings.Contains(s, labForeign6) || strings.Contains(s, svc) {
		t.Errorf("after cleanstop:\n%s", s)
	}
}
