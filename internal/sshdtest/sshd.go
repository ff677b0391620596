package sshdtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

const (
	// readyTimeout bounds the wait for sshd to listen. sshd is up in a few
	// milliseconds; the slack is for loaded CI machines running -race.
	readyTimeout = 10 * time.Second
	// startAttempts is how often Start picks a new free port when sshd
	// exits before listening (another process took the port in between).
	startAttempts = 5
	// stopTimeout bounds the wait for SIGKILLed processes to disappear.
	stopTimeout = 10 * time.Second

	// markerEnv is set by sshd (SetEnv) in every session's environment.
	// It cannot mark sshd's own processes: their environment in /proc is
	// overwritten when sshd sets its process title.
	markerEnv = "FLEET_SSHDTEST_SESSION"
)

// Require returns the absolute path of sshd, searched in PATH and then at
// /usr/sbin/sshd (not in a non-root user's PATH on Debian). When there is no
// sshd it skips the test, or fails it when FLEET_REQUIRE_SSHD=1, as CI sets
// after installing openssh-server so that tests cannot silently skip there.
// Start calls it; call it directly in tests that need sshd but not a server.
func Require(t testing.TB) string {
	t.Helper()
	path, err := findSSHD(exec.LookPath, "/usr/sbin/sshd")
	if err == nil && runtime.GOOS != "linux" {
		err = errors.New("sshdtest needs Linux (it reads /proc)")
	}
	if err != nil {
		unavailable(t, fmt.Sprintf("sshd not found: install openssh-server (%v)", err))
	}
	return path
}

// requireEnv names the variable that turns a skip for want of something on
// the machine into a failure.
const requireEnv = "FLEET_REQUIRE_SSHD"

// unavailable skips the test because the machine lacks what it needs, as
// msg says, or fails it when FLEET_REQUIRE_SSHD=1.
func unavailable(t testing.TB, msg string) {
	t.Helper()
	if os.Getenv(requireEnv) == "1" {
		t.Fatalf("sshdtest: %s (a failure because %s=1)", msg, requireEnv)
	}
	t.Skipf("sshdtest: %s; set %s=1 to make this a failure", msg, requireEnv)
}

// findSSHD looks sshd up with lookPath, then tries fallback.
func findSSHD(lookPath func(string) (string, error), fallback string) (string, error) {
	if p, err := lookPath("sshd"); err == nil {
		return filepath.Abs(p) // sshd re-executes itself per connection: it needs an absolute path
	}
	if fi, err := os.Stat(fallback); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
		return fallback, nil
	}
	return "", fmt.Errorf("no sshd in PATH or at %s", fallback)
}

// Options configure a server. The zero value is a working server with one
// ed25519 host key on a random loopback address and a free port.
type Options struct {
	// Addr is the loopback IP to listen on, e.g. "127.0.5.9". Empty picks
	// a random 127.x.y.z with x ≥ 1, which keeps clear of 127.0.0.1 and
	// Debian's 127.0.1.1 hostname address, and lets many servers share a
	// port number on different addresses, as hosts in an inventory do.
	Addr string
	// Port is the TCP port; 0 picks a free one.
	Port int
	// MaxSessions is written as sshd's MaxSessions when not 0; sshd's
	// default is 10 sessions per connection.
	MaxSessions int
	// HostKeyTypes are the host keys to generate, in the order of the
	// HostKey lines (which is sshd's order of preference): "ed25519",
	// "ecdsa" (P-256) or "rsa" (2048 bits). Empty means {"ed25519"}.
	HostKeyTypes []string
	// SFTP chooses the sftp subsystem. Empty means the system's
	// sftp-server binary (sshd's internal-sftp when there is none); "none"
	// configures no subsystem at all, like a host without sftp, so that a
	// client's subsystem request fails; anything else is written verbatim
	// as the command of the "Subsystem sftp" line, e.g. "internal-sftp" or
	// "/usr/lib/openssh/sftp-server -l DEBUG3". sshd runs it with the login
	// user's shell, but checks first that its first word is an existing
	// file (except for internal-sftp).
	SFTP string
	// FileSizeLimitKB, when positive, caps the files the sftp subsystem
	// writes at that many KiB (RLIMIT_FSIZE, as `ulimit -f` sets it): a
	// write past it fails with EFBIG, which sftp-server answers with
	// SSH_FX_FAILURE, while the session goes on. This is how tests make a
	// disk full. It needs a separate sftp-server process, so it cannot be
	// combined with "internal-sftp" or "none".
	FileSizeLimitKB int
	// PasswordAuth lets TestUser log in with the password SetPassword
	// gives it, as well as with the client key.
	PasswordAuth bool
	// PrivateDir, when set, gives the server a mount namespace of its own
	// in which this directory is bind-mounted at PrivateAt: every session
	// of this host sees its own PrivateDir at PrivateAt, as separate
	// machines each have their own /srv. It needs root and unshare(1).
	PrivateDir, PrivateAt string
	// Extra lines are appended to sshd_config. Keep Match blocks here.
	// SetEnv lines before any Match are merged into the server's own SetEnv,
	// because sshd uses only the first SetEnv line.
	Extra []string
}

// Server is a running sshd. Its methods may be called from any goroutine,
// except WriteKnownHosts, which fails the test with t.Fatal.
type Server struct {
	t          testing.TB
	private    [2]string // Options.PrivateDir and PrivateAt
	sshdPath   string
	dir        string
	configPath string
	logPath    string
	addr       string
	port       int
	user       string
	hostKeys   []ssh.PublicKey
	marker     string // markerEnv=value, in the environment of all its sessions' processes

	cmd    *exec.Cmd
	exited chan struct{} // closed once cmd.Wait returned

	mu       sync.Mutex
	frozen   []int
	stopOnce sync.Once
}

// Start starts sshd for the test and stops it, with every process it
// started, when the test ends. It fails the test, with sshd's log, if sshd
// cannot be configured or does not come up.
//
// As root the server lets in only TestUser (created if missing); otherwise
// only the current user. Either way it accepts ClientKeyPath's key only.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	sshdPath := Require(t)
	login, err := loginUser()
	if err != nil {
		t.Fatal(err)
	}
	signer, _, err := loadClientKey()
	if err != nil {
		t.Fatal(err)
	}
	addr := opts.Addr
	if addr == "" {
		addr = randomLoopback()
	} else if ip := net.ParseIP(addr); ip == nil || !ip.IsLoopback() {
		t.Fatalf("sshdtest: Options.Addr %q is not a loopback IP address; use 127.x.y.z or leave it empty", addr)
	}

	dir, err := os.MkdirTemp("", "fleet-sshd-")
	if err != nil {
		t.Fatalf("sshdtest: create server directory: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := makeReadable(dir, login); err != nil {
		t.Fatal(err)
	}

	types := opts.HostKeyTypes
	if len(types) == 0 {
		types = []string{"ed25519"}
	}
	keyPaths, hostKeys, err := writeHostKeys(dir, types)
	if err != nil {
		t.Fatal(err)
	}
	authorized := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(authorized, ssh.MarshalAuthorizedKey(signer.PublicKey()), 0o644); err != nil {
		t.Fatalf("sshdtest: write authorized_keys: %v", err)
	}
	// WriteFile's mode is masked by the umask; sshd reads this file as the login user.
	if err := os.Chmod(authorized, 0o644); err != nil {
		t.Fatalf("sshdtest: %v", err)
	}

	subsystem, err := sftpSubsystem(dir, opts)
	if errors.Is(err, errNoSFTPServer) {
		unavailable(t, errNoSFTPServer.Error())
	} else if err != nil {
		t.Fatal(err)
	}

	s := &Server{
		t:          t,
		sshdPath:   sshdPath,
		dir:        dir,
		configPath: filepath.Join(dir, "sshd_config"),
		logPath:    filepath.Join(dir, "sshd.log"),
		addr:       addr,
		user:       login,
		hostKeys:   hostKeys,
		marker:     markerEnv + "=" + randomHex(8),
		private:    [2]string{opts.PrivateDir, opts.PrivateAt},
	}
	cfg := configTemplate{
		user:        login,
		hostKeys:    keyPaths,
		authorized:  authorized,
		marker:      s.marker,
		sftp:        subsystem,
		maxSessions: opts.MaxSessions,
		password:    opts.PasswordAuth,
		extra:       opts.Extra,
		penalties:   supportsPenalties(sshdPath),
	}

	var failures []string
	for attempt := 1; attempt <= startAttempts; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(addr); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(s.configPath, []byte(cfg.render(addr, port)), 0o600); err != nil {
			t.Fatalf("sshdtest: write sshd_config: %v", err)
		}
		if err := s.validate(); err != nil {
			t.Fatal(err)
		}
		s.port = port
		err := s.start()
		if err == nil {
			return s
		}
		failures = append(failures, fmt.Sprintf("attempt %d on %s: %v", attempt, s.HostPort(), err))
		if opts.Port != 0 || !errors.Is(err, errExited) {
			break
		}
	}
	t.Fatalf("sshdtest: sshd did not start:\n%s", strings.Join(failures, "\n"))
	return nil
}

var errExited = errors.New("sshd exited before listening")

// start runs sshd and waits until it listens. On failure it has stopped
// sshd again and returns an error holding its log.
func (s *Server) start() error {
	os.Remove(s.logPath)
	stderr, err := os.Create(filepath.Join(s.dir, "sshd.stderr"))
	if err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	defer stderr.Close()
	cmd := exec.Command(s.sshdPath, "-D", "-f", s.configPath, "-E", s.logPath)
	if s.private[0] != "" {
		// unshare execs (no fork) into a new mount namespace whose mounts
		// don't propagate back; sh bind-mounts the host's directory and
		// execs sshd, so the pid stays sshd's.
		script := `mkdir -p "$2" && mount --bind "$1" "$2" && shift 2 && exec "$@"`
		cmd = exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
			s.private[0], s.private[1], s.sshdPath, "-D", "-f", s.configPath, "-E", s.logPath)
	}
	cmd.Stdout, cmd.Stderr = stderr, stderr
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("sshdtest: run %s: %w", s.sshdPath, err)
	}
	s.cmd = cmd
	s.exited = make(chan struct{})
	go func() {
		// Owned by the Server: stop waits for exited.
		cmd.Wait()
		close(s.exited)
	}()

	// Readiness comes from the log, not from a test connection: tests count
	// "Connection from" lines, so the harness must not make connections.
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if strings.Contains(s.Log(), "Server listening on") {
			s.t.Cleanup(s.Stop)
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%w (%v); sshd log:\n%s%s", errExited, cmd.ProcessState, s.Log(), readFile(stderr.Name()))
		case <-ctx.Done():
			s.Stop()
			return fmt.Errorf("sshdtest: sshd (pid %d) not listening after %v; sshd log:\n%s%s",
				cmd.Process.Pid, readyTimeout, s.Log(), readFile(stderr.Name()))
		case <-tick.C:
		}
	}
}

// validate runs `sshd -t`, which reports config errors more clearly than a
// server that exits.
func (s *Server) validate() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, s.sshdPath, "-t", "-f", s.configPath).CombinedOutput()
	if err != nil {
		return fmt.Errorf("sshdtest: sshd -t rejects the generated config %s: %v\n%s\nconfig:\n%s",
			s.configPath, err, strings.TrimSpace(string(out)), readFile(s.configPath))
	}
	return nil
}

type configTemplate struct {
	password    bool
	user        string
	hostKeys    []string
	authorized  string
	marker      string
	sftp        string // command of the sftp subsystem; empty for none
	maxSessions int
	extra       []string
	penalties   bool
}

func (c configTemplate) render(addr string, port int) string {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by fleetrun.dev/fleet/internal/sshdtest.")
	line("ListenAddress %s", net.JoinHostPort(addr, strconv.Itoa(port)))
	for _, k := range c.hostKeys {
		line("HostKey %s", quote(k))
	}
	line("PidFile none")
	line("UsePAM no")
	line("PasswordAuthentication %s", map[bool]string{true: "yes", false: "no"}[c.password])
	line("KbdInteractiveAuthentication no")
	line("PubkeyAuthentication yes")
	line("PermitRootLogin no")
	line("AllowUsers %s", c.user)
	// The file is in the server's temp dir, which root owns.
	line("AuthorizedKeysFile %s", quote(strings.ReplaceAll(c.authorized, "%", "%%")))
	line("StrictModes no")
	line("LogLevel VERBOSE")
	if c.sftp != "" {
		line("Subsystem sftp %s", c.sftp)
	}
	// Tests open many connections at once; the default 10:30:100 drops some.
	line("MaxStartups 100:30:200")
	line("AcceptEnv LANG LC_* FLEET_*")
	if c.penalties {
		// OpenSSH 9.8+ refuses a source address for a while after its
		// connections crash or fail to authenticate, which tests do on purpose.
		line("PerSourcePenalties no")
	}
	if c.maxSessions != 0 {
		line("MaxSessions %d", c.maxSessions)
	}
	env := []string{c.marker}
	var rest []string
	inMatch := false
	for _, l := range c.extra {
		f := strings.Fields(l)
		if len(f) > 0 && strings.EqualFold(f[0], "Match") {
			inMatch = true
		}
		if !inMatch && len(f) > 0 && strings.EqualFold(f[0], "SetEnv") {
			env = append(env, f[1:]...)
			continue
		}
		rest = append(rest, l)
	}
	// Every session's processes inherit this, so UserProcesses and Kill
	// find them after they leave the sshd process tree.
	line("SetEnv %s", strings.Join(env, " "))
	for _, l := range rest {
		line("%s", l)
	}
	return b.String()
}

func quote(path string) string { return `"` + path + `"` }

var penaltiesCache sync.Map // sshd path → bool

// supportsPenalties reports whether sshd is OpenSSH 9.8 or newer, which
// knows PerSourcePenalties.
func supportsPenalties(sshdPath string) bool {
	if v, ok := penaltiesCache.Load(sshdPath); ok {
		return v.(bool)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, sshdPath, "-V").CombinedOutput()
	v := versionAtLeast(string(out), 9, 8)
	penaltiesCache.Store(sshdPath, v)
	return v
}

var versionRE = regexp.MustCompile(`OpenSSH_(\d+)\.(\d+)`)

// versionAtLeast reports whether the output of `sshd -V` names OpenSSH
// major.minor or newer.
func versionAtLeast(out string, major, minor int) bool {
	m := versionRE.FindStringSubmatch(out)
	if m == nil {
		return false
	}
	ma, _ := strconv.Atoi(m[1])
	mi, _ := strconv.Atoi(m[2])
	return ma > major || ma == major && mi >= minor
}

// makeReadable opens dir to the login user: sshd reads authorized_keys as
// that user, and os.MkdirTemp makes directories only root can enter.
func makeReadable(dir, login string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return fmt.Errorf("sshdtest: %w", err)
	}
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("sshdtest: %w", err)
		}
		if fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("sshdtest: %s is not searchable by others, so sshd cannot read authorized_keys below it as %s; set TMPDIR to a directory everyone can enter, such as /tmp",
				p, login)
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

// randomLoopback returns 127.x.y.z with x, y, z in 1..254.
func randomLoopback() string {
	b := func() int64 {
		n, _ := rand.Int(rand.Reader, big.NewInt(254))
		return n.Int64() + 1
	}
	return fmt.Sprintf("127.%d.%d.%d", b(), b(), b())
}

func randomHex(n int) string {
	buf := make([]byte, n)
	rand.Read(buf)
	return hex.EncodeToString(buf)
}

// freePort asks the kernel for a free port on addr. Another process may take
// it before sshd binds it; Start then retries with a new one.
func freePort(addr string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		return 0, fmt.Errorf("sshdtest: find a free port on %s: %w", addr, err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// Addr returns the IP address sshd listens on.
func (s *Server) Addr() string { return s.addr }

// Port returns the TCP port sshd listens on.
func (s *Server) Port() int { return s.port }

// HostPort returns "ip:port", for net.Dial and ssh.Dial.
func (s *Server) HostPort() string { return net.JoinHostPort(s.addr, strconv.Itoa(s.port)) }

// User returns the user the server lets in: TestUser when the tests run as
// root, the current user otherwise.
func (s *Server) User() string { return s.user }

// Dir returns the server's private directory, with its sshd_config, keys
// and log. It is removed when the test ends.
func (s *Server) Dir() string { return s.dir }

// ClientKeyPath returns the same file as the package's ClientKeyPath.
func (s *Server) ClientKeyPath() string { return ClientKeyPath() }

// HostKeys returns the server's public host keys in HostKey order.
func (s *Server) HostKeys() []ssh.PublicKey { return append([]ssh.PublicKey(nil), s.hostKeys...) }

// KnownHostsLines returns one known_hosts line per host key, for "[ip]:port",
// or for plain "ip" when the port is 22, as OpenSSH writes them.
func (s *Server) KnownHostsLines() []string {
	lines := make([]string, len(s.hostKeys))
	for i, k := range s.hostKeys {
		lines[i] = knownhosts.Line([]string{s.HostPort()}, k)
	}
	return lines
}

// WriteKnownHosts appends KnownHostsLines to the file at path, creating it
// if needed. It fails the test on error.
func (s *Server) WriteKnownHosts(path string) {
	s.t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		s.t.Fatalf("sshdtest: open known_hosts: %v", err)
	}
	_, err = f.WriteString(strings.Join(s.KnownHostsLines(), "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.t.Fatalf("sshdtest: write known_hosts %s: %v", path, err)
	}
}

// Log returns the whole sshd log so far.
func (s *Server) Log() string { return readFile(s.logPath) }

// CountLog returns how many lines of the log contain substr. With LogLevel
// VERBOSE sshd logs "Connection from" once per TCP connection and
// "Accepted publickey for" once per login.
//
// sshd logs a login just after telling the client it succeeded, so right
// after a login the line may not be there yet: use WaitLogCount.
func (s *Server) CountLog(substr string) int {
	n := 0
	for line := range strings.Lines(s.Log()) {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// WaitLogCount waits until at least n log lines contain substr, or ctx
// ends, and returns the count then. Compare it with n to show that there
// are exactly n such lines and not more.
func (s *Server) WaitLogCount(ctx context.Context, substr string, n int) (int, error) {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		got := s.CountLog(substr)
		if got >= n {
			return got, nil
		}
		select {
		case <-ctx.Done():
			return got, fmt.Errorf("sshdtest: %d of %d log lines with %q: %w", got, n, substr, ctx.Err())
		case <-tick.C:
		}
	}
}

// PID returns the process id of the listening sshd.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Descendants returns every live process below the listening sshd: per
// connection sshd processes and the commands they run. A remote command
// whose sshd died is re-parented to init and is no longer here; see
// UserProcesses and FindProcesses.
func (s *Server) Descendants() []Process {
	if !s.running() {
		// Once reaped, its pid may belong to an unrelated process.
		return nil
	}
	return descendantsOf(s.PID())
}

// running reports whether the listener has not been reaped yet.
func (s *Server) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// ConnectionPIDs returns the per-connection sshd processes, the children of
// the listener (each is the privileged monitor of one connection).
func (s *Server) ConnectionPIDs() []int {
	var pids []int
	for _, p := range s.Descendants() {
		if p.PPID == s.PID() {
			pids = append(pids, p.PID)
		}
	}
	return pids
}

// UserProcesses returns the live processes that this server's sessions
// started, whether still below the listener or re-parented to init. sshd
// puts a marker variable into every session's environment; a command that
// clears its environment (env -i) is not found. As non-root only processes
// of the current user can be inspected, which is every session process.
func (s *Server) UserProcesses() []Process {
	return withEnv(s.marker)
}

// all returns the listener's descendants and its sessions' processes.
func (s *Server) all() []int {
	return append(pidsOf(s.Descendants()), pidsOf(withEnv(s.marker))...)
}

// KillConnections SIGKILLs every per-connection sshd and everything below
// it, so clients see their connections die as if the host went away; the
// listener stays up and accepts new connections. It returns once the killed
// processes are gone.
func (s *Server) KillConnections() {
	s.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := killAll(ctx, func() []int { return pidsOf(s.Descendants()) }); err != nil {
		s.t.Error(err)
	}
}

// FreezeConnections SIGSTOPs every process below the listener, so that
// connections stay open but nothing answers, as with a hung host or a
// dropped network; keepalives then time out. New connections still get
// through to the listener. Thaw resumes the frozen processes.
func (s *Server) FreezeConnections() {
	ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	pids := stopAll(ctx, func() []int { return pidsOf(s.Descendants()) })
	s.mu.Lock()
	s.frozen = append(s.frozen, pids...)
	s.mu.Unlock()
}

// Thaw resumes the processes FreezeConnections stopped.
func (s *Server) Thaw() {
	s.mu.Lock()
	pids := s.frozen
	s.frozen = nil
	s.mu.Unlock()
	for _, pid := range pids {
		syscall.Kill(pid, syscall.SIGCONT)
	}
}

// Signal sends sig to the listening sshd only. SIGHUP makes sshd re-read
// its config (and re-exec itself, keeping its pid).
func (s *Server) Signal(sig syscall.Signal) error {
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("sshdtest: signal sshd (pid %d): %w", s.PID(), err)
	}
	return nil
}

// Kill SIGKILLs the listener, every process below it and every process of
// its sessions that left the tree, and waits until all of them are gone.
// Clients see their connections die and new connections refused. Kill is
// what the test's cleanup does; calling it again does nothing.
func (s *Server) Kill() { s.Stop() }

// Stop is Kill. sshd has no graceful shutdown that waits for sessions, so
// there is nothing gentler to offer.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
		defer cancel()
		// The listener is signalled through os.Process, which cannot hit a
		// reused pid. Stopped first, it accepts no connection while the
		// rest is killed; its dead children stay zombies until it dies.
		s.cmd.Process.Signal(syscall.SIGSTOP)
		err := killAll(ctx, s.all)
		s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-ctx.Done():
			err = errors.Join(err, fmt.Errorf("sshdtest: sshd (pid %d) not reaped after SIGKILL", s.PID()))
		}
		if err != nil {
			s.t.Error(err)
		}
	})
}
