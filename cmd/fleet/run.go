package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
)

type runOptions struct {
	app      *app
	conn     connFlags
	Pattern  string
	Commands []string
	Parallel bool
	Timeout  time.Duration
	Stdin    string // file to send as stdin; "" = piped stdin if any
	Group    bool
	Output   string
	// SessionPerCommand turns off the one long-lived shell per host.
	SessionPerCommand bool
}

func newRunCmd(a *app, runF func(*runOptions) error) *cobra.Command {
	opts := &runOptions{app: a}
	cmd := &cobra.Command{
		Use:   "run PATTERN [-c CMD]... [-- CMD]",
		Short: "Run commands on every selected host over one connection each",
		Long: `Run commands on every selected host. Each host gets one SSH connection;
every command is a session multiplexed over it. Commands run through the
remote user's login shell, as ` + "`ssh host CMD`" + ` does.

Several -c commands run in order, and a host stops at its first failure;
with --parallel they run at once as concurrent sessions on each host's
connection (at most --max-sessions at a time). Piped stdin, or --stdin
FILE, is sent to every command on every host.

Commands in order run one after another in one session per host: a
long-lived login shell runs each in a subshell of its own, so nothing one
command changes (directory, variables, umask) reaches the next, and its
input is /dev/null. That spares the host starting a session and a login
shell per command. --session-per-command gives every command a session of
its own instead, as ` + "`ssh host CMD`" + ` per command.

Exit codes: 0 all ok; 2 a command failed on some host; 4 some host was
unreachable; 6 both; 130 interrupted; 1 bad input (nothing ran).`,
		Example: `  fleet run -i hosts.yml web -- uptime
  fleet run -i hosts.yml 'web:&prod' -c 'systemctl restart app' -c 'curl -fsS localhost/health'
  fleet run -i hosts.yml all --parallel -c df -c free -c uptime --group
  fleet run -i hosts.yml db --stdin schema.sql -- 'psql -q'
  fleet run -i hosts.yml all --output json -- uname -r`,
		Args: func(cmd *cobra.Command, args []string) error {
			dash := cmd.ArgsLenAtDash()
			switch {
			case len(args) == 0:
				return usageError{fmt.Errorf("give a host pattern and a command, e.g. `fleet run all -- uptime`")}
			case dash == 0:
				return usageError{fmt.Errorf("give the host pattern before --, e.g. `fleet run all -- uptime`")}
			case dash < 0 && len(args) > 1:
				return usageError{fmt.Errorf("put the command after --, or use -c: `fleet run %s -- %s`", args[0], strings.Join(args[1:], " "))}
			case dash > 1:
				return usageError{fmt.Errorf("give one host pattern before --, not %d words (quote a pattern with spaces)", dash)}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pattern = args[0]
			if dash := cmd.ArgsLenAtDash(); dash == 1 && len(args) > 1 {
				opts.Commands = append(opts.Commands, strings.Join(args[1:], " "))
			}
			if runF != nil {
				return runF(opts)
			}
			return runRun(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.Commands, "command", "c", nil, "a command to run (repeatable; in order unless --parallel)")
	f.BoolVar(&opts.Parallel, "parallel", false, "run a host's commands at once, as concurrent sessions on its connection")
	f.DurationVar(&opts.Timeout, "timeout", 0, "stop each command after this long (e.g. 30s); the host fails with \"timed out\"")
	f.StringVar(&opts.Stdin, "stdin", "", "send this file's content as every command's stdin")
	f.BoolVar(&opts.Group, "group", false, "print each distinct output once at the end, under its folded host list (like clush -b)")
	f.BoolVar(&opts.SessionPerCommand, "session-per-command", false, "run every command in a session of its own, not in one long-lived shell per host")
	f.StringVar(&opts.Output, "output", "text", "text or json (JSON lines: one object per line of output and per result)")
	addConnFlags(cmd, &opts.conn)
	return cmd
}

func runRun(cmd *cobra.Command, opts *runOptions) error {
	a := opts.app
	if len(opts.Commands) == 0 {
		return usageError{fmt.Errorf("no command given: add -- CMD or -c CMD")}
	}
	for _, c := range opts.Commands {
		if strings.TrimSpace(c) == "" {
			return usageError{fmt.Errorf("an empty command was given")}
		}
	}
	if opts.Output != "text" && opts.Output != "json" {
		return usageError{fmt.Errorf("--output %q: want text or json", opts.Output)}
	}
	if opts.Timeout < 0 {
		return usageError{fmt.Errorf("--timeout must not be negative")}
	}
	stdin, err := opts.stdin()
	if err != nil {
		return err
	}
	c, hosts, err := a.connect(&opts.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()

	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	color := a.io.ColorEnabled()
	var out report.Sink
	switch {
	case opts.Output == "json":
		out = report.NewJSON(a.io.Out)
	case opts.Group:
		out = report.NewGrouped(a.io.Out, report.GroupedOptions{Color: color, ShowStep: len(opts.Commands) > 1})
	default:
		out = report.NewLive(a.io.Out, names, report.LiveOptions{Color: color, ShowStep: len(opts.Commands) > 1})
	}
	sink := out
	hints := &hintSink{}
	if opts.Output == "text" {
		summary := report.NewSummary(a.io.ErrOut, report.SummaryOptions{Color: a.io.IsStderrTTY() && color})
		sink = report.Multi(out, summary, hints)
	}

	outcome := runner.Run(interruptible(cmd), c.pool, hosts, runner.Options{
		Commands: opts.Commands,
		Parallel: opts.Parallel,
		Forks:    opts.conn.forks,
		Timeout:  opts.Timeout,
		Stdin:    stdin,
		Sink:     sink,

		SessionPerCommand: opts.SessionPerCommand,
	})
	if outcome.Interrupted {
		// What was collected so far is still shown; a summary of a
		// partial run would mislead, so there is none.
		out.Close()
		fmt.Fprintln(a.io.ErrOut, "fleet: interrupted")
		return exitCode(outcome.ExitCode())
	}
	if err := sink.Close(); err != nil {
		return err
	}
	hints.set.print(a)
	return exitCode(outcome.ExitCode())
}

// stdin reads what to send to every command: --stdin FILE, else piped
// stdin, else nothing.
func (opts *runOptions) stdin() ([]byte, error) {
	a := opts.app
	if opts.Stdin != "" {
		data, err := os.ReadFile(opts.Stdin)
		if err != nil {
			return nil, usageError{fmt.Errorf("--stdin: %w", err)}
		}
		return data, nil
	}
	if a.io.IsStdinTTY() || a.io.In == nil {
		return nil, nil
	}
	if f, ok := a.io.In.(*os.File); ok {
		// A pipe, socket or file is input meant for the hosts; a terminal,
		// /dev/null or a closed stdin (as under CI runners) sends nothing.
		st, err := f.Stat()
		if err != nil {
			return nil, nil
		}
		if m := st.Mode(); m&(os.ModeNamedPipe|os.ModeSocket) == 0 && !m.IsRegular() {
			return nil, nil
		}
	}
	data, err := io.ReadAll(a.io.In)
	if err != nil {
		return nil, fmt.Errorf("reading stdin: %w", err)
	}
	if len(data) == 0 {
		return nil, nil
	}
	return data, nil
}

// hintSink collects the hints of unreachable hosts for the end of a run.
// Close puts them in its set in natural order of the hosts, one for the
// hosts whose hints differ only in their own name and address (said with
// placeholders, as the summary says their causes), so that 500 hosts that
// refuse connections get one hint, not 500.
type hintSink struct {
	mu    sync.Mutex
	hosts []report.HostResult
	set   hintSet
}

func (h *hintSink) Line(report.Line)       {}
func (h *hintSink) Step(report.StepResult) {}
func (h *hintSink) Host(r report.HostResult) {
	if r.Status != report.Unreachable || r.Err == nil {
		return
	}
	h.mu.Lock()
	h.hosts = append(h.hosts, r)
	h.mu.Unlock()
}

func (h *hintSink) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	slices.SortFunc(h.hosts, func(a, b report.HostResult) int { return report.NaturalCompare(a.Host, b.Host) })
	type hint struct {
		err     error  // the first host's
		neutral string // its hint, host-neutral
		n       int
	}
	var hints []*hint
	byText := map[string]*hint{}
	for _, r := range h.hosts {
		text := diag.Hint(r.Err)
		if text == "" {
			continue
		}
		neutral := report.HostNeutral(text, r.Host, r.Err)
		if x := byText[neutral]; x != nil {
			x.n++
			continue
		}
		x := &hint{err: r.Err, neutral: neutral, n: 1}
		byText[neutral] = x
		hints = append(hints, x)
	}
	for _, x := range hints {
		if x.n == 1 {
			h.set.add(x.err)
		} else {
			h.set.add(&diag.Error{Msg: x.neutral, Hint: x.neutral})
		}
	}
	h.hosts = nil
	return nil
}
