package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/inventory"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/hostkey"
	"fleetrun.dev/fleet/muxconn/target"
	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/vars"
)

// connFlags are the connection flags of every command that reaches hosts.
// They take precedence over inventory vars and ~/.ssh/config.
type connFlags struct {
	sshConfig      string
	user           string
	port           int
	keys           []string
	connectTimeout time.Duration
	maxSessions    int
	fresh          bool
	controlPath    string
	noSpawn        bool // a master serve process starts no other masters
	askPass        bool
	hostKeyCheck   string
	sshOptions     []string
	forks          int
}

func addConnFlags(cmd *cobra.Command, cf *connFlags) {
	f := cmd.Flags()
	f.StringVar(&cf.sshConfig, "ssh-config", "", "read this ssh_config file instead of ~/.ssh/config and /etc/ssh/ssh_config")
	f.StringVarP(&cf.user, "user", "u", "", "log in as this user (beats ansible_user and User)")
	f.IntVar(&cf.port, "port", 0, "connect to this port (beats ansible_port and Port)")
	f.StringArrayVar(&cf.keys, "private-key", nil, "identity file to try first (repeatable; beats ansible_ssh_private_key_file)")
	f.DurationVar(&cf.connectTimeout, "connect-timeout", 0, "bound TCP connect, handshake and auth (default ConnectTimeout, else 10s)")
	f.IntVar(&cf.maxSessions, "max-sessions", 0, "concurrent sessions per connection (default fleet_max_sessions, else 10 as sshd's MaxSessions)")
	f.BoolVar(&cf.fresh, "fresh", false, "ignore existing masters and connect anew with this run's options (ssh -S none)")
	f.StringVar(&cf.controlPath, "control-path", "", "the master socket to ride or publish, as ssh's ControlPath (tokens such as %C expand)")
	f.BoolVarP(&cf.askPass, "ask-pass", "k", false, "ask the SSH password once and use it for every host")
	f.StringVar(&cf.hostKeyCheck, "strict-host-key-checking", "", "yes, accept-new or no (default StrictHostKeyChecking, else yes)")
	f.StringArrayVar(&cf.sshOptions, "ssh-option", nil, "an ssh_config option as KEY=VALUE, like ssh -o (repeatable)")
	f.IntVarP(&cf.forks, "forks", "f", runner.DefaultForks, "hosts to work on at once")
}

// conns is what a command needs to reach hosts: settings, credentials and
// the connection pool. close releases all of it.
type conns struct {
	auth    *muxconn.Auth
	pool    *muxconn.Pool
	spawner *masterSpawner
}

func (c *conns) close() {
	if c.pool != nil {
		c.pool.Close()
	}
	if c.spawner != nil {
		c.spawner.wait()
	}
	if c.auth != nil {
		c.auth.Close()
	}
}

func (a *app) resolver(cf *connFlags) (*target.Resolver, error) {
	if cf.forks < 1 {
		return nil, usageError{fmt.Errorf("--forks must be at least 1, not %d", cf.forks)}
	}
	if cf.maxSessions < 0 {
		return nil, usageError{fmt.Errorf("--max-sessions must be at least 1, not %d", cf.maxSessions)}
	}
	if cf.port < 0 || cf.port > 65535 {
		return nil, usageError{fmt.Errorf("--port %d is not a TCP port", cf.port)}
	}
	switch cf.hostKeyCheck {
	case "", "yes", "accept-new", "no":
	default:
		return nil, usageError{fmt.Errorf("--strict-host-key-checking %q: want yes, accept-new or no", cf.hostKeyCheck)}
	}
	r, warnings, err := target.NewResolver(target.Options{
		ConfigFile: cf.sshConfig,
		Getenv: func(k string) string {
			v, _ := a.lookup(k)
			return v
		},
		Overrides: target.Overrides{
			User:                  cf.user,
			Port:                  cf.port,
			IdentityFiles:         cf.keys,
			ConnectTimeout:        cf.connectTimeout,
			MaxSessions:           cf.maxSessions,
			Fresh:                 cf.fresh,
			ControlPath:           cf.controlPath,
			StrictHostKeyChecking: cf.hostKeyCheck,
			Options:               cf.sshOptions,
		},
	})
	if err != nil {
		return nil, err
	}
	a.printWarnings(warnings)
	return r, nil
}

// targets resolves the selected hosts' connection settings. Any error
// (a bad ansible_port, say) stops the run before a host is contacted.
func (a *app) targets(r *target.Resolver, inv *inventory.Inventory, hosts []*inventory.Host) ([]runner.Host, error) {
	out := make([]runner.Host, 0, len(hosts))
	var errs []error
	for _, h := range hosts {
		t, err := r.Resolve(h.Name, inv.Vars(h))
		if err != nil {
			errs = append(errs, err)
			if len(errs) == 10 {
				break
			}
			continue
		}
		useFleetSocket(t)
		out = append(out, runner.Host{Name: h.Name, Target: t, Vars: vars.Combine(inv.Vars(h), inv.MagicVars(h))})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// connect loads the inventory, selects pattern's hosts, resolves them and
// builds the pool. Nothing is dialled yet.
func (a *app) connect(cf *connFlags, pattern string) (*conns, []runner.Host, error) {
	inv, err := a.loadInventory()
	if err != nil {
		return nil, nil, err
	}
	selected, err := a.selectHosts(inv, pattern)
	if err != nil {
		return nil, nil, err
	}
	if a.only != nil {
		// A background master resolves only its own hosts: a bad
		// setting on another host is not its business.
		keep := map[string]bool{}
		for _, n := range a.only {
			keep[n] = true
		}
		selected = slices.DeleteFunc(selected, func(h *inventory.Host) bool { return !keep[h.Name] })
	}
	r, err := a.resolver(cf)
	if err != nil {
		return nil, nil, err
	}
	hosts, err := a.targets(r, inv, selected)
	if err != nil {
		return nil, nil, err
	}
	c := &conns{auth: &muxconn.Auth{Prompt: a.prompter(), AskPass: cf.askPass}}
	if cf.askPass {
		if err := c.auth.AskPassword(); err != nil {
			return nil, nil, err
		}
	}
	c.pool = a.newPool(cf, c)
	return c, hosts, nil
}

// newPool makes the connection pool of a run, and the spawner of the
// background masters it may start (ControlMaster auto + ControlPersist).
func (a *app) newPool(cf *connFlags, c *conns) *muxconn.Pool {
	opts := muxconn.PoolOptions{
		Auth:     c.auth,
		HostKeys: muxconn.KnownHosts{DB: hostkey.NewDB(), Warn: func(msg string) { a.warnf("%s", msg) }},
		Logf:     a.debugf,
	}
	if !cf.fresh && !cf.noSpawn {
		c.spawner = a.newMasterSpawner(a.ctx, cf, c.auth)
		opts.StartMaster = c.spawner.start
	}
	return muxconn.NewPool(opts)
}

// useFleetSocket gives t fleet's own ControlPath, ~/.fleet/cm/%C, when
// ssh_config names none: fleet's masters live there.
func useFleetSocket(t *target.Target) {
	if t.Origin["controlpath"] == "default" {
		t.ControlPath, t.Origin["controlpath"] = fleetSocket(t.ConnHash), "fleet default (~/.fleet/cm/%C)"
	}
}

func (a *app) warnf(format string, args ...any) {
	a.printWarnings([]diag.Warning{{Msg: fmt.Sprintf(format, args...)}})
}

// debugf prints -v diagnostics on stderr.
func (a *app) debugf(format string, args ...any) {
	if a.verbose > 0 {
		a.diag(fmt.Sprintf("fleet: "+format+"\n", args...))
	}
}

// prompter asks on the controlling terminal, as ssh does, so that piped
// stdin (sent to the hosts) does not get in the way. It is nil when there is
// no terminal.
func (a *app) prompter() muxconn.Prompter {
	if a.prompt != nil {
		return a.prompt
	}
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return nil
	}
	tty.Close()
	return ttyPrompter{}
}

type ttyPrompter struct{}

func (ttyPrompter) Secret(prompt string) (string, error) {
	tty, err := os.OpenFile("/dev/tty", os.O_RDWR, 0)
	if err != nil {
		return "", fmt.Errorf("no terminal to ask on: %w", err)
	}
	defer tty.Close()
	fmt.Fprint(tty, prompt)
	b, err := term.ReadPassword(int(tty.Fd()))
	fmt.Fprintln(tty)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// exitCode is returned by commands whose exit code reports hosts' results;
// Main exits with it and prints nothing more.
type exitCode int

func (e exitCode) Error() string { return fmt.Sprintf("exit code %d", int(e)) }

// interruptible is ctx for a command that reaches hosts.
func interruptible(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}
