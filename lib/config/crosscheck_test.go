package config

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// lenientFiles are accepted by lvsd (with warnings) and rejected by
// ldirectord: the deliberate leniencies listed in docs/config.md.
var lenientFiles = map[string]bool{"lenient.cf": true}

// ldirectordStatus runs `ldirectord FILE status`: ldirectord parses the
// whole file first and exits 2 on a configuration error; a valid file of a
// stopped instance gives 3.
func ldirectordStatus(t *testing.T, bin, file string) (int, string) {
	t.Helper()
	abs, err := filepath.Abs(file)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, abs, "status")
	cmd.Dir = t.TempDir() // ldirectord -d would run ./ipvsadm; status never does
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err = cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode(), out.String()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0, out.String()
}

// TestLdirectordAgrees: for every ldirectord.cf in testdata, the real
// ldirectord (Debian package) accepts what lvsd accepts and rejects what
// lvsd rejects, except the files that document a deliberate difference.
func TestLdirectordAgrees(t *testing.T) {
	bin := testenv.Command(t, "ldirectord")
	valid, _ := filepath.Glob(filepath.Join(testdata, "ldirectord", "*.cf"))
	warned, _ := filepath.Glob(filepath.Join(testdata, "warnings", "*.cf"))
	valid = append(valid, warned...) // accepted by both, lvsd with a warning
	invalid, _ := filepath.Glob(filepath.Join(testdata, "errors", "*.cf"))
	for _, f := range valid {
		f := f
		t.Run(rel(f), func(t *testing.T) {
			t.Parallel()
			code, out := ldirectordStatus(t, bin, f)
			want := 3
			if lenientFiles[filepath.Base(f)] {
				want = 2 // ldirectord rejects what lvsd accepts with a warning
			}
			if code != want {
				t.Errorf("ldirectord %s status: exit %d, want %d\n%s", rel(f), code, want, out)
			}
		})
	}
	for _, f := range invalid {
		f := f
		t.Run(rel(f), func(t *testing.T) {
			t.Parallel()
			data, _ := os.ReadFile(f)
			want := 2
			if bytes.Contains(data, []byte("\n# ldirectord: accepts")) {
				want = 3 // lvsd is stricter: ldirectord misreads this file
			}
			code, out := ldirectordStatus(t, bin, f)
			if code != want {
				t.Errorf("ldirectord %s status: exit %d, want %d\n%s", rel(f), code, want, out)
			}
		})
	}
}

// keepalivedNoise are the messages `keepalived -t` prints for a valid file
// on a machine without the file's interfaces, and for defaults it applies.
var keepalivedNoise = regexp.MustCompile(`doesn't exist|Non-existent interface|no protocol set|no scheduler set|` +
	`not found, ignoring|nb_get_retry is deprecated|ports don't match|no forwarding method set|^\s*$`)

// TestKeepalivedAgrees: keepalived's own config test finds nothing but
// machine-dependent noise in the keepalived.conf files lvsd imports.
func TestKeepalivedAgrees(t *testing.T) {
	bin := testenv.Command(t, "keepalived")
	files, _ := filepath.Glob(filepath.Join(testdata, "keepalived", "*.conf"))
	files = append(files, filepath.Join(testdata, "keepalived", "seed000", "keepalived.conf"))
	for _, f := range files {
		f := f
		t.Run(rel(f), func(t *testing.T) {
			abs, _ := filepath.Abs(f)
			out, _ := exec.Command(bin, "-t", "-l", "-D", "-f", abs).CombinedOutput()
			for _, l := range strings.Split(string(out), "\n") {
				if !keepalivedNoise.MatchString(l) {
					t.Errorf("keepalived -t %s: %s", rel(f), l)
				}
			}
		})
	}
}

var reKeepalivedSays = regexp.MustCompile(`(?m)^! keepalived -t: (.+)$`)

// TestKeepalivedSays: where lvsd warns of or rejects what keepalived itself
// reports, keepalived -t prints the message the file names as
// `! keepalived -t: text` (lvsd follows keepalived's behaviour there).
func TestKeepalivedSays(t *testing.T) {
	bin := testenv.Command(t, "keepalived")
	var files []string
	for _, dir := range []string{"errors", "warnings"} {
		f, _ := filepath.Glob(filepath.Join(testdata, dir, "ka-*.conf"))
		files = append(files, f...)
	}
	n := 0
	for _, f := range files {
		data, _ := os.ReadFile(f)
		says := reKeepalivedSays.FindAllSubmatch(data, -1)
		if len(says) == 0 {
			continue
		}
		n++
		t.Run(rel(f), func(t *testing.T) {
			abs, _ := filepath.Abs(f)
			out, _ := exec.Command(bin, "-t", "-l", "-D", "-f", abs).CombinedOutput()
			for _, m := range says {
				if !bytes.Contains(out, m[1]) {
					t.Errorf("keepalived -t %s does not say %q:\n%s", rel(f), m[1], out)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no file names what keepalived -t says")
	}
}
