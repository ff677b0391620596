//go:build linux

package mux

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/internal/labhost"
)

func TestSSHCheck(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	r := m.run("", "ssh", append(m.sshArgs(), "-O", "check", "dummy")...)
	want := fmt.Sprintf("Master running (pid=%d)", os.Getpid())
	if r.code != 0 || !strings.Contains(r.stderr, want) {
		t.Errorf("ssh -O check: exit %d, stderr %q; want 0 and %q", r.code, r.stderr, want)
	}
}

func TestSSHExec(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	tests := []struct {
		name       string
		stdin      string
		args       []string
		wantOut    string
		wantErr    string
		wantCode   int
		exactError bool
	}{
		{name: "output and exit status", args: []string{"echo ok; exit 3"}, wantOut: "ok\n", wantCode: 3},
		{name: "stdin piped through", stdin: "a\nb\n", args: []string{"wc -l"}, wantOut: "2\n"},
		{name: "stderr separated", args: []string{"echo out; echo err >&2"}, wantOut: "out\n", wantErr: "err\n", exactError: true},
		{name: "arguments joined as ssh does", args: []string{"printf", "'%s-'", "a", "b"}, wantOut: "a-b-"},
		// exit-signal gives no exit status: ssh exits 255, as with
		// OpenSSH's master.
		{name: "killed by a signal", args: []string{"echo before; kill -KILL $$"}, wantOut: "before\n", wantCode: 255},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := m.ssh(tt.stdin, tt.args...)
			if r.stdout != tt.wantOut || r.code != tt.wantCode {
				t.Errorf("stdout %q, exit %d; want %q, %d (stderr %q)", r.stdout, r.code, tt.wantOut, tt.wantCode, r.stderr)
			}
			if tt.exactError && r.stderr != tt.wantErr {
				t.Errorf("stderr %q, want %q", r.stderr, tt.wantErr)
			}
		})
	}
	if n := m.srv.Active(); n != 0 {
		t.Errorf("Active = %d after every session ended, want 0", n)
	}
}

func TestSSHEnvAndLargeOutput(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	r := m.run("", "ssh", append(m.sshArgs(), "-o", "SetEnv=FLEET_T=yes", "dummy", "echo $FLEET_T; head -c 3000000 /dev/zero | wc -c")...)
	if r.code != 0 || r.stdout != "yes\n3000000\n" {
		t.Errorf("stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB through stdin
	r = m.ssh(big, "wc -c")
	if r.code != 0 || strings.TrimSpace(r.stdout) != fmt.Sprint(len(big)) {
		t.Errorf("1 MiB of stdin: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
}

// TestTTYRefused: with -tt ssh asks for a pty, which the lab host refuses;
// the master says so (TTY_ALLOC_FAIL) and runs the command without one.
func TestTTYRefused(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	r := m.run("", "ssh", append(m.sshArgs(), "-tt", "dummy", "echo hi")...)
	if r.code != 0 || !strings.Contains(r.stdout, "hi") {
		t.Errorf("ssh -tt: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
}

func TestSFTP(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	remoteHome := remoteHome(t, m)
	local := filepath.Join(m.home, "up.txt")
	if err := os.WriteFile(local, []byte("put by sftp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(remoteHome, "down.txt"), []byte("got by sftp\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	batch := filepath.Join(m.home, "batch")
	os.WriteFile(batch, []byte("put up.txt\nget down.txt\n"), 0o644)
	args := append(m.sshArgs(), "-b", batch, "dummy")
	r := m.run("", "sftp", args...)
	if r.code != 0 {
		t.Fatalf("sftp: exit %d, stderr %q", r.code, r.stderr)
	}
	checkFile(t, filepath.Join(remoteHome, "up.txt"), "put by sftp\n")
	checkFile(t, filepath.Join(m.home, "down.txt"), "got by sftp\n")
}

func TestSCP(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	remoteHome := remoteHome(t, m)
	for _, mode := range []struct {
		name  string
		flags []string
		// The lab host's SFTP subsystem closes its channel before sending
		// "exit-status" (internal/labhost/session.go calls the pkg/sftp
		// server's Close, which closes the channel), so ssh exits 255 and
		// scp 1 even on a direct login: only the files can be checked.
		checkStatus bool
	}{
		{"sftp protocol", nil, false},
		{"legacy scp protocol", []string{"-O"}, true}, // runs `scp -t` through exec
	} {
		t.Run(mode.name, func(t *testing.T) {
			tag := strings.ReplaceAll(mode.name, " ", "-")
			up := filepath.Join(m.home, "up-"+tag)
			os.WriteFile(up, []byte("up "+tag+"\n"), 0o644)
			args := append(append(m.sshArgs(), mode.flags...), up, "dummy:.")
			if r := m.run("", "scp", args...); r.code != 0 && mode.checkStatus {
				t.Errorf("scp to the host: exit %d, stderr %q", r.code, r.stderr)
			}
			checkFile(t, filepath.Join(remoteHome, "up-"+tag), "up "+tag+"\n")

			os.WriteFile(filepath.Join(remoteHome, "down-"+tag), []byte("down "+tag+"\n"), 0o644)
			args = append(append(m.sshArgs(), mode.flags...), "dummy:down-"+tag, m.home+"/")
			if r := m.run("", "scp", args...); r.code != 0 && mode.checkStatus {
				t.Errorf("scp from the host: exit %d, stderr %q", r.code, r.stderr)
			}
			checkFile(t, filepath.Join(m.home, "down-"+tag), "down "+tag+"\n")
		})
	}
}

func TestRsync(t *testing.T) {
	if _, err := exec.LookPath("rsync"); err != nil {
		t.Skip("rsync is not installed")
	}
	m := startMaster(t, labhost.Options{})
	remoteHome := remoteHome(t, m)
	src := filepath.Join(m.home, "tree")
	files := map[string]string{"a.txt": "alpha\n", "sub/b.txt": "beta\n", "sub/deeper/c.txt": strings.Repeat("c", 100000)}
	for name, content := range files {
		p := filepath.Join(src, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte(content), 0o644)
	}
	rsh := "ssh " + strings.Join(quoteAll(m.sshArgs()), " ")
	r := m.run("", "rsync", "-a", "-e", rsh, src+"/", "dummy:copy/")
	if r.code != 0 {
		t.Fatalf("rsync: exit %d, stderr %q", r.code, r.stderr)
	}
	for name, content := range files {
		checkFile(t, filepath.Join(remoteHome, "copy", name), content)
	}
}

func quoteAll(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		out[i] = "'" + strings.ReplaceAll(a, "'", `'\''`) + "'"
	}
	return out
}

// remoteHome asks the lab host where its home is (it runs commands there).
func remoteHome(t *testing.T, m *master) string {
	t.Helper()
	r := m.ssh("", "pwd")
	if r.code != 0 {
		t.Fatalf("pwd: exit %d, stderr %q", r.code, r.stderr)
	}
	return strings.TrimSpace(r.stdout)
}

func checkFile(t *testing.T, path, want string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Error(err)
		return
	}
	if string(got) != want {
		t.Errorf("%s holds %d bytes %.40q, want %d bytes %.40q", path, len(got), got, len(want), want)
	}
}

func TestSSHControlCommands(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	r := m.run("", "ssh", append(m.sshArgs(), "-O", "exit", "dummy")...)
	if r.code != 0 || !strings.Contains(r.stderr, "Exit request sent") {
		t.Errorf("ssh -O exit: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := m.terminated.Load(); n != 1 {
		t.Errorf("OnTerminate called %d times, want 1", n)
	}
	r = m.run("", "ssh", append(m.sshArgs(), "-O", "stop", "dummy")...)
	if r.code != 0 || !strings.Contains(r.stderr, "Stop listening request sent") {
		t.Errorf("ssh -O stop: exit %d, stderr %q", r.code, r.stderr)
	}
	if n := m.stopped.Load(); n != 1 {
		t.Errorf("OnStopListening called %d times, want 1", n)
	}
	// Forwarding is refused with a reason, and ssh says so.
	r = m.run("", "ssh", append(m.sshArgs(), "-O", "forward", "-L", "127.0.0.1:19999:127.0.0.1:9", "dummy")...)
	if r.code == 0 || !strings.Contains(r.stderr, "port forwarding through fleet's master is not supported") {
		t.Errorf("ssh -O forward: exit %d, stderr %q; want a failure naming the reason", r.code, r.stderr)
	}
}

// TestSecondClientWhileSessionActive keeps one session open (waiting for
// its stdin) while another client runs a command.
func TestSecondClientWhileSessionActive(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	cmd := m.command("", "ssh", append(m.sshArgs(), "dummy", "read x; echo got $x")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first session to open", func() bool { return m.srv.Active() == 1 })

	if r := m.ssh("", "echo second"); r.code != 0 || r.stdout != "second\n" {
		t.Errorf("second client: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
	if n := m.srv.Active(); n != 1 {
		t.Errorf("Active = %d while the first session waits, want 1", n)
	}
	before := m.srv.LastActive()
	io.WriteString(stdin, "hello\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("first client: %v (output %q)", err, out.String())
	}
	if out.String() != "got hello\n" {
		t.Errorf("first client printed %q, want %q", out.String(), "got hello\n")
	}
	waitFor(t, "the first session to end", func() bool { return m.srv.Active() == 0 })
	if !m.srv.LastActive().After(before) {
		t.Errorf("LastActive did not move when the session ended")
	}
}

// TestServeStopsSessions ends Serve while a session runs: the session is
// closed, ssh exits 255, and Serve returns (goleak checks the goroutines).
func TestServeStopsSessions(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	cmd := m.command("", "ssh", append(m.sshArgs(), "dummy", "sleep 60")...)
	stdin, err := cmd.StdinPipe() // held open: the copy of stdin stays blocked
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to open", func() bool { return m.srv.Active() == 1 })
	idle := m.dialRaw() // a client in the middle of nothing
	idle.hello()
	m.stop()
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 255 {
		t.Errorf("ssh after the master stopped: %v, want exit status 255", err)
	}
	if n := m.srv.Active(); n != 0 {
		t.Errorf("Active = %d after Serve returned", n)
	}
}

// TestListenerCloseDrains: closing the listener (as an owner does on
// STOP_LISTENING) stops new clients, while the session already open
// carries on; Serve returns once it has ended.
func TestListenerCloseDrains(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	cmd := m.command("", "ssh", append(m.sshArgs(), "dummy", "read x; echo got $x")...)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the session to open", func() bool { return m.srv.Active() == 1 })
	m.l.Close()
	os.Remove(m.path)
	io.WriteString(stdin, "after-close\n")
	stdin.Close()
	if err := cmd.Wait(); err != nil || out.String() != "got after-close\n" {
		t.Errorf("the session open before the close: %v, output %q", err, out.String())
	}
	select {
	case err := <-m.served:
		m.served <- err
		if err != nil {
			t.Errorf("Serve after the listener closed: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Serve did not return after the listener closed and the last session ended")
	}
}

func TestUnknownRequest(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	c := m.dialRaw()
	c.hello()
	c.send(&Unknown{MsgType: 0x10000077, Fields: be(0, "whatever")})
	if got, want := c.recv(), (&Failure{ID: 0, Reason: "unsupported request"}); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("reply to an unknown request = %#v, want %#v", got, want)
	}
	c.send(&OpenFwd{ID: 1, Forward: Forward{FwdLocal, "", 8080, "localhost", 80}})
	if f, ok := c.recv().(*Failure); !ok || f.ID != 1 || !strings.Contains(f.Reason, "not supported") {
		t.Errorf("reply to OPEN_FWD = %#v, want a FAILURE", f)
	}
	// The connection is still served.
	c.send(&AliveCheck{ID: 2})
	if a, ok := c.recv().(*Alive); !ok || a.ID != 2 || int(a.PID) != os.Getpid() {
		t.Errorf("reply to ALIVE_CHECK = %#v, want ALIVE with our pid", a)
	}
}

// TestProxyReply: MUX_C_PROXY is answered with MUX_S_PROXY before the
// connection is handed to ServeProxy.
func TestProxyReply(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	c := m.dialRaw()
	c.hello()
	c.send(&Proxy{ID: 0})
	if got := c.recv(); fmt.Sprint(got) != fmt.Sprint(&ProxyOK{ID: 0}) {
		t.Errorf("reply to PROXY = %#v, want MUX_S_PROXY 0", got)
	}
}

// TestProxyThroughServer: x/crypto's control client (what fleet uses to
// ride a master) runs a command through the server's proxy mode, which
// counts as a session while it lasts.
func TestProxyThroughServer(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	nc, err := net.Dial("unix", m.path)
	if err != nil {
		t.Fatal(err)
	}
	conn, chans, reqs, err := ssh.NewControlClientConn(nc)
	if err != nil {
		nc.Close()
		t.Fatal(err)
	}
	c := ssh.NewClient(conn, chans, reqs)
	defer c.Close()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	out, err := sess.Output("echo via-proxy")
	if err != nil || string(out) != "via-proxy\n" {
		t.Errorf("command through the proxy: %q, %v", out, err)
	}
	if n := m.srv.Active(); n != 1 {
		t.Errorf("Active = %d with a proxy client connected, want 1", n)
	}
	c.Close()
	waitFor(t, "the proxy client to be counted out", func() bool { return m.srv.Active() == 0 })
}

func TestBadHello(t *testing.T) {
	tests := []struct {
		name string
		send Message
	}{
		{"wrong version", &Hello{Version: 3}},
		{"request before hello", &AliveCheck{ID: 0}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := startMaster(t, labhost.Options{})
			c := m.dialRaw()
			c.recv() // the master's hello
			c.send(tt.send)
			if body, err := ReadPacket(c.c); err == nil {
				t.Errorf("the master answered %x, want the connection closed", body)
			}
		})
	}
}

// TestIdleClientDropped: a client that connects and sends nothing does not
// hold its goroutine forever.
func TestIdleClientDropped(t *testing.T) {
	m := startMaster(t, labhost.Options{}, func(s *Server) { s.RequestTimeout = 200 * time.Millisecond })
	for _, afterHello := range []bool{false, true} {
		c := m.dialRaw()
		c.recv()
		if afterHello {
			c.send(&Hello{Version: Version})
		}
		if body, err := ReadPacket(c.c); err == nil {
			t.Fatalf("the master sent %x to an idle client", body)
		} else if ne, ok := err.(interface{ Timeout() bool }); ok && ne.Timeout() {
			t.Fatalf("the master kept an idle client connected for 30s (afterHello=%v)", afterHello)
		}
	}
}

// TestRawSession drives NEW_SESSION by hand with pipes, checking the order
// of the replies: SESSION_OPENED, EXIT_MESSAGE, then the connection closes.
func TestRawSession(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	c := m.dialRaw()
	c.hello()
	c.send(&AliveCheck{ID: 0})
	c.recv()
	c.send(&NewSession{ID: 1, EscapeChar: NoEscapeChar, Command: "cat; echo done >&2; exit 7", Env: []string{"X=1"}})
	var ours []*os.File // the ends the test keeps
	var theirs []*os.File
	for i := range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			ours, theirs = append(ours, w), append(theirs, r)
		} else {
			ours, theirs = append(ours, r), append(theirs, w)
		}
	}
	for _, f := range theirs {
		if err := SendFD(c.c, f); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	opened, ok := c.recv().(*SessionOpened)
	if !ok || opened.ID != 1 {
		t.Fatalf("reply to NEW_SESSION = %#v, want SESSION_OPENED 1", opened)
	}
	// A second session on the same connection is refused.
	c.send(&NewSession{ID: 2, EscapeChar: NoEscapeChar, Command: "true"})
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		SendFD(c.c, f)
	}
	if f, ok := c.recv().(*Failure); !ok || f.ID != 2 || f.Reason != "Multiple sessions not supported" {
		t.Errorf("reply to a second NEW_SESSION = %#v", f)
	}

	io.WriteString(ours[0], "through cat\n")
	ours[0].Close()
	var wg sync.WaitGroup
	outs := make([][]byte, 2)
	for i := range 2 {
		wg.Go(func() { outs[i], _ = io.ReadAll(ours[i+1]) })
	}
	exit, ok := c.recv().(*ExitMessage)
	if !ok || exit.SessionID != opened.SessionID || exit.ExitValue != 7 {
		t.Errorf("after the command = %#v, want EXIT_MESSAGE %d 7", exit, opened.SessionID)
	}
	if body, err := ReadPacket(c.c); err != ErrClosed {
		t.Errorf("after EXIT_MESSAGE: %x, %v; want the connection closed", body, err)
	}
	wg.Wait()
	if string(outs[0]) != "through cat\n" || string(outs[1]) != "done\n" {
		t.Errorf("stdout %q, stderr %q", outs[0], outs[1])
	}
	ours[1].Close()
	ours[2].Close()
}

// TestSessionRefused: when the host refuses the channel (MaxSessions), ssh
// gets "Session open refused by peer" and would log in directly.
func TestSessionRefused(t *testing.T) {
	m := startMaster(t, labhost.Options{MaxSessions: 1})
	hold := m.command("", "ssh", append(m.sshArgs(), "dummy", "cat >/dev/null")...)
	stdin, err := hold.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := hold.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first session", func() bool { return m.srv.Active() == 1 })
	c := m.dialRaw()
	c.hello()
	c.send(&NewSession{ID: 0, EscapeChar: NoEscapeChar, Command: "true"})
	for _, f := range []*os.File{os.Stdin, os.Stdout, os.Stderr} {
		SendFD(c.c, f)
	}
	if f, ok := c.recv().(*Failure); !ok || !strings.HasPrefix(f.Reason, "Session open refused by peer") {
		t.Errorf("reply over the session limit = %#v", f)
	}
	stdin.Close()
	if err := hold.Wait(); err != nil {
		t.Errorf("the first session: %v", err)
	}
}

func TestStdioForward(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	defer ln.Close()
	wg.Go(func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c) // echo until EOF
	})
	r := m.run("ping through -W\n", "ssh", append(m.sshArgs(), "-W", ln.Addr().String(), "dummy")...)
	if r.code != 0 || r.stdout != "ping through -W\n" {
		t.Errorf("ssh -W: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
	if n := m.lab.Hosts[0].Stats().Forwards; n != 1 {
		t.Errorf("the host saw %d direct-tcpip channels, want 1", n)
	}
}

func TestClientHelpers(t *testing.T) {
	m := startMaster(t, labhost.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pid, err := Check(ctx, m.path)
	if err != nil || pid != os.Getpid() {
		t.Errorf("Check = %d, %v; want %d", pid, err, os.Getpid())
	}
	st, err := Status(ctx, m.path)
	if err != nil {
		t.Fatalf("Status: %v", err)
	}
	if st.PID != os.Getpid() || st.Active != 0 || st.Started.IsZero() || st.LastActive.Before(st.Started) || time.Since(st.Started) > time.Minute {
		t.Errorf("Status = %+v", st)
	}
	if r := m.ssh("", "true"); r.code != 0 {
		t.Fatalf("ssh: exit %d, stderr %q", r.code, r.stderr)
	}
	st2, err := Status(ctx, m.path)
	if err != nil || !st2.LastActive.After(st.LastActive) {
		t.Errorf("Status after a session = %+v, %v; want LastActive after %v", st2, err, st.LastActive)
	}
	if err := StopListening(ctx, m.path); err != nil || m.stopped.Load() != 1 {
		t.Errorf("StopListening = %v, OnStopListening called %d times", err, m.stopped.Load())
	}
	if err := Exit(ctx, m.path); err != nil || m.terminated.Load() != 1 {
		t.Errorf("Exit = %v, OnTerminate called %d times", err, m.terminated.Load())
	}
}

func TestClientHelpersRefused(t *testing.T) {
	m := startMaster(t, labhost.Options{}, func(s *Server) { s.OnTerminate = nil })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := Exit(ctx, m.path)
	var re *RefusedError
	if !errors.As(err, &re) || !re.Denied || re.Request != MsgTerminate {
		t.Errorf("Exit without OnTerminate = %v, want a *RefusedError (denied)", err)
	}
	_, err = Check(ctx, filepath.Join(m.dir, "nothing-here"))
	if err == nil || !strings.Contains(err.Error(), "nothing-here") {
		t.Errorf("Check of a missing socket = %v, want an error naming it", err)
	}
}
