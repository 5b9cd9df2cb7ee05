package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDryRunSummary: a dry run ends with each real's final state per
// virtual ("not checked yet" included) and exit 3 when a virtual has no
// real up.
func TestDryRunSummary(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := ln.Addr().String()
	ln.Close()
	// a listener that never answers: its http check is still running at the end
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	hang := silent.Addr().String()
	cf := "checkinterval=30\ncheckcount=1\nchecktimeout=20\n" +
		"virtual=192.0.2.10:80\n\treal=" + closed + " masq\n\tchecktype=connect\n" +
		"virtual=192.0.2.11:80\n\treal=" + hang + " masq\n\tservice=http\n\tnegotiatetimeout=20\n" +
		"virtual=192.0.2.12:80\n\treal=127.0.0.1:9 masq\n\tchecktype=on\n"
	p := filepath.Join(t.TempDir(), "l.cf")
	if err := os.WriteFile(p, []byte(cf), 0o644); err != nil {
		t.Fatal(err)
	}
	// stopped (SIGINT) once the closed real's first check has failed and
	// the checktype=on real is up
	rc, o, e := dryRunUntil(t, p, "down tcp:192.0.2.10:80 real "+closed, "up   tcp:192.0.2.12:80 real 127.0.0.1:9")
	i := strings.Index(o, " summary: ")
	if rc != 3 || i < 0 {
		t.Fatalf("rc %d, want 3; stdout:\n%s\nstderr:\n%s", rc, o, e)
	}
	sum := o[i:]
	for _, want := range []string{
		"summary: 1 up, 1 down, 1 not checked yet\n",
		"tcp:192.0.2.10:80: NO REAL UP\n  -> " + closed,
		"tcp:192.0.2.11:80: NO REAL UP\n  -> " + hang,
		"not checked yet",
		"tcp:192.0.2.12:80: 1 real(s) up\n  -> 127.0.0.1:9              up\n",
		"2 of 3 virtual services have no real up (exit 3)\n",
	} {
		if !strings.Contains(sum, want) {
			t.Errorf("summary lacks %q:\n%s", want, sum)
		}
	}
}
