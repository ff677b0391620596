package jinja

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"sync"
	"unicode"

	"fleetrun.dev/fleet/vars"
)

// Omit is the value of the variable omit: a module argument rendered to
// exactly this string is dropped by the executor, as Ansible does with
// `| default(omit)`.
const Omit = "__omit_place_holder__fleet"

// Engine renders templates. It is safe for concurrent use and caches
// compiled templates by their source text, since the same arguments are
// rendered for every host.
type Engine struct {
	mu    sync.Mutex
	cache map[cacheKey]*template
}

// New returns an Engine with an empty template cache.
func New() *Engine {
	return &Engine{cache: map[cacheKey]*template{}}
}

// kind is how a source text is compiled.
type kind uint8

const (
	kindArg  kind = iota // a string in a playbook (module argument, variable)
	kindText             // a template file (the template module)
	kindExpr             // a bare expression (when:, until:, assert)
)

type cacheKey struct {
	kind kind
	src  string
}

// maxCache bounds the template cache; past it the cache starts over.
const maxCache = 8192

// template is a compiled template, or the error compiling it.
type template struct {
	src      string
	body     []node
	single   expr // the expression of a template that is one {{ expr }}
	source   *source
	newlines int // trailing newlines of the source, which Ansible keeps
	err      error
}

func (e *Engine) compile(k kind, src string) (*template, error) {
	key := cacheKey{k, src}
	e.mu.Lock()
	t, ok := e.cache[key]
	e.mu.Unlock()
	if !ok {
		t = compileTemplate(k, src)
		e.mu.Lock()
		if len(e.cache) >= maxCache {
			e.cache = map[cacheKey]*template{}
		}
		e.cache[key] = t
		e.mu.Unlock()
	}
	return t, t.err
}

func compileTemplate(k kind, src string) (t *template) {
	t = &template{src: src}
	defer func() {
		// gonja's lexer is not ours; a panic in it must not take the
		// executor down.
		if r := recover(); r != nil {
			t.body, t.single = nil, nil
			t.err = &Error{Template: src, Err: fmt.Errorf("syntax error: gonja's lexer failed on this template: %v", r)}
		}
	}()
	syn := defaultSyntax()
	syn.trimBlocks = true // Ansible's environment always trims blocks
	text := src
	t.newlines = trailingNewlines(src)
	switch k {
	case kindArg:
		syn.rawVarStrings = true
	case kindExpr:
		syn.expr = true
		text = "{{ " + src + " }}"
	}
	if k != kindExpr && strings.HasPrefix(text, overridePrefix) {
		var err error
		if text, err = applyOverrides(text, &syn); err != nil {
			t.err = &Error{Template: src, Line: 1, Err: err}
			return t
		}
	}
	s := prepare(text, &syn)
	t.source = s
	if s.badDot >= 0 {
		t.err = &Error{Template: src, Line: s.line(s.badDot), Err: errors.New("syntax error: a number followed by '.' and a non-ASCII character cannot be read; write the attribute as x['name']")}
		return t
	}
	p := &parser{toks: lex(s, &syn), src: s, syn: &syn}
	body, err := p.parseTemplate()
	if err != nil {
		line := 0
		var se *syntaxError
		if errors.As(err, &se) && k != kindExpr {
			line = s.line(se.pos)
		}
		t.err = &Error{Template: src, Line: line, Err: fmt.Errorf("syntax error: %w", err)}
		return t
	}
	t.body = body
	if len(body) == 1 {
		if o, ok := body[0].(*outputNode); ok {
			t.single = o.x
		}
	}
	if k == kindExpr && t.single == nil {
		t.err = &Error{Template: src, Err: errors.New("syntax error: expected one expression")}
	}
	return t
}

func trailingNewlines(s string) int {
	n := 0
	for n < len(s) && s[len(s)-1-n] == '\n' {
		n++
	}
	return n
}

// overridePrefix starts a first line of Jinja2 environment settings, as in
// "#jinja2: trim_blocks: False, lstrip_blocks: True".
const overridePrefix = "#jinja2:"

func applyOverrides(text string, syn *syntax) (string, error) {
	eol := strings.IndexByte(text, '\n')
	if eol < 0 {
		return text, nil
	}
	line := text[len(overridePrefix):eol]
	text = text[eol+1:]
	for _, pair := range strings.Split(line, ",") {
		key, val, ok := strings.Cut(pair, ":")
		if !ok {
			return "", fmt.Errorf("failed to parse jinja2 override '%s'. Did you use something different from colon as key-value separator?", strings.TrimSpace(pair))
		}
		key = strings.TrimSpace(key)
		v, ok := literalEval(strings.TrimSpace(val))
		if !ok {
			return "", fmt.Errorf("bad value %q for jinja2 override '%s'", strings.TrimSpace(val), key)
		}
		b, isBool := v.(bool)
		s, isStr := v.(string)
		switch {
		case key == "trim_blocks" && isBool:
			syn.trimBlocks = b
		case key == "lstrip_blocks" && isBool:
			syn.lstripBlocks = b
		case key == "keep_trailing_newline" && isBool:
			syn.keepTrailingNewline = b
		case key == "newline_sequence" && isStr && (s == "\n" || s == "\r\n" || s == "\r"):
			syn.newline = s
		case key == "variable_start_string" && isStr && s != "":
			syn.varStart = s
		case key == "variable_end_string" && isStr && s != "":
			syn.varEnd = s
		case key == "block_start_string" && isStr && s != "":
			syn.blockStart = s
		case key == "block_end_string" && isStr && s != "":
			syn.blockEnd = s
		case key == "comment_start_string" && isStr && s != "":
			syn.commentStart = s
		case key == "comment_end_string" && isStr && s != "":
			syn.commentEnd = s
		default:
			return "", fmt.Errorf("unsupported jinja2 override '%s: %s'; fleet supports trim_blocks, lstrip_blocks, keep_trailing_newline, newline_sequence and the *_start_string/*_end_string delimiters", key, strings.TrimSpace(val))
		}
	}
	return text, nil
}

// IsTemplate reports whether s contains a Jinja2 start delimiter ({{, {% or
// {#), which is when Ansible renders a string.
func IsTemplate(s string) bool {
	i := strings.IndexByte(s, '{')
	for i >= 0 && i+1 < len(s) {
		switch s[i+1] {
		case '{', '%', '#':
			return true
		}
		j := strings.IndexByte(s[i+1:], '{')
		if j < 0 {
			return false
		}
		i += 1 + j
	}
	return false
}

// Render renders v as Ansible renders a task's arguments: strings holding
// templates are rendered, mappings and lists walked (keys are left as they
// are), !unsafe strings returned untouched. Variables the templates use are
// rendered lazily, once per call.
//
// Types follow Ansible 2.14 exactly: a rendered string that reads as a
// Python list, dict or bool ("[...]", "{...}", "True", "False") becomes
// that value, so "{{ items }}" yields the list and "{{ x > 1 }}" a bool;
// "{{ name }}" of a variable holding a number yields the number; but a
// number computed by an expression stays text, so "{{ n + 1 }}" is "6", as
// in Ansible. Results are plain values: string, int64 (*big.Int beyond),
// float64, bool, nil, []any, map[string]any.
func (e *Engine) Render(v any, vs Vars) (result any, err error) {
	st := newState(e, vs)
	defer st.recoverPanic(&err)
	r, err := st.renderValue(v, st.root, 0)
	if err != nil {
		return nil, err
	}
	return toPlain(r, 0)
}

// RenderText renders a whole template file as the template module does:
// trim_blocks on, lstrip_blocks off, trailing newlines kept, a first line
// "#jinja2: ..." overriding those, no conversion of the result. Templates
// that include, import or extend others are not supported.
func (e *Engine) RenderText(text string, vs Vars) (out string, err error) {
	st := newState(e, vs)
	st.current = text
	defer st.recoverPanic(&err)
	t, err := e.compile(kindText, text)
	if err != nil {
		return "", err
	}
	c := newCtx(st, st.root, t)
	out, err = c.renderBody(t.body)
	if err != nil {
		return "", c.wrap(err)
	}
	return padNewlines(out, t.newlines), nil
}

// Eval evaluates a bare Jinja2 expression such as `result.rc == 0 and x is
// defined` (when:, changed_when:, failed_when:, until:, assert's that:) and
// returns its value. As in Ansible, an expression containing {{ }} is
// rendered first and the result evaluated, unless it is not a string.
func (e *Engine) Eval(expr string, vs Vars) (result any, err error) {
	st := newState(e, vs)
	st.current = expr
	defer st.recoverPanic(&err)
	v, err := st.evalExpr(expr, st.root)
	if err != nil {
		return nil, err
	}
	p, err := toPlain(v, 0)
	if err != nil {
		return nil, exprError(err, expr)
	}
	return p, nil
}

// Cond evaluates each expression (a task's when: list) and reports whether
// all are true by Python's truthiness; it stops at the first false one. An
// empty expression is true.
func (e *Engine) Cond(exprs []string, vs Vars) (ok bool, err error) {
	st := newState(e, vs)
	defer st.recoverPanic(&err)
	for _, x := range exprs {
		st.current = x
		if strings.TrimSpace(x) == "" {
			continue
		}
		v, err := st.evalExpr(x, st.root)
		if err != nil {
			return false, err
		}
		t, err := truth(v)
		if err != nil {
			return false, exprError(err, x)
		}
		if !t {
			return false, nil
		}
	}
	return true, nil
}

// recoverPanic turns a panic while rendering into an error quoting the
// template: a bug in the engine must fail one task, not the run.
func (st *state) recoverPanic(err *error) {
	if r := recover(); r != nil {
		*err = &Error{Template: st.current, Err: fmt.Errorf("internal error in the template engine (please report it): %v", r)}
	}
}

func exprError(err error, expr string) error {
	var ue *UndefinedError
	if errors.As(err, &ue) {
		if ue.Expr == "" {
			ue.Expr = expr
		}
		return err
	}
	var te *Error
	if errors.As(err, &te) {
		return err
	}
	return &Error{Template: expr, Err: err}
}

func (st *state) evalExpr(expr string, sc *scope) (any, error) {
	if IsTemplate(expr) {
		r, err := st.templateString(expr, sc)
		if err != nil {
			return nil, err
		}
		s, ok := r.(string)
		if !ok || s == "" {
			return r, nil
		}
		expr = s
	}
	t, err := st.eng.compile(kindExpr, expr)
	if err != nil {
		return nil, err
	}
	c := newCtx(st, sc, t)
	v, err := c.eval(t.single)
	if err == nil {
		if _, isU := v.(*undefined); isU {
			// The condition itself is undefined: Ansible's {% if %}
			// fails on it, and so may the fallback below.
			_, err = truth(v)
		}
	}
	if err != nil {
		if ok, matched := definedFallback(expr, err); matched {
			return ok, nil
		}
		return nil, c.wrap(err)
	}
	return v, nil
}

var (
	definedRE       = regexp.MustCompile(`(hostvars\[.+\]|[\w_]+)\s+(not\s+is|is|is\s+not)\s+(defined|undefined)`)
	undefinedNameRE = regexp.MustCompile(`'(hostvars\[.+\]|[\w_]+)' is undefined`)
)

// definedFallback is Ansible's rescue for a conditional that failed on an
// undefined variable: when the conditional also tests that very variable
// with "is defined" or "is undefined", that test decides the result, so
// `x == 1 or x is undefined` is true for an undefined x.
func definedFallback(expr string, err error) (result, matched bool) {
	var ue *UndefinedError
	if !errors.As(err, &ue) {
		return false, false
	}
	msg := ue.Hint
	if msg == "" {
		msg = fmt.Sprintf("'%s' is undefined", ue.Name)
	}
	m := undefinedNameRE.FindStringSubmatch(msg)
	if m == nil {
		return false, false
	}
	name := strings.ReplaceAll(m[1], "'", `"`)
	for rest := expr; ; {
		loc := definedRE.FindStringSubmatchIndex(rest)
		if loc == nil {
			return false, false
		}
		if strings.ReplaceAll(rest[loc[2]:loc[3]], "'", `"`) == name {
			logic, state := rest[loc[4]:loc[5]], rest[loc[6]:loc[7]]
			shouldExist := strings.Contains(logic, "not") != (state == "defined")
			return !shouldExist, true
		}
		rest = rest[loc[1]:]
	}
}

// templateString renders one string as Ansible's Templar.template does with
// its defaults (convert_data, trailing newlines kept).
func (st *state) templateString(s string, sc *scope) (any, error) {
	// current names the template for a panic's error; it is not restored
	// by a defer, so that a panic reports the innermost template.
	saved := st.current
	st.current = s
	v, err := st.renderString(s, sc)
	st.current = saved
	return v, err
}

func (st *state) renderString(s string, sc *scope) (any, error) {
	// A bare "{{ name }}" of a number or bool keeps its type.
	if name, ok := singleVar(s); ok && sc.vs != nil {
		if raw, ok := sc.vs.Get(name); ok {
			switch raw.(type) {
			case bool, int64, *big.Int, float64, int, int32, uint, uint32, uint64, float32:
				return normalize(raw), nil
			case nil:
				return nil, nil
			}
		}
	}
	t, err := st.eng.compile(kindArg, s)
	if err != nil {
		return nil, err
	}
	c := newCtx(st, sc, t)
	var text string
	if t.single != nil {
		v, err := c.eval(t.single)
		if err == nil {
			err = checkDefined(v, 0)
		}
		if err != nil {
			return nil, c.wrap(err)
		}
		switch x := v.(type) {
		case nil:
		case string:
			text = x
		case []any, *vars.Map, bool:
			// Ansible prints these and reads the text back with
			// ast.literal_eval, which gives the same value.
			return v, nil
		default:
			if text, err = pyStr(v); err != nil {
				return nil, c.wrap(err)
			}
		}
	} else {
		if text, err = c.renderBody(t.body); err != nil {
			return nil, c.wrap(err)
		}
	}
	if looksLiteral(text) && !(t.single != nil && st.texts[text]) {
		if v, ok := literalEval(text); ok {
			return v, nil
		}
	}
	return padNewlines(text, t.newlines), nil
}

// looksLiteral is Ansible's test for rendered text to be read back as a
// Python literal (ansible_eval_concat).
func looksLiteral(s string) bool {
	return strings.HasPrefix(s, "{") || strings.HasPrefix(s, "[") || s == "True" || s == "False"
}

func padNewlines(s string, want int) string {
	if have := trailingNewlines(s); want > have {
		s += strings.Repeat("\n", want-have)
	}
	return s
}

// singleVar matches Ansible's SINGLE_VAR: "{{ name }}" and nothing else
// (Python's $ also allows one trailing newline).
func singleVar(s string) (string, bool) {
	s = strings.TrimSuffix(s, "\n")
	if !strings.HasPrefix(s, "{{") || !strings.HasSuffix(s, "}}") || len(s) < 4 {
		return "", false
	}
	name := strings.TrimFunc(s[2:len(s)-2], unicode.IsSpace)
	for _, r := range name {
		if r != '_' && !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			return "", false
		}
	}
	return name, true
}
