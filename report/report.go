package report

import (
	"errors"
	"fmt"
	"time"
)

// Stream names the output stream of a remote command that a line came from.
type Stream string

// The two output streams of a remote command.
const (
	Stdout Stream = "stdout"
	Stderr Stream = "stderr"
)

// Status is the outcome of a step or of a whole host.
type Status int

// The outcomes of a step or host. Unreachable means the connection to the
// host failed, so nothing (more) could run there.
const (
	OK Status = iota
	Failed
	Unreachable
)

// String returns "ok", "failed" or "unreachable".
func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Failed:
		return "failed"
	case Unreachable:
		return "unreachable"
	}
	return fmt.Sprintf("Status(%d)", int(s))
}

// MarshalText encodes the status as its String, so that it reads as "ok"
// rather than 0 in JSON and YAML.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Line is one line of a command's output on a host, without its newline.
type Line struct {
	Host   string
	Step   int // 0-based index of the command
	Stream Stream
	Text   string // may hold invalid UTF-8, passed through as the host sent it
	Time   time.Time
	// Partial is set on every piece of a line longer than MaxLineBytes but
	// the last: the line goes on in the next Line of the same host, step
	// and stream. Joining the pieces' Text gives the line back.
	Partial bool
}

// StepResult ends one command on one host.
type StepResult struct {
	Host    string
	Step    int // 0-based index of the command
	Command string
	Exit    int    // exit status; -1 when there is none (signal, timeout, lost connection)
	Signal  string // the signal that ended the command, e.g. "KILL"; "" if none
	// Err is non-nil when the step failed for a reason the exit status does
	// not tell, or could not run at all, e.g. "timed out after 5s". Leave it
	// nil when the command simply exited non-zero: sinks then say "exit 3".
	Err        error
	Status     Status
	Start, End time.Time
}

// HostResult ends a host. Status is OK if every step succeeded, Failed if
// one failed, and Unreachable if its connection failed; then Err says why.
// For a file transfer, Status is Failed if a path failed or the transfer
// stopped (Err then says why, if no single path does), and Transfer sums
// what was done.
type HostResult struct {
	Host       string
	Status     Status
	Err        error
	Steps      int // number of steps run
	Start, End time.Time
	Transfer   *TransferStats // nil for command runs
}

// Sink receives the events of a run. Implementations must be safe for
// concurrent use from many goroutines. Close is called once, after the last
// event; it flushes what the sink holds and reports the first error it met
// writing its output (the event methods have no error result).
type Sink interface {
	Line(Line)
	Step(StepResult)
	Host(HostResult)
	Close() error
}

// Multi returns a Sink that passes every event to each of sinks in order.
// Nil sinks are skipped. The Sink it returns is also a FileSink: it passes
// each FileResult to those of sinks that implement FileSink. Its Close closes every sink, even when one fails,
// and returns their errors joined.
func Multi(sinks ...Sink) Sink {
	var m multi
	for _, s := range sinks {
		switch s := s.(type) {
		case nil:
		case multi:
			m = append(m, s...)
		default:
			m = append(m, s)
		}
	}
	return m
}

type multi []Sink

func (m multi) Line(l Line) {
	for _, s := range m {
		s.Line(l)
	}
}

func (m multi) Step(r StepResult) {
	for _, s := range m {
		s.Step(r)
	}
}

func (m multi) Host(r HostResult) {
	for _, s := range m {
		s.Host(r)
	}
}

func (m multi) File(r FileResult) {
	for _, s := range m {
		if fs, ok := s.(FileSink); ok {
			fs.File(r)
		}
	}
}

func (m multi) Close() error {
	var errs []error
	for _, s := range m {
		errs = append(errs, s.Close())
	}
	return errors.Join(errs...)
}

// failureText says why a step did not succeed, in the words the live and
// grouped sinks print: the runner's error if it gave one, else the signal,
// else the exit status.
func failureText(r StepResult) string {
	switch {
	case r.Err != nil && r.Status == Unreachable:
		return "unreachable: " + r.Err.Error()
	case r.Err != nil:
		return r.Err.Error()
	case r.Signal != "":
		return "signal " + r.Signal
	case r.Exit > 0:
		return fmt.Sprintf("exit %d", r.Exit)
	}
	return r.Status.String()
}

// errText returns err's message, or "" for a nil error.
func errText(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// writeError wraps a failed write to a sink's output so Close can say which
// sink lost output.
func writeError(sink string, err error) error {
	return fmt.Errorf("report: %s output: write failed, later output was lost: %w", sink, err)
}
