//go:build linux

package mux

import (
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// listenPrivate binds a unix socket at path, makes it mode 0600, and only
// then listens, so that nobody else can ever connect to it (OpenSSH gets the
// same with umask 0177; changing the umask would race with the rest of the
// process).
func listenPrivate(path string) (*net.UnixListener, error) {
	fd, err := unix.Socket(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("mux: creating a unix socket: %w", err)
	}
	fail := func(what string, err error) (*net.UnixListener, error) {
		unix.Close(fd)
		return nil, fmt.Errorf("mux: %s %s: %w", what, path, err)
	}
	if err := unix.Bind(fd, &unix.SockaddrUnix{Name: path}); err != nil {
		return fail("binding", err)
	}
	if err := unix.Chmod(path, 0o600); err != nil {
		os.Remove(path)
		return fail("setting mode 0600 on", err)
	}
	if err := unix.Listen(fd, listenBacklog()); err != nil {
		os.Remove(path)
		return fail("listening on", err)
	}
	f := os.NewFile(uintptr(fd), path)
	ln, err := net.FileListener(f) // dups the descriptor
	f.Close()
	if err != nil {
		os.Remove(path)
		return nil, fmt.Errorf("mux: listening on %s: %w", path, err)
	}
	return ln.(*net.UnixListener), nil
}

// listenBacklog is the backlog Go's own net.Listen uses on Linux: the
// kernel's somaxconn, capped to what every kernel stores.
func listenBacklog() int {
	b, err := os.ReadFile("/proc/sys/net/core/somaxconn")
	if err != nil {
		return unix.SOMAXCONN
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n <= 0 {
		return unix.SOMAXCONN
	}
	return min(n, 1<<16-1)
}

// peerUID returns the effective uid of the process at the other end of c,
// as it was when it connected (SO_PEERCRED).
func peerUID(c *net.UnixConn) (int, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return -1, err
	}
	var cred *unix.Ucred
	var gerr error
	if err := rc.Control(func(fd uintptr) {
		cred, gerr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return -1, err
	}
	if gerr != nil {
		return -1, fmt.Errorf("SO_PEERCRED: %w", gerr)
	}
	return int(cred.Uid), nil
}

// stdioFile is one of a client's stdin, stdout or stderr, received over the
// control socket, made pollable so that closing it stops a blocked copy.
//
// The client's descriptor shares its open file description (and with it
// O_NONBLOCK) with the client and whoever started it. For ttys and pipes the
// master opens a private description through /proc/self/fd instead; for
// the rest (sockets, or when reopening fails) it sets O_NONBLOCK on the
// shared one, as OpenSSH's master does, and restores it when done through a
// duplicate it keeps for that purpose.
type stdioFile struct {
	f       *os.File
	keep    int // a duplicate for restoring the flags, or -1
	flags   int // the original file status flags
	isTTY   bool
	termios *unix.Termios // the tty's modes when it was received
}

func openStdio(fd int, name string, write bool) *stdioFile {
	sf := &stdioFile{keep: -1}
	var st unix.Stat_t
	kind := uint32(0)
	if unix.Fstat(fd, &st) == nil {
		kind = st.Mode & unix.S_IFMT
	}
	if t, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil {
		sf.isTTY, sf.termios = true, t
	}
	if sf.isTTY || kind == unix.S_IFIFO {
		mode := unix.O_RDONLY
		if write {
			mode = unix.O_WRONLY
		}
		nfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), mode|unix.O_NONBLOCK|unix.O_NOCTTY|unix.O_CLOEXEC, 0)
		if err == nil {
			unix.Close(fd)
			sf.f = os.NewFile(uintptr(nfd), name)
			return sf
		}
	}
	if sf.isTTY || kind == unix.S_IFIFO || kind == unix.S_IFSOCK {
		if fl, err := unix.FcntlInt(uintptr(fd), unix.F_GETFL, 0); err == nil && fl&unix.O_NONBLOCK == 0 {
			if keep, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 0); err == nil {
				if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, fl|unix.O_NONBLOCK); err == nil {
					sf.keep, sf.flags = keep, fl
				} else {
					unix.Close(keep)
				}
			}
		}
	}
	sf.f = os.NewFile(uintptr(fd), name)
	return sf
}

// close closes the file; it may be called while a copy is blocked on it.
func (sf *stdioFile) close() { sf.f.Close() }

// release restores the description's original flags. Call it after close,
// once no goroutine uses the file any more.
func (sf *stdioFile) release() {
	if sf.keep >= 0 {
		unix.FcntlInt(uintptr(sf.keep), unix.F_SETFL, sf.flags)
		unix.Close(sf.keep)
		sf.keep = -1
	}
}

// winSize returns the tty's window size in characters and pixels; ok is
// false when f is not a tty.
func (sf *stdioFile) winSize() (cols, rows, xpix, ypix uint32, ok bool) {
	if !sf.isTTY {
		return 0, 0, 0, 0, false
	}
	rc, err := sf.f.SyscallConn()
	if err != nil {
		return 0, 0, 0, 0, false
	}
	var ws *unix.Winsize
	var werr error
	if rc.Control(func(fd uintptr) { ws, werr = unix.IoctlGetWinsize(int(fd), unix.TIOCGWINSZ) }) != nil || werr != nil {
		return 0, 0, 0, 0, false
	}
	return uint32(ws.Col), uint32(ws.Row), uint32(ws.Xpixel), uint32(ws.Ypixel), true
}

// Terminal mode opcodes of RFC 4254 section 8.
const (
	ttyOpEnd    = 0
	ttyOpISpeed = 128
	ttyOpOSpeed = 129
)

// termModes encodes the tty's modes for a "pty-req", as OpenSSH's master
// does with the modes it read before the client went raw: the control
// characters and the common flags. A non-tty gets an empty list.
func (sf *stdioFile) termModes() []byte {
	var b []byte
	put := func(op byte, v uint32) { b = appendU32(append(b, op), v) }
	if t := sf.termios; t != nil {
		for _, c := range []struct {
			op  byte
			idx int
		}{
			{1, unix.VINTR}, {2, unix.VQUIT}, {3, unix.VERASE}, {4, unix.VKILL},
			{5, unix.VEOF}, {6, unix.VEOL}, {7, unix.VEOL2}, {8, unix.VSTART},
			{9, unix.VSTOP}, {10, unix.VSUSP}, {12, unix.VREPRINT}, {13, unix.VWERASE},
			{14, unix.VLNEXT}, {18, unix.VDISCARD},
		} {
			put(c.op, uint32(t.Cc[c.idx]))
		}
		flag := func(op byte, set bool) {
			v := uint32(0)
			if set {
				v = 1
			}
			put(op, v)
		}
		flag(30, t.Iflag&unix.IGNPAR != 0)
		flag(31, t.Iflag&unix.PARMRK != 0)
		flag(32, t.Iflag&unix.INPCK != 0)
		flag(33, t.Iflag&unix.ISTRIP != 0)
		flag(34, t.Iflag&unix.INLCR != 0)
		flag(35, t.Iflag&unix.IGNCR != 0)
		flag(36, t.Iflag&unix.ICRNL != 0)
		flag(37, t.Iflag&unix.IUCLC != 0)
		flag(38, t.Iflag&unix.IXON != 0)
		flag(39, t.Iflag&unix.IXANY != 0)
		flag(40, t.Iflag&unix.IXOFF != 0)
		flag(41, t.Iflag&unix.IMAXBEL != 0)
		flag(42, t.Iflag&unix.IUTF8 != 0)
		flag(50, t.Lflag&unix.ISIG != 0)
		flag(51, t.Lflag&unix.ICANON != 0)
		flag(53, t.Lflag&unix.ECHO != 0)
		flag(54, t.Lflag&unix.ECHOE != 0)
		flag(55, t.Lflag&unix.ECHOK != 0)
		flag(56, t.Lflag&unix.ECHONL != 0)
		flag(57, t.Lflag&unix.NOFLSH != 0)
		flag(58, t.Lflag&unix.TOSTOP != 0)
		flag(59, t.Lflag&unix.IEXTEN != 0)
		flag(60, t.Lflag&unix.ECHOCTL != 0)
		flag(61, t.Lflag&unix.ECHOKE != 0)
		flag(62, t.Lflag&unix.PENDIN != 0)
		flag(70, t.Oflag&unix.OPOST != 0)
		flag(71, t.Oflag&unix.OLCUC != 0)
		flag(72, t.Oflag&unix.ONLCR != 0)
		flag(73, t.Oflag&unix.OCRNL != 0)
		flag(74, t.Oflag&unix.ONOCR != 0)
		flag(75, t.Oflag&unix.ONLRET != 0)
		flag(90, t.Cflag&unix.CS7 == unix.CS7)
		flag(91, t.Cflag&unix.CS8 == unix.CS8)
		flag(92, t.Cflag&unix.PARENB != 0)
		flag(93, t.Cflag&unix.PARODD != 0)
		put(ttyOpISpeed, baud(t.Ispeed))
		put(ttyOpOSpeed, baud(t.Ospeed))
	}
	return append(b, ttyOpEnd)
}

// baud turns a termios speed (a Bxxx constant on Linux) into bits per second.
func baud(s uint32) uint32 {
	switch s & unix.CBAUD {
	case unix.B9600:
		return 9600
	case unix.B19200:
		return 19200
	case unix.B38400:
		return 38400
	case unix.B57600:
		return 57600
	case unix.B115200:
		return 115200
	case unix.B230400:
		return 230400
	}
	return 38400
}

// notifyWinch asks for SIGWINCH on c: ssh relays it to the master's pid (the
// one MUX_S_ALIVE reported) when its terminal is resized.
func notifyWinch(c chan<- os.Signal) { signal.Notify(c, unix.SIGWINCH) }
