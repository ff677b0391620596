package playbook

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// Task files are found as Ansible 2.14 finds them outside roles
// (playbook/helpers.py for import_tasks, playbook/included_file.py for
// include_tasks): a relative name is first looked for under the directory
// of the file that imports it, taken as Ansible takes it (the directory
// part of the name the importing file was itself imported by, relative to
// the playbook's directory), then in the playbook's directory, then under
// the directories of the imports further out. There is no tasks/
// subdirectory lookup outside roles.

// includeSite is what an include_tasks needs to load its file at run
// time: the playbook's directory, and the context its tasks are read in.
type includeSite struct {
	baseDir string
	ctx     ctx // p is replaced by a fresh parser for each load
}

// importTasks replaces an import_tasks by the tasks of its file, which
// inherit the import's keywords (when, tags, vars, ...) as if it were a
// block.
func (c *ctx) importTasks(t *Task, m *vars.Map) ([]*Task, error) {
	line := m.Line(t.Action)
	name, err := c.taskFileName(t, line)
	if err != nil {
		return nil, err
	}
	if isTemplate(name) {
		return nil, c.errorf(line, "use include_tasks, which renders its file name when it runs",
			"fleet cannot import a file whose name is a template (%q) before the play runs", name)
	}
	path, err := c.resolve(name, line, t.Action)
	if err != nil {
		return nil, err
	}
	if err := c.p.checkCycle(c, path, line, t.Action); err != nil {
		return nil, err
	}
	inner := c.under(t)
	inner.file = path
	inner.chain = slices.Concat([]string{name}, c.chain)
	return c.p.taskFile(inner, path, line)
}

// includeTasks prepares an include_tasks: its file is parsed now when its
// name is not a template, so that its errors are found before anything
// runs.
func (c *ctx) includeTasks(t *Task, m *vars.Map) error {
	line := m.Line(t.Action)
	name, err := c.taskFileName(t, line)
	if err != nil {
		return err
	}
	// The included tasks inherit what the include inherits, and its vars,
	// but not its own when, tags or other keywords: Ansible skips a
	// dynamic parent when it looks up a task's inherited keywords.
	site := &includeSite{baseDir: c.p.baseDir, ctx: *c}
	site.ctx.p = nil
	site.ctx.inherit.vars = t.Vars
	t.include = site
	if isTemplate(name) {
		return nil
	}
	path, err := c.resolve(name, line, t.Action)
	if err != nil {
		return err
	}
	if abs := absPath(path); slices.Contains(c.p.loading, abs) {
		// A file that includes itself (guarded by a when) is loaded at run
		// time, one level at a time.
		return nil
	}
	if len(c.p.loading) >= maxNesting {
		return nil
	}
	inner := site.ctx
	inner.p = c.p
	inner.file = path
	inner.chain = slices.Concat([]string{name}, c.chain)
	if t.Included, err = c.p.taskFile(&inner, path, line); err != nil {
		return err
	}
	if t.Included == nil {
		t.Included = []*Task{}
	}
	return nil
}

// taskFileName returns the file name argument of an import or include.
func (c *ctx) taskFileName(t *Task, line int) (string, error) {
	v, _ := t.Args.Get(rawParams)
	name, ok := asString(v)
	if !ok || strings.TrimSpace(name) == "" {
		return "", c.errorf(line, fmt.Sprintf("name the file, e.g. `%s: tasks/setup.yml`", t.Action),
			"%s needs a file name, but got %s", t.Action, describe(v))
	}
	return name, nil
}

// checkCycle fails when path is already being imported.
func (p *parser) checkCycle(c *ctx, path string, line int, action string) error {
	abs := absPath(path)
	if i := slices.Index(p.loading, abs); i >= 0 {
		return c.errorf(line, "remove the import that brings the file back in",
			"%s of %s makes a loop: the file imports itself", action, path)
	}
	if len(p.loading) >= maxNesting {
		return c.errorf(line, "flatten the imports", "imports are nested more than %d deep", maxNesting)
	}
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return filepath.Clean(p)
}

// resolve finds the file an import or include names, as Ansible does.
func (c *ctx) resolve(name string, line int, action string) (string, error) {
	cands := taskFileCandidates(c.p.baseDir, c.chain, name)
	for _, cand := range cands {
		if _, err := os.Stat(cand); err == nil {
			return cand, nil
		}
	}
	return "", c.errorf(line, "check the name; a relative name is looked for beside the importing file and in the playbook's directory",
		"%s: file %s not found (looked for %s)", action, name, strings.Join(cands, ", "))
}

// taskFileCandidates lists where Ansible looks for the task file name,
// named inside the imports and includes chain (innermost first), in
// order.
func taskFileCandidates(baseDir string, chain []string, name string) []string {
	name = expandHome(name)
	if filepath.IsAbs(name) {
		return []string{filepath.Clean(name)}
	}
	var out []string
	add := func(p string) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	cum := ""
	for i, outer := range chain {
		d := filepath.Dir(expandHome(outer))
		if i == 0 {
			cum = d
		} else if !filepath.IsAbs(cum) {
			cum = pyJoin(d, cum)
		}
		add(pyJoin(baseDir, cum, name))
		add(pyJoin(baseDir, name))
	}
	add(pyJoin(baseDir, name))
	return out
}

// pyJoin joins paths as Python's os.path.join does: an absolute part
// starts over.
func pyJoin(parts ...string) string {
	out := ""
	for _, p := range parts {
		if filepath.IsAbs(p) || out == "" {
			out = p
		} else {
			out = filepath.Join(out, p)
		}
	}
	return filepath.Clean(out)
}

// expandHome expands a leading ~ as Ansible's unfrackpath does.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return home + p[1:]
		}
	}
	return p
}

// LoadIncluded loads the file of include_tasks t, whose name rendered to
// file, as Ansible does when the include runs: the file is looked for
// beside the file that holds t (and along its imports), and its tasks
// inherit what t inherits from its blocks, and t's vars, but not t's own
// when or tags. The warnings are Ansible's (duplicate keys, an empty
// file).
func (t *Task) LoadIncluded(file string) ([]*Task, []diag.Warning, error) {
	if t.include == nil {
		return nil, nil, fmt.Errorf("playbook: %s: the task is not an include_tasks read by Load", t.Pos)
	}
	p := &parser{baseDir: t.include.baseDir}
	c := t.include.ctx
	c.p = p
	path, err := c.resolve(file, t.Line, t.Action)
	if err != nil {
		return nil, nil, err
	}
	inner := c
	inner.file = path
	inner.chain = slices.Concat([]string{file}, c.chain)
	tasks, err := p.taskFile(&inner, path, t.Line)
	if err != nil {
		return nil, nil, err
	}
	return tasks, p.warnings, nil
}
