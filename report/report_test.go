package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// t0 is the fixed start of every test run.
var t0 = time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)

func at(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }

// recorder is a Sink that keeps every event, for tests.
type recorder struct {
	mu     sync.Mutex
	events []string
	lines  []Line
	closed int
	err    error
}

func (r *recorder) Line(l Line) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lines = append(r.lines, l)
	r.events = append(r.events, "line "+l.Host+" "+l.Text)
}

func (r *recorder) Step(s StepResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, fmt.Sprintf("step %s %d", s.Host, s.Step))
}

func (r *recorder) Host(h HostResult) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, "host "+h.Host+" "+h.Status.String())
}

func (r *recorder) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed++
	return r.err
}

func TestStatusString(t *testing.T) {
	for s, want := range map[Status]string{OK: "ok", Failed: "failed", Unreachable: "unreachable", 7: "Status(7)"} {
		if got := s.String(); got != want {
			t.Errorf("Status(%d).String() = %q, want %q", int(s), got, want)
		}
	}
}

func TestMulti(t *testing.T) {
	a, b := &recorder{err: errors.New("a broke")}, &recorder{err: errors.New("b broke")}
	c := &recorder{}
	m := Multi(a, nil, Multi(b, c))
	m.Line(Line{Host: "web1", Text: "hi"})
	m.Step(StepResult{Host: "web1", Step: 2})
	m.Host(HostResult{Host: "web1", Status: Failed})
	err := m.Close()
	want := []string{"line web1 hi", "step web1 2", "host web1 failed"}
	for i, r := range []*recorder{a, b, c} {
		if fmt.Sprint(r.events) != fmt.Sprint(want) || r.closed != 1 {
			t.Errorf("sink %d got %q, closed %d times; want %q, closed once", i, r.events, r.closed, want)
		}
	}
	if err == nil || !strings.Contains(err.Error(), "a broke") || !strings.Contains(err.Error(), "b broke") {
		t.Errorf("Multi Close = %v, want both sinks' errors", err)
	}
}

// lineChecker is a writer that fails the test unless every Write is one
// whole line.
type lineChecker struct {
	t   *testing.T
	buf bytes.Buffer
}

func (w *lineChecker) Write(p []byte) (int, error) {
	if bytes.IndexByte(p, '\n') != len(p)-1 {
		w.t.Errorf("Write(%q) is not exactly one whole line", p)
	}
	return w.buf.Write(p)
}

// TestConcurrentLines writes through many LineWriters at once, in odd
// chunks, to the live and JSON sinks, and checks every output line is whole
// and belongs to one host.
func TestConcurrentLines(t *testing.T) {
	const hosts, linesPerStream = 100, 30
	live, js := &lineChecker{t: t}, &lineChecker{t: t}
	var names []string
	for i := range hosts {
		names = append(names, fmt.Sprintf("h%d", i))
	}
	sink := Multi(NewLive(live, names, LiveOptions{}), NewJSON(js))

	var wg sync.WaitGroup
	for i, host := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, stream := range []Stream{Stdout, Stderr} {
				var text strings.Builder
				for k := range linesPerStream {
					fmt.Fprintf(&text, "%s %s line %d %s\r\n", host, stream, k, strings.Repeat("x", (i+k)%40))
				}
				w := LineWriter(sink, host, 0, stream)
				data := []byte(text.String())
				for chunk := i%7 + 1; len(data) > 0; {
					n := min(chunk, len(data))
					if _, err := w.Write(data[:n]); err != nil {
						t.Errorf("Write: %v", err)
						return
					}
					data = data[n:]
				}
				if err := w.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
		}()
	}
	wg.Wait()
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	liveLine := regexp.MustCompile(`^(h\d+) +([|!]) (h\d+) (stdout|stderr) line \d+ x*$`)
	perHost := map[string]int{}
	for _, l := range strings.Split(strings.TrimSuffix(live.buf.String(), "\n"), "\n") {
		m := liveLine.FindStringSubmatch(l)
		if m == nil || m[1] != m[3] || (m[2] == "!") != (m[4] == "stderr") {
			t.Fatalf("live output line %q is not one whole line of one host", l)
		}
		perHost[m[1]]++
	}
	jsonLines := strings.Split(strings.TrimSuffix(js.buf.String(), "\n"), "\n")
	for _, l := range jsonLines[:len(jsonLines)-1] {
		var ev struct{ Type, Host, Stream, Line string }
		if err := json.Unmarshal([]byte(l), &ev); err != nil {
			t.Fatalf("JSON output line %q: %v", l, err)
		}
		if ev.Type != "line" || !strings.HasPrefix(ev.Line, ev.Host+" "+ev.Stream+" line ") {
			t.Fatalf("JSON output line %q is not a line event of its host", l)
		}
		perHost[ev.Host]++
	}
	for _, h := range names {
		if want := 2 * 2 * linesPerStream; perHost[h] != want {
			t.Errorf("host %s: %d lines in live and JSON output, want %d", h, perHost[h], want)
		}
	}
	if last := jsonLines[len(jsonLines)-1]; !strings.HasPrefix(last, `{"type":"summary"`) {
		t.Errorf("last JSON line %q, want the summary", last)
	}
}
