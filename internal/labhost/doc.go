// Package labhost runs in-process SSH "lab hosts" on loopback: an
// x/crypto/ssh server with exec, signals, SFTP and loopback-only
// direct-tcpip, a per-connection session limit like sshd's MaxSessions, and
// counters that let tests prove how a client used it. It needs nothing but Go
// and a POSIX shell, so fleet's fast tests and `make demo` run anywhere.
package labhost
