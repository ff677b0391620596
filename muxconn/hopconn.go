package muxconn

import (
	"io"
	"net"
	"sync"
)

// hopConn is a connection forwarded through a jump host. x/crypto's
// forwarded conn blocks in Read until the jump host sends data or EOF, and
// its Close only sends a message, so a target behind a frozen jump host
// could never be torn down. hopConn reads through a pipe fed by a copying
// goroutine that the jump master owns: Close unblocks Read at once.
type hopConn struct {
	net.Conn
	r    *io.PipeReader
	once sync.Once
}

// newHopConn wraps conn, or returns false when the jump master is closing.
func newHopConn(jump *Master, conn net.Conn) (*hopConn, bool) {
	if !jump.track() {
		return nil, false
	}
	r, w := io.Pipe()
	go func() {
		defer jump.opens.Done()
		_, err := io.Copy(w, conn)
		w.CloseWithError(err)
	}()
	return &hopConn{Conn: conn, r: r}, true
}

func (c *hopConn) Read(p []byte) (int, error) { return c.r.Read(p) }

func (c *hopConn) Close() error {
	c.once.Do(func() { c.r.Close() })
	return c.Conn.Close()
}
