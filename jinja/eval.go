package jinja

import (
	"errors"
	"fmt"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// frame holds the local variables of a template scope: {% set %} names,
// loop variables, macro parameters.
type frame struct {
	names  []string
	vals   []any
	parent *frame
}

func (f *frame) lookup(name string) (any, bool) {
	for ; f != nil; f = f.parent {
		for i := len(f.names) - 1; i >= 0; i-- {
			if f.names[i] == name {
				return f.vals[i], true
			}
		}
	}
	return nil, false
}

func (f *frame) set(name string, v any) {
	for i, n := range f.names {
		if n == name {
			f.vals[i] = v
			return
		}
	}
	f.names = append(f.names, name)
	f.vals = append(f.vals, v)
}

// ctx evaluates one template for one host.
type ctx struct {
	st  *state
	sc  *scope
	fr  *frame
	t   *template
	out *strings.Builder
	pos int // offset of the statement being executed, for error lines
}

func newCtx(st *state, sc *scope, t *template) *ctx {
	return &ctx{st: st, sc: sc, fr: &frame{}, t: t}
}

// wrap attaches the template (and line) to an error from evaluating it.
func (c *ctx) wrap(err error) error {
	line := 0
	if c.t.source != nil && strings.Contains(c.t.src, "\n") {
		line = c.t.source.line(c.pos)
	}
	var ue *UndefinedError
	if errors.As(err, &ue) {
		if ue.Expr == "" {
			ue.Expr, ue.Line = c.t.src, line
		}
		return err
	}
	var te *Error
	if errors.As(err, &te) && te.Template != "" {
		return err
	}
	return &Error{Template: c.t.src, Line: line, Err: err}
}

func (c *ctx) lookup(name string) (any, error) {
	if v, ok := c.fr.lookup(name); ok {
		return v, nil
	}
	if name == "vars" {
		// Ansible's vars is the host's variables as they are, not
		// rendered.
		return &hostView{st: c.st, sc: c.sc, raw: true}, nil
	}
	v, ok, err := c.sc.get(c.st, name)
	if err != nil {
		return nil, err
	}
	if ok {
		return v, nil
	}
	if g, ok := globals[name]; ok {
		return g, nil
	}
	return &undefined{name: name, hint: fmt.Sprintf("'%s' is undefined", name)}, nil
}

// pathOf spells an expression that names a value, for undefined errors.
func pathOf(x expr) string {
	switch n := x.(type) {
	case *nameExpr:
		return n.name
	case *getattrExpr:
		if p := pathOf(n.obj); p != "" {
			return p + "." + n.attr
		}
	case *getitemExpr:
		if k, ok := n.key.(*constExpr); ok {
			if p := pathOf(n.obj); p != "" {
				r, err := pyRepr(k.v)
				if err == nil {
					return p + "[" + r + "]"
				}
			}
		}
	}
	return ""
}

func joinPath(base string, attr string) string {
	if base == "" {
		return attr
	}
	return base + "." + attr
}

func (c *ctx) eval(x expr) (any, error) {
	switch n := x.(type) {
	case *constExpr:
		return n.v, nil
	case *nameExpr:
		return c.lookup(n.name)
	case *getattrExpr:
		obj, err := c.eval(n.obj)
		if err != nil {
			return nil, err
		}
		return c.getattr(obj, n.attr, pathOf(n.obj))
	case *getitemExpr:
		obj, err := c.eval(n.obj)
		if err != nil {
			return nil, err
		}
		if sl, ok := n.key.(*sliceExpr); ok {
			return c.slice(obj, sl)
		}
		key, err := c.eval(n.key)
		if err != nil {
			return nil, err
		}
		return c.getitem(obj, key, pathOf(n.obj))
	case *listExpr:
		out := make([]any, len(n.items))
		for i, it := range n.items {
			v, err := c.eval(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *tupleExpr:
		out := make(tuple, len(n.items))
		for i, it := range n.items {
			v, err := c.eval(it)
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	case *dictExpr:
		m := vars.NewMap()
		for i := range n.keys {
			k, err := c.eval(n.keys[i])
			if err != nil {
				return nil, err
			}
			v, err := c.eval(n.vals[i])
			if err != nil {
				return nil, err
			}
			if err := setKey(m, k, v); err != nil {
				return nil, err
			}
		}
		return m, nil
	case *callExpr:
		fn, err := c.eval(n.fn)
		if err != nil {
			return nil, err
		}
		args, kw, err := c.evalArgs(n.args, n.kwNames, n.kwVals, n.star, n.starKw)
		if err != nil {
			return nil, err
		}
		return c.call(fn, args, kw, pathOf(n.fn))
	case *filterExpr:
		v, err := c.eval(n.arg)
		if err != nil {
			return nil, err
		}
		return c.applyFilter(n, v)
	case *testExpr:
		v, err := c.eval(n.arg)
		if err != nil {
			return nil, err
		}
		args, kw, err := c.evalArgs(n.args, n.kwNames, n.kwVals, nil, nil)
		if err != nil {
			return nil, err
		}
		ok, err := c.test(n.name, v, args, kw)
		if err != nil {
			return nil, err
		}
		return ok != n.negate, nil
	case *binExpr:
		l, err := c.eval(n.l)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "and", "or":
			t, err := truth(l)
			if err != nil {
				return nil, err
			}
			if t == (n.op == "or") {
				return l, nil
			}
			return c.eval(n.r)
		}
		r, err := c.eval(n.r)
		if err != nil {
			return nil, err
		}
		return arith(n.op, l, r)
	case *unaryExpr:
		v, err := c.eval(n.x)
		if err != nil {
			return nil, err
		}
		switch n.op {
		case "not":
			t, err := truth(v)
			return !t, err
		case "-":
			return negate(v)
		default:
			if err := firstUndefined(v); err != nil {
				return nil, err
			}
			if b, ok := v.(bool); ok {
				n, _ := int64Of(b)
				return n, nil
			}
			if !isNumber(v) {
				return nil, typeErr("bad operand type for unary +: '%s'", typeName(v))
			}
			return v, nil
		}
	case *compareExpr:
		l, err := c.eval(n.first)
		if err != nil {
			return nil, err
		}
		for i, op := range n.ops {
			r, err := c.eval(n.rest[i])
			if err != nil {
				return nil, err
			}
			ok, err := compare(op, l, r)
			if err != nil {
				return nil, err
			}
			if !ok {
				return false, nil
			}
			l = r
		}
		return true, nil
	case *concatExpr:
		var b strings.Builder
		for _, it := range n.items {
			v, err := c.eval(it)
			if err != nil {
				return nil, err
			}
			s, err := pyStr(v)
			if err != nil {
				return nil, err
			}
			if b.Len()+len(s) > maxStrLen {
				return nil, typeErr("string longer than %d bytes", maxStrLen)
			}
			b.WriteString(s)
		}
		return b.String(), nil
	case *condExpr:
		tv, err := c.eval(n.test)
		if err != nil {
			return nil, err
		}
		t, err := truth(tv)
		if err != nil {
			return nil, err
		}
		if t {
			return c.eval(n.yes)
		}
		if n.els == nil {
			return &undefined{hint: "the inline if-expression evaluated to false and no else section was defined", lenient: true}, nil
		}
		return c.eval(n.els)
	case nil:
		return nil, errors.New("missing expression")
	}
	return nil, fmt.Errorf("cannot evaluate %T", x)
}

func (c *ctx) evalArgs(args []expr, kwNames []string, kwVals []expr, star, starKw expr) ([]any, map[string]any, error) {
	var out []any
	for _, a := range args {
		v, err := c.eval(a)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, v)
	}
	if star != nil {
		v, err := c.eval(star)
		if err != nil {
			return nil, nil, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, items...)
	}
	var kw map[string]any
	for i, k := range kwNames {
		v, err := c.eval(kwVals[i])
		if err != nil {
			return nil, nil, err
		}
		if kw == nil {
			kw = map[string]any{}
		}
		kw[k] = v
	}
	if starKw != nil {
		v, err := c.eval(starKw)
		if err != nil {
			return nil, nil, err
		}
		m, ok := v.(*vars.Map)
		if !ok {
			if err := firstUndefined(v); err != nil {
				return nil, nil, err
			}
			return nil, nil, typeErr("argument after ** must be a mapping, not %s", typeName(v))
		}
		for _, k := range m.Keys() {
			if kw == nil {
				kw = map[string]any{}
			}
			kw[k], _ = m.Get(k)
		}
	}
	return out, kw, nil
}

func (c *ctx) call(fn any, args []any, kw map[string]any, path string) (any, error) {
	switch f := fn.(type) {
	case *callable:
		return f.fn(c, args, kw)
	case *macro:
		return c.callMacro(f, args, kw)
	case *loopObj:
		if f.recurse == nil {
			return nil, typeErr("'LoopContext' object is not callable (the loop is not recursive)")
		}
		if len(args) != 1 || len(kw) > 0 {
			return nil, typeErr("loop() takes one iterable")
		}
		return f.recurse(args[0])
	case *undefined:
		return nil, f.err()
	}
	name := path
	if name == "" {
		name = typeName(fn)
	}
	return nil, typeErr("'%s' object is not callable (%s)", typeName(fn), name)
}

// getattr is Jinja2's attribute lookup: a Python attribute (a method of a
// str, list or dict) first, then an item.
func (c *ctx) getattr(obj any, attr string, path string) (any, error) {
	switch o := obj.(type) {
	case *undefined:
		return o, nil
	case *vars.Map:
		if m := method(obj, attr); m != nil {
			return m, nil
		}
		if v, ok := o.Get(attr); ok {
			return v, nil
		}
	case *hostView:
		v, ok, err := o.get(attr)
		if err != nil || ok {
			return v, err
		}
		return &undefined{name: joinPath(path, attr), hint: fmt.Sprintf("'%s' is undefined for %s", attr, o.describe())}, nil
	case *loopObj:
		if v, ok := o.attr(attr); ok {
			return v, nil
		}
	case *namespace:
		if v, ok := o.attrs.Get(attr); ok {
			return v, nil
		}
	case *macro:
		switch attr {
		case "name":
			return o.def.name, nil
		case "arguments":
			t := make(tuple, len(o.def.params))
			for i, p := range o.def.params {
				t[i] = p
			}
			return t, nil
		}
	case vars.Date:
		switch attr {
		case "year":
			return int64(o.Year), nil
		case "month":
			return int64(o.Month), nil
		case "day":
			return int64(o.Day), nil
		}
	default:
		if m := method(obj, attr); m != nil {
			return m, nil
		}
	}
	return &undefined{name: joinPath(path, attr), hint: fmt.Sprintf("%s has no attribute '%s'", objectRepr(obj), attr)}, nil
}

// getitem is Jinja2's subscript: an item first, then (for a string key) a
// Python attribute.
func (c *ctx) getitem(obj, key any, path string) (any, error) {
	itemPath := func() string {
		r, err := pyRepr(key)
		if err != nil {
			r = "?"
		}
		return path + "[" + r + "]"
	}
	switch o := obj.(type) {
	case *undefined:
		return o, nil
	case *vars.Map:
		k, err := hashKey(key)
		if err != nil {
			return nil, err
		}
		if v, ok := o.Get(k); ok {
			return v, nil
		}
	case []any, tuple, string:
		if isInt(key) {
			i, _ := int64Of(key)
			var n int64
			switch seq := o.(type) {
			case []any:
				n = int64(len(seq))
				if i < 0 {
					i += n
				}
				if i >= 0 && i < n {
					return seq[i], nil
				}
			case tuple:
				n = int64(len(seq))
				if i < 0 {
					i += n
				}
				if i >= 0 && i < n {
					return seq[i], nil
				}
			case string:
				rs := []rune(seq)
				n = int64(len(rs))
				if i < 0 {
					i += n
				}
				if i >= 0 && i < n {
					return string(rs[i]), nil
				}
			}
			r, _ := pyRepr(key)
			return &undefined{name: itemPath(), hint: fmt.Sprintf("%s has no element %s", objectRepr(obj), r)}, nil
		}
		if _, ok := key.(*undefined); ok {
			return nil, key.(*undefined).err()
		}
	case *hostView:
		if k, ok := key.(string); ok {
			v, found, err := o.get(k)
			if err != nil || found {
				return v, err
			}
			return &undefined{name: itemPath(), hint: fmt.Sprintf("'%s' is undefined for %s", k, o.describe())}, nil
		}
	case *namespace:
		if k, ok := key.(string); ok {
			if v, ok := o.attrs.Get(k); ok {
				return v, nil
			}
		}
	case *loopObj:
		if k, ok := key.(string); ok {
			if v, ok := o.attr(k); ok {
				return v, nil
			}
		}
	}
	if k, ok := key.(string); ok {
		if m := method(obj, k); m != nil {
			return m, nil
		}
		return &undefined{name: itemPath(), hint: fmt.Sprintf("%s has no attribute '%s'", objectRepr(obj), k)}, nil
	}
	if err := firstUndefined(key); err != nil {
		return nil, err
	}
	r, _ := pyRepr(key)
	return &undefined{name: itemPath(), hint: fmt.Sprintf("%s has no element %s", objectRepr(obj), r)}, nil
}

func (c *ctx) slice(obj any, sl *sliceExpr) (any, error) {
	if err := firstUndefined(obj); err != nil {
		return nil, err
	}
	var parts [3]*int64
	for i, x := range []expr{sl.start, sl.stop, sl.step} {
		if x == nil {
			continue
		}
		v, err := c.eval(x)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		n, ok := int64Of(v)
		if !ok || !isInt(v) {
			if err := firstUndefined(v); err != nil {
				return nil, err
			}
			return nil, typeErr("slice indices must be integers or None, not %s", typeName(v))
		}
		parts[i] = &n
	}
	switch o := obj.(type) {
	case []any:
		idx, err := sliceIndices(len(o), parts)
		if err != nil {
			return nil, err
		}
		out := make([]any, len(idx))
		for i, j := range idx {
			out[i] = o[j]
		}
		return out, nil
	case tuple:
		idx, err := sliceIndices(len(o), parts)
		if err != nil {
			return nil, err
		}
		out := make(tuple, len(idx))
		for i, j := range idx {
			out[i] = o[j]
		}
		return out, nil
	case string:
		rs := []rune(o)
		idx, err := sliceIndices(len(rs), parts)
		if err != nil {
			return nil, err
		}
		out := make([]rune, len(idx))
		for i, j := range idx {
			out[i] = rs[j]
		}
		return string(out), nil
	}
	return nil, typeErr("'%s' object is not subscriptable", typeName(obj))
}

// sliceIndices lists the indexes seq[start:stop:step] visits, as Python's
// slice.indices does.
func sliceIndices(n int, p [3]*int64) ([]int, error) {
	step := int64(1)
	if p[2] != nil {
		step = *p[2]
		if step == 0 {
			return nil, typeErr("slice step cannot be zero")
		}
	}
	ln := int64(n)
	clamp := func(v *int64, def int64, lo, hi int64) int64 {
		if v == nil {
			return def
		}
		x := *v
		if x < 0 {
			x += ln
			if x < lo {
				x = lo
			}
		} else if x > hi {
			x = hi
		}
		return x
	}
	var start, stop int64
	if step > 0 {
		start = clamp(p[0], 0, 0, ln)
		stop = clamp(p[1], ln, 0, ln)
	} else {
		start = clamp(p[0], ln-1, -1, ln-1)
		stop = clamp(p[1], -1, -1, ln-1)
	}
	var out []int
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, int(i))
	}
	return out, nil
}

// applyFilter evaluates a filter's arguments and calls it on v.
func (c *ctx) applyFilter(n *filterExpr, v any) (any, error) {
	args, kw, err := c.evalArgs(n.args, n.kwNames, n.kwVals, n.star, n.starKw)
	if err != nil {
		return nil, err
	}
	return c.callFilter(n.name, v, args, kw)
}

func pluginName(name string) string {
	for _, p := range []string{"ansible.builtin.", "ansible.legacy."} {
		if strings.HasPrefix(name, p) {
			return name[len(p):]
		}
	}
	return name
}

func (c *ctx) callFilter(name string, v any, args []any, kw map[string]any) (any, error) {
	f, ok := filters[pluginName(name)]
	if !ok {
		return nil, fmt.Errorf("no filter named '%s'%s", name, suggest(name, filterNames()))
	}
	if !f.undefOK {
		if err := firstUndefined(v); err != nil {
			return nil, err
		}
	}
	if f.noArgs && (len(args) > 0 || len(kw) > 0) {
		return nil, fmt.Errorf("filter '%s' takes no arguments (%d given)", name, len(args)+len(kw))
	}
	r, err := f.fn(c, v, args, kw)
	if err != nil {
		var ue *UndefinedError
		var te *Error
		var pe *plainError
		if errors.As(err, &ue) || errors.As(err, &te) || errors.As(err, &pe) {
			return nil, err
		}
		return nil, fmt.Errorf("filter '%s': %w", name, err)
	}
	if s, ok := r.(string); ok && stringTypeFilters[pluginName(name)] && looksLiteral(s) {
		c.st.markText(s)
	}
	return r, nil
}

// stringTypeFilters produce text that Ansible keeps as a string instead of
// reading it back as a list or dict (its STRING_TYPE_FILTERS setting).
var stringTypeFilters = map[string]bool{
	"string": true, "to_json": true, "to_nice_json": true, "to_yaml": true, "to_nice_yaml": true,
}

func (c *ctx) test(name string, v any, args []any, kw map[string]any) (bool, error) {
	t, ok := tests[pluginName(name)]
	if !ok {
		return false, fmt.Errorf("no test named '%s'%s", name, suggest(name, testNames()))
	}
	if !t.undefOK {
		if u, isU := v.(*undefined); isU {
			if t.falseOnUndef {
				return false, nil
			}
			return false, u.err()
		}
	}
	r, err := t.fn(c, v, args, kw)
	if err != nil {
		var ue *UndefinedError
		if errors.As(err, &ue) {
			return false, err
		}
		return false, fmt.Errorf("test '%s': %w", name, err)
	}
	return r, nil
}

// toGoInt returns an integer argument as a Go int; what names it in errors.
func toGoInt(v any, what string) (int, error) {
	if err := firstUndefined(v); err != nil {
		return 0, err
	}
	if !isInt(v) {
		if f, ok := v.(float64); ok && f == float64(int64(f)) {
			return 0, typeErr("%s must be an integer, not float", what)
		}
		return 0, typeErr("%s must be an integer, not %s", what, typeName(v))
	}
	n, ok := int64Of(v)
	if !ok || n > maxStrLen || n < -maxStrLen {
		return 0, typeErr("%s is too large", what)
	}
	return int(n), nil
}
