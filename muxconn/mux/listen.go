package mux

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
)

// maxSocketPath is the longest unix socket path Linux takes (sun_path is 108
// bytes, one of them the terminating NUL).
const maxSocketPath = 107

// tempSuffixLen is the length of the ".<16 random characters>" suffix of the
// name a master binds before linking it into place, as OpenSSH's.
const tempSuffixLen = 17

// ExistsError is returned by Listen when another master already serves the
// path: it linked its socket there first. The loser keeps its own
// connection and does not serve, as ssh does.
type ExistsError struct {
	Path string
}

func (e *ExistsError) Error() string {
	return fmt.Sprintf("mux: control socket %s already exists: another master serves it; use that master, or remove the socket if nothing answers on it", e.Path)
}

// Is makes errors.Is(err, fs.ErrExist) true for an ExistsError.
func (e *ExistsError) Is(target error) bool { return target == fs.ErrExist }

// Listen creates the control socket at path the way OpenSSH's master does:
// it binds a temporary name (path plus "." and 16 random letters and
// digits), makes it mode 0600 before listening, listens, links it to path
// and removes the temporary name. A client therefore never finds a socket at
// path that is not yet listening, and of two masters racing for the same
// path exactly one wins: the other gets an *ExistsError.
//
// Closing the listener does not remove path; the owner removes it when it
// stops serving (as ssh does on exit and on `ssh -O stop`).
func Listen(path string) (*net.UnixListener, error) {
	if len(path)+tempSuffixLen > maxSocketPath {
		return nil, fmt.Errorf("mux: control path %s is too long: %d bytes plus the %d-byte temporary suffix is over the %d a unix socket path may have; choose a shorter ControlPath (e.g. ~/.ssh/cm-%%C)", path, len(path), tempSuffixLen, maxSocketPath)
	}
	tmp := path + "." + randomAlnum(tempSuffixLen-1)
	l, err := listenPrivate(tmp)
	if err != nil {
		return nil, err
	}
	if err := os.Link(tmp, path); err != nil {
		l.Close()
		os.Remove(tmp)
		if errors.Is(err, fs.ErrExist) {
			return nil, &ExistsError{Path: path}
		}
		return nil, fmt.Errorf("mux: moving the control socket into place: %w", err)
	}
	if err := os.Remove(tmp); err != nil {
		l.Close()
		os.Remove(path)
		return nil, fmt.Errorf("mux: removing the temporary control socket name: %w", err)
	}
	return l, nil
}

const alnum = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// randomAlnum returns n random letters and digits, uniformly distributed.
func randomAlnum(n int) string {
	out := make([]byte, 0, n)
	var buf [32]byte
	for len(out) < n {
		rand.Read(buf[:])
		for _, b := range buf {
			// 248 is the largest multiple of 62 that fits in a byte:
			// rejecting the rest keeps every character equally likely.
			if b < 248 && len(out) < n {
				out = append(out, alnum[b%62])
			}
		}
	}
	return string(out)
}

// PeerError is returned by PeerAllowed for a client of another user.
type PeerError struct {
	UID int // the client's effective uid
	Our int // this process's uid
}

func (e *PeerError) Error() string {
	return fmt.Sprintf("mux: refusing a control client running as uid %d: only uid %d (this master's user) and root may use this master", e.UID, e.Our)
}

// PeerAllowed checks, as OpenSSH's master does, that the process at the
// other end of c runs as this process's user or as root (SO_PEERCRED; the
// socket's mode 0600 should already keep others out).
func PeerAllowed(c *net.UnixConn) error {
	uid, err := peerUID(c)
	if err != nil {
		return fmt.Errorf("mux: cannot tell which user the control client runs as: %w", err)
	}
	if our := os.Getuid(); uid != 0 && uid != our {
		return &PeerError{UID: uid, Our: our}
	}
	return nil
}
