package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for lvsd itself
// (LVSD_TEST_MAIN=1): the daemon tests start, kill -9 and restart it as a
// separate process, and the binary travels with the tests into the VM.
func TestMain(m *testing.M) {
	if os.Getenv("LVSD_TEST_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}
