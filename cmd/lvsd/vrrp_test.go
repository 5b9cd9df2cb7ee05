package main

import (
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

// A reload that changes the VRRP part is reported (it applies at the next
// start); lines moving is not a change.
func TestVRRPChanged(t *testing.T) {
	mk := func(line, prio int) *config.Config {
		return &config.Config{VRRP: []*config.VRRPInstance{{Line: line, Name: "VI_1", Priority: prio, AdvertInt: time.Second}}}
	}
	if vrrpChanged(mk(3, 100), mk(9, 100)) {
		t.Error("a moved line counted as a change")
	}
	if !vrrpChanged(mk(3, 100), mk(3, 150)) {
		t.Error("a priority change not seen")
	}
}
