package muxconn

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"sync"

	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/muxconn/mux"
)

// A master fleet rides (OpenSSH's or fleet's own) gets a control connection
// in proxy mode per channel, and fleet never sends it a channel close:
// hanging up the connection is how fleet closes the channel on it, and the
// master sends the server that close itself.
//
// Why: OpenSSH's master (9.2 at least) finds the channel a proxy client's
// close is for by the server's channel number, among all its channels,
// and a control channel of another client (an `ssh -S host` session) keeps
// the number of its local session channel in that same field. When the two
// numbers match, the close marks the wrong channel: the master later
// closes the proxied channel a second time, and sshd ends the master's
// whole connection ("oclose packet referred to nonexistent channel"),
// with every session and forward the user had on it. Closing by hanging
// up takes a path that looks the channel up by its own number.
//
// Nor does a rider send keepalives: OpenSSH's master takes no global
// request from a proxy client but tcpip-forward, and drops a client that
// sends one. The master keeps its own connection alive.

//
// fleet's own master has neither fault, and says so in its hello
// (mux.FleetExtension): its riders share one control connection and send
// keepalives.

// channelClient returns the client to open one channel on, and hangup,
// to call once that channel is closed (or never opened).
func (m *Master) channelClient(ctx context.Context) (c *ssh.Client, hangup func(), err error) {
	if !m.perChannel {
		return m.client, func() {}, nil
	}
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", m.ControlPath)
	if err != nil {
		return nil, nil, fmt.Errorf("muxconn: %s: the master at %s: %w", m.Target.Alias, m.ControlPath, err)
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	cc, chans, reqs, err := ssh.NewControlClientConn(&closeDropper{Conn: conn})
	if !stop() {
		if err == nil {
			cc.Close()
		}
		conn.Close()
		return nil, nil, ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, nil, fmt.Errorf("muxconn: %s: the master at %s: %w", m.Target.Alias, m.ControlPath, err)
	}
	c = ssh.NewClient(cc, chans, reqs)
	return c, func() { c.Close() }, nil
}

// Dial opens a TCP connection to addr from the host, as ssh -W does.
func (m *Master) Dial(ctx context.Context, addr string) (net.Conn, error) {
	c, hangup, err := m.channelClient(ctx)
	if err != nil {
		return nil, err
	}
	conn, err := c.DialContext(ctx, "tcp", addr)
	if err != nil {
		hangup()
		return nil, err
	}
	if !m.perChannel {
		return conn, nil
	}
	return &hangupConn{Conn: conn, hangup: hangup}, nil
}

// hangupConn is a connection through a ridden master whose Close also
// hangs up the control connection it came through.
type hangupConn struct {
	net.Conn
	once   sync.Once
	hangup func()
}

func (c *hangupConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.hangup)
	return err
}

// closeDropper drops the channel closes x/crypto writes to a master's
// control connection in proxy mode (see above). The connection protocol
// runs there in the clear, each message framed by its length and a zero
// padding length, after the mux hello and proxy request, which are framed
// by length alone.
type closeDropper struct {
	net.Conn
	mu     sync.Mutex
	frames int    // frames written whole or dropped
	head   []byte // the current frame's first bytes, until its type is known
	left   uint32 // bytes of the current frame still to pass or drop
	drop   bool   // the current frame is dropped
}

// dropperHead is how much of a frame closeDropper needs to see: the
// length, the padding length and the message type.
const dropperHead = 4 + 1 + 1

// msgChannelClose is SSH_MSG_CHANNEL_CLOSE (RFC 4254).
const msgChannelClose = 97

// dropperHandshake is the number of mux frames a client sends before the
// connection protocol starts: the hello and the proxy request.
const dropperHandshake = 2

func (w *closeDropper) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	// x/crypto writes a frame whole per call: pass it on as it is.
	if w.left == 0 && len(w.head) == 0 && len(p) >= dropperHead && uint64(binary.BigEndian.Uint32(p))+4 == uint64(len(p)) {
		w.frames++
		if w.frames > dropperHandshake && p[4] == 0 && p[5] == msgChannelClose {
			return len(p), nil
		}
		return w.Conn.Write(p)
	}
	var out []byte
	for rest := p; len(rest) > 0; {
		if w.left == 0 && len(w.head) < dropperHead {
			// The length first, then no further than the frame's end.
			want := 4
			if len(w.head) >= 4 {
				want = int(min(uint64(dropperHead), 4+uint64(binary.BigEndian.Uint32(w.head))))
			}
			k := min(want-len(w.head), len(rest))
			w.head = append(w.head, rest[:k]...)
			rest = rest[k:]
			if len(w.head) < 4 {
				continue
			}
			size := binary.BigEndian.Uint32(w.head)
			if len(w.head) < dropperHead && uint32(len(w.head)-4) < size {
				continue // the type is yet to come
			}
			// The whole head is in, or the frame is shorter than one.
			w.drop = w.frames >= dropperHandshake && len(w.head) == dropperHead && w.head[4] == 0 && w.head[5] == msgChannelClose
			if !w.drop {
				out = append(out, w.head...)
			}
			w.left = size - uint32(len(w.head)-4)
			w.head = w.head[:0]
			if w.left == 0 {
				w.frames++
			}
			continue
		}
		k := min(uint32(len(rest)), w.left)
		if !w.drop {
			out = append(out, rest[:k]...)
		}
		rest = rest[k:]
		w.left -= k
		if w.left == 0 {
			w.frames++
		}
	}
	if len(out) > 0 {
		if _, err := w.Conn.Write(out); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// helloSniffer keeps the first frame a master sends on its control
// connection, its hello, whole.
type helloSniffer struct {
	net.Conn
	got   []byte
	hello []byte // the hello's body, once in
}

func (r *helloSniffer) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	if r.hello == nil && len(r.got) < 4+maxHello {
		r.got = append(r.got, p[:n]...)
		if len(r.got) >= 4 {
			if size := binary.BigEndian.Uint32(r.got); size <= maxHello && uint64(len(r.got)) >= 4+uint64(size) {
				r.hello = r.got[4 : 4+size]
			}
		}
	}
	return n, err
}

// maxHello bounds the hello helloSniffer keeps.
const maxHello = 4 << 10

// fleetMaster reports whether the master's hello said it is fleet's.
func (r *helloSniffer) fleetMaster() bool { return r.hello != nil && mux.IsFleetHello(r.hello) }
