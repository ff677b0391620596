package muxconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/muxconn/target"
)

// Master is one authenticated SSH connection to a host, shared by all of
// the run's sessions on it. It is safe for concurrent use.
type Master struct {
	Target      *target.Target
	ConnectTime time.Duration // TCP + handshake + auth, or attaching to a master
	// ControlPath is the socket of the master this connection rides, or
	// "" when fleet logged in itself.
	ControlPath string

	client *ssh.Client
	// perChannel: the master this one rides is OpenSSH's, and each channel
	// takes a control connection of its own (see channelClient).
	perChannel bool
	jump       *Master // the jump host's master this connection runs through
	gate       *SessionGate
	release    func()

	done    chan struct{} // closed when the connection is gone
	errMu   sync.Mutex
	err     error // why the connection is gone
	closeMu sync.Once
	wg      sync.WaitGroup // keepalive and connection watcher
	stop    chan struct{}  // closed by Close to end the keepalive loop

	// opens tracks channel opens running aside (see open); closing stops
	// new ones once Close has begun waiting.
	opensMu sync.Mutex
	closing bool
	opens   sync.WaitGroup

	// chunk is the SFTP request size the server's answer to
	// limits@openssh.com gave the first SFTP session, 0 until then. Later
	// sessions on the connection reuse it rather than ask again, which
	// costs a round trip (a copy or template task opens one each).
	chunkMu sync.Mutex
	chunk   int
}

// newMaster wraps c, a connection fleet logged in itself (through jump,
// if not nil) or, with controlPath, the base connection to a master it
// rides; perChannel when that master is OpenSSH's (see channelClient).
func newMaster(t *target.Target, c *ssh.Client, jump *Master, connect time.Duration, controlPath string, perChannel bool) *Master {
	limit := t.MaxSessions
	if limit <= 0 {
		limit = DefaultMaxSessions
	}
	m := &Master{
		Target:      t,
		ConnectTime: connect,
		ControlPath: controlPath,
		perChannel:  perChannel,
		client:      c,
		jump:        jump,
		gate:        NewSessionGate(limit),
		done:        make(chan struct{}),
		stop:        make(chan struct{}),
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		err := c.Wait()
		m.setErr(err)
		close(m.done)
	}()
	// OpenSSH's master keeps its own connection alive, and drops a client
	// sending keepalives (see channelClient).
	if t.ServerAliveInterval > 0 && !perChannel {
		m.wg.Add(1)
		go m.keepalive(t.ServerAliveInterval, max(t.ServerAliveCountMax, 1))
	}
	return m
}

// DefaultMaxSessions is sshd's default MaxSessions.
const DefaultMaxSessions = 10

func (m *Master) setErr(err error) {
	m.errMu.Lock()
	if m.err == nil {
		if err == nil {
			err = io.EOF
		}
		m.err = err
	}
	m.errMu.Unlock()
}

// lost is the error for a connection that died after it was up.
func (m *Master) lost() error {
	m.errMu.Lock()
	err := m.err
	m.errMu.Unlock()
	if errors.Is(err, errClosed) {
		return err
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = errors.New("connection closed by the server")
	}
	return &UnreachableError{Host: m.Target.Alias, Addr: m.Target.HostName, Cause: CauseLost, Err: fmt.Errorf("connection lost: %w", err)}
}

var errClosed = errors.New("muxconn: master closed")

func (m *Master) dead() bool {
	select {
	case <-m.done:
		return true
	default:
		return false
	}
}

// Client returns the SSH connection itself, for serving it to other
// programs (package persist). Sessions opened on it bypass the gate.
func (m *Master) Client() *ssh.Client { return m.client }

// Done is closed when the connection is gone.
func (m *Master) Done() <-chan struct{} { return m.done }

// Gate returns the master's session gate.
func (m *Master) Gate() *SessionGate { return m.gate }

// Release gives the master back to its pool; the last release closes it.
func (m *Master) Release() {
	if m.release != nil {
		m.release()
	} else {
		m.Close()
	}
}

// Close closes the connection and waits for the master's goroutines.
func (m *Master) Close() error {
	m.closeMu.Do(func() {
		m.setErr(errClosed)
		close(m.stop)
		m.opensMu.Lock()
		m.closing = true
		m.opensMu.Unlock()
		m.client.Close()
		m.wg.Wait()
		m.opens.Wait()
		if m.jump != nil {
			m.jump.Release()
		}
	})
	return nil
}

// keepalive sends keepalive@openssh.com every interval, as ssh's
// ServerAliveInterval does, and closes the connection when no reply has come
// for interval×count, so a frozen host is declared lost instead of hanging
// the run. x/crypto has no keepalive of its own (golang/go#19338).
func (m *Master) keepalive(interval time.Duration, count int) {
	defer m.wg.Done()
	var sender sync.WaitGroup
	defer sender.Wait()
	ticker := time.NewTicker(interval)
	defer ticker.Stop()
	deadline := time.NewTimer(interval * time.Duration(count))
	defer deadline.Stop()
	replies := make(chan error, 1)
	outstanding := false
	for {
		select {
		case <-m.stop:
			return
		case <-m.done:
			return
		case err := <-replies:
			outstanding = false
			if err != nil {
				return // the connection is gone; the watcher records why
			}
			deadline.Reset(interval * time.Duration(count))
		case <-ticker.C:
			if outstanding {
				continue
			}
			outstanding = true
			sender.Add(1)
			go func() {
				defer sender.Done()
				// Any reply, even a failure, proves the server is alive.
				_, _, err := m.client.SendRequest("keepalive@openssh.com", true, nil)
				replies <- err
			}()
		case <-deadline.C:
			m.setErr(fmt.Errorf("no reply to keepalives for %s (ServerAliveInterval %s × ServerAliveCountMax %d)",
				interval*time.Duration(count), interval, count))
			m.client.Close()
			return
		}
	}
}

// Command is one remote command for Master.Run.
type Command struct {
	// Cmd runs through the remote user's login shell, as `ssh host CMD` does.
	Cmd    string
	Stdin  io.Reader // nil: no input (EOF at once)
	Stdout io.Writer // nil: discarded
	Stderr io.Writer // nil: discarded
	Env    map[string]string
	// Timeout stops the command after this long; 0 means no limit.
	Timeout time.Duration
}

// Run runs c in a new session on the master, waiting for a session slot
// first. It returns nil when the command exits 0, *ExitError for another
// status, *TimeoutError when c.Timeout passed, an *UnreachableError when the
// connection died, and ctx.Err() when ctx ended first. On timeout or
// cancellation the remote process is sent SIGTERM and the channel closed,
// and Run returns within abandonGrace even if the host has stopped
// answering.
func (m *Master) Run(ctx context.Context, c Command) error {
	return m.run(ctx, c, true)
}

// RunSeq runs cmds in order, a session each, and stops at the first that
// fails (non-zero exit or any error): step is called with each command's
// index and Run's error for it, for every command that ran. Shell.RunSeq
// does the same in one long-lived session.
func (m *Master) RunSeq(ctx context.Context, cmds []Command, step func(i int, err error)) {
	for i, c := range cmds {
		err := m.Run(ctx, c)
		step(i, err)
		if err != nil {
			return
		}
	}
}

// TryRun is Run, except that it returns ErrNoRoom at once, having run
// nothing, when no session slot is free: for a caller holding a session
// of its own (an SFTP session, say) that would otherwise wait for itself
// on a server that allows one session per connection.
func (m *Master) TryRun(ctx context.Context, c Command) error {
	return m.run(ctx, c, false)
}

func (m *Master) run(ctx context.Context, c Command, wait bool) error {
	s, err := m.newSession(ctx, wait)
	if err != nil {
		return err
	}
	// Every call below waits for the server (Setenv and Start want a
	// reply; Wait wants the exit status), and none takes a context. They
	// run aside, owned by the master, so a frozen host can't hold Run past
	// its context; closing the master ends them.
	if !m.track() {
		s.Close()
		return m.lost()
	}
	res := make(chan error, 1)
	go func() {
		defer m.opens.Done()
		res <- m.exec(s.Session, c)
	}()

	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	select {
	case err := <-res:
		s.Close()
		return m.settle(ctx, err)
	case <-timeout:
		m.abandon(s, res)
		return &TimeoutError{After: c.Timeout}
	case <-ctx.Done():
		m.abandon(s, res)
		return ctx.Err()
	}
}

// exec starts c on sess and waits for it to end.
func (m *Master) exec(sess *ssh.Session, c Command) error {
	for k, v := range c.Env {
		// sshd drops variables its AcceptEnv doesn't list; that is not an error.
		_ = sess.Setenv(k, v)
	}
	if c.Stdin != nil {
		sess.Stdin = c.Stdin
	}
	sess.Stdout = orDiscard(c.Stdout)
	sess.Stderr = orDiscard(c.Stderr)
	if err := sess.Start(c.Cmd); err != nil {
		return &startError{err}
	}
	return sess.Wait()
}

type startError struct{ err error }

func (e *startError) Error() string { return "starting command: " + e.err.Error() }
func (e *startError) Unwrap() error { return e.err }

// abandonGrace is how long a cancelled Run waits for the remote command to
// acknowledge its end before returning anyway.
const abandonGrace = 500 * time.Millisecond

// abandon signals the remote command and closes its channel, then waits a
// little for the session to end; a host that doesn't answer is left to the
// master, whose Close (or keepalive) ends the session's goroutine.
func (m *Master) abandon(s *Session, res <-chan error) {
	_ = s.Signal(ssh.SIGTERM)
	s.Close()
	t := time.NewTimer(abandonGrace)
	defer t.Stop()
	select {
	case <-res:
	case <-t.C:
	case <-m.done:
	}
}

// settle turns a session's error into Run's result. A channel torn down
// without an exit status usually means the connection died, which x/crypto
// reports to pending channels a moment before Client.Wait returns; wait
// briefly for that so the host is reported unreachable, not failed.
func (m *Master) settle(ctx context.Context, err error) error {
	if err == nil {
		return nil
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		if exit.Signal() != "" {
			return &ExitError{Status: -1, Signal: exit.Signal()}
		}
		return &ExitError{Status: exit.ExitStatus()}
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	select {
	case <-m.done:
		return m.lost()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return fmt.Errorf("muxconn: %s: the command ended without an exit status", m.Target.Alias)
	}
	return fmt.Errorf("muxconn: %s: %w", m.Target.Alias, err)
}

// track registers a goroutine that Close must wait for; it reports false
// once Close has begun.
func (m *Master) track() bool {
	m.opensMu.Lock()
	defer m.opensMu.Unlock()
	if m.closing {
		return false
	}
	m.opens.Add(1)
	return true
}

func orDiscard(w io.Writer) io.Writer {
	if w == nil {
		return io.Discard
	}
	return w
}
