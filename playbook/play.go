package playbook

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"

	"fleetrun.dev/fleet/vars"
	"go.yaml.in/yaml/v3"
)

// playbook reads the plays of a decoded playbook file.
func (p *parser) playbook(path string, doc any, data []byte) ([]*Play, error) {
	const hint = "a playbook is a list of plays, each starting with '- hosts: PATTERN'"
	var items []any
	switch x := doc.(type) {
	case nil:
		return nil, newError(path, 0, hint, "the playbook is empty")
	case []any:
		items = x
	case *vars.Map:
		return nil, newError(path, firstLine(x, 1), "start the play with '- ' (a playbook is a list of plays)",
			"a playbook must be a list of plays, but this file holds a single mapping")
	default:
		return nil, newError(path, 1, hint, "a playbook must be a list of plays, but this file holds %s", describe(doc))
	}
	if len(items) == 0 {
		return nil, newError(path, 1, hint, "the playbook has no plays")
	}
	p.loading = append(p.loading, absPath(path))
	var plays []*Play
	for i, item := range items {
		m, ok := item.(*vars.Map)
		if !ok {
			return nil, newError(path, seqItemLine(data, i), hint, "play %d is %s, not a play", i+1, describe(item))
		}
		pl, err := p.play(path, m)
		if err != nil {
			return nil, err
		}
		if err := checkNotify(pl); err != nil {
			return nil, err
		}
		plays = append(plays, pl)
	}
	return plays, nil
}

// seqItemLine returns the line of item i of the document's top-level
// list, or 0. Decoded values keep the lines of mapping keys only, so the
// source is parsed again for this rare message.
func seqItemLine(data []byte, i int) int {
	var doc yaml.Node
	if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(&doc); err != nil {
		return 0
	}
	n := &doc
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	if n.Kind != yaml.SequenceNode || i >= len(n.Content) {
		return 0
	}
	return n.Content[i].Line
}

// play reads one play.
func (p *parser) play(file string, m *vars.Map) (*Play, error) {
	c := &ctx{p: p, file: file}
	line := firstLine(m, 1)
	if err := c.checkTemplates(m, line, "pre_tasks", "tasks", "post_tasks", "handlers"); err != nil {
		return nil, err
	}
	pl := &Play{Pos: Pos{File: file, Line: line}, GatherFacts: true, Strategy: "linear"}
	for _, k := range m.Keys() {
		if err := c.checkPlayKey(m, k); err != nil {
			return nil, err
		}
	}
	if !m.Has("hosts") {
		return nil, c.errorf(line, "add the hosts to run on, e.g. `hosts: all` or `hosts: web:&prod`",
			"the play has no hosts:")
	}
	var err error
	for _, k := range m.Keys() {
		v := mustGet(m, k)
		switch k {
		case "name":
			pl.Name, err = c.stringKeyword(m, k)
		case "hosts":
			pl.Hosts, err = c.hosts(m)
		case "vars":
			pl.Vars, err = c.varsKeyword(m)
		case "vars_files":
			pl.VarsFiles, err = c.varsFiles(m)
		case "gather_facts":
			pl.GatherFacts, err = c.boolKeyword(m, k)
		case "become":
			var b bool
			if b, err = c.boolKeyword(m, k); err == nil {
				pl.Become = &b
			}
		case "become_user":
			pl.BecomeUser, err = c.stringKeyword(m, k)
		case "become_method":
			pl.BecomeMethod, err = c.becomeMethod(m)
		case "serial":
			pl.Serial, err = c.serial(m)
		case "strategy":
			pl.Strategy, err = c.strategy(m)
		case "max_fail_percentage":
			pl.MaxFailPercentage, err = c.maxFailPercentage(m)
		case "any_errors_fatal":
			pl.AnyErrorsFatal, err = c.boolKeyword(m, k)
		case "environment":
			if _, err = c.environment(m); err == nil {
				pl.Environment = v
			}
		case "tags":
			pl.Tags, err = c.tags(m)
		case "pre_tasks":
			pl.PreTasks, err = p.taskList(c, v, m.Line(k), k)
		case "tasks":
			pl.Tasks, err = p.taskList(c, v, m.Line(k), k)
		case "post_tasks":
			pl.PostTasks, err = p.taskList(c, v, m.Line(k), k)
		case "handlers":
			hc := *c
			hc.handler = true
			pl.Handlers, err = p.taskList(&hc, v, m.Line(k), k)
		}
		if err != nil {
			return nil, err
		}
	}
	return pl, nil
}

// checkPlayKey checks that k is a play keyword fleet supports.
func (c *ctx) checkPlayKey(m *vars.Map, k string) error {
	line := m.Line(k)
	if playKeywords[k] {
		return nil
	}
	if hint, ok := unsupportedPlayKeywords[k]; ok {
		return c.errorf(line, hint, "play keyword %s is not supported by fleet", k)
	}
	if s := suggest(k, sortedKeys(playKeywords)); s != "" {
		return c.errorf(line, fmt.Sprintf("did you mean %q?", s), "unknown play keyword %s", k)
	}
	if _, ok := moduleName(k); ok || taskKeywords[k] {
		return c.errorf(line, "a play's tasks go under `tasks:`, as a list, each starting with '- '",
			"%s is a task keyword, not a play keyword", k)
	}
	return c.errorf(line, keywordsHint(playKeywords), "unknown play keyword %s", k)
}

// hosts reads a play's host pattern: a string, or a list that Ansible
// joins with commas.
func (c *ctx) hosts(m *vars.Map) (string, error) {
	v := mustGet(m, "hosts")
	line := m.Line("hosts")
	var parts []string
	switch x := v.(type) {
	case []any:
		for _, item := range x {
			s, ok := scalarString(item)
			if !ok {
				return "", c.errorf(line, "list host patterns as strings", "hosts must be a pattern or a list of patterns, but an item is %s", describe(item))
			}
			parts = append(parts, s)
		}
	default:
		s, ok := asString(v)
		if !ok {
			return "", c.errorf(line, "give a host pattern, e.g. `hosts: all`", "hosts must be a host pattern, but it is %s", describe(v))
		}
		parts = []string{s}
	}
	h := strings.Join(parts, ",")
	if strings.TrimSpace(h) == "" {
		return "", c.errorf(line, "give a host pattern, e.g. `hosts: all`", "hosts is empty")
	}
	return h, nil
}

// varsFiles reads vars_files. A name without a template must exist (as
// Ansible requires before the play starts) and hold a mapping; templated
// names are checked when the play runs.
func (c *ctx) varsFiles(m *vars.Map) ([]string, error) {
	v := mustGet(m, "vars_files")
	line := m.Line("vars_files")
	var names []string
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		for _, item := range x {
			if _, ok := item.([]any); ok {
				return nil, c.errorf(line, "list one file per entry",
					"a list of alternatives in vars_files (the first that exists wins) is not supported by fleet")
			}
			s, ok := scalarString(item)
			if !ok {
				return nil, c.errorf(line, "list file names", "vars_files must list file names, but an item is %s", describe(item))
			}
			names = append(names, s)
		}
	default:
		s, ok := scalarString(v)
		if !ok {
			return nil, c.errorf(line, "list file names", "vars_files must be a file name or a list of them, but it is %s", describe(v))
		}
		names = []string{s}
	}
	for _, n := range names {
		if isTemplate(n) {
			continue
		}
		path := pyJoin(c.p.baseDir, expandHome(n))
		if _, err := os.Stat(path); err != nil {
			return nil, c.errorf(line, "check the name; vars_files are relative to the playbook's directory",
				"vars file %s not found (looked for %s)", n, path)
		}
		doc, _, err := c.p.readFile(path)
		if err != nil {
			return nil, err
		}
		if !isVarsDocument(doc) {
			return nil, newError(path, 1, "a vars file is a mapping of variable names to values",
				"a vars file must hold a mapping (or a list of mappings), but this one holds %s", describe(doc))
		}
	}
	return names, nil
}

// serial reads serial: a host count, a percentage such as "30%", or a
// list of those (successive batch sizes, the last repeating).
func (c *ctx) serial(m *vars.Map) ([]Serial, error) {
	v := mustGet(m, "serial")
	line := m.Line("serial")
	const hint = `give a number of hosts (serial: 2), a percentage (serial: "30%"), or a list of them (serial: [1, 5, "50%"])`
	one := func(x any) (Serial, error) {
		bad := func(why string) (Serial, error) {
			return Serial{}, c.errorf(line, hint, "serial %s is not valid: %s", literal(x), why)
		}
		switch y := x.(type) {
		case int64:
			if y <= 0 {
				return bad("a batch needs at least one host")
			}
			if y > 1<<31 {
				return bad("too large")
			}
			return Serial{N: int(y)}, nil
		case string:
			s := strings.TrimSpace(y)
			if isTemplate(s) {
				return bad("fleet needs serial literally, not as a template")
			}
			pct := strings.HasSuffix(s, "%")
			n, err := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(s, "%")))
			switch {
			case err != nil:
				return bad("it is neither a whole number nor a percentage")
			case n <= 0:
				return bad("a batch needs at least one host")
			case pct && n > 100:
				return bad("a percentage is at most 100%")
			}
			return Serial{N: n, Percent: pct}, nil
		}
		return bad("it is neither a whole number nor a percentage")
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		if len(x) == 0 {
			return nil, nil
		}
		out := make([]Serial, 0, len(x))
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
	return []Serial{s}, nil
}

// strategy reads strategy: linear or free.
func (c *ctx) strategy(m *vars.Map) (string, error) {
	v := mustGet(m, "strategy")
	s, _ := asString(v)
	switch s {
	case "linear", "free":
		return s, nil
	}
	return "", c.errorf(m.Line("strategy"), didYouMean(s, []string{"linear", "free"}, "use linear (the default) or free"),
		"strategy %s is not supported: fleet has linear and free", literal(v))
}

// maxFailPercentage reads max_fail_percentage: a number from 0 to 100, or
// such a number with a "%" as Ansible's percent type allows.
func (c *ctx) maxFailPercentage(m *vars.Map) (*float64, error) {
	v := mustGet(m, "max_fail_percentage")
	var f float64
	ok := false
	switch x := v.(type) {
	case int64:
		f, ok = float64(x), true
	case float64:
		f, ok = x, true
	case string:
		n, err := strconv.ParseFloat(strings.TrimSpace(strings.ReplaceAll(x, "%", "")), 64)
		f, ok = n, err == nil
	}
	if !ok || f < 0 || f > 100 || f != f {
		return nil, c.errorf(m.Line("max_fail_percentage"), "give a percentage from 0 to 100, e.g. max_fail_percentage: 30",
			"max_fail_percentage must be a number from 0 to 100, but it is %s", describe(v))
	}
	return &f, nil
}

// checkNotify fails when a task notifies a handler that the play does not
// have. Ansible finds out only when the task notifies; fleet before
// anything runs. When a handler's name or listen is a template, or an
// include in handlers is loaded at run time, any name may match, and the
// check is skipped.
func checkNotify(pl *Play) error {
	names := map[string]bool{}
	var known []string
	open := false
	var addHandlers func(ts []*Task)
	addHandlers = func(ts []*Task) {
		for _, t := range ts {
			for _, n := range append([]string{t.Name}, t.Listen...) {
				if isTemplate(n) {
					open = true
				}
				if n != "" && !names[n] {
					names[n] = true
					known = append(known, n)
				}
			}
			if t.Module == "include_tasks" && t.Included == nil {
				open = true
			}
			addHandlers(t.Included)
		}
	}
	addHandlers(pl.Handlers)
	if open {
		return nil
	}
	var check func(ts []*Task) error
	check = func(ts []*Task) error {
		for _, t := range ts {
			for _, n := range t.Notify {
				if isTemplate(n) || names[n] {
					continue
				}
				hint := "add a handler with that name (or `listen: " + n + "`) under the play's handlers:"
				if len(known) == 0 {
					hint = "the play has no handlers; add one under handlers: with that name"
				} else if s := suggest(n, known); s != "" {
					hint = fmt.Sprintf("did you mean %q?", s)
				}
				return newError(t.File, t.Line, hint, "notify: no handler of the play is named or listens to %q", n)
			}
			for _, sub := range [][]*Task{t.Block, t.Rescue, t.Always, t.Parallel, t.Included} {
				if err := check(sub); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, ts := range [][]*Task{pl.PreTasks, pl.Tasks, pl.PostTasks, pl.Handlers} {
		if err := check(ts); err != nil {
			return err
		}
	}
	return nil
}

// isVarsDocument reports whether a vars file holds what Ansible accepts:
// nothing, a mapping, or a list of mappings.
func isVarsDocument(doc any) bool {
	switch x := doc.(type) {
	case nil, *vars.Map:
		return true
	case []any:
		for _, item := range x {
			if _, ok := item.(*vars.Map); !ok {
				return false
			}
		}
		return true
	}
	return false
}
