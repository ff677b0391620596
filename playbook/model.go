package playbook

import (
	"fmt"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// Pos is where something was written: a file and a 1-based line.
type Pos struct {
	File string
	Line int
}

// String returns "file:line", or just the file when the line is unknown.
func (p Pos) String() string {
	if p.Line <= 0 {
		return p.File
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Playbook is a parsed, validated playbook file.
type Playbook struct {
	Path  string // as given on the command line
	Dir   string // the playbook's directory: relative src, template and vars_files paths start here
	Plays []*Play
	// Warnings are what Ansible would warn about while loading (a
	// duplicate key, an empty imported file); the CLI prints them.
	Warnings []diag.Warning
}

// Serial is one batch size of a play's `serial`: a host count, or a
// percentage of the play's hosts.
type Serial struct {
	N       int
	Percent bool
}

// Play is one play of a playbook. Keywords a play shares with tasks
// (become, environment, tags, vars) are kept here; the parser does not copy
// them into the tasks, the executor combines them.
type Play struct {
	Pos
	Name        string
	Hosts       string // a host pattern, as `fleet run` takes it
	Vars        *vars.Map
	VarsFiles   []string // raw paths, may hold {{ }}; relative to the playbook's Dir
	GatherFacts bool     // defaults to true, as in Ansible
	// Become is nil when the play does not say.
	Become       *bool
	BecomeUser   string
	BecomeMethod string // "" or "sudo"; anything else is rejected by Parse
	// Serial is nil for one batch of every host; a list gives successive
	// batch sizes, the last repeating.
	Serial            []Serial
	Strategy          string   // "linear" (default) or "free"
	MaxFailPercentage *float64 // nil when unset
	AnyErrorsFatal    bool
	Environment       any // a mapping or a template string; nil when unset
	Tags              []string
	PreTasks          []*Task
	Tasks             []*Task
	PostTasks         []*Task
	Handlers          []*Task
}

// Task is one task, block, or parallel block. Keywords inherited from
// enclosing blocks (when, tags, become, become_user, environment, vars,
// ignore_errors, delegate_to, run_once, any_errors_fatal) are already
// folded in by the parser: When holds the enclosing blocks' conditions
// first, Tags their union, and so on; the executor reads a task's fields as
// they are.
type Task struct {
	Pos
	Name string
	// Module is the canonical short module name ("command", "copy",
	// "include_tasks", "meta", ...); "" for a block or a parallel block.
	Module string
	// Args are the module's arguments, unrendered. A free-form argument
	// (`command: echo hi`) is under "_raw_params"; key=value pairs in a
	// free form are split out as Ansible does.
	Args *vars.Map

	// Block, Rescue and Always hold a block's tasks; Parallel holds a
	// parallel block's tasks (fleet's extension).
	Block, Rescue, Always []*Task
	Parallel              []*Task

	When         []string // bare Jinja expressions, all of which must hold
	Register     string
	Loop         any    // a list, or a template string that renders to one; nil when no loop
	LoopVar      string // loop_control.loop_var; "item" by default
	LoopLabel    string // loop_control.label, unrendered; "" for the item itself
	Notify       []string
	Listen       []string // handlers only
	Tags         []string
	IgnoreErrors bool
	// ChangedWhen and FailedWhen are nil when unset; a YAML boolean is
	// kept as the expression "True" or "False".
	ChangedWhen []string
	FailedWhen  []string
	Timeout     int // seconds; 0 means none
	Until       []string
	Retries     int // when Until is set: 3 unless given
	Delay       int // seconds between retries: 5 unless given
	RunOnce     bool
	DelegateTo  string // "" or "localhost" (or 127.0.0.1); others are rejected
	Become      *bool
	BecomeUser  string
	Environment []any // mappings or template strings, outermost first
	Vars        *vars.Map
	// Included holds the parsed tasks of an include_tasks whose file name
	// has no template in it, so that they are validated before anything
	// runs; it is nil when the name is templated or the file includes
	// itself (then the executor loads the file with LoadIncluded at run
	// time).
	Included       []*Task
	Handler        bool // the task is in handlers:
	AnyErrorsFatal bool

	// Action is the module as written ("command", "ansible.builtin.copy");
	// "" for a block or a parallel block.
	Action string
	// NoLog hides the task's results and arguments from the output.
	NoLog bool
	// WithItems says the loop was written as with_items: the executor
	// wraps a rendered non-list in a list and flattens the list one level,
	// as Ansible's items lookup does.
	WithItems bool
	// include is how LoadIncluded finds and folds the file of an
	// include_tasks at run time; nil for other tasks.
	include *includeSite
}

// IsBlock reports whether t is a block (block/rescue/always).
func (t *Task) IsBlock() bool { return t.Module == "" && t.Parallel == nil }

// IsParallel reports whether t is a parallel block.
func (t *Task) IsParallel() bool { return t.Module == "" && t.Parallel != nil }
