package jinja

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"

	"github.com/nikolalohinski/gonja/v2/tokens"

	"fleetrun.dev/fleet/vars"
)

// Statements of a template.
type (
	node any

	textNode struct{ text string }

	outputNode struct {
		pos int
		x   expr
	}

	ifNode struct {
		pos    int
		conds  []expr
		bodies [][]node
		els    []node
	}

	forNode struct {
		pos       int
		targets   []string // one name, or the names a tuple unpacks into
		iter      expr
		filter    expr
		body, els []node
		recursive bool
	}

	// setNode assigns value to targets; a target "ns.attr" sets an
	// attribute of a namespace.
	setNode struct {
		pos     int
		targets []setTarget
		value   expr
	}

	setBlockNode struct {
		pos     int
		target  setTarget
		filters []*filterExpr
		body    []node
	}

	setTarget struct{ name, attr string }

	macroNode struct{ m *macroDef }

	callBlockNode struct {
		pos    int
		call   *callExpr
		caller *macroDef
	}

	filterBlockNode struct {
		pos     int
		filters []*filterExpr
		body    []node
	}

	withNode struct {
		pos    int
		names  []string
		values []expr
		body   []node
	}
)

// macroDef is a {% macro %} (or the body of a {% call %}).
type macroDef struct {
	pos      int
	name     string
	params   []string
	defaults []expr // aligned with params; nil where there is no default
	body     []node
}

// Expressions.
type (
	expr any

	constExpr struct{ v any }

	nameExpr struct {
		pos  int
		name string
	}

	listExpr  struct{ items []expr }
	tupleExpr struct{ items []expr }
	dictExpr  struct{ keys, vals []expr }

	getattrExpr struct {
		pos  int
		obj  expr
		attr string
	}

	getitemExpr struct {
		pos int
		obj expr
		key expr
	}

	sliceExpr struct{ start, stop, step expr }

	callExpr struct {
		pos     int
		fn      expr
		args    []expr
		kwNames []string
		kwVals  []expr
		star    expr
		starKw  expr
	}

	filterExpr struct {
		pos     int
		arg     expr // nil in a filter block
		name    string
		args    []expr
		kwNames []string
		kwVals  []expr
		star    expr
		starKw  expr
	}

	testExpr struct {
		pos     int
		arg     expr
		name    string
		args    []expr
		kwNames []string
		kwVals  []expr
		negate  bool
	}

	binExpr struct {
		pos  int
		op   string // + - * / // % ** and or
		l, r expr
	}

	unaryExpr struct {
		pos int
		op  string // - + not
		x   expr
	}

	compareExpr struct {
		pos   int
		first expr
		ops   []string // == != < <= > >= in notin
		rest  []expr
	}

	concatExpr struct {
		pos   int
		items []expr
	}

	condExpr struct {
		pos            int
		test, yes, els expr // els may be nil: undefined when false
	}
)

const maxNesting = 200

type parser struct {
	toks  []*tokens.Token
	i     int
	src   *source
	syn   *syntax
	depth int
}

type syntaxError struct {
	pos int
	msg string
}

func (e *syntaxError) Error() string { return e.msg }

func (p *parser) cur() *tokens.Token { return p.toks[p.i] }

func (p *parser) peek(k int) *tokens.Token {
	if p.i+k < len(p.toks) {
		return p.toks[p.i+k]
	}
	return p.toks[len(p.toks)-1]
}

func (p *parser) next() *tokens.Token {
	t := p.toks[p.i]
	if p.i < len(p.toks)-1 {
		p.i++
	}
	return t
}

func (p *parser) fail(t *tokens.Token, format string, args ...any) error {
	return &syntaxError{pos: t.Pos, msg: fmt.Sprintf(format, args...)}
}

// describe names a token for a syntax error, as Jinja2 does.
func describe(t *tokens.Token) string {
	switch t.Type {
	case tokens.EOF:
		return "end of template"
	case tokens.Error:
		return t.Val
	case tokens.Name:
		return fmt.Sprintf("name '%s'", t.Val)
	case tokens.String:
		return "string"
	case tokens.Integer:
		return "integer"
	case tokens.Float:
		return "float"
	case tokens.Data:
		return "template data"
	case tokens.VariableEnd, tokens.BlockEnd, tokens.CommentEnd:
		return fmt.Sprintf("end of statement block '%s'", strings.Trim(t.Val, "-+"))
	}
	return fmt.Sprintf("'%s'", t.Val)
}

func (p *parser) unexpected(t *tokens.Token) error {
	if t.Type == tokens.Error {
		if u := p.src.unclosed; u >= 0 {
			snippet := p.src.orig[u:]
			if len(snippet) > 20 {
				snippet = snippet[:20] + "..."
			}
			return &syntaxError{pos: u, msg: fmt.Sprintf("unterminated string literal %s", snippet)}
		}
		return p.fail(t, "%s", lexerMessage(t.Val))
	}
	return p.fail(t, "unexpected %s", describe(t))
}

func lexerMessage(s string) string {
	if s == "" {
		return "unreadable template text"
	}
	if !strings.ContainsAny(s, " ") {
		return fmt.Sprintf("unterminated string starting %q", s)
	}
	return strings.ToLower(s[:1]) + s[1:]
}

// isKw reports whether t is the keyword kw: gonja lexes a keyword as a name
// when something other than a space follows it, as in "x in(y)".
func isKw(t *tokens.Token, kw string) bool {
	switch kw {
	case "in":
		return t.Type == tokens.In || t.Type == tokens.Name && t.Val == kw
	case "is":
		return t.Type == tokens.Is || t.Type == tokens.Name && t.Val == kw
	case "not":
		return t.Type == tokens.Not || t.Type == tokens.Name && t.Val == kw
	case "and":
		return t.Type == tokens.And || t.Type == tokens.Name && t.Val == kw
	case "or":
		return t.Type == tokens.Or || t.Type == tokens.Name && t.Val == kw
	}
	return t.Type == tokens.Name && t.Val == kw
}

func (p *parser) expect(typ tokens.Type, what string) (*tokens.Token, error) {
	t := p.cur()
	if t.Type != typ {
		if t.Type == tokens.Error {
			return nil, p.unexpected(t)
		}
		return nil, p.fail(t, "expected %s, got %s", what, describe(t))
	}
	return p.next(), nil
}

func (p *parser) expectBlockEnd() error {
	t := p.cur()
	if t.Type != tokens.BlockEnd {
		if t.Type == tokens.Error {
			return p.unexpected(t)
		}
		return p.fail(t, "expected end of statement block, got %s", describe(t))
	}
	p.next()
	return nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxNesting {
		return p.fail(p.cur(), "expression nested more than %d levels deep", maxNesting)
	}
	return nil
}

func (p *parser) leave() { p.depth-- }

// parseTemplate parses a whole template.
func (p *parser) parseTemplate() ([]node, error) {
	body, _, err := p.parseBody()
	return body, err
}

// parseBody parses template nodes until a block tag named in ends, leaving
// the parser on that tag's name; it returns the name ("" at the end).
func (p *parser) parseBody(ends ...string) ([]node, string, error) {
	var body []node
	for {
		t := p.cur()
		switch t.Type {
		case tokens.Data:
			text := t.Val
			if p.i > 0 {
				if prev := p.toks[p.i-1]; isEndTag(prev) && strings.HasPrefix(prev.Val, "-") {
					text = strings.TrimLeftFunc(text, unicode.IsSpace)
				}
			}
			if nx := p.peek(1); isBeginTag(nx) && strings.HasSuffix(nx.Val, "-") {
				text = strings.TrimRightFunc(text, unicode.IsSpace)
			}
			if text != "" {
				if p.syn.newline != "\n" {
					text = strings.ReplaceAll(text, "\n", p.syn.newline)
				}
				body = append(body, &textNode{text: text})
			}
			p.next()
		case tokens.CommentBegin:
			p.next()
			for p.cur().Type != tokens.CommentEnd {
				if p.cur().Type == tokens.EOF || p.cur().Type == tokens.Error {
					return nil, "", p.fail(t, "unclosed comment")
				}
				p.next()
			}
			p.next()
		case tokens.VariableBegin:
			p.next()
			if p.cur().Type == tokens.VariableEnd {
				return nil, "", p.fail(p.cur(), "expected an expression, got %s", describe(p.cur()))
			}
			// A bare expression (when:) is what Ansible puts in
			// {% if %}, where Jinja2 allows no top-level "a if b else c".
			x, err := p.parseExpr(!p.syn.expr)
			if err != nil {
				return nil, "", err
			}
			if _, err := p.expect(tokens.VariableEnd, "end of print statement '"+p.syn.varEnd+"'"); err != nil {
				return nil, "", err
			}
			body = append(body, &outputNode{pos: t.Pos, x: x})
		case tokens.BlockBegin:
			name := p.peek(1)
			if name.Type != tokens.Name || name.Val == "" {
				return nil, "", p.fail(name, "expected a tag name after '%s', got %s", p.syn.blockStart, describe(name))
			}
			for _, e := range ends {
				if name.Val == e {
					p.next()
					return body, e, nil
				}
			}
			p.next()
			n, err := p.parseStatement()
			if err != nil {
				return nil, "", err
			}
			if n != nil {
				body = append(body, n)
			}
		case tokens.EOF:
			if len(ends) > 0 {
				return nil, "", p.fail(t, "unexpected end of template: expected %s", tagList(ends))
			}
			return body, "", nil
		default:
			return nil, "", p.unexpected(t)
		}
	}
}

func tagList(ends []string) string {
	var s []string
	for _, e := range ends {
		s = append(s, "'"+e+"'")
	}
	return strings.Join(s, " or ")
}

func isEndTag(t *tokens.Token) bool {
	return t.Type == tokens.VariableEnd || t.Type == tokens.BlockEnd || t.Type == tokens.CommentEnd
}

func isBeginTag(t *tokens.Token) bool {
	return t.Type == tokens.VariableBegin || t.Type == tokens.BlockBegin || t.Type == tokens.CommentBegin
}

// endTag consumes the name of a closing tag and its end.
func (p *parser) endTag() error {
	p.next()
	return p.expectBlockEnd()
}

func (p *parser) parseStatement() (node, error) {
	t := p.next() // the tag name
	switch t.Val {
	case "if":
		return p.parseIf(t)
	case "for":
		return p.parseFor(t)
	case "set":
		return p.parseSet(t)
	case "macro":
		return p.parseMacro(t)
	case "call":
		return p.parseCallBlock(t)
	case "filter":
		return p.parseFilterBlock(t)
	case "with":
		return p.parseWith(t)
	case "raw":
		return p.parseRaw(t)
	case "include", "import", "from", "extends", "block":
		return nil, p.fail(t, "the '%s' tag is not supported: fleet renders one template at a time", t.Val)
	}
	return nil, p.fail(t, "encountered unknown tag '%s'", t.Val)
}

func (p *parser) parseIf(t *tokens.Token) (node, error) {
	n := &ifNode{pos: t.Pos}
	for {
		cond, err := p.parseExpr(false)
		if err != nil {
			return nil, err
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		body, end, err := p.parseBody("elif", "else", "endif")
		if err != nil {
			return nil, err
		}
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch end {
		case "elif":
			p.next()
			continue
		case "else":
			if err := p.endTag(); err != nil {
				return nil, err
			}
			els, _, err := p.parseBody("endif")
			if err != nil {
				return nil, err
			}
			n.els = els
		}
		return n, p.endTag()
	}
}

func (p *parser) parseAssignNames() ([]string, error) {
	paren := p.cur().Type == tokens.LeftParenthesis
	if paren {
		p.next()
	}
	var names []string
	for {
		t, err := p.expect(tokens.Name, "a variable name")
		if err != nil {
			return nil, err
		}
		names = append(names, t.Val)
		if p.cur().Type != tokens.Comma {
			break
		}
		p.next()
		if paren && p.cur().Type == tokens.RightParenthesis {
			break
		}
		if !paren && (isKw(p.cur(), "in") || p.cur().Type == tokens.Assign) {
			break
		}
	}
	if paren {
		if _, err := p.expect(tokens.RightParenthesis, "')'"); err != nil {
			return nil, err
		}
	}
	return names, nil
}

func (p *parser) parseFor(t *tokens.Token) (node, error) {
	n := &forNode{pos: t.Pos}
	names, err := p.parseAssignNames()
	if err != nil {
		return nil, err
	}
	n.targets = names
	if !isKw(p.cur(), "in") {
		return nil, p.fail(p.cur(), "expected 'in' in for loop, got %s", describe(p.cur()))
	}
	p.next()
	if n.iter, err = p.parseTupleExpr(false); err != nil {
		return nil, err
	}
	if isKw(p.cur(), "if") {
		p.next()
		if n.filter, err = p.parseExpr(true); err != nil {
			return nil, err
		}
	}
	if isKw(p.cur(), "recursive") {
		p.next()
		n.recursive = true
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, end, err := p.parseBody("else", "endfor")
	if err != nil {
		return nil, err
	}
	n.body = body
	if end == "else" {
		if err := p.endTag(); err != nil {
			return nil, err
		}
		if n.els, _, err = p.parseBody("endfor"); err != nil {
			return nil, err
		}
	}
	return n, p.endTag()
}

func (p *parser) parseSetTarget() (setTarget, error) {
	t, err := p.expect(tokens.Name, "a variable name")
	if err != nil {
		return setTarget{}, err
	}
	st := setTarget{name: t.Val}
	if p.cur().Type == tokens.Dot {
		p.next()
		a, err := p.expect(tokens.Name, "an attribute name")
		if err != nil {
			return setTarget{}, err
		}
		st.attr = a.Val
	}
	return st, nil
}

func (p *parser) parseSet(t *tokens.Token) (node, error) {
	target, err := p.parseSetTarget()
	if err != nil {
		return nil, err
	}
	targets := []setTarget{target}
	for p.cur().Type == tokens.Comma {
		p.next()
		tg, err := p.parseSetTarget()
		if err != nil {
			return nil, err
		}
		targets = append(targets, tg)
	}
	if p.cur().Type == tokens.Assign {
		p.next()
		value, err := p.parseTupleExpr(true)
		if err != nil {
			return nil, err
		}
		if err := p.expectBlockEnd(); err != nil {
			return nil, err
		}
		return &setNode{pos: t.Pos, targets: targets, value: value}, nil
	}
	if len(targets) > 1 {
		return nil, p.fail(p.cur(), "expected '=' after the names to set, got %s", describe(p.cur()))
	}
	n := &setBlockNode{pos: t.Pos, target: target}
	for p.cur().Type == tokens.Pipe {
		p.next()
		f, err := p.parseFilterCall(nil)
		if err != nil {
			return nil, err
		}
		n.filters = append(n.filters, f)
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	if n.body, _, err = p.parseBody("endset"); err != nil {
		return nil, err
	}
	return n, p.endTag()
}

func (p *parser) parseParams(m *macroDef) error {
	if _, err := p.expect(tokens.LeftParenthesis, "'('"); err != nil {
		return err
	}
	for p.cur().Type != tokens.RightParenthesis {
		if len(m.params) > 0 {
			if _, err := p.expect(tokens.Comma, "',' or ')'"); err != nil {
				return err
			}
			if p.cur().Type == tokens.RightParenthesis {
				break
			}
		}
		name, err := p.expect(tokens.Name, "a parameter name")
		if err != nil {
			return err
		}
		var def expr
		if p.cur().Type == tokens.Assign {
			p.next()
			if def, err = p.parseExpr(true); err != nil {
				return err
			}
		} else if len(m.defaults) > 0 && m.defaults[len(m.defaults)-1] != nil {
			return p.fail(name, "non-default argument '%s' follows default argument", name.Val)
		}
		m.params = append(m.params, name.Val)
		m.defaults = append(m.defaults, def)
	}
	p.next()
	return nil
}

func (p *parser) parseMacro(t *tokens.Token) (node, error) {
	name, err := p.expect(tokens.Name, "a macro name")
	if err != nil {
		return nil, err
	}
	m := &macroDef{pos: t.Pos, name: name.Val}
	if err := p.parseParams(m); err != nil {
		return nil, err
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	if m.body, _, err = p.parseBody("endmacro"); err != nil {
		return nil, err
	}
	return &macroNode{m: m}, p.endTag()
}

func (p *parser) parseCallBlock(t *tokens.Token) (node, error) {
	caller := &macroDef{pos: t.Pos, name: "caller"}
	if p.cur().Type == tokens.LeftParenthesis {
		if err := p.parseParams(caller); err != nil {
			return nil, err
		}
	}
	x, err := p.parseExpr(true)
	if err != nil {
		return nil, err
	}
	call, ok := x.(*callExpr)
	if !ok {
		return nil, p.fail(t, "expected a call after 'call', as in %s", "{% call m(x) %}")
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	if caller.body, _, err = p.parseBody("endcall"); err != nil {
		return nil, err
	}
	return &callBlockNode{pos: t.Pos, call: call, caller: caller}, p.endTag()
}

func (p *parser) parseFilterBlock(t *tokens.Token) (node, error) {
	n := &filterBlockNode{pos: t.Pos}
	for {
		f, err := p.parseFilterCall(nil)
		if err != nil {
			return nil, err
		}
		n.filters = append(n.filters, f)
		if p.cur().Type != tokens.Pipe {
			break
		}
		p.next()
	}
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	var err error
	if n.body, _, err = p.parseBody("endfilter"); err != nil {
		return nil, err
	}
	return n, p.endTag()
}

func (p *parser) parseWith(t *tokens.Token) (node, error) {
	n := &withNode{pos: t.Pos}
	for p.cur().Type != tokens.BlockEnd {
		if len(n.names) > 0 {
			if _, err := p.expect(tokens.Comma, "','"); err != nil {
				return nil, err
			}
		}
		name, err := p.expect(tokens.Name, "a variable name")
		if err != nil {
			return nil, err
		}
		if _, err := p.expect(tokens.Assign, "'='"); err != nil {
			return nil, err
		}
		v, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		n.names = append(n.names, name.Val)
		n.values = append(n.values, v)
	}
	p.next()
	var err error
	if n.body, _, err = p.parseBody("endwith"); err != nil {
		return nil, err
	}
	return n, p.endTag()
}

func (p *parser) parseRaw(t *tokens.Token) (node, error) {
	if err := p.expectBlockEnd(); err != nil {
		return nil, err
	}
	body, _, err := p.parseRawBody()
	if err != nil {
		return nil, p.fail(t, "unclosed raw block: expected 'endraw'")
	}
	return body, p.endTag()
}

// parseRawBody returns the text up to {% endraw %}, which gonja's lexer
// delivers as one data token.
func (p *parser) parseRawBody() (node, string, error) {
	var text string
	if d := p.cur(); d.Type == tokens.Data {
		text = d.Val
		if p.i > 0 {
			if prev := p.toks[p.i-1]; strings.HasPrefix(prev.Val, "-") {
				text = strings.TrimLeftFunc(text, unicode.IsSpace)
			}
		}
		if nx := p.peek(1); isBeginTag(nx) && strings.HasSuffix(nx.Val, "-") {
			text = strings.TrimRightFunc(text, unicode.IsSpace)
		}
		p.next()
	}
	if p.cur().Type != tokens.BlockBegin || !isKw(p.peek(1), "endraw") {
		return nil, "", fmt.Errorf("no endraw")
	}
	p.next()
	return &textNode{text: text}, "endraw", nil
}

// Expressions, following Jinja2's grammar (jinja2/parser.py).

// parseExpr parses an expression; withCond allows "a if b else c".
func (p *parser) parseExpr(withCond bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	if !withCond {
		return p.parseOr()
	}
	start := p.cur().Pos
	x, err := p.parseOr()
	if err != nil {
		return nil, err
	}
	for isKw(p.cur(), "if") {
		p.next()
		test, err := p.parseOr()
		if err != nil {
			return nil, err
		}
		var els expr
		if isKw(p.cur(), "else") {
			p.next()
			if els, err = p.parseExpr(true); err != nil {
				return nil, err
			}
		}
		x = &condExpr{pos: start, test: test, yes: x, els: els}
	}
	return x, nil
}

// parseTupleExpr parses an expression that may be an unparenthesised
// tuple, as the iterable of a for loop or the value of a set.
func (p *parser) parseTupleExpr(withCond bool) (expr, error) {
	x, err := p.parseExpr(withCond)
	if err != nil {
		return nil, err
	}
	if p.cur().Type != tokens.Comma {
		return x, nil
	}
	items := []expr{x}
	for p.cur().Type == tokens.Comma {
		p.next()
		if t := p.cur(); t.Type == tokens.BlockEnd || t.Type == tokens.VariableEnd || isKw(t, "if") || isKw(t, "recursive") {
			break
		}
		y, err := p.parseExpr(withCond)
		if err != nil {
			return nil, err
		}
		items = append(items, y)
	}
	return &tupleExpr{items: items}, nil
}

func (p *parser) parseOr() (expr, error) {
	x, err := p.parseAnd()
	if err != nil {
		return nil, err
	}
	for isKw(p.cur(), "or") {
		t := p.next()
		y, err := p.parseAnd()
		if err != nil {
			return nil, err
		}
		x = &binExpr{pos: t.Pos, op: "or", l: x, r: y}
	}
	return x, nil
}

func (p *parser) parseAnd() (expr, error) {
	x, err := p.parseNot()
	if err != nil {
		return nil, err
	}
	for isKw(p.cur(), "and") {
		t := p.next()
		y, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		x = &binExpr{pos: t.Pos, op: "and", l: x, r: y}
	}
	return x, nil
}

func (p *parser) parseNot() (expr, error) {
	if isKw(p.cur(), "not") {
		t := p.next()
		if err := p.enter(); err != nil {
			return nil, err
		}
		defer p.leave()
		x, err := p.parseNot()
		if err != nil {
			return nil, err
		}
		return &unaryExpr{pos: t.Pos, op: "not", x: x}, nil
	}
	return p.parseCompare()
}

var compareOps = map[tokens.Type]string{
	tokens.Equals: "==", tokens.Ne: "!=",
	tokens.LowerThan: "<", tokens.LowerThanOrEqual: "<=",
	tokens.GreaterThan: ">", tokens.GreaterThanOrEqual: ">=",
}

func (p *parser) parseCompare() (expr, error) {
	start := p.cur().Pos
	x, err := p.parseMath1()
	if err != nil {
		return nil, err
	}
	var ops []string
	var rest []expr
	for {
		t := p.cur()
		var op string
		if o, ok := compareOps[t.Type]; ok {
			op = o
			p.next()
		} else if isKw(t, "in") {
			op = "in"
			p.next()
		} else if isKw(t, "not") && isKw(p.peek(1), "in") {
			op = "notin"
			p.next()
			p.next()
		} else {
			break
		}
		y, err := p.parseMath1()
		if err != nil {
			return nil, err
		}
		ops = append(ops, op)
		rest = append(rest, y)
	}
	if ops == nil {
		return x, nil
	}
	return &compareExpr{pos: start, first: x, ops: ops, rest: rest}, nil
}

func (p *parser) parseMath1() (expr, error) {
	x, err := p.parseConcat()
	if err != nil {
		return nil, err
	}
	for {
		t := p.cur()
		if t.Type != tokens.Addition && t.Type != tokens.Subtraction {
			return x, nil
		}
		p.next()
		y, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		x = &binExpr{pos: t.Pos, op: t.Val, l: x, r: y}
	}
}

func (p *parser) parseConcat() (expr, error) {
	start := p.cur().Pos
	x, err := p.parseMath2()
	if err != nil {
		return nil, err
	}
	if p.cur().Type != tokens.Tilde {
		return x, nil
	}
	items := []expr{x}
	for p.cur().Type == tokens.Tilde {
		p.next()
		y, err := p.parseMath2()
		if err != nil {
			return nil, err
		}
		items = append(items, y)
	}
	return &concatExpr{pos: start, items: items}, nil
}

func (p *parser) parseMath2() (expr, error) {
	x, err := p.parsePow()
	if err != nil {
		return nil, err
	}
	for {
		t := p.cur()
		switch t.Type {
		case tokens.Multiply, tokens.Division, tokens.FloorDivision, tokens.Modulo:
		default:
			return x, nil
		}
		p.next()
		y, err := p.parsePow()
		if err != nil {
			return nil, err
		}
		x = &binExpr{pos: t.Pos, op: t.Val, l: x, r: y}
	}
}

func (p *parser) parsePow() (expr, error) {
	x, err := p.parseUnary(true)
	if err != nil {
		return nil, err
	}
	for p.cur().Type == tokens.Power {
		t := p.next()
		y, err := p.parseUnary(true)
		if err != nil {
			return nil, err
		}
		x = &binExpr{pos: t.Pos, op: "**", l: x, r: y}
	}
	return x, nil
}

func (p *parser) parseUnary(withFilter bool) (expr, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	defer p.leave()
	t := p.cur()
	var x expr
	var err error
	switch t.Type {
	case tokens.Subtraction, tokens.Addition:
		p.next()
		y, err := p.parseUnary(false)
		if err != nil {
			return nil, err
		}
		x = &unaryExpr{pos: t.Pos, op: t.Val, x: y}
	default:
		if x, err = p.parsePrimary(); err != nil {
			return nil, err
		}
	}
	if x, err = p.parsePostfix(x); err != nil {
		return nil, err
	}
	if withFilter {
		return p.parseFilterTests(x)
	}
	return x, nil
}

func (p *parser) parsePrimary() (expr, error) {
	t := p.cur()
	switch t.Type {
	case tokens.Name:
		p.next()
		switch t.Val {
		case "true", "True":
			return &constExpr{v: true}, nil
		case "false", "False":
			return &constExpr{v: false}, nil
		case "none", "None":
			return &constExpr{v: nil}, nil
		}
		return &nameExpr{pos: t.Pos, name: t.Val}, nil
	case tokens.String:
		var b strings.Builder
		for p.cur().Type == tokens.String {
			s, err := p.src.stringLiteral(p.cur().Pos, p.syn)
			if err != nil {
				return nil, p.fail(p.cur(), "%v", err)
			}
			b.WriteString(s)
			p.next()
		}
		return &constExpr{v: b.String()}, nil
	case tokens.Integer:
		p.next()
		v, err := parseIntLiteral(t.Val)
		if err != nil {
			return nil, p.fail(t, "bad integer %q", t.Val)
		}
		return &constExpr{v: v}, nil
	case tokens.Float:
		p.next()
		f, err := strconv.ParseFloat(strings.ReplaceAll(t.Val, "_", ""), 64)
		if err != nil {
			return nil, p.fail(t, "bad number %q", t.Val)
		}
		return &constExpr{v: f}, nil
	case tokens.LeftParenthesis:
		p.next()
		return p.parseParenthesised(t)
	case tokens.LeftBracket:
		p.next()
		var items []expr
		for p.cur().Type != tokens.RightBracket {
			if len(items) > 0 {
				if _, err := p.expect(tokens.Comma, "',' or ']'"); err != nil {
					return nil, err
				}
				if p.cur().Type == tokens.RightBracket {
					break
				}
			}
			x, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			items = append(items, x)
		}
		p.next()
		return &listExpr{items: items}, nil
	case tokens.LeftBrace:
		p.next()
		d := &dictExpr{}
		for p.cur().Type != tokens.RightBrace {
			if len(d.keys) > 0 {
				if _, err := p.expect(tokens.Comma, "',' or '}'"); err != nil {
					return nil, err
				}
				if p.cur().Type == tokens.RightBrace {
					break
				}
			}
			k, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			if _, err := p.expect(tokens.Colon, "':'"); err != nil {
				return nil, err
			}
			v, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, k)
			d.vals = append(d.vals, v)
		}
		p.next()
		return d, nil
	}
	return nil, p.unexpected(t)
}

func (p *parser) parseParenthesised(open *tokens.Token) (expr, error) {
	if p.cur().Type == tokens.RightParenthesis {
		p.next()
		return &tupleExpr{}, nil
	}
	x, err := p.parseExpr(true)
	if err != nil {
		return nil, err
	}
	if p.cur().Type == tokens.RightParenthesis {
		p.next()
		return x, nil
	}
	items := []expr{x}
	for p.cur().Type == tokens.Comma {
		p.next()
		if p.cur().Type == tokens.RightParenthesis {
			break
		}
		y, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		items = append(items, y)
	}
	if _, err := p.expect(tokens.RightParenthesis, "')'"); err != nil {
		return nil, err
	}
	return &tupleExpr{items: items}, nil
}

func parseIntLiteral(s string) (any, error) {
	s = strings.ReplaceAll(s, "_", "")
	base := 10
	if len(s) > 1 && s[0] == '0' {
		switch s[1] {
		case 'x', 'X':
			base, s = 16, s[2:]
		case 'o', 'O':
			base, s = 8, s[2:]
		case 'b', 'B':
			base, s = 2, s[2:]
		}
	}
	var b big.Int
	if _, ok := b.SetString(s, base); !ok {
		return nil, fmt.Errorf("bad integer")
	}
	return vars.NormInt(&b), nil
}

func (p *parser) parsePostfix(x expr) (expr, error) {
	for {
		t := p.cur()
		switch t.Type {
		case tokens.Dot:
			p.next()
			a := p.cur()
			switch a.Type {
			case tokens.Name:
				p.next()
				x = &getattrExpr{pos: t.Pos, obj: x, attr: a.Val}
			case tokens.Integer:
				p.next()
				v, err := parseIntLiteral(a.Val)
				if err != nil {
					return nil, p.fail(a, "bad index %q", a.Val)
				}
				x = &getitemExpr{pos: t.Pos, obj: x, key: &constExpr{v: v}}
			case tokens.Float:
				// gonja lexes "x.0.1" as x, ".", "0.1": two indexes.
				p.next()
				for _, part := range strings.Split(a.Val, ".") {
					if part == "" {
						continue
					}
					v, err := parseIntLiteral(part)
					if err != nil {
						return nil, p.fail(a, "bad index %q", a.Val)
					}
					x = &getitemExpr{pos: t.Pos, obj: x, key: &constExpr{v: v}}
				}
			default:
				return nil, p.fail(a, "expected an attribute name after '.', got %s", describe(a))
			}
		case tokens.LeftBracket:
			p.next()
			var keys []expr
			for p.cur().Type != tokens.RightBracket {
				if len(keys) > 0 {
					if _, err := p.expect(tokens.Comma, "',' or ']'"); err != nil {
						return nil, err
					}
					if p.cur().Type == tokens.RightBracket {
						break
					}
				}
				k, err := p.parseSubscribed()
				if err != nil {
					return nil, err
				}
				keys = append(keys, k)
			}
			if keys == nil {
				return nil, p.fail(p.cur(), "expected a subscript inside '[]'")
			}
			p.next()
			key := keys[0]
			if len(keys) > 1 {
				key = &tupleExpr{items: keys}
			}
			x = &getitemExpr{pos: t.Pos, obj: x, key: key}
		case tokens.LeftParenthesis:
			c, err := p.parseCallArgs(t)
			if err != nil {
				return nil, err
			}
			c.fn = x
			x = c
		default:
			return x, nil
		}
	}
}

func (p *parser) parseSubscribed() (expr, error) {
	var parts [3]expr
	idx := 0
	sawColon := false
	for {
		t := p.cur()
		if t.Type == tokens.Colon {
			sawColon = true
			p.next()
			idx++
			if idx > 2 {
				return nil, p.fail(t, "too many ':' in a slice")
			}
			continue
		}
		if t.Type == tokens.RightBracket || t.Type == tokens.Comma {
			break
		}
		if parts[idx] != nil {
			return nil, p.unexpected(t)
		}
		x, err := p.parseExpr(true)
		if err != nil {
			return nil, err
		}
		parts[idx] = x
	}
	if !sawColon {
		if parts[0] == nil {
			return nil, p.unexpected(p.cur())
		}
		return parts[0], nil
	}
	return &sliceExpr{start: parts[0], stop: parts[1], step: parts[2]}, nil
}

// parseCallArgs parses "(args)" with the parser on the "(".
func (p *parser) parseCallArgs(open *tokens.Token) (*callExpr, error) {
	p.next()
	c := &callExpr{pos: open.Pos}
	first := true
	for p.cur().Type != tokens.RightParenthesis {
		if !first {
			if _, err := p.expect(tokens.Comma, "',' or ')'"); err != nil {
				return nil, err
			}
			if p.cur().Type == tokens.RightParenthesis {
				break
			}
		}
		first = false
		switch t := p.cur(); {
		case t.Type == tokens.Power:
			p.next()
			x, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			c.starKw = x
		case t.Type == tokens.Multiply:
			p.next()
			x, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			c.star = x
		case t.Type == tokens.Name && p.peek(1).Type == tokens.Assign:
			p.next()
			p.next()
			x, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			for _, k := range c.kwNames {
				if k == t.Val {
					return nil, p.fail(t, "keyword argument '%s' repeated", t.Val)
				}
			}
			c.kwNames = append(c.kwNames, t.Val)
			c.kwVals = append(c.kwVals, x)
		default:
			if c.kwNames != nil {
				return nil, p.fail(t, "positional argument follows keyword argument")
			}
			x, err := p.parseExpr(true)
			if err != nil {
				return nil, err
			}
			c.args = append(c.args, x)
		}
	}
	p.next()
	return c, nil
}

// parseDottedName reads a filter or test name, which may be qualified
// (ansible.builtin.to_json).
func (p *parser) parseDottedName(what string) (*tokens.Token, string, error) {
	t, err := p.expect(tokens.Name, what)
	if err != nil {
		return nil, "", err
	}
	name := t.Val
	for p.cur().Type == tokens.Dot && p.peek(1).Type == tokens.Name {
		p.next()
		name += "." + p.next().Val
	}
	return t, name, nil
}

func (p *parser) parseFilterCall(arg expr) (*filterExpr, error) {
	t, name, err := p.parseDottedName("a filter name")
	if err != nil {
		return nil, err
	}
	f := &filterExpr{pos: t.Pos, arg: arg, name: name}
	if p.cur().Type == tokens.LeftParenthesis {
		c, err := p.parseCallArgs(p.cur())
		if err != nil {
			return nil, err
		}
		f.args, f.kwNames, f.kwVals, f.star, f.starKw = c.args, c.kwNames, c.kwVals, c.star, c.starKw
	}
	return f, nil
}

func (p *parser) parseFilterTests(x expr) (expr, error) {
	for {
		t := p.cur()
		switch {
		case t.Type == tokens.Pipe:
			p.next()
			f, err := p.parseFilterCall(x)
			if err != nil {
				return nil, err
			}
			x = f
		case isKw(t, "is"):
			p.next()
			tx, err := p.parseTest(t, x)
			if err != nil {
				return nil, err
			}
			x = tx
		case t.Type == tokens.LeftParenthesis:
			c, err := p.parseCallArgs(t)
			if err != nil {
				return nil, err
			}
			c.fn = x
			x = c
		default:
			return x, nil
		}
	}
}

func (p *parser) parseTest(is *tokens.Token, x expr) (expr, error) {
	negate := false
	if isKw(p.cur(), "not") {
		p.next()
		negate = true
	}
	// Operators are test names too: "x is == 3", "x is in y" (gonja lexes
	// "in" and the comparisons as operators).
	var name string
	t := p.cur()
	if op, ok := compareOps[t.Type]; ok {
		p.next()
		name = op
	} else if isKw(t, "in") {
		p.next()
		name = "in"
	} else {
		var err error
		if t, name, err = p.parseDottedName("a test name"); err != nil {
			return nil, err
		}
	}
	tx := &testExpr{pos: t.Pos, arg: x, name: name, negate: negate}
	nx := p.cur()
	switch {
	case nx.Type == tokens.LeftParenthesis:
		c, err := p.parseCallArgs(nx)
		if err != nil {
			return nil, err
		}
		if c.star != nil || c.starKw != nil {
			return nil, p.fail(nx, "*args and **kwargs are not supported in a test")
		}
		tx.args, tx.kwNames, tx.kwVals = c.args, c.kwNames, c.kwVals
	case nx.Type == tokens.Name || nx.Type == tokens.String || nx.Type == tokens.Integer ||
		nx.Type == tokens.Float || nx.Type == tokens.LeftBracket || nx.Type == tokens.LeftBrace:
		if nx.Type == tokens.Name && (nx.Val == "else" || nx.Val == "or" || nx.Val == "and" || nx.Val == "if") {
			break
		}
		if isKw(nx, "is") {
			return nil, p.fail(nx, "you cannot chain multiple tests with 'is'")
		}
		a, err := p.parsePrimary()
		if err != nil {
			return nil, err
		}
		if a, err = p.parsePostfix(a); err != nil {
			return nil, err
		}
		tx.args = []expr{a}
	}
	return tx, nil
}
