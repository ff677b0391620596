// Package target works out one host's SSH settings as `ssh -G` would, with
// fleet's precedence: command-line flags, then inventory variables (Ansible's
// ansible_* names), then ssh_config files, then defaults. A Resolver reads the
// ssh_config files once and resolves any number of hosts, jump hosts included,
// into Targets that the connection pool dials and keys on.
package target
