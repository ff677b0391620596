package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"
)

// PlayJSONSink writes a playbook run as JSON Lines, one object per event,
// for programs and CI jobs; like JSONSink's, every object has a "type":
//
//	{"type":"play","name":"web","pos":"site.yml:1","hosts":["h1","h2"],"check":false,"time":…}
//	{"type":"task","name":"copy config","module":"copy","pos":"site.yml:9","handler":false,"parallel":"","hosts":2,"time":…}
//	{"type":"result","host":"h1","task":"copy config","status":"changed","item":null,"loop":false,"ignored":false,"delegated":"","msg":"","result":{…},"start":…,"end":…,"duration_ms":12}
//	{"type":"warning","msg":"…","time":…}
//	{"type":"recap","hosts":{"h1":{"ok":3,"changed":1,"unreachable":0,"failed":0,"skipped":0,"rescued":0,"ignored":0}}}
//
// "status" is one of ok, changed, skipped, failed and unreachable. "item"
// is the loop item's label, null for a result that is not an item's;
// "loop" marks the combined result of a task with a loop, which the text
// output mostly hides. "result" is the registered result as the runner
// gave it, or null. A result with diffs carries them in "diffs":
// [{"before_header":…,"after_header":…,"before":…,"after":…}], and has no
// "diffs" otherwise. A result that cannot be encoded as JSON (a NaN in
// it) has "result" null and the reason in "result_error". Times are
// RFC 3339 with nanoseconds.
type PlayJSONSink struct {
	w   io.Writer
	now func() time.Time

	mu  sync.Mutex
	err error
}

// NewPlayJSON returns a PlayJSONSink writing to w.
func NewPlayJSON(w io.Writer) *PlayJSONSink {
	return &PlayJSONSink{w: w, now: time.Now}
}

// String returns "ok", "changed", "skipped", "failed" or "unreachable".
func (s TaskStatus) String() string {
	switch s {
	case TaskOK:
		return "ok"
	case TaskChanged:
		return "changed"
	case TaskSkipped:
		return "skipped"
	case TaskFailed:
		return "failed"
	case TaskUnreachable:
		return "unreachable"
	}
	return fmt.Sprintf("TaskStatus(%d)", int(s))
}

// MarshalText encodes the status as its String.
func (s TaskStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

type jsonPlay struct {
	Type  string    `json:"type"`
	Name  string    `json:"name"`
	Pos   string    `json:"pos"`
	Hosts []string  `json:"hosts"`
	Check bool      `json:"check"`
	Time  time.Time `json:"time"`
}

type jsonTask struct {
	Type     string    `json:"type"`
	Name     string    `json:"name"`
	Module   string    `json:"module"`
	Pos      string    `json:"pos"`
	Handler  bool      `json:"handler"`
	Parallel string    `json:"parallel"`
	Hosts    int       `json:"hosts"`
	Time     time.Time `json:"time"`
}

type jsonResult struct {
	Type        string         `json:"type"`
	Host        string         `json:"host"`
	Task        string         `json:"task"`
	Status      TaskStatus     `json:"status"`
	Item        *string        `json:"item"`
	Loop        bool           `json:"loop"`
	Ignored     bool           `json:"ignored"`
	Delegated   string         `json:"delegated"`
	Msg         string         `json:"msg"`
	Result      map[string]any `json:"result"`
	ResultError string         `json:"result_error,omitempty"`
	Diffs       []jsonDiff     `json:"diffs,omitempty"`
	Start       time.Time      `json:"start"`
	End         time.Time      `json:"end"`
	DurationMS  int64          `json:"duration_ms"`
}

type jsonDiff struct {
	BeforeHeader string `json:"before_header"`
	AfterHeader  string `json:"after_header"`
	Before       string `json:"before"`
	After        string `json:"after"`
}

type jsonWarning struct {
	Type string    `json:"type"`
	Msg  string    `json:"msg"`
	Time time.Time `json:"time"`
}

type jsonRecap struct {
	Type  string                   `json:"type"`
	Hosts map[string]jsonRecapHost `json:"hosts"`
}

type jsonRecapHost struct {
	OK          int `json:"ok"`
	Changed     int `json:"changed"`
	Unreachable int `json:"unreachable"`
	Failed      int `json:"failed"`
	Skipped     int `json:"skipped"`
	Rescued     int `json:"rescued"`
	Ignored     int `json:"ignored"`
}

// Play writes a "play" object.
func (s *PlayJSONSink) Play(p PlayStart) {
	hosts := p.Hosts
	if hosts == nil {
		hosts = []string{}
	}
	s.write(jsonPlay{Type: "play", Name: p.Name, Pos: p.Pos, Hosts: hosts, Check: p.Check, Time: s.now()})
}

// Task writes a "task" object.
func (s *PlayJSONSink) Task(t TaskStart) {
	s.write(jsonTask{
		Type: "task", Name: t.Name, Module: t.Module, Pos: t.Pos, Handler: t.Handler,
		Parallel: t.Parallel, Hosts: t.Hosts, Time: s.now(),
	})
}

// Result writes a "result" object.
func (s *PlayJSONSink) Result(r TaskResult) {
	v := jsonResult{
		Type: "result", Host: r.Host, Task: r.Task, Status: r.Status, Loop: r.Loop,
		Ignored: r.Ignored, Delegated: r.Delegated, Msg: r.Msg, Result: r.Result,
		Start: r.Start, End: r.End, DurationMS: r.End.Sub(r.Start).Milliseconds(),
	}
	if r.HasItem {
		item := r.Item
		v.Item = &item
	}
	for _, d := range r.Diffs {
		v.Diffs = append(v.Diffs, jsonDiff(d))
	}
	b, err := encodeJSONLine(v)
	if err != nil && v.Result != nil {
		// A value JSON cannot hold (NaN, a channel) in the result: say so
		// rather than lose the whole event.
		v.Result, v.ResultError = nil, "cannot encode the result as JSON: "+err.Error()
		b, err = encodeJSONLine(v)
	}
	s.writeEncoded(b, err)
}

// Warn writes a "warning" object.
func (s *PlayJSONSink) Warn(msg string) {
	s.write(jsonWarning{Type: "warning", Msg: msg, Time: s.now()})
}

// Recap writes the "recap" object, the counts of each host.
func (s *PlayJSONSink) Recap(rows []RecapRow) {
	v := jsonRecap{Type: "recap", Hosts: make(map[string]jsonRecapHost, len(rows))}
	for _, r := range rows {
		v.Hosts[r.Host] = jsonRecapHost{
			OK: r.OK, Changed: r.Changed, Unreachable: r.Unreachable, Failed: r.Failed,
			Skipped: r.Skipped, Rescued: r.Rescued, Ignored: r.Ignored,
		}
	}
	s.write(v)
}

// Close returns the first error met writing to w. It does not close w.
func (s *PlayJSONSink) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func (s *PlayJSONSink) write(v any) {
	s.writeEncoded(encodeJSONLine(v))
}

// writeEncoded writes one encoded object with a single Write, so that
// objects from different goroutines never mix.
func (s *PlayJSONSink) writeEncoded(b []byte, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if err != nil {
		s.err = fmt.Errorf("report: play JSON output: cannot encode an event, later output was lost: %w", err)
		return
	}
	if _, err := s.w.Write(b); err != nil {
		s.err = writeError("play JSON", err)
	}
}

// encodeJSONLine encodes v on one line, ending in a newline, without
// escaping < > & (commands and output are full of them).
func encodeJSONLine(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
