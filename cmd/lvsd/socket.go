package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// The control socket of a running director: /run/lvsd/NAME.sock, mode
// 0600 (root). One request line per connection, one answer:
//
//	status   -> the engine's state as JSON (statusJSON)
//	reload   -> "ok" or the configuration's errors, FILE:LINE each, then "refused"
//	ctl CMD  -> an lvsd ctl override (disable|enable|drain REAL [VIRTUAL],
//	            weight REAL N [VIRTUAL]): "ok: what changed" or "error: why"
//	ping     -> "pong"
//
// The director agent's monitor and `lvsd status` / `lvsd reload` ask it
// instead of ps, pgrep or a signal whose outcome nobody sees.

type control struct {
	eng    atomic.Pointer[engine.Engine] // nil in VRRP-only mode (no virtual_server; a reload may start it)
	vrrp   *vrrpSide                     // nil, or without a router: no vrrp_instance
	path   string
	reload func() []string // nil: reloaded; else the lines that refused it
	digest func() string   // of the running configuration's file
	// lastReload: the last reload tried (nil: none yet, or no reloads)
	lastReload func() *reloadJSON
	// logged, when set, returns once the log lines so far are written:
	// a ctl request is answered with what it did in the log
	logged func()
}

// listenControl opens the socket, replacing a stale one (a socket no
// process answers on). It refuses to steal a live one.
func listenControl(path string) (net.Listener, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	if c, err := net.DialTimeout("unix", path, time.Second); err == nil {
		c.Close()
		return nil, fmt.Errorf("%s: another lvsd answers there (already running for this configuration?)", path)
	}
	os.Remove(path)
	old := syscall.Umask(0o077)
	ln, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, err
	}
	os.Chmod(path, 0o600)
	return ln, nil
}

func (c *control) serve(ctx context.Context, ln net.Listener) {
	go func() { <-ctx.Done(); ln.Close() }()
	for {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		go c.handle(ctx, conn)
	}
}

func (c *control) handle(ctx context.Context, conn net.Conn) {
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil && line == "" {
		return
	}
	req := strings.TrimSpace(line)
	if words := strings.Fields(req); len(words) > 0 && words[0] == "ctl" {
		o, err := director.ParseOverride(words[1:])
		eng := c.eng.Load()
		if err == nil && eng == nil {
			err = errors.New("this configuration has no virtual server (VRRP only)")
		}
		if err == nil {
			var msg string
			msg, err = eng.Override(ctx, o)
			if c.logged != nil {
				c.logged()
			}
			if err == nil {
				fmt.Fprintf(conn, "ok: %s\n", msg)
				return
			}
		}
		fmt.Fprintf(conn, "error: %v\n", err)
		return
	}
	switch req {
	case "ping":
		fmt.Fprintln(conn, "pong")
	case "status":
		view := statusJSON{Config: c.path, Digest: c.digest(), Virtuals: []virtualJSON{}, Overrides: []overrideJSON{}}
		if eng := c.eng.Load(); eng != nil {
			st, err := eng.Status(ctx)
			if err != nil {
				fmt.Fprintf(conn, "error: %v\n", err)
				return
			}
			view = statusView(st, c.digest())
		}
		view.VRRP = c.vrrp.view()
		if c.lastReload != nil {
			view.LastReload = c.lastReload()
		}
		conn.Write(marshalStatus(view)) //nolint:errcheck // the asker went away
	case "reload":
		if errs := c.reload(); errs != nil {
			for _, l := range errs {
				fmt.Fprintln(conn, l)
			}
			fmt.Fprintln(conn, "refused")
			return
		}
		fmt.Fprintln(conn, "ok")
	default:
		fmt.Fprintf(conn, "error: unknown request %q (status, reload, ctl, ping)\n", req)
	}
}

// ask sends one request to a running director and returns its answer.
func ask(path, req string) (string, error) {
	conn, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return "", fmt.Errorf("no lvsd running for this configuration (%s)", path)
		}
		return "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(60 * time.Second))
	fmt.Fprintln(conn, req)
	b, err := io.ReadAll(conn)
	return string(b), err
}

// statusJSON is the status in the configuration's own terms.
type statusJSON struct {
	Config  string     `json:"config"`
	Digest  string     `json:"digest"`
	Loaded  time.Time  `json:"loaded"`
	Started time.Time  `json:"started"`
	ResyncS float64    `json:"resync_seconds"`
	ReadMS  float64    `json:"table_read_ms"`
	Up      int        `json:"reals_up"`
	Down    int        `json:"reals_down"`
	Unknown int        `json:"reals_not_checked_yet"`
	Counts  countsJSON `json:"counts"`
	// the last reload tried and its result (none yet: absent)
	LastReload *reloadJSON `json:"last_reload,omitempty"`
	// the operator's overrides in force (lvsd ctl), in the order set
	Overrides []overrideJSON `json:"overrides"`
	Virtuals  []virtualJSON  `json:"virtuals"`
	VRRP      *vrrpJSON      `json:"vrrp,omitempty"`
}

// reloadJSON is a reload tried: when, what asked for it, its result.
type reloadJSON struct {
	Time    time.Time `json:"time"`
	Trigger string    `json:"trigger"` // SIGHUP, lvsd reload, autoreload: the file changed
	Result  string    `json:"result"`  // ok, refused
	Errors  []string  `json:"errors,omitempty"`
}

type overrideJSON struct {
	Command string `json:"command"` // as lvsd ctl takes it: "drain 10.0.0.2 tcp:192.0.2.1:80"
	Applies bool   `json:"applies"` // names a configured real (false: kept after a reload removed it)
}

type countsJSON struct {
	Reads        int `json:"table_reads"`
	Writes       int `json:"netlink_writes"`
	WriteErrors  int `json:"netlink_write_errors"`
	Repairs      int `json:"drift_repairs"`
	Reloads      int `json:"reloads"`
	ReloadErrors int `json:"reload_errors"`
}

type virtualJSON struct {
	Virtual  string     `json:"virtual"`
	Line     int        `json:"line"`
	Service  string     `json:"ipvs_service"`
	Up       int        `json:"reals_up"`
	UpWeight int        `json:"up_weight"`
	Fallback bool       `json:"fallback_in_use"`
	Quorum   bool       `json:"quorum"`
	InKernel bool       `json:"in_kernel"`
	Stats    statsJSON  `json:"stats"` // the kernel's counters at the last table read
	Reals    []realJSON `json:"reals"`
}

// statsJSON are IPVS counters (ipvsadm -Ln --stats) as last read.
type statsJSON struct {
	Conns    uint64 `json:"connections"`
	PktsIn   uint64 `json:"packets_in"`
	PktsOut  uint64 `json:"packets_out"`
	BytesIn  uint64 `json:"bytes_in"`
	BytesOut uint64 `json:"bytes_out"`
}

func statsView(s ipvs.Stats) statsJSON {
	return statsJSON{s.Conns, s.PktsIn, s.PktsOut, s.BytesIn, s.BytesOut}
}

type realJSON struct {
	Real     string     `json:"real"`
	Role     string     `json:"role"`
	Health   string     `json:"health"`
	Why      string     `json:"why"`
	Forward  string     `json:"forward"`
	Weight   int        `json:"weight"`
	InTable  bool       `json:"in_table"` // in the desired table (false: left out, see why)
	InKernel bool       `json:"in_kernel"`
	KWeight  int        `json:"kernel_weight"`
	Active   int        `json:"active_connections"`
	Inactive int        `json:"inactive_connections"`
	Override string     `json:"override,omitempty"` // the lvsd ctl override in force for it
	Stats    *statsJSON `json:"stats,omitempty"`    // in the kernel: its counters at the last table read
	Check    *checkJSON `json:"check,omitempty"`    // the check result that made its state
}

// checkJSON is the check result that made a real's current state.
type checkJSON struct {
	Reason    string    `json:"reason"`
	LatencyMS float64   `json:"latency_ms"`
	Since     time.Time `json:"since"`
}

func checkView(st engine.Status, id director.RealKey) *checkJSON {
	c, ok := st.Checks[id]
	if !ok {
		return nil
	}
	return &checkJSON{Reason: c.Reason, LatencyMS: float64(c.Latency.Microseconds()) / 1000, Since: c.Since}
}

func statusView(st engine.Status, digest string) statusJSON {
	out := statusJSON{Config: st.Source, Digest: digest, Loaded: st.Loaded, Started: st.Started,
		ResyncS: st.Resync.Seconds(), ReadMS: float64(st.ReadCost.Microseconds()) / 1000,
		Up: st.Up, Down: st.Down, Unknown: st.Unknown,
		Counts:   countsJSON{st.Counts.Reads, st.Counts.Writes, st.Counts.WriteErrors, st.Counts.Repairs, st.Counts.Reloads, st.Counts.ReloadErrors},
		Virtuals: []virtualJSON{}, Overrides: []overrideJSON{}}
	for _, o := range st.Overrides {
		out.Overrides = append(out.Overrides, overrideJSON{Command: o.String(), Applies: o.Applies})
	}
	for _, v := range st.Virtuals {
		vj := virtualJSON{Virtual: v.Virtual.Key(), Line: v.Virtual.Line, Service: v.Key.String(), Up: v.Up, UpWeight: v.UpWeight,
			Fallback: v.Fallback, Quorum: v.Quorum, InKernel: v.InKernel, Stats: statsView(v.Stats), Reals: []realJSON{}}
		for _, r := range v.Reals {
			var sj *statsJSON
			if r.InKernel {
				s := statsView(r.Kernel.Stats)
				sj = &s
			}
			vj.Reals = append(vj.Reals, realJSON{Stats: sj, Check: checkView(st, r.Note.ID), Real: r.Dest.Key().String(), InTable: true, Role: r.Note.Role.String(), Health: r.Note.Status.String(),
				Why: r.Note.Why, Forward: ipvs.FwdName(r.Dest.Fwd), Weight: r.Dest.Weight, InKernel: r.InKernel, KWeight: r.Kernel.Weight,
				Active: r.Kernel.Active, Inactive: r.Kernel.Inactive, Override: r.Note.Override})
		}
		for _, n := range v.Out {
			vj.Reals = append(vj.Reals, realJSON{Real: n.ID.Real.String(), Role: n.Role.String(), Health: n.Status.String(), Why: n.Why, Override: n.Override,
				Check: checkView(st, n.ID)})
		}
		out.Virtuals = append(out.Virtuals, vj)
	}
	return out
}

// marshalStatus is the status JSON, indented, with a final newline (as
// json.Encoder with SetIndent wrote it).
func marshalStatus(v statusJSON) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		return []byte(fmt.Sprintf("{\"error\": %q}\n", err.Error()))
	}
	return append(indentJSON(make([]byte, 0, len(b)*3/2), b), '\n')
}

// dumpStatus writes the status JSON to path atomically (a reader never
// sees half a file), mode 0600.
func dumpStatus(ctx context.Context, eng *engine.Engine, digest string, last *reloadJSON, path string) error {
	st, err := eng.Status(ctx)
	if err != nil {
		return err
	}
	view := statusView(st, digest)
	view.LastReload = last
	b := marshalStatus(view)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lvsd-status-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// writeStatsTable prints the counters shaped like `ipvsadm -Ln --stats`,
// with the health of each real.
func writeStatsTable(w io.Writer, s statusJSON) {
	fmt.Fprintf(w, "config %s loaded %s (sha256 %.12s); counters as of the last table read (every %gs)\n",
		s.Config, s.Loaded.Format("2006-01-02 15:04:05"), s.Digest, s.ResyncS)
	type line struct {
		name, health string
		st           *statsJSON
	}
	lines := []line{}
	width := len("  -> RemoteAddress:Port")
	for _, v := range s.Virtuals {
		p, addr := protoAddr(v.Service)
		var sp *statsJSON
		if v.InKernel {
			vs := v.Stats
			sp = &vs
		}
		lines = append(lines, line{name: p + "  " + addr, st: sp})
		for _, r := range v.Reals {
			health := r.Health
			if r.Role != "real" {
				health = r.Role
			}
			lines = append(lines, line{"  -> " + r.Real, health, r.Stats})
		}
	}
	for _, l := range lines {
		width = max(width, len(l.name))
	}
	// ipvsadm's columns: 8 wide, right-aligned (wider numbers push on)
	fmt.Fprintf(w, "%-*s %8s %8s %8s %8s %8s\n", width, "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes")
	fmt.Fprintf(w, "%-*s %8s %8s %8s %8s %8s %s\n", width, "  -> RemoteAddress:Port", "", "", "", "", "", "Health")
	for _, l := range lines {
		if l.st == nil {
			fmt.Fprintf(w, "%-*s %8s %8s %8s %8s %8s %s\n", width, l.name, "-", "-", "-", "-", "-", l.health)
			continue
		}
		fmt.Fprintln(w, strings.TrimRight(fmt.Sprintf("%-*s %8d %8d %8d %8d %8d %s", width, l.name,
			l.st.Conns, l.st.PktsIn, l.st.PktsOut, l.st.BytesIn, l.st.BytesOut, l.health), " "))
	}
}

func protoAddr(service string) (string, string) {
	flag, addr, _ := strings.Cut(service, " ")
	p := map[string]string{"-t": "TCP", "-u": "UDP", "-f": "FWM", "--sctp-service": "SCTP"}[flag]
	if p == "" {
		p = flag
	}
	return p, addr
}

// writeStatusTable prints the status shaped like `ipvsadm -Ln`, with the
// health and the reason of each real, and the configured reals that are
// not in the table (down, not checked yet) under their virtual.
func writeStatusTable(w io.Writer, s statusJSON) {
	fmt.Fprintf(w, "config %s loaded %s (sha256 %.12s); reals: %d up, %d down, %d not checked yet\n",
		s.Config, s.Loaded.Format("2006-01-02 15:04:05"), s.Digest, s.Up, s.Down, s.Unknown)
	if r := s.LastReload; r != nil {
		fmt.Fprintf(w, "last reload %s (%s): %s", r.Time.Format("2006-01-02 15:04:05"), r.Trigger, r.Result)
		if len(r.Errors) > 0 {
			fmt.Fprintf(w, ": %s", strings.Join(r.Errors, "; "))
		}
		fmt.Fprintln(w)
	}
	if len(s.Virtuals) == 0 && s.VRRP != nil {
		writeVRRPTable(w, *s.VRRP) // VRRP only: no IPVS table to show
		return
	}
	if len(s.Overrides) > 0 {
		var l []string
		for _, o := range s.Overrides {
			if !o.Applies {
				o.Command += " (matches no real)"
			}
			l = append(l, o.Command)
		}
		fmt.Fprintf(w, "overrides (lvsd ctl): %s\n", strings.Join(l, "; "))
	}
	tw := tabwriter.NewWriter(w, 0, 0, 1, ' ', 0)
	fmt.Fprintln(tw, "Prot LocalAddress:Port\t\t\t\t\t\t")
	fmt.Fprintln(tw, "  -> RemoteAddress:Port\tForward\tWeight\tActiveConn\tInActConn\tHealth\tWhy")
	protos := map[string]string{"-t": "TCP", "-u": "UDP", "-f": "FWM", "--sctp-service": "SCTP"}
	for _, v := range s.Virtuals {
		flag, addr, _ := strings.Cut(v.Service, " ")
		p := protos[flag]
		if p == "" {
			p = flag
		}
		extra := ""
		if v.Fallback {
			extra = "  fallback in use"
		}
		fmt.Fprintf(tw, "%s  %s\t\t\t\t\t\t%s line %d: %d up%s\n", p, addr, filepath.Base(s.Config), v.Line, v.Up, extra)
		for _, r := range v.Reals {
			weight, active, inactive := "-", "-", "-"
			if r.InKernel {
				weight, active, inactive = strconv.Itoa(r.KWeight), strconv.Itoa(r.Active), strconv.Itoa(r.Inactive)
			}
			fwd := r.Forward
			if fwd == "" {
				fwd = "-"
			}
			health := r.Health
			if r.Role != "real" {
				health = r.Role
			}
			why := r.Why
			if r.Check != nil && r.Health == "down" && r.Check.Reason != "" {
				why += " (" + r.Check.Reason + ")" // what the check said
			}
			fmt.Fprintf(tw, "  -> %s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Real, fwd, weight, active, inactive, health, why)
		}
	}
	tw.Flush()
	if s.VRRP != nil {
		writeVRRPTable(w, *s.VRRP)
	}
}
