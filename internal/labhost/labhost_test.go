package labhost

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hangTimeout guards against hangs; no test expects to get near it.
const hangTimeout = 20 * time.Second

func newSigner(t *testing.T) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

type lab struct {
	srv    *Server
	home   string
	client *ssh.ClientConfig
}

// startLab starts a host on 127.0.0.1 with a fresh host key, a fresh client
// key and a temporary home; opts fills in anything else.
func startLab(t *testing.T, opts Options) *lab {
	t.Helper()
	hostKey, clientKey := newSigner(t), newSigner(t)
	opts.Addr = "127.0.0.1:0"
	opts.HostKey = hostKey
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, clientKey.PublicKey())
	if opts.Home == "" {
		opts.Home = t.TempDir()
	}
	opts.Logf = t.Logf
	srv, err := Start(t.Context(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &lab{srv: srv, home: opts.Home, client: &ssh.ClientConfig{
		User:            "tester",
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(clientKey)},
		HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()),
		Timeout:         hangTimeout,
	}}
}

func (l *lab) dial(t *testing.T) *ssh.Client {
	t.Helper()
	c, err := ssh.Dial("tcp", l.srv.Addr().String(), l.client)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// within fails the test if f does not return before hangTimeout.
func within(t *testing.T, what string, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { defer close(done); f() }()
	select {
	case <-done:
	case <-time.After(hangTimeout):
		t.Fatalf("%s: still blocked after %v", what, hangTimeout)
	}
}

func TestExec(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	tests := []struct {
		name       string
		cmd        string
		stdin      string
		env        map[string]string
		wantOut    string
		wantErr    string
		wantStatus int
	}{
		{name: "stdout", cmd: "echo hello", wantOut: "hello\n"},
		{name: "stderr", cmd: "echo oops >&2", wantErr: "oops\n"},
		{name: "exit status", cmd: "echo partial; exit 3", wantOut: "partial\n", wantStatus: 3},
		{name: "stdin", cmd: "tr a-z A-Z", stdin: "piped in\n", wantOut: "PIPED IN\n"},
		{name: "stdin EOF without data", cmd: "cat; echo done", wantOut: "done\n"},
		{name: "env request", cmd: `echo "$FOO-$BAR"`, env: map[string]string{"FOO": "foo", "BAR": "b a r"}, wantOut: "foo-b a r\n"},
		{name: "home and cwd", cmd: `echo "$HOME"; pwd`, wantOut: l.home + "\n" + l.home + "\n"},
		{name: "large output flushed before exit", cmd: "head -c 300000 /dev/zero | tr '\\0' x; exit 7", wantOut: strings.Repeat("x", 300000), wantStatus: 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := c.NewSession()
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			for k, v := range tt.env {
				if err := s.Setenv(k, v); err != nil {
					t.Fatalf("Setenv(%s): %v", k, err)
				}
			}
			var out, errOut bytes.Buffer
			s.Stdout, s.Stderr = &out, &errOut
			s.Stdin = strings.NewReader(tt.stdin)
			var runErr error
			within(t, "Run", func() { runErr = s.Run(tt.cmd) })
			status := 0
			if ee := (*ssh.ExitError)(nil); errors.As(runErr, &ee) {
				status = ee.ExitStatus()
			} else if runErr != nil {
				t.Fatalf("Run(%q): %v", tt.cmd, runErr)
			}
			if status != tt.wantStatus {
				t.Errorf("exit status = %d, want %d", status, tt.wantStatus)
			}
			if out.String() != tt.wantOut {
				t.Errorf("stdout = %.80q (%d bytes), want %.80q (%d bytes)", out.String(), out.Len(), tt.wantOut, len(tt.wantOut))
			}
			if errOut.String() != tt.wantErr {
				t.Errorf("stderr = %q, want %q", errOut.String(), tt.wantErr)
			}
		})
	}
}

func TestUnsupportedRequests(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.RequestPty("xterm", 24, 80, ssh.TerminalModes{}); err == nil {
		t.Error("pty-req succeeded, want a false reply")
	}
	if err := s.Shell(); err == nil {
		t.Error("shell succeeded, want a false reply")
	}
	if ok, err := s.SendRequest("no-such-request@example.com", true, nil); ok || err != nil {
		t.Errorf("unknown request: ok=%v err=%v, want false reply", ok, err)
	}
	// The session is still usable after refused requests.
	if out, err := s.Output("echo still here"); err != nil || string(out) != "still here\n" {
		t.Errorf("exec after refused requests: %q, %v", out, err)
	}
	// Global requests such as OpenSSH's keepalive get a (false) answer.
	if ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil); ok || err != nil {
		t.Errorf("keepalive@openssh.com: ok=%v err=%v, want false reply", ok, err)
	}
}

// startPID runs cmd, which must print the pid to signal on its first line,
// and returns the session and that pid.
func startPID(t *testing.T, c *ssh.Client, cmd string) (*ssh.Session, int) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(cmd); err != nil {
		t.Fatal(err)
	}
	var line string
	within(t, "reading pid", func() { line, err = bufio.NewReader(stdout).ReadString('\n') })
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		t.Fatalf("reading pid line %q: %v %v", line, err, perr)
	}
	return s, pid
}

// alive reports whether pid is a running (not zombie) process. A killed
// grandchild is reparented and reaped by init, maybe late; as a zombie it
// is dead already.
func alive(pid int) bool {
	if stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); err == nil {
		// The state follows the parenthesized command name.
		if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) {
			return stat[i+2] != 'Z'
		}
	}
	return syscall.Kill(pid, 0) == nil
}

// waitGone waits until pid no longer runs.
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("process %d still exists after %v", pid, hangTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestSignal(t *testing.T) {
	tests := []struct {
		signal ssh.Signal
		want   string
	}{
		{ssh.SIGTERM, "TERM"},
		{ssh.SIGKILL, "KILL"},
		{ssh.SIGUSR1, "USR1"},
	}
	l := startLab(t, Options{})
	c := l.dial(t)
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			// The sleep runs in a subshell so the signal must reach the
			// whole process group, not only the shell.
			s, pid := startPID(t, c, "sh -c 'echo $$; exec sleep 30'; echo not reached")
			defer s.Close()
			if err := s.Signal(tt.signal); err != nil {
				t.Fatal(err)
			}
			var err error
			within(t, "Wait after signal", func() { err = s.Wait() })
			var ee *ssh.ExitError
			if !errors.As(err, &ee) || ee.Signal() != tt.want {
				t.Fatalf("Wait() = %v, want exit-signal %s", err, tt.want)
			}
			waitGone(t, pid)
		})
	}
}

func TestCloseSessionKillsCommand(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	s, pid := startPID(t, c, "sh -c 'echo $$; exec sleep 30'")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
}

func TestKillConnections(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	s, pid := startPID(t, c, "echo $$; exec sleep 30")
	l.srv.KillConnections()
	within(t, "client Wait after KillConnections", func() { c.Wait() })
	if err := s.Wait(); err == nil {
		t.Error("session Wait() = nil after the connection was killed, want an error")
	}
	waitGone(t, pid)
	// The host still accepts new connections.
	if out, err := mustSession(t, l.dial(t)).Output("echo back"); err != nil || string(out) != "back\n" {
		t.Errorf("exec on a new connection: %q, %v", out, err)
	}
	if got := l.srv.Stats().Connections; got != 2 {
		t.Errorf("Stats().Connections = %d, want 2", got)
	}
}

func TestServerCloseKillsCommands(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	_, pid := startPID(t, c, "echo $$; exec sleep 30")
	within(t, "Server.Close", func() { l.srv.Close() })
	if alive(pid) {
		t.Errorf("process %d survived Server.Close", pid)
	}
	within(t, "client Wait after Close", func() { c.Wait() })
	if _, err := net.DialTimeout("tcp", l.srv.Addr().String(), hangTimeout); err == nil {
		t.Error("listener still accepts after Close")
	}
	if err := l.srv.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestContextCancelClosesServer(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	srv, err := Start(ctx, Options{Addr: "127.0.0.1:0", HostKey: newSigner(t)})
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	within(t, "Close after cancel", func() { srv.Close() })
	if _, err := net.DialTimeout("tcp", srv.Addr().String(), hangTimeout); err == nil {
		t.Error("listener still accepts after ctx was canceled")
	}
}

func mustSession(t *testing.T, c *ssh.Client) *ssh.Session {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestMaxSessions(t *testing.T) {
	l := startLab(t, Options{MaxSessions: 3})
	c := l.dial(t)
	var open []*ssh.Session
	for range 3 {
		open = append(open, mustSession(t, c))
	}
	_, err := c.NewSession()
	var oce *ssh.OpenChannelError
	if !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed || oce.Message != "no more sessions" {
		t.Fatalf("4th NewSession: %v, want OpenChannelError ConnectionFailed %q", err, "no more sessions")
	}
	// Another connection has its own limit.
	mustSession(t, l.dial(t))

	open[0].Close()
	// The slot is freed once the server has processed the close, which
	// the client cannot observe; like fleet's pool, retry on refusal.
	deadline := time.Now().Add(hangTimeout)
	for {
		s, err := c.NewSession()
		if err == nil {
			s.Close()
			break
		}
		if !errors.As(err, &oce) || oce.Reason != ssh.ConnectionFailed || time.Now().After(deadline) {
			t.Fatalf("NewSession after a close: %v", err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	st := l.srv.Stats()
	if st.MaxConcurrentSessions != 3 {
		t.Errorf("MaxConcurrentSessions = %d, want 3", st.MaxConcurrentSessions)
	}
	if st.SessionsRefused < 1 {
		t.Errorf("SessionsRefused = %d, want >= 1", st.SessionsRefused)
	}
	if st.SessionsOpened != 5 {
		t.Errorf("SessionsOpened = %d, want 5", st.SessionsOpened)
	}
}

func TestSFTP(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	sc, err := sftp.NewClient(c)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	want := []byte("written over sftp\n")
	f, err := sc.Create("note.txt") // relative: lands in Home
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = sc.Open("note.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil || !bytes.Equal(got, want) {
		t.Errorf("read back %q, %v; want %q", got, err, want)
	}
	if onDisk, err := os.ReadFile(filepath.Join(l.home, "note.txt")); err != nil || !bytes.Equal(onDisk, want) {
		t.Errorf("file in home = %q, %v; want %q", onDisk, err, want)
	}
	if wd, err := sc.Getwd(); err != nil || wd != l.home {
		t.Errorf("sftp Getwd() = %q, %v; want %q", wd, err, l.home)
	}
	if got := l.srv.Stats().SFTPCount; got != 1 {
		t.Errorf("SFTPCount = %d, want 1", got)
	}
}

func TestDirectTCPIP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	echoDone := make(chan struct{})
	go func() {
		defer close(echoDone)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.Copy(conn, conn)
	}()
	defer func() { ln.Close(); <-echoDone }()

	l := startLab(t, Options{})
	c := l.dial(t)
	conn, err := c.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msg := []byte("through the jump host")
	if _, err := conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(msg))
	within(t, "reading echo", func() { _, err = io.ReadFull(conn, got) })
	if err != nil || !bytes.Equal(got, msg) {
		t.Errorf("echo = %q, %v; want %q", got, err, msg)
	}

	for _, dest := range []string{"192.0.2.1:22", "[2001:db8::1]:22", "example.com:80"} {
		_, err := c.Dial("tcp", dest)
		var oce *ssh.OpenChannelError
		if !errors.As(err, &oce) || oce.Reason != ssh.Prohibited {
			t.Errorf("Dial(%s) = %v, want OpenChannelError Prohibited", dest, err)
		}
	}
	if got := l.srv.Stats().Forwards; got != 1 {
		t.Errorf("Forwards = %d, want 1", got)
	}
}

func TestAuth(t *testing.T) {
	l := startLab(t, Options{Password: "s3cret"})
	noPw := startLab(t, Options{})
	answer := func(pw string) ssh.KeyboardInteractiveChallenge {
		return func(name, instruction string, questions []string, echos []bool) ([]string, error) {
			if !slices.Equal(questions, []string{"Password: "}) {
				return nil, errors.New("unexpected prompts " + strings.Join(questions, "|"))
			}
			return []string{pw}, nil
		}
	}
	tests := []struct {
		name string
		lab  *lab
		auth ssh.AuthMethod
		ok   bool
	}{
		{"password", l, ssh.Password("s3cret"), true},
		{"wrong password", l, ssh.Password("guess"), false},
		{"keyboard-interactive", l, ssh.KeyboardInteractive(answer("s3cret")), true},
		{"wrong keyboard-interactive", l, ssh.KeyboardInteractive(answer("guess")), false},
		{"password auth off", noPw, ssh.Password(""), false},
		{"unknown key", l, ssh.PublicKeys(newSigner(t)), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := *tt.lab.client
			cfg.User = "user-" + strings.ReplaceAll(tt.name, " ", "-")
			cfg.Auth = []ssh.AuthMethod{tt.auth}
			c, err := ssh.Dial("tcp", tt.lab.srv.Addr().String(), &cfg)
			if err == nil {
				c.Close()
			}
			if (err == nil) != tt.ok {
				t.Fatalf("Dial: err = %v, want success %v", err, tt.ok)
			}
		})
	}
	st := l.srv.Stats()
	if st.Authenticated != 2 || st.Connections != 5 {
		t.Errorf("Authenticated/Connections = %d/%d, want 2/5", st.Authenticated, st.Connections)
	}
	if want := []string{"user-keyboard-interactive", "user-password"}; !slices.Equal(st.Users, want) {
		t.Errorf("Users = %q, want %q", st.Users, want)
	}
}

func TestStats(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	for range 3 {
		if err := mustSession(t, c).Run("true"); err != nil {
			t.Fatal(err)
		}
	}
	st := l.srv.Stats()
	want := Stats{Connections: 1, OpenConnections: 1, Authenticated: 1, SessionsOpened: 3,
		ExecCount: 3, Users: []string{"tester"}}
	// The server frees a slot only after it has processed the client's
	// close, which may come after the next open; TestMaxSessions covers
	// slots, so only sanity-check the gauges here.
	if st.MaxConcurrentSessions < 1 || st.MaxConcurrentSessions > 3 || st.OpenSessions < 0 || st.OpenSessions > 3 {
		t.Errorf("MaxConcurrentSessions %d, OpenSessions %d after 3 sequential sessions", st.MaxConcurrentSessions, st.OpenSessions)
	}
	st.OpenSessions, st.MaxConcurrentSessions = 0, 0
	if !reflect.DeepEqual(st, want) {
		t.Errorf("Stats() = %+v, want %+v", st, want)
	}
}

func TestStalled(t *testing.T) {
	l := startLab(t, Options{})
	c := l.dial(t)
	l.srv.SetStalled(true)
	answered := make(chan error, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		answered <- err
	}()
	// Not a timing assertion: a frozen host must not answer at all, so any
	// answer within this window is a bug.
	select {
	case err := <-answered:
		t.Fatalf("stalled host answered a keepalive (err %v)", err)
	case <-time.After(200 * time.Millisecond):
	}
	l.srv.SetStalled(false)
	select {
	case err := <-answered:
		if err != nil {
			t.Errorf("keepalive after thaw: %v", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("no answer after SetStalled(false)")
	}
}

func TestStartErrors(t *testing.T) {
	key := newSigner(t)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no host key", Options{Addr: "127.0.0.1:0"}, "HostKey is nil"},
		{"negative sessions", Options{Addr: "127.0.0.1:0", HostKey: key, MaxSessions: -1}, "MaxSessions is -1"},
		{"missing home", Options{Addr: "127.0.0.1:0", HostKey: key, Home: filepath.Join(t.TempDir(), "nope")}, "is not a directory"},
		{"bad address", Options{Addr: "127.0.0.1:99999", HostKey: key}, "listen on 127.0.0.1:99999"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv, err := Start(t.Context(), tt.opts)
			if err == nil {
				srv.Close()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not mention %q", err, tt.want)
			}
		})
	}
}
