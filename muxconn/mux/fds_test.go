//go:build linux

package mux

import (
	"io"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// socketPair returns the two ends of a connected unix stream socket.
func socketPair(t *testing.T) (*net.UnixConn, *net.UnixConn) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	conn := func(fd int) *net.UnixConn {
		f := os.NewFile(uintptr(fd), "socketpair")
		defer f.Close()
		c, err := net.FileConn(f)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.(*net.UnixConn)
	}
	return conn(fds[0]), conn(fds[1])
}

// TestPacketThenDescriptors sends what ssh sends for NEW_SESSION: the packet
// in one write, then three descriptors in three sendmsg calls. ReadPacket
// must leave the descriptors for ReceiveFD.
func TestPacketThenDescriptors(t *testing.T) {
	a, b := socketPair(t)
	var readEnds []*os.File
	var files []*os.File
	for range 3 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		readEnds = append(readEnds, r)
		files = append(files, w)
	}
	if err := WritePacket(a, &NewSession{ID: 1, EscapeChar: NoEscapeChar, Command: "true"}); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := SendFD(a, f); err != nil {
			t.Fatal(err)
		}
	}
	body, err := ReadPacket(b)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := Decode(body); err != nil || m.(*NewSession).Command != "true" {
		t.Fatalf("Decode = %#v, %v", m, err)
	}
	for i, r := range readEnds {
		got, err := ReceiveFD(b)
		if err != nil {
			t.Fatalf("ReceiveFD %d: %v", i, err)
		}
		// The received descriptor is the pipe's write end: prove it.
		msg := []byte{'0' + byte(i)}
		if _, err := got.Write(msg); err != nil {
			t.Fatal(err)
		}
		got.Close()
		buf := make([]byte, 1)
		if _, err := io.ReadFull(r, buf); err != nil || buf[0] != msg[0] {
			t.Fatalf("pipe %d read %q, %v; want %q", i, buf, err, msg)
		}
	}
}

func TestReceiveFDRejects(t *testing.T) {
	tests := []struct {
		name string
		send func(t *testing.T, c *net.UnixConn)
		want string
	}{
		{"two descriptors in one message", func(t *testing.T, c *net.UnixConn) {
			if _, _, err := c.WriteMsgUnix([]byte{0}, unix.UnixRights(0, 1), nil); err != nil {
				t.Fatal(err)
			}
		}, "expected exactly 1 descriptor in the message, got 2"},
		{"data without a descriptor", func(t *testing.T, c *net.UnixConn) {
			c.Write([]byte{0})
		}, "got 0"},
		{"closed connection", func(t *testing.T, c *net.UnixConn) {
			c.Close()
		}, "closed the connection before passing its file descriptors"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			tt.send(t, a)
			f, err := ReceiveFD(b)
			if err == nil {
				f.Close()
				t.Fatal("ReceiveFD succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("ReceiveFD error = %q, want %q", err, tt.want)
			}
		})
	}
}

// TestOpenStdioRestoresBlocking checks that the master leaves a shared
// descriptor as it found it: a socket gets O_NONBLOCK while served, then its
// original flags back.
func TestOpenStdioRestoresBlocking(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	dup, err := unix.Dup(fds[0]) // what the client keeps
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(dup)
	sf := openStdio(fds[0], "test", false)
	if fl, _ := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0); fl&unix.O_NONBLOCK == 0 {
		t.Error("the socket is not non-blocking while served")
	}
	sf.close()
	sf.release()
	if fl, _ := unix.FcntlInt(uintptr(dup), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("the socket was left non-blocking")
	}

	// A pipe is reopened privately: the client's description never changes.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	rc, _ := r.SyscallConn()
	var rfd int
	rc.Control(func(fd uintptr) { rfd = int(fd) })
	syscall.SetNonblock(rfd, false)
	mine, err := unix.Dup(rfd)
	if err != nil {
		t.Fatal(err)
	}
	sf = openStdio(mine, "pipe", false)
	if fl, _ := unix.FcntlInt(uintptr(rfd), unix.F_GETFL, 0); fl&unix.O_NONBLOCK != 0 {
		t.Error("the pipe's shared description became non-blocking")
	}
	w.Write([]byte("x"))
	buf := make([]byte, 1)
	if _, err := sf.f.Read(buf); err != nil || buf[0] != 'x' {
		t.Errorf("reading the reopened pipe: %q, %v", buf, err)
	}
	sf.close()
	sf.release()
}
