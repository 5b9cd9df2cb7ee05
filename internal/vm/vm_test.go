package vm

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

func TestParseDepends(t *testing.T) {
	out := []byte("linux-image-amd64\n  Depends: linux-image-6.1.0-56-amd64\n")
	got, err := parseDepends(out)
	if err != nil || got != "linux-image-6.1.0-56-amd64" {
		t.Fatalf("got %q, %v", got, err)
	}
	if _, err := parseDepends([]byte("  Depends: linux-image-6.1.0-56-cloud-amd64\n")); err == nil {
		t.Fatal("the cloud flavour (no 9p) must not be picked")
	}
}

func TestModuleDeps(t *testing.T) {
	dir := t.TempDir()
	dep := "kernel/fs/9p/9p.ko: kernel/net/9p/9pnet.ko kernel/fs/fscache/fscache.ko kernel/fs/netfs/netfs.ko\n" +
		"kernel/net/9p/9pnet.ko:\nkernel/fs/fscache/fscache.ko: kernel/fs/netfs/netfs.ko\nkernel/fs/netfs/netfs.ko:\n" +
		"kernel/net/9p/9pnet_virtio.ko: kernel/net/9p/9pnet.ko\n"
	os.WriteFile(filepath.Join(dir, "modules.dep"), []byte(dep), 0o644)
	os.WriteFile(filepath.Join(dir, "modules.builtin"), []byte("kernel/drivers/virtio/virtio_pci.ko\n"), 0o644)
	got, err := ModuleDeps(dir, []string{"virtio-pci", "9pnet_virtio", "9p"})
	if err != nil {
		t.Fatal(err)
	}
	want := "kernel/net/9p/9pnet.ko kernel/net/9p/9pnet_virtio.ko kernel/fs/netfs/netfs.ko kernel/fs/fscache/fscache.ko kernel/fs/9p/9p.ko"
	if strings.Join(got, " ") != want {
		t.Fatalf("order:\n got %s\nwant %s", strings.Join(got, " "), want)
	}
	if _, err := ModuleDeps(dir, []string{"nosuch"}); err == nil {
		t.Fatal("unknown module accepted")
	}
}

// The archive is read back by the real cpio tool when present.
func TestCpio(t *testing.T) {
	var b bytes.Buffer
	c := newCpio(&b)
	if err := c.file("a/b/c.txt", 0o644, []byte("hello")); err != nil {
		t.Fatal(err)
	}
	c.symlink("a/l", "b/c.txt")
	c.close()
	if b.Len()%4 != 0 {
		t.Fatalf("archive length %d not 4-aligned", b.Len())
	}
	cpio := testenv.Command(t, "cpio")
	dir := t.TempDir()
	cmd := exec.Command(cpio, "-idm", "--quiet")
	cmd.Dir, cmd.Stdin = dir, &b
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio: %v %s", err, out)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "a/l")); string(data) != "hello" {
		t.Fatalf("read back %q", data)
	}
}

// Under Config.Systemd the init switch_roots into systemd, which starts
// the job's target (not the host's default), and the job's wrapper
// reports the status as the chroot path does.
func TestSystemdBoot(t *testing.T) {
	if c := kernelCmdline(true); !strings.Contains(c, " systemd.unit=vmjob.target") || !strings.Contains(c, "rdinit=/init") {
		t.Errorf("cmdline %q", c)
	}
	if c := kernelCmdline(false); strings.Contains(c, "systemd") {
		t.Errorf("chroot cmdline %q", c)
	}
	if !strings.Contains(systemdTail, "exec $B switch_root $R /lib/systemd/systemd\n") || strings.Contains(systemdTail, "chroot") {
		t.Errorf("systemd tail:\n%s", systemdTail)
	}
	w := systemdFiles["vmjob-wrap.sh"]
	if !strings.Contains(w, startMarker) || !strings.Contains(w, `@@VM-EXIT $?@@`) || !strings.Contains(systemdFiles["vmjob.target"], "vmjob.service") {
		t.Errorf("job units: %v", systemdFiles)
	}
	if exitRe.FindStringSubmatch(strings.ReplaceAll(w, "$?", "3")) == nil {
		t.Errorf("wrapper's status line does not match %v", exitRe)
	}
}
