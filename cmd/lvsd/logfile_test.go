package main

import (
	"os"
	"path/filepath"
	"testing"
)

// --logfile: a file renamed away (logrotate's default) or removed is
// reopened at its path at the next line; Reopen (SIGHUP) opens it again
// at once, and keeps the old one when the path cannot be opened.
func TestLogFileReopen(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "lvsd.log")
	l, err := openLogFile(p)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Write([]byte("one\n"))
	os.Rename(p, p+".1")
	l.Write([]byte("two\n"))
	os.Remove(p)
	l.Write([]byte("three\n"))
	os.Rename(p, p+".2")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	l.Write([]byte("four\n"))
	for f, want := range map[string]string{p + ".1": "one\n", p + ".2": "three\n", p: "four\n"} {
		if b, _ := os.ReadFile(f); string(b) != want {
			t.Errorf("%s: %q, want %q", f, b, want)
		}
	}
	if _, err := openLogFile(filepath.Join(dir, "no", "such", "dir.log")); err == nil {
		t.Error("a log file that cannot be opened was accepted")
	}
	l.path = filepath.Join(dir, "no", "such.log")
	if err := l.Reopen(); err == nil {
		t.Error("reopen of a bad path did not fail")
	}
	if _, err := l.Write([]byte("five\n")); err != nil {
		t.Errorf("the old file was not kept: %v", err)
	}
}
