//go:build linux

package mux

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// receiveFD receives one file descriptor the way OpenSSH's mm_receive_fd
// expects it to come: one message of exactly one data byte with one
// SCM_RIGHTS control message holding exactly one descriptor. The caller owns
// the returned descriptor. Any extra descriptors are closed.
func receiveFD(c *net.UnixConn) (int, error) {
	var data [1]byte
	// Room for a few descriptors, so a client that sends more than one is
	// told so rather than having them silently dropped by the kernel.
	oob := make([]byte, unix.CmsgSpace(4*4))
	n, oobn, flags, _, err := c.ReadMsgUnix(data[:], oob)
	if errors.Is(err, io.EOF) {
		n, oobn, err = 0, 0, nil
	}
	if err != nil {
		return -1, fmt.Errorf("mux: receiving a file descriptor: %w", err)
	}
	var fds []int
	if oobn > 0 {
		msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
		if err != nil {
			return -1, fmt.Errorf("mux: receiving a file descriptor: parsing the control message: %w", err)
		}
		for _, m := range msgs {
			if m.Header.Level != unix.SOL_SOCKET || m.Header.Type != unix.SCM_RIGHTS {
				continue
			}
			got, err := unix.ParseUnixRights(&m)
			if err != nil {
				closeFDs(fds)
				return -1, fmt.Errorf("mux: receiving a file descriptor: parsing SCM_RIGHTS: %w", err)
			}
			fds = append(fds, got...)
		}
	}
	switch {
	case n == 0 && oobn == 0:
		return -1, errors.New("mux: the client closed the connection before passing its file descriptors")
	case flags&unix.MSG_CTRUNC != 0:
		closeFDs(fds)
		return -1, errors.New("mux: receiving a file descriptor: the control message was truncated (the client sent too many descriptors at once)")
	case n != 1:
		closeFDs(fds)
		return -1, fmt.Errorf("mux: receiving a file descriptor: expected 1 data byte with it, got %d", n)
	case len(fds) != 1:
		closeFDs(fds)
		return -1, fmt.Errorf("mux: receiving a file descriptor: expected exactly 1 descriptor in the message, got %d", len(fds))
	}
	return fds[0], nil
}

func closeFDs(fds []int) {
	for _, fd := range fds {
		unix.Close(fd)
	}
}

// ReceiveFD receives one file descriptor passed as OpenSSH's ssh passes
// stdin, stdout and stderr to a master: one sendmsg per descriptor, each with
// a single data byte. Read the packet that announced the descriptors first
// (ReadPacket reads no further than its end), then call ReceiveFD once per
// descriptor. The returned file is the caller's to close.
func ReceiveFD(c *net.UnixConn) (*os.File, error) {
	fd, err := receiveFD(c)
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), fmt.Sprintf("fd %d from mux client", fd)), nil
}

// SendFD passes f's descriptor over c the way ssh does (mm_send_fd): one
// message with one data byte '\0' and one SCM_RIGHTS holding the descriptor.
// Unlike f.Fd, it leaves f's blocking mode alone.
func SendFD(c *net.UnixConn, f *os.File) error {
	rc, err := f.SyscallConn()
	if err != nil {
		return fmt.Errorf("mux: passing %s: %w", f.Name(), err)
	}
	var werr error
	if err := rc.Control(func(fd uintptr) {
		_, _, werr = c.WriteMsgUnix([]byte{0}, unix.UnixRights(int(fd)), nil)
	}); err != nil {
		return fmt.Errorf("mux: passing %s: %w", f.Name(), err)
	}
	if werr != nil {
		return fmt.Errorf("mux: passing %s: %w", f.Name(), werr)
	}
	return nil
}
