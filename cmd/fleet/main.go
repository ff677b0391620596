// Command fleet runs commands, file copies and playbooks on many hosts at
// once over one multiplexed SSH connection per host. This package is only
// the command line: it parses flags and calls the library packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"fleetrun.dev/fleet/internal/iostreams"
)

func main() {
	// The first SIGINT or SIGTERM cancels the run: remote commands are
	// signalled and their channels closed, and fleet exits 130. A second one
	// kills fleet at once, as the default handler would.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	os.Exit(Main(ctx, os.Args[1:], iostreams.System(), os.LookupEnv))
}
