// Package sshdtest starts real OpenSSH sshd servers on loopback addresses for
// fleet's integration tests, each with its own host keys, config and log, and
// a client key shared by the whole test process. It also looks at and kills
// the processes those servers start, so fault-injection tests can break
// connections on purpose and every test can prove that nothing survives it.
//
// Servers can also play hosts that file transfers must cope with: one
// without an sftp subsystem (Options.SFTP "none"), or one whose disk fills
// up after a given size (Options.FileSizeLimitKB). EnableSudo lets the login
// user become root with sudo, with or without a password, for the tests of
// --become.
package sshdtest
