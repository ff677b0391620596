// Package hostkey verifies SSH server host keys against OpenSSH known_hosts
// files, following ssh's StrictHostKeyChecking modes (yes, ask, accept-new,
// no). A DB parses each set of known_hosts files once per run and hands out a
// Checker per host, which supplies both the ssh.HostKeyCallback and the host
// key algorithms to offer, so a server can only present a key type that
// known_hosts holds for it.
package hostkey
