package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// runEvents sends a small run to s: web01 succeeds, web02 fails its second
// step, db1 times out, db2 is unreachable.
func runEvents(s Sink) {
	s.Line(Line{Host: "web01", Step: 0, Stream: Stdout, Text: "up 3 days", Time: at(10)})
	s.Line(Line{Host: "web02", Step: 0, Stream: Stdout, Text: "up 3 days", Time: at(11)})
	s.Step(StepResult{Host: "web01", Step: 0, Command: "uptime", Exit: 0, Status: OK, Start: at(0), End: at(12)})
	s.Step(StepResult{Host: "web02", Step: 0, Command: "uptime", Exit: 0, Status: OK, Start: at(0), End: at(12)})
	s.Line(Line{Host: "web02", Step: 1, Stream: Stderr, Text: "no such unit", Time: at(20)})
	s.Step(StepResult{Host: "web02", Step: 1, Command: "systemctl restart app", Exit: 3, Status: Failed, Start: at(13), End: at(25)})
	s.Host(HostResult{Host: "web01", Status: OK, Steps: 1, Start: at(0), End: at(12)})
	s.Host(HostResult{Host: "web02", Status: Failed, Steps: 2, Start: at(0), End: at(25)})
	s.Step(StepResult{Host: "db1", Step: 0, Command: "sleep 10", Exit: -1, Signal: "KILL", Err: errors.New("timed out after 5s"), Status: Failed, Start: at(0), End: at(5000)})
	s.Host(HostResult{Host: "db1", Status: Failed, Steps: 1, Start: at(0), End: at(5000)})
	s.Host(HostResult{Host: "db2", Status: Unreachable, Err: errors.New("dial tcp 10.0.0.2:22: connect: connection refused"), Start: at(0), End: at(3)})
}

var runHosts = []string{"web01", "web02", "db1", "db2"}

func TestLive(t *testing.T) {
	tests := []struct {
		name string
		opt  LiveOptions
		want string
	}{
		{"plain", LiveOptions{}, `
web01 | up 3 days
web02 | up 3 days
web02 ! no such unit
web02 ! exit 3: systemctl restart app
db1   ! timed out after 5s: sleep 10
db2   ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused
`},
		{"steps", LiveOptions{ShowStep: true}, `
web01 [1] | up 3 days
web02 [1] | up 3 days
web02 [2] ! no such unit
web02 [2] ! exit 3: systemctl restart app
db1   [1] ! timed out after 5s: sleep 10
db2   [-] ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused
`},
		{"color", LiveOptions{Color: true}, `
` + hostColor("web01") + `web01` + ansiReset + ` | up 3 days
` + hostColor("web02") + `web02` + ansiReset + ` | up 3 days
` + hostColor("web02") + `web02` + ansiReset + ` ! no such unit
` + ansiRed + `web02 ! exit 3: systemctl restart app` + ansiReset + `
` + ansiRed + `db1   ! timed out after 5s: sleep 10` + ansiReset + `
` + ansiRed + `db2   ! unreachable: dial tcp 10.0.0.2:22: connect: connection refused` + ansiReset + `
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewLive(&b, runHosts, tt.opt)
			runEvents(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tt.want, "\n"); b.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
			}
		})
	}
}

func TestLiveFailureTexts(t *testing.T) {
	tests := []struct {
		r    StepResult
		want string
	}{
		{StepResult{Host: "a", Command: "false", Exit: 1, Status: Failed}, "a ! exit 1: false\n"},
		{StepResult{Host: "a", Command: "yes", Exit: -1, Signal: "TERM", Status: Failed}, "a ! signal TERM: yes\n"},
		{StepResult{Host: "a", Command: "ls", Exit: -1, Err: errors.New("connection lost"), Status: Unreachable}, "a ! unreachable: connection lost: ls\n"},
		{StepResult{Host: "a", Command: "ls", Exit: -1, Status: Failed}, "a ! failed: ls\n"},
		{StepResult{Host: "a", Command: "true", Status: OK}, ""},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		s := NewLive(&b, []string{"a"}, LiveOptions{})
		s.Step(tt.r)
		s.Host(HostResult{Host: "a", Status: Failed}) // already said by the step
		if b.String() != tt.want {
			t.Errorf("Step(%+v) printed %q, want %q", tt.r, b.String(), tt.want)
		}
	}
}

func TestHostColorStableAndNotRed(t *testing.T) {
	seen := map[string]bool{}
	for _, h := range []string{"web01", "web02", "web03", "db1", "db2", "lb", "cache7", "x"} {
		c := hostColor(h)
		if c != hostColor(h) {
			t.Errorf("host %s: colour changes between calls", h)
		}
		if c == ansiRed || strings.Contains(c, "[91m") {
			t.Errorf("host %s: got red, which is kept for failures", h)
		}
		seen[c] = true
	}
	if len(seen) < 3 {
		t.Errorf("8 hosts got only %d colours; the palette is not being spread", len(seen))
	}
}

type failingWriter struct{ writes int }

func (w *failingWriter) Write(p []byte) (int, error) {
	w.writes++
	return 0, errors.New("broken pipe")
}

func TestLiveWriteError(t *testing.T) {
	w := &failingWriter{}
	s := NewLive(w, nil, LiveOptions{})
	s.Line(Line{Host: "a", Text: "one"})
	s.Line(Line{Host: "a", Text: "two"})
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), "broken pipe") || !strings.Contains(err.Error(), "live") {
		t.Errorf("Close = %v, want the write error naming the live sink", err)
	}
	if w.writes != 1 {
		t.Errorf("%d writes after the first failed, want none", w.writes-1)
	}
}

// TestLiveOneLinePerUnreachableHost checks that a host whose connection
// drops while a command runs gets one line, not one for the step and one
// for the host.
func TestLiveOneLinePerUnreachableHost(t *testing.T) {
	lost := errors.New("lost: connection lost: EOF")
	step := func(i int, cmd string) StepResult {
		return StepResult{Host: "r1", Step: i, Command: cmd, Exit: -1, Err: lost, Status: Unreachable}
	}
	host := HostResult{Host: "r1", Status: Unreachable, Err: lost, Steps: 1}
	tests := []struct {
		name   string
		opt    LiveOptions
		events func(Sink)
		want   string
	}{
		{"lost mid-command", LiveOptions{}, func(s Sink) {
			s.Line(Line{Host: "r1", Stream: Stdout, Text: "started"})
			s.Step(step(0, "sleep 3; echo done"))
			s.Host(host)
		}, "r1 | started\nr1 ! unreachable: lost: connection lost: EOF: sleep 3; echo done\n"},
		{"lost mid-command, steps shown", LiveOptions{ShowStep: true}, func(s Sink) {
			s.Step(StepResult{Host: "r1", Command: "true", Status: OK})
			s.Step(step(1, "sleep 3"))
			s.Host(host)
		}, "r1 [2] ! unreachable: lost: connection lost: EOF: sleep 3\n"},
		{"parallel steps all lost", LiveOptions{ShowStep: true}, func(s Sink) {
			s.Step(step(2, "three"))
			s.Step(step(0, "one"))
			s.Step(step(1, "two"))
			s.Host(host)
		}, "r1 [1] ! unreachable: lost: connection lost: EOF: one\n"},
		{"never connected", LiveOptions{}, func(s Sink) {
			s.Host(HostResult{Host: "r1", Status: Unreachable, Err: errors.New("refused: connection to 10.0.0.1:22 refused")})
		}, "r1 ! unreachable: refused: connection to 10.0.0.1:22 refused\n"},
		{"run cut short before the host ended", LiveOptions{}, func(s Sink) {
			s.Step(step(0, "sleep 3"))
		}, "r1 ! unreachable: lost: connection lost: EOF: sleep 3\n"},
		{"other hosts unaffected", LiveOptions{}, func(s Sink) {
			s.Step(step(0, "sleep 3"))
			s.Host(HostResult{Host: "r2", Status: Unreachable, Err: lost})
			s.Host(host)
		}, "r2 ! unreachable: lost: connection lost: EOF\nr1 ! unreachable: lost: connection lost: EOF: sleep 3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewLive(&b, []string{"r1", "r2"}, tt.opt)
			tt.events(s)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if b.String() != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestLiveLongLine checks that the pieces of a line cut at MaxLineBytes
// after the first are marked as continuing it, per host, step and stream.
func TestLiveLongLine(t *testing.T) {
	tests := []struct {
		name  string
		lines []Line
		want  string
	}{
		{"three pieces", []Line{
			{Host: "a", Text: "xxx", Partial: true},
			{Host: "a", Text: "yyy", Partial: true},
			{Host: "a", Text: "zzz"},
			{Host: "a", Text: "next"},
		}, "a | xxx\na |+ yyy\na |+ zzz\na | next\n"},
		{"streams and hosts apart", []Line{
			{Host: "a", Stream: Stderr, Text: "e1", Partial: true},
			{Host: "a", Stream: Stdout, Text: "o1"},
			{Host: "b", Stream: Stderr, Text: "b1"},
			{Host: "a", Step: 1, Stream: Stderr, Text: "s1"},
			{Host: "a", Stream: Stderr, Text: "e2"},
			{Host: "a", Stream: Stderr, Text: "e3"},
		}, "a ! e1\na | o1\nb ! b1\na ! s1\na !+ e2\na ! e3\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewLive(&b, []string{"a", "b"}, LiveOptions{})
			for _, l := range tt.lines {
				s.Line(l)
			}
			s.Close()
			if b.String() != tt.want {
				t.Errorf("output:\n%s\nwant:\n%s", b.String(), tt.want)
			}
		})
	}
}

// TestLiveEscapesNames checks that names and messages in fleet's own lines
// can't break the output into lines or send terminal escapes, and that the
// hosts' own output is left alone.
func TestLiveEscapesNames(t *testing.T) {
	tests := []struct {
		name   string
		opt    LiveOptions
		events func(*LiveSink)
		want   string
	}{
		{"created path with a newline", LiveOptions{Files: true}, func(s *LiveSink) {
			s.File(FileResult{Host: "a", Path: "/srv/new\nline", Action: Created, Bytes: 2})
		}, "a | created /srv/new\\#012line (2 B)\n"},
		{"failed path with ESC", LiveOptions{}, func(s *LiveSink) {
			s.File(FileResult{Host: "a", Path: "/srv/\x1b[2Jx", Action: FileFailed,
				Err: errors.New("open /srv/\x1b[2Jx: permission denied")})
		}, "a ! failed /srv/\\#033[2Jx: open /srv/\\#033[2Jx: permission denied\n"},
		{"transfer stopped", LiveOptions{}, func(s *LiveSink) {
			s.Host(HostResult{Host: "a", Status: Failed, Err: errors.New("mkdir /d\r: no space"), Transfer: &TransferStats{}})
		}, "a ! mkdir /d\\#015: no space\n"},
		{"command with a newline", LiveOptions{}, func(s *LiveSink) {
			s.Step(StepResult{Host: "a", Command: "cd /x\nmake", Exit: 2, Status: Failed})
		}, "a ! exit 2: cd /x\\#012make\n"},
		{"unreachable error", LiveOptions{}, func(s *LiveSink) {
			s.Host(HostResult{Host: "a", Status: Unreachable, Err: errors.New("auth: banner \x07\x9b")})
		}, "a ! unreachable: auth: banner \\#007\\#233\n"},
		{"output untouched", LiveOptions{}, func(s *LiveSink) {
			s.Line(Line{Host: "a", Text: "\x1b[1mbold\x1b[0m\ttab"})
		}, "a | \x1b[1mbold\x1b[0m\ttab\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewLive(&b, []string{"a"}, tt.opt)
			tt.events(s)
			s.Close()
			if b.String() != tt.want {
				t.Errorf("output %q, want %q", b.String(), tt.want)
			}
		})
	}
}
