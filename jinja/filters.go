package jinja

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"math"
	"math/big"
	"os"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

type filterFunc func(c *ctx, v any, args []any, kw map[string]any) (any, error)

type filterDef struct {
	fn      filterFunc
	undefOK bool // the filter handles an undefined input itself
	noArgs  bool // the filter takes no arguments
}

// filters holds Jinja2's and Ansible's filters by name; it is filled in
// init because filters such as map call back into it.
var filters map[string]filterDef

func init() {
	filters = map[string]filterDef{
		// undefined and defaults
		"default":   {fn: fDefault, undefOK: true},
		"d":         {fn: fDefault, undefOK: true},
		"mandatory": {fn: fMandatory, undefOK: true},
		"ternary":   {fn: fTernary},

		// types
		"bool":       {fn: fBool, noArgs: true},
		"int":        {fn: fInt},
		"float":      {fn: fFloat},
		"string":     {fn: fString, noArgs: true},
		"abs":        {fn: fAbs, noArgs: true},
		"round":      {fn: fRound},
		"type_debug": {fn: fTypeDebug, undefOK: true, noArgs: true},

		// strings
		"lower":         {fn: strFilter(func(s string) string { return strings.ToLower(s) })},
		"upper":         {fn: strFilter(func(s string) string { return strings.ToUpper(s) })},
		"capitalize":    {fn: strFilter(pyCapitalize)},
		"title":         {fn: strFilter(jinjaTitle)},
		"trim":          {fn: fTrim},
		"replace":       {fn: fReplace},
		"center":        {fn: fCenter},
		"indent":        {fn: fIndent},
		"wordcount":     {fn: fWordcount, noArgs: true},
		"truncate":      {fn: fTruncate},
		"format":        {fn: fFormat},
		"escape":        {fn: strFilter(htmlEscape)},
		"e":             {fn: strFilter(htmlEscape)},
		"forceescape":   {fn: strFilter(htmlEscape)},
		"safe":          {fn: func(c *ctx, v any, a []any, kw map[string]any) (any, error) { return v, nil }, noArgs: true},
		"split":         {fn: fSplit},
		"quote":         {fn: fQuote, noArgs: true},
		"b64encode":     {fn: fB64encode},
		"b64decode":     {fn: fB64decode},
		"basename":      {fn: pathFilter(pyBasename), noArgs: true},
		"dirname":       {fn: pathFilter(pyDirname), noArgs: true},
		"expanduser":    {fn: pathFilter(expandUser), noArgs: true},
		"splitext":      {fn: fSplitext, noArgs: true},
		"path_join":     {fn: fPathJoin},
		"hash":          {fn: fHash},
		"md5":           {fn: hashFilter("md5"), noArgs: true},
		"sha1":          {fn: hashFilter("sha1"), noArgs: true},
		"checksum":      {fn: hashFilter("sha1"), noArgs: true},
		"to_uuid":       {fn: fToUUID},
		"regex_replace": {fn: fRegexReplace},
		"regex_search":  {fn: fRegexSearch},
		"regex_findall": {fn: fRegexFindall},
		"regex_escape":  {fn: fRegexEscape},

		// collections
		"length":               {fn: fLength, noArgs: true},
		"count":                {fn: fLength, noArgs: true},
		"first":                {fn: fFirst, noArgs: true},
		"last":                 {fn: fLast, noArgs: true},
		"list":                 {fn: fList, noArgs: true},
		"join":                 {fn: fJoin},
		"unique":               {fn: fUnique},
		"sort":                 {fn: fSort},
		"reverse":              {fn: fReverse, noArgs: true},
		"min":                  {fn: fMinMax(false)},
		"max":                  {fn: fMinMax(true)},
		"sum":                  {fn: fSum},
		"map":                  {fn: fMap},
		"select":               {fn: selectFilter(false, false)},
		"reject":               {fn: selectFilter(true, false)},
		"selectattr":           {fn: selectFilter(false, true)},
		"rejectattr":           {fn: selectFilter(true, true)},
		"items":                {fn: fItems, undefOK: true, noArgs: true},
		"dict2items":           {fn: fDict2items},
		"items2dict":           {fn: fItems2dict},
		"dictsort":             {fn: fDictsort},
		"combine":              {fn: fCombine},
		"flatten":              {fn: fFlatten},
		"difference":           {fn: setFilter("difference")},
		"union":                {fn: setFilter("union")},
		"intersect":            {fn: setFilter("intersect")},
		"symmetric_difference": {fn: setFilter("symmetric_difference")},
		"zip":                  {fn: fZip(false)},
		"zip_longest":          {fn: fZip(true)},
		"batch":                {fn: fBatch},
		"slice":                {fn: fSlice},
		"groupby":              {fn: fGroupby},
		"product":              {fn: fProduct},
		"permutations":         {fn: fPermutations},
		"combinations":         {fn: fCombinations},
		"extract":              {fn: fExtract},
		"subelements":          {fn: fSubelements},
		"attr":                 {fn: fAttr},

		// serialisation
		"to_json":      {fn: fToJSON},
		"to_nice_json": {fn: fToNiceJSON},
		"tojson":       {fn: fTojson},
		"from_json":    {fn: fFromJSON, noArgs: true},
		"to_yaml":      {fn: fToYAML(false)},
		"to_nice_yaml": {fn: fToYAML(true)},
		"from_yaml":    {fn: fFromYAML, noArgs: true},

		// math
		"log":  {fn: fLog},
		"pow":  {fn: fPow},
		"root": {fn: fRoot},
	}
}

func filterNames() []string {
	names := make([]string, 0, len(filters))
	for n := range filters {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func fDefault(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "default_value", "boolean")
	if err != nil {
		return nil, err
	}
	def := or(a[0], "")
	boolean, err := boolArg(a[1], false)
	if err != nil {
		return nil, err
	}
	if _, isU := v.(*undefined); isU {
		return def, nil
	}
	if boolean {
		if t, _ := truth(v); !t {
			return def, nil
		}
	}
	return v, nil
}

func fMandatory(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "msg")
	if err != nil {
		return nil, err
	}
	u, isU := v.(*undefined)
	if !isU {
		return v, nil
	}
	if msg := or(a[0], nil); msg != nil {
		s, err := pyStr(msg)
		if err != nil {
			return nil, err
		}
		return nil, &plainError{msg: s}
	}
	name := ""
	if u.name != "" {
		name = fmt.Sprintf("'%s' ", u.name)
	}
	return nil, &plainError{msg: fmt.Sprintf("Mandatory variable %s not defined.", name)}
}

// plainError is a filter's error that carries its whole message, as
// mandatory's does; callFilter does not prefix it with the filter's name.
type plainError struct{ msg string }

func (e *plainError) Error() string { return e.msg }

func fTernary(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "true_val", "false_val", "none_val")
	if err != nil {
		return nil, err
	}
	if a[0] == absent || a[1] == absent {
		return nil, typeErr("ternary() needs true_val and false_val")
	}
	if v == nil && a[2] != absent && a[2] != nil {
		return a[2], nil
	}
	t, err := truth(v)
	if err != nil {
		return nil, err
	}
	if t {
		return a[0], nil
	}
	return a[1], nil
}

func fBool(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	switch x := v.(type) {
	case nil, bool:
		return v, nil
	case string:
		switch strings.ToLower(x) {
		case "yes", "on", "1", "true":
			return true, nil
		}
		return false, nil
	}
	if isNumber(v) {
		ok, _ := equal(v, int64(1))
		return ok, nil
	}
	return false, nil
}

func fInt(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "default", "base")
	if err != nil {
		return nil, err
	}
	def := or(a[0], int64(0))
	base, err := intArg(a[1], 10, "base")
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		if n, ok := pyParseInt(x, base); ok {
			return n, nil
		}
		if f, ok := pyParseFloat(x); ok {
			return floatToInt(f)
		}
		return def, nil
	case bool:
		n, _ := int64Of(x)
		return n, nil
	case int64, *big.Int:
		return x, nil
	case float64:
		return floatToInt(x)
	}
	return def, nil
}

func floatToInt(f float64) (any, error) {
	if math.IsInf(f, 0) {
		return nil, typeErr("cannot convert float infinity to integer")
	}
	if math.IsNaN(f) {
		return nil, typeErr("cannot convert float NaN to integer")
	}
	if f > -9e18 && f < 9e18 {
		return int64(f), nil
	}
	b, _ := new(big.Float).SetFloat64(math.Trunc(f)).Int(nil)
	return vars.NormInt(b), nil
}

// pyParseInt is Python's int(s, base).
func pyParseInt(s string, base int) (any, bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	neg := false
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		neg = s[0] == '-'
		s = s[1:]
	}
	lower := strings.ToLower(s)
	switch {
	case base == 0:
		switch {
		case strings.HasPrefix(lower, "0x"):
			base, s = 16, s[2:]
		case strings.HasPrefix(lower, "0o"):
			base, s = 8, s[2:]
		case strings.HasPrefix(lower, "0b"):
			base, s = 2, s[2:]
		default:
			base = 10
			if len(s) > 1 && s[0] == '0' && strings.Trim(s, "0_") != "" {
				return nil, false
			}
		}
	case base == 16 && strings.HasPrefix(lower, "0x"), base == 8 && strings.HasPrefix(lower, "0o"), base == 2 && strings.HasPrefix(lower, "0b"):
		s = strings.TrimPrefix(s[2:], "_")
	}
	if base < 2 || base > 36 || s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return nil, false
	}
	var b big.Int
	if _, ok := b.SetString(strings.ReplaceAll(s, "_", ""), base); !ok {
		return nil, false
	}
	if neg {
		b.Neg(&b)
	}
	return vars.NormInt(&b), true
}

// pyParseFloat is Python's float(s).
func pyParseFloat(s string) (float64, bool) {
	s = strings.TrimFunc(s, unicode.IsSpace)
	t := strings.ToLower(strings.TrimLeft(s, "+-"))
	switch t {
	case "inf", "infinity", "nan":
		f, err := strconv.ParseFloat(strings.Replace(strings.ToLower(s), "infinity", "inf", 1), 64)
		return f, err == nil
	}
	if s == "" || strings.ContainsAny(s, "xXpP") || strings.HasPrefix(t, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") || strings.Contains(s, "_.") || strings.Contains(s, "._") {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
			return f, true
		}
		return 0, false
	}
	return f, true
}

func fFloat(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "default")
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case string:
		if f, ok := pyParseFloat(x); ok {
			return f, nil
		}
	case bool, int64, *big.Int, float64:
		return floatOf(x), nil
	}
	return or(a[0], 0.0), nil
}

func fString(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	return text(v)
}

func fAbs(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	switch x := v.(type) {
	case bool:
		n, _ := int64Of(x)
		return n, nil
	case int64:
		if x < 0 {
			return negate(x)
		}
		return x, nil
	case *big.Int:
		return vars.NormInt(new(big.Int).Abs(x)), nil
	case float64:
		return math.Abs(x), nil
	}
	return nil, typeErr("bad operand type for abs(): '%s'", typeName(v))
}

func fRound(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "precision", "method")
	if err != nil {
		return nil, err
	}
	prec, err := intArg(a[0], 0, "precision")
	if err != nil {
		return nil, err
	}
	method, _ := or(a[1], "common").(string)
	if method != "common" && method != "ceil" && method != "floor" {
		return nil, typeErr("method must be common, ceil or floor")
	}
	if !isNumber(v) {
		return nil, typeErr("type %s doesn't define __round__ method", typeName(v))
	}
	if method == "common" {
		if isInt(v) {
			if prec >= 0 {
				n, _ := numArith("+", int64(0), v)
				return n, nil
			}
			p := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-prec)), nil)
			f, _ := new(big.Rat).SetFrac(bigOf(v), p).Float64()
			r := roundHalfEven(f) * floatOf(vars.NormInt(p))
			return floatToInt(r)
		}
		return pyRound(floatOf(v), prec), nil
	}
	p := math.Pow(10, float64(prec))
	x := floatOf(v) * p
	if method == "ceil" {
		x = math.Ceil(x)
	} else {
		x = math.Floor(x)
	}
	return x / p, nil
}

// pyRound is Python's round(float, ndigits): correctly rounded, ties to
// even.
func pyRound(f float64, prec int) float64 {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return f
	}
	if prec >= 0 {
		if prec > 300 {
			return f
		}
		r, _ := strconv.ParseFloat(strconv.FormatFloat(f, 'f', prec, 64), 64)
		return r
	}
	p := math.Pow(10, float64(-prec))
	return roundHalfEven(f/p) * p
}

func roundHalfEven(f float64) float64 { return math.RoundToEven(f) }

func fTypeDebug(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	return typeName(v), nil
}

// Strings.

func strFilter(f func(string) string) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		if len(args) > 0 || len(kw) > 0 {
			return nil, typeErr("takes no arguments")
		}
		s, err := text(v)
		if err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

// pyCapitalize is Python's str.capitalize.
func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToTitle(r)) + strings.ToLower(s[n:])
}

// jinjaTitle is Jinja2's title filter: words start after "-", whitespace
// and opening brackets.
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		if unicode.IsSpace(r) || strings.ContainsRune("-({[<", r) {
			b.WriteRune(r)
			start = true
			continue
		}
		if start {
			b.WriteRune(unicode.ToTitle(r))
			start = false
		} else {
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

// pyStrip is Python's str.strip(chars) (and its left/right variants).
func pyStrip(s string, chars any, left, right bool) (string, error) {
	if chars == absent || chars == nil {
		if left {
			s = strings.TrimLeftFunc(s, unicode.IsSpace)
		}
		if right {
			s = strings.TrimRightFunc(s, unicode.IsSpace)
		}
		return s, nil
	}
	cs, err := strArg(chars, "strip chars")
	if err != nil {
		return "", err
	}
	if left {
		s = strings.TrimLeft(s, cs)
	}
	if right {
		s = strings.TrimRight(s, cs)
	}
	return s, nil
}

func fTrim(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "chars")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	return pyStrip(s, a[0], true, true)
}

func fReplace(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "old", "new", "count")
	if err != nil {
		return nil, err
	}
	if a[0] == absent || a[1] == absent {
		return nil, typeErr("replace() needs the old and new strings")
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	old, err := text(a[0])
	if err != nil {
		return nil, err
	}
	nw, err := text(a[1])
	if err != nil {
		return nil, err
	}
	n, err := intArg(a[2], -1, "count")
	if err != nil {
		return nil, err
	}
	if m := strings.Count(s, old); len(s)+m*(len(nw)-len(old)) > maxStrLen {
		return nil, typeErr("result longer than %d bytes", maxStrLen)
	}
	return strings.Replace(s, old, nw, n), nil
}

func fCenter(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "width")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	w, err := intArg(a[0], 80, "width")
	if err != nil {
		return nil, err
	}
	return pyCenter(s, w, " "), nil
}

// pyCenter is Python's str.center.
func pyCenter(s string, width int, fill string) string {
	n := utf8.RuneCountInString(s)
	if width <= n {
		return s
	}
	marg := width - n
	left := marg/2 + (marg & width & 1)
	return strings.Repeat(fill, left) + s + strings.Repeat(fill, marg-left)
}

func fIndent(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "width", "first", "blank")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	indention := "    "
	switch w := a[0].(type) {
	case absentT:
	case string:
		indention = w
	default:
		n, err := toGoInt(w, "width")
		if err != nil {
			return nil, err
		}
		if n > 0 {
			indention = strings.Repeat(" ", n)
		} else {
			indention = ""
		}
	}
	first, err := boolArg(a[1], false)
	if err != nil {
		return nil, err
	}
	blank, err := boolArg(a[2], false)
	if err != nil {
		return nil, err
	}
	lines := pySplitlines(s + "\n")
	if len(s)+len(lines)*len(indention) > maxStrLen {
		return nil, typeErr("indented text longer than %d bytes", maxStrLen)
	}
	var rv string
	if blank {
		rv = strings.Join(lines, "\n"+indention)
	} else {
		rv = lines[0]
		if len(lines) > 1 {
			rest := make([]string, len(lines)-1)
			for i, l := range lines[1:] {
				if l != "" {
					l = indention + l
				}
				rest[i] = l
			}
			rv += "\n" + strings.Join(rest, "\n")
		}
	}
	if first {
		rv = indention + rv
	}
	return rv, nil
}

// pySplitlines is Python's str.splitlines() without keepends.
func pySplitlines(s string) []string {
	var out []string
	start := 0
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		switch rs[i] {
		case '\n', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, string(rs[start:i]))
			start = i + 1
		case '\r':
			out = append(out, string(rs[start:i]))
			if i+1 < len(rs) && rs[i+1] == '\n' {
				i++
			}
			start = i + 1
		}
	}
	if start < len(rs) {
		out = append(out, string(rs[start:]))
	}
	if out == nil {
		out = []string{}
	}
	return out
}

func fWordcount(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	n := 0
	in := false
	for _, r := range s {
		w := r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r)
		if w && !in {
			n++
		}
		in = w
	}
	return int64(n), nil
}

func fTruncate(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "length", "killwords", "end", "leeway")
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	n, err := intArg(a[0], 255, "length")
	if err != nil {
		return nil, err
	}
	kill, err := boolArg(a[1], false)
	if err != nil {
		return nil, err
	}
	end, err := text(or(a[2], "..."))
	if err != nil {
		return nil, err
	}
	leeway, err := intArg(a[3], 5, "leeway")
	if err != nil {
		return nil, err
	}
	rs := []rune(s)
	if n < len([]rune(end)) || leeway < 0 {
		return nil, typeErr("expected length >= %d, got %d", len([]rune(end)), n)
	}
	if len(rs) <= n+leeway {
		return s, nil
	}
	cut := string(rs[:n-len([]rune(end))])
	if kill {
		return cut + end, nil
	}
	if i := strings.LastIndex(cut, " "); i >= 0 {
		cut = cut[:i]
	}
	return cut + end, nil
}

func fFormat(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	if len(args) > 0 && len(kw) > 0 {
		return nil, typeErr("can't handle positional and keyword arguments at the same time")
	}
	if len(kw) > 0 {
		m := vars.NewMap()
		for _, k := range sortedKeys(kw) {
			m.Set(k, kw[k])
		}
		return percentFormat(s, m)
	}
	return percentFormat(s, tuple(args))
}

func htmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

func fSplit(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, ok := v.(string)
	if !ok {
		return nil, typeErr("descriptor 'split' for 'str' objects doesn't apply to a '%s' object", typeName(v))
	}
	return pySplit(s, args, kw, false)
}

// pySplit is Python's str.split / str.rsplit.
func pySplit(s string, args []any, kw map[string]any, fromRight bool) (any, error) {
	a, err := bind(args, kw, "sep", "maxsplit")
	if err != nil {
		return nil, err
	}
	max, err := intArg(a[1], -1, "maxsplit")
	if err != nil {
		return nil, err
	}
	var parts []string
	if sep := or(a[0], nil); sep == nil {
		parts = splitWhitespace(s, max, fromRight)
	} else {
		sp, err := strArg(sep, "separator")
		if err != nil {
			return nil, err
		}
		if sp == "" {
			return nil, typeErr("empty separator")
		}
		if max < 0 {
			parts = strings.Split(s, sp)
		} else if !fromRight {
			parts = strings.SplitN(s, sp, max+1)
		} else {
			parts = nil
			rest := s
			for i := 0; i < max; i++ {
				j := strings.LastIndex(rest, sp)
				if j < 0 {
					break
				}
				parts = append([]string{rest[j+len(sp):]}, parts...)
				rest = rest[:j]
			}
			parts = append([]string{rest}, parts...)
		}
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func splitWhitespace(s string, max int, fromRight bool) []string {
	if max < 0 {
		return strings.Fields(s)
	}
	var out []string
	if !fromRight {
		rest := strings.TrimLeftFunc(s, unicode.IsSpace)
		for rest != "" {
			if len(out) == max {
				out = append(out, rest)
				return out
			}
			i := strings.IndexFunc(rest, unicode.IsSpace)
			if i < 0 {
				out = append(out, rest)
				return out
			}
			out = append(out, rest[:i])
			rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
		}
		return out
	}
	rest := strings.TrimRightFunc(s, unicode.IsSpace)
	for rest != "" {
		if len(out) == max {
			return append([]string{rest}, out...)
		}
		i := strings.LastIndexFunc(rest, unicode.IsSpace)
		if i < 0 {
			return append([]string{rest}, out...)
		}
		_, w := utf8.DecodeRuneInString(rest[i:])
		out = append([]string{rest[i+w:]}, out...)
		rest = strings.TrimRightFunc(rest[:i], unicode.IsSpace)
	}
	return out
}

func fQuote(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	if v == nil {
		v = ""
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	return shellQuote(s), nil
}

// shellQuote is Python's shlex.quote.
func shellQuote(s string) string {
	if s == "" {
		return "''"
	}
	safe := true
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_@%+=:,./-", c) >= 0) {
			safe = false
			break
		}
	}
	if safe {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

func fB64encode(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fB64decode(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	// Python's b64decode skips characters outside the alphabet.
	clean := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '+' || r == '/' || r == '=' {
			return r
		}
		return -1
	}, s)
	if i := strings.IndexByte(clean, '='); i >= 0 {
		// Data after padding is ignored once the padding is complete.
		end := i
		for end < len(clean) && clean[end] == '=' {
			end++
		}
		clean = clean[:end]
	}
	b, err := base64.StdEncoding.DecodeString(clean)
	if err != nil {
		b, err = base64.RawStdEncoding.DecodeString(strings.TrimRight(clean, "="))
		if err != nil || len(strings.TrimRight(clean, "="))%4 != 0 {
			return nil, errors.New("Incorrect padding")
		}
	}
	return string(b), nil
}

func pathFilter(f func(string) string) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		s, ok := v.(string)
		if !ok {
			return nil, typeErr("expected str, bytes or os.PathLike object, not %s", typeName(v))
		}
		return f(s), nil
	}
}

// pyBasename and pyDirname are Python's posixpath functions.
func pyBasename(p string) string { return p[strings.LastIndexByte(p, '/')+1:] }

func pyDirname(p string) string {
	head := p[:strings.LastIndexByte(p, '/')+1]
	if head != "" && strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head
}

func expandUser(p string) string {
	if !strings.HasPrefix(p, "~") {
		return p
	}
	i := strings.IndexByte(p, '/')
	if i < 0 {
		i = len(p)
	}
	if i == 1 {
		if home, err := os.UserHomeDir(); err == nil {
			return strings.TrimRight(home, "/") + p[i:]
		}
	}
	return p
}

func fSplitext(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	p, ok := v.(string)
	if !ok {
		return nil, typeErr("expected str, bytes or os.PathLike object, not %s", typeName(v))
	}
	base := pyBasename(p)
	dot := strings.LastIndexByte(base, '.')
	// A leading dot (".bashrc") is not an extension.
	if dot <= 0 || strings.Trim(base[:dot], ".") == "" {
		return tuple{p, ""}, nil
	}
	cut := len(p) - len(base) + dot
	return tuple{p[:cut], p[cut:]}, nil
}

func fPathJoin(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	var parts []any
	switch x := v.(type) {
	case string:
		return x, nil
	case []any, tuple:
		parts = seqItems(x)
	default:
		return nil, typeErr("|path_join expects string or sequence, got %s instead.", typeName(v))
	}
	out := ""
	for i, p := range parts {
		s, ok := p.(string)
		if !ok {
			return nil, typeErr("join() argument must be str, bytes, or os.PathLike object, not '%s'", typeName(p))
		}
		switch {
		case i == 0 || strings.HasPrefix(s, "/"):
			out = s
		case out == "" || strings.HasSuffix(out, "/"):
			out += s
		default:
			out += "/" + s
		}
	}
	return out, nil
}

func newHash(name string) (hash.Hash, error) {
	switch name {
	case "md5":
		return md5.New(), nil
	case "sha1":
		return sha1.New(), nil
	case "sha224":
		return sha256.New224(), nil
	case "sha256":
		return sha256.New(), nil
	case "sha384":
		return sha512.New384(), nil
	case "sha512":
		return sha512.New(), nil
	}
	return nil, fmt.Errorf("unsupported hash type %s (fleet supports md5, sha1, sha224, sha256, sha384 and sha512)", name)
}

func hexDigest(name string, v any) (any, error) {
	h, err := newHash(name)
	if err != nil {
		return nil, err
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	h.Write([]byte(s))
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fHash(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "hashtype")
	if err != nil {
		return nil, err
	}
	name, err := strArg(or(a[0], "sha1"), "hashtype")
	if err != nil {
		return nil, err
	}
	return hexDigest(name, v)
}

func hashFilter(name string) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) { return hexDigest(name, v) }
}

// fToUUID is Ansible's to_uuid: a name-based (SHA-1) UUID in Ansible's
// namespace 361E6D51-FAEC-444A-9079-341386DA8E2E.
func fToUUID(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "namespace")
	if err != nil {
		return nil, err
	}
	ns := "361e6d51-faec-444a-9079-341386da8e2e"
	if a[0] != absent {
		if ns, err = strArg(a[0], "namespace"); err != nil {
			return nil, err
		}
	}
	nsb, err := hex.DecodeString(strings.ReplaceAll(strings.ToLower(strings.Trim(ns, "{}")), "-", ""))
	if err != nil || len(nsb) != 16 {
		return nil, fmt.Errorf("Invalid value '%s' for 'namespace'", ns)
	}
	s, err := text(v)
	if err != nil {
		return nil, err
	}
	h := sha1.New()
	h.Write(nsb)
	h.Write([]byte(s))
	u := h.Sum(nil)[:16]
	u[6] = u[6]&0x0f | 0x50
	u[8] = u[8]&0x3f | 0x80
	x := hex.EncodeToString(u)
	return x[0:8] + "-" + x[8:12] + "-" + x[12:16] + "-" + x[16:20] + "-" + x[20:], nil
}

// Collections.

func fLength(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	n, err := length(v)
	if err != nil {
		return nil, err
	}
	return int64(n), nil
}

func fFirst(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No first item, sequence was empty."}, nil
	}
	return items[0], nil
}

func fLast(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No last item, sequence was empty."}, nil
	}
	return items[len(items)-1], nil
}

func fList(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	return toList(v)
}

func fJoin(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "d", "attribute")
	if err != nil {
		return nil, err
	}
	sep, err := text(or(a[0], ""))
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get, err := c.attrGetter(a[1], absent)
	if err != nil {
		return nil, err
	}
	parts := make([]string, len(items))
	total := 0
	for i, it := range items {
		x, err := get(it)
		if err != nil {
			return nil, err
		}
		if parts[i], err = text(x); err != nil {
			return nil, err
		}
		if total += len(parts[i]) + len(sep); total > maxStrLen {
			return nil, typeErr("joined string longer than %d bytes", maxStrLen)
		}
	}
	return strings.Join(parts, sep), nil
}

// uniqueItems is Ansible's unique: Jinja2's do_unique (case-insensitive
// unless asked), falling back to equality (case-sensitive) for unhashable
// items such as dicts.
func (c *ctx) uniqueItems(items []any, caseSensitive any, attribute any) ([]any, error) {
	cs, err := boolArg(caseSensitive, false)
	if err != nil {
		return nil, err
	}
	get, err := c.attrGetter(attribute, absent)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []any
	hashable := true
	for _, it := range items {
		k, err := get(it)
		if err != nil {
			return nil, err
		}
		if err := firstUndefined(k); err != nil {
			return nil, err
		}
		if !cs {
			k = ignoreCase(k)
		}
		h, ok := hashOf(k)
		if !ok {
			hashable = false
			break
		}
		if !seen[h] {
			seen[h] = true
			out = append(out, it)
		}
	}
	if hashable {
		if out == nil {
			out = []any{}
		}
		return out, nil
	}
	if caseSensitive == false || (attribute != absent && attribute != nil) {
		return nil, errors.New("Jinja2's unique filter failed and we cannot fall back to Ansible's version as it does not support the parameters supplied")
	}
	out = []any{}
	for _, it := range items {
		dup := false
		for _, o := range out {
			if eq(o, it, 0) {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, it)
		}
	}
	return out, nil
}

func fUnique(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "case_sensitive", "attribute")
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return c.uniqueItems(items, a[0], a[1])
}

// sortByKeys sorts items stably by keys with Python's ordering.
func sortByKeys(items, keys []any, reverse bool) error {
	idx := make([]int, len(items))
	for i := range idx {
		idx[i] = i
	}
	var err error
	sort.SliceStable(idx, func(i, j int) bool {
		a, b := keys[idx[i]], keys[idx[j]]
		if reverse {
			a, b = b, a
		}
		c, e := order(a, b, "<", 0)
		if e != nil && err == nil {
			err = e
		}
		return c == -1
	})
	if err != nil {
		return err
	}
	sorted := make([]any, len(items))
	for i, j := range idx {
		sorted[i] = items[j]
	}
	copy(items, sorted)
	return nil
}

func fSort(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "reverse", "case_sensitive", "attribute")
	if err != nil {
		return nil, err
	}
	reverse, err := boolArg(a[0], false)
	if err != nil {
		return nil, err
	}
	cs, err := boolArg(a[1], false)
	if err != nil {
		return nil, err
	}
	items, err := toList(v)
	if err != nil {
		return nil, err
	}
	get, err := c.multiAttrGetter(or(a[2], nil))
	if err != nil {
		return nil, err
	}
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := get(it)
		if err != nil {
			return nil, err
		}
		if err := checkDefined(k, 0); err != nil {
			return nil, err
		}
		if !cs {
			k = ignoreCase(k)
		}
		keys[i] = k
	}
	if err := sortByKeys(items, keys, reverse); err != nil {
		return nil, err
	}
	return items, nil
}

func fReverse(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	if s, ok := v.(string); ok {
		rs := []rune(s)
		for i, j := 0, len(rs)-1; i < j; i, j = i+1, j-1 {
			rs[i], rs[j] = rs[j], rs[i]
		}
		return string(rs), nil
	}
	items, err := toList(v)
	if err != nil {
		return nil, err
	}
	for i, j := 0, len(items)-1; i < j; i, j = i+1, j-1 {
		items[i], items[j] = items[j], items[i]
	}
	return items, nil
}

func fMinMax(max bool) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		a, err := bind(args, kw, "case_sensitive", "attribute")
		if err != nil {
			return nil, err
		}
		cs, err := boolArg(a[0], false)
		if err != nil {
			return nil, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return &undefined{hint: "No aggregated item, sequence was empty."}, nil
		}
		get, err := c.attrGetter(a[1], absent)
		if err != nil {
			return nil, err
		}
		key := func(x any) (any, error) {
			k, err := get(x)
			if err != nil {
				return nil, err
			}
			if !cs {
				k = ignoreCase(k)
			}
			return k, nil
		}
		best := items[0]
		bestKey, err := key(best)
		if err != nil {
			return nil, err
		}
		for _, it := range items[1:] {
			k, err := key(it)
			if err != nil {
				return nil, err
			}
			var better bool
			if max {
				better, err = less(bestKey, k, "<")
			} else {
				better, err = less(k, bestKey, "<")
			}
			if err != nil {
				return nil, err
			}
			if better {
				best, bestKey = it, k
			}
		}
		return best, nil
	}
}

func fSum(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "attribute", "start")
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	get, err := c.attrGetter(a[0], absent)
	if err != nil {
		return nil, err
	}
	total := or(a[1], int64(0))
	for _, it := range items {
		x, err := get(it)
		if err != nil {
			return nil, err
		}
		if _, isStr := x.(string); isStr && isNumber(total) {
			return nil, typeErr("unsupported operand type(s) for +: '%s' and 'str'", typeName(total))
		}
		if total, err = arith("+", total, x); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func fMap(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	if t, err := truth(v); err != nil || !t {
		return []any{}, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	var fn func(any) (any, error)
	if len(args) == 0 {
		attr, ok := kw["attribute"]
		if !ok {
			return nil, typeErr("map requires a filter argument")
		}
		def, hasDef := kw["default"]
		for k := range kw {
			if k != "attribute" && k != "default" {
				return nil, typeErr("Unexpected keyword argument '%s'", k)
			}
		}
		if !hasDef {
			def = absent
		}
		if fn, err = c.attrGetter(attr, def); err != nil {
			return nil, err
		}
	} else {
		name, err := strArg(args[0], "map's filter name")
		if err != nil {
			return nil, err
		}
		rest := args[1:]
		fn = func(x any) (any, error) { return c.callFilter(name, x, rest, kw) }
	}
	out := make([]any, len(items))
	for i, it := range items {
		if out[i], err = fn(it); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func selectFilter(reject, byAttr bool) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		if t, err := truth(v); err != nil || !t {
			return []any{}, err
		}
		items, err := iterate(v)
		if err != nil {
			return nil, err
		}
		get := func(x any) (any, error) { return x, nil }
		off := 0
		if byAttr {
			if len(args) == 0 {
				return nil, typeErr("Missing parameter for attribute name")
			}
			if get, err = c.attrGetter(args[0], absent); err != nil {
				return nil, err
			}
			off = 1
		}
		var test func(any) (bool, error)
		if len(args) > off {
			name, err := strArg(args[off], "test name")
			if err != nil {
				return nil, err
			}
			rest := args[off+1:]
			test = func(x any) (bool, error) { return c.test(name, x, rest, kw) }
		} else {
			test = truth
		}
		out := []any{}
		for _, it := range items {
			x, err := get(it)
			if err != nil {
				return nil, err
			}
			ok, err := test(x)
			if err != nil {
				return nil, err
			}
			if ok != reject {
				out = append(out, it)
			}
		}
		return out, nil
	}
}

func fItems(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	if _, isU := v.(*undefined); isU {
		return []any{}, nil
	}
	m, ok := v.(*vars.Map)
	if !ok {
		return nil, typeErr("Can only get item pairs from a mapping.")
	}
	return dictItems(m), nil
}

func dictItems(m *vars.Map) []any {
	out := make([]any, m.Len())
	for i, k := range m.Keys() {
		e, _ := m.Get(k)
		out[i] = tuple{dictKey(m, k), e}
	}
	return out
}

func fDict2items(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "key_name", "value_name")
	if err != nil {
		return nil, err
	}
	m, ok := v.(*vars.Map)
	if !ok {
		return nil, typeErr("dict2items requires a dictionary, got <class '%s'> instead.", typeName(v))
	}
	kn, vn := or(a[0], "key"), or(a[1], "value")
	out := make([]any, m.Len())
	for i, k := range m.Keys() {
		e, _ := m.Get(k)
		item := vars.NewMap()
		if err := setKey(item, kn, dictKey(m, k)); err != nil {
			return nil, err
		}
		if err := setKey(item, vn, e); err != nil {
			return nil, err
		}
		out[i] = item
	}
	return out, nil
}

func fItems2dict(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "key_name", "value_name")
	if err != nil {
		return nil, err
	}
	if !isSequence(v) {
		return nil, typeErr("items2dict requires a list, got <class '%s'> instead.", typeName(v))
	}
	kn, vn := or(a[0], "key"), or(a[1], "value")
	out := vars.NewMap()
	for _, it := range seqItems(v) {
		k, err := c.getitem(it, kn, "")
		if err != nil {
			return nil, err
		}
		val, err := c.getitem(it, vn, "")
		if err != nil {
			return nil, err
		}
		if _, ok := it.(*vars.Map); !ok {
			return nil, typeErr("items2dict requires a list of dictionaries, got %s instead.", String(v))
		}
		_, ku := k.(*undefined)
		_, vu := val.(*undefined)
		if ku || vu {
			kr, _ := pyRepr(kn)
			vr, _ := pyRepr(vn)
			return nil, typeErr("items2dict requires each dictionary in the list to contain the keys %s and %s, got %s instead.", kr, vr, String(v))
		}
		if err := setKey(out, k, val); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func fDictsort(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "case_sensitive", "by", "reverse")
	if err != nil {
		return nil, err
	}
	m, ok := v.(*vars.Map)
	if !ok {
		return nil, typeErr("'%s' object has no attribute 'items'", typeName(v))
	}
	cs, err := boolArg(a[0], false)
	if err != nil {
		return nil, err
	}
	pos := 0
	switch or(a[1], "key") {
	case "key":
	case "value":
		pos = 1
	default:
		return nil, typeErr(`You can only sort by either "key" or "value"`)
	}
	rev, err := boolArg(a[2], false)
	if err != nil {
		return nil, err
	}
	items := dictItems(m)
	keys := make([]any, len(items))
	for i, it := range items {
		k := it.(tuple)[pos]
		if !cs {
			k = ignoreCase(k)
		}
		keys[i] = k
	}
	if err := sortByKeys(items, keys, rev); err != nil {
		return nil, err
	}
	return items, nil
}

// combine is Ansible's combine filter and merge_hash.
func fCombine(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	recursive := false
	listMerge := "replace"
	for _, k := range sortedKeys(kw) {
		switch k {
		case "recursive":
			t, err := truth(kw[k])
			if err != nil {
				return nil, err
			}
			recursive = t
		case "list_merge":
			s, err := strArg(kw[k], "list_merge")
			if err != nil {
				return nil, err
			}
			listMerge = s
		default:
			return nil, errors.New("'recursive' and 'list_merge' are the only valid keyword arguments")
		}
	}
	switch listMerge {
	case "replace", "keep", "append", "prepend", "append_rp", "prepend_rp":
	default:
		return nil, errors.New("merge_hash: 'list_merge' argument can only be equal to 'replace', 'keep', 'append', 'prepend', 'append_rp' or 'prepend_rp'")
	}
	var dicts []any
	for _, t := range append([]any{v}, args...) {
		if isSequence(t) {
			dicts = append(dicts, seqItems(t)...)
		} else {
			dicts = append(dicts, t)
		}
	}
	for _, d := range dicts {
		if err := checkDefined(d, 0); err != nil {
			return nil, err
		}
	}
	if len(dicts) == 0 {
		return vars.NewMap(), nil
	}
	if len(dicts) == 1 {
		return dicts[0], nil
	}
	result := dicts[len(dicts)-1]
	for i := len(dicts) - 2; i >= 0; i-- {
		var err error
		if result, err = mergeHash(dicts[i], result, recursive, listMerge); err != nil {
			return nil, err
		}
	}
	return result, nil
}

func mergeHash(x, y any, recursive bool, listMerge string) (any, error) {
	xm, ok1 := x.(*vars.Map)
	ym, ok2 := y.(*vars.Map)
	if !ok1 || !ok2 {
		bad := x
		if ok1 {
			bad = y
		}
		return nil, fmt.Errorf("failed to combine variables, expected dicts but got a '%s' and a '%s': \n%s\n%s", typeName(x), typeName(y), String(x), String(bad))
	}
	out := xm.Clone()
	for _, k := range ym.Keys() {
		yv, _ := ym.Get(k)
		xv, has := out.Get(k)
		if !has {
			out.Set(k, yv)
			continue
		}
		_, xd := xv.(*vars.Map)
		_, yd := yv.(*vars.Map)
		if xd && yd {
			if recursive {
				r, err := mergeHash(xv, yv, recursive, listMerge)
				if err != nil {
					return nil, err
				}
				out.Set(k, r)
			} else {
				out.Set(k, yv)
			}
			continue
		}
		xl, xIsList := xv.([]any)
		yl, yIsList := yv.([]any)
		if xIsList && yIsList {
			switch listMerge {
			case "replace":
				out.Set(k, yv)
			case "append":
				out.Set(k, append(append([]any{}, xl...), yl...))
			case "prepend":
				out.Set(k, append(append([]any{}, yl...), xl...))
			case "append_rp":
				out.Set(k, append(notIn(xl, yl), yl...))
			case "prepend_rp":
				out.Set(k, append(append([]any{}, yl...), notIn(xl, yl)...))
			}
			continue
		}
		out.Set(k, yv)
	}
	return out, nil
}

func notIn(xs, ys []any) []any {
	out := []any{}
	for _, x := range xs {
		found := false
		for _, y := range ys {
			if eq(x, y, 0) {
				found = true
				break
			}
		}
		if !found {
			out = append(out, x)
		}
	}
	return out
}

func fFlatten(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "levels", "skip_nulls")
	if err != nil {
		return nil, err
	}
	levels := -1
	if l := or(a[0], nil); l != nil {
		if levels, err = toGoInt(l, "levels"); err != nil {
			return nil, err
		}
	}
	skip, err := boolArg(a[1], true)
	if err != nil {
		return nil, err
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	return flatten(items, levels, skip, 0)
}

func flatten(items []any, levels int, skipNulls bool, depth int) ([]any, error) {
	if depth > maxValueDepth {
		return nil, errDepth
	}
	out := []any{}
	for _, e := range items {
		if skipNulls && (e == nil || e == "None" || e == "null") {
			continue
		}
		if isSequence(e) && levels != 0 {
			sub, err := flatten(seqItems(e), levels-1, skipNulls, depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
			continue
		}
		out = append(out, e)
	}
	return out, nil
}

func setFilter(op string) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		if len(args) != 1 || len(kw) > 0 {
			return nil, typeErr("%s() takes exactly one list", op)
		}
		a, err := iterate(v)
		if err != nil {
			return nil, err
		}
		b, err := iterate(args[0])
		if err != nil {
			return nil, err
		}
		in := func(x any, list []any) bool {
			for _, y := range list {
				if eq(x, y, 0) {
					return true
				}
			}
			return false
		}
		var picked []any
		switch op {
		case "difference":
			for _, x := range a {
				if !in(x, b) {
					picked = append(picked, x)
				}
			}
		case "intersect":
			for _, x := range a {
				if in(x, b) {
					picked = append(picked, x)
				}
			}
		case "union":
			picked = append(append([]any{}, a...), b...)
		case "symmetric_difference":
			isect, err := c.uniqueItems(filterIn(a, b, true), true, absent)
			if err != nil {
				return nil, err
			}
			union, err := c.uniqueItems(append(append([]any{}, a...), b...), true, absent)
			if err != nil {
				return nil, err
			}
			for _, x := range union {
				if !in(x, isect) {
					picked = append(picked, x)
				}
			}
			if picked == nil {
				picked = []any{}
			}
			return picked, nil
		}
		return c.uniqueItems(picked, true, absent)
	}
}

func filterIn(a, b []any, want bool) []any {
	var out []any
	for _, x := range a {
		found := false
		for _, y := range b {
			if eq(x, y, 0) {
				found = true
				break
			}
		}
		if found == want {
			out = append(out, x)
		}
	}
	return out
}

func fZip(longest bool) filterFunc {
	return func(c *ctx, v any, args []any, kw map[string]any) (any, error) {
		var fill any
		for k, val := range kw {
			if !longest || k != "fillvalue" {
				return nil, typeErr("zip() got an unexpected keyword argument '%s'", k)
			}
			fill = val
		}
		lists := [][]any{}
		for _, x := range append([]any{v}, args...) {
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			lists = append(lists, items)
		}
		n := len(lists[0])
		for _, l := range lists {
			if longest {
				n = max(n, len(l))
			} else {
				n = min(n, len(l))
			}
		}
		out := make([]any, n)
		for i := range out {
			t := make(tuple, len(lists))
			for j, l := range lists {
				if i < len(l) {
					t[j] = l[i]
				} else {
					t[j] = fill
				}
			}
			out[i] = t
		}
		return out, nil
	}
}

func fBatch(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "linecount", "fill_with")
	if err != nil {
		return nil, err
	}
	n, err := toGoInt(or(a[0], nil), "linecount")
	if err != nil {
		return nil, err
	}
	if n <= 0 || n > maxSeqLen {
		return nil, typeErr("linecount must be between 1 and %d", maxSeqLen)
	}
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	fill := or(a[1], nil)
	out := []any{}
	for i := 0; i < len(items); i += n {
		end := min(i+n, len(items))
		chunk := append([]any{}, items[i:end]...)
		if fill != nil {
			for len(chunk) < n {
				chunk = append(chunk, fill)
			}
		}
		out = append(out, chunk)
	}
	return out, nil
}

func fSlice(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "slices", "fill_with")
	if err != nil {
		return nil, err
	}
	slices, err := toGoInt(or(a[0], nil), "slices")
	if err != nil {
		return nil, err
	}
	if slices <= 0 {
		return nil, typeErr("slices must be positive")
	}
	seq, err := iterate(v)
	if err != nil {
		return nil, err
	}
	fill := or(a[1], nil)
	per, extra := len(seq)/slices, len(seq)%slices
	offset := 0
	out := []any{}
	for i := 0; i < slices; i++ {
		start := offset + i*per
		if i < extra {
			offset++
		}
		end := offset + (i+1)*per
		tmp := append([]any{}, seq[start:end]...)
		if fill != nil && i >= extra {
			tmp = append(tmp, fill)
		}
		out = append(out, tmp)
	}
	return out, nil
}

func fGroupby(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "attribute", "default", "case_sensitive")
	if err != nil {
		return nil, err
	}
	if a[0] == absent {
		return nil, typeErr("groupby() needs an attribute")
	}
	cs, err := boolArg(a[2], false)
	if err != nil {
		return nil, err
	}
	get, err := c.attrGetter(a[0], a[1])
	if err != nil {
		return nil, err
	}
	items, err := toList(v)
	if err != nil {
		return nil, err
	}
	keys := make([]any, len(items))
	for i, it := range items {
		k, err := get(it)
		if err != nil {
			return nil, err
		}
		if !cs {
			k = ignoreCase(k)
		}
		keys[i] = k
	}
	// Sort items with their keys together.
	pairs := make([]any, len(items))
	for i := range items {
		pairs[i] = tuple{keys[i], items[i]}
	}
	if err := sortByKeys(pairs, keys, false); err != nil {
		return nil, err
	}
	out := []any{}
	for i := 0; i < len(pairs); {
		k := pairs[i].(tuple)[0]
		var group []any
		j := i
		for ; j < len(pairs) && eq(pairs[j].(tuple)[0], k, 0); j++ {
			group = append(group, pairs[j].(tuple)[1])
		}
		grouper := k
		if !cs {
			if grouper, err = get(group[0]); err != nil {
				return nil, err
			}
		}
		out = append(out, tuple{grouper, group})
		i = j
	}
	return out, nil
}

func fProduct(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	lists := [][]any{}
	for _, x := range append([]any{v}, args...) {
		items, err := iterate(x)
		if err != nil {
			return nil, err
		}
		lists = append(lists, items)
	}
	out := []any{tuple{}}
	for _, l := range lists {
		var next []any
		for _, prefix := range out {
			for _, e := range l {
				if len(next) > maxSeqLen/16 {
					return nil, typeErr("product too large")
				}
				t := append(append(tuple{}, prefix.(tuple)...), e)
				next = append(next, t)
			}
		}
		out = next
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func fPermutations(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	a, err := bind(args, kw, "r")
	if err != nil {
		return nil, err
	}
	r, err := intArg(a[0], len(items), "r")
	if err != nil {
		return nil, err
	}
	out := []any{}
	if r > len(items) || r < 0 {
		return out, nil
	}
	used := make([]bool, len(items))
	var cur tuple
	var rec func() error
	rec = func() error {
		if len(cur) == r {
			out = append(out, append(tuple{}, cur...))
			if len(out) > maxSeqLen/16 {
				return typeErr("permutations too many")
			}
			return nil
		}
		for i := range items {
			if !used[i] {
				used[i] = true
				cur = append(cur, items[i])
				if err := rec(); err != nil {
					return err
				}
				cur = cur[:len(cur)-1]
				used[i] = false
			}
		}
		return nil
	}
	return out, rec()
}

func fCombinations(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	items, err := iterate(v)
	if err != nil {
		return nil, err
	}
	a, err := bind(args, kw, "r")
	if err != nil {
		return nil, err
	}
	if a[0] == absent {
		return nil, typeErr("combinations() missing required argument 'r'")
	}
	r, err := toGoInt(a[0], "r")
	if err != nil {
		return nil, err
	}
	out := []any{}
	if r > len(items) || r < 0 {
		return out, nil
	}
	var cur tuple
	var rec func(start int) error
	rec = func(start int) error {
		if len(cur) == r {
			out = append(out, append(tuple{}, cur...))
			if len(out) > maxSeqLen/16 {
				return typeErr("combinations too many")
			}
			return nil
		}
		for i := start; i < len(items); i++ {
			cur = append(cur, items[i])
			if err := rec(i + 1); err != nil {
				return err
			}
			cur = cur[:len(cur)-1]
		}
		return nil
	}
	return out, rec(0)
}

func fExtract(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "container", "morekeys")
	if err != nil {
		return nil, err
	}
	if a[0] == absent {
		return nil, typeErr("extract() needs a container")
	}
	keys := []any{v}
	switch mk := or(a[1], nil).(type) {
	case nil:
	case []any:
		keys = append(keys, mk...)
	default:
		keys = append(keys, mk)
	}
	val := a[0]
	for _, k := range keys {
		if val, err = c.getitem(val, k, ""); err != nil {
			return nil, err
		}
	}
	return val, nil
}

func fSubelements(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "subelements", "skip_missing")
	if err != nil {
		return nil, err
	}
	var elements []any
	switch x := v.(type) {
	case *vars.Map:
		for _, k := range x.Keys() {
			e, _ := x.Get(k)
			elements = append(elements, e)
		}
	case []any:
		elements = x
	default:
		return nil, errors.New("obj must be a list of dicts or a nested dict")
	}
	var path []any
	switch s := or(a[0], nil).(type) {
	case []any:
		path = s
	case string:
		for _, p := range strings.Split(s, ".") {
			path = append(path, p)
		}
	default:
		return nil, typeErr("subelements must be a list or a string")
	}
	skip, err := boolArg(a[1], false)
	if err != nil {
		return nil, err
	}
	out := []any{}
	for _, el := range elements {
		values := el
		for _, p := range path {
			m, ok := values.(*vars.Map)
			if !ok {
				return nil, typeErr("the key %s should point to a dictionary, got '%s'", String(p), String(values))
			}
			k, err := hashKey(p)
			if err != nil {
				return nil, err
			}
			nv, found := m.Get(k)
			if !found {
				if skip {
					values = []any{}
					break
				}
				r, _ := pyRepr(p)
				return nil, fmt.Errorf("could not find %s key in iterated item %s", r, String(values))
			}
			values = nv
		}
		list, ok := values.([]any)
		if !ok {
			r, _ := pyRepr(values)
			return nil, typeErr("the key %s should point to a list, got %s", String(or(a[0], "")), r)
		}
		for _, x := range list {
			out = append(out, tuple{el, x})
		}
	}
	return out, nil
}

func fAttr(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "name")
	if err != nil {
		return nil, err
	}
	name, err := strArg(or(a[0], nil), "attribute name")
	if err != nil {
		return nil, err
	}
	switch v.(type) {
	case *vars.Map:
		if m := method(v, name); m != nil {
			return m, nil
		}
		return &undefined{name: name, hint: fmt.Sprintf("%s has no attribute '%s'", objectRepr(v), name)}, nil
	}
	return c.getattr(v, name, "")
}

// Math.

func fLog(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "base")
	if err != nil {
		return nil, err
	}
	if !isNumber(v) {
		return nil, fmt.Errorf("log() can only be used on numbers: must be real number, not %s", typeName(v))
	}
	x := floatOf(v)
	if x <= 0 {
		return nil, errors.New("math domain error")
	}
	if a[0] == absent {
		return math.Log(x), nil
	}
	if !isNumber(a[0]) {
		return nil, fmt.Errorf("log() can only be used on numbers: must be real number, not %s", typeName(a[0]))
	}
	b := floatOf(a[0])
	if b == 10 {
		return math.Log10(x), nil
	}
	return math.Log(x) / math.Log(b), nil
}

func fPow(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "y")
	if err != nil {
		return nil, err
	}
	if !isNumber(v) || !isNumber(a[0]) {
		return nil, typeErr("pow() can only be used on numbers")
	}
	return math.Pow(floatOf(v), floatOf(a[0])), nil
}

func fRoot(c *ctx, v any, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "base")
	if err != nil {
		return nil, err
	}
	if !isNumber(v) {
		return nil, typeErr("root() can only be used on numbers")
	}
	base := or(a[0], int64(2))
	if !isNumber(base) {
		return nil, typeErr("root() can only be used on numbers")
	}
	if eqBase, _ := equal(base, int64(2)); eqBase {
		if floatOf(v) < 0 {
			return nil, errors.New("math domain error")
		}
		return math.Sqrt(floatOf(v)), nil
	}
	return math.Pow(floatOf(v), 1/floatOf(base)), nil
}
