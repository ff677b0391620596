// Package persist publishes fleet's masters for other programs: each host's
// connection is served on its ControlPath socket in OpenSSH's mux protocol
// (package mux), so stock ssh, scp, sftp and rsync, and later fleet runs,
// ride it. A published master ends when idle past its persist time, when a
// client asks it to exit (ssh -O exit), or when its connection dies.
package persist
