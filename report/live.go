package report

import (
	"hash/fnv"
	"io"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// LiveOptions configure NewLive.
type LiveOptions struct {
	// Color gives each host a stable ANSI colour and prints failures in red.
	Color bool
	// ShowStep adds the 1-based number of the command to each line
	// ("web01 [2] | ..."), for runs of several commands.
	ShowStep bool
	// Files prints a line for every path of a file transfer, not only for
	// those that failed.
	Files bool
}

// The separators between a host's name and its text. They differ for
// stderr so that the streams can be told apart without colour too.
const (
	stdoutMark  = "|"
	stderrMark  = "!"
	failureMark = "!"
)

// continuedMark follows the stream's mark on a piece of an overlong line
// that continues the previous piece ("web01 |+ …"): the host sent one line,
// cut at MaxLineBytes.
const continuedMark = "+"

// ANSI colours: hosts get one of a palette of readable colours; red is
// kept for failures so that they stand out.
const (
	ansiReset = "\x1b[0m"
	ansiRed   = "\x1b[31m"
	ansiGreen = "\x1b[32m"
)

var hostPalette = []string{
	"\x1b[32m", // green
	"\x1b[33m", // yellow
	"\x1b[34m", // blue
	"\x1b[35m", // magenta
	"\x1b[36m", // cyan
	"\x1b[94m", // bright blue
}

// hostColor returns the host's palette colour, the same in every run.
func hostColor(host string) string {
	h := fnv.New32a()
	h.Write([]byte(host))
	return hostPalette[h.Sum32()%uint32(len(hostPalette))]
}

// LiveSink prints output as it arrives, one line per Write, each prefixed
// by its host name padded to a common width:
//
//	web01  | text on stdout
//	web01  ! text on stderr
//	db1    ! exit 3: systemctl restart app
//
// A line longer than MaxLineBytes comes in pieces; each piece after the
// first has a '+' after the mark ("web01  |+ rest of the line").
//
// A failed step prints one line saying why, and an unreachable host one
// line with the connection error (and, if it was lost while a command ran,
// that command). Successful steps and hosts print nothing.
//
// For a file transfer, a path that failed prints one line saying why, and
// with LiveOptions.Files every other path prints what was done to it. Each
// host that ran ends with a line summing its transfer:
//
//	web01 ! failed /srv/app/x.conf: permission denied
//	web01 | created /srv/app/a.txt (1.2 KiB)
//	web01 | 3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent, 1 failed
//
// Control characters in fleet's own lines (paths, errors, commands) are
// escaped with EscapeControl, so that a file named "a\nb" stays on one line
// as "a\#012b"; the hosts' output is printed as they sent it.
type LiveSink struct {
	w     io.Writer
	opt   LiveOptions
	width int

	mu  sync.Mutex
	buf []byte
	err error
	// continued holds the streams whose last Line was Partial.
	continued map[streamKey]bool
	// lost holds, per host, the first step that ended because the
	// connection was lost, until the host's own result comes.
	lost map[string]StepResult
}

// streamKey names one output stream of one step on one host.
type streamKey struct {
	host   string
	step   int
	stream Stream
}

// NewLive returns a LiveSink writing to w. hosts are the hosts of the run;
// the longest name sets the width of the host column.
func NewLive(w io.Writer, hosts []string, opt LiveOptions) *LiveSink {
	width := 0
	for _, h := range hosts {
		width = max(width, utf8.RuneCountInString(h))
	}
	return &LiveSink{w: w, opt: opt, width: width}
}

// Line prints l at once, as one whole line.
func (s *LiveSink) Line(l Line) {
	mark := stdoutMark
	if l.Stream == Stderr {
		mark = stderrMark
	}
	key := streamKey{l.Host, l.Step, l.Stream}
	s.mu.Lock()
	if s.continued[key] {
		mark += continuedMark
	}
	switch {
	case l.Partial && s.continued == nil:
		s.continued = map[streamKey]bool{key: true}
	case l.Partial:
		s.continued[key] = true
	default:
		delete(s.continued, key)
	}
	s.mu.Unlock()
	s.print(l.Host, l.Step, mark, l.Text, false)
}

// Step prints a line saying why the step failed; it ignores successes. A
// step that ended because the host became unreachable is printed when the
// host's result comes, as the host's one line.
func (s *LiveSink) Step(r StepResult) {
	switch r.Status {
	case OK:
		return
	case Unreachable:
		s.mu.Lock()
		if prev, ok := s.lost[r.Host]; !ok || r.Step < prev.Step {
			if s.lost == nil {
				s.lost = map[string]StepResult{}
			}
			s.lost[r.Host] = r
		}
		s.mu.Unlock()
		return
	}
	s.print(r.Host, r.Step, failureMark, stepFailureText(r), true)
}

// stepFailureText is the line of a failed step: why, then the command.
func stepFailureText(r StepResult) string {
	return EscapeControl(failureText(r) + ": " + r.Command)
}

// File prints a line for a path that failed, and with LiveOptions.Files
// for every other path too: "created /srv/a (1.2 KiB)", in a dry run
// "would create /srv/a (1.2 KiB)".
func (s *LiveSink) File(r FileResult) {
	switch {
	case r.Action == FileFailed:
		s.print(r.Host, -1, failureMark, EscapeControl(r.text()), true)
	case s.opt.Files:
		s.print(r.Host, -1, stdoutMark, EscapeControl(r.text()), false)
	}
}

// Host prints a line for an unreachable host: that of the step that was
// running when its connection was lost, if any, else the connection error.
// A failed host of a command run needs none: its failed step was printed
// already. A host that ran a file transfer gets a line summing it, after a
// line with the error that stopped it, if any.
func (s *LiveSink) Host(r HostResult) {
	s.mu.Lock()
	step, lost := s.lost[r.Host]
	delete(s.lost, r.Host)
	s.mu.Unlock()
	if lost {
		// The step's error is the host's: one line says both.
		s.print(r.Host, step.Step, failureMark, stepFailureText(step), true)
	}
	switch {
	case r.Status == Unreachable && !lost:
		text := "unreachable"
		if r.Err != nil {
			text += ": " + r.Err.Error()
		}
		s.print(r.Host, -1, failureMark, EscapeControl(text), true)
	case r.Transfer != nil:
		// Failed paths were printed one by one; other failures (no
		// sftp, a bad destination) are said here.
		if r.Status == Failed && r.Err != nil && r.Transfer.Failed == 0 {
			s.print(r.Host, -1, failureMark, EscapeControl(r.Err.Error()), true)
		}
		if t := r.Transfer; r.Status == OK || *t != (TransferStats{DryRun: t.DryRun, Fetched: t.Fetched}) {
			s.print(r.Host, -1, stdoutMark, r.Transfer.summaryText(), false)
		}
	}
}

// Close prints the lines still owed for steps whose connection was lost on
// hosts that never ended (the run was cut short), and returns the first
// error met writing to w. It does not close w.
func (s *LiveSink) Close() error {
	s.mu.Lock()
	lost := make([]StepResult, 0, len(s.lost))
	for _, r := range s.lost {
		lost = append(lost, r)
	}
	s.lost = nil
	s.mu.Unlock()
	slices.SortFunc(lost, func(a, b StepResult) int { return NaturalCompare(a.Host, b.Host) })
	for _, r := range lost {
		s.print(r.Host, r.Step, failureMark, stepFailureText(r), true)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// print writes one line with a single Write, so that lines of different
// hosts never mix even when w is shared with other writers. step < 0 omits
// the step number.
func (s *LiveSink) print(host string, step int, mark, text string, failure bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	b := s.buf[:0]
	switch {
	case s.opt.Color && failure:
		b = append(b, ansiRed...)
	case s.opt.Color:
		b = append(b, hostColor(host)...)
	}
	b = append(b, host...)
	if s.opt.Color && !failure {
		b = append(b, ansiReset...)
	}
	if pad := s.width - utf8.RuneCountInString(host); pad > 0 {
		b = append(b, strings.Repeat(" ", pad)...)
	}
	if s.opt.ShowStep {
		b = append(b, " ["...)
		if step >= 0 {
			b = strconv.AppendInt(b, int64(step+1), 10)
		} else {
			b = append(b, '-')
		}
		b = append(b, ']')
	}
	b = append(b, ' ')
	b = append(b, mark...)
	b = append(b, ' ')
	b = append(b, text...)
	if s.opt.Color && failure {
		b = append(b, ansiReset...)
	}
	b = append(b, '\n')
	s.buf = b
	if _, err := s.w.Write(b); err != nil {
		s.err = writeError("live", err)
	}
}
