package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
)

type pingOptions struct {
	app     *app
	conn    connFlags
	Pattern string
}

func newPingCmd(a *app, runF func(*pingOptions) error) *cobra.Command {
	opts := &pingOptions{app: a}
	cmd := &cobra.Command{
		Use:   "ping PATTERN",
		Short: "Connect, authenticate and run `true` on every selected host",
		Long: `Connect to every selected host, authenticate, and run ` + "`true`" + ` in one
session. Prints each host's connect time (TCP, handshake and auth) and
session time, or why it failed: refused, timeout, auth, host key, ...

Exit codes: 0 every host answered; 4 some host was unreachable; 2 the
session failed on some host; 130 interrupted; 1 bad input.`,
		Example: `  fleet ping -i hosts.yml all
  fleet ping -i lab/inventory.yml --ssh-config lab/ssh_config web`,
		Args: exactArgs(1, "give one host pattern, e.g. `fleet ping all`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pattern = args[0]
			if runF != nil {
				return runF(opts)
			}
			return pingRun(cmd, opts)
		},
	}
	addConnFlags(cmd, &opts.conn)
	return cmd
}

func pingRun(cmd *cobra.Command, opts *pingOptions) error {
	a := opts.app
	c, hosts, err := a.connect(&opts.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()
	width := 0
	for _, h := range hosts {
		width = max(width, len(h.Name))
	}
	start := time.Now()
	var ok, failed, unreachable []string
	var hints hintSet
	runner.Ping(interruptible(cmd), c.pool, hosts, opts.conn.forks, func(r runner.PingResult) {
		switch {
		case r.Err == nil:
			ok = append(ok, r.Host)
			fmt.Fprintf(a.io.Out, "%-*s  ok           connect %7s  session %7s\n", width, r.Host, ms(r.Connect), ms(r.Session))
		case r.Cause != "":
			unreachable = append(unreachable, r.Host)
			fmt.Fprintf(a.io.Out, "%-*s  UNREACHABLE  %s: %s\n", width, r.Host, r.Cause, reason(r.Err))
			hints.add(r.Err)
		default:
			failed = append(failed, r.Host)
			fmt.Fprintf(a.io.Out, "%-*s  FAILED       %v\n", width, r.Host, r.Err)
		}
	})
	if interruptible(cmd).Err() != nil {
		fmt.Fprintln(a.io.ErrOut, "fleet: interrupted")
		return exitCode(runner.ExitInterrupted)
	}
	fmt.Fprintf(a.io.ErrOut, "ok: %d  failed: %d  unreachable: %d  (%d hosts, %s)\n",
		len(ok), len(failed), len(unreachable), len(hosts), time.Since(start).Round(time.Millisecond))
	if len(unreachable) > 0 {
		fmt.Fprintf(a.io.ErrOut, "unreachable: %s\n", report.FoldCount(unreachable))
	}
	if len(failed) > 0 {
		fmt.Fprintf(a.io.ErrOut, "failed: %s\n", report.FoldCount(failed))
	}
	hints.print(a)
	o := runner.Outcome{OK: ok, Failed: failed, Unreachable: unreachable}
	return exitCode(o.ExitCode())
}

// reason is err's text without the "muxconn: HOST:" prefix, for lines that
// already name the host.
func reason(err error) string {
	var u *muxconn.UnreachableError
	if errors.As(err, &u) {
		return u.Reason()
	}
	return err.Error()
}

// hintSet collects the distinct hints of unreachable hosts, to print a few
// at the end instead of one per host.
type hintSet struct {
	seen  map[string]bool
	order []string
}

func (h *hintSet) add(err error) {
	hint := diag.Hint(err)
	if hint == "" || h.seen[hint] {
		return
	}
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[hint] = true
	h.order = append(h.order, hint)
}

const maxHints = 3

func (h *hintSet) print(a *app) {
	for i, hint := range h.order {
		if i == maxHints {
			fmt.Fprintf(a.io.ErrOut, "fleet: hint: (%d more like these)\n", len(h.order)-maxHints)
			break
		}
		fmt.Fprintf(a.io.ErrOut, "fleet: hint: %s\n", hint)
	}
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.1fms", float64(d.Microseconds())/1000)
}
