package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func init() {
	register(subcommand{name: "apply", summary: "reconcile the kernel IPVS table to a configuration, once", run: runApply})
}

const applyHelp = `usage: lvsd apply [--dry-run] [--state FILE] [--quiet] FILE

One reconcile pass of the kernel IPVS table to FILE (ldirectord.cf,
keepalived.conf or ocf-lvs TOML), every real server taken as up with its
configured weight: a diff-based ipvsadm-restore. No health check is run.

The kernel table is read once, compared with the configuration, and only
the differences are written, one netlink call each:
  - virtual services of FILE missing from the kernel are added with their
    reals; those present are edited in place (never deleted and re-added,
    so established connections survive); reals not in FILE are removed
    from them;
  - any other virtual service is left alone, unless --state names it as
    one this configuration owned before (then it is removed). Nothing is
    ever flushed.

Each operation is printed as an ipvsadm-restore line (ipvsadm -R reads
them), then a summary: services and reals added, edited, removed, and the
netlink writes made. A second run with the same FILE makes zero writes.

Exit status: 0 done, 1 the kernel refused an operation or has no IPVS,
2 FILE is invalid (errors as FILE:LINE: message).

options:
`

func runApply(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apply", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dry := fs.Bool("dry-run", false, "print the operations without applying them (an empty table is assumed when the kernel has no IPVS)")
	state := fs.String("state", "", "JSON file of the virtual services this configuration owns: those no longer in FILE are removed; rewritten after each pass")
	quiet := fs.Bool("quiet", false, "print only the summary")
	timeout := fs.Duration("timeout", ipvs.DefaultTimeout, "deadline of each netlink call")
	if code, done := parseFileArg(fs, applyHelp, args, stdout); done {
		return code
	}
	start := time.Now()
	cfg, ok := loadReport(fs.Arg(0), stderr)
	if !ok {
		return 2
	}
	table := director.Table(cfg, director.Input{Health: director.AllUp})
	owned, err := readState(*state)
	if err != nil {
		fmt.Fprintf(stderr, "lvsd apply: %v\n", err)
		return 1
	}

	var k ipvs.Kernel
	nl, err := ipvs.OpenNetlink()
	switch {
	case err == nil:
		nl.Timeout = *timeout
		defer nl.Close()
		k = nl
	case *dry && errors.Is(err, ipvs.ErrNoIPVS):
		fmt.Fprintf(stderr, "lvsd apply: %v; planning against an empty table\n", err)
		k = emptyKernel{}
	default:
		fmt.Fprintf(stderr, "lvsd apply: %v\n", err)
		return 1
	}

	res, err := ipvs.Reconcile(k, table.Services, owned, *dry)
	if res == nil {
		fmt.Fprintf(stderr, "lvsd apply: %v\n", err)
		return 1
	}
	failed := map[string]bool{}
	for _, o := range res.Failed {
		failed[o.String()] = true
	}
	if !*quiet {
		for _, o := range res.Ops {
			line := o.String()
			if o.Why != "" {
				line += "   # " + o.Why
			}
			if failed[o.String()] {
				line += "   # REFUSED"
			}
			fmt.Fprintln(stdout, line)
		}
	}
	sum := res.Summary()
	verb := "applied"
	writes := res.Applied
	if *dry {
		verb, writes = "dry run, would make", sum.Writes()
	}
	reads := 0
	if nl != nil {
		reads, _ = nl.Counts()
	}
	fmt.Fprintf(stdout, "lvsd apply: services: %d added, %d edited, %d removed; reals: %d added, %d edited, %d removed; %s %d netlink writes (%d reads) in %s\n",
		sum.ServicesAdded, sum.ServicesEdited, sum.ServicesRemoved, sum.RealsAdded, sum.RealsEdited, sum.RealsRemoved,
		verb, writes, reads, time.Since(start).Round(time.Microsecond))
	if nl != nil {
		if t := nl.WriteTimes(); t.Ops > 0 {
			fmt.Fprintf(stdout, "lvsd apply: %s\n", t) // the apply phase against the kernel's own cost
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "lvsd apply: %v\n", err)
		return 1
	}
	if !*dry && *state != "" {
		if err := writeState(*state, director.Keys(cfg)); err != nil {
			fmt.Fprintf(stderr, "lvsd apply: %v\n", err)
			return 1
		}
	}
	return 0
}

// emptyKernel stands for a kernel without IPVS in a dry run.
type emptyKernel struct{}

func (emptyKernel) Services() ([]ipvs.Service, error) { return nil, nil }
func (emptyKernel) Apply(ipvs.Op) error               { return ipvs.ErrNoIPVS }

func readState(path string) ([]ipvs.Key, error) {
	if path == "" {
		return nil, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var keys []ipvs.Key
	if err := json.Unmarshal(data, &keys); err != nil {
		return nil, fmt.Errorf("state file %s: %v", path, err)
	}
	return keys, nil
}

// writeState replaces the state file atomically.
func writeState(path string, keys []ipvs.Key) error {
	data, err := json.MarshalIndent(keys, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".lvsd-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(data, '\n')); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
