package check

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// checkRADIUS sends an Access-Request (RFC 2865) for login/passwd with the
// shared secret and is up on any authenticated answer (Accept, Reject or
// Challenge), as ldirectord's: the server is alive and knows the secret.
// Hand-written: one packet and one MD5, smaller than any library.
func checkRADIUS(ctx context.Context, s *Spec) (string, error) {
	if s.Secret == "" {
		return "", errors.New("radius: no secret")
	}
	c, err := dial(ctx, "udp", s.HostPort())
	if err != nil {
		return "", fmt.Errorf("radius: %w", err)
	}
	defer c.Close()
	pkt, auth, id := radiusRequest(s.Login, s.Passwd, s.Secret)
	if _, err := c.Write(pkt); err != nil {
		return "", fmt.Errorf("radius: %w", err)
	}
	buf := make([]byte, 4096)
	for {
		n, err := c.Read(buf)
		if err != nil {
			return "", fmt.Errorf("radius: no answer: %w", err)
		}
		code, ok := radiusCheckReply(buf[:n], id, auth, s.Secret)
		if !ok {
			continue // not ours, or forged: keep waiting until the deadline
		}
		switch code {
		case 2:
			return "radius: Access-Accept", nil
		case 3:
			return "radius: Access-Reject (server answers)", nil
		case 11:
			return "radius: Access-Challenge (server answers)", nil
		}
		return "", fmt.Errorf("radius: unexpected code %d", code)
	}
}

func radiusRequest(user, pass, secret string) (pkt []byte, auth [16]byte, id byte) {
	rand.Read(auth[:])
	var b [1]byte
	rand.Read(b[:])
	id = b[0]
	attrs := new(bytes.Buffer)
	attr := func(t byte, v []byte) {
		if len(v) > 253 {
			v = v[:253]
		}
		attrs.WriteByte(t)
		attrs.WriteByte(byte(len(v) + 2))
		attrs.Write(v)
	}
	attr(1, []byte(user))
	// User-Password: padded to 16, XOR with MD5(secret + previous block).
	p := []byte(pass)
	if len(p) == 0 || len(p)%16 != 0 {
		p = append(p, make([]byte, 16-len(p)%16)...)
	}
	if len(p) > 128 {
		p = p[:128]
	}
	prev := auth[:]
	for i := 0; i < len(p); i += 16 {
		h := md5.Sum(append([]byte(secret), prev...))
		for j := 0; j < 16; j++ {
			p[i+j] ^= h[j]
		}
		prev = p[i : i+16]
	}
	attr(2, p)
	attr(32, []byte("ocf-lvs")) // NAS-Identifier
	pkt = make([]byte, 20, 20+attrs.Len())
	pkt[0], pkt[1] = 1, id
	binary.BigEndian.PutUint16(pkt[2:], uint16(20+attrs.Len()))
	copy(pkt[4:20], auth[:])
	pkt = append(pkt, attrs.Bytes()...)
	return pkt, auth, id
}

// radiusCheckReply verifies the Response Authenticator:
// MD5(Code+ID+Length+RequestAuth+Attributes+Secret).
func radiusCheckReply(b []byte, id byte, auth [16]byte, secret string) (code byte, ok bool) {
	if len(b) < 20 || b[1] != id {
		return 0, false
	}
	l := int(binary.BigEndian.Uint16(b[2:]))
	if l < 20 || l > len(b) {
		return 0, false
	}
	h := md5.New()
	h.Write(b[:4])
	h.Write(auth[:])
	h.Write(b[20:l])
	h.Write([]byte(secret))
	if !bytes.Equal(h.Sum(nil), b[4:20]) {
		return 0, false
	}
	return b[0], true
}
