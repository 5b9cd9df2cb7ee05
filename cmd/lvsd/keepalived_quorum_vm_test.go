//go:build vm

package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// kaQuorumConf: two HTTP_GET reals of weight 1, quorum 2, the lab's third
// real as sorry_server, quorum_up / quorum_down appending to DIR/quorum.log.
const kaQuorumConf = `virtual_server VIP 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    quorum 2
    quorum_up "/bin/sh DIR/q.sh up"
    quorum_down "/bin/sh DIR/q.sh down"
    sorry_server 10.99.0.13 80
    real_server 10.99.0.11 80 {
        weight 1
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 2
            retry 0
        }
    }
    real_server 10.99.0.12 80 {
        weight 1
        HTTP_GET {
            url {
                path /index.html
                status_code 200
            }
            connect_timeout 2
            retry 0
        }
    }
}
`

// TestKeepalivedQuorumSorryServer: keepalived's quorum with a sorry server,
// under client load. One real of two dies: the quorum is lost, the sorry
// server alone takes the traffic (the real still up stands aside, as
// keepalived removes "remaining alive real servers"), quorum_down runs; the
// real returns: both reals back, the sorry server out, quorum_up runs.
// keepalived -C on the same file builds the same table at each step.
func TestKeepalivedQuorumSorryServer(t *testing.T) {
	testenv.Command(t, "keepalived")
	l := newLab(t, "masq", 3)
	os.Chmod(l.dir, 0o755)
	write := func(name, text string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(l.dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	qlog := filepath.Join(l.dir, "quorum.log")
	write("q.sh", fmt.Sprintf("echo \"$1\" >> %s\n", qlog))
	cf := filepath.Join(l.dir, "keepalived.conf")
	write("keepalived.conf", strings.NewReplacer("VIP", labVIP, "DIR", l.dir).Replace(kaQuorumConf))
	svc := labVIP + ":80"
	both := fmt.Sprintf("-A -t %[1]s -s rr\n-a -t %[1]s -r 10.99.0.11:80 -m -w 1\n-a -t %[1]s -r 10.99.0.12:80 -m -w 1", svc)
	sorry := fmt.Sprintf("-A -t %[1]s -s rr\n-a -t %[1]s -r 10.99.0.13:80 -m -w 1", svc)
	quorumLog := func() string { b, _ := os.ReadFile(qlog); return strings.Join(strings.Fields(string(b)), " ") }

	// steps runs the kill and return under who, returning the tables seen
	// and the quorum commands run.
	steps := func(who string, logText func() string, traffic bool) (tables []string, commands string) {
		t.Helper()
		wait := func(what, want string) {
			t.Helper()
			var got string
			deadline := time.Now().Add(60 * time.Second)
			for got = savedTable(t); got != want; got = savedTable(t) {
				if time.Now().After(deadline) {
					t.Fatalf("%s, %s: the kernel has\n%s\nwant\n%s\nlog:\n%s", who, what, got, want, logText())
				}
				time.Sleep(100 * time.Millisecond)
			}
			tables = append(tables, got)
		}
		wait("both reals up", both)
		var ld *load
		if traffic {
			ld = l.startLoad(t)
			time.Sleep(time.Second)
		}
		l.killHTTPD(1)
		wait("one real down: quorum lost, the sorry server alone", sorry)
		if traffic {
			lost := time.Now()
			time.Sleep(2 * time.Second)
			okAt, _, _, before := ld.snapshot()
			time.Sleep(2 * time.Second)
			ok, fails, errs, after := ld.snapshot()
			for _, f := range fails {
				if f.After(lost.Add(500 * time.Millisecond)) {
					t.Errorf("%s: a request failed at %s, after the sorry server took over (%s): %v", who, f.Format("15:04:05.000"), lost.Format("15:04:05.000"), errs)
					break
				}
			}
			if after["r3"]-before["r3"] != ok-okAt || ok == okAt {
				t.Errorf("%s: with the quorum lost, %d answers of which %d from the sorry server (r3); before %v, after %v", who, ok-okAt, after["r3"]-before["r3"], before, after)
			}
		}
		l.startHTTPD(1)
		wait("the real back: quorum held, the sorry server out", both)
		if traffic {
			ld.stop()
		}
		// the commands run on their own: give the last a moment
		time.Sleep(1500 * time.Millisecond)
		return tables, quorumLog()
	}

	d := startDaemon(t, cf, filepath.Join(l.dir, "q.state"))
	ours, ourCmds := steps("lvsd run", d.logText, true)
	d.waitLog("quorum lost", 5*time.Second)
	d.stop()
	cleanTable(t)
	os.Remove(qlog)

	stop := startKeepalivedChecker(t, cf, l.dir)
	theirs, theirCmds := steps("keepalived -C", func() string { b, _ := os.ReadFile(filepath.Join(l.dir, "keepalived.log")); return string(b) }, false)
	stop()
	for i := range ours {
		if ours[i] != theirs[i] {
			t.Errorf("step %d: lvsd\n%s\nkeepalived\n%s", i, ours[i], theirs[i])
		}
	}
	if ourCmds != theirCmds {
		t.Errorf("quorum commands run: lvsd %q, keepalived %q", ourCmds, theirCmds)
	}
	t.Logf("quorum commands run (both): %q", ourCmds)
}
