package check

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http/httputil"
	"strconv"
)

// readHTTPResponse reads one HTTP/1.x response for fastGET: the status,
// then the body by Content-Length, chunked, or to EOF (Connection: close),
// at most 1 MB. Only what a check needs: no header map is built, which was
// most of net/http.ReadResponse's cost per check.
func readHTTPResponse(br *bufio.Reader, method string) (code int, status string, body []byte, err error) {
	line, err := readLine(br)
	if err != nil {
		return 0, "", nil, err
	}
	proto, rest, ok := bytes.Cut(line, []byte(" "))
	if !ok || !bytes.HasPrefix(proto, []byte("HTTP/1.")) {
		return 0, "", nil, fmt.Errorf("malformed HTTP response %q", line)
	}
	rest = bytes.TrimLeft(rest, " ")
	codeB, _, _ := bytes.Cut(rest, []byte(" "))
	code, cerr := strconv.Atoi(string(codeB))
	if len(codeB) != 3 || cerr != nil || code < 100 {
		return 0, "", nil, fmt.Errorf("malformed HTTP status code %q", codeB)
	}
	status = string(rest)
	cl, chunked := int64(-1), false
	for {
		line, err := readLine(br)
		if err != nil {
			return 0, "", nil, err
		}
		if len(line) == 0 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			return 0, "", nil, fmt.Errorf("malformed MIME header line: %s", line)
		}
		k, v = bytes.TrimSpace(k), bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(v), 10, 64)
			if err != nil || n < 0 {
				return 0, "", nil, fmt.Errorf("bad Content-Length %q", v)
			}
			cl = n
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			if bytes.EqualFold(v, []byte("chunked")) {
				chunked = true
			} else if !bytes.EqualFold(v, []byte("identity")) {
				return 0, "", nil, fmt.Errorf("unsupported transfer encoding: %q", v)
			}
		}
	}
	if method == "HEAD" || code/100 == 1 || code == 204 || code == 304 {
		return code, status, nil, nil
	}
	var r io.Reader = br // to EOF: the request said Connection: close
	switch {
	case chunked:
		r = httputil.NewChunkedReader(br)
	case cl >= 0:
		r = io.LimitReader(br, cl)
	}
	const max = 1 << 20
	body, err = io.ReadAll(io.LimitReader(r, max))
	if err == nil && !chunked && cl >= 0 && int64(len(body)) < min(cl, max) {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return 0, "", nil, fmt.Errorf("reading body: %v", err)
	}
	return code, status, body, nil
}

// readLine returns one line without its CR LF; the slice is valid until
// the next read. Lines longer than the buffer are joined, up to 64 KB.
func readLine(br *bufio.Reader) ([]byte, error) {
	var long []byte
	for {
		l, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			if len(long)+len(l) > 64<<10 {
				return nil, errors.New("HTTP header line too long")
			}
			long = append(long, l...)
			continue
		}
		if long != nil {
			l = append(long, l...)
		}
		if err != nil {
			if err == io.EOF && len(l) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		l = l[:len(l)-1]
		if n := len(l); n > 0 && l[n-1] == '\r' {
			l = l[:n-1]
		}
		return l, nil
	}
}
