// director is the ocf:lvs:director resource agent (see docs/director.md):
// it runs and watches lvsd for one ldirectord.cf, keepalived.conf or TOML.
package main

import "github.com/ocf-lvs/ocf-lvs/agents/director"

func main() { director.Main() }
