package jinja

import (
	"fmt"
	"math"
	"math/big"
	"sort"
	"strconv"
	"strings"
	"unicode"

	"fleetrun.dev/fleet/vars"
)

// absent marks an argument that was not passed.
type absentT struct{}

var absent any = absentT{}

// bind matches positional and keyword arguments to parameter names, as a
// Python call does; missing ones are absent.
func bind(args []any, kw map[string]any, names ...string) ([]any, error) {
	out := make([]any, len(names))
	for i := range out {
		out[i] = absent
	}
	if len(args) > len(names) {
		return nil, typeErr("takes at most %d argument(s) (%d given)", len(names), len(args))
	}
	copy(out, args)
	for _, k := range sortedKeys(kw) {
		found := false
		for i, n := range names {
			if n == k {
				if i < len(args) {
					return nil, typeErr("got multiple values for argument '%s'", k)
				}
				out[i] = kw[k]
				found = true
			}
		}
		if !found {
			return nil, typeErr("got an unexpected keyword argument '%s'", k)
		}
	}
	return out, nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// or returns a, or def when a was not passed.
func or(a, def any) any {
	if a == absent {
		return def
	}
	return a
}

// boolArg reads a flag argument with Python truthiness.
func boolArg(a any, def bool) (bool, error) {
	if a == absent {
		return def, nil
	}
	return truth(a)
}

// strArg reads an argument that must be a string.
func strArg(a any, what string) (string, error) {
	if err := firstUndefined(a); err != nil {
		return "", err
	}
	s, ok := a.(string)
	if !ok {
		return "", typeErr("%s must be a string, not %s", what, typeName(a))
	}
	return s, nil
}

// text is Python's str() of a filter's input (Jinja2's soft_str).
func text(v any) (string, error) { return pyStr(v) }

// intArg reads an integer argument (bool counts, as in Python).
func intArg(a any, def int, what string) (int, error) {
	if a == absent || a == nil {
		return def, nil
	}
	return toGoInt(a, what)
}

// attrGetter is Jinja2's make_attrgetter: "a.b.0" looks up a, then b, then
// item 0 of each item; default replaces an undefined result.
func (c *ctx) attrGetter(attribute any, def any) (func(any) (any, error), error) {
	if attribute == absent || attribute == nil {
		return func(v any) (any, error) { return v, nil }, nil
	}
	var parts []any
	switch a := attribute.(type) {
	case string:
		for _, p := range strings.Split(a, ".") {
			if p != "" && strings.IndexFunc(p, func(r rune) bool { return !unicode.IsDigit(r) }) < 0 {
				n, err := strconv.ParseInt(p, 10, 64)
				if err == nil {
					parts = append(parts, n)
					continue
				}
			}
			parts = append(parts, p)
		}
	default:
		if err := firstUndefined(a); err != nil {
			return nil, err
		}
		parts = []any{a}
	}
	return func(v any) (any, error) {
		var err error
		for _, p := range parts {
			if v, err = c.getitem(v, p, ""); err != nil {
				return nil, err
			}
			if _, isU := v.(*undefined); isU && def != absent && def != nil {
				v = def
			}
		}
		return v, nil
	}, nil
}

// multiAttrGetter is Jinja2's make_multi_attrgetter: "age,name" gives a
// list of keys.
func (c *ctx) multiAttrGetter(attribute any) (func(any) (any, error), error) {
	s, ok := attribute.(string)
	if !ok || !strings.Contains(s, ",") {
		return c.attrGetter(attribute, absent)
	}
	var gets []func(any) (any, error)
	for _, part := range strings.Split(s, ",") {
		g, err := c.attrGetter(part, absent)
		if err != nil {
			return nil, err
		}
		gets = append(gets, g)
	}
	return func(v any) (any, error) {
		out := make([]any, len(gets))
		for i, g := range gets {
			k, err := g(v)
			if err != nil {
				return nil, err
			}
			out[i] = k
		}
		return out, nil
	}, nil
}

// ignoreCase lowers strings (Jinja2's ignore_case postprocessor).
func ignoreCase(v any) any {
	switch x := v.(type) {
	case string:
		return strings.ToLower(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = ignoreCase(e)
		}
		return out
	}
	return v
}

// hashOf returns a key that is equal for values Python hashes equal (1,
// 1.0 and True; equal strings; equal tuples), or ok=false for unhashable
// values (lists, dicts).
func hashOf(v any) (string, bool) {
	switch x := v.(type) {
	case nil:
		return "N", true
	case string:
		return "s" + x, true
	case bool, int64, *big.Int:
		return "n" + bigOf(x).String(), true
	case float64:
		if x == math.Trunc(x) && !math.IsInf(x, 0) && math.Abs(x) < 1e300 {
			bf := new(big.Float).SetFloat64(x)
			bi, _ := bf.Int(nil)
			return "n" + bi.String(), true
		}
		return "f" + strconv.FormatFloat(x, 'g', -1, 64), true
	case tuple:
		var b strings.Builder
		b.WriteString("t(")
		for _, e := range x {
			k, ok := hashOf(e)
			if !ok {
				return "", false
			}
			b.WriteString(strconv.Itoa(len(k)))
			b.WriteByte(':')
			b.WriteString(k)
		}
		b.WriteByte(')')
		return b.String(), true
	case vars.Date:
		return "d" + x.ISO(), true
	case vars.DateTime:
		return "D" + x.ISO(), true
	}
	return "", false
}

// toList returns the items of an iterable as a fresh list.
func toList(v any) ([]any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	out := make([]any, len(items))
	copy(out, items)
	return out, nil
}

// isSequence is Ansible's is_sequence: a list or tuple, not a string.
func isSequence(v any) bool {
	switch v.(type) {
	case []any, tuple:
		return true
	}
	return false
}

func seqItems(v any) []any {
	switch x := v.(type) {
	case []any:
		return x
	case tuple:
		return x
	}
	return nil
}

// suggest offers the closest known name for a misspelt one.
func suggest(name string, known []string) string {
	best, bestD := "", 3
	for _, k := range known {
		if d := editDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean '%s'?)", best)
}

func editDistance(a, b string) int {
	if a == b {
		return 0
	}
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
