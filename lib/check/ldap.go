package check

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"
)

// checkLDAP binds (anonymously unless login and passwd are given), reads
// the entry named by request with a base search, and is up when exactly one
// entry comes back whose DN matches receive (empty receive: any).
func checkLDAP(ctx context.Context, s *Spec) (string, error) {
	c, err := dial(ctx, "tcp", s.HostPort())
	if err != nil {
		return "", fmt.Errorf("connect: %w", err)
	}
	if s.Service == "ldaps" {
		tc := tls.Client(c, &tls.Config{InsecureSkipVerify: !s.VerifyTLS, ServerName: s.Addr.String()})
		if err := tc.HandshakeContext(ctx); err != nil {
			c.Close()
			return "", fmt.Errorf("tls: %w", err)
		}
		c = tc
	}
	l := ldap.NewConn(c, s.Service == "ldaps")
	l.Start()
	defer l.Close()
	if d, ok := ctx.Deadline(); ok {
		l.SetTimeout(time.Until(d))
	}
	if s.Login != "" && s.Passwd != "" {
		err = l.Bind(s.Login, s.Passwd)
	} else {
		err = l.UnauthenticatedBind("")
	}
	if err != nil {
		return "", fmt.Errorf("ldap bind: %w", err)
	}
	base := strings.TrimPrefix(s.Request, "/")
	res, err := l.Search(ldap.NewSearchRequest(base, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
		1, 0, false, "(objectClass=*)", []string{"1.1"}, nil))
	if err != nil {
		return "", fmt.Errorf("ldap search %q: %w", base, err)
	}
	if len(res.Entries) != 1 {
		return "", fmt.Errorf("ldap search %q: %d entries", base, len(res.Entries))
	}
	dn := res.Entries[0].DN
	if s.Receive != "" {
		re, err := receiveRE(s.Receive)
		if err != nil {
			return "", err
		}
		if !re.MatchString(dn) {
			return "", fmt.Errorf("ldap: DN %q does not match /%s/", dn, s.Receive)
		}
	}
	return "ldap: found " + dn, nil
}
