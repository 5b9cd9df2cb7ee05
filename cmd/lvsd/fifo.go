package main

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
)

// notifyFIFO writes keepalived's notify_fifo LVS lines, in its format:
//
//	VS [192.0.2.1]:tcp:80 UP|DOWN                   a virtual's quorum
//	RS [10.0.0.2]:tcp:80 [192.0.2.1]:tcp:80 UP|DOWN  a real's check
//
// so that the scripts keepalived users read their FIFO with keep working.
// Each FIFO is opened read-write and non-blocking, as keepalived does: no
// reader is needed, and a line that finds the pipe full is dropped (and
// counted) rather than stalling the engine that reports it.
type notifyFIFO struct {
	mu      sync.Mutex
	fds     []int    // raw: os.File would park a full pipe's write in the poller
	created []string // made by lvsd: removed at exit
	dropped int
	paths   []string
}

// lvsFIFOs are the FIFOs that get the LVS lines: notify_fifo and
// lvs_notify_fifo, each once.
func lvsFIFOs(g *config.Global) []string {
	var paths []string
	for _, p := range []string{g.NotifyFIFO, g.LVSNotifyFIFO} {
		if p != "" && (len(paths) == 0 || paths[0] != p) {
			paths = append(paths, p)
		}
	}
	return paths
}

// fifoPaths names the LVS FIFOs in one string ("" for none): a reload
// that changes it reopens them.
func fifoPaths(g *config.Global) string { return strings.Join(lvsFIFOs(g), ", ") }

// openNotifyFIFOs opens (making them when absent, mode 0600) the FIFOs the
// configuration names; nil when it names none.
func openNotifyFIFOs(g *config.Global) (*notifyFIFO, error) {
	paths := lvsFIFOs(g)
	if len(paths) == 0 {
		return nil, nil
	}
	n := &notifyFIFO{paths: paths}
	for _, p := range paths {
		st, err := os.Stat(p)
		switch {
		case errors.Is(err, os.ErrNotExist):
			if err := syscall.Mkfifo(p, 0o600); err != nil {
				n.close()
				return nil, fmt.Errorf("notify FIFO %s: %w", p, err)
			}
			n.created = append(n.created, p)
		case err != nil:
			n.close()
			return nil, fmt.Errorf("notify FIFO %s: %w", p, err)
		case st.Mode()&os.ModeNamedPipe == 0:
			n.close()
			return nil, fmt.Errorf("notify FIFO %s: exists and is not a FIFO", p)
		}
		fd, err := syscall.Open(p, syscall.O_RDWR|syscall.O_NONBLOCK|syscall.O_CLOEXEC, 0)
		if err != nil {
			n.close()
			return nil, fmt.Errorf("notify FIFO %s: %w", p, err)
		}
		n.fds = append(n.fds, fd)
	}
	return n, nil
}

func (n *notifyFIFO) close() {
	if n == nil {
		return
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, fd := range n.fds {
		syscall.Close(fd)
	}
	for _, p := range n.created {
		os.Remove(p)
	}
	n.fds, n.created = nil, nil
}

// discard closes FIFOs opened for a reload that was refused: those it
// made are removed.
func (n *notifyFIFO) discard() { n.close() }

// takeOver is n replacing old at a reload: a FIFO that old made and n
// still names is n's to remove at exit (old's close leaves it).
func (n *notifyFIFO) takeOver(old *notifyFIFO) *notifyFIFO {
	if n == nil || old == nil {
		return n
	}
	old.mu.Lock()
	defer old.mu.Unlock()
	keep := old.created[:0]
	for _, p := range old.created {
		switch {
		case slices.Contains(n.created, p):
		case slices.Contains(n.paths, p):
			n.created = append(n.created, p)
		default:
			keep = append(keep, p)
		}
	}
	old.created = keep
	return n
}

func (n *notifyFIFO) write(line string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, fd := range n.fds {
		// a line is at most a few dozen bytes: written whole or not at
		// all (PIPE_BUF), EAGAIN when the pipe is full
		if _, err := syscall.Write(fd, []byte(line)); err != nil {
			n.dropped++
		}
	}
}

// report writes the line for an engine report, if it makes one.
func (n *notifyFIFO) report(r engine.Report) {
	if n == nil {
		return
	}
	if l := fifoLine(r); l != "" {
		n.write(l)
	}
}

// fifoLine is keepalived's notify_fifo line for a report: a virtual's
// quorum verdict (a change, or its first as the engine's quorumNotice
// says), a real brought up by its check or taken down from up (the
// transitions of notify_up / notify_down), or taken out by a reload.
func fifoLine(r engine.Report) string {
	state := map[bool]string{true: "UP", false: "DOWN"}
	switch r.Kind {
	case engine.Quorum:
		if r.Virtual == nil {
			return ""
		}
		return fmt.Sprintf("VS %s %s\n", kaVS(r.Virtual), state[r.On])
	case engine.Health:
		ev := r.Check
		p, ok := ev.Sub.Data.(check.Pair)
		if !ok || p.V == nil || p.R == nil {
			return ""
		}
		up := ev.To == check.Up && ev.From != check.Up
		if !up && !(ev.To == check.Down && ev.From == check.Up) {
			return ""
		}
		port := p.R.Port
		if port == 0 {
			port = p.V.Port
		}
		return fmt.Sprintf("RS %s %s %s\n", kaTrio(p.R.Addr, kaProto(p.V), port), kaVS(p.V), state[up])
	case engine.Removed:
		// clear_service_rs: a real a reload took out while up goes DOWN
		if r.Virtual == nil || r.Real == nil {
			return ""
		}
		port := r.Real.Port
		if port == 0 {
			port = r.Virtual.Port
		}
		return fmt.Sprintf("RS %s %s DOWN\n", kaTrio(r.Real.Addr, kaProto(r.Virtual), port), kaVS(r.Virtual))
	}
	return ""
}

// kaVS is keepalived's FMT_VS: [ip]:proto:port, or FWM n.
func kaVS(v *config.Virtual) string {
	if v.Protocol == "fwm" {
		return fmt.Sprintf("FWM %d", v.FWMark)
	}
	return kaTrio(v.Addr, string(v.Protocol), v.Port)
}

func kaProto(v *config.Virtual) string {
	if v.Protocol == "fwm" {
		return "none" // keepalived's word for a service without a protocol
	}
	return string(v.Protocol)
}

// kaTrio is keepalived's inet_sockaddrtotrio: [addr]:proto:port.
func kaTrio(a netip.Addr, proto string, port uint16) string {
	return fmt.Sprintf("[%s]:%s:%d", a.Unmap(), proto, port)
}
