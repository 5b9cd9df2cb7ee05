// Package version holds the build's version, set by the Makefile with
// -ldflags "-X github.com/ocf-lvs/ocf-lvs/internal/version.Version=..."
// (RPM_VERSION, the package version) and .Commit (git describe), so that
// lvsd --version, every agent's --version and the agents' meta-data say
// which package they came from. A plain `go build` leaves the defaults.
package version

import "runtime/debug"

var (
	// Version is the package version (RPM_VERSION in the Makefile).
	Version = "0.0.0"
	// Commit is `git describe --always --dirty` at build time.
	Commit = ""
)

// String is "VERSION (COMMIT)", or VERSION alone when the build did not
// say; a `go build` of a tagged module falls back to the module version.
func String() string {
	v := Version
	if v == "0.0.0" {
		if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
	}
	c := Commit
	if c == "" {
		c = vcsRevision()
	}
	if c == "" {
		return v
	}
	return v + " (" + c + ")"
}

// vcsRevision is the commit Go stamped into a build made inside a git
// checkout (-buildvcs), shortened as git describe would.
func vcsRevision() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if len(rev) > 7 {
		rev = rev[:7]
	}
	if rev != "" && dirty {
		rev += "-dirty"
	}
	return rev
}
