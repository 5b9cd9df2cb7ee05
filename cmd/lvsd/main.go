// lvsd is the ocf-lvs daemon and its operator subcommands. Each subcommand
// lives in its own file and registers itself in init.
package main

import (
	"fmt"
	"io"
	"os"
	"sort"
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
	fmt.Fprintln(w, "\nLinux Virtual Server director: reads ldirectord.cf, keepalived.conf or")
	fmt.Fprintln(w, "ocf-lvs TOML, health-checks real servers and programs kernel IPVS.")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, subcommands[n].summary)
	}
	fmt.Fprintln(w, "\n`lvsd COMMAND --help` describes a command.")
}

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		usage(stderr)
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		usage(stdout)
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
