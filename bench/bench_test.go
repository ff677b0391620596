package bench

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"fleetrun.dev/fleet/internal/sshdtest"
)

var quickFlag = flag.Bool("quick", false, "fewer hosts, smaller files and one iteration (also FLEET_BENCH_QUICK=1)")

// onlyFlag picks scenarios, to iterate on one of them.
var onlyFlag = flag.String("only", "", "run only these scenarios, e.g. S1,S3 (also FLEET_BENCH_ONLY)")

// echoFlag picks the command S1 and S2 run: the shell's echo builtin, or a
// program such as /bin/echo, as most commands users run are.
var echoFlag = flag.String("echo", "", "the command S1 and S2 run with a number, echo (the builtin, default) or a program such as /bin/echo (also FLEET_BENCH_ECHO)")

// echoCommand returns -echo or FLEET_BENCH_ECHO, "echo" when neither is
// set. It must be one plain word, as it goes into every tool's command.
func echoCommand() (string, error) {
	e := *echoFlag
	if e == "" {
		e = os.Getenv("FLEET_BENCH_ECHO")
	}
	if e == "" {
		return "echo", nil
	}
	if strings.Trim(e, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./-") != "" {
		return "", fmt.Errorf("FLEET_BENCH_ECHO / -echo: %q is not one plain word; give echo or a program's path such as /bin/echo", e)
	}
	return e, nil
}

// scenarioNames are the scenarios, in the order they run.
var scenarioNames = []string{"S1", "S2", "S3", "S4", "S5"}

// onlyScenarios returns the scenarios -only or FLEET_BENCH_ONLY names
// (case and spaces aside), nil for all; a name that is no scenario is an
// error, so that a typo can't pass for a partial run.
func onlyScenarios() ([]string, error) {
	only := *onlyFlag
	if only == "" {
		only = os.Getenv("FLEET_BENCH_ONLY")
	}
	if strings.TrimSpace(only) == "" {
		return nil, nil
	}
	var names []string
	for _, n := range strings.Split(only, ",") {
		n = strings.ToUpper(strings.TrimSpace(n))
		if !slices.Contains(scenarioNames, n) {
			return nil, fmt.Errorf("FLEET_BENCH_ONLY / -only: %q is not a scenario; name some of %s, separated by commas", n, strings.Join(scenarioNames, ","))
		}
		names = append(names, n)
	}
	return names, nil
}

const (
	// commandTimeout bounds one measured command; it only guards against
	// hangs, it is not an expectation.
	commandTimeout = 5 * time.Minute
	// clockTicks is USER_HZ, the unit of the times in /proc/<pid>/stat;
	// it is 100 on every Linux architecture.
	clockTicks = 100
)

// config sizes the scenarios.
type config struct {
	quick    bool
	echo     string // S1's and S2's command, given a number (echoCommand)
	iters    int    // iterations of S1 and S2; the median run is reported
	s1Hosts  int
	s1Cmds   int
	s2Cmds   int
	s3Hosts  int
	s3BigMiB int
	s3Files  int
	// s3FewFiles is the tree Ansible copies: its copy module takes about
	// a second per file and host, so the full tree would take hours.
	s3FewFiles int
	s4Lab      int
	s4Real     int
	s5Hosts    int
	s5Tasks    int
	realHosts  int
	// s1Iters runs S1's sub-second rows (fleet, ssh with ControlMaster,
	// the floor) more often: a single run of 0.05 s moves by half with
	// the machine's load, and the fleet/floor targets are read off them.
	s1Iters int
}

func newConfig(quick bool) config {
	c := config{quick: quick, iters: 3, s1Hosts: 20, s1Cmds: 10, s2Cmds: 200,
		s3Hosts: 20, s3BigMiB: 200, s3Files: 1000, s3FewFiles: 10, s4Lab: 1000, s4Real: 200,
		s5Hosts: 20, s5Tasks: 10}
	if quick {
		c = config{quick: true, iters: 1, s1Hosts: 10, s1Cmds: 10, s2Cmds: 200,
			s3Hosts: 5, s3BigMiB: 20, s3Files: 200, s3FewFiles: 10, s4Lab: 200, s4Real: 30,
			s5Hosts: 10, s5Tasks: 10}
	}
	c.realHosts = max(c.s1Hosts, c.s3Hosts, c.s4Real, c.s5Hosts)
	c.s1Iters = 5
	return c
}

// row is one line of the result table and of the JSON file.
type row struct {
	Scenario   string  `json:"scenario"`
	Tool       string  `json:"tool"`
	Mode       string  `json:"mode"`
	Hosts      int     `json:"hosts"`
	WallSec    float64 `json:"wall_sec"`
	ToolCPUSec float64 `json:"tool_cpu_sec"`
	// ServerCPUSec is the sshd trees' CPU (or fleet-lab's for lab hosts).
	ServerCPUSec  float64 `json:"server_cpu_sec"`
	PeakRSSKiB    int64   `json:"peak_rss_kib"`
	RSSPerHostKiB float64 `json:"rss_per_host_kib,omitempty"`
	// FleetRatio is the wall time of fleet's row named by RatioVs
	// divided by this row's: below 1 fleet is faster.
	FleetRatio float64 `json:"fleet_ratio,omitempty"`
	RatioVs    string  `json:"ratio_vs,omitempty"`
	// FloorRatio, on fleet's rows, is this row's wall time divided by the
	// floor row's of the same scenario and mode: the S1 targets
	// (cold ≤ 1.2, warm ≤ 1.5) read directly off it.
	FloorRatio float64 `json:"floor_ratio,omitempty"`
	Status     string  `json:"status"` // ok, n/a: why, skipped: why, FAILED: why
	Iterations int     `json:"iterations,omitempty"`
}

// sample is one measured command.
type sample struct {
	wall, cpu, serverCPU time.Duration
	maxRSS               int64 // KiB
	stdout, stderr       string
}

// bench holds what every scenario shares.
type bench struct {
	t       *testing.T
	cfg     config
	only    []string // the scenarios to run (FLEET_BENCH_ONLY); nil for all
	tmp     string   // short directory for sockets and scripts
	fleet   string
	servers []*sshdtest.Server
	names   []string
	// private holds, for each of servers, the directory on this machine
	// that the host, in its own mount namespace, sees at remoteRoot.
	private []string
	login   string
	uid     int
	gid     int
	meter   *serverMeter
	notes   []string // printed under the table
	rows    []row
}

// remoteRoot is where every sshd host sees its own private directory, as
// separate machines each have their own /srv: every tool pushes to the
// same path on every host.
const remoteRoot = "/srv/fleet-bench"

// benchMode skips the test unless FLEET_BENCH=1 on Linux (what names the
// test in the skip message) and returns whether the run is quick.
func benchMode(t *testing.T, what, how string) (quick bool) {
	if os.Getenv("FLEET_BENCH") != "1" {
		t.Skipf("%s: set FLEET_BENCH=1 (%s) to run it", what, how)
	}
	if runtime.GOOS != "linux" {
		t.Skipf("%s: needs Linux (/proc)", what)
	}
	return *quickFlag || os.Getenv("FLEET_BENCH_QUICK") == "1"
}

func TestBench(t *testing.T) {
	quick := benchMode(t, "benchmark", "make bench / make bench-quick")
	only, err := onlyScenarios()
	if err != nil {
		t.Fatal(err)
	}
	b := newBench(t, quick)
	b.only = only
	b.buildFleet()
	b.startServers(b.cfg.realHosts)
	var note string
	b.meter, note = newServerMeter(b.uid)
	if note != "" {
		b.notes = append(b.notes, note)
	}

	start := time.Now()
	for i, run := range []func(){b.s1, b.s2, b.s3, b.s4, b.s5} {
		if b.only == nil || slices.Contains(b.only, scenarioNames[i]) {
			run()
		}
	}
	b.fillRatios()
	b.report(time.Since(start))
}

func (b *bench) buildFleet() {
	b.t.Helper()
	b.fleet = filepath.Join(b.tmp, "fleet")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-o", b.fleet, "fleetrun.dev/fleet/cmd/fleet").CombinedOutput()
	if err != nil {
		b.t.Fatalf("build fleet: %v\n%s", err, out)
	}
}

// startServers starts n sshd hosts, each in a mount namespace of its own
// in which its directory b.private[i] (under b.tmp, owned by the login
// user) is mounted at remoteRoot.
func (b *bench) startServers(n int) {
	t := b.t
	width := max(2, len(strconv.Itoa(n)))
	b.servers = make([]*sshdtest.Server, n)
	b.names = make([]string, n)
	b.private = make([]string, n)
	// The mount point must be traversable by the login user. It is
	// removed at the end if this run made it; this cleanup, registered
	// before the servers', runs after they have stopped.
	if _, err := os.Stat(remoteRoot); errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(remoteRoot, 0o755); err != nil {
			t.Fatalf("make the hosts' mount point: %v (the benchmark needs root)", err)
		}
		t.Cleanup(func() { os.Remove(remoteRoot) })
	}
	if err := os.Chmod(remoteRoot, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		b.names[i] = fmt.Sprintf("h%0*d", width, i+1)
		b.private[i] = filepath.Join(b.tmp, "private", b.names[i])
		if err := os.MkdirAll(b.private[i], 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			b.servers[i] = sshdtest.Start(t, sshdtest.Options{PrivateDir: b.private[i], PrivateAt: remoteRoot})
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	b.login = b.servers[0].User()
	u, err := user.Lookup(b.login)
	if err != nil {
		t.Fatal(err)
	}
	b.uid, _ = strconv.Atoi(u.Uid)
	b.gid, _ = strconv.Atoi(u.Gid)
	// The user exists only once a server has started; the mounts show
	// the same directories, so owning them now is soon enough.
	for _, d := range b.private {
		if err := os.Chown(d, b.uid, b.gid); err != nil {
			t.Fatal(err)
		}
	}
}

// lab is the files that let every tool reach the first n hosts.
type lab struct {
	dir        string
	servers    []*sshdtest.Server
	names      []string
	inventory  string // YAML, for fleet and Ansible
	sshConfig  string // a Host block per name, for ssh, scp, rsync, pssh, pdsh
	hostsFile  string // one name per line, for pssh
	ansibleCfg string
}

func (b *bench) lab(n int) *lab {
	t := b.t
	dir := filepath.Join(b.tmp, fmt.Sprintf("lab%d", n))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	l := &lab{dir: dir, servers: b.servers[:n], names: b.names[:n]}
	known := filepath.Join(dir, "known_hosts")
	var conf, hosts strings.Builder
	for i, s := range l.servers {
		s.WriteKnownHosts(known)
		fmt.Fprintf(&conf, "Host %s\n  HostName %s\n  Port %d\n  User %s\n",
			l.names[i], s.Addr(), s.Port(), s.User())
		hosts.WriteString(l.names[i] + "\n")
	}
	fmt.Fprintf(&conf, `Host *
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  ConnectTimeout 10
  LogLevel ERROR
`, sshdtest.ClientKeyPath(), known)
	l.inventory = filepath.Join(dir, "inventory.yml")
	l.sshConfig = filepath.Join(dir, "ssh_config")
	l.hostsFile = filepath.Join(dir, "hosts")
	l.ansibleCfg = filepath.Join(dir, "ansible.cfg")
	l.writeInventory(t, l.inventory, nil)
	writeFile(t, l.sshConfig, conf.String())
	writeFile(t, l.hostsFile, hosts.String())
	writeFile(t, l.ansibleCfg, "[defaults]\n")
	return l
}

// writeInventory writes a YAML inventory of the lab's hosts; hostVars,
// when not nil, gives more variables for a host as YAML lines
// ("key: value\n").
func (l *lab) writeInventory(t *testing.T, path string, hostVars func(name string) string) {
	var inv strings.Builder
	inv.WriteString("all:\n  hosts:\n")
	for i, s := range l.servers {
		fmt.Fprintf(&inv, "    %s:\n      ansible_host: %s\n      ansible_port: %d\n      ansible_user: %s\n",
			l.names[i], s.Addr(), s.Port(), s.User())
		if hostVars != nil {
			for line := range strings.Lines(hostVars(l.names[i])) {
				inv.WriteString("      " + line)
			}
		}
	}
	writeFile(t, path, inv.String())
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// variant is one tool in one mode of a scenario.
type variant struct {
	tool, mode string
	// missing names the executable whose absence makes the row n/a.
	needs []string
	// setup runs once before the measured runs; teardown once after;
	// after runs after every measured run. None of them is timed.
	setup, teardown, after func(ctx context.Context) error
	// cmd is the measured command; check verifies its output (and the
	// hosts' files), so that a fast failure never counts as a fast run.
	cmd   func() *exec.Cmd
	check func(s sample) error
	// iters, when not 0, overrides the scenario's iteration count (Ansible
	// runs once: each run takes seconds and varies little).
	iters int
}

// measure runs v iters times and appends its row (the median run by wall
// time).
func (b *bench) measure(scenario string, hosts int, servers []*sshdtest.Server, iters int, v variant) {
	t := b.t
	r := row{Scenario: scenario, Tool: v.tool, Mode: v.mode, Hosts: hosts}
	for _, exe := range v.needs {
		if _, err := exec.LookPath(exe); err != nil {
			r.Status = "n/a: " + exe + " not installed"
			b.rows = append(b.rows, r)
			t.Logf("%s %s %s: %s", scenario, v.tool, v.mode, r.Status)
			return
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*commandTimeout)
	defer cancel()
	fail := func(err error) {
		r.Status = "FAILED: " + shorten(firstLine(err.Error()))
		b.rows = append(b.rows, r)
		t.Errorf("%s %s %s: %v", scenario, v.tool, v.mode, err)
	}
	if v.setup != nil {
		if err := v.setup(ctx); err != nil {
			fail(fmt.Errorf("setup: %w", err))
			return
		}
	}
	if v.teardown != nil {
		defer func() {
			if err := v.teardown(ctx); err != nil {
				t.Errorf("%s %s %s: teardown: %v", scenario, v.tool, v.mode, err)
			}
		}()
	}
	if v.iters != 0 {
		iters = v.iters
	}
	var samples []sample
	for range iters {
		s, err := run(v.cmd(), servers, b.meter)
		if err == nil && v.check != nil {
			err = v.check(s)
		}
		if v.after != nil {
			if aerr := v.after(ctx); aerr != nil {
				t.Errorf("%s %s %s: after a run: %v", scenario, v.tool, v.mode, aerr)
			}
		}
		if err != nil {
			fail(fmt.Errorf("%w\nstdout:\n%s\nstderr:\n%s", err, tail(s.stdout), tail(s.stderr)))
			return
		}
		samples = append(samples, s)
	}
	slices.SortFunc(samples, func(x, y sample) int { return int(x.wall - y.wall) })
	m := samples[len(samples)/2]
	r.WallSec, r.ToolCPUSec, r.ServerCPUSec = m.wall.Seconds(), m.cpu.Seconds(), m.serverCPU.Seconds()
	r.PeakRSSKiB, r.Status, r.Iterations = m.maxRSS, "ok", iters
	b.rows = append(b.rows, r)
	t.Logf("%s %-18s %-5s wall %7.3fs  cpu %6.3fs  sshd cpu %6.3fs  rss %6d KiB",
		scenario, v.tool, v.mode, r.WallSec, r.ToolCPUSec, r.ServerCPUSec, r.PeakRSSKiB)
}

// run runs cmd with a timeout, its output in files (a daemon that inherits
// a pipe would hold Wait up), and measures it and, with m, the servers.
func run(cmd *exec.Cmd, servers []*sshdtest.Server, m *serverMeter) (sample, error) {
	var s sample
	outF, err := os.CreateTemp("", "bench-out-")
	if err != nil {
		return s, err
	}
	defer os.Remove(outF.Name())
	defer outF.Close()
	errF, err := os.CreateTemp("", "bench-err-")
	if err != nil {
		return s, err
	}
	defer os.Remove(errF.Name())
	defer errF.Close()
	cmd.Stdout, cmd.Stderr = outF, errF
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// A child that Go starts inherits this test process's peak RSS in its
	// ru_maxrss (exec records the old address space's high-water mark),
	// so the tool runs under GNU time, a small C program that forks it
	// and reports the tool tree's own ru_maxrss.
	rssFile := errF.Name() + ".rss"
	defer os.Remove(rssFile)
	if timeBin != "" {
		cmd.Args = append([]string{timeBin, "-f", "%M", "-o", rssFile, "--", cmd.Path}, cmd.Args[1:]...)
		cmd.Path = timeBin
	}

	before, _ := m.sample(servers)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return s, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }() // owned here: the select below always receives
	var runErr error
	select {
	case runErr = <-done:
	case <-time.After(commandTimeout):
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-done
		runErr = fmt.Errorf("timed out after %v", commandTimeout)
	}
	s.wall = time.Since(start)
	s.serverCPU = m.settled(servers) - before
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		s.cpu = time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		s.maxRSS = ru.Maxrss
	}
	if timeBin != "" {
		kib, err := strconv.ParseInt(strings.TrimSpace(lastLine(readAll(rssFile))), 10, 64)
		if err != nil {
			return s, fmt.Errorf("read the peak RSS that %s wrote to %s: %v", timeBin, rssFile, err)
		}
		s.maxRSS = kib
	}
	s.stdout, s.stderr = readAll(outF.Name()), readAll(errF.Name())
	if runErr != nil {
		return s, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), runErr)
	}
	return s, nil
}

// timeBin is GNU time, or "" when it is missing (then peak RSS includes
// the test process's own).
var timeBin = func() string {
	if p, err := exec.LookPath("/usr/bin/time"); err == nil {
		return p
	}
	return ""
}()

// lastLine returns the last non-empty line of s (GNU time writes "Command
// exited with non-zero status N" before the format when the tool fails).
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

func readAll(path string) string {
	data, _ := os.ReadFile(path)
	return string(data)
}

// shorten keeps the end of a long message, where the cause is.
func shorten(s string) string {
	if len(s) > 70 {
		return "…" + s[len(s)-70:]
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

func tail(s string) string {
	if len(s) > 3000 {
		return "…" + s[len(s)-3000:]
	}
	return s
}

// shell returns a command running script with bash.
func shell(script string) *exec.Cmd { return exec.Command("bash", "-c", script) }

func (b *bench) fleetCmd(l *lab, args ...string) *exec.Cmd {
	full := append([]string{args[0], "-i", l.inventory, "--ssh-config", l.sshConfig}, args[1:]...)
	return exec.Command(b.fleet, full...)
}

// quiet runs an untimed helper command.
func quiet(ctx context.Context, cmd *exec.Cmd) error {
	c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
	c.Env = cmd.Env
	out, err := c.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(string(out)))
	}
	return nil
}

// ---- output checks ----

// lineSet checks that want ⊆ got, naming what is missing.
func lineSet(got map[string]bool, want []string) error {
	var missing []string
	for _, w := range want {
		if !got[w] {
			missing = append(missing, w)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%d of %d expected outputs missing, e.g. %q", len(missing), len(want), missing[:min(3, len(missing))])
	}
	return nil
}

// expected lists "host output" for every host and output.
func expected(names []string, outs []string) []string {
	var w []string
	for _, n := range names {
		for _, o := range outs {
			w = append(w, n+" "+o)
		}
	}
	return w
}

func echoes(n int) []string {
	o := make([]string, n)
	for i := range o {
		o[i] = strconv.Itoa(i + 1)
	}
	return o
}

// parseFleet reads fleet's text output: "host   | line".
func parseFleet(out string) map[string]bool {
	got := map[string]bool{}
	for line := range strings.Lines(out) {
		host, text, ok := strings.Cut(line, "|")
		if f := strings.Fields(host); ok && len(f) > 0 {
			got[f[0]+" "+strings.TrimSpace(text)] = true
		}
	}
	return got
}

// parsePdsh reads "host: line".
func parsePdsh(out string) map[string]bool {
	got := map[string]bool{}
	for line := range strings.Lines(out) {
		if host, text, ok := strings.Cut(line, ": "); ok {
			got[host+" "+strings.TrimSpace(text)] = true
		}
	}
	return got
}

var psshHeader = regexp.MustCompile(`^\[\d+\] \S+ \[(SUCCESS|FAILURE)\] (\S+)`)

// parsePssh reads parallel-ssh -i output: a header per host, then its lines.
func parsePssh(out string) map[string]bool {
	got := map[string]bool{}
	host := ""
	for line := range strings.Lines(out) {
		line = strings.TrimRight(line, "\n")
		if m := psshHeader.FindStringSubmatch(line); m != nil {
			host = ""
			if m[1] == "SUCCESS" {
				host, _, _ = strings.Cut(m[2], ":")
			}
			continue
		}
		if host != "" {
			got[host+" "+strings.TrimSpace(line)] = true
		}
	}
	return got
}

// parseFiles reads DIR/<host> files written by shell loops.
func parseFiles(dir string) map[string]bool {
	got := map[string]bool{}
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		for line := range strings.Lines(readAll(filepath.Join(dir, e.Name()))) {
			got[e.Name()+" "+strings.TrimSpace(line)] = true
		}
	}
	return got
}

var recapRE = regexp.MustCompile(`(?m)^(\S+)\s*:\s*ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)`)

// anyChanged makes checkRecap accept any changed= count.
const anyChanged = -1

// checkRecap checks that the PLAY RECAP (Ansible's or fleet play's) has
// every host with ok=tasks, nothing unreachable or failed, and, unless
// changed is anyChanged, changed=changed.
func checkRecap(out string, names []string, tasks, changed int) error {
	rows := map[string][]string{}
	for _, m := range recapRE.FindAllStringSubmatch(out, -1) {
		rows[m[1]] = m
	}
	for _, n := range names {
		m, ok := rows[n]
		switch {
		case !ok:
			return fmt.Errorf("play recap: no row for %s", n)
		case m[2] != strconv.Itoa(tasks) || m[4] != "0" || m[5] != "0":
			return fmt.Errorf("play recap: %s did not finish %d tasks ok: %s", n, tasks, strings.TrimSpace(m[0]))
		case changed != anyChanged && m[3] != strconv.Itoa(changed):
			return fmt.Errorf("play recap: %s: changed=%s, want %d: %s", n, m[3], changed, strings.TrimSpace(m[0]))
		}
	}
	return nil
}

func freshDir(dir string) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.MkdirAll(dir, 0o755)
}

// ---- ssh helpers ----

func (b *bench) ansibleEnv(l *lab, cpDir string) []string {
	return append(os.Environ(),
		"ANSIBLE_CONFIG="+l.ansibleCfg,
		"ANSIBLE_SSH_ARGS=-F "+l.sshConfig+" -o ControlMaster=auto -o ControlPersist=300s",
		"ANSIBLE_SSH_CONTROL_PATH_DIR="+cpDir,
		"ANSIBLE_PIPELINING=True",
		"ANSIBLE_FORKS=20",
		"ANSIBLE_GATHERING=explicit",
		"ANSIBLE_HOST_KEY_CHECKING=False",
		"ANSIBLE_PYTHON_INTERPRETER=/usr/bin/python3",
		"ANSIBLE_NOCOLOR=1",
		"ANSIBLE_RETRY_FILES_ENABLED=False",
		"ANSIBLE_DEPRECATION_WARNINGS=False",
		"ANSIBLE_LOCAL_TEMP="+filepath.Join(b.tmp, "ansible-local"),
	)
}

// masterSockets counts the sockets in dir.
func masterSockets(dir string) int {
	entries, _ := os.ReadDir(dir)
	n := 0
	for _, e := range entries {
		if e.Type()&fs.ModeSocket != 0 {
			n++
		}
	}
	return n
}

// stopMasters asks every OpenSSH master socket in dir to exit.
func stopMasters(ctx context.Context, dir string) error {
	entries, _ := os.ReadDir(dir)
	var errs []error
	for _, e := range entries {
		if e.Type()&fs.ModeSocket == 0 {
			continue
		}
		sock := filepath.Join(dir, e.Name())
		out, err := exec.CommandContext(ctx, "ssh", "-S", sock, "-O", "exit", "x").CombinedOutput()
		if err != nil && !strings.Contains(string(out), "No such file") && !strings.Contains(string(out), "Connection refused") {
			errs = append(errs, fmt.Errorf("ssh -S %s -O exit: %v: %s", sock, err, out))
		}
		os.Remove(sock)
	}
	return errors.Join(errs...)
}

// parallelHosts renders a bash script that runs body for every host at
// once ($h is the host) and waits for all of them.
func parallelHosts(names []string, prelude, body string) string {
	return fmt.Sprintf("set -u\n%s\nfor h in %s; do (\n%s\n) & done\nwait\n", prelude, strings.Join(names, " "), body)
}

// sshMasterUp starts a master for $h in the background of the script, as
// a waited-for child (so its CPU is counted), and blocks until it listens:
// LocalCommand runs once the master's socket is up.
const sshMasterUp = `mkfifo "$T/ready.$h"
ssh -F "$CFG" -M -N -o ControlPersist=no -o ControlPath="$CP" -o PermitLocalCommand=yes -o LocalCommand="echo > $T/ready.$h" $h & m=$!
read _ < "$T/ready.$h"
`

const sshMasterDown = `ssh -F "$CFG" -o ControlPath="$CP" -O exit $h 2>/dev/null
wait $m
`

// ---- S1 ----

func (b *bench) s1() {
	t := b.t
	n, cmds := b.cfg.s1Hosts, b.cfg.s1Cmds
	l := b.lab(n)
	servers := l.servers
	scen := fmt.Sprintf("S1 %dh×%d cmds", n, cmds)
	want := expected(l.names, echoes(cmds))
	out := filepath.Join(b.tmp, "s1out")

	// fleet run, and fleet play with the playbook Ansible runs: cmds shell
	// tasks.
	fleetArgs := []string{"run", "all"}
	for i := 1; i <= cmds; i++ {
		fleetArgs = append(fleetArgs, "-c", fmt.Sprintf("%s %d", b.cfg.echo, i))
	}
	var pb strings.Builder
	pb.WriteString("- hosts: all\n  gather_facts: no\n  tasks:\n")
	for i := 1; i <= cmds; i++ {
		fmt.Fprintf(&pb, "    - shell: %s %d\n", b.cfg.echo, i)
	}
	playbook := filepath.Join(l.dir, "s1.yml")
	writeFile(t, playbook, pb.String())
	recap := func(s sample) error { return checkRecap(s.stdout, l.names, cmds, anyChanged) }
	fleetCheck := func(s sample) error { return lineSet(parseFleet(s.stdout), want) }
	masters := b.fleetMasters(l, "fcm")
	for _, f := range []struct {
		tool  string
		args  []string
		check func(sample) error
	}{
		{"fleet run", fleetArgs, fleetCheck},
		{"fleet play", []string{"play", playbook}, recap},
	} {
		b.measure(scen, n, servers, b.cfg.s1Iters, variant{tool: f.tool, mode: "cold",
			cmd:   func() *exec.Cmd { return b.fleetCmd(l, slices.Concat(f.args, []string{"--fresh"})...) },
			check: f.check})
		b.measure(scen, n, servers, b.cfg.s1Iters, variant{tool: f.tool, mode: "warm",
			setup: masters.start, teardown: masters.stop,
			cmd: func() *exec.Cmd {
				return b.fleetCmd(l, slices.Concat(f.args, []string{"--control-path", masters.path})...)
			},
			check: f.check})
	}

	// ssh with ControlMaster: per host, a master, then the commands in
	// sequence through it, all hosts at once.
	seq := fmt.Sprintf(`for i in $(seq 1 %d); do ssh -F "$CFG" -S "$CP" $h "%s $i" >> "$OUT/$h"; done`, cmds, b.cfg.echo)
	prelude := fmt.Sprintf(`CFG=%q; T=%q; OUT=%q; CP="$T/s-%%C"`, l.sshConfig, filepath.Join(b.tmp, "sshcm"), out)
	resetOut := func(ctx context.Context) error {
		if err := freshDir(out); err != nil {
			return err
		}
		return freshDir(filepath.Join(b.tmp, "sshcm"))
	}
	fileCheck := func(sample) error { return lineSet(parseFiles(out), want) }
	b.measure(scen, n, servers, b.cfg.s1Iters, variant{tool: "ssh ControlMaster", mode: "cold", needs: []string{"ssh"},
		setup: resetOut, after: resetOut,
		cmd:   func() *exec.Cmd { return shell(parallelHosts(l.names, prelude, sshMasterUp+seq+"\n"+sshMasterDown)) },
		check: fileCheck})
	// Warm: a background `ssh -fN` master per host, as ControlPersist
	// leaves them.
	warmCP := filepath.Join(b.tmp, "sshw")
	warmPrelude := fmt.Sprintf(`CFG=%q; OUT=%q; CP="%s/%%C"`, l.sshConfig, out, warmCP)
	warmUp := func(ctx context.Context) error {
		if err := freshDir(warmCP); err != nil {
			return err
		}
		if err := resetOut(ctx); err != nil {
			return err
		}
		return quiet(ctx, shell(parallelHosts(l.names, warmPrelude,
			`ssh -F "$CFG" -M -N -f -o ControlPersist=yes -o ControlPath="$CP" $h && ssh -F "$CFG" -o ControlPath="$CP" -O check $h 2>/dev/null || exit 1`)))
	}
	warmDown := func(ctx context.Context) error { return stopMasters(ctx, warmCP) }
	b.measure(scen, n, servers, b.cfg.s1Iters, variant{tool: "ssh ControlMaster", mode: "warm", needs: []string{"ssh"},
		setup:    warmUp,
		after:    func(ctx context.Context) error { return freshDir(out) },
		teardown: warmDown,
		cmd:      func() *exec.Cmd { return shell(parallelHosts(l.names, warmPrelude, seq)) },
		check:    fileCheck})

	// pssh and pdsh: one invocation per command, a new connection each.
	b.measure(scen, n, servers, b.cfg.iters, variant{tool: "pssh", mode: "cold", needs: []string{"parallel-ssh"},
		cmd: func() *exec.Cmd {
			return shell(fmt.Sprintf(`for i in $(seq 1 %d); do parallel-ssh -h %q -p %d -t 0 -i -x "-F %s" "%s $i" || exit 1; done`,
				cmds, l.hostsFile, n, l.sshConfig, b.cfg.echo))
		},
		check: func(s sample) error { return lineSet(parsePssh(s.stdout), want) }})
	b.measure(scen, n, servers, b.cfg.iters, variant{tool: "pdsh", mode: "cold", needs: []string{"pdsh"},
		cmd: func() *exec.Cmd {
			c := shell(fmt.Sprintf(`for i in $(seq 1 %d); do pdsh -R ssh -f %d -l %s -w %s "%s $i" || exit 1; done`,
				cmds, n, b.login, strings.Join(l.names, ","), b.cfg.echo))
			c.Env = append(os.Environ(), "PDSH_SSH_ARGS_APPEND=-F "+l.sshConfig)
			return c
		},
		check: func(s sample) error { return lineSet(parsePdsh(s.stdout), want) }})

	// Ansible: the same playbook.
	ansCP := filepath.Join(b.tmp, "acp")
	if err := os.MkdirAll(ansCP, 0o700); err != nil {
		t.Fatal(err)
	}
	ansible := func() *exec.Cmd {
		c := exec.Command("ansible-playbook", "-i", l.inventory, playbook)
		c.Env = b.ansibleEnv(l, ansCP)
		return c
	}
	// The cold row (one run) leaves ControlPersist masters, which the warm
	// row rides: an Ansible run takes seconds, this saves one.
	stopAns := func(ctx context.Context) error { return stopMasters(ctx, ansCP) }
	b.measure(scen, n, servers, b.cfg.iters, variant{tool: "ansible", mode: "cold", needs: []string{"ansible-playbook"}, iters: 1,
		setup: stopAns, cmd: ansible, check: recap})
	b.measure(scen, n, servers, b.cfg.iters, variant{tool: "ansible", mode: "warm", needs: []string{"ansible-playbook"}, iters: 1,
		setup: func(ctx context.Context) error {
			if masterSockets(ansCP) == n {
				return nil
			}
			t.Logf("%s ansible warm: the cold row left no masters; starting them", scen)
			return quiet(ctx, ansible())
		},
		teardown: stopAns, cmd: ansible, check: recap})

	// The floor: one ssh session per host running every command; cold
	// it connects, warm it rides an `ssh -fN` master.
	var all []string
	for i := 1; i <= cmds; i++ {
		all = append(all, fmt.Sprintf("%s %d", b.cfg.echo, i))
	}
	oneSession := fmt.Sprintf(`ssh -F "$CFG" $h %q > "$OUT/$h"`, strings.Join(all, "; "))
	b.measure(scen, n, servers, b.cfg.s1Iters, variant{tool: floorTool, mode: "cold", needs: []string{"ssh"},
		setup: resetOut, after: resetOut,
		cmd:   func() *exec.Cmd { return shell(parallelHosts(l.names, prelude, oneSession)) },
		check: fileCheck})
	b.measure(scen, n, servers, b.cfg.s1Iters, variant{tool: floorTool, mode: "warm", needs: []string{"ssh"},
		setup:    warmUp,
		after:    func(ctx context.Context) error { return freshDir(out) },
		teardown: warmDown,
		cmd: func() *exec.Cmd {
			return shell(parallelHosts(l.names, warmPrelude, fmt.Sprintf(`ssh -F "$CFG" -S "$CP" $h %q > "$OUT/$h"`, strings.Join(all, "; "))))
		},
		check: fileCheck})
}

// fleetMasters are `fleet master start` masters on a lab's hosts, published
// at path, for the warm rows.
type fleetMasters struct {
	path        string
	start, stop func(ctx context.Context) error
}

func (b *bench) fleetMasters(l *lab, dir string) fleetMasters {
	path := filepath.Join(b.tmp, dir, "%C")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		b.t.Fatal(err)
	}
	return fleetMasters{path: path,
		start: func(ctx context.Context) error {
			return quiet(ctx, b.fleetCmd(l, "master", "start", "all", "--control-path", path, "--persist", "10m"))
		},
		stop: func(ctx context.Context) error {
			return quiet(ctx, b.fleetCmd(l, "master", "stop", "all", "--force", "--control-path", path))
		}}
}

// ---- S2 ----

func (b *bench) s2() {
	cmds := b.cfg.s2Cmds
	l := b.lab(1)
	scen := fmt.Sprintf("S2 1h×%d cmds", cmds)
	want := expected(l.names, echoes(cmds))
	args := []string{"run", "all", "--fresh"}
	for i := 1; i <= cmds; i++ {
		args = append(args, "-c", fmt.Sprintf("%s %d", b.cfg.echo, i))
	}
	b.measure(scen, 1, l.servers, b.cfg.iters, variant{tool: "fleet run", mode: "cold",
		cmd:   func() *exec.Cmd { return b.fleetCmd(l, args...) },
		check: func(s sample) error { return lineSet(parseFleet(s.stdout), want) }})
	out := filepath.Join(b.tmp, "s2out")
	reset := func(ctx context.Context) error {
		if err := freshDir(out); err != nil {
			return err
		}
		return freshDir(filepath.Join(b.tmp, "sshcm"))
	}
	prelude := fmt.Sprintf(`CFG=%q; T=%q; OUT=%q; CP="$T/s-%%C"`, l.sshConfig, filepath.Join(b.tmp, "sshcm"), out)
	seq := fmt.Sprintf(`for i in $(seq 1 %d); do ssh -F "$CFG" -S "$CP" $h "%s $i" >> "$OUT/$h"; done`, cmds, b.cfg.echo)
	b.measure(scen, 1, l.servers, b.cfg.iters, variant{tool: "ssh ControlMaster", mode: "cold", needs: []string{"ssh"},
		setup: reset, after: reset,
		cmd:   func() *exec.Cmd { return shell(parallelHosts(l.names, prelude, sshMasterUp+seq+"\n"+sshMasterDown)) },
		check: func(sample) error { return lineSet(parseFiles(out), want) }})
}

// ---- S3 ----

// tree describes what a push must leave in each host's directory.
type tree struct {
	files int
	bytes int64
}

func walkTree(dir string) (tree, error) {
	var tr tree
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() && !strings.HasPrefix(d.Name(), ".") {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			tr.files++
			tr.bytes += fi.Size()
		}
		return nil
	})
	return tr, err
}

// makeSources writes SRC/big/big.bin, and s3Files and s3FewFiles files
// of 4 KiB under SRC/tree/dNN/ and SRC/few/dNN/.
func (b *bench) makeSources() (big, small, few string, bigTree, smallTree, fewTree tree) {
	t := b.t
	src := filepath.Join(b.tmp, "src")
	big, small, few = filepath.Join(src, "big"), filepath.Join(src, "tree"), filepath.Join(src, "few")
	if err := os.MkdirAll(big, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(big, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for i := range b.cfg.s3BigMiB {
		for j := range buf {
			buf[j] = byte(i*131 + j*7 + j>>9) // not all zeros, so nothing compresses it away
		}
		if _, err := f.Write(buf); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	small4k := make([]byte, 4096)
	for root, n := range map[string]int{small: b.cfg.s3Files, few: b.cfg.s3FewFiles} {
		for i := range n {
			d := filepath.Join(root, fmt.Sprintf("d%02d", i/100))
			if err := os.MkdirAll(d, 0o755); err != nil {
				t.Fatal(err)
			}
			copy(small4k, fmt.Sprintf("file %d\n", i))
			if err := os.WriteFile(filepath.Join(d, fmt.Sprintf("f%04d", i)), small4k, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return big, small, few, tree{1, int64(b.cfg.s3BigMiB) << 20}, tree{b.cfg.s3Files, int64(b.cfg.s3Files) * 4096},
		tree{b.cfg.s3FewFiles, int64(b.cfg.s3FewFiles) * 4096}
}

// freshHostDirs makes rel (a path below remoteRoot) empty and owned, with
// its parents up to remoteRoot, by the login user on the first n hosts,
// through their private directories.
func (b *bench) freshHostDirs(n int, rel string) error {
	for _, root := range b.private[:n] {
		d := filepath.Join(root, rel)
		if !strings.HasPrefix(d, root+"/") {
			return fmt.Errorf("freshHostDirs: %s is not below %s", rel, remoteRoot)
		}
		if err := freshDir(d); err != nil {
			return err
		}
		for p := d; p != root; p = filepath.Dir(p) {
			if err := os.Chown(p, b.uid, b.gid); err != nil {
				return err
			}
		}
	}
	return nil
}

// warmDisk writes src's size to every one of the first n hosts' private
// directories, untimed, and removes it. Blocks written for the first time
// cost this VM's disk several times more than rewritten ones: measured
// here, 200 MiB to 20 hosts took the first tool 10.5 s and the same tool
// 6.5 s later. Without this the first row of S3 pays for the disk.
func (b *bench) warmDisk(n int, src string) {
	t := b.t
	for _, root := range b.private[:n] {
		dst := filepath.Join(root, ".warm")
		if err := copyFile(src, dst); err != nil {
			t.Fatalf("warm the hosts' disk: %v", err)
		}
		if err := os.Remove(dst); err != nil {
			t.Fatal(err)
		}
	}
}

// copyFile copies src to dst and syncs it, so that its blocks are written.
func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func (b *bench) s3() {
	t := b.t
	n := b.cfg.s3Hosts
	l := b.lab(n)
	bigSrc, treeSrc, fewSrc, bigWant, treeWant, fewWant := b.makeSources()
	b.warmDisk(n, filepath.Join(bigSrc, "big.bin"))
	// Every tool pushes to remoteRoot/s3/<tool>/ on every host; each host
	// sees its own directory there.
	base := filepath.Join(remoteRoot, "s3")
	for _, c := range []struct {
		label          string
		src            string
		want           tree
		peers, ansible bool
	}{
		{fmt.Sprintf("S3 %dh×%dMiB file", n, b.cfg.s3BigMiB), bigSrc, bigWant, true, true},
		{fmt.Sprintf("S3 %dh×%d×4KiB tree", n, b.cfg.s3Files), treeSrc, treeWant, true, false},
		{fmt.Sprintf("S3 %dh×%d×4KiB tree", n, b.cfg.s3FewFiles), fewSrc, fewWant, false, true},
	} {
		name := filepath.Base(c.src)
		// prepare gives each tool an empty directory owned by the login
		// user on every host; check finds the copied directory in each
		// host's private directory, read on this machine.
		prepare := func(tool string) func(context.Context) error {
			return func(context.Context) error { return b.freshHostDirs(n, filepath.Join("s3", tool)) }
		}
		check := func(tool string) func(sample) error {
			return func(sample) error {
				for i, h := range l.names {
					got, err := walkTree(filepath.Join(b.private[i], "s3", tool, name))
					if err != nil {
						return fmt.Errorf("%s: %w", h, err)
					}
					if got != c.want {
						return fmt.Errorf("%s: %d files, %d bytes arrived; want %d files, %d bytes", h, got.files, got.bytes, c.want.files, c.want.bytes)
					}
				}
				for _, root := range b.private[:n] {
					// Keep the disk use at one copy per host.
					if err := os.RemoveAll(filepath.Join(root, "s3", tool)); err != nil {
						return err
					}
				}
				return nil
			}
		}
		b.measure(c.label, n, l.servers, 1, variant{tool: "fleet push", mode: "cold", setup: prepare("fleet"),
			cmd: func() *exec.Cmd {
				return b.fleetCmd(l, "push", "all", c.src, filepath.Join(base, "fleet")+"/", "--fresh")
			},
			check: check("fleet")})
		if c.peers {
			prelude := fmt.Sprintf(`CFG=%q; SRC=%q; DST=%q; CM="-o ControlMaster=auto -o ControlPersist=no -o ControlPath=%s/c-%%C"`,
				l.sshConfig, c.src, base, b.tmp)
			b.measure(c.label, n, l.servers, 1, variant{tool: "scp loop", mode: "cold", needs: []string{"scp"}, setup: prepare("scp"),
				cmd: func() *exec.Cmd {
					return shell(parallelHosts(l.names, prelude, `scp -q -r -F "$CFG" $CM "$SRC" "$h:$DST/scp/"`))
				},
				check: check("scp")})
			b.measure(c.label, n, l.servers, 1, variant{tool: "rsync loop", mode: "cold", needs: []string{"rsync"}, setup: prepare("rsync"),
				cmd: func() *exec.Cmd {
					return shell(parallelHosts(l.names, prelude, `rsync -a -e "ssh -F $CFG $CM" "$SRC" "$h:$DST/rsync/"`))
				},
				check: check("rsync")})
			b.measure(c.label, n, l.servers, 1, variant{tool: "parallel-scp", mode: "cold", needs: []string{"parallel-scp"}, setup: prepare("pscp"),
				cmd: func() *exec.Cmd {
					return exec.Command("parallel-scp", "-h", l.hostsFile, "-p", strconv.Itoa(n), "-t", "0", "-r",
						"-x", "-F "+l.sshConfig, c.src, filepath.Join(base, "pscp")+"/")
				},
				check: check("pscp")})
		}
		if !c.ansible {
			b.rows = append(b.rows, row{Scenario: c.label, Tool: "ansible copy", Mode: "cold",
				Status: fmt.Sprintf("skipped: ~1 s per file and host; see the %d-file row", b.cfg.s3FewFiles)})
			continue
		}
		playbook := filepath.Join(l.dir, "s3-"+name+".yml")
		writeFile(t, playbook, fmt.Sprintf("- hosts: all\n  gather_facts: no\n  tasks:\n    - copy:\n        src: %s\n        dest: %s/ansible/\n",
			c.src, base))
		ansCP := filepath.Join(b.tmp, "acp3")
		b.measure(c.label, n, l.servers, 1, variant{tool: "ansible copy", mode: "cold", needs: []string{"ansible-playbook"},
			setup:    prepare("ansible"),
			teardown: func(ctx context.Context) error { return stopMasters(ctx, ansCP) },
			cmd: func() *exec.Cmd {
				c := exec.Command("ansible-playbook", "-i", l.inventory, playbook)
				c.Env = b.ansibleEnv(l, ansCP)
				return c
			},
			check: check("ansible")})
	}
}

// ---- S4 ----

var pingOK = regexp.MustCompile(`(?m)^(\S+)\s+ok\s`)

func (b *bench) s4() {
	t := b.t
	fleetLab := filepath.Join(b.tmp, "fleet-lab")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", fleetLab, "fleetrun.dev/fleet/cmd/fleet-lab").CombinedOutput(); err != nil {
		t.Fatalf("build fleet-lab: %v\n%s", err, out)
	}
	n := b.cfg.s4Lab
	dir := filepath.Join(b.tmp, "s4lab")
	labCmd := exec.CommandContext(ctx, fleetLab, "up", "-n", strconv.Itoa(n), "-dir", dir)
	labLog := filepath.Join(b.tmp, "fleet-lab.log")
	logF, err := os.Create(labLog)
	if err != nil {
		t.Fatal(err)
	}
	defer logF.Close()
	labCmd.Stdout, labCmd.Stderr = logF, logF
	if err := labCmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stopLab := func() {
		if !stopped {
			stopped = true
			labCmd.Process.Signal(syscall.SIGTERM)
			labCmd.Wait()
		}
	}
	defer stopLab()
	ready := false
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); {
		if _, err := os.Stat(filepath.Join(dir, "ready")); err == nil {
			ready = true
			break
		}
		if labCmd.ProcessState != nil {
			break
		}
		time.Sleep(50 * time.Millisecond) // polling for a file, not an assertion
	}
	if !ready {
		t.Errorf("fleet-lab did not become ready:\n%s", readAll(labLog))
		return
	}
	labFiles := &lab{inventory: filepath.Join(dir, "inventory.yml"), sshConfig: filepath.Join(dir, "ssh_config")}
	labPID := labCmd.Process.Pid
	b.s4Pair(fmt.Sprintf("S4 %d lab hosts", n), labFiles, n, nil, labPID)
	stopLab()

	real := b.lab(b.cfg.s4Real)
	b.s4Pair(fmt.Sprintf("S4 %d sshd hosts", b.cfg.s4Real), real, b.cfg.s4Real, real.servers, 0)
}

// s4Pair measures fleet ping and fleet run -- true on n hosts; labPID, when
// not 0, is the in-process lab whose CPU is the server CPU.
func (b *bench) s4Pair(scen string, l *lab, n int, servers []*sshdtest.Server, labPID int) {
	var labBefore int64
	wrap := func(c *exec.Cmd) func() *exec.Cmd {
		return func() *exec.Cmd { labBefore = procTicks(labPID); return c }
	}
	labCPU := func() {
		if labPID != 0 && len(b.rows) > 0 {
			r := &b.rows[len(b.rows)-1]
			r.ServerCPUSec = float64(procTicks(labPID)-labBefore) / clockTicks
		}
	}
	perHost := func() {
		r := &b.rows[len(b.rows)-1]
		if r.Status == "ok" {
			r.RSSPerHostKiB = float64(r.PeakRSSKiB) / float64(n)
		}
	}
	b.measure(scen, n, servers, 1, variant{tool: "fleet ping", mode: "cold",
		cmd: wrap(b.fleetCmd(l, "ping", "all", "--fresh")),
		check: func(s sample) error {
			if got := len(pingOK.FindAllString(s.stdout, -1)); got != n {
				return fmt.Errorf("%d of %d hosts answered ping", got, n)
			}
			return nil
		}})
	labCPU()
	perHost()
	b.measure(scen, n, servers, 1, variant{tool: "fleet run -- true", mode: "cold",
		cmd: wrap(b.fleetCmd(l, "run", "all", "--fresh", "--", "true")),
		check: func(s sample) error {
			if !strings.Contains(s.stderr, fmt.Sprintf("ok: %d ", n)) {
				return fmt.Errorf("summary does not say all %d hosts are ok", n)
			}
			return nil
		}})
	labCPU()
	perHost()
}

// ---- S5 ----

// s5Playbook is S5's playbook: ten tasks that are idempotent under both
// fleet play and ansible-playbook, everything under {{ root }}, the same
// path on every host (remoteRoot/s5/<tool>), which each host sees in its
// own private directory. The template and data file are given by absolute paths, so
// neither tool's search path matters.
const s5Playbook = `- hosts: all
  gather_facts: false
  tasks:
    - name: the host's root
      file: path={{ root }} state=directory mode=0755
    - name: a config directory
      file:
        path: "{{ root }}/etc"
        state: directory
        mode: "0755"
    - name: a config from content
      copy:
        content: "name = {{ inventory_hostname }}\nport = 8080\n"
        dest: "{{ root }}/etc/app.conf"
        mode: "0644"
    - name: a line in another file
      lineinfile:
        path: "{{ root }}/etc/extra.conf"
        line: "debug = false"
        create: yes
        mode: "0644"
    - name: a motd from a template
      template:
        src: %s
        dest: "{{ root }}/etc/motd"
        mode: "0644"
    - name: a data file
      copy:
        src: %s
        dest: "{{ root }}/data.txt"
        mode: "0644"
    - name: a link
      file: src=etc/app.conf dest={{ root }}/app.conf state=link
    - name: stat the config
      stat:
        path: "{{ root }}/etc/app.conf"
      register: conf
    - name: a command that runs once
      command: touch {{ root }}/initialised
      args:
        creates: "{{ root }}/initialised"
    - name: a read-only check
      command: cat {{ root }}/etc/app.conf
      changed_when: false
`

const s5Template = `Welcome to {{ inventory_hostname }} ({{ ansible_host }}).
{% for i in range(3) %}line {{ i }}
{% endfor %}`

func (b *bench) s5() {
	t := b.t
	n, tasks := b.cfg.s5Hosts, b.cfg.s5Tasks
	l := b.lab(n)
	scen := fmt.Sprintf("S5 %dh×%d tasks, 2nd run", n, tasks)
	dir := filepath.Join(l.dir, "s5")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	motd, data := filepath.Join(dir, "motd.j2"), filepath.Join(dir, "data.txt")
	writeFile(t, motd, s5Template)
	writeFile(t, data, strings.Repeat("0123456789abcdef", 256))
	playbook := filepath.Join(dir, "site.yml")
	writeFile(t, playbook, fmt.Sprintf(s5Playbook, motd, data))
	if got := strings.Count(s5Playbook, "    - name: "); got != tasks {
		t.Fatalf("S5's playbook has %d tasks, the config says %d", got, tasks)
	}

	// Each tool gets its own root, so that neither converges for the
	// other; the root is the same path on every host.
	toolLab := func(tool string) *lab {
		if err := b.freshHostDirs(n, filepath.Join("s5", tool)); err != nil {
			t.Fatal(err)
		}
		tl := *l
		tl.inventory = filepath.Join(dir, tool+".yml")
		l.writeInventory(t, tl.inventory, func(string) string {
			return fmt.Sprintf("root: %s\n", filepath.Join(remoteRoot, "s5", tool))
		})
		return &tl
	}
	// second checks a second run's recap, and that every host's root, read
	// on this machine through its private directory, holds that host's
	// files.
	second := func(tool string) func(s sample) error {
		return func(s sample) error {
			if err := checkRecap(s.stdout, l.names, tasks, 0); err != nil {
				return err
			}
			return b.checkS5Roots(l.names, tool)
		}
	}
	// converge runs the playbook once, untimed, so that the measured runs
	// are second runs.
	converge := func(ctx context.Context, cmd *exec.Cmd) error {
		c := exec.CommandContext(ctx, cmd.Path, cmd.Args[1:]...)
		c.Env = cmd.Env
		out, err := c.CombinedOutput()
		if err == nil {
			err = checkRecap(string(out), l.names, tasks, anyChanged)
		}
		if err != nil {
			return fmt.Errorf("first run: %s: %w\n%s", strings.Join(cmd.Args, " "), err, tail(string(out)))
		}
		return nil
	}

	fl := toolLab("fleet")
	masters := b.fleetMasters(fl, "fcm5")
	play := func(args ...string) *exec.Cmd { return b.fleetCmd(fl, append([]string{"play", playbook}, args...)...) }
	converged := false
	b.measure(scen, n, l.servers, b.cfg.iters, variant{tool: "fleet play", mode: "cold",
		setup: func(ctx context.Context) error {
			converged = true
			return converge(ctx, play("--fresh"))
		},
		cmd:   func() *exec.Cmd { return play("--fresh") },
		check: second("fleet")})
	b.measure(scen, n, l.servers, b.cfg.iters, variant{tool: "fleet play", mode: "warm",
		setup: func(ctx context.Context) error {
			if err := masters.start(ctx); err != nil {
				return err
			}
			if !converged {
				return converge(ctx, play("--control-path", masters.path))
			}
			return nil
		},
		teardown: masters.stop,
		cmd:      func() *exec.Cmd { return play("--control-path", masters.path) },
		check:    second("fleet")})

	// Ansible: the first run leaves ControlPersist masters, which the cold
	// row stops first; the warm row rides those that the cold row's run
	// left (an Ansible run takes seconds; this saves one).
	al := toolLab("ansible")
	ansCP := filepath.Join(b.tmp, "acp5")
	if err := os.MkdirAll(ansCP, 0o700); err != nil {
		t.Fatal(err)
	}
	ansible := func() *exec.Cmd {
		c := exec.Command("ansible-playbook", "-i", al.inventory, playbook)
		c.Env = b.ansibleEnv(al, ansCP)
		return c
	}
	stopAns := func(ctx context.Context) error { return stopMasters(ctx, ansCP) }
	b.measure(scen, n, l.servers, b.cfg.iters, variant{tool: "ansible", mode: "cold", needs: []string{"ansible-playbook"}, iters: 1,
		setup: func(ctx context.Context) error {
			if err := converge(ctx, ansible()); err != nil {
				return err
			}
			return stopAns(ctx)
		},
		cmd: ansible, check: second("ansible")})
	b.measure(scen, n, l.servers, b.cfg.iters, variant{tool: "ansible", mode: "warm", needs: []string{"ansible-playbook"}, iters: 1,
		setup: func(ctx context.Context) error {
			if masterSockets(ansCP) == n {
				return nil
			}
			t.Logf("%s ansible warm: the cold row left no masters; converging, which starts them", scen)
			return converge(ctx, ansible())
		},
		teardown: stopAns, cmd: ansible, check: second("ansible")})
}

// checkS5Roots checks what S5's playbook leaves in each host's root
// (remoteRoot/s5/tool), reading the hosts' private directories: the
// config and motd name that host, and the data file, the link and the
// marker are there.
func (b *bench) checkS5Roots(names []string, tool string) error {
	for i, h := range names {
		root := filepath.Join(b.private[i], "s5", tool)
		if got, want := readAll(filepath.Join(root, "etc", "app.conf")), "name = "+h+"\nport = 8080\n"; got != want {
			return fmt.Errorf("%s: etc/app.conf in its private directory %s is %q, want %q", h, root, got, want)
		}
		if got, want := firstLine(readAll(filepath.Join(root, "etc", "motd"))), "Welcome to "+h+" "; !strings.HasPrefix(got, want) {
			return fmt.Errorf("%s: etc/motd in its private directory %s starts %q, want %q", h, root, got, want)
		}
		if fi, err := os.Stat(filepath.Join(root, "data.txt")); err != nil || fi.Size() != 4096 {
			return fmt.Errorf("%s: data.txt in its private directory %s: want 4096 bytes (%v)", h, root, err)
		}
		if dest, err := os.Readlink(filepath.Join(root, "app.conf")); err != nil || dest != "etc/app.conf" {
			return fmt.Errorf("%s: app.conf in its private directory %s is not a link to etc/app.conf (%q, %v)", h, root, dest, err)
		}
		if _, err := os.Stat(filepath.Join(root, "initialised")); err != nil {
			return fmt.Errorf("%s: the command task's marker is missing: %v", h, err)
		}
	}
	return nil
}

// ---- report ----

// fillRatios sets each peer row's fleet ratio against a fleet row of the
// same scenario and mode: fleet play for Ansible's rows where there is
// one (playbook against playbook), else the scenario's first fleet row.
// Fleet rows get their ratio to the floor row of their scenario and mode.
func (b *bench) fillRatios() {
	type key struct{ scen, mode, tool string }
	wall := map[key]float64{}
	first := firstFleet(b.rows)
	for _, r := range b.rows {
		if r.Status == "ok" && r.WallSec > 0 {
			wall[key{r.Scenario, r.Mode, r.Tool}] = r.WallSec
		}
	}
	for i := range b.rows {
		r := &b.rows[i]
		if r.Status != "ok" || r.WallSec <= 0 {
			continue
		}
		if isFleet(r.Tool) {
			if f, ok := wall[key{r.Scenario, r.Mode, floorTool}]; ok {
				r.FloorRatio = r.WallSec / f
			}
			continue
		}
		ref := first[r.Scenario+"/"+r.Mode]
		if _, ok := wall[key{r.Scenario, r.Mode, "fleet play"}]; ok && strings.HasPrefix(r.Tool, "ansible") {
			ref = "fleet play"
		}
		if f, ok := wall[key{r.Scenario, r.Mode, ref}]; ok {
			r.FleetRatio, r.RatioVs = f/r.WallSec, ref
		}
	}
}

// floorTool names the floor rows of S1.
const floorTool = "floor: 1 ssh/host"

func isFleet(tool string) bool { return strings.HasPrefix(tool, "fleet") }

// firstFleet maps "scenario/mode" to the tool of its first fleet row.
func firstFleet(rows []row) map[string]string {
	first := map[string]string{}
	for _, r := range rows {
		k := r.Scenario + "/" + r.Mode
		if _, ok := first[k]; !ok && isFleet(r.Tool) && r.Status == "ok" {
			first[k] = r.Tool
		}
	}
	return first
}

// formatTable renders rows as the table that report prints. Numbers are
// right-aligned; the status, the last cell, follows two spaces.
func formatTable(rows []row) string {
	var sb strings.Builder
	tw := tabwriter.NewWriter(&sb, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\ttool\tmode\truns\twall s\ttool CPU s\tsshd CPU s\tpeak RSS MiB\tfleet/peer\tfleet/floor\t  status")
	first := firstFleet(rows)
	for _, r := range rows {
		if r.Status != "ok" {
			fmt.Fprintf(tw, "%s\t%s\t%s\t\t\t\t\t\t\t\t  %s\n", r.Scenario, r.Tool, r.Mode, r.Status)
			continue
		}
		ratio, floor := "-", "-"
		if r.FleetRatio > 0 {
			ratio = fmt.Sprintf("%.2f", r.FleetRatio)
			if r.RatioVs != first[r.Scenario+"/"+r.Mode] {
				// Name the fleet row when it is not the scenario's first.
				ratio = fmt.Sprintf("%s: %.2f", strings.TrimPrefix(r.RatioVs, "fleet "), r.FleetRatio)
			}
		}
		if r.FloorRatio > 0 {
			floor = fmt.Sprintf("%.2f", r.FloorRatio)
		}
		status := r.Status
		if r.RSSPerHostKiB > 0 {
			status = fmt.Sprintf("ok, %.0f KiB/host", r.RSSPerHostKiB)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.1f\t%s\t%s\t  %s\n", r.Scenario, r.Tool, r.Mode, r.Iterations,
			r.WallSec, r.ToolCPUSec, r.ServerCPUSec, float64(r.PeakRSSKiB)/1024, ratio, floor, status)
	}
	tw.Flush()
	return sb.String()
}

func (b *bench) report(total time.Duration) {
	t := b.t
	table := formatTable(b.rows)
	mode := "full"
	if b.cfg.quick {
		mode = "quick"
	}
	if b.only != nil {
		mode += ", only " + strings.Join(b.only, ",")
	}
	if b.cfg.echo != "echo" {
		mode += ", commands " + b.cfg.echo
	}
	fmt.Printf("\nfleet benchmark (%s, %d CPUs, %s; a row of several runs shows the median run)\n%s", mode, runtime.NumCPU(), total.Round(time.Second), table)
	for _, n := range b.notes {
		fmt.Printf("note: %s\n", n)
	}
	fmt.Println()

	if err := os.MkdirAll("results", 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("results", time.Now().Format("20060102-150405")+".json")
	data, err := json.MarshalIndent(map[string]any{
		"time": time.Now().Format(time.RFC3339), "mode": mode, "cpus": runtime.NumCPU(),
		"iterations": b.cfg.iters, "rows": b.rows, "notes": b.notes,
	}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(path)
	fmt.Printf("results written to %s\n", abs)
}
