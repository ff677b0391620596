package report

import (
	"strconv"
	"time"
)

// Action says what a transfer did (or, in a dry run, would do) to one path.
type Action string

// The actions of a transfer on one path.
const (
	Created    Action = "created"   // a new file, link or directory
	Updated    Action = "updated"   // content replaced
	Metadata   Action = "metadata"  // only mode, mtime or owner changed
	Deleted    Action = "deleted"   // removed because absent at the source (--delete)
	Unchanged  Action = "unchanged" // already as at the source
	FileFailed Action = "failed"    // could not be transferred; FileResult.Err says why
)

// FileResult ends the transfer of one path to or from one host.
type FileResult struct {
	Host   string
	Path   string // the path written: remote on push, local on pull
	Action Action
	Bytes  int64 // content bytes sent for this path
	DryRun bool  // nothing was changed; Action says what would have been done
	Err    error // set with FileFailed
	Time   time.Time
}

// TransferStats sums a host's transfer, for its HostResult.
type TransferStats struct {
	Changed, Unchanged, Deleted, Failed int   // Changed counts Created+Updated+Metadata
	Bytes                               int64 // content bytes sent
	DryRun                              bool  // nothing was changed; the counts say what would have been
	Fetched                             bool  // a pull: Bytes came from the host rather than went to it
}

// FileSink is implemented by sinks that report single paths of a
// transfer. The runner passes each FileResult to a Sink that implements
// it; the value of Multi always does.
type FileSink interface{ File(FileResult) }

// binaryUnits are the units HumanBytes steps through, each 1024 times the
// one before.
var binaryUnits = []string{"KiB", "MiB", "GiB", "TiB", "PiB", "EiB"}

// HumanBytes formats n bytes for people, in binary units with one decimal
// above bytes: "0 B", "512 B", "1.5 KiB", "64.0 MiB", "1.2 GiB".
func HumanBytes(n int64) string {
	if n < 0 {
		// Only a caller's bug gets here; say what it passed rather than hide it.
		if n == -n { // math.MinInt64 has no positive counterpart
			return strconv.FormatInt(n, 10) + " B"
		}
		return "-" + HumanBytes(-n)
	}
	if n < 1024 {
		return strconv.FormatInt(n, 10) + " B"
	}
	v := float64(n)
	for i, unit := range binaryUnits {
		v /= 1024
		// Move up a unit when rounding would print 1024.0 of this one.
		if v < 1023.95 || i == len(binaryUnits)-1 {
			return strconv.FormatFloat(v, 'f', 1, 64) + " " + unit
		}
	}
	panic("unreachable")
}

// text is how output names what happened to the path: "created /srv/a
// (1.2 KiB)", "would create /srv/a (1.2 KiB)", "failed /srv/b: why".
func (r FileResult) text() string {
	if r.Action == FileFailed {
		text := "failed " + r.Path
		if r.Err != nil {
			text += ": " + r.Err.Error()
		}
		return text
	}
	text := r.verb() + " " + r.Path
	if (r.Action == Created || r.Action == Updated) && r.Bytes > 0 {
		text += " (" + HumanBytes(r.Bytes) + ")"
	}
	return text
}

// verb returns how a live line names the action: "created", or in a dry
// run "would create".
func (r FileResult) verb() string {
	if !r.DryRun {
		return string(r.Action)
	}
	switch r.Action {
	case Created:
		return "would create"
	case Updated:
		return "would update"
	case Metadata:
		return "would change metadata of"
	case Deleted:
		return "would delete"
	}
	return string(r.Action)
}

// summaryText is the line the live sink prints for a host's transfer:
// "3 changed, 297 unchanged, 1 deleted, 1.2 MiB sent" or, in a dry run,
// "would change 3, 297 unchanged, would delete 1 (1.2 MiB to send)".
func (t *TransferStats) summaryText() string {
	b := make([]byte, 0, 80)
	if t.DryRun {
		b = append(b, "would change "...)
		b = strconv.AppendInt(b, int64(t.Changed), 10)
	} else {
		b = strconv.AppendInt(b, int64(t.Changed), 10)
		b = append(b, " changed"...)
	}
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(t.Unchanged), 10)
	b = append(b, " unchanged"...)
	if t.Deleted > 0 {
		b = append(b, ", "...)
		if t.DryRun {
			b = append(b, "would delete "...)
			b = strconv.AppendInt(b, int64(t.Deleted), 10)
		} else {
			b = strconv.AppendInt(b, int64(t.Deleted), 10)
			b = append(b, " deleted"...)
		}
	}
	if t.DryRun {
		b = appendFailed(b, t.Failed)
		b = append(b, " ("...)
		b = append(b, HumanBytes(t.Bytes)...)
		if t.Fetched {
			b = append(b, " to fetch)"...)
		} else {
			b = append(b, " to send)"...)
		}
	} else {
		b = append(b, ", "...)
		b = append(b, HumanBytes(t.Bytes)...)
		if t.Fetched {
			b = append(b, " fetched"...)
		} else {
			b = append(b, " sent"...)
		}
		b = appendFailed(b, t.Failed)
	}
	return string(b)
}

// appendFailed appends ", 2 failed" when n > 0.
func appendFailed(b []byte, n int) []byte {
	if n == 0 {
		return b
	}
	b = append(b, ", "...)
	b = strconv.AppendInt(b, int64(n), 10)
	return append(b, " failed"...)
}
