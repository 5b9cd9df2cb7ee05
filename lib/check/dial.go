package check

import (
	"context"
	"io"
)

// dialFast dials hostport for the connect and http checks the poller
// does not run (a host name, a zoned address): the connection closes with
// a reset once the check is done, as the poller's do.
func dialFast(ctx context.Context, hostport string) (io.ReadWriteCloser, error) {
	c, err := dial(ctx, "tcp", hostport)
	if err != nil {
		return nil, err
	}
	return abortCloser{c.(*ctxConn)}, nil
}

type abortCloser struct{ *ctxConn }

func (a abortCloser) Close() error { return a.abort() }
