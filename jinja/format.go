package jinja

import (
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// maxPrecision bounds a format's precision.
const maxPrecision = 1 << 12

// percentFormat is Python's printf-style "format % args".
func percentFormat(format string, args any) (any, error) {
	var positional []any
	var mapping *vars.Map
	switch x := args.(type) {
	case tuple:
		positional = x
	case *vars.Map:
		mapping = x
		positional = []any{x}
	default:
		positional = []any{args}
	}
	if err := firstUndefined(positional...); err != nil {
		return nil, err
	}
	next := 0
	take := func() (any, error) {
		if next >= len(positional) {
			return nil, typeErr("not enough arguments for format string")
		}
		v := positional[next]
		next++
		return v, nil
	}
	var b strings.Builder
	usedMapping := false
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b.WriteByte(c)
			continue
		}
		i++
		if i >= len(format) {
			return nil, typeErr("incomplete format")
		}
		var val any
		haveVal := false
		if format[i] == '(' {
			if mapping == nil {
				return nil, typeErr("format requires a mapping")
			}
			depth, j := 1, i+1
			for ; j < len(format) && depth > 0; j++ {
				switch format[j] {
				case '(':
					depth++
				case ')':
					depth--
				}
			}
			if depth > 0 {
				return nil, typeErr("incomplete format key")
			}
			key := format[i+1 : j-1]
			v, ok := mapping.Get(key)
			if !ok {
				return nil, typeErr("KeyError: %s", quoteRepr(key))
			}
			val, haveVal, usedMapping = v, true, true
			i = j
		}
		flags := ""
		for i < len(format) && strings.IndexByte("#0- +", format[i]) >= 0 {
			flags += string(format[i])
			i++
		}
		width := -1
		if i < len(format) && format[i] == '*' {
			w, err := take()
			if err != nil {
				return nil, err
			}
			n, err := toGoInt(w, "* width")
			if err != nil {
				return nil, err
			}
			if n < 0 {
				flags += "-"
				n = -n
			}
			width = n
			i++
		} else {
			start := i
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				i++
			}
			if i > start {
				width, _ = strconv.Atoi(format[start:i])
			}
		}
		if width > maxStrLen || width < -1 {
			return nil, typeErr("width too big")
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			if i < len(format) && format[i] == '*' {
				p, err := take()
				if err != nil {
					return nil, err
				}
				n, err := toGoInt(p, "* precision")
				if err != nil {
					return nil, err
				}
				prec = max(n, 0)
				i++
			} else {
				start := i
				for i < len(format) && format[i] >= '0' && format[i] <= '9' {
					i++
				}
				prec, _ = strconv.Atoi("0" + format[start:i])
			}
		}
		if prec > maxPrecision {
			return nil, typeErr("precision too big")
		}
		for i < len(format) && strings.IndexByte("hlL", format[i]) >= 0 {
			i++
		}
		if i >= len(format) {
			return nil, typeErr("incomplete format")
		}
		verb := format[i]
		if verb == '%' {
			b.WriteByte('%')
			continue
		}
		if !haveVal {
			v, err := take()
			if err != nil {
				return nil, err
			}
			val = v
		}
		s, err := formatPercentValue(val, verb, flags, width, prec)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	// A mapping need not be used up: "'x' % {}" is fine in Python.
	if next < len(positional) && !(mapping != nil && (usedMapping || next == 0)) {
		return nil, typeErr("not all arguments converted during string formatting")
	}
	return b.String(), nil
}

func formatPercentValue(v any, verb byte, flags string, width, prec int) (string, error) {
	pad := func(s string, numeric bool) string {
		n := utf8.RuneCountInString(s)
		if width <= n {
			return s
		}
		switch {
		case strings.Contains(flags, "-"):
			return s + strings.Repeat(" ", width-n)
		case numeric && strings.Contains(flags, "0"):
			sign := ""
			if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") || strings.HasPrefix(s, " ") {
				sign, s = s[:1], s[1:]
			}
			prefix := ""
			if len(s) > 1 && s[0] == '0' && strings.IndexByte("xXo", s[1]) >= 0 {
				prefix, s = s[:2], s[2:]
			}
			return sign + prefix + strings.Repeat("0", width-n) + s
		}
		return strings.Repeat(" ", width-n) + s
	}
	signed := func(s string, neg bool) string {
		switch {
		case neg:
			return "-" + s
		case strings.Contains(flags, "+"):
			return "+" + s
		case strings.Contains(flags, " "):
			return " " + s
		}
		return s
	}
	switch verb {
	case 's', 'r', 'a':
		var s string
		var err error
		if verb == 's' {
			s, err = pyStr(v)
		} else {
			s, err = pyRepr(v)
		}
		if err != nil {
			return "", err
		}
		if prec >= 0 && prec < utf8.RuneCountInString(s) {
			s = string([]rune(s)[:prec])
		}
		return pad(s, false), nil
	case 'd', 'i', 'u':
		if !isNumber(v) {
			return "", typeErr("%%%c format: a real number is required, not %s", verb, typeName(v))
		}
		var n *big.Int
		if f, ok := v.(float64); ok {
			if math.IsInf(f, 0) || math.IsNaN(f) {
				return "", typeErr("cannot convert float %s to integer", pyFloat(f))
			}
			n, _ = new(big.Float).SetFloat64(math.Trunc(f)).Int(nil)
		} else {
			n = bigOf(v)
		}
		digits := new(big.Int).Abs(n).String()
		if prec > len(digits) {
			digits = strings.Repeat("0", prec-len(digits)) + digits
		}
		return pad(signed(digits, n.Sign() < 0), true), nil
	case 'o', 'x', 'X':
		if !isInt(v) {
			return "", typeErr("%%%c format: an integer is required, not %s", verb, typeName(v))
		}
		n := bigOf(v)
		base := map[byte]int{'o': 8, 'x': 16, 'X': 16}[verb]
		digits := new(big.Int).Abs(n).Text(base)
		if verb == 'X' {
			digits = strings.ToUpper(digits)
		}
		if prec > len(digits) {
			digits = strings.Repeat("0", prec-len(digits)) + digits
		}
		if strings.Contains(flags, "#") {
			digits = map[byte]string{'o': "0o", 'x': "0x", 'X': "0X"}[verb] + digits
		}
		return pad(signed(digits, n.Sign() < 0), true), nil
	case 'e', 'E', 'f', 'F', 'g', 'G':
		if !isNumber(v) {
			return "", typeErr("must be real number, not %s", typeName(v))
		}
		f := floatOf(v)
		if prec < 0 {
			prec = 6
		}
		var s string
		switch {
		case math.IsInf(f, 0):
			s = "inf"
		case math.IsNaN(f):
			s = "nan"
		default:
			goVerb := verb
			if goVerb == 'F' {
				goVerb = 'f'
			}
			alt := ""
			if strings.Contains(flags, "#") {
				alt = "#"
			}
			s = fmt.Sprintf("%"+alt+"."+strconv.Itoa(prec)+string(goVerb), math.Abs(f))
		}
		if verb == 'E' || verb == 'F' || verb == 'G' {
			s = strings.ToUpper(s)
		}
		return pad(signed(s, math.Signbit(f) && !math.IsNaN(f)), !math.IsInf(f, 0) && !math.IsNaN(f)), nil
	case 'c':
		switch x := v.(type) {
		case string:
			if utf8.RuneCountInString(x) != 1 {
				return "", typeErr("%%c requires int or char")
			}
			return pad(x, false), nil
		}
		if n, ok := int64Of(v); ok && isInt(v) && n >= 0 && n <= utf8.MaxRune {
			return pad(string(rune(n)), false), nil
		}
		return "", typeErr("%%c requires int or char")
	}
	return "", typeErr("unsupported format character '%c' (0x%x)", verb, verb)
}

// strFormat is Python's str.format.
func strFormat(c *ctx, format string, args []any, kw map[string]any) (any, error) {
	var b strings.Builder
	auto := 0
	manual := false
	for i := 0; i < len(format); i++ {
		ch := format[i]
		if ch == '}' {
			if i+1 < len(format) && format[i+1] == '}' {
				b.WriteByte('}')
				i++
				continue
			}
			return nil, typeErr("Single '}' encountered in format string")
		}
		if ch != '{' {
			b.WriteByte(ch)
			continue
		}
		if i+1 < len(format) && format[i+1] == '{' {
			b.WriteByte('{')
			i++
			continue
		}
		// Find the matching close brace (a spec may nest one level).
		depth, j := 1, i+1
		for ; j < len(format) && depth > 0; j++ {
			switch format[j] {
			case '{':
				depth++
			case '}':
				depth--
			}
		}
		if depth > 0 {
			return nil, typeErr("expected '}' before end of string")
		}
		field := format[i+1 : j-1]
		i = j - 1
		spec := ""
		conv := byte(0)
		if k := strings.IndexByte(field, ':'); k >= 0 {
			field, spec = field[:k], field[k+1:]
		}
		if k := strings.IndexByte(field, '!'); k >= 0 {
			if k+2 != len(field) {
				return nil, typeErr("expected ':' after conversion specifier")
			}
			conv = field[k+1]
			field = field[:k]
		}
		// Nested replacement fields inside the spec.
		if strings.Contains(spec, "{") {
			s, err := strFormat(c, spec, args, kw)
			if err != nil {
				return nil, err
			}
			spec = s.(string)
		}
		name := field
		rest := ""
		if k := strings.IndexAny(field, ".["); k >= 0 {
			name, rest = field[:k], field[k:]
		}
		var v any
		switch {
		case name == "":
			if manual {
				return nil, typeErr("cannot switch from manual field specification to automatic field numbering")
			}
			if auto >= len(args) {
				return nil, typeErr("Replacement index %d out of range for positional args tuple", auto)
			}
			v = args[auto]
			auto++
		case name[0] >= '0' && name[0] <= '9':
			if auto > 0 {
				return nil, typeErr("cannot switch from automatic field numbering to manual field specification")
			}
			manual = true
			n, err := strconv.Atoi(name)
			if err != nil || n >= len(args) {
				return nil, typeErr("Replacement index %s out of range for positional args tuple", name)
			}
			v = args[n]
		default:
			val, ok := kw[name]
			if !ok {
				return nil, typeErr("KeyError: %s", quoteRepr(name))
			}
			v = val
		}
		for rest != "" {
			var err error
			if rest[0] == '.' {
				k := strings.IndexAny(rest[1:], ".[")
				attr := rest[1:]
				if k >= 0 {
					attr, rest = rest[1:1+k], rest[1+k:]
				} else {
					rest = ""
				}
				if v, err = pyAttr(v, attr); err != nil {
					return nil, err
				}
			} else {
				k := strings.IndexByte(rest, ']')
				if k < 0 {
					return nil, typeErr("Missing ']' in format string")
				}
				key := any(rest[1:k])
				if n, err := strconv.ParseInt(rest[1:k], 10, 64); err == nil {
					key = n
				}
				rest = rest[k+1:]
				if v, err = c.getitem(v, key, ""); err != nil {
					return nil, err
				}
			}
			if u, isU := v.(*undefined); isU {
				return nil, u.err()
			}
		}
		switch conv {
		case 0:
		case 's':
			s, err := pyStr(v)
			if err != nil {
				return nil, err
			}
			v = s
		case 'r', 'a':
			s, err := pyRepr(v)
			if err != nil {
				return nil, err
			}
			v = s
		default:
			return nil, typeErr("Unknown conversion specifier %c", conv)
		}
		s, err := formatSpec(v, spec)
		if err != nil {
			return nil, err
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// pyAttr is Python's getattr, which str.format uses for "{0.name}": a
// method, or an attribute of a namespace or loop; never a dict key.
func pyAttr(v any, name string) (any, error) {
	switch x := v.(type) {
	case *namespace:
		if a, ok := x.attrs.Get(name); ok {
			return a, nil
		}
	case *loopObj:
		if a, ok := x.attr(name); ok {
			return a, nil
		}
	case *undefined:
		return nil, x.err()
	}
	if m := method(v, name); m != nil {
		return m, nil
	}
	return nil, typeErr("'%s' object has no attribute '%s'", typeName(v), name)
}

// formatSpec is Python's format(value, spec).
func formatSpec(v any, spec string) (string, error) {
	if err := firstUndefined(v); err != nil {
		return "", err
	}
	fill, align := " ", byte(0)
	i := 0
	rs := []rune(spec)
	if len(rs) >= 2 && strings.ContainsRune("<>=^", rs[1]) {
		fill, align = string(rs[0]), byte(rs[1])
		spec = string(rs[2:])
	} else if len(spec) >= 1 && strings.IndexByte("<>=^", spec[0]) >= 0 {
		align = spec[0]
		spec = spec[1:]
	}
	sign := byte('-')
	if i < len(spec) && strings.IndexByte("+- ", spec[i]) >= 0 {
		sign = spec[i]
		i++
	}
	alt := false
	if i < len(spec) && spec[i] == '#' {
		alt = true
		i++
	}
	if i < len(spec) && spec[i] == '0' {
		if align == 0 {
			fill, align = "0", '='
		}
		i++
	}
	width := 0
	start := i
	for i < len(spec) && spec[i] >= '0' && spec[i] <= '9' {
		i++
	}
	if i > start {
		width, _ = strconv.Atoi(spec[start:i])
	}
	if width > maxStrLen || width < 0 {
		return "", typeErr("Too many decimal digits in format string")
	}
	group := ""
	if i < len(spec) && (spec[i] == ',' || spec[i] == '_') {
		group = string(spec[i])
		i++
	}
	prec := -1
	if i < len(spec) && spec[i] == '.' {
		i++
		start := i
		for i < len(spec) && spec[i] >= '0' && spec[i] <= '9' {
			i++
		}
		if i == start {
			return "", typeErr("Format specifier missing precision")
		}
		prec, _ = strconv.Atoi(spec[start:i])
		if prec > maxPrecision || prec < 0 {
			return "", typeErr("Too many decimal digits in format string")
		}
	}
	typ := byte(0)
	if i < len(spec) {
		typ = spec[i]
		i++
	}
	if i != len(spec) {
		return "", typeErr("Invalid format specifier")
	}
	var body string
	neg := false
	numeric := false
	switch x := v.(type) {
	case string:
		if typ != 0 && typ != 's' {
			return "", typeErr("Unknown format code '%c' for object of type 'str'", typ)
		}
		body = x
		if prec >= 0 && prec < utf8.RuneCountInString(body) {
			body = string([]rune(body)[:prec])
		}
		if align == 0 {
			align = '<'
		}
	case bool, int64, *big.Int:
		if _, isBool := x.(bool); isBool && typ == 0 && spec == "" {
			body, _ = pyStr(x)
			break
		}
		numeric = true
		switch typ {
		case 0, 'd', 'n', 'b', 'o', 'x', 'X', 'c':
			n := bigOf(x)
			neg = n.Sign() < 0
			abs := new(big.Int).Abs(n)
			switch typ {
			case 'b':
				body = abs.Text(2)
			case 'o':
				body = abs.Text(8)
			case 'x':
				body = abs.Text(16)
			case 'X':
				body = strings.ToUpper(abs.Text(16))
			case 'c':
				body = string(rune(abs.Int64()))
			default:
				body = abs.String()
			}
			if group != "" && (typ == 0 || typ == 'd') {
				body = groupDigits(body, group)
			}
			if alt {
				body = map[byte]string{'b': "0b", 'o': "0o", 'x': "0x", 'X': "0X"}[typ] + body
			}
		default:
			s, n, err := formatFloatSpec(floatOf(x), typ, prec, alt, group)
			if err != nil {
				return "", err
			}
			body, neg = s, n
		}
	case float64:
		numeric = true
		s, n, err := formatFloatSpec(x, typ, prec, alt, group)
		if err != nil {
			return "", err
		}
		body, neg = s, n
	default:
		if spec != "" || typ != 0 {
			return "", typeErr("unsupported format string passed to %s.__format__", typeName(v))
		}
		s, err := pyStr(v)
		if err != nil {
			return "", err
		}
		body = s
	}
	signStr := ""
	if numeric {
		switch {
		case neg:
			signStr = "-"
		case sign == '+':
			signStr = "+"
		case sign == ' ':
			signStr = " "
		}
		if align == 0 {
			align = '>'
		}
	} else if align == 0 {
		align = '<'
	}
	n := utf8.RuneCountInString(signStr + body)
	if width <= n {
		return signStr + body, nil
	}
	padding := width - n
	switch align {
	case '<':
		return signStr + body + strings.Repeat(fill, padding), nil
	case '^':
		left := padding / 2
		return strings.Repeat(fill, left) + signStr + body + strings.Repeat(fill, padding-left), nil
	case '=':
		return signStr + strings.Repeat(fill, padding) + body, nil
	}
	return strings.Repeat(fill, padding) + signStr + body, nil
}

func formatFloatSpec(f float64, typ byte, prec int, alt bool, group string) (string, bool, error) {
	neg := math.Signbit(f) && !math.IsNaN(f)
	a := math.Abs(f)
	if math.IsInf(f, 0) || math.IsNaN(f) {
		s := "inf"
		if math.IsNaN(f) {
			s = "nan"
		}
		if typ == 'E' || typ == 'F' || typ == 'G' {
			s = strings.ToUpper(s)
		}
		return s, neg, nil
	}
	var s string
	switch typ {
	case 0:
		if prec < 0 {
			s = pyFloat(a)
		} else {
			s = strconv.FormatFloat(a, 'g', max(prec, 1), 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0"
			}
			s = strings.Replace(s, "e-0", "e-0", 1)
		}
	case 'f', 'F', '%':
		if prec < 0 {
			prec = 6
		}
		if typ == '%' {
			a *= 100
		}
		s = strconv.FormatFloat(a, 'f', prec, 64)
		if alt && !strings.Contains(s, ".") {
			s += "."
		}
		if typ == '%' {
			s += "%"
		}
	case 'e', 'E':
		if prec < 0 {
			prec = 6
		}
		s = fmt.Sprintf("%.*e", prec, a)
		if typ == 'E' {
			s = strings.ToUpper(s)
		}
	case 'g', 'G', 'n':
		if prec < 0 {
			prec = 6
		}
		s = fmt.Sprintf("%.*g", max(prec, 1), a)
		if typ == 'G' {
			s = strings.ToUpper(s)
		}
	default:
		return "", false, typeErr("Unknown format code '%c' for object of type 'float'", typ)
	}
	if group != "" {
		intPart, frac, _ := strings.Cut(s, ".")
		if strings.IndexFunc(intPart, func(r rune) bool { return r < '0' || r > '9' }) < 0 {
			s = groupDigits(intPart, group)
			if frac != "" || strings.Contains(s, ".") {
				s += "." + frac
			}
		}
	}
	return s, neg, nil
}

func groupDigits(digits, sep string) string {
	if len(digits) <= 3 {
		return digits
	}
	var b strings.Builder
	first := len(digits) % 3
	if first > 0 {
		b.WriteString(digits[:first])
	}
	for i := first; i < len(digits); i += 3 {
		if b.Len() > 0 {
			b.WriteString(sep)
		}
		b.WriteString(digits[i : i+3])
	}
	return b.String()
}
