package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"sort"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/preflight"
)

func init() {
	register(subcommand{name: "check", summary: "validate a configuration and print the resolved plan", run: runCheck})
}

const checkHelp = `usage: lvsd check [--json] [--no-host] FILE

Reads FILE (ldirectord.cf, keepalived.conf or ocf-lvs TOML; the format is
detected from the content) and prints the resolved plan: one block per
virtual service in the shape of ipvsadm -Ln, with its real servers, the
fallback, and how they are checked (type, port, request, receive and the
effective timeouts, resolved as ldirectord resolves them).

Warnings (input accepted leniently) go to stderr as FILE:LINE: message.
Then, unless --no-host, the check reads this host as the director and
warns of what would stop it serving the file (docs/preflight.md): IPVS not
loaded, masq reals with IP forwarding off, more on-link reals than the
neighbour table holds, gate (DR) reals in no subnet of its interfaces;
each as FILE:LINE: warning: message (fix: ...).
Exit status: 0 valid, 2 invalid (every error printed as FILE:LINE: message);
warnings do not change it.

options:
`

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the resolved configuration as JSON")
	noHost := fs.Bool("no-host", false, "do not check this host as the director (ip_vs, forwarding, neighbour table, interfaces)")
	if code, done := parseFileArg(fs, checkHelp, args, stdout); done {
		return code
	}
	cfg, ok := loadReport(fs.Arg(0), stderr)
	if !ok {
		return 2
	}
	if !*noHost {
		preflightReport(cfg, hostFacts(), stderr)
	}
	var err error
	if *asJSON {
		err = config.WriteJSON(stdout, cfg)
	} else {
		err = config.WritePlan(stdout, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lvsd check: %v\n", err)
		return 1
	}
	return 0
}

// loadReport loads a configuration, printing its errors and warnings to
// stderr in file:line order (warnings too when there are errors: one run
// shows everything to fix).
func loadReport(path string, stderr io.Writer) (*config.Config, bool) {
	cfg, err := config.Load(path)
	if err != nil {
		var inv *config.Invalid
		var errs config.Errors
		switch {
		case errors.As(err, &inv):
			printDiags(stderr, inv.Errors, inv.Warnings)
		case errors.As(err, &errs):
			printDiags(stderr, errs, nil)
		default:
			fmt.Fprintf(stderr, "%s: %v\n", path, err)
		}
		return nil, false
	}
	printDiags(stderr, nil, cfg.Warnings)
	return cfg, true
}

// printDiags merges errors and warnings by file and line.
func printDiags(w io.Writer, errs, warns []config.Diag) {
	type item struct {
		d    config.Diag
		warn bool
	}
	all := make([]item, 0, len(errs)+len(warns))
	for _, d := range errs {
		all = append(all, item{d, false})
	}
	for _, d := range warns {
		all = append(all, item{d, true})
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i].d, all[j].d
		if a.File != b.File {
			return a.File < b.File
		}
		return a.Line < b.Line
	})
	for _, it := range all {
		if it.warn {
			fmt.Fprintf(w, "%s: warning: %s\n", fileLine(it.d), it.d.Msg)
		} else {
			fmt.Fprintf(w, "%s\n", it.d)
		}
	}
}

func fileLine(d config.Diag) string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d", d.File, d.Line)
	}
	return d.File
}

// hostFacts reads the director's facts (a variable so that tests can give
// lvsd check a host of their own).
var hostFacts = preflight.ReadFacts

// preflightReport prints the preflight warnings for cfg on a host with
// facts f, and what of the host could not be read.
func preflightReport(cfg *config.Config, f preflight.Facts, stderr io.Writer) {
	for _, err := range f.Errors {
		fmt.Fprintf(stderr, "lvsd: preflight: cannot read %v\n", err)
	}
	for _, w := range preflight.Check(cfg, f) {
		fmt.Fprintln(stderr, w)
	}
}
