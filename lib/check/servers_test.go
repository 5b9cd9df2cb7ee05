package check

// Real server software from Debian, started by the tests without systemd on
// loopback with private config and data directories, killed by PID. Each
// service: a passing check, a failing one (wrong receive/password, server
// killed) and a hanging one (server stopped with SIGSTOP: the kernel still
// accepts connections, nobody answers) that must be down within its timeout.

import (
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/internal/testenv"
)

type daemon struct {
	t   *testing.T
	cmd *exec.Cmd
	log string
	// pidFile of a server that makes its own session (postfix's master):
	// its process group is signalled too.
	pidFile string
}

// groups are the process groups to signal: the one we started, and the
// group of the pid file's process when the server detaches into its own.
func (d *daemon) groups() []int {
	g := []int{d.cmd.Process.Pid}
	if d.pidFile != "" {
		if b, err := os.ReadFile(d.pidFile); err == nil {
			if p, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && p > 1 {
				g = append(g, p)
			}
		}
	}
	return g
}

// start runs a server in its own process group; Cleanup kills it by PID.
func start(t *testing.T, dir string, env []string, name string, args ...string) *daemon {
	t.Helper()
	return startAs(t, nil, dir, env, name, args...)
}

// startAs runs the server as another user (postgres refuses root).
func startAs(t *testing.T, cred *syscall.Credential, dir string, env []string, name string, args ...string) *daemon {
	t.Helper()
	logf := filepath.Join(dir, filepath.Base(name)+".log")
	f, err := os.Create(logf)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	f.Close()
	d := &daemon{t: t, cmd: cmd, log: logf}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		for _, g := range d.groups() {
			syscall.Kill(-g, syscall.SIGCONT)
			syscall.Kill(-g, syscall.SIGKILL)
		}
		<-exited
		if t.Failed() {
			b, _ := os.ReadFile(logf)
			t.Logf("%s log:\n%s", name, tailN(string(b), 1500))
		}
	})
	return d
}

// openDir is a private temp dir that the servers' unprivileged workers
// (www-data, dovecot, postgres...) can traverse.
func openDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", fmt.Sprintf("ocf-lvs-check-%d-", os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func tailN(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

func (d *daemon) signal(sig syscall.Signal) {
	for _, g := range d.groups() {
		syscall.Kill(-g, sig)
	}
}

// freePort picks a port below the ephemeral range (so that no client
// socket of a parallel test takes it before the server binds) that is free
// for both TCP and UDP.
// handedOut are the ports freePort has returned: a port is free until its
// server binds it, so two picks in a row could otherwise be the same one
// (dovecot refused such a config: "duplicate listener", seen in CI).
var handedOut = struct {
	sync.Mutex
	m map[int]bool
}{m: map[int]bool{}}

func freePort(t *testing.T) uint16 {
	t.Helper()
	handedOut.Lock()
	defer handedOut.Unlock()
	for i := 0; i < 1000; i++ {
		p := 20000 + mrand.IntN(12000)
		if handedOut.m[p] {
			continue
		}
		ln, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p))
		if err != nil {
			continue
		}
		pc, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(p))
		ln.Close()
		if err != nil {
			continue
		}
		pc.Close()
		handedOut.m[p] = true
		return uint16(p)
	}
	t.Fatal("no free port")
	return 0
}

// waitUp polls the check until it passes (servers start at their own pace).
func waitUp(t *testing.T, s Spec, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	var r Result
	for time.Now().Before(deadline) {
		r = Run(context.Background(), &s)
		if r.OK {
			t.Logf("%s up: %s (%v)", s.Service, r.Reason, r.Latency.Round(time.Microsecond))
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s never came up: %s", s.Service, r.Reason)
}

func run1(cmd string, args ...string) error {
	out, err := exec.Command(cmd, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", cmd, strings.Join(args, " "), err, out)
	}
	return nil
}

// selfSigned makes a throwaway key and certificate for TLS servers.
func selfSigned(t *testing.T, dir string) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := run1(testenv.Command(t, "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
		"-subj", "/CN=localhost", "-days", "2", "-keyout", key, "-out", cert); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644) // read by the servers' unprivileged workers
	return cert, key
}

// hangAndKill: SIGSTOP the server (accepts, never answers) -> down within
// the timeout; SIGCONT -> up; SIGKILL -> down.
func hangAndKill(t *testing.T, d *daemon, s Spec) {
	t.Helper()
	d.signal(syscall.SIGSTOP)
	s2 := s
	s2.NegotiateTimeout, s2.CheckTimeout = 500*time.Millisecond, 500*time.Millisecond
	t0 := time.Now()
	r := Run(context.Background(), &s2)
	el := time.Since(t0)
	if r.OK {
		t.Fatalf("%s: up while the server is stopped: %s", s.Service, r.Reason)
	}
	if el > 1200*time.Millisecond { // the timeout plus scheduling slack on a loaded machine
		t.Fatalf("%s: stopped server took %v to be down (timeout 500ms)", s.Service, el)
	}
	t.Logf("%s hanging: down in %v: %s", s.Service, el.Round(time.Millisecond), r.Reason)
	d.signal(syscall.SIGCONT)
	waitUp(t, s, 20*time.Second)
	d.signal(syscall.SIGKILL)
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := Run(context.Background(), &s)
		if !r.OK {
			t.Logf("%s killed: down: %s", s.Service, r.Reason)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still up after the server was killed", s.Service)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func realSpec(service string, port uint16) Spec {
	return Spec{Type: "negotiate", Service: service, Protocol: "tcp", Addr: mustAddr("127.0.0.1"),
		Port: port, CheckTimeout: 5 * time.Second, NegotiateTimeout: 5 * time.Second}
}

// srv is a started server and the checks that pass against it.
type srv struct {
	d     *daemon
	specs map[string]Spec
}

func startNginx(t *testing.T) *srv {
	testenv.Root(t)
	nginx := testenv.Command(t, "nginx")
	dir := openDir(t)
	cert, key := selfSigned(t, dir)
	os.MkdirAll(dir+"/www", 0o755)
	os.WriteFile(dir+"/www/check.html", []byte("<h1>real server alive</h1>\n"), 0o644)
	ph, ps, pp := freePort(t), freePort(t), freePort(t)
	conf := fmt.Sprintf(`daemon off; master_process on; worker_processes 1;
pid %[1]s/nginx.pid; error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off; client_body_temp_path %[1]s/tmp; proxy_temp_path %[1]s/tmp;
  fastcgi_temp_path %[1]s/tmp; uwsgi_temp_path %[1]s/tmp; scgi_temp_path %[1]s/tmp;
  server { listen 127.0.0.1:%[2]d; root %[1]s/www; location = /moved { return 302 /check.html; } }
  server { listen 127.0.0.1:%[3]d ssl; ssl_certificate %[5]s; ssl_certificate_key %[6]s; root %[1]s/www; }
  server { listen 127.0.0.1:%[4]d; location / { proxy_pass http://127.0.0.1:%[2]d; } }
}
`, dir, ph, ps, pp, cert, key)
	os.WriteFile(dir+"/nginx.conf", []byte(conf), 0o644)
	d := start(t, dir, nil, nginx, "-e", dir+"/error.log", "-c", dir+"/nginx.conf")

	h := realSpec("http", ph)
	h.Request, h.Receive = "/check.html", "alive"
	waitUp(t, h, 20*time.Second)
	s := realSpec("https", ps)
	s.Request, s.Receive = "/check.html", "alive"
	p := realSpec("http_proxy", pp)
	p.Request, p.Receive = "http://origin.example/check.html", "alive"
	return &srv{d, map[string]Spec{"http": h, "https": s, "http_proxy": p}}
}

func TestRealNginx(t *testing.T) {
	x := startNginx(t)
	d, h, s, p := x.d, x.specs["http"], x.specs["https"], x.specs["http_proxy"]
	h.Request = "/moved"
	mustUp(t, h)
	bad := h
	bad.Receive = "dead"
	mustDown(t, bad, "receive")
	bad = h
	bad.Request = "/nothere"
	mustDown(t, bad, "404")

	mustUp(t, s)
	s.VerifyTLS = true // self-signed: refused when verification is asked for
	mustDown(t, s, "certificate")

	mustUp(t, p)
	p.Receive = "dead"
	mustDown(t, p, "receive")

	hangAndKill(t, d, h)
}

func startUnbound(t *testing.T) *srv {
	testenv.Root(t)
	unbound := testenv.Command(t, "unbound")
	dir := openDir(t)
	port := freePort(t)
	conf := fmt.Sprintf(`server:
  interface: 127.0.0.1@%d
  do-daemonize: no
  chroot: ""
  username: ""
  directory: "%[2]s"
  pidfile: "%[2]s/unbound.pid"
  use-syslog: no
  logfile: ""
  do-ip6: no
  auto-trust-anchor-file: ""
  trust-anchor-file: ""
  module-config: "iterator"
  access-control: 127.0.0.0/8 allow
  local-zone: "lvs.test." static
  local-data: "www.lvs.test. 60 IN A 192.0.2.80"
  local-data: "lvs.test. 60 IN SOA ns.lvs.test. root.lvs.test. 1 3600 600 86400 60"
  local-data-ptr: "192.0.2.80 www.lvs.test."
remote-control:
  control-enable: no
`, port, dir)
	os.WriteFile(dir+"/unbound.conf", []byte(conf), 0o644)
	d := start(t, dir, nil, unbound, "-d", "-c", dir+"/unbound.conf")

	s := realSpec("dns", port)
	s.Protocol, s.Request, s.Receive = "udp", "www.lvs.test", `192\.0\.2\.80`
	waitUp(t, s, 20*time.Second)
	return &srv{d, map[string]Spec{"dns": s}}
}

func TestRealUnbound(t *testing.T) {
	x := startUnbound(t)
	d, s := x.d, x.specs["dns"]
	tc := s
	tc.Protocol = "tcp" // a tcp virtual queries over tcp
	mustUp(t, tc)
	ptr := s
	ptr.Request, ptr.Receive = "192.0.2.80", "www.lvs.test"
	mustUp(t, ptr)
	bad := s
	bad.Receive = "10.0.0.1"
	mustDown(t, bad, "no answer matches")
	bad = s
	bad.Request = "nosuch.lvs.test"
	mustDown(t, bad, "NXDOMAIN")
	ka := s // keepalived DNS_CHECK: type/name
	ka.DNSType, ka.DNSName, ka.Receive = "SOA", "lvs.test", ""
	mustUp(t, ka)
	ka.DNSType = "MX"
	mustDown(t, ka, "no MX record")

	hangAndKill(t, d, s)
}

func startSlapd(t *testing.T) *srv {
	testenv.Root(t)
	slapd := testenv.Command(t, "slapd")
	slapadd := testenv.Command(t, "slapadd")
	dir := openDir(t)
	cert, key := selfSigned(t, dir)
	os.MkdirAll(dir+"/db", 0o700)
	conf := fmt.Sprintf(`include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile %[1]s/slapd.pid
TLSCertificateFile %[2]s
TLSCertificateKeyFile %[3]s
database mdb
maxsize 10485760
suffix "dc=lvs,dc=test"
rootdn "cn=admin,dc=lvs,dc=test"
rootpw secret
directory %[1]s/db
`, dir, cert, key)
	os.WriteFile(dir+"/slapd.conf", []byte(conf), 0o644)
	ldif := "dn: dc=lvs,dc=test\nobjectClass: dcObject\nobjectClass: organization\ndc: lvs\no: lvs test\n\n" +
		"dn: ou=web,dc=lvs,dc=test\nobjectClass: organizationalUnit\nou: web\n"
	os.WriteFile(dir+"/base.ldif", []byte(ldif), 0o644)
	if err := run1(slapadd, "-f", dir+"/slapd.conf", "-l", dir+"/base.ldif"); err != nil {
		t.Fatal(err)
	}
	p, ps := freePort(t), freePort(t)
	d := start(t, dir, nil, slapd, "-f", dir+"/slapd.conf", "-d", "0",
		"-h", fmt.Sprintf("ldap://127.0.0.1:%d/ ldaps://127.0.0.1:%d/", p, ps))

	s := realSpec("ldap", p)
	s.Request, s.Receive = "/ou=web,dc=lvs,dc=test", "^ou=web"
	waitUp(t, s, 20*time.Second)
	tls := s
	tls.Service, tls.Port = "ldaps", ps
	return &srv{d, map[string]Spec{"ldap": s, "ldaps": tls}}
}

func TestRealSlapd(t *testing.T) {
	x := startSlapd(t)
	d, s := x.d, x.specs["ldap"]
	auth := s
	auth.Login, auth.Passwd = "cn=admin,dc=lvs,dc=test", "secret"
	mustUp(t, auth)
	auth.Passwd = "wrong"
	mustDown(t, auth, "Invalid Credentials")
	bad := s
	bad.Request = "/ou=nosuch,dc=lvs,dc=test"
	mustDown(t, bad, "No Such Object")
	bad = s
	bad.Receive = "^cn=other"
	mustDown(t, bad, "does not match")
	mustUp(t, x.specs["ldaps"])

	hangAndKill(t, d, s)
}

func startVsftpd(t *testing.T) *srv {
	testenv.Root(t)
	vsftpd := testenv.Command(t, "vsftpd")
	dir := openDir(t)
	os.MkdirAll(dir+"/ftp/pub", 0o755)
	os.MkdirAll(dir+"/empty", 0o755)
	os.WriteFile(dir+"/ftp/pub/check.txt", []byte("ftp real server alive\n"), 0o644)
	port := freePort(t)
	conf := fmt.Sprintf(`listen=YES
listen_ipv6=NO
listen_address=127.0.0.1
listen_port=%d
background=NO
anonymous_enable=YES
anon_root=%[2]s/ftp
no_anon_password=YES
local_enable=NO
write_enable=NO
secure_chroot_dir=%[2]s/empty
seccomp_sandbox=NO
xferlog_enable=NO
vsftpd_log_file=%[2]s/vsftpd.xfer
pasv_enable=YES
pasv_address=127.0.0.1
`, port, dir)
	os.WriteFile(dir+"/vsftpd.conf", []byte(conf), 0o600)
	d := start(t, dir, nil, vsftpd, dir+"/vsftpd.conf")

	s := realSpec("ftp", port)
	s.Request, s.Receive = "/pub/check.txt", "alive"
	waitUp(t, s, 20*time.Second)
	return &srv{d, map[string]Spec{"ftp": s}}
}

func TestRealVsftpd(t *testing.T) {
	x := startVsftpd(t)
	d, s := x.d, x.specs["ftp"]
	login := s // login only
	login.Request, login.Receive = "", ""
	mustUp(t, login)
	bad := s
	bad.Receive = "dead"
	mustDown(t, bad, "receive")
	bad = s
	bad.Request = "/pub/nosuch.txt"
	mustDown(t, bad, "550")
	bad = s
	bad.Login, bad.Passwd = "bob", "wrong"
	mustDown(t, bad, "530")

	hangAndKill(t, d, s)
}

func startDovecot(t *testing.T) *srv {
	testenv.Root(t)
	dovecot := testenv.Command(t, "dovecot")
	dir := openDir(t)
	cert, key := selfSigned(t, dir)
	os.MkdirAll(dir+"/home", 0o755)
	exec.Command("chown", "dovecot:dovecot", dir+"/home").Run()
	os.WriteFile(dir+"/users", []byte("bob:{PLAIN}secret\n"), 0o644)
	pi, pis, pp, pps := freePort(t), freePort(t), freePort(t), freePort(t)
	dh := ""
	if _, err := os.Stat("/usr/share/dovecot/dh.pem"); err == nil {
		dh = "ssl_dh = </usr/share/dovecot/dh.pem"
	}
	conf := fmt.Sprintf(`base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap pop3
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[2]s
ssl_key = <%[3]s
%[8]s
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%%u %[1]s/users
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=%[1]s/home/%%u
}
mail_location = maildir:~/Maildir
first_valid_uid = 1
service imap-login {
  inet_listener imap {
    port = %[4]d
  }
  inet_listener imaps {
    port = %[5]d
    ssl = yes
  }
}
service pop3-login {
  inet_listener pop3 {
    port = %[6]d
  }
  inet_listener pop3s {
    port = %[7]d
    ssl = yes
  }
}
`, dir, cert, key, pi, pis, pp, pps, dh)
	os.WriteFile(dir+"/dovecot.conf", []byte(conf), 0o644)
	d := start(t, dir, nil, dovecot, "-F", "-c", dir+"/dovecot.conf")

	imap := realSpec("imap", pi)
	imap.Login, imap.Passwd = "bob", "secret"
	waitUp(t, imap, 20*time.Second)
	specs := map[string]Spec{"imap": imap}
	for svc, port := range map[string]uint16{"imaps": pis, "pop": pp, "pops": pps} {
		s := realSpec(svc, port)
		s.Login, s.Passwd = "bob", "secret"
		waitUp(t, s, 10*time.Second)
		specs[svc] = s
	}
	return &srv{d, specs}
}

func TestRealDovecot(t *testing.T) {
	x := startDovecot(t)
	d, imap := x.d, x.specs["imap"]
	for _, svc := range []string{"imaps", "pop", "pops"} {
		s := x.specs[svc]
		s.Passwd = "wrong"
		mustDown(t, s, "login")
		s.Login = ""
		mustUp(t, s) // no login: greeting only, as ldirectord
	}
	bad := imap
	bad.Passwd = "wrong"
	mustDown(t, bad, "login")

	// stopping the master alone leaves its login processes answering:
	// stop the whole group (hangAndKill signals the process group).
	hangAndKill(t, d, imap)
}

func userCred(t *testing.T, name string) *syscall.Credential {
	t.Helper()
	out, err := exec.Command("id", "-u", name).Output()
	if err != nil {
		testenv.Skip(t, "no user %s", name)
	}
	uid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	out, _ = exec.Command("id", "-g", name).Output()
	gid, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
}

func startPostgres(t *testing.T) *srv {
	testenv.Root(t)
	bin := "/usr/lib/postgresql/15/bin"
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/postgres"); len(m) > 0 {
		bin = filepath.Dir(m[len(m)-1])
	} else {
		testenv.Skip(t, "no PostgreSQL server (package postgresql)")
	}
	cred := userCred(t, "postgres")
	dir := openDir(t)
	data := dir + "/data"
	os.MkdirAll(data, 0o700)
	os.MkdirAll(dir+"/sock", 0o755)
	os.WriteFile(dir+"/pw", []byte("pgsecret\n"), 0o644)
	for _, p := range []string{data, dir + "/sock"} {
		os.Chown(p, int(cred.Uid), int(cred.Gid))
	}
	initdb := exec.Command(bin+"/initdb", "-D", data, "-U", "postgres", "--auth=scram-sha-256", "--pwfile="+dir+"/pw")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := freePort(t)
	d := startAs(t, cred, dir, nil, bin+"/postgres", "-D", data, "-k", dir+"/sock",
		"-p", strconv.Itoa(int(port)), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")

	s := realSpec("pgsql", port)
	s.Login, s.Passwd, s.Database, s.Request = "postgres", "pgsecret", "postgres", "SELECT 1"
	waitUp(t, s, 30*time.Second)
	return &srv{d, map[string]Spec{"pgsql": s}}
}

func TestRealPostgres(t *testing.T) {
	x := startPostgres(t)
	d, s := x.d, x.specs["pgsql"]
	bad := s
	bad.Passwd = "wrong"
	mustDown(t, bad, "password authentication failed")
	bad = s
	bad.Request = "SELECT 1 WHERE false"
	mustDown(t, bad, "no rows")
	bad = s
	bad.Request = "SELECT * FROM nosuchtable"
	mustDown(t, bad, "does not exist")
	bad = s
	bad.Database = "nosuchdb"
	mustDown(t, bad, "nosuchdb")

	hangAndKill(t, d, s)
}

func startMariaDB(t *testing.T) *srv {
	testenv.Root(t)
	installDB := testenv.Command(t, "mariadb-install-db")
	mariadbd := testenv.Command(t, "mariadbd")
	client := testenv.Command(t, "mariadb")
	dir := openDir(t)
	if err := run1(installDB, "--no-defaults", "--datadir="+dir+"/db", "--user=root", "--skip-test-db", "--auth-root-authentication-method=socket"); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	sock := dir + "/mysqld.sock"
	d := start(t, dir, nil, mariadbd, "--no-defaults", "--datadir="+dir+"/db", "--socket="+sock,
		"--port="+strconv.Itoa(int(port)), "--bind-address=127.0.0.1", "--user=root",
		"--pid-file="+dir+"/mysqld.pid", "--skip-log-bin", "--innodb-buffer-pool-size=16M")
	deadline := time.Now().Add(60 * time.Second)
	setup := "CREATE DATABASE lvs; CREATE TABLE lvs.pool (host VARCHAR(40), enabled INT);" +
		"INSERT INTO lvs.pool VALUES ('web1', 1), ('web2', 0);" +
		"CREATE USER chk@'%' IDENTIFIED BY 'mysecret'; GRANT SELECT ON lvs.* TO chk@'%';"
	for {
		err := run1(client, "--no-defaults", "-S", sock, "-u", "root", "-e", setup)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("mariadb never answered: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	s := realSpec("mysql", port)
	s.Login, s.Passwd, s.Database = "chk", "mysecret", "lvs"
	s.Request = "SELECT * FROM pool WHERE host='web1' AND enabled=1"
	waitUp(t, s, 30*time.Second)
	return &srv{d, map[string]Spec{"mysql": s}}
}

func TestRealMariaDB(t *testing.T) {
	x := startMariaDB(t)
	d, s := x.d, x.specs["mysql"]
	bad := s
	bad.Request = "SELECT * FROM pool WHERE host='web2' AND enabled=1" // disabled in the table
	mustDown(t, bad, "no rows")
	bad = s
	bad.Passwd = "wrong"
	mustDown(t, bad, "Access denied")
	bad = s
	bad.Request = "SELECT * FROM nosuch"
	mustDown(t, bad, "doesn't exist")

	hangAndKill(t, d, s)
}

func startFreeRADIUS(t *testing.T) *srv {
	testenv.Root(t)
	radiusd := testenv.Command(t, "freeradius")
	src := "/etc/freeradius/3.0"
	if _, err := os.Stat(src + "/radiusd.conf"); err != nil {
		testenv.Skip(t, "no %s (package freeradius)", src)
	}
	dir := openDir(t)
	conf := dir + "/raddb"
	if err := run1("cp", "-a", src, conf); err != nil {
		t.Fatal(err)
	}
	// EAP needs certificates the package does not make; the check does not use it.
	os.Remove(conf + "/mods-enabled/eap")
	port := freePort(t)
	ents, _ := os.ReadDir(conf + "/sites-enabled")
	for _, e := range ents {
		os.Remove(conf + "/sites-enabled/" + e.Name())
	}
	site := "server default {\n listen {\n  type = auth\n  ipaddr = 127.0.0.1\n  port = " + strconv.Itoa(int(port)) + "\n }\n" +
		" authorize {\n  if (&User-Name == \"bob\") {\n   update control {\n    &Cleartext-Password := \"hello\"\n   }\n  }\n  pap\n }\n authenticate {\n  Auth-Type PAP {\n   pap\n  }\n }\n}\n"
	os.WriteFile(conf+"/sites-enabled/default", []byte(site), 0o640)
	os.WriteFile(conf+"/clients.conf", []byte("client lvs {\n ipaddr = 127.0.0.1\n secret = testing123\n}\n"), 0o640)
	os.MkdirAll(dir+"/run", 0o755)
	os.MkdirAll(dir+"/log", 0o755)
	exec.Command("chown", "-R", "freerad:freerad", conf, dir+"/run", dir+"/log").Run()
	b, _ := os.ReadFile(conf + "/radiusd.conf")
	rc := strings.Replace(string(b), "run_dir = ${localstatedir}/run/${name}", "run_dir = "+dir+"/run", 1)
	rc = strings.Replace(rc, "logdir = /var/log/freeradius", "logdir = "+dir+"/log", 1)
	os.WriteFile(conf+"/radiusd.conf", []byte(rc), 0o640)
	d := start(t, dir, nil, radiusd, "-f", "-l", "stdout", "-d", conf)

	s := realSpec("radius", port)
	s.Protocol, s.Login, s.Passwd, s.Secret = "udp", "bob", "hello", "testing123"
	waitUp(t, s, 30*time.Second)
	return &srv{d, map[string]Spec{"radius": s}}
}

func TestRealFreeRADIUS(t *testing.T) {
	x := startFreeRADIUS(t)
	d, s := x.d, x.specs["radius"]
	r := mustUp(t, s)
	if !strings.Contains(r.Reason, "Accept") {
		t.Fatalf("reason %q", r.Reason)
	}
	rej := s // a reject is an answer: up, as ldirectord
	rej.Passwd = "wrong"
	if r := mustUp(t, rej); !strings.Contains(r.Reason, "Reject") {
		t.Fatalf("reason %q", r.Reason)
	}
	bad := s // wrong secret: the reply does not verify (or none comes)
	bad.Secret, bad.NegotiateTimeout = "wrongsecret", time.Second
	mustDown(t, bad, "no answer")

	hangAndKill(t, d, s)
}

func startPostfix(t *testing.T) *srv {
	testenv.Root(t)
	postfix := testenv.Command(t, "postfix")
	dir := openDir(t)
	for _, d := range []string{"conf", "spool", "data"} {
		os.MkdirAll(dir+"/"+d, 0o755)
	}
	exec.Command("chown", "postfix", dir+"/data").Run()
	p, ps, pr := freePort(t), freePort(t), freePort(t)
	main := fmt.Sprintf(`compatibility_level = 3.6
queue_directory = %[1]s/spool
data_directory = %[1]s/data
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.lvs.test
mydestination =
maillog_file = /dev/stdout
`, dir)
	master := fmt.Sprintf(`127.0.0.1:%d inet n - n - - smtpd
127.0.0.1:%d inet n - n - - smtpd -o syslog_name=postfix/submission
127.0.0.1:%d inet n - n - - smtpd -o smtpd_delay_reject=no -o smtpd_client_restrictions=reject
postlog unix-dgram n - n - 1 postlogd
cleanup unix n - n - 0 cleanup
rewrite unix - - n - - trivial-rewrite
anvil unix - - n - 1 anvil
proxymap unix - - n - - proxymap
defer unix - - n - 0 bounce
bounce unix - - n - 0 bounce
trace unix - - n - 0 bounce
verify unix - - n - 1 verify
qmgr unix n - n 300 1 qmgr
scache unix - - n - 1 scache
`, p, ps, pr)
	os.WriteFile(dir+"/conf/main.cf", []byte(main), 0o644)
	os.WriteFile(dir+"/conf/master.cf", []byte(master), 0o644)
	d := start(t, dir, nil, postfix, "-c", dir+"/conf", "start-fg")
	d.pidFile = dir + "/spool/pid/master.pid" // master makes its own session

	s := realSpec("smtp", p)
	waitUp(t, s, 30*time.Second)
	return &srv{d, map[string]Spec{"smtp": s, "submission": realSpec("submission", ps), "smtp-refusing": realSpec("smtp", pr)}}
}

func TestRealPostfix(t *testing.T) {
	x := startPostfix(t)
	d, s := x.d, x.specs["smtp"]
	mustUp(t, x.specs["submission"])
	mustDown(t, x.specs["smtp-refusing"], "554") // a server that refuses us

	hangAndKill(t, d, s)
}
