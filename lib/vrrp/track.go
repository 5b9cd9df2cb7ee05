package vrrp

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"golang.org/x/sys/unix"
)

// trackers run track_script, read track_file and the links, each on its
// own goroutine, and send changes to the instances that track them. They
// work from a snapshot of the configuration taken when made: a reload
// stops them and makes new ones (scripts keep their result across it).
type trackers struct {
	r    *Router
	logf func(string, ...any)
	// what is last known, so only changes are sent
	last    map[string]trackMsg
	subs    map[string][]*inst
	sources map[string]sourceReq
	files   map[string]*config.TrackFile
	scripts []*config.TrackScript

	mu      sync.Mutex
	results map[string]bool // script name -> passes (a reload carries it over)
	initial map[string]bool // the results to start from
	cancel  context.CancelFunc
	wg      sync.WaitGroup
}

// sourceReq is what finding an instance's advert source needs.
type sourceReq struct {
	dev  string
	v6   bool
	vips []netip.Prefix // non-nil: Link looks the source up
}

// newTrackers snapshots what insts track under cfg. prev, the trackers
// of the configuration before a reload, gives each script whose command
// did not change its last result (keepalived's clear_diff_script), so a
// reload does not turn a failing script into a passing one for a while.
func newTrackers(r *Router, insts []*inst, cfg *config.Config, prev *trackers) *trackers {
	t := &trackers{r: r, logf: r.o.Logf, last: map[string]trackMsg{}, subs: map[string][]*inst{}, sources: map[string]sourceReq{},
		files: map[string]*config.TrackFile{}, scripts: cfg.Scripts, results: map[string]bool{}, initial: map[string]bool{}}
	vips := []netip.Prefix{}
	for _, in := range insts {
		for _, v := range in.allVIPs() {
			vips = append(vips, v.Prefix)
		}
	}
	for _, in := range insts {
		t.sub("interface "+in.cfg.Interface, in)
		sk := "source " + in.cfg.Interface + fmt.Sprint(in.v6)
		t.sub(sk, in)
		t.sources[sk] = sourceReq{dev: in.cfg.Interface, v6: in.v6, vips: vips}
		for _, x := range in.cfg.TrackInterfaces {
			t.sub("interface "+x.Name, in)
		}
		for _, x := range in.cfg.TrackScripts {
			t.sub("script "+x.Name, in)
		}
		for _, x := range in.cfg.TrackFiles {
			t.sub("file "+x.Name, in)
		}
	}
	for _, f := range cfg.TrackFiles {
		t.files[f.Name] = f
	}
	if prev != nil {
		prev.mu.Lock()
		for _, sc := range cfg.Scripts {
			for _, o := range prev.scripts {
				if ok, known := prev.results[o.Name]; known && o.Name == sc.Name && o.Script == sc.Script {
					t.initial[sc.Name] = ok
				}
			}
		}
		prev.mu.Unlock()
	}
	return t
}

func (t *trackers) sub(key string, in *inst) {
	for _, x := range t.subs[key] {
		if x == in {
			return
		}
	}
	t.subs[key] = append(t.subs[key], in)
}

// publish sends m to the subscribers of key if it changed. Blocking: an
// instance always drains its queue, and a tracker may wait.
func (t *trackers) publish(ctx context.Context, key string, m trackMsg) {
	if old, ok := t.last[key]; ok && old == m {
		return
	}
	t.last[key] = m
	for _, in := range t.subs[key] {
		select {
		case in.track <- m:
			in.wk.wake()
		case <-ctx.Done():
			return
		case <-in.done:
		}
	}
}

// start publishes the first values at once (before the instances start,
// so they start in FAULT if they must) and then runs the pollers.
func (t *trackers) start() {
	ctx, cancel := context.WithCancel(context.Background())
	t.cancel = cancel
	t.poll(ctx)
	for _, sc := range t.scripts {
		key := "script " + sc.Name
		if t.subs[key] == nil {
			continue
		}
		ok0 := !sc.InitFail
		if ok, known := t.initial[sc.Name]; known {
			ok0 = ok
		}
		t.setResult(sc.Name, ok0)
		t.publish(ctx, key, trackMsg{key: key, ok: ok0})
		subs := t.subs[key]
		t.wg.Add(1)
		go func() { defer t.wg.Done(); t.runScript(ctx, sc, key, ok0, subs) }()
	}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		tick := time.NewTicker(t.r.o.Poll)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				t.poll(ctx)
			}
		}
	}()
}

// stop ends the pollers and scripts and waits for them.
func (t *trackers) stop() {
	if t.cancel != nil {
		t.cancel()
	}
	t.wg.Wait()
}

func (t *trackers) setResult(name string, ok bool) {
	t.mu.Lock()
	t.results[name] = ok
	t.mu.Unlock()
}

// poll reads links, sources and track files (cheap reads, every Poll).
func (t *trackers) poll(ctx context.Context) {
	for key := range t.subs {
		switch {
		case strings.HasPrefix(key, "interface "):
			dev := strings.TrimPrefix(key, "interface ")
			up, _, err := t.r.o.Link(dev, false, nil)
			t.publish(ctx, key, trackMsg{key: key, ok: up && err == nil})
		case strings.HasPrefix(key, "source "):
			q := t.sources[key]
			_, src, _ := t.r.o.Link(q.dev, q.v6, q.vips)
			t.publish(ctx, key, trackMsg{key: "source", src: src})
		case strings.HasPrefix(key, "file "):
			f := t.files[strings.TrimPrefix(key, "file ")]
			if f == nil {
				continue
			}
			if v, ok := config.ReadTrackFile(f.File); ok { // else keepalived keeps the last value
				t.publish(ctx, key, trackMsg{key: key, val: int(v)})
			}
		}
	}
}

// initTrackFiles writes init_file values (at start, before reading; on
// a reload, of the track files it adds). A file reads as keepalived reads
// it (config.ReadTrackFile): a missing one is 0, so deleting a
// maintenance file ends it.
func initTrackFiles(files []*config.TrackFile, logf func(string, ...any)) {
	for _, f := range files {
		if err := f.WriteInit(); err != nil {
			logf("vrrp: track_file %s: init_file: %v", f.Name, err)
		}
	}
}

// runScript runs one vrrp_script every interval, with its timeout, and
// publishes a change after rise passes / fall failures in a row.
func (t *trackers) runScript(ctx context.Context, sc *config.TrackScript, key string, ok bool, subs []*inst) {
	timeout := sc.Timeout
	if timeout <= 0 {
		timeout = sc.Interval
	}
	run := 0 // consecutive results against the current state
	tick := time.NewTicker(sc.Interval)
	defer tick.Stop()
	for {
		code := t.r.o.Exec(ctx, sc.Script, timeout)
		if ctx.Err() != nil {
			return
		}
		pass := code == 0
		if pass == ok {
			run = 0
		} else {
			run++
			need := sc.Fall
			if pass {
				need = sc.Rise
			}
			if run >= need {
				ok, run = pass, 0
				word := "failed"
				if ok {
					word = "passes"
				}
				t.r.o.Logf("vrrp: track_script %s %s (exit %d)", sc.Name, word, code)
				t.setResult(sc.Name, ok)
				for _, in := range subs {
					select {
					case in.track <- trackMsg{key: key, ok: ok}:
						in.wk.wake()
					case <-ctx.Done():
						return
					case <-in.done:
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// execLine runs line with sh -c; its exit status, -1 if it could not
// start or was killed at the timeout (with its process group).
func execLine(ctx context.Context, line string, timeout time.Duration) int {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.Command("/bin/sh", "-c", line)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return -1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return ee.ExitCode()
		}
		if err != nil {
			return -1
		}
		return 0
	case <-ctx.Done():
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		return -1
	}
}

// spawnLine starts line with sh -c and does not wait for it.
func spawnLine(line string) {
	cmd := exec.Command("/bin/sh", "-c", line)
	if cmd.Start() == nil {
		go cmd.Wait() //nolint:errcheck // notify scripts are fire and forget, as keepalived's
	}
}

// kernelLink is Options.Link on a real system.
func kernelLink(name string, v6 bool, vips []netip.Prefix) (bool, netip.Addr, error) {
	index, flags, err := linkFlags(name)
	if err != nil {
		return false, netip.Addr{}, err
	}
	up := flags&unix.IFF_UP != 0 && flags&(unix.IFF_LOWER_UP|unix.IFF_LOOPBACK) != 0
	var src netip.Addr
	if vips != nil || v6 {
		if v6 {
			src, err = linkLocal(index)
		} else {
			src, err = primaryAddr(index, vips)
		}
	}
	return up, src, err
}

// linkFlags is an interface's index and flags (IFF_UP, IFF_LOWER_UP...)
// from one RTM_GETLINK of it, reading only the message's header: the
// trackers ask every Poll, and a whole link parsed (addr.LinkByName: its
// every attribute, the statistics included) was 60% of the garbage of
// an idle VRRP daemon. A missing interface wraps os.ErrNotExist.
func linkFlags(name string) (index int, flags uint32, err error) {
	if len(name) == 0 || len(name) >= unix.IFNAMSIZ {
		return 0, 0, fmt.Errorf("interface %q: %w", name, os.ErrNotExist)
	}
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return 0, 0, fmt.Errorf("interface %s: %w", name, err)
	}
	defer unix.Close(fd)
	linkBuf.Lock()
	defer linkBuf.Unlock()
	b := linkBuf.b[:]
	// nlmsghdr, ifinfomsg, IFLA_IFNAME with the name and its NUL, padded
	attr := unix.SizeofRtAttr + len(name) + 1
	n := unix.NLMSG_HDRLEN + unix.SizeofIfInfomsg + (attr+3)&^3
	clear(b[:n])
	ne := binary.NativeEndian
	ne.PutUint32(b[0:], uint32(n))
	ne.PutUint16(b[4:], unix.RTM_GETLINK)
	ne.PutUint16(b[6:], unix.NLM_F_REQUEST)
	ne.PutUint32(b[8:], 1) // seq
	a := b[unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg:]
	ne.PutUint16(a[0:], uint16(attr))
	ne.PutUint16(a[2:], unix.IFLA_IFNAME)
	copy(a[unix.SizeofRtAttr:], name)
	if err := unix.Sendto(fd, b[:n], 0, &linkBuf.kernel); err != nil {
		return 0, 0, fmt.Errorf("interface %s: %w", name, err)
	}
	for {
		m, err := unix.Read(fd, b)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return 0, 0, fmt.Errorf("interface %s: %w", name, err)
		}
		if m < unix.NLMSG_HDRLEN+4 || ne.Uint32(b[8:]) != 1 {
			continue // not our answer
		}
		switch ne.Uint16(b[4:]) {
		case unix.NLMSG_ERROR:
			errno := unix.Errno(-int32(ne.Uint32(b[unix.NLMSG_HDRLEN:])))
			if errno == unix.ENODEV {
				return 0, 0, fmt.Errorf("interface %s: %w", name, os.ErrNotExist)
			}
			return 0, 0, fmt.Errorf("interface %s: %w", name, errno)
		case unix.RTM_NEWLINK:
			if m < unix.NLMSG_HDRLEN+unix.SizeofIfInfomsg {
				return 0, 0, fmt.Errorf("interface %s: short RTM_NEWLINK (%d bytes)", name, m)
			}
			ifi := b[unix.NLMSG_HDRLEN:]
			return int(int32(ne.Uint32(ifi[4:]))), ne.Uint32(ifi[8:]), nil
		}
	}
}

// linkBuf is linkFlags' buffer (one answer: a link's attributes fit).
var linkBuf struct {
	sync.Mutex
	b      [16 << 10]byte
	kernel unix.SockaddrNetlink
}

func init() { linkBuf.kernel.Family = unix.AF_NETLINK }
