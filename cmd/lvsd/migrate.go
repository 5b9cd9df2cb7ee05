package main

import (
	"flag"
	"fmt"
	"io"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

func init() {
	register(subcommand{name: "migrate", summary: "print an ldirectord.cf or keepalived.conf as ocf-lvs TOML", run: runMigrate})
}

const migrateHelp = `usage: lvsd migrate FILE > lvs.toml

Reads FILE (ldirectord.cf, keepalived.conf, or TOML; - for standard input;
a keepalived.conf with include lines needs its path) and prints the
equivalent ocf-lvs TOML on stdout. ` + "`lvsd check`" + ` of the output prints the
same plan as of FILE. Host and service names are resolved once, as
ldirectord does, and written as addresses and port numbers. What the
source says that ocf-lvs cannot express is reported on stderr, line by line.

Exit status: 0 done, 2 FILE is invalid (errors as FILE:LINE: message).
`

func runMigrate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	if code, done := parseFileArg(fs, migrateHelp, args, stdout); done {
		return code
	}
	cfg, ok := loadArg("migrate", fs.Arg(0), stderr)
	if !ok {
		return 2
	}
	if err := config.WriteTOML(stdout, cfg); err != nil {
		fmt.Fprintf(stderr, "lvsd migrate: %v\n", err)
		return 1
	}
	return 0
}
