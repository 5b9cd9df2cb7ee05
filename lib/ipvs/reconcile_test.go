package ipvs

import (
	"errors"
	"strings"
	"testing"

	"github.com/ocf-lvs/ocf-lvs/internal/vm"
)

// fakeKernel records ops; it decides nothing (the real kernel is tested in
// the VM: kernel_vm_test.go).
type fakeKernel struct {
	table   []Service
	applied []string
	refuse  OpKind
}

func (f *fakeKernel) Services() ([]Service, error) { return f.table, nil }
func (f *fakeKernel) Apply(o Op) error {
	if o.Kind == f.refuse {
		return errors.New("refused")
	}
	f.applied = append(f.applied, o.String())
	return nil
}

func TestReconcileDryRunAppliesNothing(t *testing.T) {
	k := &fakeKernel{refuse: -1}
	res, err := Reconcile(k, []Service{web(gate(1, 1))}, nil, true)
	if err != nil || len(res.Ops) != 2 || len(k.applied) != 0 || res.Applied != 0 {
		t.Fatalf("%v %+v %v", err, res, k.applied)
	}
}

func TestReconcileRefusedServiceSkipsItsReals(t *testing.T) {
	k := &fakeKernel{refuse: AddService}
	other := Service{Family: 4, Protocol: "udp", Addr: vip, Port: 53, Scheduler: "rr"}
	k.table = []Service{other}
	desired := []Service{web(gate(1, 1)), {Family: 4, Protocol: "udp", Addr: vip, Port: 53, Scheduler: "rr", Dests: []Dest{{Addr: rip(5), Port: 53, Fwd: FwdMasq, Weight: 1}}}}
	res, err := Reconcile(k, desired, nil, false)
	if err == nil || !strings.Contains(err.Error(), "refused") {
		t.Fatalf("err %v", err)
	}
	if len(res.Failed) != 2 || res.Applied != 1 || k.applied[0] != "-a -u 192.0.2.10:53 -r 10.0.0.5:53 -m -w 1" {
		t.Fatalf("%+v %v", res, k.applied)
	}
}

// A kernel without IPVS: the error says so instead of a no-op. On a host
// that could load ip_vs the test skips rather than load it (OpenNetlink
// runs modprobe); that hides nothing from CI, whose VM tier runs it with
// IPVS hidden (vm.NoIPVSHere).
func TestOpenWithoutIPVS(t *testing.T) {
	if !vm.NoIPVSHere(t) {
		t.Skip("this kernel has or can load IPVS: not loading it on the host (this test runs in the VM with IPVS hidden)")
	}
	_, err := OpenNetlink()
	if !errors.Is(err, ErrNoIPVS) || !strings.Contains(err.Error(), "load ip_vs") {
		t.Fatalf("got %v", err)
	}
}

func TestNetmaskConversion(t *testing.T) {
	for _, n := range []int{0, 8, 24, 31, 32} {
		s := Service{Family: 4, Protocol: "tcp", Addr: vip, Port: 1, Scheduler: "rr", Flags: FlagPersistent, Netmask: n}
		ms, _ := toMoby(&s)
		back, _ := fromMoby(ms)
		if back.Netmask != n {
			t.Errorf("/%d came back /%d", n, back.Netmask)
		}
	}
}
