package modules

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	osexec "os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// liveStep is one task of a live comparison: a module call, run by real
// ansible-playbook in one directory and by this package in another.
type liveStep struct {
	module string
	args   map[string]any // "{{d}}" in a string is the scenario's directory
	check  bool
	diff   bool
	setup  string // a shell command run (in the directory) before the step
}

// liveVolatile are result fields that differ between any two runs.
var liveVolatile = map[string]bool{
	"atime": true, "mtime": true, "ctime": true, "inode": true, "dev": true,
	"start": true, "end": true, "delta": true, "invocation": true, "diff": true,
	"warnings": true, "_ansible_no_log": true, "ansible_facts": true, "version": true, "backup": true,
}

// TestAgainstAnsible runs scenarios under real Ansible (ansible-playbook,
// local connection) and under this package, and compares results and
// the files left behind. It is slow (a playbook run per scenario) and
// needs ansible, so it runs only with FLEET_ANSIBLE_LIVE=1.
func TestAgainstAnsible(t *testing.T) {
	if os.Getenv("FLEET_ANSIBLE_LIVE") != "1" {
		t.Skip("set FLEET_ANSIBLE_LIVE=1 to compare with real ansible-playbook")
	}
	if _, err := osexec.LookPath("ansible-playbook"); err != nil {
		t.Skip("ansible-playbook is not installed")
	}
	for name, steps := range liveScenarios {
		t.Run(name, func(t *testing.T) { liveCompare(t, steps) })
	}
}

var liveScenarios = map[string][]liveStep{
	"file": {
		{module: "file", args: map[string]any{"path": "{{d}}/a", "state": "touch", "mode": "0640"}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "mode": "u=rw,g=r,o=r"}, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "mode": "0644"}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "mode": "0600"}, check: true, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "state": "file", "mode": "o-r,g+w"}},
		{module: "file", args: map[string]any{"path": "{{d}}/b", "state": "file"}},
		{module: "file", args: map[string]any{"path": "{{d}}/x/y/z", "state": "directory", "mode": "0750"}, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/x/y/z", "state": "directory", "mode": "0750"}},
		{module: "file", args: map[string]any{"path": "{{d}}/x", "state": "directory", "mode": "a+rX", "recurse": true}},
		{module: "file", args: map[string]any{"path": "{{d}}/x", "state": "directory", "mode": "a+rX", "recurse": true}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "state": "directory"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "link", "src": "a"}, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "link", "src": "a"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "link", "src": "x"}, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "mode": "0700"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "mode": "0700", "follow": false}},
		{module: "file", args: map[string]any{"path": "{{d}}/l2", "state": "link", "src": "nowhere"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l2", "state": "link", "src": "nowhere", "force": true}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "state": "link", "src": "x"}},
		{module: "file", args: map[string]any{"path": "{{d}}/h", "state": "hard", "src": "{{d}}/a"}},
		{module: "file", args: map[string]any{"path": "{{d}}/h", "state": "hard", "src": "{{d}}/a"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "file"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "directory", "mode": "0700"}},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "absent"}, check: true},
		{module: "file", args: map[string]any{"path": "{{d}}/l", "state": "absent"}},
		{module: "file", args: map[string]any{"path": "{{d}}/x", "state": "absent"}, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/x", "state": "absent"}},
		{module: "file", args: map[string]any{"path": "{{d}}/new", "state": "directory"}, check: true},
		{module: "file", args: map[string]any{"path": "{{d}}/t", "state": "touch"}, check: true},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "mode": "0999"}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "mode": "u=foo"}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "owner": "nosuchuser"}},
		{module: "file", args: map[string]any{"path": "{{d}}/a", "owner": "root", "group": "root"}},
		{module: "file", args: map[string]any{"path": "{{d}}/t2", "state": "touch"}, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/t2", "state": "touch", "mode": "0600"}, check: true, diff: true},
		{module: "file", args: map[string]any{"path": "{{d}}/t2", "state": "file", "modification_time": "now"}},
		{module: "file", args: map[string]any{"path": "{{d}}/t2", "state": "hard", "src": "{{d}}/t2"}},
		{module: "file", args: map[string]any{"path": "{{d}}/t3", "state": "hard", "src": "{{d}}/t2"}, check: true},
		{module: "file", args: map[string]any{"path": "{{d}}/t2", "recurse": true}},
		{module: "file", args: map[string]any{"path": "{{d}}/rd", "recurse": true, "mode": "0700"}},
		{module: "file", args: map[string]any{"path": "{{d}}/rd", "state": "link", "src": "t2", "force": true}},
		{module: "file", args: map[string]any{"path": "{{d}}/dl", "state": "directory"}},
		{module: "file", args: map[string]any{"path": "{{d}}/dl", "state": "link", "src": "t2", "force": true}},
		{module: "file", args: map[string]any{"path": "{{d}}/x2/y", "state": "directory", "mode": "u=rwx,go=rx"}, check: true, diff: true},
	},
	"lineinfile": {
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "hello"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "hello", "create": true, "mode": "0600"}, diff: true},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "hello"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "first", "insertbefore": "BOF"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "port=8080", "regexp": "^port="}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "port=9090", "regexp": "^port="}, diff: true},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "after-first", "insertafter": "^first"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "after-first", "insertafter": "^first"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "before-hello", "insertbefore": "^hel"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": `\1=x`, "regexp": `^(p\w+)=9090`, "backrefs": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": `\1=y`, "regexp": `^(nomatch)`, "backrefs": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "search_string": "hello", "line": "HELLO"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "new", "insertafter": "EOF"}, check: true},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "regexp": "^(first|new)", "state": "absent"}, diff: true},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "nothere", "state": "absent"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "m", "mode": "0640"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nofile", "line": "x", "state": "absent"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nodir/g", "line": "x", "create": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nodir", "line": "x"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "line": "x", "backrefs": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/f", "state": "absent"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "b"}, setup: "printf a > nl"},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "c", "insertafter": "^b"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "z", "insertbefore": "^a", "firstmatch": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "q", "insertbefore": "x", "insertafter": "y"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "q", "regexp": "x", "search_string": "y"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "v", "validate": "grep -q v %s"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "w", "validate": "grep -q nope %s"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "w", "validate": "true"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "e", "insertbefore": "EOF"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "c", "regexp": "^[bc]$", "firstmatch": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "c2", "regexp": "^c$"}, diff: true},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/crlf", "line": "b"}, setup: "printf 'a\r\nb\r\n' > crlf"},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/crlf", "line": "b", "regexp": "^b"}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/lnk", "line": "via link"}, setup: "printf 'x\n' > tgt; ln -s tgt lnk"},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": `\g<1>-\g<n>`, "regexp": `^(?P<n>c)2`, "backrefs": true}},
		{module: "lineinfile", args: map[string]any{"path": "{{d}}/nl", "line": "x", "regexp": "^c", "state": "absent"}, check: true, diff: true},
	},
	"command": {
		{module: "command", args: map[string]any{"_raw_params": "echo $HOME ~ a;b 'c d'"}},
		{module: "command", args: map[string]any{"_raw_params": "touch {{d}}/made", "creates": "{{d}}/m*"}},
		{module: "command", args: map[string]any{"_raw_params": "touch {{d}}/made", "creates": "{{d}}/m*"}},
		{module: "command", args: map[string]any{"_raw_params": "rm {{d}}/made", "removes": "{{d}}/made"}, check: true},
		{module: "command", args: map[string]any{"_raw_params": "ls", "chdir": "{{d}}/nope"}},
		{module: "command", args: map[string]any{"_raw_params": "cat", "stdin": "in put"}},
		{module: "shell", args: map[string]any{"_raw_params": "echo out; echo err >&2; exit 4"}},
		{module: "shell", args: map[string]any{"_raw_params": "pwd", "chdir": "{{d}}"}},
		{module: "command", args: map[string]any{"argv": []any{"printf", "%s|", "a b"}}},
		{module: "command", args: map[string]any{"_raw_params": "nosuchcommand"}},
	},
	"stat and wait_for": {
		{module: "stat", args: map[string]any{"path": "{{d}}/s"}, setup: "printf 'hi there\\n' > s; chmod 4750 s; ln -s s l; mkdir d"},
		{module: "stat", args: map[string]any{"path": "{{d}}/l"}},
		{module: "stat", args: map[string]any{"path": "{{d}}/l", "follow": true, "get_checksum": false}},
		{module: "stat", args: map[string]any{"path": "{{d}}/d", "checksum_algorithm": "md5"}},
		{module: "stat", args: map[string]any{"path": "{{d}}/none"}},
		{module: "wait_for", args: map[string]any{"path": "{{d}}/s", "search_regex": "h(i) (?P<w>t)here"}},
		{module: "wait_for", args: map[string]any{"path": "{{d}}/none", "timeout": 1}},
		{module: "wait_for", args: map[string]any{"path": "{{d}}/none", "state": "absent"}},
		{module: "wait_for", args: map[string]any{"path": "{{d}}/s", "state": "stopped"}},
		{module: "wait_for", args: map[string]any{"port": 1, "timeout": 1}},
		{module: "wait_for", args: map[string]any{"port": 1, "state": "stopped", "timeout": 1}},
		{module: "wait_for", args: map[string]any{"path": "{{d}}/s"}, check: true},
	},
}

// liveCompare runs steps under Ansible and under this package and
// compares each step's result and the directories after all of them.
func liveCompare(t *testing.T, steps []liveStep) {
	ansDir, fleetDir := t.TempDir(), t.TempDir()
	got := liveAnsible(t, ansDir, steps)
	f := newAConn(t)
	f.dir = fleetDir
	f.env = append(f.env[:0:0], os.Environ()...)
	for i, st := range steps {
		if st.setup != "" {
			aSh(t, f, st.setup)
		}
		args := liveArgs(st.args, fleetDir).(map[string]any)
		r := aRun(t, f, st.module, args, func(c *Call) { c.Check, c.Diff = st.check, st.diff })
		mine := map[string]any{"changed": r.Changed}
		if r.Failed {
			mine["failed"] = true
		}
		if r.Skipped {
			mine["skipped"] = true
		}
		if r.Msg != "" {
			mine["msg"] = r.Msg
		}
		for k, v := range r.Fields {
			mine[k] = v
		}
		want := got[i]
		if len(r.Diffs) > 0 {
			mine["diff"] = true
		}
		norm := func(m map[string]any, dir string) string {
			m = liveNormalize(m, dir).(map[string]any)
			for k := range m {
				if liveVolatile[k] {
					delete(m, k)
				}
			}
			if st, ok := m["stat"].(map[string]any); ok {
				for k := range st {
					if liveVolatile[k] {
						delete(st, k)
					}
				}
			}
			if m["msg"] == "" {
				delete(m, "msg")
			}
			b, _ := json.MarshalIndent(m, "", " ")
			return string(b)
		}
		a, b := norm(want, ansDir), norm(mine, fleetDir)
		if a != b {
			t.Errorf("step %d %s %v (check=%v):\nansible: %s\nfleet:   %s", i, st.module, st.args, st.check, a, b)
		}
		if st.diff && want["changed"] == true {
			a := liveDiffs(want["diff"], ansDir)
			var b []string
			for _, d := range r.Diffs {
				b = append(b, liveDiffLine(d.BeforeHeader, d.Before, fleetDir)+" => "+liveDiffLine(d.AfterHeader, d.After, fleetDir))
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("step %d: diffs differ:\nansible: %q\nfleet:   %q", i, a, b)
			}
		}
	}
	listing := func(dir string) string {
		out, err := osexec.Command("sh", "-c", `cd "$1" && find . -mindepth 1 -printf '%p %M %s %l\n' | sort`, "sh", dir).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.ReplaceAll(string(out), dir, "{{d}}")
	}
	if a, b := listing(ansDir), listing(fleetDir); a != b {
		t.Errorf("files differ:\nansible:\n%s\nfleet:\n%s", a, b)
	}
}

// liveAnsible runs steps as one playbook against localhost and returns
// each task's result.
func liveAnsible(t *testing.T, dir string, steps []liveStep) []map[string]any {
	var tasks []map[string]any
	for i, st := range steps {
		if st.setup != "" {
			tasks = append(tasks, map[string]any{"name": fmt.Sprintf("setup %d", i), "shell": st.setup, "args": map[string]any{"chdir": dir}})
		}
		task := map[string]any{"name": fmt.Sprintf("step %d", i), st.module: liveArgs(st.args, dir), "ignore_errors": true}
		if st.check {
			task["check_mode"] = true
		}
		if st.diff {
			task["diff"] = true
		}
		tasks = append(tasks, task)
	}
	play := []map[string]any{{"hosts": "localhost", "connection": "local", "gather_facts": false, "tasks": tasks}}
	pb, _ := json.Marshal(play)
	pbPath := filepath.Join(t.TempDir(), "play.yml")
	if err := os.WriteFile(pbPath, pb, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := osexec.CommandContext(context.Background(), "ansible-playbook", "-i", "localhost,", pbPath)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ANSIBLE_STDOUT_CALLBACK=json", "ANSIBLE_LOCALHOST_WARNING=0", "ANSIBLE_NOCOLOR=1")
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		t.Fatalf("ansible-playbook: %v", err)
	}
	var res struct {
		Plays []struct {
			Tasks []struct {
				Task  struct{ Name string }
				Hosts map[string]map[string]any
			}
		}
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("ansible-playbook output: %v\n%s", err, out)
	}
	var results []map[string]any
	for _, task := range res.Plays[0].Tasks {
		if strings.HasPrefix(task.Task.Name, "step ") {
			r := task.Hosts["localhost"]
			delete(r, "action")
			delete(r, "_ansible_no_log")
			results = append(results, r)
		}
	}
	if len(results) != len(steps) {
		t.Fatalf("ansible ran %d steps, want %d", len(results), len(steps))
	}
	return results
}

func liveArgs(v any, dir string) any {
	switch x := v.(type) {
	case string:
		return strings.ReplaceAll(x, "{{d}}", dir)
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = liveArgs(e, dir)
		}
		return m
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = liveArgs(e, dir)
		}
		return l
	case int:
		return int64(x)
	}
	return v
}

// liveNormalize makes a result comparable: JSON types, and the
// directory as {{d}}.
func liveNormalize(v any, dir string) any {
	b, _ := json.Marshal(v)
	s := strings.ReplaceAll(string(b), dir, "{{d}}")
	var out any
	_ = json.Unmarshal([]byte(s), &out)
	return out
}

// liveDiffs renders Ansible's diff result as the callback would show it,
// one "before => after" string per diff that has both sides.
func liveDiffs(v any, dir string) []string {
	var list []any
	switch x := v.(type) {
	case []any:
		list = x
	case map[string]any:
		list = []any{x}
	}
	var out []string
	for _, e := range list {
		d, _ := e.(map[string]any)
		if _, ok := d["before"]; !ok {
			continue
		}
		side := func(k string) string {
			h, _ := d[k+"_header"].(string)
			switch x := d[k].(type) {
			case string:
				return liveDiffLine(h, x, dir)
			case map[string]any:
				return liveDiffLine(h, diffText(x), dir)
			}
			return "?"
		}
		out = append(out, side("before")+" => "+side("after"))
	}
	return out
}

// liveDiffLine joins a diff side's header and text, without the lines
// holding times (they differ between runs).
func liveDiffLine(header, text, dir string) string {
	var keep []string
	for _, l := range strings.Split(text, "\n") {
		if !strings.Contains(l, "time\"") {
			keep = append(keep, l)
		}
	}
	return strings.ReplaceAll(header+"|"+strings.Join(keep, "\n"), dir, "{{d}}")
}
