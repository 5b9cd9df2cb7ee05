//go:build vm

package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// kaWeightsConf: weights the checks set, as keepalived 2.2 sets them: a
// MISC_CHECK misc_dynamic whose script exits with the status in DIR/exit,
// FILE_CHECKs following DIR/drain (weight -2, and 1 reverse) and DIR/maint
// (weight 0: down while not 0). misc_timeout is long: under TCG a 5 s
// timeout was reached, and keepalived 2.2.7 keeps a timed-out check's
// weight change in the real's weight for good (its signal path does not
// undo cur_weight), which lvsd does not copy (docs/config.md).
const kaWeightsConf = `track_file drain {
    file DIR/drain
    weight -2
}
track_file maint {
    file DIR/maint
    weight 0
}
virtual_server 192.0.2.40 80 {
    delay_loop 1
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.0.0.11 80 {
        weight 10
        MISC_CHECK {
            misc_path "/bin/sh DIR/weight.sh DIR/exit"
            misc_timeout 60
            misc_dynamic
        }
    }
    real_server 10.0.0.12 80 {
        weight 10
        FILE_CHECK {
            track_file drain
        }
    }
    real_server 10.0.0.13 80 {
        weight 5
        FILE_CHECK {
            track_file maint
        }
        FILE_CHECK {
            track_file drain
            weight 1 reverse
        }
    }
}
`

// kaWeightPhases: the files' contents, and the reals (and weights) the
// kernel then holds.
var kaWeightPhases = []struct {
	exit, drain, maint int
	want               map[string]int // real -> weight; absent: not in the table
}{
	{7, 1, 0, map[string]int{"10.0.0.11": 5, "10.0.0.12": 8, "10.0.0.13": 4}},  // exit 7: weight 5; 10-2*1; 5-1
	{0, 3, 0, map[string]int{"10.0.0.11": 10, "10.0.0.12": 4, "10.0.0.13": 2}}, // exit 0: as configured; 10-6; 5-3
	{2, 0, 1, map[string]int{"10.0.0.11": 0, "10.0.0.12": 10}},                 // exit 2: up at 0; maint 1: .13 down
	{1, 6, 0, map[string]int{"10.0.0.12": 0, "10.0.0.13": 0}},                  // exit 1: down; 10-12 held at 0; 5-6 too
	{255, -1, 0, map[string]int{"10.0.0.11": 253, "10.0.0.12": 12, "10.0.0.13": 6}},
}

// TestKeepalivedDynamicWeights: the kernel's weights follow a misc_dynamic
// script's exit status and tracked files' values under lvsd run, phase by
// phase, and keepalived -C on the same keepalived.conf and the same files
// builds the same table at each phase (compared as ipvsadm -Sn).
func TestKeepalivedDynamicWeights(t *testing.T) {
	testenv.Command(t, "keepalived")
	cleanTable(t)
	shell(t, "ip link add dum-kw type dummy; ip link set dum-kw up; ip addr add 10.0.255.254/16 dev dum-kw")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "dum-kw").Run() })
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("weight.sh", "exit $(cat \"$1\")\n")
	cf := filepath.Join(dir, "keepalived.conf")
	write("keepalived.conf", strings.ReplaceAll(kaWeightsConf, "DIR", dir))
	phase := func(i int) {
		p := kaWeightPhases[i]
		write("exit", fmt.Sprintln(p.exit))
		write("drain", fmt.Sprintln(p.drain))
		write("maint", fmt.Sprintln(p.maint))
	}
	wantTable := func(i int) string {
		var l []string
		l = append(l, "-A -t 192.0.2.40:80 -s wrr")
		for r, w := range kaWeightPhases[i].want {
			l = append(l, fmt.Sprintf("-a -t 192.0.2.40:80 -r %s:80 -m -w %d", r, w))
		}
		sort.Strings(l)
		return strings.Join(l, "\n")
	}
	run := func(who string, stopFn func(), logText func() string) []string {
		t.Helper()
		var tables []string
		for i := range kaWeightPhases {
			phase(i)
			want := wantTable(i)
			var got string
			deadline := time.Now().Add(60 * time.Second)
			for got = savedTable(t); got != want; got = savedTable(t) {
				if time.Now().After(deadline) {
					t.Fatalf("%s, phase %d (exit %d, drain %d, maint %d): the kernel has\n%s\nwant\n%s\nlog:\n%s", who, i,
						kaWeightPhases[i].exit, kaWeightPhases[i].drain, kaWeightPhases[i].maint, got, want, logText())
				}
				time.Sleep(100 * time.Millisecond)
			}
			tables = append(tables, got)
		}
		stopFn()
		return tables
	}

	phase(0)
	d := startDaemon(t, cf, filepath.Join(dir, "lvsd.state"))
	ours := run("lvsd run", d.stop, d.logText)
	cleanTable(t)

	phase(0)
	stop := startKeepalivedChecker(t, cf, dir)
	theirs := run("keepalived -C", stop, func() string { b, _ := os.ReadFile(filepath.Join(dir, "keepalived.log")); return string(b) })
	for i := range ours {
		if ours[i] != theirs[i] {
			t.Errorf("phase %d: lvsd\n%s\nkeepalived\n%s", i, ours[i], theirs[i])
		}
	}
}
