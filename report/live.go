package report

import (
	"hash/fnv"
	"io"
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
// A failed step prints one line saying why, and an unreachable host one
// line with the connection error. Successful steps and hosts print nothing.
//
// For a file transfer, a path that failed prints one line saying why, and
// with LiveOptions.Files every other path prints what was done to it. Each
// host that ran ends with a line summing its transfer:
//
//	web01 ! failed /srv/app/x.conf: permission denied
//	web01 | created /srv/app/a.txt (1.2 KiB)
//	web01 | 3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent, 1 failed
type LiveSink struct {
	w     io.Writer
	opt   LiveOptions
	width int

	mu  sync.Mutex
	buf []byte
	err error
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
	s.print(l.Host, l.Step, mark, l.Text, false)
}

// Step prints a line saying why the step failed; it ignores successes.
func (s *LiveSink) Step(r StepResult) {
	if r.Status == OK {
		return
	}
	s.print(r.Host, r.Step, failureMark, failureText(r)+": "+r.Command, true)
}

// File prints a line for a path that failed, and with LiveOptions.Files
// for every other path too: "created /srv/a (1.2 KiB)", in a dry run
// "would create /srv/a (1.2 KiB)".
func (s *LiveSink) File(r FileResult) {
	switch {
	case r.Action == FileFailed:
		s.print(r.Host, -1, failureMark, r.text(), true)
	case s.opt.Files:
		s.print(r.Host, -1, stdoutMark, r.text(), false)
	}
}

// Host prints a line for an unreachable host. A failed host of a command
// run needs none: its failed step was printed already. A host that ran a
// file transfer gets a line summing it, after a line with the error that
// stopped it, if any.
func (s *LiveSink) Host(r HostResult) {
	switch {
	case r.Status == Unreachable:
		text := "unreachable"
		if r.Err != nil {
			text += ": " + r.Err.Error()
		}
		s.print(r.Host, -1, failureMark, text, true)
	case r.Transfer != nil:
		// Failed paths were printed one by one; other failures (no
		// sftp, a bad destination) are said here.
		if r.Status == Failed && r.Err != nil && r.Transfer.Failed == 0 {
			s.print(r.Host, -1, failureMark, r.Err.Error(), true)
		}
		if t := r.Transfer; r.Status == OK || *t != (TransferStats{DryRun: t.DryRun, Fetched: t.Fetched}) {
			s.print(r.Host, -1, stdoutMark, r.Transfer.summaryText(), false)
		}
	}
}

// Close returns the first error met writing to w. It does not close w.
func (s *LiveSink) Close() error {
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
