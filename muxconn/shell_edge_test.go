package muxconn

// Edge cases of the long-lived Shell, from a review. Each test compares
// what a command does through the Shell with what the same command does in
// a session of its own (Master.Run), which the Shell's documentation
// promises to match except where it says otherwise.

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
	"fleetrun.dev/fleet/muxconn/hostkey"
)

// rvMaster starts one lab host and returns a master on it.
// killLoop kills the long-lived shell's loop from a command it runs (as in
// package muxconn_test).
const killLoop = "read -r pid comm state ppid rest </proc/self/stat; kill -KILL $ppid"

func rvMaster(t *testing.T, opts labhost.Options) (*Master, *labtest.Lab) {
	t.Helper()
	l := labtest.Start(t, 1, opts)
	auth := &Auth{}
	p := NewPool(PoolOptions{Auth: auth, HostKeys: KnownHosts{DB: hostkey.NewDB()}})
	t.Cleanup(func() {
		p.Close()
		auth.Close()
	})
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	m, err := p.Get(ctx, l.Target(0))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(m.Release)
	return m, l
}

func rvCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

type rvResult struct {
	out, errOut string
	err         error
}

func rvRun(ctx context.Context, run func(context.Context, Command) error, c Command) rvResult {
	var out, errOut bytes.Buffer
	c.Stdout, c.Stderr = &out, &errOut
	err := run(ctx, c)
	return rvResult{out.String(), errOut.String(), err}
}

func rvStatus(err error) string {
	var exit *ExitError
	var to *TimeoutError
	switch {
	case err == nil:
		return "exit 0"
	case errors.As(err, &exit) && exit.Signal != "":
		return "signal " + exit.Signal
	case errors.As(err, &exit):
		return "exit " + itoa(exit.Status)
	case errors.As(err, &to):
		return "timeout"
	default:
		return "error " + err.Error()
	}
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

// When the shell ends under a command (the command killed it, a timeout, a
// cancel), the last bytes of the command's output that the splitter held
// back as a possible start of a mark are thrown away: at least the final
// newline of every such command's output. A session per command delivers
// them.
func TestShellEdgeLosesHeldTailWhenShellEnds(t *testing.T) {
	m, _ := rvMaster(t, labhost.Options{})
	ctx := rvCtx(t)
	sh := m.Shell(LoginShell)
	defer sh.Close()
	for _, c := range []struct{ session, shell Command }{
		// The same end: the shell running the command is killed.
		{Command{Cmd: "echo hi; kill -KILL $$"}, Command{Cmd: "echo hi; " + killLoop}},
		{Command{Cmd: "echo hi; sleep 30", Timeout: 500 * time.Millisecond}, Command{Cmd: "echo hi; sleep 30", Timeout: 500 * time.Millisecond}},
	} {
		want := rvRun(ctx, m.Run, c.session)
		got := rvRun(ctx, sh.Run, c.shell)
		if got.out != want.out {
			t.Errorf("%q: through the shell stdout %q (%s); in a session %q (%s)", c.shell.Cmd, got.out, rvStatus(got.err), want.out, rvStatus(want.err))
		}
	}
	// Same with a cancel.
	cctx, cancel := context.WithCancel(ctx)
	var out bytes.Buffer
	errc := make(chan error, 1)
	go func() { errc <- sh.Run(cctx, Command{Cmd: "echo hi; sleep 30", Stdout: &out}) }()
	time.Sleep(500 * time.Millisecond)
	cancel()
	<-errc
	if out.String() != "hi\n" {
		t.Errorf("cancelled: stdout %q, want %q", out.String(), "hi\n")
	}
}

// Under dash (/bin/sh on Debian and Ubuntu, so every play task, BinSh) a
// command runs in an asynchronous list, which a shell without job control
// starts with SIGINT and SIGQUIT ignored; the ignore is inherited by every
// program the command runs, and can't be undone with trap. In a session
// of its own the command gets the default actions.
func TestShellEdgeCommandsIgnoreSIGINT(t *testing.T) {
	m, _ := rvMaster(t, labhost.Options{Shell: "/bin/dash"})
	ctx := rvCtx(t)
	for _, kind := range []ShellKind{LoginShell, BinSh} {
		sh := m.Shell(kind)
		for _, cmd := range []string{
			// The sh kills itself. ($$ would make it a session of its own.)
			`sh -c 'read -r p x </proc/self/stat; kill -INT $p; echo survived INT'`,
			`sh -c 'read -r p x </proc/self/stat; kill -QUIT $p; echo survived QUIT'`,
			`sh -c 'trap "echo trapped; exit 9" INT; read -r p x </proc/self/stat; kill -INT $p; echo not trapped'`,
		} {
			want := rvRun(ctx, m.Run, Command{Cmd: cmd})
			got := rvRun(ctx, sh.Run, Command{Cmd: cmd})
			if got.out != want.out || rvStatus(got.err) != rvStatus(want.err) {
				t.Errorf("kind %d %q: through the shell %q %s; in a session %q %s", kind, cmd, got.out, rvStatus(got.err), want.out, rvStatus(want.err))
			}
		}
		sh.Close()
	}
}

// $? is 0 when a command starts in a session; through the loop it is the
// status of the loop's own test before it (1).
func TestShellEdgeStatusAtStart(t *testing.T) {
	m, _ := rvMaster(t, labhost.Options{})
	ctx := rvCtx(t)
	sh := m.Shell(LoginShell)
	defer sh.Close()
	c := Command{Cmd: `echo "$?"`}
	want := rvRun(ctx, m.Run, c)
	got := rvRun(ctx, sh.Run, c)
	if got.out != want.out {
		t.Errorf("%q: through the shell %q; in a session %q", c.Cmd, got.out, want.out)
	}
}

// shellFrame appends a newline to a command that has none, and the loop
// evals it: a command ending in a backslash becomes a line continuation.
// `sh -c 'echo a\'` prints "a\"; through the shell it prints "a".
func TestShellEdgeTrailingBackslash(t *testing.T) {
	m, _ := rvMaster(t, labhost.Options{})
	ctx := rvCtx(t)
	sh := m.Shell(LoginShell)
	defer sh.Close()
	for _, cmd := range []string{`echo a\`, `echo C:\`} {
		c := Command{Cmd: cmd}
		want := rvRun(ctx, m.Run, c)
		got := rvRun(ctx, sh.Run, c)
		if got.out != want.out {
			t.Errorf("%q: through the shell %q; in a session %q", cmd, got.out, want.out)
		}
	}
}

// perlShell returns a lab master, a context and a LoginShell on it, closed
// at the end of the test; it skips without perl.
func perlShell(t *testing.T) (*Master, context.Context, *Shell) {
	t.Helper()
	if _, err := exec.LookPath("perl"); err != nil {
		t.Skip("no perl")
	}
	m, _ := rvMaster(t, labhost.Options{})
	sh := m.Shell(LoginShell)
	t.Cleanup(sh.Close)
	return m, rvCtx(t), sh
}

// Every command shares the loop's stdout pipe (its open file description).
// One that sets O_NONBLOCK on it (node does, perl here) leaves it so for
// every later command and for the loop's own printf of the mark: a later
// command that writes a lot fails with EAGAIN, and a mark that can't be
// written is lost, so await never sees it and the command hangs (here
// until the test's timeout). In sessions of their own both succeed.
func TestShellEdgeNonblockingStdoutLeaks(t *testing.T) {
	m, ctx, sh := perlShell(t)
	const setNonblock = `perl -MFcntl -e 'fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die'`
	const big = 20 << 20
	bigCmd := "head -c " + itoa(big) + " /dev/zero"
	// A slow reader, as a terminal or a busy sink is: the channel's window
	// fills, then the host's pipe.
	slow := func() *slowWriter { return &slowWriter{every: 1 << 20, pause: 20 * time.Millisecond} }
	for name, run := range map[string]func(context.Context, Command) error{"session": m.Run, "shell": sh.Run} {
		if err := run(ctx, Command{Cmd: setNonblock}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w := slow()
		var errOut bytes.Buffer
		tctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		err := run(tctx, Command{Cmd: bigCmd, Stdout: w, Stderr: &errOut})
		cancel()
		if err != nil || w.n != big {
			t.Errorf("%s: after a command set O_NONBLOCK, %q: %s, %d bytes of %d, stderr %q", name, bigCmd, rvStatus(err), w.n, big, errOut.String())
		}
	}
}

type slowWriter struct {
	n, every int
	pause    time.Duration
}

func (w *slowWriter) Write(p []byte) (int, error) {
	before := w.n / w.every
	w.n += len(p)
	if w.n/w.every != before {
		time.Sleep(w.pause)
	}
	return len(p), nil
}

// The splitter calls the command's writers with its mutex held, and await
// takes that mutex (take) before it looks at the timer or ctx: a writer
// that blocks (a full terminal, a stuck sink) keeps a timed-out or
// cancelled command from returning. Master.Run returns at its timeout.
func TestShellEdgeTimeoutBlockedByWriter(t *testing.T) {
	m, _ := rvMaster(t, labhost.Options{})
	ctx := rvCtx(t)
	sh := m.Shell(LoginShell)
	defer sh.Close()
	for name, run := range map[string]func(context.Context, Command) error{"session": m.Run, "shell": sh.Run} {
		w := &blockingWriter{release: make(chan struct{})}
		errc := make(chan error, 1)
		go func() { errc <- run(ctx, Command{Cmd: "echo x; sleep 30", Stdout: w, Timeout: 300 * time.Millisecond}) }()
		select {
		case err := <-errc:
			var to *TimeoutError
			if !errors.As(err, &to) {
				t.Errorf("%s: %v, want a timeout", name, err)
			}
			close(w.release)
		case <-time.After(5 * time.Second):
			t.Errorf("%s: Run with a 300ms timeout has not returned after 5s (its stdout writer blocks)", name)
			close(w.release)
			<-errc
		}
	}
}

type blockingWriter struct{ release chan struct{} }

func (w *blockingWriter) Write(p []byte) (int, error) {
	<-w.release
	return len(p), nil
}

// A command's Timeout does not cover the start of a new long-lived shell:
// the hello may take shellHelloTimeout (15s) whatever the command's
// timeout, and then the Shell gives up on the loop for good and runs the
// command in a session, whose timeout only starts then. In a session of
// its own the same command times out at its Timeout, the login shell's
// start (a slow .bashrc, a loaded host) included.
func TestShellEdgeStartIgnoresCommandTimeout(t *testing.T) {
	dir := t.TempDir()
	slowShell := filepath.Join(dir, "slow-shell")
	if err := os.WriteFile(slowShell, []byte("#!/bin/sh\nsleep 3\nexec /bin/sh \"$@\"\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	old := shellHelloTimeout
	shellHelloTimeout = 2 * time.Second // 15s in production
	defer func() { shellHelloTimeout = old }()
	m, _ := rvMaster(t, labhost.Options{Shell: slowShell})
	ctx := rvCtx(t)
	sh := m.Shell(LoginShell)
	defer sh.Close()
	c := Command{Cmd: "echo hi", Timeout: 500 * time.Millisecond}
	for name, run := range map[string]func(context.Context, Command) error{"session": m.Run, "shell": sh.Run} {
		start := time.Now()
		err := run(ctx, c)
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("%s: a command with a %s timeout returned after %s (%s)", name, c.Timeout, took.Round(100*time.Millisecond), rvStatus(err))
		}
	}
	sh.mu.Lock()
	off := sh.off
	sh.mu.Unlock()
	if off {
		t.Errorf("a login shell slower to start than the hello timeout turned the shell off for good, as if it could not run the loop")
	}
}

// The same shared O_NONBLOCK pipe loses the loop's own mark: when a
// command ends with the pipe full (its reader is slow), the loop's printf
// of the mark fails with EAGAIN ("printf: I/O error" on the command's
// stderr), the stdout mark never comes, and Run waits for it forever
// (here until an 8s context; a command without a timeout hangs the host).
func TestShellEdgeNonblockingLosesMark(t *testing.T) {
	_, ctx, sh := perlShell(t)
	if err := sh.Run(ctx, Command{Cmd: "true"}); err != nil {
		t.Fatal(err)
	}
	// The sink is slow to start (a terminal scrolled back, a busy log):
	// the channel's window and then the host's pipe fill.
	w := &pausingWriter{pause: 3 * time.Second}
	var errOut bytes.Buffer
	tctx, cancel := context.WithTimeout(ctx, 8*time.Second)
	defer cancel()
	start := time.Now()
	// A command that writes until the pipe stays full for 200ms (the
	// window and the pipe are full: its reader is slow) and then exits 0,
	// as a logger that drops what it can't write does. The loop's printf
	// of the mark right after finds the pipe full too: EAGAIN, and the
	// mark is lost.
	const cmd = `perl -MFcntl -e 'fcntl(STDOUT, F_SETFL, fcntl(STDOUT, F_GETFL, 0) | O_NONBLOCK) or die; $t = 0; $s = 1000; while (1) { if (defined syswrite STDOUT, "x" x $s) { $t = 0 } else { $s = 1; last if ++$t > 40; select(undef, undef, undef, 0.005) } }'; exit 0`
	err := sh.Run(tctx, Command{Cmd: cmd, Stdout: w, Stderr: &errOut})
	t.Logf("%s after %s, %d bytes, stderr %q", rvStatus(err), time.Since(start).Round(time.Millisecond), w.n, errOut.String())
	if err != nil {
		t.Errorf("a command that exits 0: %s after %s (stderr %q)", rvStatus(err), time.Since(start).Round(time.Millisecond), errOut.String())
	}
}

type pausingWriter struct {
	n     int
	pause time.Duration
}

func (w *pausingWriter) Write(p []byte) (int, error) {
	if w.n == 0 {
		time.Sleep(w.pause)
	}
	w.n += len(p)
	return len(p), nil
}
