// Command fleet-lab runs a fleet of in-process SSH lab hosts on loopback and
// writes the files (client key, known_hosts, ssh_config, inventory) that let
// fleet, ssh and Ansible reach them. It needs nothing but Go, so `make demo`
// works on a fresh machine; see `fleet-lab -h`.
package main
