package main

import (
	"strings"
	"testing"
	"time"
)

// The human status reads like ipvsadm -Ln, with a health column, and the
// reals left out of the table shown under their virtual with the reason.
func TestStatusTable(t *testing.T) {
	s := statusJSON{Config: "/etc/ha.d/ldirectord.cf", Digest: "0123456789abcdef0123", Loaded: time.Date(2026, 12, 2, 17, 0, 0, 0, time.UTC),
		Up: 1, Down: 1, Virtuals: []virtualJSON{{Virtual: "tcp:192.0.2.1:80", Line: 4, Service: "-t 192.0.2.1:80", Up: 1, Reals: []realJSON{
			{Real: "10.0.0.2:80", Role: "real", Health: "up", Why: "up", Forward: "masq", Weight: 2, InTable: true, InKernel: true, KWeight: 2, Active: 7, Inactive: 3},
			{Real: "10.0.0.3:80", Role: "real", Health: "down", Why: "down: connection refused"},
			{Real: "10.0.0.4:80", Role: "real", Health: "down", Why: "down: out of the table (quiescent=no)",
				Check: &checkJSON{Reason: "dial tcp 10.0.0.4:80: connect: connection refused", LatencyMS: 0.2}},
		}}}}
	var b strings.Builder
	writeStatusTable(&b, s)
	got := b.String()
	for _, want := range []string{
		"config /etc/ha.d/ldirectord.cf loaded 2026-12-02 17:00:00 (sha256 0123456789ab); reals: 1 up, 1 down, 0 not checked yet\n",
		"  -> RemoteAddress:Port Forward Weight ActiveConn InActConn Health Why\n",
		"TCP  192.0.2.1:80",
		"  -> 10.0.0.2:80        masq    2      7          3         up     up\n",
		"  -> 10.0.0.3:80        -       -      -          -         down   down: connection refused\n",
		"  -> 10.0.0.4:80        -       -      -          -         down   down: out of the table (quiescent=no) (dial tcp 10.0.0.4:80: connect: connection refused)\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
}

// --stats reads like ipvsadm -Ln --stats, with the health of each real;
// a real not in the kernel has no counters.
func TestStatsTable(t *testing.T) {
	s := statusJSON{Config: "/etc/ha.d/ldirectord.cf", Digest: "0123456789abcdef0123", ResyncS: 5, Virtuals: []virtualJSON{{Virtual: "tcp:192.0.2.1:80",
		Service: "-t 192.0.2.1:80", InKernel: true, Stats: statsJSON{12, 340, 300, 45678, 901234}, Reals: []realJSON{
			{Real: "10.0.0.2:80", Role: "real", Health: "up", InKernel: true, Stats: &statsJSON{12, 340, 300, 45678, 901234}},
			{Real: "10.0.0.3:80", Role: "real", Health: "down"},
		}}}}
	var b strings.Builder
	writeStatsTable(&b, s)
	got := b.String()
	for _, want := range []string{
		"counters as of the last table read (every 5s)\n",
		"Prot LocalAddress:Port     Conns   InPkts  OutPkts  InBytes OutBytes\n",
		"TCP  192.0.2.1:80             12      340      300    45678   901234\n",
		"  -> 10.0.0.2:80              12      340      300    45678   901234 up\n",
		"  -> 10.0.0.3:80               -        -        -        -        - down\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in:\n%s", want, got)
		}
	}
}

func TestStatusTableLastReload(t *testing.T) {
	s := statusJSON{Config: "/etc/ha.d/x.cf", LastReload: &reloadJSON{Time: time.Date(2026, 12, 2, 18, 0, 0, 0, time.UTC), Trigger: "SIGHUP",
		Result: "refused", Errors: []string{"/etc/ha.d/x.cf:3: unknown directive nosuch"}}}
	var b strings.Builder
	writeStatusTable(&b, s)
	if want := "last reload 2026-12-02 18:00:00 (SIGHUP): refused: /etc/ha.d/x.cf:3: unknown directive nosuch\n"; !strings.Contains(b.String(), want) {
		t.Errorf("no %q in:\n%s", want, b.String())
	}
}
