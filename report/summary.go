package report

import (
	"bytes"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
)

// SummaryOptions configure NewSummary.
type SummaryOptions struct {
	// Color prints the counts of failed and unreachable hosts in red and
	// that of successful hosts in green, when they are not zero.
	Color bool
}

// maxCauseLines is the number of unreachable hosts up to which the summary
// gives each its own line with the cause; above it, hosts whose causes are
// the same but for their own name and address share a line.
const maxCauseLines = 10

// SummarySink tracks how each host ended and, at Close, prints a closing
// block such as:
//
//	ok: 18  failed: 1  unreachable: 2  (21 hosts, 2.3s)
//	failed: web04
//	unreachable: db[02,05] (2)
//	  db02: refused: connection to 10.0.0.2:22 refused
//	  db05: timeout: no answer from 10.0.0.5:22 within 10s (ConnectTimeout)
//
// Hosts are in natural order. Above maxCauseLines unreachable hosts, hosts
// whose causes read the same once their own name and address are replaced
// (see HostNeutral) share one line, in order of their first host:
//
//	unreachable: db[01-40] web[01-60] (100)
//	  db[01-40] web[01-60] (100): refused: connection to <address> refused
//
// Control characters in the causes are escaped as EscapeControl does.
// The time is from the earliest host start to the latest host end. It
// ignores lines and steps.
type SummarySink struct {
	w   io.Writer
	opt SummaryOptions

	mu    sync.Mutex
	hosts map[string]HostResult
}

// NewSummary returns a SummarySink that prints to w when closed.
func NewSummary(w io.Writer, opt SummaryOptions) *SummarySink {
	return &SummarySink{w: w, opt: opt, hosts: map[string]HostResult{}}
}

// Line does nothing.
func (s *SummarySink) Line(Line) {}

// Step does nothing.
func (s *SummarySink) Step(StepResult) {}

// Host records how the host ended; a later result for the same host
// replaces an earlier one.
func (s *SummarySink) Host(r HostResult) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.hosts[r.Host] = r
}

// Counts returns the number of hosts that ended in each status so far.
func (s *SummarySink) Counts() (ok, failed, unreachable int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range s.hosts {
		switch r.Status {
		case OK:
			ok++
		case Failed:
			failed++
		default:
			unreachable++
		}
	}
	return ok, failed, unreachable
}

// Close prints the summary with a single Write and returns its error. It
// does not close w.
func (s *SummarySink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()

	var ok, failed, unreachable []HostResult
	var start, end time.Time
	for _, r := range s.hosts {
		switch r.Status {
		case OK:
			ok = append(ok, r)
		case Failed:
			failed = append(failed, r)
		default:
			unreachable = append(unreachable, r)
		}
		if !r.Start.IsZero() && (start.IsZero() || r.Start.Before(start)) {
			start = r.Start
		}
		if r.End.After(end) {
			end = r.End
		}
	}
	byHost := func(a, b HostResult) int { return NaturalCompare(a.Host, b.Host) }
	slices.SortFunc(failed, byHost)
	slices.SortFunc(unreachable, byHost)

	var b bytes.Buffer
	fmt.Fprintf(&b, "%s  %s  %s  (%d hosts, %s)\n",
		s.count("ok", len(ok), ansiGreen), s.count("failed", len(failed), ansiRed),
		s.count("unreachable", len(unreachable), ansiRed),
		len(s.hosts), formatDuration(end.Sub(start)))
	if len(failed) > 0 {
		fmt.Fprintf(&b, "%s: %s\n", s.paint("failed", ansiRed), foldResults(failed))
	}
	if len(unreachable) > 0 {
		fmt.Fprintf(&b, "%s: %s\n", s.paint("unreachable", ansiRed), foldResults(unreachable))
		writeCauses(&b, unreachable)
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		return writeError("summary", err)
	}
	return nil
}

// writeCauses says why each unreachable host could not be reached: one
// line per host when there are few, else one line per distinct cause. hosts
// are in natural order.
func writeCauses(b *bytes.Buffer, hosts []HostResult) {
	if len(hosts) <= maxCauseLines {
		for _, r := range hosts {
			fmt.Fprintf(b, "  %s: %s\n", r.Host, EscapeControl(causeText(r.Err)))
		}
		return
	}
	type cause struct {
		own, neutral string // the first host's cause, as it is and host-neutral
		hosts        []string
	}
	var causes []*cause
	byText := map[string]*cause{}
	for _, r := range hosts { // sorted, so causes come in order of their first host
		text := causeText(r.Err)
		neutral := HostNeutral(text, r.Host, r.Err)
		c := byText[neutral]
		if c == nil {
			c = &cause{own: text, neutral: neutral}
			byText[neutral] = c
			causes = append(causes, c)
		}
		c.hosts = append(c.hosts, r.Host)
	}
	for _, c := range causes {
		text := c.own
		if len(c.hosts) > 1 {
			text = c.neutral
		}
		fmt.Fprintf(b, "  %s: %s\n", FoldCount(c.hosts), EscapeControl(text))
	}
}

func causeText(err error) string {
	if err == nil {
		return "no cause given"
	}
	return err.Error()
}

// foldResults folds the hosts' names, with their count when there are
// several.
func foldResults(rs []HostResult) string {
	names := make([]string, len(rs))
	for i, r := range rs {
		names[i] = r.Host
	}
	if len(names) == 1 {
		return names[0]
	}
	return FoldCount(names)
}

func (s *SummarySink) count(label string, n int, color string) string {
	text := fmt.Sprintf("%s: %d", label, n)
	if n == 0 {
		return text
	}
	return s.paint(text, color)
}

func (s *SummarySink) paint(text, color string) string {
	if !s.opt.Color {
		return text
	}
	return color + text + ansiReset
}

// formatDuration rounds d for people: "850ms", "2.3s", "1m4.5s", "1m0s".
func formatDuration(d time.Duration) string {
	if d <= 0 {
		return "0s"
	}
	if d < time.Second {
		return d.Round(time.Millisecond).String()
	}
	return d.Round(100 * time.Millisecond).String()
}
