package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/version"
)

// lvsd --version prints the build's version (the Makefile sets it with -X).
func TestVersionFlag(t *testing.T) {
	old := version.Version
	version.Version = "9.8.7"
	t.Cleanup(func() { version.Version = old })
	for _, arg := range []string{"--version", "version"} {
		var out, errb bytes.Buffer
		if code := run([]string{arg}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "lvsd (ocf-lvs) 9.8.7") {
			t.Errorf("lvsd %s: %d %q %q", arg, code, out.String(), errb.String())
		}
	}
}
