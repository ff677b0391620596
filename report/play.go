package report

import "time"

// TaskStatus is how a task ended on one host, as Ansible names it.
type TaskStatus int

// The task statuses. Changed implies ok in the recap counts.
const (
	TaskOK TaskStatus = iota
	TaskChanged
	TaskSkipped
	TaskFailed
	TaskUnreachable
)

// PlayStart begins a play.
type PlayStart struct {
	Name  string
	Pos   string // file:line
	Hosts []string
	Check bool // --check
}

// TaskStart begins a task (or a handler) on the hosts still in the play.
type TaskStart struct {
	Name    string // the task's name, or its module and args when unnamed, as Ansible shows it
	Module  string
	Pos     string // file:line
	Handler bool
	// Parallel names the parallel block the task belongs to, "" if none.
	Parallel string
	// Hosts is the number of hosts the task runs on, each of which will
	// send one result that is not a loop item's; the TTY progress line
	// counts them ("3/500 hosts done"). 0 if unknown.
	Hosts int
}

// Diff is what a file task changed or would change, for --diff.
type Diff struct {
	BeforeHeader, AfterHeader string // usually the path
	Before, After             string
}

// TaskResult is a task's result on one host, or one loop item's.
type TaskResult struct {
	Host   string
	Task   string // the TaskStart.Name it belongs to
	Status TaskStatus
	// Item is the loop item's label; HasItem says the result is one item's.
	Item    string
	HasItem bool
	// Loop marks the combined result of a task with a loop, after its
	// items' results; text output shows it only when every item was
	// skipped (as Ansible does), JSON always.
	Loop      bool
	Ignored   bool   // failed, but ignore_errors
	Delegated string // delegate_to, "" if none
	Msg       string
	// Result is the registered result (rc, stdout, msg, ...), for debug
	// output, -v and JSON. It may be nil.
	Result     map[string]any
	Diffs      []Diff
	Start, End time.Time
}

// RecapRow is one host's line in the PLAY RECAP, counted as Ansible counts.
type RecapRow struct {
	Host                                                        string
	OK, Changed, Unreachable, Failed, Skipped, Rescued, Ignored int
}

// PlaySink receives the events of a playbook run. Implementations must be
// safe for concurrent use. Close is called once, after Recap.
type PlaySink interface {
	Play(PlayStart)
	Task(TaskStart)
	Result(TaskResult)
	// Warn reports something the user should know that is not a task
	// result (a deprecated keyword, no hosts matched).
	Warn(msg string)
	Recap(rows []RecapRow)
	Close() error
}

// RetrySink is a PlaySink that shows the retries of a task with until:
// Ansible's "FAILED - RETRYING" lines. The runner calls Retry when its
// sink has it.
type RetrySink interface {
	// Retry says that task failed its until condition on host and will
	// be tried again; left is how many tries remain.
	Retry(host, task string, left int)
}
