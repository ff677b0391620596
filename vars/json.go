package vars

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeJSON parses data as Python's json.loads does, keeping object key
// order; ok is false when data is not a single JSON value.
func decodeJSON(name string, data []byte) (v any, ok bool) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return nil, false
	}
	dec := json.NewDecoder(bytes.NewReader(trimmed))
	dec.UseNumber()
	v, err := jsonValue(dec, trimmed)
	if err != nil {
		return nil, false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, false
	}
	return v, true
}

func jsonValue(dec *json.Decoder, src []byte) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			out := []any{}
			for dec.More() {
				v, err := jsonValue(dec, src)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			}
			_, err := dec.Token()
			return out, err
		case '{':
			m := NewMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				line := 1 + bytes.Count(src[:dec.InputOffset()], []byte("\n"))
				k, _ := kt.(string)
				v, err := jsonValue(dec, src)
				if err != nil {
					return nil, err
				}
				m.Set(k, v)
				m.setMeta(k, line, nil)
			}
			if _, err := dec.Token(); err != nil {
				return nil, err
			}
			return ansibleJSONObject(m), nil
		}
		return nil, fmt.Errorf("unexpected %v", t)
	case json.Number:
		return jsonNumber(string(t))
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}

// ansibleJSONObject applies AnsibleJSONDecoder's object hook: the markers
// that ansible-inventory writes for vaulted and unsafe values read back as
// those values.
func ansibleJSONObject(m *Map) any {
	if v, ok := m.Get("__ansible_vault"); ok {
		if s, ok := v.(string); ok {
			return Vault{Ciphertext: s}
		}
	}
	if v, ok := m.Get("__ansible_unsafe"); ok {
		return wrapUnsafe(v)
	}
	return m
}

func jsonNumber(s string) (any, error) {
	if strings.ContainsAny(s, ".eE") {
		f, err := strconv.ParseFloat(s, 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return nil, err
		}
		return f, nil
	}
	var b big.Int
	if _, ok := b.SetString(s, 10); !ok {
		return nil, fmt.Errorf("bad number %q", s)
	}
	return NormInt(&b), nil
}

// EncodeJSON returns v as Python's json.dumps(v, sort_keys=True, indent=4,
// ensure_ascii=False) prints it with Ansible's encoder, which is what
// ansible-inventory prints: floats as Python's repr, NaN and Infinity bare,
// unsafe and vaulted values as marker objects.
//
// Keys sort as Python sorts them: numbers numerically, strings by code
// point. When some mapping mixes keys Python cannot compare (say, 1 and
// "a"), Python's sort fails and Ansible prints the whole document in
// insertion order instead; EncodeJSON does the same and reports
// sorted=false.
func EncodeJSON(v any) (data []byte, sorted bool, err error) {
	var buf bytes.Buffer
	e := &jsonEncoder{buf: &buf, sort: true}
	if err := e.encode(v, 0); err != nil {
		if !errors.Is(err, errUnsortable) {
			return nil, false, err
		}
		buf.Reset()
		e = &jsonEncoder{buf: &buf}
		if err := e.encode(v, 0); err != nil {
			return nil, false, err
		}
		return buf.Bytes(), false, nil
	}
	return buf.Bytes(), true, nil
}

var errUnsortable = errors.New("vars: mapping keys of types Python cannot order")

// EncodeJSONCompact returns v as Python's json.dumps(v, ensure_ascii=False)
// prints it: on one line, ", " and ": " as separators, keys in insertion
// order.
func EncodeJSONCompact(v any) ([]byte, error) {
	var buf bytes.Buffer
	e := &jsonEncoder{buf: &buf, compact: true}
	if err := e.encode(v, 0); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

type jsonEncoder struct {
	buf     *bytes.Buffer
	sort    bool
	compact bool
}

const jsonIndent = "    "

// newline starts the next item: a new indented line, or in compact mode
// nothing before the first item and a space after each comma.
func (e *jsonEncoder) newline(depth int) {
	if e.compact {
		return
	}
	e.buf.WriteByte('\n')
	for i := 0; i < depth; i++ {
		e.buf.WriteString(jsonIndent)
	}
}

func (e *jsonEncoder) comma() {
	e.buf.WriteByte(',')
	if e.compact {
		e.buf.WriteByte(' ')
	}
}

func (e *jsonEncoder) encode(v any, depth int) error {
	if depth > maxDepth {
		return errors.New("vars: value nested too deeply to encode")
	}
	buf := e.buf
	switch x := v.(type) {
	case []any:
		if len(x) == 0 {
			buf.WriteString("[]")
			return nil
		}
		buf.WriteByte('[')
		for i, el := range x {
			if i > 0 {
				e.comma()
			}
			e.newline(depth + 1)
			if err := e.encode(el, depth+1); err != nil {
				return err
			}
		}
		e.newline(depth)
		buf.WriteByte(']')
		return nil
	case *Map:
		if x.Len() == 0 {
			buf.WriteString("{}")
			return nil
		}
		keys := x.Keys()
		if e.sort {
			var ok bool
			if keys, ok = pySortedKeys(x); !ok {
				return errUnsortable
			}
		}
		buf.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				e.comma()
			}
			e.newline(depth + 1)
			buf.Write(appendString(nil, k))
			buf.WriteString(": ")
			val, _ := x.Get(k)
			if err := e.encode(val, depth+1); err != nil {
				return err
			}
		}
		e.newline(depth)
		buf.WriteByte('}')
		return nil
	case Unsafe:
		m := NewMap()
		m.Set("__ansible_unsafe", string(x))
		return e.encode(m, depth)
	case Vault:
		m := NewMap()
		m.Set("__ansible_vault", x.Ciphertext)
		return e.encode(m, depth)
	}
	b := appendScalar(nil, v)
	if b == nil {
		return fmt.Errorf("vars: cannot encode %T as JSON", v)
	}
	buf.Write(b)
	return nil
}

// pySortedKeys returns m's keys in the order Python's sorted() puts the
// original keys, or ok=false where Python would raise TypeError.
func pySortedKeys(m *Map) (keys []string, ok bool) {
	keys = append([]string(nil), m.Keys()...)
	if len(keys) < 2 {
		return keys, true
	}
	class := -1
	for _, k := range keys {
		c := keyClass(m.OrigKey(k))
		if class >= 0 && c != class || c == classNone {
			return nil, false
		}
		class = c
	}
	switch class {
	case classString:
		sort.Strings(keys)
	case classNumber:
		sort.SliceStable(keys, func(i, j int) bool {
			return numberLess(m.OrigKey(keys[i]), m.OrigKey(keys[j]))
		})
	default:
		// Dates sort as their ISO spelling does.
		sort.Strings(keys)
	}
	return keys, true
}

const (
	classString = iota
	classNumber
	classNone
	classDate
	classDateTime
	classDateTimeZone
)

func keyClass(k any) int {
	switch x := k.(type) {
	case string, Unsafe:
		return classString
	case bool, int64, *big.Int, float64:
		return classNumber
	case Date:
		return classDate
	case DateTime:
		if x.HasZone {
			return classDateTimeZone
		}
		return classDateTime
	}
	return classNone
}

func numberLess(a, b any) bool {
	return toRat(a).Cmp(toRat(b)) < 0
}

func toRat(v any) *big.Rat {
	r := new(big.Rat)
	switch x := v.(type) {
	case bool:
		if x {
			r.SetInt64(1)
		}
	case int64:
		r.SetInt64(x)
	case *big.Int:
		r.SetInt(x)
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			// Beyond every finite number; NaN has no order in Python
			// either, so any answer is as good as Python's.
			r.SetFloat64(math.Copysign(math.MaxFloat64, x))
			return r.Add(r, r)
		}
		r.SetFloat64(x)
	}
	return r
}

// appendScalar appends the JSON spelling of a scalar value, or returns nil
// for a value that is not a scalar.
func appendScalar(b []byte, v any) []byte {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...)
	case bool:
		return strconv.AppendBool(b, x)
	case int64:
		return strconv.AppendInt(b, x, 10)
	case int:
		return strconv.AppendInt(b, int64(x), 10)
	case *big.Int:
		return append(b, x.String()...)
	case float64:
		return append(b, PyFloat(x)...)
	case string:
		return appendString(b, x)
	case Date:
		return appendString(b, x.ISO())
	case DateTime:
		return appendString(b, x.ISO())
	}
	return nil
}

// PyFloat formats f as Python's repr(float) does, which is also how
// json.dumps prints it: the shortest digits that round-trip, in positional
// notation from 1e-4 up to 1e16 (always with a ".0" or fraction), otherwise
// in exponent notation with a sign and at least two exponent digits.
func PyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // e.g. "-1.2345e+02"
	neg := strings.HasPrefix(e, "-")
	e = strings.TrimPrefix(e, "-")
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1 // value is 0.DIGITS × 10^decpt
	var s string
	if decpt <= -4 || decpt > 16 {
		s = digits[:1]
		if len(digits) > 1 {
			s += "." + digits[1:]
		}
		x := decpt - 1
		sign := "+"
		if x < 0 {
			sign, x = "-", -x
		}
		s += fmt.Sprintf("e%s%02d", sign, x)
	} else {
		switch {
		case decpt <= 0:
			s = "0." + strings.Repeat("0", -decpt) + digits
		case decpt >= len(digits):
			s = digits + strings.Repeat("0", decpt-len(digits)) + ".0"
		default:
			s = digits[:decpt] + "." + digits[decpt:]
		}
	}
	if neg {
		s = "-" + s
	}
	return s
}

// appendString appends s as a JSON string with ensure_ascii=False: only the
// quote, the backslash and control characters are escaped.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == '"':
			b = append(b, `\"`...)
		case r == '\\':
			b = append(b, `\\`...)
		case r == '\n':
			b = append(b, `\n`...)
		case r == '\r':
			b = append(b, `\r`...)
		case r == '\t':
			b = append(b, `\t`...)
		case r == '\b':
			b = append(b, `\b`...)
		case r == '\f':
			b = append(b, `\f`...)
		case r < 0x20:
			b = fmt.Appendf(b, `\u%04x`, r)
		default:
			b = utf8.AppendRune(b, r)
		}
		i += size
	}
	return append(b, '"')
}
