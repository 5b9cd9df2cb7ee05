package vrrp

import "testing"

// Seed 003's pattern: both members of a sync group track the same
// weight-0 script. It fails (maintenance file): each member is in FAULT
// for its own reason and for the group's. It passes again: each member's
// own fault clears while the other's group fault still holds it, so each
// must tell the group (not only when its whole fault state flips), or
// both stay in FAULT for ever (found by the VM test of seed 003).
func TestRouterSyncGroupSharedScriptRecovers(t *testing.T) {
	h := &hub{}
	var broken toggle
	a := startNode(t, h, syncPair(150, 0, 0, 1), "192.0.2.1", broken.exec)
	b := startNode(t, h, syncPair(100, 0), "192.0.2.2", nil)
	waitFor(t, "A master of both", func() bool { return a.states() == "MASTER,MASTER" && b.states() == "BACKUP,BACKUP" })
	broken.set(true)
	waitFor(t, "A in fault for both, B master of both", func() bool { return a.states() == "FAULT,FAULT" && b.states() == "MASTER,MASTER" })
	broken.set(false)
	waitFor(t, "A out of fault (master again: it preempts)", func() bool { return a.states() == "MASTER,MASTER" && b.states() == "BACKUP,BACKUP" })
}
