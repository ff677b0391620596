package inventory

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"

	"fleetrun.dev/fleet/diag"
)

// Query says which hosts to select: host patterns, as in `ansible PATTERN`
// or a play's `hosts:`, narrowed by a --limit of the same syntax.
type Query struct {
	// Patterns are host patterns; each is split on "," (or ":") as Ansible
	// splits one pattern string, and the parts are combined.
	Patterns []string
	// Limit narrows the result as --limit does; "@file" entries read one
	// pattern per line from a file.
	Limit string
}

// Selection is the result of Select.
type Selection struct {
	Hosts    []*Host
	Warnings []diag.Warning // parts of the patterns that matched nothing, and the like
}

// Select returns the hosts a query matches, in Ansible's order: the plain
// patterns in the order given (a group's hosts, then hosts matching by
// name), then "&" intersections, then "!" exclusions, without duplicates.
//
// A pattern part that matches nothing is a warning, as in Ansible; an
// empty selection is not an error here, since a play may match no host.
func (inv *Inventory) Select(q Query) (*Selection, error) {
	ev := &evaluator{inv: inv, cache: map[string][]*Host{}, regexps: map[string]*regexp.Regexp{}, warned: map[string]bool{}}
	var patterns []string
	for _, p := range q.Patterns {
		patterns = append(patterns, SplitPattern(p)...)
	}
	hosts, err := ev.evaluate(patterns)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(q.Limit) != "" {
		subset, err := limitPatterns(q.Limit)
		if err != nil {
			return nil, err
		}
		allowed, err := ev.evaluate(subset)
		if err != nil {
			return nil, err
		}
		in := map[*Host]bool{}
		for _, h := range allowed {
			in[h] = true
		}
		kept := hosts[:0:0]
		for _, h := range hosts {
			if in[h] {
				kept = append(kept, h)
			}
		}
		hosts = kept
	}
	hosts = dedupHosts(hosts)
	if len(hosts) == 0 && len(q.Patterns) == 1 && isLocalhostName(q.Patterns[0]) {
		hosts = []*Host{ev.localhost(q.Patterns[0])}
	}
	return &Selection{Hosts: hosts, Warnings: ev.warnings}, nil
}

// SplitPattern splits a pattern string into its parts as Ansible's
// split_host_pattern does: on commas if there are any; otherwise on colons,
// unless the whole string reads as one address (an IPv6 address, a host
// range such as web[1:3], or host:port).
func SplitPattern(pattern string) []string {
	var parts []string
	if strings.Contains(pattern, ",") {
		parts = strings.Split(pattern, ",")
	} else if _, _, err := parseAddress(pattern, true); err == nil {
		parts = []string{pattern}
	} else {
		parts = reColonParts.FindAllString(pattern, -1)
	}
	out := parts[:0:0]
	for _, p := range parts {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

var reColonParts = regexp.MustCompile(`(?:[^\s:\[\]]|\[[^\]]*\])+`)

// limitPatterns splits a --limit value and expands its @file entries.
func limitPatterns(limit string) ([]string, error) {
	var out []string
	for _, x := range SplitPattern(limit) {
		if !strings.HasPrefix(x, "@") {
			out = append(out, x)
			continue
		}
		name := x[1:]
		fi, err := os.Stat(name)
		if err != nil {
			return nil, &diag.Error{Pkg: "inventory", File: name, Msg: "cannot read the --limit file: " + errText(err),
				Hint: "give @FILE with one host pattern per line, e.g. a .retry file"}
		}
		if fi.IsDir() {
			return nil, &diag.Error{Pkg: "inventory", File: name, Msg: `a --limit starting with "@" must name a file, not a directory`}
		}
		data, err := os.ReadFile(name)
		if err != nil {
			return nil, &diag.Error{Pkg: "inventory", File: name, Msg: "cannot read the --limit file: " + errText(err)}
		}
		for _, line := range strings.Split(string(data), "\n") {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out, nil
}

func errText(err error) string {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err.Error()
	}
	return err.Error()
}

type evaluator struct {
	inv      *Inventory
	cache    map[string][]*Host
	regexps  map[string]*regexp.Regexp
	implicit *Host
	warnings []diag.Warning
	warned   map[string]bool
}

func (ev *evaluator) warn(msg string) {
	if !ev.warned[msg] {
		ev.warned[msg] = true
		ev.warnings = append(ev.warnings, diag.Warning{Msg: msg})
	}
}

// localhost returns the inventory's localhost-like host or, failing that,
// one implicit localhost per selection, named as first asked for.
func (ev *evaluator) localhost(name string) *Host {
	if ev.inv.localhost != nil {
		return ev.inv.localhost
	}
	if ev.implicit == nil {
		ev.implicit = newImplicitLocalhost(name)
	}
	return ev.implicit
}

// orderPatterns puts plain patterns first, then intersections, then
// exclusions; with no plain pattern, "all" is implied.
func orderPatterns(patterns []string) []string {
	var regular, inter, excl []string
	for _, p := range patterns {
		switch {
		case p == "":
		case p[0] == '!':
			excl = append(excl, p)
		case p[0] == '&':
			inter = append(inter, p)
		default:
			regular = append(regular, p)
		}
	}
	if len(regular) == 0 {
		regular = []string{"all"}
	}
	return append(append(regular, inter...), excl...)
}

func (ev *evaluator) evaluate(patterns []string) ([]*Host, error) {
	var hosts []*Host
	for _, p := range orderPatterns(patterns) {
		// A pattern that is exactly a host's name is that host, even when a
		// group has the same name.
		if h, ok := ev.inv.hosts[p]; ok {
			hosts = append(hosts, h)
			continue
		}
		that, err := ev.matchOne(p)
		if err != nil {
			return nil, err
		}
		switch p[0] {
		case '!':
			drop := hostSet(that)
			hosts = filterHosts(hosts, func(h *Host) bool { return !drop[h] })
		case '&':
			keep := hostSet(that)
			hosts = filterHosts(hosts, func(h *Host) bool { return keep[h] })
		default:
			existing := map[string]bool{}
			for _, h := range hosts {
				existing[h.Name] = true
			}
			for _, h := range that {
				if !existing[h.Name] {
					hosts = append(hosts, h)
				}
			}
		}
	}
	return hosts, nil
}

func hostSet(hosts []*Host) map[*Host]bool {
	m := make(map[*Host]bool, len(hosts))
	for _, h := range hosts {
		m[h] = true
	}
	return m
}

func filterHosts(hosts []*Host, keep func(*Host) bool) []*Host {
	out := hosts[:0:0]
	for _, h := range hosts {
		if keep(h) {
			out = append(out, h)
		}
	}
	return out
}

func dedupHosts(hosts []*Host) []*Host {
	seen := map[*Host]bool{}
	out := hosts[:0:0]
	for _, h := range hosts {
		if !seen[h] {
			seen[h] = true
			out = append(out, h)
		}
	}
	return out
}

// rePatternSubscript is Ansible's PATTERN_WITH_SUBSCRIPT.
var rePatternSubscript = regexp.MustCompile(`^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$`)

type subscript struct {
	start  int
	end    int
	hasEnd bool
}

// matchOne returns the hosts one pattern part matches, ignoring its & or !
// prefix; it may contain duplicates, as in Ansible.
func (ev *evaluator) matchOne(pattern string) ([]*Host, error) {
	if pattern[0] == '&' || pattern[0] == '!' {
		pattern = pattern[1:]
	}
	if hosts, ok := ev.cache[pattern]; ok {
		return hosts, nil
	}
	if pattern == "" {
		return nil, &diag.Error{Pkg: "inventory", Msg: "a host pattern part is empty after its & or !",
			Hint: "write &GROUP or !GROUP"}
	}
	expr, sub, err := ev.splitSubscript(pattern)
	if err != nil {
		return nil, err
	}
	hosts, err := ev.enumerate(expr)
	if err != nil {
		return nil, err
	}
	if hosts, err = applySubscript(hosts, sub); err != nil {
		return nil, &diag.Error{Pkg: "inventory", Msg: fmt.Sprintf("no hosts matched the subscripted pattern %q", pattern),
			Hint: fmt.Sprintf("%s has %d host(s); subscripts count from 0", expr, len(hosts))}
	}
	ev.cache[pattern] = hosts
	return hosts, nil
}

func (ev *evaluator) splitSubscript(pattern string) (string, *subscript, error) {
	if pattern[0] == '~' {
		return pattern, nil, nil
	}
	m := rePatternSubscript.FindStringSubmatch(pattern)
	if m == nil {
		return pattern, nil, nil
	}
	bad := func() (string, *subscript, error) {
		return "", nil, &diag.Error{Pkg: "inventory", Msg: fmt.Sprintf("subscript in %q is out of range", pattern)}
	}
	if m[2] != "" {
		n, err := strconv.Atoi(m[2])
		if err != nil {
			return bad()
		}
		return m[1], &subscript{start: n}, nil
	}
	start, err := strconv.Atoi(m[3])
	if err != nil {
		return bad()
	}
	end := -1
	if m[5] != "" {
		if end, err = strconv.Atoi(m[5]); err != nil {
			return bad()
		}
	}
	if m[4] == "-" {
		ev.warn("use [x:y] inclusive subscripts instead of [x-y], which Ansible has removed")
	}
	return m[1], &subscript{start: start, end: end, hasEnd: true}, nil
}

// applySubscript selects by position as Ansible does, Python slice rules
// and quirks included: [i:j] is inclusive, [i:] runs to the end, a single
// index may be negative, and [i:0] means just [i].
func applySubscript(hosts []*Host, sub *subscript) ([]*Host, error) {
	if len(hosts) == 0 || sub == nil {
		return hosts, nil
	}
	if sub.hasEnd && sub.end != 0 {
		end := sub.end
		if end == -1 {
			end = len(hosts) - 1
		}
		lo, hi := min(sub.start, len(hosts)), min(end+1, len(hosts))
		if lo >= hi {
			return []*Host{}, nil
		}
		return hosts[lo:hi:hi], nil
	}
	i := sub.start
	if i < 0 {
		i += len(hosts)
	}
	if i < 0 || i >= len(hosts) {
		return nil, fmt.Errorf("index out of range")
	}
	return []*Host{hosts[i]}, nil
}

// enumerate matches a pattern without subscript against group names, then
// host names: a group match takes the group's hosts; hosts are matched by
// name when no group matched, or when the pattern is a regex or glob.
func (ev *evaluator) enumerate(pattern string) ([]*Host, error) {
	re, err := ev.compile(pattern)
	if err != nil {
		return nil, err
	}
	var results []*Host
	matchedGroups := 0
	for _, g := range ev.inv.groupList {
		if re.MatchString(g.Name) {
			matchedGroups++
			results = append(results, g.allHosts...)
		}
	}
	if matchedGroups == 0 || pattern[0] == '~' || strings.ContainsAny(pattern, ".?*[") {
		for _, h := range ev.inv.hostList {
			if re.MatchString(h.Name) {
				results = append(results, h)
			}
		}
	}
	if len(results) == 0 && isLocalhostName(pattern) {
		results = append(results, ev.localhost(pattern))
	}
	if len(results) == 0 && matchedGroups == 0 && pattern != "all" {
		ev.warn(fmt.Sprintf("could not match supplied host pattern, ignoring: %s", pattern))
	}
	return results, nil
}

// compile turns a pattern into a regexp: "~regex" matched at the start of a
// name as Python's re.match does, anything else as a shell glob
// (fnmatch.translate) that must match the whole name.
func (ev *evaluator) compile(pattern string) (*regexp.Regexp, error) {
	if re, ok := ev.regexps[pattern]; ok {
		return re, nil
	}
	var src string
	if pattern[0] == '~' {
		src = `^(?:` + pattern[1:] + `)`
	} else {
		src = globToRegexp(pattern)
	}
	re, err := regexp.Compile(src)
	if err != nil {
		hint := "check the pattern's brackets"
		if pattern[0] == '~' {
			hint = "a ~ pattern is a regular expression in RE2 syntax (no lookarounds or backreferences)"
		}
		return nil, &diag.Error{Pkg: "inventory", Msg: fmt.Sprintf("invalid host pattern %q: %v", pattern, regexpErr(err)), Hint: hint}
	}
	ev.regexps[pattern] = re
	return re, nil
}

func regexpErr(err error) string {
	var e *syntax.Error
	if errors.As(err, &e) {
		return e.Code.String() + ": " + e.Expr
	}
	return err.Error()
}

// globToRegexp translates a shell glob as Python's fnmatch.translate does:
// * and ? match any character (/ and newlines included), [seq] and [!seq]
// are sets with ranges, and an unclosed [ is literal.
func globToRegexp(pat string) string {
	rs := []rune(pat)
	var b strings.Builder
	b.WriteString(`\A(?s:`)
	n := len(rs)
	for i := 0; i < n; {
		c := rs[i]
		i++
		switch c {
		case '*':
			b.WriteString(".*")
			for i < n && rs[i] == '*' {
				i++
			}
		case '?':
			b.WriteString(".")
		case '[':
			j := i
			if j < n && rs[j] == '!' {
				j++
			}
			if j < n && rs[j] == ']' {
				j++
			}
			for j < n && rs[j] != ']' {
				j++
			}
			if j >= n {
				b.WriteString(`\[`)
				continue
			}
			b.WriteString(globSet(rs, i, j))
			i = j + 1
		default:
			b.WriteString(regexp.QuoteMeta(string(c)))
		}
	}
	b.WriteString(`)\z`)
	return b.String()
}

// globSet translates the set pat[i:j] (between the brackets) as fnmatch
// does, including its handling of hyphens and empty ranges.
func globSet(pat []rune, i, j int) string {
	stuff := pat[i:j]
	var chunks [][]rune
	if !containsRune(stuff, '-') {
		chunks = [][]rune{append([]rune(nil), stuff...)}
	} else {
		k := i + 1
		if pat[i] == '!' {
			k = i + 2
		}
		for {
			k = indexRune(pat, '-', k, j)
			if k < 0 {
				break
			}
			chunks = append(chunks, append([]rune(nil), pat[i:k]...))
			i = k + 1
			k = k + 3
		}
		if chunk := pat[i:j]; len(chunk) > 0 {
			chunks = append(chunks, append([]rune(nil), chunk...))
		} else {
			chunks[len(chunks)-1] = append(chunks[len(chunks)-1], '-')
		}
		// Remove empty ranges, which are invalid in a regexp.
		for k := len(chunks) - 1; k > 0; k-- {
			prev, cur := chunks[k-1], chunks[k]
			if len(prev) > 0 && len(cur) > 0 && prev[len(prev)-1] > cur[0] {
				chunks[k-1] = append(append([]rune(nil), prev[:len(prev)-1]...), cur[1:]...)
				chunks = append(chunks[:k], chunks[k+1:]...)
			}
		}
	}
	// Flatten to items: a literal rune, or a range between the last rune of
	// one chunk and the first of the next.
	type item struct{ lo, hi rune }
	var items []item
	total := 0
	for _, ch := range chunks {
		total += len(ch)
	}
	if total == 0 && len(chunks) <= 1 {
		return `[^\x00-\x{10FFFF}]` // empty set: never matches
	}
	negate := false
	first := true
	for ci, ch := range chunks {
		for ri, r := range ch {
			if first && r == '!' {
				first = false
				negate = true
				continue
			}
			first = false
			if ci > 0 && ri == 0 && len(items) > 0 {
				// The hyphen between chunks makes a range from the previous
				// item to this rune.
				items[len(items)-1].hi = r
				continue
			}
			items = append(items, item{r, r})
		}
	}
	if len(items) == 0 {
		if negate {
			return `.` // [!] matches any character
		}
		return `[^\x00-\x{10FFFF}]`
	}
	var b strings.Builder
	b.WriteByte('[')
	if negate {
		b.WriteByte('^')
	}
	for _, it := range items {
		fmt.Fprintf(&b, `\x{%x}`, it.lo)
		if it.hi != it.lo {
			fmt.Fprintf(&b, `-\x{%x}`, it.hi)
		}
	}
	b.WriteByte(']')
	return b.String()
}

func containsRune(rs []rune, r rune) bool {
	for _, x := range rs {
		if x == r {
			return true
		}
	}
	return false
}

func indexRune(rs []rune, r rune, from, to int) int {
	for k := from; k < to && k < len(rs); k++ {
		if k >= 0 && rs[k] == r {
			return k
		}
	}
	return -1
}
