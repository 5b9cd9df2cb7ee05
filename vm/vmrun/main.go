// vmrun boots the test VM (Debian's generic kernel under QEMU, the host's
// root read-only over 9p with a tmpfs overlay) and runs one command in it,
// exiting with the command's status. See docs/vm.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

func main() {
	fs := flag.NewFlagSet("vmrun", flag.ExitOnError)
	cache := fs.String("cache", ".cache/vm", "kernel cache directory")
	mem := fs.Int("m", 2048, "memory in MiB")
	cpus := fs.Int("smp", 2, "virtual CPUs")
	timeout := fs.Duration("timeout", 15*time.Minute, "the command, from its start (the boot is not counted)")
	bootTimeout := fs.Duration("boot-timeout", 0, "deadline for the command to start, per boot (default $VM_BOOT_TIMEOUT, else 1m under KVM, 5m under TCG)")
	dir := fs.String("C", "", "working directory of the command (default: the current one)")
	systemd := fs.Bool("systemd", false, "boot the host's systemd as PID 1 (switch_root into the overlay) and run COMMAND as a unit of vmjob.target")
	var env envList
	fs.Var(&env, "e", "KEY=VALUE for the command (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: vmrun [options] [--] COMMAND [ARGS...]")
		fmt.Fprintln(os.Stderr, "\nBoots Debian's generic kernel under QEMU with the host's root filesystem")
		fmt.Fprintln(os.Stderr, "read-only plus a tmpfs overlay, preloads ip_vs and its schedulers, veth,")
		fmt.Fprintln(os.Stderr, "dummy, ipip ..., runs COMMAND as root and exits with its status (125 when")
		fmt.Fprintln(os.Stderr, "the VM failed first). The kernel package is fetched once with apt-get")
		fmt.Fprintln(os.Stderr, "download (VM_KERNEL_PKG overrides the name).")
		fmt.Fprintln(os.Stderr, "")
		fmt.Fprintln(os.Stderr, "KVM is used when /dev/kvm opens and the CPU shows vmx or svm, else TCG")
		fmt.Fprintln(os.Stderr, "software emulation; VM_ACCEL=kvm|tcg overrides. A KVM boot that has not")
		fmt.Fprintln(os.Stderr, "started COMMAND by the boot deadline (VM_BOOT_TIMEOUT) is killed and run")
		fmt.Fprintln(os.Stderr, "again under TCG. On any failure the console's last lines are printed.")
		fmt.Fprintln(os.Stderr, "\noptions:")
		fs.PrintDefaults()
	}
	fs.Parse(os.Args[1:])
	if fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	// Killed or interrupted, take QEMU down too.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := vm.Run(ctx, vm.Config{
		CacheDir: *cache, Memory: *mem, CPUs: *cpus, Timeout: *timeout, BootTimeout: *bootTimeout, Dir: *dir, Env: env, Systemd: *systemd,
	}, fs.Args()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	accel := res.Accel
	if res.Fallback != "" {
		accel += ", after KVM failed: " + res.Fallback
	}
	fmt.Fprintf(os.Stderr, "vm: exit %d (boot %.1fs, total %.1fs, %s)\n", res.ExitCode, res.Boot.Seconds(), res.Total.Seconds(), accel)
	os.Exit(res.ExitCode)
}

type envList []string

func (e *envList) String() string     { return fmt.Sprint(*e) }
func (e *envList) Set(s string) error { *e = append(*e, s); return nil }
