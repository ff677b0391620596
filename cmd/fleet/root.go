package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime/debug"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/internal/iostreams"
	"fleetrun.dev/fleet/inventory"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/runner"
)

// Exit codes, stable for CI (see README): bits 2 and 4 are set by runs that
// reach hosts.
const (
	exitOK    = 0
	exitInput = 1 // usage, configuration or input error before any host ran
)

// version is set at build time with -ldflags "-X main.version=v1.2.3".
var version = ""

// app holds what every command shares: streams, environment and the global
// flags.
type app struct {
	io     *iostreams.IOStreams
	lookup func(string) (string, bool)

	inventories []string
	limit       string
	verbose     int

	// prompt, when set, replaces the terminal prompter (tests).
	prompt muxconn.Prompter
	// ctx is the run's: cancelled on SIGINT.
	ctx context.Context
	// only, when set, narrows every selection to these hosts (a
	// background master's).
	only []string

	// diagMu serialises fleet's own diagnostics and warnings, which come
	// from many hosts' goroutines; diagOut, when set, replaces stderr for
	// them (a progress bar's writer, which keeps them off the bar).
	diagMu  sync.Mutex
	diagOut io.Writer
}

// diag writes one line of fleet's own to stderr, whole.
func (a *app) diag(line string) {
	a.diagMu.Lock()
	defer a.diagMu.Unlock()
	w := a.diagOut
	if w == nil {
		w = a.io.ErrOut
	}
	io.WriteString(w, line)
}

// setDiagOut routes diagnostics through w from now on; nil means stderr.
func (a *app) setDiagOut(w io.Writer) {
	a.diagMu.Lock()
	a.diagOut = w
	a.diagMu.Unlock()
}

// usageError marks errors in how fleet was invoked.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// Main runs fleet with args and returns the exit code. Cancelling ctx (on
// SIGINT) stops runs on every host; they then exit 130.
func Main(ctx context.Context, args []string, ios *iostreams.IOStreams, lookup func(string) (string, bool)) int {
	return mainWith(ctx, args, ios, lookup, nil)
}

// mainWith is Main with the terminal prompter replaced by prompt, if not
// nil: tests answer password prompts with it.
func mainWith(ctx context.Context, args []string, ios *iostreams.IOStreams, lookup func(string) (string, bool), prompt muxconn.Prompter) int {
	a := &app{io: ios, lookup: lookup, prompt: prompt, ctx: ctx}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(ios.In)
	root.SetOut(ios.Out)
	root.SetErr(ios.ErrOut)
	err := root.ExecuteContext(ctx)
	var code exitCode
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &code):
		return int(code)
	case ctx.Err() != nil && errors.Is(err, ctx.Err()):
		fmt.Fprintln(a.io.ErrOut, "fleet: interrupted")
		return runner.ExitInterrupted
	}
	a.printError(err)
	return exitInput
}

func (a *app) printError(err error) {
	fmt.Fprintf(a.io.ErrOut, "fleet: error: %v\n", err)
	if hint := diag.Hint(err); hint != "" {
		fmt.Fprintf(a.io.ErrOut, "fleet: hint: %s\n", hint)
	} else if errors.As(err, new(usageError)) {
		fmt.Fprintln(a.io.ErrOut, "fleet: hint: run `fleet --help` for usage")
	}
}

func (a *app) printWarnings(ws []diag.Warning) {
	for _, w := range ws {
		a.diag(fmt.Sprintf("fleet: warning: %s\n", w))
	}
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "fleet",
		Short: "Run commands, copies and playbooks on many hosts over shared SSH connections",
		Long: `fleet runs commands, file copies and playbooks on many hosts at once.
It reads Ansible inventories (YAML, JSON or INI) and selects hosts with
Ansible's host patterns.`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("fleet {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error { return checkOutputFlags(cmd) }
	pf := root.PersistentFlags()
	pf.StringArrayVarP(&a.inventories, "inventory", "i", nil,
		"inventory file, directory or comma-separated host list (repeatable; default $FLEET_INVENTORY)")
	pf.StringVarP(&a.limit, "limit", "l", "", "further limit the selected hosts with a pattern (@FILE reads one pattern per line)")
	pf.CountVarP(&a.verbose, "verbose", "v", "say more: connections made, keys skipped, each file (repeatable)")

	root.AddCommand(newHostsCmd(a, nil))
	root.AddCommand(newInventoryCmd(a, nil))
	root.AddCommand(newRunCmd(a, nil))
	root.AddCommand(newPingCmd(a, nil))
	root.AddCommand(newSSHConfigCmd(a, nil))
	root.AddCommand(newPushCmd(a, nil))
	root.AddCommand(newPullCmd(a, nil))
	root.AddCommand(newPlayCmd(a, nil))
	root.AddCommand(newMasterCmd(a))
	return root
}

// checkOutputFlags rejects output flags that contradict each other, on
// every command that has them (run, push, pull), before anything runs.
func checkOutputFlags(cmd *cobra.Command) error {
	f := cmd.Flags()
	group, output := f.Lookup("group"), f.Lookup("output")
	if group == nil || output == nil || group.Value.String() != "true" || output.Value.String() != "json" {
		return nil
	}
	return usageError{&diag.Error{
		Msg:  "--group prints text and can't be combined with --output json",
		Hint: "drop --group: each JSON object names its host, so a program can group them itself (e.g. jq's group_by)",
	}}
}

// versionString is the -X main.version value (make build sets it from git
// describe), else the module version go install records, else the VCS
// revision of a plain go build.
func versionString() string {
	if version != "" {
		return version
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel)"
	}
	if v := info.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" && len(s.Value) >= 12 {
			return "(devel) " + s.Value[:12]
		}
	}
	return "(devel)"
}

// inventorySources returns the -i sources, or those in $FLEET_INVENTORY
// (comma-separated, like $ANSIBLE_INVENTORY).
func (a *app) inventorySources() ([]string, error) {
	if len(a.inventories) > 0 {
		return a.inventories, nil
	}
	if env, ok := a.lookup("FLEET_INVENTORY"); ok && strings.TrimSpace(env) != "" {
		var out []string
		for _, p := range strings.Split(env, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, &diag.Error{Msg: "no inventory given",
		Hint: "pass -i FILE (an Ansible inventory: YAML or INI), or set FLEET_INVENTORY"}
}

// loadInventory loads the inventory and prints its warnings.
func (a *app) loadInventory() (*inventory.Inventory, error) {
	sources, err := a.inventorySources()
	if err != nil {
		return nil, err
	}
	inv, err := inventory.Load(sources...)
	if err != nil {
		return nil, err
	}
	a.printWarnings(inv.Warnings())
	return inv, nil
}
