package mux

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"syscall"

	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/ssh"
)

// Upstream is the real SSH connection a master serves its clients over;
// *ssh.Client satisfies it.
type Upstream interface {
	OpenChannel(name string, data []byte) (ssh.Channel, <-chan *ssh.Request, error)
	SendRequest(name string, wantReply bool, payload []byte) (bool, []byte, error)
}

// ServeProxy serves one mux client that sent MUX_C_PROXY (after MUX_S_PROXY
// was written): it bridges the unencrypted connection-layer packets on conn
// to up, until conn or ctx ends.
//
// ServeProxy is the client's connection-layer peer, as OpenSSH's master is
// in proxy mode: it gives the client's channels ids of its own, opens each
// of them on up, and relays data (with flow control both ways), EOF, CLOSE
// and requests between the two. A refused open reaches the client as
// OPEN_FAILURE with up's reason code, so that a session refused under
// sshd's MaxSessions can be told apart and retried.
//
// Global requests go to up, except that "tcpip-forward",
// "streamlocal-forward@openssh.com" and their "cancel-" forms are refused:
// connections to a remote forward would arrive on up with no way back to
// this client, and a cancel could remove the master's own forwards. So is
// "no-more-sessions@openssh.com", which would shut the shared connection to
// every later session. Channels cannot be opened toward the client.
//
// An unknown message type gets SSH_MSG_UNIMPLEMENTED (RFC 4253 section
// 11.4) and the connection stays up. A malformed packet, or one that breaks
// the protocol (data beyond the advertised window, a message for a channel
// that is not open), ends the connection with an error.
//
// ServeProxy returns nil when the client closes the connection (or sends
// SSH_MSG_DISCONNECT), ctx's error when ctx ends, and otherwise the error
// that ended the connection. Either way it closes conn and every upstream
// channel the client opened, and returns only when every goroutine it
// started has ended, which for a channel means up has confirmed its close
// (or up itself has gone away).
func ServeProxy(ctx context.Context, conn net.Conn, up Upstream) error {
	p := &proxy{
		conn:     conn,
		up:       up,
		channels: make(map[uint32]*proxyChannel),
		opening:  make(map[uint32]struct{}),
		globals:  make(chan proxyGlobal, proxyMaxQueuedOps),
	}
	p.out.init(conn)

	stopWatch := make(chan struct{})
	p.wg.Go(func() {
		select {
		case <-ctx.Done():
			conn.Close()
		case <-stopWatch:
		}
	})
	p.wg.Go(p.out.run)
	p.wg.Go(p.serveGlobals)

	readErr := p.readLoop()
	close(stopWatch)
	p.shutdown()

	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(readErr, errProxyClientGone):
		return nil
	}
	if err := p.out.failure(); errors.Is(err, errProxyClientGone) {
		return nil
	} else if err != nil {
		// The writer failed first and closed conn under the reader.
		return err
	}
	return readErr
}

// SSH message numbers (RFC 4253 and 4254) that the proxy reads or writes.
const (
	sshMsgDisconnect          = 1
	sshMsgIgnore              = 2
	sshMsgUnimplemented       = 3
	sshMsgDebug               = 4
	sshMsgGlobalRequest       = 80
	sshMsgRequestSuccess      = 81
	sshMsgRequestFailure      = 82
	sshMsgChannelOpen         = 90
	sshMsgChannelOpenConfirm  = 91
	sshMsgChannelOpenFailure  = 92
	sshMsgChannelWindowAdjust = 93
	sshMsgChannelData         = 94
	sshMsgChannelExtendedData = 95
	sshMsgChannelEOF          = 96
	sshMsgChannelClose        = 97
	sshMsgChannelRequest      = 98
	sshMsgChannelSuccess      = 99
	sshMsgChannelFailure      = 100
)

// Limits of the proxy. The window and packet sizes are OpenSSH's session
// defaults (CHAN_SES_WINDOW_DEFAULT, CHAN_SES_PACKET_DEFAULT), which are also
// x/crypto's.
const (
	// proxyMaxPacketLen is the largest packet (after the length field)
	// accepted from the client; x/crypto's control transport uses the
	// same bound for what it reads from us.
	proxyMaxPacketLen = 256 << 10
	// proxyWindow is the window given to the client on each channel: the
	// most data it may have in flight to us, and so the most we queue for
	// one upstream channel.
	proxyWindow = 2 << 20
	// proxyPacket is the largest data packet we advertise, and the
	// largest chunk of upstream output we send in one packet.
	proxyPacket = 32 << 10
	// proxyCoalesce caps how much client data is merged into one upstream
	// write, so that window adjustments flow back while a large transfer
	// is still being written.
	proxyCoalesce = 64 << 10
	// proxyQueueSoft is the queued output above which channel data waits
	// for the client to read; control replies are never held back.
	proxyQueueSoft = 1 << 20
	// proxyQueueHard is the queued output at which the client is deemed
	// not to read its replies at all, and is disconnected.
	proxyQueueHard = 16 << 20
	// proxyMaxQueuedOps bounds the requests, EOFs and global requests a
	// client may have waiting for upstream, per channel and for the
	// connection. Real clients wait for replies and stay far below it.
	proxyMaxQueuedOps = 256
)

// errProxyClientGone ends the read loop when the client closed the
// connection or said goodbye.
var errProxyClientGone = errors.New("mux: proxy client disconnected")

// proxy is the state of one ServeProxy call.
type proxy struct {
	conn    net.Conn
	up      Upstream
	out     proxyQueue
	globals chan proxyGlobal // read by serveGlobals; closed on shutdown
	wg      sync.WaitGroup   // every goroutine ServeProxy started

	mu       sync.Mutex
	dead     bool // shut down: no channel may be registered any more
	nextID   uint32
	channels map[uint32]*proxyChannel // open channels, by our id
	opening  map[uint32]struct{}      // ids reserved for opens in progress
}

// proxyGlobal is a global request from the client waiting for up.
type proxyGlobal struct {
	name    string
	want    bool
	payload []byte
}

// readLoop reads and dispatches the client's packets until the connection
// ends or breaks the protocol.
func (p *proxy) readLoop() error {
	r := bufio.NewReaderSize(p.conn, 64<<10)
	var hdr [4]byte
	buf := make([]byte, 0, 64<<10)
	for seq := uint32(0); ; seq++ {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return errProxyClientGone
			}
			return fmt.Errorf("mux: proxy: reading packet length from client: %w", err)
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n < 2 || n > proxyMaxPacketLen {
			return fmt.Errorf("mux: proxy: client sent a packet of %d bytes; want 2 to %d (is it speaking the SSH connection protocol after MUX_S_PROXY?)", n, proxyMaxPacketLen)
		}
		if cap(buf) < int(n) {
			buf = make([]byte, n)
		}
		buf = buf[:n]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("mux: proxy: reading a %d-byte packet from client: %w", n, err)
		}
		// The payload sits between the padding-length byte and the padding;
		// x/crypto always sends no padding, but padding is legal SSH.
		pad := int(buf[0])
		if pad > int(n)-2 {
			return fmt.Errorf("mux: proxy: client packet of %d bytes claims %d bytes of padding", n, pad)
		}
		if err := p.dispatch(seq, buf[1:int(n)-pad]); err != nil {
			return err
		}
	}
}

// dispatch acts on one packet payload from the client. Whatever it keeps
// beyond the call it copies, as pkt is reused.
func (p *proxy) dispatch(seq uint32, pkt []byte) error {
	typ := pkt[0]
	s := cryptobyte.String(pkt[1:])
	switch typ {
	case sshMsgDisconnect:
		return errProxyClientGone
	case sshMsgIgnore, sshMsgDebug, sshMsgUnimplemented:
		return nil
	case sshMsgGlobalRequest:
		var name []byte
		var want bool
		if !proxyReadString(&s, &name) || !proxyReadBool(&s, &want) {
			return proxyMalformed("GLOBAL_REQUEST")
		}
		select {
		case p.globals <- proxyGlobal{name: string(name), want: want, payload: bytes.Clone(s)}:
			return nil
		default:
			return fmt.Errorf("mux: proxy: client has %d global requests waiting for the upstream connection; refusing more", proxyMaxQueuedOps)
		}
	case sshMsgChannelOpen:
		var name []byte
		var peer, window, maxPacket uint32
		if !proxyReadString(&s, &name) || !s.ReadUint32(&peer) || !s.ReadUint32(&window) || !s.ReadUint32(&maxPacket) {
			return proxyMalformed("CHANNEL_OPEN")
		}
		p.open(string(name), peer, window, maxPacket, bytes.Clone(s))
		return nil
	case sshMsgChannelWindowAdjust, sshMsgChannelData, sshMsgChannelExtendedData,
		sshMsgChannelEOF, sshMsgChannelClose, sshMsgChannelRequest,
		sshMsgChannelSuccess, sshMsgChannelFailure:
		return p.dispatchChannel(typ, s)
	default:
		// Including OPEN_CONFIRMATION/FAILURE and REQUEST_SUCCESS/FAILURE:
		// we never open channels toward the client or send it global
		// requests, so those have nothing to answer.
		p.out.send(newProxyOut(sshMsgUnimplemented, 4).u32(seq).done())
		return nil
	}
}

// dispatchChannel acts on a message addressed to one of our channels.
func (p *proxy) dispatchChannel(typ byte, s cryptobyte.String) error {
	var id uint32
	if !s.ReadUint32(&id) {
		return proxyMalformed(proxyMsgName(typ))
	}
	p.mu.Lock()
	c := p.channels[id]
	p.mu.Unlock()
	if c == nil {
		return fmt.Errorf("mux: proxy: client sent %s for channel %d, which is not open", proxyMsgName(typ), id)
	}
	switch typ {
	case sshMsgChannelWindowAdjust:
		var n uint32
		if !s.ReadUint32(&n) || !s.Empty() {
			return proxyMalformed("CHANNEL_WINDOW_ADJUST")
		}
		c.adjustPeerWindow(n)
		return nil
	case sshMsgChannelData:
		var data []byte
		if !proxyReadString(&s, &data) || !s.Empty() {
			return proxyMalformed("CHANNEL_DATA")
		}
		return c.fromClient(proxyOp{kind: proxyOpData, data: data})
	case sshMsgChannelExtendedData:
		var code uint32
		var data []byte
		if !s.ReadUint32(&code) || !proxyReadString(&s, &data) || !s.Empty() {
			return proxyMalformed("CHANNEL_EXTENDED_DATA")
		}
		return c.fromClient(proxyOp{kind: proxyOpData, code: code, data: data})
	case sshMsgChannelEOF:
		return c.fromClient(proxyOp{kind: proxyOpEOF})
	case sshMsgChannelClose:
		c.closeFromClient()
		return nil
	case sshMsgChannelRequest:
		var name []byte
		var want bool
		if !proxyReadString(&s, &name) || !proxyReadBool(&s, &want) {
			return proxyMalformed("CHANNEL_REQUEST")
		}
		return c.fromClient(proxyOp{kind: proxyOpRequest, name: string(name), want: want, data: s})
	default: // sshMsgChannelSuccess, sshMsgChannelFailure
		c.replyUpstream(typ == sshMsgChannelSuccess)
		return nil
	}
}

// open reserves an id for a channel the client asked for and opens it on up
// in a goroutine of its own, since that takes a round trip to the server.
func (p *proxy) open(name string, peer, window, maxPacket uint32, extra []byte) {
	// x/crypto's own server refuses these packet sizes in the same way.
	if maxPacket < 9 || maxPacket > 1<<31 {
		p.out.send(proxyOpenFailure(peer, ssh.ConnectionFailed, fmt.Sprintf("invalid max packet size %d", maxPacket)))
		return
	}
	p.mu.Lock()
	id := p.nextID
	for {
		_, busy := p.channels[id]
		_, reserved := p.opening[id]
		if !busy && !reserved {
			break
		}
		id++
	}
	p.nextID = id + 1
	p.opening[id] = struct{}{}
	p.mu.Unlock()

	p.wg.Go(func() {
		ch, reqs, err := p.up.OpenChannel(name, extra)
		if err != nil {
			p.mu.Lock()
			delete(p.opening, id)
			p.mu.Unlock()
			// The reason code goes through unchanged: fleet tells sshd's
			// MaxSessions refusal apart from other failures by it.
			reason, msg := ssh.ConnectionFailed, fmt.Sprintf("fleet master: opening %q channel upstream: %v", name, err)
			if oe, ok := errors.AsType[*ssh.OpenChannelError](err); ok {
				reason, msg = oe.Reason, oe.Message
			}
			p.out.send(proxyOpenFailure(peer, reason, msg))
			return
		}
		c := &proxyChannel{
			p:         p,
			id:        id,
			peer:      peer,
			maxPacket: min(maxPacket, proxyPacket),
			up:        ch,
			peerWin:   window,
			ourWin:    proxyWindow,
			pumps:     2,
		}
		c.winCond.L = &c.mu
		c.opCond.L = &c.mu
		c.pumpsDone.Add(2)

		p.mu.Lock()
		delete(p.opening, id)
		if p.dead {
			p.mu.Unlock()
			ch.Close()
			ssh.DiscardRequests(reqs)
			return
		}
		p.channels[id] = c
		// Queued before anything the channel's goroutines send, and started
		// under p.mu so that shutdown, which sets dead under it, waits for
		// them.
		p.out.send(newProxyOut(sshMsgChannelOpenConfirm, 16).u32(peer).u32(id).u32(proxyWindow).u32(proxyPacket).done())
		p.wg.Go(c.work)
		p.wg.Go(func() { c.pump(ch, 0) })
		p.wg.Go(func() { c.pump(ch.Stderr(), 1) })
		p.wg.Go(func() { c.forward(reqs) })
		p.mu.Unlock()
	})
}

// forget drops a channel whose CLOSE has gone both ways and whose upstream
// side has finished.
func (p *proxy) forget(id uint32) {
	p.mu.Lock()
	delete(p.channels, id)
	p.mu.Unlock()
}

// serveGlobals relays the client's global requests to up, one at a time so
// that the replies keep the order of the requests.
func (p *proxy) serveGlobals() {
	for g := range p.globals {
		var ok bool
		var resp []byte
		switch g.name {
		case "tcpip-forward", "cancel-tcpip-forward",
			"streamlocal-forward@openssh.com", "cancel-streamlocal-forward@openssh.com",
			// OpenSSH's ssh sends this once its session is open (when it is
			// not a master itself); passed on, it would make sshd refuse
			// every later session of the shared connection.
			"no-more-sessions@openssh.com":
			ok = false
		default:
			var err error
			ok, resp, err = p.up.SendRequest(g.name, g.want, g.payload)
			if err != nil {
				ok = false
			}
		}
		if !g.want {
			continue
		}
		if ok {
			p.out.send(newProxyOut(sshMsgRequestSuccess, len(resp)).raw(resp).done())
		} else {
			p.out.send(newProxyOut(sshMsgRequestFailure, 0).done())
		}
	}
}

// shutdown stops everything after the read loop ended: output to the client
// stops, every upstream channel is closed, and every goroutine is waited for.
func (p *proxy) shutdown() {
	p.mu.Lock()
	p.dead = true
	chans := make([]*proxyChannel, 0, len(p.channels))
	for _, c := range p.channels {
		chans = append(chans, c)
	}
	p.mu.Unlock()

	p.out.close()
	for _, c := range chans {
		c.stop()
	}
	close(p.globals)
	p.wg.Wait()
}

// proxyChannel is one channel the client opened, bridged to an upstream
// channel. Client messages are queued for work, which performs them on up
// in order; pump and forward carry what up sends back to the client.
type proxyChannel struct {
	p         *proxy
	id        uint32 // ours: the client addresses the channel by it
	peer      uint32 // the client's: we address the channel by it
	maxPacket uint32 // largest data payload the client accepts, capped at proxyPacket
	up        ssh.Channel

	mu      sync.Mutex
	winCond sync.Cond // peerWin grew, or the channel is closing
	opCond  sync.Cond // ops grew, or the proxy stopped
	peerWin uint32    // bytes we may still send the client
	ourWin  uint32    // bytes the client may still send us
	ops     []proxyOp // client messages waiting for work
	ctlOps  int       // ops that are not data, which the window does not bound
	// pendingUp are upstream requests relayed to the client that wait for
	// its CHANNEL_SUCCESS/FAILURE, oldest first.
	pendingUp []*ssh.Request
	// replies counts the client's requests that want a reply and have
	// not had it: CLOSE waits for them, as a reply can't follow it (the
	// upstream's reply and its CLOSE reach us on different goroutines).
	replies   int
	pumps     int            // pump goroutines still running
	pumpsDone sync.WaitGroup // forward waits on it: CLOSE goes after all output
	closeSent bool           // we sent CLOSE, or the proxy stopped: send nothing more
	closeRecv bool           // the client sent CLOSE
	upDone    bool           // forward has finished: up is closed and drained
	stopped   bool           // the proxy is shutting down
}

// proxyOpKind says what a proxyOp asks of the upstream channel.
type proxyOpKind uint8

const (
	proxyOpData proxyOpKind = iota
	proxyOpEOF
	proxyOpClose
	proxyOpRequest
)

// proxyOp is one client message for the upstream channel.
type proxyOp struct {
	kind proxyOpKind
	code uint32 // data: 0 for CHANNEL_DATA, else the EXTENDED_DATA type
	data []byte // data, or the request's payload
	name string // request type
	want bool   // request wants a reply
}

// fromClient queues a data, EOF or request message for work. Data must fit
// the window we advertised, so a channel whose upstream is slow holds at
// most a window of data and never stalls the read loop.
func (c *proxyChannel) fromClient(op proxyOp) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeSent || c.closeRecv {
		// Sent before the client saw our CLOSE: there is no one left to
		// deliver it to, and no reply may follow our CLOSE.
		return nil
	}
	if op.kind == proxyOpData {
		n := len(op.data)
		if n == 0 {
			return nil
		}
		if uint64(n) > uint64(c.ourWin) {
			return fmt.Errorf("mux: proxy: client sent %d bytes on channel %d with only %d left in the window", n, c.id, c.ourWin)
		}
		c.ourWin -= uint32(n)
		if k := len(c.ops); k > 0 {
			last := &c.ops[k-1]
			if last.kind == proxyOpData && last.code == op.code && len(last.data) < proxyCoalesce {
				last.data = append(last.data, op.data...)
				return nil
			}
		}
	} else {
		if c.ctlOps >= proxyMaxQueuedOps {
			return fmt.Errorf("mux: proxy: client has %d requests waiting on channel %d; refusing more", c.ctlOps, c.id)
		}
		c.ctlOps++
		if op.kind == proxyOpRequest && op.want {
			c.replies++
		}
	}
	op.data = bytes.Clone(op.data)
	c.ops = append(c.ops, op)
	c.opCond.Signal()
	return nil
}

// closeFromClient handles the client's CLOSE: the upstream channel is
// closed once what the client sent before is delivered, and the client gets
// our CLOSE now if it has not had it, as nothing more will be sent to it.
func (c *proxyChannel) closeFromClient() {
	c.mu.Lock()
	if c.closeRecv {
		c.mu.Unlock()
		return
	}
	c.closeRecv = true
	c.ops = append(c.ops, proxyOp{kind: proxyOpClose})
	c.opCond.Signal()
	if !c.closeSent {
		c.closeSent = true
		c.p.out.send(newProxyOut(sshMsgChannelClose, 4).u32(c.peer).done())
	}
	c.winCond.Broadcast()
	pending := c.pendingUp
	c.pendingUp = nil
	forget := c.upDone
	c.mu.Unlock()

	for _, r := range pending {
		r.Reply(false, nil)
	}
	if forget {
		c.p.forget(c.id)
	}
}

// replyUpstream relays the client's CHANNEL_SUCCESS or FAILURE to the
// oldest upstream request waiting for one. A reply nobody waits for is
// dropped, as x/crypto does.
func (c *proxyChannel) replyUpstream(ok bool) {
	c.mu.Lock()
	if len(c.pendingUp) == 0 {
		c.mu.Unlock()
		return
	}
	r := c.pendingUp[0]
	c.pendingUp = c.pendingUp[1:]
	c.mu.Unlock()
	// Only a write on up's transport, which no channel's window holds up.
	r.Reply(ok, nil)
}

// adjustPeerWindow adds the client's WINDOW_ADJUST to what we may send it.
func (c *proxyChannel) adjustPeerWindow(n uint32) {
	c.mu.Lock()
	// A window cannot exceed 2^32-1 bytes (RFC 4254 section 5.2); a client
	// that overshoots gets the most it can have rather than a wrapped one.
	if n > ^uint32(0)-c.peerWin {
		c.peerWin = ^uint32(0)
	} else {
		c.peerWin += n
	}
	c.winCond.Broadcast()
	c.mu.Unlock()
}

// work performs the client's messages on the upstream channel, in order,
// until the client's CLOSE is done or the proxy stops. Blocking here (on
// up's window, or on a request's reply) holds up this channel only.
func (c *proxyChannel) work() {
	for {
		c.mu.Lock()
		for len(c.ops) == 0 && !c.stopped {
			c.opCond.Wait()
		}
		if c.stopped {
			c.mu.Unlock()
			return
		}
		ops := c.ops
		c.ops, c.ctlOps = nil, 0
		c.mu.Unlock()

		for _, op := range ops {
			switch op.kind {
			case proxyOpData:
				// A failed write means up is closing; the client learns that
				// from our CLOSE, and meanwhile gets its window back.
				switch op.code {
				case 0:
					c.up.Write(op.data)
				case 1:
					c.up.Stderr().Write(op.data)
				default:
					// RFC 4254 defines no other type; x/crypto drops them too.
				}
				c.mu.Lock()
				if !c.closeSent {
					c.ourWin += uint32(len(op.data))
					c.p.out.send(newProxyOut(sshMsgChannelWindowAdjust, 8).u32(c.peer).u32(uint32(len(op.data))).done())
				}
				c.mu.Unlock()
			case proxyOpEOF:
				c.up.CloseWrite()
			case proxyOpClose:
				c.up.Close()
				return
			case proxyOpRequest:
				ok, err := c.up.SendRequest(op.name, op.want, op.data)
				if !op.want {
					continue
				}
				typ := byte(sshMsgChannelSuccess)
				if !ok || err != nil {
					typ = sshMsgChannelFailure
				}
				c.mu.Lock()
				if !c.closeSent {
					c.p.out.send(newProxyOut(typ, 4).u32(c.peer).done())
				}
				c.replies--
				c.winCond.Broadcast()
				c.mu.Unlock()
			}
		}
	}
}

// pump copies one upstream output stream (code 0 for stdout, 1 for stderr)
// to the client within its window. The last pump to find its stream drained
// sends EOF.
func (c *proxyChannel) pump(src io.Reader, code uint32) {
	// Read before waiting for window, never the other way round: a pump
	// that held window while waiting for output could starve the other
	// stream, and a command blocked writing that stream would never exit.
	buf := make([]byte, c.maxPacket)
	for {
		n, err := src.Read(buf)
		if n > 0 && !c.sendData(code, buf[:n]) {
			break
		}
		if err != nil {
			break
		}
	}
	c.mu.Lock()
	c.pumps--
	if c.pumps == 0 && !c.closeSent {
		c.p.out.send(newProxyOut(sshMsgChannelEOF, 4).u32(c.peer).done())
	}
	c.mu.Unlock()
	c.pumpsDone.Done()
}

// sendData sends b to the client in packets that fit its window and max
// packet size. It reports false when the channel is closing and b was
// dropped.
func (c *proxyChannel) sendData(code uint32, b []byte) bool {
	for len(b) > 0 {
		c.p.out.waitRoom()
		c.mu.Lock()
		for c.peerWin == 0 && !c.closeSent {
			c.winCond.Wait()
		}
		if c.closeSent {
			c.mu.Unlock()
			return false
		}
		n := min(uint32(len(b)), c.peerWin)
		c.peerWin -= n
		if code == 0 {
			c.p.out.send(newProxyOut(sshMsgChannelData, 8+int(n)).u32(c.peer).str(b[:n]).done())
		} else {
			c.p.out.send(newProxyOut(sshMsgChannelExtendedData, 12+int(n)).u32(c.peer).u32(code).str(b[:n]).done())
		}
		c.mu.Unlock()
		b = b[n:]
	}
	return true
}

// forward relays the upstream channel's requests (exit-status, exit-signal,
// eow@openssh.com, keepalives …) to the client until up closes the channel,
// then sends CLOSE once both output streams are through.
func (c *proxyChannel) forward(reqs <-chan *ssh.Request) {
	// reqs is drained to the end whatever happens: x/crypto's connection
	// stalls if a channel's requests are not read.
	for r := range reqs {
		c.mu.Lock()
		if c.closeSent {
			c.mu.Unlock()
			r.Reply(false, nil)
			continue
		}
		if r.WantReply {
			c.pendingUp = append(c.pendingUp, r)
		}
		c.p.out.send(newProxyOut(sshMsgChannelRequest, 9+len(r.Type)+len(r.Payload)).
			u32(c.peer).str([]byte(r.Type)).bool(r.WantReply).raw(r.Payload).done())
		c.mu.Unlock()
	}

	// CLOSE must follow every byte of output: wait for the pumps, which end
	// soon now that up has closed the channel and its streams hit EOF.
	c.pumpsDone.Wait()
	c.mu.Lock()
	for c.replies > 0 && !c.closeSent {
		c.winCond.Wait()
	}
	if !c.closeSent {
		c.closeSent = true
		c.p.out.send(newProxyOut(sshMsgChannelClose, 4).u32(c.peer).done())
	}
	c.upDone = true
	c.winCond.Broadcast()
	pending := c.pendingUp
	c.pendingUp = nil
	forget := c.closeRecv
	c.mu.Unlock()

	for _, r := range pending {
		r.Reply(false, nil)
	}
	if forget {
		c.p.forget(c.id)
	}
}

// stop ends the channel because the proxy is shutting down: nothing more is
// sent to the client and the upstream channel is closed.
func (c *proxyChannel) stop() {
	c.mu.Lock()
	c.stopped = true
	c.closeSent = true
	c.winCond.Broadcast()
	c.opCond.Broadcast()
	pending := c.pendingUp
	c.pendingUp = nil
	c.mu.Unlock()
	for _, r := range pending {
		r.Reply(false, nil)
	}
	c.up.Close()
}

// proxyQueue is the ordered output to the client, written by one goroutine
// (run) so that the read loop never blocks on a client that is slow to read.
type proxyQueue struct {
	conn net.Conn

	mu     sync.Mutex
	cond   sync.Cond // pkts grew, size shrank, or closed
	pkts   [][]byte
	size   int // bytes queued or being written
	closed bool
	err    error // why the queue failed, if it did
}

func (q *proxyQueue) init(conn net.Conn) {
	q.conn = conn
	q.cond.L = &q.mu
}

// send queues a framed packet. It never blocks; a client that lets
// proxyQueueHard bytes pile up is disconnected.
func (q *proxyQueue) send(pkt []byte) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	if q.size+len(pkt) > proxyQueueHard {
		q.failLocked(fmt.Errorf("mux: proxy: client is not reading: %d bytes of output waiting for it", q.size))
		return
	}
	q.pkts = append(q.pkts, pkt)
	q.size += len(pkt)
	q.cond.Broadcast()
}

// waitRoom blocks while the queue holds more than proxyQueueSoft bytes, so
// that channel output waits for the client instead of piling up.
func (q *proxyQueue) waitRoom() {
	q.mu.Lock()
	for q.size >= proxyQueueSoft && !q.closed {
		q.cond.Wait()
	}
	q.mu.Unlock()
}

// run writes queued packets to the client until the queue is closed or a
// write fails.
func (q *proxyQueue) run() {
	for {
		q.mu.Lock()
		for len(q.pkts) == 0 && !q.closed {
			q.cond.Wait()
		}
		if q.closed {
			q.mu.Unlock()
			return
		}
		batch := net.Buffers(q.pkts)
		q.pkts = nil
		n := 0
		for _, b := range batch {
			n += len(b)
		}
		q.mu.Unlock()

		_, err := batch.WriteTo(q.conn)

		q.mu.Lock()
		q.size -= n
		q.cond.Broadcast()
		switch {
		case err == nil:
		case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.ErrClosedPipe):
			// The client hung up while we wrote, which is how it ends.
			q.failLocked(errProxyClientGone)
		default:
			q.failLocked(fmt.Errorf("mux: proxy: writing to client: %w", err))
		}
		q.mu.Unlock()
	}
}

// failLocked closes the queue and the connection because of err.
func (q *proxyQueue) failLocked(err error) {
	if q.closed {
		return
	}
	q.closed = true
	q.err = err
	q.pkts = nil
	q.conn.Close()
	q.cond.Broadcast()
}

// close stops output and closes the connection.
func (q *proxyQueue) close() {
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		q.pkts = nil
		q.cond.Broadcast()
	}
	q.mu.Unlock()
	q.conn.Close()
}

// failure returns the error that made the queue fail, if one did.
func (q *proxyQueue) failure() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.err
}

// proxyOut builds one framed packet: u32 length, a zero padding length, the
// message type and its fields, as x/crypto's control transport expects.
type proxyOut []byte

func newProxyOut(typ byte, size int) proxyOut {
	b := make([]byte, 6, 6+size)
	b[5] = typ
	return b
}

func (o proxyOut) u32(v uint32) proxyOut { return binary.BigEndian.AppendUint32(o, v) }

func (o proxyOut) str(s []byte) proxyOut { return append(o.u32(uint32(len(s))), s...) }

func (o proxyOut) raw(s []byte) proxyOut { return append(o, s...) }

func (o proxyOut) bool(v bool) proxyOut {
	if v {
		return append(o, 1)
	}
	return append(o, 0)
}

func (o proxyOut) done() []byte {
	binary.BigEndian.PutUint32(o, uint32(len(o)-4))
	return o
}

func proxyOpenFailure(peer uint32, reason ssh.RejectionReason, msg string) []byte {
	return newProxyOut(sshMsgChannelOpenFailure, 16+len(msg)).
		u32(peer).u32(uint32(reason)).str([]byte(msg)).str(nil).done()
}

// proxyReadString reads an SSH string (u32 length and bytes), bounds-checked.
func proxyReadString(s *cryptobyte.String, out *[]byte) bool {
	var n uint32
	return s.ReadUint32(&n) && uint64(n) <= uint64(len(*s)) && s.ReadBytes(out, int(n))
}

// proxyReadBool reads an SSH boolean: any non-zero byte is true (RFC 4251).
func proxyReadBool(s *cryptobyte.String, out *bool) bool {
	var b uint8
	if !s.ReadUint8(&b) {
		return false
	}
	*out = b != 0
	return true
}

func proxyMalformed(what string) error {
	return fmt.Errorf("mux: proxy: client sent a malformed %s message", what)
}

// proxyMsgName names a channel message type for errors.
func proxyMsgName(typ byte) string {
	switch typ {
	case sshMsgChannelWindowAdjust:
		return "CHANNEL_WINDOW_ADJUST"
	case sshMsgChannelData:
		return "CHANNEL_DATA"
	case sshMsgChannelExtendedData:
		return "CHANNEL_EXTENDED_DATA"
	case sshMsgChannelEOF:
		return "CHANNEL_EOF"
	case sshMsgChannelClose:
		return "CHANNEL_CLOSE"
	case sshMsgChannelRequest:
		return "CHANNEL_REQUEST"
	case sshMsgChannelSuccess:
		return "CHANNEL_SUCCESS"
	case sshMsgChannelFailure:
		return "CHANNEL_FAILURE"
	}
	return fmt.Sprintf("message %d", typ)
}
