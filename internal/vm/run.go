package vm

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// BootModules are loaded with busybox insmod before the root is mounted.
var BootModules = []string{"virtio_pci", "9pnet_virtio", "9p", "overlay"}

// TestModules are preloaded inside the chroot with the host's kmod modprobe:
// the kernel's on-demand loading would call /sbin/modprobe in the
// initramfs, which is not there.
var TestModules = []string{
	"ip_vs", "ip_vs_rr", "ip_vs_wrr", "ip_vs_lc", "ip_vs_wlc", "ip_vs_lblc",
	"ip_vs_lblcr", "ip_vs_dh", "ip_vs_sh", "ip_vs_sed", "ip_vs_nq", "ip_vs_fo",
	"ip_vs_ovf", "ip_vs_mh", "veth", "dummy", "bridge", "macvlan", "ipip",
	"ip6_tunnel", "tunnel4", "tunnel6", "nf_conntrack", "nf_nat",
}

// Config describes one VM run.
type Config struct {
	CacheDir    string        // kernel cache (default .cache/vm)
	Memory      int           // MiB (default 2048)
	CPUs        int           // default: up to 2
	Timeout     time.Duration // the job, from its start; boot excluded (default 15m)
	BootTimeout time.Duration // QEMU start to the job's start, per boot (default BootTimeout)
	Dir         string        // working directory of the job (default: ours)
	Env         []string      // extra KEY=VALUE for the job
	Modules     []string      // preloaded in the VM (default TestModules)
	Output      io.Writer     // the job's output, streamed (default os.Stdout)
	Log         io.Writer     // harness messages (default os.Stderr)
	// Systemd boots the host's systemd as PID 1 (switch_root into the
	// overlay instead of chroot): the job is a unit of a target of its own
	// (vmjob.target; nothing of multi-user.target starts), for tests of
	// units under a real service manager.
	Systemd bool
}

// Result is what the job returned.
type Result struct {
	ExitCode int
	Boot     time.Duration // QEMU start to the job's start (the boot that ran it)
	Total    time.Duration // first QEMU start to the end, failed boots included
	Accel    string        // the accelerator that ran the job: "kvm" or "tcg"
	Fallback string        // why KVM was abandoned for TCG ("" when it was not)
}

var exitRe = regexp.MustCompile(`@@VM-EXIT (\d+)@@`)

const startMarker = "@@VM-START@@"

// Boot deadlines when neither Config.BootTimeout nor VM_BOOT_TIMEOUT says:
// a KVM boot takes seconds, so a minute without the start marker means a
// KVM that opens but hangs (seen on hosts whose CPU lacks vmx/svm); TCG
// takes 6-50 s depending on load.
const (
	KVMBootTimeout = 60 * time.Second
	TCGBootTimeout = 5 * time.Minute
)

// consoleTail is how many console lines a failure prints.
const consoleTail = 40

// Accel picks the first accelerator to try, and says why: VM_ACCEL=kvm|tcg
// when set, else KVM when /dev/kvm opens and the CPU shows vmx or svm, else
// TCG software emulation as on CI. A KVM boot that does not reach the job
// is retried under TCG whichever way KVM was chosen.
func Accel() (accel, why string, err error) {
	kvmErr := error(nil)
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err == nil {
		f.Close()
	} else {
		kvmErr = err
	}
	cpuinfo, _ := os.ReadFile("/proc/cpuinfo")
	return chooseAccel(os.Getenv("VM_ACCEL"), kvmErr, string(cpuinfo))
}

// chooseAccel is Accel's decision: env is VM_ACCEL, kvmErr the error
// opening /dev/kvm (nil: it opened), cpuinfo /proc/cpuinfo ("": unknown).
func chooseAccel(env string, kvmErr error, cpuinfo string) (accel, why string, err error) {
	switch env {
	case "kvm", "tcg":
		return env, "VM_ACCEL=" + env, nil
	case "":
	default:
		return "", "", fmt.Errorf("vm: VM_ACCEL=%q: want kvm or tcg", env)
	}
	if kvmErr != nil {
		return "tcg", fmt.Sprintf("no KVM: %v", kvmErr), nil
	}
	switch virt := cpuVirt(cpuinfo); virt {
	case "":
		return "tcg", "/dev/kvm opens but /proc/cpuinfo shows neither vmx nor svm (KVM hangs or aborts at boot there); VM_ACCEL=kvm tries it anyway", nil
	case "?":
		return "kvm", "/dev/kvm opens (CPU flags unknown)", nil
	default:
		return "kvm", "/dev/kvm opens, CPU has " + virt, nil
	}
}

// cpuVirt returns "vmx" or "svm" when a flags line of cpuinfo has it, ""
// when flags lines have neither, "?" when there are no flags lines.
func cpuVirt(cpuinfo string) string {
	seen := false
	for _, line := range strings.Split(cpuinfo, "\n") {
		k, v, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(k) != "flags" {
			continue
		}
		seen = true
		for _, f := range strings.Fields(v) {
			if f == "vmx" || f == "svm" {
				return f
			}
		}
	}
	if !seen {
		return "?"
	}
	return ""
}

// bootTimeout is the deadline for the start marker: set (Config), else
// VM_BOOT_TIMEOUT, else the accelerator's default.
func bootTimeout(set time.Duration, env, accel string) (time.Duration, error) {
	if set > 0 {
		return set, nil
	}
	if env != "" {
		d, err := time.ParseDuration(env)
		if err != nil || d <= 0 {
			return 0, fmt.Errorf("vm: VM_BOOT_TIMEOUT=%q: want a duration such as 90s", env)
		}
		return d, nil
	}
	if accel == "kvm" {
		return KVMBootTimeout, nil
	}
	return TCGBootTimeout, nil
}

func accelArgs(accel string) []string {
	if accel == "kvm" {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	return []string{"-accel", "tcg,thread=multi", "-cpu", "max"}
}

// Run boots the VM and runs argv (a program and its arguments, paths as on
// the host) inside it as root; the job's exit status is returned.
func Run(ctx context.Context, cfg Config, argv ...string) (*Result, error) {
	if len(argv) == 0 {
		return nil, errors.New("vm: nothing to run")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = ".cache/vm"
	}
	cache, err := filepath.Abs(cfg.CacheDir)
	if err != nil {
		return nil, err
	}
	if cfg.Memory == 0 {
		cfg.Memory = 2048
	}
	if cfg.CPUs == 0 {
		cfg.CPUs = 2
	}
	if cfg.Dir == "" {
		cfg.Dir, _ = os.Getwd()
	}
	if cfg.Modules == nil {
		cfg.Modules = TestModules
	}
	accel, why, err := Accel()
	if err != nil {
		return nil, err
	}
	if _, err := bootTimeout(cfg.BootTimeout, os.Getenv("VM_BOOT_TIMEOUT"), accel); err != nil {
		return nil, err
	}
	qemu, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return nil, errors.New("vm: qemu-system-x86_64 not found (make deps: qemu-system-x86)")
	}
	k, err := EnsureKernel(cache, "")
	if err != nil {
		return nil, err
	}
	runDir, err := os.MkdirTemp(cache, "run-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(runDir)
	initrd := filepath.Join(runDir, "initrd.cpio")
	if err := buildInitramfs(initrd, k, cfg, argv); err != nil {
		return nil, err
	}
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
		"-serial", "stdio", "-no-reboot",
		"-m", strconv.Itoa(cfg.Memory), "-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", k.Vmlinuz, "-initrd", initrd,
		"-append", kernelCmdline(cfg.Systemd),
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
	}
	label := fmt.Sprintf("%s: %s", k.Package, strings.Join(argv, " "))
	if cfg.Systemd {
		label += " (systemd as PID 1)"
	}
	return boot(ctx, cfg, qemu, args, accel, why, label)
}

// kernelCmdline is the kernel's command line; under systemd, it picks the
// job's target and keeps systemd's status lines off the console (the job's
// output goes there).
func kernelCmdline(systemd bool) string {
	c := "console=ttyS0 earlyprintk=serial loglevel=3 panic=-1 rdinit=/init"
	if systemd {
		c += " systemd.unit=vmjob.target systemd.show_status=0"
	}
	return c
}

// boot runs QEMU (args without the accelerator) under accel and, when a
// KVM boot does not reach the job (no start marker within the boot
// deadline, or QEMU gone before it), once more under TCG. Nothing of the
// job has run or been printed when the retry starts.
func boot(ctx context.Context, cfg Config, qemu string, args []string, accel, why, label string) (*Result, error) {
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Minute
	}
	if cfg.Output == nil {
		cfg.Output = os.Stdout
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
	}
	// QEMU's stderr is copied to the log on exec's goroutine.
	cfg.Log = &syncWriter{w: cfg.Log}
	start := time.Now()
	fmt.Fprintf(cfg.Log, "vm: using %s: %s\n", strings.ToUpper(accel), why)
	res, booted, err := attempt(ctx, cfg, qemu, args, accel, label)
	if err != nil && !booted && accel == "kvm" && ctx.Err() == nil {
		fallback := err.Error()
		fmt.Fprintf(cfg.Log, "vm: retrying under TCG (software emulation; VM_ACCEL=tcg skips the KVM try)\n")
		res, _, err = attempt(ctx, cfg, qemu, args, "tcg", label)
		if res != nil {
			res.Fallback = strings.TrimPrefix(fallback, "vm: ")
		}
	}
	if res != nil {
		res.Total = time.Since(start)
	}
	return res, err
}

var (
	errBootTimeout = errors.New("boot timeout")
	errJobTimeout  = errors.New("job timeout")
	errShutdown    = errors.New("shutdown timeout")
)

// attempt is one QEMU run. booted reports whether the job started: until
// then another accelerator may be tried. On failure it prints the reason
// and the console's last lines on cfg.Log.
func attempt(ctx context.Context, cfg Config, qemu string, args []string, accel, label string) (res *Result, booted bool, err error) {
	bootDeadline, err := bootTimeout(cfg.BootTimeout, os.Getenv("VM_BOOT_TIMEOUT"), accel)
	if err != nil {
		return nil, false, err
	}
	if cfg.Systemd && cfg.BootTimeout == 0 && os.Getenv("VM_BOOT_TIMEOUT") == "" {
		// systemd's boot takes 80-175 s under TCG on a loaded host
		bootDeadline *= 2
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	cmd := exec.CommandContext(ctx, qemu, append(append([]string(nil), args...), accelArgs(accel)...)...)
	cmd.Stdin = nil
	cmd.Stderr = cfg.Log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, false, err
	}
	cmd.Cancel = func() error {
		// Should anything else still hold the console open, stop reading
		// soon rather than wait for it.
		time.AfterFunc(2*time.Second, func() { out.Close() })
		return cmd.Process.Kill()
	}
	cmd.WaitDelay = 5 * time.Second
	fmt.Fprintf(cfg.Log, "vm: booting %s (%s, %d CPU, %d MiB, boot deadline %s)\n", label, accel, cfg.CPUs, cfg.Memory, bootDeadline)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, false, err
	}
	bootTimer := time.AfterFunc(bootDeadline, func() { cancel(errBootTimeout) })
	defer bootTimer.Stop()
	var jobTimer *time.Timer
	defer func() {
		if jobTimer != nil {
			jobTimer.Stop()
		}
	}()
	res = &Result{ExitCode: -1, Accel: accel}
	started, ended := false, false
	tail := newRing(consoleTail)
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if !started {
			if strings.Contains(line, startMarker) && bootTimer.Stop() {
				started = true
				res.Boot = time.Since(start)
				fmt.Fprintf(cfg.Log, "vm: booted in %.1fs\n", res.Boot.Seconds())
				jobTimer = time.AfterFunc(cfg.Timeout, func() { cancel(errJobTimeout) })
				continue
			}
			tail.add(line)
			continue
		}
		if m := exitRe.FindStringSubmatch(line); m != nil && !ended {
			res.ExitCode, _ = strconv.Atoi(m[1])
			ended = true
			// Only the kernel's reboot follows: give it a short while.
			jobTimer.Stop()
			jobTimer = time.AfterFunc(30*time.Second, func() { cancel(errShutdown) })
			continue
		}
		tail.add(line)
		if !ended {
			fmt.Fprintln(cfg.Output, line)
		}
	}
	werr := cmd.Wait()
	if ended {
		return res, true, nil
	}
	cause := context.Cause(ctx)
	switch {
	case cause == errBootTimeout:
		err = fmt.Errorf("vm: no start marker within %s under %s: QEMU killed", bootDeadline, strings.ToUpper(accel))
	case cause == errJobTimeout:
		err = fmt.Errorf("vm: the job timed out after %s (from its start; the boot took %.1fs)", cfg.Timeout, res.Boot.Seconds())
	case cause != nil:
		err = fmt.Errorf("vm: %w", cause)
	case !started:
		err = fmt.Errorf("vm: QEMU ended before the job started under %s (qemu: %v)", strings.ToUpper(accel), werr)
	default:
		err = fmt.Errorf("vm: the job returned no status (qemu: %v)", werr)
	}
	fmt.Fprintln(cfg.Log, err)
	tail.print(cfg.Log)
	return res, started, err
}

type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// ring keeps the last lines of the console.
type ring struct {
	lines []string
	n     int // lines seen
}

func newRing(size int) *ring { return &ring{lines: make([]string, size)} }

func (r *ring) add(line string) {
	r.lines[r.n%len(r.lines)] = line
	r.n++
}

func (r *ring) last() []string {
	if r.n <= len(r.lines) {
		return r.lines[:r.n]
	}
	i := r.n % len(r.lines)
	return append(append([]string(nil), r.lines[i:]...), r.lines[:i]...)
}

func (r *ring) print(w io.Writer) {
	lines := r.last()
	if len(lines) == 0 {
		fmt.Fprintln(w, "vm: the console printed nothing")
		return
	}
	fmt.Fprintf(w, "vm: the console's last %d of %d lines:\n", len(lines), r.n)
	for _, l := range lines {
		fmt.Fprintf(w, "vm: | %s\n", l)
	}
}

// shellQuote quotes s for sh.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func buildInitramfs(dst string, k *Kernel, cfg Config, argv []string) error {
	mods, err := ModuleDeps(k.ModDir(), BootModules)
	if err != nil {
		return err
	}
	busybox, err := findBusybox()
	if err != nil {
		return err
	}
	var job strings.Builder
	job.WriteString("#!/bin/sh\n")
	env := []string{
		"PATH=/usr/local/go/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "TERM=dumb", "LANG=C.UTF-8", "OCFLVS_VM=1",
	}
	if v, ok := os.LookupEnv("CI"); ok {
		env = append(env, "CI="+v)
	}
	env = append(env, cfg.Env...)
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		fmt.Fprintf(&job, "export %s=%s\n", k, shellQuote(v))
	}
	fmt.Fprintf(&job, "modprobe -a %s || echo 'vm: modprobe failed' >&2\n", strings.Join(cfg.Modules, " "))
	fmt.Fprintf(&job, "ip link set lo up\n")
	fmt.Fprintf(&job, "cd %s || exit 125\n", shellQuote(cfg.Dir))
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = shellQuote(a)
	}
	fmt.Fprintf(&job, "exec %s\n", strings.Join(q, " "))

	modDir, err := filepath.Abs(k.ModDir())
	if err != nil {
		return err
	}
	// bound in the VM before the chroot, where an absolute symlink (a
	// worktree's .cache/vm/kernel pointing at the main checkout's) does
	// not resolve: bind the real directory
	if real, err := filepath.EvalSymlinks(modDir); err == nil {
		modDir = real
	}
	var loads strings.Builder
	for _, m := range mods {
		fmt.Fprintf(&loads, "$B insmod /mod/%s || echo 'vm: insmod %s failed'\n", filepath.Base(m), m)
	}
	tail := chrootTail
	if cfg.Systemd {
		tail = systemdTail
	}
	init := fmt.Sprintf(initScript+tail, loads.String(), k.Version, shellQuote(modDir), k.Version)

	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriterSize(f, 1<<20)
	c := newCpio(w)
	for _, d := range []string{"dev", "proc", "sys", "host", "rw", "mod"} {
		if err := c.mkdirAll(d); err != nil {
			return err
		}
	}
	if err := c.hostFile("bin/busybox", busybox, 0o755); err != nil {
		return err
	}
	if err := c.symlink("bin/sh", "busybox"); err != nil {
		return err
	}
	if err := c.file("init", 0o755, []byte(init)); err != nil {
		return err
	}
	if err := c.file("job.sh", 0o755, []byte(job.String())); err != nil {
		return err
	}
	if cfg.Systemd {
		for name, body := range systemdFiles {
			if err := c.file(name, 0o644, []byte(body)); err != nil {
				return err
			}
		}
	}
	for _, m := range mods {
		if err := c.hostFile("mod/"+filepath.Base(m), filepath.Join(k.ModDir(), m), 0o644); err != nil {
			return err
		}
	}
	if err := c.close(); err != nil {
		return err
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

func findBusybox() (string, error) {
	for _, p := range []string{"/bin/busybox", "/usr/bin/busybox"} {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", errors.New("vm: busybox not found (make deps: busybox-static)")
}

// initScript runs as PID 1 in the initramfs. Arguments: insmod lines,
// kernel version, modules directory on the host, kernel version.
const initScript = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sys /sys
$B mount -t devtmpfs dev /dev
fail() { echo "vm: $*"; echo "@@VM-START@@"; echo "@@VM-EXIT 125@@"; $B sync; $B reboot -f; }
# Progress lines are seen only in a failed boot's console tail.
echo "vm-init: started, loading modules"
%s
echo "vm-init: mounting the host's root"
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host || fail "mount 9p"
$B mount -t tmpfs -o mode=0755 tmpfs /rw || fail "mount tmpfs"
$B mkdir -p /rw/upper /rw/work /rw/root
$B mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /rw/root || fail "mount overlay"
R=/rw/root
echo "vm-init: preparing the chroot"
$B mount -t proc proc $R/proc
$B mount -t sysfs sys $R/sys
$B mount -t devtmpfs dev $R/dev
$B mkdir -p $R/dev/pts $R/dev/shm
$B mount -t devpts devpts $R/dev/pts
$B mount -t tmpfs tmpfs $R/dev/shm
# /tmp comes from the overlay (writable): a tmpfs here would hide a checkout under /tmp
$B mount -t tmpfs tmpfs $R/run
$B mkdir -p $R/run/netns $R/var/run
$B mkdir -p $R/lib/modules/%s
$B mount --bind /host%s $R/lib/modules/%s
$B cp /job.sh $R/run/vmjob.sh
$B hostname vmtest
`

// chrootTail ends initScript: the job in a chroot, its status printed.
const chrootTail = `echo "@@VM-START@@"
$B chroot $R /bin/sh /run/vmjob.sh </dev/null 2>&1
echo "@@VM-EXIT $?@@"
$B sync
$B reboot -f
`

// systemdTail ends initScript under Config.Systemd: the job's units go in
// the overlay's /etc/systemd/system (the host sees none of it), with masks
// for what a test VM does without: timers would start apt, man-db,
// e2scrub under emulation; the job loads its modules and sets its sysctls
// itself; the host's users, device nodes and tmpfiles are there already;
// the journal stays in /run. Each costs 1-5 s under TCG, the host's
// tmpfiles 25 s to 2 min. Then the host's systemd
// becomes PID 1 in the overlay. The mounts made above move with it.
const systemdTail = `U=$R/etc/systemd/system
$B mkdir -p $U
$B cp /vmjob.service /vmjob.target $U/ || fail "units"
$B cp /vmjob-wrap.sh $R/run/vmjob-wrap.sh
for u in timers.target getty.target systemd-timesyncd.service systemd-pstore.service e2scrub_reap.service \
	systemd-firstboot.service systemd-repart.service systemd-binfmt.service proc-sys-fs-binfmt_misc.automount \
	apparmor.service systemd-pcrphase.service systemd-pcrphase-sysinit.service systemd-tmpfiles-setup.service \
	systemd-tmpfiles-setup-dev.service systemd-modules-load.service modprobe@.service kmod-static-nodes.service \
	dev-hugepages.mount dev-mqueue.mount sys-kernel-debug.mount sys-kernel-tracing.mount sys-kernel-config.mount \
	sys-fs-fuse-connections.mount systemd-remount-fs.service systemd-sysusers.service systemd-random-seed.service \
	systemd-update-utmp.service systemd-journal-flush.service systemd-sysctl.service; do
	$B ln -sfn /dev/null $U/$u
done
# a host that is a Docker container has /.dockerenv: systemd would take
# the VM for a container (reading its options from argv, skipping units)
$B rm -f $R/.dockerenv $R/run/.containerenv
$B test -x $R/lib/systemd/systemd || fail "no /lib/systemd/systemd on the host (make deps: systemd)"
echo "vm-init: switch_root to systemd"
exec $B switch_root $R /lib/systemd/systemd
fail "switch_root"
`

// systemdFiles are the job's units under Config.Systemd and the wrapper
// that prints the start marker, runs the job, prints its status and
// reboots at once (QEMU runs with -no-reboot: it exits).
var systemdFiles = map[string]string{
	"vmjob.target": `[Unit]
Description=vmrun job
Requires=basic.target vmjob.service
After=basic.target vmjob.service
AllowIsolate=yes
`,
	"vmjob.service": `[Unit]
Description=vmrun job
After=basic.target

[Service]
Type=simple
ExecStart=/bin/sh /run/vmjob-wrap.sh
StandardInput=null
StandardOutput=tty
StandardError=inherit
TTYPath=/dev/console
TTYReset=no
TTYVHangup=no
TimeoutStartSec=infinity
`,
	"vmjob-wrap.sh": `echo "@@VM-START@@"
/bin/sh /run/vmjob.sh
echo "@@VM-EXIT $?@@"
sync
systemctl reboot --force --force
`,
}
