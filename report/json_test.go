package report

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestJSON(t *testing.T) {
	var b bytes.Buffer
	s := NewJSON(&b)
	runEvents(s)
	s.Line(Line{Host: "web01", Step: 1, Stream: Stdout, Text: "bad \xff <utf-8> & \"quotes\"", Time: at(30)})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := strings.TrimPrefix(`
{"type":"line","host":"web01","step":0,"stream":"stdout","line":"up 3 days","time":"2024-05-01T10:00:00.01Z"}
{"type":"line","host":"web02","step":0,"stream":"stdout","line":"up 3 days","time":"2024-05-01T10:00:00.011Z"}
{"type":"step","host":"web01","step":0,"command":"uptime","exit":0,"signal":"","error":"","status":"ok","start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.012Z","duration_ms":12}
{"type":"step","host":"web02","step":0,"command":"uptime","exit":0,"signal":"","error":"","status":"ok","start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.012Z","duration_ms":12}
{"type":"line","host":"web02","step":1,"stream":"stderr","line":"no such unit","time":"2024-05-01T10:00:00.02Z"}
{"type":"step","host":"web02","step":1,"command":"systemctl restart app","exit":3,"signal":"","error":"","status":"failed","start":"2024-05-01T10:00:00.013Z","end":"2024-05-01T10:00:00.025Z","duration_ms":12}
{"type":"host","host":"web01","status":"ok","error":"","steps":1,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.012Z","duration_ms":12}
{"type":"host","host":"web02","status":"failed","error":"","steps":2,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.025Z","duration_ms":25}
{"type":"step","host":"db1","step":0,"command":"sleep 10","exit":-1,"signal":"KILL","error":"timed out after 5s","status":"failed","start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:05Z","duration_ms":5000}
{"type":"host","host":"db1","status":"failed","error":"","steps":1,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:05Z","duration_ms":5000}
{"type":"host","host":"db2","status":"unreachable","error":"dial tcp 10.0.0.2:22: connect: connection refused","steps":0,"start":"2024-05-01T10:00:00Z","end":"2024-05-01T10:00:00.003Z","duration_ms":3}
{"type":"line","host":"web01","step":1,"stream":"stdout","line":"bad \ufffd <utf-8> & \"quotes\"","line_base64":"YmFkIP8gPHV0Zi04PiAmICJxdW90ZXMi","time":"2024-05-01T10:00:00.03Z"}
{"type":"summary","ok":["web01"],"failed":["db1","web02"],"unreachable":["db2"]}
`, "\n")
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
	for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if !json.Valid([]byte(l)) {
			t.Errorf("invalid JSON line %q", l)
		}
	}

	// line_base64 gives back the exact bytes.
	var ev struct {
		LineBase64 []byte `json:"line_base64"`
	}
	lines := strings.Split(b.String(), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-3]), &ev); err != nil || string(ev.LineBase64) != "bad \xff <utf-8> & \"quotes\"" {
		t.Errorf("line_base64 decodes to %q (%v), want the original bytes", ev.LineBase64, err)
	}
}

func TestJSONEmptySummary(t *testing.T) {
	var b bytes.Buffer
	if err := NewJSON(&b).Close(); err != nil {
		t.Fatal(err)
	}
	if want := `{"type":"summary","ok":[],"failed":[],"unreachable":[]}` + "\n"; b.String() != want {
		t.Errorf("output %q, want %q", b.String(), want)
	}
}

func TestJSONErrors(t *testing.T) {
	s := NewJSON(&failingWriter{})
	s.Host(HostResult{Host: "a"})
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "JSON") {
		t.Errorf("Close = %v, want the write error naming the JSON sink", err)
	}

	var b bytes.Buffer
	s = NewJSON(&b)
	s.Line(Line{Host: "a", Time: time.Date(12345, 1, 1, 0, 0, 0, 0, time.UTC)})
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "cannot encode") {
		t.Errorf("Close = %v, want an encoding error", err)
	}
}

// TestJSONLongLine checks that a program can rebuild a line longer than
// MaxLineBytes from its pieces: every piece but the last says "partial".
func TestJSONLongLine(t *testing.T) {
	tests := []struct {
		name   string
		line   string
		pieces int
	}{
		{"short", "hello", 1},
		{"exactly the cap", strings.Repeat("x", MaxLineBytes), 1},
		{"one byte over", strings.Repeat("x", MaxLineBytes+1), 2},
		{"200 KB", strings.Repeat("0123456789", 20_000), 4},
		{"multi-byte at the cut", strings.Repeat("x", MaxLineBytes-1) + "éé", 2},
		{"invalid UTF-8", strings.Repeat("\xff", 2*MaxLineBytes+3), 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewJSON(&b)
			w := LineWriter(s, "web01", 0, Stdout)
			if _, err := w.Write([]byte(tt.line + "\nnext\n")); err != nil {
				t.Fatal(err)
			}
			w.Close()
			s.Close()
			var got []byte
			var pieces int
			for _, l := range strings.Split(strings.TrimSpace(b.String()), "\n") {
				var ev struct {
					Type       string          `json:"type"`
					Line       string          `json:"line"`
					LineBase64 []byte          `json:"line_base64"`
					Partial    json.RawMessage `json:"partial"`
				}
				if err := json.Unmarshal([]byte(l), &ev); err != nil {
					t.Fatal(err)
				}
				if ev.Type != "line" {
					continue
				}
				text := []byte(ev.Line)
				if ev.LineBase64 != nil {
					text = ev.LineBase64
				}
				got = append(got, text...)
				pieces++
				if string(ev.Partial) == "true" {
					continue
				}
				if ev.Partial != nil {
					t.Errorf("a last piece has \"partial\":%s; want the key left out", ev.Partial)
				}
				break // the line is complete
			}
			if string(got) != tt.line || pieces != tt.pieces {
				t.Errorf("rebuilt %d bytes from %d pieces, want the %d-byte line from %d", len(got), pieces, len(tt.line), tt.pieces)
			}
		})
	}
}
