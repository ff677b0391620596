//go:build !linux

package mux

import (
	"fmt"
	"net"
	"os"
	"runtime"
)

// errNotSupported is what every descriptor-passing and socket call returns
// off Linux: fleet's master serves OpenSSH clients on Linux only.
var errNotSupported = fmt.Errorf("mux: serving OpenSSH's control socket is not supported on %s; it needs Linux (SCM_RIGHTS, SO_PEERCRED)", runtime.GOOS)

func receiveFD(c *net.UnixConn) (int, error) { return -1, errNotSupported }

// ReceiveFD is not supported on this system; see the Linux version.
func ReceiveFD(c *net.UnixConn) (*os.File, error) { return nil, errNotSupported }

// SendFD is not supported on this system; see the Linux version.
func SendFD(c *net.UnixConn, f *os.File) error { return errNotSupported }
