//go:build vm

package vmtest

import (
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// A box is a throw-away root for one test: an overlay over the VM's own
// root (itself a copy-on-write overlay of the host's) with a tmpfs upper
// layer, and proc, sys, dev, a fresh /run and the VM kernel's modules
// mounted in it. Commands run chrooted there as a node's package manager
// runs them: the packages' scripts see a real Debian root, with systemd
// installed but not running (PID 1 is the VM's init, outside the chroot).
// Every change the test makes lands in the upper layer, so what a removal
// leaves behind can be listed exactly (leftovers), and the next test (or
// package of the VM tier) starts from an untouched root.
type box struct {
	t                *testing.T
	dir, root, upper string
	before           map[string]string // upper layer at creation: path -> digest
}

// top is the checkout, from this package's directory (go test runs there).
const top = "../.."

func newBox(t *testing.T) *box {
	t.Helper()
	vm.Require(t)
	dir, err := os.MkdirTemp("", "pkgbox-")
	if err != nil {
		t.Fatal(err)
	}
	b := &box{t: t, dir: dir, root: filepath.Join(dir, "root"), upper: filepath.Join(dir, "upper")}
	script := `set -e
d=$1
mount -t tmpfs -o mode=0755 tmpfs "$d"
mkdir "$d/upper" "$d/work" "$d/root"
mount -t overlay overlay -o "lowerdir=/,upperdir=$d/upper,workdir=$d/work" "$d/root"
mount -t proc proc "$d/root/proc"
mount --rbind /sys "$d/root/sys"
mount --rbind /dev "$d/root/dev"
mount -t tmpfs -o mode=0755 tmpfs "$d/root/run"
m=/lib/modules/$(uname -r)
if [ -d "$m" ]; then mount --bind "$m" "$d/root$m"; fi
# man-db's trigger would rebuild its index on every dpkg call (minutes
# under emulation): off, as in container images
rm -f "$d/root/var/lib/man-db/auto-update"
`
	if out, err := exec.Command("sh", "-c", script, "box", dir).CombinedOutput(); err != nil {
		exec.Command("umount", "-R", "-l", dir).Run()
		os.Remove(dir)
		t.Fatalf("making the box: %v\n%s", err, out)
	}
	t.Cleanup(b.destroy)
	b.before = b.changes()
	return b
}

// destroy ends what still runs chrooted in the box (a director's lvsd
// would hold its mounts) and unmounts it.
func (b *box) destroy() {
	for _, pid := range b.procs("") {
		syscall.Kill(pid, syscall.SIGKILL)
	}
	if out, err := exec.Command("umount", "-R", b.root).CombinedOutput(); err != nil {
		b.t.Logf("umount -R %s: %v %s (lazily now)", b.root, err, out)
		exec.Command("umount", "-R", "-l", b.root).Run()
	}
	exec.Command("umount", "-l", b.dir).Run()
	os.Remove(b.dir)
}

// procs lists the processes chrooted in the box, those named comm only
// when comm is not "".
func (b *box) procs(comm string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if r, err := os.Readlink(fmt.Sprintf("/proc/%d/root", pid)); err != nil || r != b.root {
			continue
		}
		if c, _ := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid)); comm != "" && strings.TrimSpace(string(c)) != comm {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// sh runs a shell line chrooted in the box with a node's environment
// (stdin /dev/null: no terminal, as under a configuration manager); it
// returns the combined output and the exit code.
func (b *box) sh(line string) (string, int) {
	b.t.Helper()
	cmd := exec.Command("chroot", b.root, "/bin/sh", "-c", line)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME=/root",
		"LANG=C.UTF-8", "TERM=dumb", "DEBIAN_FRONTEND=noninteractive"}
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if d := time.Since(start); d > 10*time.Second {
		b.t.Logf("%s: %.0f s", line, d.Seconds())
	}
	if ee, ok := err.(*exec.ExitError); ok {
		return string(out), ee.ExitCode()
	} else if err != nil {
		b.t.Fatalf("%s: %v", line, err)
	}
	return string(out), 0
}

// must runs a line that has to succeed and returns its output.
func (b *box) must(line string) string {
	b.t.Helper()
	out, code := b.sh(line)
	if code != 0 {
		b.t.Fatalf("%s: exit %d\n%s", line, code, out)
	}
	return out
}

func (b *box) path(p string) string { return filepath.Join(b.root, p) }

func (b *box) exists(p string) bool {
	_, err := os.Lstat(b.path(p))
	return err == nil
}

func (b *box) read(p string) string {
	b.t.Helper()
	s, err := os.ReadFile(b.path(p))
	if err != nil {
		b.t.Fatal(err)
	}
	return string(s)
}

func (b *box) write(p, s string) {
	b.t.Helper()
	if err := os.MkdirAll(filepath.Dir(b.path(p)), 0o755); err != nil {
		b.t.Fatal(err)
	}
	if err := os.WriteFile(b.path(p), []byte(s), 0o644); err != nil {
		b.t.Fatal(err)
	}
}

// changes lists the upper layer: every file, link and whiteout the box's
// commands created or changed, with a digest (directories are left out:
// overlayfs copies a file's parents up with it).
func (b *box) changes() map[string]string {
	m := map[string]string{}
	filepath.WalkDir(b.upper, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel := "/" + strings.TrimPrefix(p, b.upper+"/")
		fi, err := os.Lstat(p)
		if err != nil {
			return nil
		}
		switch {
		case fi.Mode()&fs.ModeCharDevice != 0:
			m[rel] = "whiteout" // a lower file removed
		case fi.Mode()&fs.ModeSymlink != 0:
			t, _ := os.Readlink(p)
			m[rel] = "-> " + t
		default:
			c, _ := os.ReadFile(p)
			m[rel] = fmt.Sprintf("%x", sha256.Sum256(c))
		}
		return nil
	})
	return m
}

// Package managers' own records, which an install and removal change by
// design (the databases, logs, caches of triggers), and the tests' own
// scratch files.
var bookkeeping = regexp.MustCompile(`^(/root/\.rpmdb/|/var/lib/rpm/|/var/lib/dpkg/(status|status-old|available|available-old|lock.*|triggers/.*|info/ldirectord\..*|info/format)$|/var/log/(dpkg\.log|alternatives\.log)$|/var/cache/(man|debconf)/|/var/cache/ldconfig/|/tmp/pkgtest/|/etc/ld\.so\.cache$)`)

// leftovers is what the box's commands changed since its creation, bar
// bookkeeping and removed files: after a package's removal, what it left.
func (b *box) leftovers() []string {
	var l []string
	for p, d := range b.changes() {
		if d == "whiteout" || b.before[p] == d || bookkeeping.MatchString(p) {
			continue
		}
		l = append(l, p)
	}
	sort.Strings(l)
	return l
}

// quiet returns the lines of a package tool's output that are neither
// its own progress lines nor one of the expected ones: what a script
// said. Debian's rpm warns that it is not the system's package manager
// (twice per call), man-db's trigger says it skips (the box turns it
// off): those are the tools'.
func quiet(out string, expected ...string) []string {
	var bad []string
	for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
		if line == "" || toolLine.MatchString(line) {
			continue
		}
		ok := false
		for _, e := range expected {
			if strings.Contains(line, e) {
				ok = true
				break
			}
		}
		if !ok {
			bad = append(bad, line)
		}
	}
	return bad
}

var toolLine = regexp.MustCompile(`^(rpm: RPM should not be used directly|rpm: However assuming you know|` +
	`Selecting previously unselected package |\(Reading database \.\.\.|Preparing to unpack |Unpacking |` +
	`Setting up |Removing |Purging configuration files for |Processing triggers for man-db |` +
	`Not building database; man-db/auto-update is not 'true'\.$|Installing new version of config file )`)

// installed paths of the packages, file and directory, that nothing may
// hold after a removal (purge) and no test may find before its install.
var ours = []string{
	"/usr/sbin/lvsd", "/usr/sbin/ldirectord", "/usr/lib/ocf/resource.d/lvs", "/etc/lvsd",
	"/usr/lib/systemd/system/lvsd.service", "/usr/lib/systemd/system/lvsd@.service",
	"/usr/lib/tmpfiles.d/lvsd.conf", "/etc/logrotate.d/ocf-lvs", "/var/log/lvsd",
	"/usr/share/ocf-lvs", "/usr/share/doc/ocf-lvs", "/usr/share/doc/ocf-lvs-ldirectord",
	"/usr/share/man/man8/lvsd.8.gz", "/usr/share/man/man7/ocf_lvs_VIP.7.gz",
	"/etc/systemd/system/multi-user.target.wants/lvsd.service", "/etc/systemd/system/lvsd.service",
	"/var/lib/systemd/deb-systemd-helper-enabled/lvsd.service.dsh-also",
	"/var/lib/systemd/deb-systemd-helper-masked/lvsd.service",
}

func (b *box) noneOfOurs(when string) {
	b.t.Helper()
	for _, p := range ours {
		if b.exists(p) {
			b.t.Errorf("%s: %s exists", when, p)
		}
	}
}

// pkgFiles returns the packages of one version (make vm-packages):
// ocf-lvs and ocf-lvs-ldirectord, as .rpm or .deb.
func pkgFiles(t *testing.T, version, kind string) string {
	t.Helper()
	var glob string
	switch kind {
	case "rpm":
		glob = "rpm/RPMS/*/ocf-lvs*-" + version + "-1.*.rpm"
	case "deb":
		glob = "deb/ocf-lvs*_" + version + "-1_*.deb"
	}
	dir, err := filepath.Abs(filepath.Join(top, ".cache/vm/pkg", version))
	if err != nil {
		t.Fatal(err)
	}
	m, _ := filepath.Glob(filepath.Join(dir, glob))
	if len(m) != 2 {
		t.Fatalf("packages %s/%s: found %v, want ocf-lvs and ocf-lvs-ldirectord (make vm-packages; make vmtest runs it)", dir, glob, m)
	}
	return strings.Join(m, " ")
}

// versions are the two versions make vm-packages built: from, to.
func versions(t *testing.T) (string, string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(top, ".cache/vm/pkg/versions"))
	f := strings.Fields(string(b))
	if err != nil || len(f) != 2 {
		t.Fatalf("%s: %v %q (make vm-packages; make vmtest runs it)", filepath.Join(top, ".cache/vm/pkg/versions"), err, b)
	}
	return f[0], f[1]
}
