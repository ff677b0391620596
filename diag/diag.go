package diag

import (
	"errors"
	"fmt"
	"strings"
)

// Error is a problem in a named input, such as an inventory file, at an
// optional line. Pkg names the package that found it ("inventory"), so the
// message reads like the standard library's: "inventory: hosts.yml:12: ...".
type Error struct {
	Pkg  string // the reporting package, e.g. "inventory"
	File string // the input as the user named it; empty when not file-bound
	Line int    // 1-based; 0 when unknown
	Msg  string // what is wrong
	Hint string // what to do about it; optional
	Err  error  // the underlying cause, if any
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Pkg != "" {
		b.WriteString(e.Pkg)
		b.WriteString(": ")
	}
	if loc := Location(e.File, e.Line); loc != "" {
		b.WriteString(loc)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}

// Unwrap returns the underlying cause.
func (e *Error) Unwrap() error { return e.Err }

// Location formats "file:line", "file", or "" for the parts that are known.
func Location(file string, line int) string {
	switch {
	case file != "" && line > 0:
		return fmt.Sprintf("%s:%d", file, line)
	default:
		return file
	}
}

// Hint returns the hint of the first error on err's chain that has one, or "".
func Hint(err error) string {
	var h interface{ HintText() string }
	if errors.As(err, &h) {
		return h.HintText()
	}
	return ""
}

// HintText returns the error's hint.
func (e *Error) HintText() string { return e.Hint }

// Warning is something fleet carried on past but the user should know about,
// at the same places Ansible warns.
type Warning struct {
	File string
	Line int
	Msg  string
}

func (w Warning) String() string {
	if loc := Location(w.File, w.Line); loc != "" {
		return loc + ": " + w.Msg
	}
	return w.Msg
}
