package muxconn

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Session is an open session channel on a master. Close frees its slot in
// the master's session gate.
type Session struct {
	*ssh.Session
	m      *Master
	hangup func() // ends the channel's own control connection, on a ridden master
	once   sync.Once
	idle   *idleSlot
}

// Idle lends s's slot to the gate while s sits unused: a caller that finds
// no free slot (on a server whose MaxSessions is reached) closes s and
// takes its slot instead of waiting for it. Busy ends the loan.
func (s *Session) Idle() {
	s.idle = s.m.gate.park(s.close)
}

// Busy takes s back from the gate after Idle. It reports false when s was
// reclaimed meanwhile: s is closed, and the caller needs a new session.
func (s *Session) Busy() bool {
	if s.idle == nil {
		return true
	}
	r := s.idle
	s.idle = nil
	return s.m.gate.unpark(r)
}

// Close closes the channel and frees the session slot.
func (s *Session) Close() error {
	if s.idle != nil {
		s.m.gate.unpark(s.idle)
		s.idle = nil
	}
	s.close()
	return nil
}

// close is Close without the loan bookkeeping, which belongs to the
// session's owner: the gate calls it to reclaim an idle slot.
func (s *Session) close() {
	s.once.Do(func() {
		s.Session.Close()
		s.hangup()
		s.m.gate.Release()
	})
}

// refusedRetries bounds retries when the server refuses every session and
// none of ours is running, so none will end to make room: such a server
// allows no sessions at all (MaxSessions 0) or is serving another client.
const refusedRetries = 50

// NewSession opens a session once the gate admits it. A refused open is
// not an error: the server's limit is lower than the gate's (or it has not
// yet freed the slot of a session that just ended), so the master waits
// for one of its running sessions to end, or a short backoff, and tries
// again.
func (m *Master) NewSession(ctx context.Context) (*Session, error) {
	return m.newSession(ctx, true)
}

// ErrNoRoom is TryRun's error when every session slot is taken, by the
// gate or by the server refusing the open.
var ErrNoRoom = errors.New("muxconn: no session slot is free")

// newSession opens a session; without wait it returns ErrNoRoom at once
// where NewSession would wait for a slot or retry a refused open.
func (m *Master) newSession(ctx context.Context, wait bool) (*Session, error) {
	backoff := 10 * time.Millisecond
	for idle := 0; ; {
		if !wait {
			if m.dead() {
				return nil, m.lost()
			}
			if !m.gate.tryAcquire() {
				return nil, ErrNoRoom
			}
		} else if err := m.gate.acquire(ctx, m.done); err != nil {
			if errors.Is(err, errGone) {
				return nil, m.lost()
			}
			return nil, err
		}
		s, hangup, err := m.open(ctx)
		if err == nil {
			m.gate.opened()
			return &Session{Session: s, m: m, hangup: hangup}, nil
		}
		var refused *ssh.OpenChannelError
		if !errors.As(err, &refused) {
			m.gate.Release()
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, m.settle(ctx, err)
		}
		freed := m.gate.refused()
		if !wait {
			return nil, ErrNoRoom
		}
		if freed == nil {
			idle++
			if idle > refusedRetries {
				return nil, fmt.Errorf("muxconn: %s: the server refuses every session (%s) though none of fleet's is open; is MaxSessions 0 in its sshd_config?", m.Target.Alias, refused.Message)
			}
		}
		t := time.NewTimer(backoff)
		backoff = min(backoff*2, time.Second)
		select {
		case <-freed: // nil when none of ours runs: only the timer then
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-m.done:
			t.Stop()
			return nil, m.lost()
		}
		t.Stop()
	}
}

// open opens a session channel, and returns with it the func that ends
// the channel's control connection on a ridden master (see
// channelClient), to call after closing it. x/crypto's NewSession takes no
// context and blocks until the server answers, so it runs aside, owned by
// the master; a caller that gives up abandons it, and a session that opens
// after all is closed.
func (m *Master) open(ctx context.Context) (*ssh.Session, func(), error) {
	type opened struct {
		s      *ssh.Session
		hangup func()
		err    error
	}
	if !m.track() {
		return nil, nil, m.lost()
	}
	ch := make(chan opened)
	abandoned := make(chan struct{})
	actx, cancel := context.WithCancel(context.Background())
	go func() {
		defer m.opens.Done()
		defer cancel()
		var o opened
		var c *ssh.Client
		if c, o.hangup, o.err = m.channelClient(actx); o.err == nil {
			if o.s, o.err = c.NewSession(); o.err != nil {
				o.hangup()
			}
		}
		select {
		case ch <- o:
		case <-abandoned:
			if o.err == nil {
				o.s.Close()
				o.hangup()
			}
		}
	}()
	select {
	case o := <-ch:
		return o.s, o.hangup, o.err
	case <-ctx.Done():
		close(abandoned)
		cancel()
		return nil, nil, ctx.Err()
	case <-m.done:
		close(abandoned)
		cancel()
		return nil, nil, m.lost()
	}
}
