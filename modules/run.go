package modules

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"

	"fleetrun.dev/fleet/transfer"
)

// runFunc is one module's implementation.
type runFunc func(ctx context.Context, c *Call) (Result, error)

// table maps canonical module names to their implementations; each
// module's file registers itself in an init function.
var table = map[string]runFunc{}

func register(name string, f runFunc) {
	if _, dup := table[name]; dup {
		panic("modules: " + name + " registered twice")
	}
	table[name] = f
}

// Supported returns the names of the modules this package runs, sorted.
func Supported() []string {
	names := make([]string, 0, len(table))
	for n := range table {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Has reports whether name is a module this package runs.
func Has(name string) bool { _, ok := table[name]; return ok }

// Run runs c.Module on c.Conn's host. A non-nil error means the host
// could not be worked on (its connection failed, ctx ended); a module
// that ran and failed returns Result.Failed with Msg instead.
func Run(ctx context.Context, c *Call) (Result, error) {
	f, ok := table[c.Module]
	if !ok {
		return Result{}, fmt.Errorf("modules: no module %q (supported: %s)", c.Module, strings.Join(Supported(), ", "))
	}
	return f(ctx, c)
}

// exec runs a POSIX sh script on the host with /bin/sh (Conn.Run), as the
// call's become user (sudo when c.Become is set, which runs it with sh
// too), with the call's environment, feeding it stdin. The
// environment is set inside the become wrapper, as Ansible does, because
// sudo would reset it and sshd refuses most variables sent by name.
func exec(ctx context.Context, c *Call, script string, stdin []byte) (Output, error) {
	in := stdin
	if c.Become != nil {
		if pw := c.Become.Stdin(); pw != nil {
			in = append(slices.Clip(pw), stdin...)
		}
	}
	return c.Conn.Run(ctx, c.Become.Wrap(EnvPrefix(c.Env)+script), in, nil)
}

// EnvPrefix returns shell statements exporting env, sorted by name, to put
// before a script; "" when env is empty. Names must be valid shell
// identifiers (the executor checks them).
func EnvPrefix(env map[string]string) string {
	if len(env) == 0 {
		return ""
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s; export %s; ", k, transfer.Quote(env[k]), k)
	}
	return b.String()
}

// sudoFailed returns the advice for a command that sudo refused to run,
// or "" when out does not show sudo refusing.
func sudoFailed(c *Call, out Output) string {
	if c.Become == nil || out.RC == 0 {
		return ""
	}
	if err := transfer.SudoError(string(out.Stderr)); err != nil {
		return err.Error()
	}
	return ""
}
