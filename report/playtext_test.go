package report

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
)

// The goldens at the end of this file are the exact output of
// ansible-playbook 2.14.18 (Debian bookworm), run against local
// connections with these inventories:
//
//	inv:  h1 ansible_connection=local ansible_python_interpreter=/usr/bin/python3
//	      h2 ansible_connection=local ansible_python_interpreter=/usr/bin/python3
//	inv1: h1 (as in inv)
//	inv2: h1 (as in inv)
//	      bad ansible_host=127.0.0.1 ansible_port=1 ansible_connection=ssh
//
// Each test feeds the sink the events fleet's runner sends for the same
// playbook, with the results Ansible had (times and all), and compares
// byte for byte.

// warnEvent is a Warn call in an event list.
type warnEvent string

// feed sends events to s in order.
func feed(s PlaySink, events ...any) {
	for _, e := range events {
		switch e := e.(type) {
		case PlayStart:
			s.Play(e)
		case TaskStart:
			s.Task(e)
		case TaskResult:
			s.Result(e)
		case warnEvent:
			s.Warn(string(e))
		case []RecapRow:
			s.Recap(e)
		default:
			panic(fmt.Sprintf("feed: unknown event %T", e))
		}
	}
}

// cmdResult is a command module's result as Ansible registers it.
func cmdResult(changed bool, cmd any, rc int64, stdout, start, end, delta string) map[string]any {
	msg := ""
	if rc != 0 {
		msg = "non-zero return code"
	}
	lines := []string{}
	if stdout != "" {
		lines = strings.Split(stdout, "\n")
	}
	return map[string]any{
		"changed": changed, "cmd": cmd, "rc": rc, "msg": msg,
		"start": start, "end": end, "delta": delta,
		"stdout": stdout, "stdout_lines": lines, "stderr": "", "stderr_lines": []any{},
		"invocation":      map[string]any{"module_args": map[string]any{"_raw_params": "x"}},
		"_ansible_no_log": false,
	}
}

func checkGolden(t *testing.T, got, want string) {
	t.Helper()
	if got == want {
		return
	}
	gl, wl := strings.Split(got, "\n"), strings.Split(want, "\n")
	for i := range max(len(gl), len(wl)) {
		var g, w string
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if g != w {
			t.Errorf("output differs from Ansible's at line %d:\n got %q\nwant %q\nwhole output:\n%s", i+1, g, w, got)
			return
		}
	}
}

// p1Events are the events of this playbook (p1.yml), run with inv:
//
//   - name: web
//     hosts: all
//     gather_facts: false
//     tasks:
//   - name: say hello
//     debug: {msg: hello}
//   - name: show var
//     debug: {var: inventory_hostname}
//   - name: change
//     command: "true"
//   - name: ok cmd
//     command: "true"
//     changed_when: false
//   - name: skip on h2
//     command: "true"
//     when: inventory_hostname == 'h1'
//   - name: loop
//     command: "echo {{ item }}"
//     loop: [a, b]
//     when: item == 'a' or inventory_hostname == 'h1'
//   - name: loop all skipped
//     command: "echo {{ item }}"
//     loop: [a, b]
//     when: inventory_hostname == 'nope'
//   - name: failing ignored
//     command: "false"
//     ignore_errors: true
//   - name: delegated
//     command: "true"
//     delegate_to: localhost
//     notify: restart
//   - name: fail on h2
//     fail: {msg: "boom <&> é"}
//     when: inventory_hostname == 'h2'
//     handlers:
//   - name: restart
//     debug: {msg: restarting}
//
// With second="bad" they are those of the run with inv2, where bad is
// unreachable (h2's lines are left out; debug runs on the controller).
func p1Events(second string) []any {
	hosts := []string{"h1", second}
	ev := []any{
		PlayStart{Name: "web", Pos: "p1.yml:1", Hosts: hosts},
		TaskStart{Name: "say hello", Module: "debug", Hosts: 2},
		TaskResult{Host: "h1", Task: "say hello", Status: TaskOK, Result: map[string]any{"msg": "hello", "changed": false, "_ansible_verbose_always": true}},
		TaskResult{Host: second, Task: "say hello", Status: TaskOK, Result: map[string]any{"msg": "hello", "changed": false}},
		TaskStart{Name: "show var", Module: "ansible.builtin.debug", Hosts: 2},
		TaskResult{Host: "h1", Task: "show var", Status: TaskOK, Result: map[string]any{"inventory_hostname": "h1", "changed": false}},
		TaskResult{Host: second, Task: "show var", Status: TaskOK, Result: map[string]any{"inventory_hostname": second, "changed": false}},
		TaskStart{Name: "change", Module: "command", Hosts: 2},
	}
	if second == "bad" {
		ev = append(ev,
			TaskResult{Host: "bad", Task: "change", Status: TaskUnreachable, Msg: "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused"},
			TaskResult{Host: "h1", Task: "change", Status: TaskChanged},
			TaskStart{Name: "ok cmd", Module: "command", Hosts: 1},
			TaskResult{Host: "h1", Task: "ok cmd", Status: TaskOK},
			TaskStart{Name: "skip on h2", Module: "command", Hosts: 1},
			TaskResult{Host: "h1", Task: "skip on h2", Status: TaskChanged},
			TaskStart{Name: "loop", Module: "command", Hosts: 1},
			TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Item: "a", HasItem: true},
			TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Item: "b", HasItem: true},
			TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Loop: true},
			TaskStart{Name: "loop all skipped", Module: "command", Hosts: 1},
			TaskResult{Host: "h1", Task: "loop all skipped", Status: TaskSkipped, Item: "a", HasItem: true},
			TaskResult{Host: "h1", Task: "loop all skipped", Status: TaskSkipped, Item: "b", HasItem: true},
			TaskResult{Host: "h1", Task: "loop all skipped", Status: TaskSkipped, Loop: true},
			TaskStart{Name: "failing ignored", Module: "command", Hosts: 1},
			TaskResult{Host: "h1", Task: "failing ignored", Status: TaskFailed, Ignored: true, Result: cmdResult(true, []any{"false"}, 1, "", "2026-11-24 00:01:47.569185", "2026-11-24 00:01:47.572616", "0:00:00.003431")},
			TaskStart{Name: "delegated", Module: "command", Hosts: 1},
			TaskResult{Host: "h1", Task: "delegated", Status: TaskChanged, Delegated: "localhost"},
			TaskStart{Name: "fail on h2", Module: "fail", Hosts: 1},
			TaskResult{Host: "h1", Task: "fail on h2", Status: TaskSkipped},
			TaskStart{Name: "restart", Module: "debug", Handler: true, Hosts: 1},
			TaskResult{Host: "h1", Task: "restart", Status: TaskOK, Result: map[string]any{"msg": "restarting", "changed": false}},
			[]RecapRow{
				{Host: "h1", OK: 9, Changed: 5, Skipped: 2, Ignored: 1},
				{Host: "bad", OK: 2, Unreachable: 1},
			},
		)
		return ev
	}
	return append(ev,
		TaskResult{Host: "h2", Task: "change", Status: TaskChanged},
		TaskResult{Host: "h1", Task: "change", Status: TaskChanged},
		TaskStart{Name: "ok cmd", Module: "command", Hosts: 2},
		TaskResult{Host: "h1", Task: "ok cmd", Status: TaskOK},
		TaskResult{Host: "h2", Task: "ok cmd", Status: TaskOK},
		TaskStart{Name: "skip on h2", Module: "command", Hosts: 2},
		TaskResult{Host: "h2", Task: "skip on h2", Status: TaskSkipped},
		TaskResult{Host: "h1", Task: "skip on h2", Status: TaskChanged},
		TaskStart{Name: "loop", Module: "command", Hosts: 2},
		TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Item: "a", HasItem: true},
		TaskResult{Host: "h2", Task: "loop", Status: TaskChanged, Item: "a", HasItem: true},
		TaskResult{Host: "h2", Task: "loop", Status: TaskSkipped, Item: "b", HasItem: true},
		TaskResult{Host: "h2", Task: "loop", Status: TaskChanged, Loop: true},
		TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Item: "b", HasItem: true},
		TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Loop: true},
		TaskStart{Name: "loop all skipped", Module: "command", Hosts: 2},
		TaskResult{Host: "h2", Task: "loop all skipped", Status: TaskSkipped, Item: "a", HasItem: true},
		TaskResult{Host: "h2", Task: "loop all skipped", Status: TaskSkipped, Item: "b", HasItem: true},
		TaskResult{Host: "h2", Task: "loop all skipped", Status: TaskSkipped, Loop: true},
		TaskResult{Host: "h1", Task: "loop all skipped", Status: TaskSkipped, Item: "a", HasItem: true},
		TaskResult{Host: "h1", Task: "loop all skipped", Status: TaskSkipped, Item: "b", HasItem: true},
		TaskResult{Host: "h1", Task: "loop all skipped", Status: TaskSkipped, Loop: true},
		TaskStart{Name: "failing ignored", Module: "command", Hosts: 2},
		TaskResult{Host: "h1", Task: "failing ignored", Status: TaskFailed, Ignored: true, Result: cmdResult(true, []any{"false"}, 1, "", "2026-11-24 00:00:56.153945", "2026-11-24 00:00:56.158048", "0:00:00.004103")},
		TaskResult{Host: "h2", Task: "failing ignored", Status: TaskFailed, Ignored: true, Result: cmdResult(true, []string{"false"}, 1, "", "2026-11-24 00:00:56.177561", "2026-11-24 00:00:56.203715", "0:00:00.026154")},
		TaskStart{Name: "delegated", Module: "command", Hosts: 2},
		TaskResult{Host: "h1", Task: "delegated", Status: TaskChanged, Delegated: "localhost"},
		TaskResult{Host: "h2", Task: "delegated", Status: TaskChanged, Delegated: "localhost"},
		TaskStart{Name: "fail on h2", Module: "fail", Hosts: 2},
		TaskResult{Host: "h1", Task: "fail on h2", Status: TaskSkipped},
		TaskResult{Host: "h2", Task: "fail on h2", Status: TaskFailed, Msg: "boom <&> é"},
		TaskStart{Name: "restart", Module: "debug", Handler: true, Hosts: 1},
		TaskResult{Host: "h1", Task: "restart", Status: TaskOK, Result: map[string]any{"msg": "restarting", "changed": false}},
		[]RecapRow{
			{Host: "h2", OK: 7, Changed: 4, Failed: 1, Skipped: 2, Ignored: 1},
			{Host: "h1", OK: 9, Changed: 5, Skipped: 2, Ignored: 1},
		},
	)
}

func TestPlayTextPlain(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{})
	feed(s, p1Events("h2")...)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	checkGolden(t, b.String(), ansiblePlain)
}

// escToSign writes ESC as the goldens do.
func escToSign(s string) string { return strings.ReplaceAll(s, "\x1b", "¤") }

func TestPlayTextColor(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{Color: true, Diff: true})
	feed(s, p1Events("bad")...)
	checkGolden(t, escToSign(b.String()), ansibleColor)
}

// p2Events are the events of p2.yml run with inv2:
//
//   - hosts: all
//     gather_facts: false
//     tasks:
//   - name: debug loop
//     debug: {msg: "item {{ item }}"}
//     loop: [a, b]
//   - name: fail loop
//     command: "{{ item }}"
//     loop: ["true", "false"]
//     ignore_errors: true
//   - name: fail loop 2
//     shell: "exit {{ item }}"
//     loop: [0, 3]
func p2Events() []any {
	refused := "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused"
	unreachableItem := func(item string) map[string]any {
		return map[string]any{"ansible_loop_var": "item", "item": item, "msg": refused, "unreachable": true, "_ansible_item_label": item}
	}
	debugItem := func(item string) map[string]any {
		return map[string]any{"ansible_loop_var": "item", "item": item, "msg": "item " + item, "changed": false, "failed": false}
	}
	failItem := cmdResult(true, []any{"false"}, 1, "", "2026-11-24 00:01:04.914123", "2026-11-24 00:01:04.922453", "0:00:00.008330")
	failItem["ansible_loop_var"], failItem["item"] = "item", "false"
	fail2 := cmdResult(true, "exit 3", 3, "", "2026-11-24 00:01:05.295711", "2026-11-24 00:01:05.300259", "0:00:00.004548")
	fail2["ansible_loop_var"], fail2["item"] = "item", int64(3)
	return []any{
		PlayStart{Name: "all", Hosts: []string{"h1", "bad"}},
		TaskStart{Name: "debug loop", Module: "debug", Hosts: 2},
		TaskResult{Host: "h1", Task: "debug loop", Status: TaskOK, Item: "a", HasItem: true, Result: debugItem("a")},
		TaskResult{Host: "h1", Task: "debug loop", Status: TaskOK, Item: "b", HasItem: true, Result: debugItem("b")},
		TaskResult{Host: "h1", Task: "debug loop", Status: TaskOK, Loop: true},
		TaskResult{Host: "bad", Task: "debug loop", Status: TaskOK, Item: "a", HasItem: true, Result: debugItem("a")},
		TaskResult{Host: "bad", Task: "debug loop", Status: TaskOK, Item: "b", HasItem: true, Result: debugItem("b")},
		TaskResult{Host: "bad", Task: "debug loop", Status: TaskOK, Loop: true},
		TaskStart{Name: "fail loop", Module: "command", Hosts: 2},
		TaskResult{Host: "bad", Task: "fail loop", Status: TaskUnreachable, Item: "true", HasItem: true, Result: unreachableItem("true")},
		TaskResult{Host: "bad", Task: "fail loop", Status: TaskUnreachable, Item: "false", HasItem: true, Result: unreachableItem("false")},
		TaskResult{Host: "bad", Task: "fail loop", Status: TaskUnreachable, Loop: true, Result: map[string]any{
			"changed": false, "msg": "All items completed",
			"results": []any{unreachableItem("true"), unreachableItem("false")},
		}},
		TaskResult{Host: "h1", Task: "fail loop", Status: TaskChanged, Item: "true", HasItem: true},
		TaskResult{Host: "h1", Task: "fail loop", Status: TaskFailed, Item: "false", HasItem: true, Ignored: true, Result: failItem},
		TaskResult{Host: "h1", Task: "fail loop", Status: TaskFailed, Loop: true, Ignored: true},
		TaskStart{Name: "fail loop 2", Module: "shell", Hosts: 1},
		TaskResult{Host: "h1", Task: "fail loop 2", Status: TaskChanged, Item: "0", HasItem: true},
		TaskResult{Host: "h1", Task: "fail loop 2", Status: TaskFailed, Item: "3", HasItem: true, Result: fail2},
		TaskResult{Host: "h1", Task: "fail loop 2", Status: TaskFailed, Loop: true},
		[]RecapRow{
			{Host: "h1", OK: 2, Changed: 1, Failed: 1, Ignored: 1},
			{Host: "bad", OK: 1, Unreachable: 1},
		},
	}
}

func TestPlayTextLoops(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{})
	feed(s, p2Events()...)
	checkGolden(t, b.String(), ansibleLoops)
}

// TestPlayTextNoHosts feeds the events of p3.yml run with inv2:
//
//   - hosts: nomatch
//     tasks:
//   - debug: msg=x
//   - hosts: all
//     gather_facts: false
//     tasks:
//   - command: "true"
//   - name: copy
//     copy: {dest: ..., content: ...}
//   - name: warn
//     shell: "echo hi"
//     args: {warn: false}
//
// Ansible wrote the warning to stderr.
func TestPlayTextNoHosts(t *testing.T) {
	var out, errOut bytes.Buffer
	s := NewPlayText(&out, PlayTextOptions{Warnings: &errOut})
	feed(s,
		warnEvent("Could not match supplied host pattern, ignoring: nomatch"),
		PlayStart{Name: "nomatch"},
		PlayStart{Name: "all", Hosts: []string{"h1", "bad"}},
		TaskStart{Name: "command", Module: "command", Hosts: 2},
		TaskResult{Host: "bad", Task: "command", Status: TaskUnreachable, Result: map[string]any{
			"changed": false, "unreachable": true,
			"msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused",
		}},
		TaskResult{Host: "h1", Task: "command", Status: TaskChanged},
		TaskStart{Name: "copy", Module: "copy", Hosts: 1},
		TaskResult{Host: "h1", Task: "copy", Status: TaskChanged},
		TaskStart{Name: "warn", Module: "shell", Hosts: 1},
		TaskResult{Host: "h1", Task: "warn", Status: TaskFailed, Msg: "Unsupported parameters for (ansible.legacy.command) module: warn. Supported parameters include: _raw_params, _uses_shell, argv, chdir, creates, executable, removes, stdin, stdin_add_newline, strip_empty_ends."},
		[]RecapRow{{Host: "h1", OK: 2, Changed: 2, Failed: 1}, {Host: "bad", Unreachable: 1}},
	)
	checkGolden(t, out.String(), ansibleNoHosts)
	if want := "[WARNING]: Could not match supplied host pattern, ignoring: nomatch\n"; errOut.String() != want {
		t.Errorf("warnings:\n%q\nwant\n%q", errOut.String(), want)
	}
}

// p4Events are the events of p4.yml run with inv1, --diff and --check:
//
//   - hosts: all
//     gather_facts: false
//     tasks:
//   - name: copy
//     copy: {dest: /tmp/playcap/d1, content: "one\nTWO\n...TEN\neleven\ntwelve\nthirteen"}
//   - name: copy2
//     copy: {dest: /tmp/playcap/d2, content: "x\n"}   # d2 held "x"
//   - name: new file
//     copy: {dest: /tmp/playcap/d3, content: "new\n"} # d3 did not exist
//   - name: file dir
//     file: {path: /tmp/playcap/dd, state: directory}
//   - name: cmd
//     command: echo hi                                # skipped in check mode
func p4Events(tmp string, tmps ...string) []any {
	twelve := "one\ntwo\nthree\nfour\nfive\nsix\nseven\neight\nnine\nten\neleven\ntwelve\n"
	return []any{
		PlayStart{Name: "all", Hosts: []string{"h1"}, Check: true},
		TaskStart{Name: "copy", Module: "copy", Hosts: 1},
		TaskResult{Host: "h1", Task: "copy", Status: TaskChanged, Diffs: []Diff{{
			BeforeHeader: "/tmp/playcap/d1", AfterHeader: tmp + tmps[0],
			Before: twelve, After: "one\nTWO\nthree\nfour\nfive\nsix\nseven\neight\nnine\nTEN\neleven\ntwelve\nthirteen",
		}}},
		TaskStart{Name: "copy2", Module: "copy", Hosts: 1},
		TaskResult{Host: "h1", Task: "copy2", Status: TaskChanged, Diffs: []Diff{{
			BeforeHeader: "/tmp/playcap/d2", AfterHeader: tmp + tmps[1], Before: "x", After: "x\n",
		}}},
		TaskStart{Name: "new file", Module: "copy", Hosts: 1},
		TaskResult{Host: "h1", Task: "new file", Status: TaskChanged, Diffs: []Diff{{AfterHeader: tmp + tmps[2], After: "new\n"}}},
		TaskStart{Name: "file dir", Module: "file", Hosts: 1},
		TaskResult{Host: "h1", Task: "file dir", Status: TaskChanged, Diffs: []Diff{
			{Before: "{\n    \"path\": \"/tmp/playcap/dd\",\n    \"state\": \"absent\"\n}\n", After: "{\n    \"path\": \"/tmp/playcap/dd\",\n    \"state\": \"directory\"\n}\n"},
			{Before: "same\n", After: "same\n"}, // no difference: prints nothing
		}},
		TaskStart{Name: "cmd", Module: "command", Hosts: 1},
		TaskResult{Host: "h1", Task: "cmd", Status: TaskSkipped},
		[]RecapRow{{Host: "h1", OK: 4, Changed: 4, Skipped: 1}},
	}
}

func TestPlayTextDiff(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{Diff: true})
	feed(s, p4Events("/root/.ansible/tmp/ansible-local-15032r6yfi8hq/", "tmpi7r63s2r", "tmpm285e5rs", "tmpiaeeog55")...)
	checkGolden(t, b.String(), ansibleDiff)

	// Ansible's colours, less the empty colour spans its stringc leaves
	// after each newline inside a coloured text.
	b.Reset()
	s = NewPlayText(&b, PlayTextOptions{Diff: true, Color: true})
	feed(s, p4Events("/root/.ansible/tmp/ansible-local-888zy73l60c/", "tmp_nzzqmxn", "tmpv5eq_9gl", "tmpurgbg8mu")...)
	emptySpan := regexp.MustCompile(`¤\[[0-9;]*m¤\[0m`)
	checkGolden(t, escToSign(b.String()), emptySpan.ReplaceAllString(ansibleColorDiff, ""))

	// Without the Diff option, no diffs.
	b.Reset()
	s = NewPlayText(&b, PlayTextOptions{})
	feed(s, p4Events("/tmp/", "a", "b", "c")...)
	if strings.Contains(b.String(), "@@") {
		t.Errorf("diffs printed without PlayTextOptions.Diff:\n%s", b.String())
	}
}

// TestPlayTextVerbose feeds the events of p5.yml run with inv1 and -v:
//
//   - hosts: all
//     gather_facts: false
//     vars:
//     obj: {b: 1, a: [1, "x"], c: {}}
//     tasks:
//   - name: cmd
//     command: echo hi
//   - debug: var=obj
//   - debug: var=undefined_thing
//   - name: loop
//     command: echo {{ item }}
//     loop: [a]
//   - name: sk
//     command: echo
//     when: false
//   - name: fail
//     fail: msg=bad
//     ignore_errors: true
func TestPlayTextVerbose(t *testing.T) {
	item := cmdResult(true, []any{"echo", "a"}, 0, "a", "2026-11-24 00:01:35.416441", "2026-11-24 00:01:35.422420", "0:00:00.005979")
	item["ansible_loop_var"], item["item"] = "item", "a"
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{Verbosity: 1})
	feed(s,
		PlayStart{Name: "all", Hosts: []string{"h1"}},
		TaskStart{Name: "cmd", Module: "command", Hosts: 1},
		TaskResult{Host: "h1", Task: "cmd", Status: TaskChanged, Result: cmdResult(true, []any{"echo", "hi"}, 0, "hi", "2026-11-24 00:01:35.199233", "2026-11-24 00:01:35.203174", "0:00:00.003941")},
		TaskStart{Name: "debug", Module: "debug", Hosts: 1},
		TaskResult{Host: "h1", Task: "debug", Status: TaskOK, Result: map[string]any{
			"obj":     map[string]any{"b": int64(1), "a": []any{int64(1), "x"}, "c": map[string]any{}},
			"changed": false,
		}},
		TaskStart{Name: "debug", Module: "debug", Hosts: 1},
		TaskResult{Host: "h1", Task: "debug", Status: TaskOK, Result: map[string]any{
			"undefined_thing": "VARIABLE IS NOT DEFINED!: 'undefined_thing' is undefined. 'undefined_thing' is undefined",
			"changed":         false,
		}},
		TaskStart{Name: "loop", Module: "command", Hosts: 1},
		TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Item: "a", HasItem: true, Result: item},
		TaskResult{Host: "h1", Task: "loop", Status: TaskChanged, Loop: true, Result: map[string]any{"changed": true, "results": []any{item}}},
		TaskStart{Name: "sk", Module: "command", Hosts: 1},
		TaskResult{Host: "h1", Task: "sk", Status: TaskSkipped, Result: map[string]any{"changed": false, "skip_reason": "Conditional result was False"}},
		TaskStart{Name: "fail", Module: "fail", Hosts: 1},
		TaskResult{Host: "h1", Task: "fail", Status: TaskFailed, Ignored: true, Msg: "bad"},
		[]RecapRow{{Host: "h1", OK: 5, Changed: 2, Skipped: 1, Ignored: 1}},
	)
	checkGolden(t, b.String(), ansibleVerbose)
}

// TestPlayTextAssert feeds the events of p7.yml run with inv1:
//
//   - hosts: all
//     gather_facts: false
//     tasks:
//   - assert: {that: [1 == 1]}
//   - assert: {that: [1 == 2]}
//     ignore_errors: true
//   - debug: msg=x
//     when: false
//   - debug:
//     msg: "line1\nline2 é <&>"
func TestPlayTextAssert(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{})
	feed(s,
		PlayStart{Name: "all", Hosts: []string{"h1"}},
		TaskStart{Name: "assert", Module: "ansible.builtin.assert", Hosts: 1},
		TaskResult{Host: "h1", Task: "assert", Status: TaskOK, Result: map[string]any{"changed": false, "msg": "All assertions passed"}},
		TaskStart{Name: "assert", Module: "assert", Hosts: 1},
		TaskResult{Host: "h1", Task: "assert", Status: TaskFailed, Ignored: true, Result: map[string]any{
			"assertion": "1 == 2", "changed": false, "evaluated_to": false, "msg": "Assertion failed", "failed": true,
		}},
		TaskStart{Name: "debug", Module: "debug", Hosts: 1},
		TaskResult{Host: "h1", Task: "debug", Status: TaskSkipped, Result: map[string]any{"changed": false, "skip_reason": "Conditional result was False"}},
		TaskStart{Name: "debug", Module: "debug", Hosts: 1},
		TaskResult{Host: "h1", Task: "debug", Status: TaskOK, Result: map[string]any{"msg": "line1\nline2 é <&>", "changed": false}},
		[]RecapRow{{Host: "h1", OK: 3, Skipped: 1, Ignored: 1}},
	)
	checkGolden(t, b.String(), ansibleAssert)
}

func TestWrapText(t *testing.T) {
	// Want: Python's textwrap.wrap(text, 79), which Ansible's warnings use.
	tests := []struct {
		text string
		want []string
	}{
		{
			"[WARNING]: The value 5 (type int) in a string field was converted to '5' (type string). If this does not look like what you expect, quote the entire value to ensure it does not change.",
			[]string{"[WARNING]: The value 5 (type int) in a string field was converted to '5' (type", "string). If this does not look like what you expect, quote the entire value to", "ensure it does not change."},
		},
		{
			"[WARNING]: " + strings.Repeat("x", 100),
			[]string{"[WARNING]: " + strings.Repeat("x", 68), strings.Repeat("x", 32)},
		},
		{
			"[WARNING]: tabs\tand\nnewlines  double  spaces " + strings.Repeat("y", 70) + " end",
			[]string{"[WARNING]: tabs and newlines  double  spaces", strings.Repeat("y", 70) + " end"},
		},
		{
			"[WARNING]: pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad ab-cd-ef-gh-ij-kl-mn",
			[]string{"[WARNING]: pad pad pad pad pad pad pad pad pad pad pad pad pad pad pad ab-cd-", "ef-gh-ij-kl-mn"},
		},
		{
			"[WARNING]: 12-34 x-y ab-1c pad pad pad pad pad pad pad pad pad pad pad pad pad pad a-b-c-d-e-f-g",
			[]string{"[WARNING]: 12-34 x-y ab-1c pad pad pad pad pad pad pad pad pad pad pad pad pad", "pad a-b-c-d-e-f-g"},
		},
		{
			"[WARNING]: " + strings.Repeat("ab-", 40),
			[]string{"[WARNING]: " + strings.Repeat("ab-", 22), strings.Repeat("ab-", 18)},
		},
	}
	for _, tt := range tests {
		got := wrapText(tt.text, ansibleColumns)
		if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
			t.Errorf("wrapText(%q):\n%q\nwant\n%q", tt.text, got, tt.want)
		}
	}
}

func TestPlayTextWarnings(t *testing.T) {
	var out, errOut bytes.Buffer
	s := NewPlayText(&out, PlayTextOptions{Warnings: &errOut, Color: true})
	feed(s,
		PlayStart{Name: "p", Hosts: []string{"h1"}},
		warnEvent("once"),
		warnEvent("once"), // Ansible prints each warning once
		TaskStart{Name: "t", Module: "command", Hosts: 1},
		TaskResult{Host: "h1", Task: "t", Status: TaskChanged, Result: map[string]any{
			"changed": true, "warnings": []any{"from the module"},
		}},
	)
	want := "\x1b[1;35m[WARNING]: once\x1b[0m\n\x1b[1;35m[WARNING]: from the module\x1b[0m\n"
	if errOut.String() != want {
		t.Errorf("warnings:\n%q\nwant\n%q", errOut.String(), want)
	}
	if strings.Contains(out.String(), "WARNING") {
		t.Errorf("warnings went to the main output:\n%s", out.String())
	}
}

// TestPlayTextWarningsSameWriter checks the order Ansible prints a
// result's warnings in when they share the output: banner, warnings, line.
func TestPlayTextWarningsSameWriter(t *testing.T) {
	var w writeRecorder
	s := NewPlayText(&w, PlayTextOptions{})
	feed(s,
		TaskStart{Name: "t", Parallel: "p"}, // its banner waits for its first line
		TaskResult{Host: "h1", Task: "t", Status: TaskOK, Result: map[string]any{"warnings": []string{"careful"}}},
	)
	want := "\nTASK [t] ***********************************************************************\n[WARNING]: careful\nok: [h1]\n"
	if len(w.writes) != 1 || w.writes[0] != want {
		t.Errorf("writes %q, want one: %q", w.writes, want)
	}
}

// TestPlayTextKeepsResults checks that printing never changes the
// result maps, which other sinks and the runner share.
func TestPlayTextKeepsResults(t *testing.T) {
	res := map[string]any{"msg": "hi", "changed": false, "failed": false, "warnings": []any{"w"}, "invocation": map[string]any{}}
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{})
	feed(s,
		TaskStart{Name: "t", Module: "debug"},
		TaskResult{Host: "h1", Task: "t", Status: TaskOK, Result: res},
		TaskResult{Host: "h1", Task: "t", Status: TaskSkipped, Loop: true, Result: res},
	)
	if len(res) != 5 || res["changed"] != false || res["failed"] != false || res["invocation"] == nil || res["warnings"] == nil {
		t.Errorf("result changed by the sink: %v", res)
	}
}

func TestPlayTextDetails(t *testing.T) {
	long := strings.Repeat("n", 90)
	tests := []struct {
		name   string
		opt    PlayTextOptions
		events []any
		want   string
	}{
		{
			name: "task path at -vv, and a name too long for stars",
			opt:  PlayTextOptions{Verbosity: 2},
			events: []any{
				TaskStart{Name: "t", Module: "command", Pos: "/srv/site.yml:12"},
				TaskStart{Name: long, Module: "command"},
			},
			want: "\nTASK [t] ***********************************************************************\ntask path: /srv/site.yml:12\n" +
				"\nTASK [" + long + "] ***\n",
		},
		{
			name: "unnamed play",
			events: []any{
				PlayStart{Hosts: []string{"h1"}},
			},
			want: "\nPLAY ***************************************************************************\n",
		},
		{
			name: "-vvv indents and keeps invocation, never _ansible_ keys",
			opt:  PlayTextOptions{Verbosity: 3},
			events: []any{
				TaskStart{Name: "t", Module: "command"},
				TaskResult{Host: "h1", Task: "t", Status: TaskOK, Result: map[string]any{
					"changed": false, "invocation": map[string]any{"module_args": map[string]any{"_ansible_x": 1, "a": 1.5}},
					"_ansible_no_log": false, "exception": "trace",
				}},
			},
			want: "\nTASK [t] ***********************************************************************\n" +
				"ok: [h1] => {\n    \"changed\": false,\n    \"invocation\": {\n        \"module_args\": {\n            \"a\": 1.5\n        }\n    }\n}\n",
		},
		{
			name: "no_log",
			events: []any{
				TaskStart{Name: "t", Module: "command"},
				TaskResult{Host: "h1", Task: "t", Status: TaskFailed, Item: "secret", HasItem: true, Result: map[string]any{
					"_ansible_no_log": true, "changed": true, "msg": "secret", "attempts": int64(2),
				}},
			},
			want: "\nTASK [t] ***********************************************************************\n" +
				`failed: [h1] (item=(censored due to no_log)) => {"attempts": 2, "censored": "the output has been hidden due to the fact that 'no_log: true' was specified for this result", "changed": true}` + "\n",
		},
		{
			name: "meta prints no banner; include_tasks says what it included",
			events: []any{
				TaskStart{Name: "meta", Module: "meta"},
				TaskStart{Name: "include_tasks", Module: "ansible.builtin.include_tasks"},
				TaskResult{Host: "h1", Task: "include_tasks", Status: TaskOK, Msg: "/srv/more.yml"},
			},
			want: "\nTASK [include_tasks] ***********************************************************\nincluded: /srv/more.yml for h1\n",
		},
		{
			name: "a result without its task start gets a banner once",
			events: []any{
				TaskResult{Host: "h1", Task: "x", Status: TaskOK},
				TaskResult{Host: "h2", Task: "x", Status: TaskOK},
			},
			want: "\nTASK [x] ***********************************************************************\nok: [h1]\nok: [h2]\n",
		},
		{
			name: "Python's JSON: floats, escapes, typed values",
			events: []any{
				TaskStart{Name: "t", Module: "fail"},
				TaskResult{Host: "h1", Task: "t", Status: TaskFailed, Result: map[string]any{
					"f": []any{1.0, 1e16, 1.5e-5, 0.1}, "s": "q\"\\\x01\t\u00e9\x7f", "n": nil,
					"m": map[string]int{"b": 2, "a": 1}, "e": []any{}, "o": map[string]any{},
				}},
			},
			want: "\nTASK [t] ***********************************************************************\n" +
				`fatal: [h1]: FAILED! => {"e": [], "f": [1.0, 1e+16, 1.5e-05, 0.1], "m": {"a": 1, "b": 2}, "n": null, "o": {}, "s": "q\"\\\u0001\t` + "\u00e9\x7f" + `"}` + "\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b bytes.Buffer
			s := NewPlayText(&b, tt.opt)
			feed(s, tt.events...)
			if b.String() != tt.want {
				t.Errorf("output:\n%q\nwant\n%q", b.String(), tt.want)
			}
		})
	}
}

// TestPlayTextParallelBanners checks that the interleaved results of
// tasks that run at once each follow their own task's banner.
func TestPlayTextParallelBanners(t *testing.T) {
	var b bytes.Buffer
	s := NewPlayText(&b, PlayTextOptions{})
	feed(s,
		TaskStart{Name: "a", Module: "command", Parallel: "p"},
		TaskStart{Name: "b", Module: "command", Parallel: "p"},
		TaskResult{Host: "h1", Task: "b", Status: TaskOK},
		TaskResult{Host: "h2", Task: "b", Status: TaskOK},
		TaskResult{Host: "h1", Task: "a", Status: TaskChanged},
		TaskResult{Host: "h2", Task: "b", Status: TaskOK},
	)
	banner := func(name string) string {
		return "\nTASK [" + name + "] " + strings.Repeat("*", 79-len("TASK ["+name+"]")) + "\n"
	}
	want := banner("b") + "ok: [h1]\nok: [h2]\n" + banner("a") + "changed: [h1]\n" + banner("b") + "ok: [h2]\n"
	if b.String() != want {
		t.Errorf("output:\n%s\nwant\n%s", b.String(), want)
	}
}

// writeRecorder records each Write, as a terminal or pipe would see them.
type writeRecorder struct {
	mu     sync.Mutex
	writes []string
}

func (w *writeRecorder) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.writes = append(w.writes, string(p))
	return len(p), nil
}

// TestPlayTextConcurrentResults sends results of many hosts at once: each
// result's lines must arrive in one Write, whole.
func TestPlayTextConcurrentResults(t *testing.T) {
	var w writeRecorder
	s := NewPlayText(&w, PlayTextOptions{})
	s.Task(TaskStart{Name: "hello", Module: "debug", Hosts: 50})
	var wg sync.WaitGroup
	for i := range 50 {
		wg.Go(func() {
			s.Result(TaskResult{Host: fmt.Sprintf("h%d", i), Task: "hello", Status: TaskOK, Result: map[string]any{"msg": "hi"}})
		})
	}
	wg.Wait()
	if len(w.writes) != 51 {
		t.Fatalf("got %d writes, want a banner and 50 results", len(w.writes))
	}
	seen := map[string]bool{}
	for _, wr := range w.writes[1:] {
		var host string
		if _, err := fmt.Sscanf(wr, "ok: [%s", &host); err != nil {
			t.Fatalf("write %q is not one whole result", wr)
		}
		host = strings.TrimSuffix(host, "]")
		if want := "ok: [" + host + "] => {\n    \"msg\": \"hi\"\n}\n"; wr != want {
			t.Errorf("write %q, want %q", wr, want)
		}
		seen[host] = true
	}
	if len(seen) != 50 {
		t.Errorf("results of %d hosts printed, want 50", len(seen))
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestPlayTextWriteError(t *testing.T) {
	s := NewPlayText(failWriter{}, PlayTextOptions{})
	feed(s, PlayStart{Name: "p"}, TaskStart{Name: "t"})
	err := s.Close()
	if err == nil || !strings.Contains(err.Error(), "play text output") || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("Close() = %v, want the write error", err)
	}
}

// ansiblePlain is the output of
//
//	ansible-playbook -i inv p1.yml
const ansiblePlain = `
PLAY [web] *********************************************************************

TASK [say hello] ***************************************************************
ok: [h1] => {
    "msg": "hello"
}
ok: [h2] => {
    "msg": "hello"
}

TASK [show var] ****************************************************************
ok: [h1] => {
    "inventory_hostname": "h1"
}
ok: [h2] => {
    "inventory_hostname": "h2"
}

TASK [change] ******************************************************************
changed: [h2]
changed: [h1]

TASK [ok cmd] ******************************************************************
ok: [h1]
ok: [h2]

TASK [skip on h2] **************************************************************
skipping: [h2]
changed: [h1]

TASK [loop] ********************************************************************
changed: [h1] => (item=a)
changed: [h2] => (item=a)
skipping: [h2] => (item=b) 
changed: [h1] => (item=b)

TASK [loop all skipped] ********************************************************
skipping: [h2] => (item=a) 
skipping: [h2] => (item=b) 
skipping: [h2]
skipping: [h1] => (item=a) 
skipping: [h1] => (item=b) 
skipping: [h1]

TASK [failing ignored] *********************************************************
fatal: [h1]: FAILED! => {"changed": true, "cmd": ["false"], "delta": "0:00:00.004103", "end": "2026-11-24 00:00:56.158048", "msg": "non-zero return code", "rc": 1, "start": "2026-11-24 00:00:56.153945", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}
...ignoring
fatal: [h2]: FAILED! => {"changed": true, "cmd": ["false"], "delta": "0:00:00.026154", "end": "2026-11-24 00:00:56.203715", "msg": "non-zero return code", "rc": 1, "start": "2026-11-24 00:00:56.177561", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}
...ignoring

TASK [delegated] ***************************************************************
changed: [h1 -> localhost]
changed: [h2 -> localhost]

TASK [fail on h2] **************************************************************
skipping: [h1]
fatal: [h2]: FAILED! => {"changed": false, "msg": "boom <&> é"}

RUNNING HANDLER [restart] ******************************************************
ok: [h1] => {
    "msg": "restarting"
}

PLAY RECAP *********************************************************************
h1                         : ok=9    changed=5    unreachable=0    failed=0    skipped=2    rescued=0    ignored=1   
h2                         : ok=7    changed=4    unreachable=0    failed=1    skipped=2    rescued=0    ignored=1   

`

// ansibleLoops is the output of
//
//	ansible-playbook -i inv2 p2.yml
const ansibleLoops = `
PLAY [all] *********************************************************************

TASK [debug loop] **************************************************************
ok: [h1] => (item=a) => {
    "msg": "item a"
}
ok: [h1] => (item=b) => {
    "msg": "item b"
}
ok: [bad] => (item=a) => {
    "msg": "item a"
}
ok: [bad] => (item=b) => {
    "msg": "item b"
}

TASK [fail loop] ***************************************************************
failed: [bad] (item=true) => {"ansible_loop_var": "item", "item": "true", "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable": true}
failed: [bad] (item=false) => {"ansible_loop_var": "item", "item": "false", "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable": true}
fatal: [bad]: UNREACHABLE! => {"changed": false, "msg": "All items completed", "results": [{"ansible_loop_var": "item", "item": "true", "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable": true}, {"ansible_loop_var": "item", "item": "false", "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable": true}]}
changed: [h1] => (item=true)
failed: [h1] (item=false) => {"ansible_loop_var": "item", "changed": true, "cmd": ["false"], "delta": "0:00:00.008330", "end": "2026-11-24 00:01:04.922453", "item": "false", "msg": "non-zero return code", "rc": 1, "start": "2026-11-24 00:01:04.914123", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}
...ignoring

TASK [fail loop 2] *************************************************************
changed: [h1] => (item=0)
failed: [h1] (item=3) => {"ansible_loop_var": "item", "changed": true, "cmd": "exit 3", "delta": "0:00:00.004548", "end": "2026-11-24 00:01:05.300259", "item": 3, "msg": "non-zero return code", "rc": 3, "start": "2026-11-24 00:01:05.295711", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}

PLAY RECAP *********************************************************************
bad                        : ok=1    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   
h1                         : ok=2    changed=1    unreachable=0    failed=1    skipped=0    rescued=0    ignored=1   

`

// ansibleNoHosts is the output of
//
//	ansible-playbook -i inv2 p3.yml
const ansibleNoHosts = `
PLAY [nomatch] *****************************************************************
skipping: no hosts matched

PLAY [all] *********************************************************************

TASK [command] *****************************************************************
fatal: [bad]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable": true}
changed: [h1]

TASK [copy] ********************************************************************
changed: [h1]

TASK [warn] ********************************************************************
fatal: [h1]: FAILED! => {"changed": false, "msg": "Unsupported parameters for (ansible.legacy.command) module: warn. Supported parameters include: _raw_params, _uses_shell, argv, chdir, creates, executable, removes, stdin, stdin_add_newline, strip_empty_ends."}

PLAY RECAP *********************************************************************
bad                        : ok=0    changed=0    unreachable=1    failed=0    skipped=0    rescued=0    ignored=0   
h1                         : ok=2    changed=2    unreachable=0    failed=1    skipped=0    rescued=0    ignored=0   

`

// ansibleDiff is the output of
//
//	ansible-playbook -i inv1 p4.yml --diff --check
const ansibleDiff = `
PLAY [all] *********************************************************************

TASK [copy] ********************************************************************
--- before: /tmp/playcap/d1
+++ after: /root/.ansible/tmp/ansible-local-15032r6yfi8hq/tmpi7r63s2r
@@ -1,5 +1,5 @@
 one
-two
+TWO
 three
 four
 five
@@ -7,6 +7,7 @@
 seven
 eight
 nine
-ten
+TEN
 eleven
 twelve
+thirteen
\ No newline at end of file

changed: [h1]

TASK [copy2] *******************************************************************
--- before: /tmp/playcap/d2
+++ after: /root/.ansible/tmp/ansible-local-15032r6yfi8hq/tmpm285e5rs
@@ -1 +1 @@
-x
\ No newline at end of file
+x

changed: [h1]

TASK [new file] ****************************************************************
--- before
+++ after: /root/.ansible/tmp/ansible-local-15032r6yfi8hq/tmpiaeeog55
@@ -0,0 +1 @@
+new

changed: [h1]

TASK [file dir] ****************************************************************
--- before
+++ after
@@ -1,4 +1,4 @@
 {
     "path": "/tmp/playcap/dd",
-    "state": "absent"
+    "state": "directory"
 }

changed: [h1]

TASK [cmd] *********************************************************************
skipping: [h1]

PLAY RECAP *********************************************************************
h1                         : ok=4    changed=4    unreachable=0    failed=0    skipped=1    rescued=0    ignored=0   

`

// ansibleVerbose is the output of
//
//	ansible-playbook -i inv1 p5.yml -v
const ansibleVerbose = `
PLAY [all] *********************************************************************

TASK [cmd] *********************************************************************
changed: [h1] => {"changed": true, "cmd": ["echo", "hi"], "delta": "0:00:00.003941", "end": "2026-11-24 00:01:35.203174", "msg": "", "rc": 0, "start": "2026-11-24 00:01:35.199233", "stderr": "", "stderr_lines": [], "stdout": "hi", "stdout_lines": ["hi"]}

TASK [debug] *******************************************************************
ok: [h1] => {
    "obj": {
        "a": [
            1,
            "x"
        ],
        "b": 1,
        "c": {}
    }
}

TASK [debug] *******************************************************************
ok: [h1] => {
    "undefined_thing": "VARIABLE IS NOT DEFINED!: 'undefined_thing' is undefined. 'undefined_thing' is undefined"
}

TASK [loop] ********************************************************************
changed: [h1] => (item=a) => {"ansible_loop_var": "item", "changed": true, "cmd": ["echo", "a"], "delta": "0:00:00.005979", "end": "2026-11-24 00:01:35.422420", "item": "a", "msg": "", "rc": 0, "start": "2026-11-24 00:01:35.416441", "stderr": "", "stderr_lines": [], "stdout": "a", "stdout_lines": ["a"]}

TASK [sk] **********************************************************************
skipping: [h1] => {"changed": false, "skip_reason": "Conditional result was False"}

TASK [fail] ********************************************************************
fatal: [h1]: FAILED! => {"changed": false, "msg": "bad"}
...ignoring

PLAY RECAP *********************************************************************
h1                         : ok=5    changed=2    unreachable=0    failed=0    skipped=1    rescued=0    ignored=1   

`

// ansibleAssert is the output of
//
//	ansible-playbook -i inv1 p7.yml
const ansibleAssert = `
PLAY [all] *********************************************************************

TASK [assert] ******************************************************************
ok: [h1] => {
    "changed": false,
    "msg": "All assertions passed"
}

TASK [assert] ******************************************************************
fatal: [h1]: FAILED! => {
    "assertion": "1 == 2",
    "changed": false,
    "evaluated_to": false,
    "msg": "Assertion failed"
}
...ignoring

TASK [debug] *******************************************************************
skipping: [h1]

TASK [debug] *******************************************************************
ok: [h1] => {
    "msg": "line1\nline2 é <&>"
}

PLAY RECAP *********************************************************************
h1                         : ok=3    changed=0    unreachable=0    failed=0    skipped=1    rescued=0    ignored=1   

`

// ansibleColorDiff is the output of
//
//	ANSIBLE_FORCE_COLOR=1 ansible-playbook -i inv1 p4.yml --diff --check
//
// with ESC written as ¤.
const ansibleColorDiff = `
PLAY [all] *********************************************************************

TASK [copy] ********************************************************************
¤[0;31m--- before: /tmp/playcap/d1¤[0m
¤[0;31m¤[0m¤[0;32m+++ after: /root/.ansible/tmp/ansible-local-888zy73l60c/tmp_nzzqmxn¤[0m
¤[0;32m¤[0m¤[0;36m@@ -1,5 +1,5 @@¤[0m
¤[0;36m¤[0m one
¤[0;31m-two¤[0m
¤[0;31m¤[0m¤[0;32m+TWO¤[0m
¤[0;32m¤[0m three
 four
 five
¤[0;36m@@ -7,6 +7,7 @@¤[0m
¤[0;36m¤[0m seven
 eight
 nine
¤[0;31m-ten¤[0m
¤[0;31m¤[0m¤[0;32m+TEN¤[0m
¤[0;32m¤[0m eleven
 twelve
¤[0;32m+thirteen¤[0m
¤[0;32m\ No newline at end of file¤[0m
¤[0;32m¤[0m
¤[0;33mchanged: [h1]¤[0m

TASK [copy2] *******************************************************************
¤[0;31m--- before: /tmp/playcap/d2¤[0m
¤[0;31m¤[0m¤[0;32m+++ after: /root/.ansible/tmp/ansible-local-888zy73l60c/tmpv5eq_9gl¤[0m
¤[0;32m¤[0m¤[0;36m@@ -1 +1 @@¤[0m
¤[0;36m¤[0m¤[0;31m-x¤[0m
¤[0;31m\ No newline at end of file¤[0m
¤[0;31m¤[0m¤[0;32m+x¤[0m
¤[0;32m¤[0m
¤[0;33mchanged: [h1]¤[0m

TASK [new file] ****************************************************************
¤[0;31m--- before¤[0m
¤[0;31m¤[0m¤[0;32m+++ after: /root/.ansible/tmp/ansible-local-888zy73l60c/tmpurgbg8mu¤[0m
¤[0;32m¤[0m¤[0;36m@@ -0,0 +1 @@¤[0m
¤[0;36m¤[0m¤[0;32m+new¤[0m
¤[0;32m¤[0m
¤[0;33mchanged: [h1]¤[0m

TASK [file dir] ****************************************************************
¤[0;31m--- before¤[0m
¤[0;31m¤[0m¤[0;32m+++ after¤[0m
¤[0;32m¤[0m¤[0;36m@@ -1,4 +1,4 @@¤[0m
¤[0;36m¤[0m {
     "path": "/tmp/playcap/dd",
¤[0;31m-    "state": "absent"¤[0m
¤[0;31m¤[0m¤[0;32m+    "state": "directory"¤[0m
¤[0;32m¤[0m }

¤[0;33mchanged: [h1]¤[0m

TASK [cmd] *********************************************************************
¤[0;36mskipping: [h1]¤[0m

PLAY RECAP *********************************************************************
¤[0;33mh1¤[0m                         : ¤[0;32mok=4   ¤[0m ¤[0;33mchanged=4   ¤[0m unreachable=0    failed=0    ¤[0;36mskipped=1   ¤[0m rescued=0    ignored=0   

`

// ansibleColor is the output of
//
//	ANSIBLE_FORCE_COLOR=1 ansible-playbook -i inv2 p1.yml --diff
//
// with ESC written as ¤.
const ansibleColor = `
PLAY [web] *********************************************************************

TASK [say hello] ***************************************************************
¤[0;32mok: [h1] => {¤[0m
¤[0;32m    "msg": "hello"¤[0m
¤[0;32m}¤[0m
¤[0;32mok: [bad] => {¤[0m
¤[0;32m    "msg": "hello"¤[0m
¤[0;32m}¤[0m

TASK [show var] ****************************************************************
¤[0;32mok: [h1] => {¤[0m
¤[0;32m    "inventory_hostname": "h1"¤[0m
¤[0;32m}¤[0m
¤[0;32mok: [bad] => {¤[0m
¤[0;32m    "inventory_hostname": "bad"¤[0m
¤[0;32m}¤[0m

TASK [change] ******************************************************************
¤[1;31mfatal: [bad]: UNREACHABLE! => {"changed": false, "msg": "Failed to connect to the host via ssh: ssh: connect to host 127.0.0.1 port 1: Connection refused", "unreachable": true}¤[0m
¤[0;33mchanged: [h1]¤[0m

TASK [ok cmd] ******************************************************************
¤[0;32mok: [h1]¤[0m

TASK [skip on h2] **************************************************************
¤[0;33mchanged: [h1]¤[0m

TASK [loop] ********************************************************************
¤[0;33mchanged: [h1] => (item=a)¤[0m
¤[0;33mchanged: [h1] => (item=b)¤[0m

TASK [loop all skipped] ********************************************************
¤[0;36mskipping: [h1] => (item=a) ¤[0m
¤[0;36mskipping: [h1] => (item=b) ¤[0m
¤[0;36mskipping: [h1]¤[0m

TASK [failing ignored] *********************************************************
¤[0;31mfatal: [h1]: FAILED! => {"changed": true, "cmd": ["false"], "delta": "0:00:00.003431", "end": "2026-11-24 00:01:47.572616", "msg": "non-zero return code", "rc": 1, "start": "2026-11-24 00:01:47.569185", "stderr": "", "stderr_lines": [], "stdout": "", "stdout_lines": []}¤[0m
¤[0;36m...ignoring¤[0m

TASK [delegated] ***************************************************************
¤[0;33mchanged: [h1 -> localhost]¤[0m

TASK [fail on h2] **************************************************************
¤[0;36mskipping: [h1]¤[0m

RUNNING HANDLER [restart] ******************************************************
¤[0;32mok: [h1] => {¤[0m
¤[0;32m    "msg": "restarting"¤[0m
¤[0;32m}¤[0m

PLAY RECAP *********************************************************************
¤[0;31mbad¤[0m                        : ¤[0;32mok=2   ¤[0m changed=0    ¤[1;31munreachable=1   ¤[0m failed=0    skipped=0    rescued=0    ignored=0   
¤[0;33mh1¤[0m                         : ¤[0;32mok=9   ¤[0m ¤[0;33mchanged=5   ¤[0m unreachable=0    failed=0    ¤[0;36mskipped=2   ¤[0m rescued=0    ¤[1;35mignored=1   ¤[0m

`

func TestAppendPyJSONCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	if got := string(appendPyJSON(nil, m, 0, 0)); !strings.Contains(got, `"<nested too deeply>"`) {
		t.Errorf("a cyclic map printed %.80q…", got)
	}
}

func TestPlayTextRetry(t *testing.T) {
	var buf bytes.Buffer
	s := NewPlayText(&buf, PlayTextOptions{})
	var sink PlaySink = s
	rs, ok := sink.(RetrySink)
	if !ok {
		t.Fatal("the text sink does not show retries")
	}
	rs.Retry("h1", "wait for the app", 2)
	if want := "FAILED - RETRYING: [h1]: wait for the app (2 retries left).\n"; buf.String() != want {
		t.Errorf("got %q, want %q", buf.String(), want)
	}
}
