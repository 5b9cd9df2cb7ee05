package testenv

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

func TestInCI(t *testing.T) {
	for v, want := range map[string]bool{"true": true, "TRUE": true, "1": true, "yes": true, "": false, "false": false, "0": false, "no": false} {
		t.Setenv("CI", v)
		if InCI() != want {
			t.Errorf("CI=%q: InCI() = %v, want %v", v, !want, want)
		}
	}
}

// The rule every tier rests on: a missing prerequisite skips outside CI
// and fails under CI=true. Checked on this test binary run again as a
// child that calls Skip, with and without CI.
func TestSkipRule(t *testing.T) {
	if os.Getenv("TESTENV_SKIP_CHILD") == "1" {
		Skip(t, "the child's prerequisite")
		t.Log("STILL RUNNING AFTER SKIP")
		return
	}
	for _, ci := range []string{"true", "false"} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSkipRule$", "-test.v", "-test.count=1")
		cmd.Env = append(os.Environ(), "TESTENV_SKIP_CHILD=1", "CI="+ci)
		out, err := cmd.CombinedOutput()
		o := string(out)
		if strings.Contains(o, "STILL RUNNING AFTER SKIP") {
			t.Errorf("CI=%s: the test went on after Skip:\n%s", ci, o)
		}
		if ci == "true" {
			if err == nil || !strings.Contains(o, "--- FAIL: TestSkipRule") || !strings.Contains(o, "PREREQUISITE MISSING IN CI: the child's prerequisite") {
				t.Errorf("CI=true: want a failure naming the prerequisite, got err=%v:\n%s", err, o)
			}
			continue
		}
		if err != nil || !strings.Contains(o, "--- SKIP: TestSkipRule") || !strings.Contains(o, "*** SKIPPING TestSkipRule: the child's prerequisite ***") {
			t.Errorf("CI=false: want a loud skip, got err=%v:\n%s", err, o)
		}
	}
}
