package jinja

import (
	"errors"
	"math"
	"math/big"
	"os"
	"sort"
	"strings"

	"fleetrun.dev/fleet/vars"
)

type testFunc func(c *ctx, v any, args []any, kw map[string]any) (bool, error)

type testDef struct {
	fn           testFunc
	undefOK      bool // the test looks at undefined values itself
	falseOnUndef bool // the test is false for an undefined value (type checks)
}

// tests holds Jinja2's and Ansible's tests by name.
var tests map[string]testDef

func init() {
	typeTest := func(f func(any) bool) testDef {
		return testDef{fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) { return f(v), nil }, falseOnUndef: true}
	}
	cmp := func(op string) testDef {
		return testDef{fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			if len(args) != 1 {
				return false, typeErr("the comparison test needs one value to compare with")
			}
			return compare(op, v, args[0])
		}}
	}
	tests = map[string]testDef{
		"defined": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			_, isU := v.(*undefined)
			return !isU, nil
		}, undefOK: true},
		"undefined": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			_, isU := v.(*undefined)
			return isU, nil
		}, undefOK: true},
		"none":    typeTest(func(v any) bool { return v == nil }),
		"boolean": typeTest(func(v any) bool { _, ok := v.(bool); return ok }),
		"true":    typeTest(func(v any) bool { return v == true }),
		"false":   typeTest(func(v any) bool { return v == false }),
		"integer": typeTest(func(v any) bool {
			switch v.(type) {
			case int64, *big.Int:
				return true
			}
			return false
		}),
		"float":  typeTest(func(v any) bool { _, ok := v.(float64); return ok }),
		"number": typeTest(isNumber),
		"string": typeTest(func(v any) bool { _, ok := v.(string); return ok }),
		"mapping": typeTest(func(v any) bool {
			switch v.(type) {
			case *vars.Map, *hostView:
				return true
			}
			return false
		}),
		"sequence": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			switch v.(type) {
			case string, []any, tuple, *vars.Map:
				return true, nil
			}
			return false, nil
		}},
		"iterable": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			switch v.(type) {
			case string, []any, tuple, *vars.Map:
				return true, nil
			}
			return false, nil
		}},
		"callable": typeTest(func(v any) bool {
			switch v.(type) {
			case *callable, *macro:
				return true
			}
			return false
		}),
		"sameas": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			if len(args) != 1 {
				return false, typeErr("sameas needs one value")
			}
			o := args[0]
			switch x := v.(type) {
			case nil, bool:
				return v == o, nil
			case []any:
				y, ok := o.([]any)
				return ok && len(x) == len(y) && (len(x) == 0 || &x[0] == &y[0]), nil
			case *vars.Map:
				return x == o, nil
			}
			return eq(v, o, 0) && typeName(v) == typeName(o), nil
		}, falseOnUndef: true},
		"escaped": typeTest(func(v any) bool { return false }),
		"in": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			if len(args) != 1 {
				return false, typeErr("the in test needs one container")
			}
			return contains(args[0], v)
		}},
		"contains": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			if len(args) != 1 {
				return false, typeErr("the contains test needs one value")
			}
			return contains(v, args[0])
		}},
		"lower": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			s, err := text(v)
			return s == strings.ToLower(s), err
		}},
		"upper": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			s, err := text(v)
			return s == strings.ToUpper(s), err
		}},
		"odd":         {fn: parity(1)},
		"even":        {fn: parity(0)},
		"divisibleby": {fn: tDivisibleBy},
		"eq":          cmp("=="), "equalto": cmp("=="), "==": cmp("=="),
		"ne": cmp("!="), "!=": cmp("!="),
		"lt": cmp("<"), "lessthan": cmp("<"), "<": cmp("<"),
		"le": cmp("<="), "<=": cmp("<="),
		"gt": cmp(">"), "greaterthan": cmp(">"), ">": cmp(">"),
		"ge": cmp(">="), ">=": cmp(">="),
		"filter": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			s, ok := v.(string)
			_, known := filters[pluginName(s)]
			return ok && known, nil
		}},
		"test": {fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
			s, ok := v.(string)
			_, known := tests[pluginName(s)]
			return ok && known, nil
		}},

		// Ansible's task result tests.
		"failed": resultTest("failed"), "failure": resultTest("failed"),
		"succeeded": negated(resultTest("failed")), "success": negated(resultTest("failed")), "successful": negated(resultTest("failed")),
		"unreachable": resultTest("unreachable"), "reachable": negated(resultTest("unreachable")),
		"skipped": resultTest("skipped"), "skip": resultTest("skipped"),
		"changed": {fn: tChanged}, "change": {fn: tChanged},
		"finished": asyncTest("finished"), "started": asyncTest("started"),

		// Ansible's other tests.
		"match":           {fn: regexTest("match")},
		"search":          {fn: regexTest("search")},
		"regex":           {fn: regexTest("")},
		"version":         {fn: tVersion},
		"version_compare": {fn: tVersion},
		"any":             {fn: anyAll(false)},
		"all":             {fn: anyAll(true)},
		"truthy":          {fn: tTruthy(false)},
		"falsy":           {fn: tTruthy(true)},
		"vault_encrypted": typeTest(func(v any) bool { _, ok := v.(vars.Vault); return ok }),
		"subset":          {fn: subset(false)}, "issubset": {fn: subset(false)},
		"superset": {fn: subset(true)}, "issuperset": {fn: subset(true)},
		"nan": {fn: tNaN}, "isnan": {fn: tNaN},

		// Ansible's path tests look at the controller's file system.
		"abs":       {fn: pathTest(func(p string) bool { return strings.HasPrefix(p, "/") })},
		"is_abs":    {fn: pathTest(func(p string) bool { return strings.HasPrefix(p, "/") })},
		"exists":    {fn: pathTest(func(p string) bool { _, err := os.Stat(expandUser(p)); return err == nil })},
		"file":      {fn: pathTest(func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() })},
		"is_file":   {fn: pathTest(func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() })},
		"directory": {fn: pathTest(func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() })},
		"is_dir":    {fn: pathTest(func(p string) bool { fi, err := os.Stat(p); return err == nil && fi.IsDir() })},
		"link":      {fn: pathTest(func(p string) bool { fi, err := os.Lstat(p); return err == nil && fi.Mode()&os.ModeSymlink != 0 })},
		"is_link":   {fn: pathTest(func(p string) bool { fi, err := os.Lstat(p); return err == nil && fi.Mode()&os.ModeSymlink != 0 })},
	}
}

func testNames() []string {
	names := make([]string, 0, len(tests))
	for n := range tests {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func parity(want int64) testFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		if !isNumber(v) {
			return false, typeErr("not all arguments converted during string formatting")
		}
		r, err := arith("%", v, int64(2))
		if err != nil {
			return false, err
		}
		ok, _ := equal(r, want)
		return ok, nil
	}
}

func tDivisibleBy(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
	a, err := bind(args, kw, "num")
	if err != nil {
		return false, err
	}
	r, err := arith("%", v, or(a[0], nil))
	if err != nil {
		return false, err
	}
	return equal(r, int64(0))
}

func negated(t testDef) testDef {
	return testDef{fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		r, err := t.fn(c, v, args, kw)
		return !r, err
	}}
}

// resultTest reads a flag of a registered task result, as Ansible's
// failed/skipped/unreachable tests do.
func resultTest(key string) testDef {
	return testDef{fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		m, ok := v.(*vars.Map)
		if !ok {
			return false, errors.New("The '" + key + "' test expects a dictionary")
		}
		f, ok := m.Get(key)
		if !ok {
			return false, nil
		}
		return truth(f)
	}}
}

func asyncTest(key string) testDef {
	return testDef{fn: func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		m, ok := v.(*vars.Map)
		if !ok {
			return false, errors.New("The '" + key + "' test expects a dictionary")
		}
		f, ok := m.Get(key)
		if !ok {
			return true, nil
		}
		return equal(f, int64(1))
	}}
}

func tChanged(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
	m, ok := v.(*vars.Map)
	if !ok {
		return false, errors.New("The 'changed' test expects a dictionary")
	}
	if ch, ok := m.Get("changed"); ok {
		return truth(ch)
	}
	res, ok := m.Get("results")
	list, isList := res.([]any)
	if !ok || !isList || len(list) == 0 {
		return false, nil
	}
	if _, ok := list[0].(*vars.Map); !ok {
		return false, nil
	}
	for _, r := range list {
		if rm, ok := r.(*vars.Map); ok {
			if ch, ok := rm.Get("changed"); ok {
				if t, _ := truth(ch); t {
					return true, nil
				}
			}
		}
	}
	return false, nil
}

func anyAll(all bool) testFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		items, err := iterate(v)
		if err != nil {
			return false, err
		}
		for _, it := range items {
			t, err := truth(it)
			if err != nil {
				return false, err
			}
			if t != all {
				return !all, nil
			}
		}
		return all, nil
	}
}

func tTruthy(negate bool) testFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		a, err := bind(args, kw, "convert_bool")
		if err != nil {
			return false, err
		}
		conv, err := boolArg(a[0], false)
		if err != nil {
			return false, err
		}
		if conv {
			if b, ok := ansibleBoolean(v); ok {
				v = b
			}
		}
		t, err := truth(v)
		return t != negate, err
	}
}

// ansibleBoolean is Ansible's boolean() (module_utils/parsing/convert_bool).
func ansibleBoolean(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "y", "yes", "on", "1", "true", "t":
			return true, true
		case "n", "no", "off", "0", "false", "f", "":
			return false, true
		}
	case int64, float64:
		if ok, _ := equal(x, int64(1)); ok {
			return true, true
		}
		if ok, _ := equal(x, int64(0)); ok {
			return false, true
		}
	}
	return false, false
}

func subset(super bool) testFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		if len(args) != 1 {
			return false, typeErr("the subset and superset tests need one list")
		}
		a, err := iterate(v)
		if err != nil {
			return false, err
		}
		b, err := iterate(args[0])
		if err != nil {
			return false, err
		}
		if super {
			a, b = b, a
		}
		for _, x := range a {
			if _, ok := hashOf(x); !ok {
				return false, typeErr("unhashable type: '%s'", typeName(x))
			}
			found := false
			for _, y := range b {
				if eq(x, y, 0) {
					found = true
					break
				}
			}
			if !found {
				return false, nil
			}
		}
		return true, nil
	}
}

func tNaN(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
	f, ok := v.(float64)
	return ok && math.IsNaN(f), nil
}

func pathTest(f func(string) bool) testFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		s, ok := v.(string)
		if !ok {
			return false, typeErr("expected str, bytes or os.PathLike object, not %s", typeName(v))
		}
		return f(s), nil
	}
}
