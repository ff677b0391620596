package muxconn

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The splitter must find marks wherever the stream is cut into writes.
// The loop writes a command's output and mark only after the command is
// sent, so each segment (the hello, then a command each) is fed after the
// previous one's mark, cut in two at every place and byte by byte.
func TestMarkSplitter(t *testing.T) {
	const mark = "fleet-0123"
	m := func(st string) string { return "\n" + mark + " " + st + "\n" }
	cases := []struct {
		name     string
		segments []string // the hello, then each command's output and mark
		want     []string // each command's output as its writer sees it
		status   []int
	}{
		{"hello only", []string{m("0")}, nil, []int{0}},
		{"plain", []string{m("0"), "hi\n" + m("0")}, []string{"hi\n"}, []int{0, 0}},
		{"no trailing newline", []string{m("0"), "hi" + m("3")}, []string{"hi"}, []int{0, 3}},
		{"empty output", []string{m("0"), m("0"), "x\n" + m("1")}, []string{"", "x\n"}, []int{0, 0, 1}},
		{"newlines kept", []string{m("0"), "\n\n" + m("0")}, []string{"\n\n"}, []int{0, 0}},
		{"early output goes to the first command", []string{"bashrc says hi\n" + m("0"), "a\n" + m("0")}, []string{"bashrc says hi\na\n"}, []int{0, 0}},
		{"lookalike mark is output", []string{m("0"), "\n" + mark + " nope\n" + m("0")}, []string{"\n" + mark + " nope\n"}, []int{0, 0}},
		{"near-mark prefix is output", []string{m("0"), "\nfleet-01\n" + m("130")}, []string{"\nfleet-01\n"}, []int{0, 130}},
		{"left-behind output after a mark is dropped", []string{m("0"), "a" + m("0") + "late\n", "b" + m("0")}, []string{"a", "b"}, []int{0, 0, 0}},
	}
	for _, c := range cases {
		for cutAt := -1; cutAt < 64; cutAt++ { // -1: byte by byte; 0: whole
			sp := newMarkSplitter(mark)
			var outs []string
			var got []int
			for i, seg := range c.segments {
				var b bytes.Buffer
				if i > 0 {
					sp.to(&b)
				}
				var writes []string
				switch {
				case cutAt < 0:
					for j := range len(seg) {
						writes = append(writes, seg[j:j+1])
					}
				case cutAt > 0 && cutAt < len(seg):
					writes = []string{seg[:cutAt], seg[cutAt:]}
				default:
					writes = []string{seg}
				}
				for _, w := range writes {
					sp.Write([]byte(w))
				}
				select {
				case st := <-sp.marks:
					got = append(got, st)
				default:
					t.Fatalf("%s, cut %d: no mark after segment %d", c.name, cutAt, i)
				}
				if i > 0 {
					outs = append(outs, b.String())
				}
			}
			if strings.Join(outs, "|") != strings.Join(c.want, "|") || fmt.Sprint(got) != fmt.Sprint(c.status) {
				t.Fatalf("%s, cut %d: outputs %q, statuses %v; want %q, %v", c.name, cutAt, outs, got, c.want, c.status)
			}
		}
	}
}

func TestShellFrame(t *testing.T) {
	for cmd, want := range map[string]string{
		"":             "0\n",
		"echo hi":      "1\necho hi\n",
		"echo hi\n":    "1\necho hi\n",
		"a\nb":         "2\na\nb\n",
		"a\n\nb\n":     "3\na\n\nb\n",
		"printf '\\n'": "1\nprintf '\\n'\n",
	} {
		if got := string(shellFrame(cmd)); got != want {
			t.Errorf("shellFrame(%q) = %q, want %q", cmd, got, want)
		}
	}
}
