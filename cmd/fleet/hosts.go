package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/inventory"
)

type hostsOptions struct {
	app     *app
	Pattern string
}

func newHostsCmd(a *app, runF func(*hostsOptions) error) *cobra.Command {
	opts := &hostsOptions{app: a}
	return &cobra.Command{
		Use:   "hosts PATTERN",
		Short: "List the hosts a pattern selects",
		Long: `List the hosts a pattern selects, one per line, in the order a run would
use them: the same hosts and order as ` + "`ansible PATTERN --list-hosts`" + `.

Patterns: all or *, names, globs (web*, *.example.com), ~regex, union
(web:db or web,db), intersection (web:&prod), exclusion (web:!canary),
subscripts (web[0], web[-1], web[1:3]). --limit takes the same syntax and
@FILE.`,
		Example: `  fleet hosts -i hosts.yml 'web:&prod:!web03'
  fleet hosts -i hosts.ini all --limit @retry.txt`,
		Args: exactArgs(1, "give one host pattern, e.g. `fleet hosts all`"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Pattern = args[0]
			if runF != nil {
				return runF(opts)
			}
			return hostsRun(opts)
		},
	}
}

func hostsRun(opts *hostsOptions) error {
	a := opts.app
	inv, err := a.loadInventory()
	if err != nil {
		return err
	}
	hosts, err := a.selectHosts(inv, opts.Pattern)
	if err != nil {
		return err
	}
	for _, h := range hosts {
		fmt.Fprintln(a.io.Out, h.Name)
	}
	return nil
}

// selectHosts applies a pattern and the global --limit, printing warnings;
// selecting no host at all is an error.
func (a *app) selectHosts(inv *inventory.Inventory, pattern string) ([]*inventory.Host, error) {
	sel, err := inv.Select(inventory.Query{Patterns: []string{pattern}, Limit: a.limit})
	if err != nil {
		return nil, err
	}
	a.printWarnings(sel.Warnings)
	if len(sel.Hosts) == 0 {
		msg := fmt.Sprintf("no hosts matched %q", pattern)
		if a.limit != "" {
			msg += fmt.Sprintf(" with --limit %q", a.limit)
		}
		return nil, &diag.Error{Msg: msg, Hint: "run `fleet inventory --graph` to see the groups and hosts"}
	}
	return sel.Hosts, nil
}

// exactArgs is cobra.ExactArgs with a hint.
func exactArgs(n int, hint string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usageError{&diag.Error{Msg: fmt.Sprintf("%s takes %d argument(s), got %d", cmd.CommandPath(), n, len(args)), Hint: hint}}
		}
		return nil
	}
}
