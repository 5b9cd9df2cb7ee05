package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// The control socket answers root only: another user is refused by the
// socket's mode, in a directory anyone may enter (as /run/lvsd is).
func TestControlSocketRefusesOtherUsers(t *testing.T) {
	testenv.Root(t)
	py := "/usr/bin/python3" // the system one: nobody cannot reach a per-user install
	if _, err := os.Stat(py); err != nil {
		testenv.Skip(t, "needs /usr/bin/python3 (run `make deps`)")
	}
	dir, err := os.MkdirTemp("/run", "lvsd-perm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755)
	sock := filepath.Join(dir, "x.sock")
	ln, err := listenControl(sock)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			bufio.NewReader(c).ReadString('\n')
			c.Write([]byte("{}\n"))
			c.Close()
		}
	}()
	if st, err := os.Stat(sock); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("socket mode: %v %v", st.Mode(), err)
	}
	connect := "import socket,sys; s=socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); print('connected')"
	cmd := exec.Command(py, "-c", connect, sock)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "PermissionError") {
		t.Errorf("user nobody: %v\n%s", err, out)
	}
	// root still gets its answer
	if ans, err := ask(sock, "status"); err != nil || strings.TrimSpace(ans) != "{}" {
		t.Errorf("root: %q %v", ans, err)
	}
}
