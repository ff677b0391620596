package inventory

import (
	"testing"

	"fleetrun.dev/fleet/vars"
)

// TestINIValue checks the typing of INI values against Python's
// ast.literal_eval; the expectations were printed by Python 3.11 as
// json.dumps(literal_eval(s)) (sets and tuples as lists, bytes decoded),
// or json.dumps(s) where literal_eval raises.
func TestINIValue(t *testing.T) {
	tests := []struct{ in, want string }{
		{"8080", "8080"},
		{"-5", "-5"},
		{"+5", "5"},
		{"- 5", "-5"},
		{"--5", "\"--5\""},
		{"-(5)", "-5"},
		{"0755", "\"0755\""},
		{"00", "0"},
		{"0_0", "0"},
		{"1_000", "1000"},
		{"1__0", "\"1__0\""},
		{"1_", "\"1_\""},
		{"0x1F", "31"},
		{"0o17", "15"},
		{"0b101", "5"},
		{"0b102", "\"0b102\""},
		{"0x", "\"0x\""},
		{"1.5", "1.5"},
		{"1.", "1.0"},
		{"  .5", "0.5"},
		{".5e3", "500.0"},
		{"1e5", "100000.0"},
		{"1e400", "Infinity"},
		{"1e-400", "0.0"},
		{"1E+3", "1000.0"},
		{"1.5.3", "\"1.5.3\""},
		{"1j", "\"1j\""},
		{"1+2j", "\"1+2j\""},
		{"True", "true"},
		{"False", "false"},
		{"None", "null"},
		{"true", "\"true\""},
		{"yes", "\"yes\""},
		{"'quoted'", "\"quoted\""},
		{"\"dq\"", "\"dq\""},
		{"'a' 'b'", "\"ab\""},
		{"'a' b'b'", "\"'a' b'b'\""},
		{"b'bytes'", "\"bytes\""},
		{"rb'\\d'", "\"\\\\d\""},
		{"r'\\n'", "\"\\\\n\""},
		{"'\\n\\t\\x41\\101\\u00e9'", "\"\\n\\tAAé\""},
		{"'\\d'", "\"\\\\d\""},
		{"'\\x4'", "\"'\\\\x4'\""},
		{"f'x'", "\"f'x'\""},
		{"u'x'", "\"x\""},
		{"[1, 'a', None]", "[1, \"a\", null]"},
		{"[1,]", "[1]"},
		{"[1,,2]", "\"[1,,2]\""},
		{"[]", "[]"},
		{"()", "[]"},
		{"(1)", "1"},
		{"(1,)", "[1]"},
		{"1, 2", "[1, 2]"},
		{"1,", "[1]"},
		{"{}", "{}"},
		{"{'a': 1, 'b': [True]}", "{\"a\": 1, \"b\": [true]}"},
		{"{'a':1,}", "{\"a\": 1}"},
		{"{1: 'x', 2: 'y'}", "{\"1\": \"x\", \"2\": \"y\"}"},
		{"{1, 2}", "[1, 2]"},
		{"set()", "[]"},
		{"[[1, [2, [3]]]]", "[[1, [2, [3]]]]"},
		{"foo", "\"foo\""},
		{"foo # comment", "\"foo # comment\""},
		{"8080 # comment", "8080"},
		{"'x' # c", "\"x\""},
		{"http://x", "\"http://x\""},
		{"/usr/bin/python3", "\"/usr/bin/python3\""},
		{"a=b", "\"a=b\""},
		{"", "\"\""},
		{"{'a': [1, {'b': None}]}", "{\"a\": [1, {\"b\": null}]}"},
		{"1 2", "\"1 2\""},
		{"(1, 2", "\"(1, 2\""},
		{"[1 2]", "\"[1 2]\""},
		{"'unterminated", "\"'unterminated\""},
		{"\"\"\"triple\"\"\"", "\"triple\""},
		{"'''t'''", "\"t\""},
		{"1if 1 else 2", "\"1if 1 else 2\""},
		{"{**a}", "\"{**a}\""},
		{"[*a]", "\"[*a]\""},
		{"0.1", "0.1"},
		{"123456789012345678901234567890", "123456789012345678901234567890"},
		{"-123456789012345678901234567890", "-123456789012345678901234567890"},
		{"0e5", "0.0"},
		{"00.5", "0.5"},
		{"0123e1", "1230.0"},
		{"1.e5", "100000.0"},
		{"-0", "0"},
		{"-0.0", "-0.0"},
		{"~1", "\"~1\""},
		{"not 1", "\"not 1\""},
		{"1<2", "\"1<2\""},
		{"'é'", "\"é\""},
		{"b'\\xc3\\xa9'", "\"é\""},
		{"'\\N{DASH}'", "\"'\\\\N{DASH}'\""},
		{"{True: 1}", "{\"true\": 1}"},
		{"{None: 2}", "{\"null\": 2}"},
		{"(((1)))", "1"},
		{"-(1.5)", "-1.5"},
		{"[1, -2.5e-3]", "[1, -0.0025]"},
		{"'a''b'", "\"ab\""},
		{"1 if True else 2", "\"1 if True else 2\""},
		{"\t7", "7"},
		{"7\t", "7"},
		{"0xFF_FF", "65535"},
		{"0_7", "\"0_7\""},
		{"1e1_0", "10000000000.0"},
	}
	for _, tt := range tests {
		got, err := vars.EncodeJSONCompact(iniValue(tt.in))
		if err != nil {
			t.Errorf("iniValue(%q): encode: %v", tt.in, err)
			continue
		}
		if string(got) != tt.want {
			t.Errorf("iniValue(%q) = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func FuzzINIValue(f *testing.F) {
	for _, s := range []string{"8080", "'a' 'b'", "[1, {'k': (2,)}]", "0x1F", "-(5)", "b'\\xc3\\xa9'", "1e400", "{1, 2}"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v := iniValue(s)
		if _, err := vars.EncodeJSONCompact(v); err != nil {
			t.Fatalf("iniValue(%q) = %#v cannot be encoded: %v", s, v, err)
		}
	})
}

func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := vars.EncodeJSONCompact(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
