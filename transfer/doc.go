// Package transfer copies files between this machine and a host over one
// SFTP session on the host's shared connection: push (local to remote) and
// pull (remote to local). Every file is written to a temporary name beside
// its destination and renamed into place, so an interrupted copy leaves the
// old file intact; files whose size and SHA-256 already match are not sent.
package transfer
