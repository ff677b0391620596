package playbook

import (
	"errors"
	"strings"
	"testing"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

func TestParseExtraVars(t *testing.T) {
	tests := []struct {
		arg  string
		want string // the mapping as compact JSON
	}{
		{"", "{}"},
		{"a=1 b=two", `{"a": "1", "b": "two"}`},
		{`msg="hello world" n=5`, `{"msg": "hello world", "n": "5"}`},
		{`x='{{ y }}'`, `{"x": "{{ y }}"}`},
		{`{"a": 1, "b": [true, null]}`, `{"a": 1, "b": [true, null]}`},
		{"{a: yes, b: 0755}", `{"a": true, "b": 493}`},
		{"@testdata/extravars/vars.yml", `{"release": 42, "hosts": ["a", "b"]}`},
	}
	for _, tt := range tests {
		m, err := ParseExtraVars(tt.arg, ".")
		if err != nil {
			t.Errorf("ParseExtraVars(%q): %v", tt.arg, err)
			continue
		}
		got, err := vars.EncodeJSONCompact(m)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != tt.want {
			t.Errorf("ParseExtraVars(%q) = %s, want %s", tt.arg, got, tt.want)
		}
	}
}

func TestParseExtraVarsBaseDir(t *testing.T) {
	m, err := ParseExtraVars("@vars.yml", "testdata/extravars")
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := m.Get("release"); v != int64(42) {
		t.Errorf("release = %v, want 42", v)
	}
}

func TestParseExtraVarsErrors(t *testing.T) {
	tests := []struct{ arg, msg, hint string }{
		{"./vars.yml", "looks like a file name", "-e @./vars.yml"},
		{"/etc/vars.yml", "looks like a file name", "-e @/etc/vars.yml"},
		{"[1, 2]", "must be a mapping, but -e gave a list", "-e name=value"},
		{"justaword", "takes name=value pairs", "-e name=value"},
		{`a="unterminated`, "cannot split", "quote"},
		{"@testdata/extravars/absent.yml", "cannot read the file", "check the path"},
		{"@testdata/extravars/list.yml", "must be a mapping, but this file holds a list", "mapping"},
		{"{a: [}", "YAML syntax error", ""},
	}
	for _, tt := range tests {
		_, err := ParseExtraVars(tt.arg, ".")
		var de *diag.Error
		if !errors.As(err, &de) {
			t.Errorf("ParseExtraVars(%q) = %v, want a *diag.Error", tt.arg, err)
			continue
		}
		if !strings.Contains(de.Error(), tt.msg) || !strings.Contains(de.Hint, tt.hint) {
			t.Errorf("ParseExtraVars(%q) = %v (hint %q), want %q (hint %q)", tt.arg, err, de.Hint, tt.msg, tt.hint)
		}
	}
}
