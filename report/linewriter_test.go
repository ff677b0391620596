package report

import (
	"fmt"
	"io"
	"strings"
	"testing"
)

// partial marks a wanted line as a piece that the next one continues.
func partial(text string) string { return text + partialTag }

const partialTag = "\x00(partial)"

func TestLineWriter(t *testing.T) {
	long := strings.Repeat("x", MaxLineBytes)
	tests := []struct {
		name   string
		writes []string
		want   []string
	}{
		{"lines", []string{"a\nb\n"}, []string{"a", "b"}},
		{"crlf", []string{"a\r\nb\r\n"}, []string{"a", "b"}},
		{"crlf split across writes", []string{"ab", "c\r", "\nd\r"}, []string{"abc", "d"}},
		{"byte by byte", strings.Split("one\ntwo\n", ""), []string{"one", "two"}},
		{"partial line at close", []string{"a\nrest"}, []string{"a", "rest"}},
		{"empty lines", []string{"\n\n"}, []string{"", ""}},
		{"lone cr kept", []string{"10%\r20%\n"}, []string{"10%\r20%"}},
		{"nothing", nil, nil},
		{"invalid UTF-8 as is", []string{"\xff\xfeok\n"}, []string{"\xff\xfeok"}},
		{"exactly the cap", []string{long + "\n"}, []string{long}},
		{"over the cap", []string{long + "yz\n"}, []string{partial(long), "yz"}},
		{"twice the cap, no empty line", []string{long, long, "\n"}, []string{partial(long), long}},
		{"twice the cap with crlf", []string{long + long + "\r", "\nz\n"}, []string{partial(long), long, "z"}},
		{"cap before a multi-byte rune", []string{long[1:] + "é\n"}, []string{partial(long[1:]), "é"}},
		{"cap reached without newline", []string{long + "tail"}, []string{partial(long), "tail"}},
		// The piece is the whole line once the '\n' removes the '\r': it
		// must not be sent as partial before that is known.
		{"cap then crlf split across writes", []string{long + "\r", "\nz\n"}, []string{long, "z"}},
		{"cap then lone cr at close", []string{long + "\r"}, []string{long}},
		{"cap then cr kept", []string{long + "\r", "\r\n"}, []string{partial(long), "\r"}},
		{"four pieces", []string{strings.Repeat(long, 3) + "end\n"}, []string{partial(long), partial(long), partial(long), "end"}},
	}
	for _, tt := range tests {
		for _, how := range []string{"Write", "io.Copy"} {
			t.Run(tt.name+"/"+how, func(t *testing.T) {
				r := &recorder{}
				w := LineWriter(r, "web1", 2, Stderr)
				if how == "io.Copy" {
					// io.Copy takes the writer's ReadFrom, as x/crypto's
					// sessions do; the reader hands out the same chunks.
					var total int
					for _, s := range tt.writes {
						total += len(s)
					}
					n, err := io.Copy(w, &chunks{parts: tt.writes})
					if n != int64(total) || err != nil {
						t.Fatalf("io.Copy = %d, %v; want %d", n, err, total)
					}
				}
				for _, s := range tt.writes {
					if how != "Write" {
						break
					}
					if n, err := w.Write([]byte(s)); n != len(s) || err != nil {
						t.Fatalf("Write(%d bytes) = %d, %v", len(s), n, err)
					}
				}
				if err := w.Close(); err != nil {
					t.Fatal(err)
				}
				var got []string
				for _, l := range r.lines {
					if l.Host != "web1" || l.Step != 2 || l.Stream != Stderr || l.Time.IsZero() {
						t.Errorf("line %+v lacks the writer's host, step, stream or time", l)
					}
					text := l.Text
					if l.Partial {
						text = partial(text)
					}
					got = append(got, text)
				}
				if fmt.Sprintf("%q", got) != fmt.Sprintf("%q", tt.want) {
					t.Errorf("lines %s, want %s", shorten(got), shorten(tt.want))
				}
			})
		}
	}
}

// chunks reads its parts one Read at a time (each at most the caller's
// buffer), as a channel delivers packets.
type chunks struct{ parts []string }

func (c *chunks) Read(p []byte) (int, error) {
	for len(c.parts) > 0 && c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	return n, nil
}

// shorten describes lines by length and ends, so that a failure with 64 KiB
// lines stays readable.
func shorten(lines []string) string {
	var b strings.Builder
	for _, l := range lines {
		tag := ""
		if strings.HasSuffix(l, partialTag) {
			l, tag = strings.TrimSuffix(l, partialTag), " (partial)"
		}
		if len(l) > 20 {
			l = fmt.Sprintf("%s…(%d bytes)…%s", l[:5], len(l), l[len(l)-5:])
		}
		l += tag
		fmt.Fprintf(&b, "%q ", l)
	}
	return b.String()
}

func TestLineWriterAfterClose(t *testing.T) {
	w := LineWriter(&recorder{}, "web1", 0, Stdout)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v, want nil", err)
	}
	if _, err := w.Write([]byte("late\n")); err == nil || !strings.Contains(err.Error(), "after Close") {
		t.Errorf("Write after Close: %v, want an error saying so", err)
	}
}
