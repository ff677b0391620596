package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/transfer"
)

type pullOptions struct {
	app      *app
	x        xferFlags
	Pattern  string
	Remote   string
	LocalDir string
}

func newPullCmd(a *app, runF func(*pullOptions) error) *cobra.Command {
	opts := &pullOptions{app: a}
	cmd := &cobra.Command{
		Use:   "pull PATTERN REMOTE LOCALDIR",
		Short: "Fetch a file or tree from every selected host into LOCALDIR/<host>/",
		Long: `Fetch a remote file or directory tree from every selected host, each into
its own LOCALDIR/<host>/, over one SFTP session on the host's connection.

A remote directory is fetched as a directory of that name; with a trailing
slash (dir/) its contents are fetched instead. REMOTE may use the host's
variables, e.g. /var/log/{{ app_name }}.log. Local files are written to a
temporary name and renamed, so an interrupted pull leaves no half-written
file; files whose size and SHA-256 already match are not fetched again.

Exit codes: 0 all ok; 2 some path failed on some host; 4 some host was
unreachable; 6 both; 130 interrupted; 1 bad input (nothing was copied).`,
		Example: `  fleet pull -i hosts.yml web /etc/nginx/nginx.conf ./conf
  fleet pull -i hosts.yml all /var/log/app/ ./logs --dry-run`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 3 {
				return usageError{fmt.Errorf("give a host pattern, a remote path and a local directory, e.g. `fleet pull web /etc/app.conf ./out`")}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pattern, opts.Remote, opts.LocalDir = args[0], args[1], args[2]
			if runF != nil {
				return runF(opts)
			}
			return pullRun(cmd, opts)
		},
	}
	addXferFlags(cmd, &opts.x)
	return cmd
}

func pullRun(cmd *cobra.Command, opts *pullOptions) error {
	a := opts.app
	if err := opts.x.validate(); err != nil {
		return err
	}
	if strings.TrimSpace(opts.Remote) == "" || strings.TrimSpace(opts.LocalDir) == "" {
		return usageError{fmt.Errorf("the remote path and the local directory must not be empty")}
	}
	if fi, err := os.Stat(opts.LocalDir); err == nil && !fi.IsDir() {
		return usageError{fmt.Errorf("%s is not a directory; give a directory to fetch into (it is created when missing)", opts.LocalDir)}
	}
	c, hosts, err := a.connect(&opts.x.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()
	srcs, err := templated(hosts, "REMOTE", opts.Remote)
	if err != nil {
		return err
	}
	dests, err := hostDirs(hosts, opts.LocalDir)
	if err != nil {
		return err
	}
	xs := a.xferSinks(&opts.x, hosts)
	outcome := runner.Pull(interruptible(cmd), c.pool, hosts, runner.PullOptions{
		Srcs:  srcs,
		Dests: dests,
		Pull: transfer.PullOptions{
			DryRun:   opts.x.dryRun,
			Verbose:  a.verbose > 0,
			Parallel: opts.x.transfers,
		},
		Forks:    opts.x.conn.forks,
		Sink:     xs.sink,
		Progress: xs.progress(),
	})
	return xs.finish(outcome)
}
