package report

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

func TestGrouped(t *testing.T) {
	tests := []struct {
		name   string
		opt    GroupedOptions
		events func(Sink)
		want   string
	}{
		{"run", GroupedOptions{}, runEvents, `
---------------
db1 (1) timed out after 5s
---------------
(no output)
---------------
db2 (1) unreachable
---------------
(no output)
---------------
web01 (1)
---------------
up 3 days
---------------
web02 (1) exit 3
---------------
up 3 days
no such unit
`},
		{"same output folds", GroupedOptions{}, func(s Sink) {
			for _, h := range []string{"web07", "web10", "web02", "web01", "web03", "web2"} {
				s.Line(Line{Host: h, Stream: Stdout, Text: "Linux"})
				s.Line(Line{Host: h, Step: 1, Stream: Stderr, Text: "warning: x"})
				s.Host(HostResult{Host: h, Status: OK})
			}
			s.Line(Line{Host: "web04", Stream: Stdout, Text: "Linux"})
			s.Line(Line{Host: "web04", Step: 1, Stream: Stderr, Text: "warning: x"})
			s.Step(StepResult{Host: "web04", Step: 1, Exit: 3, Status: Failed})
			s.Host(HostResult{Host: "web04", Status: Failed})
			s.Line(Line{Host: "web05", Stream: Stdout, Text: "Linux"}) // no HostResult: run cut short
			s.Line(Line{Host: "web06", Stream: Stdout, Text: ""})
			s.Host(HostResult{Host: "web08", Status: OK})
			s.Host(HostResult{Host: "web09", Status: OK})
			s.Host(HostResult{Host: "web11", Status: Failed, Err: errors.New("aborted")})
		}, `
---------------
web[01-03,07,10] web2 (6)
---------------
Linux
warning: x
---------------
web04 (1) exit 3
---------------
Linux
warning: x
---------------
web05 (1)
---------------
Linux
---------------
web06 (1)
---------------

---------------
web[08-09] (2)
---------------
(no output)
---------------
web11 (1) aborted
---------------
(no output)
`},
		{"color", GroupedOptions{Color: true}, func(s Sink) {
			s.Line(Line{Host: "a1", Text: "x"})
			s.Host(HostResult{Host: "a1", Status: OK})
			s.Host(HostResult{Host: "a2", Status: Unreachable})
		}, `
---------------
` + ansiGreen + `a1 (1)` + ansiReset + `
---------------
x
---------------
` + ansiRed + `a2 (1) unreachable` + ansiReset + `
---------------
(no output)
`},
		{"nothing", GroupedOptions{}, func(Sink) {}, "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewGrouped(&b, tt.opt)
			tt.events(s)
			if b.Len() != 0 {
				t.Fatalf("printed %q before Close", b.String())
			}
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if want := strings.TrimPrefix(tt.want, "\n"); b.String() != want {
				t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
			}
		})
	}
}

func TestGroupedWriteError(t *testing.T) {
	s := NewGrouped(&failingWriter{}, GroupedOptions{})
	s.Host(HostResult{Host: "a"})
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "grouped") {
		t.Errorf("Close = %v, want the write error naming the grouped sink", err)
	}
}
