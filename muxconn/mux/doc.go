// Package mux speaks OpenSSH's connection-multiplexing protocol (version 4,
// the ControlMaster/ControlPath socket): it serves it on a unix socket on
// behalf of an SSH connection fleet already holds, so that stock ssh, scp,
// sftp and rsync ride that connection, and it asks masters, fleet's or
// OpenSSH's, whether they are alive, to exit or to stop listening.
//
// The wire format follows OpenSSH's mux.c where it differs from
// PROTOCOL.mux. Serving needs Linux (descriptor passing, SO_PEERCRED).
package mux
