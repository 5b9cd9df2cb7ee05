package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/check"
	"github.com/ocf-lvs/ocf-lvs/lib/config"
	"github.com/ocf-lvs/ocf-lvs/lib/ipvs"
)

func parseCF(t *testing.T, s string) *config.Config {
	t.Helper()
	c, err := config.Parse("d.cf", []byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// A reload's difference, by virtual and real; a file only moved about
// (comments, blank lines) is no change; a password changed is named,
// never shown.
func TestConfigDiff(t *testing.T) {
	old := parseCF(t, `checkinterval=5
virtual=192.0.2.1:80
	real=10.0.0.1:80 masq 1
	real=10.0.0.2:80 masq 1
	fallback=127.0.0.1:80
	service=mysql
	login=u
	passwd=s3cret-old
virtual=192.0.2.2:80
	real=10.0.0.3:80 masq 1
`)
	moved := parseCF(t, `# a comment
checkinterval=5

virtual=192.0.2.1:80
	real=10.0.0.1:80 masq 1
	real=10.0.0.2:80 masq 1
	fallback=127.0.0.1:80
	service=mysql
	login=u
	passwd=s3cret-old
virtual=192.0.2.2:80
	real=10.0.0.3:80 masq 1
`)
	if got := configDiff(old, moved); len(got) != 1 || !strings.HasPrefix(got[0], "no change") {
		t.Errorf("moved lines: %q", got)
	}
	next := parseCF(t, `checkinterval=7
virtual=192.0.2.1:80
	real=10.0.0.1:80 masq 3
	real=10.0.0.4:80 masq 1
	fallback=127.0.0.1:80
	service=mysql
	login=u
	passwd=s3cret-new
	scheduler=wlc
virtual=192.0.2.3:80
	real=10.0.0.5:80 masq 1
`)
	got := strings.Join(configDiff(old, next), "\n")
	for _, want := range []string{
		"virtual tcp:192.0.2.2:80 removed (1 reals)",
		"virtual tcp:192.0.2.3:80 added (1 reals)",
		"virtual tcp:192.0.2.1:80: real 10.0.0.1:80 weight 1 -> 3",
		"virtual tcp:192.0.2.1:80: real 10.0.0.4:80 added (weight 1)",
		"virtual tcp:192.0.2.1:80: real 10.0.0.2:80 removed",
		"Scheduler",
		"global: CheckInterval",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cret") {
		t.Errorf("a password in the diff:\n%s", got)
	}
}

// The debug wrappers: each check's result with its latency (no secret),
// each netlink call with its result; the batch path stays.
func TestDebugWrappers(t *testing.T) {
	var lines []string
	debugf := func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	spec := &check.Spec{Type: "negotiate", Service: "mysql", Addr: ipvs.Dest{}.Addr, Port: 3306, Passwd: "s3cret"}
	observers(nil, debugObserve(debugf))(spec, check.Result{OK: false, Reason: "connect: connection refused", Latency: 1500 * time.Microsecond})
	if len(lines) != 1 || !strings.Contains(lines[0], "check negotiate mysql") || !strings.Contains(lines[0], "down in 1.5ms: connect: connection refused") || strings.Contains(lines[0], "s3cret") {
		t.Fatalf("probe line: %q", lines)
	}
	lines = nil
	mem := ipvs.NewMem(nil)
	mem.Refuse = func(o ipvs.Op) error {
		if o.Kind == ipvs.DelService {
			return errors.New("no such file or directory")
		}
		return nil
	}
	k := newDebugKernel(mem, debugf)
	svc := ipvs.Service{Protocol: "tcp", Addr: ipvs.Dest{}.Addr, Port: 80, Scheduler: "wrr"}
	k.Apply(ipvs.Op{Kind: ipvs.DelService, Service: svc})
	if len(lines) != 1 || !strings.Contains(lines[0], "netlink: ipvsadm -D") || !strings.Contains(lines[0], "no such file") {
		t.Fatalf("kernel lines: %q", lines)
	}
	if _, ok := newDebugKernel(batchMem{mem}, debugf).(ipvs.BatchKernel); !ok {
		t.Error("the batch path lost under -d")
	}
}

type batchMem struct{ *ipvs.Mem }

func (b batchMem) ApplyBatch(ops []ipvs.Op) []error {
	errs := make([]error, len(ops))
	for i, o := range ops {
		errs[i] = b.Apply(o)
	}
	return errs
}

func TestConfigDiffFallbackAddress(t *testing.T) {
	a := parseCF(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1:80 masq\n\tfallback=127.0.0.1:80\n")
	b := parseCF(t, "virtual=192.0.2.1:80\n\treal=10.0.0.1:80 masq\n\tfallback=127.0.0.2:80\n")
	if got := configDiff(a, b); len(got) != 1 || got[0] != "virtual tcp:192.0.2.1:80: Fallback changed" {
		t.Errorf("%q", got)
	}
}

// lvsd run -d: the debug lines, on stderr in a dry run; none without -d.
func TestRunDebugLines(t *testing.T) {
	closed := freePort(t)
	cf := filepath.Join(t.TempDir(), "d.cf")
	os.WriteFile(cf, []byte("checkinterval=1\nchecktimeout=1\nvirtual=192.0.2.1:80\n\tchecktype=connect\n\treal="+closed+" masq 2\n"), 0o644)
	for _, debug := range []bool{true, false} {
		args := []string{"run", "--dry-run", "--for", "1500ms", cf}
		if debug {
			args = append([]string{"run", "-d"}, args[1:]...)
		}
		var out, errb bytes.Buffer
		run(args, &out, &errb)
		if !debug {
			if strings.Contains(errb.String()+out.String(), "debug:") {
				t.Errorf("debug lines without -d:\n%s", errb.String())
			}
			continue
		}
		for _, want := range []string{
			"debug: check connect " + closed + ": down in ",
			"debug: plan, full pass (start or reload): 1 virtuals decided, 1 operations",
			"debug: netlink: ipvsadm -A -t 192.0.2.1:80 -s wrr: ok (",
			"debug: table read: 0 services, 0 destinations in ",
			"debug: real " + closed + " of tcp:192.0.2.1:80 decided alone: ",
		} {
			if !strings.Contains(errb.String(), want) {
				t.Errorf("no %q in\n%s", want, errb.String())
			}
		}
	}
}
