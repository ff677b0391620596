package report

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"
)

// ANSI sequences the bar writes: it ends each frame by erasing the rest of
// the line, and clears its line before output from Writer and at Close.
const (
	eraseToEOL = "\x1b[0K"
	clearLine  = "\x1b[2K\r"
)

// lastFrame returns the last bar drawn in out: the text after the last
// carriage return that starts a frame.
func lastFrame(t *testing.T, out string) string {
	t.Helper()
	end := strings.LastIndex(out, eraseToEOL)
	if end < 0 {
		t.Fatalf("no bar drawn in %q", out)
	}
	start := strings.LastIndex(out[:end], "\r")
	return out[start+1 : end]
}

func TestProgressDraws(t *testing.T) {
	defer goleak.VerifyNone(t) // the bar must start no spinner goroutine of its own
	var b bytes.Buffer
	p := NewProgress(&b, 3)
	if b.Len() != 0 {
		t.Errorf("NewProgress drew %q before any event", b.String())
	}
	p.AddTotal(5 << 20)
	p.Add(512 << 10)
	p.Add(512 << 10)
	p.HostDone()
	frame := lastFrame(t, b.String())
	for _, want := range []string{"hosts 1/3", "1.0/5.0 MiB", "20%", "/s"} {
		if !strings.Contains(frame, want) {
			t.Errorf("bar %q does not show %q", frame, want)
		}
	}

	// Bytes sent may catch up with the total while hosts still plan; the
	// bar must go on drawing as the total grows.
	p.Add(4 << 20)
	p.HostDone()
	p.AddTotal(5 << 20)
	p.HostDone()
	frame = lastFrame(t, b.String())
	for _, want := range []string{"hosts 3/3", "5.0/10 MiB", "50%"} {
		if !strings.Contains(frame, want) {
			t.Errorf("bar %q does not show %q", frame, want)
		}
	}
	p.Close()
}

func TestProgressThrottlesAdd(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 1)
	defer p.Close()
	p.AddTotal(1 << 30) // draws the first frame
	for range 10000 {
		p.Add(1)
	}
	// 10000 Adds take far less than 100 redraw intervals (10s), even under
	// the race detector on a busy machine.
	if frames := strings.Count(b.String(), eraseToEOL); frames > 100 {
		t.Errorf("10000 Adds drew %d frames; Add must not redraw more than every 100ms", frames)
	}
}

func TestProgressWriter(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 2)
	w := p.Writer(&b)

	// Before the bar is drawn there is nothing to clear.
	fmt.Fprint(w, "first\n")
	if b.String() != "first\n" {
		t.Fatalf("output %q before the bar was drawn, want the line alone", b.String())
	}

	p.AddTotal(100)
	b.Reset()
	fmt.Fprint(w, "web01 | hello\n")
	out := b.String()
	if !strings.HasPrefix(out, clearLine+"web01 | hello\n") {
		t.Errorf("output %q: want the bar's line cleared, then the line", out)
	}
	if rest := strings.TrimPrefix(out, clearLine+"web01 | hello\n"); !strings.Contains(rest, "hosts 0/2") {
		t.Errorf("output after the line %q: want the bar redrawn", rest)
	}

	p.Close()
	if !strings.HasSuffix(b.String(), clearLine) {
		t.Errorf("output %q: want Close to clear the bar", b.String())
	}
	p.Close() // a second Close does nothing
	b.Reset()
	fmt.Fprint(w, "web02 | after\n")
	p.Add(50)
	p.AddTotal(50)
	p.HostDone()
	if b.String() != "web02 | after\n" {
		t.Errorf("output after Close %q, want only the line written", b.String())
	}
}

// errWriter fails every write.
type errWriter struct{}

func (errWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestProgressWriterError(t *testing.T) {
	var b bytes.Buffer
	p := NewProgress(&b, 1)
	defer p.Close()
	p.AddTotal(10)
	if _, err := p.Writer(errWriter{}).Write([]byte("x\n")); err != io.ErrClosedPipe {
		t.Errorf("Write through a failing writer returned %v, want its error", err)
	}
}

// TestProgressConcurrent sends bytes, lines and finished hosts from many
// goroutines at once; run it with -race. Every line must reach the
// terminal whole, on a cleared line, and the last bar must show the final
// counts.
func TestProgressConcurrent(t *testing.T) {
	const hosts, writes, chunk = 20, 200, 1 << 10
	var b bytes.Buffer
	p := NewProgress(&b, hosts)
	out := p.Writer(&b)
	p.AddTotal(0) // draw, so that every line below has a bar to clear
	var wg sync.WaitGroup
	for h := range hosts {
		wg.Go(func() {
			p.AddTotal(writes * chunk)
			for i := range writes {
				p.Add(chunk)
				if i%50 == 0 {
					fmt.Fprintf(out, "h%d line %d\n", h, i)
				}
			}
			p.HostDone()
		})
	}
	wg.Wait()
	got := b.String()
	frame := lastFrame(t, got)
	for _, want := range []string{fmt.Sprintf("hosts %d/%d", hosts, hosts), "3.9/3.9 MiB"} {
		if !strings.Contains(frame, want) {
			t.Errorf("last bar %q does not show %q", frame, want)
		}
	}
	p.Close()
	for h := range hosts {
		for i := 0; i < writes; i += 50 {
			line := fmt.Sprintf("%sh%d line %d\n\r", clearLine, h, i) // cleared before, redrawn after
			if !strings.Contains(got, line) {
				t.Fatalf("output lacks %q: a line mixed with the bar", line)
			}
		}
	}
}
