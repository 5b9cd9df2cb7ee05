package main

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// autoreload: a change of content is reported, whether written in place
// or renamed over; a rewrite of the same bytes is not.
func TestWatchFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "ldirectord.cf")
	os.WriteFile(p, []byte("a\n"), 0o644)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := watchFile(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	expect := func(what string, want bool) {
		t.Helper()
		select {
		case <-ch:
			if !want {
				t.Fatalf("%s: reported as a change", what)
			}
		case <-time.After(700 * time.Millisecond):
			if want {
				t.Fatalf("%s: not reported", what)
			}
		}
	}
	os.WriteFile(p, []byte("a\n"), 0o644)
	expect("same bytes", false)
	os.WriteFile(filepath.Join(dir, "other"), []byte("x"), 0o644)
	expect("another file", false)
	os.WriteFile(p, []byte("b\n"), 0o644)
	expect("new content", true)
	tmp := filepath.Join(dir, ".ldirectord.cf.swp")
	os.WriteFile(tmp, []byte("c\n"), 0o644)
	os.Rename(tmp, p)
	expect("renamed over", true)
	cancel()
	select {
	case _, ok := <-ch:
		if ok {
			t.Fatal("event after cancel")
		}
	case <-time.After(2 * time.Second):
		t.Fatal("not closed after cancel")
	}
}
