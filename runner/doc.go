// Package runner executes work over masters: it runs ad-hoc commands on many
// hosts at once (bounded by forks), in sequence or as concurrent sessions on
// each host's one connection, and pushes or pulls files over one SFTP
// session per host (the copying itself is package transfer). It reports
// every line, path and result to a report.Sink, and turns results into the
// exit code CI branches on.
package runner
