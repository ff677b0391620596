package muxconn_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/muxconn"
)

// loginShell returns a LoginShell on l's first host, closed at the end
// of the test.
func loginShell(t *testing.T, ctx context.Context, l *lab) *muxconn.Shell {
	t.Helper()
	m, err := l.pool(t, nil).Get(ctx, l.target(0))
	if err != nil {
		t.Fatal(err)
	}
	sh := m.Shell(muxconn.LoginShell)
	t.Cleanup(func() {
		sh.Close()
		m.Release()
	})
	return sh
}

// killLoop kills the long-lived shell's loop from a command it runs: the
// loop is the parent of the command's subshell. (With $$ the command
// would run in a session of its own.)
const killLoop = "read -r pid comm state ppid rest </proc/self/stat; kill -KILL $ppid"

// shellRun runs cmd through sh and returns its output and error.
func shellRun(ctx context.Context, sh *muxconn.Shell, cmd string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := sh.Run(ctx, muxconn.Command{Cmd: cmd, Stdout: &out, Stderr: &errOut})
	return out.String(), errOut.String(), err
}

func exitStatus(err error) int {
	var exit *muxconn.ExitError
	if errors.As(err, &exit) {
		return exit.Status
	}
	if err == nil {
		return 0
	}
	return -100
}

// A Shell runs many commands in one session, each as if alone.
func TestShellRunsCommandsInOneSession(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	ctx := testCtx(t)
	sh := loginShell(t, ctx, l)
	home, _, err := shellRun(ctx, sh, "pwd")
	if err != nil {
		t.Fatal(err)
	}

	big := strings.Repeat("0123456789abcdef", 8192) // 128 KiB, more than a window's worth of writes
	steps := []struct {
		cmd, out, errOut string
		status           int
	}{
		{"echo one", "one\n", "", 0},
		{"printf 'no newline'", "no newline", "", 0},
		{"echo to-stderr >&2; exit 3", "", "to-stderr\n", 3},
		{"cd /; x=set; umask 077; trap 'echo trapped' EXIT", "trapped\n", "", 0},
		// Nothing of the one before is left: not its directory, variable,
		// umask or trap.
		{`pwd; echo "x=$x"; umask`, home + "x=\n0022\n", "", 0},
		{"cat; echo read-nothing", "read-nothing\n", "", 0},
		{"echo a\necho b\n\necho 'c\\'", "a\nb\nc\\\n", "", 0},
		{"printf '\\n\\n'", "\n\n", "", 0},
		{"exit 0", "", "", 0},
		{"", "", "", 0},
		{"printf %s " + big, big, "", 0},
		// The shell says so, as it would after `cmd;`. ($$ would make it
		// a session of its own.)
		{"sh -c 'read -r pid rest </proc/self/stat; kill -TERM $pid'", "", "Terminated\n", 128 + 15},
		{"false", "", "", 1},
		{"echo after", "after\n", "", 0},
	}
	for _, s := range steps {
		out, errOut, err := shellRun(ctx, sh, s.cmd)
		if out != s.out || errOut != s.errOut || exitStatus(err) != s.status {
			t.Errorf("%q: stdout %.60q stderr %q err %v; want %.60q %q exit %d", s.cmd, out, errOut, err, s.out, s.errOut, s.status)
		}
	}
	if n := l.Hosts[0].Stats().ExecCount; n != 1 {
		t.Errorf("%d sessions ran commands, want 1", n)
	}
}

// A command that kills the shell it runs in, a timeout and a cancel end
// that command as they would a session, and the next command gets a new
// shell.
func TestShellSurvivesItsCommands(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	ctx := testCtx(t)
	sh := loginShell(t, ctx, l)

	// The parent of the command's subshell is the loop.
	err := sh.Run(ctx, muxconn.Command{Cmd: killLoop})
	var exit *muxconn.ExitError
	if !errors.As(err, &exit) || exit.Signal != "KILL" {
		t.Errorf("killing the shell: %v, want exit by KILL", err)
	}
	if out, _, err := shellRun(ctx, sh, "echo next"); err != nil || out != "next\n" {
		t.Errorf("after the kill: %q %v", out, err)
	}

	// (That the timeout's TERM reaches the command is checked against
	// real sshd: the lab host kills the session's process group when the
	// channel closes, right after the signal.)
	start := time.Now()
	err = sh.Run(ctx, muxconn.Command{Cmd: "sleep 30", Timeout: 300 * time.Millisecond})
	var to *muxconn.TimeoutError
	if !errors.As(err, &to) {
		t.Errorf("timeout: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("the timeout took %s", time.Since(start))
	}
	if out, _, err := shellRun(ctx, sh, "echo next"); err != nil || out != "next\n" {
		t.Errorf("after the timeout: %q %v", out, err)
	}

	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() { errc <- sh.Run(cctx, muxconn.Command{Cmd: "sleep 30"}) }()
	time.Sleep(100 * time.Millisecond)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancel: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
	if out, _, err := shellRun(ctx, sh, "echo next"); err != nil || out != "next\n" {
		t.Errorf("after the cancel: %q %v", out, err)
	}
}

// Commands with input, commands at the same time and a login shell that
// can't run the loop all still run, in sessions of their own.
func TestShellFallsBack(t *testing.T) {
	dir := t.TempDir()
	// A login shell that refuses fleet's loop, as csh or fish would.
	fake := filepath.Join(dir, "picky-shell")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\ncase \"$2\" in *fleet_m=*) echo 'no such syntax' >&2; exit 1;; esac\nexec /bin/sh -c \"$2\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	l := newLab(t, 2, labhost.Options{})
	picky := newLab(t, 1, labhost.Options{Shell: fake})
	ctx := testCtx(t)

	m, err := picky.pool(t, nil).Get(ctx, picky.target(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	sh := m.Shell(muxconn.LoginShell)
	for i := range 3 {
		out, errOut, err := shellRun(ctx, sh, "echo picky")
		if err != nil || out != "picky\n" || errOut != "" {
			t.Errorf("run %d on the picky shell: %q %q %v", i, out, errOut, err)
		}
	}
	sh.Close()
	if n := picky.Hosts[0].Stats().ExecCount; n != 4 { // the loop once, then a session each
		t.Errorf("picky shell: %d sessions, want 4", n)
	}

	m, err = l.pool(t, nil).Get(ctx, l.target(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	sh = m.Shell(muxconn.LoginShell)
	defer sh.Close()
	var out bytes.Buffer
	if err := sh.Run(ctx, muxconn.Command{Cmd: "cat", Stdin: strings.NewReader("in\n"), Stdout: &out}); err != nil || out.String() != "in\n" {
		t.Errorf("with input: %q %v", out.String(), err)
	}
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			want := strings.Repeat("x", i+1)
			if out, _, err := shellRun(ctx, sh, "sleep 0.2; echo "+want); err != nil || out != want+"\n" {
				t.Errorf("concurrent %d: %q %v", i, out, err)
			}
		}()
	}
	wg.Wait()
}

// On a server that allows one session, an idle shell gives its slot up to
// whatever else needs it, and comes back after.
func TestShellIdleSlotIsReclaimed(t *testing.T) {
	l := newLab(t, 1, labhost.Options{MaxSessions: 1})
	ctx := testCtx(t)
	for _, our := range []int{1, 10} { // the gate knows the limit, or learns it
		tg := l.target(0)
		tg.MaxSessions = our
		p := l.pool(t, nil)
		m, err := p.Get(ctx, tg)
		if err != nil {
			t.Fatal(err)
		}
		sh := m.Shell(muxconn.LoginShell)
		if out, _, err := shellRun(ctx, sh, "echo 1"); err != nil || out != "1\n" {
			t.Fatalf("gate %d: %q %v", our, out, err)
		}
		var out bytes.Buffer
		if err := m.Run(ctx, muxconn.Command{Cmd: "echo plain", Stdout: &out}); err != nil || out.String() != "plain\n" {
			t.Errorf("gate %d: a session beside the idle shell: %q %v", our, out.String(), err)
		}
		fs, err := m.SFTP(ctx)
		if err != nil {
			t.Errorf("gate %d: SFTP beside the idle shell: %v", our, err)
		} else {
			fs.Close()
		}
		if out, _, err := shellRun(ctx, sh, "echo 2"); err != nil || out != "2\n" {
			t.Errorf("gate %d: the shell after giving up its slot: %q %v", our, out, err)
		}
		sh.Close()
		m.Release()
	}
}

// LoginShell runs commands as the login shell would, BinSh with /bin/sh,
// through the long-lived shell and in the sessions it falls back to.
func TestShellKinds(t *testing.T) {
	if _, err := os.Stat("/bin/bash"); err != nil {
		t.Skip("no /bin/bash to be the login shell")
	}
	l := newLab(t, 1, labhost.Options{Shell: "/bin/bash"})
	ctx := testCtx(t)
	m, err := l.pool(t, nil).Get(ctx, l.target(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	const probe = `[ -n "$BASH_VERSION" ] && echo bash || echo sh`
	for _, c := range []struct {
		kind muxconn.ShellKind
		want string
	}{{muxconn.LoginShell, "bash\n"}, {muxconn.BinSh, "sh\n"}} {
		sh := m.Shell(c.kind)
		if out, _, err := shellRun(ctx, sh, probe); err != nil || out != c.want {
			t.Errorf("kind %d, through the shell: %q %v, want %q", c.kind, out, err, c.want)
		}
		var out bytes.Buffer
		// With input, the command runs in a session of its own.
		if err := sh.Run(ctx, muxconn.Command{Cmd: probe + "; cat", Stdin: strings.NewReader("in\n"), Stdout: &out}); err != nil || out.String() != c.want+"in\n" {
			t.Errorf("kind %d, in a session: %q %v, want %q", c.kind, out.String(), err, c.want+"in\n")
		}
		sh.Close()
	}
}

// RunSeq sends a sequence at once; the shell stops at the first failure
// and nothing after it runs; each command's output is its own.
func TestShellRunSeq(t *testing.T) {
	dir := t.TempDir()
	l := newLab(t, 1, labhost.Options{})
	ctx := testCtx(t)
	sh := loginShell(t, ctx, l)
	never := filepath.Join(dir, "never")
	script := []string{"echo a; echo a2 >&2", "printf b", "echo c >&2; exit 7", "touch " + never, "touch " + never}
	outs := make([]bytes.Buffer, len(script))
	errs := make([]bytes.Buffer, len(script))
	cmds := make([]muxconn.Command, len(script))
	for i, c := range script {
		cmds[i] = muxconn.Command{Cmd: c, Stdout: &outs[i], Stderr: &errs[i]}
	}
	var ran []string
	sh.RunSeq(ctx, cmds, func(i int, err error) { ran = append(ran, fmt.Sprint(i, ":", exitStatus(err))) })
	if got := strings.Join(ran, " "); got != "0:0 1:0 2:7" {
		t.Errorf("steps %s, want 0:0 1:0 2:7", got)
	}
	for i, want := range [][2]string{{"a\n", "a2\n"}, {"b", ""}, {"", "c\n"}, {"", ""}, {"", ""}} {
		if outs[i].String() != want[0] || errs[i].String() != want[1] {
			t.Errorf("command %d: %q %q, want %q %q", i, outs[i].String(), errs[i].String(), want[0], want[1])
		}
	}
	if _, err := os.Stat(never); err == nil {
		t.Error("a command after the failure ran")
	}
	// The same shell runs the next sequence.
	if out, _, err := shellRun(ctx, sh, "echo again"); err != nil || out != "again\n" {
		t.Errorf("after the sequence: %q %v", out, err)
	}
	if n := l.Hosts[0].Stats().ExecCount; n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
}

// The loop runs under every POSIX login shell; under csh it can't, and
// commands get sessions of their own. FLEET_REQUIRE_SSHD (CI, which
// installs them) makes a missing shell a failure.
func TestShellLoginShells(t *testing.T) {
	bin := t.TempDir()
	// busybox runs as sh when called so.
	if bb, err := exec.LookPath("busybox"); err == nil {
		if err := os.Symlink(bb, filepath.Join(bin, "sh")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name, path string
		posix      bool
	}{
		{"bash", "/bin/bash", true},
		{"dash", "/bin/dash", true},
		{"zsh", "zsh", true},
		{"mksh", "mksh", true},
		{"busybox", filepath.Join(bin, "sh"), true},
		{"tcsh", "tcsh", false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path, err := exec.LookPath(c.path)
			if err != nil {
				if os.Getenv("FLEET_REQUIRE_SSHD") == "1" && c.name != "busybox" {
					t.Fatalf("%s is not installed (.ci/run installs it)", c.name)
				}
				t.Skipf("%s is not installed", c.name)
			}
			l := newLab(t, 1, labhost.Options{Shell: path})
			ctx := testCtx(t)
			m, err := l.pool(t, nil).Get(ctx, l.target(0))
			if err != nil {
				t.Fatal(err)
			}
			defer m.Release()
			sh := m.Shell(muxconn.LoginShell)
			defer sh.Close()
			steps := [][2]string{{"echo one", "one\n"}, {"echo two", "two\n"}}
			if c.posix {
				steps = append(steps,
					[2]string{`cd /; X=1; printf '%s\n' 'a\b  c ' "$X"`, "a\\b  c \n1\n"},
					[2]string{`pwd | grep -qx / || echo fresh; echo "${X-unset}"`, "fresh\nunset\n"},
				)
			}
			for _, s := range steps {
				out, errOut, err := shellRun(ctx, sh, s[0])
				if err != nil || out != s[1] {
					t.Errorf("%q: %q %q %v, want %q", s[0], out, errOut, err, s[1])
				}
			}
			want := int64(1)
			if !c.posix {
				want = 1 + 2 // the loop, refused; then a session each
			}
			if n := l.Hosts[0].Stats().ExecCount; n != want {
				t.Errorf("%d sessions, want %d", n, want)
			}
		})
	}
}

// A command that mentions $$ runs in a session of its own, where $$ is its
// own shell: `kill $$` ends that command only, and the long-lived shell
// goes on with the next.
func TestShellGivesDollarDollarASession(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	ctx := testCtx(t)
	sh := loginShell(t, ctx, l)
	loop, _, err := shellRun(ctx, sh, "read -r pid comm state ppid rest </proc/self/stat; echo $ppid")
	if err != nil {
		t.Fatal(err)
	}
	// $$ is the shell reading /proc/self/stat through a builtin.
	out, _, err := shellRun(ctx, sh, `read -r pid rest </proc/self/stat; [ "$pid" = "$$" ] && echo own`)
	if err != nil || out != "own\n" {
		t.Errorf("$$: %q %v, want own", out, err)
	}
	err = sh.Run(ctx, muxconn.Command{Cmd: "kill -TERM $$"})
	var exit *muxconn.ExitError
	if !errors.As(err, &exit) || exit.Signal != "TERM" {
		t.Errorf("kill -TERM $$: %v, want exit by TERM", err)
	}
	// The loop is the same process as before: nothing reached it.
	again, _, err := shellRun(ctx, sh, "read -r pid comm state ppid rest </proc/self/stat; echo $ppid")
	if err != nil || again != loop {
		t.Errorf("after kill $$ the loop is %q (%v), was %q", again, err, loop)
	}
	if n := l.Hosts[0].Stats().ExecCount; n != 3 {
		t.Errorf("%d sessions ran commands, want 3: the shell and one each for $$", n)
	}

	// In a sequence, the commands around one with $$ still share the shell.
	var outs []string
	cmds := []muxconn.Command{{Cmd: "echo a"}, {Cmd: "echo ${$}x >/dev/null; echo b"}, {Cmd: "echo c"}}
	bufs := make([]bytes.Buffer, len(cmds))
	for i := range cmds {
		cmds[i].Stdout = &bufs[i]
	}
	sh.RunSeq(ctx, cmds, func(i int, err error) {
		if err != nil {
			t.Errorf("step %d: %v", i, err)
		}
		outs = append(outs, fmt.Sprint(i, bufs[i].String()))
	})
	if got := strings.Join(outs, ""); got != "0a\n1b\n2c\n" {
		t.Errorf("steps %q", got)
	}
	if n := l.Hosts[0].Stats().ExecCount; n != 4 {
		t.Errorf("%d sessions ran commands, want 4", n)
	}
}
