package check

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/ocf-lvs/ocf-lvs/lib/config"
)

func TestFromConfig(t *testing.T) {
	cf := `checktimeout=3
checkinterval=2
failurecount=3
maintenancedir=/tmp/maint
virtual=192.0.2.10:80
	real=10.0.0.1:8080 masq
	real=10.0.0.2:80 gate 2 ".healthz", "ok"
	service=http
	request="/index.html"
	receive="Welcome"
	virtualhost=www.example.com
virtual=192.0.2.10:53
	real=10.0.0.1 gate
	protocol=udp
	request="www.example.com"
	receive="192.0.2.1"
virtual=192.0.2.11:3306
	real=10.0.0.1:3306 gate
	checkport=3307
	login="chk"
	passwd="pw"
	database="db"
	request="SELECT 1"
virtual=192.0.2.12:80
	real=10.0.0.1:80 gate
	real=10.0.0.3:80 gate
	checktype=2
	service=http
virtual=192.0.2.13:80
	real=10.0.0.1:80 gate
	checktype=2
	service=http
`
	cfg, err := config.Parse("t.cf", []byte(cf))
	if err != nil {
		t.Fatal(err)
	}
	subs := FromConfig(cfg, func(a netip.Addr) string {
		if a == netip.MustParseAddr("10.0.0.1") {
			return "web1.example.com."
		}
		return ""
	})
	by := map[string]Sub{}
	for _, s := range subs {
		by[s.ID.String()] = s
	}
	if len(subs) != 7 {
		t.Fatalf("%d subs: %v", len(subs), by)
	}
	h := by["tcp:192.0.2.10:80 10.0.0.1:8080"]
	if h.Spec.Service != "http" || h.Spec.Port != 8080 || h.Spec.Request != "/index.html" || h.Spec.Receive != "Welcome" ||
		h.Spec.VirtualHost != "www.example.com" || h.Interval != 2*time.Second || h.FailureCount != 3 || h.Spec.CheckTimeout != 3*time.Second {
		t.Fatalf("http spec %+v", h)
	}
	if CheckURL(&h.Spec) != "http://10.0.0.1:8080/index.html" {
		t.Fatalf("url %s", CheckURL(&h.Spec))
	}
	if got := h.MaintNames; len(got) != 6 || got[2] != "web1.example.com:8080" || got[5] != "web1" {
		t.Fatalf("maint names %v", got)
	}
	o := by["tcp:192.0.2.10:80 10.0.0.2:80"]
	if o.Spec.Request != ".healthz" || o.Spec.Receive != "ok" {
		t.Fatalf("per-real override %+v", o.Spec)
	}
	d := by["udp:192.0.2.10:53 10.0.0.1:53"]
	if d.Spec.Service != "dns" || d.Spec.Port != 53 || d.Spec.Protocol != "udp" {
		t.Fatalf("dns spec %+v", d.Spec)
	}
	m := by["tcp:192.0.2.11:3306 10.0.0.1:3306"]
	if m.Spec.Service != "mysql" || m.Spec.Port != 3307 || m.Spec.RealPort != 3306 || m.Spec.Login != "chk" || m.Spec.Database != "db" {
		t.Fatalf("mysql spec %+v", m.Spec)
	}
	n := by["tcp:192.0.2.12:80 10.0.0.3:80"]
	if n.Spec.Type != "combined" || n.Spec.NegotiateEvery != 2 {
		t.Fatalf("checktype=2 spec %+v", n.Spec)
	}
	// the same check on the same real in two virtuals (.12 and .13) is one
	// probe: 7 subscriptions, 6 jobs
	if a, b := by["tcp:192.0.2.12:80 10.0.0.1:80"], by["tcp:192.0.2.13:80 10.0.0.1:80"]; a.Spec.normalized() != b.Spec.normalized() {
		t.Fatalf("the shared real's checks differ:\n%+v\n%+v", a.Spec, b.Spec)
	}
	e := New(Options{})
	e.Set(subs)
	if e.Jobs() != 6 {
		t.Fatalf("%d jobs for 7 subscriptions, want 6 (the shared check once)", e.Jobs())
	}
}

// TestFromConfigSeveralCheckers: a keepalived real_server with a TCP_CHECK
// and an HTTP_GET of two urls gets one spec that runs all three.
func TestFromConfigSeveralCheckers(t *testing.T) {
	cfg, err := config.Load("../../testdata/config/keepalived/several-checkers.conf")
	if err != nil {
		t.Fatal(err)
	}
	subs := FromConfig(cfg, nil)
	if len(subs) != 2 {
		t.Fatalf("%d subs", len(subs))
	}
	sp := subs[0].Spec
	if sp.Type != "connect" || sp.Also == nil || len(*sp.Also) != 2 ||
		(*sp.Also)[0].Request != "/health" || (*sp.Also)[1].Request != "/ready" ||
		!(*sp.Also)[1].StatusCodes.Has(204) || (*sp.Also)[0].StatusCodes.Has(204) {
		t.Fatalf("spec %+v", sp)
	}
	if subs[0].Interval != 5*time.Second || subs[0].FailureCount != 2 {
		t.Fatalf("schedule %v %d", subs[0].Interval, subs[0].FailureCount)
	}
}

// kaSpec is the Spec of the first real of a keepalived.conf's first
// virtual_server.
func kaSpec(t *testing.T, conf string) Spec {
	t.Helper()
	cfg, err := config.Parse("keepalived.conf", []byte(conf))
	if err != nil {
		t.Fatal(err)
	}
	v := cfg.Virtuals[0]
	r := v.Reals[0]
	c := &v.Check
	if r.Check != nil {
		c = r.Check
	}
	return SpecFor(v, r, c)
}

// keepalived's TCP_CHECK connects over TCP also for a UDP virtual_server
// (seed 000 checks a DNS real so), where ldirectord's connect check of a
// udp virtual pings: a real whose TCP port is closed is down although it
// answers pings.
func TestKeepalivedTCPCheckOfUDPVirtual(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	s := kaSpec(t, fmt.Sprintf(`virtual_server 192.0.2.141 53 {
    lb_kind DR
    protocol UDP
    real_server 127.0.0.1 53 {
        TCP_CHECK {
            connect_port %d
            connect_timeout 2
        }
    }
}
`, port))
	if s.Protocol != "tcp" || s.Type != "connect" {
		t.Fatalf("spec protocol %q type %q, want a tcp connect", s.Protocol, s.Type)
	}
	if r := mustUp(t, s); !strings.Contains(r.Reason, "connected to") {
		t.Errorf("up by %q, want a TCP connection", r.Reason)
	}
	l.Close()
	mustDown(t, s, "connect")

	// the same real in an ldirectord.cf: pinged
	cfg, err := config.Parse("ld.cf", []byte("virtual=192.0.2.141:53\n\treal=127.0.0.1:53 gate\n\tprotocol=udp\n\tchecktype=connect\n"))
	if err != nil {
		t.Fatal(err)
	}
	if p := SpecFor(cfg.Virtuals[0], cfg.Virtuals[0].Reals[0], &cfg.Virtuals[0].Check).Protocol; p != "udp" {
		t.Errorf("ldirectord connect check of a udp virtual: protocol %q, want udp (a ping)", p)
	}
}

// keepalived's DNS_CHECK asks over UDP also for a TCP virtual_server
// (check_dns.c opens a SOCK_DGRAM socket); ldirectord's dns check of a
// tcp virtual asks over TCP.
func TestKeepalivedDNSCheckOverUDP(t *testing.T) {
	s := kaSpec(t, `virtual_server 192.0.2.141 53 {
    protocol TCP
    real_server 10.0.0.1 53 {
        DNS_CHECK {
        }
    }
}
`)
	if s.Protocol != "udp" || s.Service != "dns" {
		t.Fatalf("DNS_CHECK of a tcp virtual_server: protocol %q service %q, want udp dns", s.Protocol, s.Service)
	}
}
