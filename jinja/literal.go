package jinja

import (
	"strconv"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// literalEval reads s as a Python literal the way Ansible reads rendered
// text back (ast.literal_eval, with true/false/null accepted as JSON
// spells them): strings, numbers, True/False/None, lists, tuples, dicts
// and sets (as lists). ok is false when s is not such a literal.
func literalEval(s string) (v any, ok bool) {
	l := &litParser{s: s}
	v, ok = l.value(0)
	if !ok {
		return nil, false
	}
	l.space()
	if l.i != len(l.s) {
		return nil, false
	}
	return v, true
}

type litParser struct {
	s string
	i int
}

func (l *litParser) space() {
	for l.i < len(l.s) {
		switch c := l.s[l.i]; c {
		case ' ', '\t', '\n', '\r', '\f', '\v':
			l.i++
		case '#':
			for l.i < len(l.s) && l.s[l.i] != '\n' {
				l.i++
			}
		case '\\':
			if l.i+1 < len(l.s) && l.s[l.i+1] == '\n' {
				l.i += 2
				continue
			}
			return
		default:
			return
		}
	}
}

func (l *litParser) peek() byte {
	l.space()
	if l.i < len(l.s) {
		return l.s[l.i]
	}
	return 0
}

func (l *litParser) value(depth int) (any, bool) {
	if depth > maxValueDepth {
		return nil, false
	}
	c := l.peek()
	switch {
	case c == '[':
		l.i++
		items, ok := l.items(']', depth)
		return items, ok
	case c == '(':
		l.i++
		if l.peek() == ')' {
			l.i++
			return tuple{}, true
		}
		first, ok := l.value(depth + 1)
		if !ok {
			return nil, false
		}
		switch l.peek() {
		case ')':
			l.i++
			return first, true
		case ',':
			l.i++
			rest, ok := l.items(')', depth)
			if !ok {
				return nil, false
			}
			return append(tuple{first}, rest...), true
		}
		return nil, false
	case c == '{':
		l.i++
		return l.dict(depth)
	case c == '-' || c == '+':
		l.i++
		v, ok := l.value(depth + 1)
		if !ok || !isNumber(v) {
			return nil, false
		}
		if _, isBool := v.(bool); isBool {
			return nil, false
		}
		if c == '-' {
			n, err := negate(v)
			return n, err == nil
		}
		return v, true
	case c == '\'' || c == '"':
		return l.strings()
	case c >= '0' && c <= '9' || c == '.':
		return l.number()
	case isIdentByte(c):
		start := l.i
		for l.i < len(l.s) && isIdentByte(l.s[l.i]) {
			l.i++
		}
		word := l.s[start:l.i]
		if l.i < len(l.s) && (l.s[l.i] == '\'' || l.s[l.i] == '"') {
			switch strings.ToLower(word) {
			case "r", "u":
				l.i = start
				return l.strings()
			}
			return nil, false
		}
		switch word {
		case "True", "true":
			return true, true
		case "False", "false":
			return false, true
		case "None", "null":
			return nil, true
		}
	}
	return nil, false
}

// items parses values up to the closing byte, allowing a trailing comma.
func (l *litParser) items(closing byte, depth int) ([]any, bool) {
	out := []any{}
	for {
		if l.peek() == closing {
			l.i++
			return out, true
		}
		v, ok := l.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		switch l.peek() {
		case ',':
			l.i++
		case closing:
		default:
			return nil, false
		}
	}
}

func (l *litParser) dict(depth int) (any, bool) {
	if l.peek() == '}' {
		l.i++
		return vars.NewMap(), true
	}
	first, ok := l.value(depth + 1)
	if !ok {
		return nil, false
	}
	if l.peek() != ':' {
		// A set: Python prints it in its own order; a list is the
		// nearest plain value.
		switch l.peek() {
		case '}':
			l.i++
			return []any{first}, true
		case ',':
			l.i++
			rest, ok := l.items('}', depth)
			if !ok {
				return nil, false
			}
			return append([]any{first}, rest...), true
		}
		return nil, false
	}
	m := vars.NewMap()
	k := first
	for {
		if l.peek() != ':' {
			return nil, false
		}
		l.i++
		v, ok := l.value(depth + 1)
		if !ok {
			return nil, false
		}
		if setKey(m, k, v) != nil {
			return nil, false
		}
		switch l.peek() {
		case ',':
			l.i++
			if l.peek() == '}' {
				l.i++
				return m, true
			}
		case '}':
			l.i++
			return m, true
		default:
			return nil, false
		}
		if k, ok = l.value(depth + 1); !ok {
			return nil, false
		}
	}
}

// strings parses one or more adjacent string literals.
func (l *litParser) strings() (any, bool) {
	var b strings.Builder
	n := 0
	for {
		l.space()
		if l.i >= len(l.s) {
			break
		}
		raw := false
		start := l.i
		for l.i < len(l.s) && (l.s[l.i] == 'r' || l.s[l.i] == 'R' || l.s[l.i] == 'u' || l.s[l.i] == 'U') {
			if l.s[l.i] == 'r' || l.s[l.i] == 'R' {
				raw = true
			}
			l.i++
		}
		if l.i >= len(l.s) || (l.s[l.i] != '\'' && l.s[l.i] != '"') || l.i-start > 2 {
			l.i = start
			break
		}
		q := l.s[l.i]
		triple := strings.HasPrefix(l.s[l.i:], strings.Repeat(string(q), 3))
		closing := string(q)
		if triple {
			closing = strings.Repeat(string(q), 3)
		}
		l.i += len(closing)
		bodyStart := l.i
		for {
			if l.i >= len(l.s) {
				return nil, false
			}
			c := l.s[l.i]
			if c == '\\' {
				l.i += 2
				continue
			}
			if !triple && c == '\n' {
				return nil, false
			}
			if strings.HasPrefix(l.s[l.i:], closing) {
				break
			}
			l.i++
		}
		body := l.s[bodyStart:l.i]
		l.i += len(closing)
		if !raw {
			var err error
			if body, err = pyUnescape(body); err != nil {
				return nil, false
			}
		}
		b.WriteString(body)
		n++
	}
	return b.String(), n > 0
}

func (l *litParser) number() (any, bool) {
	start := l.i
	isFloat := false
	for l.i < len(l.s) {
		c := l.s[l.i]
		switch {
		case c >= '0' && c <= '9' || c == '_':
		case c == 'x' || c == 'X' || c == 'o' || c == 'O' || c == 'b' || c == 'B':
			if l.i != start+1 || l.s[start] != '0' {
				return nil, false
			}
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			if c == 'e' || c == 'E' {
				if len(l.s) > start+1 && (l.s[start+1] == 'x' || l.s[start+1] == 'X') {
					break
				}
				isFloat = true
				if l.i+1 < len(l.s) && (l.s[l.i+1] == '+' || l.s[l.i+1] == '-') {
					l.i++
				}
				break
			}
			if len(l.s) <= start+1 || (l.s[start+1] != 'x' && l.s[start+1] != 'X') {
				return nil, false
			}
		case c == '.':
			isFloat = true
		case c == 'j' || c == 'J':
			return nil, false
		default:
			goto done
		}
		l.i++
	}
done:
	text := l.s[start:l.i]
	if isFloat {
		f, err := strconv.ParseFloat(strings.ReplaceAll(text, "_", ""), 64)
		if err != nil {
			if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
				return nil, false
			}
		}
		return f, true
	}
	if len(text) > 1 && text[0] == '0' && strings.Trim(text, "0_") != "" && text[1] >= '0' && text[1] <= '9' {
		return nil, false // Python 3 has no leading zeros
	}
	v, err := parseIntLiteral(text)
	if err != nil {
		return nil, false
	}
	return v, true
}
