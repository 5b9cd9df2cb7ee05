// VIP is the ocf:lvs:VIP resource agent (see docs/VIP.md).
package main

import (
	"os"

	vip "github.com/ocf-lvs/ocf-lvs/agents/VIP"
	"github.com/ocf-lvs/ocf-lvs/ocf"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == vip.AnnouncerArg {
		os.Exit(vip.Announcer(os.Args[2:]))
	}
	ocf.Main(vip.Agent)
}
