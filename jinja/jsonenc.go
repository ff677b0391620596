package jinja

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// jsonOpts are the json.dumps options Ansible's filters pass.
type jsonOpts struct {
	indent      string // "" with hasIndent=false: one line
	hasIndent   bool
	sortKeys    bool
	itemSep     string
	keySep      string
	ensureASCII bool
}

func jsonOptions(args []any, kw map[string]any, o jsonOpts) (jsonOpts, error) {
	if len(args) > 0 {
		return o, typeErr("takes keyword arguments only")
	}
	sepSet := false
	for _, k := range sortedKeys(kw) {
		v := kw[k]
		switch k {
		case "indent":
			switch x := v.(type) {
			case nil:
				o.hasIndent = false
			case string:
				if len(x) > 1024 {
					return o, typeErr("indent is too long")
				}
				o.indent, o.hasIndent = x, true
			default:
				n, err := toGoInt(x, "indent")
				if err != nil {
					return o, err
				}
				if n > 1024 {
					return o, typeErr("indent %d is too large", n)
				}
				o.indent, o.hasIndent = strings.Repeat(" ", max(n, 0)), true
			}
		case "sort_keys":
			t, err := truth(v)
			if err != nil {
				return o, err
			}
			o.sortKeys = t
		case "ensure_ascii":
			t, err := truth(v)
			if err != nil {
				return o, err
			}
			o.ensureASCII = t
		case "separators":
			items := seqItems(v)
			if len(items) != 2 {
				return o, typeErr("separators must be a pair of strings")
			}
			a, ok1 := items[0].(string)
			b, ok2 := items[1].(string)
			if !ok1 || !ok2 {
				return o, typeErr("separators must be a pair of strings")
			}
			o.itemSep, o.keySep, sepSet = a, b, true
		case "vault_to_text", "preprocess_unsafe", "allow_nan", "check_circular", "skipkeys":
		default:
			return o, typeErr("got an unexpected keyword argument '%s'", k)
		}
	}
	if !sepSet && o.itemSep == "" {
		o.itemSep, o.keySep = ", ", ": "
		if o.hasIndent {
			o.itemSep = ","
		}
	}
	return o, nil
}

// JSON returns v as Python's json.dumps prints it by default, which is what
// Ansible's to_json gives and how the copy module writes a mapping or list
// given as content: ", " and ": " separators, non-ASCII escaped, the keys
// of Go maps sorted.
func JSON(v any) (string, error) {
	return encodeJSON(plainInput(v), jsonOpts{ensureASCII: true, itemSep: ", ", keySep: ": "})
}

func fToJSON(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	o, err := jsonOptions(args, kw, jsonOpts{ensureASCII: true})
	if err != nil {
		return nil, err
	}
	return encodeJSON(v, o)
}

func fToNiceJSON(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	if len(args) > 0 {
		if kw == nil {
			kw = map[string]any{}
		}
		kw["indent"] = args[0]
		args = nil
	}
	o := jsonOpts{ensureASCII: true, hasIndent: true, indent: "    ", sortKeys: true, itemSep: ",", keySep: ": "}
	o, err := jsonOptions(args, kw, o)
	if err != nil {
		return nil, err
	}
	return encodeJSON(v, o)
}

// fTojson is Jinja2's tojson: sorted keys, HTML-safe.
func fTojson(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "indent")
	if err != nil {
		return nil, err
	}
	o := jsonOpts{ensureASCII: true, sortKeys: true}
	if a[0] != absent && a[0] != nil {
		o, err = jsonOptions(nil, map[string]any{"indent": a[0]}, o)
	} else {
		o, err = jsonOptions(nil, nil, o)
	}
	if err != nil {
		return nil, err
	}
	s, err := encodeJSON(v, o)
	if err != nil {
		return nil, err
	}
	return strings.NewReplacer("<", `\u003c`, ">", `\u003e`, "&", `\u0026`, "'", `\u0027`).Replace(s), nil
}

func encodeJSON(v any, o jsonOpts) (string, error) {
	var b strings.Builder
	if err := writeJSON(&b, v, o, 0); err != nil {
		return "", err
	}
	return b.String(), nil
}

func writeJSON(b *strings.Builder, v any, o jsonOpts, depth int) error {
	if depth > maxValueDepth {
		return errDepth
	}
	nl := func(d int) {
		if o.hasIndent {
			b.WriteByte('\n')
			for i := 0; i < d; i++ {
				b.WriteString(o.indent)
			}
		}
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case *big.Int:
		b.WriteString(x.String())
	case float64:
		switch {
		case math.IsNaN(x):
			b.WriteString("NaN")
		case math.IsInf(x, 1):
			b.WriteString("Infinity")
		case math.IsInf(x, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(vars.PyFloat(x))
		}
	case string:
		writeJSONString(b, x, o.ensureASCII)
	case vars.Date:
		writeJSONString(b, x.ISO(), o.ensureASCII)
	case vars.DateTime:
		writeJSONString(b, x.ISO(), o.ensureASCII)
	case []any, tuple:
		items := seqItems(x)
		if len(items) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range items {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			nl(depth + 1)
			if err := writeJSON(b, e, o, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte(']')
	case *vars.Map:
		if x.Len() == 0 {
			b.WriteString("{}")
			return nil
		}
		keys := x.Keys()
		if o.sortKeys {
			var err error
			if keys, err = sortedDictKeys(x); err != nil {
				return err
			}
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(o.itemSep)
			}
			nl(depth + 1)
			writeJSONString(b, k, o.ensureASCII)
			b.WriteString(o.keySep)
			e, _ := x.Get(k)
			if err := writeJSON(b, e, o, depth+1); err != nil {
				return err
			}
		}
		nl(depth)
		b.WriteByte('}')
	case *undefined:
		return x.err()
	case *namespace:
		return writeJSON(b, x.attrs, o, depth)
	case vars.Vault:
		return errors.New("a vaulted (!vault) value cannot be serialised: fleet does not decrypt vaulted variables")
	default:
		return typeErr("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

// sortedDictKeys returns m's keys in the order Python's sorted() puts the
// original keys, or Python's TypeError for keys of mixed types.
func sortedDictKeys(m *vars.Map) ([]string, error) {
	keys := append([]string(nil), m.Keys()...)
	orig := make([]any, len(keys))
	for i, k := range keys {
		orig[i] = dictKey(m, k)
	}
	items := make([]any, len(keys))
	for i, k := range keys {
		items[i] = k
	}
	if err := sortByKeys(items, orig, false); err != nil {
		return nil, err
	}
	for i, it := range items {
		keys[i] = it.(string)
	}
	return keys, nil
}

func writeJSONString(b *strings.Builder, s string, ascii bool) {
	b.WriteByte('"')
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			fmt.Fprintf(b, `\udc%02x`, s[i])
			i++
			continue
		}
		i += size
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20:
			fmt.Fprintf(b, `\u%04x`, r)
		case r < 0x7f || !ascii:
			b.WriteRune(r)
		case r == 0x7f:
			if ascii {
				b.WriteString(`\u007f`)
			} else {
				b.WriteRune(r)
			}
		case r > 0xffff:
			r -= 0x10000
			fmt.Fprintf(b, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
		default:
			fmt.Fprintf(b, `\u%04x`, r)
		}
	}
	b.WriteByte('"')
}

func fFromJSON(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, typeErr("the JSON object must be str, bytes or bytearray, not %s", typeName(v))
	}
	return decodeJSON(s)
}

// decodeJSON is Python's json.loads, keeping object key order.
func decodeJSON(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	v, err := jsonValue(dec, 0)
	if err != nil {
		return nil, fmt.Errorf("from_json: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("from_json: Extra data after the JSON value")
	}
	return v, nil
}

func jsonValue(dec *json.Decoder, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errDepth
	}
	tok, err := dec.Token()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("Expecting value")
		}
		return nil, err
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '[':
			out := []any{}
			for dec.More() {
				e, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				out = append(out, e)
			}
			_, err := dec.Token()
			return out, err
		case '{':
			m := vars.NewMap()
			for dec.More() {
				kt, err := dec.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				e, err := jsonValue(dec, depth+1)
				if err != nil {
					return nil, err
				}
				m.Set(k, e)
			}
			_, err := dec.Token()
			return m, err
		}
	case json.Number:
		s := string(t)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				if ne, ok := err.(*strconv.NumError); !ok || ne.Err != strconv.ErrRange {
					return nil, err
				}
			}
			return f, nil
		}
		return parseIntLiteral(s)
	case string, bool, nil:
		return t, nil
	}
	return nil, fmt.Errorf("unexpected JSON token %v", tok)
}
