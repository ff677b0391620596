package sshdtest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// sftpNone is the Options.SFTP value for a server without an sftp subsystem.
const sftpNone = "none"

// internalSFTP is sshd's in-process sftp server: no separate process, so no
// resource limit of its own.
const internalSFTP = "internal-sftp"

// limitWrapperName is the file, in the server's directory, of the script
// that runs the sftp server under Options.FileSizeLimitKB.
const limitWrapperName = "sftp-server-limited"

// errNoSFTPServer says that the machine has no sftp-server binary where
// Options.FileSizeLimitKB needs one; Start skips the test then.
var errNoSFTPServer = errors.New("no sftp-server binary, which Options.FileSizeLimitKB needs: install openssh-sftp-server")

// SFTPServer returns the path of the system's sftp-server binary, or
// "internal-sftp" when there is none, for tests that wrap it in
// Options.SFTP.
func SFTPServer() string { return sftpServer() }

// sftpServer returns the sftp-server binary, or sshd's built-in one.
func sftpServer() string {
	for _, p := range []string{
		"/usr/lib/openssh/sftp-server",     // Debian, Ubuntu
		"/usr/libexec/openssh/sftp-server", // Fedora, RHEL
		"/usr/lib/ssh/sftp-server",         // Arch, Alpine
		"/usr/libexec/sftp-server",         // macOS, BSD
	} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return internalSFTP
}

// sftpSubsystem returns the command for sshd_config's "Subsystem sftp" line,
// or "" for no such line. Under a file size limit it writes the wrapper
// script into dir, which the login user can read and enter.
func sftpSubsystem(dir string, opts Options) (string, error) {
	command := opts.SFTP
	switch {
	case opts.FileSizeLimitKB < 0:
		return "", fmt.Errorf("sshdtest: Options.FileSizeLimitKB is %d; use a positive number of KiB, or 0 for no limit", opts.FileSizeLimitKB)
	case command == sftpNone && opts.FileSizeLimitKB > 0:
		return "", fmt.Errorf("sshdtest: Options.SFTP %q and Options.FileSizeLimitKB %d contradict each other: a server without sftp writes no files", command, opts.FileSizeLimitKB)
	case command == sftpNone:
		return "", nil
	case command == "":
		command = sftpServer()
	}
	if opts.FileSizeLimitKB == 0 {
		return command, nil
	}
	if f := strings.Fields(command); len(f) > 0 && f[0] == internalSFTP {
		if opts.SFTP == "" {
			return "", fmt.Errorf("sshdtest: %w", errNoSFTPServer)
		}
		return "", fmt.Errorf("sshdtest: Options.FileSizeLimitKB cannot limit %q, which runs inside sshd; name an sftp-server binary in Options.SFTP or leave it empty", opts.SFTP)
	}
	return writeLimitWrapper(dir, command, opts.FileSizeLimitKB)
}

// writeLimitWrapper writes the script that runs command with files capped
// at limitKB KiB and returns its path. sshd insists that the first word of
// a subsystem command is a file it can stat, so the limit cannot be set
// inline with `sh -c`.
func writeLimitWrapper(dir, command string, limitKB int) (string, error) {
	path := filepath.Join(dir, limitWrapperName)
	if strings.ContainsAny(path, " \t\"'\\") {
		// sshd splits the Subsystem command at white space.
		return "", fmt.Errorf("sshdtest: the sftp wrapper path %q holds a space or quote, which sshd's Subsystem line cannot take; set TMPDIR to a plain path such as /tmp", path)
	}
	// Ignoring SIGXFSZ (which exec keeps) turns "killed by the signal" into
	// write failing with EFBIG, which sftp-server reports as SSH_FX_FAILURE.
	// POSIX sh (dash, bash as sh) counts `ulimit -f` in 512-byte blocks.
	script := fmt.Sprintf(`#!/bin/sh
# Written by fleetrun.dev/fleet/internal/sshdtest: sftp with files capped at %d KiB.
trap '' XFSZ
ulimit -f %d || exit 1
exec %s
`, limitKB, 2*limitKB, command)
	if err := os.WriteFile(path, []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("sshdtest: write sftp wrapper: %w", err)
	}
	// WriteFile's mode is masked by the umask; the login user runs the script.
	if err := os.Chmod(path, 0o755); err != nil {
		return "", fmt.Errorf("sshdtest: %w", err)
	}
	return path, nil
}
