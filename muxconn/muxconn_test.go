package muxconn_test

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/hostkey"
	"fleetrun.dev/fleet/muxconn/target"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// lab is a few in-process hosts with a client key and known_hosts.
type lab struct{ *labtest.Lab }

func newLab(t *testing.T, n int, opts labhost.Options) *lab {
	return &lab{labtest.Start(t, n, opts)}
}

func (l *lab) target(i int) *target.Target { return l.Target(i) }

func (l *lab) pool(t *testing.T, auth *muxconn.Auth) *muxconn.Pool { return newPool(t, auth) }

// newPool returns a pool checking host keys against an empty database
// (targets name their known_hosts), closed with auth (nil for a new one)
// when the test ends.
func newPool(t *testing.T, auth *muxconn.Auth) *muxconn.Pool {
	t.Helper()
	if auth == nil {
		auth = &muxconn.Auth{}
	}
	p := muxconn.NewPool(muxconn.PoolOptions{Auth: auth, HostKeys: muxconn.KnownHosts{DB: hostkey.NewDB()}})
	t.Cleanup(func() {
		p.Close()
		auth.Close()
	})
	return p
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestPoolDialsOncePerKey(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	var wg sync.WaitGroup
	masters := make([]*muxconn.Master, 20)
	errs := make([]error, 20)
	for i := range masters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			masters[i], errs[i] = p.Get(ctx, l.target(0))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Get %d: %v", i, err)
		}
		if masters[i] != masters[0] {
			t.Errorf("Get %d returned another master", i)
		}
	}
	for _, m := range masters {
		if err := m.Run(ctx, muxconn.Command{Cmd: "true"}); err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	if got := p.Dials(); got != 1 {
		t.Errorf("pool dialled %d times, want 1", got)
	}
	if st := l.Hosts[0].Stats(); st.Connections != 1 || st.Authenticated != 1 {
		t.Errorf("server saw %d connections, %d logins; want 1 and 1", st.Connections, st.Authenticated)
	}
}

// A gate set above the server's limit: the server refuses opens, fleet
// waits for a running session to end and retries; every command succeeds
// over one connection and the connection is never torn down.
func TestRefusedOpensAreRetried(t *testing.T) {
	l := newLab(t, 1, labhost.Options{MaxSessions: 3})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	tg := l.target(0)
	tg.MaxSessions = 50
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var out bytes.Buffer
			err := m.Run(ctx, muxconn.Command{Cmd: fmt.Sprintf("sleep 0.05; echo %d", i), Stdout: &out})
			if err != nil || strings.TrimSpace(out.String()) != fmt.Sprint(i) {
				t.Errorf("command %d: %v, output %q", i, err, out.String())
				failed.Add(1)
			}
		}()
	}
	wg.Wait()
	st := l.Hosts[0].Stats()
	if st.SessionsRefused == 0 {
		t.Errorf("the server refused nothing, so the retry path did not run")
	}
	if st.Connections != 1 {
		t.Errorf("%d connections, want 1", st.Connections)
	}
	// The limit drops towards the server's; labhost frees a slot when the
	// command exits, a little before fleet counts the session closed, so
	// it may settle a bit above 3.
	if got := m.Gate().Limit(); got >= 50 {
		t.Errorf("gate limit %d after refusals, want it lowered", got)
	}
}

func TestSessionGateCapsConcurrency(t *testing.T) {
	l := newLab(t, 1, labhost.Options{MaxSessions: 10})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	tg := l.target(0)
	tg.MaxSessions = 4
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := m.Run(ctx, muxconn.Command{Cmd: "sleep 0.05"}); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	// labhost frees a slot a moment after the client's close arrives, so
	// its own count may briefly exceed the gate's; the real-sshd tests
	// check the server side exactly.
	if st := l.Hosts[0].Stats(); st.SessionsRefused != 0 {
		t.Errorf("server refused %d sessions, want none", st.SessionsRefused)
	}
	if m.Gate().Peak() != 4 {
		t.Errorf("gate peak %d, want 4", m.Gate().Peak())
	}
}

func TestRunResults(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	m, err := p.Get(ctx, l.target(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()

	var out, errOut bytes.Buffer
	err = m.Run(ctx, muxconn.Command{
		Cmd:    `cat; echo "$FLEET_X" >&2; exit 3`,
		Stdin:  strings.NewReader("input\n"),
		Stdout: &out, Stderr: &errOut,
		Env: map[string]string{"FLEET_X": "env-ok"},
	})
	var exit *muxconn.ExitError
	if !errors.As(err, &exit) || exit.Status != 3 {
		t.Errorf("err = %v, want exit 3", err)
	}
	if out.String() != "input\n" || errOut.String() != "env-ok\n" {
		t.Errorf("stdout %q stderr %q", out.String(), errOut.String())
	}

	start := time.Now()
	err = m.Run(ctx, muxconn.Command{Cmd: "sleep 30", Timeout: 200 * time.Millisecond})
	var to *muxconn.TimeoutError
	if !errors.As(err, &to) || !strings.Contains(err.Error(), "timed out after 200ms") {
		t.Errorf("err = %v, want a timeout", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the timeout did not stop the command")
	}

	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- m.Run(cctx, muxconn.Command{Cmd: "sleep 30"}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	// The master survives its sessions' cancellation.
	if err := m.Run(ctx, muxconn.Command{Cmd: "true"}); err != nil {
		t.Errorf("after cancel: %v", err)
	}
	if st := l.Hosts[0].Stats(); st.OpenSessions != 0 && st.Connections != 1 {
		t.Errorf("stats %+v", st)
	}
}

// A host that stops answering mid-run is declared lost by keepalives.
func TestKeepaliveDeclaresStalledHostLost(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	tg := l.target(0)
	tg.ServerAliveInterval = 100 * time.Millisecond
	tg.ServerAliveCountMax = 3
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, muxconn.Command{Cmd: "sleep 30"}) }()
	time.Sleep(200 * time.Millisecond) // keepalives are answered meanwhile
	l.Hosts[0].SetStalled(true)
	defer l.Hosts[0].SetStalled(false)
	select {
	case err := <-errc:
		var u *muxconn.UnreachableError
		if !errors.As(err, &u) || u.Cause != muxconn.CauseLost || !strings.Contains(err.Error(), "keepalive") {
			t.Errorf("err = %v, want the connection lost to keepalives", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("a stalled host hung the run")
	}
	select {
	case <-m.Done():
	default:
		t.Error("the master is not marked gone")
	}
}

func TestConnectFailures(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	ctx := testCtx(t)

	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	accepted := make(chan struct{})
	go func() {
		defer close(accepted)
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	defer func() {
		silent.Close()
		<-accepted
		for _, c := range conns {
			c.Close()
		}
	}()
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	_, otherKey := labtest.NewKey(t)
	wrongKnown := filepath.Join(l.Dir, "wrong_known_hosts")
	os.WriteFile(wrongKnown, []byte(knownhosts.Line([]string{l.Hosts[0].Addr().String()}, otherKey.PublicKey())+"\n"), 0o600)

	cases := []struct {
		name   string
		modify func(*target.Target)
		cause  muxconn.Cause
		text   string
	}{
		{"refused", func(t *target.Target) { t.Port = closedPort }, muxconn.CauseRefused, "refused"},
		{"silent", func(t *target.Target) {
			t.Port = silent.Addr().(*net.TCPAddr).Port
			t.ConnectTimeout = 300 * time.Millisecond
		}, muxconn.CauseTimeout, "within 300ms"},
		{"unknown host key", func(t *target.Target) { t.UserKnownHostsFiles = []string{filepath.Join(l.Dir, "none")} }, muxconn.CauseHostKey, "not known"},
		{"changed host key", func(t *target.Target) { t.UserKnownHostsFiles = []string{wrongKnown} }, muxconn.CauseHostKey, "changed"},
		{"auth", func(t *target.Target) { t.IdentityFiles = nil }, muxconn.CauseAuth, "authentication as \"tester\" failed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := l.pool(t, nil)
			tg := l.target(0)
			c.modify(tg)
			_, err := p.Get(ctx, tg)
			var u *muxconn.UnreachableError
			if !errors.As(err, &u) {
				t.Fatalf("err = %v, want *UnreachableError", err)
			}
			if u.Cause != c.cause || !strings.Contains(err.Error(), c.text) {
				t.Errorf("cause %q, err %q; want %q containing %q", u.Cause, err, c.cause, c.text)
			}
			if u.HintText() == "" {
				t.Errorf("no hint for %s", c.name)
			}
		})
	}
}

type fakePrompt struct {
	answer string
	asked  atomic.Int32
}

func (f *fakePrompt) Secret(string) (string, error) {
	f.asked.Add(1)
	return f.answer, nil
}

func TestAuthPasswordAskedOnce(t *testing.T) {
	l := newLab(t, 3, labhost.Options{Password: "s3cret"})
	prompt := &fakePrompt{answer: "s3cret"}
	auth := &muxconn.Auth{Prompt: prompt, AskPass: true}
	p := l.pool(t, auth)
	ctx := testCtx(t)
	for i := range l.Hosts {
		tg := l.target(i)
		tg.IdentityFiles = nil
		m, err := p.Get(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		m.Release()
	}
	if got := prompt.asked.Load(); got != 1 {
		t.Errorf("password asked %d times, want once", got)
	}
}

func TestAuthEncryptedKey(t *testing.T) {
	l := newLab(t, 2, labhost.Options{})
	// The client key again, with a passphrase.
	data, _ := os.ReadFile(l.KeyPath)
	raw, _ := ssh.ParseRawPrivateKey(data)
	block, err := ssh.MarshalPrivateKeyWithPassphrase(raw, "", []byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	enc := filepath.Join(l.Dir, "id_encrypted")
	os.WriteFile(enc, pem.EncodeToMemory(block), 0o600)
	ctx := testCtx(t)

	t.Run("no terminal", func(t *testing.T) {
		p := l.pool(t, &muxconn.Auth{})
		tg := l.target(0)
		tg.IdentityFiles = []string{enc}
		_, err := p.Get(ctx, tg)
		if err == nil || !strings.Contains(err.Error(), "encrypted") || !strings.Contains(err.Error(), "ssh-add") {
			t.Errorf("err = %v, want it to say the key is encrypted and to use ssh-add", err)
		}
	})
	t.Run("asked once", func(t *testing.T) {
		prompt := &fakePrompt{answer: "pw"}
		p := l.pool(t, &muxconn.Auth{Prompt: prompt})
		for i := range l.Hosts {
			tg := l.target(i)
			tg.IdentityFiles = []string{enc}
			m, err := p.Get(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			m.Release()
		}
		if got := prompt.asked.Load(); got != 1 {
			t.Errorf("passphrase asked %d times, want once", got)
		}
	})
}

func TestAuthAgent(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	keyring := agent.NewKeyring()
	data, _ := os.ReadFile(l.KeyPath)
	raw, _ := ssh.ParseRawPrivateKey(data)
	if err := keyring.Add(agent.AddedKey{PrivateKey: raw}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(l.Dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				agent.ServeAgent(keyring, c)
			}()
		}
	}()
	auth := &muxconn.Auth{}
	p := muxconn.NewPool(muxconn.PoolOptions{Auth: auth, HostKeys: muxconn.KnownHosts{DB: hostkey.NewDB()}})
	defer func() {
		p.Close()
		auth.Close() // closes the agent connection, ending ServeAgent
		ln.Close()
		wg.Wait()
	}()
	tg := l.target(0)
	tg.IdentityFiles = nil
	tg.IdentityAgent = sock
	m, err := p.Get(testCtx(t), tg)
	if err != nil {
		t.Fatalf("login with the agent's key: %v", err)
	}
	m.Release()
}

// Targets behind one jump host share the jump host's connection.
func TestJumpConnectionShared(t *testing.T) {
	l := newLab(t, 4, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	jump := l.target(0)
	var masters []*muxconn.Master
	for i := 1; i < 4; i++ {
		tg := l.target(i)
		tg.ProxyJump = []*target.Target{jump}
		m, err := p.Get(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.Run(ctx, muxconn.Command{Cmd: "true"}); err != nil {
			t.Fatal(err)
		}
		masters = append(masters, m)
	}
	st := l.Hosts[0].Stats()
	if st.Connections != 1 || st.Forwards != 3 {
		t.Errorf("jump host: %d connections and %d forwards, want 1 and 3", st.Connections, st.Forwards)
	}
	for _, m := range masters {
		m.Release()
	}
}

// TryRun returns ErrNoRoom at once when the caller's own session fills the
// gate, or the server refuses a second one, and runs when there is room.
func TestTryRunNoRoom(t *testing.T) {
	for _, c := range []struct {
		name        string
		server, our int
	}{{"gate full", 10, 1}, {"server refuses", 1, 10}} {
		t.Run(c.name, func(t *testing.T) {
			l := newLab(t, 1, labhost.Options{MaxSessions: c.server})
			ctx := testCtx(t)
			tg := l.target(0)
			tg.MaxSessions = c.our
			m, err := l.pool(t, nil).Get(ctx, tg)
			if err != nil {
				t.Fatal(err)
			}
			defer m.Release()
			fs, err := m.SFTP(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if err := m.TryRun(ctx, muxconn.Command{Cmd: "true"}); !errors.Is(err, muxconn.ErrNoRoom) {
				t.Errorf("TryRun beside the SFTP session: %v, want ErrNoRoom", err)
			}
			if _, err := fs.Getwd(); err != nil {
				t.Errorf("the SFTP session broke: %v", err)
			}
			fs.Close()
			var out bytes.Buffer
			if err := m.Run(ctx, muxconn.Command{Cmd: "echo ok", Stdout: &out}); err != nil || out.String() != "ok\n" {
				t.Errorf("Run after the SFTP session closed: %v %q", err, out.String())
			}
		})
	}
}
