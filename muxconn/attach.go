package muxconn

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/muxconn/target"
)

// attach rides the master listening on t's ControlPath, OpenSSH's or
// fleet's own, in the mux protocol's proxy mode: no login of fleet's own.
// It returns nil and no error when there is no master to ride: no
// ControlPath, --fresh, ControlMaster yes (which never rides one), no
// socket, or a stale one, which it removes as ssh does (unless
// ControlMaster no).
func (p *Pool) attach(ctx context.Context, t *target.Target) (*Master, error) {
	if t.Fresh || t.ControlMaster == "yes" || t.ControlMaster == "ask" {
		return nil, nil
	}
	return p.ride(ctx, t)
}

// ride is attach without the settings that forbid riding a master.
func (p *Pool) ride(ctx context.Context, t *target.Target) (*Master, error) {
	path := t.ControlPath
	if path == "" || path == "none" {
		return nil, nil
	}
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, p.controlError(t, path, err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return nil, p.controlError(t, path, errors.New("it is not a socket; remove it, or point ControlPath elsewhere"))
	}
	if uid, ok := fileOwner(fi); ok && uid != os.Getuid() {
		return nil, p.controlError(t, path, fmt.Errorf("the socket belongs to uid %d, not to you (uid %d); fleet never rides another user's master: remove it, set another ControlPath, or pass --fresh", uid, os.Getuid()))
	}
	start := time.Now()
	dctx := ctx
	if t.ConnectTimeout > 0 {
		var cancel context.CancelFunc
		dctx, cancel = context.WithTimeout(ctx, t.ConnectTimeout)
		defer cancel()
	}
	var d net.Dialer
	conn, err := d.DialContext(dctx, "unix", path)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		// Nothing listens: a master that died without removing it.
		if t.ControlMaster == "no" {
			p.logf("%s: the master socket %s is stale (nothing listens); ControlMaster no leaves it be", t.Alias, path)
		} else if rerr := os.Remove(path); rerr == nil {
			p.logf("%s: removed the stale master socket %s", t.Alias, path)
		}
		return nil, nil
	case errors.Is(err, syscall.ENOENT):
		return nil, nil
	case err != nil:
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, p.controlError(t, path, err)
	}
	// A master that accepts and never answers would hang the handshake.
	stop := context.AfterFunc(dctx, func() { conn.Close() })
	hello := &helloSniffer{Conn: conn}
	c, chans, reqs, err := ssh.NewControlClientConn(hello)
	stopped := stop()
	if err == nil && !stopped {
		c.Close()
		err = context.DeadlineExceeded
	}
	if err != nil {
		conn.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		// A master ending as fleet connected, or one that refused it:
		// connect directly, as ssh falls back when its master fails it.
		p.logf("%s: the master at %s did not take fleet as a client (%v); connecting directly", t.Alias, path, err)
		return nil, nil
	}
	m := newMaster(t, ssh.NewClient(c, chans, reqs), nil, time.Since(start), path, !hello.fleetMaster())
	kind := "fleet's"
	if m.perChannel {
		kind = "OpenSSH's"
	}
	p.logf("%s: riding the master at %s (%s, %s)", t.Alias, path, kind, m.ConnectTime.Round(time.Millisecond))
	return m, nil
}

// controlError says a host's master socket can't be used; the host is
// then unreachable for this run.
func (p *Pool) controlError(t *target.Target, path string, err error) error {
	return &UnreachableError{Host: t.Alias, Addr: path, Cause: CauseControl, Err: fmt.Errorf("master socket %s: %w", path, err)}
}
