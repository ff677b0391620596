package report

import (
	"encoding/json"
	"fmt"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// internalKeyPrefix starts the keys Ansible keeps for itself in a result
// (_ansible_verbose_always, _ansible_no_log, ...); its callbacks drop them
// at every depth before printing.
const internalKeyPrefix = "_ansible_"

// maxPyJSONDepth bounds the nesting appendPyJSON follows.
const maxPyJSONDepth = 100

// appendPyJSON appends v encoded as Python's json.dumps(v, sort_keys=True,
// ensure_ascii=False) writes it, which is how Ansible prints results: keys
// sorted, ", " and ": " between items without indent, "," and ": " with
// it, non-ASCII text as it is, floats as Python's repr ("1.0", "1e+16").
// indent > 0 puts each item on its own line, indented by indent spaces per
// level; level is the current depth. Map keys starting with "_ansible_"
// are left out, at every depth.
func appendPyJSON(b []byte, v any, indent, level int) []byte {
	if level > maxPyJSONDepth { // a cycle, or close enough: never recurse forever
		return appendPyString(b, "<nested too deeply>")
	}
	switch v := v.(type) {
	case nil:
		return append(b, "null"...)
	case string:
		return appendPyString(b, v)
	case bool:
		return strconv.AppendBool(b, v)
	case int:
		return strconv.AppendInt(b, int64(v), 10)
	case int64:
		return strconv.AppendInt(b, v, 10)
	case float64:
		return appendPyFloat(b, v)
	case *big.Int:
		if v == nil {
			return append(b, "null"...)
		}
		return v.Append(b, 10)
	case json.Number:
		return append(b, v...)
	case []any:
		return appendPyList(b, len(v), func(b []byte, i int) []byte {
			return appendPyJSON(b, v[i], indent, level+1)
		}, indent, level)
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			if !strings.HasPrefix(k, internalKeyPrefix) {
				keys = append(keys, k)
			}
		}
		slices.Sort(keys) // byte order of UTF-8 is code point order, as Python sorts
		return appendPyMap(b, keys, func(b []byte, k string) []byte {
			return appendPyJSON(b, v[k], indent, level+1)
		}, indent, level)
	case *vars.Map:
		if v == nil {
			return append(b, "null"...)
		}
		keys := slices.DeleteFunc(slices.Clone(v.Keys()), func(k string) bool {
			return strings.HasPrefix(k, internalKeyPrefix)
		})
		slices.Sort(keys)
		return appendPyMap(b, keys, func(b []byte, k string) []byte {
			val, _ := v.Get(k)
			return appendPyJSON(b, val, indent, level+1)
		}, indent, level)
	case vars.Unsafe:
		return appendPyString(b, string(v)) // Ansible's callbacks print unsafe text as text
	case vars.Date:
		return appendPyString(b, v.ISO())
	case vars.DateTime:
		return appendPyString(b, v.ISO())
	}
	return appendPyReflect(b, reflect.ValueOf(v), indent, level)
}

// appendPyReflect encodes the values that have no case of their own in
// appendPyJSON: other numeric types, typed slices and maps, pointers, and
// structs (through their encoding/json form).
func appendPyReflect(b []byte, rv reflect.Value, indent, level int) []byte {
	switch rv.Kind() {
	case reflect.Invalid:
		return append(b, "null"...)
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return append(b, "null"...)
		}
		return appendPyJSON(b, rv.Elem().Interface(), indent, level)
	case reflect.Bool:
		return strconv.AppendBool(b, rv.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, rv.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, rv.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return appendPyFloat(b, rv.Float())
	case reflect.String:
		return appendPyString(b, rv.String())
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			return append(b, "null"...)
		}
		if rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendPyString(b, string(rv.Bytes())) // bytes are text here, not numbers
		}
		return appendPyList(b, rv.Len(), func(b []byte, i int) []byte {
			return appendPyJSON(b, rv.Index(i).Interface(), indent, level+1)
		}, indent, level)
	case reflect.Map:
		if rv.IsNil() {
			return append(b, "null"...)
		}
		vals := map[string]reflect.Value{}
		keys := make([]string, 0, rv.Len())
		for it := rv.MapRange(); it.Next(); {
			k := fmt.Sprint(it.Key().Interface())
			if strings.HasPrefix(k, internalKeyPrefix) {
				continue
			}
			keys = append(keys, k)
			vals[k] = it.Value()
		}
		slices.Sort(keys)
		return appendPyMap(b, keys, func(b []byte, k string) []byte {
			return appendPyJSON(b, vals[k].Interface(), indent, level+1)
		}, indent, level)
	case reflect.Struct:
		// A struct prints as encoding/json would give it, keeping each
		// number's text.
		raw, err := json.Marshal(rv.Interface())
		if err != nil {
			return appendPyString(b, fmt.Sprint(rv.Interface()))
		}
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return appendPyString(b, string(raw))
		}
		return appendPyJSON(b, v, indent, level)
	}
	return appendPyString(b, fmt.Sprint(rv.Interface()))
}

func appendPyList(b []byte, n int, elem func([]byte, int) []byte, indent, level int) []byte {
	if n == 0 {
		return append(b, "[]"...)
	}
	b = append(b, '[')
	for i := range n {
		b = appendPySep(b, i > 0, indent, level+1)
		b = elem(b, i)
	}
	b = appendPyClose(b, indent, level)
	return append(b, ']')
}

func appendPyMap(b []byte, keys []string, val func([]byte, string) []byte, indent, level int) []byte {
	if len(keys) == 0 {
		return append(b, "{}"...)
	}
	b = append(b, '{')
	for i, k := range keys {
		b = appendPySep(b, i > 0, indent, level+1)
		b = appendPyString(b, k)
		b = append(b, ": "...)
		b = val(b, k)
	}
	b = appendPyClose(b, indent, level)
	return append(b, '}')
}

// appendPySep starts an item: after a comma unless it is the first, on a
// new line at depth level when indenting.
func appendPySep(b []byte, comma bool, indent, level int) []byte {
	if comma {
		b = append(b, ',')
		if indent <= 0 {
			b = append(b, ' ')
		}
	}
	if indent > 0 {
		b = append(b, '\n')
		b = append(b, strings.Repeat(" ", indent*level)...)
	}
	return b
}

func appendPyClose(b []byte, indent, level int) []byte {
	if indent > 0 {
		b = append(b, '\n')
		b = append(b, strings.Repeat(" ", indent*level)...)
	}
	return b
}

// appendPyString quotes s as Python's json module does with
// ensure_ascii=False: only '"', '\\' and control characters are escaped.
// Invalid UTF-8, which a Python string cannot hold, becomes U+FFFD.
func appendPyString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, "\uFFFD"...)
			} else {
				b = append(b, s[i:i+size]...)
			}
			i += size
			continue
		}
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		default:
			if c < 0x20 {
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			} else {
				b = append(b, c)
			}
		}
		i++
	}
	return append(b, '"')
}

// appendPyFloat writes f as Python's repr, as json.dumps does.
func appendPyFloat(b []byte, f float64) []byte {
	return append(b, vars.PyFloat(f)...)
}
