package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/mux"
	"fleetrun.dev/fleet/muxconn/persist"
	"fleetrun.dev/fleet/muxconn/target"
	"fleetrun.dev/fleet/runner"
)

type masterOptions struct {
	app     *app
	conn    connFlags
	Pattern string
	Persist string
	Force   bool
}

func newMasterCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "master",
		Short: "Start, inspect and stop persistent masters that fleet, ssh, scp, sftp and rsync ride",
		Long: `A master is one logged-in connection per host, kept by a background fleet
process and served on the host's ControlPath socket (or ~/.fleet/cm/%C when
ssh_config sets none) in OpenSSH's mux protocol. Later fleet runs ride it
without logging in again, and so do stock OpenSSH clients:

  ssh -S SOCKET host, scp -o ControlPath=SOCKET, sftp, rsync -e 'ssh -S SOCKET'

A master ends after --persist with no sessions, on 'fleet master stop', on
'ssh -O exit', or when its connection dies.`,
	}
	cmd.AddCommand(newMasterStartCmd(a), newMasterStatusCmd(a), newMasterStopCmd(a), newMasterServeCmd(a))
	return cmd
}

// masterSubCmd is one of the PATTERN subcommands of `fleet master`.
func masterSubCmd(a *app, use, short, example string, run func(*cobra.Command, *masterOptions) error) (*cobra.Command, *masterOptions) {
	opts := &masterOptions{app: a}
	name := strings.Fields(use)[0]
	cmd := &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    exactArgs(1, "give a host pattern, e.g. `fleet master "+name+" web`"),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Pattern = args[0]
			return run(cmd, opts)
		},
	}
	addConnFlags(cmd, &opts.conn)
	return cmd, opts
}

func newMasterStartCmd(a *app) *cobra.Command {
	cmd, opts := masterSubCmd(a, "start PATTERN", "Log in to every selected host once and keep the connection for later runs",
		`  fleet master start -i hosts.yml web --persist 30m
  fleet run -i hosts.yml web -- uptime      # rides the masters: no new logins`, masterStart)
	cmd.Flags().StringVar(&opts.Persist, "persist", "10m", "end a master after this long with no sessions (a duration, or yes for never)")
	return cmd
}

func newMasterStatusCmd(a *app) *cobra.Command {
	cmd, _ := masterSubCmd(a, "status PATTERN", "Show each selected host's master: pid, age, idle time and sessions", "", masterStatus)
	return cmd
}

func newMasterStopCmd(a *app) *cobra.Command {
	cmd, opts := masterSubCmd(a, "stop PATTERN", "Stop the selected hosts' masters once their sessions end (--force: now)", "", masterStop)
	cmd.Flags().BoolVar(&opts.Force, "force", false, "stop at once, cutting active sessions")
	return cmd
}

// newMasterServeCmd is the background process `master start` leaves
// behind. It reads the hosts (and a password, with -k) as JSON on stdin,
// reports each host as a JSON line on stdout, then detaches from both.
func newMasterServeCmd(a *app) *cobra.Command {
	opts := &masterOptions{app: a}
	cmd := &cobra.Command{
		Use:    "serve",
		Hidden: true,
		Args:   cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return masterServe(cmd, opts)
		},
	}
	cmd.Flags().StringVar(&opts.Persist, "persist", "10m", "")
	addConnFlags(cmd, &opts.conn)
	return cmd
}

// parsePersist reads --persist / ControlPersist: a duration, or yes (0:
// never end).
func parsePersist(s string) (time.Duration, error) {
	switch strings.ToLower(s) {
	case "yes", "true", "0":
		return 0, nil
	case "no", "false":
		return 0, usageError{fmt.Errorf("--persist %s: a master that ends at once is no use; give a time such as 10m, or yes", s)}
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		if secs, err := strconv.ParseUint(s, 10, 31); err == nil { // ControlPersist's seconds, as ssh -G prints them
			return time.Duration(secs) * time.Second, nil
		}
		return 0, usageError{fmt.Errorf("--persist %q: want a duration such as 10m or 1h, or yes", s)}
	}
	if d < 0 {
		return 0, usageError{fmt.Errorf("--persist must not be negative")}
	}
	return d, nil
}

// masterHello is what `master start` sends the serve process on stdin.
type masterHello struct {
	Hosts    []string `json:"hosts"`
	Password string   `json:"password,omitempty"`
}

// masterReport is one line the serve process writes back: a host's
// outcome, or Ready when every host has one.
type masterReport struct {
	Host   string `json:"host,omitempty"`
	Socket string `json:"socket,omitempty"`
	Error  string `json:"error,omitempty"`
	// Cause is muxconn's, set only when the host could not be reached or
	// logged in to; other errors leave a run free to connect directly.
	Cause   string `json:"cause,omitempty"`
	Already bool   `json:"already,omitempty"` // another master won the socket
	Ready   bool   `json:"ready,omitempty"`
	PID     int    `json:"pid,omitempty"`
}

func masterStart(cmd *cobra.Command, opts *masterOptions) error {
	a := opts.app
	if _, err := parsePersist(opts.Persist); err != nil {
		return err
	}
	c, hosts, err := a.connect(&opts.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()
	ctx := interruptible(cmd)

	// Hosts that have a live master keep it.
	var todo []string
	code := runner.ExitOK
	for _, h := range hosts {
		path := h.Target.ControlPath
		if path == "none" || path == "" {
			fmt.Fprintf(a.io.Out, "%s ! no master: ControlPath is none for it (sharing is off), and fleet found no home directory for its own\n", h.Name)
			code |= runner.ExitUnreachable
			continue
		}
		if pid, err := mux.Check(ctx, path); err == nil {
			fmt.Fprintf(a.io.Out, "%s  master already running (pid %d) at %s\n", h.Name, pid, path)
			continue
		}
		todo = append(todo, h.Name)
	}
	if len(todo) == 0 {
		return exitCode(code)
	}
	hello := masterHello{Hosts: todo}
	if opts.conn.askPass {
		hello.Password = c.auth.Password()
	}
	reports, err := a.spawnMaster(ctx, opts, hello)
	if err != nil {
		return err
	}
	for _, r := range reports {
		switch {
		case r.Error != "":
			fmt.Fprintf(a.io.Out, "%s ! %s\n", r.Host, r.Error)
			code |= runner.ExitUnreachable
		case r.Already:
			fmt.Fprintf(a.io.Out, "%s  master already running at %s\n", r.Host, r.Socket)
		default:
			fmt.Fprintf(a.io.Out, "%s  master started (pid %d) at %s\n", r.Host, r.PID, r.Socket)
		}
	}
	return exitCode(code)
}

// spawnMaster starts `fleet master serve` in a session of its own and
// returns what it reports for each host, once it is ready. If ctx ends
// first, the process is told to stop (it removes what it published).
func (a *app) spawnMaster(ctx context.Context, opts *masterOptions, hello masterHello) ([]masterReport, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("finding fleet's own binary to start the master with: %w", err)
	}
	args := append([]string{"master", "serve", "--persist", opts.Persist}, a.globalArgs()...)
	args = append(args, opts.conn.args()...)
	cmd := exec.Command(exe, args...)
	cmd.Args[0] = "fleet"
	detach(cmd)
	cmd.Env = os.Environ()
	// os.File pipes, which exec copies through no goroutine of its own:
	// the process lives on after this call.
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting the master process: %w", err)
	}
	defer stdout.Close()
	defer stderr.Close()
	json.NewEncoder(stdin).Encode(hello)
	stdin.Close()

	type scanned struct {
		reports []masterReport
		ready   bool
	}
	res := make(chan scanned, 1)
	go func() {
		var sc scanned
		lines := bufio.NewScanner(stdout)
		for lines.Scan() {
			var r masterReport
			if json.Unmarshal(lines.Bytes(), &r) != nil {
				continue
			}
			if r.Ready {
				sc.ready = true
				break
			}
			sc.reports = append(sc.reports, r)
		}
		res <- sc
	}()
	var sc scanned
	select {
	case sc = <-res:
	case <-ctx.Done():
		cmd.Process.Signal(syscall.SIGTERM)
		<-res // its stdout closes as it exits
		cmd.Wait()
		return nil, ctx.Err()
	}
	if !sc.ready {
		msg, _ := io.ReadAll(io.LimitReader(stderr, 8<<10))
		werr := cmd.Wait()
		return nil, fmt.Errorf("the master process ended before it was ready (%v): %s", werr, strings.TrimSpace(string(msg)))
	}
	// It lives on without us, its stdio on /dev/null from now on.
	cmd.Process.Release()
	return sc.reports, nil
}

func masterServe(cmd *cobra.Command, opts *masterOptions) error {
	a := opts.app
	// "config": each host's own ControlPersist (a run that starts masters).
	persistFor, err := time.Duration(0), error(nil)
	if opts.Persist != "config" {
		if persistFor, err = parsePersist(opts.Persist); err != nil {
			return err
		}
	}
	var hello masterHello
	if err := json.NewDecoder(a.io.In).Decode(&hello); err != nil {
		return fmt.Errorf("master serve: reading its hosts on stdin: %w", err)
	}
	opts.conn.fresh = true // serve the host itself; never ride another master
	opts.conn.noSpawn = true
	if hello.Password != "" {
		a.prompt = fixedPassword(hello.Password)
		opts.conn.askPass = true
	}
	// A master outlives its terminal; its reports must not kill it either.
	signal.Ignore(syscall.SIGHUP, syscall.SIGPIPE)
	a.only = hello.Hosts
	c, all, err := a.connect(&opts.conn, "all")
	if err != nil {
		return err
	}
	defer c.close()
	ctx := interruptible(cmd)

	out := json.NewEncoder(a.io.Out)
	var outMu sync.Mutex
	report := func(r masterReport) {
		outMu.Lock()
		out.Encode(r)
		outMu.Unlock()
	}
	type published struct {
		p *persist.Published
		m *muxconn.Master
	}
	var pubs []published
	var pubMu sync.Mutex
	var g errgroup.Group
	g.SetLimit(opts.conn.forks)
	for _, h := range all {
		g.Go(func() error {
			m, err := c.pool.Get(ctx, h.Target)
			if err != nil {
				r := masterReport{Host: h.Name, Error: err.Error()}
				var u *muxconn.UnreachableError
				if errors.As(err, &u) {
					r.Error, r.Cause = u.Reason(), string(u.Cause)
				}
				report(r)
				return nil
			}
			path := h.Target.ControlPath
			if err := socketDir(path); err != nil {
				m.Release()
				report(masterReport{Host: h.Name, Error: fmt.Sprintf("can't make the socket's directory: %v", err)})
				return nil
			}
			hostPersist := persistFor
			if opts.Persist == "config" {
				hostPersist, _ = parsePersist(h.Target.ControlPersist)
			}
			p, err := persist.Publish(ctx, h.Name, m, path, persist.Options{Persist: hostPersist, Logf: a.debugf})
			if err != nil {
				m.Release()
				if errors.As(err, new(*mux.ExistsError)) {
					// Another master won the socket, as in OpenSSH's race:
					// this connection goes, and the winner is ridden.
					report(masterReport{Host: h.Name, Socket: path, Already: true})
					return nil
				}
				report(masterReport{Host: h.Name, Error: fmt.Sprintf("can't listen on %s: %v", path, err)})
				return nil
			}
			pubMu.Lock()
			pubs = append(pubs, published{p, m})
			pubMu.Unlock()
			report(masterReport{Host: h.Name, Socket: path, PID: os.Getpid()})
			return nil
		})
	}
	g.Wait()
	report(masterReport{Ready: true})
	detachStdio()
	for _, pub := range pubs {
		pub.p.Wait()
		pub.m.Release()
	}
	return nil
}

// fixedPassword answers the password prompt with what `master start` asked.
type fixedPassword string

func (p fixedPassword) Secret(prompt string) (string, error) {
	if strings.Contains(strings.ToLower(prompt), "password") {
		return string(p), nil
	}
	return "", fmt.Errorf("a background master has no terminal to ask %q on", strings.TrimSpace(prompt))
}

func masterStatus(cmd *cobra.Command, opts *masterOptions) error {
	a := opts.app
	c, hosts, err := a.connect(&opts.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()
	ctx := interruptible(cmd)
	tw := tabwriter.NewWriter(a.io.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "HOST\tPID\tAGE\tIDLE\tSESSIONS\tSOCKET")
	code := runner.ExitOK
	for _, h := range hosts {
		path := h.Target.ControlPath
		st, err := mux.Status(ctx, path)
		switch {
		case err == nil:
			idle := "-"
			if st.Active == 0 {
				idle = time.Since(st.LastActive).Round(time.Second).String()
			}
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%d\t%s\n", h.Name, st.PID, time.Since(st.Started).Round(time.Second), idle, st.Active, path)
		default:
			if pid, cerr := mux.Check(ctx, path); cerr == nil {
				fmt.Fprintf(tw, "%s\t%d\t-\t-\t-\t%s (an OpenSSH master)\n", h.Name, pid, path)
				continue
			}
			fmt.Fprintf(tw, "%s\t-\t-\t-\t-\tno master at %s\n", h.Name, path)
			code = runner.ExitUnreachable
		}
	}
	tw.Flush()
	return exitCode(code)
}

func masterStop(cmd *cobra.Command, opts *masterOptions) error {
	a := opts.app
	c, hosts, err := a.connect(&opts.conn, opts.Pattern)
	if err != nil {
		return err
	}
	defer c.close()
	ctx := interruptible(cmd)
	var g errgroup.Group
	var mu sync.Mutex
	for _, h := range hosts {
		g.Go(func() error {
			msg := stopOne(ctx, h.Target.ControlPath, opts.Force, func(n int) {
				mu.Lock()
				fmt.Fprintf(a.io.ErrOut, "fleet: %s: waiting for %d session(s) to end (--force stops at once)\n", h.Name, n)
				mu.Unlock()
			})
			mu.Lock()
			fmt.Fprintf(a.io.Out, "%s  %s\n", h.Name, msg)
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	if ctx.Err() != nil {
		return exitCode(runner.ExitInterrupted)
	}
	return nil
}

// stopOne stops the master at path, as ssh -O exit does, but first waits
// for its sessions to end unless force.
func stopOne(ctx context.Context, path string, force bool, waiting func(int)) string {
	if _, err := mux.Check(ctx, path); err != nil {
		return "no master running"
	}
	if !force {
		said := -1
		for {
			st, err := mux.Status(ctx, path)
			if err != nil || st.Active == 0 {
				break // an OpenSSH master can't say; ssh -O exit doesn't wait either
			}
			if st.Active != said {
				waiting(st.Active)
				said = st.Active
			}
			select {
			case <-ctx.Done():
				return "interrupted; the master is still running"
			case <-time.After(100 * time.Millisecond):
			}
		}
	}
	if err := mux.Exit(ctx, path); err != nil {
		return fmt.Sprintf("could not stop the master: %v", err)
	}
	return "master stopped"
}

// globalArgs are the root's flags, for a child fleet: the inventories
// (absolute, as the child's working directory may differ) and -v.
func (a *app) globalArgs() []string {
	var out []string
	srcs, _ := a.inventorySources()
	for _, s := range srcs {
		if abs, err := filepath.Abs(s); err == nil && !strings.Contains(s, ",") {
			s = abs
		}
		out = append(out, "-i", s)
	}
	for range a.verbose {
		out = append(out, "-v")
	}
	return out
}

// args returns the connection flags as command-line arguments, for a child
// fleet that must resolve hosts exactly as this one does.
func (cf *connFlags) args() []string {
	var out []string
	add := func(name, v string) { out = append(out, "--"+name, v) }
	if cf.sshConfig != "" {
		p, _ := filepath.Abs(cf.sshConfig)
		add("ssh-config", p)
	}
	if cf.user != "" {
		add("user", cf.user)
	}
	if cf.port != 0 {
		add("port", fmt.Sprint(cf.port))
	}
	for _, k := range cf.keys {
		p, _ := filepath.Abs(k)
		add("private-key", p)
	}
	if cf.connectTimeout != 0 {
		add("connect-timeout", cf.connectTimeout.String())
	}
	if cf.maxSessions != 0 {
		add("max-sessions", fmt.Sprint(cf.maxSessions))
	}
	if cf.controlPath != "" {
		add("control-path", cf.controlPath)
	}
	if cf.hostKeyCheck != "" {
		add("strict-host-key-checking", cf.hostKeyCheck)
	}
	for _, o := range cf.sshOptions {
		add("ssh-option", o)
	}
	return out
}

// fleetSocket is fleet's ControlPath when ssh_config sets none:
// ~/.fleet/cm/%C, or, where a long home directory would make that too long
// for a socket (OpenSSH binds a name 17 bytes longer, within 108), the
// first 16 characters of %C, then the same under the temp directory. The
// directory is made (mode 0700) when a master is published there.
func fleetSocket(hash string) string {
	if hash == "" {
		return "none"
	}
	var dirs []string
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".fleet", "cm"))
	}
	dirs = append(dirs, filepath.Join(os.TempDir(), fmt.Sprintf("fleet-%d", os.Getuid())))
	for _, dir := range dirs {
		for _, name := range []string{hash, hash[:min(16, len(hash))]} {
			if p := filepath.Join(dir, name); len(p) <= maxSocketPath {
				return p
			}
		}
	}
	return "none"
}

// maxSocketPath is the longest socket path fleet picks for itself: 107
// bytes of sun_path less the 17 of the temp name a master binds first.
const maxSocketPath = 90

// socketDir makes the directory of a socket fleet publishes. fleet's own
// (~/.fleet/cm, $TMPDIR/fleet-UID) must be a real directory of ours,
// private (0700): a symlink or someone else's is refused.
func socketDir(path string) error {
	dir := filepath.Dir(path)
	own := filepath.Base(dir) == fmt.Sprintf("fleet-%d", os.Getuid())
	if home, err := os.UserHomeDir(); err == nil && dir == filepath.Join(home, ".fleet", "cm") {
		own = true
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !own {
		return nil
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return fmt.Errorf("%s is not a directory (a symlink?); remove it and fleet makes its own", dir)
	}
	if uid, ok := fileOwnerUID(fi); ok && uid != os.Getuid() {
		return fmt.Errorf("%s belongs to uid %d, not you; remove it and fleet makes its own", dir, uid)
	}
	return os.Chmod(dir, 0o700)
}

// masterSpawner starts persistent masters for a run whose ssh_config asks
// for them (ControlMaster auto with ControlPersist). Hosts asking within a
// short window share one background process, as `fleet master start`
// would start it.
type masterSpawner struct {
	a    *app
	opts *masterOptions
	auth *muxconn.Auth // the run's: a password asked with -k goes to the master
	ctx  context.Context

	mu      sync.Mutex
	pending map[string][]chan masterReport
	timer   *time.Timer
	wg      sync.WaitGroup // the flushes under way
}

// batchWindow is how long the spawner gathers hosts before it starts one
// process for them all.
const batchWindow = 20 * time.Millisecond

func (a *app) newMasterSpawner(ctx context.Context, cf *connFlags, auth *muxconn.Auth) *masterSpawner {
	return &masterSpawner{a: a, ctx: ctx, auth: auth, opts: &masterOptions{app: a, conn: *cf, Persist: "config"}, pending: map[string][]chan masterReport{}}
}

// start starts a master for t, or joins one being started, and returns
// when it listens.
func (s *masterSpawner) start(ctx context.Context, t *target.Target) error {
	ch := make(chan masterReport, 1)
	s.mu.Lock()
	s.pending[t.Alias] = append(s.pending[t.Alias], ch)
	if s.timer == nil {
		s.wg.Add(1)
		s.timer = time.AfterFunc(batchWindow, s.flush)
	}
	s.mu.Unlock()
	select {
	case r := <-ch:
		switch {
		case r.Error != "" && r.Cause != "":
			return &muxconn.UnreachableError{Host: t.Alias, Addr: t.HostName, Cause: muxconn.Cause(r.Cause), Err: errors.New(r.Error)}
		case r.Error != "":
			return errors.New(r.Error) // the pool then connects directly
		case r.Already:
			s.a.debugf("%s: another master took %s first; riding it", t.Alias, r.Socket)
		default:
			s.a.debugf("%s: started a persistent master (pid %d) at %s", t.Alias, r.PID, r.Socket)
		}
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// flush starts one process for the hosts gathered so far.
func (s *masterSpawner) flush() {
	defer s.wg.Done()
	s.mu.Lock()
	batch := s.pending
	s.pending = map[string][]chan masterReport{}
	s.timer = nil
	s.mu.Unlock()
	hello := masterHello{Password: s.auth.Password()}
	for h := range batch {
		hello.Hosts = append(hello.Hosts, h)
	}
	sort.Strings(hello.Hosts)
	reports, err := s.a.spawnMaster(s.ctx, s.opts, hello)
	got := map[string]masterReport{}
	for _, r := range reports {
		got[r.Host] = r
	}
	for h, chans := range batch {
		r, ok := got[h]
		switch {
		case err != nil:
			r = masterReport{Host: h, Error: err.Error()}
		case !ok:
			r = masterReport{Host: h, Error: "the master process did not report this host"}
		}
		for _, ch := range chans {
			ch <- r
		}
	}
}

// wait waits for flushes under way, so none outlives the run.
func (s *masterSpawner) wait() { s.wg.Wait() }
