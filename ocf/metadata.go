package ocf

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
)

// ActionSpec is one <action> line of the meta-data: the defaults Pacemaker
// shows for the action.
type ActionSpec struct {
	Name     string
	Timeout  string
	Interval string
	Depth    string
	Role     string
}

func esc(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

// WriteMetadata writes the agent's meta-data XML, valid against
// ra-api-1.dtd with its DOCTYPE line (ocf-tester runs xmllint --valid).
// OCF 1.1-only attributes are left out on purpose: that DTD rejects them.
func WriteMetadata(w io.Writer, a *Agent) error {
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n")
	b.WriteString("<!DOCTYPE resource-agent SYSTEM \"ra-api-1.dtd\">\n")
	// The attribute is the agent's own version (the package's, from the
	// build); the <version> element is the OCF API version it follows.
	fmt.Fprintf(&b, "<resource-agent name=\"%s\" version=\"%s\">\n", esc(a.Name), esc(a.version()))
	fmt.Fprintf(&b, "<version>1.0</version>\n\n")
	fmt.Fprintf(&b, "<longdesc lang=\"en\">\n%s\n</longdesc>\n", esc(strings.TrimSpace(a.Long)))
	fmt.Fprintf(&b, "<shortdesc lang=\"en\">%s</shortdesc>\n\n", esc(a.Short))
	b.WriteString("<parameters>\n")
	for _, p := range a.Params {
		req, uniq := 0, 0
		if p.Required {
			req = 1
		}
		if p.Unique {
			uniq = 1
		}
		fmt.Fprintf(&b, "<parameter name=\"%s\" unique=\"%d\" required=\"%d\">\n", esc(p.Name), uniq, req)
		long := strings.TrimSpace(p.Long)
		if long == "" {
			long = p.Short
		}
		fmt.Fprintf(&b, "<longdesc lang=\"en\">\n%s\n</longdesc>\n", esc(long))
		fmt.Fprintf(&b, "<shortdesc lang=\"en\">%s</shortdesc>\n", esc(p.Short))
		typ := p.Type
		if typ == "" {
			typ = String
		}
		if p.Default != "" {
			fmt.Fprintf(&b, "<content type=\"%s\" default=\"%s\" />\n", typ, esc(p.Default))
		} else {
			fmt.Fprintf(&b, "<content type=\"%s\" />\n", typ)
		}
		b.WriteString("</parameter>\n\n")
	}
	b.WriteString("</parameters>\n\n<actions>\n")
	for _, s := range a.actionSpecs() {
		fmt.Fprintf(&b, "<action name=\"%s\" timeout=\"%s\"", esc(s.Name), esc(s.Timeout))
		if s.Interval != "" {
			fmt.Fprintf(&b, " interval=\"%s\"", esc(s.Interval))
		}
		if s.Depth != "" {
			fmt.Fprintf(&b, " depth=\"%s\"", esc(s.Depth))
		}
		if s.Role != "" {
			fmt.Fprintf(&b, " role=\"%s\"", esc(s.Role))
		}
		b.WriteString(" />\n")
	}
	b.WriteString("</actions>\n</resource-agent>\n")
	_, err := io.WriteString(w, b.String())
	return err
}
