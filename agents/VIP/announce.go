package vip

import (
	"bytes"
	"context"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// AnnouncerArg is the hidden first argument that turns the binary into the
// background announcer (the rest of the rounds after the first, so that
// start returns at once, as IPaddr2 runs send_arp in the background).
const AnnouncerArg = "__announce"

func pidFile(c *ocf.Context, ip string) string {
	return filepath.Join(c.StateDir(), "VIP-announce-"+strings.ReplaceAll(ip, ":", "_")+".pid")
}

// announce sends one round now and leaves count-1 rounds to a detached
// child process. Failures are logged, not fatal: the address is up. The
// child also inherits the socket of the first round and holds it until it
// ends: the socket's last close waits for the kernel (see
// addr.AnnounceHeld), and start would otherwise wait for it at exit.
func announce(c *ocf.Context, s Settings, r Resolved, l addr.Link, count int) {
	if count <= 0 {
		return
	}
	if count == 1 {
		if err := addr.Announce(context.Background(), l, r.IP, s.ARPReply, 1, 0); err != nil {
			c.Log.Error("Could not send announcement for %s on %s: %v", r.IP, r.Nic, err)
		}
		return
	}
	held, err := addr.AnnounceHeld(l, r.IP, s.ARPReply)
	if err != nil {
		c.Log.Error("Could not send announcement for %s on %s: %v", r.IP, r.Nic, err)
		return
	}
	if held != nil {
		defer held.Close() // after the child has its copy
	}
	c.Log.Debug("announced %s on %s (1 of %d)", r.IP, r.Nic, count)
	killAnnouncer(c, s.IPRaw)
	self, err := os.Executable()
	if err != nil {
		c.Log.Warn("background announcements: %v", err)
		return
	}
	pf := pidFile(c, s.IPRaw)
	cmd := exec.Command(self, AnnouncerArg, r.Nic, r.IP.String(), strconv.FormatBool(s.ARPReply),
		strconv.Itoa(count-1), strconv.Itoa(s.ARPInterval), s.NetworkNamespace, pf)
	if held != nil {
		cmd.ExtraFiles = []*os.File{held} // fd 3: held, never used
	}
	// Detached, with no inherited pipes: Pacemaker's executor (and
	// ocf-tester) wait for the agent's output to close.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		c.Log.Warn("background announcements: %v", err)
		return
	}
	if err := os.MkdirAll(filepath.Dir(pf), 0o755); err == nil {
		os.WriteFile(pf, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o644)
	}
	cmd.Process.Release()
}

// killAnnouncer stops a background announcer still running for ip (stop,
// or a new round replacing an old one).
func killAnnouncer(c *ocf.Context, ip string) {
	pf := pidFile(c, ip)
	data, err := os.ReadFile(pf)
	if err != nil {
		return
	}
	os.Remove(pf)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return
	}
	// Only our announcer for this address: a pid may have been reused.
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || !bytes.Contains(cmdline, []byte(AnnouncerArg)) {
		return
	}
	if syscall.Kill(pid, syscall.SIGTERM) == nil {
		c.Log.Info("killed the background announcer of %s (pid %d)", ip, pid)
	}
}

// Announcer is the background announcer's main:
// __announce NIC IP REPLYONLY COUNT INTERVAL_MS NETNS PIDFILE.
func Announcer(args []string) int {
	if len(args) != 7 {
		fmt.Fprintln(os.Stderr, "usage: VIP", AnnouncerArg, "NIC IP REPLYONLY COUNT INTERVAL_MS NETNS PIDFILE")
		return ocf.ErrArgs
	}
	nic, ipS, replyS, countS, ivS, ns, pf := args[0], args[1], args[2], args[3], args[4], args[5], args[6]
	defer func() {
		// Remove the pid file only if it is still ours.
		if data, err := os.ReadFile(pf); err == nil && strings.TrimSpace(string(data)) == strconv.Itoa(os.Getpid()) {
			os.Remove(pf)
		}
	}()
	ip, err1 := netip.ParseAddr(ipS)
	reply, err2 := strconv.ParseBool(replyS)
	count, err3 := strconv.Atoi(countS)
	iv, err4 := strconv.Atoi(ivS)
	if err1 != nil || err2 != nil || err3 != nil || err4 != nil {
		return ocf.ErrArgs
	}
	if ns != "" {
		if err := addr.EnterNetns(ns); err != nil {
			return ocf.ErrGeneric
		}
	}
	interval := time.Duration(iv) * time.Millisecond
	time.Sleep(interval)
	l, err := addr.LinkByName(nic)
	if err != nil {
		return ocf.ErrGeneric
	}
	if err := addr.Announce(context.Background(), l, ip, reply, count, interval); err != nil {
		log := ocf.NewLogger("VIP", os.Getenv, os.Stderr)
		log.Error("announcing %s on %s: %v", ip, nic, err)
		log.Close()
		return ocf.ErrGeneric
	}
	return ocf.Success
}
