// vmrun boots the test VM (Debian's generic kernel under QEMU, the host's
// root read-only over 9p with a tmpfs overlay) and runs one command in it,
// exiting with the command's status. See docs/vm.md.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

func main() {
	fs := flag.NewFlagSet("vmrun", flag.ExitOnError)
	cache := fs.String("cache", ".cache/vm", "kernel cache directory")
	mem := fs.Int("m", 2048, "memory in MiB")
	cpus := fs.Int("smp", 2, "virtual CPUs")
	timeout := fs.Duration("timeout", 15*time.Minute, "whole run, boot included")
	dir := fs.String("C", "", "working directory of the command (default: the current one)")
	var env envList
	fs.Var(&env, "e", "KEY=VALUE for the command (repeatable)")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: vmrun [options] [--] COMMAND [ARGS...]")
		fmt.Fprintln(os.Stderr, "\nBoots Debian's generic kernel under QEMU (KVM when /dev/kvm opens, else TCG;")
		fmt.Fprintln(os.Stderr, "VM_ACCEL=kvm|tcg overrides) with the host's root filesystem read-only plus")
		fmt.Fprintln(os.Stderr, "a tmpfs overlay, preloads ip_vs and its schedulers, veth, dummy, ipip ...,")
		fmt.Fprintln(os.Stderr, "runs COMMAND as root and exits with its status. The kernel package is")
		fmt.Fprintln(os.Stderr, "fetched once with apt-get download (VM_KERNEL_PKG overrides the name).")
		fmt.Fprintln(os.Stderr, "\noptions:")
		fs.PrintDefaults()
	}
	fs.Parse(os.Args[1:])
	if fs.NArg() == 0 {
		fs.Usage()
		os.Exit(2)
	}
	res, err := vm.Run(context.Background(), vm.Config{
		CacheDir: *cache, Memory: *mem, CPUs: *cpus, Timeout: *timeout, Dir: *dir, Env: env,
	}, fs.Args()...)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(125)
	}
	fmt.Fprintf(os.Stderr, "vm: exit %d (boot %.1fs, total %.1fs, %s)\n", res.ExitCode, res.Boot.Seconds(), res.Total.Seconds(), res.Accel)
	os.Exit(res.ExitCode)
}

type envList []string

func (e *envList) String() string     { return fmt.Sprint(*e) }
func (e *envList) Set(s string) error { *e = append(*e, s); return nil }
