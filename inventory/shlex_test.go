package inventory

import (
	"encoding/json"
	"testing"
)

// TestShlexSplit checks INI host-line splitting against Python's
// shlex.split(s, comments=True); the expectations were printed by Python.
func TestShlexSplit(t *testing.T) {
	tests := []struct {
		in, want string
		err      bool
	}{
		{"host a=1 b=2", "[\"host\", \"a=1\", \"b=2\"]", false},
		{"host a='x y' b=\"q\\\"z\"", "[\"host\", \"a=x y\", \"b=q\\\"z\"]", false},
		{"host a=b#c d=e", "[\"host\", \"a=b\"]", false},
		{"host #comment", "[\"host\"]", false},
		{"host a=#", "[\"host\", \"a=\"]", false},
		{"h 'a#b'", "[\"h\", \"a#b\"]", false},
		{"h a\\ b", "[\"h\", \"a b\"]", false},
		{"h \"a\\nb\"", "[\"h\", \"a\\\\nb\"]", false},
		{"h 'a\\nb'", "[\"h\", \"a\\\\nb\"]", false},
		{"h ''", "[\"h\", \"\"]", false},
		{"h \"\"x", "[\"h\", \"x\"]", false},
		{"h a=''", "[\"h\", \"a=\"]", false},
		{"h\ta=1", "[\"h\", \"a=1\"]", false},
		{"h 'unterminated", "null", true},
		{"h trailing\\", "null", true},
		{"h \"\\\\\"", "[\"h\", \"\\\\\"]", false},
		{"h a\"b c\"d", "[\"h\", \"ab cd\"]", false},
		{"#all comment", "[]", false},
		{"h a=1;b", "[\"h\", \"a=1;b\"]", false},
		{"h ;x", "[\"h\", \";x\"]", false},
		{"h é=ü", "[\"h\", \"é=ü\"]", false},
	}
	for _, tt := range tests {
		got, err := shlexSplit(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("shlexSplit(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		if got == nil {
			got = []string{}
		}
		if b, _ := json.Marshal(got); !jsonEqual(t, string(b), tt.want) {
			t.Errorf("shlexSplit(%q) = %s, want %s", tt.in, b, tt.want)
		}
	}
}
