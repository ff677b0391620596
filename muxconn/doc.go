// Package muxconn holds fleet's SSH connections: one master connection per
// (user, host, port, jump chain), opened once and shared by every session a
// run needs on that host. A Master gates its concurrent sessions under the
// server's MaxSessions, retries refused channel opens, keeps the connection
// alive, and reports a dead connection as the host being unreachable. An
// SFTP session on a master holds one session slot for as long as it is open.
//
// Target resolution lives in muxconn/target and host-key checking in
// muxconn/hostkey; this package dials, authenticates and multiplexes.
package muxconn
