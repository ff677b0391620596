package report

import (
	"bytes"
	"errors"
	"io"
	"sync"
	"time"
	"unicode/utf8"
)

// MaxLineBytes caps the length of one Line. A longer line (a minified file,
// a progress bar without newlines) is sent in pieces of at most this size,
// so one host cannot make a sink hold unbounded output. Every piece but the
// last has Line.Partial set, so that sinks can say so and programs can join
// the pieces again.
const MaxLineBytes = 64 << 10

// errWriteAfterClose is returned by a LineWriter's Write after its Close.
var errWriteAfterClose = errors.New("report: line writer: write after Close; the step's output is already finished")

// LineWriter returns an io.WriteCloser that splits the bytes written to it
// into lines and sends each to s as a Line of the given host, step and
// stream, stamped with the time it was completed. A "\r\n" ending counts as
// a newline; lines longer than MaxLineBytes are sent in pieces, each but
// the last marked Partial; invalid UTF-8 is passed through as it is. Close
// sends a final line that lacks its newline. The writer is safe for concurrent use, but give each stream its
// own writer: writers do not coordinate with each other.
func LineWriter(s Sink, host string, step int, stream Stream) io.WriteCloser {
	return &lineWriter{sink: s, host: host, step: step, stream: stream}
}

type lineWriter struct {
	sink   Sink
	host   string
	step   int
	stream Stream

	mu     sync.Mutex
	buf    []byte // the current line, not yet complete
	closed bool
}

// Write sends every complete line in p and keeps the rest for the next
// Write or Close. It always consumes all of p unless the writer is closed.
func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, errWriteAfterClose
	}
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) > MaxLineBytes && w.sendPiece(false) {
			}
			break
		}
		w.buf = append(w.buf, p[:i]...)
		p = p[i+1:]
		w.sendLine()
	}
	return n, nil
}

// copyBufs are the buffers ReadFrom reads into, shared by every stream.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// ReadFrom reads r to its end and writes what it reads as Write does. It
// is there for io.Copy, which x/crypto/ssh uses for every command's
// stdout and stderr: without it, io.Copy allocates a 32 KiB buffer per
// stream, the bulk of a run's allocations (bench/README.md, S1).
func (w *lineWriter) ReadFrom(r io.Reader) (int64, error) {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	var total int64
	for {
		n, err := r.Read(buf)
		if n > 0 {
			total += int64(n)
			if _, werr := w.Write(buf[:n]); werr != nil {
				return total, werr
			}
		}
		switch {
		case err == io.EOF:
			return total, nil
		case err != nil:
			return total, err
		}
	}
}

// Close sends the final partial line, if any. Closing twice is harmless.
func (w *lineWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if len(w.buf) > 0 {
		w.sendLine()
	}
	w.buf = nil
	return nil
}

// sendLine sends the buffered line, which ended at a newline (or Close).
func (w *lineWriter) sendLine() {
	w.buf = bytes.TrimSuffix(w.buf, []byte{'\r'})
	for len(w.buf) > MaxLineBytes {
		w.sendPiece(true)
	}
	w.emit(w.buf, false)
	w.buf = w.buf[:0]
}

// sendPiece sends the first MaxLineBytes (or a little less) of an overlong
// line as a partial Line and keeps the rest. Until the line has ended, it
// sends nothing and returns false when the rest would be only a '\r' that
// a '\n' may yet remove: the piece would then be the line's last, and
// that is not known yet.
func (w *lineWriter) sendPiece(lineEnded bool) bool {
	cut := MaxLineBytes
	// Cut before a multi-byte character rather than through it, and keep a
	// trailing '\r' with the rest so that a following '\n' still removes it.
	for back := 0; back < utf8.UTFMax-1 && !utf8.RuneStart(w.buf[cut]); back++ {
		cut--
	}
	if !utf8.RuneStart(w.buf[cut]) {
		cut = MaxLineBytes // not UTF-8 anyway: cut where the cap says
	}
	if w.buf[cut-1] == '\r' {
		cut--
	}
	if !lineEnded && len(w.buf)-cut == 1 && w.buf[cut] == '\r' {
		return false
	}
	w.emit(w.buf[:cut], true)
	w.buf = append(w.buf[:0], w.buf[cut:]...)
	return true
}

func (w *lineWriter) emit(text []byte, partial bool) {
	w.sink.Line(Line{Host: w.host, Step: w.step, Stream: w.stream, Text: string(text), Time: time.Now(), Partial: partial})
}
