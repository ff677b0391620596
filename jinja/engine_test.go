package jinja

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"testing"

	"fleetrun.dev/fleet/vars"
)

// mapVars is a host's variables for tests.
type mapVars map[string]any

func (m mapVars) Get(name string) (any, bool) {
	v, ok := m[name]
	return v, ok
}

func bigNum(s string) *big.Int {
	b, _ := new(big.Int).SetString(s, 10)
	return b
}

// caseVars decodes stdVars with a case's extra YAML on top.
func caseVars(t testing.TB, extra string) *vars.Map {
	t.Helper()
	v, _, err := vars.Decode("std.yml", []byte(stdVars))
	if err != nil {
		t.Fatalf("decoding stdVars: %v", err)
	}
	m := v.(*vars.Map)
	if extra != "" {
		x, _, err := vars.Decode("extra.yml", []byte(extra))
		if err != nil {
			t.Fatalf("decoding case vars: %v", err)
		}
		m = vars.Combine(m, x.(*vars.Map))
	}
	return m
}

// canonical spells a value as sorted JSON so that values compare whatever
// their Go types (int vs int64, map vs *vars.Map).
func canonical(v any) string {
	s, err := encodeJSON(plainInput(v), jsonOpts{sortKeys: true, itemSep: ", ", keySep: ": "})
	if err != nil {
		return fmt.Sprintf("<%v>", err)
	}
	return s
}

// run renders one case with the engine.
func (tc tcase) run(e *Engine, vs Vars) (any, error) {
	switch tc.kind {
	case "text":
		return e.RenderText(tc.tmpl, vs)
	case "cond":
		return e.Cond([]string{tc.tmpl}, vs)
	case "eval":
		return e.Eval(tc.tmpl, vs)
	}
	return e.Render(tc.tmpl, vs)
}

func (tc tcase) String() string {
	k := tc.kind
	if k == "" {
		k = "render"
	}
	return fmt.Sprintf("%s %q", k, tc.tmpl)
}

func TestCases(t *testing.T) {
	t.Setenv("FLEET_JINJA_TEST_ENV", "from-env")
	e := New()
	for _, tc := range cases {
		got, err := tc.run(e, caseVars(t, tc.vars))
		if tc.err != "" {
			if err == nil {
				t.Errorf("%v: got %#v, want an error containing %q", tc, got, tc.err)
				continue
			}
			var ue *UndefinedError
			if tc.err == "undefined" {
				if !errors.As(err, &ue) {
					t.Errorf("%v: got error %v (%T), want an *UndefinedError", tc, err, err)
				}
			} else if !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%v: got error %q, want it to contain %q", tc, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%v: unexpected error: %v", tc, err)
			continue
		}
		if g, w := canonical(got), canonical(tc.want); g != w {
			t.Errorf("%v:\n got %s\nwant %s", tc, g, w)
		}
		if tc.kind == "" {
			checkPlain(t, tc.String(), got)
		}
	}
}

// checkPlain fails unless v holds only the plain types Render promises.
func checkPlain(t *testing.T, what string, v any) {
	t.Helper()
	switch x := v.(type) {
	case nil, string, int64, float64, bool, *big.Int:
	case []any:
		for _, e := range x {
			checkPlain(t, what, e)
		}
	case map[string]any:
		for _, e := range x {
			checkPlain(t, what, e)
		}
	default:
		t.Errorf("%s: result holds a %T, not a plain value", what, v)
	}
}
