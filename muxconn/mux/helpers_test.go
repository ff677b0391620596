//go:build linux

package mux

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
)

// TestMain (goleak) is in proxy_test.go.

// fallback is the ProxyCommand the tests' ssh gets: should ssh not ride the
// master it would log in directly, and this says so instead.
const fallback = "ProxyCommand=exec echo FELL-BACK-TO-A-DIRECT-LOGIN >&2"

// master is a Server on a short socket path, riding a connection to an
// in-process lab host.
type master struct {
	t      *testing.T
	lab    *labtest.Lab
	srv    *Server
	path   string
	dir    string // the socket's directory
	home   string // HOME for the OpenSSH clients
	l      *net.UnixListener
	cancel context.CancelFunc
	served chan error

	terminated, stopped atomic.Int32
}

func startMaster(t *testing.T, opts labhost.Options, configure ...func(*Server)) *master {
	t.Helper()
	lab := labtest.Start(t, 1, opts)
	m := serveUpstream(t, dialLab(t, lab), configure...)
	m.lab = lab
	return m
}

// serveUpstream serves a master for up, which it closes when the test ends.
func serveUpstream(t *testing.T, up *ssh.Client, configure ...func(*Server)) *master {
	t.Helper()
	m := &master{t: t, dir: shortDir(t), home: t.TempDir(), served: make(chan error, 1)}
	m.path = filepath.Join(m.dir, "s")
	l, err := Listen(m.path)
	if err != nil {
		t.Fatal(err)
	}
	m.l = l
	m.srv = &Server{
		Up:              up,
		Logf:            t.Logf,
		OnTerminate:     func() { m.terminated.Add(1) },
		OnStopListening: func() { m.stopped.Add(1) },
	}
	for _, f := range configure {
		f(m.srv)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.served <- m.srv.Serve(ctx, l) }() // stop waits for it
	t.Cleanup(func() {
		m.stop()
		up.Close()
	})
	return m
}

// stop cancels Serve and waits for it to return.
func (m *master) stop() {
	m.t.Helper()
	m.cancel()
	select {
	case err := <-m.served:
		if err != nil {
			m.t.Errorf("Serve: %v", err)
		}
		m.served <- nil // for a second stop
	case <-time.After(30 * time.Second):
		m.t.Fatal("Serve did not return 30s after its context ended")
	}
}

func dialLab(t *testing.T, lab *labtest.Lab) *ssh.Client {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(lab.Key)
	if err != nil {
		t.Fatal(err)
	}
	hostKeys, err := knownhosts.New(lab.KnownHosts)
	if err != nil {
		t.Fatal(err)
	}
	tg := lab.Target(0)
	c, err := ssh.Dial("tcp", net.JoinHostPort(tg.HostName, strconv.Itoa(tg.Port)), &ssh.ClientConfig{
		User:            tg.User,
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
		HostKeyCallback: hostKeys,
		Timeout:         10 * time.Second,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// result is how an OpenSSH client run ended.
type result struct {
	stdout, stderr string
	code           int
}

// sshArgs are the options every OpenSSH client gets: no user config, this
// master, never a master of its own, and no direct login.
func (m *master) sshArgs() []string {
	return []string{"-F", "/dev/null", "-o", "ControlPath=" + m.path, "-o", "ControlMaster=no", "-o", "BatchMode=yes", "-o", fallback}
}

// run runs an OpenSSH client binary with stdin and returns how it ended.
func (m *master) run(stdin string, name string, args ...string) result {
	m.t.Helper()
	return m.runCmd(m.command(stdin, name, args...))
}

func (m *master) command(stdin string, name string, args ...string) *exec.Cmd {
	m.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	m.t.Cleanup(cancel)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), "HOME="+m.home)
	cmd.Dir = m.home
	if stdin != "" {
		cmd.Stdin = strings.NewReader(stdin)
	}
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

func (m *master) runCmd(cmd *exec.Cmd) result {
	m.t.Helper()
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	default:
		m.t.Fatalf("%s: %v (stderr %q)", cmd, err, r.stderr)
	}
	if strings.Contains(r.stderr, "FELL-BACK") {
		m.t.Fatalf("%s did not ride the master (stderr %q)", cmd, r.stderr)
	}
	return r
}

// ssh runs `ssh ... dummy ARGS`; with a live master ssh never resolves or
// connects to the host name.
func (m *master) ssh(stdin string, args ...string) result {
	m.t.Helper()
	return m.run(stdin, "ssh", append(append(m.sshArgs(), "dummy"), args...)...)
}

// waitFor polls cond until it holds or a generous timeout passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// rawClient is a hand-driven control client, for what OpenSSH's clients
// never send.
type rawClient struct {
	t *testing.T
	c *net.UnixConn
}

func (m *master) dialRaw() *rawClient {
	m.t.Helper()
	c, err := net.Dial("unix", m.path)
	if err != nil {
		m.t.Fatal(err)
	}
	m.t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawClient{t: m.t, c: c.(*net.UnixConn)}
}

func (r *rawClient) send(msg Message) {
	r.t.Helper()
	if err := WritePacket(r.c, msg); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawClient) recv() Message {
	r.t.Helper()
	body, err := ReadPacket(r.c)
	if err != nil {
		r.t.Fatalf("reading from the master: %v", err)
	}
	msg, err := Decode(body)
	if err != nil {
		r.t.Fatal(err)
	}
	return msg
}

// hello does the HELLO exchange.
func (r *rawClient) hello() {
	r.t.Helper()
	if h, ok := r.recv().(*Hello); !ok || h.Version != Version || len(h.Extensions) != 1 || h.Extensions[0] != (Extension{Name: FleetExtension}) {
		r.t.Fatalf("master's HELLO = %#v, want version 4 with only the %s extension", h, FleetExtension)
	}
	r.send(&Hello{Version: Version})
}
