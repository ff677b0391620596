package report

import (
	"bytes"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// GroupedOptions configure NewGrouped.
type GroupedOptions struct {
	// Color prints the headers of failed and unreachable hosts in red and
	// those of successful hosts in green.
	Color bool
	// Files lists every path of a transfer in a host's output, not only
	// the failed ones.
	Files bool
	// ShowStep marks each output line with the 1-based number of the
	// command that printed it ("[2] | ..."), for runs of several commands.
	ShowStep bool
}

// groupRule is the line above and below a group's header, as clush -b draws it.
const groupRule = "---------------"

// GroupedSink collects every host's output and, at Close, prints each
// distinct output once under a header naming the hosts that produced
// exactly it, like clush -b:
//
//	---------------
//	web[01-03,07] (4)
//	---------------
//	<output lines>
//
// A host's output is, command by command in the order given, the lines it
// printed on stdout, then those on stderr. The order in which the lines of
// different streams and commands arrived, which varies from run to run, does
// not matter: hosts that printed the same lines are in one group. When a
// host printed on stderr, or ran several commands (GroupedOptions.ShowStep),
// each line carries the marks the live output puts after the host name
// ("[2] | on stdout", "! on stderr"); otherwise the lines are printed as they
// are. A line that came in pieces (see MaxLineBytes) is printed whole. For a
// transfer, the lines of its paths are in the order of the paths, then comes
// its summary.
//
// Hosts that did not succeed are grouped apart from successful hosts with
// the same output, and their header says why: the failure of their first
// failed command ("web04 (1) exit 3"), or "db2 (1) unreachable". Groups
// appear in natural order of their first host. Control characters in the
// header and in the lines of paths are escaped as EscapeControl does; the
// hosts' output is printed as they sent it.
type GroupedSink struct {
	w   io.Writer
	opt GroupedOptions

	mu    sync.Mutex
	hosts map[string]*groupedHost
}

type groupedHost struct {
	steps    map[int]*groupedStep
	files    []groupedFile
	summary  string // a transfer's summary line; "" if none
	failure  string // why the first failed step failed
	failStep int    // the number of that step; -1 if none failed
	result   *HostResult
}

// groupedStep is the output of one command on a host, by stream.
type groupedStep struct {
	lines [2][]string // stdout, stderr
	piece [2][]byte   // the start of a line that is coming in pieces
}

type groupedFile struct{ path, text string }

// NewGrouped returns a GroupedSink that prints to w when closed.
func NewGrouped(w io.Writer, opt GroupedOptions) *GroupedSink {
	return &GroupedSink{w: w, opt: opt, hosts: map[string]*groupedHost{}}
}

func (s *GroupedSink) host(name string) *groupedHost {
	h := s.hosts[name]
	if h == nil {
		h = &groupedHost{failStep: -1}
		s.hosts[name] = h
	}
	return h
}

// streamIndex is the index of a stream in groupedStep's arrays.
func streamIndex(st Stream) int {
	if st == Stderr {
		return 1
	}
	return 0
}

// Line keeps l for the host's output.
func (s *GroupedSink) Line(l Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(l.Host)
	if h.steps == nil {
		h.steps = map[int]*groupedStep{}
	}
	st := h.steps[l.Step]
	if st == nil {
		st = &groupedStep{}
		h.steps[l.Step] = st
	}
	i := streamIndex(l.Stream)
	switch {
	case l.Partial:
		st.piece[i] = append(st.piece[i], l.Text...)
	case st.piece[i] != nil:
		st.lines[i] = append(st.lines[i], string(append(st.piece[i], l.Text...)))
		st.piece[i] = nil
	default:
		st.lines[i] = append(st.lines[i], l.Text)
	}
}

// Step notes the first failed step of the host, by number, for its header.
func (s *GroupedSink) Step(r StepResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	if r.Status != OK && (h.failStep < 0 || r.Step < h.failStep) {
		h.failStep = r.Step
		h.failure = EscapeControl(failureText(r))
	}
}

// File adds a transfer's path to the host's output: a failed one always,
// others with GroupedOptions.Files.
func (s *GroupedSink) File(r FileResult) {
	if r.Action != FileFailed && !s.opt.Files {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	h.files = append(h.files, groupedFile{r.Path, EscapeControl(r.text())})
}

// Host notes the host's final status; a transfer's summary ends its output.
func (s *GroupedSink) Host(r HostResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	h.result = &r
	if t := r.Transfer; t != nil && (r.Status == OK || *t != (TransferStats{DryRun: t.DryRun, Fetched: t.Fetched})) {
		h.summary = t.summaryText()
	}
}

// output returns the host's output as it is printed, each line ending in
// a newline; "" if it printed nothing.
func (h *groupedHost) output(showStep bool) string {
	steps := slices.Sorted(maps.Keys(h.steps))
	marks := showStep
	for _, st := range h.steps {
		if len(st.lines[1]) > 0 || st.piece[1] != nil {
			marks = true
		}
	}
	var b strings.Builder
	for _, n := range steps {
		st := h.steps[n]
		for i, mark := range []string{stdoutMark, stderrMark} {
			lines := st.lines[i]
			if st.piece[i] != nil { // the run was cut short mid-line
				lines = append(slices.Clip(lines), string(st.piece[i]))
			}
			for _, l := range lines {
				if showStep {
					b.WriteString("[" + strconv.Itoa(n+1) + "] ")
				}
				if marks {
					b.WriteString(mark + " ")
				}
				b.WriteString(l)
				b.WriteByte('\n')
			}
		}
	}
	// Paths are sent several at a time, so they end in no set order.
	slices.SortStableFunc(h.files, func(a, b groupedFile) int { return strings.Compare(a.path, b.path) })
	for _, f := range h.files {
		b.WriteString(f.text + "\n")
	}
	if h.summary != "" {
		b.WriteString(h.summary + "\n")
	}
	return b.String()
}

// status returns the label a host's header carries: "" for success, else
// why it did not succeed. Hosts without a HostResult (the run was cut
// short) are judged by their steps.
func (h *groupedHost) status() string {
	switch {
	case h.result != nil && h.result.Status == Unreachable:
		return "unreachable"
	case h.failStep >= 0:
		return h.failure
	case h.result != nil && h.result.Status == Failed:
		if h.result.Err != nil {
			return EscapeControl(h.result.Err.Error())
		}
		return "failed"
	}
	return ""
}

// Close prints the groups with a single Write and returns its error. It
// does not close w.
func (s *GroupedSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()

	type groupKey struct{ status, output string }
	type group struct {
		groupKey
		hosts []string
	}
	var groups []*group
	byKey := map[groupKey]*group{}
	names := make([]string, 0, len(s.hosts))
	for name := range s.hosts {
		names = append(names, name)
	}
	slices.SortFunc(names, NaturalCompare)
	for _, name := range names {
		h := s.hosts[name]
		key := groupKey{h.status(), h.output(s.opt.ShowStep)}
		g := byKey[key]
		if g == nil {
			g = &group{groupKey: key}
			byKey[key] = g
			groups = append(groups, g) // names are sorted, so groups are in order of first host
		}
		g.hosts = append(g.hosts, name)
	}

	var b bytes.Buffer
	for _, g := range groups {
		header := FoldCount(g.hosts)
		if g.status != "" {
			header += " " + g.status
		}
		color := ansiGreen
		if g.status != "" {
			color = ansiRed
		}
		b.WriteString(groupRule + "\n")
		if s.opt.Color {
			header = color + header + ansiReset
		}
		b.WriteString(header + "\n")
		b.WriteString(groupRule + "\n")
		if g.output == "" {
			b.WriteString("(no output)\n")
		} else {
			b.WriteString(g.output)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return writeError("grouped", err)
	}
	return nil
}
