package playbook

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// Load reads the playbook at path, parses it, expands its import_tasks and
// pre-parses its include_tasks with static file names, and validates all
// of it. Any problem is a *diag.Error naming the file and line; nothing is
// half-loaded.
func Load(path string) (*Playbook, error) {
	p := &parser{baseDir: filepath.Dir(path)}
	doc, data, err := p.readFile(path)
	if err != nil {
		return nil, err
	}
	pb := &Playbook{Path: path, Dir: p.baseDir}
	if pb.Plays, err = p.playbook(path, doc, data); err != nil {
		return nil, err
	}
	pb.Warnings = p.warnings
	return pb, nil
}

// LoadTasks reads a task file, as include_tasks does at run time. Its
// import_tasks and include_tasks are looked for beside it. The tasks
// inherit nothing; (*Task).LoadIncluded loads an include as Ansible
// does, with what the include inherits.
func LoadTasks(path string) ([]*Task, error) {
	p := &parser{baseDir: filepath.Dir(path)}
	c := &ctx{p: p, file: path}
	tasks, err := p.taskFile(c, path, 0)
	if err != nil {
		return nil, err
	}
	return tasks, nil
}

// parser holds what is shared while loading one playbook.
type parser struct {
	baseDir  string // the playbook's directory; Ansible's loader basedir
	warnings []diag.Warning
	loading  []string // files being loaded through imports and includes, outermost first
}

// maxNesting bounds imports within imports, which Ansible would follow
// until Python's recursion limit.
const maxNesting = 64

// ctx is where a task is being read: its file, the imports and includes
// around it, and what it inherits from the blocks around it.
type ctx struct {
	p    *parser
	file string
	// chain are the file names, as written, of the enclosing import_tasks
	// and include_tasks, innermost first: Ansible looks for a relative
	// file along them.
	chain      []string
	handler    bool
	inParallel bool
	inherit    inherited
}

// inherited are the keywords a task takes from the blocks (and imports)
// around it, already folded.
type inherited struct {
	when, tags     []string
	become         *bool
	becomeUser     string
	environment    []any
	vars           *vars.Map
	ignoreErrors   bool
	delegateTo     string
	runOnce        bool
	anyErrorsFatal bool
	noLog          bool
}

func (c *ctx) errorf(line int, hint, format string, args ...any) error {
	return newError(c.file, line, hint, format, args...)
}

// under returns the context for the tasks of block, parallel block or
// import t: they inherit t's folded keywords.
func (c *ctx) under(t *Task) *ctx {
	n := *c
	n.inherit = inheritedFrom(t)
	return &n
}

func inheritedFrom(t *Task) inherited {
	return inherited{
		when: slices.Clip(t.When), tags: slices.Clip(t.Tags), become: t.Become, becomeUser: t.BecomeUser,
		environment: slices.Clip(t.Environment), vars: t.Vars, ignoreErrors: t.IgnoreErrors,
		delegateTo: t.DelegateTo, runOnce: t.RunOnce, anyErrorsFatal: t.AnyErrorsFatal, noLog: t.NoLog,
	}
}

// readFile reads and decodes one YAML (or JSON) file.
func (p *parser) readFile(path string) (doc any, data []byte, err error) {
	// Only regular files: a name such as /dev/zero must not hang the load.
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		return nil, nil, newError(path, 0, "name a YAML file", "cannot read the file: it is not a regular file")
	}
	data, err = os.ReadFile(path)
	if err != nil {
		hint := ""
		if errors.Is(err, fs.ErrNotExist) {
			hint = "check the path"
		}
		return nil, nil, newError(path, 0, hint, "cannot read the file: %v", unwrapPathError(err))
	}
	doc, warnings, err := vars.Decode(path, data)
	if err != nil {
		return nil, nil, inPlaybook(err)
	}
	p.warnings = append(p.warnings, warnings...)
	return doc, data, nil
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// taskFile reads a file of tasks (an import or an include) in context c,
// whose file is set to path. line is where the file was named, for the
// message when it holds no list.
func (p *parser) taskFile(c *ctx, path string, line int) ([]*Task, error) {
	doc, _, err := p.readFile(path)
	if err != nil {
		return nil, err
	}
	switch doc.(type) {
	case nil:
		p.warnings = append(p.warnings, diag.Warning{File: path, Msg: "the file is empty and has no tasks to include"})
		return nil, nil
	case []any:
	default:
		return nil, newError(path, 1, "a task file is a list of tasks, each starting with '- '",
			"a task file must hold a list of tasks, but this one holds %s", describe(doc))
	}
	p.loading = append(p.loading, absPath(path))
	defer func() { p.loading = p.loading[:len(p.loading)-1] }()
	return p.taskList(c, doc, 1, "the file")
}

// taskList reads a list of tasks, such as tasks: or block:. line is the
// line of the key that holds it; what names it for messages.
func (p *parser) taskList(c *ctx, v any, line int, what string) ([]*Task, error) {
	var items []any
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []any:
		items = x
	default:
		return nil, c.errorf(line, "write each task on a line of its own starting with '- '",
			"%s must be a list of tasks, but it is %s", what, describe(v))
	}
	var out []*Task
	for i, item := range items {
		m, ok := item.(*vars.Map)
		if !ok {
			return nil, c.errorf(line, "a task is a mapping, e.g. `- name: say hi` followed by `debug: msg=hi`",
				"item %d of %s is %s, not a task", i+1, what, describe(item))
		}
		ts, err := p.task(c, m, line)
		if err != nil {
			return nil, err
		}
		out = append(out, ts...)
	}
	return out, nil
}

// firstLine returns the line of m's first key, or fallback.
func firstLine(m *vars.Map, fallback int) int {
	line := 0
	for _, k := range m.Keys() {
		if l := m.Line(k); l > 0 && (line == 0 || l < line) {
			line = l
		}
	}
	if line == 0 {
		return fallback
	}
	return line
}
