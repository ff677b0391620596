package modules

import (
	"reflect"
	"strings"
	"testing"
)

// aStep is one module call in a sequence run on the same host, with what
// its result and the host must show after it.
type aStep struct {
	name   string
	args   map[string]any
	check  bool
	diff   bool
	want   Result
	fields map[string]any // a subset of the result's fields
	after  string         // a shell test that must hold on the host afterwards
	diffs  []string       // each Diff as "Before => After", when given
}

func aRunSteps(t *testing.T, f *aConn, module string, steps []aStep) {
	t.Helper()
	for _, st := range steps {
		r := aRun(t, f, module, st.args, func(c *Call) { c.Check, c.Diff = st.check, st.diff })
		if !aSameStatus(r, st.want) {
			t.Errorf("%s: got %v %q, want %+v (fields %v)", st.name, [3]bool{r.Changed, r.Failed, r.Skipped}, r.Msg, st.want, r.Fields)
		}
		for k, v := range st.fields {
			if !reflect.DeepEqual(r.Fields[k], v) {
				t.Errorf("%s: %s = %#v, want %#v", st.name, k, r.Fields[k], v)
			}
		}
		if st.after != "" {
			if out, err := f.Run(t.Context(), st.after, nil, nil); err != nil || out.RC != 0 {
				t.Errorf("%s: afterwards, %q does not hold", st.name, st.after)
			}
		}
		if st.diffs != nil {
			var got []string
			for _, d := range r.Diffs {
				got = append(got, d.Before+" => "+d.After)
			}
			if !reflect.DeepEqual(got, st.diffs) {
				t.Errorf("%s: diffs\n%q\nwant\n%q", st.name, got, st.diffs)
			}
		}
	}
}

// The messages, fields and diffs follow Ansible 2.14's file module; the
// sequence in TestAgainstAnsible ran them against ansible-playbook too.
func TestFileModule(t *testing.T) {
	f := newAConn(t)
	d := f.dir
	uid := aInt(aSh(t, f, "id -u"))
	aSh(t, f, "umask 022; echo data > data")
	aRunSteps(t, f, "file", []aStep{
		{name: "touch new in check mode", args: map[string]any{"path": "t", "state": "touch"}, check: true,
			want: Result{Changed: true}, fields: map[string]any{"dest": "t"}, after: "! test -e t"},
		{name: "touch new", args: map[string]any{"path": "t", "state": "touch", "mode": "0640"},
			want: Result{Changed: true}, fields: map[string]any{"dest": "t", "mode": "0640", "state": "file", "size": int64(0), "uid": uid},
			after: `test "$(stat -c %a t)" = 640`},
		{name: "touch again changes times", args: map[string]any{"path": "t", "state": "touch", "mode": "0640"},
			want: Result{Changed: true}},
		{name: "symbolic mode", args: map[string]any{"path": "t", "mode": "u=rw,g=r,o=r"}, diff: true,
			want: Result{Changed: true}, fields: map[string]any{"path": "t", "mode": "0644", "state": "file"},
			diffs: []string{"{\n    \"mode\": \"0640\",\n    \"path\": \"t\"\n}\n => {\n    \"mode\": \"0644\",\n    \"path\": \"t\"\n}\n"}},
		{name: "same mode, octal", args: map[string]any{"path": "t", "mode": int64(0o644)},
			want: Result{}, fields: map[string]any{"mode": "0644"}},
		{name: "mode in check mode", args: map[string]any{"path": "t", "mode": "0600"}, check: true,
			want: Result{Changed: true}, fields: map[string]any{"mode": "0644"}, after: `test "$(stat -c %a t)" = 644`},
		{name: "state=file on a missing file", args: map[string]any{"path": "missing", "state": "file"},
			want: Result{Failed: true, Msg: "file (missing) is absent, cannot continue"}, fields: map[string]any{"state": "absent"}},
		{name: "directories", args: map[string]any{"path": "x/y/z", "state": "directory", "mode": "0750"}, diff: true,
			want: Result{Changed: true}, fields: map[string]any{"path": "x/y/z", "state": "directory", "mode": "0750"},
			after: `test "$(stat -c %a x x/y x/y/z)" = "750
750
750"`,
			diffs: []string{"{\n    \"mode\": \"0755\",\n    \"path\": \"x/y/z\",\n    \"state\": \"absent\"\n}\n => {\n    \"mode\": \"0750\",\n    \"path\": \"x/y/z\",\n    \"state\": \"directory\"\n}\n"}},
		{name: "directories again", args: map[string]any{"path": "x/y/z", "state": "directory", "mode": "0750"},
			want: Result{}},
		{name: "recurse", args: map[string]any{"path": "x", "state": "directory", "mode": "a+rX", "recurse": true},
			want: Result{Changed: true}, after: `test "$(stat -c %a x x/y x/y/z)" = "755
755
755"`},
		{name: "recurse again", args: map[string]any{"path": "x", "recurse": true, "mode": "a+rX"},
			want: Result{}},
		{name: "directory over a file", args: map[string]any{"path": "t", "state": "directory"},
			want: Result{Failed: true, Msg: "t already exists as a file"}, fields: map[string]any{"state": "file"}},
		{name: "link", args: map[string]any{"path": "l", "state": "link", "src": "t"}, diff: true,
			want: Result{Changed: true}, fields: map[string]any{"dest": "l", "src": "t", "state": "link", "mode": "0777"},
			after: `test "$(readlink l)" = t`,
			diffs: []string{"{\n    \"path\": \"l\",\n    \"state\": \"absent\"\n}\n => {\n    \"path\": \"l\",\n    \"state\": \"link\"\n}\n"}},
		{name: "link again", args: map[string]any{"path": "l", "state": "link", "src": "t"},
			want: Result{}},
		{name: "relink", args: map[string]any{"path": "l", "state": "link", "src": "x"},
			want: Result{Changed: true}, after: `test "$(readlink l)" = x`},
		{name: "link to nothing", args: map[string]any{"path": "l2", "state": "link", "src": "nowhere"},
			want:   Result{Failed: true, Msg: `src file does not exist, use "force=yes" if you really want to create the link: nowhere`},
			fields: map[string]any{"src": "nowhere"}},
		{name: "forced link to nothing", args: map[string]any{"path": "l2", "state": "link", "src": "nowhere", "force": true},
			want: Result{Changed: true}, fields: map[string]any{"warnings": []any{"Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this."}}},
		{name: "link over a file", args: map[string]any{"path": "t", "state": "link", "src": "x"},
			want: Result{Failed: true, Msg: "refusing to convert from file to symlink for t"}},
		{name: "hard link", args: map[string]any{"path": "h", "state": "hard", "src": "data"},
			want: Result{Changed: true}, fields: map[string]any{"state": "hard"}, after: `test "$(stat -c %i h)" = "$(stat -c %i data)"`},
		{name: "hard link again", args: map[string]any{"path": "h", "state": "hard", "src": "data"},
			want: Result{}},
		{name: "state from the path, following a link", args: map[string]any{"path": "l", "mode": "0700"},
			want: Result{Changed: true}, fields: map[string]any{"dest": "l", "src": "x", "state": "link", "mode": "0777"}, after: `test "$(stat -c %a x)" = 700`},
		{name: "absent in check mode", args: map[string]any{"path": "x", "state": "absent"}, check: true,
			want: Result{Changed: true}, after: "test -d x"},
		{name: "absent", args: map[string]any{"path": "x", "state": "absent"}, diff: true,
			want: Result{Changed: true}, fields: map[string]any{"path": "x", "state": "absent"}, after: "! test -e x",
			diffs: []string{"{\n    \"path\": \"x\",\n    \"path_content\": {\n        \"directories\": [\n            \"x/y\",\n            \"x/y/z\"\n        ],\n        \"files\": []\n    },\n    \"state\": \"directory\"\n}\n => {\n    \"path\": \"x\",\n    \"state\": \"absent\"\n}\n"}},
		{name: "absent again", args: map[string]any{"path": "x", "state": "absent"},
			want: Result{}, fields: map[string]any{"path": "x", "state": "absent"}},
		{name: "~ expands", args: map[string]any{"path": "~/tilde", "state": "touch"},
			want: Result{Changed: true}, fields: map[string]any{"dest": d + "/tilde"}, after: "test -f tilde"},
		{name: "bad octal", args: map[string]any{"path": "t", "mode": "0999"},
			want: Result{Failed: true, Msg: "mode must be in octal or symbolic form"}, fields: map[string]any{"details": "bad symbolic permission for mode: 0999"}},
		{name: "too many bits", args: map[string]any{"path": "t", "mode": "017777"},
			want: Result{Failed: true, Msg: "Invalid mode supplied, only permission info is allowed"}},
		{name: "unknown owner", args: map[string]any{"path": "t", "owner": "no_such_user_x"},
			want: Result{Failed: true, Msg: "chown failed: failed to look up user no_such_user_x"}},
		{name: "own owner and group", args: map[string]any{"path": "t", "owner": aSh(t, f, "id -un"), "group": aSh(t, f, "id -g")},
			want: Result{}},
		{name: "recurse without directory", args: map[string]any{"path": "t", "state": "file", "recurse": true},
			want: Result{Failed: true, Msg: "recurse option requires state to be 'directory'"}},
		{name: "src without link", args: map[string]any{"path": "t", "src": "data"},
			want: Result{Failed: true, Msg: "src option requires state to be 'link' or 'hard'"}},
		{name: "bad state", args: map[string]any{"path": "t", "state": "gone"},
			want: Result{Failed: true, Msg: "value of state must be one of: absent, directory, file, hard, link, touch, got: gone"}},
		{name: "no path", args: map[string]any{"state": "touch"},
			want: Result{Failed: true, Msg: "missing required arguments: path"}},
		{name: "unsupported option", args: map[string]any{"path": "t", "attributes": "+i"},
			want: Result{Failed: true, Msg: `fleet's file module does not support the option "attributes"; remove it from the task`}},
	})
}

func TestFileRecurseOwnerAndCommands(t *testing.T) {
	f := newAConn(t)
	aSh(t, f, "mkdir -p top/a/b && touch top/f 'top/a/we ird' top/a/b/g && chmod 600 top/f && ln -s f top/lnk")
	me := aSh(t, f, "id -un")
	before := f.runs()
	r := aRun(t, f, "file", map[string]any{"path": "top", "state": "directory", "recurse": true, "mode": "u=rwX,g=rX,o=", "owner": me})
	if !r.Changed || r.Failed {
		t.Fatalf("recurse: %+v", r)
	}
	if n := f.runs() - before; n != 2 {
		t.Errorf("a change took %d commands, want 2 (probe and change)", n)
	}
	got := aSh(t, f, "cd top && stat -c '%n %a' . a a/b f 'a/we ird' a/b/g")
	want := ". 750\na 750\na/b 750\nf 640\na/we ird 640\na/b/g 640"
	if got != want {
		t.Errorf("modes:\n%s\nwant\n%s", got, want)
	}
	before = f.runs()
	r = aRun(t, f, "file", map[string]any{"path": "top", "state": "directory", "recurse": true, "mode": "u=rwX,g=rX,o=", "owner": me})
	if r.Changed || r.Failed {
		t.Errorf("second run: %+v, want ok", r)
	}
	if n := f.runs() - before; n != 1 {
		t.Errorf("an unchanged file task took %d commands, want 1", n)
	}
}

func TestSymbolicMode(t *testing.T) {
	tests := []struct {
		cur   uint32
		spec  string
		umask uint32
		want  uint32
	}{
		{0o100640, "u=rw,g=r,o=r", 0o022, 0o644},
		{0o100600, "a+rX", 0o022, 0o644},
		{0o100700, "a+rX", 0o022, 0o755},
		{0o040700, "go+X", 0o022, 0o711},
		{0o100644, "+x", 0o022, 0o755},
		{0o100644, "+w", 0o022, 0o644},
		{0o100640, "g=u", 0o022, 0o660},
		{0o100755, "u-x,o=", 0o022, 0o650},
		{0o104755, "u=rwx", 0o022, 0o755},
		{0o100644, "u+s,g+s,o+t", 0o022, 0o7644},
		{0o100644, "ug=rw", 0o022, 0o664},
	}
	for _, tt := range tests {
		got, err := symbolicMode(tt.cur, tt.spec, tt.umask)
		if err != nil || got != tt.want {
			t.Errorf("symbolicMode(%o, %q) = %o, %v; want %o", tt.cur, tt.spec, got, err, tt.want)
		}
	}
	for _, bad := range []string{"0999", "u=foo", "z+x", "u"} {
		if _, err := symbolicMode(0o100644, bad, 0o022); err == nil {
			t.Errorf("symbolicMode(%q) did not fail", bad)
		}
	}
}

func TestShlexSplit(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{`echo hi`, []string{"echo", "hi"}, ""},
		{`a "b c" 'd e' f\ g`, []string{"a", "b c", "d e", "f g"}, ""},
		{`a"b c"d`, []string{"ab cd"}, ""},
		{`"a\"b" "c\d" 'e\f'`, []string{`a"b`, `c\d`, `e\f`}, ""},
		{`x '' ""`, []string{"x", "", ""}, ""},
		{"a\tb\nc", []string{"a", "b", "c"}, ""},
		{`a;b|c`, []string{"a;b|c"}, ""},
		{`'open`, nil, "No closing quotation"},
		{`trailing\`, nil, "No escaped character"},
	}
	for _, tt := range tests {
		got, err := shlexSplit(tt.in)
		if tt.err != "" {
			if err == nil || err.Error() != tt.err {
				t.Errorf("shlexSplit(%q) error %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tt.want) {
			t.Errorf("shlexSplit(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestPyHelpers(t *testing.T) {
	if got := pySplitLines("a\r\nb\rc\n\nd"); !reflect.DeepEqual(got, []any{"a", "b", "c", "", "d"}) {
		t.Errorf("pySplitLines = %q", got)
	}
	for in, want := range map[string]string{"abc": "abc", "a b": "'a b'", "": "''", "it's": `'it'"'"'s'`, "a=b,c:d/e.f-g@h%i+j": "a=b,c:d/e.f-g@h%i+j"} {
		if got := pyShlexQuote(in); got != want {
			t.Errorf("pyShlexQuote(%q) = %s, want %s", in, got, want)
		}
	}
	for in, want := range map[string]int64{"0644": 0o644, "644": 0o644, "0o755": 0o755, " 7 ": 7} {
		if got, ok := pyOctal(in); !ok || got != want {
			t.Errorf("pyOctal(%q) = %o, %v", in, got, ok)
		}
	}
	if _, ok := pyOctal("u+x"); ok {
		t.Error("pyOctal took a symbolic mode")
	}
	if got := pyTimedelta(1500 * 1e6); got != "0:00:01.500000" {
		t.Errorf("pyTimedelta = %s", got)
	}
	if got := pyTimedelta(2e9); got != "0:00:02" {
		t.Errorf("pyTimedelta = %s", got)
	}
	if got := diffText(map[string]any{"path": "é<", "mode": "0644"}); !strings.Contains(got, `"path": "\u00e9<"`) {
		t.Errorf("diffText = %s", got)
	}
}
