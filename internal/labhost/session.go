package labhost

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"sync"
	"syscall"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// signals are the signal names of RFC 4254 section 6.10 (without "SIG")
// that a "signal" request may send and an "exit-signal" may report.
var signals = map[string]syscall.Signal{
	"ABRT": syscall.SIGABRT,
	"ALRM": syscall.SIGALRM,
	"FPE":  syscall.SIGFPE,
	"HUP":  syscall.SIGHUP,
	"ILL":  syscall.SIGILL,
	"INT":  syscall.SIGINT,
	"KILL": syscall.SIGKILL,
	"PIPE": syscall.SIGPIPE,
	"QUIT": syscall.SIGQUIT,
	"SEGV": syscall.SIGSEGV,
	"TERM": syscall.SIGTERM,
	"USR1": syscall.SIGUSR1,
	"USR2": syscall.SIGUSR2,
}

func signalName(sig syscall.Signal) string {
	for name, s := range signals {
		if s == sig {
			return name
		}
	}
	return ""
}

// copyBufs keeps copy buffers small and shared: with a thousand lab hosts in
// one process, io.Copy's 32 KiB per direction per command would add up.
var copyBufs = sync.Pool{New: func() any { b := make([]byte, 8<<10); return &b }}

func copyData(dst io.Writer, src io.Reader) error {
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	buf := *bp
	for {
		n, err := src.Read(buf)
		if n > 0 {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return werr
			}
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// session is one session channel. Its requests are handled in order by
// serveSession; the command or SFTP server runs in goroutines it owns.
type session struct {
	srv *Server
	sc  *ssh.ServerConn
	ch  ssh.Channel
	env []string // from "env" requests, NAME=value

	started bool           // an exec or subsystem request was accepted
	wg      sync.WaitGroup // the command or SFTP goroutines

	mu       sync.Mutex
	pgid     int        // process group of the running command
	running  bool       // the command has not been reaped yet
	readEnds []*os.File // stdout and stderr pipes, closed on teardown
}

// serveSession handles a session channel until the client closes it or the
// connection goes away; then it kills whatever the session still runs.
func (s *Server) serveSession(sc *ssh.ServerConn, ch ssh.Channel, reqs <-chan *ssh.Request) {
	x := &session{srv: s, sc: sc, ch: ch}
	for req := range reqs {
		ok, then := x.handle(req)
		if req.WantReply {
			req.Reply(ok, nil)
		}
		if then != nil {
			// Started after the reply so "exit-status" can never precede it.
			then()
		}
	}
	// The channel is gone: like sshd, kill the command rather than leave it
	// running with nobody to read its output.
	x.teardown()
	ch.Close()
	x.wg.Wait()
}

// handle acts on one channel request. It returns the reply and, for a
// request that started something, a function to run after replying.
func (x *session) handle(req *ssh.Request) (ok bool, then func()) {
	switch req.Type {
	case "env":
		var p struct{ Name, Value string }
		if ssh.Unmarshal(req.Payload, &p) != nil || p.Name == "" {
			return false, nil
		}
		x.env = append(x.env, p.Name+"="+p.Value)
		return true, nil
	case "exec":
		var p struct{ Command string }
		if x.started || ssh.Unmarshal(req.Payload, &p) != nil {
			return false, nil
		}
		then, err := x.exec(p.Command)
		if err != nil {
			x.srv.logf("user %q: exec %q: %v", x.sc.User(), p.Command, err)
			return false, nil
		}
		x.started = true
		x.srv.execCount.Add(1)
		return true, then
	case "subsystem":
		var p struct{ Name string }
		if x.started || ssh.Unmarshal(req.Payload, &p) != nil || p.Name != "sftp" {
			return false, nil
		}
		srv, err := sftp.NewServer(x.ch, sftp.WithServerWorkingDirectory(x.srv.home))
		if err != nil {
			x.srv.logf("user %q: sftp: %v", x.sc.User(), err)
			return false, nil
		}
		x.started = true
		x.srv.sftpCount.Add(1)
		return true, func() {
			x.wg.Go(func() {
				err := srv.Serve()
				if err != nil && !errors.Is(err, io.EOF) {
					x.srv.logf("user %q: sftp: %v", x.sc.User(), err)
				}
				// The exit status goes before pkg/sftp's Close closes
				// the channel, as sftp-server's does under sshd. No
				// CloseWrite: pkg/sftp's server may still be sending its
				// last reply, and x/crypto's CloseWrite races a Write.
				x.sendExitStatus(0)
				srv.Close()
				x.ch.Close()
			})
		}
	case "signal":
		var p struct{ Signal string }
		if ssh.Unmarshal(req.Payload, &p) != nil {
			return false, nil
		}
		sig, known := signals[p.Signal]
		return known && x.signal(sig), nil
	default:
		// "pty-req", "shell", "x11-req", "auth-agent-req@openssh.com" and
		// anything else are not supported; a false reply tells the client.
		return false, nil
	}
}

// exec starts `Shell -c command` in its own process group and returns the
// function that wires it to the channel.
func (x *session) exec(command string) (func(), error) {
	var files []*os.File // every pipe end, for cleanup on failure
	pipe := func() (r, w *os.File, err error) {
		r, w, err = os.Pipe()
		if err == nil {
			files = append(files, r, w)
		}
		return r, w, err
	}
	fail := func(err error) (func(), error) {
		for _, f := range files {
			f.Close()
		}
		return nil, err
	}
	stdinR, stdinW, err := pipe()
	if err != nil {
		return fail(err)
	}
	outR, outW, err := pipe()
	if err != nil {
		return fail(err)
	}
	errR, errW, err := pipe()
	if err != nil {
		return fail(err)
	}
	cmd := exec.Command(x.srv.shell, "-c", command)
	cmd.Dir = x.srv.home
	cmd.Env = append(x.environ(), x.env...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = stdinR, outW, errW
	// Its own process group, so that a signal or a kill reaches every
	// process the command started, not only the shell.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return fail(err)
	}
	// The child has its copies; ours must go so that EOF can be seen.
	stdinR.Close()
	outW.Close()
	errW.Close()

	x.mu.Lock()
	x.pgid = cmd.Process.Pid
	x.running = true
	x.readEnds = []*os.File{outR, errR}
	x.mu.Unlock()

	return func() {
		x.wg.Go(func() {
			// Client EOF closes the command's stdin. This goroutine ends
			// when the channel is torn down at the latest.
			copyData(stdinW, x.ch)
			stdinW.Close()
		})
		x.wg.Go(func() { x.wait(cmd, outR, errR) })
	}, nil
}

// wait copies the command's output until its pipes close, reaps it, and
// reports how it ended. Output is flushed before the exit status, as the
// exit status tells clients that nothing more is coming.
func (x *session) wait(cmd *exec.Cmd, outR, errR *os.File) {
	var copies sync.WaitGroup
	copies.Go(func() { copyData(x.ch, outR) })
	copies.Go(func() { copyData(x.ch.Stderr(), errR) })
	copies.Wait()
	err := cmd.Wait()
	x.mu.Lock()
	x.running = false
	x.mu.Unlock()
	outR.Close()
	errR.Close()

	x.ch.CloseWrite()
	var ee *exec.ExitError
	switch {
	case err == nil:
		x.sendExitStatus(0)
	case errors.As(err, &ee):
		ws, _ := ee.Sys().(syscall.WaitStatus)
		if ws.Signaled() {
			if name := signalName(ws.Signal()); name != "" {
				x.ch.SendRequest("exit-signal", false, ssh.Marshal(struct {
					Signal     string
					CoreDumped bool
					Error      string
					Lang       string
				}{name, ws.CoreDump(), "", ""}))
				break
			}
			x.sendExitStatus(128 + uint32(ws.Signal()))
			break
		}
		x.sendExitStatus(uint32(ws.ExitStatus()))
	default:
		x.srv.logf("user %q: waiting for command: %v", x.sc.User(), err)
		x.sendExitStatus(255)
	}
	x.ch.Close()
}

func (x *session) sendExitStatus(code uint32) {
	x.ch.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{code}))
}

// signal sends sig to the command's process group. Only a command not yet
// reaped is signalled, so its process group id cannot have been reused.
func (x *session) signal(sig syscall.Signal) bool {
	x.mu.Lock()
	defer x.mu.Unlock()
	if !x.running {
		return false
	}
	return syscall.Kill(-x.pgid, sig) == nil
}

// teardown kills the command's process group and stops reading its output,
// so that even a daemonized grandchild holding the pipes cannot keep the
// session (and Server.Close) waiting.
func (x *session) teardown() {
	x.signal(syscall.SIGKILL)
	x.mu.Lock()
	ends := x.readEnds
	x.mu.Unlock()
	for _, f := range ends {
		f.Close()
	}
}

// environ is the base environment of a command, close to what sshd sets.
func (x *session) environ() []string {
	path := os.Getenv("PATH")
	if path == "" {
		path = "/usr/local/bin:/usr/bin:/bin"
	}
	name := currentUser()
	env := []string{
		"PATH=" + path,
		"HOME=" + x.srv.home,
		"USER=" + name,
		"LOGNAME=" + name,
		"SHELL=" + x.srv.shell,
	}
	rh, rp, err1 := net.SplitHostPort(x.sc.RemoteAddr().String())
	lh, lp, err2 := net.SplitHostPort(x.sc.LocalAddr().String())
	if err1 == nil && err2 == nil {
		env = append(env,
			fmt.Sprintf("SSH_CLIENT=%s %s %s", rh, rp, lp),
			fmt.Sprintf("SSH_CONNECTION=%s %s %s %s", rh, rp, lh, lp))
	}
	return env
}

var currentUser = sync.OnceValue(func() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return os.Getenv("USER")
})
