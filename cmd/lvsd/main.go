// lvsd is the ocf-lvs daemon and its operator subcommands. Each subcommand
// lives in its own file and registers itself in init.
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"

	"github.com/ocf-lvs/ocf-lvs/internal/version"
)

// subcommand is one `lvsd NAME ...` verb.
type subcommand struct {
	name    string
	summary string // one line for the top-level help
	run     func(args []string, stdout, stderr io.Writer) int
}

var subcommands = map[string]subcommand{}

func register(c subcommand) { subcommands[c.name] = c }

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: lvsd COMMAND [options] [FILE]")
	fmt.Fprintln(w, "       lvsd [-d] [CONFIG] start|stop|restart|try-restart|reload|force-reload|status (as ldirectord)")
	fmt.Fprintln(w, "\nLinux Virtual Server director: reads ldirectord.cf, keepalived.conf or")
	fmt.Fprintln(w, "ocf-lvs TOML, health-checks real servers and programs kernel IPVS.")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(w, "\n`lvsd COMMAND --help` describes a command; `lvsd --version` prints the version.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	// Under the name ldirectord, `lvsd [-d] CONFIG start`, and what
	// `lvsd start` leaves running (ldirectord.go).
	if code, done := ldirectordDispatch(os.Args[0], args, stdout, stderr); done {
		return code
	}
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
		return 0
	case "--version", "version":
		fmt.Fprintln(stdout, "lvsd (ocf-lvs) "+version.String())
		return 0
	}
	c, ok := subcommands[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "lvsd: unknown command %q\n\n", args[0])
		usage(stderr)
		return 2
	}
	return c.run(args[1:], stdout, stderr)
}

// parseFileArg parses a subcommand's flags and requires exactly one FILE.
// done is true when the caller must return code: --help (0, on stdout) or
// a usage error (2, usage on stderr).
func parseFileArg(fs *flag.FlagSet, help string, args []string, stdout io.Writer) (code int, done bool) {
	stderr := fs.Output()
	usage := func(w io.Writer) {
		fmt.Fprint(w, help)
		fs.SetOutput(w)
		fs.PrintDefaults()
		fs.SetOutput(stderr)
	}
	// flag.Parse calls Usage itself (on stderr) before returning ErrHelp:
	// silence it so --help prints once, on stdout.
	fs.Usage = func() {}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			usage(stdout)
			return 0, true
		}
		usage(stderr)
		return 2, true
	}
	if fs.NArg() != 1 {
		usage(stderr)
		return 2, true
	}
	return 0, false
}
