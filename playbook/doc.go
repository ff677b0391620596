// Package playbook parses and validates Ansible playbooks and task files
// into the model the executor runs: plays, tasks, blocks and fleet's
// parallel blocks, with block keywords already folded into their tasks and
// import_tasks expanded.
//
// Everything that can be checked before a host is touched is checked here,
// and each problem is a *diag.Error naming the file and line and saying what
// to do: YAML errors, unknown keywords and modules (with "did you mean"),
// module arguments, serial, loops over non-lists, missing files, handlers
// that nothing defines. The package reads files but runs and renders
// nothing.
package playbook
