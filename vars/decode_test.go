package vars

import (
	"math"
	"math/big"
	"strings"
	"testing"
)

// TestDecodeScalars checks YAML 1.1 typing against Ansible's loader: the
// expectations were printed by ansible-core 2.14 (PyYAML 6) as
// json.dumps(from_yaml("v: " + s)["v"]).
func TestDecodeScalars(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"yes", "true", false},
		{"No", "false", false},
		{"ON", "true", false},
		{"off", "false", false},
		{"true", "true", false},
		{"False", "false", false},
		{"y", "\"y\"", false},
		{"n", "\"n\"", false},
		{"~", "null", false},
		{"null", "null", false},
		{"Null", "null", false},
		{"NULL", "null", false},
		{"", "null", false},
		{"0", "0", false},
		{"-0", "0", false},
		{"+12", "12", false},
		{"0755", "493", false},
		{"0o17", "\"0o17\"", false},
		{"08", "\"08\"", false},
		{"0b101", "5", false},
		{"0x1F", "31", false},
		{"0x_1F", "31", false},
		{"1_000", "1000", false},
		{"1:30", "90", false},
		{"190:20:30", "685230", false},
		{"-1:30", "-90", false},
		{"1.5", "1.5", false},
		{"1.", "1.0", false},
		{"-.5", "\"-.5\"", false},
		{".5", "0.5", false},
		{"1e5", "\"1e5\"", false},
		{"1.0e+5", "100000.0", false},
		{"1.0e5", "\"1.0e5\"", false},
		{"1.5E-3", "0.0015", false},
		{"1_0.5", "10.5", false},
		{"1:30.5", "90.5", false},
		{".inf", "Infinity", false},
		{"-.Inf", "-Infinity", false},
		{".nan", "NaN", false},
		{"2024-05-01", "\"2024-05-01\"", false},
		{"2024-5-1", "\"2024-5-1\"", false},
		{"2024-05-01 10:20:30", "\"2024-05-01T10:20:30\"", false},
		{"2024-05-01t10:20:30.123456789Z", "\"2024-05-01T10:20:30.123456+00:00\"", false},
		{"2024-05-01T10:20:30-05", "\"2024-05-01T10:20:30-05:00\"", false},
		{"2024-05-01 10:20:30 +05:30", "\"2024-05-01T10:20:30+05:30\"", false},
		{"'yes'", "\"yes\"", false},
		{"\"1.5\"", "\"1.5\"", false},
		{"!!str 123", "\"123\"", false},
		{"!!int '42'", "42", false},
		{"!!float '3'", "3.0", false},
		{"!!bool 'yes'", "true", false},
		{"!!null ''", "null", false},
		{"!unsafe '{{ x }}'", "{\"__ansible_unsafe\": \"{{ x }}\"}", false}, // nested, Ansible prints the marker
		{"hello world", "\"hello world\"", false},
		{"a: b", "", true},
		{"- x", "", true},
		{"[1, yes, ~]", "[1, true, null]", false},
		{"{a: 1, b: no}", "{\"a\": 1, \"b\": false}", false},
		{"|\n  line1\n  line2", "\"line1\\nline2\\n\"", false},
		{"1.2.3", "\"1.2.3\"", false},
		{"+.5", "\"+.5\"", false},
		{"._5", "\"._5\"", false},
		{"0.", "0.0", false},
		{"-", "", true},
		{"12e3", "\"12e3\"", false},
		{"123456789012345678901234567890", "123456789012345678901234567890", false},
		{"0x123456789abcdef0123", "5373003642731685151011", false},
	}
	for _, tt := range tests {
		v, _, err := Decode("t.yml", []byte("v: "+tt.in+"\n"))
		if (err != nil) != tt.err {
			t.Errorf("Decode(v: %s) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		got, _ := v.(*Map).Get("v")
		b, err := EncodeJSONCompact(got)
		if err != nil {
			t.Errorf("v: %s: encode %#v: %v", tt.in, got, err)
			continue
		}
		if string(b) != tt.want {
			t.Errorf("v: %s decodes to %s, want %s", tt.in, b, tt.want)
		}
	}
}

func TestDecodeMergeKeys(t *testing.T) {
	doc := `
a: &a {x: 1, y: 1, only_a: 1}
b: &b {x: 2, y: 2, z: 2}
c:
  <<: [*a, *b]
  y: 3
`
	v, warnings, err := Decode("m.yml", []byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	c, _ := v.(*Map).Get("c")
	got, _ := EncodeJSONCompact(c)
	// PyYAML: later merge sources come first, so the first source wins; the
	// mapping's own keys win over both. Ansible warns once for each key met
	// twice: x and y.
	if want := `{"x": 1, "y": 3, "z": 2, "only_a": 1}`; string(got) != want {
		t.Errorf("merged = %s, want %s", got, want)
	}
	if len(warnings) != 2 || !strings.Contains(warnings[0].String(), `duplicate key "x"`) || !strings.Contains(warnings[1].String(), `duplicate key "y"`) {
		t.Errorf("warnings = %v, want one about x and one about y", warnings)
	}
}

func TestDecodeJSONFirst(t *testing.T) {
	// Valid JSON is read as JSON: 1e5 is a float there, a string in YAML.
	v, _, err := Decode("j.json", []byte(`{"a": 1e5, "b": 1, "c": {"__ansible_unsafe": "{{ x }}"}, "d": {"__ansible_vault": "$ANSIBLE_VAULT;1.1;AES256\n61"}}`))
	if err != nil {
		t.Fatal(err)
	}
	m := v.(*Map)
	if a, _ := m.Get("a"); a != 100000.0 {
		t.Errorf("a = %#v, want 100000.0", a)
	}
	if c, _ := m.Get("c"); c != Unsafe("{{ x }}") {
		t.Errorf("c = %#v, want Unsafe", c)
	}
	if d, _ := m.Get("d"); d != (Vault{Ciphertext: "$ANSIBLE_VAULT;1.1;AES256\n61"}) {
		t.Errorf("d = %#v, want Vault", d)
	}
	if m.Line("b") != 1 {
		t.Errorf("line of b = %d, want 1", m.Line("b"))
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		doc  string
		line int
		msg  string
	}{
		{"a:\n  b: 1\n c: 2\n", 3, "YAML syntax error"},
		{"a: [1, 2\nb: 3\n", 1, "YAML syntax error"}, // the unclosed [ is on line 1
		{"a: 'x\n", 1, "YAML syntax error"},
		{"a: 1\n---\nb: 2\n", 2, "expected a single YAML document"},
		{"a: !vaultx x\n", 1, "YAML tag !vaultx is not supported"},
		{"a: *nope\n", 1, "YAML syntax error"},
		{"$ANSIBLE_VAULT;1.1;AES256\n616161\n", 1, "encrypted with ansible-vault"},
		{"{[1]: 2}\n", 1, "mapping key must be a scalar"},
	}
	for _, tt := range tests {
		_, _, err := Decode("e.yml", []byte(tt.doc))
		if err == nil {
			t.Errorf("Decode(%q) succeeded, want %q", tt.doc, tt.msg)
			continue
		}
		if !strings.Contains(err.Error(), tt.msg) || !strings.HasPrefix(err.Error(), "e.yml:") {
			t.Errorf("Decode(%q) = %v, want e.yml:...%q", tt.doc, err, tt.msg)
		}
		if e, ok := err.(interface{ Error() string }); ok && !strings.Contains(e.Error(), "e.yml:"+itoa(tt.line)+":") {
			t.Errorf("Decode(%q) = %v, want line %d", tt.doc, err, tt.line)
		}
	}
}

func itoa(n int) string { return big.NewInt(int64(n)).String() }

func TestDecodeAliasBomb(t *testing.T) {
	// A "billion laughs" document must fail, not exhaust memory.
	doc := "a: &a [x, x, x, x, x, x, x, x, x, x]\n"
	prev := "a"
	for i := 0; i < 12; i++ {
		name := string(rune('b' + i))
		doc += name + ": &" + name + " [" + strings.Repeat("*"+prev+", ", 9) + "*" + prev + "]\n"
		prev = name
	}
	if _, _, err := Decode("bomb.yml", []byte(doc)); err == nil {
		t.Fatal("Decode of an alias bomb succeeded")
	}
}

func TestPyFloat(t *testing.T) {
	// Python's repr() of each value.
	tests := []struct {
		f    float64
		want string
	}{
		{0, "0.0"}, {math.Copysign(0, -1), "-0.0"}, {1, "1.0"}, {1.5, "1.5"}, {0.1, "0.1"},
		{100000, "100000.0"}, {1e15, "1000000000000000.0"}, {1e16, "1e+16"}, {1.5e16, "1.5e+16"},
		{123456789012345678, "1.2345678901234568e+17"}, {0.0001, "0.0001"}, {0.00001, "1e-05"},
		{3e-5, "3e-05"}, {1.5e-7, "1.5e-07"}, {1e100, "1e+100"}, {-2.5, "-2.5"},
		{math.Inf(1), "Infinity"}, {math.Inf(-1), "-Infinity"}, {math.NaN(), "NaN"},
		{1.0 / 3, "0.3333333333333333"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"},
	}
	for _, tt := range tests {
		if got := PyFloat(tt.f); got != tt.want {
			t.Errorf("PyFloat(%v) = %s, want %s", tt.f, got, tt.want)
		}
	}
}

func TestEncodeJSON(t *testing.T) {
	m := NewMap()
	m.Set("b", []any{int64(1), "two", nil, true, 2.5})
	m.Set("a", "quote\" back\\ nl\n tab\t ctl\x01 é ☃ <>&")
	m.Set("c", NewMap())
	m.Set("d", []any{})
	m.Set("e", Unsafe("{{ raw }}"))
	m.Set("f", Date{2024, 5, 1})
	got, sorted, err := EncodeJSON(m)
	if err != nil || !sorted {
		t.Fatal(err, sorted)
	}
	want := `{
    "a": "quote\" back\\ nl\n tab\t ctl\u0001 é ☃ <>&",
    "b": [
        1,
        "two",
        null,
        true,
        2.5
    ],
    "c": {},
    "d": [],
    "e": {
        "__ansible_unsafe": "{{ raw }}"
    },
    "f": "2024-05-01"
}`
	if string(got) != want {
		t.Errorf("EncodeJSON =\n%s\nwant\n%s", got, want)
	}
}

func TestEncodeJSONKeyOrder(t *testing.T) {
	nums := NewMap()
	for _, k := range []any{int64(10), int64(9), 1.5, true} {
		_ = nums.SetKey(k, 0, "x")
	}
	got, sorted, _ := EncodeJSON(nums)
	// Numbers sort numerically, True counting as 1.
	if want := "{\n    \"true\": \"x\",\n    \"1.5\": \"x\",\n    \"9\": \"x\",\n    \"10\": \"x\"\n}"; !sorted || string(got) != want {
		t.Errorf("numeric keys: got %s (sorted %v), want %s", got, sorted, want)
	}
	mixed := NewMap()
	_ = mixed.SetKey("b", 0, 1)
	_ = mixed.SetKey(int64(1), 0, 2)
	_ = mixed.SetKey("a", 0, 3)
	got, sorted, _ = EncodeJSON(mixed)
	if want := "{\n    \"b\": 1,\n    \"1\": 2,\n    \"a\": 3\n}"; sorted || string(got) != want {
		t.Errorf("mixed keys: got %s (sorted %v), want definition order %s", got, sorted, want)
	}
}

func TestCombine(t *testing.T) {
	a, b := NewMap(), NewMap()
	a.Set("x", 1)
	a.Set("d", NewMap())
	b.Set("y", 2)
	b.Set("x", 3)
	inner := NewMap()
	inner.Set("k", "v")
	b.Set("d", inner)
	c := Combine(a, b)
	got, _ := EncodeJSONCompact(c)
	// Replace, not merge: b's "d" replaces a's whole; order as Python's a | b.
	if want := `{"x": 3, "d": {"k": "v"}, "y": 2}`; string(got) != want {
		t.Errorf("Combine = %s, want %s", got, want)
	}
	if a.Len() != 2 {
		t.Errorf("Combine modified its first argument")
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"all:\n  hosts:\n    a:\n      x: 1\n",
		"a: &a {x: 1}\nb:\n  <<: *a\n",
		`{"a": [1, 2.5, null, true]}`,
		"v: 2024-05-01 10:20:30 +05:30\n",
		"v: !unsafe '{{ x }}'\nw: !vault |\n  $ANSIBLE_VAULT;1.1;AES256\n  6161\n",
		"- [a, {b: c}]\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, _, err := Decode("f.yml", data)
		if err != nil {
			return
		}
		if _, _, err := EncodeJSON(v); err != nil {
			t.Fatalf("decoded value cannot be encoded: %v", err)
		}
	})
}
