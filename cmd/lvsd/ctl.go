package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/director"
)

func init() {
	register(subcommand{name: "ctl", summary: "runtime overrides of a running director: disable, enable, drain REAL [VIRTUAL]; weight REAL N", run: ctlRun})
}

const ctlHelp = `usage: lvsd ctl [options] [CONFIG] disable|enable|drain REAL [VIRTUAL]
       lvsd ctl [options] [CONFIG] weight REAL N [VIRTUAL]

Overrides the health checks of a running director for one real, without
editing its file (keepalived has no such thing, its issue #2609):

  disable  the real leaves the table, as a down real does (its
           established connections are cut, as at any delete)
  drain    the real stays at weight 0: no new connections, the
           established ones go on until they end
  weight   the real has weight N (0-65535) instead of the configured one
           while its check passes
  enable   removes the overrides of the real: the checks alone decide

REAL is an address (every port of it) or address:port, [v6]:port for
IPv6. VIRTUAL limits the override to one virtual service, named as
lvsd status prints it (tcp:192.0.2.1:80, fwm:5) or as ip:port when one
protocol alone has it; without it the override holds in every virtual
of the configuration that has the real. The most specific override of a
real wins: enable REAL VIRTUAL under disable REAL makes an exception.

A disabled or drained real does not count as up: when none is left, the
fallback (sorry server) stands in. Checks go on meanwhile, so enable puts
back a real that passes at once.

Overrides take effect before the command returns, are shown by lvsd
status (and --json), and are kept across reloads and restarts in
NAME.overrides next to the state file (/run/lvsd/NAME.overrides), until
enable removes them. An override for a real that a reload removed is
kept, marked as matching nothing, in case it comes back.

CONFIG picks the director (its file's name: ldirectord.cf or a path);
without it, the only director running. Exit status: 0 done, 1 refused
(no such real or virtual: the message names those that exist; no
director running), 2 usage.

options:
`

var ctlVerbs = map[string]bool{"disable": true, "enable": true, "drain": true, "weight": true}

func ctlRun(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("ctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	sock := fs.String("socket", "", "the director's control socket (default /run/lvsd/NAME.sock)")
	usage := func(w io.Writer) {
		fmt.Fprint(w, ctlHelp)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0
		}
		usage(stderr)
		return 2
	}
	rest := fs.Args()
	config := ""
	if len(rest) > 0 && !ctlVerbs[rest[0]] {
		config, rest = rest[0], rest[1:]
	}
	o, err := director.ParseOverride(rest)
	if err != nil {
		fmt.Fprintf(stderr, "lvsd ctl: %v\n\n", err)
		usage(stderr)
		return 2
	}
	path := *sock
	if path == "" {
		if path, err = ctlSocket(config); err != nil {
			fmt.Fprintf(stderr, "lvsd ctl: %v\n", err)
			return 1
		}
	}
	ans, err := ask(path, "ctl "+o.String())
	if err != nil {
		fmt.Fprintf(stderr, "lvsd ctl: %v\n", err)
		return 1
	}
	ans = strings.TrimSpace(ans)
	if msg, ok := strings.CutPrefix(ans, "ok: "); ok {
		fmt.Fprintln(stdout, msg)
		return 0
	}
	fmt.Fprintf(stderr, "lvsd ctl: %s\n", strings.TrimPrefix(ans, "error: "))
	return 1
}

// runDir is where the directors' sockets, pid and state files are.
func runDir() string {
	if ldRunDir != "" {
		return ldRunDir
	}
	return "/run/lvsd"
}

// agentSockets are the control sockets of directors ocf:lvs:director
// started (in HA_RSCTMP, as the agent names them).
func agentSockets() []string {
	dir := os.Getenv("HA_RSCTMP")
	if dir == "" {
		dir = "/run/resource-agents"
	}
	socks, _ := filepath.Glob(filepath.Join(dir, "director-*.sock"))
	return socks
}

// agentSocket is the socket of a director the cluster runs for config
// ("" if none answers): the one whose status names the same file.
func agentSocket(config string) string {
	if p, err := lookupConfig(config); err == nil {
		config = p
	}
	want, _ := filepath.Abs(config)
	for _, s := range agentSockets() {
		ans, err := ask(s, "status")
		if err != nil {
			continue
		}
		var st statusJSON
		if json.Unmarshal([]byte(ans), &st) != nil {
			continue
		}
		if got, _ := filepath.Abs(st.Config); got == want {
			return s
		}
	}
	return ""
}

// ctlSocket is the control socket of CONFIG's director (lvsd's own, else
// one the cluster runs for that file); without CONFIG, that of the only
// director running.
func ctlSocket(config string) (string, error) {
	if config != "" {
		own := filepath.Join(runDir(), instanceName(config)+".sock")
		if _, err := ask(own, "ping"); err != nil {
			if s := agentSocket(config); s != "" {
				return s, nil
			}
		}
		return own, nil
	}
	socks, _ := filepath.Glob(filepath.Join(runDir(), "*.sock"))
	socks = append(socks, agentSockets()...)
	var live []string
	for _, s := range socks {
		if _, err := ask(s, "ping"); err == nil {
			live = append(live, s)
		}
	}
	switch len(live) {
	case 0:
		return "", fmt.Errorf("no lvsd running (no control socket answers in %s, nor one of ocf:lvs:director's)", runDir())
	case 1:
		return live[0], nil
	}
	var names []string
	for _, s := range live {
		names = append(names, strings.TrimSuffix(filepath.Base(s), ".sock"))
	}
	sort.Strings(names)
	return "", fmt.Errorf("%d directors running (%s): name one as CONFIG", len(live), strings.Join(names, ", "))
}

// overridesPath is where a director keeps its overrides: next to its
// state file.
func overridesPath(statePath, config string) string {
	return filepath.Join(filepath.Dir(statePath), instanceName(config)+".overrides")
}

// readOverrides reads an overrides file: one lvsd ctl command a line,
// # comments. A line it cannot read is reported as FILE:LINE and skipped.
func readOverrides(path string) (director.Overrides, []string) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, []string{fmt.Sprintf("%s: %v (no overrides)", path, err)}
	}
	var out director.Overrides
	var bad []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		o, err := director.ParseOverride(strings.Fields(line))
		if err != nil {
			bad = append(bad, fmt.Sprintf("%s:%d: %v (line ignored)", path, n, err))
			continue
		}
		out = out.With(o)
	}
	return out, bad
}

// writeOverrides replaces the overrides file atomically (no file when
// there is none).
func writeOverrides(path, config string, os_ director.Overrides) error {
	if len(os_) == 0 {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "# lvsd ctl overrides of %s, in the order set: written by lvsd,\n# removed by lvsd ctl enable REAL. One lvsd ctl command a line.\n", config)
	for _, o := range os_ {
		fmt.Fprintln(&b, o.String())
	}
	return writeAtomic(path, b.Bytes(), 0o644)
}

// writeAtomic replaces path with data: written to a temporary file in the
// same directory, then renamed, so that a reader (or a crash) never sees
// half a file.
func writeAtomic(path string, data []byte, mode os.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+"-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
