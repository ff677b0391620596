package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// JSONSink writes one JSON object per event, one per line (JSON Lines), for
// programs and CI jobs to read. Every object has a "type":
//
//	{"type":"line","host":"web01","step":0,"stream":"stdout","line":"hello","time":"2024-05-01T10:00:00.5Z"}
//	{"type":"step","host":"web01","step":0,"command":"uptime","exit":0,"signal":"","error":"","status":"ok","start":…,"end":…,"duration_ms":12}
//	{"type":"host","host":"web01","status":"ok","error":"","steps":1,"start":…,"end":…,"duration_ms":15}
//	{"type":"summary","ok":["web01"],"failed":[],"unreachable":[]}
//
// A file transfer (see FileSink) writes a "file" object per path instead of
// lines and steps, and its host objects carry a "transfer" object summing
// it, which command runs leave out:
//
//	{"type":"file","host":"web01","path":"/srv/a","action":"created","bytes":1536,"dry_run":false,"error":"","time":…}
//	{"type":"host","host":"web01",…,"transfer":{"changed":3,"unchanged":297,"deleted":1,"failed":0,"bytes":1258291,"dry_run":false}}
//
// "action" is one of created, updated, metadata, deleted, unchanged and
// failed; "error" is set with failed.
//
// Times are RFC 3339 with nanoseconds. A line that is not valid UTF-8 has
// its invalid bytes replaced by U+FFFD in "line" and carries its exact bytes
// in "line_base64" as well; so does a path, in "path" and "path_base64".
// A line longer than MaxLineBytes comes in pieces, each a "line" object;
// every piece but the last has "partial":true (absent otherwise), and
// joining the pieces' bytes in order gives the line back:
//
//	{"type":"line","host":"web01","step":0,"stream":"stdout","line":"xxx…","partial":true,"time":…}
//	{"type":"line","host":"web01","step":0,"stream":"stdout","line":"…xxx","time":…}
//
// Close writes the summary, its host lists in natural order.
type JSONSink struct {
	w io.Writer

	mu     sync.Mutex
	status map[string]Status
	err    error
}

// NewJSON returns a JSONSink writing to w.
func NewJSON(w io.Writer) *JSONSink {
	return &JSONSink{w: w, status: map[string]Status{}}
}

type jsonLine struct {
	Type       string    `json:"type"`
	Host       string    `json:"host"`
	Step       int       `json:"step"`
	Stream     Stream    `json:"stream"`
	Line       string    `json:"line"`
	LineBase64 []byte    `json:"line_base64,omitempty"`
	Partial    bool      `json:"partial,omitempty"`
	Time       time.Time `json:"time"`
}

type jsonStep struct {
	Type       string    `json:"type"`
	Host       string    `json:"host"`
	Step       int       `json:"step"`
	Command    string    `json:"command"`
	Exit       int       `json:"exit"`
	Signal     string    `json:"signal"`
	Error      string    `json:"error"`
	Status     Status    `json:"status"`
	Start      time.Time `json:"start"`
	End        time.Time `json:"end"`
	DurationMS int64     `json:"duration_ms"`
}

type jsonHost struct {
	Type       string        `json:"type"`
	Host       string        `json:"host"`
	Status     Status        `json:"status"`
	Error      string        `json:"error"`
	Steps      int           `json:"steps"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	DurationMS int64         `json:"duration_ms"`
	Transfer   *jsonTransfer `json:"transfer,omitempty"`
}

type jsonTransfer struct {
	Changed   int   `json:"changed"`
	Unchanged int   `json:"unchanged"`
	Deleted   int   `json:"deleted"`
	Failed    int   `json:"failed"`
	Bytes     int64 `json:"bytes"`
	DryRun    bool  `json:"dry_run"`
}

type jsonFile struct {
	Type       string    `json:"type"`
	Host       string    `json:"host"`
	Path       string    `json:"path"`
	PathBase64 []byte    `json:"path_base64,omitempty"`
	Action     Action    `json:"action"`
	Bytes      int64     `json:"bytes"`
	DryRun     bool      `json:"dry_run"`
	Error      string    `json:"error"`
	Time       time.Time `json:"time"`
}

type jsonSummary struct {
	Type        string   `json:"type"`
	OK          []string `json:"ok"`
	Failed      []string `json:"failed"`
	Unreachable []string `json:"unreachable"`
}

// Line writes a "line" object.
func (s *JSONSink) Line(l Line) {
	v := jsonLine{Type: "line", Host: l.Host, Step: l.Step, Stream: l.Stream, Line: l.Text, Partial: l.Partial, Time: l.Time}
	if !utf8.ValidString(l.Text) {
		v.LineBase64 = []byte(l.Text)
	}
	s.write(v)
}

// Step writes a "step" object.
func (s *JSONSink) Step(r StepResult) {
	s.write(jsonStep{
		Type: "step", Host: r.Host, Step: r.Step, Command: r.Command,
		Exit: r.Exit, Signal: r.Signal, Error: errText(r.Err), Status: r.Status,
		Start: r.Start, End: r.End, DurationMS: r.End.Sub(r.Start).Milliseconds(),
	})
}

// Host writes a "host" object and notes the host's status for the summary.
func (s *JSONSink) Host(r HostResult) {
	s.mu.Lock()
	s.status[r.Host] = r.Status
	s.mu.Unlock()
	v := jsonHost{
		Type: "host", Host: r.Host, Status: r.Status, Error: errText(r.Err), Steps: r.Steps,
		Start: r.Start, End: r.End, DurationMS: r.End.Sub(r.Start).Milliseconds(),
	}
	if t := r.Transfer; t != nil {
		v.Transfer = &jsonTransfer{
			Changed: t.Changed, Unchanged: t.Unchanged, Deleted: t.Deleted, Failed: t.Failed,
			Bytes: t.Bytes, DryRun: t.DryRun,
		}
	}
	s.write(v)
}

// File writes a "file" object.
func (s *JSONSink) File(r FileResult) {
	v := jsonFile{
		Type: "file", Host: r.Host, Path: r.Path, Action: r.Action, Bytes: r.Bytes,
		DryRun: r.DryRun, Error: errText(r.Err), Time: r.Time,
	}
	if !utf8.ValidString(r.Path) { // Unix file names are bytes, not text
		v.PathBase64 = []byte(r.Path)
	}
	s.write(v)
}

// Close writes the "summary" object and returns the first error met
// writing to w. It does not close w.
func (s *JSONSink) Close() error {
	sum := jsonSummary{Type: "summary", OK: []string{}, Failed: []string{}, Unreachable: []string{}}
	s.mu.Lock()
	for host, st := range s.status {
		switch st {
		case OK:
			sum.OK = append(sum.OK, host)
		case Failed:
			sum.Failed = append(sum.Failed, host)
		default:
			sum.Unreachable = append(sum.Unreachable, host)
		}
	}
	s.mu.Unlock()
	for _, l := range [][]string{sum.OK, sum.Failed, sum.Unreachable} {
		slices.SortFunc(l, NaturalCompare)
	}
	s.write(sum)
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// write encodes v outside the lock and writes it with a single Write, so
// that objects from different goroutines never mix.
func (s *JSONSink) write(v any) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // commands and output are full of < > &
	err := enc.Encode(v)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if err != nil {
		// Only a time beyond year 9999 gets here: the event is dropped and
		// Close reports it.
		s.err = fmt.Errorf("report: JSON output: cannot encode an event, later output was lost: %w", err)
		return
	}
	if _, err := s.w.Write(b.Bytes()); err != nil {
		s.err = writeError("JSON", err)
	}
}
