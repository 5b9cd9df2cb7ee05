//go:build vm

package main

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
)

// lvsd run --logfile under logrotate's rules: the log is rotated
// (renamed, a new empty file created, as logrotate's create does), then
// SIGHUP (its postrotate): the reload's lines go to the new file, none to
// the old one.
func TestLogfileReopenedOnSIGHUP(t *testing.T) {
	l := newLab(t, "masq", 1)
	cf := l.daemonConfig("lf.cf", []int{1}, nil, "")
	logp := filepath.Join(l.dir, "lvsd.log")
	d := startDaemonWith(t, cf, filepath.Join(l.dir, "lf.state"), []string{"--logfile", logp})
	read := func(p string) string { b, _ := os.ReadFile(p); return string(b) }
	if !netns.WaitFor(20*time.Second, func() bool { return strings.Contains(read(logp), "up   tcp:"+labVIP+":80 real 10.99.0.11:80") }) {
		t.Fatalf("no check line in %s:\n%s\nstderr:\n%s", logp, read(logp), d.logText())
	}
	if strings.Contains(d.logText(), "started: ") {
		t.Errorf("with --logfile the log went to stderr too:\n%s", d.logText())
	}
	if err := os.Rename(logp, logp+".1"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(logp, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	d.signal(syscall.SIGHUP)
	if !netns.WaitFor(20*time.Second, func() bool { return strings.Contains(read(logp), "reloaded: ") }) {
		t.Fatalf("no reload line in the new %s:\n%s\nold:\n%s", logp, read(logp), read(logp+".1"))
	}
	old := read(logp + ".1")
	if strings.Contains(old, "reloaded: ") || !strings.Contains(old, "started: ") {
		t.Errorf("the rotated log:\n%s", old)
	}
	d.stop()
	if !strings.Contains(read(logp), "stopped: ") {
		t.Errorf("the stop line is not in the new log:\n%s", read(logp))
	}
}
