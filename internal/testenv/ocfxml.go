package testenv

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// OCFDTD is where Debian's resource-agents ships the OCF 1.0 DTD.
const OCFDTD = "/usr/share/resource-agents/ra-api-1.dtd"

// ValidateOCFMetadata runs `xmllint --valid` on an agent's meta-data the
// way ocf-tester does, with the DTD beside it.
func ValidateOCFMetadata(t testing.TB, xml []byte) {
	t.Helper()
	if _, err := os.Stat(OCFDTD); err != nil {
		Skip(t, "needs %s (package resource-agents)", OCFDTD)
	}
	xmllint := Command(t, "xmllint")
	dir := t.TempDir()
	data, _ := os.ReadFile(OCFDTD)
	if err := os.WriteFile(filepath.Join(dir, "ra-api-1.dtd"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(xmllint, "--noout", "--valid", "-")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(xml)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xmllint --valid: %v\n%s", err, out)
	}
}
