package vars

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// onlyVariables and notAVariable explain errors for anything in {{ }}, {% %} or {# #}
// that is not a plain variable reference.
const (
	onlyVariables = "only variables like {{ inventory_hostname }} or {{ app.dir }} are supported here"
	notAVariable  = onlyVariables + "; filters, operators and literals are not supported yet"
)

// Interpolate replaces each {{ expr }} in s with the value of expr, for per-host paths such as
// "/srv/{{ inventory_hostname }}/conf". Until playbook templating lands, expr may only be a
// variable name with optional .key / ['key'] / [N] access.
//
// lookup returns the value of a top-level variable and whether it is
// defined. Values render as Ansible renders them into a string: strings
// as they are, numbers as Python prints them, booleans as True and False,
// nil as None. A mapping or list, a vaulted value, an undefined variable or
// key, an unclosed {{, and any Jinja statement ({% %}) or comment ({# #})
// are errors that quote the offending {{ ... }}. Text without {{ is
// returned unchanged.
func Interpolate(s string, lookup func(name string) (any, bool)) (string, error) {
	i := jinjaStart(s)
	if i < 0 {
		return s, nil
	}
	if lookup == nil {
		lookup = func(string) (any, bool) { return nil, false }
	}
	var b strings.Builder
	for ; i >= 0; i = jinjaStart(s) {
		b.WriteString(s[:i])
		s = s[i:]
		switch s[1] {
		case '%':
			return "", fmt.Errorf("%q: Jinja statements are not supported yet; %s", upTo(s, "%}"), onlyVariables)
		case '#':
			return "", fmt.Errorf("%q: Jinja comments are not supported yet; %s", upTo(s, "#}"), onlyVariables)
		}
		end := exprEnd(s[2:])
		if end < 0 {
			return "", fmt.Errorf(`%q: "{{" is not closed by "}}"`, s)
		}
		src, expr := s[:2+end+2], s[2:2+end]
		v, err := evalPath(expr, lookup)
		if err != nil {
			return "", fmt.Errorf("%q: %w", src, err)
		}
		text, err := renderString(v, strings.TrimSpace(expr))
		if err != nil {
			return "", fmt.Errorf("%q: %w", src, err)
		}
		b.WriteString(text)
		s = s[len(src):]
	}
	b.WriteString(s)
	return b.String(), nil
}

// jinjaStart returns the index of the first "{{", "{%" or "{#" in s, or -1.
func jinjaStart(s string) int {
	off := 0
	for {
		i := strings.IndexByte(s[off:], '{')
		if i < 0 {
			return -1
		}
		off += i
		if off+1 < len(s) {
			switch s[off+1] {
			case '{', '%', '#':
				return off
			}
		}
		off++
	}
}

// upTo returns s up to and including the first close, or all of s.
func upTo(s, close string) string {
	if i := strings.Index(s, close); i >= 0 {
		return s[:i+len(close)]
	}
	return s
}

// exprEnd returns the index of the "}}" that ends the expression starting
// body, skipping any inside string literals as Jinja's lexer does; when a
// quote is never closed, the first "}}" ends it.
func exprEnd(body string) int {
	var quote byte
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case quote != 0:
			if c == '\\' {
				i++
			} else if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '}' && i+1 < len(body) && body[i+1] == '}':
			return i
		}
	}
	return strings.Index(body, "}}")
}

// jinjaReserved are names Jinja reads as literals (true, None) or as
// operators (not, in), never as variables.
var jinjaReserved = map[string]bool{
	"true": true, "false": true, "none": true, "True": true, "False": true, "None": true,
	"and": true, "or": true, "not": true, "in": true, "is": true, "if": true, "else": true,
}

// pathStep is one .key, ['key'] or [N] access; end is where it ends in the
// expression, so that errors can quote the part before the failing step.
type pathStep struct {
	key     string
	index   int64
	isIndex bool
	digits  string // the index as written, which may not fit index
	end     int
}

// evalPath evaluates expr, which must be a variable name followed by any
// number of .key, .N, ['key'], ["key"] and [N] accesses.
func evalPath(expr string, lookup func(string) (any, bool)) (any, error) {
	p := pathParser{s: expr}
	p.skipSpace()
	nameStart := p.i
	name := p.ident()
	if name == "" || jinjaReserved[name] {
		return nil, errors.New(notAVariable)
	}
	nameEnd := p.i
	var steps []pathStep
	for {
		p.skipSpace()
		if p.i == len(p.s) {
			break
		}
		st, ok := p.step()
		if !ok {
			return nil, errors.New(notAVariable)
		}
		steps = append(steps, st)
	}

	v, ok := lookup(name)
	if !ok {
		return nil, fmt.Errorf("'%s' is undefined", name)
	}
	prevEnd := nameEnd
	for _, st := range steps {
		where := strings.TrimSpace(expr[nameStart:prevEnd])
		var err error
		if v, err = access(v, st, where); err != nil {
			return nil, err
		}
		prevEnd = st.end
	}
	return v, nil
}

// access returns v[st], or an error in Ansible's words naming where, the
// part of the expression that gave v.
func access(v any, st pathStep, where string) (any, error) {
	missing := func() error {
		if st.isIndex {
			return fmt.Errorf("'%s' has no element %s", where, st.digits)
		}
		return fmt.Errorf("'%s' has no attribute '%s'", where, st.key)
	}
	switch x := v.(type) {
	case Vault:
		return nil, fmt.Errorf("'%s' is vaulted (!vault), and vaulted values are not supported here", where)
	case *Map:
		if st.isIndex {
			// Python's d[1] finds the integer key 1, not the string "1".
			k := strconv.FormatInt(st.index, 10)
			if val, ok := x.Get(k); ok && IsInt(x.OrigKey(k)) {
				return val, nil
			}
			return nil, missing()
		}
		if val, ok := x.Get(st.key); ok {
			if _, isStr := x.OrigKey(st.key).(string); isStr {
				return val, nil
			}
		}
		return nil, missing()
	case []any:
		if !st.isIndex {
			return nil, fmt.Errorf("%w (it is a list; use [N] for an element)", missing())
		}
		if i, ok := pyIndex(st.index, len(x)); ok {
			return x[i], nil
		}
		return nil, fmt.Errorf("%w (it has %d)", missing(), len(x))
	case string:
		if st.isIndex {
			if r, ok := runeAt(x, st.index); ok {
				return r, nil
			}
		}
	case Unsafe:
		if st.isIndex {
			if r, ok := runeAt(string(x), st.index); ok {
				return Unsafe(r), nil
			}
		}
	}
	return nil, fmt.Errorf("%w (it is %s)", missing(), pyTypeName(v))
}

// runeAt returns s[i] as Python indexes a str: by code point.
func runeAt(s string, i int64) (string, bool) {
	r := []rune(s)
	if j, ok := pyIndex(i, len(r)); ok {
		return string(r[j]), true
	}
	return "", false
}

// pyIndex turns a Python index, which counts from the end when negative,
// into a Go index into n elements.
func pyIndex(i int64, n int) (int, bool) {
	if i < 0 {
		i += int64(n)
	}
	if i < 0 || i >= int64(n) {
		return 0, false
	}
	return int(i), true
}

type pathParser struct {
	s string
	i int
}

func (p *pathParser) skipSpace() {
	for p.i < len(p.s) {
		r, size := utf8.DecodeRuneInString(p.s[p.i:])
		if !unicode.IsSpace(r) {
			return
		}
		p.i += size
	}
}

// ident reads a Python identifier, or returns "" and reads nothing.
func (p *pathParser) ident() string {
	start := p.i
	for p.i < len(p.s) {
		r, size := utf8.DecodeRuneInString(p.s[p.i:])
		if r != '_' && !unicode.IsLetter(r) && (p.i == start || !unicode.IsDigit(r)) {
			break
		}
		p.i += size
	}
	return p.s[start:p.i]
}

// integer reads a decimal integer without leading zeros, as Jinja lexes it.
func (p *pathParser) integer(allowMinus bool) (int64, bool) {
	start := p.i
	if allowMinus && p.i < len(p.s) && p.s[p.i] == '-' {
		p.i++
	}
	digits := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	text := p.s[start:p.i]
	if p.i == digits || p.s[digits] == '0' && p.i-digits > 1 {
		return 0, false
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		// Beyond any real list; Python would report no such element too.
		if text[0] == '-' {
			return math.MinInt64, true
		}
		return math.MaxInt64, true
	}
	return n, true
}

// step reads one .key, .N, ['key'], ["key"] or [N].
func (p *pathParser) step() (pathStep, bool) {
	var st pathStep
	switch p.s[p.i] {
	case '.':
		p.i++
		p.skipSpace()
		if p.i == len(p.s) {
			return st, false
		}
		if c := p.s[p.i]; c >= '0' && c <= '9' {
			start := p.i
			n, ok := p.integer(false)
			if !ok {
				return st, false
			}
			st.index, st.isIndex, st.digits = n, true, p.s[start:p.i]
		} else if st.key = p.ident(); st.key == "" {
			return st, false
		}
	case '[':
		p.i++
		p.skipSpace()
		if p.i == len(p.s) {
			return st, false
		}
		switch c := p.s[p.i]; {
		case c == '\'' || c == '"':
			end := strings.IndexByte(p.s[p.i+1:], c)
			if end < 0 {
				return st, false
			}
			st.key = p.s[p.i+1 : p.i+1+end]
			if strings.ContainsRune(st.key, '\\') {
				// Escapes are literal syntax that only templating handles.
				return st, false
			}
			p.i += 1 + end + 1
		case c == '-' || c >= '0' && c <= '9':
			start := p.i
			n, ok := p.integer(true)
			if !ok {
				return st, false
			}
			st.index, st.isIndex, st.digits = n, true, p.s[start:p.i]
		default:
			return st, false
		}
		p.skipSpace()
		if p.i == len(p.s) || p.s[p.i] != ']' {
			return st, false
		}
		p.i++
	default:
		return st, false
	}
	st.end = p.i
	return st, true
}

// renderString returns v as Ansible renders it into a string, which is
// Python's str(v); name is the expression, for errors.
func renderString(v any, name string) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case Unsafe:
		return string(x), nil
	case nil:
		return "None", nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case int:
		return strconv.Itoa(x), nil
	case int32:
		return strconv.FormatInt(int64(x), 10), nil
	case uint64:
		return strconv.FormatUint(x, 10), nil
	case uint32:
		return strconv.FormatUint(uint64(x), 10), nil
	case uint:
		return strconv.FormatUint(uint64(x), 10), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		return pyStrFloat(x), nil
	case float32:
		return pyStrFloat(float64(x)), nil
	case Date:
		return x.ISO(), nil
	case DateTime:
		return x.String(), nil
	case Vault:
		return "", fmt.Errorf("'%s' is vaulted (!vault), and vaulted values are not supported here", name)
	case *Map, []any:
		return "", fmt.Errorf("'%s' is %s, but a path needs a single value such as a string or number", name, pyTypeName(v))
	}
	return "", fmt.Errorf("'%s' holds a Go %T, which cannot be rendered into a string", name, v)
}

// pyStrFloat formats f as Python's str(float) does: like repr, which
// PyFloat follows, except for the spelling of infinities and NaN.
func pyStrFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return PyFloat(f)
}

// pyTypeName names v's Python type with an article, for errors.
func pyTypeName(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "a bool"
	case int64, int, int32, uint64, uint32, uint, *big.Int:
		return "an int"
	case float64, float32:
		return "a float"
	case string, Unsafe:
		return "a str"
	case *Map:
		return "a dict"
	case []any:
		return "a list"
	case Date:
		return "a date"
	case DateTime:
		return "a datetime"
	case Vault:
		return "a vaulted value"
	}
	return fmt.Sprintf("a Go %T", v)
}
