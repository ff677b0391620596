package muxconn

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"

	"fleetrun.dev/fleet/muxconn/hostkey"
)

// Cause classifies why a host could not be reached, so that output can name
// it and callers can branch without matching strings.
type Cause string

const (
	CauseRefused Cause = "refused"   // TCP connection refused
	CauseTimeout Cause = "timeout"   // connect, handshake or auth took longer than ConnectTimeout
	CauseResolve Cause = "resolve"   // the host name did not resolve
	CauseAuth    Cause = "auth"      // the server rejected every credential
	CauseHostKey Cause = "host key"  // unknown, changed or revoked host key
	CauseJump    Cause = "jump host" // a ProxyJump hop failed
	CauseLost    Cause = "lost"      // the connection died after it was up
	CauseControl Cause = "control"   // the host's ControlPath socket can't be used
	CauseOther   Cause = "error"     // anything else (network unreachable, protocol error, ...)
)

// UnreachableError means the host's connection could not be made or was
// lost. The runner reports such hosts as unreachable (exit bit 4), never as
// failed tasks.
type UnreachableError struct {
	Host  string // the target's alias (inventory_hostname)
	Addr  string // host:port dialled
	Cause Cause
	Err   error
}

func (e *UnreachableError) Error() string {
	return fmt.Sprintf("muxconn: %s: %s", e.Host, e.Err)
}

func (e *UnreachableError) Unwrap() error { return e.Err }

// DialledAddr returns the address fleet dialled for the host ("" when
// none), for output that says one failure once for many hosts.
func (e *UnreachableError) DialledAddr() string { return e.Addr }

// Reason is the error without the package and host prefix, for output that
// already names the host.
func (e *UnreachableError) Reason() string { return e.Err.Error() }

// HintText says what to do next, for the CLI's "hint:" line.
func (e *UnreachableError) HintText() string {
	var hk *hostkey.Error
	if errors.As(e.Err, &hk) {
		return hk.Hint
	}
	switch e.Cause {
	case CauseRefused:
		return fmt.Sprintf("is sshd running on %s? check the port (ansible_port, Port in ~/.ssh/config)", e.Addr)
	case CauseTimeout:
		return "the host did not answer in time; check it is up and reachable, or raise ConnectTimeout (--connect-timeout)"
	case CauseAuth:
		if errors.Is(e.Err, errTooManyAuth) {
			return "name the right key with IdentityFile (or --private-key) and set IdentitiesOnly yes, so that it is the only one offered"
		}
		return "check the user (-u, ansible_user, User) and the key (--private-key, ansible_ssh_private_key_file, IdentityFile), or load it into ssh-agent"
	case CauseLost:
		return "the host stopped answering mid-run; keepalives follow ServerAliveInterval and ServerAliveCountMax"
	}
	return ""
}

// IsUnreachable reports whether err means the host could not be reached
// (as opposed to a command failing on it).
func IsUnreachable(err error) bool {
	var u *UnreachableError
	return errors.As(err, &u)
}

// classify wraps a dial/handshake error with its cause.
func classify(host, addr, user string, err error, timeout time.Duration, reachedAuth bool) *UnreachableError {
	u := &UnreachableError{Host: host, Addr: addr, Cause: CauseOther, Err: err}
	var hk *hostkey.Error
	var dnsErr *net.DNSError
	var jump *UnreachableError
	switch {
	case errors.As(err, &jump):
		u.Cause = CauseJump
		u.Err = fmt.Errorf("via jump host %s: %w", jump.Host, jump.Err)
	case errors.As(err, &hk):
		u.Cause = CauseHostKey
		u.Err = hk // without x/crypto's "ssh: handshake failed:" wrapping
	case errors.Is(err, syscall.ECONNREFUSED):
		u.Cause = CauseRefused
		u.Err = fmt.Errorf("connection to %s refused", addr)
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) || isTimeout(err):
		u.Cause = CauseTimeout
		u.Err = fmt.Errorf("no answer from %s within %s (ConnectTimeout)", addr, timeout)
	case errors.As(err, &dnsErr):
		u.Cause = CauseResolve
	case reachedAuth && strings.Contains(strings.ToLower(err.Error()), "too many authentication failures"):
		// sshd hung up after MaxAuthTries (6) refused keys.
		u.Cause = CauseAuth
		u.Err = fmt.Errorf("authentication as %q failed: %w", user, errTooManyAuth)
	case reachedAuth && strings.Contains(err.Error(), "unable to authenticate"):
		u.Cause = CauseAuth
		// x/crypto says "ssh: handshake failed: ssh: unable to
		// authenticate, attempted methods [...], ..."; keep the methods.
		tried := ""
		if msg := err.Error(); strings.Contains(msg, "attempted methods [") {
			i := strings.Index(msg, "attempted methods [")
			if j := strings.Index(msg[i:], "]"); j > 0 {
				tried = " (" + msg[i:i+j+1] + ")"
			}
		}
		u.Err = fmt.Errorf("authentication as %q failed: %w%s", user, errAuth, tried)
	}
	return u
}

// errAuth marks authentication failures on an UnreachableError's chain.
var errAuth = errors.New("the server accepted none of the credentials offered")

// errTooManyAuth is errAuth when the server hung up before the last key.
var errTooManyAuth = fmt.Errorf("the server hung up after refusing MaxAuthTries keys (\"Too many authentication failures\"): %w", errAuth)

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// ExitError is a command that ran and ended unsuccessfully: a non-zero exit
// status, or death by a signal.
type ExitError struct {
	Status int    // exit status; -1 when the command died by a signal
	Signal string // e.g. "TERM"; empty when it exited
}

func (e *ExitError) Error() string {
	if e.Signal != "" {
		return "killed by signal " + e.Signal
	}
	return fmt.Sprintf("exit %d", e.Status)
}

// TimeoutError is a command stopped because it ran longer than its timeout.
type TimeoutError struct{ After time.Duration }

func (e *TimeoutError) Error() string { return fmt.Sprintf("timed out after %s", e.After) }
