package jinja

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

type methodFunc func(c *ctx, self any, args []any, kw map[string]any) (any, error)

// Python methods that templates call on values.
var (
	strMethods  map[string]methodFunc
	dictMethods map[string]methodFunc
	listMethods map[string]methodFunc
)

// mutators are methods Python has but fleet refuses: values here may be
// shared with the executor's variables, so templates must not change them.
var mutators = map[string]bool{
	"append": true, "extend": true, "insert": true, "pop": true, "remove": true, "clear": true,
	"sort": true, "reverse": true, "update": true, "setdefault": true, "popitem": true,
}

func init() {
	strMethods = map[string]methodFunc{
		"startswith": func(c *ctx, s any, a []any, kw map[string]any) (any, error) { return affix(s.(string), a, kw, true) },
		"endswith":   func(c *ctx, s any, a []any, kw map[string]any) (any, error) { return affix(s.(string), a, kw, false) },
		"split": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			return pySplit(s.(string), a, kw, false)
		},
		"rsplit": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			return pySplit(s.(string), a, kw, true)
		},
		"splitlines": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			out := []any{}
			for _, l := range pySplitlines(s.(string)) {
				out = append(out, l)
			}
			return out, nil
		},
		"strip":      stripMethod(true, true),
		"lstrip":     stripMethod(true, false),
		"rstrip":     stripMethod(false, true),
		"lower":      strMethod(strings.ToLower),
		"upper":      strMethod(strings.ToUpper),
		"title":      strMethod(pyTitle),
		"capitalize": strMethod(pyCapitalize),
		"casefold":   strMethod(strings.ToLower),
		"swapcase": strMethod(func(s string) string {
			return strings.Map(func(r rune) rune {
				if unicode.IsUpper(r) {
					return unicode.ToLower(r)
				}
				return unicode.ToUpper(r)
			}, s)
		}),
		"replace": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			return fReplace(c, s, a, kw)
		},
		"format": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			return strFormat(c, s.(string), a, kw)
		},
		"find":   findMethod(false, false),
		"rfind":  findMethod(true, false),
		"index":  findMethod(false, true),
		"rindex": findMethod(true, true),
		"count": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			b, err := bind(a, kw, "sub")
			if err != nil {
				return nil, err
			}
			sub, err := strArg(b[0], "count() argument")
			if err != nil {
				return nil, err
			}
			if sub == "" {
				return int64(utf8.RuneCountInString(s.(string)) + 1), nil
			}
			return int64(strings.Count(s.(string), sub)), nil
		},
		"join": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			b, err := bind(a, kw, "iterable")
			if err != nil {
				return nil, err
			}
			items, err := iterate(b[0])
			if err != nil {
				return nil, err
			}
			parts := make([]string, len(items))
			for i, it := range items {
				p, ok := it.(string)
				if !ok {
					return nil, typeErr("sequence item %d: expected str instance, %s found", i, typeName(it))
				}
				parts[i] = p
			}
			return strings.Join(parts, s.(string)), nil
		},
		"isdigit":   strTest(func(r rune) bool { return unicode.IsDigit(r) }),
		"isdecimal": strTest(func(r rune) bool { return unicode.IsDigit(r) }),
		"isnumeric": strTest(func(r rune) bool { return unicode.IsNumber(r) }),
		"isalpha":   strTest(unicode.IsLetter),
		"isalnum":   strTest(func(r rune) bool { return unicode.IsLetter(r) || unicode.IsNumber(r) }),
		"isspace":   strTest(unicode.IsSpace),
		"islower": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			str := s.(string)
			return strings.ToLower(str) == str && strings.ToUpper(str) != str, nil
		},
		"isupper": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			str := s.(string)
			return strings.ToUpper(str) == str && strings.ToLower(str) != str, nil
		},
		"zfill": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			b, err := bind(a, kw, "width")
			if err != nil {
				return nil, err
			}
			w, err := toGoInt(b[0], "width")
			if err != nil {
				return nil, err
			}
			str := s.(string)
			n := utf8.RuneCountInString(str)
			if n >= w {
				return str, nil
			}
			sign := ""
			if strings.HasPrefix(str, "-") || strings.HasPrefix(str, "+") {
				sign, str = str[:1], str[1:]
			}
			return sign + strings.Repeat("0", w-n) + str, nil
		},
		"center": justify("center"),
		"ljust":  justify("ljust"),
		"rjust":  justify("rjust"),
		"partition": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			return partition(s.(string), a, false)
		},
		"rpartition": func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
			return partition(s.(string), a, true)
		},
	}
	dictMethods = map[string]methodFunc{
		"get": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			if len(kw) > 0 || len(a) == 0 || len(a) > 2 {
				return nil, typeErr("get expected 1 or 2 arguments, got %d", len(a))
			}
			k, err := hashKey(a[0])
			if err != nil {
				return nil, err
			}
			if v, ok := self.(*vars.Map).Get(k); ok {
				return v, nil
			}
			if len(a) == 2 {
				return a[1], nil
			}
			return nil, nil
		},
		"items": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			return dictItems(self.(*vars.Map)), nil
		},
		"keys": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			return iterate(self)
		},
		"values": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			m := self.(*vars.Map)
			out := make([]any, m.Len())
			for i, k := range m.Keys() {
				out[i], _ = m.Get(k)
			}
			return out, nil
		},
		"copy": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			return self.(*vars.Map).Clone(), nil
		},
	}
	listMethods = map[string]methodFunc{
		"index": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			if len(a) == 0 {
				return nil, typeErr("index expected at least 1 argument, got 0")
			}
			for i, e := range seqItems(self) {
				if eq(e, a[0], 0) {
					return int64(i), nil
				}
			}
			r, _ := pyRepr(a[0])
			return nil, typeErr("%s is not in list", r)
		},
		"count": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			if len(a) != 1 {
				return nil, typeErr("count() takes exactly one argument (%d given)", len(a))
			}
			n := 0
			for _, e := range seqItems(self) {
				if eq(e, a[0], 0) {
					n++
				}
			}
			return int64(n), nil
		},
		"copy": func(c *ctx, self any, a []any, kw map[string]any) (any, error) {
			return append([]any{}, seqItems(self)...), nil
		},
	}
}

// method returns obj.name bound to obj, or nil when obj has no such method.
func method(obj any, name string) *callable {
	var table map[string]methodFunc
	switch obj.(type) {
	case string:
		table = strMethods
	case *vars.Map:
		table = dictMethods
	case []any, tuple:
		table = listMethods
	default:
		return nil
	}
	f, ok := table[name]
	if !ok {
		if mutators[name] {
			if _, isStr := obj.(string); !isStr {
				return &callable{name: typeName(obj) + "." + name, fn: func(c *ctx, a []any, kw map[string]any) (any, error) {
					return nil, typeErr("%s.%s() would change the value in place, which fleet does not allow in templates; build a new value instead (the + operator, the combine filter, or a namespace)", typeName(obj), name)
				}}
			}
		}
		return nil
	}
	return &callable{name: typeName(obj) + "." + name, fn: func(c *ctx, a []any, kw map[string]any) (any, error) {
		if err := firstUndefined(a...); err != nil {
			return nil, err
		}
		return f(c, obj, a, kw)
	}}
}

func strMethod(f func(string) string) methodFunc {
	return func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
		if len(a) > 0 || len(kw) > 0 {
			return nil, typeErr("takes no arguments (%d given)", len(a)+len(kw))
		}
		return f(s.(string)), nil
	}
}

func strTest(f func(rune) bool) methodFunc {
	return func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
		str := s.(string)
		if str == "" {
			return false, nil
		}
		for _, r := range str {
			if !f(r) {
				return false, nil
			}
		}
		return true, nil
	}
}

func stripMethod(left, right bool) methodFunc {
	return func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
		b, err := bind(a, kw, "chars")
		if err != nil {
			return nil, err
		}
		return pyStrip(s.(string), b[0], left, right)
	}
}

// pyTitle is Python's str.title: a letter after a non-letter is upper.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if prevCased {
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(unicode.ToTitle(r))
		}
		prevCased = unicode.IsLetter(r)
	}
	return b.String()
}

// affix implements str.startswith and str.endswith (a tuple of prefixes
// allowed; start and end not supported).
func affix(s string, a []any, kw map[string]any, prefix bool) (any, error) {
	b, err := bind(a, kw, "prefix", "start", "end")
	if err != nil {
		return nil, err
	}
	runes := []rune(s)
	start, end := 0, len(runes)
	if b[1] != absent || b[2] != absent {
		var p [3]*int64
		for i, x := range []any{b[1], b[2]} {
			if x == absent || x == nil {
				continue
			}
			n, ok := int64Of(x)
			if !ok {
				return nil, typeErr("slice indices must be integers or None")
			}
			p[i] = &n
		}
		idx, _ := sliceIndices(len(runes), p)
		if len(idx) == 0 {
			start, end = 0, 0
		} else {
			start, end = idx[0], idx[len(idx)-1]+1
		}
	}
	s = string(runes[start:end])
	var cands []any
	switch x := b[0].(type) {
	case string:
		cands = []any{x}
	case tuple:
		cands = x
	default:
		what := "startswith"
		if !prefix {
			what = "endswith"
		}
		return nil, typeErr("%s first arg must be str or a tuple of str, not %s", what, typeName(b[0]))
	}
	for _, cand := range cands {
		p, ok := cand.(string)
		if !ok {
			return nil, typeErr("tuple for startswith must only contain str, not %s", typeName(cand))
		}
		if prefix && strings.HasPrefix(s, p) || !prefix && strings.HasSuffix(s, p) {
			return true, nil
		}
	}
	return false, nil
}

func findMethod(fromRight, raise bool) methodFunc {
	return func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
		b, err := bind(a, kw, "sub")
		if err != nil {
			return nil, err
		}
		sub, err := strArg(b[0], "substring")
		if err != nil {
			return nil, err
		}
		str := s.(string)
		var i int
		if fromRight {
			i = strings.LastIndex(str, sub)
		} else {
			i = strings.Index(str, sub)
		}
		if i < 0 {
			if raise {
				return nil, typeErr("substring not found")
			}
			return int64(-1), nil
		}
		return int64(utf8.RuneCountInString(str[:i])), nil
	}
}

func justify(how string) methodFunc {
	return func(c *ctx, s any, a []any, kw map[string]any) (any, error) {
		b, err := bind(a, kw, "width", "fillchar")
		if err != nil {
			return nil, err
		}
		w, err := toGoInt(or(b[0], nil), "width")
		if err != nil {
			return nil, err
		}
		fill, err := strArg(or(b[1], " "), "fillchar")
		if err != nil {
			return nil, err
		}
		if utf8.RuneCountInString(fill) != 1 {
			return nil, typeErr("The fill character must be exactly one character long")
		}
		str := s.(string)
		n := utf8.RuneCountInString(str)
		if n >= w {
			return str, nil
		}
		switch how {
		case "ljust":
			return str + strings.Repeat(fill, w-n), nil
		case "rjust":
			return strings.Repeat(fill, w-n) + str, nil
		}
		return pyCenter(str, w, fill), nil
	}
}

func partition(s string, a []any, fromRight bool) (any, error) {
	if len(a) != 1 {
		return nil, typeErr("partition() takes exactly one argument (%d given)", len(a))
	}
	sep, err := strArg(a[0], "separator")
	if err != nil {
		return nil, err
	}
	if sep == "" {
		return nil, typeErr("empty separator")
	}
	var i int
	if fromRight {
		i = strings.LastIndex(s, sep)
		if i < 0 {
			return tuple{"", "", s}, nil
		}
	} else {
		i = strings.Index(s, sep)
		if i < 0 {
			return tuple{s, "", ""}, nil
		}
	}
	return tuple{s[:i], sep, s[i+len(sep):]}, nil
}
