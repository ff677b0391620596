package playbook

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// loadString loads content as a playbook file in a fresh directory.
func loadString(t *testing.T, content string) (*Playbook, error) {
	t.Helper()
	return Load(writeFile(t, t.TempDir(), "play.yml", content))
}

// tasksOf wraps task lines (indented by 4) into a one-play playbook whose
// tasks start on line 4.
func tasksOf(tasks string) string {
	return "- hosts: all\n  gather_facts: no\n  tasks:\n" + tasks
}

// TestLoadErrorVariants covers more values of each kind of error than the
// files in testdata/bad do.
func TestLoadErrorVariants(t *testing.T) {
	tests := []struct {
		name, content string
		line          int
		msg           string
	}{
		{"serial word", "- hosts: all\n  serial: abc\n", 2, `serial "abc" is not valid: it is neither a whole number nor a percentage`},
		{"serial zero percent", "- hosts: all\n  serial: 0%\n", 2, `serial "0%" is not valid`},
		{"serial negative", "- hosts: all\n  serial: -1\n", 2, "serial -1 is not valid"},
		{"serial over 100%", "- hosts: all\n  serial: [\"150%\"]\n", 2, "at most 100%"},
		{"serial fraction", "- hosts: all\n  serial: 2.5\n", 2, "serial 2.5 is not valid"},
		{"serial template", "- hosts: all\n  serial: \"{{ n }}\"\n", 2, "not as a template"},
		{"serial mapping", "- hosts: all\n  serial: {a: 1}\n", 2, "serial (a mapping) is not valid"},
		{"max fail word", "- hosts: all\n  max_fail_percentage: lots\n", 2, "max_fail_percentage must be a number from 0 to 100"},
		{"max fail negative", "- hosts: all\n  max_fail_percentage: -1\n", 2, "from 0 to 100"},
		{"strategy number", "- hosts: all\n  strategy: 5\n", 2, "strategy 5 is not supported"},
		{"hosts list with mapping", "- hosts: [a, {b: c}]\n", 1, "an item is a mapping"},
		{"hosts number", "- hosts: 5\n", 1, "hosts must be a host pattern, but it is the number 5"},
		{"play vars list item", "- hosts: all\n  vars: [{a: 1}, x]\n", 2, "an item is the string"},
		{"vars_files alternatives", "- hosts: all\n  vars_files: [[a.yml, b.yml]]\n", 2, "list of alternatives"},
		{"gather_facts word", "- hosts: all\n  gather_facts: sometimes\n", 2, "gather_facts must be true or false"},
		{"import_playbook", "- import_playbook: other.yml\n", 1, "play keyword import_playbook is not supported"},
		{"tasks not a list", "- hosts: all\n  tasks: {a: 1}\n", 2, "tasks must be a list of tasks, but it is a mapping"},
		{"task is a string", tasksOf("    - command: ls\n    - uptime\n"), 3, "item 2 of tasks is the string \"uptime\", not a task"},

		{"loop number", tasksOf("    - debug: var=item\n      loop: 5\n"), 5, "loop must be a list, but it is the number 5"},
		{"loop mapping", tasksOf("    - debug: var=item\n      loop: {a: 1}\n"), 5, "loop must be a list, but it is a mapping"},
		{"with_items empty", tasksOf("    - debug: var=item\n      with_items:\n"), 5, "with_items needs a list"},
		{"loop_control not a mapping", tasksOf("    - debug: var=item\n      loop: [1]\n      loop_control: x\n"), 6, "loop_control must be a mapping"},
		{"loop_var invalid", tasksOf("    - debug: var=item\n      loop: [1]\n      loop_control: {loop_var: a-b}\n"), 6, "loop_var must be a valid variable name"},
		{"loop_control typo", tasksOf("    - debug: var=item\n      loop: [1]\n      loop_control:\n        lable: x\n"), 7, "unknown loop_control key lable"},
		{"when nested list", tasksOf("    - debug: var=x\n      when: [[a]]\n"), 5, "when must be a condition or a list of conditions, but it holds a list"},
		{"changed_when mapping", tasksOf("    - debug: var=x\n      changed_when: {a: 1}\n"), 5, "changed_when must be a condition"},
		{"register keyword", tasksOf("    - command: ls\n      register: class\n"), 5, `register must be a valid variable name, but it is the string "class"`},
		{"register list", tasksOf("    - command: ls\n      register: [a]\n"), 5, "register must be a valid variable name, but it is a list"},
		{"timeout template", tasksOf("    - command: ls\n      timeout: \"{{ t }}\"\n"), 5, "timeout must be a whole number of seconds"},
		{"retries bool", tasksOf("    - command: ls\n      retries: yes\n"), 5, "retries must be a whole number"},
		{"delegate template", tasksOf("    - command: ls\n      delegate_to: \"{{ groups.db[0] }}\"\n"), 5, "fleet delegates to localhost"},
		{"notify mapping", tasksOf("    - command: ls\n      notify: {a: b}\n"), 5, "notify must be a name or a list of names"},
		{"notify without handlers", tasksOf("    - command: ls\n      notify: restart\n"), 4, `no handler of the play is named or listens to "restart"`},
		{"tags item mapping", tasksOf("    - command: ls\n      tags: [a, {b: c}]\n"), 5, "a tag must be a word"},
		{"name list", tasksOf("    - name: [a]\n      command: ls\n"), 4, "name must be a string, but it is a list"},
		{"become_user list", tasksOf("    - command: ls\n      become_user: [a]\n"), 5, "become_user must be a string"},
		{"environment string", tasksOf("    - command: ls\n      environment: LANG=C\n"), 5, "environment must be a mapping"},
		{"vars not mapping", tasksOf("    - command: ls\n      vars: [1]\n"), 5, "vars must be a mapping (or a list of mappings)"},
		{"register on block", tasksOf("    - block:\n        - command: ls\n      register: r\n"), 6, "register is not allowed on a block"},
		{"loop on block", tasksOf("    - block:\n        - command: ls\n      loop: [1]\n"), 6, "loop is not allowed on a block"},
		{"become on parallel", tasksOf("    - parallel:\n        - command: ls\n      become: yes\n"), 6, "become is not allowed on a parallel block"},
		{"include in parallel", tasksOf("    - parallel:\n        - include_tasks: x.yml\n"), 5, "include_tasks: file x.yml not found"},
		{"block and parallel", tasksOf("    - block: []\n      parallel: []\n"), 5, "both a block and a parallel block"},
		{"block not a list", tasksOf("    - block: x\n"), 4, "block must be a list of tasks, but it is the string"},
		{"keyword typo near module", tasksOf("    - command: ls\n      shel: x\n"), 5, "unknown keyword or module shel"},
		{"unknown keyword far from all", tasksOf("    - command: ls\n      zzzzzz: x\n"), 5, "unknown keyword zzzzzz on a task"},
		{"module typo", tasksOf("    - comand: ls\n"), 4, "unknown module comand"},

		{"debug free form", tasksOf("    - debug: hello\n"), 4, `debug does not take a free-form argument, but it got "hello"`},
		{"debug templated args", tasksOf("    - debug: \"{{ dbg }}\"\n"), 4, "does not take a module's arguments as a template"},
		{"debug msg and var", tasksOf("    - debug: msg=a var=b\n"), 4, "debug takes only one of msg, var"},
		{"file alias twice", tasksOf("    - file: path=/a dest=/b\n"), 4, "file got path twice (dest is another name for path)"},
		{"file no path", tasksOf("    - file: state=touch\n"), 4, "file requires the argument path"},
		{"systemd state without name", tasksOf("    - systemd: state=started\n"), 4, "systemd with state needs the unit's name"},
		{"service without state", tasksOf("    - service: name=x\n"), 4, "service needs one of state, enabled"},
		{"service bad state", tasksOf("    - service: name=x state=start\n"), 4, `state of service must be one of reloaded, restarted, started, stopped, but it is "start"`},
		{"assert without that", tasksOf("    - assert: {fail_msg: x}\n"), 4, "assert requires the argument that"},
		{"set_fact empty", tasksOf("    - set_fact: {}\n"), 4, "set_fact needs at least one variable"},
		{"set_fact free words", tasksOf("    - set_fact: just words\n"), 4, "set_fact does not take a free-form argument"},
		{"include apply", tasksOf("    - include_tasks:\n        file: x.yml\n        apply: {tags: a}\n"), 6, "argument apply of include_tasks is not supported"},
		{"import no name", tasksOf("    - import_tasks:\n"), 4, "import_tasks needs a file name"},
		{"command argv and free form", tasksOf("    - command: ls\n      args:\n        argv: [ls]\n"), 4, "command takes only one of a command, argv"},
		{"command nothing", tasksOf("    - command:\n        chdir: /tmp\n"), 4, "command needs one of a command, argv"},
		{"shell empty", tasksOf("    - shell:\n"), 4, "shell needs a command"},
		{"command warn", tasksOf("    - command: ls warn=no\n"), 4, "argument warn of command is not supported by fleet"},
		{"wait_for path and port", tasksOf("    - wait_for: path=/x port=22\n"), 4, "wait_for takes only one of path, port"},
		{"wait_for port word", tasksOf("    - wait_for:\n        port: ssh\n"), 5, "port of wait_for must be a whole number"},
		{"stat bad checksum", tasksOf("    - stat: path=/x checksum_algorithm=sha999\n"), 4, "checksum_algorithm of stat must be one of"},
		{"fail unknown arg", tasksOf("    - fail: message=x\n"), 4, "unknown argument message for fail"},
		{"unclosed in vars", tasksOf("    - command: ls\n      vars:\n        a: \"{% if x\"\n"), 6, `"{% if x" has no closing "%}"`},
		{"unclosed in play vars", "- hosts: all\n  vars:\n    a: \"{{ x\"\n", 3, "unbalanced template"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := loadString(t, tt.content)
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("Load = %v, want a *diag.Error", err)
			}
			if filepath.Base(de.File) != "play.yml" || de.Line != tt.line {
				t.Errorf("error at %s:%d, want play.yml:%d (%v)", filepath.Base(de.File), de.Line, tt.line, err)
			}
			if !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.msg)
			}
			if de.Hint == "" {
				t.Errorf("no hint for %v", err)
			}
		})
	}
}

// TestLoadValueForms checks the spellings Ansible accepts for keywords.
func TestLoadValueForms(t *testing.T) {
	tests := []struct {
		name, content string
		check         func(t *testing.T, pl *Play)
	}{
		{"serial forms", "- hosts: all\n  serial: \"3\"\n", func(t *testing.T, pl *Play) {
			if !reflect.DeepEqual(pl.Serial, []Serial{{N: 3}}) {
				t.Errorf("Serial = %v", pl.Serial)
			}
		}},
		{"serial empty list", "- hosts: all\n  serial: []\n", func(t *testing.T, pl *Play) {
			if pl.Serial != nil {
				t.Errorf("Serial = %v, want nil", pl.Serial)
			}
		}},
		{"max_fail_percentage percent string", "- hosts: all\n  max_fail_percentage: \"30%\"\n", func(t *testing.T, pl *Play) {
			if pl.MaxFailPercentage == nil || *pl.MaxFailPercentage != 30 {
				t.Errorf("MaxFailPercentage = %v", pl.MaxFailPercentage)
			}
		}},
		{"defaults", "- hosts: all\n", func(t *testing.T, pl *Play) {
			if !pl.GatherFacts || pl.Strategy != "linear" || pl.Serial != nil || pl.MaxFailPercentage != nil || pl.Become != nil {
				t.Errorf("defaults wrong: %+v", pl)
			}
		}},
		{"vars list of mappings", "- hosts: all\n  vars: [{a: 1, b: 1}, {b: 2}]\n", func(t *testing.T, pl *Play) {
			if got := jsonOf(pl.Vars); got != `{"a": 1, "b": 2}` {
				t.Errorf("Vars = %s", got)
			}
		}},
		{"tags as comma string", tasksOf("    - command: ls\n      tags: \"a, b,c\"\n"), func(t *testing.T, pl *Play) {
			if got := pl.Tasks[0].Tags; !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
				t.Errorf("Tags = %q", got)
			}
		}},
		{"numbers as tags and names", tasksOf("    - name: 1.5\n      command: ls\n      tags: [1, x]\n"), func(t *testing.T, pl *Play) {
			if pl.Tasks[0].Name != "1.5" || !reflect.DeepEqual(pl.Tasks[0].Tags, []string{"1", "x"}) {
				t.Errorf("Name %q Tags %q", pl.Tasks[0].Name, pl.Tasks[0].Tags)
			}
		}},
		{"conditions", tasksOf("    - command: ls\n      when: yes\n      failed_when: [a, false]\n      until: 1\n"), func(t *testing.T, pl *Play) {
			tk := pl.Tasks[0]
			if !reflect.DeepEqual(tk.When, []string{"True"}) || !reflect.DeepEqual(tk.FailedWhen, []string{"a", "False"}) ||
				!reflect.DeepEqual(tk.Until, []string{"1"}) || tk.Retries != 3 || tk.Delay != 5 {
				t.Errorf("When %q FailedWhen %q Until %q Retries %d Delay %d", tk.When, tk.FailedWhen, tk.Until, tk.Retries, tk.Delay)
			}
		}},
		{"retries zero kept", tasksOf("    - command: ls\n      until: x\n      retries: 0\n      delay: \"0\"\n"), func(t *testing.T, pl *Play) {
			if tk := pl.Tasks[0]; tk.Retries != 0 || tk.Delay != 0 {
				t.Errorf("Retries %d Delay %d", tk.Retries, tk.Delay)
			}
		}},
		{"no_log and become strings", tasksOf("    - command: ls\n      no_log: \"true\"\n      become: \"no\"\n"), func(t *testing.T, pl *Play) {
			if tk := pl.Tasks[0]; !tk.NoLog || tk.Become == nil || *tk.Become {
				t.Errorf("NoLog %v Become %v", tk.NoLog, tk.Become)
			}
		}},
		{"with_items string", tasksOf("    - debug: var=item\n      with_items: \"{{ things }}\"\n"), func(t *testing.T, pl *Play) {
			if tk := pl.Tasks[0]; tk.Loop != "{{ things }}" || !tk.WithItems {
				t.Errorf("Loop %v WithItems %v", tk.Loop, tk.WithItems)
			}
		}},
		{"unsafe command stays unsafe", tasksOf("    - command: !unsafe echo {{ x }} chdir=/tmp\n"), func(t *testing.T, pl *Play) {
			args := pl.Tasks[0].Args
			if v, _ := args.Get(rawParams); v != vars.Unsafe("echo {{ x }}") {
				t.Errorf("_raw_params = %#v", v)
			}
			if v, _ := args.Get("chdir"); v != vars.Unsafe("/tmp") {
				t.Errorf("chdir = %#v", v)
			}
		}},
		{"aliases folded", tasksOf("    - lineinfile: dest=/etc/x regex=^a value=b\n    - stat: {name: /x, checksum: sha256}\n"), func(t *testing.T, pl *Play) {
			if got := jsonOf(pl.Tasks[0].Args); got != `{"path": "/etc/x", "regexp": "^a", "line": "b"}` {
				t.Errorf("lineinfile args = %s", got)
			}
			if got := jsonOf(pl.Tasks[1].Args); got != `{"path": "/x", "checksum_algorithm": "sha256"}` {
				t.Errorf("stat args = %s", got)
			}
		}},
		{"cmd becomes raw params", tasksOf("    - shell:\n        cmd: echo hi\n        chdir: /tmp\n"), func(t *testing.T, pl *Play) {
			if got := jsonOf(pl.Tasks[0].Args); got != `{"chdir": "/tmp", "_raw_params": "echo hi"}` {
				t.Errorf("args = %s", got)
			}
		}},
		{"module args override args:", tasksOf("    - copy: dest=/b\n      args: {dest: /a, content: x}\n"), func(t *testing.T, pl *Play) {
			if got := jsonOf(pl.Tasks[0].Args); got != `{"dest": "/b", "content": "x"}` {
				t.Errorf("args = %s", got)
			}
		}},
		{"include file arg", tasksOf("    - include_tasks:\n        file: \"{{ f }}\"\n"), func(t *testing.T, pl *Play) {
			tk := pl.Tasks[0]
			if got := jsonOf(tk.Args); got != `{"_raw_params": "{{ f }}"}` || tk.Included != nil {
				t.Errorf("args = %s, Included = %v", got, tk.Included)
			}
		}},
		{"templated handler name disables the notify check", tasksOf("    - command: ls\n      notify: anything\n") +
			"  handlers:\n    - name: \"restart {{ svc }}\"\n      command: ls\n", func(t *testing.T, pl *Play) {
			if !pl.Handlers[0].Handler {
				t.Error("handler not marked")
			}
		}},
		{"hosts list", "- hosts: [web, \"db:&prod\"]\n", func(t *testing.T, pl *Play) {
			if pl.Hosts != "web,db:&prod" {
				t.Errorf("Hosts = %q", pl.Hosts)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pb, err := loadString(t, tt.content)
			if err != nil {
				t.Fatalf("Load: %v (hint: %s)", err, diag.Hint(err))
			}
			tt.check(t, pb.Plays[0])
		})
	}
}

// TestInheritance checks the folding of block, import and include
// keywords into tasks in testdata/good/site.yml.
func TestInheritance(t *testing.T) {
	pb, err := Load("testdata/good/site.yml")
	if err != nil {
		t.Fatal(err)
	}
	find := func(name string) *Task {
		var found *Task
		var walk func(ts []*Task)
		walk = func(ts []*Task) {
			for _, tk := range ts {
				if tk.Name == name && found == nil {
					found = tk
				}
				for _, sub := range [][]*Task{tk.Block, tk.Rescue, tk.Always, tk.Parallel, tk.Included} {
					walk(sub)
				}
			}
		}
		for _, pl := range pb.Plays {
			walk(slices.Concat(pl.PreTasks, pl.Tasks, pl.PostTasks, pl.Handlers))
		}
		if found == nil {
			t.Fatalf("no task %q", name)
		}
		return found
	}

	inner := find("in block")
	if !reflect.DeepEqual(inner.When, []string{"outer"}) || !inner.IgnoreErrors || inner.BecomeUser != "app" ||
		inner.DelegateTo != "127.0.0.1" || !inner.RunOnce || !inner.NoLog {
		t.Errorf("block keywords not folded into %q: %+v", inner.Name, inner)
	}
	nested := find("nested").Block[0]
	if !reflect.DeepEqual(nested.When, []string{"outer", "one", "two", "inner_ok"}) {
		t.Errorf("nested When = %q, want the outer conditions first", nested.When)
	}
	if !reflect.DeepEqual(nested.Tags, []string{"blk", "inner"}) {
		t.Errorf("nested Tags = %q", nested.Tags)
	}
	if nested.IgnoreErrors {
		t.Error("a task's own ignore_errors: false must win over its block's")
	}

	imported := find("common one")
	if !reflect.DeepEqual(imported.When, []string{"imported", "own"}) || !reflect.DeepEqual(imported.Tags, []string{"imp", "own"}) {
		t.Errorf("import keywords: When %q Tags %q", imported.When, imported.Tags)
	}
	if filepath.ToSlash(imported.File) != "testdata/good/tasks/common.yml" || imported.Line != 1 {
		t.Errorf("imported task at %s", imported.Pos)
	}

	inc := find("static include")
	if len(inc.Included) != 1 {
		t.Fatalf("static include has %d tasks pre-parsed, want 1", len(inc.Included))
	}
	child := inc.Included[0]
	if !reflect.DeepEqual(child.When, []string{"inc_own"}) || child.Tags != nil {
		t.Errorf("an included task must not inherit the include's own when/tags: When %q Tags %q", child.When, child.Tags)
	}
	if v, _ := child.Vars.Get("from_include"); v != int64(1) {
		t.Errorf("an included task inherits the include's vars; got %v", jsonOf(child.Vars))
	}

	if h := find("imported handler"); !h.Handler {
		t.Error("a task imported into handlers must be a handler")
	}
	if p := find("p2"); p.Module != "shell" || p.Action != "ansible.legacy.shell" || !reflect.DeepEqual(p.When, []string{"go"}) {
		t.Errorf("parallel child: Module %q Action %q When %q", p.Module, p.Action, p.When)
	}
}

// TestTaskFileResolution checks that nested imports and includes find
// the files Ansible finds (see testdata/resolve/play.yml), and that a
// templated include loads at run time with what it inherits.
func TestTaskFileResolution(t *testing.T) {
	pb, err := Load("testdata/resolve/play.yml")
	if err != nil {
		t.Fatal(err)
	}
	tasks := pb.Plays[0].Tasks
	if len(tasks) != 3 {
		t.Fatalf("got %d tasks, want 3", len(tasks))
	}
	if got := filepath.ToSlash(tasks[0].File); got != "testdata/resolve/c.yml" {
		t.Errorf("c.yml resolved to %s, want testdata/resolve/c.yml as Ansible", got)
	}
	if len(tasks[1].Included) != 1 || filepath.ToSlash(tasks[1].Included[0].File) != "testdata/resolve/sub/d.yml" {
		t.Errorf("d.yml include: %+v", tasks[1].Included)
	}
	dyn := tasks[2]
	if dyn.Included != nil {
		t.Fatalf("a templated include must not be pre-parsed")
	}
	got, _, err := dyn.LoadIncluded("tasks/a.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 {
		t.Fatalf("LoadIncluded gave %d tasks, want 2", len(got))
	}
	if f := filepath.ToSlash(got[0].File); f != "testdata/resolve/c.yml" {
		t.Errorf("at run time c.yml resolved to %s", f)
	}
	for _, tk := range got {
		if tk.When != nil || tk.Tags != nil {
			t.Errorf("included task inherits the include's own when/tags: %q %q", tk.When, tk.Tags)
		}
		if v, _ := tk.Vars.Get("v"); v != int64(1) {
			t.Errorf("included task lacks the include's vars: %s", jsonOf(tk.Vars))
		}
	}
	if _, _, err := dyn.LoadIncluded("tasks/none.yml"); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("LoadIncluded of a missing file = %v", err)
	}
	if _, _, err := tasks[0].LoadIncluded("x.yml"); err == nil {
		t.Error("LoadIncluded on a task that is not an include must fail")
	}
}

func TestSelfInclude(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, "again.yml", "- debug: msg=again\n- include_tasks: again.yml\n  when: more\n")
	p := writeFile(t, dir, "play.yml", "- hosts: all\n  tasks:\n    - include_tasks: again.yml\n")
	pb, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	top := pb.Plays[0].Tasks[0]
	if len(top.Included) != 2 || top.Included[1].Included != nil {
		t.Errorf("a self-include must be left for run time; got %+v", top.Included)
	}
}

func TestLoadTasks(t *testing.T) {
	tasks, err := LoadTasks("testdata/good/tasks/common.yml")
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].Name != "common one" || tasks[1].Name != "inner" {
		t.Fatalf("got %d tasks", len(tasks))
	}
	if tasks[1].File != filepath.Join("testdata/good/tasks/nested/inner.yml") {
		t.Errorf("nested import from %s", tasks[1].File)
	}

	dir := t.TempDir()
	for _, tt := range []struct{ content, msg string }{
		{"a: 1\n", "a task file must hold a list of tasks"},
		{"- hosts: all\n  tasks: []\n", "hosts is a play keyword, not a task keyword"},
	} {
		_, err := LoadTasks(writeFile(t, dir, "t.yml", tt.content))
		if err == nil || !strings.Contains(err.Error(), tt.msg) {
			t.Errorf("LoadTasks(%q) = %v, want %q", tt.content, err, tt.msg)
		}
	}
	if _, err := LoadTasks(filepath.Join(dir, "absent.yml")); err == nil || !strings.Contains(err.Error(), "cannot read") {
		t.Errorf("LoadTasks of a missing file = %v", err)
	}
	empty, err := LoadTasks(writeFile(t, dir, "empty.yml", ""))
	if err != nil || len(empty) != 0 {
		t.Errorf("an empty task file gives %v, %v", empty, err)
	}
}

func TestWarnings(t *testing.T) {
	pb, err := loadString(t, "- hosts: all\n  vars:\n    a: 1\n    a: 2\n")
	if err != nil {
		t.Fatal(err)
	}
	if len(pb.Warnings) != 1 || pb.Warnings[0].Line != 4 || !strings.Contains(pb.Warnings[0].Msg, `duplicate key "a"`) {
		t.Errorf("Warnings = %v", pb.Warnings)
	}
}

func TestDisplayName(t *testing.T) {
	pb, err := loadString(t, tasksOf("    - name: named\n      command: ls\n    - ansible.builtin.command: ls\n"+
		"    - block: [{command: ls}]\n    - parallel: [{command: ls}]\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, tk := range pb.Plays[0].Tasks {
		got = append(got, tk.DisplayName())
	}
	if want := []string{"named", "ansible.builtin.command", "block", "parallel"}; !reflect.DeepEqual(got, want) {
		t.Errorf("DisplayName = %q, want %q", got, want)
	}
}

func TestSupportedModules(t *testing.T) {
	got := SupportedModules()
	want := []string{"assert", "command", "copy", "debug", "fail", "fetch", "file", "import_tasks", "include_tasks",
		"lineinfile", "meta", "script", "service", "set_fact", "shell", "stat", "systemd", "template", "wait_for"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SupportedModules() = %q", got)
	}
	for _, n := range got {
		for _, spelled := range []string{n, "ansible.builtin." + n, "ansible.legacy." + n} {
			if short, ok := moduleName(spelled); !ok || short != n {
				t.Errorf("moduleName(%q) = %q, %v", spelled, short, ok)
			}
		}
	}
}

// TestLoadIncludedConcurrently checks that the executor may load one
// include for many hosts at once (go test -race).
func TestLoadIncludedConcurrently(t *testing.T) {
	pb, err := Load("testdata/resolve/play.yml")
	if err != nil {
		t.Fatal(err)
	}
	dyn := pb.Plays[0].Tasks[2]
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tasks, _, err := dyn.LoadIncluded("tasks/a.yml")
			if err == nil && len(tasks) != 2 {
				err = fmt.Errorf("got %d tasks", len(tasks))
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
}
