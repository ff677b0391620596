package report

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// fakeTTY stands for a terminal: it keeps what was written, safe for the
// ticker goroutine and the test to use at once.
type fakeTTY struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (f *fakeTTY) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.Write(p)
}

func (f *fakeTTY) String() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.buf.String()
}

// fakeClock is a settable time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// redraw does what one tick of the ticker does.
func (p *PlayProgress) redraw() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redrawLocked()
}

// newTestProgress returns a progress sink over a text sink, both writing
// to one fake terminal, on a fake clock, with a ticker too slow to ever
// fire: the test draws with redraw.
func newTestProgress(t *testing.T, width int) (*PlayProgress, *fakeTTY, *fakeClock) {
	t.Helper()
	tty := &fakeTTY{}
	clock := &fakeClock{t: time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)}
	p := NewPlayProgress(tty, NewPlayText(tty, PlayTextOptions{}), PlayProgressOptions{Width: width, Interval: time.Hour}).(*PlayProgress)
	p.now = clock.now
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Error(err)
		}
	})
	return p, tty, clock
}

func TestPlayProgressLine(t *testing.T) {
	p, tty, clock := newTestProgress(t, 80)
	p.Task(TaskStart{Name: "copy", Module: "copy", Hosts: 3})
	banner := "\nTASK [copy] ********************************************************************\n"

	clock.advance(900 * time.Millisecond)
	p.redraw()
	if got := tty.String(); got != banner {
		t.Fatalf("a task younger than a second drew %q", strings.TrimPrefix(got, banner))
	}

	clock.advance(11 * time.Second)
	p.redraw()
	p.Result(TaskResult{Host: "h1", Task: "copy", Status: TaskChanged})
	p.Result(TaskResult{Host: "h2", Task: "copy", Status: TaskOK, Item: "a", HasItem: true}) // an item: not done yet
	clock.advance(63 * time.Second)
	p.redraw()
	p.redraw()
	p.Result(TaskResult{Host: "h2", Task: "copy", Status: TaskOK, Loop: true})
	p.Result(TaskResult{Host: "h3", Task: "copy", Status: TaskOK})
	p.redraw() // the task is over: nothing more
	want := banner +
		"\r\x1b[2K  [0/3 hosts done, 11s] TASK copy" +
		"\r\x1b[2K" + "changed: [h1]\n" +
		"ok: [h2] => (item=a)\n" +
		"\r\x1b[2K  [1/3 hosts done, 1m14s] TASK copy" +
		"\r\x1b[2K  [1/3 hosts done, 1m14s] TASK copy" +
		"\r\x1b[2K" + "ok: [h3]\n"
	if got := tty.String(); got != want {
		t.Errorf("terminal got\n%q\nwant\n%q", got, want)
	}
}

func TestPlayProgressEndsAtNextTaskAndRecap(t *testing.T) {
	p, tty, clock := newTestProgress(t, 80)
	p.Task(TaskStart{Name: "a", Module: "command", Hosts: 2})
	clock.advance(2 * time.Second)
	p.redraw()
	p.Task(TaskStart{Name: "b", Module: "command", Hosts: 2})
	p.redraw() // b just started
	clock.advance(2 * time.Second)
	p.redraw()
	p.Recap(nil)
	p.redraw()
	got := tty.String()
	for _, want := range []string{
		"  [0/2 hosts done, 2s] TASK a\r\x1b[2K\nTASK [b]",
		"  [0/2 hosts done, 2s] TASK b\r\x1b[2K\nPLAY RECAP",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("terminal %q lacks %q", got, want)
		}
	}
	if strings.HasSuffix(got, "TASK b") || strings.Count(got, "TASK b") != 1 {
		t.Errorf("line drawn after the recap: %q", got)
	}
}

func TestPlayProgressParallelAndWidth(t *testing.T) {
	p, tty, clock := newTestProgress(t, 40)
	p.Task(TaskStart{Name: "first", Parallel: "p", Hosts: 2})
	p.Task(TaskStart{Name: "second\nline of a very long name", Parallel: "p", Hosts: 2})
	clock.advance(5 * time.Second)
	p.redraw()
	line := tty.String()[strings.LastIndex(tty.String(), "\r\x1b[2K")+len("\r\x1b[2K"):]
	if want := "  [0/2 hosts done, 5s] TASK second line"; line != want {
		t.Errorf("line %q, want %q (cut to 39 columns, newline replaced)", line, want)
	}
	// The second ends on both hosts; the first still runs and is shown,
	// with the other task gone from the count.
	p.Result(TaskResult{Host: "h1", Task: "second\nline of a very long name"})
	p.Result(TaskResult{Host: "h2", Task: "second\nline of a very long name"})
	p.Result(TaskResult{Host: "h1", Task: "first"})
	p.redraw()
	line = tty.String()[strings.LastIndex(tty.String(), "\r\x1b[2K")+len("\r\x1b[2K"):]
	if want := "  [1/2 hosts done, 5s] TASK first"; line != want {
		t.Errorf("line %q, want %q", line, want)
	}

	p.Task(TaskStart{Name: "third", Parallel: "q", Hosts: 1})
	p.Task(TaskStart{Name: "fourth", Parallel: "q", Hosts: 1})
	clock.advance(2 * time.Second)
	p.redraw()
	line = tty.String()[strings.LastIndex(tty.String(), "\r\x1b[2K")+len("\r\x1b[2K"):]
	if want := "  [0/1 hosts done, 2s] TASK fourth (+1 "; line != want {
		t.Errorf("line %q, want %q", line, want)
	}
}

// TestPlayProgressTicker runs the real ticker: the line appears by itself
// for a long task, and no goroutine outlives Close.
func TestPlayProgressTicker(t *testing.T) {
	defer goleak.VerifyNone(t)
	tty := &fakeTTY{}
	s := NewPlayProgress(tty, NewPlayText(tty, PlayTextOptions{}), PlayProgressOptions{Delay: time.Millisecond, Interval: 5 * time.Millisecond})
	s.Task(TaskStart{Name: "slow", Hosts: 1})
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(tty.String(), "[0/1 hosts done, 0s] TASK slow") {
		if time.Now().After(deadline) {
			t.Fatalf("no status line after 10s; terminal: %q", tty.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	s.Result(TaskResult{Host: "h1", Task: "slow", Status: TaskOK})
	s.Task(TaskStart{Name: "next", Hosts: 1}) // starts a ticker again
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	got := tty.String()
	if tail := got[strings.LastIndex(got, "ok: [h1]\n"):]; strings.Contains(tail, "TASK slow") {
		t.Errorf("status line drawn after its task ended: %q", tail)
	}
	if !strings.HasSuffix(got, "\r\x1b[2K") && !strings.HasSuffix(got, "*\n") {
		t.Errorf("Close left a status line on the terminal: %q", got)
	}
}

// TestPlayProgressNotATerminal checks that a file that is not a terminal
// gets the inner sink itself: no status line ever.
func TestPlayProgressNotATerminal(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	inner := NewPlayText(f, PlayTextOptions{})
	if s := NewPlayProgress(f, inner, PlayProgressOptions{}); s != PlaySink(inner) {
		t.Errorf("NewPlayProgress on a regular file returned %T, want the inner sink", s)
	}
}

func TestFormatElapsed(t *testing.T) {
	for d, want := range map[time.Duration]string{
		0:                                     "0s",
		59*time.Second + 999*time.Millisecond: "59s",
		65 * time.Second:                      "1m05s",
		3723 * time.Second:                    "1h02m03s",
	} {
		if got := formatElapsed(d); got != want {
			t.Errorf("formatElapsed(%v) = %q, want %q", d, got, want)
		}
	}
}
