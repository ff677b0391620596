package report

import (
	"bytes"
	"io"
	"slices"
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
// A host's output is all its lines, of every step and both streams, in the
// order they arrived. Hosts that did not succeed are grouped apart from
// successful hosts with the same output, and their header says why
// ("web04 (1) exit 3", "db2 (1) unreachable"). Groups appear in natural
// order of their first host.
type GroupedSink struct {
	w   io.Writer
	opt GroupedOptions

	mu    sync.Mutex
	hosts map[string]*groupedHost
}

type groupedHost struct {
	lines    []string
	failure  string // why the first failed step failed; "" if none did
	result   *HostResult
	stepFail bool
}

// NewGrouped returns a GroupedSink that prints to w when closed.
func NewGrouped(w io.Writer, opt GroupedOptions) *GroupedSink {
	return &GroupedSink{w: w, opt: opt, hosts: map[string]*groupedHost{}}
}

func (s *GroupedSink) host(name string) *groupedHost {
	h := s.hosts[name]
	if h == nil {
		h = &groupedHost{}
		s.hosts[name] = h
	}
	return h
}

// Line keeps l for the host's output.
func (s *GroupedSink) Line(l Line) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(l.Host)
	h.lines = append(h.lines, l.Text)
}

// Step notes the first failed step of the host, for its header.
func (s *GroupedSink) Step(r StepResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	if r.Status != OK && !h.stepFail {
		h.stepFail = true
		h.failure = failureText(r)
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
	h.lines = append(h.lines, r.text())
}

// Host notes the host's final status; a transfer's summary ends its output.
func (s *GroupedSink) Host(r HostResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h := s.host(r.Host)
	h.result = &r
	if t := r.Transfer; t != nil && (r.Status == OK || *t != (TransferStats{DryRun: t.DryRun, Fetched: t.Fetched})) {
		h.lines = append(h.lines, t.summaryText())
	}
}

// status returns the label a host's header carries: "" for success, else
// why it did not succeed. Hosts without a HostResult (the run was cut
// short) are judged by their steps.
func (h *groupedHost) status() string {
	switch {
	case h.result != nil && h.result.Status == Unreachable:
		return "unreachable"
	case h.stepFail:
		return h.failure
	case h.result != nil && h.result.Status == Failed:
		if h.result.Err != nil {
			return h.result.Err.Error()
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

	// The line count keeps a host that printed one empty line apart from
	// one that printed nothing.
	type groupKey struct {
		status string
		lines  int
		output string
	}
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
		key := groupKey{h.status(), len(h.lines), strings.Join(h.lines, "\n")}
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
		if g.lines == 0 {
			b.WriteString("(no output)\n")
		} else {
			b.WriteString(g.output + "\n")
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
