package muxconn

import (
	"context"
	"errors"
	"sync"
)

// SessionGate caps the sessions open at once on one connection. sshd
// refuses sessions beyond its MaxSessions (10 by default), so a master
// queues its callers here instead of having the server refuse them.
type SessionGate struct {
	mu     sync.Mutex
	limit  int
	active int
	peak   int
	proven int           // the most sessions the server has accepted at once
	freed  chan struct{} // closed and replaced each time a slot frees
	// idle are held slots whose sessions sit unused (a host's long-lived
	// shell between commands): a caller that finds no free slot takes one
	// back by calling its reclaim, which closes the session.
	idle []*idleSlot
}

type idleSlot struct{ reclaim func() }

// NewSessionGate returns a gate admitting limit sessions at once (at least 1).
func NewSessionGate(limit int) *SessionGate {
	return &SessionGate{limit: max(limit, 1), freed: make(chan struct{})}
}

// errGone is acquire's error when the connection went away while waiting.
var errGone = errors.New("muxconn: connection gone")

// acquire waits for a free slot, for ctx to end, or for gone to close.
func (g *SessionGate) acquire(ctx context.Context, gone <-chan struct{}) error {
	for {
		got, freed := g.grab()
		if got {
			return nil
		}
		if freed == nil {
			continue // an idle slot was reclaimed: take it
		}
		select {
		case <-freed:
		case <-ctx.Done():
			return ctx.Err()
		case <-gone:
			return errGone
		}
	}
}

// tryAcquire takes a free slot if there is one, reclaiming an idle one
// when that is all there is.
func (g *SessionGate) tryAcquire() bool {
	for {
		got, freed := g.grab()
		if got || freed != nil {
			return got
		}
	}
}

// grab takes a free slot if there is one. Otherwise it reclaims an idle
// slot, whose Release frees one, and returns a nil channel (try again),
// or, with none idle, the channel closed when a slot frees.
func (g *SessionGate) grab() (got bool, freed <-chan struct{}) {
	g.mu.Lock()
	if g.active < g.limit {
		g.active++
		g.peak = max(g.peak, g.active)
		g.mu.Unlock()
		return true, nil
	}
	freed = g.freed
	r := g.takeIdleLocked()
	g.mu.Unlock()
	if r != nil {
		r.reclaim()
		return false, nil
	}
	return false, freed
}

// takeIdleLocked removes the oldest idle slot, for the caller to reclaim
// once it has let go of g.mu (reclaiming releases the slot, which locks).
func (g *SessionGate) takeIdleLocked() *idleSlot {
	if len(g.idle) == 0 {
		return nil
	}
	r := g.idle[0]
	g.idle = g.idle[1:]
	return r
}

// park marks a held slot idle: until unpark, a caller finding no free slot
// may call reclaim, which must close the session and so Release the slot.
func (g *SessionGate) park(reclaim func()) *idleSlot {
	r := &idleSlot{reclaim: reclaim}
	g.mu.Lock()
	g.idle = append(g.idle, r)
	// Wake the waiters: one of them may take this slot now.
	close(g.freed)
	g.freed = make(chan struct{})
	g.mu.Unlock()
	return r
}

// unpark takes the slot back into use; false means it was reclaimed
// meanwhile and its session is closed or closing.
func (g *SessionGate) unpark(r *idleSlot) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	for i, x := range g.idle {
		if x == r {
			g.idle = append(g.idle[:i], g.idle[i+1:]...)
			return true
		}
	}
	return false
}

// opened records that the server accepted a session with the caller's
// slot held, as proof that it takes this many at once. The count includes
// opens still on their way, so it may run ahead of the server (a review
// found the gate at 2 on a MaxSessions 1 server); counting only sessions
// open at the client runs behind it instead, because the server frees a
// closed session's slot a moment after the client, and that ratchets the
// limit below the server's (TestGateLimitDoesNotRatchetBelowServerLimit).
// Running ahead costs one refused open, which the gate answers by waiting
// and by reclaiming an idle slot.
func (g *SessionGate) opened() {
	g.mu.Lock()
	g.proven = max(g.proven, g.active)
	g.mu.Unlock()
}

// Release frees a slot taken by acquire.
func (g *SessionGate) Release() {
	g.mu.Lock()
	g.active--
	close(g.freed)
	g.freed = make(chan struct{})
	g.mu.Unlock()
}

// refused handles a channel open the server refused while the caller held
// a slot. Either the server's limit is lower than ours (a lower
// MaxSessions, or another client sharing the connection), or it has not yet
// freed the slot of a session that just ended. The gate gives the slot
// back and lowers its limit to the sessions still running, but never below
// what the server has already accepted at once. It returns a channel closed
// when one of ours ends, or nil when none is running.
// An idle slot of ours is reclaimed, so that the retry finds room.
func (g *SessionGate) refused() <-chan struct{} {
	g.mu.Lock()
	g.active--
	g.limit = max(g.active, g.proven, 1)
	if g.active == 0 {
		g.mu.Unlock()
		return nil
	}
	freed := g.freed
	r := g.takeIdleLocked()
	g.mu.Unlock()
	if r != nil {
		r.reclaim()
	}
	return freed
}

// Limit returns the current limit; it drops when the server refuses opens.
func (g *SessionGate) Limit() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.limit
}

// Peak returns the most sessions that were open at once.
func (g *SessionGate) Peak() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.peak
}
