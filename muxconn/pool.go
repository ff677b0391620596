package muxconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/muxconn/target"
)

// HostKeys verifies server host keys for a target. It returns the callback
// for the handshake and the host key algorithms to offer (nil: the library
// defaults), so that a host known by one key type is asked for that type.
type HostKeys interface {
	For(t *target.Target) (ssh.HostKeyCallback, []string, error)
}

// Pool holds one Master per connection key (user, host, port, jump chain)
// and hands it to every caller that asks for the same key. Concurrent Gets
// for one key share a single dial. The zero Pool is not usable; call NewPool.
type Pool struct {
	auth     *Auth
	hostKeys HostKeys
	logf     func(format string, args ...any)
	// startMaster starts a persistent master; see PoolOptions.
	startMaster func(ctx context.Context, t *target.Target) error

	mu      sync.Mutex
	masters map[string]*poolEntry
	closed  bool

	dials atomic.Int64 // connections made, for tests and -v
}

type poolEntry struct {
	ready  chan struct{} // closed when the dial is over
	master *Master
	err    error
	refs   int
}

// PoolOptions configures a Pool.
type PoolOptions struct {
	Auth     *Auth    // required
	HostKeys HostKeys // required: fleet never skips host-key checks by default
	// Logf receives -v diagnostics; nil discards them. Never passed secrets.
	Logf func(format string, args ...any)
	// StartMaster, when set, starts a persistent master for a host whose
	// ssh_config asks for one (ControlMaster auto with ControlPersist) and
	// has none; the pool then rides it. It returns an *UnreachableError
	// when the host can't be reached, and the pool doesn't dial again.
	StartMaster func(ctx context.Context, t *target.Target) error
}

// NewPool returns an empty pool.
func NewPool(opts PoolOptions) *Pool {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	return &Pool{auth: opts.Auth, hostKeys: opts.HostKeys, logf: logf, startMaster: opts.StartMaster, masters: map[string]*poolEntry{}}
}

// Dials returns how many SSH connections the pool has opened.
func (p *Pool) Dials() int64 { return p.dials.Load() }

// Get returns the master for t, connecting if no live one exists. The
// caller must Release it when done. A connection that fails is not cached:
// the next Get dials again.
func (p *Pool) Get(ctx context.Context, t *target.Target) (*Master, error) {
	key := t.Key()
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errors.New("muxconn: pool is closed")
		}
		e, ok := p.masters[key]
		if ok {
			e.refs++
			p.mu.Unlock()
			select {
			case <-e.ready:
			case <-ctx.Done():
				p.release(key, e)
				return nil, ctx.Err()
			}
			if e.err != nil {
				p.release(key, e)
				if ctx.Err() == nil && (e.err == context.Canceled || e.err == context.DeadlineExceeded) {
					// The caller that dialled gave up; this one hasn't.
					continue
				}
				return nil, e.err
			}
			if e.master.dead() {
				// Lost since it was made: drop it and dial anew.
				p.release(key, e)
				p.forget(key, e)
				continue
			}
			return e.master, nil
		}
		e = &poolEntry{ready: make(chan struct{}), refs: 1}
		p.masters[key] = e
		p.mu.Unlock()

		m, err := p.dial(ctx, t)
		e.master, e.err = m, err
		if m != nil {
			m.release = func() { p.release(key, e) }
		}
		if err != nil {
			// Failures are not cached: forget the entry before waking the
			// waiters, so a retry dials anew.
			p.forget(key, e)
		}
		close(e.ready)
		if err != nil {
			p.release(key, e)
			return nil, err
		}
		return m, nil
	}
}

// release drops one reference; the last one closes the master.
func (p *Pool) release(key string, e *poolEntry) {
	p.mu.Lock()
	e.refs--
	last := e.refs == 0
	if last && p.masters[key] == e {
		delete(p.masters, key)
	}
	p.mu.Unlock()
	if last && e.master != nil {
		e.master.Close()
	}
}

func (p *Pool) forget(key string, e *poolEntry) {
	p.mu.Lock()
	if p.masters[key] == e {
		delete(p.masters, key)
	}
	p.mu.Unlock()
}

// Close closes every master, including ones still referenced, and waits
// for their goroutines.
func (p *Pool) Close() error {
	p.mu.Lock()
	p.closed = true
	var entries []*poolEntry
	for _, e := range p.masters {
		entries = append(entries, e)
	}
	p.masters = map[string]*poolEntry{}
	p.mu.Unlock()
	// Concurrently: a target's Close may wait on its jump host's.
	var wg sync.WaitGroup
	for _, e := range entries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-e.ready
			if e.master != nil {
				e.master.Close()
			}
		}()
	}
	wg.Wait()
	return nil
}

// dial connects to t, through its jump hosts if any, within ConnectTimeout.
func (p *Pool) dial(ctx context.Context, t *target.Target) (*Master, error) {
	if m, err := p.attach(ctx, t); m != nil || err != nil {
		return m, err
	}
	if p.startMaster != nil && WantsPersistentMaster(t) {
		err := p.startMaster(ctx, t)
		if err == nil {
			if m, err := p.ride(ctx, t); m != nil || err != nil {
				return m, err
			}
		}
		if IsUnreachable(err) || ctx.Err() != nil {
			return nil, err
		}
		p.logf("%s: no persistent master (%v); connecting directly", t.Alias, err)
	}
	addr := net.JoinHostPort(t.HostName, strconv.Itoa(t.Port))
	var reachedAuth atomic.Bool
	// A passphrase or password is asked during auth, and the user's typing
	// must not count against ConnectTimeout: the handshake's deadline
	// pauses meanwhile.
	var deadline atomic.Pointer[handshakeDeadline]
	hold := func() func() {
		if d := deadline.Load(); d != nil {
			return d.hold()
		}
		return func() {}
	}
	cfg, skipped, err := p.clientConfig(t, func() { reachedAuth.Store(true) }, hold)
	if err != nil {
		return nil, err
	}
	start := time.Now()
	dctx := ctx
	if t.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t.ConnectTimeout)
		defer cancel()
	}

	var jump *Master
	var conn net.Conn
	var proxy *proxyCommandConn
	switch {
	case t.ProxyCommand != "":
		proxy, err = startProxyCommand(t.ProxyCommandLine())
		if err == nil {
			conn = proxy
		}
	case len(t.ProxyJump) > 0:
		jump, err = p.Get(dctx, hopTarget(t))
		if err != nil {
			return nil, p.unreachable(ctx, t, addr, err, false)
		}
		conn, err = jump.Dial(dctx, addr)
		if err == nil {
			hc, ok := newHopConn(jump, conn)
			if !ok {
				conn.Close()
				jump.Release()
				return nil, jump.lost()
			}
			conn = hc
		}
	default:
		var d net.Dialer
		conn, err = d.DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		if jump != nil {
			jump.Release()
		}
		return nil, p.unreachable(ctx, t, addr, err, false)
	}

	// The handshake and auth have no timeout of their own in x/crypto; a
	// host that accepts TCP and never speaks would hang here. Closing the
	// conn when what is left of ConnectTimeout runs out (not counting the
	// time a prompt is up), or when ctx ends, bounds them.
	var timedOut atomic.Bool
	dl := newHandshakeDeadline(t.ConnectTimeout-time.Since(start), t.ConnectTimeout > 0, func() {
		timedOut.Store(true)
		conn.Close()
	})
	deadline.Store(dl)
	stopCancel := context.AfterFunc(ctx, func() { conn.Close() })
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	stopped := dl.stop()
	if !stopCancel() {
		stopped = false
	}
	if err == nil && !stopped {
		// The timer fired just as the handshake finished; the conn is closed.
		c.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		conn.Close()
		if jump != nil {
			jump.Release()
		}
		if timedOut.Load() {
			err = context.DeadlineExceeded
		} else if ctx.Err() != nil {
			err = ctx.Err()
		} else if proxy != nil {
			err = proxy.failure(t.ProxyCommandLine(), err)
		}
		u := p.unreachable(ctx, t, addr, err, reachedAuth.Load())
		var ue *UnreachableError
		if errors.As(u, &ue) && ue.Cause == CauseAuth && len(skipped) > 0 {
			// Say which credentials never made it to the server: an
			// encrypted key with no terminal to ask its passphrase on, say.
			ue.Err = fmt.Errorf("%w; not offered: %s", ue.Err, strings.Join(skipped, "; "))
		}
		return nil, u
	}
	p.dials.Add(1)
	m := newMaster(t, ssh.NewClient(c, chans, reqs), jump, time.Since(start), "", false)
	p.logf("%s: connected to %s in %s", t.Alias, t.Key(), m.ConnectTime.Round(time.Millisecond))
	return m, nil
}

func (p *Pool) unreachable(ctx context.Context, t *target.Target, addr string, err error, reachedAuth bool) error {
	if ctx.Err() != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
		// The run was cancelled: that is not the host's fault.
		return ctx.Err()
	}
	return classify(t.Alias, addr, t.User, err, t.ConnectTimeout, reachedAuth)
}

func (p *Pool) clientConfig(t *target.Target, reached func(), hold holdFunc) (*ssh.ClientConfig, []string, error) {
	cb, algos, err := p.hostKeys.For(t)
	if err != nil {
		return nil, nil, &UnreachableError{Host: t.Alias, Addr: net.JoinHostPort(t.HostName, strconv.Itoa(t.Port)), Cause: CauseHostKey, Err: err}
	}
	methods, skipped := p.auth.methods(t, reached, hold)
	for _, s := range skipped {
		p.logf("%s: %s", t.Alias, s)
	}
	return &ssh.ClientConfig{
		User:              t.User,
		Auth:              methods,
		HostKeyCallback:   cb,
		HostKeyAlgorithms: algos,
		ClientVersion:     "SSH-2.0-fleet",
	}, skipped, nil
}

// WantsPersistentMaster reports whether t's settings ask for a master that
// outlives the run: ControlMaster auto or yes with ControlPersist, a
// ControlPath, and no --fresh. ask and autoask want each client confirmed,
// which fleet's masters can't do: fleet rides such masters but starts none.
func WantsPersistentMaster(t *target.Target) bool {
	return !t.Fresh && t.ControlPath != "" && t.ControlPath != "none" &&
		(t.ControlMaster == "auto" || t.ControlMaster == "yes") &&
		t.ControlPersist != "" && t.ControlPersist != "no"
}

// hopTarget is the last jump host of t, reached through the hops before it,
// as `ssh -J a,b target` reaches b through a.
func hopTarget(t *target.Target) *target.Target {
	n := len(t.ProxyJump)
	hop := *t.ProxyJump[n-1]
	if n > 1 {
		hop.ProxyJump = t.ProxyJump[:n-1]
	}
	if hop.ConnectTimeout == 0 {
		hop.ConnectTimeout = t.ConnectTimeout
	}
	return &hop
}

// handshakeDeadline calls fire once a connection's handshake has run for
// its time, not counting the time it was held (see holdFunc).
type handshakeDeadline struct {
	fire  func()
	mu    sync.Mutex
	t     *time.Timer // nil while held, or when there is no deadline
	left  time.Duration
	since time.Time
	holds int
	fired bool
	done  bool
}

// newHandshakeDeadline starts a deadline of d, or none unless on.
func newHandshakeDeadline(d time.Duration, on bool, fire func()) *handshakeDeadline {
	h := &handshakeDeadline{fire: fire, left: d}
	if on {
		h.arm()
	} else {
		h.done = true
	}
	return h
}

// arm starts the timer for what is left; h.mu is held or h unshared.
func (h *handshakeDeadline) arm() {
	h.since = time.Now()
	h.t = time.AfterFunc(max(h.left, 0), h.expire)
}

func (h *handshakeDeadline) expire() {
	h.mu.Lock()
	if h.holds > 0 || h.done || h.fired {
		h.mu.Unlock()
		return
	}
	h.fired = true
	h.mu.Unlock()
	h.fire()
}

// hold pauses the deadline until the returned func is called; holds nest.
func (h *handshakeDeadline) hold() (resume func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.holds++
	if h.holds == 1 && h.t != nil {
		h.t.Stop()
		h.t = nil
		h.left -= time.Since(h.since)
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			h.mu.Lock()
			defer h.mu.Unlock()
			h.holds--
			if h.holds == 0 && !h.done && !h.fired {
				h.arm()
			}
		})
	}
}

// stop ends the deadline; it reports false when it had fired.
func (h *handshakeDeadline) stop() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.done = true
	if h.t != nil {
		h.t.Stop()
	}
	return !h.fired
}
