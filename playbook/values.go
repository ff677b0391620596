package playbook

import (
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"unicode"

	"fleetrun.dev/fleet/vars"
)

// asString returns v when it is a string (or an !unsafe one).
func asString(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case vars.Unsafe:
		return string(s), true
	}
	return "", false
}

// scalarString spells a scalar as Python's str() does, for keywords that
// Ansible turns into strings (name, tags, notify).
func scalarString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case vars.Unsafe:
		return string(x), true
	case bool:
		if x {
			return "True", true
		}
		return "False", true
	case int64:
		return strconv.FormatInt(x, 10), true
	case *big.Int:
		return x.String(), true
	case float64:
		return vars.PyFloat(x), true
	case vars.Date:
		return x.String(), true
	case vars.DateTime:
		return x.String(), true
	}
	return "", false
}

// asBool converts v as Ansible's boolean() does for a keyword of type
// bool: YAML booleans, and the strings and numbers it knows as true or
// false.
func asBool(v any) (bool, bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case int64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case float64:
		if x == 0 || x == 1 {
			return x == 1, true
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "y", "yes", "on", "1", "true", "t":
			return true, true
		case "n", "no", "off", "0", "false", "f":
			return false, true
		}
	}
	return false, false
}

// asInt converts v as Python's int() does for a keyword of type int: an
// integer, or a string of decimal digits. Booleans and fractions are
// refused, though Python would take them, because they are always a
// mistake in a playbook.
func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int64:
		return x, true
	case string:
		n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64)
		return n, err == nil
	}
	return 0, false
}

// isTemplate reports whether s holds Jinja2 markup, as Ansible's
// Templar.is_template does with the default delimiters.
func isTemplate(s string) bool {
	return strings.Contains(s, "{{") || strings.Contains(s, "{%") || strings.Contains(s, "{#")
}

// unclosedTemplate returns a description of the first "{{", "{%" or "{#"
// in s that is never closed, or "" when every one is. A stray closing
// "}}" is plain text to Jinja2, so only openings are checked.
func unclosedTemplate(s string) string {
	if strings.Contains(s, "{% raw %}") || strings.Contains(s, "{%raw%}") || strings.Contains(s, "{%- raw") {
		return "" // raw blocks may hold anything
	}
	pairs := [][2]string{{"{{", "}}"}, {"{%", "%}"}, {"{#", "#}"}}
	for i := 0; i < len(s)-1; i++ {
		for _, p := range pairs {
			if !strings.HasPrefix(s[i:], p[0]) {
				continue
			}
			end := strings.Index(s[i+2:], p[1])
			if end < 0 {
				return fmt.Sprintf("%q has no closing %q", excerpt(s[i:]), p[1])
			}
			i += 2 + end + 1
			break
		}
	}
	return ""
}

// excerpt shortens s for a message.
func excerpt(s string) string {
	s = strings.TrimSpace(s)
	if r := []rune(s); len(r) > 40 {
		return string(r[:40]) + "..."
	}
	return s
}

// describe names v's kind for a message.
func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "empty"
	case string:
		return fmt.Sprintf("the string %q", excerpt(x))
	case vars.Unsafe:
		return fmt.Sprintf("the string %q", excerpt(string(x)))
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case int64, *big.Int:
		return fmt.Sprintf("the number %v", x)
	case float64:
		return "the number " + vars.PyFloat(x)
	case []any:
		if len(x) == 0 {
			return "an empty list"
		}
		return "a list"
	case *vars.Map:
		return "a mapping"
	case vars.Date, vars.DateTime:
		return fmt.Sprintf("the date %v", x)
	case vars.Vault:
		return "a vault-encrypted value"
	}
	return fmt.Sprintf("a %T", v)
}

// pyKeywords are Python's reserved words, which Ansible refuses as
// variable names.
var pyKeywords = map[string]bool{
	"False": true, "None": true, "True": true, "and": true, "as": true, "assert": true,
	"async": true, "await": true, "break": true, "class": true, "continue": true, "def": true,
	"del": true, "elif": true, "else": true, "except": true, "finally": true, "for": true,
	"from": true, "global": true, "if": true, "import": true, "in": true, "is": true,
	"lambda": true, "nonlocal": true, "not": true, "or": true, "pass": true, "raise": true,
	"return": true, "try": true, "while": true, "with": true, "yield": true,
}

// isIdentifier reports whether s is a valid variable name, as Ansible's
// isidentifier checks it: an ASCII Python identifier that is not a
// reserved word.
func isIdentifier(s string) bool {
	if s == "" || pyKeywords[s] {
		return false
	}
	for i, r := range s {
		switch {
		case r > unicode.MaxASCII:
			return false
		case r == '_' || unicode.IsLetter(r):
		case unicode.IsDigit(r) && i > 0:
		default:
			return false
		}
	}
	return true
}

// literal shows a scalar as written, for "serial 0 is not valid"; other
// values are described.
func literal(v any) string {
	switch x := v.(type) {
	case string:
		return fmt.Sprintf("%q", excerpt(x))
	case int64, *big.Int, bool:
		return fmt.Sprint(x)
	case float64:
		return vars.PyFloat(x)
	}
	return "(" + describe(v) + ")"
}
