package sshdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// hangTimeout guards against hangs only; nothing here should take long.
const hangTimeout = 30 * time.Second

// dial logs in to s with the x/crypto client, checking the host key
// against known_hosts lines written by WriteKnownHosts.
func dial(t *testing.T, s *Server) *ssh.Client {
	t.Helper()
	known := filepath.Join(t.TempDir(), "known_hosts")
	s.WriteKnownHosts(known)
	hostKeyCallback, err := knownhosts.New(known)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ssh.Dial("tcp", s.HostPort(), &ssh.ClientConfig{
		User:            s.User(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(ClientSigner())},
		HostKeyCallback: hostKeyCallback,
		Timeout:         hangTimeout,
	})
	if err != nil {
		t.Fatalf("dial %s: %v\nsshd log:\n%s", s.HostPort(), err, s.Log())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func run(t *testing.T, c *ssh.Client, cmd string) string {
	t.Helper()
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	out, err := sess.CombinedOutput(cmd)
	if err != nil {
		t.Fatalf("%s: %v: %s", cmd, err, out)
	}
	return string(out)
}

// waitFor polls cond until it holds; the timeout only guards against hangs.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// uniqueSleep returns a sleep command no other test process runs, as all
// of them log in as the same user.
func uniqueSleep() string {
	return fmt.Sprintf("sleep 60.%d%d", time.Now().UnixNano()%1e6, os.Getpid())
}

func hasCmdline(procs []Process, cmd string) bool {
	return slices.ContainsFunc(procs, func(p Process) bool { return p.Cmdline == cmd })
}

func TestOpenSSHClientLogin(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not found: install openssh-client")
	}
	for _, types := range [][]string{nil, {"ecdsa"}, {"rsa", "ed25519"}} {
		t.Run(strings.Join(types, "+"), func(t *testing.T) {
			t.Parallel()
			s := Start(t, Options{HostKeyTypes: types})
			if want := max(len(types), 1); len(s.HostKeys()) != want || len(s.KnownHostsLines()) != want {
				t.Fatalf("got %d host keys and %d known_hosts lines, want %d", len(s.HostKeys()), len(s.KnownHostsLines()), want)
			}
			known := filepath.Join(t.TempDir(), "known_hosts")
			s.WriteKnownHosts(known)

			ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
			defer cancel()
			cmd := exec.CommandContext(ctx, sshPath, "-F", "/dev/null",
				"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
				"-o", "UserKnownHostsFile="+known, "-o", "StrictHostKeyChecking=yes",
				"-i", ClientKeyPath(), "-p", fmt.Sprint(s.Port()),
				s.User()+"@"+s.Addr(), "echo hi; id -un")
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("ssh: %v: %s\nsshd log:\n%s", err, out, s.Log())
			}
			if want := "hi\n" + s.User() + "\n"; string(out) != want {
				t.Errorf("ssh printed %q, want %q", out, want)
			}
			if os.Geteuid() == 0 && s.User() != TestUser {
				t.Errorf("running as root, the server lets in %q, want %q", s.User(), TestUser)
			}
		})
	}
}

func TestCountLogCountsConnections(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	const conns = 3
	for range conns {
		c := dial(t, s)
		if got := run(t, c, "id -un"); got != s.User()+"\n" {
			t.Errorf("id -un printed %q, want %q", got, s.User())
		}
		c.Close()
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	for _, substr := range []string{"Accepted publickey for " + s.User(), "Connection from"} {
		got, err := s.WaitLogCount(ctx, substr, conns)
		if err != nil || got != conns {
			t.Errorf("%d log lines with %q (%v), want %d; log:\n%s", got, substr, err, conns, s.Log())
		}
	}
}

func TestMaxSessions(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{MaxSessions: 2})
	c := dial(t, s)
	for i := range 2 {
		sess, err := c.NewSession()
		if err != nil {
			t.Fatalf("session %d of 2: %v", i+1, err)
		}
		defer sess.Close()
	}
	sess, err := c.NewSession()
	var refused *ssh.OpenChannelError
	if !errors.As(err, &refused) {
		if err == nil {
			sess.Close()
		}
		t.Fatalf("third session: got error %v, want *ssh.OpenChannelError", err)
	}
}

func TestKillConnections(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := dial(t, s)
	sess, err := c.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	sleep := uniqueSleep()
	if err := sess.Start(sleep); err != nil {
		t.Fatal(err)
	}
	waitFor(t, sleep+" below the listener", func() bool { return hasCmdline(s.Descendants(), sleep) })
	if !hasCmdline(FindProcesses(s.User(), sleep), sleep) {
		t.Errorf("FindProcesses(%q, %q) does not see the remote command", s.User(), sleep)
	}
	if !hasCmdline(s.UserProcesses(), sleep) {
		t.Errorf("UserProcesses does not see the remote command: %v", s.UserProcesses())
	}
	if len(s.ConnectionPIDs()) != 1 {
		t.Errorf("ConnectionPIDs = %v, want one per-connection sshd", s.ConnectionPIDs())
	}

	s.KillConnections()

	waited := make(chan error, 1)
	go func() { waited <- sess.Wait() }()
	select {
	case err := <-waited:
		if err == nil {
			t.Error("the session ended without error after KillConnections")
		}
	case <-time.After(hangTimeout):
		t.Fatal("the session still runs after KillConnections")
	}
	if got := FindProcesses(s.User(), sleep); len(got) != 0 {
		t.Errorf("remote command survived KillConnections: %v", got)
	}
	if got := s.Descendants(); len(got) != 0 {
		t.Errorf("processes below the listener after KillConnections: %v", got)
	}
	// The listener stays up.
	if got := run(t, dial(t, s), "echo again"); got != "again\n" {
		t.Errorf("new connection printed %q", got)
	}
}

func TestFreezeConnections(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := dial(t, s)
	s.FreezeConnections()
	frozen := s.Descendants()
	if len(frozen) == 0 {
		t.Fatal("no connection processes")
	}
	for _, p := range frozen {
		if p.State != "T" {
			t.Errorf("after FreezeConnections: %v, want state T", p)
		}
	}
	// A keepalive sent while frozen is answered after Thaw: the connection
	// was held, not dropped.
	answered := make(chan error, 1)
	go func() {
		_, _, err := c.SendRequest("keepalive@openssh.com", true, nil)
		answered <- err
	}()
	s.Thaw()
	select {
	case err := <-answered:
		if err != nil {
			t.Errorf("keepalive after Thaw: %v", err)
		}
	case <-time.After(hangTimeout):
		t.Fatal("keepalive not answered after Thaw")
	}
	for _, p := range s.Descendants() {
		if p.State == "T" {
			t.Errorf("after Thaw: %v is still stopped", p)
		}
	}
}

// TestCleanupLeavesNothing ends a subtest with a session running and checks
// that its cleanup killed sshd and the remote command.
func TestCleanupLeavesNothing(t *testing.T) {
	t.Parallel()
	sleep := uniqueSleep()
	var pid int
	var user string
	var tree []Process
	t.Run("server", func(t *testing.T) {
		s := Start(t, Options{})
		pid, user = s.PID(), s.User()
		sess, err := dial(t, s).NewSession()
		if err != nil {
			t.Fatal(err)
		}
		// Detach from sshd's process tree too, so only the session marker
		// can find it.
		if err := sess.Start("setsid -f " + sleep + " </dev/null >/dev/null 2>&1"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, sleep+" in the session", func() bool { return hasCmdline(s.UserProcesses(), sleep) })
		tree = s.Descendants()
	})
	if processLive(pid) {
		t.Errorf("sshd (pid %d) survived its test", pid)
	}
	for _, p := range tree {
		if processLive(p.PID) {
			t.Errorf("survived its test: %v", p)
		}
	}
	if got := FindProcesses(user, sleep); len(got) != 0 {
		t.Errorf("remote command survived its test: %v", got)
	}
}

func TestKill(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	c := dial(t, s)
	tree := s.Descendants()
	s.Kill()
	for _, pid := range append(pidsOf(tree), s.PID()) {
		if processLive(pid) {
			t.Errorf("pid %d survived Kill", pid)
		}
	}
	if _, err := c.NewSession(); err == nil {
		t.Error("opened a session on a killed server")
	}
}

func TestFixedAddrAndExtra(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{Addr: "127.0.5.9", Extra: []string{"SetEnv FLEET_GREETING=hello"}})
	if s.Addr() != "127.0.5.9" {
		t.Errorf("Addr = %q", s.Addr())
	}
	got := run(t, dial(t, s), `echo "$FLEET_GREETING ${`+markerEnv+`:+marked}"`)
	if got != "hello marked\n" {
		t.Errorf("session environment: got %q, want both the Extra SetEnv and the marker", got)
	}
}

func TestKnownHostsLines(t *testing.T) {
	key := ClientSigner().PublicKey()
	keyText := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
	for _, tc := range []struct {
		port int
		want string
	}{
		{22, "127.1.2.3 " + keyText},
		{2222, "[127.1.2.3]:2222 " + keyText},
	} {
		s := &Server{addr: "127.1.2.3", port: tc.port, hostKeys: []ssh.PublicKey{key}}
		if got := s.KnownHostsLines(); len(got) != 1 || got[0] != tc.want {
			t.Errorf("port %d: KnownHostsLines = %q, want %q", tc.port, got, tc.want)
		}
	}
}

func TestVersionAtLeast(t *testing.T) {
	for _, tc := range []struct {
		out  string
		want bool
	}{
		{"OpenSSH_9.2, OpenSSL 3.0.19 27 Jan 2026", false},
		{"OpenSSH_9.8p1 Ubuntu", true},
		{"OpenSSH_10.0p2 Debian-7", true},
		{"unknown option -- V", false},
	} {
		if got := versionAtLeast(tc.out, 9, 8); got != tc.want {
			t.Errorf("versionAtLeast(%q, 9, 8) = %v, want %v", tc.out, got, tc.want)
		}
	}
}

func TestFindSSHD(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "sshd")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	found := func(string) (string, error) { return exe, nil }
	missing := func(string) (string, error) { return "", exec.ErrNotFound }
	for _, tc := range []struct {
		name     string
		lookPath func(string) (string, error)
		fallback string
		want     string
	}{
		{"in PATH", found, "/nonexistent", exe},
		{"fallback", missing, exe, exe},
		{"fallback not executable", missing, dir, ""},
		{"missing", missing, "/nonexistent", ""},
	} {
		got, err := findSSHD(tc.lookPath, tc.fallback)
		if got != tc.want || (err == nil) != (tc.want != "") {
			t.Errorf("%s: findSSHD = %q, %v; want %q", tc.name, got, err, tc.want)
		}
	}
}

// Servers with PrivateDir each show their own directory at the same path,
// as separate machines do, while the test sees neither mount.
func TestPrivateDir(t *testing.T) {
	sshPath, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not found: install openssh-client")
	}
	if os.Geteuid() != 0 {
		t.Skip("mount namespaces need root")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Skip("unshare not found: install util-linux")
	}
	at := filepath.Join(t.TempDir(), "srv")
	if err := os.Mkdir(at, 0o755); err != nil {
		t.Fatal(err)
	}
	// The login user must reach both the mount point and the files.
	readable := func(dir string) {
		for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
			os.Chmod(d, 0o755)
		}
	}
	readable(at)
	for _, name := range []string{"one", "two"} {
		dir := t.TempDir()
		readable(dir)
		if err := os.WriteFile(filepath.Join(dir, "who"), []byte(name+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		s := Start(t, Options{PrivateDir: dir, PrivateAt: at})
		known := filepath.Join(t.TempDir(), "known_hosts")
		s.WriteKnownHosts(known)
		ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
		out, err := exec.CommandContext(ctx, sshPath, "-F", "/dev/null",
			"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes",
			"-o", "UserKnownHostsFile="+known, "-o", "StrictHostKeyChecking=yes",
			"-i", ClientKeyPath(), "-p", fmt.Sprint(s.Port()),
			s.User()+"@"+s.Addr(), "cat "+at+"/who").CombinedOutput()
		cancel()
		if err != nil || string(out) != name+"\n" {
			t.Errorf("host %s sees %q at %s (%v), want its own file", name, out, at, err)
		}
	}
	if ents, _ := os.ReadDir(at); len(ents) != 0 {
		t.Errorf("the test's own view of %s has %d entries: a mount leaked out of a namespace", at, len(ents))
	}
}
