package engine

import (
	"os/exec"
	"sync"
	"time"
)

// commands runs fallbackcommand and quorum_up/down lines one at a time, in
// the order they were decided, off the engine's goroutine. ldirectord waits
// for each (and stalls its checks meanwhile); keepalived forks and forgets,
// so a slow "start" can finish after the "stop" decided after it and leave
// a sorry server running with the reals back. Here the order holds and the
// loop never waits.
type commands struct {
	mu    sync.Mutex
	queue []string
	busy  bool
	idle  chan struct{} // closed when the queue is empty and nothing runs
	run   func(line string)
}

func newCommands(run func(string)) *commands {
	if run == nil {
		run = func(line string) { exec.Command("/bin/sh", "-c", line).Run() } //nolint:errcheck // reported when started
	}
	c := &commands{run: run, idle: make(chan struct{})}
	close(c.idle)
	return c
}

// add queues a line; it runs after every line queued before it.
func (c *commands) add(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queue = append(c.queue, line)
	if !c.busy {
		c.busy = true
		c.idle = make(chan struct{})
		go c.drain(c.idle)
	}
}

func (c *commands) drain(idle chan struct{}) {
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			c.busy = false
			close(idle)
			c.mu.Unlock()
			return
		}
		line := c.queue[0]
		c.queue = c.queue[1:]
		c.mu.Unlock()
		c.run(line)
	}
}

// wait returns when every queued line has run, or after d; it says which.
func (c *commands) wait(d time.Duration) bool {
	c.mu.Lock()
	idle := c.idle
	c.mu.Unlock()
	select {
	case <-idle:
		return true
	case <-time.After(d):
		return false
	}
}
