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
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
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
// long-lived shell, not sshd (a command that mentions $$ gets a session of
// its own, see RunSeq, but $$ in a file it sources or a function it
// inherits is the loop's, and `kill $$` there ends the loop while the
// command goes on); errors from the shell itself may name eval as their
// source (dash "sh: 1: eval: x: not found", zsh "(eval):1:", busybox
// "sh: eval: line 0:"); bash ends with 1, not 127, on an expansion error
// (set -u, ${x:?}); a stray break or continue ends the command silently
// under busybox and zsh (zsh -c fails with an error); one killed by
// a signal ends with status 128+N, as a shell reports it, not with the
// signal's name; output that a process the command left in the background
// writes after the command ended is not waited for: it goes to the
// command running then (or nowhere between runs), where sshd would have
// kept the command's session open until that process closed its output;
// what the login shell's startup files print goes with the first command
// only.
// A timeout or cancel sends TERM to the shell's whole process group (the
// command and what it started), through a session of its own.
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

// BinShCommand returns the command that has the login shell run cmd with
// /bin/sh, whatever the login shell is.
func BinShCommand(cmd string) string {
	return "exec /bin/sh -c '" + strings.ReplaceAll(cmd, "'", `'\''`) + "'"
}

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
//
// A command that mentions $$ runs in a session of its own, where $$ is its
// own shell's process id: in the long-lived shell's subshell it would be
// the loop's, and `kill $$` would end the loop.
func (sh *Shell) RunSeq(ctx context.Context, cmds []Command, step func(i int, err error)) {
	for done := 0; done < len(cmds); {
		own := mentionsPID(cmds[done].Cmd)
		n := 1
		for done+n < len(cmds) && mentionsPID(cmds[done+n].Cmd) == own {
			n++
		}
		failed, off := false, done
		seg := func(i int, err error) {
			failed = failed || err != nil
			step(off+i, err)
		}
		if own {
			sh.sessions(ctx, cmds[done:done+n], seg)
		} else {
			sh.runSeq(ctx, cmds[done:done+n], seg)
		}
		if failed {
			return
		}
		done += n
	}
}

// mentionsPID reports whether cmd may expand $$ (as $$ or ${$…}).
func mentionsPID(cmd string) bool {
	return strings.Contains(cmd, "$$") || strings.Contains(cmd, "${$")
}

// runSeq is RunSeq for commands that may share the long-lived shell.
func (sh *Shell) runSeq(ctx context.Context, cmds []Command, step func(i int, err error)) {
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
		p, err := startShell(ctx, sh.m, sh.kind, cmds[0].Env, cmds[0].Timeout)
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
	if sh.kind == BinSh {
		cmds = slices.Clone(cmds)
		for i := range cmds {
			cmds[i].Cmd = BinShCommand(cmds[i].Cmd)
		}
	}
	sh.m.RunSeq(ctx, cmds, step)
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

// shellLoop returns the long-lived session's command, run by the login
// shell (or by /bin/sh, for BinSh), with mark as its secret mark. It prints
// the mark on both streams when ready, with its process id as the status,
// then reads commands: each a line with its number of lines, 1 when it is
// to be skipped if the command before it failed, and 1 when its text gained
// a final newline to be sent, then those lines. It runs each in a subshell,
// in the foreground (a background one would start with SIGINT and SIGQUIT
// ignored), with the loop's functions and variables unset except the one
// holding the command's text, and prints the mark and the status ("skip"
// for one skipped) on both streams. The mark follows a newline of its own,
// which is not the command's output.
//
// The script is one line, and the command's text is eval'd on it, so that
// bash numbers the command's lines from 1 as `bash -c` does ($LINENO,
// "bash: line 1: x: command not found"). Bash, zsh and ksh run the command
// in the loop itself: in a function, bash would name its errors after the
// function's source ("environment: line 1: …") and zsh would set $0 to
// the function's name. Other shells (dash, busybox) run it from a
// function, so that a stray break or continue in it doesn't reach the
// loop, which would end the command there; that works for dash, not for
// busybox.
//
// Every command gets its stdout and stderr opened anew from the loop's
// (through /proc, where it can): a command that leaves them non-blocking
// (node does) leaves it so for itself only. A mark that finds the
// command's pipe full and non-blocking is retried on a stream opened anew
// (and, without /proc, retried a while). It is POSIX sh, which bash, dash,
// ksh, mksh, zsh and busybox run; $'\n' is used where the shell has it, to
// spare a fork.
func shellLoop(mark string) string {
	run := `( unset -f fleet_x fleet_mark fleet_again; unset fleet_m fleet_s fleet_r fleet_b fleet_nl fleet_n fleet_k fleet_a fleet_l fleet_i; eval "$fleet_c" ) </dev/null`
	mk := `printf '\n%s %s\n' "$fleet_m" "$1"`
	parts := []string{
		"fleet_m=" + mark, "fleet_s=0", "fleet_r=", "fleet_b=", "fleet_i=0",
		`fleet_nl=$'\n'`,
		`[ "${#fleet_nl}" = 1 ] || { fleet_nl=$(printf '\n.'); fleet_nl=${fleet_nl%.}; }`,
		`[ -z "${BASH_VERSION-}${ZSH_VERSION-}${KSH_VERSION-}" ] || fleet_b=1`,
		`if ( exec 1>/proc/self/fd/1 2>/proc/self/fd/2 ) 2>/dev/null; then fleet_r=1; fi`,
		`fleet_x() { ` + run + `; }`,
		`fleet_again() { if [ -n "$fleet_r" ]; then exec 1>/proc/self/fd/1 2>/proc/self/fd/2; fi; fleet_i=$((fleet_i + 1)); [ "$fleet_i" -lt 100000 ]; }`,
		`fleet_mark() { until ` + mk + ` 2>/dev/null; do fleet_again || exit 1; done; until ` + mk + ` >&2 2>/dev/null; do fleet_again || exit 1; done; fleet_i=0; }`,
		`fleet_mark $$`,
		`while IFS=' ' read -r fleet_n fleet_k fleet_a; do fleet_c=; ` +
			`while [ "$fleet_n" -gt 0 ]; do IFS= read -r fleet_l || exit 1; fleet_c="$fleet_c$fleet_l$fleet_nl"; fleet_n=$((fleet_n - 1)); done; ` +
			`[ "$fleet_a" != 1 ] || fleet_c=${fleet_c%?}; ` +
			`if [ "$fleet_k" = 1 ] && [ "$fleet_s" != 0 ]; then fleet_s=skip; else ` +
			`[ -z "$fleet_r" ] || exec 1>/proc/self/fd/1 2>/proc/self/fd/2; ` +
			`if [ -n "$fleet_b" ]; then ` + run + `; else fleet_x; fi; fleet_s=$?; fi; ` +
			`fleet_mark "$fleet_s"; done`,
	}
	return strings.Join(parts, "; ")
}

// markSkipped is the status of a mark that says its command was skipped.
const markSkipped = -1

// shellFrame encodes cmd for the loop: its line count, 1 (or 0) when
// ifOK, to run it only if the command before succeeded, and 1 when a final
// newline was added to it; then its lines.
func shellFrame(cmd string, ifOK bool) []byte {
	body, added := cmd, "0"
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
		added = "1"
	}
	k := "0"
	if ifOK {
		k = "1"
	}
	return []byte(strconv.Itoa(strings.Count(body, "\n")) + " " + k + " " + added + "\n" + body)
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
	pid    int        // the loop's process id on the host, its process group
}

func startShell(ctx context.Context, m *Master, kind ShellKind, env map[string]string, timeout time.Duration) (*shellProc, error) {
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
		loop := shellLoop(mark)
		if kind == BinSh {
			loop = BinShCommand(loop)
		}
		if err := s.Start(loop); err != nil {
			p.exited <- &startError{err}
			return
		}
		p.exited <- s.Wait()
	}()
	hello := time.NewTimer(shellHelloTimeout)
	defer hello.Stop()
	// The first command's timeout covers the shell's start, as a
	// session's start counts in Master.Run's.
	var first <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		first = t.C
	}
	pid, err := p.await(ctx, hello.C, first)
	switch {
	case err == nil:
		p.pid = pid
		return p, nil
	case errors.Is(err, errShellTimeout):
		p.abandon()
		return nil, &TimeoutError{After: timeout}
	case errors.Is(err, errShellEnded), errors.Is(err, errShellHello):
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
	errShellHello   = errors.New("muxconn: the shell did not say it was ready")
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

// await waits for the next mark on both streams and returns its status;
// errShellHello when hello fires, errShellTimeout when timeout does.
func (p *shellProc) await(ctx context.Context, hello, timeout <-chan time.Time) (int, error) {
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
			case <-hello:
				return 0, errShellHello
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
	p.out.release(0)
	p.errs.release(0)
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
		st, err := p.await(ctx, nil, timeout)
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
				if _, err := p.await(ctx, nil, nil); err != nil {
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
			// Wait has copied all there was: what the splitter held back
			// as a possible mark is output.
			p.out.flush()
			p.errs.flush()
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

// abandon stops a running command: it closes the session and, in a
// session of its own, sends TERM to the loop's process group: the loop,
// the command and what it started (a timeout stops them, as Master.Run's
// TERM stops a session's command). The kill is best effort, owned by the
// master; like Master.abandon, abandon waits a little only.
func (p *shellProc) abandon() {
	p.out.flush()
	p.errs.flush()
	p.out.to()
	p.errs.to()
	p.s.Close()
	if p.pid > 1 && p.m.track() {
		go func() {
			defer p.m.opens.Done()
			ctx, cancel := context.WithTimeout(context.Background(), shellKillTimeout)
			defer cancel()
			_ = p.m.Run(ctx, Command{Cmd: killGroupCommand(p.pid)})
		}()
	}
	t := time.NewTimer(abandonGrace)
	defer t.Stop()
	select {
	case <-p.exited:
	case <-t.C:
	case <-p.m.done:
	}
}

// killGroupCommand returns the command that sends TERM to process group
// pgid, whatever the login shell: /bin/sh's kill (dash's and busybox's
// take no "--", and csh's kill is its own).
func killGroupCommand(pgid int) string {
	return BinShCommand(fmt.Sprintf("kill -TERM -%d 2>/dev/null", pgid))
}

// shellKillTimeout bounds the session that stops an abandoned command.
const shellKillTimeout = 10 * time.Second

// close ends an idle loop: end of input makes it exit.
func (p *shellProc) close() {
	p.out.to()
	p.errs.to()
	p.stdin.Close()
	p.s.Close()
}

// markSplitter is one of the loop's output streams: it passes a command's
// bytes on to the command's writer and takes out the loop's marks.
//
// Its state is under mu, which is never held while a writer runs: a
// writer that blocks (a stuck terminal) must not keep await, which takes
// mu, from seeing a timeout. wmu keeps the writes in order instead.
type markSplitter struct {
	wmu sync.Mutex // held while writing to a command's writer
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

// chunk is bytes for one writer.
type chunk struct {
	w io.Writer
	b []byte
}

// write passes chunks on, in order, outside mu.
func (sp *markSplitter) write(out []chunk) {
	for _, c := range out {
		c.w.Write(c.b)
	}
}

// to sets the streams of the commands sent next, in order; none
// discards. Only the first command's stream is open; it gets what came
// before the loop was ready once released.
func (sp *markSplitter) to(ws ...io.Writer) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.ws, sp.cur, sp.open = ws, 0, -1
	sp.bufs = make([][]byte, len(ws))
	sp.held = nil // the tail of left-behind output, not the next command's
	if len(ws) > 0 {
		sp.bufs[0], sp.early = sp.early, nil
	}
}

// release opens the stream of command i (the one before it reported, or
// i is 0) and passes on what was held for it.
func (sp *markSplitter) release(i int) {
	sp.wmu.Lock()
	defer sp.wmu.Unlock()
	sp.mu.Lock()
	if i >= len(sp.ws) {
		sp.mu.Unlock()
		return
	}
	sp.open = i
	var out []chunk
	if b := sp.bufs[i]; len(b) > 0 {
		out = []chunk{{sp.ws[i], b}}
	}
	sp.bufs[i] = nil
	sp.mu.Unlock()
	sp.write(out)
}

// flush passes on the tail held back as a possible start of a mark, once
// no mark can follow (the loop has ended or is abandoned). It gives up if
// a writer is stuck: that is when abandon calls it.
func (sp *markSplitter) flush() {
	if !sp.wmu.TryLock() {
		return
	}
	defer sp.wmu.Unlock()
	sp.mu.Lock()
	held := sp.held
	sp.held = nil
	var out []chunk
	sp.emit(&out, held)
	sp.mu.Unlock()
	sp.write(out)
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
	sp.wmu.Lock()
	defer sp.wmu.Unlock()
	sp.mu.Lock()
	buf := p
	if len(sp.held) > 0 {
		buf = append(sp.held, p...)
		sp.held = nil
	}
	for len(buf) > 0 {
		var out []chunk
		st, n, found := sp.scan(&out, buf)
		buf = buf[n:]
		if len(out) > 0 {
			// A command's output is written before its mark is seen:
			// once await has the mark, the output is all there.
			sp.mu.Unlock()
			sp.write(out)
			sp.mu.Lock()
		}
		if found {
			sp.marked(st)
		}
	}
	sp.mu.Unlock()
	return len(p), nil
}

// scan routes buf's output up to its first mark, or all of it but a
// tail that may start a mark (kept in held), with mu held. It returns
// the mark's status and how much of buf it used.
func (sp *markSplitter) scan(out *[]chunk, buf []byte) (st, n int, found bool) {
	for n < len(buf) {
		rest := buf[n:]
		i := bytes.Index(rest, sp.pat)
		if i < 0 {
			k := partialPrefix(rest, sp.pat)
			sp.emit(out, rest[:len(rest)-k])
			sp.held = append([]byte(nil), rest[len(rest)-k:]...)
			return 0, len(buf), false
		}
		sp.emit(out, rest[:i])
		after := rest[i+len(sp.pat):]
		nl := bytes.IndexByte(after[:min(len(after), markStatusMax+1)], '\n')
		if nl < 0 && len(after) <= markStatusMax {
			sp.held = append([]byte(nil), rest[i:]...)
			return 0, len(buf), false
		}
		st, err := markStatus(after[:max(nl, 0)])
		if nl < 0 || err != nil {
			// Not a mark after all: output that happens to hold the
			// (secret) mark. Pass it on.
			sp.emit(out, rest[i:i+len(sp.pat)])
			n += i + len(sp.pat)
			continue
		}
		return st, n + i + len(sp.pat) + nl + 1, true
	}
	return 0, n, false
}

// emit routes b, output of command cur, with mu held: to out for an open
// stream, else to what is held for the command, or nowhere.
func (sp *markSplitter) emit(out *[]chunk, b []byte) {
	switch {
	case len(b) == 0:
	case !sp.ready:
		if n := markEarlyMax - len(sp.early); n > 0 {
			sp.early = append(sp.early, b[:min(n, len(b))]...)
		}
	case sp.cur >= len(sp.ws):
		// Between batches: output of a process a command left behind
		// that came after the batch's last mark.
	case sp.cur <= sp.open:
		// b stays valid and unchanged until Write returns, after out is
		// written.
		*out = append(*out, chunk{sp.ws[sp.cur], b})
	default:
		sp.bufs[sp.cur] = append(sp.bufs[sp.cur], b...)
	}
}

// marked ends the running command's stream and starts the next one's.
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
