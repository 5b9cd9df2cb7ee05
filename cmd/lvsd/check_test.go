package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func checkRun(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestCheckValid(t *testing.T) {
	code, out, errs := checkRun("check", "../../testdata/config/ldirectord/debian-sample.cf")
	if code != 0 || errs != "" {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
	if !strings.Contains(out, "TCP  192.168.6.240:80 rr\n") || !strings.Contains(out, "-> 192.168.6.2:80") {
		t.Errorf("plan:\n%s", out)
	}
}

func TestCheckWarningsOnStderr(t *testing.T) {
	code, _, errs := checkRun("check", "../../testdata/config/ldirectord/lenient.cf")
	if code != 0 || !strings.Contains(errs, "lenient.cf:3: warning: quiescent: blank after") {
		t.Fatalf("exit %d, stderr %q", code, errs)
	}
}

func TestCheckInvalid(t *testing.T) {
	code, out, errs := checkRun("check", "../../testdata/config/errors/bad-forward.cf")
	if code != 2 || out != "" {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
	if want := "../../testdata/config/errors/bad-forward.cf:4: forward method must be gate, masq or ipip"; !strings.HasPrefix(errs, want) {
		t.Errorf("stderr %q, want prefix %q", errs, want)
	}
}

func TestCheckJSON(t *testing.T) {
	code, out, _ := checkRun("check", "--json", "../../testdata/config/keepalived/seed004.conf")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	var v struct { // the configuration's names, not Go's
		Format   string `json:"format"`
		Virtuals []struct {
			Address string `json:"address"`
			Port    int    `json:"port"`
			Check   struct {
				Interval string `json:"checkinterval"`
			} `json:"check"`
		} `json:"virtual"`
		VRRP []struct {
			VRID int `json:"virtual_router_id"`
		} `json:"vrrp_instance"`
	}
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatal(err)
	}
	if v.Format != "keepalived" || len(v.Virtuals) != 1 || v.Virtuals[0].Port != 80 || v.Virtuals[0].Address == "" ||
		v.Virtuals[0].Check.Interval == "" || len(v.VRRP) != 1 || v.VRRP[0].VRID != 200 {
		t.Errorf("json: %+v", v)
	}
}

func TestMigrateThenCheck(t *testing.T) {
	src := "../../testdata/config/ldirectord/every-directive.cf"
	code, toml, errs := checkRun("migrate", src)
	if code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errs)
	}
	f := filepath.Join(t.TempDir(), "lvs.toml")
	if err := os.WriteFile(f, []byte(toml), 0o644); err != nil {
		t.Fatal(err)
	}
	_, p1, _ := checkRun("check", src)
	code, p2, errs := checkRun("check", f)
	if code != 0 || p1 != p2 {
		t.Fatalf("check of the migrated file: exit %d %s\n%s\nvs\n%s", code, errs, p1, p2)
	}
}

func TestHelp(t *testing.T) {
	for _, c := range []string{"check", "migrate"} {
		code, out, _ := checkRun(c, "--help")
		if code != 0 || !strings.Contains(out, "usage: lvsd "+c) {
			t.Errorf("%s --help: exit %d %q", c, code, out)
		}
	}
	_, out, _ := checkRun("check", "--help")
	for _, w := range []string{"  --json\n", "  --no-host\n", "/etc/ha.d/ldirectord.cf", "- reads standard input"} {
		if !strings.Contains(out, w) {
			t.Errorf("check --help does not say %q:\n%s", w, out)
		}
	}
	if code, _, errs := checkRun("check", "a.cf", "b.cf"); code != 2 || !strings.Contains(errs, "one FILE, not 2") {
		t.Errorf("check with two files: exit %d %q", code, errs)
	}
	if code, _, errs := checkRun("check", "--bogus", "a.cf"); code != 2 || !strings.HasPrefix(errs, "flag provided but not defined: -bogus\nusage:") {
		t.Errorf("check --bogus: exit %d %q", code, errs)
	}
}

// TestCheckArgs: a flag after FILE works, and - reads standard input.
func TestCheckArgs(t *testing.T) {
	f := "../../testdata/config/keepalived/seed004.conf"
	code, out, errs := checkRun("check", f, "--json", "--no-host")
	if code != 0 || !strings.HasPrefix(out, "{") {
		t.Fatalf("check FILE --json: exit %d %q %q", code, out, errs)
	}
	data, err := os.ReadFile(f)
	if err != nil {
		t.Fatal(err)
	}
	checkStdin = bytes.NewReader(data)
	defer func() { checkStdin = os.Stdin }()
	_, want, _ := checkRun("check", "--no-host", f)
	code, out, errs = checkRun("check", "-", "--no-host")
	if code != 0 || out != want {
		t.Fatalf("check -: exit %d %q\n%s\nwant\n%s", code, errs, out, want)
	}
	// migrate - as well
	_, wantTOML, _ := checkRun("migrate", f)
	checkStdin = bytes.NewReader(data)
	if code, out, errs = checkRun("migrate", "-"); code != 0 || out != strings.Replace(wantTOML, f, "<stdin>", 1) {
		t.Fatalf("migrate -: exit %d %q\n%s", code, errs, out)
	}
}

// TestCheckErrorsWithWarnings: a file with errors shows its warnings too,
// in line order, so that one run lists everything to fix.
func TestCheckErrorsWithWarnings(t *testing.T) {
	f := "../../testdata/config/errors/all-at-once.cf"
	code, _, errs := checkRun("check", "--no-host", f)
	want := f + ":8: unknown directive \"checkintervl\" (did you mean \"checkinterval\"?)\n" +
		f + ":9: warning: checktimeout: \"5s\" read as 5\n" +
		f + ":11: weight \"-1\" out of range (0..65535)\n"
	if code != 2 || !strings.HasPrefix(errs, want) {
		t.Fatalf("exit %d, stderr:\n%s\nwant prefix:\n%s", code, errs, want)
	}
}

// The plan shows *** for each password and secret set; --show-secrets
// prints them as written.
func TestCheckMasksSecrets(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.conf")
	os.WriteFile(p, []byte("vrrp_instance VI_1 {\n    interface lo\n    virtual_router_id 51\n    authentication {\n        auth_type PASS\n        auth_pass Vr-S3cr\n    }\n    virtual_ipaddress {\n        192.0.2.9\n    }\n}\n"), 0o644)
	l := filepath.Join(t.TempDir(), "m.cf")
	os.WriteFile(l, []byte("virtual=192.0.2.1:3306\n\tservice=mysql\n\tchecktype=negotiate\n\tlogin=lvs\n\tpasswd=My-S3cret\n\tdatabase=d\n\trequest=\"SELECT 1\"\n\treal=10.0.0.1:3306 masq\n"), 0o644)
	for _, f := range []string{p, l} {
		for _, json := range []bool{false, true} {
			args := []string{"check", "--no-host", f}
			if json {
				args = append(args, "--json")
			}
			code, out, errs := checkRun(args...)
			if code != 0 || strings.Contains(out, "S3cr") || !strings.Contains(out, "***") {
				t.Errorf("%v: exit %d, secrets shown or not marked:\n%s%s", args, code, out, errs)
			}
			if _, out, _ = checkRun(append(args, "--show-secrets")...); !strings.Contains(out, "S3cr") {
				t.Errorf("%v --show-secrets: not shown:\n%s", args, out)
			}
		}
	}
}
