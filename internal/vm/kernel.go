// Package vm boots Debian's generic kernel under QEMU with the host's root
// filesystem (read-only 9p + tmpfs overlay) and runs one job inside it. The
// host kernel has no IPVS; everything that programs IPVS is tested here.
//
// The recipe and its traps are in docs/vm.md.
package vm

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Kernel is an unpacked Debian kernel package.
type Kernel struct {
	Package string // linux-image-6.1.0-NN-amd64
	Version string // 6.1.0-NN-amd64 (the modules directory name)
	Root    string // where the .deb was unpacked
	Vmlinuz string
}

// ModDir is the kernel's modules directory (with modules.dep).
func (k *Kernel) ModDir() string { return filepath.Join(k.Root, "lib/modules", k.Version) }

// KernelPackage names the current generic kernel package, the one
// linux-image-amd64 depends on. VM_KERNEL_PKG overrides it.
func KernelPackage() (string, error) {
	if p := os.Getenv("VM_KERNEL_PKG"); p != "" {
		return p, nil
	}
	out, err := exec.Command("apt-cache", "depends", "linux-image-amd64").Output()
	if err != nil {
		return "", fmt.Errorf("apt-cache depends linux-image-amd64: %v", err)
	}
	return parseDepends(out)
}

func parseDepends(out []byte) (string, error) {
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		// The -cloud- flavour has IPVS but no 9p: only the generic one works.
		if len(f) == 2 && f[0] == "Depends:" && strings.HasPrefix(f[1], "linux-image-") &&
			strings.HasSuffix(f[1], "-amd64") && !strings.Contains(f[1], "cloud") {
			return f[1], nil
		}
	}
	return "", fmt.Errorf("no linux-image-*-amd64 dependency in apt-cache output")
}

// EnsureKernel fetches (apt-get download), unpacks (dpkg -x) and indexes
// (depmod) the kernel package under cacheDir once; later calls reuse it.
// With pkg empty the newest cached kernel is used when apt cannot answer.
func EnsureKernel(cacheDir, pkg string) (*Kernel, error) {
	if pkg == "" {
		p, err := KernelPackage()
		if err != nil {
			if k := newestCached(cacheDir); k != nil {
				return k, nil
			}
			return nil, err
		}
		pkg = p
	}
	root := filepath.Join(cacheDir, "kernel", pkg)
	if k, err := loadKernel(pkg, root); err == nil {
		return k, nil
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		return nil, err
	}
	dl, err := os.MkdirTemp(cacheDir, "download-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dl)
	// apt's sandbox user cannot write here; as root apt falls back with a warning.
	cmd := exec.Command("apt-get", "download", "-o", "APT::Sandbox::User=root", pkg)
	cmd.Dir = dl
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("apt-get download %s: %v\n%s", pkg, err, out)
	}
	debs, _ := filepath.Glob(filepath.Join(dl, "*.deb"))
	if len(debs) != 1 {
		return nil, fmt.Errorf("apt-get download %s: expected one .deb, got %d", pkg, len(debs))
	}
	tmp := root + ".tmp"
	os.RemoveAll(tmp)
	if out, err := exec.Command("dpkg", "-x", debs[0], tmp).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("dpkg -x: %v\n%s", err, out)
	}
	ver := strings.TrimSuffix(strings.TrimPrefix(pkg, "linux-image-"), "-unsigned")
	// The .deb ships no modules.dep (postinst runs depmod): build it here.
	if out, err := exec.Command("depmod", "-b", tmp, ver).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("depmod: %v\n%s", err, out)
	}
	os.RemoveAll(root)
	if err := os.Rename(tmp, root); err != nil {
		return nil, err
	}
	return loadKernel(pkg, root)
}

func loadKernel(pkg, root string) (*Kernel, error) {
	ver := strings.TrimPrefix(pkg, "linux-image-")
	k := &Kernel{Package: pkg, Version: ver, Root: root, Vmlinuz: filepath.Join(root, "boot", "vmlinuz-"+ver)}
	for _, p := range []string{k.Vmlinuz, filepath.Join(k.ModDir(), "modules.dep")} {
		if _, err := os.Stat(p); err != nil {
			return nil, err
		}
	}
	return k, nil
}

func newestCached(cacheDir string) *Kernel {
	dirs, _ := filepath.Glob(filepath.Join(cacheDir, "kernel", "linux-image-*"))
	for i := len(dirs) - 1; i >= 0; i-- {
		if k, err := loadKernel(filepath.Base(dirs[i]), dirs[i]); err == nil {
			return k
		}
	}
	return nil
}

// ModuleDeps resolves modules (by name) to .ko paths relative to the modules
// directory, dependencies first, each once. It reads modules.dep, so the
// initramfs can load 9p and overlay with busybox insmod.
func ModuleDeps(modDir string, names []string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(modDir, "modules.dep"))
	if err != nil {
		return nil, err
	}
	deps := map[string][]string{} // module name -> [own path, deps...]
	for _, line := range strings.Split(string(data), "\n") {
		path, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		deps[modName(path)] = append([]string{path}, strings.Fields(rest)...)
	}
	builtin, _ := os.ReadFile(filepath.Join(modDir, "modules.builtin"))
	var order []string
	seen := map[string]bool{}
	var visit func(name string) error
	visit = func(name string) error {
		name = strings.ReplaceAll(name, "-", "_")
		if seen[name] {
			return nil
		}
		seen[name] = true
		d, ok := deps[name]
		if !ok {
			if bytes.Contains(builtin, []byte("/"+name+".ko")) || bytes.Contains(builtin, []byte("/"+strings.ReplaceAll(name, "_", "-")+".ko")) {
				return nil
			}
			return fmt.Errorf("module %s not in %s/modules.dep", name, modDir)
		}
		// modules.dep lists transitive dependencies, deepest last: load reversed.
		for i := len(d) - 1; i >= 1; i-- {
			if err := visit(modName(d[i])); err != nil {
				return err
			}
		}
		order = append(order, d[0])
		return nil
	}
	for _, n := range names {
		if err := visit(n); err != nil {
			return nil, err
		}
	}
	return order, nil
}

func modName(path string) string {
	b := filepath.Base(path)
	b = strings.TrimSuffix(strings.TrimSuffix(strings.TrimSuffix(b, ".xz"), ".zst"), ".ko")
	return strings.ReplaceAll(b, "-", "_")
}
