package modules

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// Expected results follow Ansible 2.14's script action, captured with
//
//	ansible localhost -c local -m script -a '/tmp/ans/s.sh a 3' [-C]
func TestScriptModule(t *testing.T) {
	f := newAConn(t)
	local := t.TempDir()
	files := filepath.Join(local, "files")
	if err := os.Mkdir(files, 0o755); err != nil {
		t.Fatal(err)
	}
	script := "#!/bin/sh\necho out \"$1\"\necho err >&2\npwd\nexit ${2:-0}\n"
	if err := os.WriteFile(filepath.Join(files, "s.sh"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	aSh(t, f, "mkdir there")
	tests := []struct {
		name   string
		args   map[string]any
		check  bool
		want   Result
		fields map[string]any
	}{
		{name: "runs", args: map[string]any{"_raw_params": "s.sh 'a b'"},
			want:   Result{Changed: true},
			fields: map[string]any{"rc": int64(0), "stdout": "out a b\n" + f.dir + "\n", "stderr": "err\n", "stderr_lines": []any{"err"}}},
		{name: "fails on non-zero exit", args: map[string]any{"_raw_params": "s.sh a 3"},
			want:   Result{Changed: true, Failed: true, Msg: "non-zero return code"},
			fields: map[string]any{"rc": int64(3)}},
		{name: "chdir", args: map[string]any{"cmd": "s.sh x", "chdir": f.dir + "/there"},
			want:   Result{Changed: true},
			fields: map[string]any{"stdout_lines": []any{"out x", f.dir + "/there"}}},
		{name: "relative chdir", args: map[string]any{"cmd": "s.sh x", "chdir": "there"},
			want: Result{Failed: true, Msg: "chdir there must be an absolute path for a Unix-aware remote node"}},
		{name: "creates exists", args: map[string]any{"_raw_params": "s.sh", "creates": "there"},
			want: Result{Skipped: true, Msg: "there exists, matching creates option"}},
		{name: "removes absent", args: map[string]any{"_raw_params": "s.sh", "removes": "nothere"},
			want: Result{Skipped: true, Msg: "nothere does not exist, matching removes option"}},
		{name: "check mode", args: map[string]any{"_raw_params": "s.sh"}, check: true,
			want: Result{Skipped: true, Msg: "Check mode is not supported for this task."}},
		{name: "check mode with creates", args: map[string]any{"_raw_params": "s.sh", "creates": "nothere"}, check: true,
			want: Result{Changed: true}},
		{name: "missing script", args: map[string]any{"_raw_params": "nope.sh"},
			want: Result{Failed: true, Msg: "Could not find or access 'nope.sh' on the Ansible Controller.\nIf you are using a module and expect the file to exist on the remote, see the remote_src option"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := aRun(t, f, "script", tt.args, func(c *Call) {
				c.Check = tt.check
				c.SearchDirs = []string{files, local}
			})
			if !aSameStatus(r, tt.want) {
				t.Errorf("got %v %q, want %+v (fields %v)", [3]bool{r.Changed, r.Failed, r.Skipped}, r.Msg, tt.want, r.Fields)
			}
			for k, v := range tt.fields {
				if !reflect.DeepEqual(r.Fields[k], v) {
					t.Errorf("%s = %#v, want %#v", k, r.Fields[k], v)
				}
			}
		})
	}
	if out := aSh(t, f, "ls /tmp | grep fleet-script- || true"); out != "" {
		t.Errorf("temporary script directories left behind: %s", out)
	}
	if n := strings.Count(aSh(t, f, "ls"), "\n"); n != 0 {
		t.Errorf("the scripts wrote into the login directory: %s", aSh(t, f, "ls"))
	}
}
