package director

import (
	"bufio"
	"io"
	"os"
	"os/signal"
	"regexp"
	"strings"
	"syscall"
	"time"

	gsyslog "github.com/hashicorp/go-syslog"
)

// lvsd logs on stderr. With a file named as the configuration's logfile
// that is the file itself; with a syslog facility (ldirectord's
// logfile="local0") the agent, which exits after start, leaves this small
// relay behind: the agent's own binary run as `director __syslog-relay
// FACILITY TAG`, reading lvsd's stderr. While start waits it also echoes
// the lines to the agent on its stdout, so a failed start can say why.

const relayArg = "__syslog-relay"

// Main is the agent's main: the relay mode, or the OCF agent.
func Main() {
	if len(os.Args) >= 4 && os.Args[1] == relayArg {
		os.Exit(relayMain(os.Args[2:]))
	}
	ocfMain()
}

// syslogFacilities are the names ldirectord and go-syslog accept.
var syslogFacilities = map[string]bool{
	"kern": true, "user": true, "mail": true, "daemon": true, "auth": true, "syslog": true,
	"lpr": true, "news": true, "uucp": true, "cron": true, "authpriv": true, "ftp": true,
	"local0": true, "local1": true, "local2": true, "local3": true,
	"local4": true, "local5": true, "local6": true, "local7": true,
}

// logTarget says where lvsd's log goes for a configuration's logfile: a
// file (an absolute path) or a syslog facility; ok is false when the
// value is neither (the caller falls back to syslog daemon and says so).
func logTarget(logfile string) (file, facility string, ok bool) {
	switch {
	case strings.HasPrefix(logfile, "/"):
		return logfile, "", true
	case syslogFacilities[strings.ToLower(logfile)]:
		return "", strings.ToLower(logfile), true
	}
	return "", "daemon", false
}

// relayMain: args FACILITY TAG [NETWORK ADDRESS] (the last two for tests:
// a syslog socket other than /dev/log).
func relayMain(args []string) int {
	// Outlive lvsd's last lines: a shutdown's SIGTERM to every process must
	// not take the relay first (lvsd would lose its cleanstop log, and die
	// of SIGPIPE writing it). EOF on stdin, when lvsd exits, ends it.
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP, syscall.SIGINT, syscall.SIGTERM)
	facility, tag := args[0], args[1]
	dial := func() (gsyslog.Syslogger, error) {
		if len(args) >= 4 {
			return gsyslog.DialLogger(args[2], args[3], gsyslog.LOG_INFO, facility, tag)
		}
		return gsyslog.NewLogger(gsyslog.LOG_INFO, facility, tag)
	}
	relay(os.Stdin, os.Stdout, dial)
	return 0
}

// relay copies lines from in to syslog (connecting again at most every
// 10 s while syslog is away) and to echo until echo fails (the agent
// closed its end once lvsd was ready).
func relay(in io.Reader, echo io.Writer, dial func() (gsyslog.Syslogger, error)) {
	var sys gsyslog.Syslogger
	var tried time.Time
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if echo != nil {
			if _, err := io.WriteString(echo, line+"\n"); err != nil {
				echo = nil
			}
		}
		if sys == nil && time.Since(tried) > 10*time.Second {
			tried = time.Now()
			sys, _ = dial()
		}
		if sys != nil {
			if err := sys.WriteLevel(levelOf(line), []byte(stripStamp(line))); err != nil {
				sys.Close()
				sys = nil
			}
		}
	}
	if sys != nil {
		sys.Close()
	}
}

var fileLine = regexp.MustCompile(`^[^ ]+:[0-9]+: `)

// levelOf is a syslog level for one of lvsd's lines.
func levelOf(line string) gsyslog.Priority {
	l := stripStamp(line)
	switch {
	case strings.HasPrefix(l, "down ") || strings.HasPrefix(l, "repair:") || strings.Contains(l, "warning:"):
		return gsyslog.LOG_WARNING
	case strings.HasPrefix(l, "error:") || strings.Contains(l, "lvsd run: ") || fileLine.MatchString(l):
		return gsyslog.LOG_ERR // lvsd run's own messages are its failures; FILE:LINE a refused file's errors
	}
	return gsyslog.LOG_INFO
}
