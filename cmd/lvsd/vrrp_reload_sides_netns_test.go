package main

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/lib/vrrp"
)

// fifoReader reads a FIFO made by the test, as a notify_fifo_script
// would: opened first (read-write, non-blocking: no writer needed), the
// lines gathered as they come.
type fifoReader struct {
	path string
	fd   int
	text strings.Builder
}

func newFIFOReader(t *testing.T, path string) *fifoReader {
	t.Helper()
	if err := syscall.Mkfifo(path, 0o600); err != nil {
		t.Fatal(err)
	}
	fd, err := syscall.Open(path, syscall.O_RDWR|syscall.O_NONBLOCK, 0) // raw: an os.File would wait in the poller
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fd) })
	return &fifoReader{path: path, fd: fd}
}

func (f *fifoReader) read() string {
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(f.fd, buf)
		if err != nil || n <= 0 {
			return f.text.String()
		}
		f.text.Write(buf[:n])
	}
}

// wait: a line starting with prefix comes within 5 s.
func (f *fifoReader) wait(prefix string) bool {
	return netns.WaitFor(5*time.Second, func() bool {
		return strings.HasPrefix(f.read(), prefix) || strings.Contains(f.read(), "\n"+prefix)
	})
}

// What a reload does to VRRP beyond its instances, against keepalived
// 2.2.7 as the peer (v2 PASS, advert_int 1), lvsd running VRRP only:
// vrrp_notify_fifo moved to another FIFO and vrrp_rt_priority added are
// applied in place (no transition; the VRRP threads SCHED_RR 20 from the
// default 1, no other thread real-time; the next state lines in the new
// FIFO only), vrrp_rt_priority removed puts the VRRP threads back at the
// default; every vrrp_instance removed stops
// VRRP as a shutdown does (a priority-0 advert, the VIP removed,
// keepalived master at once, the STOP line, no more adverts); added
// again, VRRP starts (BACKUP, then MASTER by preemption) with its lines
// in the FIFO the file names now.
func TestNetnsVRRPReloadSides(t *testing.T) {
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	f1, f2 := newFIFOReader(t, filepath.Join(l.dir, "one.fifo")), newFIFOReader(t, filepath.Join(l.dir, "two.fifo"))
	vrrpCapt := netns.NewCapture(t, l.p.B, "eth0", 0x0800)
	k := l.keepalived(instance("VI_1", "BACKUP", 51, 100, v2pass(vip)))
	global := func(fifo string, rt int) string {
		g := "global_defs {\n    vrrp_notify_fifo " + fifo + "\n"
		if rt > 0 {
			g += fmt.Sprintf("    vrrp_rt_priority %d\n", rt)
		}
		return g + "}\n"
	}
	conf := func(fifo string, rt, prio int) string {
		return global(fifo, rt) + instance("VI_1", "BACKUP", 51, prio, v2pass(vip))
	}
	a := l.lvsd(conf(f1.path, 0, 150))
	l.waitSocket(a)
	pid := a.cmd.Process.Pid
	reload := func(text string) {
		t.Helper()
		l.write("lvsd.conf", text)
		if ans, err := ask(l.sock(), "reload"); err != nil || strings.TrimSpace(ans) != "ok" {
			t.Fatalf("reload: %v %q\n%s", err, ans, a.text())
		}
	}
	l.holder("A", vip, 15*time.Second, a, k)
	if !f1.wait(`INSTANCE "VI_1" MASTER 150`) {
		t.Fatalf("first FIFO: %q", f1.read())
	}
	// VRRP-only: the other threads at the VRRP threads' priority too
	sched := func(want string) string { return schedWait(t, pid, want, want) }
	def := fmt.Sprintf("2 %d", vrrp.DefaultRTPriority)
	if e := sched(def); e != "" {
		t.Fatalf("without vrrp_rt_priority: %s", e)
	}

	// the FIFO moved, vrrp_rt_priority 20 added: in place
	tr := l.status().VRRP.Instances[0].Transitions
	reload(conf(f2.path, 20, 150))
	if e := sched("2 20"); e != "" {
		t.Errorf("vrrp_rt_priority 20 by reload: %s\n%s", e, a.text())
	}
	if st := l.status().VRRP.Instances[0]; st.State != "MASTER" || st.Transitions != tr {
		t.Fatalf("the reload moved the instance: %+v", st)
	}
	// a transition: its line in the new FIFO, not the old
	reload(conf(f2.path, 20, 50))
	l.holder("B", vip, 10*time.Second, a, k)
	if !f2.wait(`INSTANCE "VI_1" BACKUP 50`) || strings.Contains(f1.read(), "BACKUP 50") {
		t.Fatalf("after the FIFO moved: new %q, old %q", f2.read(), f1.read())
	}
	// vrrp_rt_priority removed: normal scheduling again
	reload(conf(f2.path, 0, 150))
	if e := sched(def); e != "" {
		t.Errorf("vrrp_rt_priority removed by reload: %s\n%s", e, a.text())
	}
	l.holder("A", vip, 10*time.Second, a, k)
	if !f2.wait(`INSTANCE "VI_1" MASTER 150`) {
		t.Fatalf("second FIFO: %q", f2.read())
	}

	// every vrrp_instance removed: stopped as on shutdown
	v0 := len(vrrpCapt.Frames())
	reload(global(f2.path, 0))
	if l.has(l.p.A, vip) {
		t.Errorf("the VIP is still on lvsd's interface after the reload")
	}
	took := l.holder("B", vip, 2*time.Second, a, k) // at once: not keepalived's Master_Down (3.6 s)
	if !f2.wait(`INSTANCE "VI_1" STOP`) {
		t.Errorf("no STOP line: %q", f2.read())
	}
	time.Sleep(2500 * time.Millisecond) // two advert intervals
	if vt, off := schedOf(t, pid, "0 0"); len(vt) > 0 || len(off) > 0 {
		t.Errorf("after VRRP was removed: VRRP threads %v, threads not at normal priority %q", vt, off)
	}
	if ts, zero := lvsdAdverts(vrrpCapt, v0, 150); zero == 0 || len(ts) != 0 {
		t.Errorf("after VRRP was removed: %d priority-0 adverts (want 1 or more), %d adverts at 150 (want none)", zero, len(ts))
	}
	ans, err := ask(l.sock(), "status")
	var st statusJSON
	if err == nil {
		err = json.Unmarshal([]byte(ans), &st)
	}
	if err != nil || st.VRRP != nil {
		t.Fatalf("status without vrrp_instance: %v %s", err, ans)
	}
	t.Logf("VRRP removed by reload: keepalived master %s later", took.Round(time.Millisecond))

	// VRRP back: started by the reload, its lines in the first FIFO
	f1.text.Reset()
	f1.read()
	f1.text.Reset()
	reload(conf(f1.path, 0, 150))
	l.holder("A", vip, 15*time.Second, a, k)
	if !f1.wait(`INSTANCE "VI_1" BACKUP 150`) || !f1.wait(`INSTANCE "VI_1" MASTER 150`) {
		t.Errorf("VRRP started by reload: FIFO %q", f1.read())
	}
	if st := l.status().VRRP.Instances; len(st) != 1 || st[0].State != "MASTER" {
		t.Errorf("status after VRRP came back: %+v", st)
	}
	if strings.Contains(a.text(), "DATA RACE") {
		t.Errorf("lvsd:\n%s", a.text())
	}
}

// A VRRP-only lvsd on a kernel without IPVS whose reload adds a
// virtual_server: refused with the reason, VRRP untouched (still master,
// no transition), still VRRP only; the next reload without it is taken.
func TestNetnsVRRPOnlyReloadWithoutIPVS(t *testing.T) {
	noIPVS(t)
	l := newVRRPLab(t)
	vip := l.p.V4(100)
	conf := instance("VI_1", "BACKUP", 51, 150, v2pass(vip))
	a := l.lvsd(conf)
	l.waitSocket(a)
	l.holder("A", vip, 15*time.Second, a)
	tr := l.status().VRRP.Instances[0].Transitions
	l.write("lvsd.conf", conf+"virtual_server 192.0.2.80 80 {\n    lb_kind DR\n    protocol TCP\n    real_server 192.0.2.81 80 {\n    }\n}\n")
	ans, err := ask(l.sock(), "reload")
	if err != nil || !strings.Contains(ans, "virtual_server blocks need IPVS") || !strings.HasSuffix(strings.TrimSpace(ans), "refused") {
		t.Fatalf("reload adding a virtual_server without IPVS: %v %q\n%s", err, ans, a.text())
	}
	st := l.status()
	if in := st.VRRP.Instances[0]; in.State != "MASTER" || in.Transitions != tr || len(st.Virtuals) != 0 || !l.has(l.p.A, vip) {
		t.Fatalf("after the refused reload: %+v, virtuals %+v", in, st.Virtuals)
	}
	l.write("lvsd.conf", "# again\n"+conf)
	if ans, err := ask(l.sock(), "reload"); err != nil || strings.TrimSpace(ans) != "ok" {
		t.Fatalf("the next reload: %v %q\n%s", err, ans, a.text())
	}
}
