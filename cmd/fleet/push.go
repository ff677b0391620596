package main

import (
	"fmt"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/transfer"
	"fleetrun.dev/fleet/vars"
)

// xferFlags are the flags push and pull share.
type xferFlags struct {
	conn      connFlags
	dryRun    bool
	output    string
	group     bool
	transfers int
}

func addXferFlags(cmd *cobra.Command, x *xferFlags) {
	f := cmd.Flags()
	f.BoolVarP(&x.dryRun, "dry-run", "n", false, "show what would change, and change nothing")
	f.StringVar(&x.output, "output", "text", "text or json (JSON lines: one object per changed path and per host)")
	f.BoolVar(&x.group, "group", false, "print each distinct result once at the end, under its folded host list (like clush -b)")
	f.IntVar(&x.transfers, "transfers", transfer.DefaultParallel, "files in flight at once on each host")
	addConnFlags(cmd, &x.conn)
}

func (x *xferFlags) validate() error {
	if x.output != "text" && x.output != "json" {
		return usageError{fmt.Errorf("--output %q: want text or json", x.output)}
	}
	if x.transfers < 1 {
		return usageError{fmt.Errorf("--transfers must be at least 1")}
	}
	return nil
}

type pushOptions struct {
	app     *app
	x       xferFlags
	Pattern string
	Sources []string
	Dest    string

	Delete        bool
	Chmod         string
	Chown         string // USER, USER:GROUP or :GROUP
	CopyLinks     bool
	Become        bool
	BecomeUser    string
	AskBecomePass bool
}

func newPushCmd(a *app, runF func(*pushOptions) error) *cobra.Command {
	opts := &pushOptions{app: a}
	cmd := &cobra.Command{
		Use:   "push PATTERN SRC... DEST",
		Short: "Copy files and trees to every selected host over its one connection",
		Long: `Copy local files and directory trees to every selected host, over one SFTP
session on each host's connection, many files at once.

As with rsync, a directory is copied as a directory of that name inside
DEST; with a trailing slash (dir/) its contents are copied instead. A
single file may be pushed to a file name; otherwise DEST is a directory,
created when missing. DEST may use the host's variables, e.g.
/srv/{{ inventory_hostname }}/conf.

Each file is written to a temporary name beside its destination and then
renamed into place, so a failed or interrupted push never leaves a
half-written file. Files whose size and SHA-256 already match are not sent.
Modes and mtimes are kept, and symlinks are copied as links (-L follows
them).

Exit codes: 0 all ok; 2 some path failed on some host; 4 some host was
unreachable; 6 both; 130 interrupted; 1 bad input (nothing was copied).`,
		Example: `  fleet push -i hosts.yml web ./site/ /var/www/site
  fleet push -i hosts.yml all app.conf /etc/app/ --become --chmod 0640 --chown root:app
  fleet push -i hosts.yml web ./release/ '/srv/{{ inventory_hostname }}/' --delete --dry-run
  fleet push -i hosts.yml db backup.sh /usr/local/bin/backup --chmod 0755 -v`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 3 {
				return usageError{fmt.Errorf("give a host pattern, at least one source and a destination, e.g. `fleet push web ./site/ /var/www/site`")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pattern, opts.Sources, opts.Dest = args[0], args[1:len(args)-1], args[len(args)-1]
			if runF != nil {
				return runF(opts)
			}
			return pushRun(cmd, opts)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&opts.Delete, "delete", false, "remove remote files in the copied trees that are absent locally")
	f.StringVar(&opts.Chmod, "chmod", "", "set modes instead of keeping the local ones: 0644, u+rwX,go-rX, or D0755,F0644 as rsync takes")
	f.StringVar(&opts.Chown, "chown", "", "owner of the written files, as rsync's --chown: USER, USER:GROUP or :GROUP (names or ids; another owner needs --become)")
	f.BoolVarP(&opts.CopyLinks, "copy-links", "L", false, "copy what symlinks point to instead of the links")
	f.BoolVarP(&opts.Become, "become", "b", false, "write as root (or --become-user) through sudo")
	f.StringVar(&opts.BecomeUser, "become-user", "root", "the user --become writes as")
	f.BoolVarP(&opts.AskBecomePass, "ask-become-pass", "K", false, "ask sudo's password once, for every host (implies --become)")
	addXferFlags(cmd, &opts.x)
	return cmd
}

func pushRun(cmd *cobra.Command, opts *pushOptions) error {
	a := opts.app
	if err := opts.x.validate(); err != nil {
		return err
	}
	if strings.TrimSpace(opts.Dest) == "" {
		return usageError{fmt.Errorf("the destination is empty")}
	}
	var chmod transfer.ModeSpec
	if cmd.Flags().Changed("chmod") {
		var err error
		if chmod, err = transfer.ParseChmod(opts.Chmod); err != nil {
			return usageError{err}
		}
	}
	owner, group, _ := strings.Cut(opts.Chown, ":")
	if cmd.Flags().Changed("chown") && (owner == "" && group == "" || strings.ContainsAny(opts.Chown, " \t\n") || strings.Count(opts.Chown, ":") > 1) {
		return usageError{fmt.Errorf("--chown %q: want USER, USER:GROUP or :GROUP", opts.Chown)}
	}
	// Read every source before any host is contacted: a missing or
	// unreadable file stops the push with nothing written anywhere.
	src, err := transfer.Scan(opts.Sources, opts.CopyLinks)
	if err != nil {
		return usageError{err}
	}
	c, hosts, err := a.connect(&opts.x.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()
	dests, err := templated(hosts, "DEST", opts.Dest)
	if err != nil {
		return err
	}
	becomes, err := opts.becomes(cmd, hosts)
	if err != nil {
		return err
	}
	xs := a.xferSinks(&opts.x, hosts)
	outcome := runner.Push(interruptible(cmd), c.pool, hosts, runner.PushOptions{
		Source:  src,
		Dests:   dests,
		Becomes: becomes,
		Push: transfer.PushOptions{
			DryRun:   opts.x.dryRun,
			Delete:   opts.Delete,
			Chmod:    chmod,
			Owner:    owner,
			Group:    group,
			Verbose:  a.verbose > 0,
			Parallel: opts.x.transfers,
		},
		Forks:    opts.x.conn.forks,
		Sink:     xs.sink,
		Progress: xs.progress(),
	})
	return xs.finish(outcome)
}

// templated renders a per-host path template for every host, before any
// host is contacted: one bad template stops the run.
func templated(hosts []runner.Host, what, tmpl string) (map[string]string, error) {
	out := make(map[string]string, len(hosts))
	for _, h := range hosts {
		lookup := func(name string) (any, bool) {
			if h.Vars == nil {
				return nil, false
			}
			return h.Vars.Get(name)
		}
		s, err := vars.Interpolate(tmpl, lookup)
		if err != nil {
			return nil, usageError{fmt.Errorf("%s for host %s: %w", what, h.Name, err)}
		}
		if strings.TrimSpace(s) == "" {
			return nil, usageError{fmt.Errorf("%s for host %s: %q renders empty", what, h.Name, tmpl)}
		}
		out[h.Name] = s
	}
	return out, nil
}

// becomes decides, host by host, whether to write through sudo and as
// whom, as Ansible does: --become, else the host's ansible_become; the user
// from --become-user, else ansible_become_user, else root; the password
// from -K, else ansible_become_password. Only sudo is supported, so another
// ansible_become_method stops the push before any host is contacted.
func (opts *pushOptions) becomes(cmd *cobra.Command, hosts []runner.Host) (map[string]*transfer.Become, error) {
	a := opts.app
	var password string
	asked := false
	out := map[string]*transfer.Become{}
	for _, h := range hosts {
		get := func(name string) (any, bool) {
			if h.Vars == nil {
				return nil, false
			}
			return h.Vars.Get(name)
		}
		on := opts.Become || opts.AskBecomePass
		if !on {
			if v, ok := get("ansible_become"); ok {
				if on, ok = truthy(v); !ok {
					return nil, usageError{fmt.Errorf("host %s: ansible_become is %v; want true or false", h.Name, v)}
				}
			}
		}
		if !on {
			continue
		}
		if v, ok := get("ansible_become_method"); ok && fmt.Sprint(v) != "sudo" {
			return nil, usageError{fmt.Errorf("host %s: ansible_become_method %v is not supported; fleet becomes with sudo", h.Name, v)}
		}
		b := &transfer.Become{User: opts.BecomeUser}
		if !cmd.Flags().Changed("become-user") {
			if v, ok := get("ansible_become_user"); ok {
				b.User = fmt.Sprint(v)
			}
		}
		switch {
		case opts.AskBecomePass:
			if !asked {
				var err error
				if password, err = a.askBecomePass(); err != nil {
					return nil, err
				}
				asked = true
			}
			b.Password = password
		default:
			for _, name := range []string{"ansible_become_password", "ansible_become_pass"} {
				if v, ok := get(name); ok {
					if _, vault := v.(vars.Vault); vault {
						return nil, usageError{fmt.Errorf("host %s: %s is vault-encrypted, which fleet can't read; use --ask-become-pass", h.Name, name)}
					}
					b.Password = fmt.Sprint(v)
					break
				}
			}
		}
		out[h.Name] = b
	}
	return out, nil
}

// truthy reads a boolean inventory value as Ansible's bool filter does.
func truthy(v any) (bool, bool) {
	switch v := v.(type) {
	case bool:
		return v, true
	case string, vars.Unsafe:
		switch strings.ToLower(fmt.Sprint(v)) {
		case "yes", "true", "on", "1", "y", "t":
			return true, true
		case "no", "false", "off", "0", "n", "f", "":
			return false, true
		}
	}
	if n, ok := number(v); ok {
		return n != 0, true
	}
	return false, false
}

func number(v any) (int64, bool) {
	switch v := v.(type) {
	case int:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

// askBecomePass asks sudo's password once for the whole run.
func (a *app) askBecomePass() (string, error) {
	p := a.prompter()
	if p == nil {
		return "", usageError{fmt.Errorf("--ask-become-pass needs a terminal to ask on; allow NOPASSWD sudo for CI jobs instead")}
	}
	pw, err := p.Secret("BECOME password: ")
	if err != nil {
		return "", fmt.Errorf("reading the become password: %w", err)
	}
	return pw, nil
}

// xferSinks are the outputs of a push or pull: live text or JSON lines,
// the summary, hints, and a progress bar on a terminal.
type xferSinks struct {
	a    *app
	out  report.Sink
	sink report.Sink
	hint *hintSink
	bar  *report.Progress
}

func (a *app) xferSinks(x *xferFlags, hosts []runner.Host) *xferSinks {
	xs := &xferSinks{a: a, hint: &hintSink{}}
	names := make([]string, len(hosts))
	for i, h := range hosts {
		names[i] = h.Name
	}
	if x.output == "json" {
		xs.out = report.NewJSON(a.io.Out)
		xs.sink = xs.out
		return xs
	}
	out := a.io.Out
	if a.io.IsStderrTTY() {
		xs.bar = report.NewProgress(a.io.ErrOut, len(hosts))
		out = xs.bar.Writer(out)
		a.setDiagOut(xs.bar.Writer(a.io.ErrOut))
	}
	color := a.io.ColorEnabled()
	files := a.verbose > 0 || x.dryRun
	if x.group {
		xs.out = report.NewGrouped(out, report.GroupedOptions{Color: color, Files: files})
	} else {
		xs.out = report.NewLive(out, names, report.LiveOptions{Color: color, Files: files})
	}
	summary := report.NewSummary(a.io.ErrOut, report.SummaryOptions{Color: a.io.IsStderrTTY() && color})
	xs.sink = report.Multi(xs.out, summary, xs.hint)
	return xs
}

func (xs *xferSinks) progress() runner.Progress {
	if xs.bar == nil {
		return nil
	}
	return xs.bar
}

func (xs *xferSinks) finish(outcome *runner.Outcome) error {
	if xs.bar != nil {
		xs.bar.Close()
		xs.a.setDiagOut(nil)
	}
	if outcome.Interrupted {
		xs.out.Close()
		fmt.Fprintln(xs.a.io.ErrOut, "fleet: interrupted")
		return exitCode(outcome.ExitCode())
	}
	if err := xs.sink.Close(); err != nil {
		return err
	}
	xs.hint.set.print(xs.a)
	return exitCode(outcome.ExitCode())
}

// hostDirs returns LOCALDIR/<host> for every host.
func hostDirs(hosts []runner.Host, dir string) (map[string]string, error) {
	out := make(map[string]string, len(hosts))
	for _, h := range hosts {
		if h.Name == "." || h.Name == ".." || strings.ContainsAny(h.Name, `/\`) || strings.ContainsRune(h.Name, 0) {
			return nil, usageError{fmt.Errorf("host %q can't name a local directory; pull it with a pattern that leaves it out", h.Name)}
		}
		out[h.Name] = filepath.Join(dir, h.Name)
	}
	return out, nil
}
