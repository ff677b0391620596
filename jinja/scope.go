package jinja

import (
	"errors"
	"fmt"
	"math/big"
	"sort"

	"fleetrun.dev/fleet/vars"
)

// Vars is a host's variables as the executor holds them: raw values that may
// themselves be templates. A value that implements Vars (each entry of
// hostvars) is another host's variables.
type Vars interface {
	Get(name string) (any, bool)
}

// Limits that keep a hostile or broken template from running forever.
const (
	maxVarDepth  = 64        // variables rendering variables
	maxCallDepth = 100       // macros calling macros
	maxSteps     = 5_000_000 // loop iterations and macro calls per Render
	maxOutput    = 64 << 20  // bytes one Render may produce
)

// state is one Render call: its memoised variables and its budgets.
type state struct {
	eng     *Engine
	current string // the template being rendered, for panics
	// texts are strings made by to_json, to_nice_json, string and the
	// like in this Render call: Ansible marks them (NativeJinjaText) so a
	// template that prints one alone yields the string, not a parsed dict.
	texts map[string]bool
	root  *scope
	depth int
	calls int
	steps int
	out   int
}

func newState(e *Engine, vs Vars) *state {
	st := &state{eng: e}
	st.root = newScope(vs, "")
	return st
}

func (st *state) markText(s string) {
	if st.texts == nil {
		st.texts = map[string]bool{}
	}
	if len(st.texts) < 1024 {
		st.texts[s] = true
	}
}

func (st *state) step() error {
	st.steps++
	if st.steps > maxSteps {
		return fmt.Errorf("template too expensive: more than %d loop iterations and macro calls", maxSteps)
	}
	return nil
}

// scope is the variables of one host, rendered lazily and memoised for the
// duration of a Render call.
type scope struct {
	vs     Vars
	host   string // for hostvars views; "" for the host being rendered
	memo   map[string]any
	active map[string]bool
}

func newScope(vs Vars, host string) *scope {
	return &scope{vs: vs, host: host}
}

// get returns the rendered value of a variable: its raw value with every
// template inside rendered, once per Render call. A variable whose templates
// use an undefined variable is itself undefined (Ansible's AnsibleJ2Vars),
// so "is defined" and "default" still work on it.
func (sc *scope) get(st *state, name string) (any, bool, error) {
	if v, ok := sc.memo[name]; ok {
		return v, true, nil
	}
	if sc.vs == nil {
		return nil, false, nil
	}
	raw, ok := sc.vs.Get(name)
	if !ok {
		return nil, false, nil
	}
	if sc.active[name] {
		return nil, false, fmt.Errorf("recursive loop detected in variable '%s'", name)
	}
	if st.depth >= maxVarDepth {
		return nil, false, fmt.Errorf("variables nested more than %d levels deep while rendering '%s'", maxVarDepth, name)
	}
	if sc.active == nil {
		sc.active = map[string]bool{}
	}
	sc.active[name] = true
	st.depth++
	v, err := st.renderValue(raw, sc, 0)
	st.depth--
	delete(sc.active, name)
	if err != nil {
		qualified := name
		if sc.host != "" {
			qualified = fmt.Sprintf("hostvars['%s'].%s", sc.host, name)
		}
		var ue *UndefinedError
		if !errors.As(err, &ue) {
			var te *Error
			if errors.As(err, &te) && te.Var == "" {
				te.Var = qualified
			}
			return nil, false, err
		}
		hint := ue.Hint
		if hint == "" {
			hint = fmt.Sprintf("'%s' is undefined", ue.Name)
		}
		v = &undefined{name: ue.Name, hint: fmt.Sprintf("%s (in the value of variable '%s')", hint, qualified)}
	}
	if sc.memo == nil {
		sc.memo = map[string]any{}
	}
	sc.memo[name] = v
	return v, true, nil
}

// hostView is a host's variables seen from a template: hostvars['web1'],
// whose variables are rendered when used, or vars for the host being
// rendered, whose variables come as they are (templates unrendered), as in
// Ansible.
type hostView struct {
	st  *state
	sc  *scope
	raw bool
}

func (h *hostView) describe() string {
	if h.sc.host == "" {
		return "this host"
	}
	return fmt.Sprintf("host '%s'", h.sc.host)
}

func (h *hostView) get(name string) (any, bool, error) {
	if !h.raw {
		return h.sc.get(h.st, name)
	}
	if h.sc.vs == nil {
		return nil, false, nil
	}
	v, ok := h.sc.vs.Get(name)
	if !ok {
		return nil, false, nil
	}
	r, err := rawValue(v, 0)
	return r, true, err
}

// rawValue converts a variable's value to the evaluator's types without
// rendering the templates inside.
func rawValue(v any, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errDepth
	}
	switch x := v.(type) {
	case *vars.Map:
		if plainValues(x, 0) {
			return x, nil
		}
		m := vars.NewMap()
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			r, err := rawValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			m.Set(k, r)
		}
		return m, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			r, err := rawValue(e, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := vars.NewMap()
		for _, k := range keys {
			r, err := rawValue(x[k], depth+1)
			if err != nil {
				return nil, err
			}
			m.Set(k, r)
		}
		return m, nil
	}
	n := normalize(v)
	switch n.(type) {
	case []any, *vars.Map:
		// A foreign slice or map type, converted one level: convert inside.
		return rawValue(n, depth+1)
	}
	return n, nil
}

// plainValues reports whether a mapping holds only evaluator values.
func plainValues(v any, depth int) bool {
	if depth > maxValueDepth {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, string, vars.Date, vars.DateTime, vars.Vault:
		return true
	case []any:
		for _, e := range x {
			if !plainValues(e, depth+1) {
				return false
			}
		}
		return true
	case *vars.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			if !plainValues(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

func (h *hostView) has(name string) bool {
	_, ok, _ := h.get(name)
	return ok
}

// renderValue renders a raw variable value deeply: strings holding
// templates are rendered as Ansible's Templar.template does, mappings and
// lists walked, !unsafe strings kept as they are, other hosts' variables
// turned into views. Keys are never templated.
func (st *state) renderValue(v any, sc *scope, depth int) (any, error) {
	if depth > maxValueDepth {
		return nil, errDepth
	}
	switch x := v.(type) {
	case string:
		if !IsTemplate(x) {
			return x, nil
		}
		return st.templateString(x, sc)
	case vars.Unsafe:
		return string(x), nil
	case *vars.Map:
		if plainTree(x, 0) {
			return x, nil
		}
		m := vars.NewMap()
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			r, err := st.renderValue(e, sc, depth+1)
			if err != nil {
				return nil, err
			}
			if o := x.OrigKey(k); o != k {
				if err := m.SetKey(o, x.Line(k), r); err != nil {
					m.Set(k, r)
				}
			} else {
				m.Set(k, r)
			}
		}
		st.nameViews(m)
		return m, nil
	case []any:
		if plainTree(x, 0) {
			return x, nil
		}
		out := make([]any, len(x))
		for i, e := range x {
			r, err := st.renderValue(e, sc, depth+1)
			if err != nil {
				return nil, err
			}
			out[i] = r
		}
		return out, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		m := vars.NewMap()
		for _, k := range keys {
			r, err := st.renderValue(x[k], sc, depth+1)
			if err != nil {
				return nil, err
			}
			m.Set(k, r)
		}
		st.nameViews(m)
		return m, nil
	case Vars:
		return &hostView{st: st, sc: newScope(x, unnamedHost)}, nil
	}
	n := normalize(v)
	switch n.(type) {
	case []any, *vars.Map:
		// A foreign slice or map type ([]string, map[string]string),
		// converted one level: render what is inside.
		return st.renderValue(n, sc, depth+1)
	}
	return n, nil
}

// MarkUnsafe returns a copy of v in which every string is a vars.Unsafe,
// so that no template inside is ever rendered. The executor applies it to
// registered results and gathered facts, as Ansible does (wrap_var): text
// that came from a host must not be templated.
func MarkUnsafe(v any) any {
	return markUnsafe(v, 0)
}

func markUnsafe(v any, depth int) any {
	if depth > maxValueDepth {
		return v
	}
	switch x := v.(type) {
	case string:
		return vars.Unsafe(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = markUnsafe(e, depth+1)
		}
		return out
	case []string:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = vars.Unsafe(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = markUnsafe(e, depth+1)
		}
		return out
	case *vars.Map:
		out := vars.NewMap()
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			out.Set(k, markUnsafe(e, depth+1))
		}
		return out
	}
	return v
}

// plainTree reports whether v needs no rendering and no conversion: no
// templates, no unsafe markers, no Go maps or foreign types inside.
func plainTree(v any, depth int) bool {
	if depth > maxValueDepth {
		return false
	}
	switch x := v.(type) {
	case nil, bool, int64, float64, vars.Date, vars.DateTime, vars.Vault:
		return true
	case *big.Int:
		return !x.IsInt64()
	case string:
		return !IsTemplate(x)
	case []any:
		for _, e := range x {
			if !plainTree(e, depth+1) {
				return false
			}
		}
		return true
	case *vars.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			if !plainTree(e, depth+1) {
				return false
			}
		}
		return true
	}
	return false
}

// unnamedHost marks a view onto variables found outside a mapping.
const unnamedHost = "(unnamed)"

// nameViews is how a view onto another host learns its name: the executor
// passes hostvars as a map from host name to Vars.
func (st *state) nameViews(m *vars.Map) {
	for _, k := range m.Keys() {
		e, _ := m.Get(k)
		if h, ok := e.(*hostView); ok && h.sc.host == unnamedHost {
			h.sc.host = k
		}
	}
}
