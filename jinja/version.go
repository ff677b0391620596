package jinja

import (
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
)

// tVersion is Ansible's version (version_compare) test.
func tVersion(c *ctx, v any, args []any, kw map[string]any) (bool, error) {
	a, err := bind(args, kw, "version", "operator", "strict", "version_type")
	if err != nil {
		return false, err
	}
	ops := map[string]string{
		"==": "eq", "=": "eq", "eq": "eq",
		"<": "lt", "lt": "lt", "<=": "le", "le": "le",
		">": "gt", "gt": "gt", ">=": "ge", "ge": "ge",
		"!=": "ne", "<>": "ne", "ne": "ne",
	}
	strict, err := boolArg(or(a[2], nil), false)
	if err != nil {
		return false, err
	}
	vtype, _ := or(a[3], "").(string)
	if a[2] != absent && a[2] != nil && vtype != "" {
		return false, errors.New("Cannot specify both 'strict' and 'version_type'")
	}
	if t, err := truth(v); err != nil || !t {
		return false, errors.New("Input version value cannot be empty")
	}
	if t, err := truth(or(a[0], "")); err != nil || !t {
		return false, errors.New("Version parameter to compare against cannot be empty")
	}
	if strict {
		vtype = "strict"
	}
	opName, ok := or(a[1], "eq").(string)
	op, known := ops[opName]
	if !ok || !known {
		return false, fmt.Errorf("Invalid operator type (%v). Must be one of '==', '=', 'eq', '<', 'lt', '<=', 'le', '>', 'gt', '>=', 'ge', '!=', '<>', 'ne'", or(a[1], nil))
	}
	x, err := text(v)
	if err != nil {
		return false, err
	}
	y, err := text(a[0])
	if err != nil {
		return false, err
	}
	var cmp int
	switch vtype {
	case "", "loose":
		cmp, err = compareLoose(x, y, op)
	case "strict":
		cmp, err = compareStrict(x, y)
	case "semver", "semantic":
		cmp, err = compareSemver(x, y)
	case "pep440":
		return false, errors.New("the pep440 version_type is not supported by fleet")
	default:
		return false, fmt.Errorf("Invalid version type (%s). Must be one of 'loose', 'strict', 'semver', 'semantic', 'pep440'", vtype)
	}
	if err != nil {
		return false, fmt.Errorf("Version comparison failed: %v", err)
	}
	switch op {
	case "eq":
		return cmp == 0, nil
	case "ne":
		return cmp != 0, nil
	case "lt":
		return cmp < 0, nil
	case "le":
		return cmp <= 0, nil
	case "gt":
		return cmp > 0, nil
	}
	return cmp >= 0, nil
}

var looseComponent = regexp.MustCompile(`\d+|[a-z]+|\.`)

// looseParts splits a version as distutils' LooseVersion does: runs of
// digits (as numbers), runs of lowercase letters, and whatever lies between.
func looseParts(s string) []any {
	var out []any
	add := func(p string) {
		if p == "" || p == "." {
			return
		}
		if p[0] >= '0' && p[0] <= '9' {
			n, ok := new(big.Int).SetString(p, 10)
			if ok {
				out = append(out, n)
				return
			}
		}
		out = append(out, p)
	}
	last := 0
	for _, m := range looseComponent.FindAllStringIndex(s, -1) {
		add(s[last:m[0]])
		add(s[m[0]:m[1]])
		last = m[1]
	}
	add(s[last:])
	return out
}

func compareLoose(x, y, op string) (int, error) {
	a, b := looseParts(x), looseParts(y)
	for i := 0; i < len(a) && i < len(b); i++ {
		an, aNum := a[i].(*big.Int)
		bn, bNum := b[i].(*big.Int)
		switch {
		case aNum && bNum:
			if c := an.Cmp(bn); c != 0 {
				return c, nil
			}
		case !aNum && !bNum:
			if c := strings.Compare(a[i].(string), b[i].(string)); c != 0 {
				return c, nil
			}
		default:
			if op == "eq" || op == "ne" {
				return 1, nil
			}
			at, bt := "int", "str"
			if !aNum {
				at, bt = bt, at
			}
			return 0, fmt.Errorf("'<' not supported between instances of '%s' and '%s'", at, bt)
		}
	}
	return cmpInt(len(a), len(b)), nil
}

var strictVersion = regexp.MustCompile(`^(\d+)\.(\d+)(\.(\d+))?([ab](\d+))?$`)

func compareStrict(x, y string) (int, error) {
	parse := func(s string) ([3]int64, string, int64, error) {
		m := strictVersion.FindStringSubmatch(s)
		if m == nil {
			return [3]int64{}, "", 0, fmt.Errorf("invalid version number '%s'", s)
		}
		var v [3]int64
		for i, g := range []string{m[1], m[2], m[4]} {
			if g != "" {
				n, _ := new(big.Int).SetString(g, 10)
				v[i] = n.Int64()
			}
		}
		var pre string
		var preN int64
		if m[5] != "" {
			pre = m[5][:1]
			n, _ := new(big.Int).SetString(m[6], 10)
			preN = n.Int64()
		}
		return v, pre, preN, nil
	}
	av, ap, an, err := parse(x)
	if err != nil {
		return 0, err
	}
	bv, bp, bn, err := parse(y)
	if err != nil {
		return 0, err
	}
	for i := range av {
		if av[i] != bv[i] {
			return cmpInt64(av[i], bv[i]), nil
		}
	}
	switch {
	case ap == "" && bp == "":
		return 0, nil
	case ap == "":
		return 1, nil
	case bp == "":
		return -1, nil
	}
	if c := strings.Compare(ap, bp); c != 0 {
		return c, nil
	}
	return cmpInt64(an, bn), nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

var semverRe = regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$`)

func compareSemver(x, y string) (int, error) {
	a := semverRe.FindStringSubmatch(x)
	if a == nil {
		return 0, fmt.Errorf("invalid semantic version '%s'", x)
	}
	b := semverRe.FindStringSubmatch(y)
	if b == nil {
		return 0, fmt.Errorf("invalid semantic version '%s'", y)
	}
	for i := 1; i <= 3; i++ {
		an, _ := new(big.Int).SetString(a[i], 10)
		bn, _ := new(big.Int).SetString(b[i], 10)
		if c := an.Cmp(bn); c != 0 {
			return c, nil
		}
	}
	switch {
	case a[4] == "" && b[4] == "":
		return 0, nil
	case a[4] == "":
		return 1, nil
	case b[4] == "":
		return -1, nil
	}
	ap, bp := strings.Split(a[4], "."), strings.Split(b[4], ".")
	for i := 0; i < len(ap) && i < len(bp); i++ {
		an, aNum := new(big.Int).SetString(ap[i], 10)
		bn, bNum := new(big.Int).SetString(bp[i], 10)
		switch {
		case aNum && bNum:
			if c := an.Cmp(bn); c != 0 {
				return c, nil
			}
		case aNum:
			return -1, nil
		case bNum:
			return 1, nil
		default:
			if c := strings.Compare(ap[i], bp[i]); c != 0 {
				return c, nil
			}
		}
	}
	return cmpInt(len(ap), len(bp)), nil
}
