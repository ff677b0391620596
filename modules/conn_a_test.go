package modules

import (
	"bytes"
	"context"
	"errors"
	"net"
	osexec "os/exec"
	"strings"
	"sync"
	"testing"

	"fleetrun.dev/fleet/transfer"
	"github.com/pkg/sftp"
)

// aConn is a Conn that runs commands with the local /bin/sh in a test's
// directory, as an SSH login shell would on a host.
type aConn struct {
	dir string
	env []string // the "remote" environment
	mu  sync.Mutex
	ran []string // every command run, in order
	// afterRun, when set, is called after each command with the number
	// of commands run so far.
	afterRun func(n int)
}

func newAConn(t *testing.T) *aConn {
	t.Helper()
	dir := t.TempDir()
	return &aConn{dir: dir, env: []string{"PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin", "HOME=" + dir, "LC_ALL=C"}}
}

func (f *aConn) Run(ctx context.Context, cmd string, stdin []byte, env map[string]string) (Output, error) {
	f.mu.Lock()
	f.ran = append(f.ran, cmd)
	f.mu.Unlock()
	c := osexec.CommandContext(ctx, "/bin/sh", "-c", cmd)
	c.Dir = f.dir
	c.Env = append([]string(nil), f.env...)
	for k, v := range env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
	if f.afterRun != nil {
		f.afterRun(f.runs())
	}
	out := Output{Stdout: stdout.Bytes(), Stderr: stderr.Bytes()}
	var ee *osexec.ExitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return out, ctx.Err()
	case errors.As(err, &ee):
		out.RC = ee.ExitCode()
	default:
		return out, err
	}
	return out, nil
}

func (f *aConn) runs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.ran)
}

func (f *aConn) SFTP(ctx context.Context) (*sftp.Client, error) {
	return nil, errors.New("aConn: no SFTP")
}

func (f *aConn) Remote(ctx context.Context) (*transfer.Remote, error) {
	return nil, errors.New("aConn: no transfer remote")
}

func (f *aConn) Dial(ctx context.Context, addr string) (net.Conn, error) {
	var d net.Dialer
	return d.DialContext(ctx, "tcp", addr)
}

// aRun runs module with args on f and fails the test on a Go error.
func aRun(t *testing.T, f *aConn, module string, args map[string]any, mod ...func(*Call)) Result {
	t.Helper()
	c := &Call{Host: "h1", Module: module, Args: args, Conn: f}
	for _, m := range mod {
		m(c)
	}
	r, err := Run(context.Background(), c)
	if err != nil {
		t.Fatalf("%s %v: %v", module, args, err)
	}
	return r
}

// aSh runs a setup command in f's directory and fails the test if it fails.
func aSh(t *testing.T, f *aConn, cmd string) string {
	t.Helper()
	out, err := f.Run(context.Background(), cmd, nil, nil)
	if err != nil || out.RC != 0 {
		t.Fatalf("setup %q: %v rc=%d %s", cmd, err, out.RC, out.Stderr)
	}
	return strings.TrimRight(string(out.Stdout), "\n")
}

// aSameStatus reports whether r has want's changed, failed, skipped and msg.
func aSameStatus(r, want Result) bool {
	return r.Changed == want.Changed && r.Failed == want.Failed && r.Skipped == want.Skipped && r.Msg == want.Msg
}
