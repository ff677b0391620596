package jinja

import (
	"fmt"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// macro is a {% macro %} bound to the scope it was defined in.
type macro struct {
	def *macroDef
	fr  *frame
	sc  *scope
	t   *template
}

// loopObj is the loop variable of a {% for %}.
type loopObj struct {
	items   []any
	index   int
	depth   int
	changed bool
	last    any
	recurse func(items any) (any, error)
}

func (l *loopObj) attr(name string) (any, bool) {
	n := len(l.items)
	switch name {
	case "index":
		return int64(l.index + 1), true
	case "index0":
		return int64(l.index), true
	case "revindex":
		return int64(n - l.index), true
	case "revindex0":
		return int64(n - l.index - 1), true
	case "first":
		return l.index == 0, true
	case "last":
		return l.index == n-1, true
	case "length":
		return int64(n), true
	case "depth":
		return int64(l.depth), true
	case "depth0":
		return int64(l.depth - 1), true
	case "previtem":
		if l.index > 0 {
			return l.items[l.index-1], true
		}
		return &undefined{name: "loop.previtem", hint: "there is no previous item"}, true
	case "nextitem":
		if l.index+1 < n {
			return l.items[l.index+1], true
		}
		return &undefined{name: "loop.nextitem", hint: "there is no next item"}, true
	case "cycle":
		return &callable{name: "loop.cycle", fn: func(c *ctx, args []any, kw map[string]any) (any, error) {
			if len(args) == 0 {
				return nil, typeErr("no items for cycling given")
			}
			return args[l.index%len(args)], nil
		}}, true
	case "changed":
		return &callable{name: "loop.changed", fn: func(c *ctx, args []any, kw map[string]any) (any, error) {
			cur := any(tuple(args))
			if l.changed && eq(cur, l.last, 0) {
				return false, nil
			}
			l.changed, l.last = true, cur
			return true, nil
		}}, true
	}
	return nil, false
}

func (c *ctx) sub(fr *frame) *ctx {
	return &ctx{st: c.st, sc: c.sc, fr: fr, t: c.t, out: c.out, pos: c.pos}
}

// renderBody executes nodes and returns what they print.
func (c *ctx) renderBody(body []node) (string, error) {
	var b strings.Builder
	saved := c.out
	c.out = &b
	err := c.execBody(body)
	c.out = saved
	return b.String(), err
}

func (c *ctx) write(s string) error {
	c.st.out += len(s)
	if c.st.out > maxOutput {
		return fmt.Errorf("template output larger than %d bytes", maxOutput)
	}
	c.out.WriteString(s)
	return nil
}

func (c *ctx) execBody(body []node) error {
	for _, n := range body {
		if err := c.exec(n); err != nil {
			return err
		}
	}
	return nil
}

// printable is what an output node prints: None prints nothing (Ansible's
// finalize), undefined values anywhere inside fail.
func printable(v any) (string, error) {
	if v == nil {
		return "", nil
	}
	if err := checkDefined(v, 0); err != nil {
		return "", err
	}
	return pyStr(v)
}

func (c *ctx) exec(n node) error {
	switch x := n.(type) {
	case *textNode:
		return c.write(x.text)
	case *outputNode:
		c.pos = x.pos
		v, err := c.eval(x.x)
		if err != nil {
			return err
		}
		s, err := printable(v)
		if err != nil {
			return err
		}
		return c.write(s)
	case *ifNode:
		c.pos = x.pos
		for i, cond := range x.conds {
			v, err := c.eval(cond)
			if err != nil {
				return err
			}
			t, err := truth(v)
			if err != nil {
				return err
			}
			if t {
				return c.execBody(x.bodies[i])
			}
		}
		return c.execBody(x.els)
	case *forNode:
		c.pos = x.pos
		return c.execFor(x)
	case *setNode:
		c.pos = x.pos
		v, err := c.eval(x.value)
		if err != nil {
			return err
		}
		if len(x.targets) == 1 {
			return c.assign(x.targets[0], v)
		}
		items, err := unpack(v, len(x.targets))
		if err != nil {
			return err
		}
		for i, t := range x.targets {
			if err := c.assign(t, items[i]); err != nil {
				return err
			}
		}
		return nil
	case *setBlockNode:
		c.pos = x.pos
		s, err := c.sub(&frame{parent: c.fr}).renderBody(x.body)
		if err != nil {
			return err
		}
		v, err := c.applyFilters(x.filters, s)
		if err != nil {
			return err
		}
		return c.assign(x.target, v)
	case *macroNode:
		c.fr.set(x.m.name, &macro{def: x.m, fr: c.fr, sc: c.sc, t: c.t})
		return nil
	case *callBlockNode:
		c.pos = x.pos
		fn, err := c.eval(x.call.fn)
		if err != nil {
			return err
		}
		m, ok := fn.(*macro)
		if !ok {
			if err := firstUndefined(fn); err != nil {
				return err
			}
			return typeErr("{%% call %%} needs a macro, not %s", typeName(fn))
		}
		args, kw, err := c.evalArgs(x.call.args, x.call.kwNames, x.call.kwVals, x.call.star, x.call.starKw)
		if err != nil {
			return err
		}
		caller := &macro{def: x.caller, fr: c.fr, sc: c.sc, t: c.t}
		out, err := c.invokeMacro(m, args, kw, caller)
		if err != nil {
			return err
		}
		return c.write(out)
	case *filterBlockNode:
		c.pos = x.pos
		s, err := c.sub(&frame{parent: c.fr}).renderBody(x.body)
		if err != nil {
			return err
		}
		v, err := c.applyFilters(x.filters, s)
		if err != nil {
			return err
		}
		out, err := printable(v)
		if err != nil {
			return err
		}
		return c.write(out)
	case *withNode:
		c.pos = x.pos
		fr := &frame{parent: c.fr}
		for i, name := range x.names {
			v, err := c.eval(x.values[i])
			if err != nil {
				return err
			}
			fr.set(name, v)
		}
		return c.sub(fr).execBody(x.body)
	}
	return fmt.Errorf("cannot execute %T", n)
}

func (c *ctx) applyFilters(fs []*filterExpr, v any) (any, error) {
	for _, f := range fs {
		var err error
		if v, err = c.applyFilter(f, v); err != nil {
			return nil, err
		}
	}
	return v, nil
}

func (c *ctx) assign(t setTarget, v any) error {
	if t.attr == "" {
		c.fr.set(t.name, v)
		return nil
	}
	obj, err := c.lookup(t.name)
	if err != nil {
		return err
	}
	ns, ok := obj.(*namespace)
	if !ok {
		if err := firstUndefined(obj); err != nil {
			return err
		}
		return typeErr("cannot assign attribute '%s' on %s: only a namespace() takes attributes", t.attr, typeName(obj))
	}
	ns.attrs.Set(t.attr, v)
	return nil
}

// unpack splits v into n values, as Python's tuple assignment does.
func unpack(v any, n int) ([]any, error) {
	items, err := iterate(v)
	if err != nil {
		if _, ok := err.(*typeError); ok {
			return nil, typeErr("cannot unpack non-iterable %s object", typeName(v))
		}
		return nil, err
	}
	if len(items) > n {
		return nil, typeErr("too many values to unpack (expected %d)", n)
	}
	if len(items) < n {
		return nil, typeErr("not enough values to unpack (expected %d, got %d)", n, len(items))
	}
	return items, nil
}

func (c *ctx) execFor(n *forNode) error {
	v, err := c.eval(n.iter)
	if err != nil {
		return err
	}
	// loop.depth counts recursive loop() calls, not nested for loops.
	out, err := c.runLoop(n, v, 1)
	if err != nil {
		return err
	}
	if out != "" {
		return c.write(out)
	}
	return nil
}

// runLoop runs a for loop over v and returns what it prints; a recursive
// loop calls it again for loop(children).
func (c *ctx) runLoop(n *forNode, v any, depth int) (string, error) {
	items, err := iterate(v)
	if err != nil {
		return "", err
	}
	bind := func(fr *frame, item any) error {
		if len(n.targets) == 1 {
			fr.set(n.targets[0], item)
			return nil
		}
		vals, err := unpack(item, len(n.targets))
		if err != nil {
			return err
		}
		for i, t := range n.targets {
			fr.set(t, vals[i])
		}
		return nil
	}
	if n.filter != nil {
		var kept []any
		for _, it := range items {
			if err := c.st.step(); err != nil {
				return "", err
			}
			fr := &frame{parent: c.fr}
			if err := bind(fr, it); err != nil {
				return "", err
			}
			fv, err := c.sub(fr).eval(n.filter)
			if err != nil {
				return "", err
			}
			t, err := truth(fv)
			if err != nil {
				return "", err
			}
			if t {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	var b strings.Builder
	inner := c.sub(c.fr)
	inner.out = &b
	if len(items) == 0 {
		if err := inner.execBody(n.els); err != nil {
			return "", err
		}
		return b.String(), nil
	}
	loop := &loopObj{items: items, depth: depth}
	if n.recursive {
		loop.recurse = func(children any) (any, error) {
			return c.runLoop(n, children, depth+1)
		}
	}
	for i, it := range items {
		if err := c.st.step(); err != nil {
			return "", err
		}
		loop.index = i
		fr := &frame{parent: c.fr}
		if err := bind(fr, it); err != nil {
			return "", err
		}
		fr.set("loop", loop)
		body := c.sub(fr)
		body.out = &b
		if err := body.execBody(n.body); err != nil {
			return "", err
		}
	}
	return b.String(), nil
}

func (c *ctx) callMacro(m *macro, args []any, kw map[string]any) (any, error) {
	return c.invokeMacro(m, args, kw, nil)
}

func (c *ctx) invokeMacro(m *macro, args []any, kw map[string]any, caller *macro) (string, error) {
	if c.st.calls >= maxCallDepth {
		return "", fmt.Errorf("macro '%s' called itself more than %d levels deep", m.def.name, maxCallDepth)
	}
	if err := c.st.step(); err != nil {
		return "", err
	}
	c.st.calls++
	defer func() { c.st.calls-- }()
	fr := &frame{parent: m.fr}
	sub := &ctx{st: c.st, sc: m.sc, fr: fr, t: m.t, pos: m.def.pos}
	used := 0
	for i, p := range m.def.params {
		var v any
		have := false
		if i < len(args) {
			v, have = args[i], true
		}
		if kv, ok := kw[p]; ok {
			if have {
				return "", typeErr("macro '%s' got multiple values for argument '%s'", m.def.name, p)
			}
			v, have = kv, true
			used++
		}
		if !have {
			if d := m.def.defaults[i]; d != nil {
				var err error
				if v, err = sub.eval(d); err != nil {
					return "", err
				}
			} else {
				v = &undefined{name: p, hint: fmt.Sprintf("parameter '%s' was not provided to macro '%s'", p, m.def.name)}
			}
		}
		fr.set(p, v)
	}
	var extra tuple
	if len(args) > len(m.def.params) {
		extra = append(extra, args[len(m.def.params):]...)
	}
	if extra == nil {
		extra = tuple{}
	}
	fr.set("varargs", extra)
	rest := vars.NewMap()
	if used < len(kw) {
		for _, k := range sortedKeys(kw) {
			isParam := false
			for _, p := range m.def.params {
				if p == k {
					isParam = true
				}
			}
			if !isParam {
				rest.Set(k, kw[k])
			}
		}
	}
	fr.set("kwargs", rest)
	if caller != nil {
		fr.set("caller", caller)
	}
	return sub.renderBody(m.def.body)
}
