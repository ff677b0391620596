package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/inventory"
	"fleetrun.dev/fleet/vars"
)

type inventoryOptions struct {
	app   *app
	List  bool
	Host  string
	Graph bool
	Group string
}

func newInventoryCmd(a *app, runF func(*inventoryOptions) error) *cobra.Command {
	opts := &inventoryOptions{app: a}
	cmd := &cobra.Command{
		Use:   "inventory (--list | --host PATTERN | --graph [GROUP])",
		Short: "Show the inventory as fleet reads it",
		Long: `Show the inventory as fleet reads it, in ansible-inventory's formats:
  --list         every group and host, with each host's merged variables (JSON)
  --host PATTERN one host's merged variables (JSON)
  --graph        the group tree (from GROUP, default all)`,
		Example: `  fleet inventory -i hosts.yml --list
  fleet inventory -i inventories/prod --host web01
  fleet inventory -i hosts.ini --graph webservers`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) == 1 {
				opts.Group = args[0]
			}
			if runF != nil {
				return runF(opts)
			}
			return inventoryRun(opts)
		},
	}
	cmd.Flags().BoolVar(&opts.List, "list", false, "print all groups and hosts with their variables as JSON")
	cmd.Flags().StringVar(&opts.Host, "host", "", "print the merged variables of the one host this pattern selects")
	cmd.Flags().BoolVar(&opts.Graph, "graph", false, "print the group tree under GROUP (default all)")
	return cmd
}

func inventoryRun(opts *inventoryOptions) error {
	a := opts.app
	actions := 0
	for _, set := range []bool{opts.List, opts.Host != "", opts.Graph} {
		if set {
			actions++
		}
	}
	if actions != 1 {
		return usageError{&diag.Error{Msg: "choose exactly one of --list, --host or --graph"}}
	}
	if a.limit != "" {
		return usageError{&diag.Error{Msg: "--limit does not apply to `fleet inventory`", Hint: "use `fleet hosts PATTERN --limit ...` to see what a limit selects"}}
	}
	if opts.Group != "" && !opts.Graph {
		return usageError{&diag.Error{Msg: fmt.Sprintf("unexpected argument %q: only --graph takes a group", opts.Group)}}
	}
	inv, err := a.loadInventory()
	if err != nil {
		return err
	}
	switch {
	case opts.List:
		out, sorted, err := inv.ListJSON()
		if err != nil {
			return err
		}
		a.warnUnsorted(sorted)
		fmt.Fprintf(a.io.Out, "%s\n", out)
	case opts.Graph:
		group := opts.Group
		if group == "" {
			group = "all"
		}
		out, err := inv.Graph(group)
		if err != nil {
			return err
		}
		fmt.Fprintln(a.io.Out, out)
	default:
		sel, err := inv.Select(inventory.Query{Patterns: []string{opts.Host}})
		if err != nil {
			return err
		}
		a.printWarnings(sel.Warnings)
		if len(sel.Hosts) != 1 {
			return &diag.Error{Msg: fmt.Sprintf("--host %q selects %d hosts; it needs exactly one", opts.Host, len(sel.Hosts)),
				Hint: "give one host's name"}
		}
		out, sorted, err := vars.EncodeJSON(inv.ExportVars(sel.Hosts[0]))
		if err != nil {
			return err
		}
		a.warnUnsorted(sorted)
		fmt.Fprintf(a.io.Out, "%s\n", out)
	}
	return nil
}

func (a *app) warnUnsorted(sorted bool) {
	if !sorted {
		a.printWarnings([]diag.Warning{{Msg: "could not sort the JSON keys: a mapping mixes key types Python cannot order (such as 1 and \"a\"); printing in definition order, as Ansible does"}})
	}
}
