package config

import (
	"fmt"
	"sort"
	"strings"
)

// String renders a diagnostic as "file:line: message" (line omitted when 0).
func (d Diag) String() string {
	if d.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", d.File, d.Line, d.Msg)
	}
	return fmt.Sprintf("%s: %s", d.File, d.Msg)
}

// Errors is every error found in a configuration: a reader does not stop at
// the first one, so an operator fixes a file in one pass.
type Errors []Diag

func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, d := range e {
		lines[i] = d.String()
	}
	return strings.Join(lines, "\n")
}

// Invalid is the error of a file that has errors: all of them, and the
// warnings found with them, so that one run shows everything to fix.
// errors.As(err, &errs) with errs Errors still works (Unwrap).
type Invalid struct {
	Errors   Errors
	Warnings []Diag
}

func (e *Invalid) Error() string { return e.Errors.Error() }
func (e *Invalid) Unwrap() error { return e.Errors }

// fail is what a reader returns when it found errors.
func (d *diags) fail() error {
	return &Invalid{Errors: sorted(d.errs), Warnings: sorted(d.warnings)}
}

// maxErrors bounds the list: a binary file fed by mistake must not produce
// megabytes of messages.
const maxErrors = 100

// diags collects errors and warnings while one file is read.
type diags struct {
	file     string
	errs     Errors
	warnings []Diag
}

func (d *diags) errorf(line int, format string, args ...any) {
	if len(d.errs) < maxErrors {
		d.errs = append(d.errs, Diag{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

func (d *diags) warnf(line int, format string, args ...any) {
	if len(d.warnings) < maxErrors {
		d.warnings = append(d.warnings, Diag{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...)})
	}
}

// sorted orders diagnostics by file then line (readers find some errors only
// when a block ends), keeping the order of messages on one line.
func sorted(ds []Diag) []Diag {
	sort.SliceStable(ds, func(i, j int) bool {
		if ds[i].File != ds[j].File {
			return ds[i].File < ds[j].File
		}
		return ds[i].Line < ds[j].Line
	})
	return ds
}
