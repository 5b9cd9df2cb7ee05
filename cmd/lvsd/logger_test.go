package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/engine"
)

// slowWriter blocks each write until the test lets it go.
type slowWriter struct {
	mu   sync.Mutex
	b    bytes.Buffer
	gate chan struct{}
	n    int
}

func (w *slowWriter) Write(p []byte) (int, error) {
	<-w.gate
	w.mu.Lock()
	defer w.mu.Unlock()
	w.n++
	return w.b.Write(p)
}

func (w *slowWriter) String() string { w.mu.Lock(); defer w.mu.Unlock(); return w.b.String() }

// The engine's flush hands its lines to the logger's writer and returns
// while the write is still under way (a start's 11,000 lines took seconds
// to write in the emulated VM, and the engine waited for them before the
// first reload); sync waits for them; every line keeps its order.
func TestLoggerFlushDoesNotWait(t *testing.T) {
	w := &slowWriter{gate: make(chan struct{})}
	l := newLogger(w)
	for i := 0; i < 11000; i++ {
		l.report(engine.Report{Kind: engine.Command, Msg: fmt.Sprintf("line %d", i)})
	}
	flushed := make(chan struct{})
	go func() { l.flush(); close(flushed) }()
	select {
	case <-flushed:
	case <-time.After(10 * time.Second):
		t.Fatal("flush waited for the write")
	}
	// more lines while the first write is held: they follow it
	l.report(engine.Report{Kind: engine.Command, Msg: "line 11000"})
	l.flush()
	synced := make(chan struct{})
	go func() { l.printf("after"); close(synced) }()
	select {
	case <-synced:
		t.Fatal("printf returned before its line was written")
	case <-time.After(20 * time.Millisecond):
	}
	close(w.gate) // the writes go through
	<-synced
	lines := strings.Split(strings.TrimSpace(w.String()), "\n")
	if len(lines) != 11002 {
		t.Fatalf("%d lines written, want 11002", len(lines))
	}
	for i, line := range lines[:11001] {
		if !strings.HasSuffix(line, fmt.Sprintf(" run: line %d", i)) {
			t.Fatalf("line %d is %q", i, line)
		}
	}
	if !strings.HasSuffix(lines[11001], " after") {
		t.Fatalf("last line %q", lines[11001])
	}
	if w.n > 3 {
		t.Errorf("%d writes for three hand-overs", w.n)
	}
	l.sync() // nothing left: returns at once
}
