package playbook

import (
	"reflect"
	"testing"
)

// TestParseKV checks free-form splitting against what Ansible 2.14's
// parse_kv returns for the same strings (recorded with
// ansible.parsing.splitter.parse_kv).
func TestParseKV(t *testing.T) {
	tests := []struct {
		in       string
		checkRaw bool
		opts     []kvPair
		raw      string // "" when there is none
		err      bool
	}{
		{"echo hi", true, nil, "echo hi", false},
		{"ls -l /tmp chdir=/tmp creates=/tmp/x", true, []kvPair{{"chdir", "/tmp"}, {"creates", "/tmp/x"}}, "ls -l /tmp", false},
		{`echo "a b"  c=d`, true, nil, `echo "a b"  c=d`, false},
		{`src=a dest="/b c"`, false, []kvPair{{"src", "a"}, {"dest", "/b c"}}, "", false},
		{"msg='it''s'", false, []kvPair{{"msg", "it''s"}}, "", false},
		{`msg="hello {{ name }}" var=x`, false, []kvPair{{"msg", "hello {{ name }}"}, {"var", "x"}}, "", false},
		{"a=1 a=2", false, []kvPair{{"a", "2"}}, "", false},
		{`x=a\nb`, false, []kvPair{{"x", "a\nb"}}, "", false},
		{"echo {{ a | default('x y') }} done", true, nil, "echo {{ a | default('x y') }} done", false},
		{"k=v\nk2=v2", false, []kvPair{{"k", "v"}, {"k2", "v2"}}, "", false},
		{"cmd \\\n more", true, nil, "cmd more", false},
		{"=x y", false, nil, "=x y", false},
		{`a\=b`, false, nil, "a=b", false},
		{`msg="\u00e9t\x41"`, false, []kvPair{{"msg", "étA"}}, "", false},
		{"key = value", false, nil, "key = value", false},
		{"{% if x %}a=b{% endif %}", false, []kvPair{{"{% if x %}a", "b{% endif %}"}}, "", false},
		{"echo 'unterminated", true, nil, "", true},
		{"removes=/x warn=no stdin=abc echo", true, []kvPair{{"removes", "/x"}, {"warn", "no"}, {"stdin", "abc"}}, "echo", false},
		{"url=http://x/?a=b", false, []kvPair{{"url", "http://x/?a=b"}}, "", false},
		{"\nfoo", true, nil, "", true},
		{"  x", true, nil, "", true},
	}
	for _, tt := range tests {
		opts, raw, hasRaw, err := parseKV(tt.in, tt.checkRaw)
		if (err != nil) != tt.err {
			t.Errorf("parseKV(%q) error = %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if tt.err {
			continue
		}
		if !reflect.DeepEqual(opts, tt.opts) {
			t.Errorf("parseKV(%q) options = %q, want %q", tt.in, opts, tt.opts)
		}
		if raw != tt.raw || hasRaw != (tt.raw != "") {
			t.Errorf("parseKV(%q) raw = %q (%v), want %q", tt.in, raw, hasRaw, tt.raw)
		}
	}
}

func TestUnclosedTemplate(t *testing.T) {
	tests := []struct {
		in   string
		want bool // unclosed
	}{
		{"plain", false},
		{"{{ a }}", false},
		{"{{ a }} and {{ b", true},
		{"{{ a }", true},
		{"}} stray close is text", false},
		{"{% if x %}y{% endif %}", false},
		{"{% if x }}", true},
		{"{# note", true},
		{"{{ '{{' }}", false},
		{"{% raw %}{{ {% endraw %}", false},
		{"{", false},
	}
	for _, tt := range tests {
		if got := unclosedTemplate(tt.in) != ""; got != tt.want {
			t.Errorf("unclosedTemplate(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestSuggest(t *testing.T) {
	tests := []struct {
		word  string
		cands []string
		want  string
	}{
		{"whn", []string{"when", "name"}, "when"},
		{"become-user", []string{"become", "become_user"}, "become_user"},
		{"max_fail_percent", []string{"max_fail_percentage", "serial"}, "max_fail_percentage"},
		{"xyz", []string{"when", "name"}, ""},
		{"a", []string{"b"}, ""},
	}
	for _, tt := range tests {
		if got := suggest(tt.word, tt.cands); got != tt.want {
			t.Errorf("suggest(%q) = %q, want %q", tt.word, got, tt.want)
		}
	}
}

func TestIsIdentifier(t *testing.T) {
	for s, want := range map[string]bool{
		"out": true, "_x1": true, "my-var": false, "1abc": false, "class": false, "": false, "café": false, "a b": false,
	} {
		if got := isIdentifier(s); got != want {
			t.Errorf("isIdentifier(%q) = %v, want %v", s, got, want)
		}
	}
}
