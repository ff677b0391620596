// Package report turns the events of a fleet run (output lines, finished
// steps, transferred files, finished hosts) into output a person or a
// program can read at 500 hosts: live prefixed lines, clush-style grouped
// output, JSON Lines and a closing summary, plus a progress bar for file
// transfers on a terminal. It also folds host lists into nodesets
// ("web[01-03,07]") and expands them back.
package report
