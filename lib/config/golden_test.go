package config

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden plans in testdata/config/golden")

const testdata = "../../testdata/config"

// inputs lists the configurations under testdata/config/{ldirectord,
// keepalived,toml}: files directly in those folders, and keepalived.conf in
// a subfolder (whose other files it includes).
func inputs(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, kind := range []string{"ldirectord", "keepalived", "toml"} {
		root := filepath.Join(testdata, kind)
		err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			if filepath.Dir(p) == root || d.Name() == "keepalived.conf" {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(out) < 10 {
		t.Fatalf("only %d test configurations found", len(out))
	}
	return out
}

func rel(p string) string { return strings.TrimPrefix(filepath.ToSlash(p), testdata+"/") }

// goldenName: ldirectord/x.cf -> golden/ldirectord/x.cf.plan;
// keepalived/seed000/keepalived.conf -> golden/keepalived/seed000.plan.
func goldenName(p string) string {
	r := rel(p)
	if filepath.Base(r) == "keepalived.conf" && strings.Count(r, "/") > 1 {
		r = filepath.Dir(r)
	}
	return filepath.Join(testdata, "golden", r+".plan")
}

func testOptions() Options { return Options{Resolver: fakeResolver} }

func loadTest(t *testing.T, p string) *Config {
	t.Helper()
	c, err := LoadWith(p, testOptions())
	if err != nil {
		t.Fatalf("%s: %v", rel(p), err)
	}
	return c
}

func planOf(t *testing.T, c *Config) string {
	var b bytes.Buffer
	if err := WriteTable(&b, c); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// bothPlans is c's plan in ldirectord's terms and in keepalived's: a
// migration must keep what either shows (the TOML's own plan is in
// ldirectord's terms, a keepalived.conf's in keepalived's).
func bothPlans(t *testing.T, c *Config) string {
	var b bytes.Buffer
	if err := writeTableAs(&b, c, "ldirectord"); err != nil {
		t.Fatal(err)
	}
	b.WriteString("=== in keepalived's terms\n")
	if err := writeTableAs(&b, c, "keepalived"); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// TestGolden compares the plan (and warnings) of every test configuration
// with its golden file. `go test ./lib/config -run Golden -update` rewrites them.
func TestGolden(t *testing.T) {
	for _, p := range inputs(t) {
		t.Run(rel(p), func(t *testing.T) {
			c := loadTest(t, p)
			got := planOf(t, c)
			if len(c.Warnings) > 0 {
				got += "--- warnings\n"
				for _, w := range c.Warnings {
					w.File = rel(w.File)
					got += w.String() + "\n"
				}
			}
			g := goldenName(p)
			if *update {
				if err := os.MkdirAll(filepath.Dir(g), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(g, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(g)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("plan of %s differs from %s:\n%s", rel(p), rel(g), diffLines(string(want), got))
			}
		})
	}
}

// diffLines shows the first differing lines.
func diffLines(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want: " + a + "\n  got:  " + b
		}
	}
	return ""
}

// TestRoundTrip: migrate -> check gives the same plan, for every test
// configuration; migrating the TOML again gives the same TOML.
func TestRoundTrip(t *testing.T) {
	for _, p := range inputs(t) {
		t.Run(rel(p), func(t *testing.T) {
			c := loadTest(t, p)
			var toml1 bytes.Buffer
			if err := WriteTOML(&toml1, c); err != nil {
				t.Fatal(err)
			}
			c2, err := ParseWith("migrated.toml", toml1.Bytes(), testOptions())
			if err != nil {
				t.Fatalf("migrated TOML does not load: %v\n%s", err, toml1.String())
			}
			// only the warnings about the configuration itself carry over
			// (a service lvsd cannot check), as many as the source had
			carried := func(ws []Diag) (n int, other []Diag) {
				for _, w := range ws {
					if strings.Contains(w.Msg, "lvsd cannot check Oracle") {
						n++
					} else {
						other = append(other, w)
					}
				}
				return n, other
			}
			n1, _ := carried(c.Warnings)
			if n2, other := carried(c2.Warnings); len(other) > 0 || n2 != n1 {
				t.Errorf("migrated TOML has warnings: %v", c2.Warnings)
			}
			if a, b := bothPlans(t, c), bothPlans(t, c2); a != b {
				t.Fatalf("plan changed by migrate:\n%s\nTOML:\n%s", diffLines(a, b), toml1.String())
			}
			c2.Source, c2.Format = c.Source, c.Format
			var toml2 bytes.Buffer
			if err := WriteTOML(&toml2, c2); err != nil {
				t.Fatal(err)
			}
			if toml1.String() != toml2.String() {
				t.Errorf("migrate is not idempotent:\n%s", diffLines(toml1.String(), toml2.String()))
			}
		})
	}
}

var reExpect = regexp.MustCompile(`(?m)^[#!] expect: (\d+): (.+)$`)

// errorFiles lists testdata/config/errors: one file per error class, each
// naming the errors it must produce as `# expect: LINE: text`.
func errorFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(testdata, "errors", "*"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no error test files: %v", err)
	}
	var out []string
	for _, f := range files {
		if st, err := os.Stat(f); err == nil && !st.IsDir() {
			out = append(out, f)
		}
	}
	return out
}

func TestErrors(t *testing.T) {
	for _, p := range errorFiles(t) {
		t.Run(rel(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			exp := reExpect.FindAllStringSubmatch(string(data), -1)
			if len(exp) == 0 {
				t.Fatal("file names no `# expect: LINE: text`")
			}
			_, err = LoadWith(p, testOptions())
			var errs Errors
			if !errors.As(err, &errs) {
				t.Fatalf("want errors, got %v", err)
			}
			for _, e := range exp {
				line, _ := strconv.Atoi(e[1])
				found := false
				for _, d := range errs {
					if d.Line == line && strings.Contains(d.Msg, e[2]) && d.File == p {
						found = true
					}
				}
				if !found {
					t.Errorf("no error %s:%d: %q; got:\n%v", rel(p), line, e[2], errs)
				}
			}
			if len(errs) != len(exp) {
				t.Errorf("got %d errors, want %d:\n%v", len(errs), len(exp), errs)
			}
			// warnings come with the errors; a file naming some must get exactly those
			var inv *Invalid
			if !errors.As(err, &inv) {
				t.Fatalf("error is not *Invalid: %T", err)
			}
			if wexp := reExpectWarning.FindAllStringSubmatch(string(data), -1); len(wexp) > 0 {
				checkWarnings(t, p, wexp, inv.Warnings)
			}
		})
	}
}

var reExpectWarning = regexp.MustCompile(`(?m)^[#!] expect warning: (\d+): (.+)$`)

// checkWarnings: ws are exactly the warnings exp names.
func checkWarnings(t *testing.T, p string, exp [][]string, ws []Diag) {
	t.Helper()
	for _, e := range exp {
		line, _ := strconv.Atoi(e[1])
		found := false
		for _, d := range ws {
			if d.Line == line && strings.Contains(d.Msg, e[2]) && d.File == p {
				found = true
			}
		}
		if !found {
			t.Errorf("no warning %s:%d: %q; got:\n%v", rel(p), line, e[2], Errors(ws))
		}
	}
	if len(ws) != len(exp) {
		t.Errorf("got %d warnings, want %d:\n%v", len(ws), len(exp), Errors(ws))
	}
}

// TestWarnings: each file in testdata/config/warnings is accepted with
// exactly the warnings it names as `# expect: LINE: text`.
func TestWarnings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "warnings", "*"))
	if len(files) == 0 {
		t.Fatal("no warning test files")
	}
	for _, p := range files {
		t.Run(rel(p), func(t *testing.T) {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			exp := reExpect.FindAllStringSubmatch(string(data), -1)
			if len(exp) == 0 {
				t.Fatal("file names no `# expect: LINE: text`")
			}
			c, err := LoadWith(p, testOptions())
			if err != nil {
				t.Fatalf("want warnings only, got errors:\n%v", err)
			}
			for _, e := range exp {
				line, _ := strconv.Atoi(e[1])
				found := false
				for _, d := range c.Warnings {
					if d.Line == line && strings.Contains(d.Msg, e[2]) && d.File == p {
						found = true
					}
				}
				if !found {
					t.Errorf("no warning %s:%d: %q; got:\n%v", rel(p), line, e[2], Errors(c.Warnings))
				}
			}
			if len(c.Warnings) != len(exp) {
				t.Errorf("got %d warnings, want %d:\n%v", len(c.Warnings), len(exp), Errors(c.Warnings))
			}
		})
	}
}
