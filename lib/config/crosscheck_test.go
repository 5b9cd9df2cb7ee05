package config

import (
	"bytes"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
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

// keepalivedNoise are the only lines of `keepalived -t` ignored: they say
// this machine lacks the file's interfaces, not anything of the file.
var keepalivedNoise = regexp.MustCompile(`interface \S+ (for .* )?doesn't exist|^Non-existent interface specified in configuration$|^\s*$`)

// keepalivedCrashes are files keepalived -t itself dies on (lvsd rejects
// them with an error): the signal is recorded in the golden file.
var keepalivedCrashes = map[string]string{
	"errors/ka-bad-digest.conf": "keepalived 2.2.7 segfaults after its digest-length error",
}

// keepalivedAccepts are error files keepalived -t finds no fault in (it
// says at most which defaults it applies): what lvsd refuses there is a
// feature it lacks, not a fault of the file (docs/config.md lists them).
var keepalivedAccepts = map[string]string{
	"errors/ka-regex-not-re2.conf": "lvsd compiles regex in Go's RE2 syntax, keepalived with PCRE2",
}

// reKaDefault is keepalived saying which default it applies: not a fault.
var reKaDefault = regexp.MustCompile(`: no (protocol|scheduler|forwarding method) set`)

// keepalivedT runs `keepalived -t` on f: its exit status (128+signal when
// it crashed) and its lines, noise dropped, the file's path made relative;
// noisy says some noise was dropped (keepalived exits 5 for it too).
func keepalivedT(t *testing.T, bin, f string) (rc int, lines []string, noisy bool) {
	t.Helper()
	abs, err := filepath.Abs(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "-t", "-l", "-D", "-f", abs).CombinedOutput()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		rc = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			rc = 128 + int(ws.Signal())
		}
	} else if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(out), "\n") {
		if !keepalivedNoise.MatchString(l) {
			lines = append(lines, strings.ReplaceAll(l, abs, rel(f)))
		} else if strings.TrimSpace(l) != "" {
			noisy = true
		}
	}
	return rc, lines, noisy
}

// keepalivedFiles are every keepalived.conf of testdata: the imported ones
// (valid), and the warnings/ and errors/ ka-* files.
func keepalivedFiles(t *testing.T) (valid, warned, invalid []string) {
	valid, _ = filepath.Glob(filepath.Join(testdata, "keepalived", "*.conf"))
	valid = append(valid, filepath.Join(testdata, "keepalived", "seed000", "keepalived.conf"))
	warned, _ = filepath.Glob(filepath.Join(testdata, "warnings", "ka-*.conf"))
	invalid, _ = filepath.Glob(filepath.Join(testdata, "errors", "ka-*.conf"))
	if len(valid) < 3 || len(warned) == 0 || len(invalid) == 0 {
		t.Fatalf("too few keepalived files: %d %d %d", len(valid), len(warned), len(invalid))
	}
	return valid, warned, invalid
}

var (
	reKaNoScheduler = regexp.MustCompile(`^Virtual server (\[(.+)\]:(\w+):(\d+)|FWM (\d+)): no scheduler set, setting default '(\w+)'$`)
	reKaNoProtocol  = regexp.MustCompile(`^Virtual server \[(.+)\]:none:(\d+): no protocol set - defaulting to (\w+)$`)
)

// TestKeepalivedAgrees: keepalived's own config test (Debian's
// keepalived -t) on every keepalived.conf of testdata, against the golden
// record of what it says (testdata/config/keepalived-t, rewritten with
// -update). Its exit status is 0 for a file it has nothing to say about and
// 5 for one it reports on; for a file lvsd imports, a default keepalived
// says it applies (scheduler, protocol) is the one in lvsd's golden plan;
// an error file must be one keepalived reports on too (or be listed in
// keepalivedAccepts / keepalivedCrashes with the reason).
func TestKeepalivedAgrees(t *testing.T) {
	bin := testenv.Command(t, "keepalived")
	valid, warned, invalid := keepalivedFiles(t)
	isValid := map[string]bool{}
	for _, f := range valid {
		isValid[f] = true
	}
	isErr := map[string]bool{}
	for _, f := range invalid {
		isErr[f] = true
	}
	for _, f := range append(append(valid, warned...), invalid...) {
		f := f
		t.Run(rel(f), func(t *testing.T) {
			t.Parallel()
			rc, lines, noisy := keepalivedT(t, bin, f)
			got := fmt.Sprintf("exit %d\n%s", rc, strings.Join(lines, "\n"))
			got = strings.TrimRight(got, "\n") + "\n"
			gold := filepath.Join(testdata, "keepalived-t", rel(f)+".txt")
			if *update {
				os.MkdirAll(filepath.Dir(gold), 0o755)
				if err := os.WriteFile(gold, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(gold)
			if err != nil {
				t.Fatalf("%v (run go test ./lib/config -run TestKeepalivedAgrees -update)", err)
			}
			if got != string(want) {
				t.Errorf("keepalived -t %s says (-update rewrites %s):\n%s\nwant:\n%s", rel(f), gold, got, want)
			}
			switch why, crash := keepalivedCrashes[rel(f)]; {
			case crash:
				if rc < 128 {
					t.Errorf("listed as crashing keepalived (%s) but exit %d", why, rc)
				}
			case rc != 0 && rc != 5, rc == 0 && (len(lines) > 0 || noisy), rc == 5 && len(lines) == 0 && !noisy:
				t.Errorf("keepalived -t %s: exit %d with %d lines reported", rel(f), rc, len(lines))
			}
			if isErr[f] {
				// a fault keepalived finds: a line beyond its noise and defaults
				faults := 0
				for _, l := range lines {
					if !reKaDefault.MatchString(l) {
						faults++
					}
				}
				if why, ok := keepalivedAccepts[rel(f)]; ok != (faults == 0) {
					t.Errorf("lvsd rejects %s; keepalived -t exit %d, %d faults reported (listed as accepted: %v %s)", rel(f), rc, faults, ok, why)
				}
				return
			}
			if !isValid[f] {
				return
			}
			plan, err := os.ReadFile(goldenName(f))
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lines {
				if m := reKaNoScheduler.FindStringSubmatch(l); m != nil {
					head := "FWM  " + m[5] + " "
					if m[5] == "" {
						head = strings.ToUpper(m[3]) + "  " + netip.AddrPortFrom(netip.MustParseAddr(m[2]), uint16(atoi(m[4]))).String() + " "
					}
					if !bytes.Contains(plan, []byte("\n"+head+m[6])) {
						t.Errorf("keepalived -t: %q; lvsd's plan has no %q", l, head+m[6])
					}
				}
				if m := reKaNoProtocol.FindStringSubmatch(l); m != nil {
					head := strings.ToUpper(m[3]) + "  " + netip.AddrPortFrom(netip.MustParseAddr(m[1]), uint16(atoi(m[2]))).String() + " "
					if !bytes.Contains(plan, []byte("\n"+head)) {
						t.Errorf("keepalived -t: %q; lvsd's plan has no %q", l, head)
					}
				}
			}
		})
	}
}

func atoi(s string) int { n, _ := strconv.Atoi(s); return n }

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
			_, lines, _ := keepalivedT(t, bin, f)
			out := strings.Join(lines, "\n")
			for _, m := range says {
				if !strings.Contains(out, string(m[1])) {
					t.Errorf("keepalived -t %s does not say %q:\n%s", rel(f), m[1], out)
				}
			}
		})
	}
	if n == 0 {
		t.Fatal("no file names what keepalived -t says")
	}
}
