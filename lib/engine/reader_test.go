package engine

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

// TestReloadReadInPart: reloads of a keepalived.conf read in part by a
// config.Reader (lvsd run's), whose virtuals are partly the running
// configuration's own, leave the kernel as the rules want it, with the
// writes of the change alone and the lines of a whole read.
func TestReloadReadInPart(t *testing.T) {
	vs := func(addr, w string) string {
		return "virtual_server " + addr + " 80 {\n    lb_algo wrr\n    lb_kind NAT\n    protocol TCP\n" +
			"    real_server 10.0.0.1 80 {\n        weight " + w + "\n    }\n" +
			"    real_server 10.0.0.2 80 {\n        weight 1\n    }\n}\n"
	}
	file := func(head string, blocks ...string) []byte {
		return []byte("global_defs {\n    router_id t\n}\n" + head + strings.Join(blocks, "\n"))
	}
	rd := config.NewReader(config.Options{})
	load := func(data []byte) *config.Config {
		t.Helper()
		c, err := rd.Parse("keepalived.conf", data)
		if err != nil {
			t.Fatal(err)
		}
		whole, _ := config.Parse("keepalived.conf", data)
		if !reflect.DeepEqual(c, whole) {
			t.Fatal("the Reader's read differs from a whole read")
		}
		return c
	}
	foreign := ipvs.Service{Family: 4, Protocol: "tcp", Addr: netip.MustParseAddr("198.51.100.1"), Port: 80, Scheduler: "rr"}
	k := ipvs.NewMem([]ipvs.Service{foreign})
	a := load(file("", vs("192.0.2.1", "1"), vs("192.0.2.2", "1"), vs("192.0.2.3", "1")))
	e := New(a, Options{Kernel: k, Command: func(string) {}, DrainTimeout: 0})
	if err := e.begin(); err != nil {
		t.Fatal(err)
	}
	subs := check.FromConfig(a, nil)
	e.checks.Set(subs)
	e.nchecks = len(subs)
	for _, id := range realIDs(a) {
		e.onHealth(check.Event{Sub: &check.Sub{ID: id}, To: check.Up})
	}
	e.pass(false)
	verify(t, e, k, foreign, "start")
	for _, step := range []struct {
		name   string
		data   []byte
		writes int
	}{
		{"one weight", file("", vs("192.0.2.1", "1"), vs("192.0.2.2", "7"), vs("192.0.2.3", "1")), 1},
		{"lines added above", file("! a\n! b\n", vs("192.0.2.1", "1"), vs("192.0.2.2", "7"), vs("192.0.2.3", "1")), 0},
		{"a weight below moved lines", file("! a\n! b\n", vs("192.0.2.1", "1"), vs("192.0.2.2", "7"), vs("192.0.2.3", "4")), 1},
		{"a virtual_server removed", file("! a\n! b\n", vs("192.0.2.1", "1"), vs("192.0.2.3", "4")), 1},
	} {
		before := rd.Partial
		c := load(step.data)
		if rd.Partial != before+1 {
			t.Fatalf("%s: read whole", step.name)
		}
		w := k.Writes()
		if err := e.onReload(c); err != nil {
			t.Fatal(err)
		}
		verify(t, e, k, foreign, step.name)
		if n := k.Writes() - w; n != step.writes {
			t.Errorf("%s: %d writes, want %d", step.name, n, step.writes)
		}
		st := e.snapshot()
		for i, v := range st.Virtuals {
			if v.Virtual.Line != c.Virtuals[i].Line {
				t.Errorf("%s: virtual %d at line %d in the status, %d in the file", step.name, i, v.Virtual.Line, c.Virtuals[i].Line)
			}
		}
	}
}
