package vrrp

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// threads lists this process's threads as "comm policy rt_priority"
// (/proc/self/task/TID/stat: comm in brackets, then policy is field 41
// and rt_priority field 40 of the whole line).
func threads(t *testing.T) []string {
	t.Helper()
	files, _ := filepath.Glob("/proc/self/task/*/stat")
	var out []string
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue // the thread ended
		}
		open, end := bytes.IndexByte(b, '('), bytes.LastIndexByte(b, ')')
		fields := strings.Fields(string(b[end+1:]))
		if open < 0 || len(fields) < 39 {
			t.Fatalf("%s: %q", f, b)
		}
		out = append(out, fmt.Sprintf("%s %s %s", b[open+1:end], fields[38], fields[37]))
	}
	sort.Strings(out)
	return out
}

// The VRRP threads (each instance's, each socket reader's) run SCHED_RR
// at RTPriority, and no other thread of the process does; RTPriority
// below 0 leaves them all at normal priority (policy 0); SetRTPriority (a
// reload's vrrp_rt_priority) moves them in place.
func TestRouterRealtimeThreads(t *testing.T) {
	testenv.Root(t)
	for _, tc := range []struct {
		prio int
		want []string
	}{
		{7, []string{"vrrp:VI_1 2 7", "vrrp:VI_2 2 7", "vrrprx:eth0 2 7"}},
		{-1, []string{"vrrp:VI_1 0 0", "vrrp:VI_2 0 0", "vrrprx:eth0 0 0"}},
	} {
		t.Run(fmt.Sprint(tc.prio), func(t *testing.T) {
			h := &hub{}
			cfg := syncPair(150, 0)
			cfg.SyncGroups = nil
			n := startNode(t, h, cfg, "192.0.2.1", nil, func(o *Options) { o.RTPriority = tc.prio })
			waitFor(t, "master", func() bool { return n.state() == "MASTER" })
			var got, others []string
			end := time.Now().Add(5 * time.Second)
			for {
				got, others = nil, nil
				for _, th := range threads(t) {
					if isVRRPThread(th) {
						got = append(got, th)
					} else if !strings.HasSuffix(th, " 0 0") {
						others = append(others, th)
					}
				}
				// a thread of an earlier test's router may still be ending
				if strings.Join(got, ",") == strings.Join(tc.want, ",") && len(others) == 0 || time.Now().After(end) {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || len(others) > 0 {
				t.Errorf("VRRP threads %q, want %q; other threads not at normal priority: %q", got, tc.want, others)
			}
			// a reload's vrrp_rt_priority, in place
			n.r.SetRTPriority(9)
			if ths := vrrpThreads(t); strings.Join(ths, ",") != "vrrp:VI_1 2 9,vrrp:VI_2 2 9,vrrprx:eth0 2 9" {
				t.Errorf("after SetRTPriority(9): %q", ths)
			}
			n.r.SetRTPriority(-1)
			if ths := vrrpThreads(t); strings.Join(ths, ",") != "vrrp:VI_1 0 0,vrrp:VI_2 0 0,vrrprx:eth0 0 0" {
				t.Errorf("after SetRTPriority(-1): %q", ths)
			}
			n.stop()
			if !waitThreads(func(ths []string) bool {
				for _, th := range ths {
					if isVRRPThread(th) {
						return false
					}
				}
				return true
			}, t) {
				t.Errorf("VRRP threads left after the stop: %q", threads(t))
			}
		})
	}
}

func waitThreads(ok func([]string) bool, t *testing.T) bool {
	end := time.Now().Add(5 * time.Second)
	for !ok(threads(t)) {
		if time.Now().After(end) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

func isVRRPThread(th string) bool {
	return strings.HasPrefix(th, "vrrp:") || strings.HasPrefix(th, "vrrprx:")
}

func vrrpThreads(t *testing.T) []string {
	var out []string
	for _, th := range threads(t) {
		if isVRRPThread(th) {
			out = append(out, th)
		}
	}
	return out
}

// WholeProcess (VRRP-only mode): every thread of the process at the
// router's priority, moved with SetRTPriority; turned off, the threads
// but the VRRP ones back at normal scheduling.
func TestRouterWholeProcess(t *testing.T) {
	testenv.Root(t)
	WholeProcess(true)
	defer WholeProcess(false)
	h := &hub{}
	cfg := syncPair(150, 0)
	cfg.SyncGroups = nil
	n := startNode(t, h, cfg, "192.0.2.1", nil, func(o *Options) { o.RTPriority = 7 })
	waitFor(t, "master", func() bool { return n.state() == "MASTER" })
	at := func(want string, vrrpToo bool) []string {
		var off []string
		end := time.Now().Add(3 * time.Second) // the sweep: every second
		for {
			off = nil
			for _, th := range threads(t) {
				if (vrrpToo || !isVRRPThread(th)) && !strings.HasSuffix(th, " "+want) {
					off = append(off, th)
				}
			}
			if len(off) == 0 || time.Now().After(end) {
				return off
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	if off := at("2 7", true); len(off) > 0 {
		t.Errorf("threads not at SCHED_RR 7: %q", off)
	}
	n.r.SetRTPriority(9)
	if off := at("2 9", true); len(off) > 0 {
		t.Errorf("after SetRTPriority(9), threads not at SCHED_RR 9: %q", off)
	}
	WholeProcess(false)
	if off := at("0 0", false); len(off) > 0 {
		t.Errorf("after WholeProcess(false), threads not at normal scheduling: %q", off)
	}
	if ths := vrrpThreads(t); strings.Join(ths, ",") != "vrrp:VI_1 2 9,vrrp:VI_2 2 9,vrrprx:eth0 2 9" {
		t.Errorf("after WholeProcess(false), the VRRP threads: %q", ths)
	}
	n.stop()
}
