package main

import (
	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/vars"
)

type sshConfigOptions struct {
	app  *app
	conn connFlags
	Host string
}

func newSSHConfigCmd(a *app, runF func(*sshConfigOptions) error) *cobra.Command {
	opts := &sshConfigOptions{app: a}
	cmd := &cobra.Command{
		Use:   "ssh-config HOST",
		Short: "Print the SSH settings fleet resolves for a host, like ssh -G",
		Long: `Print the SSH settings fleet would use for HOST, in ` + "`ssh -G`" + `'s format:
flags, then the host's inventory vars (ansible_host, ansible_port,
ansible_user, ansible_ssh_private_key_file, ...), then ~/.ssh/config (or
--ssh-config) and /etc/ssh/ssh_config, then defaults. A comment after each
line says where its value came from.

HOST is an inventory host when an inventory is given (-i or
$FLEET_INVENTORY); otherwise, or when it is not in the inventory, only
flags, ssh_config and defaults apply, as for ` + "`ssh HOST`" + `.`,
		Example: `  fleet ssh-config -i hosts.yml web01
  fleet ssh-config --ssh-config lab/ssh_config lab01`,
		Args: exactArgs(1, "give one host name, e.g. `fleet ssh-config web01`"),
		RunE: func(_ *cobra.Command, args []string) error {
			opts.Host = args[0]
			if runF != nil {
				return runF(opts)
			}
			return sshConfigRun(opts)
		},
	}
	addConnFlags(cmd, &opts.conn)
	return cmd
}

func sshConfigRun(opts *sshConfigOptions) error {
	a := opts.app
	var hostVars *vars.Map
	if _, err := a.inventorySources(); err == nil {
		inv, err := a.loadInventory()
		if err != nil {
			return err
		}
		if h := inv.Host(opts.Host); h != nil {
			hostVars = inv.Vars(h)
		}
	}
	r, err := a.resolver(&opts.conn)
	if err != nil {
		return err
	}
	t, err := r.Resolve(opts.Host, hostVars)
	if err == nil {
		useFleetSocket(t)
	}
	if err != nil {
		return err
	}
	return t.WriteConfig(a.io.Out)
}
