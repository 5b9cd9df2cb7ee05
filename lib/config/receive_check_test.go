package config_test

import (
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// The pattern compiled when the file is read is the one lib/check matches
// with (SpecFor passes it on), and it does not make two loads of one file
// look like different checks.
func TestReceivePatternReachesCheck(t *testing.T) {
	src := []byte("virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n\treal=10.0.0.3:80 gate 1 \"/b\", \"^b\"\n\treceive=\"ok$\"\n")
	load := func() *config.Config {
		c, err := config.Parse("t.cf", src)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	c1, c2 := load(), load()
	v := c1.Virtuals[0]
	s0 := check.SpecFor(v, v.Reals[0], &v.Check)
	s1 := check.SpecFor(v, v.Reals[1], &v.Check)
	if s0.ReceiveRE != v.Check.ReceiveRE || s0.ReceiveRE.String() != "ok$" {
		t.Errorf("virtual's pattern: %v", s0.ReceiveRE)
	}
	if s1.ReceiveRE != v.Reals[1].ReceiveRE || s1.ReceiveRE.String() != "^b" {
		t.Errorf("real's override: %v", s1.ReceiveRE)
	}
	w := c2.Virtuals[0]
	if o := check.SpecFor(w, w.Reals[0], &w.Check); o.ReceiveRE == s0.ReceiveRE || o.Key() != s0.Key() {
		t.Errorf("a reload compiles anew and keeps the check's key:\n%s\n%s", o.Key(), s0.Key())
	}
}
