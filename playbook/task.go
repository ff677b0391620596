package playbook

import (
	"fmt"
	"path"
	"slices"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// DisplayName returns what Ansible prints for the task in TASK [...]: its
// name as written (not rendered), or else the module as written.
func (t *Task) DisplayName() string {
	switch {
	case t.Name != "":
		return t.Name
	case t.Action != "":
		return t.Action
	case t.IsParallel():
		return "parallel"
	}
	return "block"
}

// taskShape is what a task mapping is, from its keys.
type taskShape int

const (
	shapeModule taskShape = iota
	shapeBlock
	shapeParallel
)

func (s taskShape) String() string {
	switch s {
	case shapeBlock:
		return "a block"
	case shapeParallel:
		return "a parallel block"
	}
	return "a task"
}

// task reads one task mapping. It returns more than one task for an
// import_tasks, which is replaced by the tasks it imports, and none for an
// import of an empty file.
func (p *parser) task(c *ctx, m *vars.Map, fallback int) ([]*Task, error) {
	line := firstLine(m, fallback)
	if err := c.checkTemplates(m, line, "block", "rescue", "always", "parallel"); err != nil {
		return nil, err
	}

	// Find the module and the shape first: which keywords are allowed,
	// and what an unknown key most likely is, depend on them.
	var action string
	shape := shapeModule
	for _, k := range m.Keys() {
		switch {
		case k == "block" || k == "rescue" || k == "always":
			if shape != shapeParallel {
				shape = shapeBlock
			}
		case k == "parallel":
			shape = shapeParallel
		case !taskKeywords[k]:
			if _, ok := moduleName(k); ok {
				if action != "" {
					return nil, c.errorf(m.Line(k), "split it into two tasks, one per module",
						"a task runs one module, but this one has two: %s and %s", action, k)
				}
				action = k
			}
		}
	}
	if action != "" && shape != shapeModule {
		return nil, c.errorf(m.Line(action), fmt.Sprintf("move `%s:` into a task of its own inside the %s",
			action, map[taskShape]string{shapeBlock: "block", shapeParallel: "parallel list"}[shape]),
			"%s cannot also run a module, but this one has %s", shape, action)
	}
	if m.Has("block") && m.Has("parallel") {
		return nil, c.errorf(m.Line("parallel"), "nest them: put the parallel block inside the block's list, or the other way round",
			"a task cannot be both a block and a parallel block")
	}
	short, _ := moduleName(action)
	allowed := moduleTaskKeywords
	switch {
	case shape == shapeBlock:
		allowed = blockKeywords
	case shape == shapeParallel:
		allowed = parallelKeywords
	case short == "include_tasks":
		allowed = includeKeywords
	case short == "import_tasks":
		allowed = importKeywords
	}

	for _, k := range m.Keys() {
		if err := c.checkTaskKey(m, k, action, shape, allowed); err != nil {
			return nil, err
		}
	}
	if action == "" && shape == shapeModule {
		return nil, c.errorf(line, "add the module to run, e.g. `command: uptime`; fleet supports "+
			strings.Join(SupportedModules(), ", "), "the task has no module to run")
	}
	if m.Has("rescue") && !m.Has("block") || m.Has("always") && !m.Has("block") {
		k := "rescue"
		if !m.Has("rescue") {
			k = "always"
		}
		return nil, c.errorf(m.Line(k), "put the tasks that may fail under `block:`, next to `"+k+":`",
			"%s: belongs to a block, but this task has no block:", k)
	}

	t, err := c.keywords(m, line)
	if err != nil {
		return nil, err
	}
	switch shape {
	case shapeBlock:
		t.LoopVar, t.Delay = "", 0
		return c.block(t, m)
	case shapeParallel:
		t.LoopVar, t.Delay = "", 0
		return c.parallel(t, m)
	}
	t.Action = action
	t.Module = short
	if t.Args, err = c.moduleArgs(m, action, short); err != nil {
		return nil, err
	}
	switch short {
	case "import_tasks":
		return c.importTasks(t, m)
	case "include_tasks":
		if err := c.includeTasks(t, m); err != nil {
			return nil, err
		}
	}
	return []*Task{t}, nil
}

// checkTaskKey checks that key k may appear on a task of this shape.
func (c *ctx) checkTaskKey(m *vars.Map, k, action string, shape taskShape, allowed map[string]bool) error {
	line := m.Line(k)
	switch {
	case k == action || allowed[k] && (k != "listen" || c.handler):
		return nil
	case k == "listen":
		return c.errorf(line, "move the task to handlers:, or use notify: to run a handler",
			"listen is for handlers, but this task is not in handlers:")
	case taskKeywords[k]:
		what := shape.String()
		short, _ := moduleName(action)
		if short == "include_tasks" || short == "import_tasks" {
			what = short
		}
		hint := keywordsHint(allowed)
		switch {
		case short == "import_tasks" && (k == "loop" || k == "with_items" || k == "loop_control"):
			hint = "use include_tasks to loop over a file of tasks"
		case short == "import_tasks" || short == "include_tasks":
			hint = "put it on the tasks in the file, or on a block around the " + short + "; " + hint
		case shape == shapeBlock:
			hint = "put it on the tasks inside the block; " + hint
		case shape == shapeParallel:
			hint = "put it on the tasks inside the parallel list; " + hint
		}
		return c.errorf(line, hint, "%s is not allowed on %s", k, what)
	}
	if hint, ok := unsupportedTaskKeywords[k]; ok {
		return c.errorf(line, hint, "keyword %s is not supported by fleet", k)
	}
	if strings.HasPrefix(k, "with_") {
		return c.errorf(line, "write the loop with loop: (and a filter where needed), or with with_items:",
			"%s is not supported by fleet", k)
	}
	if strings.HasPrefix(k, "ansible.builtin.") || strings.HasPrefix(k, "ansible.legacy.") {
		return c.errorf(line, "fleet supports "+strings.Join(SupportedModules(), ", "),
			"module %s is not supported by fleet", k)
	}
	if playKeywords[k] {
		return c.errorf(line, "tasks hold task keywords only; a play's keywords go on the play (`- hosts: ...`)",
			"%s is a play keyword, not a task keyword", k)
	}
	// An unknown word: a misspelt keyword or module, or a module fleet
	// does not have. The closer of the two suggestions wins.
	kw := suggest(k, sortedKeys(allowed))
	mod := suggest(k, moduleNamesForSuggestion())
	if kw != "" && (mod == "" || editDistance(normalizeWord(k), normalizeWord(kw)) <= editDistance(normalizeWord(k), normalizeWord(mod))) {
		return c.errorf(line, fmt.Sprintf("did you mean %q?", kw), "unknown keyword %s", k)
	}
	if action == "" && shape == shapeModule {
		hint := "fleet supports " + strings.Join(SupportedModules(), ", ")
		if mod != "" {
			hint = fmt.Sprintf("did you mean %q? ", mod) + hint
		}
		return c.errorf(line, hint, "unknown module %s", k)
	}
	if mod != "" {
		return c.errorf(line, fmt.Sprintf("did you mean %q? A task runs one module, and this one has %s", mod, action),
			"unknown keyword or module %s", k)
	}
	return c.errorf(line, keywordsHint(allowed), "unknown keyword %s on %s", k, shape)
}

// keywords reads the keywords of a task, block or parallel block, folding
// in what it inherits.
func (c *ctx) keywords(m *vars.Map, line int) (*Task, error) {
	in := c.inherit
	t := &Task{
		Pos:            Pos{File: c.file, Line: line},
		When:           in.when,
		Tags:           in.tags,
		Become:         in.become,
		BecomeUser:     in.becomeUser,
		Environment:    in.environment,
		Vars:           in.vars,
		IgnoreErrors:   in.ignoreErrors,
		DelegateTo:     in.delegateTo,
		RunOnce:        in.runOnce,
		AnyErrorsFatal: in.anyErrorsFatal,
		NoLog:          in.noLog,
		Handler:        c.handler,
		LoopVar:        "item",
		Delay:          5,
	}
	var err error
	retriesSet := false
	for _, k := range m.Keys() {
		v, _ := m.Get(k)
		switch k {
		case "name":
			t.Name, err = c.stringKeyword(m, k)
		case "when":
			var conds []string
			if conds, err = c.conditions(m, k); err == nil {
				t.When = slices.Concat(t.When, conds)
			}
		case "changed_when":
			t.ChangedWhen, err = c.conditions(m, k)
		case "failed_when":
			t.FailedWhen, err = c.conditions(m, k)
		case "until":
			t.Until, err = c.conditions(m, k)
		case "tags":
			var tags []string
			if tags, err = c.tags(m); err == nil {
				t.Tags = slices.Clip(t.Tags)
				for _, tag := range tags {
					if !slices.Contains(t.Tags, tag) {
						t.Tags = append(t.Tags, tag)
					}
				}
			}
		case "register":
			s, ok := asString(v)
			if !ok || !isIdentifier(s) {
				err = c.errorf(m.Line(k), "a variable name has letters, digits and underscores, and does not start with a digit",
					"register must be a valid variable name, but it is %s", describe(v))
			}
			t.Register = s
		case "loop":
			t.Loop, err = c.loop(m)
		case "with_items":
			if m.Has("loop") {
				err = c.errorf(m.Line(k), "keep one of loop: and with_items:", "a task cannot have both loop: and with_items:")
			} else if v == nil {
				err = c.errorf(m.Line(k), "give the list to loop over", "with_items needs a list")
			}
			t.Loop, t.WithItems = v, true
		case "loop_control":
			err = c.loopControl(t, m)
		case "notify":
			t.Notify, err = c.stringList(m, k)
		case "listen":
			t.Listen, err = c.stringList(m, k)
		case "ignore_errors":
			t.IgnoreErrors, err = c.boolKeyword(m, k)
		case "run_once":
			t.RunOnce, err = c.boolKeyword(m, k)
		case "any_errors_fatal":
			t.AnyErrorsFatal, err = c.boolKeyword(m, k)
		case "no_log":
			t.NoLog, err = c.boolKeyword(m, k)
		case "become":
			var b bool
			if b, err = c.boolKeyword(m, k); err == nil {
				t.Become = &b
			}
		case "become_user":
			t.BecomeUser, err = c.stringKeyword(m, k)
		case "become_method":
			_, err = c.becomeMethod(m)
		case "timeout":
			t.Timeout, err = c.intKeyword(m, k, "seconds")
		case "retries":
			t.Retries, err = c.intKeyword(m, k, "retries")
			retriesSet = true
		case "delay":
			t.Delay, err = c.intKeyword(m, k, "seconds")
		case "delegate_to":
			t.DelegateTo, err = c.delegateTo(m)
		case "environment":
			var env []any
			if env, err = c.environment(m); err == nil {
				t.Environment = slices.Concat(t.Environment, env)
			}
		case "vars":
			var own *vars.Map
			if own, err = c.varsKeyword(m); err == nil {
				t.Vars = vars.Combine(t.Vars, own)
			}
		}
		if err != nil {
			return nil, err
		}
	}
	if t.Until != nil && !retriesSet {
		t.Retries = 3
	}
	return t, nil
}

// loop reads loop: a list, or a template that renders to one.
func (c *ctx) loop(m *vars.Map) (any, error) {
	v, _ := m.Get("loop")
	switch x := v.(type) {
	case nil, []any:
		return v, nil
	case string:
		if isTemplate(x) {
			return x, nil
		}
		return nil, c.errorf(m.Line("loop"), fmt.Sprintf(`to loop over a variable, template it: loop: "{{ %s }}"; to loop over one item, write a list: loop: [%q]`, x, x),
			"loop must be a list, but it is %s", describe(v))
	}
	return nil, c.errorf(m.Line("loop"), `write a list, e.g. loop: [a, b], or a template that gives one, e.g. loop: "{{ packages }}"`,
		"loop must be a list, but it is %s", describe(v))
}

// loopControl reads loop_control's loop_var and label.
func (c *ctx) loopControl(t *Task, m *vars.Map) error {
	v, _ := m.Get("loop_control")
	lc, ok := v.(*vars.Map)
	if !ok {
		return c.errorf(m.Line("loop_control"), "write loop_control as a mapping, e.g. loop_control: {loop_var: pkg}",
			"loop_control must be a mapping, but it is %s", describe(v))
	}
	for _, k := range lc.Keys() {
		line := lc.Line(k)
		switch {
		case k == "loop_var":
			s, ok := asString(mustGet(lc, k))
			if !ok || !isIdentifier(s) {
				return c.errorf(line, "a variable name has letters, digits and underscores, and does not start with a digit",
					"loop_var must be a valid variable name, but it is %s", describe(mustGet(lc, k)))
			}
			t.LoopVar = s
		case k == "label":
			s, ok := scalarString(mustGet(lc, k))
			if !ok {
				return c.errorf(line, `give a string, e.g. label: "{{ item.name }}"`, "label must be a string, but it is %s", describe(mustGet(lc, k)))
			}
			t.LoopLabel = s
		case unsupportedLoopControl[k]:
			return c.errorf(line, "loop_control supports loop_var and label in fleet", "loop_control.%s is not supported by fleet", k)
		default:
			return c.errorf(line, didYouMean(k, sortedKeys(loopControlKeywords), "loop_control takes loop_var and label"),
				"unknown loop_control key %s", k)
		}
	}
	return nil
}

func mustGet(m *vars.Map, k string) any {
	v, _ := m.Get(k)
	return v
}

// block reads block:, rescue: and always: into t; their tasks inherit t's
// keywords.
func (c *ctx) block(t *Task, m *vars.Map) ([]*Task, error) {
	if c.handler {
		return nil, c.errorf(t.Line, "list the handler tasks directly under handlers:, or import them with import_tasks",
			"a block cannot be a handler in fleet")
	}
	if c.inParallel {
		return nil, c.errorf(t.Line, "a parallel list holds plain tasks; put the block around the parallel block instead",
			"a block cannot be inside a parallel block")
	}
	inner := c.under(t)
	var err error
	if t.Block, err = c.p.taskList(inner, mustGet(m, "block"), m.Line("block"), "block"); err != nil {
		return nil, err
	}
	if t.Block == nil {
		t.Block = []*Task{}
	}
	if t.Rescue, err = c.p.taskList(inner, mustGet(m, "rescue"), m.Line("rescue"), "rescue"); err != nil {
		return nil, err
	}
	if t.Always, err = c.p.taskList(inner, mustGet(m, "always"), m.Line("always"), "always"); err != nil {
		return nil, err
	}
	return []*Task{t}, nil
}

// parallel reads a parallel block: a list of module tasks that run at the
// same time on each host.
func (c *ctx) parallel(t *Task, m *vars.Map) ([]*Task, error) {
	if c.inParallel {
		return nil, c.errorf(t.Line, "merge the two lists into one parallel block", "a parallel block cannot be inside another")
	}
	if c.handler {
		return nil, c.errorf(t.Line, "list the handler tasks directly under handlers:", "a parallel block cannot be a handler")
	}
	inner := c.under(t)
	inner.inParallel = true
	v := mustGet(m, "parallel")
	if _, ok := v.([]any); !ok || len(v.([]any)) == 0 {
		return nil, c.errorf(m.Line("parallel"), "list the tasks to run at the same time under parallel:, each starting with '- '",
			"parallel must be a non-empty list of tasks, but it is %s", describe(v))
	}
	tasks, err := c.p.taskList(inner, v, m.Line("parallel"), "parallel")
	if err != nil {
		return nil, err
	}
	for _, pt := range tasks {
		switch pt.Module {
		case "include_tasks", "import_tasks":
			return nil, c.errorf(pt.Line, "list the tasks themselves under parallel:", "%s is not allowed inside a parallel block", pt.Module)
		case "meta":
			return nil, c.errorf(pt.Line, "put the meta task after the parallel block", "meta is not allowed inside a parallel block: its tasks run at once, so there is no point between them to act at")
		}
		if pt.RunOnce {
			return nil, c.errorf(pt.Line, "put the run_once task before or after the parallel block",
				"run_once is not allowed inside a parallel block")
		}
	}
	t.Parallel = tasks
	return []*Task{t}, nil
}

// checkTemplates fails on a "{{", "{%" or "{#" that is never closed in
// any string under m, except under the skip keys (nested task lists,
// which are checked on their own).
func (c *ctx) checkTemplates(m *vars.Map, line int, skip ...string) error {
	var walk func(v any, line int) error
	walk = func(v any, line int) error {
		switch x := v.(type) {
		case string:
			if msg := unclosedTemplate(x); msg != "" {
				return c.errorf(line, "close every {{ with }} (and {% with %}); quote the whole value if it starts with {{",
					"unbalanced template: %s", msg)
			}
		case []any:
			for _, item := range x {
				if err := walk(item, line); err != nil {
					return err
				}
			}
		case *vars.Map:
			for _, k := range x.Keys() {
				l := x.Line(k)
				if l == 0 {
					l = line
				}
				if err := walk(k, l); err != nil {
					return err
				}
				if err := walk(mustGet(x, k), l); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, k := range m.Keys() {
		if slices.Contains(skip, k) {
			continue
		}
		l := m.Line(k)
		if l == 0 {
			l = line
		}
		if err := walk(mustGet(m, k), l); err != nil {
			return err
		}
	}
	return nil
}

// HasTask reports whether a task of p (in any section, block, parallel
// block or statically read include) is named pattern or matches it as a
// glob, as --start-at-task compares names.
func (p *Play) HasTask(pattern string) bool {
	var walk func([]*Task) bool
	walk = func(ts []*Task) bool {
		for _, t := range ts {
			if ok, _ := path.Match(pattern, t.Name); ok || t.Name == pattern {
				return true
			}
			if walk(t.Block) || walk(t.Rescue) || walk(t.Always) || walk(t.Parallel) || walk(t.Included) {
				return true
			}
		}
		return false
	}
	return walk(p.PreTasks) || walk(p.Tasks) || walk(p.PostTasks)
}
