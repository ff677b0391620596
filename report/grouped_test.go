package report

import (
	"bytes"
	"errors"
	"slices"
	"strconv"
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
| up 3 days
! no such unit
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
| Linux
! warning: x
---------------
web04 (1) exit 3
---------------
| Linux
! warning: x
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

// TestGroupedStable checks that hosts with the same output land in one
// group whatever order their lines, steps and paths arrived in, and that
// the body says which stream and command printed each line.
func TestGroupedStable(t *testing.T) {
	out := func(h string, step int, text string) func(Sink) {
		return func(s Sink) { s.Line(Line{Host: h, Step: step, Stream: Stdout, Text: text}) }
	}
	errLine := func(h string, step int, text string) func(Sink) {
		return func(s Sink) { s.Line(Line{Host: h, Step: step, Stream: Stderr, Text: text}) }
	}
	exit := func(h string, step, code int) func(Sink) {
		return func(s Sink) {
			st := OK
			if code != 0 {
				st = Failed
			}
			s.Step(StepResult{Host: h, Step: step, Command: "c" + strconv.Itoa(step), Exit: code, Status: st})
		}
	}
	file := func(h, path string) func(Sink) {
		return func(s Sink) { s.(FileSink).File(FileResult{Host: h, Path: path, Action: Created}) }
	}
	// permutations returns every order of events, each as the events of
	// one host, so that host i gets the i-th order.
	permutations := func(events ...func(string) func(Sink)) [][]func(string) func(Sink) {
		var all [][]func(string) func(Sink)
		var perm func(done, rest []func(string) func(Sink))
		perm = func(done, rest []func(string) func(Sink)) {
			if len(rest) == 0 {
				all = append(all, slices.Clone(done))
				return
			}
			for i := range rest {
				others := append(slices.Clone(rest[:i]), rest[i+1:]...)
				perm(append(done, rest[i]), others)
			}
		}
		perm(nil, events)
		return all
	}
	// Each stream keeps its own order; the two mix in every way.
	var interleavings [][]func(string) func(Sink)
	for _, streams := range []string{"ooee", "oeoe", "oeeo", "eooe", "eoeo", "eeoo"} {
		var order []func(string) func(Sink)
		var o, e int
		for _, c := range streams {
			if c == 'o' {
				o++
				text := "out" + strconv.Itoa(o)
				order = append(order, func(h string) func(Sink) { return out(h, 0, text) })
			} else {
				e++
				text := "err" + strconv.Itoa(e)
				order = append(order, func(h string) func(Sink) { return errLine(h, 0, text) })
			}
		}
		interleavings = append(interleavings, order)
	}
	tests := []struct {
		name   string
		opt    GroupedOptions
		orders [][]func(string) func(Sink)
		want   string
	}{
		{"stdout and stderr interleaved in any order", GroupedOptions{}, interleavings, `
---------------
h[0-5] (6)
---------------
| out1
| out2
! err1
! err2
`},
		{"parallel steps in any order", GroupedOptions{ShowStep: true}, permutations(
			func(h string) func(Sink) { return out(h, 0, "one") },
			func(h string) func(Sink) { return out(h, 1, "two") },
			func(h string) func(Sink) { return out(h, 2, "three") },
		), `
---------------
h[0-5] (6)
---------------
[1] | one
[2] | two
[3] | three
`},
		{"the first failed step names the failure", GroupedOptions{ShowStep: true}, permutations(
			func(h string) func(Sink) { return exit(h, 2, 7) },
			func(h string) func(Sink) { return exit(h, 1, 3) },
			func(h string) func(Sink) { return exit(h, 0, 0) },
		), `
---------------
h[0-5] (6) exit 3
---------------
(no output)
`},
		{"the same lines from other steps are another output", GroupedOptions{ShowStep: true}, [][]func(string) func(Sink){
			{func(h string) func(Sink) { return out(h, 0, "x") }},
			{func(h string) func(Sink) { return out(h, 1, "x") }},
		}, `
---------------
h0 (1)
---------------
[1] | x
---------------
h1 (1)
---------------
[2] | x
`},
		{"the same text on another stream is another output", GroupedOptions{}, [][]func(string) func(Sink){
			{func(h string) func(Sink) { return out(h, 0, "x") }},
			{func(h string) func(Sink) { return errLine(h, 0, "x") }},
		}, `
---------------
h0 (1)
---------------
x
---------------
h1 (1)
---------------
! x
`},
		{"a line in pieces is joined", GroupedOptions{}, permutations(
			func(h string) func(Sink) {
				return func(s Sink) {
					s.Line(Line{Host: h, Text: "ab", Partial: true})
					s.Line(Line{Host: h, Text: "cd"})
				}
			},
			func(h string) func(Sink) { return errLine(h, 0, "e") },
		), `
---------------
h[0-1] (2)
---------------
| abcd
! e
`},
		{"paths in any order", GroupedOptions{Files: true}, permutations(
			func(h string) func(Sink) { return file(h, "/b") },
			func(h string) func(Sink) { return file(h, "/a") },
			func(h string) func(Sink) { return file(h, "/c") },
		), `
---------------
h[0-5] (6)
---------------
created /a
created /b
created /c
`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewGrouped(&b, tt.opt)
			sink := Multi(s) // a FileSink, as the runner's sink is
			for i, order := range tt.orders {
				h := "h" + strconv.Itoa(i)
				for _, ev := range order {
					ev(h)(sink)
				}
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

// TestGroupedEscapes checks that the header and the lines of paths can't
// be broken by control characters in names and errors, and that output
// lines are left as the host printed them.
func TestGroupedEscapes(t *testing.T) {
	var b bytes.Buffer
	s := NewGrouped(&b, GroupedOptions{Files: true})
	s.Line(Line{Host: "a", Text: "raw\x1b[0m"})
	s.Step(StepResult{Host: "a", Exit: -1, Err: errors.New("cd /x\ny: no such dir"), Status: Failed})
	s.File(FileResult{Host: "b", Path: "/new\nline", Action: Created, Bytes: 2})
	s.Host(HostResult{Host: "b", Status: OK, Transfer: &TransferStats{Changed: 1, Bytes: 2}})
	s.Host(HostResult{Host: "c", Status: Failed, Err: errors.New("open /\x1b]0;t\x07: denied")})
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	want := `---------------
a (1) cd /x\#012y: no such dir
---------------
raw` + "\x1b[0m" + `
---------------
b (1)
---------------
created /new\#012line (2 B)
1 changed, 0 unchanged, 2 B sent
---------------
c (1) open /\#033]0;t\#007: denied
---------------
(no output)
`
	if b.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", b.String(), want)
	}
}

func TestGroupedWriteError(t *testing.T) {
	s := NewGrouped(&failingWriter{}, GroupedOptions{})
	s.Host(HostResult{Host: "a"})
	if err := s.Close(); err == nil || !strings.Contains(err.Error(), "grouped") {
		t.Errorf("Close = %v, want the write error naming the grouped sink", err)
	}
}
