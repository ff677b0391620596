package jinja

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

// Python's re module and Go's regexp (RE2) agree on most syntax playbooks
// use; pyRegexp translates the rest and says clearly what RE2 cannot do
// (lookarounds, backreferences).

var reCache struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}

func pyRegexp(pattern string, ignoreCase, multiline bool) (*regexp.Regexp, error) {
	key := fmt.Sprintf("%t%t%s", ignoreCase, multiline, pattern)
	reCache.Lock()
	re, ok := reCache.m[key]
	reCache.Unlock()
	if ok {
		return re, nil
	}
	goPat, err := translateRegexp(pattern)
	if err != nil {
		return nil, err
	}
	flags := ""
	if ignoreCase {
		flags += "i"
	}
	if multiline {
		flags += "m"
	}
	if flags != "" {
		goPat = "(?" + flags + ")" + goPat
	}
	re, err = regexp.Compile(goPat)
	if err != nil {
		return nil, fmt.Errorf("bad regular expression %q: %v", pattern, err)
	}
	reCache.Lock()
	if reCache.m == nil || len(reCache.m) > 1024 {
		reCache.m = map[string]*regexp.Regexp{}
	}
	reCache.m[key] = re
	reCache.Unlock()
	return re, nil
}

func translateRegexp(p string) (string, error) {
	unsupported := func(what string) error {
		return fmt.Errorf("regular expression %q uses %s, which Go's RE2 engine (used by fleet) does not support", p, what)
	}
	var b strings.Builder
	inClass := false
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			n := p[i+1]
			switch {
			case n == 'Z' && !inClass:
				b.WriteString(`\z`)
			case n >= '1' && n <= '9' && !inClass:
				return "", unsupported("a backreference (\\" + string(n) + ")")
			default:
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
			// A ']' right after '[' or '[^' is literal.
			if i+1 < len(p) && p[i+1] == '^' {
				b.WriteByte('^')
				i++
			}
			if i+1 < len(p) && p[i+1] == ']' {
				b.WriteString(`\]`)
				i++
			}
		case c == '(' && strings.HasPrefix(p[i:], "(?"):
			rest := p[i+2:]
			switch {
			case strings.HasPrefix(rest, "="), strings.HasPrefix(rest, "!"):
				return "", unsupported("a lookahead assertion")
			case strings.HasPrefix(rest, "<="), strings.HasPrefix(rest, "<!"):
				return "", unsupported("a lookbehind assertion")
			case strings.HasPrefix(rest, "P="):
				return "", unsupported("a named backreference")
			case strings.HasPrefix(rest, ">"):
				return "", unsupported("an atomic group")
			case strings.HasPrefix(rest, "#"):
				end := strings.IndexByte(rest, ')')
				if end < 0 {
					return "", fmt.Errorf("missing ), unterminated comment in regular expression %q", p)
				}
				i += 2 + end
				continue
			}
			b.WriteByte(c)
		case c == '{' && strings.HasPrefix(p[i:], "{,"):
			b.WriteString("{0,")
			i++
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// pyReplacement turns a Python re.sub replacement into a Go Expand template.
func pyReplacement(repl string, re *regexp.Regexp) (string, error) {
	var b strings.Builder
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		if c == '$' {
			b.WriteString("$$")
			continue
		}
		if c != '\\' || i+1 >= len(repl) {
			b.WriteByte(c)
			continue
		}
		i++
		n := repl[i]
		switch {
		case n >= '0' && n <= '9':
			j := i + 1
			if j < len(repl) && repl[j] >= '0' && repl[j] <= '9' {
				j++
			}
			num, _ := strconv.Atoi(repl[i:j])
			if num == 0 && j == i+1 {
				b.WriteByte(0)
				continue
			}
			if num > re.NumSubexp() {
				return "", fmt.Errorf("invalid group reference %d at position %d", num, i-1)
			}
			fmt.Fprintf(&b, "${%d}", num)
			i = j - 1
		case n == 'g':
			end := strings.IndexByte(repl[i:], '>')
			if i+1 >= len(repl) || repl[i+1] != '<' || end < 0 {
				return "", fmt.Errorf("missing group name in replacement %q", repl)
			}
			name := repl[i+2 : i+end]
			if num, err := strconv.Atoi(name); err == nil {
				if num > re.NumSubexp() {
					return "", fmt.Errorf("invalid group reference %d", num)
				}
				fmt.Fprintf(&b, "${%d}", num)
			} else {
				if re.SubexpIndex(name) < 0 {
					return "", fmt.Errorf("unknown group name '%s'", name)
				}
				fmt.Fprintf(&b, "${%s}", name)
			}
			i += end
		case n == 'n':
			b.WriteByte('\n')
		case n == 't':
			b.WriteByte('\t')
		case n == 'r':
			b.WriteByte('\r')
		case n == 'f':
			b.WriteByte('\f')
		case n == 'v':
			b.WriteByte('\v')
		case n == 'a':
			b.WriteByte('\a')
		case n == 'b':
			b.WriteByte('\b')
		case n == '\\':
			b.WriteByte('\\')
		case n >= 'a' && n <= 'z' || n >= 'A' && n <= 'Z':
			return "", fmt.Errorf("bad escape \\%c in replacement", n)
		default:
			b.WriteByte('\\')
			b.WriteByte(n)
		}
	}
	return b.String(), nil
}

func regexFlags(args []any, kw map[string]any, names ...string) ([]any, bool, bool, error) {
	a, err := bind(args, kw, append(names, "ignorecase", "multiline")...)
	if err != nil {
		return nil, false, false, err
	}
	n := len(names)
	ic, err := boolArg(a[n], false)
	if err != nil {
		return nil, false, false, err
	}
	ml, err := boolArg(a[n+1], false)
	if err != nil {
		return nil, false, false, err
	}
	return a[:n], ic, ml, nil
}

func fRegexReplace(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, ic, ml, err := regexFlags(args, kw, "pattern", "replacement")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	pat, err := strArg(or(a[0], ""), "pattern")
	if err != nil {
		return nil, err
	}
	repl, err := strArg(or(a[1], ""), "replacement")
	if err != nil {
		return nil, err
	}
	re, err := pyRegexp(pat, ic, ml)
	if err != nil {
		return nil, err
	}
	tmpl, err := pyReplacement(repl, re)
	if err != nil {
		return nil, err
	}
	var out []byte
	last := 0
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		out = append(out, s[last:m[0]]...)
		out = re.ExpandString(out, tmpl, s, m)
		last = m[1]
		if len(out) > maxStrLen {
			return nil, typeErr("result longer than %d bytes", maxStrLen)
		}
	}
	out = append(out, s[last:]...)
	return string(out), nil
}

func fRegexSearch(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	if len(args) == 0 {
		return nil, typeErr("regex_search() needs a regular expression")
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	pat, err := strArg(args[0], "regex")
	if err != nil {
		return nil, err
	}
	var ic, ml bool
	for k, val := range kw {
		t, err := truth(val)
		if err != nil {
			return nil, err
		}
		switch k {
		case "ignorecase":
			ic = t
		case "multiline":
			ml = t
		}
	}
	re, err := pyRegexp(pat, ic, ml)
	if err != nil {
		return nil, err
	}
	var groups []string
	for _, g := range args[1:] {
		gs, ok := g.(string)
		switch {
		case ok && strings.HasPrefix(gs, `\g<`) && strings.HasSuffix(gs, ">"):
			groups = append(groups, gs[3:len(gs)-1])
		case ok && strings.HasPrefix(gs, `\`):
			n := 0
			for n+1 < len(gs) && gs[n+1] >= '0' && gs[n+1] <= '9' {
				n++
			}
			if n == 0 {
				return nil, fmt.Errorf("Unknown argument")
			}
			groups = append(groups, gs[1:1+n])
		default:
			return nil, fmt.Errorf("Unknown argument")
		}
	}
	m := re.FindStringSubmatchIndex(s)
	if m == nil {
		return nil, nil
	}
	if len(groups) == 0 {
		return s[m[0]:m[1]], nil
	}
	out := []any{}
	for _, g := range groups {
		idx, err := strconv.Atoi(g)
		if err != nil {
			idx = re.SubexpIndex(g)
			if idx < 0 {
				return nil, fmt.Errorf("no such group '%s'", g)
			}
		}
		if idx > re.NumSubexp() {
			return nil, fmt.Errorf("no such group %d", idx)
		}
		if m[2*idx] < 0 {
			out = append(out, nil)
		} else {
			out = append(out, s[m[2*idx]:m[2*idx+1]])
		}
	}
	return out, nil
}

func fRegexFindall(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "regex", "multiline", "ignorecase")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	pat, err := strArg(or(a[0], nil), "regex")
	if err != nil {
		return nil, err
	}
	ml, err := boolArg(a[1], false)
	if err != nil {
		return nil, err
	}
	ic, err := boolArg(a[2], false)
	if err != nil {
		return nil, err
	}
	re, err := pyRegexp(pat, ic, ml)
	if err != nil {
		return nil, err
	}
	out := []any{}
	group := func(m []int, i int) string {
		if m[2*i] < 0 {
			return ""
		}
		return s[m[2*i]:m[2*i+1]]
	}
	for _, m := range re.FindAllStringSubmatchIndex(s, -1) {
		switch re.NumSubexp() {
		case 0:
			out = append(out, group(m, 0))
		case 1:
			out = append(out, group(m, 1))
		default:
			t := make(tuple, re.NumSubexp())
			for i := range t {
				t[i] = group(m, i+1)
			}
			out = append(out, t)
		}
	}
	return out, nil
}

func fRegexEscape(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "re_type")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	switch or(a[0], "python") {
	case "python":
		var b strings.Builder
		for _, r := range s {
			if r < 128 && strings.ContainsRune("()[]{}?*+-|^$\\.&~# \t\n\r\v\f", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return b.String(), nil
	case "posix_basic":
		var b strings.Builder
		for _, r := range s {
			if strings.ContainsRune("].[^$*\\", r) {
				b.WriteByte('\\')
			}
			b.WriteRune(r)
		}
		return b.String(), nil
	case "posix_extended":
		return nil, fmt.Errorf("Regex type (posix_extended) not yet implemented")
	}
	return nil, fmt.Errorf("Invalid regex type (%v)", a[0])
}

// regexTest is Ansible's match/search/regex tests.
func regexTest(matchType string) testFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
		names := []string{"pattern", "ignorecase", "multiline"}
		if matchType == "" {
			names = append(names, "match_type")
		}
		a, err := bind(args, kw, names...)
		if err != nil {
			return false, err
		}
		s, err := text(v)
		if err != nil {
			return false, err
		}
		pat, err := strArg(or(a[0], ""), "pattern")
		if err != nil {
			return false, err
		}
		ic, err := boolArg(a[1], false)
		if err != nil {
			return false, err
		}
		ml, err := boolArg(a[2], false)
		if err != nil {
			return false, err
		}
		mt := matchType
		if mt == "" {
			mt, _ = or(a[3], "search").(string)
		}
		switch mt {
		case "match":
			pat = `\A(?:` + pat + `)`
		case "fullmatch":
			pat = `\A(?:` + pat + `)\z`
		}
		re, err := pyRegexp(pat, ic, ml)
		if err != nil {
			return false, err
		}
		return re.MatchString(s), nil
	}
}
