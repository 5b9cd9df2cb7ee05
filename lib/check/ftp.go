package check

import (
	"context"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// checkFTP logs in (anonymous by default), and when request names a file,
// fetches it in passive mode and matches receive against it. ldirectord
// counts a server it could not even reach as up when receive is empty (an
// empty pattern matches the empty download); here the login must succeed.
func checkFTP(ctx context.Context, s *Spec) (string, error) {
	l, err := openLine(ctx, s, false)
	if err != nil {
		return "", err
	}
	defer l.Close()
	if _, err := expect(l, "ftp greeting", is2xx); err != nil {
		return "", err
	}
	user, pass := s.Login, s.Passwd
	if user == "" {
		user, pass = "anonymous", "-anonymous@"
	}
	l.send("USER %s", user)
	code, text, err := l.reply()
	if err != nil {
		return "", fmt.Errorf("ftp USER: %w", err)
	}
	if code == 331 || code == 332 {
		l.send("PASS %s", pass)
		code, text, err = l.reply()
		if err != nil {
			return "", fmt.Errorf("ftp PASS: %w", err)
		}
	}
	if code != 230 && code != 202 {
		return "", fmt.Errorf("ftp login %s: %q", user, text)
	}
	file := strings.TrimPrefix(s.Request, "/")
	if file == "" {
		l.send("QUIT")
		if s.Receive != "" {
			return "", fmt.Errorf("ftp: receive given but no file to fetch (request)")
		}
		return "ftp: logged in as " + user, nil
	}
	l.send("TYPE I")
	if _, err := expect(l, "ftp TYPE", is2xx); err != nil {
		return "", err
	}
	dataAddr, err := l.passive(s)
	if err != nil {
		return "", err
	}
	dc, err := dial(ctx, "tcp", dataAddr)
	if err != nil {
		return "", fmt.Errorf("ftp data connection: %w", err)
	}
	defer dc.Close()
	l.send("RETR %s", s.Request)
	if _, err := expect(l, "ftp RETR "+s.Request, func(c int) bool { return c == 125 || c == 150 }); err != nil {
		return "", err
	}
	body, err := io.ReadAll(io.LimitReader(dc, 1<<20))
	if err != nil {
		return "", fmt.Errorf("ftp data: %w", err)
	}
	dc.Close()
	if _, err := expect(l, "ftp transfer", is2xx); err != nil {
		return "", err
	}
	l.send("QUIT")
	if s.Receive != "" {
		re, err := receiveRE(s.Receive)
		if err != nil {
			return "", err
		}
		if !re.Match(body) {
			return "", fmt.Errorf("ftp: receive /%s/ not in %s (%d bytes)", s.Receive, s.Request, len(body))
		}
	}
	return fmt.Sprintf("ftp: got %s (%d bytes)", s.Request, len(body)), nil
}

// passive asks for EPSV (v6 and NAT friendly), falling back to PASV. The
// data connection always goes to the real's address, never to the
// address a PASV reply names.
func (l *lineConn) passive(s *Spec) (string, error) {
	l.send("EPSV")
	code, text, err := l.reply()
	if err != nil {
		return "", fmt.Errorf("ftp EPSV: %w", err)
	}
	if code == 229 {
		// 229 Entering Extended Passive Mode (|||6446|)
		if i := strings.Index(text, "(|||"); i >= 0 {
			rest := text[i+4:]
			if j := strings.IndexByte(rest, '|'); j > 0 {
				if p, err := strconv.Atoi(rest[:j]); err == nil {
					return net.JoinHostPort(s.Addr.String(), strconv.Itoa(p)), nil
				}
			}
		}
		return "", fmt.Errorf("ftp EPSV: %q", text)
	}
	l.send("PASV")
	code, text, err = l.reply()
	if err != nil || code != 227 {
		return "", fmt.Errorf("ftp PASV: %q %v", text, err)
	}
	i, j := strings.IndexByte(text, '('), strings.IndexByte(text, ')')
	if i < 0 || j < i {
		return "", fmt.Errorf("ftp PASV: %q", text)
	}
	f := strings.Split(text[i+1:j], ",")
	if len(f) != 6 {
		return "", fmt.Errorf("ftp PASV: %q", text)
	}
	hi, _ := strconv.Atoi(f[4])
	lo, _ := strconv.Atoi(f[5])
	return net.JoinHostPort(s.Addr.String(), strconv.Itoa(hi*256+lo)), nil
}
