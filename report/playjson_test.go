package report

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPlayJSON(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 10, 0, 0, 500_000_000, time.UTC)
	var b bytes.Buffer
	s := NewPlayJSON(&b)
	s.now = func() time.Time { return t0 }
	feed(s,
		PlayStart{Name: "web", Pos: "site.yml:1", Hosts: []string{"h1", "h2"}},
		TaskStart{Name: "copy <config>", Module: "copy", Pos: "site.yml:9", Hosts: 2},
		TaskResult{
			Host: "h1", Task: "copy <config>", Status: TaskChanged,
			Result: map[string]any{"changed": true, "dest": "/etc/a&b"},
			Diffs:  []Diff{{BeforeHeader: "/etc/a&b", AfterHeader: "/etc/a&b", Before: "x\n", After: "y\n"}},
			Start:  t0, End: t0.Add(12 * time.Millisecond),
		},
		TaskResult{Host: "h2", Task: "copy <config>", Status: TaskFailed, Item: "", HasItem: true, Ignored: true, Delegated: "localhost", Msg: "boom", Start: t0, End: t0},
		TaskResult{Host: "h2", Task: "copy <config>", Status: TaskSkipped, Loop: true, Start: t0, End: t0},
		warnEvent("no hosts matched"),
		TaskStart{Name: "restart", Module: "service", Handler: true, Parallel: "p1"},
		TaskResult{Host: "h1", Task: "restart", Status: TaskUnreachable, Msg: "connection refused", Start: t0, End: t0},
		[]RecapRow{{Host: "h2", OK: 1, Skipped: 1, Ignored: 1}, {Host: "h1", OK: 3, Changed: 1, Unreachable: 1}},
	)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ts := `"2024-05-01T10:00:00.5Z"`
	want := strings.Join([]string{
		`{"type":"play","name":"web","pos":"site.yml:1","hosts":["h1","h2"],"check":false,"time":` + ts + `}`,
		`{"type":"task","name":"copy <config>","module":"copy","pos":"site.yml:9","handler":false,"parallel":"","hosts":2,"time":` + ts + `}`,
		`{"type":"result","host":"h1","task":"copy <config>","status":"changed","item":null,"loop":false,"ignored":false,"delegated":"","msg":"","result":{"changed":true,"dest":"/etc/a&b"},"diffs":[{"before_header":"/etc/a&b","after_header":"/etc/a&b","before":"x\n","after":"y\n"}],"start":` + ts + `,"end":"2024-05-01T10:00:00.512Z","duration_ms":12}`,
		`{"type":"result","host":"h2","task":"copy <config>","status":"failed","item":"","loop":false,"ignored":true,"delegated":"localhost","msg":"boom","result":null,"start":` + ts + `,"end":` + ts + `,"duration_ms":0}`,
		`{"type":"result","host":"h2","task":"copy <config>","status":"skipped","item":null,"loop":true,"ignored":false,"delegated":"","msg":"","result":null,"start":` + ts + `,"end":` + ts + `,"duration_ms":0}`,
		`{"type":"warning","msg":"no hosts matched","time":` + ts + `}`,
		`{"type":"task","name":"restart","module":"service","pos":"","handler":true,"parallel":"p1","hosts":0,"time":` + ts + `}`,
		`{"type":"result","host":"h1","task":"restart","status":"unreachable","item":null,"loop":false,"ignored":false,"delegated":"","msg":"connection refused","result":null,"start":` + ts + `,"end":` + ts + `,"duration_ms":0}`,
		`{"type":"recap","hosts":{"h1":{"ok":3,"changed":1,"unreachable":1,"failed":0,"skipped":0,"rescued":0,"ignored":0},"h2":{"ok":1,"changed":0,"unreachable":0,"failed":0,"skipped":1,"rescued":0,"ignored":1}}}`,
	}, "\n") + "\n"
	if b.String() != want {
		gl, wl := strings.Split(b.String(), "\n"), strings.Split(want, "\n")
		for i := range min(len(gl), len(wl)) {
			if gl[i] != wl[i] {
				t.Errorf("line %d:\n got %s\nwant %s", i+1, gl[i], wl[i])
			}
		}
		if len(gl) != len(wl) {
			t.Errorf("got %d lines, want %d:\n%s", len(gl), len(wl), b.String())
		}
	}
}

func TestPlayJSONPlayWithoutHosts(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayJSON(&b)
	s.Play(PlayStart{Name: "none"})
	if !strings.Contains(b.String(), `"hosts":[]`) {
		t.Errorf("a play without hosts must have an empty list, not null: %s", b.String())
	}
}

// TestPlayJSONUnencodableResult checks that a result JSON cannot hold
// still gives its event, with the reason instead of the result.
func TestPlayJSONUnencodableResult(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayJSON(&b)
	s.Result(TaskResult{Host: "h1", Task: "t", Status: TaskOK, Result: map[string]any{"x": math.NaN()}})
	var v map[string]any
	if err := json.Unmarshal(b.Bytes(), &v); err != nil {
		t.Fatalf("output %q is not JSON: %v", b.String(), err)
	}
	if v["result"] != nil || !strings.Contains(fmt.Sprint(v["result_error"]), "NaN") {
		t.Errorf("result %v, result_error %q; want null and an error about the NaN", v["result"], v["result_error"])
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close() = %v; the event was written", err)
	}
}

func TestPlayJSONConcurrent(t *testing.T) {
	var w writeRecorder
	s := NewPlayJSON(&w)
	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			s.Result(TaskResult{Host: fmt.Sprintf("h%d", i), Task: "t", Status: TaskOK, Result: map[string]any{"stdout": strings.Repeat("x", 5000)}})
		})
	}
	wg.Wait()
	if len(w.writes) != 40 {
		t.Fatalf("got %d writes, want 40", len(w.writes))
	}
	for _, wr := range w.writes {
		var v map[string]any
		if err := json.Unmarshal([]byte(wr), &v); err != nil || !strings.HasSuffix(wr, "}\n") {
			t.Fatalf("write %.80q… is not one JSON object on its line: %v", wr, err)
		}
	}
}

func TestPlayJSONWriteError(t *testing.T) {
	s := NewPlayJSON(failWriter{})
	s.Warn("x")
	s.Warn("y")
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close() = %v, want the write error", err)
	}
}
