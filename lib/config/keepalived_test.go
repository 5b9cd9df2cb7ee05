package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestKeepalivedIncludes(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("keepalived.conf", "global_defs {\n}\ninclude vs/*.conf\ninclude none/*.conf\n")
	write("vs/b.conf", "virtual_server 192.0.2.1 80 {\n  protocol TCP\n  real_server 192.0.2.3 80 {\n    weight 2\n  }\n}\n")
	write("vs/a.conf", "virtual_server 192.0.2.1 443 {\n  protocol TCP\n  real_server 192.0.2.2 443 {\n    TCP_CHECK {\n    }\n  }\n}\n")
	c, err := Load(filepath.Join(dir, "keepalived.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Virtuals) != 2 || c.Virtuals[0].Port != 443 || c.Virtuals[1].Port != 80 {
		t.Fatalf("includes not expanded in sorted order: %+v", c.Virtuals)
	}
	var msgs []string
	for _, w := range c.Warnings {
		msgs = append(msgs, w.String())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"keepalived.conf:4: include " + dir + "/none/*.conf: no file matches",
		"vs/b.conf:3: real_server 192.0.2.3:80 has no checker"} {
		if !strings.Contains(all, want) {
			t.Errorf("warnings lack %q:\n%s", want, all)
		}
	}

	// an include loop is reported, not followed forever
	write("loop.conf", "include loop.conf\n")
	_, err = Load(filepath.Join(dir, "loop.conf"))
	var errs Errors
	if !errors.As(err, &errs) || !strings.Contains(errs.Error(), "include nested too deep") {
		t.Fatalf("loop: %v", err)
	}
}

func TestKeepalivedConditionalsAndVariables(t *testing.T) {
	src := `$VIP=192.0.2.10
$IFACE=eth0
vrrp_instance VI_1 {
    interface ${IFACE}
    virtual_router_id 51
    @lvs-a priority 150
    @^lvs-a priority 100
    @lvs-a state MASTER
    virtual_ipaddress {
        $VIP/24 dev $IFACE
    }
    notify "/bin/echo $HOME"
}
`
	for id, want := range map[string]int{"lvs-a": 150, "lvs-b": 100} {
		c, err := ParseWith("keepalived.conf", []byte(src), Options{Resolver: fakeResolver, ConfigID: id})
		if err != nil {
			t.Fatal(err)
		}
		in := c.VRRP[0]
		if in.Priority != want || in.Interface != "eth0" || in.VirtualIPs[0].String() != "192.0.2.10/24" || in.VirtualIPDevs["192.0.2.10/24"] != "eth0" {
			t.Errorf("%s: %+v", id, in)
		}
		if (in.State == "MASTER") != (id == "lvs-a") {
			t.Errorf("%s: state %s", id, in.State)
		}
		if in.Notify != "/bin/echo $HOME" {
			t.Errorf("undefined variables are left alone: %q", in.Notify)
		}
	}
}

// Reals without a checker are one warning for the whole file, naming the
// first (a generated file has thousands of them).
func TestKeepalivedNoCheckerWarnedOnce(t *testing.T) {
	var b strings.Builder
	for v := 1; v <= 2; v++ {
		fmt.Fprintf(&b, "virtual_server 192.0.2.%d 80 {\n  protocol TCP\n", v)
		for r := 1; r <= 3; r++ {
			fmt.Fprintf(&b, "  real_server 198.51.100.%d 80 {\n    weight 1\n  }\n", r)
		}
		b.WriteString("}\n")
	}
	c, err := ParseWith("k.conf", []byte(b.String()), Options{ConfigID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range c.Warnings {
		if strings.Contains(w.Msg, "no checker") {
			got = append(got, w.String())
		}
	}
	want := "k.conf:3: real_server 198.51.100.1:80 and 5 more real_servers (in 2 virtual_servers, the last at line 21) have no checker: always up (checktype on)"
	if len(got) != 1 || got[0] != want {
		t.Fatalf("got %q, want [%q]", got, want)
	}
}

// What keepalived does with the files of testdata/config/warnings: a
// virtual_server without a port becomes persistent (360 s), one without
// real_server is not created.
func TestKeepalivedZeroPortAndEmpty(t *testing.T) {
	c := loadTest(t, filepath.Join(testdata, "warnings", "ka-zero-port.conf"))
	if len(c.Virtuals) != 2 || c.Virtuals[0].Port != 0 || c.Virtuals[0].Persistent != 360*time.Second ||
		c.Virtuals[1].Persistent != 60*time.Second {
		t.Fatalf("zero port: %+v", c.Virtuals)
	}
	c = loadTest(t, filepath.Join(testdata, "warnings", "ka-empty-virtual.conf"))
	if len(c.Virtuals) != 1 || c.Virtuals[0].Addr.String() != "192.168.1.3" {
		t.Fatalf("empty virtual_servers are not created: %+v", c.Virtuals)
	}
}

// Receive patterns are compiled once per file: reals with the same
// pattern share it, and a reload compiles again (no state kept).
func TestReceiveCompiledOnce(t *testing.T) {
	c, err := parseLD(t, "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate 1 \"/a\", \"ok$\"\n\treal=10.0.0.3:80 gate 1 \"/b\", \"ok$\"\n\treceive=\"ok$\"\n")
	if err != nil {
		t.Fatal(err)
	}
	v := c.Virtuals[0]
	re := v.Check.ReceiveRE
	if re == nil || re.String() != "ok$" || v.Reals[0].ReceiveRE != re || v.Reals[1].ReceiveRE != re {
		t.Fatalf("patterns: %v %v %v", re, v.Reals[0].ReceiveRE, v.Reals[1].ReceiveRE)
	}
	c2, _ := parseLD(t, "virtual=10.0.0.1:80\n\treal=10.0.0.2:80 gate\n")
	if c2.Virtuals[0].Check.ReceiveRE != nil {
		t.Fatal("no receive: no pattern")
	}
}

// alpha, warmup and notify_up/down reach the model, at each level keepalived
// takes them (virtual_server, real_server, checker; the nearest wins).
func TestKeepalivedAlphaWarmupNotify(t *testing.T) {
	src := `virtual_server 192.0.2.1 80 {
  protocol TCP
  warmup 5
  real_server 192.0.2.2 80 {
    notify_up "/bin/echo up" root
    notify_down /bin/down.sh
    TCP_CHECK {
    }
  }
  real_server 192.0.2.3 80 {
    alpha
    TCP_CHECK {
      warmup 0
    }
  }
  real_server 192.0.2.4 80 {
    alpha
    TCP_CHECK {
      alpha off
    }
  }
}
`
	c, err := Parse("keepalived.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	r := c.Virtuals[0].Reals
	if r[0].NotifyUp != "/bin/echo up" || r[0].NotifyDown != "/bin/down.sh" {
		t.Errorf("notify: %q %q", r[0].NotifyUp, r[0].NotifyDown)
	}
	for i, want := range []struct {
		startUp bool
		warmup  time.Duration
	}{{true, 5 * time.Second}, {false, NoWarmup}, {true, 5 * time.Second}} {
		got := r[i].Check
		if got == nil {
			got = &c.Virtuals[0].Check // the real's check is the virtual's
		}
		if got.StartUp != want.startUp || got.Warmup != want.warmup {
			t.Errorf("real %d: StartUp %v Warmup %v, want %v %v", i, got.StartUp, got.Warmup, want.startUp, want.warmup)
		}
	}
	if !strings.Contains(fmt.Sprint(c.Warnings), "username/groupname") {
		t.Errorf("notify_up's user is not reported: %v", c.Warnings)
	}
}

// keepalived's smtp_alert as check_data.c resolves it: a virtual's
// quorum mails and each real's check mails by their own smtp_alert, else
// global_defs' smtp_alert_checker, else smtp_alert, else off for a
// virtual and on for a real; no mail at all without smtp_server.
func TestKeepalivedSMTPAlert(t *testing.T) {
	vs := func(port int, extra, rextra string) string {
		return fmt.Sprintf("virtual_server 192.0.2.1 %d {\n  protocol TCP\n  %s\n  real_server 192.0.2.2 %d {\n    %s\n    TCP_CHECK {\n    }\n  }\n}\n", port, extra, port, rextra)
	}
	for _, tc := range []struct {
		global      string
		quorum, rs  []bool // per virtual: 80 (smtp_alert), 81 (nothing), 82 (smtp_alert off), 83 (its real's smtp_alert off)
		mailStyleKA []bool
	}{
		{"", []bool{true, false, false, false}, []bool{true, true, true, false}, []bool{true, true, true, false}},
		{"smtp_alert", []bool{true, true, false, true}, []bool{true, true, true, false}, []bool{true, true, true, true}},
		{"smtp_alert\n  smtp_alert_checker off", []bool{true, false, false, false}, []bool{false, false, false, false}, []bool{true, false, false, false}},
	} {
		src := "global_defs {\n  router_id lb-1\n  notification_email {\n    ops@example.com\n  }\n  smtp_server 192.0.2.25\n  " + tc.global + "\n}\n" +
			vs(80, "smtp_alert", "") + vs(81, "", "") + vs(82, "smtp_alert off", "") + vs(83, "", "smtp_alert off")
		c, err := Parse("keepalived.conf", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		if c.Global.RouterID != "lb-1" {
			t.Errorf("router_id %q", c.Global.RouterID)
		}
		for i, v := range c.Virtuals {
			mails := v.EmailAlert == "ops@example.com" && v.SMTP == "192.0.2.25" && v.MailStyle == "keepalived"
			if v.QuorumAlert != tc.quorum[i] || !v.Reals[0].NoAlert != tc.rs[i] || mails != tc.mailStyleKA[i] {
				t.Errorf("global %q: virtual %d: quorum mails %v, real mails %v, mailing %v (%q %q %q); want %v %v %v", tc.global, v.Port,
					v.QuorumAlert, !v.Reals[0].NoAlert, mails, v.EmailAlert, v.SMTP, v.MailStyle, tc.quorum[i], tc.rs[i], tc.mailStyleKA[i])
			}
		}
	}
	c, err := Parse("keepalived.conf", []byte("global_defs {\n  notification_email {\n    ops@example.com\n  }\n}\n"+vs(80, "smtp_alert", "")))
	if err != nil {
		t.Fatal(err)
	}
	if v := c.Virtuals[0]; v.EmailAlert != "" {
		t.Errorf("no smtp_server, yet mails to %q", v.EmailAlert)
	}
	// smtp_server IP PORT: the port is used (host:port, as the mailer takes it)
	for src, want := range map[string]string{"192.0.2.25 2525": "192.0.2.25:2525", "2001:db8::25 587": "[2001:db8::25]:587", "2001:db8::25": "2001:db8::25"} {
		c, err := Parse("keepalived.conf", []byte("global_defs {\n  notification_email {\n    ops@example.com\n  }\n  smtp_server "+src+"\n}\n"+vs(80, "smtp_alert", "")))
		if err != nil {
			t.Fatal(err)
		}
		if g := c.Global.SMTP; g != want || c.Virtuals[0].SMTP != want {
			t.Errorf("smtp_server %s: %q (virtual %q), want %q", src, g, c.Virtuals[0].SMTP, want)
		}
	}
	if _, err := Parse("keepalived.conf", []byte("global_defs {\n  smtp_server 192.0.2.25 smtp\n}\n"+vs(80, "", ""))); err == nil || !strings.Contains(err.Error(), "keepalived.conf:2") {
		t.Errorf("a bad port: %v", err)
	}
}

// keepalived's mail settings survive migrate: router_id, mail_style,
// the virtual's smtp_alert (quorum mails) and a real's smtp_alert off.
func TestKeepalivedMailToTOML(t *testing.T) {
	src := "global_defs {\n  router_id lb-1\n  notification_email {\n    ops@example.com\n  }\n  smtp_server 192.0.2.25\n}\n" +
		"virtual_server 192.0.2.1 80 {\n  protocol TCP\n  smtp_alert\n  real_server 192.0.2.2 80 {\n    smtp_alert off\n    TCP_CHECK {\n    }\n  }\n  real_server 192.0.2.3 80 {\n    TCP_CHECK {\n    }\n  }\n}\n"
	_, c2, b := migrated(t, src)
	v := c2.Virtuals[0]
	if c2.Global.RouterID != "lb-1" || v.MailStyle != "keepalived" || !v.QuorumAlert || !v.Reals[0].NoAlert || v.Reals[1].NoAlert || v.EmailAlert != "ops@example.com" {
		t.Errorf("after migrate: router_id %q, %+v, reals %v %v\n%s", c2.Global.RouterID, v, v.Reals[0].NoAlert, v.Reals[1].NoAlert, b.String())
	}
	if _, err := Parse("bad.toml", []byte("[[virtual]]\naddress = \"192.0.2.1:80\"\nmail_style = \"sendmail\"\n[[virtual.real]]\naddress = \"10.0.0.1:80\"\n")); err == nil || !strings.Contains(err.Error(), "mail_style") {
		t.Errorf("bad mail_style: %v", err)
	}
}

// A vrrp_instance mails its transitions by its own smtp_alert, else
// global_defs' smtp_alert_vrrp, else smtp_alert, else not (keepalived's
// vrrp_parser.c); TOML and migrate carry the result.
func TestKeepalivedVRRPSMTPAlert(t *testing.T) {
	inst := func(name string, vrid int, extra string) string {
		return fmt.Sprintf("vrrp_instance %s {\n  interface eth0\n  virtual_router_id %d\n  %s\n  virtual_ipaddress {\n    192.0.2.%d\n  }\n}\n", name, vrid, extra, vrid)
	}
	group := func(name, member, extra string) string {
		return fmt.Sprintf("vrrp_sync_group %s {\n  group {\n    %s\n  }\n  %s\n}\n", name, member, extra)
	}
	for _, tc := range []struct {
		global string
		want   []bool // VI_ON (smtp_alert), VI_NONE, VI_OFF (smtp_alert off); the same for the groups G_ON, G_NONE, G_OFF
	}{
		{"", []bool{true, false, false}},
		{"smtp_alert", []bool{true, true, false}},
		{"smtp_alert\n  smtp_alert_vrrp off", []bool{true, false, false}},
		{"smtp_alert off\n  smtp_alert_vrrp", []bool{true, true, false}},
		{"smtp_alert_checker", []bool{true, false, false}},
	} {
		src := "global_defs {\n  notification_email {\n    ops@example.com\n  }\n  smtp_server 192.0.2.25\n  " + tc.global + "\n}\n" +
			inst("VI_ON", 1, "smtp_alert") + inst("VI_NONE", 2, "") + inst("VI_OFF", 3, "smtp_alert off") +
			group("G_ON", "VI_ON", "smtp_alert") + group("G_NONE", "VI_NONE", "") + group("G_OFF", "VI_OFF", "smtp_alert off")
		c, err := Parse("keepalived.conf", []byte(src))
		if err != nil {
			t.Fatal(err)
		}
		for i, in := range c.VRRP {
			if in.SMTPAlert != tc.want[i] {
				t.Errorf("global %q: %s smtp_alert %v, want %v", tc.global, in.Name, in.SMTPAlert, tc.want[i])
			}
		}
		for i, g := range c.SyncGroups {
			if g.SMTPAlert != tc.want[i] {
				t.Errorf("global %q: %s smtp_alert %v, want %v", tc.global, g.Name, g.SMTPAlert, tc.want[i])
			}
		}
		var b bytes.Buffer
		if err := WriteTOML(&b, c); err != nil {
			t.Fatal(err)
		}
		back, err := Parse("lvs.toml", b.Bytes())
		if err != nil {
			t.Fatalf("migrated TOML: %v\n%s", err, b.String())
		}
		for i, in := range back.VRRP {
			if in.SMTPAlert != tc.want[i] {
				t.Errorf("global %q, through TOML: %s smtp_alert %v, want %v", tc.global, in.Name, in.SMTPAlert, tc.want[i])
			}
		}
		for i, g := range back.SyncGroups {
			if g.SMTPAlert != tc.want[i] {
				t.Errorf("global %q, through TOML: %s smtp_alert %v, want %v", tc.global, g.Name, g.SMTPAlert, tc.want[i])
			}
		}
	}
}

// smtp_helo_name and smtp_connect_timeout reach the mailer, and TOML.
func TestKeepalivedSMTPHelo(t *testing.T) {
	src := "global_defs {\n  notification_email {\n    ops@example.com\n  }\n  smtp_server 192.0.2.25\n  smtp_helo_name lb-1.example.com\n  smtp_connect_timeout 7\n}\n"
	c, back, _ := migrated(t, src)
	for _, g := range []Global{c.Global, back.Global} {
		if g.SMTPHelo != "lb-1.example.com" || g.SMTPConnectTimeout != 7*time.Second {
			t.Errorf("smtp_helo_name %q, smtp_connect_timeout %v", g.SMTPHelo, g.SMTPConnectTimeout)
		}
	}
	if _, err := Parse("keepalived.conf", []byte("global_defs {\n  smtp_connect_timeout 0\n}\n")); err == nil {
		t.Error("smtp_connect_timeout 0 accepted")
	}
}

// vrrp_rt_priority: N read, unset 0 (lvsd's default), 0 off
// (VRRPRTOff), each the same through TOML (migrate writes 0 for off);
// 100 refused.
func TestKeepalivedVRRPRTPriority(t *testing.T) {
	for _, tc := range []struct {
		global string
		want   int
	}{
		{"global_defs {\n  vrrp_rt_priority 20\n}\n", 20},
		{"", 0},
		{"global_defs {\n  vrrp_rt_priority 0\n}\n", VRRPRTOff},
	} {
		c, back, b := migrated(t, tc.global+"vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  virtual_ipaddress {\n    192.0.2.100/24\n  }\n}\n")
		if c.Global.VRRPRTPriority != tc.want || back.Global.VRRPRTPriority != tc.want {
			t.Errorf("%q: vrrp_rt_priority %d, through TOML %d; want %d\n%s", tc.global, c.Global.VRRPRTPriority, back.Global.VRRPRTPriority, tc.want, b.String())
		}
	}
	if _, err := Parse("keepalived.conf", []byte("global_defs {\n  vrrp_rt_priority 100\n}\n")); err == nil {
		t.Error("vrrp_rt_priority 100 accepted")
	}
}

// migrated parses a keepalived.conf text and the TOML migrate writes of
// it (b, for the messages).
func migrated(t *testing.T, src string) (c, back *Config, b *bytes.Buffer) {
	t.Helper()
	c, err := Parse("keepalived.conf", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	b = &bytes.Buffer{}
	if err := WriteTOML(b, c); err != nil {
		t.Fatal(err)
	}
	back, err = Parse("m.toml", b.Bytes())
	if err != nil {
		t.Fatalf("%v\n%s", err, b.String())
	}
	return c, back, b
}

// Shell syntax outside quotes, which keepalived 2 passes as arguments.
func TestKaShellSyntax(t *testing.T) {
	for line, want := range map[string]string{
		"/usr/local/bin/check.sh":                               "",
		"/usr/bin/killall -0 haproxy":                           "",
		"/bin/sh -c '! test -e /etc/maint && exit 1 || exit 0'": "",
		`/bin/sh -c "test -e /x; exit $?"`:                      "",
		"/bin/bash -c '[[ -e /etc/x ]]' && exit 1 || exit 0":    "&&",
		"pidof haproxy || exit 1":                               "||",
		"curl -s http://localhost/ | grep ok":                   "|",
		"check.sh >/dev/null 2>&1":                              ">",
		"test -e $FILE":                                         "$F",
		"echo `date`":                                           "`",
		`echo a\&b`:                                             "",
	} {
		if got := kaShellSyntax(line); got != want {
			t.Errorf("%s: %q, want %q", line, got, want)
		}
	}
}
