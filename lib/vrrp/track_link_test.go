package vrrp

import (
	"errors"
	"net"
	"os"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/lib/addr"
	"golang.org/x/sys/unix"
)

// linkFlags reads what addr.LinkByName reads, for every interface here,
// and a missing interface is os.ErrNotExist (no root needed).
func TestLinkFlags(t *testing.T) {
	ifs, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, ifi := range ifs {
		index, flags, err := linkFlags(ifi.Name)
		if err != nil {
			t.Fatalf("%s: %v", ifi.Name, err)
		}
		l, err := addr.LinkByName(ifi.Name)
		if err != nil {
			t.Fatal(err)
		}
		up := flags&unix.IFF_UP != 0 && flags&(unix.IFF_LOWER_UP|unix.IFF_LOOPBACK) != 0
		if index != l.Index || up != (l.Up && (l.LowerUp || l.Loopback)) {
			t.Errorf("%s: index %d flags %#x, addr.LinkByName %+v", ifi.Name, index, flags, l)
		}
	}
	if _, _, err := linkFlags("nosuchif0"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("nosuchif0: %v, want os.ErrNotExist", err)
	}
	if _, _, err := linkFlags("a-name-too-long-for-linux"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("long name: %v, want os.ErrNotExist", err)
	}
}
