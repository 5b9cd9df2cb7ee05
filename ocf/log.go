package ocf

import (
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	gsyslog "github.com/hashicorp/go-syslog"
)

// Logger writes agent log lines to stderr (Pacemaker's executor records
// them), to syslog when HA_LOGFACILITY names a facility, and to HA_LOGFILE
// when set. Debug lines appear only with HA_debug set (not 0).
type Logger struct {
	tag      string
	stderr   io.Writer
	debug    bool
	facility string
	logfile  string
	sys      gsyslog.Syslogger
	sysTried bool
}

// NewLogger builds a logger from the OCF environment.
func NewLogger(tag string, env func(string) string, stderr io.Writer) *Logger {
	d := env("HA_debug")
	fac := env("HA_LOGFACILITY")
	if strings.EqualFold(fac, "none") {
		fac = ""
	}
	return &Logger{
		tag:      tag,
		stderr:   stderr,
		debug:    d != "" && d != "0" && !strings.EqualFold(d, "false"),
		facility: fac,
		logfile:  env("HA_LOGFILE"),
	}
}

func (l *Logger) Debug(format string, a ...any) {
	if l.debug {
		l.write(gsyslog.LOG_DEBUG, "DEBUG", format, a...)
	}
}
func (l *Logger) Info(format string, a ...any) { l.write(gsyslog.LOG_INFO, "INFO", format, a...) }
func (l *Logger) Warn(format string, a ...any) {
	l.write(gsyslog.LOG_WARNING, "WARNING", format, a...)
}
func (l *Logger) Error(format string, a ...any) { l.write(gsyslog.LOG_ERR, "ERROR", format, a...) }

func (l *Logger) write(prio gsyslog.Priority, level, format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	fmt.Fprintf(l.stderr, "%s: %s\n", level, msg)
	if l.facility != "" {
		// Connect lazily: most monitor calls never log, and syslog is slow.
		if !l.sysTried {
			l.sysTried = true
			l.sys, _ = gsyslog.NewLogger(gsyslog.LOG_INFO, l.facility, l.tag)
		}
		if l.sys != nil {
			_ = l.sys.WriteLevel(prio, []byte(level+": "+msg))
		}
	}
	if l.logfile != "" {
		if f, err := os.OpenFile(l.logfile, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644); err == nil {
			fmt.Fprintf(f, "%s %s: %s: %s\n", time.Now().Format(time.RFC3339), l.tag, level, msg)
			f.Close()
		}
	}
}

// Close releases the syslog connection.
func (l *Logger) Close() {
	if l.sys != nil {
		l.sys.Close()
	}
}
