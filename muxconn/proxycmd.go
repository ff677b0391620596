package muxconn

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"
)

// proxyCommandConn is the connection a ProxyCommand makes: fleet speaks
// SSH on the command's standard input and output, as ssh does. The command
// runs as ssh runs it, `$SHELL -c "exec COMMAND"` (/bin/sh without SHELL),
// in a process group of its own, with its standard error kept (its last
// KiB) to explain a failed connection.
type proxyCommandConn struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stdout io.ReadCloser
	stderr *tailBuffer

	exited  chan struct{} // closed once cmd.Wait returned
	waitErr error
	once    sync.Once
}

// proxyCommandGrace is how long Close lets the command end by itself,
// once its input is closed, before it kills its process group.
const proxyCommandGrace = 2 * time.Second

// startProxyCommand starts command (its tokens already expanded).
func startProxyCommand(command string) (*proxyCommandConn, error) {
	shell := os.Getenv("SHELL")
	if shell == "" {
		shell = "/bin/sh"
	}
	cmd := exec.Command(shell, "-c", "exec "+command)
	ownGroup(cmd)
	c := &proxyCommandConn{cmd: cmd, stderr: &tailBuffer{max: 1 << 10}, exited: make(chan struct{})}
	cmd.Stderr = c.stderr
	// Pipes of fleet's own, not exec's: Wait closes exec's, and the
	// command's last bytes would be lost if it ended first.
	inR, inW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		inR.Close()
		inW.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	err = cmd.Start()
	inR.Close()
	outW.Close()
	if err != nil {
		inW.Close()
		outR.Close()
		return nil, fmt.Errorf("ProxyCommand %q: %w", command, err)
	}
	c.stdin, c.stdout = inW, outR
	go func() {
		c.waitErr = cmd.Wait()
		close(c.exited)
	}()
	return c, nil
}

func (c *proxyCommandConn) Read(p []byte) (int, error)  { return c.stdout.Read(p) }
func (c *proxyCommandConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// Close ends the command: its input closes, and a command still running
// after a grace gets SIGTERM, and SIGKILL after another, in its group.
// It returns once the command has exited.
func (c *proxyCommandConn) Close() error {
	c.once.Do(func() {
		defer c.stdout.Close()
		c.stdin.Close()
		for _, stop := range []func(*exec.Cmd){nil, termGroup, killGroup} {
			if stop != nil {
				stop(c.cmd)
			}
			t := time.NewTimer(proxyCommandGrace)
			select {
			case <-c.exited:
				t.Stop()
				return
			case <-t.C:
			}
		}
		<-c.exited
	})
	return nil
}

// failure explains err, a connection through the command that failed, by
// how the command ended and what it printed on standard error, if it has
// ended by now.
func (c *proxyCommandConn) failure(command string, err error) error {
	t := time.NewTimer(100 * time.Millisecond)
	defer t.Stop()
	select {
	case <-c.exited:
	case <-t.C:
		return err
	}
	how := "ended"
	var exit *exec.ExitError
	if errors.As(c.waitErr, &exit) {
		how = exit.ProcessState.String() // "exit status 255", "signal: killed"
	}
	msg := fmt.Sprintf("ProxyCommand %q %s", command, how)
	if s := strings.TrimSpace(c.stderr.String()); s != "" {
		msg += ": " + strings.ReplaceAll(s, "\n", "; ")
	}
	return fmt.Errorf("%s (%w)", msg, err)
}

func (c *proxyCommandConn) LocalAddr() net.Addr                { return proxyAddr{} }
func (c *proxyCommandConn) RemoteAddr() net.Addr               { return proxyAddr{} }
func (c *proxyCommandConn) SetDeadline(t time.Time) error      { return errNoDeadlines }
func (c *proxyCommandConn) SetReadDeadline(t time.Time) error  { return errNoDeadlines }
func (c *proxyCommandConn) SetWriteDeadline(t time.Time) error { return errNoDeadlines }

var errNoDeadlines = errors.New("muxconn: a ProxyCommand connection has no deadlines")

// proxyAddr is the address of both ends of a ProxyCommand connection.
type proxyAddr struct{}

func (proxyAddr) Network() string { return "proxycommand" }
func (proxyAddr) String() string  { return "proxycommand" }

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(bytes.ToValidUTF8(t.b, []byte("?")))
}
