package modules

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// bTemplate is a stand-in for the Jinja engine: it replaces {{ name }}
// and fails on {{ missing }} as an undefined variable.
func bTemplate(c *Call) {
	c.Template = func(text string) (string, error) {
		if strings.Contains(text, "{{ missing }}") {
			return "", errors.New("'missing' is undefined")
		}
		if strings.Contains(text, "{{ bad") {
			return "", errors.New("unexpected end of template")
		}
		return strings.ReplaceAll(text, "{{ name }}", "web1"), nil
	}
}

func TestTemplate(t *testing.T) {
	pb := t.TempDir()
	tdir := filepath.Join(pb, "templates")
	bWrite(t, filepath.Join(tdir, "app.conf.j2"), "host={{ name }}\n", 0o640)
	bWrite(t, filepath.Join(tdir, "undef.j2"), "x={{ missing }}\n", 0o644)
	bWrite(t, filepath.Join(tdir, "syntax.j2"), "x={{ bad\n", 0o644)

	f := newBConn(t)
	dest := filepath.Join(f.home, "app.conf")
	steps := []struct {
		name    string
		args    map[string]any
		mods    []func(*Call)
		changed bool
		failMsg string
		content string
		mode    os.FileMode
	}{
		{name: "check mode writes nothing", args: map[string]any{"src": "app.conf.j2"}, mods: []func(*Call){bCheck},
			changed: true, content: "<missing>"},
		{name: "renders and writes", args: map[string]any{"src": "app.conf.j2"},
			changed: true, content: "host=web1\n", mode: 0o640},
		{name: "second run is ok", args: map[string]any{"src": "app.conf.j2"},
			content: "host=web1\n", mode: 0o640},
		{name: "mode", args: map[string]any{"src": "app.conf.j2", "mode": "0600"},
			changed: true, content: "host=web1\n", mode: 0o600},
		{name: "undefined variable fails, writes nothing", args: map[string]any{"src": "undef.j2"},
			failMsg: "AnsibleUndefinedVariable: 'missing' is undefined", content: "host=web1\n", mode: 0o600},
		{name: "syntax error", args: map[string]any{"src": "syntax.j2"},
			failMsg: "AnsibleError: template error while templating string: unexpected end of template", content: "host=web1\n", mode: 0o600},
		{name: "missing template", args: map[string]any{"src": "nope.j2"},
			failMsg: "Could not find or access 'nope.j2'", content: "host=web1\n", mode: 0o600},
	}
	for _, s := range steps {
		args := map[string]any{"dest": dest}
		for k, v := range s.args {
			args[k] = v
		}
		res := bRun(t, f, pb, "template", args, append([]func(*Call){bTemplate}, s.mods...)...)
		switch {
		case s.failMsg != "":
			if !res.Failed || !strings.Contains(res.Msg, s.failMsg) {
				t.Errorf("%s: failed=%v msg=%q, want a failure with %q", s.name, res.Failed, res.Msg, s.failMsg)
			}
		case res.Failed:
			t.Errorf("%s: failed: %s", s.name, res.Msg)
		case res.Changed != s.changed:
			t.Errorf("%s: changed = %v, want %v", s.name, res.Changed, s.changed)
		}
		if content, mode := bFile(t, dest); content != s.content || mode != s.mode {
			t.Errorf("%s: remote file is %q mode %04o, want %q mode %04o", s.name, content, mode, s.content, s.mode)
		}
	}

	t.Run("a directory dest gets the template's name; preserve its mode; diff", func(t *testing.T) {
		f := newBConn(t)
		res := bRun(t, f, pb, "template", map[string]any{"src": "app.conf.j2", "dest": f.home, "mode": "preserve"}, bTemplate, bDiff)
		if res.Failed || !res.Changed {
			t.Fatalf("failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
		}
		p := filepath.Join(f.home, "app.conf.j2")
		if content, mode := bFile(t, p); content != "host=web1\n" || mode != 0o640 {
			t.Errorf("%s is %q mode %04o, want the rendering with the template's mode 0640", p, content, mode)
		}
		if len(res.Diffs) != 1 || res.Diffs[0].After != "host=web1\n" || res.Diffs[0].Before != "" {
			t.Errorf("diffs %+v, want the rendering after nothing", res.Diffs)
		}
		if res.Fields["src"] != filepath.Join(tdir, "app.conf.j2") || res.Fields["checksum"] == nil {
			t.Errorf("result fields %v", res.Fields)
		}
	})
}
