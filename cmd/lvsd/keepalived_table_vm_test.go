//go:build vm

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// kaGroupConf has the keepalived keywords lvsd imports as keepalived does
// and whose table keepalived itself builds here: virtual_server_group
// (a last-octet range, an address, a fwmark, an IPv6 range) and an SCTP
// service. No checkers: keepalived keeps such reals in, at their weights,
// so both tables are complete at once.
const kaGroupConf = `virtual_server_group WEB {
    192.0.2.1-3 80
    192.0.2.9 8080
}
virtual_server_group MARKS {
    fwmark 7
}
virtual_server_group WEB6 {
    2001:db8::1-2 443
}
virtual_server group WEB {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    persistence_timeout 120
    persistence_granularity 255.255.255.0
    real_server 10.0.0.1 80 {
        weight 2
    }
    real_server 10.0.0.2 80 {
        weight 1
    }
}
virtual_server group MARKS {
    lb_algo wlc
    lb_kind DR
    real_server 10.0.0.3 0 {
        weight 3
    }
}
virtual_server group WEB6 {
    lb_algo sh
    sh-port
    lb_kind NAT
    protocol TCP
    real_server 2001:db8:1::1 443 {
        weight 1
    }
}
virtual_server 192.0.2.30 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    persistence_timeout 60
    persistence_granularity 255.255.255.0
    real_server 10.0.0.6 80 {
        weight 1
    }
}
virtual_server 192.0.2.20 3868 {
    lb_algo rr
    lb_kind NAT
    protocol SCTP
    real_server 10.0.0.4 3868 {
        weight 1
    }
    real_server 10.0.0.5 3868 {
        weight 4
    }
}
`

// TestKeepalivedSameTable: `lvsd apply` of a keepalived.conf with
// virtual_server_group and SCTP gives exactly the table keepalived builds
// from the same file (both here, compared as ipvsadm -Sn).
func TestKeepalivedSameTable(t *testing.T) {
	testenv.Command(t, "keepalived")
	cleanTable(t)
	// IPVS needs a route to a masq real ("address not unicast" otherwise)
	shell(t, "ip link add dum-ka type dummy; ip link set dum-ka up; ip addr add 10.0.255.254/16 dev dum-ka; ip addr add 2001:db8:1::fe/64 dev dum-ka nodad")
	t.Cleanup(func() { exec.Command("ip", "link", "del", "dum-ka").Run() })
	dir := t.TempDir()
	cf := filepath.Join(dir, "keepalived.conf")
	if err := os.WriteFile(cf, []byte(kaGroupConf), 0o644); err != nil {
		t.Fatal(err)
	}
	const services, dests = 9, 14 // 4 WEB + 1 MARKS + 2 WEB6 + 1 SCTP services; 8 + 1 + 2 + 2 reals
	stop := startKeepalivedChecker(t, cf, dir)
	var theirs string
	deadline := time.Now().Add(30 * time.Second)
	for {
		theirs = savedTable(t)
		if n := strings.Count("\n"+theirs, "\n-A "); n == services && strings.Count("\n"+theirs, "\n-a ") == dests {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "keepalived.log"))
			t.Fatalf("keepalived did not build its table:\n%s\nits log:\n%s", theirs, b)
		}
		time.Sleep(200 * time.Millisecond)
	}
	stop()
	cleanTable(t)
	applyOK(t, cf)
	if ours := savedTable(t); ours != theirs {
		t.Fatalf("lvsd apply gives\n%s\nkeepalived built\n%s", ours, theirs)
	}
}

// startKeepalivedChecker runs Debian's keepalived as the checker alone
// (-C) on cf, logging to dir/keepalived.log; the returned stop (also run
// at cleanup) ends it with SIGINT and waits, once.
func startKeepalivedChecker(t *testing.T, cf, dir string) (stop func()) {
	t.Helper()
	ka := exec.Command("keepalived", "-C", "-n", "-l", "-D", "-f", cf, "-p", filepath.Join(dir, "ka.pid"),
		"-c", filepath.Join(dir, "ka-c.pid"))
	log, err := os.Create(filepath.Join(dir, "keepalived.log"))
	if err != nil {
		t.Fatal(err)
	}
	ka.Stdout, ka.Stderr = log, log
	if err := ka.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			ka.Process.Signal(os.Interrupt)
			ka.Wait()
			log.Close()
		})
	}
	t.Cleanup(stop)
	return stop
}
