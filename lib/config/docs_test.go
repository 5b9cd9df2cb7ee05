package config

import (
	"os"
	"strings"
	"testing"
)

// The TOML reference in docs/config.md (every key, with its default)
// reads as a configuration: a doc that lvsd refuses helps nobody.
func TestDocsTOMLReference(t *testing.T) {
	b, err := os.ReadFile("../../docs/config.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n```toml\n")
	block, _, ok2 := strings.Cut(rest, "\n```")
	if !ok || !ok2 || !strings.Contains(block, "[[vrrp_instance]]") {
		t.Fatalf("no TOML reference block in docs/config.md")
	}
	if _, err := ParseWith("config.md.toml", []byte(block), testOptions()); err != nil {
		t.Fatalf("docs/config.md's TOML reference does not load:\n%v", err)
	}
}
