package report

import (
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/term"
)

// PlayProgressOptions configure NewPlayProgress. The zero value is the
// default.
type PlayProgressOptions struct {
	// Width is the terminal's width in columns; the status line is cut to
	// fit it, since a line that wraps cannot be erased in place. 0 asks the
	// terminal, or assumes 80.
	Width int
	// Delay is how long a task runs before its status line appears:
	// short tasks never show one. 0 means one second.
	Delay time.Duration
	// Interval is the time between two redraws of the line. 0 means
	// 250 ms.
	Interval time.Duration
}

// Defaults of PlayProgressOptions.
const (
	defaultProgressDelay    = time.Second
	defaultProgressInterval = 250 * time.Millisecond
	defaultProgressWidth    = 80
)

// ANSI: back to the first column and erase the line.
const eraseLine = "\r\x1b[2K"

// PlayProgress passes every event to an inner PlaySink and, while a task
// has run longer than PlayProgressOptions.Delay, keeps one status line at
// the bottom of the terminal, redrawn in place a few times a second,
// "  [3/500 hosts done, 12s] TASK copy config" (indented by two spaces),
// so that a long task at 500 hosts shows that it moves. With tasks of a
// parallel block running together, the line names the newest and how many
// more run ("(+2 more)"). The line is erased before every event reaches
// the inner sink, so that the inner sink's lines never mix with it, and
// when the task ends: when each of its TaskStart.Hosts hosts sent a result
// that is not a loop item's, or when another task, play or the recap
// starts.
//
// The line is drawn with ANSI codes, so it belongs on a terminal only:
// NewPlayProgress returns the inner sink itself for a file that is not
// one. Output written to the same terminal other than through the inner
// sink may mix with the line.
//
// The goroutine that redraws the line runs only while a task does; Close
// stops it and waits for it. All methods are safe for concurrent use;
// events reach the inner sink one at a time.
type PlayProgress struct {
	w     io.Writer
	inner PlaySink
	opt   PlayProgressOptions
	now   func() time.Time

	mu     sync.Mutex // guards what follows, every call of inner and every write to w
	active []*progressTask
	drawn  bool          // the line is on the terminal
	stop   chan struct{} // closed to stop the running ticker; nil when none runs
	closed bool

	wg sync.WaitGroup // the ticker goroutines
}

// progressTask is a task whose hosts are still running it.
type progressTask struct {
	name, parallel string
	hosts, done    int
	start          time.Time
}

// NewPlayProgress returns a sink that passes every event to inner and
// draws a status line for long tasks on w, a terminal. If w is an
// *os.File that is not a terminal, it returns inner: the line is never
// drawn into a file or a pipe. Closing the returned sink closes inner.
func NewPlayProgress(w io.Writer, inner PlaySink, opt PlayProgressOptions) PlaySink {
	if f, ok := w.(*os.File); ok {
		if !term.IsTerminal(int(f.Fd())) {
			return inner
		}
		if opt.Width <= 0 {
			if cols, _, err := term.GetSize(int(f.Fd())); err == nil && cols > 0 {
				opt.Width = cols
			}
		}
	}
	if opt.Width <= 0 {
		opt.Width = defaultProgressWidth
	}
	if opt.Delay <= 0 {
		opt.Delay = defaultProgressDelay
	}
	if opt.Interval <= 0 {
		opt.Interval = defaultProgressInterval
	}
	return &PlayProgress{w: w, inner: inner, opt: opt, now: time.Now}
}

// Play ends the tasks of the previous play and passes p on.
func (p *PlayProgress) Play(ps PlayStart) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endTasksLocked()
	p.inner.Play(ps)
}

// Task starts timing t and passes it on. A task that is not in the
// parallel block of the task before it ends the tasks before it.
func (p *PlayProgress) Task(t TaskStart) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eraseLocked()
	if n := len(p.active); t.Parallel == "" || n == 0 || p.active[n-1].parallel != t.Parallel {
		p.active = p.active[:0]
	}
	p.inner.Task(t)
	if p.closed {
		return
	}
	p.active = append(p.active, &progressTask{name: t.Name, parallel: t.Parallel, hosts: t.Hosts, start: p.now()})
	if p.stop == nil {
		p.stop = make(chan struct{})
		p.wg.Add(1)
		go p.tick(p.stop)
	}
}

// Result passes r on and counts its host done with the task, unless r is
// a loop item's.
func (p *PlayProgress) Result(r TaskResult) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eraseLocked()
	p.inner.Result(r)
	if r.HasItem {
		return
	}
	for i := len(p.active) - 1; i >= 0; i-- {
		t := p.active[i]
		if t.name != r.Task {
			continue
		}
		t.done++
		if t.hosts > 0 && t.done >= t.hosts {
			p.active = append(p.active[:i], p.active[i+1:]...)
			if len(p.active) == 0 {
				p.stopTickerLocked()
			}
		}
		return
	}
}

// Warn passes msg on.
func (p *PlayProgress) Warn(msg string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.eraseLocked()
	p.inner.Warn(msg)
}

// Retry passes a retry on, if the inner sink shows them.
func (p *PlayProgress) Retry(host, task string, left int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if rs, ok := p.inner.(RetrySink); ok {
		p.eraseLocked()
		rs.Retry(host, task, left)
	}
}

// Recap ends every task and passes rows on.
func (p *PlayProgress) Recap(rows []RecapRow) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.endTasksLocked()
	p.inner.Recap(rows)
}

// Close erases the line for good, stops the goroutine that draws it and
// waits for it, then closes the inner sink and returns its error. Errors
// writing the line itself are ignored: it is decoration.
func (p *PlayProgress) Close() error {
	p.mu.Lock()
	p.endTasksLocked()
	p.closed = true
	p.mu.Unlock()
	p.wg.Wait()
	return p.inner.Close()
}

// endTasksLocked erases the line and forgets every running task. p.mu
// must be held.
func (p *PlayProgress) endTasksLocked() {
	p.eraseLocked()
	p.active = p.active[:0]
	p.stopTickerLocked()
}

// stopTickerLocked tells the running ticker goroutine, if any, to return.
// It returns without waiting: the goroutine may be waiting for p.mu.
// Close waits for it. p.mu must be held.
func (p *PlayProgress) stopTickerLocked() {
	if p.stop != nil {
		close(p.stop)
		p.stop = nil
	}
}

// tick redraws the line every Interval until stop is closed.
func (p *PlayProgress) tick(stop chan struct{}) {
	defer p.wg.Done()
	t := time.NewTicker(p.opt.Interval)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		p.mu.Lock()
		select {
		case <-stop: // stopped while waiting for the lock: the line must stay erased
			p.mu.Unlock()
			return
		default:
		}
		p.redrawLocked()
		p.mu.Unlock()
	}
}

// redrawLocked draws the line for the newest running task, once it has
// run for Delay. p.mu must be held.
func (p *PlayProgress) redrawLocked() {
	if len(p.active) == 0 {
		return
	}
	t := p.active[len(p.active)-1]
	elapsed := p.now().Sub(t.start)
	if elapsed < p.opt.Delay {
		return
	}
	line := p.statusLine(t, elapsed, len(p.active)-1)
	_, _ = io.WriteString(p.w, eraseLine+line)
	p.drawn = true
}

// statusLine is the text of the line, cut to one column less than the
// terminal's width so that it never wraps.
func (p *PlayProgress) statusLine(t *progressTask, elapsed time.Duration, more int) string {
	done := strconv.Itoa(t.done)
	if t.hosts > 0 {
		done += "/" + strconv.Itoa(t.hosts)
	}
	// A control character in a task name (a newline) would break the line.
	name := strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, t.name)
	line := "  [" + done + " hosts done, " + formatElapsed(elapsed) + "] TASK " + name
	if more > 0 {
		line += fmt.Sprintf(" (+%d more)", more)
	}
	if limit := p.opt.Width - 1; utf8.RuneCountInString(line) > limit {
		line = string([]rune(line)[:max(limit, 0)])
	}
	return line
}

// eraseLocked erases the line if it is drawn. p.mu must be held.
func (p *PlayProgress) eraseLocked() {
	if p.drawn {
		_, _ = io.WriteString(p.w, eraseLine)
		p.drawn = false
	}
}

// formatElapsed writes whole seconds: "12s", "3m05s", "1h02m03s".
func formatElapsed(d time.Duration) string {
	s := int(d / time.Second)
	switch {
	case s < 60:
		return fmt.Sprintf("%ds", s)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm%02ds", s/3600, s/60%60, s%60)
}
