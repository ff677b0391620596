package muxconn

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Shell runs a host's commands one after another in one long-lived
// session, instead of a session each. A session costs the host a fork of
// sshd and the start of the login shell, about 2 ms of its CPU; through
// the shell a command costs a fork of that shell. Each command still runs
// in a shell of its own, a subshell of the long-lived one (the login
// shell, or /bin/sh: see ShellKind): what it changes (cd, variables,
// umask, traps, exit) is gone when it ends, its input is /dev/null, and
// its output and exit status are its own. RunSeq sends a whole sequence
// at once, so no command waits for a round trip.
//
// What differs from a session per command: the command's parent is the
// long-lived shell, not sshd, and $$ in it is that shell's; one killed by
// a signal ends with status 128+N, as a shell reports it, not with the
// signal's name (and the shell may say "Terminated" on stderr, as it does
// after any command but its last); output of a process it left in the
// background after it ended is discarded, not waited for; a timeout's
// TERM reaches the command's subshell, not the processes it started.
//
// A Shell is safe for concurrent use. It falls back to sessions of their
// own while the long-lived one is busy with another command, for commands
// with input, and for good when the login shell can't run the long-lived
// shell's loop (csh, fish, a forced command). Between commands it lends
// its session slot to the master's gate, so that on a server allowing few
// sessions (MaxSessions) other sessions take it back instead of waiting.
type Shell struct {
	m    *Master
	kind ShellKind
	mu   sync.Mutex // held while a command runs in p
	p    *shellProc
	off  bool // the login shell can't run the loop: sessions from now on
}

// ShellKind says which shell runs a Shell's commands.
type ShellKind int

const (
	// LoginShell runs commands with the login user's shell, as
	// `ssh host CMD` does (`$SHELL -c CMD`): fleet run.
	LoginShell ShellKind = iota
	// BinSh runs commands with /bin/sh whatever the login shell is, as
	// Ansible runs modules (`/bin/sh -c CMD`): fleet play's modules, which
	// are POSIX sh scripts.
	BinSh
)

// Shell returns a new Shell on m; Close it when done.
func (m *Master) Shell(kind ShellKind) *Shell { return &Shell{m: m, kind: kind} }

// session runs c in a session of its own, as the shell's kind says.
func (sh *Shell) session(ctx context.Context, c Command) error {
	if sh.kind == BinSh {
		c.Cmd = "exec /bin/sh -c " + shQuote(c.Cmd)
	}
	return sh.m.Run(ctx, c)
}

// shQuote quotes s as one sh word.
func shQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// shellHelloTimeout is how long a new shell may take to say it is ready
// before the Shell gives up on it and runs commands in sessions of their
// own: a forced command that never answers must not hold the run.
var shellHelloTimeout = 15 * time.Second

// errNoShell means the login shell did not run the loop.
var errNoShell = errors.New("muxconn: the login shell did not start fleet's command loop")

// Run runs c as Master.Run does, with the same results and errors.
func (sh *Shell) Run(ctx context.Context, c Command) error {
	var err error
	sh.RunSeq(ctx, []Command{c}, func(_ int, e error) { err = e })
	return err
}

// RunSeq runs cmds in order, as Run would one after another, and stops at
// the first that fails (non-zero exit or any error): step is called with
// each command's index and Run's error for it, as it ends, for every
// command that ran. Through the long-lived shell the commands are sent
// at once, so none waits for a round trip to the host; the shell skips
// those after a failure itself.
func (sh *Shell) RunSeq(ctx context.Context, cmds []Command, step func(i int, err error)) {
	if len(cmds) == 0 {
		return
	}
	usable := true
	for _, c := range cmds {
		usable = usable && c.Stdin == nil && strings.IndexByte(c.Cmd, 0) < 0 && maps.Equal(c.Env, cmds[0].Env)
	}
	if !usable || !sh.mu.TryLock() {
		sh.sessions(ctx, cmds, step)
		return
	}
	defer sh.mu.Unlock()
	if sh.off {
		sh.sessions(ctx, cmds, step)
		return
	}
	if p := sh.p; p != nil && (!maps.Equal(p.env, cmds[0].Env) || !p.s.Busy() || p.ended()) {
		p.close()
		sh.p = nil
	}
	if sh.p == nil {
		p, err := startShell(ctx, sh.m, sh.kind, cmds[0].Env)
		if errors.Is(err, errNoShell) {
			sh.off = true
			sh.sessions(ctx, cmds, step)
			return
		}
		if err != nil {
			step(0, err)
			return
		}
		sh.p = p
	}
	if sh.p.runSeq(ctx, cmds, step) {
		sh.p.s.Idle()
	} else {
		sh.p.close()
		sh.p = nil
	}
}

// sessions runs cmds in sessions of their own, stopping at a failure.
func (sh *Shell) sessions(ctx context.Context, cmds []Command, step func(i int, err error)) {
	for i, c := range cmds {
		err := sh.session(ctx, c)
		step(i, err)
		if err != nil {
			return
		}
	}
}

// Close ends the long-lived session, if one is open.
func (sh *Shell) Close() {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.p != nil {
		sh.p.close()
		sh.p = nil
	}
}

// shellLoop is the long-lived session's command, run by the login shell
// (or by /bin/sh, for BinSh). It prints a mark on both streams when ready,
// then reads commands, each a line with its number of lines (and 1 when
// it is to be skipped if the command before it failed) and those lines. It
// runs each in a subshell in the background, so that its input is
// /dev/null and a TERM to the loop can be passed on to it, and prints the
// mark and its status ("skip" for one skipped) on both streams. The mark
// follows a newline of its own, which is not the command's output. It is
// POSIX sh, which bash, dash, ksh and zsh run.
const shellLoop = `fleet_m=%s
fleet_s=0
trap 'kill -TERM "$fleet_p" 2>/dev/null; exit 143' TERM
printf '\n%%s 0\n' "$fleet_m"; printf '\n%%s 0\n' "$fleet_m" >&2
while IFS=' ' read -r fleet_n fleet_k; do
fleet_c=
while [ "$fleet_n" -gt 0 ]; do IFS= read -r fleet_l || exit 1; fleet_c="$fleet_c$fleet_l
"; fleet_n=$((fleet_n - 1)); done
if [ "$fleet_k" = 1 ] && [ "$fleet_s" != 0 ]; then fleet_s=skip; else
( eval "$fleet_c" ) </dev/null & fleet_p=$!
wait "$fleet_p"; fleet_s=$?
fi
printf '\n%%s %%s\n' "$fleet_m" "$fleet_s"; printf '\n%%s %%s\n' "$fleet_m" "$fleet_s" >&2
done`

// markSkipped is the status of a mark that says its command was skipped.
const markSkipped = -1

// shellFrame encodes cmd for the loop: its line count (and " 1" when
// ifOK, to run it only if the command before succeeded), then its lines.
func shellFrame(cmd string, ifOK bool) []byte {
	body := cmd
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	head := strconv.Itoa(strings.Count(body, "\n"))
	if ifOK {
		head += " 1"
	}
	return []byte(head + "\n" + body)
}

// shellProc is one long-lived session running the loop.
type shellProc struct {
	m      *Master
	s      *Session
	env    map[string]string
	stdin  io.WriteCloser
	out    *markSplitter
	errs   *markSplitter
	exited chan error // the session's end (Wait's result), sent once
}

func startShell(ctx context.Context, m *Master, kind ShellKind, env map[string]string) (*shellProc, error) {
	var nonce [12]byte
	_, _ = rand.Read(nonce[:])
	mark := "fleet-" + hex.EncodeToString(nonce[:])
	s, err := m.NewSession(ctx)
	if err != nil {
		return nil, err
	}
	p := &shellProc{m: m, s: s, env: maps.Clone(env), out: newMarkSplitter(mark), errs: newMarkSplitter(mark), exited: make(chan error, 1)}
	s.Stdout, s.Stderr = p.out, p.errs
	if p.stdin, err = s.StdinPipe(); err != nil {
		s.Close()
		return nil, err
	}
	if !m.track() {
		s.Close()
		return nil, m.lost()
	}
	// Setenv, Start and Wait wait for the server and take no context, so
	// they run aside, owned by the master (see Master.run).
	go func() {
		defer m.opens.Done()
		for k, v := range env {
			_ = s.Setenv(k, v) // sshd drops what AcceptEnv doesn't list
		}
		loop := fmt.Sprintf(shellLoop, mark)
		if kind == BinSh {
			loop = "exec /bin/sh -c " + shQuote(loop)
		}
		if err := s.Start(loop); err != nil {
			p.exited <- &startError{err}
			return
		}
		p.exited <- s.Wait()
	}()
	hello := time.NewTimer(shellHelloTimeout)
	defer hello.Stop()
	_, err = p.await(ctx, hello.C)
	switch {
	case err == nil:
		return p, nil
	case errors.Is(err, errShellEnded), errors.Is(err, errShellTimeout):
		p.abandon()
		if m.dead() {
			return nil, m.lost()
		}
		return nil, errNoShell
	default:
		p.abandon()
		return nil, err
	}
}

var (
	errShellEnded   = errors.New("muxconn: the shell ended")
	errShellTimeout = errors.New("muxconn: timed out")
)

// ended reports whether the loop is gone (killed on the host while idle).
func (p *shellProc) ended() bool {
	select {
	case err := <-p.exited:
		p.exited <- err
		return true
	default:
		return false
	}
}

// await waits for the next mark on both streams and returns its status.
func (p *shellProc) await(ctx context.Context, timeout <-chan time.Time) (int, error) {
	var st int
	for _, sp := range []*markSplitter{p.out, p.errs} {
		for got := false; !got; {
			if st, got = sp.take(); got {
				break
			}
			select {
			case <-sp.notify:
			case err := <-p.exited:
				p.exited <- err // for whoever looks next
				// Wait returns once both streams are copied, so marks that
				// came with the end are already in.
				if st, got = sp.take(); !got {
					return 0, errShellEnded
				}
			case <-timeout:
				return 0, errShellTimeout
			case <-ctx.Done():
				return 0, ctx.Err()
			}
		}
	}
	return st, nil
}

// runSeq sends cmds at once, each after the first to run only if the one
// before it succeeded, and reports each that ran to step. It returns
// false when the shell can't take another command.
func (p *shellProc) runSeq(ctx context.Context, cmds []Command, step func(i int, err error)) bool {
	outs := make([]io.Writer, len(cmds))
	errs := make([]io.Writer, len(cmds))
	var frames []byte
	for i, c := range cmds {
		outs[i], errs[i] = orDiscard(c.Stdout), orDiscard(c.Stderr)
		frames = append(frames, shellFrame(c.Cmd, i > 0)...)
	}
	p.out.to(outs...)
	p.errs.to(errs...)
	if !p.m.track() {
		step(0, p.m.lost())
		return false
	}
	go func() {
		defer p.m.opens.Done()
		// A failed write means the session is gone, which exited reports.
		_, _ = p.stdin.Write(frames)
	}()
	for i, c := range cmds {
		// A command's time starts when the one before it ends.
		var timeout <-chan time.Time
		var timer *time.Timer
		if c.Timeout > 0 {
			timer = time.NewTimer(c.Timeout)
			timeout = timer.C
		}
		st, err := p.await(ctx, timeout)
		if timer != nil {
			timer.Stop()
		}
		switch {
		case err == nil && st == markSkipped:
			// Only after a failure, which returned below.
			step(i, fmt.Errorf("muxconn: %s: the shell skipped a command that should have run", p.m.Target.Alias))
			return false
		case err == nil && st == 0:
			step(i, nil)
			p.out.release(i + 1)
			p.errs.release(i + 1)
		case err == nil:
			step(i, &ExitError{Status: st})
			// The shell skips the rest: take their marks.
			for range cmds[i+1:] {
				if _, err := p.await(ctx, nil); err != nil {
					if !errors.Is(err, errShellEnded) {
						p.abandon()
					}
					return false
				}
			}
			return true
		case errors.Is(err, errShellTimeout):
			p.abandon()
			step(i, &TimeoutError{After: c.Timeout})
			return false
		case errors.Is(err, errShellEnded):
			p.out.to()
			p.errs.to()
			end := <-p.exited
			p.exited <- end
			if end == nil {
				step(i, fmt.Errorf("muxconn: %s: the command ended the shell it ran in without an exit status", p.m.Target.Alias))
			} else {
				step(i, p.m.settle(ctx, end))
			}
			return false
		default:
			p.abandon()
			step(i, err)
			return false
		}
	}
	return true
}

// abandon signals the loop, which passes TERM on to a running command,
// and closes the session; as Master.abandon, it waits a little only.
func (p *shellProc) abandon() {
	p.out.to()
	p.errs.to()
	_ = p.s.Signal(ssh.SIGTERM)
	p.s.Close()
	t := time.NewTimer(abandonGrace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	case <-p.m.done:
	}
}

// close ends an idle loop: end of input makes it exit.
func (p *shellProc) close() {
	p.out.to()
	p.errs.to()
	p.stdin.Close()
	p.s.Close()
}

// markSplitter is one of the loop's output streams: it passes a command's
// bytes on to the command's writer and takes out the loop's marks.
type markSplitter struct {
	mu  sync.Mutex
	pat []byte // "\n" + mark + " "
	// ws are the streams of the commands sent, cur the index of the one
	// whose output is coming (marks seen since), open the last whose
	// output may go straight to its stream: the output of the commands
	// after it waits in bufs until the one before is reported, so that
	// output keeps the order it would have with a session per command.
	ws     []io.Writer
	cur    int
	open   int
	bufs   [][]byte
	held   []byte // the stream's tail that may be the start of a mark
	ready  bool   // the loop's first mark has passed
	early  []byte // what came before it (a noisy .bashrc): the first command's
	marks  []int  // statuses of marks not yet taken
	notify chan struct{}
}

// markEarlyMax caps what is kept of the output before the first mark.
const markEarlyMax = 64 << 10

// markStatusMax is the longest status a mark carries.
const markStatusMax = 12

func newMarkSplitter(mark string) *markSplitter {
	return &markSplitter{pat: []byte("\n" + mark + " "), notify: make(chan struct{}, 1)}
}

// to sets the streams of the commands sent next, in order; none
// discards. The first command's stream is open at once and gets what came
// before the loop was ready.
func (sp *markSplitter) to(ws ...io.Writer) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.ws, sp.cur, sp.open = ws, 0, 0
	sp.bufs = make([][]byte, len(ws))
	sp.held = nil // the tail of left-behind output, not the next command's
	if len(ws) > 0 && len(sp.early) > 0 {
		ws[0].Write(sp.early)
		sp.early = nil
	}
}

// release opens the stream of command i, the one before it having been
// reported, and passes on what it held for it.
func (sp *markSplitter) release(i int) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if i >= len(sp.ws) {
		return
	}
	sp.open = i
	if b := sp.bufs[i]; len(b) > 0 {
		sp.ws[i].Write(b)
	}
	sp.bufs[i] = nil
}

// take returns the status of the oldest mark not yet taken.
func (sp *markSplitter) take() (int, bool) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if len(sp.marks) == 0 {
		return 0, false
	}
	st := sp.marks[0]
	sp.marks = sp.marks[1:]
	return st, true
}

func (sp *markSplitter) Write(p []byte) (int, error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	buf := p
	if len(sp.held) > 0 {
		buf = append(sp.held, p...)
		sp.held = nil
	}
	for len(buf) > 0 {
		i := bytes.Index(buf, sp.pat)
		if i < 0 {
			k := partialPrefix(buf, sp.pat)
			sp.emit(buf[:len(buf)-k])
			sp.held = append([]byte(nil), buf[len(buf)-k:]...)
			break
		}
		sp.emit(buf[:i])
		rest := buf[i+len(sp.pat):]
		nl := bytes.IndexByte(rest[:min(len(rest), markStatusMax+1)], '\n')
		if nl < 0 && len(rest) <= markStatusMax {
			sp.held = append([]byte(nil), buf[i:]...)
			break
		}
		st, err := markStatus(rest[:max(nl, 0)])
		if nl < 0 || err != nil {
			// Not a mark after all: output that happens to hold the
			// (secret) mark. Pass it on.
			sp.emit(buf[i : i+len(sp.pat)])
			buf = rest
			continue
		}
		sp.marked(st)
		buf = rest[nl+1:]
	}
	return len(p), nil
}

func (sp *markSplitter) emit(b []byte) {
	switch {
	case len(b) == 0:
	case !sp.ready:
		if n := markEarlyMax - len(sp.early); n > 0 {
			sp.early = append(sp.early, b[:min(n, len(b))]...)
		}
	case sp.cur >= len(sp.ws):
		// Between batches: output of a process a command left behind.
	case sp.cur <= sp.open:
		sp.ws[sp.cur].Write(b)
	default:
		sp.bufs[sp.cur] = append(sp.bufs[sp.cur], b...)
	}
}

// marked ends the running command's stream and starts the next one's.
// Output between commands (of a process one left behind) is discarded.
func (sp *markSplitter) marked(st int) {
	if sp.ready {
		sp.cur++
	}
	sp.ready = true
	sp.marks = append(sp.marks, st)
	select {
	case sp.notify <- struct{}{}:
	default:
	}
}

// markStatus reads a mark's status: a number, or "skip".
func markStatus(b []byte) (int, error) {
	if string(b) == "skip" {
		return markSkipped, nil
	}
	return strconv.Atoi(string(b))
}

// partialPrefix returns the length of the longest proper prefix of pat
// that b ends with.
func partialPrefix(b, pat []byte) int {
	for k := min(len(b), len(pat)-1); k > 0; k-- {
		if bytes.HasSuffix(b, pat[:k]) {
			return k
		}
	}
	return 0
}
