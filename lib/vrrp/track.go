package vrrp

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// trackers run track_script, read track_file and the links, each on its
// own goroutine, and send changes to the instances that track them.
type trackers struct {
	r *Router
	// what is last known, so only changes are sent
	last map[string]trackMsg
	subs map[string][]*inst
}

func newTrackers(r *Router) *trackers {
	t := &trackers{r: r, last: map[string]trackMsg{}, subs: map[string][]*inst{}}
	for _, in := range r.insts {
		t.sub("interface "+in.cfg.Interface, in)
		t.sub("source "+in.cfg.Interface+fmt.Sprint(in.v6), in)
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
		case <-ctx.Done():
			return
		}
	}
}

// start publishes the first values at once (before the instances start,
// so they start in FAULT if they must) and then runs the pollers.
func (t *trackers) start(ctx context.Context) {
	t.poll(ctx)
	scripts := map[string]*config.TrackScript{}
	for _, s := range t.r.cfg.Scripts {
		scripts[s.Name] = s
	}
	for key := range t.subs {
		name, ok := strings.CutPrefix(key, "script ")
		if !ok || scripts[name] == nil {
			continue
		}
		sc := scripts[name]
		ok0 := !sc.InitFail
		t.publish(ctx, key, trackMsg{key: key, ok: ok0})
		subs := t.subs[key]
		go t.runScript(ctx, sc, key, ok0, subs)
	}
	go func() {
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

// poll reads links, sources and track files (cheap reads, every Poll).
func (t *trackers) poll(ctx context.Context) {
	files := map[string]*config.TrackFile{}
	for _, f := range t.r.cfg.TrackFiles {
		files[f.Name] = f
	}
	for key, subs := range t.subs {
		switch {
		case strings.HasPrefix(key, "interface "):
			dev := strings.TrimPrefix(key, "interface ")
			up, _, err := t.r.o.Link(dev, false, nil)
			t.publish(ctx, key, trackMsg{key: key, ok: up && err == nil})
		case strings.HasPrefix(key, "source "):
			in := subs[0]
			vips := []netip.Prefix{} // non-nil: Link looks the source up
			for _, s := range t.r.insts {
				for _, v := range s.allVIPs() {
					vips = append(vips, v.Prefix)
				}
			}
			_, src, _ := t.r.o.Link(in.cfg.Interface, in.v6, vips)
			t.publish(ctx, key, trackMsg{key: "source", src: src})
		case strings.HasPrefix(key, "file "):
			f := files[strings.TrimPrefix(key, "file ")]
			if f == nil {
				continue
			}
			t.publish(ctx, key, trackMsg{key: key, val: readTrackFile(f)})
		}
	}
}

// readTrackFile is the file's integer; a missing or unreadable file
// reads 0 (keepalived too), so deleting a maintenance file ends it.
func readTrackFile(f *config.TrackFile) int {
	b, err := os.ReadFile(f.File)
	if err != nil {
		return 0
	}
	v, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0
	}
	return v
}

// initTrackFiles writes init_file values (at start, before reading).
func initTrackFiles(cfg *config.Config, logf func(string, ...any)) {
	for _, f := range cfg.TrackFiles {
		if !f.Init {
			continue
		}
		if _, err := os.Stat(f.File); err == nil && !f.Overwrite {
			continue
		}
		if err := os.WriteFile(f.File, []byte(strconv.Itoa(f.InitValue)+"\n"), 0o644); err != nil {
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
				for _, in := range subs {
					select {
					case in.track <- trackMsg{key: key, ok: ok}:
					case <-ctx.Done():
						return
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
	l, err := addr.LinkByName(name)
	if err != nil {
		return false, netip.Addr{}, err
	}
	up := l.Up && (l.LowerUp || l.Loopback)
	var src netip.Addr
	if vips != nil || v6 {
		if v6 {
			src, err = LinkLocal(name)
		} else {
			src, err = PrimaryAddr(name, vips)
		}
	}
	return up, src, err
}
