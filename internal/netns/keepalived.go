package netns

import (
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// KeepalivedArgs are the arguments of `ip` that run Debian's keepalived
// in namespace ns as the VRRP tests and benches do: -P VRRP only, -n in
// the foreground, -D details, -R no respawn (a kill -9 of its VRRP child
// stays dead), its pid files in dir under name (any earlier ones
// removed); extra goes before -f (-l: log to stderr). pids are its pid
// files, VRRP child first, for KillPidFiles.
func KeepalivedArgs(ns, bin, conf, dir, name string, extra ...string) (args, pids []string) {
	base := filepath.Join(dir, name)
	pid, vpid := base+".pid", base+".vrrp.pid"
	os.Remove(pid)
	os.Remove(vpid)
	args = append([]string{"netns", "exec", ns, bin, "-P", "-n"}, extra...)
	args = append(args, "-D", "-R", "-f", conf, "-p", pid, "-r", vpid, "-c", base+".chk.pid")
	return args, []string{vpid, pid}
}

// KillPidFiles sends SIGKILL to the process of each pid file, in order
// (keepalived's VRRP child before its parent, so nothing sends a
// priority-0 advert or respawns it): a silent death.
func KillPidFiles(pids []string) {
	for _, f := range pids {
		if b, err := os.ReadFile(f); err == nil {
			var pid int
			fmt.Sscan(string(b), &pid)
			if pid > 0 {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
