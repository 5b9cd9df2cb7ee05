package vm

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestChooseAccel(t *testing.T) {
	withVMX := "processor\t: 0\nflags\t\t: fpu vme de pse vmx sse2\n"
	withSVM := "flags\t\t: fpu svm lm\n"
	bare := "processor\t: 0\nflags\t\t: fpu vme de pse sse2 hypervisor\nprocessor\t: 1\nflags\t\t: fpu sse2\n"
	noKVM := errors.New("open /dev/kvm: no such file or directory")
	for _, c := range []struct {
		env     string
		kvmErr  error
		cpuinfo string
		want    string
		why     string
	}{
		{"", nil, withVMX, "kvm", "CPU has vmx"},
		{"", nil, withSVM, "kvm", "CPU has svm"},
		{"", nil, bare, "tcg", "neither vmx nor svm"},
		{"", nil, "", "kvm", "flags unknown"},
		{"", noKVM, withVMX, "tcg", "no such file"},
		{"kvm", nil, bare, "kvm", "VM_ACCEL=kvm"},
		{"kvm", noKVM, bare, "kvm", "VM_ACCEL=kvm"},
		{"tcg", nil, withVMX, "tcg", "VM_ACCEL=tcg"},
	} {
		got, why, err := chooseAccel(c.env, c.kvmErr, c.cpuinfo)
		if err != nil || got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("chooseAccel(%q, %v, %.20q) = %q, %q, %v; want %q, ...%s...", c.env, c.kvmErr, c.cpuinfo, got, why, err, c.want, c.why)
		}
	}
	if _, _, err := chooseAccel("hvf", nil, withVMX); err == nil {
		t.Error("VM_ACCEL=hvf accepted")
	}
}

func TestBootTimeoutSetting(t *testing.T) {
	for _, c := range []struct {
		set   time.Duration
		env   string
		accel string
		want  time.Duration
	}{
		{0, "", "kvm", KVMBootTimeout},
		{0, "", "tcg", TCGBootTimeout},
		{0, "90s", "kvm", 90 * time.Second},
		{0, "90s", "tcg", 90 * time.Second},
		{time.Second, "90s", "kvm", time.Second},
	} {
		got, err := bootTimeout(c.set, c.env, c.accel)
		if err != nil || got != c.want {
			t.Errorf("bootTimeout(%v, %q, %s) = %v, %v; want %v", c.set, c.env, c.accel, got, err, c.want)
		}
	}
	for _, env := range []string{"60", "-1s", "soon"} {
		if _, err := bootTimeout(0, env, "kvm"); err == nil {
			t.Errorf("VM_BOOT_TIMEOUT=%q accepted", env)
		}
	}
}

func TestRing(t *testing.T) {
	r := newRing(3)
	var b bytes.Buffer
	r.print(&b)
	if !strings.Contains(b.String(), "printed nothing") {
		t.Errorf("empty: %q", b.String())
	}
	for i := 1; i <= 5; i++ {
		r.add(strconv.Itoa(i))
	}
	if got := strings.Join(r.last(), ","); got != "3,4,5" {
		t.Errorf("last = %s", got)
	}
}

// fakeQEMU stands in for qemu-system-x86_64: it runs $FAKE_KVM when called
// with -accel kvm, else $FAKE_TCG (shell text; the boot/job protocol is the
// console's marker lines), and appends its pid to $FAKE_PIDS.
func fakeQEMU(t *testing.T, kvm, tcg string) (qemu, pids string) {
	t.Helper()
	dir := t.TempDir()
	qemu = filepath.Join(dir, "qemu")
	pids = filepath.Join(dir, "pids")
	script := "#!/bin/sh\necho $$ >> \"$FAKE_PIDS\"\ncase \" $* \" in\n*\" -accel kvm \"*) eval \"$FAKE_KVM\";;\n*) eval \"$FAKE_TCG\";;\nesac\n"
	if err := os.WriteFile(qemu, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FAKE_KVM", kvm)
	t.Setenv("FAKE_TCG", tcg)
	t.Setenv("FAKE_PIDS", pids)
	return qemu, pids
}

// A hung boot never prints the start marker and never exits by itself.
const (
	hang     = "echo 'Probing EDD (edd=off to disable)... ok'; exec sleep 600"
	bootsJob = "echo 'Linux version 6.1'; echo '@@VM-START@@'; echo 'job says hi'; echo '@@VM-EXIT 3@@'; echo 'reboot: Restarting system'"
)

func runFake(t *testing.T, cfg Config, qemu, accel string) (*Result, string, string, error) {
	t.Helper()
	var out, log bytes.Buffer
	cfg.Output, cfg.Log = &out, &log
	res, err := boot(context.Background(), cfg, qemu, []string{"-nodefaults"}, accel, "test", "fake-kernel: job")
	t.Logf("log:\n%s", log.String())
	return res, out.String(), log.String(), err
}

func alive(t *testing.T, pids string) []int {
	t.Helper()
	data, _ := os.ReadFile(pids)
	var live []int
	for _, f := range strings.Fields(string(data)) {
		pid, _ := strconv.Atoi(f)
		if syscall.Kill(pid, 0) == nil {
			live = append(live, pid)
		}
	}
	return live
}

// KVM opens but the boot hangs: QEMU is killed at the boot deadline, the
// console tail is printed, and the job runs under TCG.
func TestKVMHangFallsBackToTCG(t *testing.T) {
	qemu, pids := fakeQEMU(t, hang, bootsJob)
	start := time.Now()
	res, out, log, err := runFake(t, Config{BootTimeout: 500 * time.Millisecond, Timeout: time.Minute}, qemu, "kvm")
	if err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("took %v", took)
	}
	if res.ExitCode != 3 || res.Accel != "tcg" || !strings.Contains(res.Fallback, "no start marker within 500ms under KVM") {
		t.Errorf("result %+v", res)
	}
	for _, want := range []string{
		"no start marker within 500ms under KVM: QEMU killed",
		"vm: | Probing EDD (edd=off to disable)... ok",
		"retrying under TCG",
		"booting fake-kernel: job (tcg, ",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("log lacks %q", want)
		}
	}
	if out != "job says hi\n" {
		t.Errorf("job output %q", out)
	}
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("stand-in QEMU still running: %v", live)
	}
}

// QEMU that dies under KVM before the job starts is retried too.
func TestKVMFailureFallsBackToTCG(t *testing.T) {
	qemu, _ := fakeQEMU(t, "echo 'qemu: failed to initialize kvm' >&2; exit 1", bootsJob)
	res, _, log, err := runFake(t, Config{BootTimeout: 5 * time.Second}, qemu, "kvm")
	if err != nil || res.Accel != "tcg" || res.ExitCode != 3 {
		t.Fatalf("%+v %v", res, err)
	}
	if !strings.Contains(log, "QEMU ended before the job started under KVM") || !strings.Contains(log, "failed to initialize kvm") {
		t.Error("reason not logged")
	}
}

// TCG is the last resort: a hung TCG boot fails (with the tail), no retry.
func TestTCGHangFails(t *testing.T) {
	qemu, pids := fakeQEMU(t, bootsJob, hang)
	res, _, log, err := runFake(t, Config{BootTimeout: 500 * time.Millisecond}, qemu, "tcg")
	if err == nil || !strings.Contains(err.Error(), "no start marker within 500ms under TCG") {
		t.Fatalf("err %v", err)
	}
	if res.Accel != "tcg" || strings.Contains(log, "retrying") || !strings.Contains(log, "vm: | Probing EDD") {
		t.Errorf("result %+v", res)
	}
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("stand-in QEMU still running: %v", live)
	}
}

// The job's timeout counts from the job's start: a slow boot does not eat it.
func TestJobTimeoutExcludesBoot(t *testing.T) {
	slowBoot := "sleep 1; echo '@@VM-START@@'; sleep 0.5; echo done; echo '@@VM-EXIT 0@@'"
	qemu, _ := fakeQEMU(t, slowBoot, slowBoot)
	res, out, _, err := runFake(t, Config{BootTimeout: 5 * time.Second, Timeout: 1200 * time.Millisecond}, qemu, "kvm")
	if err != nil || res.ExitCode != 0 || res.Accel != "kvm" || res.Fallback != "" || out != "done\n" {
		t.Fatalf("%+v %q %v", res, out, err)
	}
	if res.Boot < time.Second || res.Total < 1500*time.Millisecond {
		t.Errorf("boot %v total %v", res.Boot, res.Total)
	}
}

// A job that overruns is killed at its own timeout, with the tail; a
// started job is never retried under another accelerator.
func TestJobTimeout(t *testing.T) {
	qemu, pids := fakeQEMU(t, "echo '@@VM-START@@'; echo 'step 1'; echo 'step 2'; exec sleep 600", bootsJob)
	res, _, log, err := runFake(t, Config{BootTimeout: 5 * time.Second, Timeout: 500 * time.Millisecond}, qemu, "kvm")
	if err == nil || !strings.Contains(err.Error(), "job timed out after 500ms") {
		t.Fatalf("err %v", err)
	}
	if res.Accel != "kvm" || strings.Contains(log, "retrying") || !strings.Contains(log, "vm: | step 2") {
		t.Errorf("result %+v", res)
	}
	if live := alive(t, pids); len(live) > 0 {
		t.Errorf("stand-in QEMU still running: %v", live)
	}
}

// A job that ends without its status line fails with the tail.
func TestNoStatus(t *testing.T) {
	qemu, _ := fakeQEMU(t, "", "echo '@@VM-START@@'; echo 'Kernel panic - not syncing'; exit 0")
	_, _, log, err := runFake(t, Config{BootTimeout: 5 * time.Second}, qemu, "tcg")
	if err == nil || !strings.Contains(err.Error(), "returned no status") || !strings.Contains(log, "vm: | Kernel panic") {
		t.Fatalf("err %v", err)
	}
}
