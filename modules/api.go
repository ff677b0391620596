package modules

import (
	"context"
	"net"

	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/transfer"
	"github.com/pkg/sftp"
)

// Output is what a remote command printed and how it ended.
type Output struct {
	Stdout, Stderr []byte
	RC             int    // exit status; -1 when killed by a signal or timed out
	Signal         string // "" unless a signal ended it
}

// Conn is one host's side of a task: commands and files over the host's
// one connection (or the local machine, for delegate_to: localhost).
type Conn interface {
	// Run runs cmd with /bin/sh (`/bin/sh -c CMD`) whatever the login
	// shell is, as Ansible runs its modules, feeding it stdin, with env
	// added to its environment. A non-zero exit is not an error: err is
	// non-nil only when the command could not run or its outcome is
	// unknown (the connection was lost, ctx ended); then the host is
	// unreachable if Lost says so.
	Run(ctx context.Context, cmd string, stdin []byte, env map[string]string) (Output, error)
	// SFTP returns the host's SFTP client, opened on first use; the
	// executor closes it after the task.
	SFTP(ctx context.Context) (*sftp.Client, error)
	// Remote returns the host for package transfer's Push and Pull.
	Remote(ctx context.Context) (*transfer.Remote, error)
	// Dial connects to addr ("host:port") from the host, as a TCP
	// connection forwarded over its SSH connection (wait_for).
	Dial(ctx context.Context, addr string) (net.Conn, error)
}

// Call is one module invocation on one host.
type Call struct {
	Host   string // inventory name, for messages
	Module string // canonical short name
	// Args are the rendered arguments: strings, int64, float64, bool, nil,
	// []any and map[string]any. A free-form argument is "_raw_params".
	Args map[string]any
	Conn Conn
	// Become runs the module's commands and writes through sudo; nil means
	// as the login user.
	Become *transfer.Become
	Env    map[string]string // the task's environment:
	Check  bool              // --check: change nothing, say what would change
	Diff   bool              // --diff: fill Result.Diffs for file changes
	// SearchDirs are where a relative src (copy, script, template) is
	// looked for, in order; the executor passes the playbook's
	// directory's files/ or templates/ and the directory itself.
	SearchDirs []string
	// Template renders a template file's text with the host's variables
	// (the template module); it returns the Jinja error as is.
	Template func(text string) (string, error)
	// LocalDir is a scratch directory on the controller that the module
	// may write into (rendered templates, content:), removed after the run.
	LocalDir string
}

// Result is what a module did on one host. Fields are what `register`
// stores besides changed/failed/msg (rc, stdout, stderr, stdout_lines,
// stderr_lines, stat, dest, path, mode, ...), with Ansible's names.
type Result struct {
	Changed bool
	Failed  bool
	Skipped bool
	Msg     string
	Fields  map[string]any
	Diffs   []report.Diff
}
