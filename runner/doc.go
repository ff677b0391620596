// Package runner executes work over masters: it runs ad-hoc commands on many
// hosts at once (bounded by forks), in sequence or as concurrent sessions on
// each host's one connection, and reports every line and result to a
// report.Sink. It turns results into the exit code CI branches on.
package runner
