package jinja

import (
	"fmt"
	"strings"
)

// UndefinedError reports a template that used an undefined variable, or an
// attribute or item that a defined value does not have. errors.As finds it
// through any wrapping, so callers can tell "undefined variable" apart from
// other template errors without matching strings.
type UndefinedError struct {
	// Name is the undefined variable or attribute path as the template
	// spells it: "foo", "result.stdout", "hostvars['web1'].port".
	Name string
	// Expr is the template or expression that used it.
	Expr string
	// Hint is Jinja2's wording of the problem, such as
	// "'dict object' has no attribute 'stdout'".
	Hint string
	// Line is the 1-based line of Expr where the value was used, or 0.
	Line int
}

func (e *UndefinedError) Error() string {
	msg := e.Hint
	if msg == "" {
		msg = fmt.Sprintf("'%s' is undefined", e.Name)
	}
	return "jinja: " + msg + where(e.Expr, e.Line)
}

// Error is a template that does not parse or fails while rendering (a bad
// filter argument, a type error, a recursive variable). It quotes the
// template and, for multi-line templates, the line.
type Error struct {
	Template string // the template text, or the expression
	Line     int    // 1-based line in Template, or 0
	Var      string // the variable whose value the template is, if any
	Err      error  // what went wrong
}

func (e *Error) Error() string {
	msg := e.Err.Error()
	if e.Var != "" {
		return fmt.Sprintf("jinja: %s%s (in the value of variable '%s')", msg, where(e.Template, e.Line), e.Var)
	}
	return "jinja: " + msg + where(e.Template, e.Line)
}

func (e *Error) Unwrap() error { return e.Err }

// where quotes a template for an error: short ones whole, long ones by line.
func where(tmpl string, line int) string {
	if tmpl == "" {
		return ""
	}
	if line > 0 && strings.Contains(tmpl, "\n") {
		return fmt.Sprintf(" at line %d", line)
	}
	const max = 200
	if len(tmpl) > max {
		cut := max
		for cut > 0 && tmpl[cut]&0xC0 == 0x80 {
			cut--
		}
		tmpl = tmpl[:cut] + "..."
	}
	return fmt.Sprintf(" in %q", tmpl)
}
