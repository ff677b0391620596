package modules

import (
	"regexp"
	"testing"
)

// Messages and results follow Ansible 2.14's lineinfile, captured with
//
//	ansible localhost -c local -m lineinfile -a 'path=/tmp/fx/li line=hello create=yes mode=0600' -D
//
// and checked step by step against ansible-playbook in TestAgainstAnsible.
func TestLineinfileModule(t *testing.T) {
	f := newAConn(t)
	aSh(t, f, "umask 022; printf 'a=1\\nb=2\\n' > conf; chmod 0640 conf; ln -s conf link; mkdir dir")
	content := func(want string) string { return `test "$(cat conf; echo .)" = "$(printf '` + want + `.')"` }
	aRunSteps(t, f, "lineinfile", []aStep{
		{name: "missing file", args: map[string]any{"path": "new", "line": "x"},
			want: Result{Failed: true, Msg: "Destination new does not exist !"}, fields: map[string]any{"rc": int64(257)}},
		{name: "create in check mode", args: map[string]any{"path": "new", "line": "x", "create": true}, check: true,
			want: Result{Changed: true, Msg: "line added"}, after: "! test -e new"},
		{name: "create", args: map[string]any{"path": "sub/new", "line": "hello", "create": true, "mode": "0600"}, diff: true,
			want:  Result{Changed: true, Msg: "line added and ownership, perms or SE linux context changed"},
			after: `test "$(cat sub/new)" = hello && test "$(stat -c %a sub/new)" = 600`,
			diffs: []string{" => hello\n", "{\n    \"mode\": \"0644\"\n}\n => {\n    \"mode\": \"0600\"\n}\n"}},
		{name: "present already", args: map[string]any{"path": "sub/new", "line": "hello", "mode": "0600"},
			want: Result{}, fields: map[string]any{"backup": ""}},
		{name: "replace", args: map[string]any{"path": "conf", "regexp": "^b=", "line": "b=3"}, diff: true,
			want: Result{Changed: true, Msg: "line replaced"}, after: content(`a=1\nb=3\n`) + ` && test "$(stat -c %a conf)" = 640`,
			diffs: []string{"a=1\nb=2\n => a=1\nb=3\n"}},
		{name: "replace again", args: map[string]any{"path": "conf", "regexp": "^b=", "line": "b=3"},
			want: Result{}},
		{name: "add in check mode", args: map[string]any{"path": "conf", "line": "c=4"}, check: true,
			want: Result{Changed: true, Msg: "line added"}, after: content(`a=1\nb=3\n`)},
		{name: "add at the top", args: map[string]any{"path": "conf", "line": "# top", "insertbefore": "BOF"},
			want: Result{Changed: true, Msg: "line added"}, after: content(`# top\na=1\nb=3\n`)},
		{name: "add after a match", args: map[string]any{"path": "conf", "line": "a2=1", "insertafter": "^a="},
			want: Result{Changed: true, Msg: "line added"}, after: content(`# top\na=1\na2=1\nb=3\n`)},
		{name: "backrefs", args: map[string]any{"path": "conf", "regexp": `^(\w+)=3$`, "line": `\1=30`, "backrefs": true},
			want: Result{Changed: true, Msg: "line replaced"}, after: content(`# top\na=1\na2=1\nb=30\n`)},
		{name: "backrefs without a match", args: map[string]any{"path": "conf", "regexp": `^nomatch(.*)`, "line": `\1`, "backrefs": true},
			want: Result{}},
		{name: "search string", args: map[string]any{"path": "conf", "search_string": "a2=", "line": "a2=2"},
			want: Result{Changed: true, Msg: "line replaced"}, after: content(`# top\na=1\na2=2\nb=30\n`)},
		{name: "through a symlink", args: map[string]any{"path": "link", "line": "d=5"},
			want: Result{Changed: true, Msg: "line added"}, after: `test -L link && ` + content(`# top\na=1\na2=2\nb=30\nd=5\n`)},
		{name: "remove", args: map[string]any{"path": "conf", "regexp": "^a", "state": "absent"},
			want: Result{Changed: true, Msg: "2 line(s) removed"}, fields: map[string]any{"found": int64(2)}, after: content(`# top\nb=30\nd=5\n`)},
		{name: "remove again", args: map[string]any{"path": "conf", "regexp": "^a", "state": "absent"},
			want: Result{}, fields: map[string]any{"found": int64(0)}},
		{name: "remove from a missing file", args: map[string]any{"path": "nofile", "line": "x", "state": "absent"},
			want: Result{Msg: "file not present"}},
		{name: "a directory", args: map[string]any{"path": "dir", "line": "x"},
			want: Result{Failed: true, Msg: "Path dir is a directory !"}, fields: map[string]any{"rc": int64(256)}},
		{name: "exclusive options", args: map[string]any{"path": "conf", "line": "x", "insertafter": "a", "insertbefore": "b"},
			want: Result{Failed: true, Msg: "parameters are mutually exclusive: insertbefore|insertafter"}},
		{name: "no line", args: map[string]any{"path": "conf", "regexp": "x"},
			want: Result{Failed: true, Msg: "line is required with state=present"}},
		{name: "backrefs need a regexp", args: map[string]any{"path": "conf", "line": "x", "backrefs": true},
			want: Result{Failed: true, Msg: "regexp is required with backrefs=true"}},
		{name: "absent needs something", args: map[string]any{"path": "conf", "state": "absent"},
			want: Result{Failed: true, Msg: "one of line, search_string, or regexp is required with state=absent"}},
		{name: "lookahead", args: map[string]any{"path": "conf", "line": "x", "regexp": "^(?=b)"},
			want: Result{Failed: true, Msg: `the regular expression "^(?=b)" uses "(?=", which fleet's regular expression engine (Go's RE2) does not support: rewrite it without lookaround or backreferences`}},
		{name: "failed validation", args: map[string]any{"path": "conf", "line": "e=6", "validate": "grep -q nothing %s"},
			want: Result{Failed: true, Msg: "failed to validate: rc:1 error:"}, after: content(`# top\nb=30\nd=5\n`) + ` && test "$(ls -a | grep -c fleet-)" = 0`},
	})
}

func TestLineinfileBackupAndCommands(t *testing.T) {
	f := newAConn(t)
	aSh(t, f, "printf 'x\\n' > conf")
	before := f.runs()
	r := aRun(t, f, "lineinfile", map[string]any{"path": "conf", "line": "y", "backup": true})
	if !r.Changed || r.Failed {
		t.Fatalf("%+v", r)
	}
	if n := f.runs() - before; n != 2 {
		t.Errorf("a change took %d commands, want 2", n)
	}
	b, _ := r.Fields["backup"].(string)
	if !regexp.MustCompile(`^conf\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$`).MatchString(b) {
		t.Errorf("backup = %q, want Ansible's conf.PID.YYYY-MM-DD@HH:MM:SS~", b)
	}
	if got := aSh(t, f, "cat '"+b+"'"); got != "x" {
		t.Errorf("backup holds %q, want the old text", got)
	}
	before = f.runs()
	r = aRun(t, f, "lineinfile", map[string]any{"path": "conf", "line": "y", "backup": true})
	if r.Changed || r.Fields["backup"] != "" {
		t.Errorf("second run: %+v", r)
	}
	if n := f.runs() - before; n != 1 {
		t.Errorf("an unchanged file took %d commands, want 1", n)
	}
}

func TestPyExpand(t *testing.T) {
	re := regexp.MustCompile(`(?P<k>\w+)=(\d+)(x)?`)
	text := []byte("port=80")
	idx := re.FindSubmatchIndex(text)
	for tmpl, want := range map[string]string{
		`\1:\2`:       "port:80",
		`\g<k>-\g<2>`: "port-80",
		`[\3]`:        "[]",
		`a\tb\\c\.`:   "a\tb\\c\\.",
		`\101`:        "A",
		`no refs`:     "no refs",
	} {
		got, msg := pyExpand(re, text, idx, []byte(tmpl))
		if msg != "" || string(got) != want {
			t.Errorf("pyExpand(%q) = %q, %q; want %q", tmpl, got, msg, want)
		}
	}
	for _, bad := range []string{`\4`, `\g<nope>`, `\q`} {
		if _, msg := pyExpand(re, text, idx, []byte(bad)); msg == "" {
			t.Errorf("pyExpand(%q) did not fail", bad)
		}
	}
}
