package modules

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	osexec "os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"

	"fleetrun.dev/fleet/transfer"
)

// bUmask is the fake host's umask: not the usual 022, so that a test
// sees where a new file's mode comes from.
const bUmask = "027"

// bConn is a Conn on the local machine: commands run with /bin/sh in the
// test's "home" directory, files go through an SFTP server over in-memory
// pipes. With unprivileged (root only), commands and SFTP run as nobody,
// as a login user would, and a command wrapped in sudo runs as root.
type bConn struct {
	t            *testing.T
	home         string
	unprivileged bool
	fakeSudoDir  string

	mu     sync.Mutex
	ran    []string
	client *sftp.Client
	remote *transfer.Remote
}

func newBConn(t *testing.T) *bConn {
	t.Helper()
	return &bConn{t: t, home: t.TempDir()}
}

// newUnprivilegedBConn returns a bConn whose login user is nobody, with a
// sudo that runs commands as root; the test is skipped where that can't
// be had (not root, no setpriv or OpenSSH's sftp-server).
func newUnprivilegedBConn(t *testing.T) *bConn {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("become tests need root, to run the fake host's login user as nobody")
	}
	for _, p := range []string{"/usr/bin/setpriv", bSFTPServer} {
		if _, err := os.Stat(p); err != nil {
			t.Skipf("become tests need %s: %v", p, err)
		}
	}
	f := newBConn(t)
	f.unprivileged = true
	// nobody must reach its home through the test's temp directories.
	for d := f.home; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chown(f.home, 65534, 65534); err != nil {
		t.Fatal(err)
	}
	f.fakeSudoDir = t.TempDir()
	// Drops sudo's options and runs the command, as root.
	script := "#!/bin/sh\nwhile [ $# -gt 0 ]; do case $1 in --) shift; break;; -u|-p) shift 2;; *) shift;; esac; done\nexec \"$@\"\n"
	if err := os.WriteFile(filepath.Join(f.fakeSudoDir, "sudo"), []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return f
}

const bSFTPServer = "/usr/lib/openssh/sftp-server"

func (f *bConn) Run(ctx context.Context, cmd string, stdin []byte, env map[string]string) (Output, error) {
	f.mu.Lock()
	f.ran = append(f.ran, cmd)
	f.mu.Unlock()
	path := "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin"
	argv := []string{"/bin/sh", "-c", "umask " + bUmask + "; " + cmd}
	if f.unprivileged {
		if strings.HasPrefix(cmd, "sudo ") {
			path = f.fakeSudoDir + ":" + path
		} else {
			argv = append([]string{"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"}, argv...)
		}
	}
	c := osexec.CommandContext(ctx, argv[0], argv[1:]...)
	c.Dir = f.home
	c.Env = []string{"PATH=" + path, "HOME=" + f.home, "LC_ALL=C"}
	for k, v := range env {
		c.Env = append(c.Env, k+"="+v)
	}
	c.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	c.Stdout, c.Stderr = &stdout, &stderr
	err := c.Run()
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

// commands returns the commands run so far.
func (f *bConn) commands() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.ran...)
}

func (f *bConn) SFTP(ctx context.Context) (*sftp.Client, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.client != nil {
		return f.client, nil
	}
	if f.unprivileged {
		return f.startSFTPServer()
	}
	// Two pipes make a full-duplex stream between client and server.
	cr, sw := io.Pipe()
	sr, cw := io.Pipe()
	srv, err := sftp.NewServer(struct {
		io.Reader
		io.WriteCloser
	}{sr, sw}, sftp.WithServerWorkingDirectory(f.home))
	if err != nil {
		return nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		srv.Serve()
	}()
	client, err := sftp.NewClientPipe(cr, cw)
	if err != nil {
		return nil, err
	}
	f.t.Cleanup(func() {
		// The pipes first: the client waits for its reader to see the end.
		for _, p := range []io.Closer{cr, sw, sr, cw} {
			p.Close()
		}
		client.Close()
		srv.Close()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			f.t.Error("the SFTP server did not stop")
		}
	})
	f.client = client
	return client, nil
}

// startSFTPServer runs OpenSSH's sftp-server as nobody, in its home.
func (f *bConn) startSFTPServer() (*sftp.Client, error) {
	cmd := osexec.Command("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
		"/bin/sh", "-c", "umask "+bUmask+"; cd \"$HOME\" && exec "+bSFTPServer)
	cmd.Env = []string{"HOME=" + f.home, "PATH=/usr/bin:/bin"}
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	client, err := sftp.NewClientPipe(out, in)
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	f.t.Cleanup(func() {
		client.Close()
		in.Close()
		cmd.Wait()
	})
	f.client = client
	return client, nil
}

func (f *bConn) Remote(ctx context.Context) (*transfer.Remote, error) {
	fs, err := f.SFTP(ctx)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.remote == nil {
		f.remote = &transfer.Remote{Host: "h1", FS: fs,
			Run: func(ctx context.Context, cmd string, stdin []byte, stdout, stderr io.Writer) error {
				out, err := f.Run(ctx, cmd, stdin, nil)
				stdout.Write(out.Stdout)
				stderr.Write(out.Stderr)
				if err == nil && out.RC != 0 {
					err = bExitError(out.RC)
				}
				return err
			},
		}
	}
	return f.remote, nil
}

func (f *bConn) Dial(ctx context.Context, addr string) (net.Conn, error) {
	return nil, errors.New("bConn: no dialing")
}

// bExitError is a command's non-zero exit, as transfer expects it.
type bExitError int

func (e bExitError) Error() string   { return "exit status " + strconv.Itoa(int(e)) }
func (e bExitError) ExitStatus() int { return int(e) }

// bCall makes a call of module on f, with the playbook directory pb for
// relative sources.
func bCall(t *testing.T, f *bConn, pb, module string, args map[string]any, mods ...func(*Call)) *Call {
	c := &Call{Host: "h1", Module: module, Args: args, Conn: f, LocalDir: t.TempDir(),
		SearchDirs: []string{filepath.Join(pb, "files"), filepath.Join(pb, "templates"), pb}}
	for _, m := range mods {
		m(c)
	}
	return c
}

// bRun runs a module and fails the test on a host error.
func bRun(t *testing.T, f *bConn, pb, module string, args map[string]any, mods ...func(*Call)) Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := Run(ctx, bCall(t, f, pb, module, args, mods...))
	if err != nil {
		t.Fatalf("%s %v: host error: %v", module, args, err)
	}
	return res
}

func bCheck(c *Call)  { c.Check = true }
func bDiff(c *Call)   { c.Diff = true }
func bBecome(c *Call) { c.Become = &transfer.Become{} }

// bWrite writes a local or "remote" test file, making its directory.
func bWrite(t *testing.T, p, content string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

// bFile returns a file's content and permission bits, or "<missing>".
func bFile(t *testing.T, p string) (string, os.FileMode) {
	t.Helper()
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return "<missing>", 0
	}
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b), st.Mode().Perm()
}

// bOwner returns a local file's owner and group ids.
func bOwner(st os.FileInfo) (uid, gid int) {
	s := st.Sys().(*syscall.Stat_t)
	return int(s.Uid), int(s.Gid)
}
