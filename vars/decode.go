package vars

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"fleetrun.dev/fleet/diag"
	"go.yaml.in/yaml/v3"
)

// Decode parses data, the content of the file called name, as Ansible's
// loader does: as JSON when it is valid JSON, otherwise as one YAML document
// typed by YAML 1.1 rules (yes/no/on/off are booleans, 0755 is octal, 1:30 is
// sexagesimal). An empty document decodes to nil.
//
// Warnings report duplicate mapping keys, which Ansible also warns about. The
// error, if any, is a *diag.Error naming the file and line.
func Decode(name string, data []byte) (any, []diag.Warning, error) {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("$ANSIBLE_VAULT;")) {
		return nil, nil, &diag.Error{File: name, Line: 1,
			Msg:  "the file is encrypted with ansible-vault, which fleet cannot decrypt",
			Hint: "decrypt it with `ansible-vault decrypt`, or keep the secret out of the inventory"}
	}
	if v, ok := decodeJSON(name, data); ok {
		return v, nil, nil
	}
	d := &yamlDecoder{file: name, budget: 100_000 + 10*len(data)}
	v, err := d.decodeDocument(data)
	if err != nil {
		return nil, nil, err
	}
	return v, d.warnings, nil
}

type yamlDecoder struct {
	file     string
	warnings []diag.Warning
	depth    int
	budget   int // nodes left to build; aliases can multiply a document
}

// maxDepth bounds alias expansion and nesting, so that a hostile document
// ("billion laughs", or an alias cycle) fails instead of exhausting memory.
const maxDepth = 1000

func (d *yamlDecoder) errorf(line int, hint, format string, args ...any) error {
	return &diag.Error{File: d.file, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (d *yamlDecoder) decodeDocument(data []byte) (v any, err error) {
	defer func() {
		// yaml.v3 is not known to panic on bad input, but a loader must
		// never take the program down with it.
		if r := recover(); r != nil {
			err = d.errorf(0, "", "cannot parse YAML: %v", r)
		}
	}()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, nil
		}
		return nil, d.syntaxError(data, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		return nil, d.errorf(extra.Line, "keep one document per file, or remove the extra `---` line",
			"expected a single YAML document, but found another one")
	} else if !errors.Is(err, io.EOF) {
		return nil, d.syntaxError(data, err)
	}
	if doc.Kind == yaml.DocumentNode {
		if len(doc.Content) == 0 {
			return nil, nil
		}
		return d.node(doc.Content[0])
	}
	return d.node(&doc)
}

func (d *yamlDecoder) syntaxError(data []byte, err error) error {
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	line := 0
	if m := yamlLineRE.FindStringSubmatch(err.Error()); m != nil {
		line, _ = strconv.Atoi(m[1])
		msg = m[2]
	}
	// yaml.v3 reports the line where the enclosing block starts, which may
	// be far above the mistake. The first line at which a prefix of the
	// document stops parsing is where the mistake is.
	if p := problemLine(data); p > 0 {
		line = p
	}
	return &diag.Error{File: d.file, Line: line, Msg: "YAML syntax error: " + msg, Err: err,
		Hint: "check the indentation (spaces, not tabs) and quoting on that line and the one before"}
}

// problemLine returns the smallest n such that the document's first n lines
// do not parse, found by bisection, or 0.
func problemLine(data []byte) int {
	var starts []int // byte offset where each line ends
	for i, b := range data {
		if b == '\n' {
			starts = append(starts, i+1)
		}
	}
	if len(data) > 0 && data[len(data)-1] != '\n' {
		starts = append(starts, len(data))
	}
	parses := func(n int) bool {
		var doc yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(data[:starts[n-1]]))
		for {
			if err := dec.Decode(&doc); err != nil {
				return errors.Is(err, io.EOF)
			}
		}
	}
	lo, hi := 1, len(starts) // invariant: the first hi lines fail to parse
	if hi == 0 || parses(hi) {
		return 0
	}
	for lo < hi {
		mid := (lo + hi) / 2
		if parses(mid) {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return hi
}

func (d *yamlDecoder) node(n *yaml.Node) (any, error) {
	d.depth++
	defer func() { d.depth-- }()
	if d.budget--; d.budget < 0 {
		return nil, d.errorf(n.Line, "use fewer aliases (*name)", "the YAML document expands to too many values through its aliases")
	}
	if d.depth > maxDepth {
		return nil, d.errorf(n.Line, "", "YAML nesting or alias expansion deeper than %d levels", maxDepth)
	}
	switch n.Kind {
	case yaml.AliasNode:
		if n.Alias == nil {
			return nil, d.errorf(n.Line, "", "unknown alias %q", n.Value)
		}
		return d.node(n.Alias)
	case yaml.ScalarNode:
		return d.scalar(n)
	case yaml.SequenceNode:
		if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!seq" && n.Tag != "!unsafe" {
			return nil, d.unknownTag(n)
		}
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := d.node(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		if n.Tag == "!unsafe" {
			return wrapUnsafe(out), nil
		}
		return out, nil
	case yaml.MappingNode:
		if n.Style&yaml.TaggedStyle != 0 && n.Tag != "!!map" && n.Tag != "!unsafe" {
			return nil, d.unknownTag(n)
		}
		m, err := d.mapping(n)
		if err != nil {
			return nil, err
		}
		if n.Tag == "!unsafe" {
			return wrapUnsafe(m), nil
		}
		return m, nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return d.node(n.Content[0])
	}
	return nil, d.errorf(n.Line, "", "unexpected YAML node")
}

func (d *yamlDecoder) unknownTag(n *yaml.Node) error {
	return d.errorf(n.Line, "remove the tag, or quote the value to make it a string",
		"YAML tag %s is not supported here", n.Tag)
}

type pair struct{ key, value *yaml.Node }

// flatten resolves merge keys (`<<`) the way PyYAML's flatten_mapping does:
// merged pairs come first, in reverse order of a merge list, and the
// mapping's own pairs follow, so that they win.
func (d *yamlDecoder) flatten(n *yaml.Node, depth int) ([]pair, error) {
	if depth > maxDepth {
		return nil, d.errorf(n.Line, "", "YAML merge keys nested deeper than %d levels", maxDepth)
	}
	var merged, own []pair
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if !isMergeKey(k) {
			own = append(own, pair{k, v})
			continue
		}
		for v.Kind == yaml.AliasNode && v.Alias != nil {
			v = v.Alias
		}
		switch v.Kind {
		case yaml.MappingNode:
			ps, err := d.flatten(v, depth+1)
			if err != nil {
				return nil, err
			}
			merged = append(merged, ps...)
		case yaml.SequenceNode:
			var subs [][]pair
			for _, s := range v.Content {
				for s.Kind == yaml.AliasNode && s.Alias != nil {
					s = s.Alias
				}
				if s.Kind != yaml.MappingNode {
					return nil, d.errorf(s.Line, "", "expected a mapping for merging (<<), but found %s", kindName(s))
				}
				ps, err := d.flatten(s, depth+1)
				if err != nil {
					return nil, err
				}
				subs = append(subs, ps)
			}
			for i := len(subs) - 1; i >= 0; i-- {
				merged = append(merged, subs[i]...)
			}
		default:
			return nil, d.errorf(v.Line, "", "expected a mapping or list of mappings for merging (<<), but found %s", kindName(v))
		}
	}
	return append(merged, own...), nil
}

func isMergeKey(k *yaml.Node) bool {
	return k.Kind == yaml.ScalarNode && k.Value == "<<" && k.Style&^yaml.TaggedStyle == 0 &&
		(k.Style&yaml.TaggedStyle == 0 || k.Tag == "!!merge")
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.ScalarNode:
		return "a scalar"
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.MappingNode:
		return "a mapping"
	}
	return "something else"
}

func (d *yamlDecoder) mapping(n *yaml.Node) (*Map, error) {
	pairs, err := d.flatten(n, 0)
	if err != nil {
		return nil, err
	}
	m := NewMap()
	warned := map[string]bool{}
	for _, p := range pairs {
		kv, err := d.node(p.key)
		if err != nil {
			return nil, err
		}
		if u, ok := kv.(Unsafe); ok {
			kv = string(u)
		}
		switch kv.(type) {
		case *Map, []any:
			return nil, d.errorf(p.key.Line, "use a string as the key", "a mapping key must be a scalar, not %s", kindName(p.key))
		}
		key, err := KeyString(kv)
		if err != nil {
			return nil, d.errorf(p.key.Line, "quote the key", "%v", err)
		}
		if m.Has(key) && !warned[key] {
			// As Ansible, once per key and mapping, merge keys included.
			warned[key] = true
			d.warnings = append(d.warnings, diag.Warning{File: d.file, Line: p.key.Line,
				Msg: fmt.Sprintf("duplicate key %q in a mapping (it starts at line %d); the last value wins", key, n.Line)})
		}
		v, err := d.node(p.value)
		if err != nil {
			return nil, err
		}
		_ = m.SetKey(kv, p.key.Line, v) // KeyString accepted kv above
	}
	return m, nil
}

// nullKey records that a key was YAML null, since a nil orig means "string".
type nullKey struct{}

// IsNullKey reports whether an OrigKey result stands for a null key.
func IsNullKey(k any) bool { _, ok := k.(nullKey); return ok }

// KeyString spells a non-string mapping key the way Python's json.dumps does.
func KeyString(k any) (string, error) {
	switch kv := k.(type) {
	case string:
		return kv, nil
	case nil, nullKey:
		return "null", nil
	case bool:
		if kv {
			return "true", nil
		}
		return "false", nil
	case int64, *big.Int, float64:
		return string(appendScalar(nil, kv)), nil
	case Date:
		return kv.ISO(), nil
	case DateTime:
		return kv.ISO(), nil
	}
	return "", fmt.Errorf("unsupported mapping key type %T", k)
}

var (
	reYAMLBool      = regexp.MustCompile(`^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$`)
	reYAMLFloat     = regexp.MustCompile(`^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$`)
	reYAMLInt       = regexp.MustCompile(`^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$`)
	reYAMLNull      = regexp.MustCompile(`^(?:~|null|Null|NULL|)$`)
	reYAMLTime      = regexp.MustCompile(`^(?:[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9](?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?)$`)
	reYAMLTimeParts = regexp.MustCompile(`^([0-9][0-9][0-9][0-9])-([0-9][0-9]?)-([0-9][0-9]?)(?:(?:[Tt]|[ \t]+)([0-9][0-9]?):([0-9][0-9]):([0-9][0-9])(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9][0-9]?)(?::([0-9][0-9]))?))?)?$`)
)

// resolve returns the YAML 1.1 tag PyYAML gives a plain scalar.
func resolve(s string) string {
	switch {
	case reYAMLBool.MatchString(s):
		return "!!bool"
	case reYAMLFloat.MatchString(s):
		return "!!float"
	case reYAMLInt.MatchString(s):
		return "!!int"
	case s == "<<":
		return "!!merge"
	case reYAMLNull.MatchString(s):
		return "!!null"
	case reYAMLTime.MatchString(s):
		return "!!timestamp"
	case s == "=":
		return "!!value"
	}
	return "!!str"
}

func (d *yamlDecoder) scalar(n *yaml.Node) (any, error) {
	tag := "!!str"
	switch {
	case n.Style&yaml.TaggedStyle != 0:
		tag = n.Tag
	case n.Style == 0:
		tag = resolve(n.Value)
	}
	switch tag {
	case "!!str", "!", "!!merge":
		return n.Value, nil
	case "!unsafe":
		return Unsafe(n.Value), nil
	case "!vault", "!vault-encrypted":
		return Vault{Ciphertext: n.Value}, nil
	case "!!null":
		return nil, nil
	case "!!bool":
		switch strings.ToLower(n.Value) {
		case "yes", "true", "on":
			return true, nil
		case "no", "false", "off":
			return false, nil
		}
	case "!!int":
		if v, ok := yamlInt(n.Value); ok {
			return v, nil
		}
	case "!!float":
		if v, ok := yamlFloat(n.Value); ok {
			return v, nil
		}
	case "!!timestamp":
		if v, ok := yamlTimestamp(n.Value); ok {
			return v, nil
		}
		return nil, d.errorf(n.Line, "quote it to keep it a string", "%q looks like a timestamp but is not a valid date", n.Value)
	case "!!value":
		return nil, d.errorf(n.Line, "quote it: '='", "a plain `=` is YAML's value key, which Ansible cannot load")
	default:
		return nil, d.unknownTag(n)
	}
	return nil, d.errorf(n.Line, "quote the value to make it a string", "cannot read %q as %s", n.Value, strings.TrimPrefix(tag, "!!"))
}

func yamlInt(s string) (any, bool) {
	s = strings.ReplaceAll(s, "_", "")
	if s == "" {
		return nil, false
	}
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	var b big.Int
	ok := true
	switch {
	case s == "0":
		return int64(0), true
	case strings.HasPrefix(s, "0b"):
		_, ok = b.SetString(s[2:], 2)
	case strings.HasPrefix(s, "0x"):
		_, ok = b.SetString(s[2:], 16)
	case strings.HasPrefix(s, "0"):
		_, ok = b.SetString(s, 8)
	case strings.Contains(s, ":"):
		var sixty = big.NewInt(60)
		for _, part := range strings.Split(s, ":") {
			var p big.Int
			if _, ok := p.SetString(part, 10); !ok {
				return nil, false
			}
			b.Mul(&b, sixty)
			b.Add(&b, &p)
		}
	default:
		_, ok = b.SetString(s, 10)
	}
	if !ok {
		return nil, false
	}
	if neg {
		b.Neg(&b)
	}
	return NormInt(&b), true
}

func yamlFloat(s string) (any, bool) {
	s = strings.ToLower(strings.ReplaceAll(s, "_", ""))
	if s == "" {
		return nil, false
	}
	sign := 1.0
	if s[0] == '-' || s[0] == '+' {
		if s[0] == '-' {
			sign = -1
		}
		s = s[1:]
	}
	switch {
	case s == ".inf":
		return sign * math.Inf(1), true
	case s == ".nan":
		return math.NaN(), true
	case strings.Contains(s, ":"):
		v := 0.0
		for _, part := range strings.Split(s, ":") {
			p, err := strconv.ParseFloat(part, 64)
			if err != nil {
				return nil, false
			}
			v = v*60 + p
		}
		return sign * v, true
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, false
	}
	return sign * v, true
}

func yamlTimestamp(s string) (any, bool) {
	m := reYAMLTimeParts.FindStringSubmatch(s)
	if m == nil {
		return nil, false
	}
	atoi := func(s string) int { n, _ := strconv.Atoi(s); return n }
	year, month, day := atoi(m[1]), atoi(m[2]), atoi(m[3])
	valid := func(t time.Time) bool {
		return t.Year() == year && int(t.Month()) == month && t.Day() == day
	}
	if m[4] == "" {
		t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
		if !valid(t) || year < 1 {
			return nil, false
		}
		return Date{year, month, day}, true
	}
	hour, minute, second := atoi(m[4]), atoi(m[5]), atoi(m[6])
	if hour > 23 || minute > 59 || second > 59 {
		return nil, false
	}
	frac := m[7]
	if len(frac) > 6 {
		frac = frac[:6]
	}
	for len(frac) < 6 {
		frac += "0"
	}
	us := atoi(frac)
	loc := time.UTC
	hasZone := m[8] != ""
	if m[9] != "" {
		off := atoi(m[10])*3600 + atoi(m[11])*60
		if m[9] == "-" {
			off = -off
		}
		loc = time.FixedZone("", off)
	}
	t := time.Date(year, time.Month(month), day, hour, minute, second, us*1000, loc)
	if !valid(t) || year < 1 {
		return nil, false
	}
	return DateTime{Time: t, HasZone: hasZone}, true
}

// wrapUnsafe marks every string inside v as Unsafe, as Ansible's wrap_var
// does for a `!unsafe` collection.
func wrapUnsafe(v any) any {
	switch x := v.(type) {
	case string:
		return Unsafe(x)
	case []any:
		for i := range x {
			x[i] = wrapUnsafe(x[i])
		}
		return x
	case *Map:
		for _, k := range x.keys {
			x.vals[k] = wrapUnsafe(x.vals[k])
		}
		return x
	}
	return v
}
