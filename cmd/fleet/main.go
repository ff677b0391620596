// Command fleet runs commands, file copies and playbooks on many hosts at
// once over one multiplexed SSH connection per host. This package is only
// the command line: it parses flags and calls the library packages.
package main

import (
	"os"

	"fleetrun.dev/fleet/internal/iostreams"
)

func main() {
	os.Exit(Main(os.Args[1:], iostreams.System(), os.LookupEnv))
}
