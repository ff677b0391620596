//go:build unix

package mux

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"go.uber.org/goleak"
	"golang.org/x/crypto/cryptobyte"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// pxHang bounds every wait in these tests; nothing here should take long.
const pxHang = 30 * time.Second

// pxSocketPair returns the two ends of a connected unix stream socket
// pair, the kind of connection a ControlMaster serves.
func pxSocketPair(t testing.TB) (net.Conn, net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	conn := func(fd int) net.Conn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatalf("socketpair: %v", err)
		}
		return c
	}
	return conn(fds[0]), conn(fds[1])
}

// pxServed is a ServeProxy call running in a goroutine.
type pxServed struct {
	done chan struct{}
	err  error
}

func pxServe(ctx context.Context, conn net.Conn, up Upstream, handshake bool) *pxServed {
	s := &pxServed{done: make(chan struct{})}
	go func() {
		defer close(s.done)
		if handshake {
			if err := pxMasterHandshake(conn); err != nil {
				conn.Close()
				s.err = err
				return
			}
		}
		s.err = ServeProxy(ctx, conn, up)
	}()
	return s
}

// wait returns ServeProxy's result, failing the test if it does not come.
func (s *pxServed) wait(t testing.TB) error {
	t.Helper()
	select {
	case <-s.done:
		return s.err
	case <-time.After(pxHang):
		t.Fatalf("ServeProxy still running after %v", pxHang)
		return nil
	}
}

// pxMasterHandshake plays the master's part before proxy mode, as x/crypto's
// NewControlClientConn expects it: read the client's HELLO and MUX_C_PROXY,
// answer HELLO (version 4) and MUX_S_PROXY with the same request id.
func pxMasterHandshake(c net.Conn) error {
	read := func(wantType uint32) (uint32, error) {
		var hdr [12]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			return 0, err
		}
		n := binary.BigEndian.Uint32(hdr[:4])
		if n != 8 {
			return 0, fmt.Errorf("client mux packet of %d bytes, want 8", n)
		}
		if typ := binary.BigEndian.Uint32(hdr[4:8]); typ != wantType {
			return 0, fmt.Errorf("client mux message %#x, want %#x", typ, wantType)
		}
		return binary.BigEndian.Uint32(hdr[8:]), nil
	}
	if v, err := read(0x00000001); err != nil {
		return err
	} else if v != 4 {
		return fmt.Errorf("client mux version %d", v)
	}
	rid, err := read(0x1000000f)
	if err != nil {
		return err
	}
	var out []byte
	for _, w := range []uint32{8, 0x00000001, 4, 8, 0x8000000f, rid} {
		out = binary.BigEndian.AppendUint32(out, w)
	}
	_, err = c.Write(out)
	return err
}

// pxClient starts ServeProxy for up on one end of a connection (a unix
// socket pair, or net.Pipe when pipe is set) and returns an x/crypto client
// on the other end, attached with NewControlClientConn.
func pxClient(t *testing.T, ctx context.Context, up Upstream, pipe bool) (*ssh.Client, *pxServed) {
	t.Helper()
	var srv, cli net.Conn
	if pipe {
		srv, cli = net.Pipe()
	} else {
		srv, cli = pxSocketPair(t)
	}
	served := pxServe(ctx, srv, up, true)
	conn, chans, reqs, err := ssh.NewControlClientConn(cli)
	if err != nil {
		cli.Close()
		served.wait(t)
		t.Fatalf("NewControlClientConn: %v", err)
	}
	c := ssh.NewClient(conn, chans, reqs)
	t.Cleanup(func() {
		c.Close()
		c.Wait()
		served.wait(t)
	})
	return c, served
}

// pxLab starts one lab host and returns an SSH client connected to it.
func pxLab(t *testing.T, opts labhost.Options) (*labtest.Lab, *ssh.Client) {
	t.Helper()
	l := labtest.Start(t, 1, opts)
	signer, err := ssh.NewSignerFromKey(l.Key)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(l.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	tg := l.Target(0)
	c, err := ssh.Dial("tcp", net.JoinHostPort(tg.HostName, fmt.Sprint(tg.Port)), &ssh.ClientConfig{
		User:            tg.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         pxHang,
	})
	if err != nil {
		t.Fatalf("dialling lab host: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return l, c
}

func pxCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*pxHang)
	t.Cleanup(cancel)
	return ctx
}

// pxRecorder is an Upstream that remembers the channels it opened.
type pxRecorder struct {
	Upstream
	mu    sync.Mutex
	chans []ssh.Channel
}

func (r *pxRecorder) OpenChannel(name string, data []byte) (ssh.Channel, <-chan *ssh.Request, error) {
	ch, reqs, err := r.Upstream.OpenChannel(name, data)
	if err == nil {
		r.mu.Lock()
		r.chans = append(r.chans, ch)
		r.mu.Unlock()
	}
	return ch, reqs, err
}

// assertClosed checks that every upstream channel was closed.
func (r *pxRecorder) assertClosed(t *testing.T) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.chans) == 0 {
		t.Fatal("no upstream channel was opened")
	}
	for i, ch := range r.chans {
		if _, err := ch.SendRequest("fleet-probe@test", true, nil); err == nil {
			t.Errorf("upstream channel %d still open after ServeProxy returned", i)
		}
	}
}

// pxEventually fails the test unless cond becomes true before pxHang.
func pxEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(pxHang)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not so after %v", what, pxHang)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func pxRun(c *ssh.Client, cmd, stdin string) (stdout, stderr string, err error) {
	s, err := c.NewSession()
	if err != nil {
		return "", "", err
	}
	defer s.Close()
	var o, e bytes.Buffer
	s.Stdout, s.Stderr = &o, &e
	if stdin != "" {
		s.Stdin = strings.NewReader(stdin)
	}
	err = s.Run(cmd)
	return o.String(), e.String(), err
}

func TestProxyCommands(t *testing.T) {
	_, up := pxLab(t, labhost.Options{})
	c, _ := pxClient(t, pxCtx(t), up, false)
	tests := []struct {
		name, cmd, stdin       string
		wantStdout, wantStderr string
		wantStatus             int // -1: success
		wantSignal             string
	}{
		{name: "ok", cmd: "echo out; echo err >&2", wantStdout: "out\n", wantStderr: "err\n", wantStatus: -1},
		{name: "exit 3", cmd: "printf abc; printf def >&2; exit 3", wantStdout: "abc", wantStderr: "def", wantStatus: 3},
		{name: "stdin", cmd: "tr a-z A-Z; echo done >&2", stdin: "hello\nworld\n", wantStdout: "HELLO\nWORLD\n", wantStderr: "done\n", wantStatus: -1},
		{name: "signal", cmd: "echo before; kill -TERM $$", wantStdout: "before\n", wantSignal: "TERM"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			stdout, stderr, err := pxRun(c, tt.cmd, tt.stdin)
			if stdout != tt.wantStdout || stderr != tt.wantStderr {
				t.Errorf("stdout %q, stderr %q; want %q, %q", stdout, stderr, tt.wantStdout, tt.wantStderr)
			}
			var ee *ssh.ExitError
			switch {
			case tt.wantSignal != "":
				if !errors.As(err, &ee) || ee.Signal() != tt.wantSignal {
					t.Errorf("err = %v; want exit signal %s", err, tt.wantSignal)
				}
			case tt.wantStatus < 0:
				if err != nil {
					t.Errorf("err = %v; want success", err)
				}
			default:
				if !errors.As(err, &ee) || ee.ExitStatus() != tt.wantStatus {
					t.Errorf("err = %v; want exit status %d", err, tt.wantStatus)
				}
			}
		})
	}
}

func TestProxyConcurrentSessions(t *testing.T) {
	l, up := pxLab(t, labhost.Options{MaxSessions: 32})
	// net.Pipe has no buffer at all: any place where the proxy's reader
	// waited on its own writes would deadlock here.
	c, _ := pxClient(t, pxCtx(t), up, true)
	const n = 20
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			in := strings.Repeat(fmt.Sprintf("session %d\n", i), 1000)
			stdout, stderr, err := pxRun(c, fmt.Sprintf("cat; echo %d >&2", i), in)
			switch {
			case err != nil:
				errs[i] = err
			case stdout != in || stderr != fmt.Sprintf("%d\n", i):
				errs[i] = fmt.Errorf("got %d bytes of stdout and stderr %q", len(stdout), stderr)
			}
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("session %d: %v", i, err)
		}
	}
	if got := l.Hosts[0].Stats().MaxConcurrentSessions; got < 2 {
		t.Errorf("at most %d sessions were open at once; the proxy serialized them", got)
	}
}

func TestProxyLargeTransfer(t *testing.T) {
	_, up := pxLab(t, labhost.Options{})
	c, _ := pxClient(t, pxCtx(t), up, false)
	data := make([]byte, 32<<20)
	rand.NewChaCha8([32]byte{1}).Read(data)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])

	// Upload: the remote hashes what arrives and keeps a copy.
	stdout, stderr, err := pxRun(c, "tee big | sha256sum", string(data))
	if err != nil {
		t.Fatalf("upload: %v (stderr %q)", err, stderr)
	}
	if got, _, _ := strings.Cut(stdout, " "); got != want {
		t.Fatalf("remote sha256 of the upload is %s, want %s", got, want)
	}

	// Download the copy back.
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	h := sha256.New()
	var n countWriter
	s.Stdout = io.MultiWriter(h, &n)
	if err := s.Run("cat big"); err != nil {
		t.Fatalf("download: %v", err)
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != want || int(n) != len(data) {
		t.Fatalf("downloaded %d bytes with sha256 %s, want %d bytes with %s", n, got, len(data), want)
	}
}

type countWriter int64

func (w *countWriter) Write(p []byte) (int, error) { *w += countWriter(len(p)); return len(p), nil }

func TestProxySFTP(t *testing.T) {
	l, up := pxLab(t, labhost.Options{})
	c, _ := pxClient(t, pxCtx(t), up, false)
	sc, err := sftp.NewClient(c, sftp.UseConcurrentWrites(true))
	if err != nil {
		t.Fatalf("sftp over the proxy: %v", err)
	}
	defer sc.Close()
	want := bytes.Repeat([]byte("fleet sftp through a proxied master\n"), 10000)
	f, err := sc.Create("pushed.txt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	f, err = sc.Open("pushed.txt")
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read back %d bytes, wrote %d, contents differ", len(got), len(want))
	}
	if st := l.Hosts[0].Stats(); st.SFTPCount != 1 {
		t.Errorf("lab host served %d SFTP subsystems, want 1", st.SFTPCount)
	}
}

func TestProxyRefusedOpen(t *testing.T) {
	l, up := pxLab(t, labhost.Options{MaxSessions: 1})
	c, _ := pxClient(t, pxCtx(t), up, false)
	first, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.NewSession()
	var oe *ssh.OpenChannelError
	if !errors.As(err, &oe) || oe.Reason != ssh.ConnectionFailed || oe.Message != "no more sessions" {
		t.Fatalf("second session: err = %#v; want *ssh.OpenChannelError with reason %d and sshd's message", err, ssh.ConnectionFailed)
	}
	// The refusal cost the connection nothing: once the first session is
	// gone, a retry gets through, as fleet's session gate expects.
	first.Close()
	pxEventually(t, "lab host has no open session", func() bool { return l.Hosts[0].Stats().OpenSessions == 0 })
	if stdout, _, err := pxRun(c, "echo again", ""); err != nil || stdout != "again\n" {
		t.Fatalf("retry: %q, %v", stdout, err)
	}
}

func TestProxyGlobalRequestToLab(t *testing.T) {
	_, up := pxLab(t, labhost.Options{})
	c, _ := pxClient(t, pxCtx(t), up, false)
	// Like OpenSSH, the lab host answers keepalives with failure; what
	// matters is that an answer comes back through the proxy.
	ok, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil || ok {
		t.Fatalf("keepalive: ok %v, err %v; want a refusal", ok, err)
	}
}

func TestProxyClientDisconnects(t *testing.T) {
	l, up := pxLab(t, labhost.Options{})
	rec := &pxRecorder{Upstream: up}
	c, served := pxClient(t, pxCtx(t), rec, false)
	s, _ := pxStartCat(t, c)
	defer s.Close()
	c.Close()
	if err := served.wait(t); err != nil {
		t.Fatalf("ServeProxy after the client went away: %v, want nil", err)
	}
	rec.assertClosed(t)
	pxEventually(t, "lab host has no open session", func() bool { return l.Hosts[0].Stats().OpenSessions == 0 })
}

func TestProxyContextCancel(t *testing.T) {
	l, up := pxLab(t, labhost.Options{})
	rec := &pxRecorder{Upstream: up}
	ctx, cancel := context.WithCancel(pxCtx(t))
	c, served := pxClient(t, ctx, rec, false)
	s, _ := pxStartCat(t, c)
	defer s.Close()
	cancel()
	if err := served.wait(t); !errors.Is(err, context.Canceled) {
		t.Fatalf("ServeProxy after cancel: %v, want context.Canceled", err)
	}
	rec.assertClosed(t)
	done := make(chan error, 1)
	go func() { done <- s.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("session ended cleanly although its master went away")
		}
	case <-time.After(pxHang):
		t.Fatal("client session still waiting after the master went away")
	}
	pxEventually(t, "lab host has no open session", func() bool { return l.Hosts[0].Stats().OpenSessions == 0 })
}

// pxStartCat starts `cat` in a session and waits until it echoes a line,
// so that the session is certainly running.
func pxStartCat(t *testing.T, c *ssh.Client) (*ssh.Session, *bufio.Reader) {
	t.Helper()
	s, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	in, err := s.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := s.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start("cat"); err != nil {
		t.Fatal(err)
	}
	out := bufio.NewReader(outPipe)
	if _, err := io.WriteString(in, "ping\n"); err != nil {
		t.Fatal(err)
	}
	if line, err := out.ReadString('\n'); err != nil || line != "ping\n" {
		t.Fatalf("cat echoed %q, %v", line, err)
	}
	return s, out
}

// pxFakeUp is an Upstream whose channels are scripted: each emits stdout
// and stderr, then ends its streams (eof) or waits to be closed. Writes wait
// for gate to close, when it is set.
type pxFakeUp struct {
	openErr        error
	stdout, stderr string
	eof            bool
	sendExit       bool // each channel starts with an exit-status request
	gate           chan struct{}
	globalOK       bool
	globalResp     []byte

	mu      sync.Mutex
	globals []string
	chans   []*pxFakeChan
}

func (u *pxFakeUp) OpenChannel(name string, data []byte) (ssh.Channel, <-chan *ssh.Request, error) {
	if u.openErr != nil {
		return nil, nil, u.openErr
	}
	if name == "refused" {
		return nil, nil, &ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "refused"}
	}
	c := &pxFakeChan{up: u, reqs: make(chan *ssh.Request, 1), closed: make(chan struct{})}
	c.out = &pxFakeStream{c: c, data: []byte(u.stdout)}
	c.errs = &pxFakeStream{c: c, data: []byte(u.stderr)}
	if u.sendExit {
		c.reqs <- &ssh.Request{Type: "exit-status", Payload: ssh.Marshal(struct{ Status uint32 }{7})}
	}
	u.mu.Lock()
	u.chans = append(u.chans, c)
	u.mu.Unlock()
	return c, c.reqs, nil
}

func (u *pxFakeUp) SendRequest(name string, wantReply bool, payload []byte) (bool, []byte, error) {
	u.mu.Lock()
	u.globals = append(u.globals, name)
	u.mu.Unlock()
	return u.globalOK, u.globalResp, nil
}

func (u *pxFakeUp) channel(i int) *pxFakeChan {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.chans[i]
}

type pxFakeChan struct {
	up        *pxFakeUp
	reqs      chan *ssh.Request
	closed    chan struct{}
	closeOnce sync.Once
	out, errs *pxFakeStream

	mu                sync.Mutex
	written, writtenE bytes.Buffer
	eofs              int
	requests          []string
}

type pxFakeStream struct {
	c    *pxFakeChan
	mu   sync.Mutex
	data []byte
}

func (s *pxFakeStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if len(s.data) > 0 {
		n := copy(p, s.data)
		s.data = s.data[n:]
		s.mu.Unlock()
		return n, nil
	}
	s.mu.Unlock()
	if !s.c.up.eof {
		<-s.c.closed
	}
	return 0, io.EOF
}

func (c *pxFakeChan) write(buf *bytes.Buffer, p []byte) (int, error) {
	if g := c.up.gate; g != nil {
		select {
		case <-g:
		case <-c.closed:
		}
	}
	select {
	case <-c.closed:
		return 0, io.EOF
	default:
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return buf.Write(p)
}

func (c *pxFakeChan) Read(p []byte) (int, error)  { return c.out.Read(p) }
func (c *pxFakeChan) Write(p []byte) (int, error) { return c.write(&c.written, p) }
func (c *pxFakeChan) Close() error {
	c.closeOnce.Do(func() {
		close(c.closed)
		close(c.reqs)
	})
	return nil
}

func (c *pxFakeChan) CloseWrite() error {
	c.mu.Lock()
	c.eofs++
	c.mu.Unlock()
	return nil
}

func (c *pxFakeChan) SendRequest(name string, wantReply bool, payload []byte) (bool, error) {
	c.mu.Lock()
	c.requests = append(c.requests, name)
	c.mu.Unlock()
	return name != "refuse-me", nil
}

func (c *pxFakeChan) Stderr() io.ReadWriter { return pxFakeStderr{c} }

func (c *pxFakeChan) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

type pxFakeStderr struct{ c *pxFakeChan }

func (s pxFakeStderr) Read(p []byte) (int, error)  { return s.c.errs.Read(p) }
func (s pxFakeStderr) Write(p []byte) (int, error) { return s.c.write(&s.c.writtenE, p) }

func TestProxyOpenFailureReasons(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		wantReason ssh.RejectionReason
		wantMsg    string
	}{
		{"max sessions", &ssh.OpenChannelError{Reason: ssh.ConnectionFailed, Message: "no more sessions"}, ssh.ConnectionFailed, "no more sessions"},
		{"old sshd", &ssh.OpenChannelError{Reason: ssh.Prohibited, Message: "no more sessions"}, ssh.Prohibited, "no more sessions"},
		{"unknown type", &ssh.OpenChannelError{Reason: ssh.UnknownChannelType, Message: "nope"}, ssh.UnknownChannelType, "nope"},
		{"resources", &ssh.OpenChannelError{Reason: ssh.ResourceShortage, Message: "full"}, ssh.ResourceShortage, "full"},
		{"connection gone", io.EOF, ssh.ConnectionFailed, `fleet master: opening "session" channel upstream: EOF`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, _ := pxClient(t, pxCtx(t), &pxFakeUp{openErr: tt.err}, false)
			_, _, err := c.OpenChannel("session", nil)
			var oe *ssh.OpenChannelError
			if !errors.As(err, &oe) || oe.Reason != tt.wantReason || oe.Message != tt.wantMsg {
				t.Fatalf("err = %#v; want reason %d, message %q", err, tt.wantReason, tt.wantMsg)
			}
		})
	}
}

func TestProxyGlobalRequests(t *testing.T) {
	up := &pxFakeUp{globalOK: true, globalResp: []byte("pong")}
	c, _ := pxClient(t, pxCtx(t), up, false)
	for _, name := range []string{"no-reply@test", "no-more-sessions@openssh.com"} {
		if _, _, err := c.SendRequest(name, false, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"tcpip-forward", "cancel-tcpip-forward", "streamlocal-forward@openssh.com", "cancel-streamlocal-forward@openssh.com", "no-more-sessions@openssh.com"} {
		ok, _, err := c.SendRequest(name, true, ssh.Marshal(struct {
			Addr string
			Port uint32
		}{"127.0.0.1", 0}))
		if err != nil || ok {
			t.Errorf("%s: ok %v, err %v; want a refusal", name, ok, err)
		}
	}
	ok, resp, err := c.SendRequest("keepalive@openssh.com", true, nil)
	if err != nil || !ok || string(resp) != "pong" {
		t.Fatalf("keepalive: ok %v, resp %q, err %v; want true, %q", ok, resp, err, "pong")
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	if got := strings.Join(up.globals, ","); got != "no-reply@test,keepalive@openssh.com" {
		t.Errorf("upstream saw global requests %s; forwards and no-more-sessions must not reach it", got)
	}
}

// pxRaw is a hand-driven client of the proxy, for what x/crypto's client
// never does (tiny windows, replies to upstream requests, broken packets).
type pxRaw struct {
	t    *testing.T
	conn net.Conn
	r    *bufio.Reader
	seq  uint32 // packets sent so far
}

func pxStartRaw(t *testing.T, ctx context.Context, up Upstream) (*pxRaw, *pxServed) {
	t.Helper()
	srv, cli := pxSocketPair(t)
	served := pxServe(ctx, srv, up, false)
	t.Cleanup(func() {
		cli.Close()
		served.wait(t)
	})
	return &pxRaw{t: t, conn: cli, r: bufio.NewReader(cli)}, served
}

func (c *pxRaw) send(pkt []byte) {
	c.t.Helper()
	c.seq++
	if _, err := c.conn.Write(pkt); err != nil {
		c.t.Fatalf("raw client write: %v", err)
	}
}

// recv reads one packet and returns its type and fields.
func (c *pxRaw) recv() (byte, cryptobyte.String) {
	c.t.Helper()
	c.conn.SetReadDeadline(time.Now().Add(pxHang))
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		c.t.Fatalf("raw client read: %v", err)
	}
	buf := make([]byte, binary.BigEndian.Uint32(hdr[:]))
	if _, err := io.ReadFull(c.r, buf); err != nil {
		c.t.Fatalf("raw client read: %v", err)
	}
	if len(buf) < 2 || buf[0] != 0 {
		c.t.Fatalf("proxy sent packet %x: want zero padding and a message type", buf)
	}
	return buf[1], cryptobyte.String(buf[2:])
}

func (c *pxRaw) expect(typ byte) cryptobyte.String {
	c.t.Helper()
	got, s := c.recv()
	if got != typ {
		c.t.Fatalf("proxy sent message %d %x, want %d", got, []byte(s), typ)
	}
	return s
}

// open opens a session channel with the given window and max packet and
// returns the proxy's id for it.
func (c *pxRaw) open(peer, window, maxPacket uint32) uint32 {
	c.t.Helper()
	c.send(newProxyOut(sshMsgChannelOpen, 0).str([]byte("session")).u32(peer).u32(window).u32(maxPacket).done())
	s := c.expect(sshMsgChannelOpenConfirm)
	var recipient, id, win, maxPkt uint32
	if !s.ReadUint32(&recipient) || !s.ReadUint32(&id) || !s.ReadUint32(&win) || !s.ReadUint32(&maxPkt) || !s.Empty() {
		c.t.Fatalf("malformed OPEN_CONFIRMATION")
	}
	if recipient != peer || win != proxyWindow || maxPkt != proxyPacket {
		c.t.Fatalf("OPEN_CONFIRMATION to %d with window %d, max packet %d", recipient, win, maxPkt)
	}
	return id
}

func pxU32(t *testing.T, s *cryptobyte.String) uint32 {
	t.Helper()
	var v uint32
	if !s.ReadUint32(&v) {
		t.Fatal("truncated message from proxy")
	}
	return v
}

func pxString(t *testing.T, s *cryptobyte.String) []byte {
	t.Helper()
	var v []byte
	if !proxyReadString(s, &v) {
		t.Fatal("truncated message from proxy")
	}
	return v
}

func TestProxyFlowControlToClient(t *testing.T) {
	up := &pxFakeUp{stdout: strings.Repeat("o", 1000) + "END", stderr: strings.Repeat("e", 500) + "END", eof: true, sendExit: true}
	raw, served := pxStartRaw(t, pxCtx(t), up)
	const window, maxPacket = 10, 9
	id := raw.open(5, window, maxPacket)

	var out, errs bytes.Buffer
	credit := window
	sawExit := false
	for eof := false; !eof; {
		typ, s := raw.recv()
		if typ == sshMsgChannelEOF || typ == sshMsgChannelRequest || typ == sshMsgChannelData || typ == sshMsgChannelExtendedData {
			if to := pxU32(t, &s); to != 5 {
				t.Fatalf("message %d to channel %d, want 5", typ, to)
			}
		}
		switch typ {
		case sshMsgChannelData, sshMsgChannelExtendedData:
			dst := &out
			if typ == sshMsgChannelExtendedData {
				if code := pxU32(t, &s); code != 1 {
					t.Fatalf("extended data type %d, want 1 (stderr)", code)
				}
				dst = &errs
			}
			d := pxString(t, &s)
			if len(d) > maxPacket {
				t.Fatalf("data packet of %d bytes exceeds max packet %d", len(d), maxPacket)
			}
			if credit -= len(d); credit < 0 {
				t.Fatalf("proxy overran the window by %d bytes", -credit)
			}
			dst.Write(d)
		case sshMsgChannelRequest:
			if name := pxString(t, &s); string(name) != "exit-status" {
				t.Fatalf("request %q, want exit-status", name)
			}
			sawExit = true
		case sshMsgChannelEOF:
			eof = true
		default:
			t.Fatalf("unexpected message %d", typ)
		}
		if credit == 0 {
			raw.send(newProxyOut(sshMsgChannelWindowAdjust, 8).u32(id).u32(window).done())
			credit = window
		}
	}
	if out.String() != up.stdout || errs.String() != up.stderr {
		t.Fatalf("got stdout %d bytes, stderr %d bytes; want %d and %d, in order", out.Len(), errs.Len(), len(up.stdout), len(up.stderr))
	}
	if !sawExit {
		raw.expect(sshMsgChannelRequest)
	}

	// The client's EOF and CLOSE reach up, and CLOSE is answered.
	raw.send(newProxyOut(sshMsgChannelEOF, 4).u32(id).done())
	raw.send(newProxyOut(sshMsgChannelClose, 4).u32(id).done())
	if s := raw.expect(sshMsgChannelClose); pxU32(t, &s) != 5 {
		t.Fatal("CLOSE for the wrong channel")
	}
	ch := up.channel(0)
	pxEventually(t, "upstream channel closed", ch.isClosed)
	ch.mu.Lock()
	eofs := ch.eofs
	ch.mu.Unlock()
	if eofs != 1 {
		t.Errorf("upstream got %d EOFs, want 1", eofs)
	}
	raw.conn.Close()
	if err := served.wait(t); err != nil {
		t.Fatalf("ServeProxy: %v", err)
	}
}

func TestProxySlowChannelDoesNotBlockOthers(t *testing.T) {
	up := &pxFakeUp{gate: make(chan struct{})}
	raw, served := pxStartRaw(t, pxCtx(t), up)
	a := raw.open(1, 1<<20, 1<<15)
	chunk := bytes.Repeat([]byte("a"), proxyPacket)
	var sent bytes.Buffer
	for sent.Len() < proxyWindow {
		raw.send(newProxyOut(sshMsgChannelData, 8+len(chunk)).u32(a).str(chunk).done())
		sent.Write(chunk)
	}
	// Channel a's upstream takes nothing, but the connection still serves
	// channel b: the read loop is not stuck behind a's queue.
	b := raw.open(2, 1<<20, 1<<15)
	raw.send(newProxyOut(sshMsgChannelRequest, 0).u32(b).str([]byte("env")).bool(true).str([]byte("A")).str([]byte("1")).done())
	raw.send(newProxyOut(sshMsgChannelRequest, 0).u32(b).str([]byte("refuse-me")).bool(true).done())
	for _, want := range []byte{sshMsgChannelSuccess, sshMsgChannelFailure} {
		typ, s := raw.recv()
		if typ != want || pxU32(t, &s) != 2 {
			t.Fatalf("got message %d, want %d for channel 2 (a WINDOW_ADJUST here means a's blocked write was credited)", typ, want)
		}
	}

	close(up.gate)
	adjusted := 0
	for adjusted < proxyWindow {
		typ, s := raw.recv()
		if typ != sshMsgChannelWindowAdjust || pxU32(t, &s) != 1 {
			t.Fatalf("got message %d, want WINDOW_ADJUST for channel 1", typ)
		}
		adjusted += int(pxU32(t, &s))
	}
	if adjusted != proxyWindow {
		t.Fatalf("window adjusted by %d, want %d", adjusted, proxyWindow)
	}
	ch := up.channel(0)
	ch.mu.Lock()
	same := bytes.Equal(ch.written.Bytes(), sent.Bytes())
	ch.mu.Unlock()
	if !same {
		t.Fatal("upstream did not get exactly the data sent")
	}
	raw.conn.Close()
	if err := served.wait(t); err != nil {
		t.Fatalf("ServeProxy: %v", err)
	}
}

func TestProxyWindowOverrun(t *testing.T) {
	up := &pxFakeUp{gate: make(chan struct{})}
	raw, served := pxStartRaw(t, pxCtx(t), up)
	a := raw.open(1, 1<<20, 1<<15)
	chunk := bytes.Repeat([]byte("a"), proxyPacket)
	for range proxyWindow / proxyPacket {
		raw.send(newProxyOut(sshMsgChannelData, 8+len(chunk)).u32(a).str(chunk).done())
	}
	raw.send(newProxyOut(sshMsgChannelData, 9).u32(a).str([]byte("!")).done())
	if err := served.wait(t); err == nil || !strings.Contains(err.Error(), "window") {
		t.Fatalf("ServeProxy: %v; want an error about the window", err)
	}
	if !up.channel(0).isClosed() {
		t.Error("upstream channel left open")
	}
}

// pxServerUpstream is an in-process x/crypto SSH server on a socket pair
// whose session channels run handle; it returns a client connected to it.
func pxServerUpstream(t *testing.T, handle func(ssh.Channel)) *ssh.Client {
	t.Helper()
	_, hostKey := labtest.NewKey(t)
	cfg := &ssh.ServerConfig{NoClientAuth: true}
	cfg.AddHostKey(hostKey)
	// Not net.Pipe: both sides send their version line at once, which an
	// unbuffered pipe deadlocks on.
	a, b := pxSocketPair(t)
	var wg sync.WaitGroup
	wg.Go(func() {
		sc, chans, reqs, err := ssh.NewServerConn(a, cfg)
		if err != nil {
			return
		}
		defer sc.Close()
		wg.Go(func() { ssh.DiscardRequests(reqs) })
		for nch := range chans {
			ch, creqs, err := nch.Accept()
			if err != nil {
				continue
			}
			wg.Go(func() { ssh.DiscardRequests(creqs) })
			wg.Go(func() { handle(ch) })
		}
	})
	cc, chans, reqs, err := ssh.NewClientConn(b, "pipe", &ssh.ClientConfig{
		User:            "tester",
		HostKeyCallback: ssh.FixedHostKey(hostKey.PublicKey()),
	})
	if err != nil {
		a.Close()
		wg.Wait()
		t.Fatalf("in-process SSH server: %v", err)
	}
	c := ssh.NewClient(cc, chans, reqs)
	t.Cleanup(func() {
		c.Close()
		a.Close()
		wg.Wait()
	})
	return c
}

func TestProxyUpstreamRequestReplies(t *testing.T) {
	replies := make(chan []bool, 1)
	up := pxServerUpstream(t, func(ch ssh.Channel) {
		ok1, err1 := ch.SendRequest("keepalive@openssh.com", true, nil)
		ok2, err2 := ch.SendRequest("second@test", true, nil)
		if err1 != nil || err2 != nil {
			replies <- nil
		} else {
			replies <- []bool{ok1, ok2}
		}
		ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
		ch.Close()
	})
	raw, served := pxStartRaw(t, pxCtx(t), up)
	id := raw.open(9, 1<<20, 1<<15)
	for _, tt := range []struct {
		name  string
		reply byte
	}{{"keepalive@openssh.com", sshMsgChannelSuccess}, {"second@test", sshMsgChannelFailure}} {
		s := raw.expect(sshMsgChannelRequest)
		var want bool
		if pxU32(t, &s) != 9 || string(pxString(t, &s)) != tt.name || !proxyReadBool(&s, &want) || !want {
			t.Fatalf("want request %q wanting a reply", tt.name)
		}
		raw.send(newProxyOut(tt.reply, 4).u32(id).done())
	}
	select {
	case got := <-replies:
		if len(got) != 2 || !got[0] || got[1] {
			t.Fatalf("upstream saw replies %v, want [true false]", got)
		}
	case <-time.After(pxHang):
		t.Fatal("upstream got no replies")
	}
	// exit-status and EOF (in either order), then CLOSE last.
	var sawExit, sawEOF bool
	for {
		typ, s := raw.recv()
		if pxU32(t, &s) != 9 {
			t.Fatalf("message %d for the wrong channel", typ)
		}
		switch typ {
		case sshMsgChannelRequest:
			if name := pxString(t, &s); string(name) != "exit-status" {
				t.Fatalf("request %q, want exit-status", name)
			}
			sawExit = true
			continue
		case sshMsgChannelEOF:
			sawEOF = true
			continue
		case sshMsgChannelClose:
		default:
			t.Fatalf("unexpected message %d", typ)
		}
		break
	}
	if !sawExit || !sawEOF {
		t.Fatalf("CLOSE came before exit-status (%v) or EOF (%v)", sawExit, sawEOF)
	}
	raw.send(newProxyOut(sshMsgChannelClose, 4).u32(id).done())
	raw.conn.Close()
	if err := served.wait(t); err != nil {
		t.Fatalf("ServeProxy: %v", err)
	}
}

func TestProxyUnknownMessages(t *testing.T) {
	raw, served := pxStartRaw(t, pxCtx(t), &pxFakeUp{})
	raw.send(newProxyOut(sshMsgIgnore, 0).str([]byte("padding")).done())
	raw.send(newProxyOut(sshMsgDebug, 0).bool(false).str([]byte("hi")).str(nil).done())
	raw.send(newProxyOut(200, 0).u32(42).done()) // the third packet: sequence number 2
	s := raw.expect(sshMsgUnimplemented)
	if seq := pxU32(t, &s); seq != 2 {
		t.Fatalf("UNIMPLEMENTED names packet %d, want 2", seq)
	}
	// The connection is still up.
	raw.open(1, 100, 100)
	raw.send(newProxyOut(sshMsgDisconnect, 0).u32(11).str([]byte("bye")).str(nil).done())
	if err := served.wait(t); err != nil {
		t.Fatalf("ServeProxy after DISCONNECT: %v, want nil", err)
	}
}

func TestProxyBadInput(t *testing.T) {
	frame := func(payload []byte) []byte { return newProxyOut(payload[0], 0).raw(payload[1:]).done() }
	tests := []struct {
		name    string
		stream  []byte
		wantErr string // "" for a clean end
	}{
		{"empty", nil, ""},
		{"zero length", []byte{0, 0, 0, 0}, "packet of 0 bytes"},
		{"too long", []byte{0, 0x10, 0, 0}, "packet of 1048576 bytes"},
		{"truncated", []byte{0, 0, 0, 9, 0, 94}, "reading a 9-byte packet"},
		{"length cut", []byte{0, 0}, "reading packet length"},
		{"padding too long", []byte{0, 0, 0, 3, 2, 2, 0}, "padding"},
		{"padding ok", append([]byte{0, 0, 0, 4, 2, 2, 0xaa, 0xbb}, frame([]byte{sshMsgDisconnect})...), ""},
		{"short open", frame([]byte{sshMsgChannelOpen, 0, 0, 0, 7, 's'}), "malformed CHANNEL_OPEN"},
		{"short global", frame([]byte{sshMsgGlobalRequest, 0, 0, 0, 1, 'k'}), "malformed GLOBAL_REQUEST"},
		{"no channel id", frame([]byte{sshMsgChannelData, 0, 0}), "malformed CHANNEL_DATA"},
		{"unknown channel", newProxyOut(sshMsgChannelData, 0).u32(77).str([]byte("x")).done(), "channel 77, which is not open"},
		{"huge string", frame([]byte{sshMsgGlobalRequest, 0xff, 0xff, 0xff, 0xff, 'k'}), "malformed GLOBAL_REQUEST"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, served := pxStartRaw(t, pxCtx(t), &pxFakeUp{})
			if len(tt.stream) > 0 {
				raw.send(tt.stream)
			}
			raw.conn.(*net.UnixConn).CloseWrite()
			err := served.wait(t)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("ServeProxy: %v, want nil", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("ServeProxy: %v, want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

// pxMsg is a message payload (type and fields) for the fuzz corpus.
func pxMsg(o proxyOut) []byte { return o.done()[5:] }

func FuzzProxyPacket(f *testing.F) {
	// The input is a sequence of packets, each a 2-byte length and that
	// many bytes of payload; the harness frames them for the proxy.
	seq := func(msgs ...[]byte) []byte {
		var b []byte
		for _, m := range msgs {
			b = binary.BigEndian.AppendUint16(b, uint16(len(m)))
			b = append(b, m...)
		}
		return b
	}
	open := pxMsg(newProxyOut(sshMsgChannelOpen, 0).str([]byte("session")).u32(3).u32(100).u32(32))
	f.Add(seq(open))
	f.Add(seq(open,
		pxMsg(newProxyOut(sshMsgChannelData, 0).u32(0).str([]byte("hello"))),
		pxMsg(newProxyOut(sshMsgChannelExtendedData, 0).u32(0).u32(1).str([]byte("err"))),
		pxMsg(newProxyOut(sshMsgChannelWindowAdjust, 0).u32(0).u32(1000)),
		pxMsg(newProxyOut(sshMsgChannelRequest, 0).u32(0).str([]byte("exec")).bool(true).str([]byte("true"))),
		pxMsg(newProxyOut(sshMsgChannelSuccess, 0).u32(0)),
		pxMsg(newProxyOut(sshMsgChannelEOF, 0).u32(0)),
		pxMsg(newProxyOut(sshMsgChannelClose, 0).u32(0)),
	))
	f.Add(seq(
		pxMsg(newProxyOut(sshMsgGlobalRequest, 0).str([]byte("keepalive@openssh.com")).bool(true)),
		pxMsg(newProxyOut(sshMsgGlobalRequest, 0).str([]byte("tcpip-forward")).bool(true).str([]byte("0.0.0.0")).u32(0)),
		pxMsg(newProxyOut(sshMsgChannelOpen, 0).str([]byte("refused")).u32(1).u32(0).u32(0)),
		pxMsg(newProxyOut(sshMsgChannelOpen, 0).str([]byte("refused")).u32(1).u32(100).u32(100)),
		pxMsg(newProxyOut(sshMsgIgnore, 0)),
		pxMsg(newProxyOut(201, 0)),
	))
	f.Add(seq(open, pxMsg(newProxyOut(sshMsgChannelData, 0).u32(0).u32(0xffffffff))))
	f.Add(seq(pxMsg(newProxyOut(sshMsgDisconnect, 0))))
	f.Add([]byte{0, 0})

	f.Fuzz(func(t *testing.T, in []byte) {
		var stream []byte
		for len(in) >= 2 {
			n := min(int(binary.BigEndian.Uint16(in)), len(in)-2)
			payload := in[2 : 2+n]
			in = in[2+n:]
			if n == 0 {
				// An empty payload would be a length-1 packet; send it
				// raw so that framing errors are fuzzed too.
				stream = append(stream, 0, 0, 0, 1, 0)
				continue
			}
			stream = append(stream, newProxyOut(payload[0], n).raw(payload[1:]).done()...)
		}
		up := &pxFakeUp{stdout: "hi", globalOK: true, sendExit: true}
		srv, cli := net.Pipe()
		ctx, cancel := context.WithTimeout(context.Background(), pxHang)
		defer cancel()
		served := pxServe(ctx, srv, up, false)
		var wg sync.WaitGroup
		wg.Go(func() { io.Copy(io.Discard, cli) })
		cli.Write(stream)
		cli.Close()
		wg.Wait()
		served.wait(t)
		if ctx.Err() != nil {
			t.Fatalf("ServeProxy ended only by its deadline")
		}
		up.mu.Lock()
		defer up.mu.Unlock()
		for i, ch := range up.chans {
			if !ch.isClosed() {
				t.Errorf("upstream channel %d left open", i)
			}
		}
	})
}

// Many short sessions one after another: x/crypto reuses a closed
// channel's id at once, so anything the bridge sends for an old channel
// after its CLOSE would land on the next one.
func TestProxySequentialSessions(t *testing.T) {
	_, up := pxLab(t, labhost.Options{})
	srv, cli := pxSocketPair(t)
	served := pxServe(pxCtx(t), srv, up, true)
	rec := &pxWireLog{Conn: cli}
	conn, chans, reqs, err := ssh.NewControlClientConn(rec)
	if err != nil {
		t.Fatal(err)
	}
	c := ssh.NewClient(conn, chans, reqs)
	defer func() { c.Close(); c.Wait(); served.wait(t) }()
	for i := range 300 {
		stdout, _, err := pxRun(c, fmt.Sprintf("echo %d", i), "")
		if err != nil || stdout != fmt.Sprintf("%d\n", i) {
			rec.mu.Lock()
			log := rec.log
			if len(log) > 60 {
				log = log[len(log)-60:]
			}
			rec.mu.Unlock()
			t.Fatalf("session %d: %q, %v\n%s", i, stdout, err, strings.Join(log, "\n"))
		}
	}
}

// pxWireLog logs the message types and channel ids a control client
// reads.
type pxWireLog struct {
	net.Conn
	mu  sync.Mutex
	buf []byte
	log []string
}

func (r *pxWireLog) Read(b []byte) (int, error) {
	n, err := r.Conn.Read(b)
	r.mu.Lock()
	r.buf = append(r.buf, b[:n]...)
	for len(r.buf) >= 4 {
		l := int(binary.BigEndian.Uint32(r.buf))
		if len(r.buf) < 4+l {
			break
		}
		pkt := r.buf[4 : 4+l]
		if len(pkt) >= 6 {
			r.log = append(r.log, fmt.Sprintf("in type %d chan %d", pkt[1], binary.BigEndian.Uint32(pkt[2:])))
		}
		r.buf = r.buf[4+l:]
	}
	r.mu.Unlock()
	return n, err
}

func (r *pxWireLog) Write(b []byte) (int, error) {
	if len(b) >= 10 {
		r.mu.Lock()
		r.log = append(r.log, fmt.Sprintf("out type %d chan %d", b[5], binary.BigEndian.Uint32(b[6:])))
		r.mu.Unlock()
	}
	return r.Conn.Write(b)
}
