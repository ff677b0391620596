package runner

import (
	"bytes"
	"context"
	"errors"
	"io"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/target"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/vars"
)

// Exit codes, stable for CI (see README): bits 2 and 4 combine.
const (
	ExitOK          = 0
	ExitUsage       = 1   // bad input; nothing ran
	ExitFailed      = 2   // a command failed on at least one host
	ExitUnreachable = 4   // at least one host could not be reached
	ExitInterrupted = 130 // the run was interrupted (SIGINT)
)

// DefaultForks is how many hosts are worked on at once unless -f says.
const DefaultForks = 50

// Host is one selected host and its resolved connection settings.
type Host struct {
	Name   string
	Target *target.Target
	// Vars are the host's inventory and magic variables (inventory_hostname
	// and the like), for templating per-host paths.
	Vars *vars.Map
}

// Connector hands out masters; *muxconn.Pool is the real one.
type Connector interface {
	Get(ctx context.Context, t *target.Target) (*muxconn.Master, error)
}

// Options describes an ad-hoc run.
type Options struct {
	Commands []string
	// Parallel runs a host's commands at once, as concurrent sessions on
	// its master; otherwise they run in order and a host stops at its
	// first failure.
	Parallel bool
	Forks    int           // hosts at once; 0 means DefaultForks
	Timeout  time.Duration // per command; 0 means none
	// Stdin is sent to every command on every host; nil sends nothing.
	Stdin []byte
	// SessionPerCommand runs every command in a session of its own. By
	// default a host's commands in order (not Parallel, no Stdin) run
	// one after another in one long-lived shell session (muxconn.Shell).
	SessionPerCommand bool
	Env               map[string]string
	Sink              report.Sink
}

// Outcome is what a run did, host by host.
type Outcome struct {
	OK, Failed, Unreachable []string
	// Interrupted is set when the run's context ended before every host
	// finished.
	Interrupted bool
}

// ExitCode maps the outcome to fleet's exit codes.
func (o *Outcome) ExitCode() int {
	if o.Interrupted {
		return ExitInterrupted
	}
	code := ExitOK
	if len(o.Failed) > 0 {
		code |= ExitFailed
	}
	if len(o.Unreachable) > 0 {
		code |= ExitUnreachable
	}
	return code
}

type tally struct {
	mu sync.Mutex
	o  Outcome
}

func (t *tally) add(host string, st report.Status) {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch st {
	case report.OK:
		t.o.OK = append(t.o.OK, host)
	case report.Failed:
		t.o.Failed = append(t.o.Failed, host)
	case report.Unreachable:
		t.o.Unreachable = append(t.o.Unreachable, host)
	}
}

// Run runs opts.Commands on every host, at most opts.Forks hosts at once,
// each over one master connection. It returns when every host is done or
// ctx ends; interrupted hosts are not counted as failed.
func Run(ctx context.Context, conn Connector, hosts []Host, opts Options) *Outcome {
	return eachHost(ctx, hosts, opts.Forks, func(h Host) (report.Status, bool) {
		return runHost(ctx, conn, h, opts)
	})
}

// eachHost calls do for every host, at most forks (0: DefaultForks) at
// once, and tallies the outcome. do reports false for a host interrupted
// before it finished; no new host starts once ctx has ended.
func eachHost(ctx context.Context, hosts []Host, forks int, do func(Host) (report.Status, bool)) *Outcome {
	if forks <= 0 {
		forks = DefaultForks
	}
	var t tally
	var g errgroup.Group
	g.SetLimit(forks)
	for _, h := range hosts {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			if st, ok := do(h); ok {
				t.add(h.Name, st)
			}
			return nil
		})
	}
	g.Wait()
	// Interrupted means some host did not finish, not merely that ctx
	// ended after the last one did.
	t.o.Interrupted = len(t.o.OK)+len(t.o.Failed)+len(t.o.Unreachable) < len(hosts)
	return &t.o
}

// runHost runs the commands on one host. ok is false when the run was
// interrupted before the host finished.
func runHost(ctx context.Context, conn Connector, h Host, opts Options) (report.Status, bool) {
	start := time.Now()
	hostDone := func(st report.Status, err error, steps int) (report.Status, bool) {
		opts.Sink.Host(report.HostResult{Host: h.Name, Status: st, Err: err, Steps: steps, Start: start, End: time.Now()})
		return st, true
	}
	m, err := conn.Get(ctx, h.Target)
	if err != nil {
		if ctx.Err() != nil {
			return 0, false
		}
		return hostDone(report.Unreachable, hostError(err), 0)
	}
	defer m.Release()

	results := make([]report.StepResult, len(opts.Commands))
	if opts.Parallel {
		var wg sync.WaitGroup
		for i, cmd := range opts.Commands {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i] = runStep(ctx, m, h.Name, i, cmd, opts)
			}()
		}
		wg.Wait()
	} else {
		// In order, stopping at the first failure: in one long-lived
		// shell, which gets them all at once, or a session each.
		runSeq := m.RunSeq
		if opts.Stdin == nil && len(opts.Commands) > 1 && !opts.SessionPerCommand {
			sh := m.Shell(muxconn.LoginShell)
			defer sh.Close()
			runSeq = sh.RunSeq
		}
		steps := make([]*step, len(opts.Commands))
		cmds := make([]muxconn.Command, len(opts.Commands))
		for i, cmd := range opts.Commands {
			steps[i] = newStep(h.Name, i, cmd, opts)
			cmds[i] = steps[i].cmd
		}
		start, ran := time.Now(), 0
		runSeq(ctx, cmds, func(i int, err error) {
			steps[i].res.Start = start // when the one before ended
			results[i] = steps[i].finish(ctx, err, opts.Sink)
			start, ran = results[i].End, i+1
		})
		for _, s := range steps[ran:] {
			s.close()
		}
		results = results[:ran]
	}
	if ctx.Err() != nil {
		return 0, false // interrupted: the host is not reported
	}
	st := report.OK
	var firstErr error
	for _, r := range results {
		if r.Status > st {
			st = r.Status
			firstErr = r.Err
		}
	}
	return hostDone(st, firstErr, len(results))
}

func runStep(ctx context.Context, m *muxconn.Master, host string, i int, cmd string, opts Options) report.StepResult {
	s := newStep(host, i, cmd, opts)
	s.res.Start = time.Now()
	return s.finish(ctx, m.Run(ctx, s.cmd), opts.Sink)
}

// step is one command on one host: its output goes to the sink line by
// line as it comes.
type step struct {
	res            report.StepResult
	cmd            muxconn.Command
	stdout, stderr io.WriteCloser
}

func newStep(host string, i int, cmd string, opts Options) *step {
	s := &step{
		res:    report.StepResult{Host: host, Step: i, Command: cmd, Exit: -1},
		stdout: report.LineWriter(opts.Sink, host, i, report.Stdout),
		stderr: report.LineWriter(opts.Sink, host, i, report.Stderr),
	}
	var stdin io.Reader
	if opts.Stdin != nil {
		stdin = bytes.NewReader(opts.Stdin)
	}
	s.cmd = muxconn.Command{Cmd: cmd, Stdin: stdin, Stdout: s.stdout, Stderr: s.stderr, Env: opts.Env, Timeout: opts.Timeout}
	return s
}

func (s *step) close() {
	s.stdout.Close()
	s.stderr.Close()
}

// finish records how the command ended (err as muxconn.Master.Run
// returns it) and reports the step, unless the run was interrupted.
func (s *step) finish(ctx context.Context, err error, sink report.Sink) report.StepResult {
	s.close()
	res := s.res
	res.End = time.Now()
	if err != nil && ctx.Err() != nil {
		// Interrupted: the host is not reported at all, so neither is
		// the step, whatever error the interruption caused. Failed stops
		// a sequence.
		res.Status = report.Failed
		return res
	}
	var exit *muxconn.ExitError
	switch {
	case err == nil:
		res.Exit = 0
		res.Status = report.OK
	case errors.As(err, &exit):
		res.Exit = exit.Status
		res.Signal = exit.Signal
		res.Status = report.Failed
	case muxconn.IsUnreachable(err):
		res.Status = report.Unreachable
		res.Err = hostError(err)
	default:
		res.Status = report.Failed
		res.Err = hostError(err)
	}
	sink.Step(res)
	return res
}

// hostError drops the "muxconn: HOST:" prefix from err's text, since every
// sink already names the host, and keeps err for errors.As.
func hostError(err error) error {
	var u *muxconn.UnreachableError
	if errors.As(err, &u) {
		return &reasonError{reason: string(u.Cause) + ": " + u.Reason(), err: err}
	}
	return err
}

type reasonError struct {
	reason string
	err    error
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.err }
