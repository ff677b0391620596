package modules

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fleetrun.dev/fleet/transfer"
)

// TestModulesThroughSudo runs modules with become, where every script
// passes through `sudo -u root -- sh -c SCRIPT`: their quoting must
// survive the second shell, and stdin must reach the script. It needs
// a sudo that lets this user run commands without a password.
func TestModulesThroughSudo(t *testing.T) {
	f := newAConn(t)
	if out, err := f.Run(context.Background(), "sudo -n true", nil, nil); err != nil || out.RC != 0 {
		t.Skip("sudo -n does not work here")
	}
	become := func(c *Call) { c.Become = &transfer.Become{} }
	r := aRun(t, f, "command", map[string]any{"_raw_params": `printf '%s|' "it's" 'a b' $HOME`}, become)
	if r.Failed || r.Fields["stdout"] == "" || !strings.HasPrefix(r.Fields["stdout"].(string), "it's|a b|") {
		t.Errorf("command: %+v", r)
	}
	r = aRun(t, f, "shell", map[string]any{"_raw_params": `id -un; echo "$0"`}, become)
	if r.Failed || r.Fields["stdout"] != "root\n/bin/sh" {
		t.Errorf("shell: %+v", r)
	}
	r = aRun(t, f, "file", map[string]any{"path": "it's dir/sub", "state": "directory", "mode": "0750"}, become)
	if !r.Changed || r.Failed || r.Fields["owner"] != "root" {
		t.Errorf("file: %+v", r)
	}
	r = aRun(t, f, "lineinfile", map[string]any{"path": "it's dir/sub/conf", "line": "a 'quoted' line", "create": true}, become)
	if !r.Changed || r.Failed {
		t.Errorf("lineinfile: %+v", r)
	}
	if got := aSh(t, f, `cat "it's dir/sub/conf"`); got != "a 'quoted' line" {
		t.Errorf("lineinfile wrote %q", got)
	}
	local := t.TempDir()
	if err := os.WriteFile(filepath.Join(local, "s.sh"), []byte("#!/bin/sh\nid -un\necho \"$1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = aRun(t, f, "script", map[string]any{"_raw_params": "s.sh 'x y'"}, become, func(c *Call) { c.SearchDirs = []string{local} })
	if r.Failed || r.Fields["stdout"] != "root\nx y\n" {
		t.Errorf("script: %+v", r)
	}
	r = aRun(t, f, "stat", map[string]any{"path": "it's dir/sub/conf"}, become)
	if st, _ := r.Fields["stat"].(map[string]any); st["pw_name"] != "root" || st["size"] != int64(16) {
		t.Errorf("stat: %+v", r)
	}
}

// TestSudoRefusal checks that a sudo refusal reads as advice, not as
// the module's own failure.
func TestSudoRefusal(t *testing.T) {
	f := newAConn(t)
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "sudo"), []byte("#!/bin/sh\necho 'sudo: a password is required' >&2\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	f.env[0] = "PATH=" + bin + ":/usr/bin:/bin"
	want := "sudo wants a password: pass --ask-become-pass, or allow the user NOPASSWD in sudoers"
	for _, m := range []struct {
		module string
		args   map[string]any
	}{
		{"command", map[string]any{"_raw_params": "true"}},
		{"shell", map[string]any{"_raw_params": "true"}},
		{"file", map[string]any{"path": "x", "state": "touch"}},
		{"stat", map[string]any{"path": "x"}},
		{"lineinfile", map[string]any{"path": "x", "line": "y"}},
		{"service", map[string]any{"name": "x", "state": "started"}},
		{"systemd", map[string]any{"name": "x", "state": "started"}},
	} {
		r := aRun(t, f, m.module, m.args, func(c *Call) { c.Become = &transfer.Become{User: "app"} })
		if !r.Failed || r.Msg != want {
			t.Errorf("%s: %+v, want failed with %q", m.module, r, want)
		}
	}
}
