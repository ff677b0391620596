package jinja

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// Inside the evaluator a value is one of: nil, bool, int64, *big.Int (only
// beyond int64), float64, string, []any (a list), tuple, *vars.Map (a dict,
// in insertion order), *undefined, *callable, *macro, *loopObj, *namespace,
// *hostView (a host's variables, rendered on access), vars.Date,
// vars.DateTime or vars.Vault.

// tuple is a Python tuple: it prints as (a, b) and never equals a list.
type tuple []any

// undefined is Jinja2's (Ansible's) Undefined: it may be passed around and
// tested with "is defined", and any other use fails with an UndefinedError.
type undefined struct {
	name string // the variable or attribute path
	hint string // Jinja2's message
	// lenient is Jinja2's plain Undefined, which an inline if without an
	// else yields: it prints as "" and is false and empty.
	lenient bool
}

func (u *undefined) err() error { return &UndefinedError{Name: u.name, Hint: u.hint} }

// callable is a global function or a bound method.
type callable struct {
	name string
	fn   func(c *ctx, args []any, kw map[string]any) (any, error)
}

// namespace is Jinja2's namespace(): an object whose attributes {% set %}
// may assign from inside a loop.
type namespace struct{ attrs *vars.Map }

const maxValueDepth = 200

// errDepth is returned for values nested deeper than maxValueDepth (or
// referring to themselves).
var errDepth = errors.New("value nested too deeply (or containing itself)")

// typeError is a Python TypeError or ValueError raised by an operation,
// filter or test, with Python's wording.
type typeError struct{ msg string }

func (e *typeError) Error() string { return e.msg }

func typeErr(format string, args ...any) error { return &typeError{msg: fmt.Sprintf(format, args...)} }

// firstUndefined returns the error of the first undefined value among vs.
func firstUndefined(vs ...any) error {
	for _, v := range vs {
		if u, ok := v.(*undefined); ok && !u.lenient {
			return u.err()
		}
	}
	return nil
}

// typeName returns the Python type name of v.
func typeName(v any) string {
	switch x := v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []any:
		return "list"
	case tuple:
		return "tuple"
	case *vars.Map:
		return "dict"
	case *undefined:
		return "AnsibleUndefined"
	case *callable:
		if strings.Contains(x.name, ".") {
			return "builtin_function_or_method"
		}
		return "function"
	case *macro:
		return "Macro"
	case *loopObj:
		return "LoopContext"
	case *namespace:
		return "Namespace"
	case *hostView:
		return "HostVarsVars"
	case vars.Date:
		return "date"
	case vars.DateTime:
		return "datetime"
	case vars.Vault:
		return "AnsibleVaultEncryptedUnicode"
	}
	return fmt.Sprintf("%T", v)
}

// objectRepr names v's type as Jinja2's undefined messages do.
func objectRepr(v any) string {
	if v == nil {
		return "None"
	}
	return "'" + typeName(v) + " object'"
}

// normalize turns the Go values a caller may hand over (register results,
// facts) into the evaluator's types; maps get sorted keys.
func normalize(v any) any {
	switch x := v.(type) {
	case nil, bool, int64, float64, string, []any, tuple, *vars.Map, vars.Date, vars.DateTime, vars.Vault,
		*undefined, *callable, *macro, *loopObj, *namespace, *hostView:
		return v
	case *big.Int:
		return vars.NormInt(x)
	case vars.Unsafe:
		return string(x)
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint8:
		return int64(x)
	case uint16:
		return int64(x)
	case uint32:
		return int64(x)
	case uint:
		return normalizeUint(uint64(x))
	case uint64:
		return normalizeUint(x)
	case float32:
		return float64(x)
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out
	case map[string]any:
		m := vars.NewMap()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Set(k, normalize(x[k]))
		}
		return m
	case map[string]string:
		m := vars.NewMap()
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m.Set(k, x[k])
		}
		return m
	case error:
		return x.Error()
	case fmt.Stringer:
		return x.String()
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = normalize(rv.Index(i).Interface())
		}
		return out
	case reflect.Map:
		if rv.Type().Key().Kind() == reflect.String {
			m := map[string]any{}
			for _, k := range rv.MapKeys() {
				m[k.String()] = rv.MapIndex(k).Interface()
			}
			return normalize(m)
		}
	case reflect.String:
		return rv.String()
	case reflect.Bool:
		return rv.Bool()
	case reflect.Pointer:
		if rv.IsNil() {
			return nil
		}
		return normalize(rv.Elem().Interface())
	}
	return fmt.Sprint(v)
}

func normalizeUint(u uint64) any {
	if u <= math.MaxInt64 {
		return int64(u)
	}
	return new(big.Int).SetUint64(u)
}

// Truthy reports v's truth as Python's bool() does: None, False, zero,
// empty strings and empty collections are false; an undefined value is
// false here (a template that tests it fails instead).
func Truthy(v any) bool {
	t, err := truth(normalize(v))
	return err == nil && t
}

// plainInput converts a caller's value, however deeply it holds Go maps,
// slices or !unsafe strings, into evaluator values (templates unrendered).
func plainInput(v any) any {
	r, err := rawValue(v, 0)
	if err != nil {
		return fmt.Sprint(v)
	}
	return r
}

func truth(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case int64:
		return x != 0, nil
	case *big.Int:
		return x.Sign() != 0, nil
	case float64:
		return x != 0, nil
	case string:
		return x != "", nil
	case []any:
		return len(x) > 0, nil
	case tuple:
		return len(x) > 0, nil
	case *vars.Map:
		return x.Len() > 0, nil
	case *undefined:
		if x.lenient {
			return false, nil
		}
		return false, x.err()
	}
	return true, nil
}

// String returns v as it prints into a template, which is Python's str():
// True, False and None, floats as Python prints them, lists and dicts in
// Python's repr style ("['a', 'b']", "{'k': 1}").
func String(v any) string {
	s, err := pyStr(plainInput(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return s
}

// pyStr is Python's str().
func pyStr(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case nil:
		return "None", nil
	case bool:
		if x {
			return "True", nil
		}
		return "False", nil
	case int64:
		return strconv.FormatInt(x, 10), nil
	case *big.Int:
		return x.String(), nil
	case float64:
		return pyFloat(x), nil
	case vars.Date:
		return x.String(), nil
	case vars.DateTime:
		return x.String(), nil
	case *undefined:
		if x.lenient {
			return "", nil
		}
		return "", x.err()
	case vars.Vault:
		return "", errors.New("a vaulted (!vault) value cannot be used: fleet does not decrypt vaulted variables")
	}
	var b strings.Builder
	if err := writeRepr(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

// pyRepr is Python's repr().
func pyRepr(v any) (string, error) {
	var b strings.Builder
	if err := writeRepr(&b, v, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

// pyFloat formats f as Python's str(float) does.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	return vars.PyFloat(f)
}

func writeRepr(b *strings.Builder, v any, depth int) error {
	if depth > maxValueDepth {
		return errDepth
	}
	switch x := v.(type) {
	case string:
		b.WriteString(quoteRepr(x))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeRepr(b, e, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case tuple:
		b.WriteByte('(')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeRepr(b, e, depth+1); err != nil {
				return err
			}
		}
		if len(x) == 1 {
			b.WriteByte(',')
		}
		b.WriteByte(')')
	case *vars.Map:
		b.WriteByte('{')
		for i, k := range x.Keys() {
			if i > 0 {
				b.WriteString(", ")
			}
			if err := writeRepr(b, dictKey(x, k), depth+1); err != nil {
				return err
			}
			b.WriteString(": ")
			val, _ := x.Get(k)
			if err := writeRepr(b, val, depth+1); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case vars.Date:
		fmt.Fprintf(b, "datetime.date(%d, %d, %d)", x.Year, x.Month, x.Day)
	case vars.DateTime:
		t := x.Time
		fmt.Fprintf(b, "datetime.datetime(%d, %d, %d, %d, %d", t.Year(), int(t.Month()), t.Day(), t.Hour(), t.Minute())
		if t.Second() != 0 || t.Nanosecond() != 0 {
			fmt.Fprintf(b, ", %d", t.Second())
		}
		if us := t.Nanosecond() / 1000; us != 0 {
			fmt.Fprintf(b, ", %d", us)
		}
		b.WriteByte(')')
	case *callable:
		fmt.Fprintf(b, "<built-in function %s>", x.name)
	case *macro:
		fmt.Fprintf(b, "<Macro '%s'>", x.def.name)
	case *loopObj:
		fmt.Fprintf(b, "<LoopContext %d/%d>", x.index+1, len(x.items))
	case *namespace:
		b.WriteString("<Namespace ")
		if err := writeRepr(b, x.attrs, depth+1); err != nil {
			return err
		}
		b.WriteByte('>')
	case *hostView:
		return fmt.Errorf("all variables of %s cannot be printed; name the variable you need, as in hostvars['host'].name", x.describe())
	case nil, bool, int64, *big.Int, float64, *undefined, vars.Vault:
		s, err := pyStr(v)
		if err != nil {
			return err
		}
		b.WriteString(s)
	default:
		fmt.Fprintf(b, "<%T>", v)
	}
	return nil
}

// dictKey returns the key of m as Python sees it (a number for "1:" in YAML).
func dictKey(m *vars.Map, k string) any {
	o := m.OrigKey(k)
	if vars.IsNullKey(o) {
		return nil
	}
	return o
}

// quoteRepr is Python's repr() of a str.
func quoteRepr(s string) string {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte(q)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(&b, `\x%02x`, s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == rune(q):
			b.WriteByte('\\')
			b.WriteByte(q)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		case r < 0x7f:
			b.WriteRune(r)
		case !isPyPrintable(r):
			switch {
			case r <= 0xff:
				fmt.Fprintf(&b, `\x%02x`, r)
			case r <= 0xffff:
				fmt.Fprintf(&b, `\u%04x`, r)
			default:
				fmt.Fprintf(&b, `\U%08x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
	return b.String()
}

// isPyPrintable approximates Python's str.isprintable for one character.
func isPyPrintable(r rune) bool {
	if r == ' ' {
		return true
	}
	return unicode.IsPrint(r)
}

// Numbers.

func isNumber(v any) bool {
	switch v.(type) {
	case bool, int64, *big.Int, float64:
		return true
	}
	return false
}

func isInt(v any) bool {
	switch v.(type) {
	case bool, int64, *big.Int:
		return true
	}
	return false
}

// bigOf returns an integer value (bool, int64 or *big.Int) as a big.Int.
func bigOf(v any) *big.Int {
	switch x := v.(type) {
	case bool:
		if x {
			return big.NewInt(1)
		}
		return big.NewInt(0)
	case int64:
		return big.NewInt(x)
	case *big.Int:
		return x
	}
	return big.NewInt(0)
}

func floatOf(v any) float64 {
	switch x := v.(type) {
	case bool:
		if x {
			return 1
		}
		return 0
	case int64:
		return float64(x)
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f
	case float64:
		return x
	}
	return 0
}

// int64Of returns an integer value as int64 when it fits.
func int64Of(v any) (int64, bool) {
	switch x := v.(type) {
	case bool:
		if x {
			return 1, true
		}
		return 0, true
	case int64:
		return x, true
	case *big.Int:
		if x.IsInt64() {
			return x.Int64(), true
		}
	}
	return 0, false
}

func binTypeErr(op string, a, b any) error {
	return typeErr("unsupported operand type(s) for %s: '%s' and '%s'", op, typeName(a), typeName(b))
}

// Limits on what one operation may build, against templates that would
// exhaust memory.
const (
	maxStrLen = 1 << 24 // bytes
	maxSeqLen = 1 << 20 // items
)

func arith(op string, a, b any) (any, error) {
	if err := firstUndefined(a, b); err != nil {
		return nil, err
	}
	if isNumber(a) && isNumber(b) {
		return numArith(op, a, b)
	}
	switch op {
	case "+":
		switch x := a.(type) {
		case string:
			if y, ok := b.(string); ok {
				if len(x)+len(y) > maxStrLen {
					return nil, typeErr("string longer than %d bytes", maxStrLen)
				}
				return x + y, nil
			}
			return nil, typeErr("can only concatenate str (not \"%s\") to str", typeName(b))
		case []any:
			if y, ok := b.([]any); ok {
				if len(x)+len(y) > maxSeqLen {
					return nil, typeErr("list longer than %d items", maxSeqLen)
				}
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, typeErr("can only concatenate list (not \"%s\") to list", typeName(b))
		case tuple:
			if y, ok := b.(tuple); ok {
				if len(x)+len(y) > maxSeqLen {
					return nil, typeErr("tuple longer than %d items", maxSeqLen)
				}
				out := make(tuple, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
			return nil, typeErr("can only concatenate tuple (not \"%s\") to tuple", typeName(b))
		}
	case "*":
		if isInt(a) && !isInt(b) {
			a, b = b, a
		}
		if isInt(b) {
			n, ok := int64Of(b)
			if !ok {
				return nil, typeErr("cannot fit 'int' into an index-sized integer")
			}
			if n < 0 {
				n = 0
			}
			switch x := a.(type) {
			case string:
				if int64(len(x))*n > maxStrLen {
					return nil, typeErr("string repetition would exceed %d bytes", maxStrLen)
				}
				return strings.Repeat(x, int(n)), nil
			case []any:
				if int64(len(x))*n > maxSeqLen {
					return nil, typeErr("list repetition would exceed %d items", maxSeqLen)
				}
				out := make([]any, 0, len(x)*int(n))
				for i := int64(0); i < n; i++ {
					out = append(out, x...)
				}
				return out, nil
			case tuple:
				if int64(len(x))*n > maxSeqLen {
					return nil, typeErr("tuple repetition would exceed %d items", maxSeqLen)
				}
				out := make(tuple, 0, len(x)*int(n))
				for i := int64(0); i < n; i++ {
					out = append(out, x...)
				}
				return out, nil
			}
		}
		if _, ok := a.(string); ok {
			return nil, typeErr("can't multiply sequence by non-int of type '%s'", typeName(b))
		}
	case "%":
		if s, ok := a.(string); ok {
			return percentFormat(s, b)
		}
	}
	return nil, binTypeErr(op, a, b)
}

func numArith(op string, a, b any) (any, error) {
	_, af := a.(float64)
	_, bf := b.(float64)
	if af || bf {
		x, y := floatOf(a), floatOf(b)
		switch op {
		case "+":
			return x + y, nil
		case "-":
			return x - y, nil
		case "*":
			return x * y, nil
		case "/":
			if y == 0 {
				return nil, typeErr("float division by zero")
			}
			return x / y, nil
		case "//":
			if y == 0 {
				return nil, typeErr("float floor division by zero")
			}
			return math.Floor(x / y), nil
		case "%":
			if y == 0 {
				return nil, typeErr("float modulo")
			}
			m := math.Mod(x, y)
			if m != 0 && (m < 0) != (y < 0) {
				m += y
			}
			return m, nil
		case "**":
			if x == 0 && y < 0 {
				return nil, typeErr("0.0 cannot be raised to a negative power")
			}
			return math.Pow(x, y), nil
		}
		return nil, binTypeErr(op, a, b)
	}
	if op == "/" {
		y := floatOf(b)
		if y == 0 {
			return nil, typeErr("division by zero")
		}
		xi, yi := bigOf(a), bigOf(b)
		if xi.IsInt64() && yi.IsInt64() && math.Abs(float64(xi.Int64())) < 1<<53 && math.Abs(float64(yi.Int64())) < 1<<53 {
			return floatOf(a) / y, nil
		}
		f, _ := new(big.Rat).SetFrac(xi, yi).Float64()
		return f, nil
	}
	// Integers: int64 fast paths with overflow checks, big.Int otherwise.
	if x, ok := int64Of(a); ok {
		if y, ok := int64Of(b); ok {
			switch op {
			case "+":
				if s := x + y; (s > x) == (y > 0) {
					return s, nil
				}
			case "-":
				if s := x - y; (s < x) == (y > 0) {
					return s, nil
				}
			case "*":
				if x == 0 || y == 0 {
					return int64(0), nil
				}
				if s := x * y; s/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64) {
					return s, nil
				}
			}
		}
	}
	x, y := bigOf(a), bigOf(b)
	r := new(big.Int)
	switch op {
	case "+":
		r.Add(x, y)
	case "-":
		r.Sub(x, y)
	case "*":
		if x.BitLen()+y.BitLen() > 1<<20 {
			return nil, typeErr("integer result too large")
		}
		r.Mul(x, y)
	case "//", "%":
		if y.Sign() == 0 {
			return nil, typeErr("integer division or modulo by zero")
		}
		q, m := new(big.Int), new(big.Int)
		q.DivMod(x, y, m) // Euclidean: 0 <= m < |y|
		if m.Sign() != 0 && y.Sign() < 0 {
			// Python's remainder takes the divisor's sign.
			m.Add(m, y)
			q.Add(q, big.NewInt(1))
		}
		if op == "//" {
			r = q
		} else {
			r = m
		}
	case "**":
		if y.Sign() < 0 {
			if x.Sign() == 0 {
				return nil, typeErr("0.0 cannot be raised to a negative power")
			}
			return math.Pow(floatOf(a), floatOf(b)), nil
		}
		if !y.IsInt64() || int64(x.BitLen())*y.Int64() > 1<<20 {
			if x.CmpAbs(big.NewInt(1)) <= 0 {
				if x.Sign() >= 0 || y.Bit(0) == 0 {
					return vars.NormInt(new(big.Int).Abs(x)), nil
				}
				return x, nil
			}
			return nil, typeErr("integer result too large")
		}
		r.Exp(x, y, nil)
	default:
		return nil, binTypeErr(op, a, b)
	}
	return vars.NormInt(r), nil
}

func negate(v any) (any, error) {
	switch x := v.(type) {
	case *undefined:
		return nil, x.err()
	case bool, int64, *big.Int:
		return numArith("-", int64(0), v)
	case float64:
		return -x, nil
	}
	return nil, typeErr("bad operand type for unary -: '%s'", typeName(v))
}

// Comparisons.

// equal is Python's ==.
func equal(a, b any) (bool, error) {
	if err := firstUndefined(a, b); err != nil {
		return false, err
	}
	return eq(a, b, 0), nil
}

func eq(a, b any, depth int) bool {
	if depth > maxValueDepth {
		return false
	}
	if isNumber(a) && isNumber(b) {
		c, ok := numCompare(a, b)
		return ok && c == 0
	}
	switch x := a.(type) {
	case nil:
		return b == nil
	case string:
		y, ok := b.(string)
		return ok && x == y
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !eq(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case tuple:
		y, ok := b.(tuple)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !eq(x[i], y[i], depth+1) {
				return false
			}
		}
		return true
	case *vars.Map:
		y, ok := b.(*vars.Map)
		if !ok || x.Len() != y.Len() {
			return false
		}
		for _, k := range x.Keys() {
			yv, ok := y.Get(k)
			if !ok {
				return false
			}
			xv, _ := x.Get(k)
			if !eq(xv, yv, depth+1) {
				return false
			}
		}
		return true
	case vars.Date:
		y, ok := b.(vars.Date)
		return ok && x == y
	case vars.DateTime:
		y, ok := b.(vars.DateTime)
		return ok && x.Time.Equal(y.Time) && x.HasZone == y.HasZone
	}
	return a == b
}

// numCompare compares two numbers; ok is false when either is NaN.
func numCompare(a, b any) (int, bool) {
	_, af := a.(float64)
	_, bf := b.(float64)
	if af || bf {
		x, y := floatOf(a), floatOf(b)
		if math.IsNaN(x) || math.IsNaN(y) {
			return 0, false
		}
		// Exact comparison of a float with a big integer.
		if (!af && !isSmall(a)) || (!bf && !isSmall(b)) {
			if math.IsInf(x, 0) || math.IsInf(y, 0) {
				return cmpFloat(x, y), true
			}
			rx, _ := new(big.Rat).SetString(ratString(a))
			ry, _ := new(big.Rat).SetString(ratString(b))
			if rx != nil && ry != nil {
				return rx.Cmp(ry), true
			}
		}
		return cmpFloat(x, y), true
	}
	if x, ok := int64Of(a); ok {
		if y, ok := int64Of(b); ok {
			switch {
			case x < y:
				return -1, true
			case x > y:
				return 1, true
			}
			return 0, true
		}
	}
	return bigOf(a).Cmp(bigOf(b)), true
}

func isSmall(v any) bool {
	x, ok := int64Of(v)
	return ok && x > -(1<<53) && x < 1<<53
}

func ratString(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return bigOf(v).String()
}

func cmpFloat(x, y float64) int {
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// less is Python's <, with its TypeError for unordered types.
func less(a, b any, op string) (bool, error) {
	c, err := order(a, b, op, 0)
	return c < 0, err
}

// order compares a and b for <, <=, >, >=; NaN compares as unordered
// (every comparison false), reported as 2.
func order(a, b any, op string, depth int) (int, error) {
	if err := firstUndefined(a, b); err != nil {
		return 0, err
	}
	if depth > maxValueDepth {
		return 0, errDepth
	}
	if isNumber(a) && isNumber(b) {
		c, ok := numCompare(a, b)
		if !ok {
			return 2, nil
		}
		return c, nil
	}
	switch x := a.(type) {
	case string:
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), nil
		}
	case []any:
		if y, ok := b.([]any); ok {
			return orderSeq(x, y, op, depth)
		}
	case tuple:
		if y, ok := b.(tuple); ok {
			return orderSeq(x, y, op, depth)
		}
	case vars.Date:
		if y, ok := b.(vars.Date); ok {
			return strings.Compare(x.ISO(), y.ISO()), nil
		}
	case vars.DateTime:
		if y, ok := b.(vars.DateTime); ok {
			return x.Time.Compare(y.Time), nil
		}
	}
	return 0, typeErr("'%s' not supported between instances of '%s' and '%s'", op, typeName(a), typeName(b))
}

func orderSeq(x, y []any, op string, depth int) (int, error) {
	for i := 0; i < len(x) && i < len(y); i++ {
		if eq(x[i], y[i], depth+1) {
			continue
		}
		return order(x[i], y[i], op, depth+1)
	}
	return cmpInt(len(x), len(y)), nil
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func compare(op string, a, b any) (bool, error) {
	switch op {
	case "==":
		return equal(a, b)
	case "!=":
		e, err := equal(a, b)
		return !e, err
	case "in":
		return contains(b, a)
	case "notin":
		c, err := contains(b, a)
		return !c, err
	}
	c, err := order(a, b, op, 0)
	if err != nil || c == 2 {
		return false, err
	}
	switch op {
	case "<":
		return c < 0, nil
	case "<=":
		return c <= 0, nil
	case ">":
		return c > 0, nil
	case ">=":
		return c >= 0, nil
	}
	return false, fmt.Errorf("unknown comparison %q", op)
}

// contains is Python's "item in container".
func contains(container, item any) (bool, error) {
	if err := firstUndefined(container, item); err != nil {
		return false, err
	}
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			return false, typeErr("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, e := range c {
			if eq(e, item, 0) {
				return true, nil
			}
		}
		return false, nil
	case tuple:
		for _, e := range c {
			if eq(e, item, 0) {
				return true, nil
			}
		}
		return false, nil
	case *vars.Map:
		k, err := hashKey(item)
		if err != nil {
			return false, err
		}
		return c.Has(k), nil
	case *hostView:
		k, ok := item.(string)
		if !ok {
			return false, nil
		}
		return c.has(k), nil
	case *namespace:
		k, ok := item.(string)
		return ok && c.attrs.Has(k), nil
	}
	return false, typeErr("argument of type '%s' is not iterable", typeName(container))
}

// hashKey returns the dict key for a value used as a key.
func hashKey(k any) (string, error) {
	switch x := k.(type) {
	case []any, *vars.Map:
		return "", typeErr("unhashable type: '%s'", typeName(k))
	case *undefined:
		return "", x.err()
	}
	s, err := vars.KeyString(k)
	if err != nil {
		return "", typeErr("unhashable type: '%s'", typeName(k))
	}
	return s, nil
}

// setKey stores v in m under a key value of any hashable type.
func setKey(m *vars.Map, k, v any) error {
	if s, ok := k.(string); ok {
		m.Set(s, v)
		return nil
	}
	if _, err := hashKey(k); err != nil {
		return err
	}
	return m.SetKey(k, 0, v)
}

// iterate returns the items a for loop over v visits.
func iterate(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case tuple:
		return x, nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case *vars.Map:
		out := make([]any, x.Len())
		for i, k := range x.Keys() {
			out[i] = dictKey(x, k)
		}
		return out, nil
	case *undefined:
		if x.lenient {
			return nil, nil
		}
		return nil, x.err()
	case *namespace:
		return nil, typeErr("'Namespace' object is not iterable")
	case *hostView:
		return nil, fmt.Errorf("the variables of %s cannot be listed; name the variable you need", x.describe())
	}
	return nil, typeErr("'%s' object is not iterable", typeName(v))
}

// length is Python's len().
func length(v any) (int, error) {
	switch x := v.(type) {
	case string:
		return utf8.RuneCountInString(x), nil
	case []any:
		return len(x), nil
	case tuple:
		return len(x), nil
	case *vars.Map:
		return x.Len(), nil
	case *undefined:
		if x.lenient {
			return 0, nil
		}
		return 0, x.err()
	}
	return 0, typeErr("object of type '%s' has no len()", typeName(v))
}

// toPlain converts an evaluator value into the plain values callers get:
// string, int64, *big.Int, float64, bool, nil, []any, map[string]any.
func toPlain(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errDepth
	}
	switch x := v.(type) {
	case nil, bool, int64, *big.Int, float64, string:
		return v, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			p, err := toPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = p
		}
		return out, nil
	case tuple:
		return toPlain([]any(x), depth)
	case *vars.Map:
		out := make(map[string]any, x.Len())
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			p, err := toPlain(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[k] = p
		}
		return out, nil
	case vars.Date:
		return x.ISO(), nil
	case vars.DateTime:
		return x.ISO(), nil
	case *undefined:
		if x.lenient {
			return "", nil
		}
		return nil, x.err()
	case *namespace:
		return toPlain(x.attrs, depth)
	}
	return pyStr(v)
}

// checkDefined fails when v holds an undefined value anywhere inside, as
// Ansible's finalize does before printing.
func checkDefined(v any, depth int) error {
	if depth > maxValueDepth {
		return errDepth
	}
	switch x := v.(type) {
	case *undefined:
		if x.lenient {
			return nil
		}
		return x.err()
	case []any:
		for _, e := range x {
			if err := checkDefined(e, depth+1); err != nil {
				return err
			}
		}
	case tuple:
		for _, e := range x {
			if err := checkDefined(e, depth+1); err != nil {
				return err
			}
		}
	case *vars.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			if err := checkDefined(e, depth+1); err != nil {
				return err
			}
		}
	}
	return nil
}
