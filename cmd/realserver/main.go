// realserver is the ocf:lvs:realserver resource agent (see docs/realserver.md).
package main

import (
	"github.com/ocf-lvs/ocf-lvs/agents/realserver"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func main() { ocf.Main(realserver.Agent) }
