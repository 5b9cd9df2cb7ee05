package ocf

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
	"github.com/ocf-lvs/ocf-lvs/internal/version"
)

var update = flag.Bool("update", false, "rewrite golden files")

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func testAgent() *Agent {
	return &Agent{
		Name: "Demo", Version: "1.0", Short: "a demo agent", Long: "Demo <agent> & friends.",
		Params: []Param{
			{Name: "ip", Type: String, Required: true, Unique: true, Short: "address"},
			{Name: "count", Type: Integer, Default: "5", Short: "how many"},
			{Name: "flag", Type: Boolean, Default: "false", Short: "a flag"},
			{Name: "wait", Type: Time, Default: "200ms", Short: "a wait"},
			{Name: "even", Type: Integer, Short: "even only", Check: func(v Value) error {
				if v.Int%2 != 0 {
					return errors.New("must be even")
				}
				return nil
			}},
		},
		Start:   func(c *Context) error { return nil },
		Stop:    func(c *Context) error { return nil },
		Monitor: func(c *Context) error { return ErrNotRunning },
	}
}

func TestParseTypesAndDefaults(t *testing.T) {
	a := testAgent()
	v, err := Parse(a.Params, envOf(map[string]string{
		"OCF_RESKEY_ip": "10.0.0.1", "OCF_RESKEY_flag": "yes", "OCF_RESKEY_wait": "2s",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if v.String("ip") != "10.0.0.1" || !v.IsSet("ip") {
		t.Errorf("ip = %q", v.String("ip"))
	}
	if v.Int("count") != 5 || v.IsSet("count") {
		t.Errorf("count default = %d set=%v", v.Int("count"), v.IsSet("count"))
	}
	if !v.Bool("flag") || v.Duration("wait") != 2*time.Second {
		t.Errorf("flag=%v wait=%v", v.Bool("flag"), v.Duration("wait"))
	}
}

func TestParseErrorsNameParameterAndValue(t *testing.T) {
	a := testAgent()
	for key, val := range map[string]string{"count": "many", "flag": "perhaps", "wait": "3 fortnights"} {
		_, err := Parse(a.Params, envOf(map[string]string{"OCF_RESKEY_" + key: val}))
		if CodeOf(err) != ErrConfigured || !strings.Contains(err.Error(), key) || !strings.Contains(err.Error(), val) {
			t.Errorf("%s=%s: got %v (code %d)", key, val, err, CodeOf(err))
		}
	}
	v, _ := Parse(a.Params, envOf(map[string]string{"OCF_RESKEY_even": "3"}))
	if err := Validate(a.Params, v); CodeOf(err) != ErrConfigured || !strings.Contains(err.Error(), "ip") {
		t.Errorf("missing required: %v", err)
	}
	v, _ = Parse(a.Params, envOf(map[string]string{"OCF_RESKEY_ip": "x", "OCF_RESKEY_even": "3"}))
	if err := Validate(a.Params, v); CodeOf(err) != ErrConfigured || !strings.Contains(err.Error(), "even=\"3\": must be even") {
		t.Errorf("check: %v", err)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{
		"5": 5 * time.Second, "5s": 5 * time.Second, "500ms": 500 * time.Millisecond,
		"2min": 2 * time.Minute, "1.5s": 1500 * time.Millisecond, "1h": time.Hour,
	} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	for _, in := range []string{"", "-1", "s", "5 parsecs"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestDispatchCodes(t *testing.T) {
	a := testAgent()
	env := envOf(map[string]string{"OCF_RESKEY_ip": "1.2.3.4"})
	cases := map[string]int{"start": 0, "stop": 0, "monitor": 7, "status": 7, "validate-all": 0,
		"meta-data": 0, "usage": 0, "--help": 0, "reload": 3, "promote": 3, "bogus": 3}
	for act, want := range cases {
		var out, errb bytes.Buffer
		if got := Run(a, []string{act}, env, &out, &errb); got != want {
			t.Errorf("%s: got %d want %d (%s)", act, got, want, errb.String())
		}
	}
	var out, errb bytes.Buffer
	if got := Run(a, nil, env, &out, &errb); got != ErrArgs {
		t.Errorf("no action: %d", got)
	}
	errb.Reset()
	if got := Run(a, []string{"validate-all"}, envOf(nil), &out, &errb); got != ErrConfigured ||
		!strings.Contains(errb.String(), "ocf-exit-reason:required parameter ip is not set") {
		t.Errorf("validate without ip: %d %q", got, errb.String())
	}
}

func TestProbeAndContext(t *testing.T) {
	a := testAgent()
	var seen *Context
	a.Monitor = func(c *Context) error { seen = c; return nil }
	dir := t.TempDir()
	env := envOf(map[string]string{"OCF_RESKEY_ip": "x", "OCF_RESKEY_CRM_meta_interval": "0",
		"OCF_CHECK_LEVEL": "10", "HA_RSCTMP": dir, "OCF_RESOURCE_INSTANCE": "vip:1",
		"OCF_TESTER_FAIL_HAVE_BINARY": "1"})
	var out, errb bytes.Buffer
	Run(a, []string{"monitor"}, env, &out, &errb)
	if !seen.Probe || seen.CheckLevel != 10 {
		t.Errorf("probe=%v level=%d", seen.Probe, seen.CheckLevel)
	}
	if seen.HaveBinary("sh") {
		t.Error("OCF_TESTER_FAIL_HAVE_BINARY ignored")
	}
	if err := seen.WriteState("", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "Demo-vip:1")); err != nil {
		t.Error(err)
	}
	if _, ok := seen.ReadState(""); !ok {
		t.Error("state not read")
	}
	if seen.RemoveState("") != nil || seen.RemoveState("") != nil {
		t.Error("remove state not idempotent")
	}
}

func TestLogging(t *testing.T) {
	var b bytes.Buffer
	logf := filepath.Join(t.TempDir(), "ha.log")
	l := NewLogger("Demo(x)", envOf(map[string]string{"HA_LOGFILE": logf}), &b)
	l.Debug("hidden")
	l.Info("shown %d", 1)
	if strings.Contains(b.String(), "hidden") || !strings.Contains(b.String(), "INFO: shown 1") {
		t.Errorf("stderr: %q", b.String())
	}
	data, _ := os.ReadFile(logf)
	if !strings.Contains(string(data), "Demo(x): INFO: shown 1") {
		t.Errorf("logfile: %q", data)
	}
	b.Reset()
	l = NewLogger("Demo(x)", envOf(map[string]string{"HA_debug": "1"}), &b)
	l.Debug("now visible")
	if !strings.Contains(b.String(), "DEBUG: now visible") {
		t.Errorf("debug: %q", b.String())
	}
}

// The meta-data is compared with a golden file and validated against the
// DTD ocf-tester uses (xmllint --valid, DOCTYPE included).
func TestMetadataGoldenAndDTD(t *testing.T) {
	var b bytes.Buffer
	if err := WriteMetadata(&b, testAgent()); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "metadata.golden")
	if *update {
		os.WriteFile(golden, b.Bytes(), 0o644)
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want, b.Bytes()) {
		t.Errorf("meta-data differs from %s (go test -update):\n%s", golden, b.String())
	}
	testenv.ValidateOCFMetadata(t, b.Bytes())
}

// An agent that leaves Version empty reports the build's version
// (internal/version, set by the Makefile's -X) in its meta-data and to
// --version.
func TestBuildVersion(t *testing.T) {
	a := testAgent()
	a.Version = ""
	old := version.Version
	version.Version = "9.8.7"
	t.Cleanup(func() { version.Version = old })
	var out bytes.Buffer
	if code := Run(a, []string{"meta-data"}, envOf(nil), &out, &out); code != 0 ||
		!strings.Contains(out.String(), `<resource-agent name="Demo" version="9.8.7">`) {
		t.Errorf("meta-data %d:\n%s", code, out.String())
	}
	out.Reset()
	if code := Run(a, []string{"--version"}, envOf(nil), &out, &out); code != 0 || !strings.HasPrefix(out.String(), "Demo (ocf-lvs) 9.8.7") {
		t.Errorf("--version %d: %q", code, out.String())
	}
}
