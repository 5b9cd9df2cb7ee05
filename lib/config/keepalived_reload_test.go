package config

import (
	"bytes"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/benchconf"
)

// sameRead: a Reader that read v1 reads v2 as a whole read does (the
// config, its warnings, its errors), and v1 again after it. It returns
// how many of those two it read in part.
func sameRead(t *testing.T, name string, v1, v2 []byte, o Options) int {
	t.Helper()
	rd := NewReader(o)
	if _, err := rd.Parse(name, v1); err != nil && rd.last != nil {
		t.Fatalf("a refused read was kept")
	}
	for _, v := range [][]byte{v2, v1} {
		got, gerr := rd.Parse(name, v)
		want, werr := ParseWith(name, v, o)
		if !reflect.DeepEqual(gerr, werr) {
			t.Fatalf("errors differ from a whole read's:\n got %v\nwant %v\n--- file:\n%s", gerr, werr, v)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("config differs from a whole read's: %s\n--- file:\n%s", configDiff(got, want), v)
		}
	}
	return rd.Partial
}

// configDiff names the first part of a that b does not have.
func configDiff(a, b *Config) string {
	if a == nil || b == nil {
		return fmt.Sprintf("%v vs %v", a, b)
	}
	if !reflect.DeepEqual(a.Warnings, b.Warnings) {
		return fmt.Sprintf("warnings\n got %v\nwant %v", a.Warnings, b.Warnings)
	}
	if len(a.Virtuals) != len(b.Virtuals) {
		return fmt.Sprintf("%d virtuals, want %d", len(a.Virtuals), len(b.Virtuals))
	}
	for i := range a.Virtuals {
		if !reflect.DeepEqual(a.Virtuals[i], b.Virtuals[i]) {
			va, vb := *a.Virtuals[i], *b.Virtuals[i]
			for j := 0; j < len(va.Reals) && j < len(vb.Reals); j++ {
				if !reflect.DeepEqual(va.Reals[j], vb.Reals[j]) {
					return fmt.Sprintf("virtual %d real %d\n got %+v\nwant %+v", i, j, *va.Reals[j], *vb.Reals[j])
				}
			}
			va.Reals, vb.Reals = nil, nil
			return fmt.Sprintf("virtual %d\n got %+v\nwant %+v", i, va, vb)
		}
	}
	return "elsewhere (global, vrrp)"
}

// lineEdits are edits of each line of text: removed, doubled, a comment
// before it, its last digit changed.
func lineEdits(text string) []string {
	lines := strings.SplitAfter(text, "\n")
	var out []string
	join := func(parts ...[]string) string {
		var b strings.Builder
		for _, p := range parts {
			for _, l := range p {
				b.WriteString(l)
			}
		}
		return b.String()
	}
	for i, l := range lines {
		head, tail := lines[:i], lines[i+1:]
		out = append(out, join(head, tail), join(head, []string{l, l}, tail), join(head, []string{"! a comment\n", l}, tail))
		if j := strings.LastIndexAny(l, "0123456789"); j >= 0 {
			d := l[:j] + string('0'+(l[j]-'0'+1)%10) + l[j+1:]
			out = append(out, join(head, []string{d}, tail))
		}
	}
	return out
}

// TestReaderSameAsFullRead: after each edit of each line of the keepalived
// test configurations, a Reader's read equals a whole read.
func TestReaderSameAsFullRead(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "keepalived", "*.conf"))
	more, _ := filepath.Glob(filepath.Join(testdata, "warnings", "ka-*.conf"))
	files = append(append(files, more...), filepath.Join(testdata, "keepalived", "seed000", "keepalived.conf"))
	if len(files) < 10 {
		t.Fatalf("only %d files", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Run(rel(f), func(t *testing.T) {
			for _, e := range lineEdits(string(data)) {
				sameRead(t, f, data, []byte(e), testOptions())
			}
		})
	}
}

// TestReaderInPart: the edits a Reader reads in part are read so, and
// those it cannot are read whole; the virtuals it did not re-read are the
// previous read's, or copies moved by the lines added above them.
func TestReaderInPart(t *testing.T) {
	v1 := benchconf.Keepalived(20, 3, 10, 1)
	insert := bytes.Replace(v1, []byte("    lb_algo wrr\n"), []byte("    lb_algo wrr\n    ! moved\n"), 1)
	for _, c := range []struct {
		name   string
		edit   []byte
		inPart bool
	}{
		{"weight", benchconf.Keepalived(20, 3, 10, 5), true},
		{"a line added above", insert, true},
		{"a virtual_server removed", bytes.Replace(v1, []byte("virtual_server 10.200.0.1 80 {\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n"+
			"    real_server 10.1.0.1 80 {\n        weight 1\n    }\n    real_server 10.1.0.2 80 {\n        weight 1\n    }\n"+
			"    real_server 10.1.0.3 80 {\n        weight 1\n    }\n}\n"), nil, 1), true},
		{"global_defs", bytes.Replace(v1, []byte("router_id bench"), []byte("router_id other"), 1), false},
		{"an include", append(append([]byte(nil), v1...), "include /nonexistent/*.conf\n"...), false},
		{"a definition", append([]byte("$X=1\n"), v1...), false},
		{"an error", bytes.Replace(v1, []byte("weight 1\n    }\n}"), []byte("weight x\n    }\n}"), 1), false},
	} {
		t.Run(c.name, func(t *testing.T) {
			rd := NewReader(testOptions())
			first, err := rd.Parse("k.conf", v1)
			if err != nil {
				t.Fatal(err)
			}
			got, gerr := rd.Parse("k.conf", c.edit)
			want, werr := ParseWith("k.conf", c.edit, testOptions())
			if !reflect.DeepEqual(gerr, werr) || !reflect.DeepEqual(got, want) {
				t.Fatalf("differs from a whole read: %v / %v", gerr, configDiff(got, want))
			}
			if (rd.Partial == 1) != c.inPart {
				t.Fatalf("read in part %d times, want %v", rd.Partial, c.inPart)
			}
			if !c.inPart || got == nil {
				return
			}
			shared := 0
			for i, v := range got.Virtuals {
				for _, o := range first.Virtuals {
					if v == o {
						shared++
						if o.Line != want.Virtuals[i].Line {
							t.Errorf("virtual %d reused at line %d, read at %d", i, o.Line, want.Virtuals[i].Line)
						}
					}
				}
			}
			// the weight: all but the edited one are the first read's; the
			// others move every virtual after the edit (copies)
			if c.name == "weight" && shared != len(got.Virtuals)-1 || c.name != "weight" && shared != 0 {
				t.Errorf("%d of %d virtuals reused", shared, len(got.Virtuals))
			}
		})
	}
}

// TestMovedCoversEveryLine: every line number a Virtual holds is moved by
// Virtual.moved (a field added to the model with a line must be added
// there).
func TestMovedCoversEveryLine(t *testing.T) {
	handled := map[reflect.Type]bool{reflect.TypeOf(Virtual{}): true, reflect.TypeOf(Real{}): true, reflect.TypeOf(FileCheck{}): true}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(ty reflect.Type) {
		switch ty.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(ty.Elem())
			return
		case reflect.Struct:
		default:
			return
		}
		if seen[ty] || ty.PkgPath() != reflect.TypeOf(Virtual{}).PkgPath() {
			return
		}
		seen[ty] = true
		for i := 0; i < ty.NumField(); i++ {
			f := ty.Field(i)
			if strings.HasSuffix(f.Name, "Line") && !handled[ty] {
				t.Errorf("%s.%s is a line that Virtual.moved does not move", ty.Name(), f.Name)
			}
			if f.Name == "Track" {
				continue // a FILE_CHECK's track_file: such a real_server is read again (noReuse)
			}
			walk(f.Type)
		}
	}
	walk(reflect.TypeOf(Virtual{}))
	v := &Virtual{Line: 1, Reals: []*Real{{Line: 2, Files: []FileCheck{{Line: 3}}}}, Fallback: &Real{Line: 4}, SorryServer: &Real{Line: 5}}
	m := v.moved(10)
	if m.Line != 11 || m.Reals[0].Line != 12 || m.Reals[0].Files[0].Line != 13 || m.Fallback.Line != 14 || m.SorryServer.Line != 15 {
		t.Errorf("moved: %+v", m)
	}
	if v.Line != 1 || v.Reals[0].Line != 2 || v.Reals[0].Files[0].Line != 3 || v.Fallback.Line != 4 {
		t.Errorf("moved changed the original: %+v", v)
	}
}

// FuzzReloadKeepalived: a Reader's read of an edited file equals a whole read.
func FuzzReloadKeepalived(f *testing.F) {
	files, _ := filepath.Glob(filepath.Join(testdata, "keepalived", "*.conf"))
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data, uint(len(data)/2), uint(3), []byte("1"))
			f.Add(data, uint(len(data)/3), uint(0), []byte("\n! x\n"))
		}
	}
	f.Add(benchconf.Keepalived(5, 2, 2, 1), uint(300), uint(1), []byte("}"))
	f.Fuzz(func(t *testing.T, data []byte, at, del uint, ins []byte) {
		if Detect("keepalived.conf", data) != "keepalived" {
			data = append([]byte("global_defs {\n}\n"), data...)
		}
		at %= uint(len(data) + 1)
		del = min(del, uint(len(data))-at)
		edit := append(append(append([]byte(nil), data[:at]...), ins...), data[at+del:]...)
		sameRead(t, "keepalived.conf", data, edit, fuzzOptions())
	})
}

// TestReaderRandomEdits: random small edits (braces, quotes, comments,
// new lines, definitions) of the keepalived test configurations, each
// read by a Reader as a whole read reads it (the fuzz target's check,
// repeatable).
func TestReaderRandomEdits(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join(testdata, "keepalived", "*.conf"))
	rnd := rand.New(rand.NewSource(1))
	const chars = "{}\n 1a\"#!$~@"
	n, partial := 1000, 0
	if testing.Short() {
		n = 200
	}
	for i := 0; i < n; i++ {
		data, err := os.ReadFile(files[rnd.Intn(len(files))])
		if err != nil {
			t.Fatal(err)
		}
		at := rnd.Intn(len(data) + 1)
		del := min(rnd.Intn(20), len(data)-at)
		ins := []byte{chars[rnd.Intn(len(chars))]}
		edit := append(append(append([]byte(nil), data[:at]...), ins...), data[at+del:]...)
		partial += sameRead(t, "keepalived.conf", data, edit, fuzzOptions())
	}
	if partial < n/2 {
		t.Errorf("only %d of %d reads in part: the test does not test the Reader", partial, 2*n)
	}
}
