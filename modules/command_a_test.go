package modules

import (
	"reflect"
	"strings"
	"testing"
)

// The expected results follow Ansible 2.14, captured with
//
//	ansible localhost -c local -m command -a 'ARGS' [-C]
//
// with ANSIBLE_STDOUT_CALLBACK=json.
func TestCommandModule(t *testing.T) {
	f := newAConn(t)
	aSh(t, f, "mkdir sub && touch sub/a.txt .hidden")
	home := f.dir
	tests := []struct {
		name   string
		module string
		args   map[string]any
		check  bool
		env    map[string]string
		want   Result
		fields map[string]any // a subset of the result's fields
		bare   bool           // an option error: Ansible gives no command fields
	}{
		{name: "runs", module: "command", args: map[string]any{"_raw_params": "echo hi"},
			want:   Result{Changed: true},
			fields: map[string]any{"rc": int64(0), "stdout": "hi", "stderr": "", "cmd": []any{"echo", "hi"}, "stdout_lines": []any{"hi"}}},
		{name: "non-zero exit fails", module: "command", args: map[string]any{"_raw_params": "false"},
			want:   Result{Changed: true, Failed: true, Msg: "non-zero return code"},
			fields: map[string]any{"rc": int64(1), "cmd": []any{"false"}}},
		{name: "no shell operators", module: "command", args: map[string]any{"_raw_params": `echo a;b | c "d  e" 'f g'`},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "a;b | c d  e f g"}},
		{name: "expands vars and ~ as run_command does", module: "command", args: map[string]any{"_raw_params": "echo $HOME ~ $NOPE ${HOME}x ~nosuchuser/y"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": home + " " + home + " $NOPE " + home + "x ~nosuchuser/y"}},
		{name: "argv", module: "command", args: map[string]any{"argv": []any{"printf", "%s|", "a b", "c"}},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "a b|c|", "cmd": []any{"printf", "%s|", "a b", "c"}}},
		{name: "missing executable", module: "command", args: map[string]any{"_raw_params": "nonexistcmd arg"},
			want:   Result{Failed: true, Msg: "[Errno 2] No such file or directory: b'nonexistcmd'"},
			fields: map[string]any{"rc": int64(2), "cmd": "nonexistcmd arg"}, bare: true},
		{name: "creates exists", module: "command", args: map[string]any{"_raw_params": "touch never", "creates": "sub/*.txt"},
			want:   Result{Msg: "Did not run command since 'sub/*.txt' exists"},
			fields: map[string]any{"rc": int64(0), "stdout": "skipped, since sub/*.txt exists", "delta": nil}},
		{name: "creates with ~", module: "command", args: map[string]any{"_raw_params": "true", "creates": "~/sub"},
			want: Result{Msg: "Did not run command since '" + home + "/sub' exists"}},
		{name: "removes absent", module: "command", args: map[string]any{"_raw_params": "true", "removes": "/nonexist"},
			want:   Result{Msg: "Did not run command since '/nonexist' does not exist"},
			fields: map[string]any{"stdout": "skipped, since /nonexist does not exist"}},
		{name: "hidden files don't match a glob", module: "command", args: map[string]any{"_raw_params": "echo ran", "creates": "*hidden"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "ran"}},
		{name: "chdir", module: "command", args: map[string]any{"_raw_params": "ls", "chdir": "sub", "creates": "nothere"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "a.txt"}},
		{name: "chdir missing", module: "command", args: map[string]any{"_raw_params": "ls", "chdir": "/nonexist/dir"},
			want: Result{Failed: true, Msg: "Unable to change directory before execution: [Errno 2] No such file or directory: b'/nonexist/dir'"}},
		{name: "stdin", module: "command", args: map[string]any{"_raw_params": "od -c", "stdin": "ab"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "0000000   a   b  \\n\n0000003"}},
		{name: "stdin without newline", module: "command", args: map[string]any{"_raw_params": "wc -c", "stdin": "ab", "stdin_add_newline": "no"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "2"}},
		{name: "keeps empty ends", module: "command", args: map[string]any{"_raw_params": `printf 'a\n\n'`, "strip_empty_ends": false},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "a\n\n", "stdout_lines": []any{"a", ""}}},
		{name: "check mode skips", module: "command", args: map[string]any{"_raw_params": "touch x"}, check: true,
			want:   Result{Skipped: true, Msg: "Command would have run if not in check mode"},
			fields: map[string]any{"rc": int64(0), "stdout": "", "start": nil}},
		{name: "check mode with removes that exists", module: "command", args: map[string]any{"_raw_params": "touch x", "removes": "sub"}, check: true,
			want: Result{Changed: true, Msg: "Command would have run if not in check mode"}},
		{name: "check mode with creates that exists", module: "command", args: map[string]any{"_raw_params": "touch x", "creates": "sub"}, check: true,
			want:   Result{Msg: "Would not run command since 'sub' exists"},
			fields: map[string]any{"stdout": "skipped, since sub exists"}},
		{name: "shell", module: "shell", args: map[string]any{"_raw_params": "echo hi; echo err >&2; exit 3"},
			want:   Result{Changed: true, Failed: true, Msg: "non-zero return code"},
			fields: map[string]any{"rc": int64(3), "stdout": "hi", "stderr": "err", "cmd": "echo hi; echo err >&2; exit 3", "stderr_lines": []any{"err"}}},
		{name: "shell sees the task environment", module: "shell", args: map[string]any{"_raw_params": "echo $FOO"}, env: map[string]string{"FOO": "bar baz"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "bar baz"}},
		{name: "shell executable", module: "shell", args: map[string]any{"_raw_params": "echo $0", "executable": "/bin/sh"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout": "/bin/sh"}},
		{name: "no command", module: "command", args: map[string]any{"chdir": "/"},
			want:   Result{Failed: true, Msg: "no command given"},
			fields: map[string]any{"rc": int64(256)}},
		{name: "unknown option", module: "command", args: map[string]any{"_raw_params": "true", "foo": "1"},
			want: Result{Failed: true, Msg: "Unsupported parameters for (command) module: foo. Supported parameters include: _raw_params, _uses_shell, argv, chdir, creates, executable, removes, stdin, stdin_add_newline, strip_empty_ends (cmd)."}, bare: true},
		{name: "bad bool", module: "command", args: map[string]any{"_raw_params": "true", "strip_empty_ends": "maybe"},
			want: Result{Failed: true, Msg: "argument 'strip_empty_ends' is of type <class 'str'> and we were unable to convert to bool: The value 'maybe' is not a valid boolean.  Valid booleans include: 0, 1, '0', '1', 'n', 'no', 'f', 'false', 'off', 'y', 'yes', 't', 'true', 'on'"}, bare: true},
		{name: "unbalanced quote", module: "command", args: map[string]any{"_raw_params": "echo 'a"},
			want: Result{Failed: true, Msg: `cannot split the command "echo 'a" into words as Python's shlex does: No closing quotation`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := aRun(t, f, tt.module, tt.args, func(c *Call) { c.Check = tt.check; c.Env = tt.env })
			if !aSameStatus(r, tt.want) {
				t.Errorf("got %v %q, want %+v (fields %v)", [3]bool{r.Changed, r.Failed, r.Skipped}, r.Msg, tt.want, r.Fields)
			}
			for k, v := range tt.fields {
				if !reflect.DeepEqual(r.Fields[k], v) {
					t.Errorf("%s = %#v, want %#v", k, r.Fields[k], v)
				}
			}
			for _, k := range []string{"rc", "stdout", "stderr", "stdout_lines", "stderr_lines", "cmd", "start", "end", "delta"} {
				if _, ok := r.Fields[k]; !ok && !tt.bare {
					t.Errorf("result lacks %s", k)
				}
			}
		})
	}
	if out := aSh(t, f, "ls"); strings.Contains(out, "never") || strings.Contains(out, "x") {
		t.Errorf("a skipped command ran: %s", out)
	}
}

func TestCommandTimes(t *testing.T) {
	f := newAConn(t)
	r := aRun(t, f, "command", map[string]any{"_raw_params": "true"})
	for _, k := range []string{"start", "end", "delta"} {
		s, _ := r.Fields[k].(string)
		if s == "" {
			t.Fatalf("%s = %#v, want a time", k, r.Fields[k])
		}
	}
	if s := r.Fields["start"].(string); len(s) != len("2026-11-24 00:00:50.045637") {
		t.Errorf("start = %q, not in Python's datetime format", s)
	}
	if d := r.Fields["delta"].(string); !strings.HasPrefix(d, "0:00:0") {
		t.Errorf("delta = %q, not in Python's timedelta format", d)
	}
}
