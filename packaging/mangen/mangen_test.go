package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"strings"
	"testing"

	vip "github.com/ocf-lvs/ocf-lvs/agents/VIP"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

// groffWarnings renders a page as man does and returns what groff warned.
func groffWarnings(t *testing.T, page string) string {
	if _, err := exec.LookPath("groff"); err != nil {
		t.Log("groff not installed: page not rendered")
		return ""
	}
	cmd := exec.Command("groff", "-ww", "-man", "-Tutf8", "-z")
	cmd.Stdin = strings.NewReader(page)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func TestAgentPage(t *testing.T) {
	var md bytes.Buffer
	if err := ocf.WriteMetadata(&md, vip.Agent); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Agent(&out, md.Bytes(), "1.2.3", "2026-12-02"); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, want := range []string{
		`.TH ocf_lvs_VIP 7 "2026-12-02" "ocf-lvs 1.2.3"`,
		`ocf_lvs_VIP \- Manages a virtual IPv4 or IPv6 address`,
		".SH SUPPORTED PARAMETERS", ".SH SUPPORTED ACTIONS", `.SH "EXAMPLE CRM SHELL"`, `.SH "EXAMPLE PCS"`,
		"primitive p_VIP ocf:lvs:VIP \\e\n  params \\e\n    ip=string \\e\n",
		"pcs resource create p_VIP ocf:lvs:VIP ip=string op monitor",
		"(string, required, unique, no default)",
		"(boolean, optional, default false)",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q", want)
		}
	}
	for _, p := range vip.Agent.Params {
		if !strings.Contains(page, ".PP\n\\fB"+esc(p.Name)+"\\fR\n") {
			t.Errorf("parameter %s missing", p.Name)
		}
	}
	if w := groffWarnings(t, page); w != "" {
		t.Errorf("groff -ww:\n%s", w)
	}
}

func TestEsc(t *testing.T) {
	for in, want := range map[string]string{
		`a\b`:              `a\eb`,
		".TH x\n'y":        "\\&.TH x\n\\&'y",
		"--help":           `\-\-help`,
		"caf\u00e9 \u2014": `caf\[u00E9] \[u2014]`,
	} {
		if got := esc(in); got != want {
			t.Errorf("esc(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestLvsdPage(t *testing.T) {
	helps := map[string]string{
		"--help": "usage: lvsd COMMAND\n\ncommands:\n  check        validate\n  start        start it\n  stop         stop it\n\n`lvsd COMMAND --help`\n",
		"check":  "usage: lvsd check [--json] FILE\n\nReads FILE.\n  - an indented\n    list\nExit status: 0.\n\noptions:\n  --json\n    \tprint JSON\n  -timeout duration\n    \tdeadline (default 5s)\n",
		"start":  "usage: lvsd start|stop [CONFIG]\n       lvsd [-d] CONFIG start\n\nldirectord's commands.\n\noptions of start:\n  -d\trun in the foreground\n",
		"stop":   "usage: lvsd start|stop [CONFIG]\n       lvsd [-d] CONFIG start\n\nldirectord's commands.\n\noptions of stop:\n",
	}
	run := func(args ...string) (string, error) {
		h, ok := helps[args[0]]
		if !ok {
			return "", fmt.Errorf("no help for %v", args)
		}
		return h, nil
	}
	var out bytes.Buffer
	if err := Lvsd(&out, ".TH LVSD 8 \"@DATE@\" \"ocf-lvs @VERSION@\"\n.SH COMMANDS\n@COMMANDS@\n.SH END\n", run, "1.2.3", "2026-12-02"); err != nil {
		t.Fatal(err)
	}
	page := out.String()
	for _, want := range []string{
		`.TH LVSD 8 "2026-12-02" "ocf-lvs 1.2.3"`,
		".SS \"check\"\n.PP\n.nf\n\\fBlvsd check [\\-\\-json] FILE\\fR\n.fi\n",
		".PP\nReads FILE.\n.PP\n.nf\n  \\- an indented\n    list\n.fi\n.PP\nExit status: 0.\n",
		".PP\nOptions:\n.TP\n\\fB\\-\\-json\\fR\nprint JSON\n.TP\n\\fB\\-timeout\\fR \\fIduration\\fR\ndeadline (default 5s)\n",
		".SS \"start, stop\"\n",
		"\\fBlvsd [\\-d] CONFIG start\\fR\n",
		".PP\nOptions of \\fBstart\\fR:\n.TP\n\\fB\\-d\\fR\nrun in the foreground\n",
		".SH END\n",
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "Options of \\fBstop") {
		t.Error("stop has no options, yet a heading")
	}
	if w := groffWarnings(t, page); w != "" {
		t.Errorf("groff -ww:\n%s", w)
	}
	if err := Lvsd(&out, "no marker", run, "1", "2"); err == nil {
		t.Error("a template without @COMMANDS@ was accepted")
	}
}

// Any meta-data: an error or a page, never a crash.
func FuzzAgent(f *testing.F) {
	var md bytes.Buffer
	ocf.WriteMetadata(&md, vip.Agent)
	f.Add(md.Bytes())
	f.Add([]byte(`<resource-agent name="x"><parameters><parameter name=".x\"><longdesc> .TH</longdesc></parameter></parameters></resource-agent>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		var out bytes.Buffer
		Agent(&out, b, "1", "2")
	})
}

func FuzzHelp(f *testing.F) {
	f.Add("usage: lvsd x\n\ntext\n  block\n\noptions:\n  -a int\n    \tdesc\n  -d\tx\n")
	f.Fuzz(func(t *testing.T, h string) {
		var out bytes.Buffer
		body, opts := splitHelp(h)
		helpSection(&out, body)
		options(&out, opts)
		Commands(h)
	})
}
