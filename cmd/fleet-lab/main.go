package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"fleetrun.dev/fleet/diag"
)

const usage = `fleet-lab runs SSH lab hosts in this process, on loopback, until interrupted.

Usage:
  fleet-lab up -dir DIR [-n 20] [-max-sessions 10] [-password PW] [-v]

Each host gets its own address (127.77.x.y port 2222 where the system allows,
otherwise 127.0.0.1 with distinct ports), host key and home directory
(DIR/hosts/NAME/home). Commands run as the current user. DIR receives
id_ed25519, known_hosts, ssh_config and inventory.yml, and then "ready",
which is removed again on shutdown (SIGINT or SIGTERM).

Example:
  fleet-lab up -n 20 -dir /tmp/lab &
  while [ ! -e /tmp/lab/ready ]; do sleep 0.1; done
  fleet -i /tmp/lab/inventory.yml --ssh-config /tmp/lab/ssh_config ping all

Flags of up:
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run is the whole command; it returns the exit code: 0 ok, 1 error,
// 2 usage error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("fleet-lab up", flag.ContinueOnError)
	fs.SetOutput(stderr)
	opts := upOptions{Stdout: stdout, Port: defaultPort}
	fs.IntVar(&opts.N, "n", 20, "number of hosts")
	fs.StringVar(&opts.Dir, "dir", "", "directory for keys, configs, inventory and host homes (required)")
	fs.IntVar(&opts.MaxSessions, "max-sessions", 10, "concurrent sessions allowed per connection, like sshd's MaxSessions")
	fs.StringVar(&opts.Password, "password", "", "also accept this password (password and keyboard-interactive auth)")
	verbose := fs.Bool("v", false, "log refused sessions, failed logins and failed commands to stderr")
	fs.Usage = func() {
		fmt.Fprint(fs.Output(), usage)
		fs.PrintDefaults()
	}

	if len(args) == 0 {
		fs.Usage()
		return 2
	}
	switch args[0] {
	case "-h", "-help", "--help", "help":
		fs.SetOutput(stdout)
		fs.Usage()
		return 0
	case "up":
	default:
		fmt.Fprintf(stderr, "fleet-lab: error: unknown command %q\nfleet-lab: hint: the only command is `up`; see `fleet-lab -h`\n", args[0])
		return 2
	}
	if err := fs.Parse(args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "fleet-lab: error: unexpected argument %q\nfleet-lab: hint: `up` takes only flags, e.g. `fleet-lab up -n 5 -dir lab`\n", fs.Arg(0))
		return 2
	}
	if *verbose {
		opts.Logf = func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	}
	if err := runUp(ctx, opts); err != nil {
		fmt.Fprintf(stderr, "fleet-lab: error: %v\n", err)
		if hint := diag.Hint(err); hint != "" {
			fmt.Fprintf(stderr, "fleet-lab: hint: %s\n", hint)
		}
		var ue usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	return 0
}
