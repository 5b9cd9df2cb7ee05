//go:build vm

package vmtest

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/netns"
	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

// The packages installed, upgraded and removed for real, in a box (see
// box): rpm (Debian's, with --nodeps: its database knows none of the
// system's packages, so no /bin/sh or systemd provider) and dpkg run the
// scriptlets and maintainer scripts against a real root where systemd is
// installed but is not PID 1, as in a chroot or a container image build.
// They must work there, exit 0 and say nothing.

// agents are the installed OCF agents.
var agents = []string{"VIP", "VIPcheck", "director", "ping", "realserver"}

// purgeLdirectord removes Debian's ldirectord from the box (it owns
// /usr/sbin/ldirectord, which ocf-lvs-ldirectord replaces; on an RPM node
// the Conflicts keeps the two apart).
func (b *box) purgeLdirectord() {
	b.t.Helper()
	if out, code := b.sh("dpkg-query -W -f '${Status}' ldirectord"); code == 0 && strings.Contains(out, "installed") {
		b.must("dpkg -P ldirectord")
	}
}

func (b *box) isEnabled() string {
	out, _ := b.sh("systemctl is-enabled lvsd.service 2>&1")
	return strings.TrimSpace(out)
}

func (b *box) versionsAre(t *testing.T, v string) {
	t.Helper()
	if out := b.must("lvsd --version"); !strings.HasPrefix(out, "lvsd (ocf-lvs) "+v) {
		t.Errorf("lvsd --version: %q, want %s", out, v)
	}
	for _, a := range agents {
		if out := b.must("/usr/lib/ocf/resource.d/lvs/" + a + " --version"); !strings.HasPrefix(out, a+" (ocf-lvs) "+v) {
			t.Errorf("%s --version: %q, want %s", a, out, v)
		}
	}
}

// runDir checks what the tmpfiles.d entry creates when the scripts run
// systemd-tmpfiles: /run/lvsd (the box's /run is empty at its start).
func (b *box) runDir(t *testing.T) {
	t.Helper()
	st, err := os.Stat(b.path("/run/lvsd"))
	if err != nil || !st.IsDir() || st.Mode().Perm() != 0o755 {
		t.Errorf("/run/lvsd after install: %v %v, want a 0755 directory (tmpfiles.d/lvsd.conf)", st, err)
	}
}

// director prepares the director's lab: the dummy link (the box shares
// the VM's network), the configuration and HA_RSCTMP. It returns the
// environment for the installed agent.
func (b *box) director(t *testing.T) string {
	t.Helper()
	exec.Command("ip", "link", "del", "dir0").Run()
	if out, err := exec.Command("sh", "-c", "ipvsadm -C && ip link add dir0 type dummy && ip addr add 10.77.0.1/24 brd + dev dir0 && ip link set dir0 up").CombinedOutput(); err != nil {
		t.Fatalf("dir0: %v %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("ipvsadm", "-C").Run()
		exec.Command("ip", "link", "del", "dir0").Run()
	})
	b.write("/tmp/pkgtest/ldirectord.cf", testenv.DirectorConf("/tmp/pkgtest/lvsd.log"))
	b.must("mkdir -p /run/resource-agents")
	return "HA_RSCTMP=/run/resource-agents OCF_RESOURCE_INSTANCE=dir OCF_RESKEY_configfile=/tmp/pkgtest/ldirectord.cf"
}

func ipvs(t *testing.T) string {
	out, err := exec.Command("ipvsadm", "-Sn").CombinedOutput()
	if err != nil {
		t.Fatalf("ipvsadm -Sn: %v %s", err, out)
	}
	return string(out)
}

// TestVMPkgRPM: the RPMs installed with rpm -i, their %post run: the
// tmpfiles entry applied (/run/lvsd), lvsd.service preset (Debian's
// policy has no `disable *`: enabled; Fedora's would leave it disabled),
// every file as packaged (rpm -V), ocf-tester passing on the installed
// director against kernel IPVS (with the installed lvsd, the agent's
// default); rpm -e runs %preun (disabled) and leaves nothing.
func TestVMPkgRPM(t *testing.T) {
	b := newBox(t)
	tester := testenv.Command(t, "ocf-tester")
	_, to := versions(t)
	b.purgeLdirectord()
	b.noneOfOurs("before install")
	out := b.must("rpm -i --nodeps " + pkgFiles(t, to, "rpm") + " 2>&1")
	if bad := quiet(out); len(bad) > 0 {
		t.Errorf("rpm -i said:\n%s", strings.Join(bad, "\n"))
	}
	if got := strings.TrimSpace(b.must("rpm -q ocf-lvs ocf-lvs-ldirectord 2>/dev/null")); got != fmt.Sprintf("ocf-lvs-%s-1.x86_64\nocf-lvs-ldirectord-%s-1.noarch", to, to) {
		t.Errorf("rpm -q: %q", got)
	}
	if out, code := b.sh("rpm -V --nodeps ocf-lvs ocf-lvs-ldirectord 2>&1"); code != 0 || len(quiet(out)) > 0 {
		t.Errorf("rpm -V: exit %d\n%s", code, out)
	}
	b.runDir(t)
	if got := b.isEnabled(); got != "enabled" {
		t.Errorf("systemctl is-enabled lvsd.service after rpm -i: %q, want enabled (%%post: systemctl preset; Debian's preset policy enables)", got)
	}
	b.versionsAre(t, to)

	env := b.director(t)
	out, code := b.sh(fmt.Sprintf("%s %s -n dir -o configfile=/tmp/pkgtest/ldirectord.cf /usr/lib/ocf/resource.d/lvs/director 2>&1", env, tester))
	if code != 0 || !strings.Contains(out, "passed all tests") {
		t.Errorf("ocf-tester on the installed director: exit %d\n%s", code, out)
	} else {
		t.Logf("ocf-tester on the installed director (lvsd /usr/sbin/lvsd, kernel IPVS):\n%s", out)
	}
	if tb := ipvs(t); strings.Contains(tb, "10.77.0.100") {
		t.Errorf("table after ocf-tester's last stop:\n%s", tb)
	}

	out = b.must("rpm -e ocf-lvs-ldirectord ocf-lvs 2>&1")
	if bad := quiet(out); len(bad) > 0 {
		t.Errorf("rpm -e said:\n%s", strings.Join(bad, "\n"))
	}
	if got := b.isEnabled(); !strings.Contains(got, "No such file") && got != "disabled" {
		t.Errorf("systemctl is-enabled lvsd.service after rpm -e: %q", got)
	}
	b.noneOfOurs("after rpm -e")
	if l := b.leftovers(); len(l) > 0 {
		t.Errorf("left after rpm -e: %v", l)
	}
}

// TestVMPkgDeb: dpkg -i, -r and -P of the .debs, their maintainer scripts
// run: postinst applies the tmpfiles entry and leaves the unit disabled
// (dh_installsystemd --no-enable: deb-systemd-helper enables it only where
// it was enabled before),
// every file as packaged (dpkg --verify); -r keeps the conffiles and masks
// the unit (so its enablement cannot act on a half-removed package), -P
// removes both and leaves nothing.
func TestVMPkgDeb(t *testing.T) {
	b := newBox(t)
	_, to := versions(t)
	b.purgeLdirectord()
	b.noneOfOurs("before install")
	out := b.must("dpkg -i " + pkgFiles(t, to, "deb") + " 2>&1")
	if bad := quiet(out); len(bad) > 0 {
		t.Errorf("dpkg -i said:\n%s", strings.Join(bad, "\n"))
	}
	for _, p := range []string{"ocf-lvs", "ocf-lvs-ldirectord"} {
		if got := b.must("dpkg-query -W -f '${Status} ${Version}' " + p); got != "install ok installed "+to+"-1" {
			t.Errorf("%s: %q", p, got)
		}
	}
	if out, code := b.sh("dpkg --verify ocf-lvs ocf-lvs-ldirectord 2>&1"); code != 0 || out != "" {
		t.Errorf("dpkg --verify: exit %d\n%s", code, out)
	}
	b.runDir(t)
	if got := b.isEnabled(); got != "disabled" {
		t.Errorf("systemctl is-enabled lvsd.service after dpkg -i: %q, want disabled (--no-enable)", got)
	}
	if got, err := os.Readlink(b.path("/usr/sbin/ldirectord")); err != nil || got != "lvsd" {
		t.Errorf("/usr/sbin/ldirectord: %q %v", got, err)
	}
	b.versionsAre(t, to)

	out = b.must("dpkg -r ocf-lvs-ldirectord ocf-lvs 2>&1")
	if bad := quiet(out); len(bad) > 0 {
		t.Errorf("dpkg -r said:\n%s", strings.Join(bad, "\n"))
	}
	if got := b.must("dpkg-query -W -f '${Status}' ocf-lvs"); got != "deinstall ok config-files" {
		t.Errorf("ocf-lvs after dpkg -r: %q", got)
	}
	for _, p := range []string{"/etc/lvsd/lvs.toml", "/etc/logrotate.d/ocf-lvs", "/etc/logrotate.d/ldirectord"} {
		if !b.exists(p) {
			t.Errorf("dpkg -r removed the conffile %s", p)
		}
	}
	for _, p := range []string{"/usr/sbin/lvsd", "/usr/lib/ocf/resource.d/lvs", "/lib/systemd/system/lvsd.service"} {
		if b.exists(p) {
			t.Errorf("%s after dpkg -r", p)
		}
	}
	if got := b.isEnabled(); got != "masked" {
		t.Errorf("systemctl is-enabled lvsd.service after dpkg -r: %q, want masked (postrm remove)", got)
	}

	out = b.must("dpkg -P ocf-lvs-ldirectord ocf-lvs 2>&1")
	if bad := quiet(out); len(bad) > 0 {
		t.Errorf("dpkg -P said:\n%s", strings.Join(bad, "\n"))
	}
	if out, code := b.sh("dpkg-query -W -f '${Status}' ocf-lvs 2>&1"); code == 0 && !strings.Contains(out, "not-installed") {
		t.Errorf("ocf-lvs after dpkg -P: %q", out)
	}
	b.noneOfOurs("after dpkg -P")
	if l := b.leftovers(); len(l) > 0 {
		t.Errorf("left after dpkg -P: %v", l)
	}
}

// lvsdPid waits for the one lvsd running in the box.
func (b *box) lvsdPid(t *testing.T) int {
	t.Helper()
	var pids []int
	if !netns.WaitFor(10*time.Second, func() bool { pids = b.procs("lvsd"); return len(pids) == 1 }) {
		t.Fatalf("lvsd processes in the box: %v, want one", pids)
	}
	return pids[0]
}

// TestVMPkgRPMUpgrade: rpm -U from the older build to the newer one.
//   - the admin's /etc/lvsd/lvs.toml is kept, the new sample beside it as
//     lvs.toml.rpmnew (both changed: the sample changed in the newer build);
//     /etc/logrotate.d/ocf-lvs, changed by the admin only, is kept with no
//     .rpmnew;
//   - the binaries say the new version;
//   - lvsd.service stays disabled as the admin left it (%post presets on a
//     first install only);
//   - a director run by Pacemaker's agent (not by systemd) goes on through
//     the upgrade: same process, the old binary (its file replaced), its
//     table untouched, monitor 0; %postun's `systemctl try-restart`
//     restarts the unit only if systemd runs it, and here systemd is not
//     PID 1 (it says so and exits 0): the restart of a running
//     lvsd.service is not tested (no systemd as PID 1 in the VM);
//   - rpm -e keeps each modified file as .rpmsave; those and the .rpmnew
//     (which rpm does not own) are all that is left.
func TestVMPkgRPMUpgrade(t *testing.T) {
	b := newBox(t)
	from, to := versions(t)
	b.purgeLdirectord()
	b.must("rpm -i --nodeps " + pkgFiles(t, from, "rpm") + " 2>&1")
	b.versionsAre(t, from)
	sample := b.read("/etc/lvsd/lvs.toml")
	const mine = "\n# changed by the admin\n"
	b.write("/etc/lvsd/lvs.toml", sample+mine)
	logrotate := b.read("/etc/logrotate.d/ocf-lvs")
	b.write("/etc/logrotate.d/ocf-lvs", logrotate+mine)
	b.must("systemctl disable lvsd.service 2>&1")

	env := b.director(t)
	if out, code := b.sh(env + " /usr/lib/ocf/resource.d/lvs/director start 2>&1"); code != 0 {
		t.Fatalf("director start: %d %s", code, out)
	}
	pid := b.lvsdPid(t)
	table := ipvs(t)
	if !strings.Contains(table, "10.77.0.100:80") {
		t.Fatalf("director started, table:\n%s", table)
	}

	out := b.must("rpm -U --nodeps " + pkgFiles(t, to, "rpm") + " 2>&1")
	rpmnew := "warning: /etc/lvsd/lvs.toml created as /etc/lvsd/lvs.toml.rpmnew"
	if bad := quiet(out, rpmnew); len(bad) > 0 {
		t.Errorf("rpm -U said:\n%s", strings.Join(bad, "\n"))
	}
	if !strings.Contains(out, rpmnew) {
		t.Errorf("rpm -U did not say %q:\n%s", rpmnew, out)
	}
	if got := strings.TrimSpace(b.must("rpm -q ocf-lvs 2>/dev/null")); got != "ocf-lvs-"+to+"-1.x86_64" {
		t.Errorf("rpm -q ocf-lvs after the upgrade: %q", got)
	}
	b.versionsAre(t, to)
	if got := b.read("/etc/lvsd/lvs.toml"); got != sample+mine {
		t.Errorf("the admin's lvs.toml not kept:\n%s", got)
	}
	if got := b.read("/etc/lvsd/lvs.toml.rpmnew"); !strings.Contains(got, "(the sample as changed in "+to+")") {
		t.Errorf("lvs.toml.rpmnew is not the new sample:\n%s", got)
	}
	if got := b.read("/etc/logrotate.d/ocf-lvs"); got != logrotate+mine {
		t.Errorf("the admin's logrotate file not kept:\n%s", got)
	}
	if b.exists("/etc/logrotate.d/ocf-lvs.rpmnew") {
		t.Errorf("/etc/logrotate.d/ocf-lvs.rpmnew: the packaged file did not change")
	}
	if got := b.isEnabled(); got != "disabled" {
		t.Errorf("systemctl is-enabled lvsd.service after the upgrade: %q, want disabled (as the admin left it)", got)
	}
	// The running director: untouched.
	if p := b.procs("lvsd"); len(p) != 1 || p[0] != pid {
		t.Errorf("lvsd processes after the upgrade: %v, want the same %d", p, pid)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid)); !strings.HasSuffix(exe, " (deleted)") {
		t.Errorf("lvsd %d runs %q: want the old, replaced binary", pid, exe)
	}
	if got := ipvs(t); got != table {
		t.Errorf("table changed by the upgrade:\n%s\nwas:\n%s", got, table)
	}
	if out, code := b.sh(env + " /usr/lib/ocf/resource.d/lvs/director monitor 2>&1"); code != 0 {
		t.Errorf("director monitor after the upgrade: %d %s", code, out)
	}
	// What %postun's try-restart does here.
	out, code := b.sh("systemctl try-restart lvsd.service 2>&1")
	t.Logf("systemctl try-restart lvsd.service (systemd not PID 1): exit %d: %s", code, strings.TrimSpace(out))
	if code != 0 {
		t.Errorf("systemctl try-restart without systemd as PID 1: exit %d %s", code, out)
	}
	if out, code := b.sh(env + " /usr/lib/ocf/resource.d/lvs/director stop 2>&1"); code != 0 {
		t.Errorf("director stop: %d %s", code, out)
	}
	if tb := ipvs(t); strings.Contains(tb, "10.77.0.100") {
		t.Errorf("table after stop:\n%s", tb)
	}

	out = b.must("rpm -e ocf-lvs-ldirectord ocf-lvs 2>&1")
	saved := []string{"warning: /etc/lvsd/lvs.toml saved as /etc/lvsd/lvs.toml.rpmsave",
		"warning: /etc/logrotate.d/ocf-lvs saved as /etc/logrotate.d/ocf-lvs.rpmsave"}
	if bad := quiet(out, saved...); len(bad) > 0 {
		t.Errorf("rpm -e said:\n%s", strings.Join(bad, "\n"))
	}
	for _, s := range saved {
		if !strings.Contains(out, s) {
			t.Errorf("rpm -e did not say %q:\n%s", s, out)
		}
	}
	if got := b.read("/etc/lvsd/lvs.toml.rpmsave"); got != sample+mine {
		t.Errorf("lvs.toml.rpmsave:\n%s", got)
	}
	want := "[/etc/logrotate.d/ocf-lvs.rpmsave /etc/lvsd/lvs.toml.rpmnew /etc/lvsd/lvs.toml.rpmsave]"
	if l := fmt.Sprint(b.leftovers()); l != want {
		t.Errorf("left after rpm -e: %s, want %s", l, want)
	}
}

// TestVMPkgDebUpgrade: the older .debs installed over Debian's ldirectord
// (Conflicts + Replaces: dpkg removes it), then dpkg -i of the newer ones
// as an unattended upgrade does it (--force-confdef --force-confold):
//   - the admin's lvs.toml, changed by the admin and by the new sample, is
//     kept and the new one written as lvs.toml.dpkg-dist; the logrotate
//     file, changed by the admin only, is kept with no question;
//   - the binaries say the new version; postinst configure with the old
//     version restarts nothing (no systemd running) and says nothing;
//   - dpkg -P removes the conffiles, the .dpkg-dist and the unit's
//     records: nothing left.
func TestVMPkgDebUpgrade(t *testing.T) {
	b := newBox(t)
	from, to := versions(t)
	if out, code := b.sh("dpkg-query -W -f '${Status}' ldirectord"); code != 0 || out != "install ok installed" {
		t.Fatalf("Debian's ldirectord is not installed in the VM (scripts/deps.txt has it): %q", out)
	}
	out := b.must("dpkg -i " + pkgFiles(t, from, "deb") + " 2>&1")
	t.Logf("dpkg -i %s over Debian's ldirectord:\n%s", from, out)
	// dpkg removes it (its conffiles stay: "install ok config-files")
	if got, _ := b.sh("dpkg-query -W -f '${Status}' ldirectord"); strings.HasSuffix(got, " installed") {
		t.Errorf("ldirectord still installed (%q): Conflicts + Replaces should have removed it", got)
	}
	if got, err := os.Readlink(b.path("/usr/sbin/ldirectord")); err != nil || got != "lvsd" {
		t.Errorf("/usr/sbin/ldirectord: %q %v", got, err)
	}
	b.versionsAre(t, from)
	sample := b.read("/etc/lvsd/lvs.toml")
	const mine = "\n# changed by the admin\n"
	b.write("/etc/lvsd/lvs.toml", sample+mine)
	logrotate := b.read("/etc/logrotate.d/ocf-lvs")
	b.write("/etc/logrotate.d/ocf-lvs", logrotate+mine)

	out = b.must("dpkg --force-confdef --force-confold -i " + pkgFiles(t, to, "deb") + " 2>&1")
	conffile := []string{"Configuration file '/etc/lvsd/lvs.toml'", "==> Modified (by you or by a script) since installation.",
		"==> Package distributor has shipped an updated version.", "==> Keeping old config file as default."}
	if bad := quiet(out, conffile...); len(bad) > 0 {
		t.Errorf("dpkg -i (upgrade) said:\n%s", strings.Join(bad, "\n"))
	}
	if !strings.Contains(out, conffile[0]) {
		t.Errorf("dpkg -i (upgrade) did not name the changed conffile:\n%s", out)
	}
	b.versionsAre(t, to)
	if got := b.read("/etc/lvsd/lvs.toml"); got != sample+mine {
		t.Errorf("the admin's lvs.toml not kept:\n%s", got)
	}
	if got := b.read("/etc/lvsd/lvs.toml.dpkg-dist"); !strings.Contains(got, "(the sample as changed in "+to+")") {
		t.Errorf("lvs.toml.dpkg-dist is not the new sample:\n%s", got)
	}
	if got := b.read("/etc/logrotate.d/ocf-lvs"); got != logrotate+mine {
		t.Errorf("the admin's logrotate file not kept:\n%s", got)
	}
	for _, p := range []string{"/etc/logrotate.d/ocf-lvs.dpkg-dist", "/etc/logrotate.d/ocf-lvs.dpkg-new", "/etc/logrotate.d/ocf-lvs.dpkg-old"} {
		if b.exists(p) {
			t.Errorf("%s: the packaged file did not change", p)
		}
	}

	out = b.must("dpkg -P ocf-lvs-ldirectord ocf-lvs 2>&1")
	if bad := quiet(out); len(bad) > 0 {
		t.Errorf("dpkg -P said:\n%s", strings.Join(bad, "\n"))
	}
	b.noneOfOurs("after dpkg -P")
	// ldirectord's own remains (its conffiles, its masked unit) go with it.
	b.must("dpkg -P ldirectord 2>&1")
	if l := b.leftovers(); len(l) > 0 {
		t.Errorf("left after dpkg -P: %v", l)
	}
}
