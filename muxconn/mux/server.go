package mux

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
)

// DefaultRequestTimeout is how long a control client may take to send its
// HELLO and each request before it has a session; a client that connects
// and sends nothing must not hold a goroutine forever.
const DefaultRequestTimeout = 30 * time.Second

// Server serves OpenSSH's multiplexing protocol (version 4) on a unix
// socket on behalf of an SSH connection fleet already holds, so that stock
// `ssh -S PATH`, scp, sftp and `rsync -e ssh` ride that connection. Each
// control connection carries at most one session, as with OpenSSH's master.
//
// Port forwarding requests (-L, -R, -D through the master, `ssh -O
// forward`) are refused, and X11 and agent forwarding requests are ignored.
// The escape character (~.) is not interpreted.
//
// Set the fields before calling Serve and do not change them afterwards.
type Server struct {
	// Up is the connection that sessions are opened on.
	Up Upstream
	// Logf, when set, receives one line per noteworthy event (refused
	// clients, malformed messages, failed sessions).
	Logf func(format string, args ...any)
	// OnTerminate is called when a client sends TERMINATE (ssh -O exit),
	// before the reply; the owner then stops the master, typically by
	// canceling Serve's context. It runs on the connection's goroutine,
	// which Serve waits for: it must not wait for Serve to return. When
	// nil, TERMINATE is answered with PERMISSION_DENIED.
	OnTerminate func()
	// OnStopListening is called for STOP_LISTENING (ssh -O stop): the owner
	// closes the listener and removes the socket, and the sessions already
	// open carry on. The same rules as for OnTerminate apply.
	OnStopListening func()
	// RequestTimeout bounds the wait for a client's HELLO and for each
	// request before a session starts; 0 means DefaultRequestTimeout.
	RequestTimeout time.Duration

	startOnce   sync.Once
	mu          sync.Mutex
	started     time.Time
	lastActive  time.Time
	active      int
	conns       int
	nextSession atomic.Uint32
}

func (s *Server) logf(format string, args ...any) {
	if s.Logf != nil {
		s.Logf(format, args...)
	}
}

func (s *Server) requestTimeout() time.Duration {
	if s.RequestTimeout > 0 {
		return s.RequestTimeout
	}
	return DefaultRequestTimeout
}

// Active returns the number of sessions open now: sessions (commands,
// shells, subsystems), stdio forwards and proxy clients.
func (s *Server) Active() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.active
}

// LastActive returns when the last session ended, or when Serve was first
// called if none has ended yet; ControlPersist's idle time counts from it
// while Active is 0.
func (s *Server) LastActive() time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastActive
}

// Conns returns the control connections open now, with or without a
// session: a master that stopped listening ends when this reaches 0, so
// that a client caught between connecting and opening its session is not
// cut off.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.conns
}

func (s *Server) sessionStarted() {
	s.mu.Lock()
	s.active++
	s.mu.Unlock()
}

func (s *Server) sessionEnded() {
	s.mu.Lock()
	s.active--
	s.lastActive = time.Now()
	s.mu.Unlock()
}

// Serve accepts control clients on l until ctx ends or l is closed. When l
// is closed, the clients already connected are served to their end; when ctx
// ends, they are disconnected and their sessions closed. Either way Serve
// returns only after every connection's goroutine has finished, with nil, or
// with the error that made accepting impossible. Serve closes l when ctx
// ends; it never removes the socket file.
func (s *Server) Serve(ctx context.Context, l *net.UnixListener) error {
	if s.Up == nil {
		return errors.New("mux: Server.Up is nil; set it to the SSH connection (such as an *ssh.Client) the master serves")
	}
	s.startOnce.Do(func() {
		now := time.Now()
		s.mu.Lock()
		s.started, s.lastActive = now, now
		s.mu.Unlock()
	})
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	var backoff time.Duration
	for {
		c, err := l.AcceptUnix()
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return nil
			}
			if !isTemporary(err) {
				return fmt.Errorf("mux: accepting control clients on %s: %w", l.Addr(), err)
			}
			// Out of descriptors, most likely: wait for some to be freed,
			// as net/http does, rather than spin or give up.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("mux: accepting on %s: %v; retrying in %v", l.Addr(), err, backoff)
			t := time.NewTimer(backoff)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			continue
		}
		backoff = 0
		wg.Go(func() { s.serveConn(ctx, c) })
	}
}

func isTemporary(err error) bool {
	for _, e := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}

// status returns the reply to fleet's status request.
func (s *Server) status(id uint32) *FleetStatusReply {
	s.mu.Lock()
	defer s.mu.Unlock()
	return &FleetStatusReply{
		ID:         id,
		PID:        uint32(os.Getpid()),
		Started:    uint64(s.started.UnixNano()),
		LastActive: uint64(s.lastActive.UnixNano()),
		Active:     uint32(s.active),
	}
}

// client is one control connection.
type client struct {
	s   *Server
	ctx context.Context
	c   *net.UnixConn

	wmu  sync.Mutex     // serializes writes of whole packets
	sess *session       // the connection's one session, set by the request loop
	wg   sync.WaitGroup // the session's goroutine
}

func (s *Server) serveConn(ctx context.Context, c *net.UnixConn) {
	s.mu.Lock()
	s.conns++
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.conns--
		s.mu.Unlock()
	}()
	defer c.Close()
	if err := PeerAllowed(c); err != nil {
		s.logf("%v", err)
		return
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	cl := &client{s: s, ctx: ctx, c: c}
	cl.serve()
}

// send writes one message; a client that does not read its replies is
// dropped after the request timeout.
func (cl *client) send(m Message) error {
	cl.wmu.Lock()
	defer cl.wmu.Unlock()
	cl.c.SetWriteDeadline(time.Now().Add(cl.s.requestTimeout()))
	return WritePacket(cl.c, m)
}

// reply sends m and reports whether the connection is still good.
func (cl *client) reply(m Message) bool {
	if err := cl.send(m); err != nil {
		cl.logErr(err)
		return false
	}
	return true
}

// logErr logs err unless it only says that the connection went away.
func (cl *client) logErr(err error) {
	var ne net.Error
	switch {
	case errors.Is(err, ErrClosed), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
	case errors.As(err, &ne) && ne.Timeout():
		cl.s.logf("mux: dropping a control client that sent nothing for %v", cl.s.requestTimeout())
	default:
		cl.s.logf("%v", err)
	}
}

func (cl *client) serve() {
	timeout := cl.s.requestTimeout()
	cl.c.SetReadDeadline(time.Now().Add(timeout))
	// The master speaks first, as OpenSSH's does on accept.
	if !cl.reply(&Hello{Version: Version, Extensions: []Extension{{Name: FleetExtension}}}) {
		return
	}
	body, err := ReadPacket(cl.c)
	if err != nil {
		cl.logErr(err)
		return
	}
	m, err := Decode(body)
	if err != nil {
		cl.s.logf("%v; closing the control connection", err)
		return
	}
	h, ok := m.(*Hello)
	switch {
	case !ok:
		cl.s.logf("mux: expected %s from a control client, got %s; closing the connection", MsgHello, m.Type())
		return
	case h.Version != Version:
		cl.s.logf("mux: a control client speaks mux protocol version %d, not %d; closing the connection", h.Version, Version)
		return
	}
	for {
		if cl.sess == nil {
			cl.c.SetReadDeadline(time.Now().Add(timeout))
		} else {
			// The client now waits, silently, for its session to end.
			cl.c.SetReadDeadline(time.Time{})
		}
		body, err := ReadPacket(cl.c)
		if err != nil {
			cl.logErr(err)
			break
		}
		m, err := Decode(body)
		if err != nil {
			// mux.c drops a client that sends a malformed message.
			cl.s.logf("%v; closing the control connection", err)
			break
		}
		if !cl.handle(m, body) {
			break
		}
	}
	if cl.sess != nil {
		// The client went away (ssh was killed, say): like OpenSSH's
		// master, close its session rather than leave it running.
		cl.sess.abort()
	}
	cl.wg.Wait()
}

// handle answers one request; it returns false when the connection is done.
func (cl *client) handle(m Message, body []byte) bool {
	s := cl.s
	switch m := m.(type) {
	case *Hello:
		s.logf("mux: a control client sent %s twice; closing the connection", MsgHello)
		return false
	case *AliveCheck:
		return cl.reply(&Alive{ID: m.ID, PID: uint32(os.Getpid())})
	case *NewSession:
		return cl.newSession(m)
	case *NewStdioFwd:
		return cl.newStdioFwd(m)
	case *Terminate:
		if s.OnTerminate == nil {
			return cl.reply(&PermissionDenied{ID: m.ID, Reason: "this master cannot be stopped through its control socket"})
		}
		// The hook runs first, so that a client that got its reply knows
		// the owner has heard. Should the owner close this connection
		// before the reply gets out, ssh takes the EOF as success too.
		s.logf("mux: a control client asked the master to exit")
		s.OnTerminate()
		return cl.reply(&OK{ID: m.ID})
	case *StopListeningRequest:
		if s.OnStopListening == nil {
			return cl.reply(&PermissionDenied{ID: m.ID, Reason: "this master cannot stop listening on request"})
		}
		s.logf("mux: a control client asked the master to stop listening")
		s.OnStopListening()
		return cl.reply(&OK{ID: m.ID})
	case *OpenFwd:
		return cl.reply(&Failure{ID: m.ID, Reason: "port forwarding through fleet's master is not supported"})
	case *CloseFwd:
		return cl.reply(&Failure{ID: m.ID, Reason: "port forwarding through fleet's master is not supported"})
	case *Proxy:
		cl.proxy(m)
		return false
	case *FleetStatus:
		return cl.reply(s.status(m.ID))
	}
	// Anything else, replies included, is answered as mux.c does, keeping
	// the connection: every request starts with its request id.
	if len(body) < 8 {
		s.logf("mux: a control client sent %s without a request id; closing the connection", m.Type())
		return false
	}
	s.logf("mux: a control client sent %s, which this master does not support", m.Type())
	return cl.reply(&Failure{ID: binary.BigEndian.Uint32(body[4:]), Reason: "unsupported request"})
}

// receiveStdio receives the descriptors that follow a NEW_SESSION (stdin,
// stdout, stderr) or NEW_STDIO_FWD (stdin, stdout) packet.
func (cl *client) receiveStdio(n int) ([]*stdioFile, error) {
	names := []string{"stdin", "stdout", "stderr"}
	var files []*stdioFile
	for i := range n {
		fd, err := receiveFD(cl.c)
		if err != nil {
			for _, f := range files {
				f.close()
				f.release()
			}
			return nil, fmt.Errorf("%w (the client's %s)", err, names[i])
		}
		files = append(files, openStdio(fd, "mux client "+names[i], i > 0))
	}
	return files, nil
}

// startSession receives a session's descriptors and makes sure the
// connection has no session yet. When it has had to reply itself it
// returns no files, and whether the connection is still good.
func (cl *client) startSession(msg MsgType, id uint32, nfds int) ([]*stdioFile, bool) {
	files, err := cl.receiveStdio(nfds)
	if err != nil {
		cl.s.logf("mux: %s: %v", msg, err)
		cl.reply(&Failure{ID: id, Reason: "did not receive file descriptors"})
		return nil, false
	}
	if cl.sess != nil {
		for _, f := range files {
			f.close()
			f.release()
		}
		return nil, cl.reply(&Failure{ID: id, Reason: "Multiple sessions not supported"})
	}
	return files, true
}

func (cl *client) newSession(m *NewSession) bool {
	files, ok := cl.startSession(MsgNewSession, m.ID, 3)
	if files == nil {
		return ok
	}
	ch, reqs, err := cl.s.Up.OpenChannel("session", nil)
	if err != nil {
		for _, f := range files {
			f.close()
			f.release()
		}
		cl.s.logf("mux: opening a session for a control client: %v", err)
		// With this reply ssh falls back to a login of its own, as it does
		// with OpenSSH's master.
		return cl.reply(&Failure{ID: m.ID, Reason: "Session open refused by peer: " + err.Error()})
	}
	ss := cl.newSessionState(ch, files)
	ss.wg.Go(func() { ss.handleRequests(reqs, true) })

	// Set the session up before replying, as mux.c does in its open
	// confirmation. The client puts its terminal in raw mode on
	// SESSION_OPENED; the modes sent with "pty-req" were read when its
	// descriptors arrived, before that.
	ttyFailed := false
	if m.WantTTY != 0 {
		cols, rows, xpix, ypix, ok := files[0].winSize()
		if !ok {
			cols, rows, xpix, ypix = 80, 24, 0, 0
		}
		ok, err := ch.SendRequest("pty-req", true, ssh.Marshal(struct {
			Term                   string
			Cols, Rows, XPix, YPix uint32
			Modes                  string
		}{m.Term, cols, rows, xpix, ypix, string(files[0].termModes())}))
		ttyFailed = err != nil || !ok
		if ttyFailed {
			cl.s.logf("mux: session %d: the remote host refused a pty", ss.id)
		}
	}
	for _, e := range m.Env {
		name, value, found := strings.Cut(e, "=")
		if !found || name == "" {
			continue
		}
		// No reply wanted: a server that refuses a variable (AcceptEnv)
		// still runs the command, as with OpenSSH.
		ch.SendRequest("env", false, ssh.Marshal(struct{ Name, Value string }{name, value}))
	}
	var what string
	switch {
	case m.Subsystem != 0:
		what = fmt.Sprintf("subsystem %q", m.Command)
		ok, err = ch.SendRequest("subsystem", true, ssh.Marshal(struct{ Name string }{m.Command}))
	case m.Command == "":
		what = "shell"
		ok, err = ch.SendRequest("shell", true, nil)
	default:
		what = "exec"
		ok, err = ch.SendRequest("exec", true, ssh.Marshal(struct{ Command string }{m.Command}))
	}
	started := err == nil && ok

	sent := ss.replyOpened(m.ID)
	if sent && ttyFailed {
		cl.reply(&TTYAllocFail{SessionID: ss.id})
	}
	switch {
	case started:
	case err != nil:
		// The channel or the connection went away (or Serve is stopping).
		cl.s.logf("mux: session %d: sending the %s request: %v", ss.id, what, err)
	default:
		// OpenSSH's master closes the channel and the client exits with
		// 255; say why where the user will see it.
		cl.s.logf("mux: session %d: the remote host refused the %s request", ss.id, what)
		fmt.Fprintf(files[2].f, "fleet: the remote host refused the %s request\r\n", what)
		ch.Close()
	}
	cl.wg.Go(ss.run)
	return sent
}

func (cl *client) newStdioFwd(m *NewStdioFwd) bool {
	files, ok := cl.startSession(MsgNewStdioFwd, m.ID, 2)
	if files == nil {
		return ok
	}
	fail := func(reason string) bool {
		for _, f := range files {
			f.close()
			f.release()
		}
		cl.s.logf("mux: stdio forward to %s: %s", m.Host, reason)
		return cl.reply(&Failure{ID: m.ID, Reason: reason})
	}
	var chType string
	var payload []byte
	switch {
	case m.Port == PortStreamLocal:
		chType = "direct-streamlocal@openssh.com"
		payload = ssh.Marshal(struct {
			Path     string
			Reserved string
			Port     uint32
		}{m.Host, "", 0})
	case m.Port > 65535:
		return fail(fmt.Sprintf("invalid port %d", m.Port))
	default:
		chType = "direct-tcpip"
		payload = ssh.Marshal(struct {
			Host       string
			Port       uint32
			OriginHost string
			OriginPort uint32
		}{m.Host, m.Port, "127.0.0.1", 0})
	}
	ch, reqs, err := cl.s.Up.OpenChannel(chType, payload)
	if err != nil {
		return fail("Session open refused by peer: " + err.Error())
	}
	ss := cl.newSessionState(ch, files)
	ss.wg.Go(func() { ss.handleRequests(reqs, false) })
	sent := ss.replyOpened(m.ID)
	cl.wg.Go(ss.run)
	return sent
}

func (cl *client) proxy(m *Proxy) {
	if cl.sess != nil {
		cl.reply(&Failure{ID: m.ID, Reason: "Multiple sessions not supported"})
		return
	}
	if !cl.reply(&ProxyOK{ID: m.ID}) {
		return
	}
	cl.c.SetDeadline(time.Time{})
	cl.s.sessionStarted()
	defer cl.s.sessionEnded()
	if err := ServeProxy(cl.ctx, cl.c, cl.s.Up); err != nil && cl.ctx.Err() == nil {
		cl.logErr(fmt.Errorf("mux: proxy client: %w", err))
	}
}

// session is a client's one session: a session channel or a stdio
// forward, wired to the descriptors the client passed.
type session struct {
	cl    *client
	id    uint32
	ch    ssh.Channel
	files []*stdioFile   // stdin, stdout and (for sessions) stderr
	done  chan struct{}  // closed when the channel has closed
	wg    sync.WaitGroup // request handling, stdin copy, SIGWINCH relay

	mu          sync.Mutex
	opened      bool    // SESSION_OPENED was sent (or failed to be)
	pendingExit *uint32 // an exit status that came before SESSION_OPENED

	reqsDone  chan struct{} // closed when the channel's requests end
	abortOnce sync.Once
	stopAbort func() bool // stops the abort on the context's end
}

func (cl *client) newSessionState(ch ssh.Channel, files []*stdioFile) *session {
	ss := &session{
		cl:       cl,
		id:       cl.s.nextSession.Add(1),
		ch:       ch,
		files:    files,
		done:     make(chan struct{}),
		reqsDone: make(chan struct{}),
	}
	cl.sess = ss
	cl.s.sessionStarted()
	ss.stopAbort = context.AfterFunc(cl.ctx, ss.abort)
	return ss
}

// abort closes the channel and the client's descriptors, which ends every
// copy; run then cleans up.
func (ss *session) abort() {
	ss.abortOnce.Do(func() {
		ss.ch.Close()
		for _, f := range ss.files {
			f.close()
		}
	})
}

// handleRequests answers the remote's channel requests until the channel
// closes. x/crypto stalls the whole connection when a channel's request
// queue fills, so this runs from the moment the channel opens.
func (ss *session) handleRequests(reqs <-chan *ssh.Request, isSession bool) {
	defer close(ss.reqsDone)
	exitSent := false
	for req := range reqs {
		if req.WantReply {
			req.Reply(false, nil)
		}
		// "exit-signal" gets no EXIT_MESSAGE, so the client exits with
		// 255 as with OpenSSH's master; "eow@openssh.com" and the like
		// need nothing.
		if !isSession || req.Type != "exit-status" || exitSent {
			continue
		}
		var p struct{ Status uint32 }
		if ssh.Unmarshal(req.Payload, &p) != nil {
			continue
		}
		exitSent = true
		ss.mu.Lock()
		if ss.opened {
			ss.sendExit(p.Status)
		} else {
			// EXIT_MESSAGE before SESSION_OPENED would be taken for the
			// reply to NEW_SESSION: keep it for replyOpened. Waiting here
			// instead could stall the connection (see above).
			ss.pendingExit = &p.Status
		}
		ss.mu.Unlock()
	}
}

// replyOpened sends SESSION_OPENED, then any exit status that came first.
func (ss *session) replyOpened(id uint32) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	ok := ss.cl.reply(&SessionOpened{ID: id, SessionID: ss.id})
	ss.opened = true
	if ss.pendingExit != nil && ok {
		ss.sendExit(*ss.pendingExit)
	}
	return ok
}

func (ss *session) sendExit(status uint32) {
	if err := ss.cl.send(&ExitMessage{SessionID: ss.id, ExitValue: status}); err != nil {
		ss.cl.logErr(err)
	}
}

// run copies between the channel and the client's descriptors until the
// channel closes, then closes the descriptors and the control connection,
// which tells ssh that the session is over.
func (ss *session) run() {
	in := ss.files[0]
	ss.wg.Go(func() {
		if copyData(ss.ch, in.f) == nil {
			ss.ch.CloseWrite()
		}
	})
	var outs sync.WaitGroup
	outs.Go(func() { drain(ss.files[1].f, ss.ch) })
	if len(ss.files) > 2 {
		outs.Go(func() { drain(ss.files[2].f, ss.ch.Stderr()) })
	}
	if in.isTTY {
		ss.relayWinch()
	}
	outs.Wait()
	<-ss.reqsDone
	close(ss.done)
	ss.stopAbort()
	// The channel is closed: stop reading stdin, and wait for the
	// goroutines before giving the descriptors back.
	ss.abort()
	ss.wg.Wait()
	for _, f := range ss.files {
		f.release()
	}
	ss.cl.s.sessionEnded()
	ss.cl.c.Close()
}

// relayWinch passes the client's terminal size changes on: ssh relays
// SIGWINCH to the master's pid, and the master asks its tty for the size.
func (ss *session) relayWinch() {
	sig := make(chan os.Signal, 1)
	notifyWinch(sig)
	in := ss.files[0]
	cols, rows, _, _, _ := in.winSize()
	ss.wg.Go(func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ss.done:
				return
			case <-sig:
			}
			c, r, x, y, ok := in.winSize()
			if !ok || (c == cols && r == rows) {
				continue
			}
			cols, rows = c, r
			ss.ch.SendRequest("window-change", false, ssh.Marshal(struct{ Cols, Rows, XPix, YPix uint32 }{c, r, x, y}))
		}
	})
}

// copyData copies until src ends; it returns nil at EOF.
func copyData(dst io.Writer, src io.Reader) error {
	buf := make([]byte, 32<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// drain copies src to dst until src ends. Once dst fails (the reader of
// the client's stdout went away) the rest is read and dropped, as OpenSSH
// drops a channel's data after a local write error, so the remote is
// never blocked on a full window.
func drain(dst io.Writer, src io.Reader) {
	if err := copyData(dst, src); err != nil {
		io.Copy(io.Discard, src)
	}
}
