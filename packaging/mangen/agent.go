package main

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// metadata is the part of the OCF meta-data (ra-api-1.dtd) a page shows.
type metadata struct {
	Name       string `xml:"name,attr"`
	Longdesc   string `xml:"longdesc"`
	Shortdesc  string `xml:"shortdesc"`
	Parameters []struct {
		Name      string `xml:"name,attr"`
		Required  string `xml:"required,attr"`
		Unique    string `xml:"unique,attr"`
		Longdesc  string `xml:"longdesc"`
		Shortdesc string `xml:"shortdesc"`
		Content   struct {
			Type    string `xml:"type,attr"`
			Default string `xml:"default,attr"`
		} `xml:"content"`
	} `xml:"parameters>parameter"`
	Actions []struct {
		Name     string `xml:"name,attr"`
		Timeout  string `xml:"timeout,attr"`
		Interval string `xml:"interval,attr"`
		Depth    string `xml:"depth,attr"`
		Role     string `xml:"role,attr"`
	} `xml:"actions>action"`
}

// paragraphs writes text as filled paragraphs (blank lines separate them);
// a paragraph whose lines are indented is kept as it is (a list, a sample).
func paragraphs(w io.Writer, text string) {
	text = strings.TrimSpace(strings.ReplaceAll(text, "\r", ""))
	for i, p := range strings.Split(text, "\n\n") {
		p = strings.Trim(p, "\n")
		if strings.TrimSpace(p) == "" {
			continue
		}
		if i > 0 {
			fmt.Fprintln(w, ".PP")
		}
		if strings.HasPrefix(p, " ") || strings.HasPrefix(p, "\t") {
			fmt.Fprintf(w, ".RS 2\n.nf\n%s\n.fi\n.RE\n", esc(p))
			continue
		}
		fmt.Fprintln(w, esc(strings.TrimSpace(p)))
	}
}

// Agent writes ocf_lvs_NAME(7) from the agent's meta-data XML.
func Agent(w io.Writer, md []byte, version, date string) error {
	var m metadata
	if err := xml.Unmarshal(md, &m); err != nil {
		return fmt.Errorf("meta-data: %v", err)
	}
	if m.Name == "" || strings.ContainsAny(m.Name, " \t\n\\\"/") {
		return fmt.Errorf("meta-data: bad agent name %q", m.Name)
	}
	page := "ocf_lvs_" + m.Name
	header(w, page, "7", version, date, "OCF resource agents")

	fmt.Fprintf(w, ".SH NAME\n%s \\- %s\n", esc(page), esc(strings.TrimSpace(m.Shortdesc)))

	var acts []string
	for _, a := range m.Actions {
		acts = append(acts, esc(a.Name))
	}
	fmt.Fprintln(w, ".SH SYNOPSIS")
	for _, p := range m.Parameters {
		fmt.Fprintf(w, "[OCF_RESKEY_%s=\\fI%s\\fR]\n", esc(p.Name), esc(typ(p.Content.Type)))
	}
	fmt.Fprintf(w, ".B %s\n[%s]\n", esc(m.Name), strings.Join(acts, " | "))

	fmt.Fprintln(w, ".SH DESCRIPTION")
	paragraphs(w, m.Longdesc)
	fmt.Fprintf(w, ".PP\nThe agent is \\fBocf:lvs:%s\\fR, installed as /usr/lib/ocf/resource.d/lvs/%s; "+
		"\\fB%s \\-\\-help\\fR lists its actions and parameters, \\fB%s \\-\\-version\\fR prints the package version.\n",
		esc(m.Name), esc(m.Name), esc(m.Name), esc(m.Name))

	fmt.Fprintln(w, ".SH SUPPORTED PARAMETERS")
	if len(m.Parameters) == 0 {
		fmt.Fprintln(w, "None.")
	}
	for _, p := range m.Parameters {
		fmt.Fprintf(w, ".PP\n\\fB%s\\fR\n.RS 4\n", esc(p.Name))
		long := strings.TrimSpace(p.Longdesc)
		if long == "" {
			long = p.Shortdesc
		}
		paragraphs(w, long)
		attrs := []string{typ(p.Content.Type)}
		if p.Required == "1" {
			attrs = append(attrs, "required")
		} else {
			attrs = append(attrs, "optional")
		}
		if p.Unique == "1" {
			attrs = append(attrs, "unique")
		}
		if p.Content.Default != "" {
			attrs = append(attrs, "default "+p.Content.Default)
		} else {
			attrs = append(attrs, "no default")
		}
		fmt.Fprintf(w, ".sp\n(%s)\n.RE\n", esc(strings.Join(attrs, ", ")))
	}

	fmt.Fprintln(w, ".SH SUPPORTED ACTIONS")
	fmt.Fprintln(w, "This resource agent supports the following actions (operations):")
	for _, a := range m.Actions {
		fmt.Fprintf(w, ".PP\n\\fB%s\\fR\n.RS 4\nSuggested minimum timeout: %s.", esc(a.Name), esc(a.Timeout))
		if a.Interval != "" {
			fmt.Fprintf(w, "\nSuggested interval: %s.", esc(a.Interval))
		}
		if a.Depth != "" {
			fmt.Fprintf(w, "\nDepth (OCF_CHECK_LEVEL): %s.", esc(a.Depth))
		}
		if a.Role != "" {
			fmt.Fprintf(w, "\nRole: %s.", esc(a.Role))
		}
		fmt.Fprintln(w, "\n.RE")
	}

	// Examples with the required parameters, as resource-agents' pages.
	var req []string
	for _, p := range m.Parameters {
		if p.Required == "1" {
			req = append(req, p.Name+"="+exampleValue(p.Content.Type))
		}
	}
	var mon string
	for _, a := range m.Actions {
		if a.Name == "monitor" && mon == "" {
			mon = fmt.Sprintf("timeout=%q interval=%q", a.Timeout, a.Interval)
			if a.Depth != "" {
				mon = fmt.Sprintf("depth=%q ", a.Depth) + mon
			}
		}
	}
	id := "p_" + m.Name
	fmt.Fprintln(w, ".SH \"EXAMPLE CRM SHELL\"")
	fmt.Fprintf(w, "The following is an example configuration for a %s resource using the \\fBcrm\\fR(8) shell:\n", esc(m.Name))
	fmt.Fprintf(w, ".PP\n.RS 4\n.nf\nprimitive %s ocf:lvs:%s \\e\n", esc(id), esc(m.Name))
	if len(req) > 0 {
		fmt.Fprintln(w, "  params \\e")
		for _, r := range req {
			fmt.Fprintf(w, "    %s \\e\n", esc(r))
		}
	}
	if mon != "" {
		fmt.Fprintf(w, "  op monitor %s\n", esc(mon))
	} else {
		fmt.Fprintln(w, "  meta target-role=Stopped")
	}
	fmt.Fprintln(w, ".fi\n.RE")
	fmt.Fprintln(w, ".SH \"EXAMPLE PCS\"")
	fmt.Fprintf(w, "The following is an example configuration for a %s resource using \\fBpcs\\fR(8):\n", esc(m.Name))
	line := "pcs resource create " + id + " ocf:lvs:" + m.Name
	for _, r := range req {
		line += " " + r
	}
	if mon != "" {
		line += " op monitor " + mon
	}
	fmt.Fprintf(w, ".PP\n.RS 4\n.nf\n%s\n.fi\n.RE\n", esc(line))

	fmt.Fprintln(w, ".SH \"SEE ALSO\"")
	fmt.Fprintf(w, "\\fBlvsd\\fR(8), \\fBocf-tester\\fR(8), \\fBcrm_resource\\fR(8), \\fBpcs\\fR(8), \\fBcrm\\fR(8),\n"+
		"/usr/share/doc/ocf-lvs/docs/%s.md\n", esc(m.Name))
	fmt.Fprintln(w, ".SH AUTHOR\nThe ocf\\-lvs project.")
	return nil
}

func typ(t string) string {
	if t == "" {
		return "string"
	}
	return t
}

func exampleValue(t string) string {
	switch t {
	case "integer":
		return "integer"
	case "boolean":
		return "boolean"
	case "time":
		return "time"
	}
	return "string"
}
