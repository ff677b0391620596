package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/inventory"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/playbook"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/vars"
)

type playOptions struct {
	app       *app
	conn      connFlags
	Playbooks []string

	ExtraVars     []string
	Tags          []string
	SkipTags      []string
	Check         bool
	Diff          bool
	ListHosts     bool
	ListTasks     bool
	ListTags      bool
	SyntaxCheck   bool
	StartAtTask   string
	Become        bool
	BecomeUser    string
	AskBecomePass bool
	Output        string
	// SessionPerCommand turns off the one long-lived shell per host.
	SessionPerCommand bool
}

func newPlayCmd(a *app, runF func(*playOptions) error) *cobra.Command {
	opts := &playOptions{app: a}
	cmd := &cobra.Command{
		Use:   "play PLAYBOOK...",
		Short: "Run Ansible-style playbooks over one connection per host",
		Long: `Run playbooks written in Ansible's playbook language (fleet's supported
subset) against the inventory's hosts. Each host's connection is opened
once and kept for the whole run; the tasks' commands run with /bin/sh, as
Ansible runs its modules, in one long-lived shell session on it, each in a
subshell of its own (--session-per-command: a session each).

Every playbook is read and checked before any host is contacted: a YAML
error, an unknown keyword or module, a bad serial or loop stops the run
with the file and line, and nothing runs.

fleet's extension: a parallel: block runs its tasks at once on each host,
as concurrent sessions on the host's connection.

Exit codes: 0 all ok; 2 a task failed on some host; 4 some host was
unreachable; 6 both; 130 interrupted; 1 bad input (nothing ran).`,
		Example: `  fleet play -i hosts.yml site.yml
  fleet play -i hosts.yml deploy.yml -l web1 -e version=1.4.2 --check --diff
  fleet play -i hosts.yml site.yml -t config --skip-tags slow
  fleet play -i hosts.yml site.yml --list-tasks
  fleet play -i hosts.yml site.yml --output json > run.jsonl`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return usageError{fmt.Errorf("give a playbook, e.g. `fleet play -i hosts.yml site.yml`")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Playbooks = args
			if runF != nil {
				return runF(opts)
			}
			return playRun(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&opts.ExtraVars, "extra-vars", "e", nil, "set variables: k=v pairs, JSON/YAML, or @FILE (repeatable; they beat every other variable)")
	f.StringSliceVarP(&opts.Tags, "tags", "t", nil, "run only tasks with these tags (comma-separated; repeatable)")
	f.StringSliceVar(&opts.SkipTags, "skip-tags", nil, "skip tasks with these tags")
	f.BoolVarP(&opts.Check, "check", "C", false, "change nothing; report what would change")
	f.BoolVarP(&opts.Diff, "diff", "D", false, "show the changes made to files (with --check: that would be made)")
	f.BoolVar(&opts.ListHosts, "list-hosts", false, "list each play's hosts and exit")
	f.BoolVar(&opts.ListTasks, "list-tasks", false, "list each play's tasks and exit")
	f.BoolVar(&opts.ListTags, "list-tags", false, "list each play's tags and exit")
	f.BoolVar(&opts.SyntaxCheck, "syntax-check", false, "check the playbooks and exit; no host is contacted")
	f.StringVar(&opts.StartAtTask, "start-at-task", "", "start at the first task with this name (a glob)")
	f.BoolVarP(&opts.Become, "become", "b", false, "run tasks as root (or --become-user) through sudo")
	f.StringVar(&opts.BecomeUser, "become-user", "", "the user --become runs as (default root)")
	f.BoolVarP(&opts.AskBecomePass, "ask-become-pass", "K", false, "ask sudo's password once, for every host (become itself comes from -b or the playbook)")
	f.BoolVar(&opts.SessionPerCommand, "session-per-command", false, "run every remote command in a session of its own, not in one long-lived shell per host")
	f.StringVar(&opts.Output, "output", "text", "text (Ansible-style) or json (JSON lines, one object per event)")
	addConnFlags(cmd, &opts.conn)
	return cmd
}

func playRun(cmd *cobra.Command, opts *playOptions) error {
	a := opts.app
	if opts.Output != "text" && opts.Output != "json" {
		return usageError{fmt.Errorf("--output %q: want text or json", opts.Output)}
	}
	// Every playbook and every -e is read before anything else: bad input
	// stops the run with nothing done.
	var books []*playbook.Playbook
	for _, p := range opts.Playbooks {
		pb, err := playbook.Load(p)
		if err != nil {
			return usageError{err}
		}
		books = append(books, pb)
	}
	extra := vars.NewMap()
	for _, e := range opts.ExtraVars {
		m, err := playbook.ParseExtraVars(e, ".")
		if err != nil {
			if strings.Contains(err.Error(), "-e") {
				return usageError{err}
			}
			return usageError{fmt.Errorf("-e %q: %w", e, err)}
		}
		for _, k := range m.Keys() {
			v, _ := m.Get(k)
			extra.Set(k, v)
		}
	}
	if opts.StartAtTask != "" && !anyTaskNamed(books, opts.StartAtTask) {
		return usageError{&diag.Error{Msg: fmt.Sprintf("--start-at-task %q: no task has that name", opts.StartAtTask),
			Hint: "list the tasks with --list-tasks; the name may be a glob such as 'deploy*'"}}
	}
	if opts.SyntaxCheck {
		for _, pb := range books {
			fmt.Fprintf(a.io.Out, "\nplaybook: %s\n", pb.Path)
		}
		return nil
	}
	inv, err := a.loadInventory()
	if err != nil {
		return err
	}
	// Each play's hosts, resolved now, so that a bad pattern or host
	// setting stops the run before any host is contacted.
	r, err := a.resolver(&opts.conn)
	if err != nil {
		return err
	}
	resolved := map[string]runner.Host{}
	selectHosts := func(pattern string) ([]runner.Host, error) {
		sel, err := inv.Select(inventory.Query{Patterns: []string{pattern}, Limit: a.limit})
		if err != nil {
			return nil, err
		}
		var todo []*inventory.Host
		for _, h := range sel.Hosts {
			if _, ok := resolved[h.Name]; !ok {
				todo = append(todo, h)
			}
		}
		hs, err := a.targets(r, inv, todo)
		if err != nil {
			return nil, err
		}
		for _, h := range hs {
			resolved[h.Name] = h
		}
		out := make([]runner.Host, 0, len(sel.Hosts))
		for _, h := range sel.Hosts {
			out = append(out, resolved[h.Name])
		}
		return out, nil
	}
	plays := map[*playbook.Play][]runner.Host{}
	for _, pb := range books {
		for _, p := range pb.Plays {
			if strings.Contains(p.Hosts, "{{") {
				continue // templated: selected when the play starts
			}
			hs, err := selectHosts(p.Hosts)
			if err != nil {
				return usageError{fmt.Errorf("%s: play %q: %w", p.Pos, p.Name, err)}
			}
			plays[p] = hs
		}
	}
	if a.limit != "" && len(resolved) == 0 {
		return &diag.Error{Msg: fmt.Sprintf("no hosts matched --limit %q in any play", a.limit),
			Hint: "run `fleet inventory --graph` to see the groups and hosts"}
	}
	if opts.ListHosts || opts.ListTasks || opts.ListTags {
		listPlays(a.io.Out, books, plays, opts)
		return nil
	}

	c, err := a.pool(&opts.conn)
	if err != nil {
		return err
	}
	defer c.close()
	ropts := runner.PlayOptions{
		Select:      selectHosts,
		HostVars:    map[string]*vars.Map{},
		ExtraVars:   extra,
		Tags:        opts.Tags,
		SkipTags:    opts.SkipTags,
		Check:       opts.Check,
		Diff:        opts.Diff,
		StartAtTask: opts.StartAtTask,
		Forks:       opts.conn.forks,

		SessionPerCommand: opts.SessionPerCommand,
	}
	for _, h := range inv.Hosts() {
		ropts.HostVars[h.Name] = vars.Combine(inv.Vars(h), inv.MagicVars(h))
	}
	if opts.Become {
		// -K alone only supplies the password, as in ansible-playbook.
		on := true
		ropts.Become = &on
	}
	ropts.BecomeUser = opts.BecomeUser
	if opts.AskBecomePass {
		if ropts.BecomePassword, err = a.askBecomePass(); err != nil {
			return err
		}
	}
	var sink report.PlaySink
	if opts.Output == "json" {
		sink = report.NewPlayJSON(a.io.Out)
	} else {
		text := report.NewPlayText(a.io.Out, report.PlayTextOptions{
			Verbosity: a.verbose, Color: a.io.ColorEnabled(), Diff: opts.Diff, Warnings: a.io.ErrOut,
		})
		sink = text
		if a.io.IsStdoutTTY() {
			sink = report.NewPlayProgress(a.io.Out, text, report.PlayProgressOptions{})
		}
	}
	ropts.Sink = sink
	outcome := runner.Play(interruptible(cmd), c.pool, books, ropts)
	if outcome.Interrupted {
		sink.Close()
		fmt.Fprintln(a.io.ErrOut, "fleet: interrupted")
		return exitCode(outcome.ExitCode())
	}
	if err := sink.Close(); err != nil {
		return err
	}
	return exitCode(outcome.ExitCode())
}

// listPlays prints --list-hosts, --list-tasks and --list-tags as
// ansible-playbook does.
func listPlays(w io.Writer, books []*playbook.Playbook, plays map[*playbook.Play][]runner.Host, opts *playOptions) {
	for _, pb := range books {
		fmt.Fprintf(w, "\nplaybook: %s\n", pb.Path)
		for i, p := range pb.Plays {
			name := p.Name
			if name == "" {
				name = p.Hosts
			}
			fmt.Fprintf(w, "\n  play #%d (%s): %s\tTAGS: [%s]\n", i+1, p.Hosts, name, strings.Join(p.Tags, ","))
			if opts.ListHosts {
				hs := plays[p]
				fmt.Fprintf(w, "    pattern: ['%s']\n    hosts (%d):\n", p.Hosts, len(hs))
				for _, h := range hs {
					fmt.Fprintf(w, "      %s\n", h.Name)
				}
			}
			if opts.ListTasks || opts.ListTags {
				tags := map[string]bool{}
				if opts.ListTasks {
					fmt.Fprintf(w, "    tasks:\n")
				}
				for _, section := range [][]*playbook.Task{p.PreTasks, p.Tasks, p.PostTasks} {
					walkTasks(section, func(t *playbook.Task) {
						if !selectedForList(p, t, opts) {
							return
						}
						for _, g := range t.Tags {
							tags[g] = true
						}
						if opts.ListTasks {
							cur := slices.Concat(p.Tags, t.Tags)
							slices.Sort(cur)
							fmt.Fprintf(w, "      %s\tTAGS: [%s]\n", t.DisplayName(), strings.Join(slices.Compact(cur), ", "))
						}
					})
				}
				if opts.ListTags {
					for _, g := range p.Tags {
						tags[g] = true
					}
					names := make([]string, 0, len(tags))
					for g := range tags {
						names = append(names, g)
					}
					sort.Strings(names)
					fmt.Fprintf(w, "      TASK TAGS: [%s]\n", strings.Join(names, ", "))
				}
			}
		}
	}
}

// walkTasks calls f for every task that runs a module, in order, looking
// into blocks and parallel blocks.
func walkTasks(tasks []*playbook.Task, f func(*playbook.Task)) {
	for _, t := range tasks {
		switch {
		case t.IsParallel():
			walkTasks(t.Parallel, f)
		case t.IsBlock():
			// As ansible-playbook lists: not a block's rescue and always,
			// nor what an include_tasks includes at run time.
			walkTasks(t.Block, f)
		default:
			f(t)
		}
	}
}

func selectedForList(p *playbook.Play, t *playbook.Task, opts *playOptions) bool {
	tags := map[string]bool{}
	for _, g := range slices.Concat(t.Tags, p.Tags) {
		tags[g] = true
	}
	return runner.TagsAllow(tags, opts.Tags, opts.SkipTags)
}

// pool builds the connection pool of a run whose hosts are selected
// later (a playbook's plays select their own).
func (a *app) pool(cf *connFlags) (*conns, error) {
	c := &conns{auth: &muxconn.Auth{Prompt: a.prompter(), AskPass: cf.askPass}}
	if cf.askPass {
		if err := c.auth.AskPassword(); err != nil {
			return nil, err
		}
	}
	c.pool = a.newPool(cf, c)
	return c, nil
}

// anyTaskNamed reports whether a task of books is named name, or matches
// it as a glob, as --start-at-task compares.
func anyTaskNamed(books []*playbook.Playbook, name string) bool {
	for _, pb := range books {
		for _, p := range pb.Plays {
			if p.HasTask(name) {
				return true
			}
		}
	}
	return false
}
