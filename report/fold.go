package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// maxDigits is the longest number Fold folds; longer digit runs (which no
// real host name has) do not fit a uint64 and are left as they are.
const maxDigits = 18

// maxExpand caps the names Expand produces, so that a typo such as
// "web[1-999999999]" fails instead of exhausting memory.
const maxExpand = 1 << 20

// Fold returns hosts as a ClusterShell/pdsh-style nodeset: names that
// differ only in their last number share one bracketed range list
// ("web01 web02 web03 web07" → "web[01-03,07]"), and each such group is
// separated by a space, in natural order of its first host. Zero padding is
// kept and a padded number never merges with an unpadded one of another
// width ("web1" and "web01" stay apart). Duplicates are dropped. Names
// without digits, and names holding "[", "]", "," or white space, are
// written as they are; Expand cannot read those back.
func Fold(hosts []string) string {
	var groups []foldGroup
	byKey := map[foldKey]int{}
	seen := map[string]bool{}
	for _, h := range hosts {
		if h == "" || seen[h] {
			continue
		}
		seen[h] = true
		prefix, digits, suffix, ok := splitLastNumber(h)
		key := foldKey{prefix: h, literal: true}
		if ok {
			key = foldKey{prefix: prefix, suffix: suffix}
		}
		i, found := byKey[key]
		if !found {
			i = len(groups)
			byKey[key] = i
			groups = append(groups, foldGroup{key: key})
		}
		if ok {
			groups[i].numbers = append(groups[i].numbers, digits)
		}
	}

	type part struct{ first, text string }
	var parts []part
	for _, g := range groups {
		if g.key.literal {
			parts = append(parts, part{g.key.prefix, g.key.prefix})
			continue
		}
		for _, c := range g.classes() {
			parts = append(parts, part{c.first(g.key), c.format(g.key)})
		}
	}
	slices.SortFunc(parts, func(a, b part) int { return NaturalCompare(a.first, b.first) })
	texts := make([]string, len(parts))
	for i, p := range parts {
		texts[i] = p.text
	}
	return strings.Join(texts, " ")
}

// FoldCount returns Fold(hosts) followed by the number of distinct hosts in
// parentheses: "web[01-03,07] (4)".
func FoldCount(hosts []string) string {
	n := 0
	seen := map[string]bool{}
	for _, h := range hosts {
		if h != "" && !seen[h] {
			seen[h] = true
			n++
		}
	}
	return fmt.Sprintf("%s (%d)", Fold(hosts), n)
}

// foldKey identifies names that may share a bracket: the text around their
// last number. A literal key holds a whole name that does not fold.
type foldKey struct {
	prefix, suffix string
	literal        bool
}

type foldGroup struct {
	key     foldKey
	numbers []string // the last numbers of the names, as written
}

// padClass is the set of numbers of a group printed at one zero-padded
// width; width 1 means not padded.
type padClass struct {
	width  int
	values []uint64
}

// classes splits a group's numbers by padding. A number with a leading zero
// fixes its width; one without (such as "10") is printed the same at any
// width up to its length, so it joins the widest padded class it fits, or
// the unpadded one.
func (g foldGroup) classes() []padClass {
	var widths []int
	for _, d := range g.numbers {
		if isPadded(d) && !slices.Contains(widths, len(d)) {
			widths = append(widths, len(d))
		}
	}
	byWidth := map[int]*padClass{}
	var order []int
	for _, d := range g.numbers {
		w := 1
		if isPadded(d) {
			w = len(d)
		} else {
			for _, pw := range widths {
				if pw <= len(d) && pw > w {
					w = pw
				}
			}
		}
		v, _ := strconv.ParseUint(d, 10, 64) // splitLastNumber checked the length
		c := byWidth[w]
		if c == nil {
			c = &padClass{width: w}
			byWidth[w] = c
			order = append(order, w)
		}
		c.values = append(c.values, v)
	}
	out := make([]padClass, 0, len(order))
	for _, w := range order {
		c := byWidth[w]
		slices.Sort(c.values)
		out = append(out, *c)
	}
	return out
}

func (c padClass) number(v uint64) string { return fmt.Sprintf("%0*d", c.width, v) }

func (c padClass) first(k foldKey) string { return k.prefix + c.number(c.values[0]) + k.suffix }

// format writes the class as "prefix[1-3,7]suffix", or as the plain name
// when it holds one number.
func (c padClass) format(k foldKey) string {
	if len(c.values) == 1 {
		return c.first(k)
	}
	var b strings.Builder
	b.WriteString(k.prefix)
	b.WriteByte('[')
	for i := 0; i < len(c.values); {
		j := i
		for j+1 < len(c.values) && c.values[j+1] == c.values[j]+1 {
			j++
		}
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(c.number(c.values[i]))
		if j > i {
			b.WriteByte('-')
			b.WriteString(c.number(c.values[j]))
		}
		i = j + 1
	}
	b.WriteByte(']')
	b.WriteString(k.suffix)
	return b.String()
}

// splitLastNumber splits name around its last run of digits. ok is false
// when name has no digits, a number too long to fold, or a character that
// would make the nodeset ambiguous.
func splitLastNumber(name string) (prefix, digits, suffix string, ok bool) {
	if strings.ContainsAny(name, "[], \t\n\r\v\f") {
		return "", "", "", false
	}
	end := len(name)
	for end > 0 && !isDigit(name[end-1]) {
		end--
	}
	if end == 0 {
		return "", "", "", false
	}
	start := end
	for start > 0 && isDigit(name[start-1]) {
		start--
	}
	if end-start > maxDigits {
		return "", "", "", false
	}
	return name[:start], name[start:end], name[end:], true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// isPadded reports whether a number is written with leading zeros.
func isPadded(d string) bool { return len(d) > 1 && d[0] == '0' }

// Expand returns the host names of a nodeset as Fold writes it: groups
// separated by white space or commas, each a name with any number of
// bracketed lists of numbers and ranges ("rack[1-2]-node[01-03]"). A range
// whose first number has leading zeros is padded to that width. The names
// come back in natural order without duplicates.
func Expand(nodeset string) ([]string, error) {
	var names []string
	for _, tok := range splitTopLevel(nodeset) {
		got, err := expandToken(tok, maxExpand-len(names))
		if err != nil {
			return nil, fmt.Errorf("report: nodeset %q: %w", nodeset, err)
		}
		names = append(names, got...)
	}
	slices.SortFunc(names, NaturalCompare)
	return slices.Compact(names), nil
}

// splitTopLevel splits s at white space and at commas outside brackets.
func splitTopLevel(s string) []string {
	var toks []string
	depth, start := 0, -1
	for i := 0; i <= len(s); i++ {
		sep := i == len(s)
		if !sep {
			switch c := s[i]; c {
			case '[':
				depth++
			case ']':
				depth--
			case ' ', '\t', '\n', '\r', '\v', '\f':
				sep = true
			case ',':
				sep = depth <= 0
			}
		}
		switch {
		case sep && start >= 0:
			toks = append(toks, s[start:i])
			start = -1
		case !sep && start < 0:
			start = i
		}
	}
	return toks
}

// expandToken expands one name pattern into at most limit names.
func expandToken(tok string, limit int) ([]string, error) {
	open := strings.IndexByte(tok, '[')
	if open < 0 {
		if strings.IndexByte(tok, ']') >= 0 {
			return nil, fmt.Errorf("%q has a \"]\" without \"[\"", tok)
		}
		if limit < 1 {
			return nil, fmt.Errorf("more than %d names", maxExpand)
		}
		return []string{tok}, nil
	}
	if strings.IndexByte(tok[:open], ']') >= 0 {
		return nil, fmt.Errorf("%q has a \"]\" without \"[\"", tok)
	}
	end := strings.IndexByte(tok[open:], ']')
	if end < 0 {
		return nil, fmt.Errorf("%q lacks the \"]\" closing its \"[\"", tok)
	}
	end += open
	numbers, err := expandRanges(tok[open+1:end], limit)
	if err != nil {
		return nil, fmt.Errorf("%q: %w", tok, err)
	}
	rests, err := expandToken(tok[end+1:], limit/len(numbers))
	if err != nil {
		return nil, err
	}
	if len(numbers)*len(rests) > limit {
		return nil, fmt.Errorf("more than %d names", maxExpand)
	}
	out := make([]string, 0, len(numbers)*len(rests))
	for _, n := range numbers {
		for _, r := range rests {
			out = append(out, tok[:open]+n+r)
		}
	}
	return out, nil
}

// expandRanges expands the inside of a bracket, "01-03,07", into numbers.
func expandRanges(list string, limit int) ([]string, error) {
	var out []string
	for item := range strings.SplitSeq(list, ",") {
		lo, hi, isRange := strings.Cut(item, "-")
		if !isNumber(lo) || (isRange && !isNumber(hi)) {
			return nil, fmt.Errorf("bracket item %q is not a number or a range like 01-03", item)
		}
		if !isRange {
			out = append(out, lo)
			if len(out) > limit {
				return nil, fmt.Errorf("more than %d names", maxExpand)
			}
			continue
		}
		width := 1
		if isPadded(lo) {
			width = len(lo)
		}
		if isPadded(hi) && len(hi) != width {
			return nil, fmt.Errorf("range %q pads its ends to different widths", item)
		}
		from, err1 := strconv.ParseUint(lo, 10, 64)
		to, err2 := strconv.ParseUint(hi, 10, 64)
		if err1 != nil || err2 != nil || from > to {
			return nil, fmt.Errorf("range %q must run from a lower to a higher number", item)
		}
		if to-from >= uint64(limit-len(out)) {
			return nil, fmt.Errorf("more than %d names", maxExpand)
		}
		for v := from; ; v++ {
			out = append(out, fmt.Sprintf("%0*d", width, v))
			if v == to {
				break
			}
		}
	}
	return out, nil
}

func isNumber(s string) bool {
	if s == "" || len(s) > maxDigits+1 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return false
		}
	}
	return true
}

// NaturalCompare orders host names the way people count: runs of digits
// compare by value, so "web2" sorts before "web10". Names equal in value
// ("web1", "web01") are ordered byte-wise, so the order is total. It returns
// -1, 0 or +1 like strings.Compare.
func NaturalCompare(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			na := strings.TrimLeft(a[si:i], "0")
			nb := strings.TrimLeft(b[sj:j], "0")
			if len(na) != len(nb) {
				return cmpInt(len(na), len(nb))
			}
			if c := strings.Compare(na, nb); c != 0 {
				return c
			}
			continue
		}
		if a[i] != b[j] {
			return cmpInt(int(a[i]), int(b[j]))
		}
		i++
		j++
	}
	if c := cmpInt(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return strings.Compare(a, b)
}

// NaturalLess reports whether a sorts before b in natural order; see
// NaturalCompare.
func NaturalLess(a, b string) bool { return NaturalCompare(a, b) < 0 }

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
