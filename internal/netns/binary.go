package netns

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Binary is a command of this module (its import path in Pkg) that a
// test process builds once, in a temporary directory everyone can read
// and run: ocf-tester runs an agent's meta-data as nobody, and the
// not-root cases run the agent as nobody. TestMain calls Remove.
type Binary struct {
	Pkg  string
	once sync.Once
	dir  string
	err  error
}

// Path builds the binary on the first call and returns its path.
func (b *Binary) Path(t testing.TB) string {
	t.Helper()
	name := path.Base(b.Pkg)
	b.once.Do(func() {
		if b.dir, b.err = os.MkdirTemp("", strings.ToLower(name)+"-bin-"); b.err != nil {
			return
		}
		os.Chmod(b.dir, 0o755)
		out, err := exec.Command("go", "build", "-o", filepath.Join(b.dir, name), b.Pkg).CombinedOutput()
		if err != nil {
			b.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return filepath.Join(b.dir, name)
}

// Remove deletes what Path built.
func (b *Binary) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
