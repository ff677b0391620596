//go:build !linux

package mux

import (
	"net"
	"os"
)

func listenPrivate(path string) (*net.UnixListener, error) { return nil, errNotSupported }

func peerUID(c *net.UnixConn) (int, error) { return -1, errNotSupported }

type stdioFile struct {
	f     *os.File
	isTTY bool
}

func openStdio(fd int, name string, write bool) *stdioFile {
	return &stdioFile{f: os.NewFile(uintptr(fd), name)}
}

func (sf *stdioFile) close()   { sf.f.Close() }
func (sf *stdioFile) release() {}
func (sf *stdioFile) winSize() (cols, rows, xpix, ypix uint32, ok bool) {
	return 0, 0, 0, 0, false
}
func (sf *stdioFile) termModes() []byte { return []byte{0} }
func notifyWinch(c chan<- os.Signal)    {}
