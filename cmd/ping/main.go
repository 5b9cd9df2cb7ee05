// ping is the ocf:lvs:ping resource agent (see docs/ping.md).
package main

import (
	ping "github.com/ocf-lvs/ocf-lvs/agents/ping"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func main() { ocf.Main(ping.Agent) }
