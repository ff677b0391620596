// Command fleet runs commands, file copies and playbooks on many hosts at
// once over one multiplexed SSH connection per host. This package is only
// the command line: it parses flags and calls the library packages.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"fleetrun.dev/fleet/internal/iostreams"
)

func main() {
	// The first SIGINT or SIGTERM cancels the run: remote commands are
	// signalled and their channels closed, and fleet exits 130. A second one
	// kills fleet at once, as the default handler would.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	os.Exit(profiled(func() int { return Main(ctx, os.Args[1:], iostreams.System(), os.LookupEnv) }))
}

// profiled runs f, writing a CPU profile to $FLEET_CPUPROFILE and a heap
// (allocations) profile to $FLEET_MEMPROFILE when they are set: how
// bench/README.md's profiles were taken.
func profiled(f func() int) int {
	if path := os.Getenv("FLEET_CPUPROFILE"); path != "" {
		if out, err := os.Create(path); err == nil {
			pprof.StartCPUProfile(out)
			defer func() { pprof.StopCPUProfile(); out.Close() }()
		}
	}
	code := f()
	if path := os.Getenv("FLEET_MEMPROFILE"); path != "" {
		if out, err := os.Create(path); err == nil {
			pprof.Lookup("allocs").WriteTo(out, 0)
			out.Close()
		}
	}
	return code
}
