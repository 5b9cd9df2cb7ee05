// Package pcmk starts a real one-node Pacemaker cluster (corosync +
// pacemakerd, no systemd) for tests, isolated in its own mount and network
// namespace: private tmpfs over /run, /dev/shm, /var/lib/corosync,
// /var/lib/pacemaker and /var/log/pacemaker, so it neither sees nor
// disturbs other clusters on the machine, and leaves no qb-* files in the
// host's /dev/shm. Commands reach it through Cluster.Command (nsenter).
package pcmk

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Cluster is a running one-node cluster.
type Cluster struct {
	Dir      string // private temp dir (config, logs)
	Node     string // node name
	corosync *exec.Cmd
	pcmkd    *exec.Cmd
}

const setup = `set -e
for d in /run /dev/shm /var/lib/corosync /var/lib/pacemaker /var/log/pacemaker /var/log/cluster; do
  mkdir -p $d; mount -t tmpfs tmpfs $d
done
for d in cib pengine blackbox cores; do mkdir -p /var/lib/pacemaker/$d; done
chown -R hacluster:haclient /var/lib/pacemaker /var/log/pacemaker
chmod 750 /var/lib/pacemaker/*
mkdir -p /run/crm /run/resource-agents
ip link set lo up
hostname "$NODE"
exec corosync -f -c "$DIR/corosync.conf"
`

const corosyncConf = `totem {
  version: 2
  cluster_name: %s
  transport: knet
  crypto_cipher: none
  crypto_hash: none
}
nodelist {
  node {
    ring0_addr: 127.0.0.1
    name: %s
    nodeid: 1
  }
}
quorum {
  provider: corosync_votequorum
}
logging {
  to_logfile: yes
  logfile: %s/corosync.log
  to_stderr: no
  to_syslog: no
}
`

// Start starts corosync and pacemakerd and waits (up to timeout) until the
// node is online with stonith disabled.
func Start(timeout time.Duration) (*Cluster, error) {
	for _, p := range []string{"corosync", "pacemakerd", "unshare", "nsenter", "crm_attribute", "crm_mon"} {
		if _, err := exec.LookPath(p); err != nil {
			if _, err2 := os.Stat("/usr/sbin/" + p); err2 != nil {
				return nil, fmt.Errorf("pcmk: %s not installed", p)
			}
		}
	}
	dir, err := os.MkdirTemp("", "pcmk-test-")
	if err != nil {
		return nil, err
	}
	os.Chmod(dir, 0o755)
	c := &Cluster{Dir: dir, Node: fmt.Sprintf("pcmk%d", os.Getpid())}
	if err := os.WriteFile(filepath.Join(dir, "corosync.conf"), []byte(fmt.Sprintf(corosyncConf, c.Node, c.Node, dir)), 0o644); err != nil {
		return nil, err
	}
	logf, _ := os.Create(filepath.Join(dir, "corosync.out"))
	c.corosync = exec.Command("unshare", "-m", "-n", "-u", "--propagation", "private", "sh", "-c", setup)
	c.corosync.Env = append(os.Environ(), "NODE="+c.Node, "DIR="+dir)
	c.corosync.Stdout, c.corosync.Stderr = logf, logf
	if err := c.corosync.Start(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("pcmk: starting corosync: %w", err)
	}
	deadline := time.Now().Add(timeout)
	// wait for corosync to answer
	for {
		if out, err := c.Command("corosync-quorumtool", "-s").CombinedOutput(); err == nil && bytes.Contains(out, []byte("Quorate:          Yes")) {
			break
		}
		if time.Now().After(deadline) || c.corosync.ProcessState != nil {
			b, _ := os.ReadFile(filepath.Join(dir, "corosync.out"))
			c.Stop()
			return nil, fmt.Errorf("pcmk: corosync not quorate: %s", b)
		}
		time.Sleep(100 * time.Millisecond)
	}
	pl, _ := os.Create(filepath.Join(dir, "pacemakerd.out"))
	c.pcmkd = c.Command("pacemakerd")
	c.pcmkd.Env = append(os.Environ(), "PCMK_logfile="+filepath.Join(dir, "pacemaker.log"))
	c.pcmkd.Stdout, c.pcmkd.Stderr = pl, pl
	if err := c.pcmkd.Start(); err != nil {
		c.Stop()
		return nil, fmt.Errorf("pcmk: starting pacemakerd: %w", err)
	}
	props := false
	for {
		if !props {
			if c.Command("crm_attribute", "-t", "crm_config", "-n", "stonith-enabled", "-v", "false").Run() == nil &&
				c.Command("crm_attribute", "-t", "crm_config", "-n", "dc-deadtime", "-v", "2s").Run() == nil {
				props = true
			}
		}
		if props {
			if out, err := c.Command("crm_mon", "-1").CombinedOutput(); err == nil && strings.Contains(string(out), "Online: [ "+c.Node+" ]") {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			out, _ := c.Command("crm_mon", "-1").CombinedOutput()
			c.Stop()
			return nil, fmt.Errorf("pcmk: node not online after %v: %s", timeout, out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// PID is the pid of corosync, whose namespaces the cluster lives in.
func (c *Cluster) PID() int { return c.corosync.Process.Pid }

// Command returns a command running inside the cluster's mount, network
// and UTS namespaces (cluster CLI tools, agents).
func (c *Cluster) Command(name string, args ...string) *exec.Cmd {
	// -r: entering a mount namespace resets the root, and the VM tier
	// runs its tests chrooted.
	a := append([]string{"-t", strconv.Itoa(c.PID()), "-m", "-n", "-u", "-r", "--", name}, args...)
	return exec.Command("nsenter", a...)
}

// Stop kills pacemakerd's children, pacemakerd and corosync (by PID; the
// tmpfs mounts vanish with the namespace) and removes the temp dir.
func (c *Cluster) Stop() {
	if c.pcmkd != nil && c.pcmkd.Process != nil {
		// pacemakerd stops its daemons on SIGTERM
		c.pcmkd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.pcmkd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			c.killChildren(c.pcmkd.Process.Pid)
			c.pcmkd.Process.Kill()
			<-done
		}
	}
	if c.corosync != nil && c.corosync.Process != nil {
		c.corosync.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { c.corosync.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			c.corosync.Process.Kill()
			<-done
		}
	}
	if c.Dir != "" && os.Getenv("PCMK_KEEP") == "" {
		os.RemoveAll(c.Dir)
	}
}

func (c *Cluster) killChildren(ppid int) {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		s := string(b)
		if i := strings.LastIndexByte(s, ')'); i > 0 {
			f := strings.Fields(s[i+1:])
			if len(f) > 1 && f[1] == strconv.Itoa(ppid) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
}
