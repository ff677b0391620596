package report

import (
	"io"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressThrottle is the least time between two redraws caused by Add or
// AddTotal: often enough to look live, rare enough that Add costs a few
// atomic operations.
const progressThrottle = 100 * time.Millisecond

// Progress draws one line on a terminal: bytes sent/total, rate, and hosts
// done/total, such as
//
//	hosts 3/10  45% |█████████           | (1.2/2.7 MiB, 3.4 MiB/s) [2s]
//
// It moves the cursor with ANSI escape codes, so it belongs on a terminal
// only. Output printed on the same terminal while it is drawn must go
// through Writer, or the bar and the output overwrite each other. Errors
// writing the bar are ignored: it is decoration, and the output that
// matters goes through Writer, which returns its errors.
//
// All methods are safe for concurrent use; after Close they do nothing.
type Progress struct {
	hosts int

	sent, total, done atomic.Int64
	next              atomic.Int64 // UnixNano before which Add and AddTotal do not redraw
	closed            atomic.Bool

	mu sync.Mutex // guards what follows and every write to the terminal
	// bar is only drawn and cleared under mu; it starts no goroutine
	// (see NewProgress), so nothing else writes to the terminal.
	bar     *progressbar.ProgressBar
	drawn   bool  // the bar has been drawn; Writer must clear it
	barMax  int64 // the maximum bar was last given
	barSent int64 // the bytes bar was last given
	desc    string
}

// NewProgress returns a Progress drawing on w, a terminal, for a transfer
// to or from hosts hosts. It draws nothing until the first event.
func NewProgress(w io.Writer, hosts int) *Progress {
	p := &Progress{hosts: hosts, barMax: 1}
	p.desc = p.hostsText(0)
	p.bar = progressbar.NewOptions64(p.barMax,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(p.desc),
		progressbar.OptionSetWidth(20),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowCount(), // "sent/total"
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionUseIECUnits(true), // as HumanBytes and the live sink print sizes
		// The total grows while hosts plan, so a time left would lie;
		// the time spent does not.
		progressbar.OptionSetPredictTime(false),
		progressbar.OptionSetElapsedTime(true),
		// Erase and redraw the line with ANSI codes rather than by
		// overwriting it with spaces, which wrap on a narrow terminal.
		progressbar.OptionUseANSICodes(true),
		// Progress throttles redraws itself: the bar's own throttle would
		// also drop the redraw that must follow a line from Writer.
		progressbar.OptionThrottle(0),
		// With a zero interval the bar starts no goroutine of its own to
		// animate a spinner, so every write to w happens under p.mu.
		progressbar.OptionSetSpinnerChangeInterval(0),
	)
	// Rates count from now, not from the first redraw, which would make
	// the first rate shown absurdly high.
	p.bar.StartWithoutRender()
	return p
}

// hostsText is the bar's description, "hosts 3/10". The bar pads the
// percentage after it to four columns, and it never reaches 100% (see
// redrawLocked), so the two never touch.
func (p *Progress) hostsText(done int64) string {
	return "hosts " + strconv.FormatInt(done, 10) + "/" + strconv.Itoa(p.hosts)
}

// AddTotal adds n to the bytes planned. Hosts plan concurrently, so the
// total grows while bytes are already being sent.
func (p *Progress) AddTotal(n int64) {
	if p.closed.Load() {
		return
	}
	p.total.Add(n)
	p.maybeRedraw()
}

// Add adds n to the bytes sent. It is cheap enough to call for every write
// of a transfer: it redraws at most every 100 ms.
func (p *Progress) Add(n int64) {
	if p.closed.Load() {
		return
	}
	p.sent.Add(n)
	p.maybeRedraw()
}

// HostDone counts one more host as finished, and redraws at once.
func (p *Progress) HostDone() {
	if p.closed.Load() {
		return
	}
	p.done.Add(1)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redrawLocked()
}

// Writer returns w wrapped so that each Write first clears the bar's line,
// then writes, then redraws the bar: output lines printed on the same
// terminal never mix with the bar. Each Write should be whole lines, as
// the sinks of this package write. After Close, writes pass straight to w.
func (p *Progress) Writer(w io.Writer) io.Writer {
	return &progressWriter{p: p, w: w}
}

// Close clears the bar for good; later calls, and calls of the other
// methods, do nothing.
func (p *Progress) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed.Swap(true) {
		return
	}
	if p.drawn {
		_ = p.bar.Clear()
		p.drawn = false
	}
}

// maybeRedraw redraws unless a redraw happened less than progressThrottle
// ago. Of goroutines that find the time has come, only the one that wins
// the compare-and-swap redraws; the others return at once.
func (p *Progress) maybeRedraw() {
	now := time.Now().UnixNano()
	next := p.next.Load()
	if now < next || !p.next.CompareAndSwap(next, now+int64(progressThrottle)) {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.redrawLocked()
}

// redrawLocked draws the bar with the current counts. p.mu must be held.
func (p *Progress) redrawLocked() {
	if p.closed.Load() {
		return
	}
	p.next.Store(time.Now().Add(progressThrottle).UnixNano())
	sent, total := p.sent.Load(), p.total.Load()
	// The bar ends for good, and stops drawing, once its count reaches its
	// maximum; but here the total may grow after all bytes planned so far
	// were sent. Keeping the maximum above the count keeps the bar alive
	// until Close.
	barMax := max(total, sent+1)
	// Each of these calls redraws the bar with what it was told so far;
	// the last call made draws the whole state.
	rendered := false
	if desc := p.hostsText(p.done.Load()); desc != p.desc {
		p.desc = desc
		p.bar.Describe(desc)
		rendered = true
	}
	if barMax != p.barMax {
		p.barMax = barMax
		p.bar.ChangeMax64(barMax)
		rendered = true
	}
	if sent != p.barSent {
		p.barSent = sent
		_ = p.bar.Set64(sent)
		rendered = true
	}
	if !rendered {
		p.bar.Describe(p.desc) // draws again what was cleared
	}
	p.drawn = true
}

type progressWriter struct {
	p *Progress
	w io.Writer
}

func (pw *progressWriter) Write(b []byte) (int, error) {
	p := pw.p
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.drawn {
		return pw.w.Write(b)
	}
	_ = p.bar.Clear()
	n, err := pw.w.Write(b)
	p.redrawLocked()
	return n, err
}
