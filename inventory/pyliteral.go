package inventory

import (
	"errors"
	"math/big"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// iniValue types an INI value as Ansible's ini plugin does: through Python's
// ast.literal_eval, keeping the raw text when that fails. So 8080 is an
// integer, True a boolean, '8080' a string, [1, 2] a list, 0755 a string
// (Python 3 has no such literal) and "foo # note" the whole text.
func iniValue(s string) any {
	if v, ok := pyLiteral(s); ok {
		return v
	}
	return s
}

// pyLiteral evaluates s as ast.literal_eval would, reporting ok=false for
// anything that is not a Python literal: syntax errors and names alike.
// Complex numbers, which JSON cannot hold, also report false.
func pyLiteral(s string) (v any, ok bool) {
	p := &pyParser{src: strings.TrimLeft(s, " \t")}
	if err := p.next(); err != nil {
		return nil, false
	}
	v, err := p.exprList(true)
	if err != nil || p.tok.kind != tEOF {
		return nil, false
	}
	return v, true
}

type pyTokKind int

const (
	tEOF pyTokKind = iota
	tNum
	tStr
	tBytes
	tName
	tOp
)

type pyTok struct {
	kind pyTokKind
	text string // operator or name
	val  any    // number or string value
}

type pyParser struct {
	src   string
	pos   int
	tok   pyTok
	depth int
}

var errNotLiteral = errors.New("not a literal")

// maxLiteralDepth bounds nesting as Python's parser does (it gives up
// around 200 levels).
const maxLiteralDepth = 200

func (p *pyParser) next() error {
	// Skip spaces, tabs, form feeds, and a trailing comment.
	for p.pos < len(p.src) {
		c := p.src[p.pos]
		if c == ' ' || c == '\t' || c == '\f' {
			p.pos++
			continue
		}
		if c == '#' {
			p.pos = len(p.src)
		}
		break
	}
	if p.pos >= len(p.src) {
		p.tok = pyTok{kind: tEOF}
		return nil
	}
	rest := p.src[p.pos:]
	c := rest[0]
	switch {
	case c >= '0' && c <= '9' || c == '.' && len(rest) > 1 && rest[1] >= '0' && rest[1] <= '9':
		return p.number()
	case c == '\'' || c == '"':
		return p.str("")
	case isIdentStart(rest):
		n := identLen(rest)
		word := rest[:n]
		if len(word) <= 2 && (rest[n:] != "" && (rest[n] == '\'' || rest[n] == '"')) {
			if prefix := strings.ToLower(word); validStrPrefix(prefix) {
				p.pos += n
				return p.str(prefix)
			}
		}
		p.pos += n
		p.tok = pyTok{kind: tName, text: word}
		return nil
	case strings.ContainsRune("[](){},:+-*", rune(c)):
		p.pos++
		p.tok = pyTok{kind: tOp, text: string(c)}
		return nil
	}
	return errNotLiteral
}

func isIdentStart(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return r == '_' || unicode.IsLetter(r)
}

func identLen(s string) int {
	n := 0
	for n < len(s) {
		r, size := utf8.DecodeRuneInString(s[n:])
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			break
		}
		n += size
	}
	return n
}

func validStrPrefix(p string) bool {
	switch p {
	case "r", "u", "b", "br", "rb", "f", "fr", "rf":
		return true
	}
	return false
}

// number lexes a Python numeric literal; anything glued to its end (1abc,
// 0755, 1_) is a syntax error, as in Python.
func (p *pyParser) number() error {
	s := p.src[p.pos:]
	digits := func(i int, isDigit func(byte) bool) (int, bool) {
		// digit (["_"] digit)*
		if i >= len(s) || !isDigit(s[i]) {
			return i, false
		}
		i++
		for i < len(s) {
			if isDigit(s[i]) {
				i++
			} else if s[i] == '_' && i+1 < len(s) && isDigit(s[i+1]) {
				i += 2
			} else {
				break
			}
		}
		return i, true
	}
	dec := func(b byte) bool { return b >= '0' && b <= '9' }
	var (
		end     int
		isFloat bool
		base    = 10
	)
	if len(s) > 1 && s[0] == '0' && strings.ContainsRune("xXoObB", rune(s[1])) {
		var isDigit func(byte) bool
		switch s[1] | 0x20 {
		case 'x':
			base, isDigit = 16, func(b byte) bool { return dec(b) || b|0x20 >= 'a' && b|0x20 <= 'f' }
		case 'o':
			base, isDigit = 8, func(b byte) bool { return b >= '0' && b <= '7' }
		default:
			base, isDigit = 2, func(b byte) bool { return b == '0' || b == '1' }
		}
		i := 2
		if i < len(s) && s[i] == '_' {
			i++
		}
		e, ok := digits(i, isDigit)
		if !ok {
			return errNotLiteral
		}
		end = e
	} else {
		i, ok := digits(0, dec)
		intPart := s[:i]
		if i < len(s) && s[i] == '.' {
			isFloat = true
			i++
			if e, ok2 := digits(i, dec); ok2 {
				i = e
			} else if !ok {
				return errNotLiteral
			}
		} else if !ok {
			return errNotLiteral
		}
		if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
			j := i + 1
			if j < len(s) && (s[j] == '+' || s[j] == '-') {
				j++
			}
			if e, ok := digits(j, dec); ok {
				isFloat, i = true, e
			} else {
				return errNotLiteral
			}
		}
		if !isFloat && len(intPart) > 1 && intPart[0] == '0' && strings.Trim(intPart, "0_") != "" {
			return errNotLiteral // leading zeros in a decimal integer
		}
		end = i
	}
	if end < len(s) {
		if s[end] == 'j' || s[end] == 'J' {
			return errNotLiteral // complex: JSON cannot hold it
		}
		if isIdentStart(s[end:]) || dec(s[end]) || s[end] == '.' && base == 10 {
			return errNotLiteral
		}
	}
	text := strings.ReplaceAll(s[:end], "_", "")
	p.pos += end
	if isFloat {
		f, err := strconv.ParseFloat(text, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return errNotLiteral
		}
		p.tok = pyTok{kind: tNum, val: f}
		return nil
	}
	if base != 10 {
		text = text[2:]
	} else if len(text) > 4300 {
		// Python refuses to convert longer decimal strings.
		return errNotLiteral
	}
	var b big.Int
	if _, ok := b.SetString(text, base); !ok {
		return errNotLiteral
	}
	p.tok = pyTok{kind: tNum, val: vars.NormInt(&b)}
	return nil
}

// str lexes a string literal with the given (lower-case) prefix.
func (p *pyParser) str(prefix string) error {
	s := p.src[p.pos:]
	q := s[:1]
	if strings.HasPrefix(s, q+q+q) {
		q = s[:3]
	}
	raw := strings.Contains(prefix, "r")
	isBytes := strings.Contains(prefix, "b")
	if strings.Contains(prefix, "f") {
		return errNotLiteral // an f-string is not a literal
	}
	i := len(q)
	var body strings.Builder
	for {
		if i >= len(s) {
			return errNotLiteral // unterminated
		}
		if strings.HasPrefix(s[i:], q) {
			i += len(q)
			break
		}
		c := s[i]
		if c == '\n' && len(q) == 1 {
			return errNotLiteral
		}
		if c == '\\' {
			if i+1 >= len(s) {
				return errNotLiteral
			}
			if raw {
				body.WriteString(s[i : i+2])
				i += 2
				continue
			}
			n, err := pyEscape(&body, s[i:], isBytes)
			if err != nil {
				return err
			}
			i += n
			continue
		}
		if isBytes && c >= 0x80 {
			return errNotLiteral // bytes literals hold ASCII only
		}
		body.WriteByte(c)
		i++
	}
	p.pos += i
	text := body.String()
	if isBytes {
		// to_text decodes bytes as UTF-8.
		if !utf8.ValidString(text) {
			return errNotLiteral
		}
		p.tok = pyTok{kind: tBytes, val: text}
		return nil
	}
	p.tok = pyTok{kind: tStr, val: text}
	return nil
}

// pyEscape decodes the escape sequence at the start of s (which begins with
// a backslash) into b and returns its length. Unknown escapes stay as they
// are, as Python keeps them.
func pyEscape(b *strings.Builder, s string, isBytes bool) (int, error) {
	c := s[1]
	simple := map[byte]byte{'\\': '\\', '\'': '\'', '"': '"', 'a': 7, 'b': 8, 'f': 12, 'n': 10, 'r': 13, 't': 9, 'v': 11}
	if r, ok := simple[c]; ok {
		b.WriteByte(r)
		return 2, nil
	}
	writeCode := func(code int64) error {
		if isBytes {
			if code > 0xff {
				return errNotLiteral
			}
			b.WriteByte(byte(code))
			return nil
		}
		if code > unicode.MaxRune || (code >= 0xd800 && code <= 0xdfff) {
			return errNotLiteral
		}
		b.WriteRune(rune(code))
		return nil
	}
	hex := func(n int) (int, error) {
		if len(s) < 2+n {
			return 0, errNotLiteral
		}
		code, err := strconv.ParseUint(s[2:2+n], 16, 32)
		if err != nil || strings.ContainsAny(s[2:2+n], "+-") {
			return 0, errNotLiteral
		}
		return 2 + n, writeCode(int64(code))
	}
	switch {
	case c >= '0' && c <= '7':
		n := 1
		for n < 3 && 1+n < len(s) && s[1+n] >= '0' && s[1+n] <= '7' {
			n++
		}
		code, _ := strconv.ParseInt(s[1:1+n], 8, 32)
		return 1 + n, writeCode(code)
	case c == 'x':
		return hex(2)
	case c == 'u' && !isBytes:
		return hex(4)
	case c == 'U' && !isBytes:
		return hex(8)
	case c == 'N' && !isBytes:
		// \N{NAME} needs the Unicode name table; leave the value raw.
		return 0, errNotLiteral
	}
	b.WriteByte('\\')
	return 1, nil
}

func (p *pyParser) expect(op string) error {
	if p.tok.kind != tOp || p.tok.text != op {
		return errNotLiteral
	}
	return p.next()
}

func (p *pyParser) isOp(op string) bool { return p.tok.kind == tOp && p.tok.text == op }

// exprList parses "a, b, c" (a tuple, which JSON shows as a list) or a
// single expression.
func (p *pyParser) exprList(top bool) (any, error) {
	first, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(",") {
		return first, nil
	}
	items := []any{first}
	for p.isOp(",") {
		if err := p.next(); err != nil {
			return nil, err
		}
		if p.tok.kind == tEOF || p.isOp(")") {
			break
		}
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		items = append(items, v)
	}
	return items, nil
}

func (p *pyParser) expr() (any, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxLiteralDepth {
		return nil, errNotLiteral
	}
	t := p.tok
	switch t.kind {
	case tNum:
		if err := p.next(); err != nil {
			return nil, err
		}
		return p.noBinOp(t.val)
	case tStr, tBytes:
		// Adjacent literals concatenate; str and bytes do not mix.
		var s strings.Builder
		for p.tok.kind == t.kind {
			s.WriteString(p.tok.val.(string))
			if err := p.next(); err != nil {
				return nil, err
			}
		}
		if p.tok.kind == tStr || p.tok.kind == tBytes {
			return nil, errNotLiteral
		}
		return p.noBinOp(s.String())
	case tName:
		var v any
		switch t.text {
		case "True":
			v = true
		case "False":
			v = false
		case "None":
			v = nil
		case "set":
			// set() is the one call literal_eval allows.
			if err := p.next(); err != nil {
				return nil, err
			}
			if err := p.expect("("); err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return p.noBinOp([]any{})
		default:
			return nil, errNotLiteral
		}
		if err := p.next(); err != nil {
			return nil, err
		}
		return p.noBinOp(v)
	case tOp:
		switch t.text {
		case "-", "+":
			// The operand must be a number, parenthesised or not; another
			// sign ("--5") is not a constant, so literal_eval refuses it.
			parens := 0
			for {
				if err := p.next(); err != nil {
					return nil, err
				}
				if !p.isOp("(") {
					break
				}
				parens++
			}
			if p.tok.kind != tNum {
				return nil, errNotLiteral
			}
			v := p.tok.val
			if t.text == "-" {
				v = negate(v)
			}
			if err := p.next(); err != nil {
				return nil, err
			}
			for ; parens > 0; parens-- {
				if err := p.expect(")"); err != nil {
					return nil, err
				}
			}
			return p.noBinOp(v)
		case "[":
			if err := p.next(); err != nil {
				return nil, err
			}
			items, err := p.items("]")
			if err != nil {
				return nil, err
			}
			return p.noBinOp(items)
		case "(":
			if err := p.next(); err != nil {
				return nil, err
			}
			if p.isOp(")") {
				if err := p.next(); err != nil {
					return nil, err
				}
				return p.noBinOp([]any{})
			}
			v, err := p.exprList(false)
			if err != nil {
				return nil, err
			}
			if err := p.expect(")"); err != nil {
				return nil, err
			}
			return p.noBinOp(v)
		case "{":
			if err := p.next(); err != nil {
				return nil, err
			}
			v, err := p.braces()
			if err != nil {
				return nil, err
			}
			return p.noBinOp(v)
		}
	}
	return nil, errNotLiteral
}

// noBinOp rejects a literal followed by an operator: literal_eval only
// allows "+" and "-" to build complex numbers, which fleet does not keep.
func (p *pyParser) noBinOp(v any) (any, error) {
	if p.isOp("+") || p.isOp("-") || p.isOp("*") || p.isOp("(") || p.isOp("[") {
		return nil, errNotLiteral
	}
	return v, nil
}

func negate(v any) any {
	switch n := v.(type) {
	case int64:
		if n == -n && n != 0 { // math.MinInt64
			return new(big.Int).Neg(big.NewInt(n))
		}
		return -n
	case *big.Int:
		return vars.NormInt(new(big.Int).Neg(n))
	case float64:
		return -n
	}
	return v
}

// items parses comma-separated expressions up to the closing bracket.
func (p *pyParser) items(closing string) ([]any, error) {
	out := []any{}
	for !p.isOp(closing) {
		v, err := p.expr()
		if err != nil {
			return nil, err
		}
		out = append(out, v)
		if p.isOp(",") {
			if err := p.next(); err != nil {
				return nil, err
			}
			continue
		}
		if !p.isOp(closing) {
			return nil, errNotLiteral
		}
	}
	return out, p.next()
}

// braces parses a dict or a set after "{". A set becomes a list.
func (p *pyParser) braces() (any, error) {
	if p.isOp("}") {
		return vars.NewMap(), p.next()
	}
	first, err := p.expr()
	if err != nil {
		return nil, err
	}
	if !p.isOp(":") {
		// A set: the rest are plain items. Lists and dicts are unhashable.
		if !hashable(first) {
			return nil, errNotLiteral
		}
		items := []any{first}
		if p.isOp(",") {
			if err := p.next(); err != nil {
				return nil, err
			}
			rest, err := p.items("}")
			if err != nil {
				return nil, err
			}
			for _, r := range rest {
				if !hashable(r) {
					return nil, errNotLiteral
				}
			}
			return append(items, rest...), nil
		}
		return items, p.expect("}")
	}
	m := vars.NewMap()
	key := first
	for {
		if err := p.expect(":"); err != nil {
			return nil, err
		}
		val, err := p.expr()
		if err != nil {
			return nil, err
		}
		if !hashable(key) {
			return nil, errNotLiteral
		}
		if err := m.SetKey(key, 0, val); err != nil {
			return nil, errNotLiteral
		}
		if p.isOp("}") {
			return m, p.next()
		}
		if err := p.expect(","); err != nil {
			return nil, err
		}
		if p.isOp("}") {
			return m, p.next()
		}
		if key, err = p.expr(); err != nil {
			return nil, err
		}
	}
}

func hashable(v any) bool {
	switch v.(type) {
	case []any, *vars.Map:
		return false
	}
	return true
}
