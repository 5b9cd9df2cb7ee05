package engine

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// A slow command decided first finishes first: fallbackcommand "start"
// then "stop" must not leave the sorry server running.
func TestCommandsRunInOrder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "log")
	c := newCommands(nil)
	c.add("sleep 0.3; echo start >> " + out)
	c.add("echo stop >> " + out)
	c.add("echo start >> " + out)
	if !c.wait(10 * time.Second) {
		t.Fatal("commands not done")
	}
	b, _ := os.ReadFile(out)
	if got := strings.Fields(string(b)); strings.Join(got, " ") != "start stop start" {
		t.Fatalf("order %q", got)
	}
	// the runner starts again after going idle
	c.add("echo again >> " + out)
	c.wait(10 * time.Second)
	if b, _ := os.ReadFile(out); !strings.HasSuffix(string(b), "again\n") {
		t.Fatalf("after idle: %q", b)
	}
}

// add never waits for a running command: the engine's loop must not.
func TestCommandsDoNotBlock(t *testing.T) {
	release := make(chan struct{})
	c := newCommands(func(string) { <-release })
	t0 := time.Now()
	for i := 0; i < 1000; i++ {
		c.add("x")
	}
	if d := time.Since(t0); d > time.Second {
		t.Fatalf("add took %s", d)
	}
	if c.wait(50 * time.Millisecond) {
		t.Fatal("wait returned with commands pending")
	}
	close(release)
	if !c.wait(10 * time.Second) {
		t.Fatal("queue not drained")
	}
}
