package config

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// keepalived 2.2.7's tracking rules (vrrp_track.c process_script_update_priority,
// track_file.c update_track_file_status), case by case.
func TestTrackWeight(t *testing.T) {
	for _, c := range []struct {
		ok      bool
		w       int
		rev     bool
		add     int
		isFault bool
	}{
		{true, 10, false, 10, false}, {false, 10, false, 0, false},
		{true, -10, false, 0, false}, {false, -10, false, -10, false},
		{true, 10, true, -10, false}, {false, 10, true, 0, false},
		{true, -10, true, 0, false}, {false, -10, true, 10, false},
		{true, 0, false, 0, false}, {false, 0, false, 0, true},
		{true, 0, true, 0, true}, {false, 0, true, 0, false},
	} {
		add, f := TrackWeight(c.ok, c.w, c.rev)
		if add != c.add || f != c.isFault {
			t.Errorf("TrackWeight(%v, %d, %v) = %d, %v; want %d, %v", c.ok, c.w, c.rev, add, f, c.add, c.isFault)
		}
	}
}

func TestTrackFileStatus(t *testing.T) {
	for _, c := range []struct {
		v          int64
		w          int
		rev        bool
		fault, max int64
		add        int64
		isFault    bool
	}{
		{0, 0, false, VRRPFileFault, VRRPFileMax, 0, false},
		{3, 0, false, VRRPFileFault, VRRPFileMax, 0, true},
		{0, 0, true, VRRPFileFault, VRRPFileMax, 0, true},
		{3, 0, true, VRRPFileFault, VRRPFileMax, 0, false},
		{3, 5, false, VRRPFileFault, VRRPFileMax, 15, false},
		{3, 5, true, VRRPFileFault, VRRPFileMax, -15, false},
		{100, 5, false, VRRPFileFault, VRRPFileMax, 253, false},     // clamped
		{-100, 5, false, VRRPFileFault, VRRPFileMax, -254, true},    // FAULT
		{-50, 5, false, VRRPFileFault, VRRPFileMax, -250, false},    // just above
		{-100, 5, false, CheckFileFault, CheckFileMax, -500, false}, // a weight goes to 0, not down
		{math.MinInt32, 2, false, CheckFileFault, CheckFileMax, CheckFileFault, true},
		{math.MaxInt32, 2, false, CheckFileFault, CheckFileMax, CheckFileMax, false},
	} {
		add, f := TrackFileStatus(c.v, c.w, c.rev, c.fault, c.max)
		if add != c.add || f != c.isFault {
			t.Errorf("TrackFileStatus(%d, %d, %v, %d, %d) = %d, %v; want %d, %v", c.v, c.w, c.rev, c.fault, c.max, add, f, c.add, c.isFault)
		}
	}
}

// strtol(s, NULL, 0) as keepalived reads a tracked file.
func TestReadTrackFile(t *testing.T) {
	for _, c := range []struct {
		s  string
		v  int64
		ok bool
	}{
		{"5\n", 5, true}, {"  -7 trailing", -7, true}, {"+3", 3, true}, {"0x1f", 31, true},
		{"010", 8, true}, {"09", 0, true}, {"abc", 0, true}, {"", 0, true}, {"0x", 0, true},
		{"2147483648", 2147483648, true}, {"2147483649", 2147483649, false}, {"-2147483649", -2147483649, false},
		{"99999999999999999999", 0, false},
	} {
		dir := t.TempDir()
		p := filepath.Join(dir, "f")
		if err := os.WriteFile(p, []byte(c.s), 0o644); err != nil {
			t.Fatal(err)
		}
		if v, ok := ReadTrackFile(p); v != c.v || ok != c.ok {
			t.Errorf("ReadTrackFile(%q) = %d, %v; want %d, %v", c.s, v, ok, c.v, c.ok)
		}
	}
	if v, ok := ReadTrackFile(filepath.Join(t.TempDir(), "missing")); v != 0 || !ok {
		t.Errorf("missing file = %d, %v; want 0, true", v, ok)
	}
}

func TestTrackFileWriteInit(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	tf := &TrackFile{File: p, Init: true, InitValue: 7}
	if err := tf.WriteInit(); err != nil {
		t.Fatal(err)
	}
	if v, _ := ReadTrackFile(p); v != 7 {
		t.Fatalf("init_file 7 wrote %d", v)
	}
	os.WriteFile(p, []byte("3\n"), 0o644)
	tf.InitValue = 9
	tf.WriteInit() // exists, no overwrite: kept
	if v, _ := ReadTrackFile(p); v != 3 {
		t.Fatalf("init_file without overwrite replaced the file: %d", v)
	}
	tf.Overwrite = true
	tf.WriteInit()
	if v, _ := ReadTrackFile(p); v != 9 {
		t.Fatalf("init_file overwrite: %d", v)
	}
}

// The typed model of misc_dynamic, FILE_CHECK and weight ... reverse.
func TestKeepalivedDynamicWeights(t *testing.T) {
	c, err := Load(filepath.Join(testdata, "keepalived", "dynamic-weights.conf"))
	if err != nil {
		t.Fatal(err)
	}
	v := c.Virtuals[0]
	r1, r2, r3 := v.Reals[0], v.Reals[1], v.Reals[2]
	checkOf := func(r *Real) *Check {
		if r.Check != nil {
			return r.Check
		}
		return &v.Check
	}
	if ck := checkOf(r1); ck == nil || ck.Type != "external" || !ck.Dynamic || !ck.MiscPath || ck.CheckTimeout != 6*time.Second || len(r1.Files) != 0 {
		t.Errorf("real 1: misc_dynamic with the virtual_server's delay_loop as timeout: %+v", ck)
	}
	if ck := checkOf(r2); !ck.Dynamic || ck.CheckTimeout != 3*time.Second {
		t.Errorf("real 2: misc_timeout 3: %+v", ck)
	}
	drain, maint := c.TrackFiles[0], c.TrackFiles[1]
	if len(r2.Files) != 1 || r2.Files[0] != (FileCheck{Line: r2.Files[0].Line, Track: drain, Weight: 5}) {
		t.Errorf("real 2 FILE_CHECK without weight: the track_file's: %+v", r2.Files)
	}
	if len(r3.Files) != 2 || r3.Files[0].Weight != -4 || !r3.Files[0].Reverse || r3.Files[1].Track != maint ||
		r3.Files[1].Weight != 0 || !r3.Files[1].Reverse {
		t.Errorf("real 3 FILE_CHECKs: %+v", r3.Files)
	}
	if ck := checkOf(r3); ck.Type != "on" || !ck.StartUp {
		t.Errorf("real 3 (FILE_CHECK alone): an always-up check starting up: %+v", ck)
	}
	if s := c.Scripts[0]; s.Weight != 10 || !s.Reverse {
		t.Errorf("vrrp_script weight 10 reverse: %+v", s)
	}
	if !maint.Reverse || maint.Weight != 0 || !drain.Init || drain.InitValue != 0 {
		t.Errorf("track_file definitions: %+v %+v", drain, maint)
	}
	in := c.VRRP[0]
	want := []TrackRef{{"chk_ok", 10, true}, {"chk_maint", -20, true}}
	if len(in.TrackScripts) != 2 || in.TrackScripts[0] != want[0] || in.TrackScripts[1] != want[1] {
		t.Errorf("track_script: %+v, want %+v (no weight: the script's weight and reverse)", in.TrackScripts, want)
	}
	wantIf := []TrackRef{{"eth0", 0, true}, {"eth1", 10, true}}
	if len(in.TrackInterfaces) != 2 || in.TrackInterfaces[0] != wantIf[0] || in.TrackInterfaces[1] != wantIf[1] {
		t.Errorf("track_interface: %+v", in.TrackInterfaces)
	}
	// weight without an option: the definition's reverse (drain has none);
	// noreverse turns maint's off
	wantF := []TrackRef{{"drain", -2, false}, {"maint", 0, false}}
	if len(in.TrackFiles) != 2 || in.TrackFiles[0] != wantF[0] || in.TrackFiles[1] != wantF[1] {
		t.Errorf("track_file: %+v, want %+v", in.TrackFiles, wantF)
	}
}

// TOML has the same vocabulary, and migrate writes it: a keepalived file
// migrated to TOML reads back to the same model.
func TestTOMLDynamicWeights(t *testing.T) {
	src := `
[[track_file]]
name = "drain"
file = "/run/lvs/drain"
weight = 5
reverse = true

[[virtual]]
address = "192.0.2.1:80"
[virtual.check]
type = "external"
checkcommand = "/usr/local/bin/weight.sh"
checkcommand_shell = true
checkcommand_dynamic = true
checkcommand_user = "root"

[[virtual.real]]
address = "192.0.2.2:80"
file_check = [{ track_file = "drain" }, { track_file = "drain", weight = 0, reverse = false }]

[[vrrp_script]]
name = "chk"
script = "/bin/true"
weight = 10
reverse = true

[[vrrp_instance]]
name = "VI_1"
interface = "eth0"
virtual_router_id = 51
virtual_ipaddress = ["192.0.2.10/24"]
track_script = [{ name = "chk", weight = 10, reverse = true }]
track_interface = [{ name = "eth0", weight = -5, reverse = true }]
track_file = [{ name = "drain", weight = 2, reverse = true }]
`
	p := filepath.Join(t.TempDir(), "lvsd.toml")
	os.WriteFile(p, []byte(src), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	v := c.Virtuals[0]
	if !v.Check.Dynamic || v.Check.RunAs == nil || v.Check.RunAs.UID != 0 {
		t.Errorf("checkcommand_dynamic / checkcommand_user: %+v", v.Check)
	}
	f := v.Reals[0].Files
	if len(f) != 2 || f[0].Track != c.TrackFiles[0] || f[0].Weight != 5 || !f[0].Reverse || f[1].Weight != 0 || f[1].Reverse {
		t.Errorf("file_check: %+v", f)
	}
	in := c.VRRP[0]
	if !c.Scripts[0].Reverse || !in.TrackScripts[0].Reverse || !in.TrackInterfaces[0].Reverse || !in.TrackFiles[0].Reverse {
		t.Errorf("reverse: %+v %+v", c.Scripts[0], in)
	}

	// keepalived -> migrate -> TOML: the same dynamic weights
	ka, err := Load(filepath.Join(testdata, "keepalived", "dynamic-weights.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := WriteTOML(&buf, ka); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	p2 := filepath.Join(t.TempDir(), "migrated.toml")
	os.WriteFile(p2, b, 0o644)
	back, err := Load(p2)
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	for i, r := range ka.Virtuals[0].Reals {
		br := back.Virtuals[0].Reals[i]
		if len(br.Files) != len(r.Files) {
			t.Fatalf("real %d: file checks %+v, want %+v", i, br.Files, r.Files)
		}
		for j := range r.Files {
			a, b := r.Files[j], br.Files[j]
			if a.Track.Name != b.Track.Name || a.Weight != b.Weight || a.Reverse != b.Reverse {
				t.Errorf("real %d file check %d: %+v, want %+v", i, j, b, a)
			}
		}
		ck, bk := r.Check, br.Check
		if ck == nil {
			ck = &ka.Virtuals[0].Check
		}
		if bk == nil {
			bk = &back.Virtuals[0].Check
		}
		if ck.Dynamic != bk.Dynamic {
			t.Errorf("real %d: dynamic %v, want %v", i, bk.Dynamic, ck.Dynamic)
		}
	}
	for i, tr := range ka.VRRP[0].TrackScripts {
		if back.VRRP[0].TrackScripts[i] != tr {
			t.Errorf("track_script %d: %+v, want %+v", i, back.VRRP[0].TrackScripts[i], tr)
		}
	}
}

// MISC_CHECK user NAME [GROUP]: resolved when read (keepalived -t 2.2.7
// is killed on a valid user line, so no corpus file has one).
func TestKeepalivedMiscUser(t *testing.T) {
	src := "virtual_server 192.0.2.1 80 {\n  protocol TCP\n  real_server 192.0.2.2 80 {\n    MISC_CHECK {\n" +
		"      misc_path \"/bin/true\"\n      user root root\n    }\n  }\n}\n"
	p := filepath.Join(t.TempDir(), "keepalived.conf")
	os.WriteFile(p, []byte(src), 0o644)
	c, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	ck := c.Virtuals[0].Reals[0].Check
	if ck == nil {
		ck = &c.Virtuals[0].Check
	}
	if ck.RunAs == nil || *ck.RunAs != (RunAs{User: "root", Group: "root"}) {
		t.Fatalf("RunAs %+v", ck.RunAs)
	}
}
