package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Passwords and secrets of the configuration appear in no output of a
// running director: its log (stdout and stderr of a run), the status over
// the socket (JSON and table), lvsd ctl's answers and the metrics. Checks
// that use them fail against closed ports, so that their reasons are
// logged and shown too.
func TestSecretsStayOut(t *testing.T) {
	secrets := []string{"Pw-mysql-S3cr3t", "Pw-ftp-S3cr3t", "Radius-S3cr3t", "Pw-pgsql-S3cr3t"}
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	cf := fmt.Sprintf(`checkinterval=1
checktimeout=1
virtual=192.0.2.1:3306
	service=mysql
	checktype=negotiate
	login=lvs
	passwd=%s
	database=lvs
	request="SELECT 1"
	real=%s masq
virtual=192.0.2.1:21
	service=ftp
	checktype=negotiate
	login=lvs
	passwd=%s
	real=%s masq
virtual=192.0.2.1:1812
	protocol=udp
	service=radius
	checktype=negotiate
	login=lvs
	passwd=%s
	secret=%s
	real=127.0.0.1:1812 masq
virtual=192.0.2.1:5432
	service=pgsql
	checktype=negotiate
	login=lvs
	passwd=%s
	database=lvs
	real=%s masq
`, secrets[0], closed(), secrets[1], closed(), secrets[0], secrets[2], secrets[3], closed())
	dir := t.TempDir()
	p := filepath.Join(dir, "s.cf")
	os.WriteFile(p, []byte(cf), 0o644)
	maddr, sock := freePort(t), filepath.Join(dir, "s.sock")
	cmd := exec.Command(os.Args[0], "run", "--dry-run", "--metrics", maddr, "--socket", sock, p)
	cmd.Env = append(os.Environ(), "LVSD_TEST_MAIN=1")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	var st statusJSON
	var status string
	deadline := time.Now().Add(30 * time.Second)
	for {
		status, _ = ask(sock, "status")
		if strings.Count(status, `"health": "down"`) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the checks never failed: %s\n%s", status, out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
	var table bytes.Buffer
	if err := jsonUnmarshal(status, &st); err == nil {
		writeStatusTable(&table, st)
		writeStatsTable(&table, st)
	}
	var ctlOut, ctlErr strings.Builder
	ctlRun([]string{"--socket", sock, "drain", "10.9.9.9"}, &ctlOut, &ctlErr) // refused: lists the reals
	metricsBody, _ := scrape(maddr)
	time.Sleep(time.Second)
	outputs := map[string]string{"log": out.String(), "status JSON": status, "status table": table.String(),
		"lvsd ctl": ctlOut.String() + ctlErr.String(), "metrics": metricsBody}
	for what, o := range outputs {
		if o == "" {
			t.Errorf("%s is empty: the test would prove nothing", what)
		}
		for _, s := range secrets {
			if strings.Contains(o, s) {
				t.Errorf("%s shows the secret %q:\n%s", what, s, o)
			}
		}
	}
}

func jsonUnmarshal(s string, v any) error { return json.Unmarshal([]byte(s), v) }
