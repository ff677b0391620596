package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"text/tabwriter"
	"time"

	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// TestProfileS1 takes apart S1 (every host runs `echo 1` … `echo 10` in
// order): where fleet's own CPU goes, and how much of the wall time is
// fleet's and how much the hosts' sshd's. It skips unless FLEET_BENCH=1;
// README.md ("S1 taken apart") shows what it found. By hand:
//
//	FLEET_BENCH=1 go test -run TestProfileS1 -v -count=1 -timeout 30m ./bench
//
// FLEET_PROFILE_FLEET=path profiles that fleet binary instead of building
// this tree's; FLEET_PROFILE_COMPARE=path adds run-cold-B and run-warm-B,
// the same runs of another build, interleaved with the others (an
// experiment's A/B). It prints three tables and keeps the profiles it took in
// bench/results/profile-<time>/ (or $FLEET_PROFILE_DIR):
//
//   - the phases of one SSH session, measured from a client in the test
//     process straight to an sshd host, through a `fleet master serve`
//     master (the proxy hop of every warm fleet run), and through the
//     masters with every host at once, as S1 warm does, with sshd's CPU
//     and the master's per session;
//   - every S1 variant (fleet run and fleet play, cold and warm, and the
//     same work in one session per host) run $FLEET_PROFILE_RUNS times
//     without profiling (the medians) and as many times with
//     FLEET_CPUPROFILE and FLEET_MEMPROFILE set;
//   - the merged CPU and allocation profiles of each variant, by where the
//     samples' stacks are (handshake, session, report sinks, jinja, …),
//     and the warm masters' own CPU profiles.
func TestProfileS1(t *testing.T) {
	quick := benchMode(t, "profile", "see bench/README.md, Profiles")
	b := newBench(t, quick)
	runs := 30
	if quick {
		runs = 10
	}
	if s := os.Getenv("FLEET_PROFILE_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("FLEET_PROFILE_RUNS=%q: want a positive number of runs", s)
		}
		runs = n
	}
	dir := os.Getenv("FLEET_PROFILE_DIR")
	if dir == "" {
		dir = filepath.Join("results", "profile-"+time.Now().Format("20060102-150405"))
	}
	dir, _ = filepath.Abs(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if bin := os.Getenv("FLEET_PROFILE_FLEET"); bin != "" {
		// A fleet built elsewhere (another version, or an experiment) is
		// profiled instead of this tree's.
		b.fleet = bin
	} else {
		b.buildFleet()
	}
	// Kept beside the profiles, for go tool pprof -lines and -disasm.
	if data, err := os.ReadFile(b.fleet); err == nil {
		os.WriteFile(filepath.Join(dir, "fleet"), data, 0o755)
	}
	b.startServers(b.cfg.s1Hosts)
	var note string
	b.meter, note = newServerMeter(b.uid)
	if note != "" {
		t.Log(note)
	}
	p := &profiler{b: b, l: b.lab(b.cfg.s1Hosts), dir: dir, runs: runs}
	fmt.Printf("\nS1 profile: %d hosts, %d runs per variant of `%s 1` … `%s %d`, %d CPUs, load average %s\n", b.cfg.s1Hosts, runs, b.cfg.echo, b.cfg.echo, b.cfg.s1Cmds, runtime.NumCPU(), loadAverage())
	p.sessionPhases()
	p.variants()
	fmt.Printf("\nload average at the end %s; profiles in %s\n", loadAverage(), dir)
}

// newBench makes the bench that TestBench and TestProfileS1 share: its
// short temporary directory (Unix socket paths are limited to 108 bytes,
// so ControlPaths must stay short) and its sizes.
func newBench(t *testing.T, quick bool) *bench {
	b := &bench{t: t, cfg: newConfig(quick)}
	var err error
	if b.cfg.echo, err = echoCommand(); err != nil {
		t.Fatal(err)
	}
	b.tmp, err = os.MkdirTemp("/tmp", "fb")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(b.tmp) })
	if err := os.Chmod(b.tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	return b
}

func loadAverage() string {
	f := strings.Fields(readAll("/proc/loadavg"))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// profiler holds what the parts of TestProfileS1 share.
type profiler struct {
	b    *bench
	l    *lab
	dir  string
	runs int
}

// ---- the phases of one session ----

// phases are the moments of one session, from the client's channel open
// request: the open's confirmation, the exec request's reply (sshd has
// forked the session's child by then), the first byte of output, the
// exit-status request, the output's EOF and the server's channel close.
type phases struct {
	open, exec, output, exit, eof, closed time.Duration
}

// probeSession runs cmd in a new session on c and times its phases.
func probeSession(ctx context.Context, c ssh.Conn, cmd string) (phases, error) {
	var p phases
	start := time.Now()
	ch, reqs, err := c.OpenChannel("session", nil)
	if err != nil {
		return p, fmt.Errorf("open a session channel: %w", err)
	}
	p.open = time.Since(start)
	defer ch.Close()
	// Reads take no context: closing the channel ends them.
	defer context.AfterFunc(ctx, func() { ch.Close() })()
	// The channel's requests (exit-status) are read aside; the range ends
	// when the server closes the channel, which x/crypto then answers.
	type ended struct{ exit, closed time.Duration }
	done := make(chan ended, 1)
	go func() {
		var e ended
		for r := range reqs {
			if r.Type == "exit-status" {
				e.exit = time.Since(start)
			}
			if r.WantReply {
				r.Reply(false, nil)
			}
		}
		e.closed = time.Since(start)
		done <- e
	}()
	ok, err := ch.SendRequest("exec", true, ssh.Marshal(struct{ Command string }{cmd}))
	if err != nil || !ok {
		ch.Close()
		<-done
		return p, fmt.Errorf("exec %q: the server refused it (%v)", cmd, err)
	}
	p.exec = time.Since(start)
	buf := make([]byte, 4096)
	for {
		n, err := ch.Read(buf)
		if n > 0 && p.output == 0 {
			p.output = time.Since(start)
		}
		if err != nil {
			break
		}
	}
	p.eof = time.Since(start)
	select {
	case e := <-done:
		p.exit, p.closed = e.exit, e.closed
	case <-ctx.Done():
		ch.Close()
		<-done
		return p, ctx.Err()
	}
	if p.exit == 0 {
		return p, fmt.Errorf("exec %q: the session closed without an exit status", cmd)
	}
	return p, nil
}

// dialDirect logs in to s with the test client key, as fleet does cold.
func (p *profiler) dialDirect(s *sshdtest.Server) (*ssh.Client, error) {
	keys := s.HostKeys()
	return ssh.Dial("tcp", s.HostPort(), &ssh.ClientConfig{
		User:            s.User(),
		Auth:            []ssh.AuthMethod{ssh.PublicKeys(sshdtest.ClientSigner())},
		HostKeyCallback: ssh.FixedHostKey(keys[0]),
		Timeout:         10 * time.Second,
	})
}

// dialMaster rides the fleet master listening on socket in the mux
// protocol's proxy mode, as a warm fleet run does.
func dialMaster(ctx context.Context, socket string) (*ssh.Client, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", socket)
	if err != nil {
		return nil, fmt.Errorf("dial the master at %s: %w", socket, err)
	}
	c, chans, reqs, err := ssh.NewControlClientConn(conn)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("ride the master at %s: %w", socket, err)
	}
	return ssh.NewClient(c, chans, reqs), nil
}

// phaseStats are the medians of many sessions' phases, with the sshd CPU
// and the fleet master's CPU per session.
type phaseStats struct {
	name               string
	sessions           int
	med                phases
	wall               time.Duration // of the whole probe
	sshdCPU, masterCPU time.Duration // per session
}

func medianPhases(ps []phases) phases {
	pick := func(f func(phases) time.Duration) time.Duration {
		v := make([]time.Duration, len(ps))
		for i, p := range ps {
			v[i] = f(p)
		}
		return median(v)
	}
	return phases{
		open:   pick(func(p phases) time.Duration { return p.open }),
		exec:   pick(func(p phases) time.Duration { return p.exec }),
		output: pick(func(p phases) time.Duration { return p.output }),
		exit:   pick(func(p phases) time.Duration { return p.exit }),
		eof:    pick(func(p phases) time.Duration { return p.eof }),
		closed: pick(func(p phases) time.Duration { return p.closed }),
	}
}

func median(v []time.Duration) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// probe runs, on every client at once, sessions sessions one after
// another, each running cmd, and measures them.
func (p *profiler) probe(name string, clients []*ssh.Client, sessions int, cmd string, master *serveMaster) phaseStats {
	t := p.b.t
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	servers := p.l.servers
	before, _ := p.b.meter.sample(servers)
	mBefore := master.cpu()
	start := time.Now()
	all := make([][]phases, len(clients))
	errs := make([]error, len(clients))
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range sessions {
				ph, err := probeSession(ctx, c, cmd)
				if err != nil {
					errs[i] = err
					return
				}
				all[i] = append(all[i], ph)
			}
		}()
	}
	wg.Wait()
	st := phaseStats{name: name, wall: time.Since(start)}
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("session probe %s: %v", name, err)
	}
	sshd := p.b.meter.settled(servers) - before
	mast := master.cpu() - mBefore
	flat := slices.Concat(all...)
	st.sessions = len(flat)
	st.med = medianPhases(flat)
	st.sshdCPU = sshd / time.Duration(len(flat))
	st.masterCPU = mast / time.Duration(len(flat))
	return st
}

// sessionPhases measures sessions outside fleet's process: one host at a
// time, straight and through a master, and every host at once through the
// masters, as S1 warm runs them.
func (p *profiler) sessionPhases() {
	t := p.b.t
	ctx, cancel := context.WithTimeout(context.Background(), commandTimeout)
	defer cancel()
	master := p.startMaster(ctx, "probe", false)
	defer master.stop(ctx)
	first := p.l.servers[0]
	direct, err := p.dialDirect(first)
	if err != nil {
		t.Fatalf("log in to %s: %v", first.HostPort(), err)
	}
	defer direct.Close()
	var riders []*ssh.Client
	for _, name := range p.l.names {
		c, err := dialMaster(ctx, master.sockets[name])
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		riders = append(riders, c)
	}
	cmds := p.b.cfg.s1Cmds
	var all []string
	for i := 1; i <= cmds; i++ {
		all = append(all, fmt.Sprintf("echo %d", i))
	}
	one := strings.Join(all, "; ")
	// Warm-up: the first sessions of a connection pay for page faults.
	p.probe("warm-up", []*ssh.Client{direct}, 5, "echo 1", master)
	p.probe("warm-up", riders, 2, "echo 1", master)
	n := max(50, 5*p.runs)
	stats := []phaseStats{
		p.probe("1 host, direct", []*ssh.Client{direct}, n, "echo 1", nil),
		p.probe("1 host, via master", riders[:1], n, "echo 1", master),
		p.probe("1 host, via master, exec true", riders[:1], n, "true", master),
		// A play's shell task: the login shell execs /bin/sh for the
		// module's script, which execs /bin/sh -c for the task; and the
		// cost of one exec of /bin/sh alone.
		p.probe("1 host, via master, bash → sh", riders[:1], n, "exec /bin/sh -c "+shellQuote("echo 1"), master),
		p.probe("1 host, via master, bash → sh → sh", riders[:1], n, "exec /bin/sh -c "+shellQuote("exec /bin/sh -c "+shellQuote("echo 1")), master),
		p.probe(fmt.Sprintf("%d hosts at once, via masters, %d sessions each", len(riders), cmds), riders, cmds, "echo 1", master),
		p.probe(fmt.Sprintf("%d hosts at once, via masters, 1 session each (%d echoes)", len(riders), cmds), riders, 1, one, master),
	}
	// The same spawn outside sshd: a login shell's fork and exec, started
	// from Go (which forks a bigger process than sshd does).
	var spawn []time.Duration
	for range n {
		start := time.Now()
		if err := exec.CommandContext(ctx, "/bin/bash", "-c", "echo 1").Run(); err != nil {
			t.Fatalf("bash -c 'echo 1': %v", err)
		}
		spawn = append(spawn, time.Since(start))
	}

	fmt.Printf("\nOne session's phases (medians; ms from the channel open request)\n")
	tw := newTable()
	fmt.Fprintln(tw, "probe\tsessions\topen\texec reply\t1st output\texit-status\tEOF\tclosed\tprobe wall ms\tsshd CPU ms/session\tmaster CPU ms/session\t")
	for _, s := range stats {
		mc := "-"
		if !strings.Contains(s.name, "direct") {
			mc = ms(s.masterCPU)
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", s.name, s.sessions,
			ms(s.med.open), ms(s.med.exec), ms(s.med.output), ms(s.med.exit), ms(s.med.eof), ms(s.med.closed),
			ms(s.wall), ms(s.sshdCPU), mc)
	}
	tw.Flush()
	fmt.Printf("local fork+exec of `bash -c 'echo 1'` from Go: median %s ms over %d\n", ms(median(spawn)), len(spawn))
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

func newTable() *tabwriter.Writer {
	return tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
}

// ---- fleet master serve, run by the test ----

// serveMaster is a `fleet master serve` process that the test started
// itself (not through `fleet master start`, which would share the
// profile's path with it), serving every lab host.
type serveMaster struct {
	p       *profiler
	cmd     *exec.Cmd
	path    string            // the --control-path pattern
	sockets map[string]string // host → its socket
	done    chan error        // cmd.Wait's result
}

// startMaster starts a master process for the lab's hosts on their own
// ControlPaths under name; with profile, it writes CPU and allocation
// profiles named name.master.* when it ends.
func (p *profiler) startMaster(ctx context.Context, name string, profile bool) *serveMaster {
	t := p.b.t
	m := &serveMaster{p: p, path: filepath.Join(p.b.tmp, "m-"+name, "%C"), sockets: map[string]string{}, done: make(chan error, 1)}
	if err := os.MkdirAll(filepath.Dir(m.path), 0o700); err != nil {
		t.Fatal(err)
	}
	m.cmd = exec.Command(p.b.fleet, "master", "serve", "--persist", "30m",
		"-i", p.l.inventory, "--ssh-config", p.l.sshConfig, "--control-path", m.path)
	m.cmd.Env = os.Environ()
	if profile {
		m.cmd.Env = append(m.cmd.Env,
			"FLEET_CPUPROFILE="+filepath.Join(p.dir, name+".master.cpu"),
			"FLEET_MEMPROFILE="+filepath.Join(p.dir, name+".master.mem"))
	}
	hello, _ := json.Marshal(map[string]any{"hosts": p.l.names})
	m.cmd.Stdin = strings.NewReader(string(hello) + "\n")
	// An os.File pipe: the process points its stdout at /dev/null once
	// ready, which ends the reading below.
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	m.cmd.Stdout = w
	errLog := filepath.Join(p.dir, name+".master.log")
	ef, err := os.Create(errLog)
	if err != nil {
		t.Fatal(err)
	}
	defer ef.Close()
	m.cmd.Stderr = ef
	if err := m.cmd.Start(); err != nil {
		t.Fatalf("start fleet master serve: %v", err)
	}
	w.Close()
	go func() { m.done <- m.cmd.Wait() }() // received by stop
	ready := false
	lines := bufio.NewScanner(r)
	for lines.Scan() {
		var rep struct {
			Host, Socket, Error string
			Ready               bool
		}
		if json.Unmarshal(lines.Bytes(), &rep) != nil {
			continue
		}
		if rep.Ready {
			ready = true
			break
		}
		if rep.Error != "" {
			t.Errorf("fleet master serve: %s: %s", rep.Host, rep.Error)
		}
		m.sockets[rep.Host] = rep.Socket
	}
	if !ready || len(m.sockets) != len(p.l.names) {
		m.stop(ctx)
		t.Fatalf("fleet master serve: ready %v with %d of %d hosts; its log %s:\n%s", ready, len(m.sockets), len(p.l.names), errLog, tail(readAll(errLog)))
	}
	return m
}

// cpu returns the master process's user+system time so far (0 for nil).
func (m *serveMaster) cpu() time.Duration {
	if m == nil {
		return 0
	}
	pi, _ := readStat(m.cmd.Process.Pid)
	return time.Duration(pi.ticks) * time.Second / clockTicks
}

// stop asks the master to end with `fleet master stop --force` and waits
// for it, killing it if it does not end.
func (m *serveMaster) stop(ctx context.Context) {
	t := m.p.b.t
	if m.done == nil {
		return
	}
	if err := quiet(ctx, m.p.b.fleetCmd(m.p.l, "master", "stop", "all", "--force", "--control-path", m.path)); err != nil {
		t.Errorf("stop the masters at %s: %v", m.path, err)
	}
	select {
	case <-m.done:
	case <-time.After(30 * time.Second):
		t.Errorf("fleet master serve (pid %d) did not end after master stop; killing it", m.cmd.Process.Pid)
		m.cmd.Process.Kill()
		<-m.done
	}
	m.done = nil
}

// ---- the S1 variants, timed and profiled ----

// s1Variant is one way of running S1, or fleet's start alone.
type s1Variant struct {
	name string
	// cmd returns the command of one run; profiled runs set
	// FLEET_CPUPROFILE and FLEET_MEMPROFILE on fleet's commands.
	cmd   func() *exec.Cmd
	check func(sample) error
	fleet bool // the command is fleet, so it can be profiled
	// sessions is how many sessions each host runs; 0 for none.
	sessions int
	// master is a warm fleet variant's master process.
	master *serveMaster
	// timed are the unprofiled runs; profiled the profiled ones.
	timed, profiled []runSample
}

// runSample is one run of a variant.
type runSample struct {
	wall, cpu, sshdCPU, masterCPU time.Duration
}

func (p *profiler) variants() {
	t := p.b.t
	l := p.l
	cmds := p.b.cfg.s1Cmds
	ctx, cancel := context.WithTimeout(context.Background(), 3*commandTimeout)
	defer cancel()
	runArgs := []string{"run", "all"}
	var all []string
	for i := 1; i <= cmds; i++ {
		runArgs = append(runArgs, "-c", fmt.Sprintf("%s %d", p.b.cfg.echo, i))
		all = append(all, fmt.Sprintf("%s %d", p.b.cfg.echo, i))
	}
	var pb strings.Builder
	pb.WriteString("- hosts: all\n  gather_facts: no\n  tasks:\n")
	for i := 1; i <= cmds; i++ {
		fmt.Fprintf(&pb, "    - shell: %s %d\n", p.b.cfg.echo, i)
	}
	playbook := filepath.Join(l.dir, "s1.yml")
	writeFile(t, playbook, pb.String())
	want := expected(l.names, echoes(cmds))
	runCheck := func(s sample) error { return lineSet(parseFleet(s.stdout), want) }
	playCheck := func(s sample) error { return checkRecap(s.stdout, l.names, cmds, anyChanged) }

	// fleet's variants; the warm ones ride a master process of their own,
	// so that its profile is theirs alone.
	var vs []*s1Variant
	addFleet := func(name string, warm bool, sessions int, check func(sample) error, args ...string) {
		bin := p.b.fleet
		if strings.HasSuffix(name, "-B") {
			bin = os.Getenv("FLEET_PROFILE_COMPARE")
		}
		v := &s1Variant{name: name, check: check, fleet: true, sessions: sessions}
		// A copy: the callers' argument lists share their arrays.
		if warm {
			v.master = p.startMaster(ctx, name, true)
			args = slices.Concat(args, []string{"--control-path", v.master.path})
		} else {
			args = slices.Concat(args, []string{"--fresh"})
		}
		v.cmd = func() *exec.Cmd {
			c := p.b.fleetCmd(l, args...)
			c.Path, c.Args[0] = bin, bin
			return c
		}
		vs = append(vs, v)
	}
	defer func() {
		for _, v := range vs {
			if v.master != nil {
				v.master.stop(ctx)
			}
		}
	}()
	vs = append(vs, &s1Variant{name: "start-only", fleet: true,
		cmd: func() *exec.Cmd { return exec.Command(p.b.fleet, "hosts", "all", "-i", l.inventory) },
		check: func(s sample) error {
			if n := strings.Count(s.stdout, "\n"); n != len(l.names) {
				return fmt.Errorf("fleet hosts listed %d hosts, want %d", n, len(l.names))
			}
			return nil
		}})
	addFleet("run-cold", false, cmds, runCheck, runArgs...)
	addFleet("run-warm", true, cmds, runCheck, runArgs...)
	addFleet("run-warm-1session", true, 1, runCheck, "run", "all", "-c", strings.Join(all, "; "))
	addFleet("play-cold", false, cmds, playCheck, "play", playbook)
	addFleet("play-warm", true, cmds, playCheck, "play", playbook)
	if os.Getenv("FLEET_PROFILE_COMPARE") != "" {
		// Another build, run alongside: an experiment's A/B.
		addFleet("run-cold-B", false, cmds, runCheck, runArgs...)
		addFleet("run-warm-B", true, cmds, runCheck, runArgs...)
	}

	// The floor, as TestBench runs it warm: one `ssh -S` per host over an
	// `ssh -fN` master, all hosts at once.
	floorCP := filepath.Join(p.b.tmp, "pfl")
	floorOut := filepath.Join(p.b.tmp, "pflout")
	prelude := fmt.Sprintf(`CFG=%q; OUT=%q; CP="%s/%%C"`, l.sshConfig, floorOut, floorCP)
	if err := freshDir(floorCP); err != nil {
		t.Fatal(err)
	}
	if err := quiet(ctx, shell(parallelHosts(l.names, prelude,
		`ssh -F "$CFG" -M -N -f -o ControlPersist=yes -o ControlPath="$CP" $h && ssh -F "$CFG" -o ControlPath="$CP" -O check $h 2>/dev/null || exit 1`))); err != nil {
		t.Fatalf("start the floor's ssh masters: %v", err)
	}
	defer func() {
		if err := stopMasters(ctx, floorCP); err != nil {
			t.Errorf("stop the floor's ssh masters: %v", err)
		}
	}()
	floor := parallelHosts(l.names, prelude, fmt.Sprintf(`ssh -F "$CFG" -S "$CP" $h %q > "$OUT/$h"`, strings.Join(all, "; ")))
	vs = append(vs, &s1Variant{name: "floor-warm", sessions: 1,
		cmd: func() *exec.Cmd {
			if err := freshDir(floorOut); err != nil {
				t.Fatal(err)
			}
			return shell(floor)
		},
		check: func(sample) error { return lineSet(parseFiles(floorOut), want) }})

	// Interleaved, so that the load of the shared machine, which comes
	// and goes, falls on every variant alike.
	for i := range 2 * p.runs {
		profiled := i >= p.runs
		for _, v := range vs {
			if profiled && !v.fleet {
				continue
			}
			cmd := v.cmd()
			if profiled {
				base := filepath.Join(p.dir, fmt.Sprintf("%s.run%02d", v.name, i-p.runs))
				cmd.Env = append(os.Environ(), "FLEET_CPUPROFILE="+base+".cpu", "FLEET_MEMPROFILE="+base+".mem")
			}
			mBefore := v.master.cpu()
			s, err := run(cmd, l.servers, p.b.meter)
			if err == nil {
				err = v.check(s)
			}
			if err != nil {
				t.Fatalf("%s: %v\nstdout:\n%s\nstderr:\n%s", v.name, err, tail(s.stdout), tail(s.stderr))
			}
			rs := runSample{wall: s.wall, cpu: s.cpu, sshdCPU: s.serverCPU, masterCPU: v.master.cpu() - mBefore}
			if profiled {
				v.profiled = append(v.profiled, rs)
			} else {
				v.timed = append(v.timed, rs)
			}
		}
	}
	for _, v := range vs {
		if v.master != nil {
			v.master.stop(ctx) // writes its profiles
		}
	}

	fmt.Printf("\nS1 variants, %d runs each: wall is the median, CPU the mean (/proc's CPU times tick at 10 ms); profiled runs in brackets\n", p.runs)
	tw := newTable()
	fmt.Fprintln(tw, "variant\twall ms\tclient CPU ms\tmaster CPU ms\tsshd CPU ms\tclient+master CPU ms/session\tsshd CPU ms/session\t")
	for _, v := range vs {
		tm := summarize(v.timed)
		wall, cpu := ms(tm.wall), ms(tm.cpu)
		if v.profiled != nil {
			pm := summarize(v.profiled)
			wall += " [" + ms(pm.wall) + "]"
			cpu += " [" + ms(pm.cpu) + "]"
		}
		perSession := func(d time.Duration) string {
			if v.sessions == 0 {
				return "-"
			}
			return ms(d / time.Duration(len(l.names)*v.sessions))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", v.name, wall, cpu, ms(tm.masterCPU), ms(tm.sshdCPU),
			perSession(tm.cpu+tm.masterCPU), perSession(tm.sshdCPU))
	}
	tw.Flush()

	for _, v := range vs {
		if v.fleet {
			p.breakdown(v.name, v.name+".run*.cpu", "", p.runs)
		}
	}
	for _, v := range vs {
		if v.master != nil {
			// The master served the timed runs as well as the profiled ones.
			p.breakdown(v.name+": its master process", v.name+".master.cpu", "", 2*p.runs)
		}
	}
	for _, v := range vs {
		if v.fleet {
			p.breakdown(v.name+" allocations", v.name+".run*.mem", "alloc_space", p.runs)
		}
	}
}

// summarize is the median wall time and the mean CPU times of rs.
func summarize(rs []runSample) runSample {
	var s runSample
	walls := make([]time.Duration, len(rs))
	for i, r := range rs {
		walls[i] = r.wall
		s.cpu += r.cpu
		s.sshdCPU += r.sshdCPU
		s.masterCPU += r.masterCPU
	}
	n := time.Duration(max(len(rs), 1))
	s.wall, s.cpu, s.sshdCPU, s.masterCPU = median(walls), s.cpu/n, s.sshdCPU/n, s.masterCPU/n
	return s
}

// ---- profile breakdown ----

// category is a part of fleet's work: a sample belongs to the first
// category whose match accepts its stack (leaf first).
type category struct {
	name  string
	match func(stack []string) bool
}

// anyFrame matches a stack with a frame containing one of subs.
func anyFrame(subs ...string) func([]string) bool {
	return func(stack []string) bool {
		return slices.ContainsFunc(stack, func(f string) bool {
			return slices.ContainsFunc(subs, func(s string) bool { return strings.Contains(f, s) })
		})
	}
}

// allocatedBy matches a stack allocating a slice in fn: the CPU of the
// allocation, or the allocation itself.
func allocatedBy(fn string) func([]string) bool {
	return func(stack []string) bool {
		// An allocation profile's stack starts at the allocating function.
		if len(stack) > 0 && strings.HasPrefix(stack[0], fn) {
			return true
		}
		for i := 1; i < len(stack); i++ {
			if strings.HasPrefix(stack[i-1], "runtime.makeslice") && strings.HasPrefix(stack[i], fn) {
				return true
			}
		}
		return false
	}
}

// categories are checked in order: the handshake before the packet
// cipher it also uses, fleet's packages before the SSH layer they call.
var categories = []category{
	{"GC (background workers)", anyFrame("runtime.gcBgMarkWorker", "runtime.bgsweep", "runtime.bgscavenge")},
	{"io.Copy's 32 KiB buffer per session stream", allocatedBy("io.copyBuffer")},
	{"handshake, auth, host keys", anyFrame("ssh.(*handshakeTransport).enterKeyExchange", "ssh.(*handshakeTransport).startKex",
		"ssh.(*handshakeTransport).sendKexInit", "ssh.(*connection).clientHandshake", "ssh.(*connection).clientAuthenticate",
		"ssh.NewClientConn", "knownhosts", "muxconn/hostkey", "ssh.ParsePrivateKey", "ssh.ParseRawPrivateKey", "muxconn.(*Pool).dial")},
	{"start: flags, inventory, ssh_config", anyFrame("spf13/cobra", "fleet/inventory", "muxconn/target", "kevinburke/ssh_config",
		"runtime.doInit", "runtime.schedinit", "main.(*app).connect")},
	{"playbook load", anyFrame("fleet/playbook.")},
	{"jinja, vars", anyFrame("fleet/jinja.", "fleet/vars.")},
	{"modules", anyFrame("fleet/modules.")},
	{"report sinks", anyFrame("fleet/report.")},
	{"session gate", anyFrame("muxconn.(*SessionGate)")},
	{"riding a master (attach)", anyFrame("muxconn.(*Pool).ride", "muxconn.(*Pool).attach", "ssh.NewControlClientConn")},
	{"master: mux proxy", anyFrame("muxconn/mux.")},
	{"SSH packet I/O: socket, cipher, MAC", anyFrame("ssh.(*transport).", "ssh.(*connectionState).", "ssh.(*handshakeTransport).readPacket",
		"ssh.(*handshakeTransport).writePacket", "ssh.(*handshakeTransport).readLoop", "ssh.(*controlProxyTransport)", "ssh.controlProxy")},
	{"SSH channels and sessions", anyFrame("ssh.(*mux).", "ssh.(*channel).", "ssh.(*Session).", "ssh.(*Client).", "ssh.(*extChannel)",
		"muxconn.(*Master)", "ssh.(*buffer)", "ssh.(*chanList)")},
	{"runner", anyFrame("fleet/runner.")},
	{"pprof (writing the profiles)", anyFrame("runtime/pprof.")},
	{"other syscalls", anyFrame("syscall.", "internal/poll.", "runtime.netpoll")},
	{"scheduler and other runtime", anyFrame("runtime.")},
}

// breakdown prints the merged profiles matching glob by category, with
// sampleIndex ("" for the default) chosen in go tool pprof.
func (p *profiler) breakdown(title, glob, sampleIndex string, runs int) {
	t := p.b.t
	files, _ := filepath.Glob(filepath.Join(p.dir, glob))
	if len(files) == 0 {
		t.Errorf("%s: no profiles match %s", title, glob)
		return
	}
	args := []string{"tool", "pprof", "-traces"}
	if sampleIndex != "" {
		args = append(args, "-sample_index="+sampleIndex)
	}
	args = append(args, p.b.fleet)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", append(args, files...)...).Output()
	if err != nil {
		t.Errorf("%s: go tool pprof -traces: %v", title, err)
		return
	}
	merged := filepath.Join(p.dir, strings.NewReplacer(" ", "-", "*", "all").Replace(glob)+".merged.pb.gz")
	if err := exec.CommandContext(ctx, "go", append([]string{"tool", "pprof", "-proto", "-output", merged, p.b.fleet}, files...)...).Run(); err != nil {
		t.Logf("%s: merging into %s: %v", title, merged, err)
	}
	totals, sum, err := categorize(strings.NewReader(string(out)))
	if errors.Is(err, errNoSamples) {
		// fleet hosts ends before the profiler's first tick.
		fmt.Printf("\n%s: %d profiles, no samples\n", title, len(files))
		return
	}
	if err != nil {
		t.Errorf("%s: %v", title, err)
		return
	}
	unit, div := "ms", float64(time.Millisecond)
	if sampleIndex != "" {
		unit, div = "KiB", 1024
	}
	perRun := float64(runs)
	fmt.Printf("\n%s: %d profiles, %.1f %s per run\n", title, len(files), sum/div/perRun, unit)
	tw := newTable()
	fmt.Fprintf(tw, "part\t%s/run\tshare\t\n", unit)
	for _, c := range append(slices.Clone(categories), category{name: "other"}) {
		if v := totals[c.name]; v > 0 {
			fmt.Fprintf(tw, "%s\t%.2f\t%.0f%%\t\n", c.name, v/div/perRun, 100*v/sum)
		}
	}
	tw.Flush()
}

// errNoSamples is categorize's error for profiles without samples.
var errNoSamples = errors.New("go tool pprof -traces printed no samples")

// categorize reads `go tool pprof -traces` output and sums the samples by
// category; values are in nanoseconds or bytes.
func categorize(r io.Reader) (totals map[string]float64, sum float64, err error) {
	totals = map[string]float64{}
	var value float64
	var frames []string
	flush := func() {
		if value == 0 {
			return
		}
		name := "other"
		for _, c := range categories {
			if c.match(frames) {
				name = c.name
				break
			}
		}
		totals[name] += value
		sum += value
		value, frames = 0, nil
	}
	lines := bufio.NewScanner(r)
	lines.Buffer(make([]byte, 1<<20), 1<<20)
	inTrace := false
	for lines.Scan() {
		line := lines.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			inTrace = true
			continue
		}
		if !inTrace || strings.TrimSpace(line) == "" {
			continue
		}
		f := strings.Fields(line)
		if !strings.HasPrefix(line, " ") || len(f) == 0 {
			continue
		}
		// A trace's first line holds its value, then the leaf frame; a
		// label line ("bytes:  512kB") is skipped.
		if strings.HasSuffix(f[0], ":") {
			continue
		}
		if value == 0 && len(f) >= 2 {
			if v, ok := parseQuantity(f[0]); ok {
				value = v
				frames = append(frames, f[1])
				continue
			}
		}
		frames = append(frames, f[0])
	}
	flush()
	if err := lines.Err(); err != nil {
		return nil, 0, fmt.Errorf("reading go tool pprof -traces: %w", err)
	}
	if sum == 0 {
		return nil, 0, errNoSamples
	}
	return totals, sum, nil
}

// parseQuantity reads a pprof value: a duration ("10ms", "1.20s") in
// nanoseconds or a size ("512.19kB", "1MB", "64B") in bytes.
func parseQuantity(s string) (float64, bool) {
	units := []struct {
		suffix string
		scale  float64
	}{
		{"ns", 1}, {"us", 1e3}, {"µs", 1e3}, {"ms", 1e6}, {"s", 1e9}, {"min", 60e9}, {"hrs", 3600e9},
		{"kB", 1024}, {"KB", 1024}, {"MB", 1 << 20}, {"GB", 1 << 30}, {"TB", 1 << 40}, {"B", 1},
	}
	// The longest suffix first: "ms" before "s", "kB" before "B".
	slices.SortStableFunc(units, func(a, b struct {
		suffix string
		scale  float64
	}) int {
		return len(b.suffix) - len(a.suffix)
	})
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			v, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, false
			}
			return v * u.scale, true
		}
	}
	return 0, false
}

// TestCategorize checks the reading of `go tool pprof -traces` output; it
// runs without FLEET_BENCH.
func TestCategorize(t *testing.T) {
	const traces = `File: fleet
Type: alloc_space
-----------+-------------------------------------------------------
     bytes:  32kB
    1.50MB   io.copyBuffer
             io.Copy (inline)
             golang.org/x/crypto/ssh.(*Session).stdout.func1
-----------+-------------------------------------------------------
      10ms   runtime.memclrNoHeapPointers
             runtime.mallocgc
             runtime.makeslice
             io.copyBuffer
-----------+-------------------------------------------------------
      20ms   crypto/internal/fips140/edwards25519/field.feMul
             golang.org/x/crypto/ssh.(*transport).readPacket
             golang.org/x/crypto/ssh.(*handshakeTransport).enterKeyExchange
-----------+-------------------------------------------------------
     512kB   fleetrun.dev/fleet/report.(*LiveSink).print
             fleetrun.dev/fleet/report.(*lineWriter).emit
             golang.org/x/crypto/ssh.(*Session).stdout.func1
-----------+-------------------------------------------------------
      30ms   main.somethingElse
`
	totals, sum, err := categorize(strings.NewReader(traces))
	if err != nil {
		t.Fatal(err)
	}
	const mib, ms = 1 << 20, 1e6
	want := map[string]float64{
		"io.Copy's 32 KiB buffer per session stream": 1.5*mib + 10*ms,
		"handshake, auth, host keys":                 20 * ms,
		"report sinks":                               512 * 1024,
		"other":                                      30 * ms,
	}
	for name, v := range want {
		if got := totals[name]; got != v {
			t.Errorf("%s: got %v, want %v (all: %v)", name, got, v, totals)
		}
	}
	if len(totals) != len(want) {
		t.Errorf("categories %v, want only %v", totals, want)
	}
	if wantSum := 1.5*mib + 60*ms + 512*1024; sum != wantSum {
		t.Errorf("sum %v, want %v", sum, wantSum)
	}
	if _, _, err := categorize(strings.NewReader("File: fleet\nType: cpu\n")); !errors.Is(err, errNoSamples) {
		t.Errorf("no samples: got %v, want errNoSamples", err)
	}
}

func TestParseQuantity(t *testing.T) {
	for _, c := range []struct {
		in   string
		want float64
		ok   bool
	}{
		{"10ms", 10e6, true},
		{"1.20s", 1.2e9, true},
		{"250us", 250e3, true},
		{"512.19kB", 512.19 * 1024, true},
		{"64B", 64, true},
		{"2MB", 2 << 20, true},
		{"runtime.mallocgc", 0, false},
		{"bytes:", 0, false},
	} {
		got, ok := parseQuantity(c.in)
		if ok != c.ok || math.Abs(got-c.want) > 1e-6*c.want {
			t.Errorf("parseQuantity(%q) = %v, %v; want %v, %v", c.in, got, ok, c.want, c.ok)
		}
	}
}
