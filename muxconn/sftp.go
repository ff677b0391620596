package muxconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// SFTP is an SFTP client on a session of its own on the master. It holds
// one of the master's session slots until Close, as sshd counts the sftp
// subsystem as one of its MaxSessions. Its methods may be called from many
// goroutines at once: requests are pipelined over the one channel.
type SFTP struct {
	*sftp.Client
	m     *Master
	s     *Session
	chunk int // bytes per read or write request
	once  sync.Once
}

// Chunk returns the size of its read and write requests: 32 KiB, or what
// the server's answer to limits@openssh.com allows, up to 255 KiB (unless
// the caller's options set another). Asking costs one round trip when the
// connection's first SFTP session opens; later ones reuse the answer.
func (c *SFTP) Chunk() int { return c.chunk }

// sftpLimitsWait bounds the wait for the answer to the limits request; a
// server that offers the extension answers at once.
const sftpLimitsWait = 10 * time.Second

// sftpChunk asks the server behind lr and w for its limits (see askLimits),
// unless an earlier session on the connection learnt them. Only a failed
// write is an error: without an answer the default holds, for this session.
func (m *Master) sftpChunk(lr *limitsReader, w io.Writer, abandoned <-chan struct{}) (int, error) {
	t := time.NewTimer(sftpLimitsWait)
	defer t.Stop()
	chunk, err := askLimits(lr, w, abandoned, m.done, t.C)
	switch {
	case errors.Is(err, errNoLimits):
		return chunk, nil
	case err == nil:
		m.chunkMu.Lock()
		m.chunk = chunk
		m.chunkMu.Unlock()
	}
	return chunk, err
}

// knownChunk returns the SFTP chunk an earlier session learnt, or 0.
func (m *Master) knownChunk() int {
	m.chunkMu.Lock()
	defer m.chunkMu.Unlock()
	return m.chunk
}

// NoSFTPError says the server refused the sftp subsystem.
type NoSFTPError struct{ Host string }

func (e *NoSFTPError) Error() string {
	return fmt.Sprintf("%s has no sftp subsystem: its sshd_config needs a line like `Subsystem sftp internal-sftp` (fleet copies files over SFTP)", e.Host)
}

// SFTP opens the sftp subsystem in a new session, once the session gate
// admits it. Writes and reads of one file are pipelined (2 MiB in flight),
// so a large file is not bound by round trips, in requests as large as
// the server takes (see Chunk).
func (m *Master) SFTP(ctx context.Context, opts ...sftp.ClientOption) (*SFTP, error) {
	s, err := m.NewSession(ctx)
	if err != nil {
		return nil, err
	}
	stdin, err := s.StdinPipe()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("muxconn: %s: sftp: %w", m.Target.Alias, err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("muxconn: %s: sftp: %w", m.Target.Alias, err)
	}
	opts = append([]sftp.ClientOption{sftp.UseConcurrentWrites(true), sftp.UseConcurrentReads(true)}, opts...)

	// The subsystem request and the SFTP version exchange wait for the
	// server and take no context, so they run aside, owned by the master;
	// a caller that gives up closes the session, and a client that comes
	// up after all is closed.
	type started struct {
		c     *sftp.Client
		chunk int
		err   error
	}
	if !m.track() {
		s.Close()
		return nil, m.lost()
	}
	ch := make(chan started)
	abandoned := make(chan struct{})
	go func() {
		defer m.opens.Done()
		var st started
		if err := s.RequestSubsystem("sftp"); err != nil {
			st.err = &subsystemError{err}
		} else {
			st.chunk = m.knownChunk()
			var out io.Reader = stdout
			var lr *limitsReader
			if st.chunk == 0 {
				lr = newLimitsReader(stdout)
				out = lr
			}
			st.c, st.err = sftp.NewClientPipe(out, stdin, opts...)
			if st.err == nil {
				if lr != nil {
					st.chunk, st.err = m.sftpChunk(lr, stdin, abandoned)
				}
				// The caller's options come last, to win.
				for _, o := range append(sftpSizing(st.chunk), opts...) {
					if st.err == nil {
						st.err = o(st.c)
					}
				}
				if st.err != nil {
					st.c.Close()
					st.c = nil
				}
			}
		}
		select {
		case ch <- st:
		case <-abandoned:
			if st.c != nil {
				st.c.Close()
			}
		}
	}()
	select {
	case st := <-ch:
		if st.err != nil {
			s.Close()
			var sub *subsystemError
			if errors.As(st.err, &sub) && !m.dead() {
				return nil, &NoSFTPError{Host: m.Target.Alias}
			}
			return nil, m.settle(ctx, st.err)
		}
		return &SFTP{Client: st.c, m: m, s: s, chunk: st.chunk}, nil
	case <-ctx.Done():
		close(abandoned)
		s.Close()
		return nil, ctx.Err()
	case <-m.done:
		close(abandoned)
		s.Close()
		return nil, m.lost()
	}
}

type subsystemError struct{ err error }

func (e *subsystemError) Error() string { return e.err.Error() }
func (e *subsystemError) Unwrap() error { return e.err }

// sftpCloseGrace is how long Close waits for the server to end the
// subsystem before it closes the channel anyway.
const sftpCloseGrace = 2 * time.Second

// Close ends the SFTP session and frees its slot. In-flight requests fail.
// It waits at most a short grace for the server to acknowledge; a host that
// stopped answering is left to the master's keepalive.
func (c *SFTP) Close() error {
	c.once.Do(func() {
		if !c.m.track() {
			c.s.Close()
			return
		}
		done := make(chan struct{})
		go func() {
			defer c.m.opens.Done()
			defer close(done)
			// Closing our side of the pipe ends sftp-server, which ends
			// the channel, which ends the client's reader.
			c.Client.Close()
		}()
		t := time.NewTimer(sftpCloseGrace)
		defer t.Stop()
		select {
		case <-done:
		case <-t.C:
		case <-c.m.done:
		}
		c.s.Close()
	})
	return nil
}

// Lost reports whether err came from the connection dying under an SFTP
// request, and returns the master's unreachable error if so. SFTP calls
// fail with plain I/O errors when the connection goes, so callers ask here
// to tell a lost host from a failed file.
func (c *SFTP) Lost(err error) (error, bool) {
	if err == nil {
		return nil, false
	}
	if !c.m.dead() {
		// x/crypto tears channels down a moment before Client.Wait
		// returns; give it that moment when the error looks like it.
		if !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, sftp.ErrSSHFxConnectionLost) {
			return nil, false
		}
		t := time.NewTimer(time.Second)
		defer t.Stop()
		select {
		case <-c.m.done:
		case <-t.C:
			return nil, false
		}
	}
	return c.m.lost(), true
}
