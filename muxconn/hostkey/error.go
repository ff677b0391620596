package hostkey

import (
	"fmt"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

// Kind says why a host key was rejected.
type Kind int

const (
	// Unknown means known_hosts holds no key for the host.
	Unknown Kind = iota + 1
	// Changed means known_hosts holds other keys for the host than the one
	// the server presented: a key of the same type with a different value,
	// or only keys of other types.
	Changed
	// Revoked means the presented key is marked @revoked in known_hosts.
	Revoked
)

// String returns the kind's name in lower case ("unknown").
func (k Kind) String() string {
	switch k {
	case Unknown:
		return "unknown"
	case Changed:
		return "changed"
	case Revoked:
		return "revoked"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Error is a rejected host key. Callers branch on Kind; the message says
// what happened and Hint says what to do about it.
type Error struct {
	Kind Kind
	// Host and Port name the entry looked up in known_hosts: the
	// HostKeyAlias (with port 22) when one is set, else the host and port.
	Host string
	Port int
	// Key is the key the server presented.
	Key ssh.PublicKey
	// Files are the known_hosts files searched, user files first.
	Files []string
	// Known holds, for Changed, the keys known_hosts has for the host, and
	// for Revoked, the @revoked line. A key accepted earlier in this run
	// (accept-new) has Line 0.
	Known []xknownhosts.KnownKey
	// Hint says what to do next, as a command where one helps.
	Hint string

	msg string
}

func (e *Error) Error() string { return e.msg }

// HintText returns the hint, so that diag.Hint finds it on an error chain.
func (e *Error) HintText() string { return e.Hint }
