// Package report turns the events of a fleet run (output lines, finished
// steps, transferred files, finished hosts) into output a person or a
// program can read at 500 hosts: live prefixed lines, clush-style grouped
// output, JSON Lines and a closing summary, plus a progress bar for file
// transfers on a terminal. It also folds host lists into nodesets
// ("web[01-03,07]") and expands them back. The hosts' output is passed
// through as they sent it; names and messages in fleet's own text lines are
// escaped (EscapeControl), so that a remote file name can't forge a line.
//
// Playbook runs have sinks of their own (PlaySink): ansible-playbook's text
// output with its PLAY RECAP and unified diffs, JSON Lines for CI, and a
// live status line on a terminal while a slow task runs.
package report
