package labhost

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/ssh"
)

// DefaultMaxSessions is the number of concurrent session channels a
// connection may have when Options.MaxSessions is 0, matching sshd's
// MaxSessions default.
const DefaultMaxSessions = 10

// Options configure a lab host.
type Options struct {
	// Addr is the TCP address to listen on, such as "127.0.0.1:0".
	Addr string
	// HostKey is the server's host key. It is required.
	HostKey ssh.Signer
	// AuthorizedKeys are the public keys accepted for any user name.
	AuthorizedKeys []ssh.PublicKey
	// Password, when not empty, turns on password and keyboard-interactive
	// authentication (one prompt, "Password: ") with this password.
	Password string
	// MaxSessions limits the concurrent session channels per connection;
	// 0 means DefaultMaxSessions.
	MaxSessions int
	// Home is the working directory and HOME of commands and the SFTP
	// server's working directory; "" means the current directory.
	Home string
	// Shell runs commands as `Shell -c CMD`; "" means /bin/sh.
	Shell string
	// Logf, when set, receives one line per noteworthy event (failed
	// handshakes, refused channels, failed commands).
	Logf func(format string, args ...any)
}

// Stats are counters of what a Server has seen since it started.
type Stats struct {
	Connections           int64    // TCP connections accepted
	OpenConnections       int64    // TCP connections currently open
	Authenticated         int64    // connections that completed the SSH handshake and authentication
	SessionsOpened        int64    // session channels accepted
	SessionsRefused       int64    // session channels rejected because of MaxSessions
	OpenSessions          int64    // session channels currently open, over all connections
	MaxConcurrentSessions int64    // highest number of concurrent sessions seen on one connection
	ExecCount             int64    // "exec" requests that started a command
	SFTPCount             int64    // "sftp" subsystems started
	Forwards              int64    // direct-tcpip channels accepted
	Users                 []string // distinct user names that authenticated, sorted
}

// Server is a running lab host. Its methods are safe for concurrent use.
//
// Session channels support "exec" (run as `Shell -c CMD` in a process group
// of its own, which "signal" requests and a closing channel reach as a
// whole), "env" (every variable is accepted; there is no AcceptEnv filter),
// "signal" and the "sftp" subsystem. "pty-req" and "shell" get a false
// reply: fleet never asks for a terminal, and interactive use is out of
// scope. "direct-tcpip" channels are served to loopback destinations only,
// so a lab host can be a ProxyJump hop to another lab host.
type Server struct {
	opts   Options
	config *ssh.ServerConfig
	ln     net.Listener
	home   string
	shell  string

	ctx       context.Context // canceled when the server shuts down
	cancel    context.CancelFunc
	stopAfter func() bool // stops the shutdown hook on the caller's ctx
	closeOnce sync.Once
	done      chan struct{} // closed when shutdown has finished
	wg        sync.WaitGroup

	mu    sync.Mutex
	conns map[*labConn]struct{}
	users map[string]struct{}
	// stalled is nil when the host is not stalled, else a channel that is
	// closed on thaw. Atomic because every Read and Write looks at it.
	stalled atomic.Pointer[chan struct{}]

	connections, openConnections, authenticated   atomic.Int64
	sessionsOpened, sessionsRefused, openSessions atomic.Int64
	maxConcurrent, execCount, sftpCount, forwards atomic.Int64
}

// Start listens on opts.Addr and serves SSH until Close is called or ctx is
// done. Commands run as the current OS user whatever user name the client
// sends; that name is only recorded in Stats.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.HostKey == nil {
		return nil, errors.New("labhost: Options.HostKey is nil; generate one (e.g. ed25519) and wrap it with ssh.NewSignerFromKey")
	}
	if opts.MaxSessions < 0 {
		return nil, fmt.Errorf("labhost: Options.MaxSessions is %d; use 0 for the default (%d) or a positive limit", opts.MaxSessions, DefaultMaxSessions)
	}
	if opts.MaxSessions == 0 {
		opts.MaxSessions = DefaultMaxSessions
	}
	home := opts.Home
	if home == "" {
		wd, err := os.Getwd()
		if err != nil {
			return nil, fmt.Errorf("labhost: cannot find the current directory to use as home: %w; set Options.Home", err)
		}
		home = wd
	}
	home, err := filepath.Abs(home)
	if err != nil {
		return nil, fmt.Errorf("labhost: home %q: %w", opts.Home, err)
	}
	if fi, err := os.Stat(home); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("labhost: home %q is not a directory; create it first", home)
	}
	shell := opts.Shell
	if shell == "" {
		shell = "/bin/sh"
	}

	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("labhost: listen on %s: %w", opts.Addr, err)
	}
	s := &Server{
		opts:  opts,
		ln:    ln,
		home:  home,
		shell: shell,
		done:  make(chan struct{}),
		conns: make(map[*labConn]struct{}),
		users: make(map[string]struct{}),
	}
	s.config = s.serverConfig()
	s.ctx, s.cancel = context.WithCancel(ctx)
	s.wg.Go(s.acceptLoop)
	s.stopAfter = context.AfterFunc(s.ctx, s.shutdown)
	return s, nil
}

// Addr returns the address the server listens on.
func (s *Server) Addr() *net.TCPAddr { return s.ln.Addr().(*net.TCPAddr) }

// Close stops the listener, closes every connection, kills the process
// groups of running commands and waits until all of the server's goroutines
// and child processes have ended. It is safe to call more than once.
func (s *Server) Close() error {
	if s.stopAfter() {
		// The hook on ctx had not started, so shut down here.
		s.shutdown()
	}
	<-s.done
	return nil
}

func (s *Server) shutdown() {
	s.closeOnce.Do(func() {
		s.cancel()
		s.ln.Close()
		s.SetStalled(false)
		s.KillConnections()
		s.wg.Wait()
		close(s.done)
	})
	<-s.done
}

// KillConnections abruptly closes every open TCP connection, without an SSH
// disconnect message, as a crashed host or a dropped network would. Running
// commands of those connections are killed. The listener stays open.
func (s *Server) KillConnections() {
	s.mu.Lock()
	conns := make([]*labConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// SetStalled freezes (true) or thaws (false) the host. While stalled, new
// TCP connections are still accepted but no connection reads or writes
// anything, like a host that stopped answering without closing its sockets.
// Running commands keep running; their output waits.
func (s *Server) SetStalled(stalled bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	gate := s.stalled.Load()
	switch {
	case stalled && gate == nil && s.ctx.Err() == nil:
		ch := make(chan struct{})
		s.stalled.Store(&ch)
	case !stalled && gate != nil:
		s.stalled.Store(nil)
		close(*gate)
	}
}

// Stats returns a snapshot of the server's counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Connections:           s.connections.Load(),
		OpenConnections:       s.openConnections.Load(),
		Authenticated:         s.authenticated.Load(),
		SessionsOpened:        s.sessionsOpened.Load(),
		SessionsRefused:       s.sessionsRefused.Load(),
		OpenSessions:          s.openSessions.Load(),
		MaxConcurrentSessions: s.maxConcurrent.Load(),
		ExecCount:             s.execCount.Load(),
		SFTPCount:             s.sftpCount.Load(),
		Forwards:              s.forwards.Load(),
	}
	s.mu.Lock()
	for u := range s.users {
		st.Users = append(st.Users, u)
	}
	s.mu.Unlock()
	slices.Sort(st.Users)
	return st
}

func (s *Server) logf(format string, args ...any) {
	if s.opts.Logf != nil {
		s.opts.Logf("labhost %s: "+format, append([]any{s.ln.Addr()}, args...)...)
	}
}

func (s *Server) serverConfig() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		PublicKeyCallback: func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			wire := key.Marshal()
			for _, k := range s.opts.AuthorizedKeys {
				if bytes.Equal(k.Marshal(), wire) {
					return nil, nil
				}
			}
			return nil, fmt.Errorf("labhost: %s key %s is not authorized", key.Type(), ssh.FingerprintSHA256(key))
		},
		AuthLogCallback: func(meta ssh.ConnMetadata, method string, err error) {
			if err != nil && method != "none" {
				s.logf("auth %s for user %q from %s failed: %v", method, meta.User(), meta.RemoteAddr(), err)
			}
		},
	}
	if pw := s.opts.Password; pw != "" {
		check := func(got []byte) (*ssh.Permissions, error) {
			if subtle.ConstantTimeCompare(got, []byte(pw)) == 1 {
				return nil, nil
			}
			return nil, errors.New("labhost: wrong password")
		}
		cfg.PasswordCallback = func(_ ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			return check(password)
		}
		cfg.KeyboardInteractiveCallback = func(_ ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := challenge("", "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if len(answers) != 1 {
				return nil, fmt.Errorf("labhost: keyboard-interactive: got %d answers to 1 prompt", len(answers))
			}
			return check([]byte(answers[0]))
		}
	}
	cfg.AddHostKey(s.opts.HostKey)
	return cfg
}

func (s *Server) acceptLoop() {
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() == nil {
				s.logf("accept: %v; no longer accepting connections", err)
			}
			return
		}
		s.connections.Add(1)
		c := &labConn{Conn: nc, srv: s, closed: make(chan struct{})}
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			nc.Close()
			return
		}
		s.conns[c] = struct{}{}
		s.mu.Unlock()
		s.openConnections.Add(1)
		s.wg.Go(func() {
			defer func() {
				c.Close()
				s.mu.Lock()
				delete(s.conns, c)
				s.mu.Unlock()
				s.openConnections.Add(-1)
			}()
			s.serveConn(c)
		})
	}
}

// serveConn runs one SSH connection. A single goroutine drains both global
// requests and new channels so an idle connection costs only what x/crypto
// itself needs.
func (s *Server) serveConn(c *labConn) {
	sc, chans, reqs, err := ssh.NewServerConn(c, s.config)
	if err != nil {
		if s.ctx.Err() == nil {
			s.logf("handshake with %s: %v", c.RemoteAddr(), err)
		}
		return
	}
	s.authenticated.Add(1)
	s.mu.Lock()
	s.users[sc.User()] = struct{}{}
	s.mu.Unlock()

	var chanWG sync.WaitGroup
	defer chanWG.Wait()
	// Closing the connection first makes every channel handler see its
	// requests channel close, which is how handlers learn to stop.
	defer sc.Close()

	sessions := &sessionGate{limit: int64(s.opts.MaxSessions)}
	for chans != nil || reqs != nil {
		select {
		case req, ok := <-reqs:
			if !ok {
				reqs = nil
				continue
			}
			// Like OpenSSH, answer unknown global requests (such as
			// keepalive@openssh.com) with failure; clients only need a reply.
			if req.WantReply {
				req.Reply(false, nil)
			}
		case nch, ok := <-chans:
			if !ok {
				chans = nil
				continue
			}
			s.openChannel(sc, nch, sessions, &chanWG)
		}
	}
}

func (s *Server) openChannel(sc *ssh.ServerConn, nch ssh.NewChannel, sessions *sessionGate, wg *sync.WaitGroup) {
	switch nch.ChannelType() {
	case "session":
		n, ok := sessions.acquire()
		if !ok {
			s.sessionsRefused.Add(1)
			s.logf("user %q: session refused: %d sessions already open (MaxSessions %d)", sc.User(), n, sessions.limit)
			// OpenSSH >= 7.5 refuses with "open failed" (ConnectionFailed).
			nch.Reject(ssh.ConnectionFailed, "no more sessions")
			return
		}
		for {
			hw := s.maxConcurrent.Load()
			if n <= hw || s.maxConcurrent.CompareAndSwap(hw, n) {
				break
			}
		}
		// Counted before Accept: the client may look at Stats as soon as
		// it sees the confirmation.
		s.sessionsOpened.Add(1)
		s.openSessions.Add(1)
		ch, reqs, err := nch.Accept()
		if err != nil {
			s.sessionsOpened.Add(-1)
			s.openSessions.Add(-1)
			sessions.release()
			return
		}
		wg.Go(func() {
			defer func() {
				sessions.release()
				s.openSessions.Add(-1)
			}()
			s.serveSession(sc, ch, reqs)
		})
	case "direct-tcpip":
		s.openForward(nch, wg)
	default:
		nch.Reject(ssh.UnknownChannelType, fmt.Sprintf("channel type %q is not supported by labhost", nch.ChannelType()))
	}
}

// sessionGate counts the open session channels of one connection.
type sessionGate struct {
	limit int64
	open  atomic.Int64
}

// acquire takes a slot and returns the new number of open sessions, or the
// current number and false when the limit is reached.
func (g *sessionGate) acquire() (int64, bool) {
	for {
		n := g.open.Load()
		if n >= g.limit {
			return n, false
		}
		if g.open.CompareAndSwap(n, n+1) {
			return n + 1, true
		}
	}
}

func (g *sessionGate) release() { g.open.Add(-1) }

// labConn is an accepted TCP connection that can be stalled and killed.
type labConn struct {
	net.Conn
	srv       *Server
	closeOnce sync.Once
	closed    chan struct{}
}

// wait blocks while the server is stalled; it reports false when the
// connection was closed meanwhile.
func (c *labConn) wait() bool {
	for {
		gate := c.srv.stalled.Load()
		if gate == nil {
			return true
		}
		select {
		case <-*gate:
		case <-c.closed:
			return false
		}
	}
}

func (c *labConn) Read(p []byte) (int, error) {
	if !c.wait() {
		return 0, net.ErrClosed
	}
	return c.Conn.Read(p)
}

func (c *labConn) Write(p []byte) (int, error) {
	if !c.wait() {
		return 0, net.ErrClosed
	}
	return c.Conn.Write(p)
}

func (c *labConn) Close() error {
	var err error
	c.closeOnce.Do(func() {
		close(c.closed)
		err = c.Conn.Close()
	})
	return err
}
