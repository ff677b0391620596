package playbook

import (
	"fmt"
	"slices"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// Keyword sets. A keyword outside its set is an error that says where it
// belongs; one of Ansible's that fleet does not support is named as such,
// with what to do instead; anything else gets a "did you mean".

func set(words ...string) map[string]bool {
	m := make(map[string]bool, len(words))
	for _, w := range words {
		m[w] = true
	}
	return m
}

var (
	playKeywords = set("name", "hosts", "vars", "vars_files", "gather_facts", "become", "become_user",
		"become_method", "serial", "strategy", "max_fail_percentage", "any_errors_fatal", "pre_tasks",
		"tasks", "post_tasks", "handlers", "environment", "tags")

	// moduleTaskKeywords are the keywords of a task that runs a module
	// (besides the module itself).
	moduleTaskKeywords = set("name", "when", "register", "loop", "with_items", "loop_control", "notify",
		"tags", "ignore_errors", "changed_when", "failed_when", "timeout", "retries", "until", "delay",
		"run_once", "delegate_to", "become", "become_user", "become_method", "environment", "vars",
		"no_log", "any_errors_fatal", "args", "listen")

	blockKeywords = set("name", "block", "rescue", "always", "when", "tags", "become", "become_user",
		"become_method", "environment", "vars", "ignore_errors", "delegate_to", "run_once",
		"any_errors_fatal", "no_log")

	parallelKeywords = set("name", "parallel", "when", "tags")

	// includeKeywords are Ansible's TaskInclude.VALID_INCLUDE_KEYWORDS
	// that fleet supports (plus listen, for a handler).
	includeKeywords = set("name", "args", "ignore_errors", "loop", "with_items", "loop_control", "no_log",
		"register", "run_once", "tags", "timeout", "vars", "when", "listen")

	// importKeywords are those that mean something on import_tasks: they
	// apply to every imported task.
	importKeywords = set("name", "args", "ignore_errors", "no_log", "run_once", "tags", "vars", "when")

	// taskKeywords is every keyword fleet knows on some kind of task.
	taskKeywords = union(moduleTaskKeywords, blockKeywords, parallelKeywords, includeKeywords)

	loopControlKeywords = set("loop_var", "label")
)

func union(sets ...map[string]bool) map[string]bool {
	out := map[string]bool{}
	for _, s := range sets {
		for k := range s {
			out[k] = true
		}
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// unsupportedTaskKeywords are Ansible's task and block keywords that fleet
// does not support, with what to do instead.
var unsupportedTaskKeywords = map[string]string{
	"action":             "write the module as the task's key, e.g. `command: echo hi`",
	"local_action":       "write the module as the task's key and add `delegate_to: localhost`",
	"async":              "fleet runs each task to completion; use `timeout:` to bound it",
	"poll":               "fleet runs each task to completion; use `timeout:` to bound it",
	"check_mode":         "use --check on the command line",
	"diff":               "use --diff on the command line",
	"throttle":           "use -f (forks) on the command line",
	"connection":         "fleet connects over SSH; use `delegate_to: localhost` for a task on the controller",
	"remote_user":        "set ansible_user in the inventory",
	"port":               "set ansible_port in the inventory",
	"debugger":           "remove it",
	"delegate_facts":     "remove it",
	"become_exe":         "remove it; fleet runs sudo",
	"become_flags":       "remove it; fleet runs sudo",
	"module_defaults":    "give the arguments on each task",
	"collections":        "remove it; fleet's modules are ansible.builtin's",
	"ignore_unreachable": "remove it",
	"static":             "use import_tasks (static) or include_tasks (dynamic)",
}

// unsupportedPlayKeywords are Ansible's play keywords that fleet does not
// support.
var unsupportedPlayKeywords = map[string]string{
	"roles":              "fleet has no roles; bring the role's tasks in with import_tasks",
	"vars_prompt":        "pass the values with -e instead",
	"remote_user":        "set ansible_user in the inventory",
	"port":               "set ansible_port in the inventory",
	"connection":         "fleet connects over SSH; use `delegate_to: localhost` for a task on the controller",
	"check_mode":         "use --check on the command line",
	"diff":               "use --diff on the command line",
	"force_handlers":     "remove it",
	"gather_subset":      "remove it; fleet gathers a small fixed set of facts",
	"gather_timeout":     "remove it; fleet gathers a small fixed set of facts",
	"fact_path":          "remove it; fleet gathers a small fixed set of facts",
	"order":              "remove it; fleet runs hosts in inventory order",
	"throttle":           "use -f (forks) on the command line",
	"collections":        "remove it; fleet's modules are ansible.builtin's",
	"module_defaults":    "give the arguments on each task",
	"debugger":           "remove it",
	"become_exe":         "remove it; fleet runs sudo",
	"become_flags":       "remove it; fleet runs sudo",
	"ignore_errors":      "put ignore_errors on the tasks, or on a block around them",
	"ignore_unreachable": "remove it",
	"no_log":             "put no_log on the tasks, or on a block around them",
	"run_once":           "put run_once on the tasks, or on a block around them",
	"timeout":            "put timeout on the tasks",
	"import_playbook":    "list the playbooks on the command line: fleet play a.yml b.yml",
	"include":            "list the playbooks on the command line: fleet play a.yml b.yml",
}

// unsupportedLoopControl are loop_control keys fleet does not support.
var unsupportedLoopControl = set("index_var", "pause", "extended", "extended_allitems")

// kindName says what kind of task a set of keywords belongs to, for
// messages.
func keywordsHint(allowed map[string]bool) string {
	return "allowed here: " + strings.Join(sortedKeys(allowed), ", ")
}

// conditions reads when, changed_when, failed_when or until: an
// expression, a boolean, or a list of those. A boolean is kept as the
// expression "True" or "False", as Ansible would evaluate it.
func (c *ctx) conditions(m *vars.Map, key string) ([]string, error) {
	v, _ := m.Get(key)
	line := m.Line(key)
	one := func(x any) (string, error) {
		switch y := x.(type) {
		case string:
			return y, nil
		case vars.Unsafe:
			return string(y), nil
		case bool, int64, float64:
			s, _ := scalarString(y)
			return s, nil
		}
		return "", c.errorf(line, "write the condition as a Jinja2 expression, e.g. `"+key+": result.rc == 0`, or a list of them",
			"%s must be a condition or a list of conditions, but it holds %s", key, describe(x))
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, item := range x {
			s, err := one(item)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, err := one(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// stringList reads notify or listen: a string or a list of strings.
func (c *ctx) stringList(m *vars.Map, key string) ([]string, error) {
	v, _ := m.Get(key)
	line := m.Line(key)
	bad := func(x any) error {
		return c.errorf(line, "give a name, or a list of names", "%s must be a name or a list of names, but it holds %s", key, describe(x))
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, item := range x {
			s, ok := scalarString(item)
			if !ok {
				return nil, bad(item)
			}
			out = append(out, s)
		}
		return out, nil
	}
	s, ok := scalarString(v)
	if !ok {
		return nil, bad(v)
	}
	return []string{s}, nil
}

// tags reads tags as Ansible's Taggable does: a comma-separated string or
// a list.
func (c *ctx) tags(m *vars.Map) ([]string, error) {
	v, _ := m.Get("tags")
	line := m.Line("tags")
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		var out []string
		for _, t := range strings.Split(x, ",") {
			out = append(out, strings.TrimSpace(t))
		}
		return out, nil
	case []any:
		out := make([]string, 0, len(x))
		for _, item := range x {
			s, ok := scalarString(item)
			if !ok {
				return nil, c.errorf(line, "write each tag as a word", "a tag must be a word, but one is %s", describe(item))
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, c.errorf(line, `write tags as a list, e.g. tags: [deploy, web], or as "deploy,web"`,
		"tags must be a list or a comma-separated string, but it is %s", describe(v))
}

// boolKeyword reads a keyword that is true or false.
func (c *ctx) boolKeyword(m *vars.Map, key string) (bool, error) {
	v, _ := m.Get(key)
	if b, ok := asBool(v); ok {
		return b, nil
	}
	hint := "use true or false"
	if s, ok := v.(string); ok && isTemplate(s) {
		hint = "fleet needs " + key + " literally: use true or false (set it on a block to share it)"
	}
	return false, c.errorf(m.Line(key), hint, "%s must be true or false, but it is %s", key, describe(v))
}

// intKeyword reads a keyword that is a whole number of at least 0.
func (c *ctx) intKeyword(m *vars.Map, key, unit string) (int, error) {
	v, _ := m.Get(key)
	n, ok := asInt(v)
	if !ok || n < 0 || n > 1<<31 {
		hint := fmt.Sprintf("give a whole number of %s, e.g. %s: 10", unit, key)
		if s, isStr := v.(string); isStr && isTemplate(s) {
			hint = fmt.Sprintf("fleet needs %s literally: give a whole number of %s", key, unit)
		}
		return 0, c.errorf(m.Line(key), hint, "%s must be a whole number of %s, but it is %s", key, unit, describe(v))
	}
	return int(n), nil
}

// stringKeyword reads a keyword that is a string.
func (c *ctx) stringKeyword(m *vars.Map, key string) (string, error) {
	v, _ := m.Get(key)
	if v == nil {
		return "", nil
	}
	s, ok := scalarString(v)
	if !ok {
		return "", c.errorf(m.Line(key), "give a single value", "%s must be a string, but it is %s", key, describe(v))
	}
	return s, nil
}

// becomeMethod checks become_method: fleet escalates with sudo only.
func (c *ctx) becomeMethod(m *vars.Map) (string, error) {
	v, _ := m.Get("become_method")
	s, _ := scalarString(v)
	if s != "sudo" {
		return "", c.errorf(m.Line("become_method"), "use become_method: sudo, or remove it (sudo is the default)",
			"become_method %s is not supported: fleet becomes another user with sudo only", literal(v))
	}
	return s, nil
}

// varsKeyword reads vars: a mapping, or a list of mappings merged in
// order; every name must be a valid variable name.
func (c *ctx) varsKeyword(m *vars.Map) (*vars.Map, error) {
	v, _ := m.Get("vars")
	line := m.Line("vars")
	check := func(vm *vars.Map) error {
		for _, k := range vm.Keys() {
			if !isIdentifier(k) {
				l := vm.Line(k)
				if l == 0 {
					l = line
				}
				return c.errorf(l, "a variable name has letters, digits and underscores, and does not start with a digit",
					"%q is not a valid variable name", k)
			}
		}
		return nil
	}
	switch x := v.(type) {
	case nil:
		return vars.NewMap(), nil
	case *vars.Map:
		if err := check(x); err != nil {
			return nil, err
		}
		return x, nil
	case []any:
		out := vars.NewMap()
		for _, item := range x {
			vm, ok := item.(*vars.Map)
			if !ok {
				return nil, c.errorf(line, "write vars as a mapping of names to values",
					"vars must be a mapping (or a list of mappings), but an item is %s", describe(item))
			}
			if err := check(vm); err != nil {
				return nil, err
			}
			out = vars.Combine(out, vm)
		}
		return out, nil
	}
	return nil, c.errorf(line, "write vars as a mapping of names to values",
		"vars must be a mapping, but it is %s", describe(v))
}

// environment reads a task's or block's environment: a mapping, a
// template that renders to one, or a list of those.
func (c *ctx) environment(m *vars.Map) ([]any, error) {
	v, _ := m.Get("environment")
	line := m.Line("environment")
	one := func(x any) error {
		switch y := x.(type) {
		case *vars.Map:
			return nil
		case string:
			if isTemplate(y) {
				return nil
			}
		}
		return c.errorf(line, "write environment as a mapping of names to values, e.g. environment: {LANG: C}",
			"environment must be a mapping, but it holds %s", describe(x))
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		for _, item := range x {
			if err := one(item); err != nil {
				return nil, err
			}
		}
		return x, nil
	}
	if err := one(v); err != nil {
		return nil, err
	}
	return []any{v}, nil
}

// delegateTo checks delegate_to: fleet runs delegated tasks on the
// controller only.
func (c *ctx) delegateTo(m *vars.Map) (string, error) {
	v, _ := m.Get("delegate_to")
	s, _ := scalarString(v)
	switch s {
	case "localhost", "127.0.0.1":
		return s, nil
	}
	return "", c.errorf(m.Line("delegate_to"),
		"use delegate_to: localhost, or run the task on the other host in a play of its own",
		"delegate_to %s is not supported: fleet delegates to localhost (the controller) only", literal(v))
}
