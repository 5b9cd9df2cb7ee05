package config

import (
	"context"
	"net"
	"strconv"
)

// portService is ldirectord's ld_port_to_service: the check service a
// virtual gets from its port when `service=` is not given.
var portService = map[uint16]string{
	21: "ftp", 25: "smtp", 53: "dns", 80: "http", 110: "pop", 119: "nntp",
	143: "imap", 389: "ldap", 443: "https", 587: "submission", 636: "ldaps",
	993: "imaps", 995: "pops", 1521: "oracle", 1812: "radius",
	3128: "http_proxy", 3306: "mysql", 5060: "sip", 5432: "pgsql",
}

// servicePort is ld_service_to_port: the port checked when neither checkport
// nor the real's port says otherwise.
var servicePort = func() map[string]uint16 {
	m := map[string]uint16{}
	for p, s := range portService {
		m[s] = p
	}
	return m
}()

// Services are the values `service=` accepts (ldirectord's list).
var Services = []string{"dns", "ftp", "http", "https", "http_proxy", "imap", "imaps",
	"ldap", "ldaps", "nntp", "mysql", "none", "oracle", "pop", "pops", "radius",
	"pgsql", "sip", "smtp", "submission", "simpletcp"}

func isService(s string) bool {
	for _, v := range Services {
		if v == s {
			return true
		}
	}
	return false
}

// ServiceForPort is the default check service of a virtual on port p.
func ServiceForPort(p uint16) string {
	if s, ok := portService[p]; ok {
		return s
	}
	return "none"
}

// ServicePort is the default port of a check service, 0 if none.
func ServicePort(s string) uint16 { return servicePort[s] }

// wellKnown backs up /etc/services for the names configurations use most,
// so a minimal container without that file reads the same configuration.
var wellKnown = map[string]uint16{
	"ftp": 21, "ssh": 22, "telnet": 23, "smtp": 25, "domain": 53, "http": 80, "www": 80,
	"pop3": 110, "nntp": 119, "ntp": 123, "imap": 143, "imap2": 143, "snmp": 161,
	"ldap": 389, "https": 443, "submission": 587, "ldaps": 636, "imaps": 993,
	"pop3s": 995, "ms-sql-s": 1433, "radius": 1812, "mysql": 3306, "sip": 5060,
	"postgresql": 5432, "http-alt": 8080,
}

// lookupPort resolves a port given as a number or a service name (like
// getservbyname: /etc/services, for the protocol given).
func lookupPort(s string, proto Protocol) (uint16, bool) {
	if s == "" {
		return 0, false
	}
	if s[0] >= '0' && s[0] <= '9' {
		n, err := strconv.ParseUint(s, 10, 16)
		return uint16(n), err == nil
	}
	if proto != "udp" {
		proto = "tcp"
	}
	if p, err := net.DefaultResolver.LookupPort(context.Background(), string(proto), s); err == nil && p > 0 && p < 65536 {
		return uint16(p), true
	}
	p, ok := wellKnown[s]
	return p, ok
}
