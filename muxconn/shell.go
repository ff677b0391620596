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
// in a shell of its own, a subshell of the login shell: what it changes
// (cd, variables, umask, traps, exit) is gone when it ends, its input is
// /dev/null, and its output and exit status are its own.
//
// What differs from a session per command: the command's parent is the
// long-lived shell, not sshd; one killed by a signal ends with status
// 128+N, as a shell reports it, not with the signal's name; and output of
// a process it left in the background after it ended is discarded.
//
// A Shell is safe for concurrent use. Run falls back to a session of its
// own when the long-lived one is busy with another command, when the
// command has input, and for good when the login shell can't run the
// long-lived shell's loop (csh, fish, a forced command).
type Shell struct {
	m   *Master
	mu  sync.Mutex // held while a command runs in p
	p   *shellProc
	off bool // the login shell can't run the loop: sessions from now on
}

// Shell returns a new Shell on m; Close it when done.
func (m *Master) Shell() *Shell { return &Shell{m: m} }

// shellHelloTimeout is how long a new shell may take to say it is ready
// before the Shell gives up on it and runs commands in sessions of their
// own: a forced command that never answers must not hold the run.
var shellHelloTimeout = 15 * time.Second

// errNoShell means the login shell did not run the loop.
var errNoShell = errors.New("muxconn: the login shell did not start fleet's command loop")

// Run runs c as Master.Run does, with the same results and errors.
func (sh *Shell) Run(ctx context.Context, c Command) error {
	if c.Stdin != nil || strings.IndexByte(c.Cmd, 0) >= 0 || !sh.mu.TryLock() {
		return sh.m.Run(ctx, c)
	}
	defer sh.mu.Unlock()
	if sh.off {
		return sh.m.Run(ctx, c)
	}
	if p := sh.p; p != nil && (!maps.Equal(p.env, c.Env) || !p.s.Busy() || p.ended()) {
		p.close()
		sh.p = nil
	}
	if sh.p == nil {
		p, err := startShell(ctx, sh.m, c.Env)
		if errors.Is(err, errNoShell) {
			sh.off = true
			return sh.m.Run(ctx, c)
		}
		if err != nil {
			return err
		}
		sh.p = p
	}
	err, alive := sh.p.run(ctx, c)
	if alive {
		sh.p.s.Idle()
	} else {
		sh.p.close()
		sh.p = nil
	}
	return err
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

// shellLoop is the long-lived session's command, run by the login shell.
// It prints a mark on both streams when ready, then reads commands, each
// a line with its number of lines and those lines, and runs each in a
// subshell in the background (so that its input is /dev/null and a TERM
// to the loop can be passed on to it) and prints the mark and its status
// on both streams. The mark follows a newline of its own, which is not the
// command's output. It is POSIX sh, which bash, dash, ksh and zsh run.
const shellLoop = `fleet_m=%s
trap 'kill -TERM "$fleet_p" 2>/dev/null; exit 143' TERM
printf '\n%%s 0\n' "$fleet_m"; printf '\n%%s 0\n' "$fleet_m" >&2
while IFS= read -r fleet_n; do
fleet_c=
while [ "$fleet_n" -gt 0 ]; do IFS= read -r fleet_l || exit 1; fleet_c="$fleet_c$fleet_l
"; fleet_n=$((fleet_n - 1)); done
( eval "$fleet_c" ) </dev/null & fleet_p=$!
wait "$fleet_p"; fleet_s=$?
printf '\n%%s %%d\n' "$fleet_m" "$fleet_s"; printf '\n%%s %%d\n' "$fleet_m" "$fleet_s" >&2
done`

// shellFrame encodes cmd for the loop: its line count, then its lines.
func shellFrame(cmd string) []byte {
	body := cmd
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	return []byte(strconv.Itoa(strings.Count(body, "\n")) + "\n" + body)
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

func startShell(ctx context.Context, m *Master, env map[string]string) (*shellProc, error) {
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
		if err := s.Start(fmt.Sprintf(shellLoop, mark)); err != nil {
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

// await waits for the mark on both streams and returns its status.
func (p *shellProc) await(ctx context.Context, timeout <-chan time.Time) (int, error) {
	var st int
	for _, sp := range []*markSplitter{p.out, p.errs} {
		select {
		case st = <-sp.marks:
		case err := <-p.exited:
			p.exited <- err // for whoever looks next
			// Wait returns once both streams are copied, so marks that
			// came with the end are already in.
			select {
			case st = <-sp.marks:
				continue
			default:
				return 0, errShellEnded
			}
		case <-timeout:
			return 0, errShellTimeout
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	return st, nil
}

// run runs c; alive is false when the shell can't take another command.
func (p *shellProc) run(ctx context.Context, c Command) (err error, alive bool) {
	p.out.to(orDiscard(c.Stdout))
	p.errs.to(orDiscard(c.Stderr))
	if !p.m.track() {
		return p.m.lost(), false
	}
	frame := shellFrame(c.Cmd)
	go func() {
		defer p.m.opens.Done()
		// A failed write means the session is gone, which exited reports.
		_, _ = p.stdin.Write(frame)
	}()
	var timeout <-chan time.Time
	if c.Timeout > 0 {
		t := time.NewTimer(c.Timeout)
		defer t.Stop()
		timeout = t.C
	}
	st, err := p.await(ctx, timeout)
	switch {
	case err == nil && st == 0:
		return nil, true
	case err == nil:
		return &ExitError{Status: st}, true
	case errors.Is(err, errShellTimeout):
		p.abandon()
		return &TimeoutError{After: c.Timeout}, false
	case errors.Is(err, errShellEnded):
		p.out.to(nil)
		p.errs.to(nil)
		end := <-p.exited
		p.exited <- end
		if end == nil {
			return fmt.Errorf("muxconn: %s: the command ended the shell it ran in without an exit status", p.m.Target.Alias), false
		}
		return p.m.settle(ctx, end), false
	default:
		p.abandon()
		return err, false
	}
}

// abandon signals the loop, which passes TERM on to a running command,
// and closes the session; as Master.abandon, it waits a little only.
func (p *shellProc) abandon() {
	p.out.to(nil)
	p.errs.to(nil)
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
	p.out.to(nil)
	p.errs.to(nil)
	p.stdin.Close()
	p.s.Close()
}

// markSplitter is one of the loop's output streams: it passes a command's
// bytes on to the command's writer and takes out the loop's marks.
type markSplitter struct {
	mu    sync.Mutex
	pat   []byte    // "\n" + mark + " "
	w     io.Writer // the running command's stream; nil discards
	held  []byte    // the stream's tail that may be the start of a mark
	ready bool      // the loop's first mark has passed
	early []byte    // what came before it (a noisy .bashrc): the first command's
	marks chan int
}

// markEarlyMax caps what is kept of the output before the first mark.
const markEarlyMax = 64 << 10

// markStatusMax is the longest status a mark carries.
const markStatusMax = 12

func newMarkSplitter(mark string) *markSplitter {
	return &markSplitter{pat: []byte("\n" + mark + " "), marks: make(chan int, 2)}
}

// to directs what follows to w, the next command's stream, starting with
// what came before the loop was ready.
func (sp *markSplitter) to(w io.Writer) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.w = w
	sp.held = nil // the tail of left-behind output, not the next command's
	if w != nil && len(sp.early) > 0 {
		w.Write(sp.early)
		sp.early = nil
	}
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
		st, err := strconv.Atoi(string(rest[:max(nl, 0)]))
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
	case sp.w != nil:
		sp.w.Write(b)
	}
}

// marked ends the running command's stream: until the next one is set,
// output (of a process the command left behind) is discarded.
func (sp *markSplitter) marked(st int) {
	sp.ready = true
	sp.w = nil
	select {
	case sp.marks <- st:
	default:
	}
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
