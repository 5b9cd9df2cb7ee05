package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/director"
	"github.com/ocf-lvs/ocf-lvs/lib/engine"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func memTable(k ipvs.Kernel) string {
	svcs, _ := k.Services()
	ops, _ := ipvs.Plan(svcs, nil, nil)
	var l []string
	for _, o := range ops {
		l = append(l, o.String())
	}
	sort.Strings(l)
	return strings.Join(l, "\n")
}

// lvsd ctl over a real control socket, to an engine over the in-memory
// kernel: each command is in the table when it returns, saved in the
// overrides file, shown by status; bad input changes nothing and says why.
func TestCtlThroughTheSocket(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(dir, "web.cf")
	os.WriteFile(cf, []byte("checkinterval=1\nvirtual=192.0.2.1:80\n\treal=10.0.0.1:80 masq 2\n\treal=10.0.0.2:80 masq 3\n\tchecktype=on\n"), 0o644)
	cfg, err := config.Load(cf)
	if err != nil {
		t.Fatal(err)
	}
	ovPath := overridesPath(filepath.Join(dir, "web.state"), cf)
	k := ipvs.NewMem(nil)
	eng := engine.New(cfg, engine.Options{Kernel: k, Command: func(string) {},
		Probe:         func(context.Context, *check.Spec) check.Result { return check.Result{OK: true} },
		SaveOverrides: func(o director.Overrides) error { return writeOverrides(ovPath, cf, o) }})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	<-eng.Ready()
	sock := filepath.Join(dir, "web.sock")
	ln, err := listenControl(sock)
	if err != nil {
		t.Fatal(err)
	}
	c := &control{reload: func() []string { return nil }, digest: func() string { return "d" }}
	c.eng.Store(eng)
	go c.serve(ctx, ln)
	both := "-A -t 192.0.2.1:80 -s wrr\n-a -t 192.0.2.1:80 -r 10.0.0.1:80 -m -w 2\n-a -t 192.0.2.1:80 -r 10.0.0.2:80 -m -w 3"
	deadline := time.Now().Add(10 * time.Second)
	for memTable(k) != both && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	ctl := func(args ...string) (int, string, string) {
		var out, errs strings.Builder
		rc := ctlRun(append([]string{"--socket", sock}, args...), &out, &errs)
		return rc, out.String(), errs.String()
	}
	if rc, out, errs := ctl("drain", "10.0.0.1"); rc != 0 || out != "drain 10.0.0.1\n" {
		t.Fatalf("drain: %d %q %q", rc, out, errs)
	}
	if got := memTable(k); !strings.Contains(got, "-r 10.0.0.1:80 -m -w 0") {
		t.Fatalf("drain not in the table:\n%s", got)
	}
	// CONFIG first is taken (and ignored with --socket)
	if rc, _, errs := ctl("web.cf", "weight", "10.0.0.2:80", "5", "192.0.2.1:80"); rc != 0 {
		t.Fatalf("weight: %d %q", rc, errs)
	}
	if got := memTable(k); !strings.Contains(got, "-r 10.0.0.2:80 -m -w 5") {
		t.Fatalf("weight not in the table:\n%s", got)
	}
	b, _ := os.ReadFile(ovPath)
	if !strings.HasSuffix(string(b), "\ndrain 10.0.0.1\nweight 10.0.0.2:80 5 tcp:192.0.2.1:80\n") {
		t.Fatalf("overrides file:\n%s", b)
	}
	if got, bad := readOverrides(ovPath); len(bad) > 0 || len(got) != 2 || got[1].Weight != 5 {
		t.Fatalf("read back: %v %v", got, bad)
	}
	// status: JSON and table
	ans, err := ask(sock, "status")
	var st statusJSON
	if err != nil || json.Unmarshal([]byte(ans), &st) != nil {
		t.Fatalf("status: %v %s", err, ans)
	}
	if len(st.Overrides) != 2 || st.Overrides[0].Command != "drain 10.0.0.1" || !st.Overrides[0].Applies ||
		st.Virtuals[0].Reals[0].Override != "drain 10.0.0.1" {
		t.Fatalf("status JSON: %s", ans)
	}
	if c := st.Virtuals[0].Reals[0].Check; c == nil || c.Since.IsZero() {
		t.Fatalf("no check result in the status: %s", ans)
	}
	var tb strings.Builder
	writeStatusTable(&tb, st)
	if !strings.Contains(tb.String(), "overrides (lvsd ctl): drain 10.0.0.1; weight 10.0.0.2:80 5 tcp:192.0.2.1:80\n") ||
		!strings.Contains(tb.String(), "up; drained (lvsd ctl): weight 0") {
		t.Fatalf("status table:\n%s", tb.String())
	}

	// bad input: usage (2) or refused (1), the table and the file as they were
	before := memTable(k)
	for _, tc := range []struct {
		args []string
		rc   int
		err  string
	}{
		{[]string{"drain", "10.0.0.9"}, 1, "no real 10.0.0.9 in " + cf + "; its reals: 10.0.0.1:80, 10.0.0.2:80"},
		{[]string{"drain", "10.0.0.1", "tcp:192.0.2.9:80"}, 1, "no virtual tcp:192.0.2.9:80"},
		{[]string{"weight", "10.0.0.1", "many"}, 2, `"many" is not a weight`},
		{[]string{"frobnicate", "10.0.0.1"}, 2, "unknown command"},
		{[]string{}, 2, "no command"},
	} {
		rc, _, errs := ctl(tc.args...)
		if rc != tc.rc || !strings.Contains(errs, tc.err) {
			t.Errorf("%v: %d %q, want %d %q", tc.args, rc, errs, tc.rc, tc.err)
		}
	}
	if ans, _ := ask(sock, "ctl weight 10.0.0.1"); !strings.HasPrefix(ans, "error: weight 10.0.0.1: no weight N") {
		t.Errorf("malformed request: %q", ans)
	}
	if got := memTable(k); got != before {
		t.Fatalf("bad input changed the table:\n%s", got)
	}
	if b2, _ := os.ReadFile(ovPath); string(b2) != string(b) {
		t.Fatalf("bad input changed the file:\n%s", b2)
	}
	// enable removes them; the file goes with the last one
	ctl("enable", "10.0.0.1")
	if rc, out, _ := ctl("enable", "10.0.0.2"); rc != 0 || !strings.Contains(out, "its overrides removed") {
		t.Fatalf("enable: %d %q", rc, out)
	}
	if got := memTable(k); got != both {
		t.Fatalf("after enable:\n%s", got)
	}
	if _, err := os.Stat(ovPath); !os.IsNotExist(err) {
		t.Fatalf("overrides file left: %v", err)
	}
	if rc, out, _ := ctl("enable", "10.0.0.2"); rc != 0 || !strings.Contains(out, "nothing to change") {
		t.Fatalf("enable again: %d %q", rc, out)
	}
}

func TestCtlHelpAndNoDirector(t *testing.T) {
	var out, errs strings.Builder
	if rc := ctlRun([]string{"--help"}, &out, &errs); rc != 0 || !strings.Contains(out.String(), "disable|enable|drain REAL [VIRTUAL]") {
		t.Fatalf("--help: %d %q", rc, out.String())
	}
	old := ldRunDir
	ldRunDir = t.TempDir()
	defer func() { ldRunDir = old }()
	out.Reset()
	errs.Reset()
	if rc := ctlRun([]string{"drain", "10.0.0.1"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "no lvsd running") {
		t.Fatalf("no director: %d %q", rc, errs.String())
	}
	errs.Reset()
	if rc := ctlRun([]string{"x.cf", "drain", "10.0.0.1"}, &out, &errs); rc != 1 || !strings.Contains(errs.String(), "no lvsd running for this configuration") {
		t.Fatalf("no director for x.cf: %d %q", rc, errs.String())
	}
}

func TestReadOverridesBadLine(t *testing.T) {
	p := filepath.Join(t.TempDir(), "x.overrides")
	os.WriteFile(p, []byte("# c\ndrain 10.0.0.1\nweight 10.0.0.2 lots\n\ndisable 10.0.0.3 tcp:1.2.3.4:80\n"), 0o644)
	got, bad := readOverrides(p)
	if len(got) != 2 || len(bad) != 1 || !strings.HasPrefix(bad[0], p+":3: ") {
		t.Fatalf("%v %q", got, bad)
	}
}

// lvsd run --dry-run --socket: the imagined table answers status and
// lvsd ctl like a real one (what bench/status measures); reload is refused.
func TestDryRunSocket(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(dir, "d.cf")
	os.WriteFile(cf, []byte("virtual=192.0.2.1:80\n\tchecktype=on\n\treal=10.0.0.1:80 masq 2\n"), 0o644)
	sock := filepath.Join(dir, "d.sock")
	startDryRun(t, cf, sock)
	var st statusJSON
	deadline := time.Now().Add(20 * time.Second)
	for {
		ans, err := ask(sock, "status")
		if err == nil && json.Unmarshal([]byte(ans), &st) == nil && st.Up == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status from the dry run: %v %s", err, ans)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out, errs strings.Builder
	if rc := ctlRun([]string{"--socket", sock, "drain", "10.0.0.1"}, &out, &errs); rc != 0 {
		t.Fatalf("ctl on a dry run: %d %s", rc, errs.String())
	}
	if ans, _ := ask(sock, "reload"); !strings.Contains(ans, "a dry run does not reload") {
		t.Errorf("reload: %q", ans)
	}
}

// lvsd status without CONFIG and without an ldirectord.cf: the only
// director running answers, whatever its file is called.
func TestStatusOfTheOnlyDirector(t *testing.T) {
	oldRun, oldHa := ldRunDir, haDirs
	ldRunDir, haDirs = t.TempDir(), []string{t.TempDir()}
	defer func() { ldRunDir, haDirs = oldRun, oldHa }()
	cf := filepath.Join(t.TempDir(), "only.cf")
	os.WriteFile(cf, []byte("virtual=192.0.2.1:80\n\tchecktype=on\n\treal=10.0.0.1:80 masq 2\n"), 0o644)
	sock := filepath.Join(ldRunDir, "only.cf.sock")
	startDryRun(t, cf, sock)
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out, errs strings.Builder
		rc := run([]string{"status"}, &out, &errs)
		if rc == 0 && strings.Contains(out.String(), "config "+cf) && strings.Contains(out.String(), "10.0.0.1:80") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("lvsd status: %d %q %q", rc, out.String(), errs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	var out, errs strings.Builder
	if rc := run([]string{"status", "--json"}, &out, &errs); rc != 0 || !strings.Contains(out.String(), `"config": "`+cf+`"`) {
		t.Fatalf("lvsd status --json: %d %q %q", rc, out.String(), errs.String())
	}
}

// A director ocf:lvs:director runs (its socket in HA_RSCTMP, no pid file
// in /run/lvsd) is found by lvsd CONFIG status and lvsd ctl, by the file
// its status names.
func TestClusterDirectorFound(t *testing.T) {
	dir := t.TempDir()
	cf := filepath.Join(dir, "c.cf")
	os.WriteFile(cf, []byte("virtual=192.0.2.1:80\n\tchecktype=on\n\treal=10.0.0.1:80 masq 2\n"), 0o644)
	rsc := filepath.Join(dir, "rsc")
	os.Mkdir(rsc, 0o755)
	t.Setenv("HA_RSCTMP", rsc)
	old := ldRunDir
	ldRunDir = filepath.Join(dir, "run")
	defer func() { ldRunDir = old }()
	sock := filepath.Join(rsc, "director-web-0123abcd.sock")
	startDryRun(t, cf, sock)
	deadline := time.Now().Add(20 * time.Second)
	for _, err := ask(sock, "status"); err != nil; _, err = ask(sock, "status") {
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	var out, errs strings.Builder
	if rc := run([]string{cf, "status"}, &out, &errs); rc != 0 || !strings.Contains(out.String(), "running under the cluster (ocf:lvs:director, socket "+sock+")") {
		t.Fatalf("status: rc %d\n%s%s", rc, out.String(), errs.String())
	}
	out.Reset()
	if rc := ctlRun([]string{cf, "drain", "10.0.0.1"}, &out, &errs); rc != 0 {
		t.Fatalf("ctl with CONFIG: rc %d %s", rc, errs.String())
	}
	out.Reset()
	if rc := ctlRun([]string{"enable", "10.0.0.1"}, &out, &errs); rc != 0 {
		t.Fatalf("ctl without CONFIG: rc %d %s", rc, errs.String())
	}
}

// startDryRun runs `lvsd run --dry-run --socket sock cf` (the test binary
// as lvsd) until the test ends.
func startDryRun(t *testing.T, cf, sock string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "run", "--dry-run", "--socket", sock, cf)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
}
