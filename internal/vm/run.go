package vm

import (
	"bufio"
	"bytes"
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
	CacheDir string        // kernel cache (default .cache/vm)
	Memory   int           // MiB (default 2048)
	CPUs     int           // default: up to 2
	Timeout  time.Duration // whole run, boot included (default 15m)
	Dir      string        // working directory of the job (default: ours)
	Env      []string      // extra KEY=VALUE for the job
	Modules  []string      // preloaded in the VM (default TestModules)
	Output   io.Writer     // the job's output, streamed (default os.Stdout)
	Log      io.Writer     // harness messages (default os.Stderr)
}

// Result is what the job returned.
type Result struct {
	ExitCode int
	Boot     time.Duration // QEMU start to the job's start
	Total    time.Duration
	Accel    string
}

var exitRe = regexp.MustCompile(`@@VM-EXIT (\d+)@@`)

const startMarker = "@@VM-START@@"

// Accel picks KVM when /dev/kvm can be opened (VM_ACCEL overrides:
// "kvm" or "tcg"), else TCG software emulation as on CI.
func Accel() string {
	if a := os.Getenv("VM_ACCEL"); a != "" {
		return a
	}
	if f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0); err == nil {
		f.Close()
		return "kvm"
	}
	return "tcg"
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
	if cfg.Timeout == 0 {
		cfg.Timeout = 15 * time.Minute
	}
	if cfg.Dir == "" {
		cfg.Dir, _ = os.Getwd()
	}
	if cfg.Modules == nil {
		cfg.Modules = TestModules
	}
	if cfg.Output == nil {
		cfg.Output = os.Stdout
	}
	if cfg.Log == nil {
		cfg.Log = os.Stderr
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

	accel := Accel()
	args := []string{
		"-nodefaults", "-no-user-config", "-display", "none", "-monitor", "none",
		"-serial", "stdio", "-no-reboot",
		"-m", strconv.Itoa(cfg.Memory), "-smp", strconv.Itoa(cfg.CPUs),
		"-kernel", k.Vmlinuz, "-initrd", initrd,
		"-append", "console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init",
		"-virtfs", "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap",
	}
	if accel == "kvm" {
		args = append(args, "-accel", "kvm", "-cpu", "host")
	} else {
		args = append(args, "-accel", "tcg,thread=multi", "-cpu", "max")
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, qemu, args...)
	cmd.Stdin = nil
	cmd.Stderr = cfg.Log
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(cfg.Log, "vm: booting %s (%s, %d CPU, %d MiB): %s\n", k.Package, accel, cfg.CPUs, cfg.Memory, strings.Join(argv, " "))
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	res := &Result{ExitCode: -1, Accel: accel}
	started, ended := false, false
	var tail bytes.Buffer // boot messages, shown only when the job never starts
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64*1024), 4*1024*1024)
	for sc.Scan() {
		line := strings.TrimRight(sc.Text(), "\r")
		if !started {
			if strings.Contains(line, startMarker) {
				started = true
				res.Boot = time.Since(start)
				fmt.Fprintf(cfg.Log, "vm: booted in %.1fs\n", res.Boot.Seconds())
				continue
			}
			tail.WriteString(line + "\n")
			continue
		}
		if m := exitRe.FindStringSubmatch(line); m != nil {
			res.ExitCode, _ = strconv.Atoi(m[1])
			ended = true
			continue
		}
		if !ended { // after the status only the kernel's reboot message follows
			fmt.Fprintln(cfg.Output, line)
		}
	}
	werr := cmd.Wait()
	res.Total = time.Since(start)
	if ctx.Err() != nil {
		return res, fmt.Errorf("vm: timed out after %s", cfg.Timeout)
	}
	if res.ExitCode < 0 {
		if !started {
			cfg.Log.Write(tail.Bytes())
		}
		return res, fmt.Errorf("vm: the job returned no status (qemu: %v)", werr)
	}
	return res, nil
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
	var loads strings.Builder
	for _, m := range mods {
		fmt.Fprintf(&loads, "$B insmod /mod/%s || echo 'vm: insmod %s failed'\n", filepath.Base(m), m)
	}
	init := fmt.Sprintf(initScript, loads.String(), k.Version, shellQuote(modDir), k.Version)

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
%s
$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose,msize=512000 hostroot /host || fail "mount 9p"
$B mount -t tmpfs -o mode=0755 tmpfs /rw || fail "mount tmpfs"
$B mkdir -p /rw/upper /rw/work /rw/root
$B mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /rw/root || fail "mount overlay"
R=/rw/root
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
echo "@@VM-START@@"
$B chroot $R /bin/sh /run/vmjob.sh </dev/null 2>&1
echo "@@VM-EXIT $?@@"
$B sync
$B reboot -f
`
