// VIPcheck is the ocf:lvs:VIPcheck resource agent (see docs/VIPcheck.md).
package main

import (
	vipcheck "github.com/ocf-lvs/ocf-lvs/agents/VIPcheck"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func main() { ocf.Main(vipcheck.Agent) }
