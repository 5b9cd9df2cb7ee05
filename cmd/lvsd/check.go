package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/preflight"
)

func init() {
	register(subcommand{name: "check", summary: "validate a configuration and print the resolved plan", run: runCheck})
}

const checkHelp = `usage: lvsd check [--json] [--no-host] [FILE | -]

Reads FILE (ldirectord.cf, keepalived.conf or ocf-lvs TOML; the format is
detected from the content; - reads standard input; no FILE: ldirectord's
default, ` + defaultConfig + `) and prints the resolved plan: one block
per virtual service in the shape of ipvsadm -Ln, with its real servers, the
fallback, and how they are checked (type, port, request, receive and the
effective timeouts, resolved as ldirectord resolves them). Options may
come before or after FILE.

Errors and warnings go to stderr as FILE:LINE: message, all of them at
once, in line order (warnings as FILE:LINE: warning: message).
Then, unless --no-host, the check reads this host as the director and
warns of what would stop it serving the file (docs/preflight.md): IPVS not
loaded, masq reals with IP forwarding off, more on-link reals than the
neighbour table holds, gate (DR) reals in no subnet of its interfaces;
each as FILE:LINE: warning: message (fix: ...).
Exit status: 0 valid, 2 invalid (every error printed as FILE:LINE: message)
or a usage error; warnings do not change it.

options:
`

// defaultConfig is ldirectord's default configuration file.
const defaultConfig = "/etc/ha.d/ldirectord.cf"

// checkStdin is what "lvsd check -" reads (a variable for tests).
var checkStdin io.Reader = os.Stdin

func runCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	asJSON := fs.Bool("json", false, "print the resolved configuration as JSON (the configuration's key names)")
	noHost := fs.Bool("no-host", false, "do not check this host as the director (ip_vs, forwarding, neighbour table, interfaces)")
	showSecrets := fs.Bool("show-secrets", false, "print passwords and secrets (passwd, secret, auth_pass) as written; by default the plan shows *** for each one set")
	files, code, done := parseInterleaved(fs, checkHelp, args, stdout)
	if done {
		return code
	}
	path := defaultConfig
	switch len(files) {
	case 0:
	case 1:
		path = files[0]
	default:
		fmt.Fprintf(stderr, "lvsd check: one FILE, not %d (%s)\n", len(files), strings.Join(files, " "))
		return 2
	}
	cfg, ok := loadArg("check", path, stderr)
	if !ok {
		return 2
	}
	if !*noHost {
		preflightReport(cfg, hostFacts(), stderr)
	}
	if !*showSecrets {
		maskSecrets(cfg)
	}
	var err error
	if *asJSON {
		err = config.WriteJSON(stdout, cfg)
	} else {
		err = config.WriteTable(stdout, cfg)
	}
	if err != nil {
		fmt.Fprintf(stderr, "lvsd check: %v\n", err)
		return 1
	}
	return 0
}

// parseInterleaved parses flags wherever they are among the arguments
// (lvsd check FILE --json), returning the others. done: return code
// (--help: 0 on stdout; a bad flag: 2, the reason then the usage on stderr).
func parseInterleaved(fs *flag.FlagSet, help string, args []string, stdout io.Writer) (files []string, code int, done bool) {
	stderr := fs.Output()
	fs.Usage = func() {} // printed below, once, where it belongs
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				printUsage(stdout, fs, help)
				return nil, 0, true
			}
			printUsage(stderr, fs, help) // flag printed the reason first
			return nil, 2, true
		}
		rest := fs.Args()
		// flag stops at the first argument that is not a flag, and after "--"
		if n := len(args) - len(rest); n > 0 && args[n-1] == "--" {
			return append(files, rest...), 0, false
		}
		if len(rest) == 0 {
			return files, 0, false
		}
		files, args = append(files, rest[0]), rest[1:]
	}
}

// printUsage prints help and the flags as --name (as the docs write them;
// Go's flag package takes both - and --).
func printUsage(w io.Writer, fs *flag.FlagSet, help string) {
	fmt.Fprint(w, help)
	fs.VisitAll(func(f *flag.Flag) {
		fmt.Fprintf(w, "  --%s\n    \t%s\n", f.Name, f.Usage)
	})
}

// loadReport loads a configuration, printing its errors and warnings to
// stderr in file:line order (warnings too when there are errors: one run
// shows everything to fix).
func loadReport(path string, stderr io.Writer) (*config.Config, bool) {
	return report(config.Load(path))(stderr)
}

// report prints what config.Load or Parse returned.
func report(cfg *config.Config, err error) func(io.Writer) (*config.Config, bool) {
	return func(stderr io.Writer) (*config.Config, bool) {
		if err != nil {
			var inv *config.Invalid
			var errs config.Errors
			switch {
			case errors.As(err, &inv):
				printDiags(stderr, inv.Errors, inv.Warnings)
			case errors.As(err, &errs):
				printDiags(stderr, errs, nil)
			default:
				fmt.Fprintf(stderr, "%v\n", err)
			}
			return nil, false
		}
		printDiags(stderr, nil, cfg.Warnings)
		return cfg, true
	}
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

// maskSecrets replaces the configuration's passwords and secrets with
// "***" (they were read: the plan says which are set), so that a plan
// pasted into a ticket or a CI log carries none; --show-secrets keeps
// them. cfg is printed and dropped after this.
func maskSecrets(cfg *config.Config) {
	mask := func(s *string) {
		if *s != "" {
			*s = "***"
		}
	}
	var check func(c *config.Check)
	check = func(c *config.Check) {
		mask(&c.Passwd)
		mask(&c.Secret)
		for i := range c.Also {
			check(&c.Also[i])
		}
	}
	for _, v := range cfg.Virtuals {
		check(&v.Check)
		for _, r := range v.Reals {
			if r.Check != nil {
				check(r.Check)
			}
		}
	}
	for _, in := range cfg.VRRP {
		mask(&in.AuthPass)
	}
}

// loadArg reads FILE as lvsd check and migrate take it: "-" is standard
// input; errors and warnings go to stderr.
func loadArg(cmd, path string, stderr io.Writer) (*config.Config, bool) {
	if path != "-" {
		return loadReport(path, stderr)
	}
	data, err := io.ReadAll(checkStdin)
	if err != nil {
		fmt.Fprintf(stderr, "lvsd %s: standard input: %v\n", cmd, err)
		return nil, false
	}
	return report(config.Parse("<stdin>", data))(stderr)
}
