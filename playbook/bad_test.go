package playbook

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"fleetrun.dev/fleet/diag"
)

// TestBadPlaybooks loads each playbook in testdata/bad, one per kind of
// mistake, and checks that it is refused with the right file and line, a
// message that says what is wrong, and a hint.
func TestBadPlaybooks(t *testing.T) {
	tests := []struct {
		file string // under testdata/bad
		at   string // "file:line" of the error, under testdata/bad
		msg  string // a fragment of the message
		hint string // a fragment of the hint
	}{
		{"yaml-syntax.yml", "yaml-syntax.yml:5", "YAML syntax error", "indentation"},
		{"empty.yml", "empty.yml", "the playbook is empty", "list of plays"},
		{"not-a-list.yml", "not-a-list.yml:1", "must be a list of plays", "start the play with '- '"},
		{"play-not-mapping.yml", "play-not-mapping.yml:3", `play 2 is the string "just a string"`, "list of plays"},
		{"no-hosts.yml", "no-hosts.yml:1", "the play has no hosts:", "hosts: all"},
		{"bad-hosts.yml", "bad-hosts.yml:1", "hosts must be a host pattern, but it is empty", "hosts: all"},
		{"unknown-play-keyword.yml", "unknown-play-keyword.yml:2", "unknown play keyword gather_fact", `did you mean "gather_facts"?`},
		{"roles.yml", "roles.yml:2", "play keyword roles is not supported by fleet", "import_tasks"},
		{"task-at-play-level.yml", "task-at-play-level.yml:2", "command is a task keyword, not a play keyword", "under `tasks:`"},
		{"bad-serial.yml", "bad-serial.yml:2", "serial 0 is not valid", `serial: "30%"`},
		{"bad-strategy.yml", "bad-strategy.yml:2", `strategy "host_pinned" is not supported`, "linear"},
		{"bad-max-fail.yml", "bad-max-fail.yml:2", "max_fail_percentage must be a number from 0 to 100", "from 0 to 100"},
		{"become-method.yml", "become-method.yml:3", `become_method "su" is not supported`, "sudo"},
		{"bad-var-name.yml", "bad-var-name.yml:3", `"app-port" is not a valid variable name`, "underscores"},
		{"missing-vars-file.yml", "missing-vars-file.yml:2", "vars file vars/absent.yml not found", "relative to the playbook"},
		{"bad-vars-file.yml", "vars/list.yml:1", "a vars file must hold a mapping (or a list of mappings), but this one holds a list", "mapping"},
		{"unknown-task-keyword.yml", "unknown-task-keyword.yml:5", "unknown keyword whn", `did you mean "when"?`},
		{"unsupported-keyword.yml", "unsupported-keyword.yml:3", "keyword local_action is not supported by fleet", "delegate_to: localhost"},
		{"with-dict.yml", "with-dict.yml:4", "with_dict is not supported by fleet", "loop:"},
		{"delegate-to.yml", "delegate-to.yml:5", `delegate_to "lb1" is not supported: fleet delegates to localhost`, "delegate_to: localhost"},
		{"loop-not-list.yml", "loop-not-list.yml:5", `loop must be a list, but it is the string "packages"`, `loop: "{{ packages }}"`},
		{"loop-and-with-items.yml", "loop-and-with-items.yml:5", "both loop: and with_items:", "keep one"},
		{"bad-loop-control.yml", "bad-loop-control.yml:6", "loop_control.index_var is not supported by fleet", "loop_var and label"},
		{"unknown-module.yml", "unknown-module.yml:4", "unknown module apt", "fleet supports assert, command, copy"},
		{"unsupported-fqcn.yml", "unsupported-fqcn.yml:3", "module ansible.builtin.user is not supported by fleet", "fleet supports"},
		{"two-modules.yml", "two-modules.yml:5", "has two: command and shell", "two tasks"},
		{"no-module.yml", "no-module.yml:3", "the task has no module to run", "command: uptime"},
		{"block-with-module.yml", "block-with-module.yml:6", "a block cannot also run a module, but this one has command", "inside the block"},
		{"rescue-without-block.yml", "rescue-without-block.yml:4", "rescue: belongs to a block", "block:"},
		{"handler-block.yml", "handler-block.yml:5", "a block cannot be a handler", "handlers:"},
		{"nested-parallel.yml", "nested-parallel.yml:5", "a parallel block cannot be inside another", "merge"},
		{"block-in-parallel.yml", "block-in-parallel.yml:5", "a block cannot be inside a parallel block", "around the parallel block"},
		{"parallel-empty.yml", "parallel-empty.yml:4", "parallel must be a non-empty list of tasks, but it is an empty list", "parallel:"},
		{"bad-register.yml", "bad-register.yml:4", `register must be a valid variable name, but it is the string "my-result"`, "underscores"},
		{"bad-when.yml", "bad-when.yml:4", "when must be a condition or a list of conditions, but it holds a mapping", "Jinja2 expression"},
		{"bad-tags.yml", "bad-tags.yml:4", "tags must be a list or a comma-separated string", "tags: [deploy, web]"},
		{"bad-become.yml", "bad-become.yml:4", `become must be true or false, but it is the string "maybe"`, "true or false"},
		{"bad-timeout.yml", "bad-timeout.yml:4", `timeout must be a whole number of seconds, but it is the string "soon"`, "timeout: 10"},
		{"bad-retries.yml", "bad-retries.yml:6", "retries must be a whole number of retries, but it is the number -1", "retries: 10"},
		{"bad-delay.yml", "bad-delay.yml:6", "delay must be a whole number of seconds, but it is the number 1.5", "delay: 10"},
		{"unbalanced-template.yml", "unbalanced-template.yml:5", `unbalanced template: "{{ name" has no closing "}}"`, "close every {{"},
		{"listen-outside-handlers.yml", "listen-outside-handlers.yml:4", "listen is for handlers", "notify:"},
		{"notify-unknown.yml", "notify-unknown.yml:3", `no handler of the play is named or listens to "restart ngnix"`, `did you mean "restart nginx"?`},
		{"missing-import.yml", "missing-import.yml:4", "import_tasks: file tasks/nope.yml not found", "check the name"},
		{"missing-include.yml", "missing-include.yml:3", "include_tasks: file tasks/absent.yml not found", "check the name"},
		{"templated-import.yml", "templated-import.yml:3", "cannot import a file whose name is a template", "include_tasks"},
		{"import-with-loop.yml", "import-with-loop.yml:4", "loop is not allowed on import_tasks", "use include_tasks"},
		{"include-keyword.yml", "include-keyword.yml:4", "become is not allowed on include_tasks", "block around the include_tasks"},
		{"import-cycle.yml", "tasks/cycle-b.yml:1", "makes a loop", "remove the import"},
		{"error-in-import.yml", "tasks/bad-task.yml:5", "unknown keyword regsiter", `did you mean "register"?`},
		{"error-in-include.yml", "tasks/bad-include.yml:5", "module ansible.builtin.apt is not supported by fleet", "fleet supports"},
		{"unknown-arg.yml", "unknown-arg.yml:5", "unknown argument dset for copy", `did you mean "dest"?`},
		{"missing-arg.yml", "missing-arg.yml:4", "template requires the argument dest", "dest:"},
		{"exclusive-args.yml", "exclusive-args.yml:3", "copy takes only one of src, content, but got src and content", "only one"},
		{"unsupported-arg.yml", "unsupported-arg.yml:6", "argument remote_src of copy is not supported by fleet", "command: cp"},
		{"bad-choice.yml", "bad-choice.yml:3", `state of file must be one of absent, directory, file, link, touch, but it is "dirctory"`, `did you mean "directory"?`},
		{"wrong-arg-type.yml", "wrong-arg-type.yml:6", `backup of copy must be true or false, but it is the string "sometimes"`, "true or false"},
		{"free-form-extra.yml", "free-form-extra.yml:3", `copy does not take a free-form argument, but it got "a.conf /etc/a.conf"`, "src=..."},
		{"meta-unsupported.yml", "meta-unsupported.yml:3", "meta end_play is not supported by fleet", "flush_handlers"},
		{"module-list-args.yml", "module-list-args.yml:3", "the arguments of command must be a mapping or a string, but they are a list", "key: value"},
		{"args-not-mapping.yml", "args-not-mapping.yml:4", `args must be a mapping, but it is the string "chdir=/tmp"`, "args: {chdir: /tmp}"},
		{"command-cmd-twice.yml", "command-cmd-twice.yml:5", "command has both a free-form command and cmd:", "once"},
		{"set-fact-bad-name.yml", "set-fact-bad-name.yml:5", `"bad name" is not a valid variable name`, "underscores"},
		{"leading-blank-line.yml", "leading-blank-line.yml:3", "cannot split the arguments of shell", "blank line"},
	}
	seen := map[string]bool{}
	for _, tt := range tests {
		seen[tt.file] = true
		t.Run(tt.file, func(t *testing.T) {
			_, err := Load(filepath.Join("testdata", "bad", tt.file))
			if err == nil {
				t.Fatalf("Load succeeded, want an error at %s", tt.at)
			}
			var de *diag.Error
			if !errors.As(err, &de) {
				t.Fatalf("error %v is a %T, want a *diag.Error", err, err)
			}
			if got, want := diag.Location(filepath.ToSlash(de.File), de.Line), "testdata/bad/"+tt.at; got != want {
				t.Errorf("error at %s, want %s (error: %v)", got, want, err)
			}
			if de.Pkg != "playbook" {
				t.Errorf("Pkg = %q, want playbook", de.Pkg)
			}
			if !strings.Contains(de.Msg, tt.msg) {
				t.Errorf("message %q does not contain %q", de.Msg, tt.msg)
			}
			if !strings.Contains(de.Hint, tt.hint) {
				t.Errorf("hint %q does not contain %q", de.Hint, tt.hint)
			}
		})
	}
	files, err := filepath.Glob("testdata/bad/*.yml")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if !seen[filepath.Base(f)] {
			t.Errorf("%s has no entry in the table", f)
		}
	}
}
