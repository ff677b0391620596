package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/iostreams"
	"fleetrun.dev/fleet/internal/sshdtest"
	"fleetrun.dev/fleet/muxconn"
)

// sshdLab is a set of real sshd hosts with an inventory and an ssh_config
// that reach them: what a user's own setup looks like.
type sshdLab struct {
	dir        string
	servers    []*sshdtest.Server
	names      []string
	inventory  string
	sshConfig  string
	knownHosts string
	extraHosts []string // extra inventory lines under all.hosts
	extraConf  []string // extra ssh_config text
}

func newSSHDLab(t *testing.T, n int, opts sshdtest.Options) *sshdLab {
	t.Helper()
	sshdtest.Require(t)
	lab := &sshdLab{dir: t.TempDir()}
	lab.knownHosts = filepath.Join(lab.dir, "known_hosts")
	servers := make([]*sshdtest.Server, n)
	var wg sync.WaitGroup
	for i := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			servers[i] = sshdtest.Start(t, opts)
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	for i, s := range servers {
		lab.servers = append(lab.servers, s)
		lab.names = append(lab.names, fmt.Sprintf("h%02d", i+1))
		s.WriteKnownHosts(lab.knownHosts)
	}
	return lab
}

// write writes inventory.yml and ssh_config: connection details in the
// inventory (as Ansible users keep them), key and known_hosts in ssh_config.
func (lab *sshdLab) write(t *testing.T) {
	t.Helper()
	var inv strings.Builder
	inv.WriteString("all:\n  hosts:\n")
	for i, s := range lab.servers {
		fmt.Fprintf(&inv, "    %s:\n      ansible_host: %s\n      ansible_port: %d\n      ansible_user: %s\n",
			lab.names[i], s.Addr(), s.Port(), s.User())
	}
	for _, l := range lab.extraHosts {
		inv.WriteString("    " + l + "\n")
	}
	lab.inventory = filepath.Join(lab.dir, "inventory.yml")
	writeFile(t, lab.inventory, inv.String())
	conf := strings.Join(lab.extraConf, "\n") + fmt.Sprintf(`
Host *
  IdentityFile %s
  IdentitiesOnly yes
  IdentityAgent none
  UserKnownHostsFile %s
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  ConnectTimeout 5
  ServerAliveInterval 1
  ServerAliveCountMax 3
`, sshdtest.ClientKeyPath(), lab.knownHosts)
	lab.sshConfig = filepath.Join(lab.dir, "ssh_config")
	writeFile(t, lab.sshConfig, conf)
}

func writeFile(t *testing.T, path, data string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

type fleetResult struct {
	code           int
	stdout, stderr string
	elapsed        time.Duration
}

// fleet runs fleet in-process against the lab, with a generous timeout
// against hangs.
func (lab *sshdLab) fleet(t *testing.T, args ...string) fleetResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return lab.fleetCtx(ctx, t, args...)
}

func (lab *sshdLab) fleetCtx(ctx context.Context, t *testing.T, args ...string) fleetResult {
	t.Helper()
	return lab.fleetPrompt(ctx, t, nil, args...)
}

// fleetQuiet runs fleet without logging what it printed, for polling.
func (lab *sshdLab) fleetQuiet(t *testing.T, args ...string) fleetResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdinTTY(true)
	full := append([]string{args[0], "-i", lab.inventory, "--ssh-config", lab.sshConfig}, args[1:]...)
	code := Main(ctx, full, ios, func(string) (string, bool) { return "", false })
	return fleetResult{code: code, stdout: out.String(), stderr: errOut.String()}
}

// fleetPrompt runs fleet with prompt answering its password prompts.
func (lab *sshdLab) fleetPrompt(ctx context.Context, t *testing.T, prompt muxconn.Prompter, args ...string) fleetResult {
	t.Helper()
	ios, _, out, errOut := iostreams.Test()
	ios.SetStdinTTY(true)
	full := append([]string{args[0], "-i", lab.inventory, "--ssh-config", lab.sshConfig}, args[1:]...)
	start := time.Now()
	code := mainWith(ctx, full, ios, func(k string) (string, bool) { return "", false }, prompt)
	r := fleetResult{code: code, stdout: out.String(), stderr: errOut.String(), elapsed: time.Since(start)}
	t.Logf("fleet %s\nexit %d in %s\nstdout:\n%s\nstderr:\n%s", strings.Join(full, " "), r.code, r.elapsed, r.stdout, r.stderr)
	return r
}

func waitLog(t *testing.T, s *sshdtest.Server, substr string, n int) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	got, _ := s.WaitLogCount(ctx, substr, n)
	return got
}

// Acceptance 1: 20 hosts, 10 sequential commands: one TCP connection and one
// login per host, counted in sshd's own VERBOSE log.
func TestSSHDOneConnectionPerHost(t *testing.T) {
	lab := newSSHDLab(t, 20, sshdtest.Options{})
	lab.write(t)
	args := []string{"run", "all"}
	for i := 1; i <= 10; i++ {
		args = append(args, "-c", fmt.Sprintf("echo step%d $(id -un)", i))
	}
	r := lab.fleet(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	for i, s := range lab.servers {
		for step := 1; step <= 10; step++ {
			want := regexp.MustCompile(fmt.Sprintf(`(?m)^%s\s.*\| step%d %s$`, lab.names[i], step, s.User()))
			if !want.MatchString(r.stdout) {
				t.Errorf("%s: no output line for step %d", lab.names[i], step)
			}
		}
		// WaitLogCount waits for the first login's line; a second one
		// would have been logged long before the run ended.
		if got := waitLog(t, s, "Accepted publickey for", 1); got != 1 {
			t.Errorf("%s: %d logins, want 1", lab.names[i], got)
		}
		if got := s.CountLog("Connection from"); got != 1 {
			t.Errorf("%s: %d TCP connections, want 1", lab.names[i], got)
		}
	}
}

// Acceptance 2: 50 concurrent sessions on one host against stock sshd
// (MaxSessions 10) all succeed over one connection, both with the default
// gate and with a gate set above the server's limit, where sshd refuses
// opens and fleet waits and retries.
func TestSSHDPastTheSessionLimit(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{})
	lab.write(t)
	for _, extra := range [][]string{nil, {"--max-sessions", "50"}} {
		t.Run(fmt.Sprint(extra), func(t *testing.T) {
			before := lab.servers[0].CountLog("Connection from")
			args := append([]string{"run", "all", "--parallel"}, extra...)
			for i := 0; i < 50; i++ {
				args = append(args, "-c", fmt.Sprintf("sleep 0.2; echo session%d", i))
			}
			r := lab.fleet(t, args...)
			if r.code != 0 {
				t.Fatalf("exit %d, want 0", r.code)
			}
			for i := 0; i < 50; i++ {
				if !strings.Contains(r.stdout, fmt.Sprintf("| session%d\n", i)) {
					t.Errorf("no output from session %d", i)
				}
			}
			if got := lab.servers[0].CountLog("Connection from") - before; got != 1 {
				t.Errorf("%d connections, want 1", got)
			}
		})
	}
	if got := lab.servers[0].CountLog("no more sessions"); got == 0 {
		t.Errorf("sshd never refused a session, so the retry path was not exercised")
	}
}

// Acceptance 3: a closed port, a host that accepts TCP and never speaks,
// and a host with a wrong host key are each reported with their own cause
// within ConnectTimeout + 1s, while the other hosts finish.
func TestSSHDThreeFailingHosts(t *testing.T) {
	lab := newSSHDLab(t, 3, sshdtest.Options{})

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()

	silentPort := silentListener(t)

	// A real sshd whose key in known_hosts is another host's.
	impostor := sshdtest.Start(t, sshdtest.Options{})
	other := sshdtest.Start(t, sshdtest.Options{})
	var kh []string
	for _, l := range other.KnownHostsLines() {
		_, key, _ := strings.Cut(l, " ")
		kh = append(kh, fmt.Sprintf("[%s]:%d %s", impostor.Addr(), impostor.Port(), key))
	}
	f, err := os.OpenFile(lab.knownHosts, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(f, strings.Join(kh, "\n"))
	f.Close()

	lab.extraHosts = []string{
		fmt.Sprintf("closed: {ansible_host: 127.0.0.1, ansible_port: %d}", closedPort),
		fmt.Sprintf("silent: {ansible_host: 127.0.0.1, ansible_port: %d}", silentPort),
		fmt.Sprintf("impostor: {ansible_host: %s, ansible_port: %d, ansible_user: %s}", impostor.Addr(), impostor.Port(), impostor.User()),
	}
	lab.write(t)

	const connectTimeout = 2 * time.Second
	r := lab.fleet(t, "run", "all", "--connect-timeout", connectTimeout.String(), "--", "echo fine")
	if r.code != 4 {
		t.Errorf("exit %d, want 4 (unreachable hosts only)", r.code)
	}
	if r.elapsed > connectTimeout+time.Second {
		t.Errorf("took %s, want within ConnectTimeout %s + 1s", r.elapsed, connectTimeout)
	}
	for _, name := range lab.names {
		if !strings.Contains(r.stdout, name) || !regexp.MustCompile(`(?m)^`+name+`\s+\| fine$`).MatchString(r.stdout) {
			t.Errorf("%s did not finish", name)
		}
	}
	for host, cause := range map[string]string{"closed": "refused", "silent": "within 2s", "impostor": "host key"} {
		re := regexp.MustCompile(`(?m)^` + host + `\s.*unreachable.*` + regexp.QuoteMeta(cause))
		if !re.MatchString(r.stdout) {
			t.Errorf("%s: no unreachable line naming %q", host, cause)
		}
	}

	// A command failing elsewhere as well gives 6.
	r = lab.fleet(t, "run", "all", "--connect-timeout", connectTimeout.String(), "--", "test $(hostname) = never")
	if r.code != 6 {
		t.Errorf("exit %d, want 6 (failed and unreachable)", r.code)
	}

	// ping names each cause.
	r = lab.fleet(t, "ping", "all", "--connect-timeout", connectTimeout.String())
	if r.code != 4 {
		t.Errorf("ping: exit %d, want 4", r.code)
	}
	for host, cause := range map[string]string{"closed": "refused", "silent": "timeout", "impostor": "host key"} {
		if !regexp.MustCompile(`(?m)^` + host + `\s+UNREACHABLE\s+` + cause + `:`).MatchString(r.stdout) {
			t.Errorf("ping: %s: cause %q not named", host, cause)
		}
	}
	for _, name := range lab.names {
		if !regexp.MustCompile(`(?m)^` + name + `\s+ok\s+connect`).MatchString(r.stdout) {
			t.Errorf("ping: %s not ok", name)
		}
	}
}

// Acceptance 4: killing a host's sshd connection process mid-run marks it
// unreachable; freezing it (SIGSTOP, which only keepalives detect) does too,
// within ServerAliveInterval × ServerAliveCountMax + 1s. Nothing hangs.
func TestSSHDKilledConnection(t *testing.T) {
	lab := newSSHDLab(t, 3, sshdtest.Options{})
	lab.write(t)
	for _, mode := range []string{"kill", "freeze"} {
		t.Run(mode, func(t *testing.T) {
			victim := lab.servers[0]
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			marker := fmt.Sprintf("sleep 7.%d", time.Now().UnixNano()%1000)
			done := make(chan fleetResult, 1)
			go func() { done <- lab.fleetCtx(ctx, t, "run", "all", "--output", "json", "--", marker) }()
			waitProcesses(t, lab.servers, marker)
			hit := time.Now()
			if mode == "kill" {
				victim.KillConnections()
			} else {
				victim.FreezeConnections()
				defer victim.Thaw()
			}
			var r fleetResult
			select {
			case r = <-done:
			case <-ctx.Done():
				t.Fatal("fleet hung")
			}
			if r.code != 4 {
				t.Errorf("exit %d, want 4", r.code)
			}
			var victimEnd time.Time
			for _, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
				var ev struct {
					Type, Host, Status, Error string
					End                       time.Time
				}
				if err := json.Unmarshal([]byte(line), &ev); err != nil {
					t.Fatalf("bad JSON line %q: %v", line, err)
				}
				if ev.Type != "host" {
					continue
				}
				want := "ok"
				if ev.Host == "h01" {
					want = "unreachable"
					victimEnd = ev.End
					if mode == "freeze" && !strings.Contains(ev.Error, "keepalive") {
						t.Errorf("the frozen host's error %q does not mention keepalives", ev.Error)
					}
				}
				if ev.Status != want {
					t.Errorf("%s: status %s, want %s", ev.Host, ev.Status, want)
				}
			}
			// ServerAliveInterval 1s × ServerAliveCountMax 3, + 1s.
			if took := victimEnd.Sub(hit); victimEnd.IsZero() || took > 4*time.Second {
				t.Errorf("h01 marked unreachable %s after the %s, want within 4s", took, mode)
			}
		})
	}
}

// waitProcesses waits until every server runs a process whose command line
// contains marker.
func waitProcesses(t *testing.T, servers []*sshdtest.Server, marker string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		all := true
		for _, s := range servers {
			found := false
			for _, p := range s.UserProcesses() {
				if strings.Contains(p.Cmdline, marker) {
					found = true
				}
			}
			all = all && found
		}
		if all {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%q did not start on every host", marker)
}

func countProcesses(servers []*sshdtest.Server, marker string) int {
	n := 0
	for _, s := range servers {
		for _, p := range s.UserProcesses() {
			if strings.Contains(p.Cmdline, marker) {
				n++
			}
		}
	}
	return n
}

// Acceptance 5: five targets behind a real sshd jump host: one connection
// to the jump host serves them all.
func TestSSHDProxyJump(t *testing.T) {
	lab := newSSHDLab(t, 5, sshdtest.Options{})
	jump := sshdtest.Start(t, sshdtest.Options{})
	jump.WriteKnownHosts(lab.knownHosts)
	lab.extraConf = []string{fmt.Sprintf(`Host jump
  HostName %s
  Port %d
  User %s

Host h*
  ProxyJump jump
`, jump.Addr(), jump.Port(), jump.User())}
	lab.write(t)
	r := lab.fleet(t, "run", "all", "-c", "echo via-jump", "-c", "echo $SSH_CONNECTION")
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	if got := strings.Count(r.stdout, "| via-jump\n"); got != 5 {
		t.Errorf("%d hosts answered, want 5", got)
	}
	if got := waitLog(t, jump, "Accepted publickey for", 1); got != 1 {
		t.Errorf("jump host: %d logins, want 1", got)
	}
	if got := jump.CountLog("Connection from"); got != 1 {
		t.Errorf("jump host: %d connections, want 1", got)
	}
	for i, s := range lab.servers {
		if got := s.CountLog("Connection from"); got != 1 {
			t.Errorf("%s: %d connections, want 1", lab.names[i], got)
		}
	}
}

// ProxyCommand, as ssh runs it: `ssh -W %h:%p jump` carries three hosts'
// connections through a real sshd jump host; the command sees its tokens
// expanded. A fourth host's ProxyCommand fails: that host is unreachable,
// with the command's own words, and the others run.
func TestSSHDProxyCommand(t *testing.T) {
	lab := newSSHDLab(t, 4, sshdtest.Options{})
	jump := sshdtest.Start(t, sshdtest.Options{})
	jump.WriteKnownHosts(lab.knownHosts)
	seen := filepath.Join(t.TempDir(), "seen")
	// ssh reads the same file: -F names it, and IdentitiesOnly and the key
	// in it let ssh log in to the jump host as fleet does.
	lab.extraConf = []string{fmt.Sprintf(`Host jump
  HostName %s
  Port %d
  User %s

Host h04
  ProxyCommand sh -c 'echo "bastion.example: Connection refused" >&2; exit 255'

Host h*
  ProxyCommand sh -c 'echo %%n %%r %%p >>%s; exec ssh -F "$FLEET_TEST_SSH_CONFIG" -o BatchMode=yes -W %%h:%%p jump'
`, jump.Addr(), jump.Port(), jump.User(), seen)}
	lab.write(t)
	t.Setenv("FLEET_TEST_SSH_CONFIG", lab.sshConfig)
	r := lab.fleet(t, "run", "all", "-v", "--", "echo via-proxy")
	if r.code != 4 {
		t.Fatalf("exit %d, want 4 (one host unreachable)", r.code)
	}
	if got := strings.Count(r.stdout, "| via-proxy\n"); got != 3 {
		t.Errorf("%d hosts answered, want 3", got)
	}
	if !strings.Contains(r.stdout+r.stderr, "bastion.example: Connection refused") || !strings.Contains(r.stdout+r.stderr, "exit status 255") {
		t.Errorf("h04's failure does not say what its ProxyCommand said")
	}
	lines := strings.Split(strings.TrimSpace(readFile(t, seen)), "\n")
	slices.Sort(lines)
	want := []string{}
	for i, s := range lab.servers[:3] {
		want = append(want, fmt.Sprintf("%s %s %d", lab.names[i], s.User(), s.Port()))
	}
	if !slices.Equal(lines, want) {
		t.Errorf("the ProxyCommands saw %q, want %q", lines, want)
	}
	if got := jump.CountLog("Connection from"); got != 3 {
		t.Errorf("jump host: %d connections (one per ssh -W), want 3", got)
	}
}

// Acceptance 6: SIGINT during `fleet run 'sleep 60'` on 10 hosts: fleet
// exits 130 within 2s and no remote sleep survives.
func TestSSHDInterrupt(t *testing.T) {
	lab := newSSHDLab(t, 10, sshdtest.Options{})
	lab.write(t)
	bin, err := exec.LookPath("fleet")
	if err != nil {
		t.Fatal(err)
	}
	marker := fmt.Sprintf("sleep 60.%d", time.Now().UnixNano()%1000)
	cmd := exec.Command(bin, "run", "all", "-i", lab.inventory, "--ssh-config", lab.sshConfig, "--", marker)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	waitProcesses(t, lab.servers, marker)

	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case err := <-exited:
		exited <- err
		took := time.Since(sent)
		code := cmd.ProcessState.ExitCode()
		t.Logf("fleet exited %d after %s:\n%s", code, took, out.String())
		if code != 130 {
			t.Errorf("exit %d, want 130", code)
		}
		if took > 2*time.Second {
			t.Errorf("exited %s after SIGINT, want within 2s", took)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("fleet did not exit after SIGINT:\n%s", out.String())
	}
	// The remote side takes a moment to act on the signal; give it time,
	// then require every sleep gone.
	deadline := time.Now().Add(10 * time.Second)
	for countProcesses(lab.servers, marker) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := countProcesses(lab.servers, marker); n > 0 {
		t.Errorf("%d remote %q processes survived the interrupt", n, marker)
	}
}

// A host known only by its ed25519 key connects even though its sshd
// offers (and prefers) RSA and ECDSA keys first.
func TestSSHDKnownByEd25519(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{HostKeyTypes: []string{"rsa", "ecdsa", "ed25519"}})
	var ed []string
	for _, l := range lab.servers[0].KnownHostsLines() {
		if strings.Contains(l, " ssh-ed25519 ") {
			ed = append(ed, l)
		}
	}
	if len(ed) != 1 {
		t.Fatalf("want one ed25519 key line, got %q", ed)
	}
	writeFile(t, lab.knownHosts, ed[0]+"\n")
	lab.write(t)
	if r := lab.fleet(t, "run", "all", "--", "true"); r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
}

// StrictHostKeyChecking accept-new: ten new hosts at once each get exactly
// one line in known_hosts, and a later strict run accepts them.
func TestSSHDAcceptNew(t *testing.T) {
	lab := newSSHDLab(t, 10, sshdtest.Options{})
	if err := os.Remove(lab.knownHosts); err != nil {
		t.Fatal(err)
	}
	lab.write(t)
	if r := lab.fleet(t, "ping", "all"); r.code != 4 || !strings.Contains(r.stderr, "hint: verify the key, then add it: ssh-keyscan") {
		t.Errorf("unknown hosts under StrictHostKeyChecking yes: exit %d, want 4 and an ssh-keyscan hint", r.code)
	}
	if r := lab.fleet(t, "ping", "all", "--strict-host-key-checking", "accept-new"); r.code != 0 {
		t.Fatalf("accept-new: exit %d, want 0", r.code)
	}
	data, err := os.ReadFile(lab.knownHosts)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) != 10 {
		t.Errorf("known_hosts has %d lines, want 10:\n%s", len(lines), data)
	}
	if r := lab.fleet(t, "ping", "all"); r.code != 0 {
		t.Errorf("strict run after accept-new: exit %d, want 0", r.code)
	}
}

// A server that allows one session per connection (MaxSessions 1): every
// parallel command still runs, over one connection, with the refused opens
// retried as sessions end.
func TestSSHDMaxSessionsOne(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{MaxSessions: 1})
	lab.write(t)
	args := []string{"run", "all", "--parallel"}
	for i := range 5 {
		args = append(args, "-c", fmt.Sprintf("sleep 0.1; echo s%d", i))
	}
	r := lab.fleet(t, args...)
	if r.code != 0 {
		t.Fatalf("exit %d, want 0", r.code)
	}
	for i := range 5 {
		if !strings.Contains(r.stdout, fmt.Sprintf("| s%d\n", i)) {
			t.Errorf("no output from command %d", i)
		}
	}
	if got := lab.servers[0].CountLog("Connection from"); got != 1 {
		t.Errorf("%d connections, want 1", got)
	}
}

// A key the server doesn't accept: the host is unreachable with cause auth.
func TestSSHDAuthFailure(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{})
	lab.write(t)
	other := filepath.Join(lab.dir, "other_key")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", other).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v\n%s", err, out)
	}
	conf := strings.Replace(readFile(t, lab.sshConfig), "IdentityFile "+sshdtest.ClientKeyPath(), "IdentityFile "+other, 1)
	writeFile(t, lab.sshConfig, conf)
	r := lab.fleet(t, "ping", "all")
	if r.code != 4 || !regexp.MustCompile(`(?m)^h01\s+UNREACHABLE\s+auth: authentication as "fleet-test" failed: the server accepted none`).MatchString(r.stdout) {
		t.Errorf("exit %d; want 4 and h01 unreachable with cause auth", r.code)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
