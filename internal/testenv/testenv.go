// Package testenv decides whether a test tier can run here. Outside CI a
// missing prerequisite skips the test with a loud message; in CI (CI=true)
// nothing may skip, so the same condition fails the test.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// InCI reports whether the tests run under CI, where skipping is a failure.
func InCI() bool {
	v := strings.ToLower(os.Getenv("CI"))
	return v == "true" || v == "1" || v == "yes"
}

// Skip skips the test outside CI and fails it in CI, with a loud reason.
func Skip(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		t.Fatalf("PREREQUISITE MISSING IN CI: %s", msg)
	}
	fmt.Fprintf(os.Stderr, "\n*** SKIPPING %s: %s ***\n\n", t.Name(), msg)
	t.Skip("SKIPPED: " + msg)
}

// Root requires uid 0 (network namespaces, raw sockets, addresses).
func Root(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		Skip(t, "needs root (netns tier); run `sudo make test`")
	}
}

// Command requires a program on PATH (or in /usr/sbin, /sbin) and returns
// its full path.
func Command(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/bin"} {
		p := dir + "/" + name
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	Skip(t, "needs %q (run `make deps`)", name)
	return ""
}

// Short skips slow tests under `go test -short`, which is never used in CI.
func Short(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("skipped under -short")
	}
}

// KeepalivedNew is keepalived 2.3.3, built from Debian trixie's source by
// scripts/build-keepalived.sh (`make deps`) into the repository's .cache:
// the tests of what Debian 12's 2.2.7 lacks (v3_checksum_as_v2) use it.
func KeepalivedNew(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(dir + "/go.mod"); err == nil {
			break
		}
		parent := dir[:strings.LastIndex(dir, "/")]
		if parent == dir || parent == "" {
			Skip(t, "needs keepalived 2.3.3 (run `make deps`): no go.mod above the test")
			return ""
		}
		dir = parent
	}
	p := dir + "/.cache/keepalived-2.3.3/keepalived"
	if st, err := os.Stat(p); err != nil || st.Mode()&0o111 == 0 {
		Skip(t, "needs keepalived 2.3.3 at %s (run `make deps`: scripts/build-keepalived.sh)", p)
	}
	return p
}
