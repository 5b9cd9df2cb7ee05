package director

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

var (
	binOnce sync.Once
	binDir  string
	binErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// bins builds cmd/director and cmd/lvsd once, in a directory user nobody
// can read (ocf-tester runs meta-data as nobody). Inside the VM they are
// copies of bin/ (make build): building there is slow, and a bin/ file
// rewritten on the host while the VM runs it would crash (docs/vm.md).
func bins(t *testing.T) (agent, lvsd string) {
	t.Helper()
	binOnce.Do(func() {
		if binDir, binErr = os.MkdirTemp("", "director-bin-"); binErr != nil {
			return
		}
		os.Chmod(binDir, 0o755)
		for _, p := range []string{"director", "lvsd"} {
			dst := filepath.Join(binDir, p)
			if vm.InVM() {
				b, err := os.ReadFile(filepath.Join("../../bin", p))
				if err == nil {
					err = os.WriteFile(dst, b, 0o755)
				}
				if err != nil {
					binErr = fmt.Errorf("%v (run make build before make vmtest)", err)
					return
				}
				continue
			}
			out, err := exec.Command("go", "build", "-o", dst, "github.com/ocf-lvs/ocf-lvs/cmd/"+p).CombinedOutput()
			if err != nil {
				binErr = fmt.Errorf("go build %s: %v\n%s", p, err, out)
				return
			}
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return filepath.Join(binDir, "director"), filepath.Join(binDir, "lvsd")
}

// agentRun runs the agent binary with an environment of NAME=value pairs
// (OCF_RESKEY_ added to a lower-case k=v); it returns the exit code and stderr.
func agentRun(t *testing.T, agent, action string, kv ...string) (int, string) {
	t.Helper()
	env := []string{"PATH=" + os.Getenv("PATH")}
	for _, s := range kv {
		if k, _, _ := strings.Cut(s, "="); k == strings.ToUpper(k) || strings.HasPrefix(k, "OCF_") {
			env = append(env, s)
		} else {
			env = append(env, "OCF_RESKEY_"+s)
		}
	}
	cmd := exec.Command(agent, action)
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode(), stderr.String()
	} else if err != nil {
		t.Fatalf("%s %s: %v", agent, action, err)
	}
	return 0, stderr.String()
}

// On a kernel without IPVS (this host's), start fails with 5 and lvsd's
// own reason, whether lvsd logs to a file or through the syslog relay,
// and leaves nothing running.
func TestHostStartWithoutIPVS(t *testing.T) {
	testenv.Root(t)
	// on a host that could load ip_vs, skip (lvsd would program the host's
	// table); the VM tier runs this with IPVS hidden, so CI misses nothing
	if !vm.NoIPVSHere(t) {
		t.Skip("this kernel has or can load IPVS: not touching the host's table (this test runs in the VM with IPVS hidden)")
	}
	agent, lvsd := bins(t)
	dir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(td, "ldirectord.cf"))
	if err != nil {
		t.Fatal(err)
	}
	logf := filepath.Join(dir, "lvsd.log")
	for _, c := range []struct{ name, logfile string }{{"file", `"` + logf + `"`}, {"syslog", `"local0"`}} {
		t.Run(c.name, func(t *testing.T) {
			cfg := filepath.Join(dir, c.name+".cf")
			os.WriteFile(cfg, bytes.Replace(src, []byte(`logfile="local0"`), []byte("logfile="+c.logfile), 1), 0o644)
			env := []string{"HA_RSCTMP=" + dir, "OCF_RESOURCE_INSTANCE=noipvs", "configfile=" + cfg, "lvsd=" + lvsd}
			code, stderr := agentRun(t, agent, "start", env...)
			if code != 5 || !strings.Contains(stderr, "ocf-exit-reason:lvsd run: the kernel has no IPVS: load ip_vs (modprobe ip_vs)") {
				t.Errorf("start: %d\n%s", code, stderr)
			}
			if code, stderr := agentRun(t, agent, "monitor", env...); code != 7 {
				t.Errorf("monitor after the failed start: %d\n%s", code, stderr)
			}
			if code, stderr := agentRun(t, agent, "stop", env...); code != 0 {
				t.Errorf("stop: %d\n%s", code, stderr)
			}
			ents, _ := filepath.Glob(filepath.Join(dir, "director-noipvs-*"))
			if len(ents) != 0 {
				t.Errorf("left behind: %v", ents)
			}
		})
	}
	if b, _ := os.ReadFile(logf); !strings.Contains(string(b), "the kernel has no IPVS") {
		t.Errorf("logfile %s: %q", logf, b)
	}
}

// The installed binary's own exit codes for bad input, as Pacemaker sees
// them (the agent runs nothing).
func TestHostBadInput(t *testing.T) {
	agent, lvsd := bins(t)
	dir := t.TempDir()
	bad, _ := filepath.Abs(filepath.Join(td, "bad.cf"))
	good, _ := filepath.Abs(filepath.Join(td, "ldirectord.cf"))
	for _, c := range []struct {
		action string
		code   int
		kv     []string
		reason string
	}{
		{"validate-all", 0, []string{"configfile=" + good, "lvsd=" + lvsd}, ""},
		{"validate-all", 6, []string{"configfile=" + bad, "lvsd=" + lvsd}, bad + ":6: "},
		{"start", 6, []string{"configfile=" + bad, "lvsd=" + lvsd}, bad + ":6: "},
		{"start", 5, []string{"configfile=" + good, "lvsd=" + dir + "/nolvsd"}, "lvsd binary " + dir + "/nolvsd not found"},
		{"validate-all", 5, []string{"configfile=" + dir + "/none.cf", "lvsd=" + lvsd}, "configuration file " + dir + "/none.cf not found"},
		{"monitor", 7, []string{"configfile=" + bad, "lvsd=" + dir + "/nolvsd"}, ""},
		{"monitor", 7, []string{"configfile=" + good, "lvsd=" + lvsd, "OCF_TESTER_FAIL_HAVE_BINARY=1"}, ""},
		{"stop", 0, []string{"configfile=" + bad}, ""},
	} {
		if c.action == "start" && os.Geteuid() != 0 {
			continue // 4 before anything else
		}
		code, stderr := agentRun(t, agent, c.action, append(c.kv, "HA_RSCTMP="+dir)...)
		if code != c.code || !strings.Contains(stderr, "ocf-exit-reason:"+c.reason) != (c.reason == "") {
			t.Errorf("%s %v: %d, want %d %q\n%s", c.action, c.kv, code, c.code, c.reason, stderr)
		}
	}
	// --help and usage
	if out, err := exec.Command(agent, "--help").Output(); err != nil || !strings.Contains(string(out), "configfile") {
		t.Errorf("--help: %v %s", err, out)
	}
}
