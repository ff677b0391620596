package jinja

import (
	"errors"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// to_yaml and to_nice_yaml print what PyYAML's yaml.dump prints with
// Ansible's dumper: keys sorted, allow_unicode, width 80. The emitter below
// follows PyYAML's (yaml/emitter.py) state by state, so that line folding
// and quoting come out the same.

func fToYAML(nice bool) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		indent := 2
		flow := -1 // None: flow style for collections of scalars
		if nice {
			indent, flow = 4, 0
			if len(args) > 0 {
				n, err := toGoInt(args[0], "indent")
				if err != nil {
					return nil, err
				}
				indent = n
				args = args[1:]
			}
		}
		if len(args) > 0 {
			return nil, typeErr("takes keyword arguments only")
		}
		width := 80
		sortKeys := true
		explicitStart := false
		for _, k := range sortedKeys(kw) {
			val := kw[k]
			switch k {
			case "indent":
				n, err := toGoInt(val, "indent")
				if err != nil {
					return nil, err
				}
				indent = n
			case "width":
				n, err := toGoInt(val, "width")
				if err != nil {
					return nil, err
				}
				width = n
			case "default_flow_style":
				if nice {
					return nil, typeErr("got multiple values for keyword argument 'default_flow_style'")
				}
				switch val {
				case nil:
					flow = -1
				default:
					t, err := truth(val)
					if err != nil {
						return nil, err
					}
					flow = 0
					if t {
						flow = 1
					}
				}
			case "sort_keys":
				t, err := truth(val)
				if err != nil {
					return nil, err
				}
				sortKeys = t
			case "explicit_start":
				t, err := truth(val)
				if err != nil {
					return nil, err
				}
				explicitStart = t
			case "allow_unicode", "encoding":
			default:
				return nil, typeErr("got an unexpected keyword argument '%s'", k)
			}
		}
		if indent < 2 || indent > 9 {
			indent = 2
		}
		if width <= indent*2 {
			width = 80
		}
		r := &yamlRepresenter{flow: flow, sortKeys: sortKeys}
		n, err := r.represent(v, 0)
		if err != nil {
			name := "to_yaml"
			if nice {
				name = "to_nice_yaml"
			}
			return nil, errors.New(name + " - " + err.Error())
		}
		e := &yamlEmitter{bestIndent: indent, bestWidth: width, indent: -1, whitespace: true, indention: true}
		e.document(n, explicitStart)
		return e.b.String(), nil
	}
}

func fFromYAML(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return v, nil
	}
	data, _, err := vars.Decode("from_yaml", []byte(s))
	if err != nil {
		return nil, err
	}
	return normalize(data), nil
}

// YAML nodes as PyYAML's representer builds them.
type (
	yNode any

	yScalar struct {
		value    string
		tag      string // short tag, as "!!str"
		implicit bool   // plain style would read back as the same type
	}

	ySeq struct {
		items []yNode
		flow  bool
	}

	yMap struct {
		keys, vals []yNode
		flow       bool
	}
)

type yamlRepresenter struct {
	flow     int // -1 None, 0 block, 1 flow
	sortKeys bool
}

func (r *yamlRepresenter) scalar(tag, value string) *yScalar {
	return &yScalar{value: value, tag: tag, implicit: yamlResolve(value) == tag}
}

func (r *yamlRepresenter) represent(v any, depth int) (yNode, error) {
	if depth > maxValueDepth {
		return nil, errDepth
	}
	switch x := v.(type) {
	case nil:
		return r.scalar("!!null", "null"), nil
	case bool:
		if x {
			return r.scalar("!!bool", "true"), nil
		}
		return r.scalar("!!bool", "false"), nil
	case int64:
		return r.scalar("!!int", strconv.FormatInt(x, 10)), nil
	case *big.Int:
		return r.scalar("!!int", x.String()), nil
	case float64:
		var s string
		switch {
		case math.IsNaN(x):
			s = ".nan"
		case math.IsInf(x, 1):
			s = ".inf"
		case math.IsInf(x, -1):
			s = "-.inf"
		default:
			s = strings.ToLower(vars.PyFloat(x))
			if !strings.Contains(s, ".") && strings.Contains(s, "e") {
				s = strings.Replace(s, "e", ".0e", 1)
			}
		}
		return r.scalar("!!float", s), nil
	case string:
		return r.scalar("!!str", x), nil
	case vars.Date:
		return r.scalar("!!timestamp", x.ISO()), nil
	case vars.DateTime:
		return r.scalar("!!timestamp", x.String()), nil
	case []any, tuple:
		items := seqItems(x)
		s := &ySeq{}
		best := true
		for _, it := range items {
			n, err := r.represent(it, depth+1)
			if err != nil {
				return nil, err
			}
			if _, ok := n.(*yScalar); !ok {
				best = false
			}
			s.items = append(s.items, n)
		}
		s.flow = r.flow == 1 || r.flow == -1 && best
		return s, nil
	case *vars.Map:
		keys := x.Keys()
		if r.sortKeys {
			if sorted, err := sortedDictKeys(x); err == nil {
				keys = sorted
			}
		}
		m := &yMap{}
		best := true
		for _, k := range keys {
			kn, err := r.represent(dictKey(x, k), depth+1)
			if err != nil {
				return nil, err
			}
			e, _ := x.Get(k)
			vn, err := r.represent(e, depth+1)
			if err != nil {
				return nil, err
			}
			_, ks := kn.(*yScalar)
			_, vs := vn.(*yScalar)
			if !ks || !vs {
				best = false
			}
			m.keys = append(m.keys, kn)
			m.vals = append(m.vals, vn)
		}
		m.flow = r.flow == 1 || r.flow == -1 && best
		return m, nil
	case *namespace:
		return r.represent(x.attrs, depth)
	case *undefined:
		return nil, x.err()
	case vars.Vault:
		return nil, errors.New("a vaulted (!vault) value cannot be serialised: fleet does not decrypt vaulted variables")
	}
	return nil, typeErr("cannot represent an object: %s", typeName(v))
}

// The implicit resolvers of PyYAML (YAML 1.1).
var (
	yamlBoolRe  = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	yamlFloatRe = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	yamlIntRe   = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	yamlNullRe  = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	yamlTimeRe  = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
)

// yamlResolve returns the tag PyYAML gives a plain scalar.
func yamlResolve(s string) string {
	first := byte(0)
	if s != "" {
		first = s[0]
	}
	switch {
	case strings.IndexByte("yYnNtTfFoO", first) >= 0 && first != 0 && yamlBoolRe.MatchString(s):
		return "!!bool"
	case strings.IndexByte("-+0123456789.", first) >= 0 && first != 0 && yamlFloatRe.MatchString(s):
		return "!!float"
	case strings.IndexByte("-+0123456789", first) >= 0 && first != 0 && yamlIntRe.MatchString(s):
		return "!!int"
	case s == "<<":
		return "!!merge"
	case (s == "" || strings.IndexByte("~nN", first) >= 0) && yamlNullRe.MatchString(s):
		return "!!null"
	case first >= '0' && first <= '9' && yamlTimeRe.MatchString(s):
		return "!!timestamp"
	case s == "=":
		return "!!value"
	}
	return "!!str"
}

type yamlEmitter struct {
	b          strings.Builder
	bestIndent int
	bestWidth  int
	indent     int // -1 for None
	indents    []int
	flowLevel  int
	column     int
	whitespace bool
	indention  bool

	rootContext, mappingContext, simpleKeyContext bool
}

// document writes one document. Ansible dumps with libyaml (CSafeDumper),
// which unlike PyYAML's own emitter ends a plain root scalar without "...".
func (e *yamlEmitter) document(root yNode, explicit bool) {
	if explicit {
		e.writeIndent()
		e.writeIndicator("---", true, false, false)
	}
	e.node(root, true, false, false)
	e.writeIndent()
}

func (e *yamlEmitter) increaseIndent(flow, indentless bool) {
	e.indents = append(e.indents, e.indent)
	switch {
	case e.indent < 0:
		if flow {
			e.indent = e.bestIndent
		} else {
			e.indent = 0
		}
	case !indentless:
		e.indent += e.bestIndent
	}
}

func (e *yamlEmitter) popIndent() {
	e.indent = e.indents[len(e.indents)-1]
	e.indents = e.indents[:len(e.indents)-1]
}

func (e *yamlEmitter) node(n yNode, root, mapping, simpleKey bool) {
	e.rootContext, e.mappingContext, e.simpleKeyContext = root, mapping, simpleKey
	switch x := n.(type) {
	case *yScalar:
		e.increaseIndent(true, false)
		e.scalar(x)
		e.popIndent()
	case *ySeq:
		if e.flowLevel > 0 || x.flow || len(x.items) == 0 {
			e.flowSequence(x)
		} else {
			e.blockSequence(x)
		}
	case *yMap:
		if e.flowLevel > 0 || x.flow || len(x.keys) == 0 {
			e.flowMapping(x)
		} else {
			e.blockMapping(x)
		}
	}
}

func (e *yamlEmitter) flowSequence(s *ySeq) {
	e.writeIndicator("[", true, true, false)
	e.flowLevel++
	e.increaseIndent(true, false)
	for i, it := range s.items {
		if i > 0 {
			e.writeIndicator(",", false, false, false)
		}
		if e.column > e.bestWidth {
			e.writeIndent()
		}
		e.node(it, false, false, false)
	}
	e.popIndent()
	e.flowLevel--
	e.writeIndicator("]", false, false, false)
}

func (e *yamlEmitter) flowMapping(m *yMap) {
	e.writeIndicator("{", true, true, false)
	e.flowLevel++
	e.increaseIndent(true, false)
	for i := range m.keys {
		if i > 0 {
			e.writeIndicator(",", false, false, false)
		}
		if e.column > e.bestWidth {
			e.writeIndent()
		}
		if e.simpleKey(m.keys[i]) {
			e.node(m.keys[i], false, true, true)
			e.writeIndicator(":", false, false, false)
		} else {
			e.writeIndicator("?", true, false, false)
			e.node(m.keys[i], false, true, false)
			if e.column > e.bestWidth {
				e.writeIndent()
			}
			e.writeIndicator(":", true, false, false)
		}
		e.node(m.vals[i], false, true, false)
	}
	e.popIndent()
	e.flowLevel--
	e.writeIndicator("}", false, false, false)
}

func (e *yamlEmitter) blockSequence(s *ySeq) {
	e.increaseIndent(false, e.mappingContext && !e.indention)
	for _, it := range s.items {
		e.writeIndent()
		e.writeIndicator("-", true, false, true)
		e.node(it, false, false, false)
	}
	e.popIndent()
}

func (e *yamlEmitter) blockMapping(m *yMap) {
	e.increaseIndent(false, false)
	for i := range m.keys {
		e.writeIndent()
		if e.simpleKey(m.keys[i]) {
			e.node(m.keys[i], false, true, true)
			e.writeIndicator(":", false, false, false)
		} else {
			e.writeIndicator("?", true, false, true)
			e.node(m.keys[i], false, true, false)
			e.writeIndent()
			e.writeIndicator(":", true, false, true)
		}
		e.node(m.vals[i], false, true, false)
	}
	e.popIndent()
}

func (e *yamlEmitter) simpleKey(n yNode) bool {
	switch x := n.(type) {
	case *yScalar:
		a := analyzeScalar(x.value)
		return utf8.RuneCountInString(x.tag)+utf8.RuneCountInString(x.value) < 128 && !a.empty && !a.multiline
	case *ySeq:
		return len(x.items) == 0
	case *yMap:
		return len(x.keys) == 0
	}
	return false
}

type scalarAnalysis struct {
	empty, multiline                     bool
	allowFlowPlain, allowBlockPlain      bool
	allowSingleQuoted, allowDoubleQuoted bool
}

func isYAMLBreak(r rune) bool { return r == '\n' || r == 0x85 || r == 0x2028 || r == 0x2029 }

func isYAMLSpaceOrEnd(r rune) bool {
	return r == 0 || r == ' ' || r == '\t' || r == '\r' || isYAMLBreak(r)
}

// analyzeScalar decides which styles can write s (PyYAML analyze_scalar).
func analyzeScalar(s string) scalarAnalysis {
	if s == "" {
		return scalarAnalysis{empty: true, allowBlockPlain: true, allowSingleQuoted: true, allowDoubleQuoted: true}
	}
	rs := []rune(s)
	var blockInd, flowInd, lineBreaks, special bool
	var leadingSpace, leadingBreak, trailingSpace, trailingBreak, breakSpace, spaceBreak bool
	if strings.HasPrefix(s, "---") || strings.HasPrefix(s, "...") {
		blockInd, flowInd = true, true
	}
	precededByWS := true
	followedByWS := len(rs) == 1 || isYAMLSpaceOrEnd(rs[1])
	prevSpace, prevBreak := false, false
	for i, ch := range rs {
		if i == 0 {
			if strings.ContainsRune("#,[]{}&*!|>'\"%@`", ch) {
				flowInd, blockInd = true, true
			}
			if ch == '?' || ch == ':' {
				flowInd = true
				if followedByWS {
					blockInd = true
				}
			}
			if ch == '-' && followedByWS {
				flowInd, blockInd = true, true
			}
		} else {
			if strings.ContainsRune(",?[]{}", ch) {
				flowInd = true
			}
			if ch == ':' {
				flowInd = true
				if followedByWS {
					blockInd = true
				}
			}
			if ch == '#' && precededByWS {
				flowInd, blockInd = true, true
			}
		}
		if isYAMLBreak(ch) {
			lineBreaks = true
		}
		if !(ch == '\n' || ch >= 0x20 && ch <= 0x7e) {
			if !((ch == 0x85 || ch >= 0xa0 && ch <= 0xd7ff || ch >= 0xe000 && ch <= 0xfffd || ch >= 0x10000 && ch < 0x10ffff) && ch != 0xfeff) {
				special = true
			}
		}
		switch {
		case ch == ' ':
			if i == 0 {
				leadingSpace = true
			}
			if i == len(rs)-1 {
				trailingSpace = true
			}
			if prevBreak {
				breakSpace = true
			}
			prevSpace, prevBreak = true, false
		case isYAMLBreak(ch):
			if i == 0 {
				leadingBreak = true
			}
			if i == len(rs)-1 {
				trailingBreak = true
			}
			if prevSpace {
				spaceBreak = true
			}
			prevSpace, prevBreak = false, true
		default:
			prevSpace, prevBreak = false, false
		}
		precededByWS = isYAMLSpaceOrEnd(ch)
		followedByWS = i+2 >= len(rs) || isYAMLSpaceOrEnd(rs[i+2])
	}
	a := scalarAnalysis{multiline: lineBreaks, allowFlowPlain: true, allowBlockPlain: true, allowSingleQuoted: true, allowDoubleQuoted: true}
	if leadingSpace || leadingBreak || trailingSpace || trailingBreak {
		a.allowFlowPlain, a.allowBlockPlain = false, false
	}
	if breakSpace {
		a.allowFlowPlain, a.allowBlockPlain, a.allowSingleQuoted = false, false, false
	}
	if spaceBreak || special {
		a.allowFlowPlain, a.allowBlockPlain, a.allowSingleQuoted = false, false, false
	}
	if lineBreaks {
		a.allowFlowPlain, a.allowBlockPlain = false, false
	}
	if flowInd {
		a.allowFlowPlain = false
	}
	if blockInd {
		a.allowBlockPlain = false
	}
	return a
}

func (e *yamlEmitter) scalar(s *yScalar) {
	a := analyzeScalar(s.value)
	style := byte('"')
	switch {
	case s.implicit && !(e.simpleKeyContext && (a.empty || a.multiline)) &&
		(e.flowLevel > 0 && a.allowFlowPlain || e.flowLevel == 0 && a.allowBlockPlain):
		style = 0
	case a.allowSingleQuoted && !(e.simpleKeyContext && a.multiline):
		style = '\''
	}
	split := !e.simpleKeyContext
	switch style {
	case '"':
		e.writeDoubleQuoted(s.value, split)
	case '\'':
		e.writeSingleQuoted(s.value, split)
	default:
		e.writePlain(s.value, split)
	}
}

func (e *yamlEmitter) write(s string) {
	e.column += utf8.RuneCountInString(s)
	e.b.WriteString(s)
}

func (e *yamlEmitter) writeIndicator(ind string, needWhitespace, whitespace, indention bool) {
	if !e.whitespace && needWhitespace {
		ind = " " + ind
	}
	e.whitespace = whitespace
	e.indention = e.indention && indention
	e.write(ind)
}

func (e *yamlEmitter) writeIndent() {
	indent := max(e.indent, 0)
	if !e.indention || e.column > indent || (e.column == indent && !e.whitespace) {
		e.writeLineBreak("\n")
	}
	if e.column < indent {
		e.whitespace = true
		e.b.WriteString(strings.Repeat(" ", indent-e.column))
		e.column = indent
	}
}

func (e *yamlEmitter) writeLineBreak(br string) {
	e.whitespace, e.indention = true, true
	e.column = 0
	e.b.WriteString(br)
}

func (e *yamlEmitter) writeBreaks(rs []rune) {
	for _, br := range rs {
		if br == '\n' {
			e.writeLineBreak("\n")
		} else {
			e.writeLineBreak(string(br))
		}
	}
}

func (e *yamlEmitter) writeSingleQuoted(text string, split bool) {
	e.writeIndicator("'", true, false, false)
	rs := []rune(text)
	spaces, breaks := false, false
	start := 0
	for end := 0; end <= len(rs); end++ {
		var ch rune = -1
		if end < len(rs) {
			ch = rs[end]
		}
		switch {
		case spaces:
			if ch != ' ' {
				if start+1 == end && e.column > e.bestWidth && split && start != 0 && end != len(rs) {
					e.writeIndent()
				} else {
					e.write(string(rs[start:end]))
				}
				start = end
			}
		case breaks:
			if ch == -1 || !isYAMLBreak(ch) {
				if rs[start] == '\n' {
					e.writeLineBreak("\n")
				}
				e.writeBreaks(rs[start:end])
				e.writeIndent()
				start = end
			}
		default:
			if ch == -1 || ch == ' ' || isYAMLBreak(ch) || ch == '\'' {
				if start < end {
					e.write(string(rs[start:end]))
					start = end
				}
			}
		}
		if ch == '\'' {
			e.write("''")
			start = end + 1
		}
		if ch != -1 {
			spaces = ch == ' '
			breaks = isYAMLBreak(ch)
		}
	}
	e.writeIndicator("'", false, false, false)
}

var yamlEscapes = map[rune]string{
	0: "0", 0x07: "a", 0x08: "b", 0x09: "t", 0x0a: "n", 0x0b: "v", 0x0c: "f", 0x0d: "r", 0x1b: "e",
	'"': "\"", '\\': "\\", 0x85: "N", 0xa0: "_", 0x2028: "L", 0x2029: "P",
}

func (e *yamlEmitter) writeDoubleQuoted(text string, split bool) {
	e.writeIndicator("\"", true, false, false)
	rs := []rune(text)
	start := 0
	for end := 0; end <= len(rs); end++ {
		var ch rune = -1
		if end < len(rs) {
			ch = rs[end]
		}
		if ch == -1 || ch == '"' || ch == '\\' || ch == 0x85 || ch == 0x2028 || ch == 0x2029 || ch == 0xfeff ||
			!(ch >= 0x20 && ch <= 0x7e || ch >= 0xa0 && ch <= 0xd7ff || ch >= 0xe000 && ch <= 0xfffd) {
			if start < end {
				e.write(string(rs[start:end]))
				start = end
			}
			if ch != -1 {
				var data string
				if esc, ok := yamlEscapes[ch]; ok {
					data = `\` + esc
				} else if ch <= 0xff {
					data = `\x` + strings.ToUpper(hex2(int(ch), 2))
				} else if ch <= 0xffff {
					data = `\u` + strings.ToUpper(hex2(int(ch), 4))
				} else {
					data = `\U` + strings.ToUpper(hex2(int(ch), 8))
				}
				e.write(data)
				start = end + 1
			}
		}
		if end > 0 && end < len(rs)-1 && (ch == ' ' || start >= end) && e.column+(end-start) > e.bestWidth && split {
			data := string(rs[start:end]) + `\`
			if start < end {
				start = end
			}
			e.write(data)
			e.writeIndent()
			e.whitespace, e.indention = false, false
			if rs[start] == ' ' {
				e.write(`\`)
			}
		}
	}
	e.writeIndicator("\"", false, false, false)
}

func hex2(n, width int) string {
	s := strconv.FormatInt(int64(n), 16)
	for len(s) < width {
		s = "0" + s
	}
	return s
}

func (e *yamlEmitter) writePlain(text string, split bool) {
	if text == "" {
		return
	}
	if !e.whitespace {
		e.write(" ")
	}
	e.whitespace, e.indention = false, false
	rs := []rune(text)
	spaces, breaks := false, false
	start := 0
	for end := 0; end <= len(rs); end++ {
		var ch rune = -1
		if end < len(rs) {
			ch = rs[end]
		}
		switch {
		case spaces:
			if ch != ' ' {
				if start+1 == end && e.column > e.bestWidth && split {
					e.writeIndent()
					e.whitespace, e.indention = false, false
				} else {
					e.write(string(rs[start:end]))
				}
				start = end
			}
		case breaks:
			if ch == -1 || !isYAMLBreak(ch) {
				if rs[start] == '\n' {
					e.writeLineBreak("\n")
				}
				e.writeBreaks(rs[start:end])
				e.writeIndent()
				e.whitespace, e.indention = false, false
				start = end
			}
		default:
			if ch == -1 || ch == ' ' || isYAMLBreak(ch) {
				e.write(string(rs[start:end]))
				start = end
			}
		}
		if ch != -1 {
			spaces = ch == ' '
			breaks = isYAMLBreak(ch)
		}
	}
}
