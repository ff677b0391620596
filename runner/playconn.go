package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os/exec"
	"sync"
	"time"

	"github.com/pkg/sftp"

	"fleetrun.dev/fleet/modules"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/transfer"
)

// taskConn is a modules.Conn for one task on one host: commands run in
// the host's long-lived shell (or sessions of their own on its master when
// the shell is busy, has no room, or sh is nil), and the SFTP session,
// opened on first use, is closed when the task ends, so that a task holds
// no session slot it doesn't use (a parallel block runs several tasks on a
// host at once).
type taskConn struct {
	m    *muxconn.Master
	sh   *muxconn.Shell // nil: a session per command
	host string

	mu      sync.Mutex
	remote  *transfer.Remote
	closeFS func()
}

var _ modules.Conn = (*taskConn)(nil)

func (c *taskConn) Run(ctx context.Context, cmd string, stdin []byte, env map[string]string) (modules.Output, error) {
	var stdout, stderr bytes.Buffer
	cmd = modules.EnvPrefix(env) + cmd
	var in io.Reader
	if stdin != nil {
		in = bytes.NewReader(stdin)
	}
	c.mu.Lock()
	remote := c.remote
	c.mu.Unlock()
	var err error
	switch {
	case remote == nil && c.sh != nil:
		// The host's shell runs commands with /bin/sh (muxconn.BinSh).
		err = c.sh.Run(ctx, muxconn.Command{Cmd: cmd, Stdin: in, Stdout: &stdout, Stderr: &stderr})
	case remote != nil:
		// With an SFTP session open, run through the transfer's Run, which
		// makes way for the command on a MaxSessions 1 server. It runs
		// commands with the login shell: hand over to /bin/sh.
		err = remote.Run(ctx, muxconn.BinShCommand(cmd), stdin, &stdout, &stderr)
	default:
		err = c.m.Run(ctx, muxconn.Command{Cmd: muxconn.BinShCommand(cmd), Stdin: in, Stdout: &stdout, Stderr: &stderr})
	}
	out := modules.Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *muxconn.ExitError
	switch {
	case err == nil:
		return out, nil
	case errors.As(err, &exit):
		out.RC, out.Signal = exit.Status, exit.Signal
		return out, nil
	default:
		out.RC = -1
		return out, err
	}
}

func (c *taskConn) SFTP(ctx context.Context) (*sftp.Client, error) {
	r, err := c.Remote(ctx)
	if err != nil {
		return nil, err
	}
	return r.FS, nil
}

func (c *taskConn) Remote(ctx context.Context) (*transfer.Remote, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remote != nil {
		return c.remote, nil
	}
	fs, err := c.m.SFTP(ctx)
	if err != nil {
		return nil, err
	}
	c.remote, c.closeFS = sftpRemote(c.m, c.host, fs)
	return c.remote, nil
}

func (c *taskConn) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return c.m.Dial(ctx, addr)
}

// close ends the task's SFTP session, if it opened one.
func (c *taskConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closeFS != nil {
		c.closeFS()
		c.closeFS, c.remote = nil, nil
	}
}

// localConn is a modules.Conn for delegate_to: localhost: commands run
// with the controller's /bin/sh, and files go through an in-process SFTP
// server on the controller's file system, so every module works the same
// on both sides.
type localConn struct {
	mu     sync.Mutex
	client *sftp.Client
	server *sftp.Server
	done   chan struct{}
	pipes  []io.Closer
	remote *transfer.Remote
}

var _ modules.Conn = (*localConn)(nil)

func (c *localConn) Run(ctx context.Context, cmd string, stdin []byte, env map[string]string) (modules.Output, error) {
	var stdout, stderr bytes.Buffer
	x := exec.CommandContext(ctx, "/bin/sh", "-c", modules.EnvPrefix(env)+cmd)
	x.Stdout, x.Stderr = &stdout, &stderr
	// The command's children go too when ctx ends (a task's timeout, ^C),
	// as a remote command's do when its session closes.
	killGroupOnCancel(x)
	x.WaitDelay = 5 * time.Second
	if stdin != nil {
		x.Stdin = bytes.NewReader(stdin)
	}
	err := x.Run()
	out := modules.Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var exit *exec.ExitError
	switch {
	case err == nil:
		return out, nil
	case ctx.Err() != nil:
		out.RC = -1
		return out, ctx.Err()
	case errors.As(err, &exit):
		out.RC = exit.ExitCode()
		if out.RC < 0 {
			out.Signal = "KILL"
		}
		return out, nil
	default:
		out.RC = -1
		return out, fmt.Errorf("running a command on localhost: %w", err)
	}
}

func (c *localConn) SFTP(ctx context.Context) (*sftp.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.client != nil {
		return c.client, nil
	}
	// Two pipes make a full-duplex stream between an SFTP client and a
	// server on the local file system.
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{sr, sw})
	if err != nil {
		return nil, err
	}
	c.server, c.done = srv, make(chan struct{})
	go func() {
		defer close(c.done)
		srv.Serve()
	}()
	c.pipes = []io.Closer{cr, sw, sr, cw}
	client, err := sftp.NewClientPipe(cr, cw)
	if err != nil {
		c.closeLocked()
		return nil, err
	}
	c.client = client
	return client, nil
}

func (c *localConn) Remote(ctx context.Context) (*transfer.Remote, error) {
	fs, err := c.SFTP(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.remote == nil {
		c.remote = &transfer.Remote{Host: "localhost", FS: fs,
			Run: func(ctx context.Context, cmd string, stdin []byte, stdout, stderr io.Writer) error {
				out, err := c.Run(ctx, cmd, stdin, nil)
				stdout.Write(out.Stdout)
				stderr.Write(out.Stderr)
				if err == nil && out.RC != 0 {
					err = &muxconn.ExitError{Status: out.RC, Signal: out.Signal}
				}
				return err
			},
			Lost: func(err error) (error, bool) { return err, false },
		}
	}
	return c.remote, nil
}

func (c *localConn) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

func (c *localConn) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closeLocked()
}

func (c *localConn) closeLocked() {
	// Close the pipes first: the client's Close waits for its reader,
	// which only a closed pipe ends.
	for _, p := range c.pipes {
		p.Close()
	}
	c.pipes = nil
	if c.client != nil {
		c.client.Close()
		c.client = nil
	}
	if c.server != nil {
		c.server.Close()
		<-c.done
		c.server = nil
	}
	c.remote = nil
}
