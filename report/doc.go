// Package report turns the events of a fleet run (output lines, finished
// steps, finished hosts) into output a person or a program can read at 500
// hosts: live prefixed lines, clush-style grouped output, JSON Lines and a
// closing summary. It also folds host lists into nodesets ("web[01-03,07]")
// and expands them back.
package report
