package main

// ldirectord's command line:
//
//	ldirectord [-d] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status
//
// lvsd takes it as it is when it runs under the name ldirectord (a
// symlink), so that ocf:heartbeat:ldirectord and init scripts drive it
// unchanged; as lvsd, both `lvsd [-d] CONFIG start` and `lvsd start
// [CONFIG]` work. The config lookup, the exit codes and the messages that
// scripts match are ldirectord's (see docs/daemon.md); the differences are
// that start returns once the daemon is ready, stop waits for it to end,
// and reload reads the file before signalling.

import (
	"bufio"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	gsyslog "github.com/hashicorp/go-syslog"

	"github.com/ocf-lvs/ocf-lvs/internal/version"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// ldCommands are ldirectord's commands.
var ldCommands = []string{"start", "stop", "restart", "try-restart", "reload", "force-reload", "status"}

func isLdCommand(s string) bool {
	for _, c := range ldCommands {
		if s == c {
			return true
		}
	}
	return false
}

func init() {
	for _, c := range ldCommands {
		c := c
		var summary string
		switch c {
		case "start":
			summary = "start the director for CONFIG in the background (ldirectord's start; -d: foreground)"
		case "stop":
			summary = "stop the director for CONFIG and wait until it is gone"
		case "status":
			summary = "is the director for CONFIG running (0), stopped (3), its pid file stale (1)"
		case "reload":
			summary = "check CONFIG, then make the running director reload it"
		case "force-reload":
			summary = "the same as reload"
		case "restart":
			summary = "stop the director for CONFIG if it runs, then start it"
		case "try-restart":
			summary = "restart the director for CONFIG only if it is running"
		}
		register(subcommand{name: c, summary: summary, run: func(args []string, stdout, stderr io.Writer) int {
			return ldSubcommand(c, args, stdout, stderr)
		}})
	}
}

// Test seams: where ldirectord looks for a relative CONFIG, the run
// directory (pid file, socket, state; "" = lvsd run's default /run/lvsd),
// how long start waits for the daemon's first pass and stop for its end.
var (
	haDirs    = []string{"/etc/ha.d", "/etc/ha.d/conf"}
	ldRunDir  = ""
	startWait = 60 * time.Second
	stopWait  = 30 * time.Second
)

// The hidden modes of the binary: the detached daemon of an ldirectord
// start (its command line stays ldirectord's, see daemonArgv) and the log
// writer of a detached daemon.
const (
	envRunArgs   = "LVSD_RUN_ARGS"
	logRelayName = "lvsd-log"
)

// ldirectordDispatch takes the command lines that are not lvsd's own
// subcommands: under the name ldirectord, the daemon and log writer that
// start leaves behind, and `lvsd [-d] CONFIG COMMAND`. done is false when
// args are for lvsd's subcommands.
func ldirectordDispatch(argv0 string, args []string, stdout, stderr io.Writer) (code int, done bool) {
	if a := os.Getenv(envRunArgs); a != "" {
		os.Unsetenv(envRunArgs) // not for the checks and commands it runs
		var runArgs []string
		if err := json.Unmarshal([]byte(a), &runArgs); err != nil {
			fmt.Fprintf(stderr, "lvsd: %s: %v\n", envRunArgs, err)
			return 2, true
		}
		return runRun(runArgs, stdout, stderr), true
	}
	switch filepath.Base(argv0) {
	case logRelayName:
		return logRelay(args), true
	case "ldirectord":
		return ldirectordMain(argv0, args, stdout, stderr), true
	}
	if len(args) == 0 {
		return 0, false
	}
	if _, ok := subcommands[args[0]]; ok {
		return 0, false
	}
	switch {
	case args[0] == "-d" || args[0] == "--debug" || args[0] == "--",
		len(args) >= 2 && isLdCommand(args[1]) && !strings.HasPrefix(args[0], "-"):
		return ldLvsdConfigFirst(argv0, args, stdout, stderr), true
	}
	return 0, false
}

// ldUsage is ldirectord's own usage (pod2usage of its SYNOPSIS and OPTIONS).
const ldUsage = `Usage:
    ldirectord [-d|--debug] [--] [configfile] start | stop | restart |
    try-restart | reload | force-reload | status

    ldirectord [-h|-?|--help|-v|--version]

Options:
    configuration: This is the name for the configuration as specified in
    the file /etc/ha.d/conf/configuration

    -d|--debug Don't start as daemon and log verbosely.

    -h|--help Print user manual and exit.

    -v|--version Print version and exit.

    start the daemon for the specified configuration.

    stop the daemon for the specified configuration. This is the same as
    sending a TERM signal to the running daemon.

    restart the daemon for the specified configuration. The same as stopping
    and starting.

    reload the configuration file. This is only useful for modifications
    inside a virtual server entry. It will have no effect on adding or
    removing a virtual server block. This is the same as sending a HUP
    signal to the running daemon.

    status of the running daemon for the specified configuration.
`

const ldHelpTail = `
This is lvsd (ocf-lvs) under the name ldirectord: the same command line,
configuration lookup (/etc/ha.d/CONFIG, /etc/ha.d/conf/CONFIG, then CONFIG;
default ldirectord.cf) and exit codes, so ocf:heartbeat:ldirectord drives it
unchanged. Unlike ldirectord, start returns once the daemon has made its
first pass over the kernel table, stop waits until it is gone (30 s at
most), and reload checks the file first (errors as FILE:LINE; the running
daemon keeps its configuration). A reload adds and removes virtual services
too. Pid file /run/lvsd/NAME.pid, NAME the file's base name.

Exit status: 0 done (status: running), 1 failed (status: stale pid file;
reload: not running; CONFIG not found), 2 CONFIG has errors (every command),
3 status: stopped, 255 usage.
`

const ldLvsdHelp = `usage: lvsd [-d] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status
       lvsd start|restart|try-restart [-d] [CONFIG]
       lvsd stop|reload|force-reload [CONFIG]
       lvsd status [--json] [CONFIG]

ldirectord's commands for one director, as ldirectord has them: CONFIG
(default ldirectord.cf) is looked up as /etc/ha.d/CONFIG,
/etc/ha.d/conf/CONFIG, then as given, and read before any command.

  start    runs ` + "`lvsd run CONFIG`" + ` in the background and returns once it
           has made its first pass over the kernel table (or with the
           daemon's last lines if it ends first); already running: 0.
           Its log goes to the configuration's logfile (a path, reopened
           when rotated away) or to syslog (logfile=local0 and the like).
           -d (or supervised=yes) runs it in the foreground instead.
  stop     SIGTERM, then waits until it is gone (cleanstop done), 30 s
           at most; not running: 0.
  restart  stop, then start; try-restart: only if it was running.
  reload   reads CONFIG first: errors are printed as FILE:LINE and the
           running director keeps its configuration (exit 1); else it
           reloads (through its control socket, SIGHUP without one).
  status   running 0, stopped 3, stale pid file 1 (--json: the running
           director's state from its control socket).

Pid file /run/lvsd/NAME.pid, NAME the base name of CONFIG.

Exit status: 0 done; 1 failed, not running (reload), a reload the running
director refused (its FILE:LINE errors printed; under the name ldirectord
2, as ldirectord), a stale pid file (status) or CONFIG not found; 2 CONFIG
is invalid (the other commands, errors as FILE:LINE: message) or a usage
error; 3 stopped (status).
`

// ldArgs is one parsed command line.
type ldArgs struct {
	config  string // as given (ldirectord.cf when none)
	command string
	debug   bool
	json    bool
	stats   bool
}

// ldOutcome of parsing ldirectord's command line other than a command.
type ldOutcome int

const (
	ldCommandLine ldOutcome = iota
	ldUsageErr
	ldHelp
	ldVersion
)

// parseLdirectordArgs parses ldirectord's command line as its Getopt::Long
// (bundling, require_order: options only before CONFIG) and ld_init do:
// one argument is the command, two are CONFIG and the command, more are
// ignored. msg explains a usage error.
func parseLdirectordArgs(args []string) (a ldArgs, out ldOutcome, msg string) {
	a.config = "ldirectord.cf"
	var help, version bool
	i := 0
opts:
	for ; i < len(args); i++ {
		s := args[i]
		switch {
		case s == "--":
			i++
			break opts
		case s == "--debug":
			a.debug = true
		case s == "--help":
			help = true
		case s == "--version":
			version = true
		case strings.HasPrefix(s, "--"):
			return a, ldUsageErr, "Unknown option: " + strings.TrimPrefix(s, "--")
		case strings.HasPrefix(s, "-") && s != "-":
			for _, c := range s[1:] {
				switch c {
				case 'd':
					a.debug = true
				case 'h', '?':
					help = true
				case 'v':
					version = true
				default:
					return a, ldUsageErr, "Unknown option: " + string(c)
				}
			}
		default:
			break opts
		}
	}
	if help {
		return a, ldHelp, ""
	}
	if version {
		return a, ldVersion, ""
	}
	rest := args[i:]
	switch len(rest) {
	case 0:
		return a, ldUsageErr, ""
	case 1:
		a.command = rest[0]
	default:
		a.config, a.command = rest[0], rest[1]
	}
	if !isLdCommand(a.command) {
		return a, ldUsageErr, ""
	}
	return a, ldCommandLine, ""
}

func versionLine() string {
	return "lvsd (ocf-lvs) " + version.String() + ", with ldirectord's command line"
}

// ldirectordMain is lvsd run as ldirectord: its command line, usage (exit
// 255 as pod2usage's -1) and exit codes.
func ldirectordMain(argv0 string, args []string, stdout, stderr io.Writer) int {
	a, out, msg := parseLdirectordArgs(args)
	switch out {
	case ldUsageErr:
		if msg != "" {
			fmt.Fprintln(stderr, msg)
		}
		fmt.Fprint(stderr, ldUsage)
		return 255
	case ldHelp:
		fmt.Fprint(stdout, ldUsage+ldHelpTail)
		return 0
	case ldVersion:
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	c := &ldCtl{prog: "ldirectord", compat: true, argv0: argv0, ldArgs: a, stdout: stdout, stderr: stderr}
	return c.run()
}

// ldLvsdConfigFirst is `lvsd [-d] [--] CONFIG COMMAND`.
func ldLvsdConfigFirst(argv0 string, args []string, stdout, stderr io.Writer) int {
	a, out, msg := parseLdirectordArgs(args)
	switch out {
	case ldUsageErr:
		if msg != "" {
			fmt.Fprintln(stderr, "lvsd: "+msg)
		}
		fmt.Fprint(stderr, ldLvsdHelp)
		return 2
	case ldHelp:
		fmt.Fprint(stdout, ldLvsdHelp)
		return 0
	case ldVersion:
		fmt.Fprintln(stdout, versionLine())
		return 0
	}
	c := &ldCtl{prog: "lvsd", argv0: argv0, ldArgs: a, stdout: stdout, stderr: stderr}
	return c.run()
}

// ldSubcommand is `lvsd COMMAND [options] [CONFIG]`.
func ldSubcommand(command string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(command, flag.ContinueOnError)
	fs.SetOutput(stderr)
	a := ldArgs{config: "ldirectord.cf", command: command}
	switch command {
	case "start", "restart", "try-restart":
		fs.BoolVar(&a.debug, "d", false, "run in the foreground (as lvsd run), as ldirectord -d")
		fs.BoolVar(&a.debug, "debug", false, "the same as -d")
	case "status":
		fs.BoolVar(&a.json, "json", false, "print the running director's state (its control socket's JSON)")
		fs.BoolVar(&a.stats, "stats", false, "print the kernel's counters per virtual and real (connections, packets, bytes), as ipvsadm -Ln --stats")
	}
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, ldLvsdHelp+"\noptions of "+command+":\n")
			fs.SetOutput(stdout)
			fs.PrintDefaults()
			return 0
		}
		fmt.Fprint(stderr, ldLvsdHelp)
		return 2
	}
	switch fs.NArg() {
	case 0:
		if _, err := lookupConfig(a.config); err != nil && command == "status" {
			// no ldirectord.cf: the only director running, whatever its file
			if sock, err := ctlSocket(""); err == nil {
				return statusOf(sock, a, stdout, stderr)
			}
		}
	case 1:
		a.config = fs.Arg(0)
	default:
		fmt.Fprintf(stderr, "lvsd %s: one CONFIG at most\n\n%s", command, ldLvsdHelp)
		return 2
	}
	c := &ldCtl{prog: "lvsd", argv0: os.Args[0], ldArgs: a, stdout: stdout, stderr: stderr}
	return c.run()
}

// statusOf prints the status a director's socket answers (lvsd status
// without CONFIG when the default file does not exist: the only one running).
func statusOf(sock string, a ldArgs, stdout, stderr io.Writer) int {
	ans, err := ask(sock, "status")
	if err != nil {
		fmt.Fprintf(stderr, "lvsd status: %v\n", err)
		return 1
	}
	if a.json {
		fmt.Fprint(stdout, ans)
		return 0
	}
	var s statusJSON
	if err := json.Unmarshal([]byte(ans), &s); err != nil {
		fmt.Fprintf(stderr, "lvsd status: %s: %v\n", sock, err)
		return 1
	}
	if a.stats {
		writeStatsTable(stdout, s)
	} else {
		writeStatusTable(stdout, s)
	}
	return 0
}

// lookupConfig finds CONFIG as ldirectord does: a relative name in
// /etc/ha.d, then /etc/ha.d/conf, then as given (regular files only). An
// absolute path is taken as it is (ldirectord would also try
// /etc/ha.d//abs/path first, a trap nobody means).
func lookupConfig(name string) (string, error) {
	var tried []string
	cands := []string{name}
	if !filepath.IsAbs(name) {
		cands = nil
		for _, d := range haDirs {
			cands = append(cands, filepath.Join(d, name))
		}
		cands = append(cands, name)
	}
	for _, p := range cands {
		if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() {
			return filepath.Abs(p)
		}
		tried = append(tried, p)
	}
	return "", fmt.Errorf("Config file %s not found (looked for %s)", name, strings.Join(tried, ", "))
}

// ldCtl runs one command for one configuration.
type ldCtl struct {
	ldArgs
	prog   string // in messages: ldirectord or lvsd
	compat bool   // invoked as ldirectord: its exit codes and streams exactly
	argv0  string
	path   string // the configuration found, absolute
	cfg    *config.Config
	stdout io.Writer
	stderr io.Writer
}

func (c *ldCtl) run() int {
	p, err := lookupConfig(c.config)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", c.prog, err)
		return 1
	}
	c.path = p
	// As ldirectord: the file is read before any command, and an invalid
	// one fails them all, status and stop included.
	cfg, ok := loadReport(p, c.stderr)
	if !ok {
		if c.command == "reload" || c.command == "force-reload" {
			fmt.Fprintf(c.stderr, "%s: reload refused: %s has errors; a running director keeps its configuration\n", c.prog, p)
			if !c.compat {
				return 1
			}
		}
		return 2
	}
	c.cfg = cfg
	switch c.command {
	case "start":
		return c.start()
	case "stop":
		return c.stop()
	case "restart", "try-restart":
		pid, st := c.state()
		if st != running && c.command == "try-restart" {
			return 0
		}
		if st == running {
			if code := c.stopPid(pid); code != 0 {
				return code
			}
		}
		return c.start()
	case "reload", "force-reload":
		return c.reload()
	case "status":
		return c.status()
	}
	return 2
}

type pidState int

const (
	stopped pidState = iota
	running
	stale // a pid file whose process is not a director
)

func (c *ldCtl) runFile(ext string) string {
	if ldRunDir != "" {
		return filepath.Join(ldRunDir, instanceName(c.path)+ext)
	}
	return runFile("", c.path, ext)
}

func (c *ldCtl) pidFile() string { return c.runFile(".pid") }

// state reads the pid file as ldirectord does: running when the pid is a
// live lvsd (or ldirectord link); a file with anything else is stale.
func (c *ldCtl) state() (int, pidState) {
	b, err := os.ReadFile(c.pidFile())
	if err != nil {
		return 0, stopped
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || !alive(pid) {
		return pid, stale
	}
	return pid, running
}

func (c *ldCtl) status() int {
	pid, st := c.state()
	switch st {
	case running:
		if c.compat {
			fmt.Fprintf(c.stderr, "ldirectord for %s is running with pid: %d\n", c.path, pid)
			return 0
		}
		c.running(fmt.Sprintf("with pid: %d", pid))
		// pid alive: running, as ldirectord; the socket is extra
		if ans, err := ask(c.runFile(".sock"), "status"); err == nil {
			c.printStatus(ans)
		}
		return 0
	case stale:
		// The agent matches "ldirectord stale pid file" (then: not running).
		fmt.Fprintf(c.stderr, "%s stale pid file %s for %s\n", c.prog, c.pidFile(), c.path)
		fmt.Fprintf(c.stdout, "%s is stopped for %s\n", c.prog, c.path)
		return 1
	}
	if sock := agentSocket(c.path); sock != "" && !c.compat {
		return c.clusterStatus(sock)
	}
	fmt.Fprintf(c.stdout, "%s is stopped for %s\n", c.prog, c.path)
	return 3
}

// clusterStatus is status for a director ocf:lvs:director runs for the
// file (its run files are the cluster's, not /run/lvsd's).
func (c *ldCtl) clusterStatus(sock string) int {
	ans, err := ask(sock, "status")
	if err != nil {
		fmt.Fprintf(c.stdout, "%s is stopped for %s\n", c.prog, c.path)
		return 3
	}
	c.running("under the cluster (ocf:lvs:director, socket " + sock + ")")
	c.printStatus(ans)
	return 0
}

// running says the director runs (how); with --json on stderr, so that
// stdout holds the JSON alone (| jq).
func (c *ldCtl) running(how string) {
	line := c.stdout
	if c.json {
		line = c.stderr
	}
	fmt.Fprintf(line, "lvsd for %s is running %s\n", c.path, how)
}

// printStatus prints a status answer: the JSON (--json), the counters
// (--stats) or the table.
func (c *ldCtl) printStatus(ans string) {
	if c.json {
		fmt.Fprint(c.stdout, ans)
		return
	}
	var s statusJSON
	if json.Unmarshal([]byte(ans), &s) == nil {
		if c.stats {
			writeStatsTable(c.stdout, s)
		} else {
			writeStatusTable(c.stdout, s)
		}
	}
}

func (c *ldCtl) stop() int {
	pid, st := c.state()
	if st != running {
		if !c.compat {
			fmt.Fprintf(c.stdout, "lvsd for %s is not running\n", c.path)
		}
		return 0
	}
	return c.stopPid(pid)
}

// stopPid sends SIGTERM and waits until the process is gone: its cleanstop
// is done then. It never escalates to SIGKILL, which would leave the
// table as it is with nobody to say so.
func (c *ldCtl) stopPid(pid int) int {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		fmt.Fprintf(c.stderr, "%s: stop %s: pid %d: %v\n", c.prog, c.path, pid, err)
		return 1
	}
	deadline := time.Now().Add(stopWait)
	for alive(pid) {
		if time.Now().After(deadline) {
			fmt.Fprintf(c.stderr, "%s: stop %s: pid %d is still running %s after SIGTERM; not killed (kill -9 would leave the IPVS table as it is)\n",
				c.prog, c.path, pid, stopWait)
			return 1
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !c.compat {
		fmt.Fprintf(c.stdout, "lvsd for %s stopped (pid %d)\n", c.path, pid)
	}
	return 0
}

func (c *ldCtl) reload() int {
	pid, st := c.state()
	sock := c.runFile(".sock")
	if st != running {
		if sock = agentSocket(c.path); sock == "" || c.compat {
			fmt.Fprintf(c.stderr, "%s is stopped for %s\n", c.prog, c.path)
			return 1
		}
	}
	// The control socket answers when the reload is done, with the
	// daemon's own verdict; without one, ldirectord's SIGHUP.
	if ans, err := ask(sock, "reload"); err == nil {
		if strings.TrimSpace(ans) == "ok" {
			if !c.compat {
				if st == running {
					fmt.Fprintf(c.stdout, "lvsd for %s reloaded (pid %d)\n", c.path, pid)
				} else {
					fmt.Fprintf(c.stdout, "lvsd for %s reloaded (run by the cluster, socket %s)\n", c.path, sock)
				}
			}
			return 0
		}
		fmt.Fprint(c.stderr, ans)
		fmt.Fprintf(c.stderr, "%s: reload refused by pid %d: it keeps its configuration\n", c.prog, pid)
		if c.compat && strings.HasSuffix(strings.TrimSpace(ans), "refused") {
			return 2
		}
		return 1
	}
	if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
		fmt.Fprintf(c.stderr, "%s: reload %s: pid %d: %v\n", c.prog, c.path, pid, err)
		return 1
	}
	if !c.compat {
		fmt.Fprintf(c.stdout, "lvsd for %s: SIGHUP sent to pid %d (no control socket)\n", c.path, pid)
	}
	return 0
}

// runArgs are lvsd run's arguments for this configuration.
func (c *ldCtl) runArgs() []string {
	var a []string
	if ldRunDir != "" {
		a = append(a, "--pidfile", c.runFile(".pid"), "--socket", c.runFile(".sock"), "--state", c.runFile(".state"))
	}
	return append(a, c.path)
}

func (c *ldCtl) start() int {
	if pid, st := c.state(); st == running {
		fmt.Fprintf(c.stderr, "%s for %s is already running with pid: %d\n", c.prog, c.path, pid)
		return 0
	}
	if c.debug || c.cfg.Global.Supervised {
		// ldirectord -d and supervised=yes: in the foreground, logging on
		// stderr; -d with its debug lines, as ldirectord's -d logs verbosely
		args := c.runArgs()
		if c.debug {
			args = append([]string{"--debug"}, args...)
		}
		return runRun(args, c.stdout, c.stderr)
	}
	return c.daemonize()
}

// daemonArgv is the detached daemon's command line. As lvsd it is
// `lvsd run CONFIG`. As ldirectord it stays `ldirectord CONFIG start`, the
// arguments in the environment: the agent's stop finds a daemon whose
// configuration has become invalid with `pgrep -f "$LDIRECTORD $LDIRCONF
// start"`, as it finds ldirectord.
func (c *ldCtl) daemonArgv() (argv, env []string) {
	if c.compat {
		b, _ := json.Marshal(c.runArgs())
		return []string{c.argv0, c.config, "start"}, []string{envRunArgs + "=" + string(b)}
	}
	return append([]string{c.argv0, "run"}, c.runArgs()...), nil
}

var syslogFacilities = regexp.MustCompile(`^(?i:kern|user|mail|daemon|auth|syslog|lpr|news|uucp|cron|authpriv|ftp|local[0-7])$`)

// daemonize starts the daemon detached (its own session, stdin /dev/null,
// cwd /) with its output through a log writer, and waits for its "ready"
// on LVSD_READY_FD. Go cannot fork: the daemon is this binary again.
func (c *ldCtl) daemonize() int {
	self, err := os.Executable()
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", c.prog, err)
		return 1
	}
	target := c.cfg.Global.LogFile
	if strings.HasPrefix(target, "/") {
		// ldirectord opens its log to test it before it starts
		f, err := os.OpenFile(target, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			fmt.Fprintf(c.stderr, "%s: logfile: %v\n", c.prog, err)
			return 1
		}
		f.Close()
	} else if !syslogFacilities.MatchString(target) {
		fmt.Fprintf(c.stderr, "%s: logfile=%q is neither an absolute path nor a syslog facility\n", c.prog, target)
		return 1
	}
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", c.prog, err)
		return 1
	}
	defer devnull.Close()
	// Three pipes: the daemon's output to the log writer, the log writer's
	// copy of it to us, the daemon's ready line to us.
	var fds [6]*os.File
	for i := 0; i < 6; i += 2 {
		if fds[i], fds[i+1], err = os.Pipe(); err != nil {
			fmt.Fprintf(c.stderr, "%s: %v\n", c.prog, err)
			return 1
		}
	}
	defer func() {
		for _, f := range fds {
			f.Close() // twice for some: harmless
		}
	}()
	logR, logW, teeR, teeW, readyR, readyW := fds[0], fds[1], fds[2], fds[3], fds[4], fds[5]

	tag := c.prog
	relay := &exec.Cmd{Path: self, Args: []string{logRelayName, target, tag}, Dir: "/",
		Env: os.Environ(), Stdin: logR, Stdout: devnull, Stderr: devnull, ExtraFiles: []*os.File{teeW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := relay.Start(); err != nil {
		fmt.Fprintf(c.stderr, "%s: log writer: %v\n", c.prog, err)
		return 1
	}
	relayDone := make(chan struct{})
	go func() { relay.Wait(); close(relayDone) }()

	argv, env := c.daemonArgv()
	d := &exec.Cmd{Path: self, Args: argv, Dir: "/",
		Env:   append(envWithout(os.Environ(), "LVSD_READY_FD", envRunArgs), append(env, "LVSD_READY_FD=3")...),
		Stdin: devnull, Stdout: logW, Stderr: logW, ExtraFiles: []*os.File{readyW},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true}}
	if err := d.Start(); err != nil {
		fmt.Fprintf(c.stderr, "%s: %v\n", c.prog, err)
		return 1
	}
	// Only the children hold the write ends now: EOF means they are gone.
	logR.Close()
	logW.Close()
	teeW.Close()
	readyW.Close()

	tail := newTail(20)
	teeDone := make(chan struct{})
	go func() { tail.readFrom(teeR); close(teeDone) }()
	ready := make(chan bool, 1)
	go func() { l, _ := bufio.NewReader(readyR).ReadString('\n'); ready <- l == "ready\n" }()
	exited := make(chan error, 1)
	go func() { exited <- d.Wait() }()

	var why string
	select {
	case ok := <-ready:
		if ok {
			if !c.compat {
				fmt.Fprintf(c.stdout, "lvsd for %s started with pid %d (log: %s)\n", c.path, d.Process.Pid, target)
			}
			return 0 // teeR closes: the log writer stops copying to us
		}
		select { // the descriptor closed without a word: it is ending
		case err := <-exited:
			why = exitWhy(err)
		case <-time.After(5 * time.Second):
			why = "closed LVSD_READY_FD without saying ready"
		}
	case err := <-exited:
		why = exitWhy(err)
	case <-time.After(startWait):
		fmt.Fprintf(c.stderr, "%s: the daemon for %s (pid %d) is not ready after %s; it is left running (%s stop stops it). Its last lines:\n%s",
			c.prog, c.path, d.Process.Pid, startWait, c.prog, tail.String())
		return 1
	}
	// It ended: its last lines reach us once the log writer has them all.
	select {
	case <-teeDone:
	case <-time.After(5 * time.Second):
	}
	select {
	case <-relayDone:
	case <-time.After(time.Second):
	}
	fmt.Fprintf(c.stderr, "%s: the daemon for %s %s before it was ready. Its last lines:\n%s", c.prog, c.path, why, tail.String())
	return 1
}

func exitWhy(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return "ended (" + ee.ProcessState.String() + ")"
	}
	if err == nil {
		return "ended (exit status 0)"
	}
	return "ended (" + err.Error() + ")"
}

func envWithout(env []string, names ...string) []string {
	out := env[:0:0]
	for _, kv := range env {
		keep := true
		for _, n := range names {
			if strings.HasPrefix(kv, n+"=") {
				keep = false
			}
		}
		if keep {
			out = append(out, kv)
		}
	}
	return out
}

// tail keeps the last n lines read.
type tail struct {
	mu    sync.Mutex
	n     int
	lines []string
}

func newTail(n int) *tail { return &tail{n: n} }

func (t *tail) readFrom(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		t.mu.Lock()
		t.lines = append(t.lines, sc.Text())
		if len(t.lines) > t.n {
			t.lines = t.lines[1:]
		}
		t.mu.Unlock()
	}
}

func (t *tail) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	if len(t.lines) == 0 {
		return "  (none)\n"
	}
	return "  " + strings.Join(t.lines, "\n  ") + "\n"
}

// logRelay is the log writer of a detached daemon (argv: lvsd-log TARGET
// TAG): it copies the daemon's output, on stdin, line by line to TARGET, a
// file or a syslog facility, and while the starting command waits, to fd 3
// too (its last lines are shown if the daemon fails to start). It ignores
// the signals that stop the daemon, so that the daemon's last lines (its
// cleanstop) are written; it ends when the daemon's output closes.
func logRelay(args []string) int {
	signal.Ignore(syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM, syscall.SIGQUIT)
	if len(args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: lvsd-log TARGET TAG (started by lvsd start)")
		return 2
	}
	var sink logSink = &fileSink{path: args[0]}
	if !strings.HasPrefix(args[0], "/") {
		sink = &syslogSink{facility: args[0], tag: args[1]}
	}
	var tee io.Writer
	if f := os.NewFile(3, "tee"); f != nil {
		if _, err := f.Stat(); err == nil {
			tee = f
		}
	}
	relayLines(os.Stdin, tee, sink, 10000)
	return 0
}

// logSink takes one line (with its newline).
type logSink interface {
	write(line string)
	close()
}

// relayLines copies lines from r to sink and tee. The reader never waits
// for the sink: a line that finds queue full lines is dropped (and counted
// in the log), so a stuck syslog or log disk never stalls the daemon's
// logging, and so its health checks and IPVS writes. A tee that fails is
// dropped.
func relayLines(r io.Reader, tee io.Writer, sink logSink, queue int) {
	q := make(chan string, queue)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for l := range q {
			sink.write(l)
		}
		sink.close()
	}()
	br := bufio.NewReaderSize(r, 64<<10)
	dropped := 0
	for {
		line, err := br.ReadString('\n')
		if line != "" {
			if !strings.HasSuffix(line, "\n") {
				line += "\n"
			}
			if tee != nil {
				if _, werr := io.WriteString(tee, line); werr != nil {
					tee = nil
				}
			}
			if dropped > 0 {
				select {
				case q <- fmt.Sprintf("lvsd-log: %d lines dropped (the log did not keep up)\n", dropped):
					dropped = 0
				default:
				}
			}
			select {
			case q <- line:
			default:
				dropped++
			}
		}
		if err != nil {
			break
		}
	}
	if dropped > 0 {
		q <- fmt.Sprintf("lvsd-log: %d lines dropped (the log did not keep up)\n", dropped)
	}
	close(q)
	<-done
}

// fileSink appends to a file and reopens it when it was renamed or removed
// (logrotate without copytruncate, as Debian's ldirectord rotation is):
// ldirectord opens its log for every line to the same end.
type fileSink struct {
	path string
	f    *os.File
}

func (s *fileSink) write(line string) {
	if s.f != nil {
		if st, err := os.Stat(s.path); err != nil || !sameFile(st, s.f) {
			s.f.Close()
			s.f = nil
		}
	}
	if s.f == nil {
		f, err := os.OpenFile(s.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
		if err != nil {
			return // nowhere to write it; the next line tries again
		}
		s.f = f
	}
	s.f.WriteString(line)
}

func sameFile(st os.FileInfo, f *os.File) bool {
	fst, err := f.Stat()
	return err == nil && os.SameFile(st, fst)
}

func (s *fileSink) close() {
	if s.f != nil {
		s.f.Close()
	}
}

// syslogSink sends each line to syslog with the daemon's facility,
// without lvsd's own time stamp; it reconnects at most every 5 s while
// syslog is away (lines meanwhile are dropped).
type syslogSink struct {
	facility, tag string
	l             gsyslog.Syslogger
	retry         time.Time
}

var stampRe = regexp.MustCompile(`^\d\d:\d\d:\d\d\.\d\d\d `)

func (s *syslogSink) write(line string) {
	if s.l == nil {
		if time.Now().Before(s.retry) {
			return
		}
		l, err := gsyslog.NewLogger(gsyslog.LOG_INFO, s.facility, s.tag)
		if err != nil {
			s.retry = time.Now().Add(5 * time.Second)
			return
		}
		s.l = l
	}
	msg := stampRe.ReplaceAllString(strings.TrimRight(line, "\n"), "")
	prio := gsyslog.LOG_INFO
	if strings.HasPrefix(msg, "error") || strings.Contains(msg, ": error") {
		prio = gsyslog.LOG_ERR
	}
	if err := s.l.WriteLevel(prio, []byte(msg)); err != nil {
		s.l.Close()
		s.l = nil
	}
}

func (s *syslogSink) close() {
	if s.l != nil {
		s.l.Close()
	}
}
