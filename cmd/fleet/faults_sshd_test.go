package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// faultEnv is what one fault case's steps share: the lab, and whatever its
// setup made for the run and the checks (a unique sleep to wait for, the
// pushed file and where it goes).
type faultEnv struct {
	lab    *sshdLab
	marker string // a command line that runs on every host while the fault is injected
	src    string // push: the local file
	base   string // push: the remote directory holding one directory per host
}

// faultCase is one fault injected into a run against real sshd hosts. The
// fault hits h01 (or a host outside the lab, added by setup); the other lab
// hosts must finish as if nothing happened. A signal hits fleet itself.
type faultCase struct {
	name string
	// opts has one entry per lab host: h01, h02, ...
	opts []sshdtest.Options
	// setup changes the lab before its inventory and ssh_config are
	// written (extra hosts, keys, known_hosts); it may be nil.
	setup func(t *testing.T, env *faultEnv)
	// args are fleet's arguments after the subcommand's pattern.
	args func(env *faultEnv) []string
	// inject, when set, runs once env.marker runs on every lab host.
	inject func(t *testing.T, env *faultEnv)
	// signal, when set, runs the real binary and sends it this signal
	// once env.marker runs on every lab host, instead of running fleet
	// in-process.
	signal syscall.Signal
	// code is the exit code DESIGN.md gives this outcome.
	code int
	// within bounds the whole run (with signal, the time from the signal
	// to the exit), against hangs; the default is a minute.
	within time.Duration
	// output are the lines each host that finishes must print (for a
	// run); nil means {"fine"}.
	output []string
	// victimOK says h01 too must finish with correct output.
	victimOK bool
	// victimCause, for a run where h01 is not victimOK, must appear in
	// h01's unreachable error.
	victimCause string
	// check makes the case's own further checks; it may be nil.
	check func(t *testing.T, env *faultEnv, r fleetResult)
}

// TestSSHDFaults injects one fault at a time into runs against real sshd
// hosts and checks, for each, that the other hosts finish with correct
// output, that the exit code is the one DESIGN.md promises, that fleet
// leaves no goroutine behind and that nothing hangs.
func TestSSHDFaults(t *testing.T) {
	sshdtest.Require(t)
	three := []sshdtest.Options{{}, {}, {}}
	sleepRun := func(env *faultEnv) []string {
		return []string{"run", "all", "--output", "json", "--", env.marker + " && echo fine"}
	}
	cases := []faultCase{
		{
			name:        "connection reset",
			opts:        three,
			args:        sleepRun,
			inject:      func(t *testing.T, env *faultEnv) { env.lab.servers[0].KillConnections() },
			code:        4,
			victimCause: "lost: connection lost",
		},
		{
			name:        "sshd killed",
			opts:        three,
			args:        sleepRun,
			inject:      func(t *testing.T, env *faultEnv) { env.lab.servers[0].Stop() },
			code:        4,
			victimCause: "lost: connection lost",
		},
		{
			name: "sshd frozen",
			opts: three,
			args: sleepRun,
			inject: func(t *testing.T, env *faultEnv) {
				s := env.lab.servers[0]
				s.FreezeConnections()
				t.Cleanup(s.Thaw)
			},
			code: 4,
			// The lab's ssh_config: ServerAliveInterval 1, ServerAliveCountMax 3.
			victimCause: "no reply to keepalives for 3s",
		},
		{
			name: "silent host",
			opts: []sshdtest.Options{{}, {}},
			setup: func(t *testing.T, env *faultEnv) {
				env.lab.extraHosts = append(env.lab.extraHosts,
					fmt.Sprintf("silent: {ansible_host: 127.0.0.1, ansible_port: %d}", silentListener(t)))
			},
			args: func(env *faultEnv) []string {
				return []string{"run", "all", "--output", "json", "--connect-timeout", "2s", "--", "echo fine"}
			},
			code: 4,
			// The fault is the extra host; h01 is as fine as h02.
			victimOK: true,
			// ConnectTimeout, and a second for the rest of the run.
			within: 3 * time.Second,
			check: func(t *testing.T, env *faultEnv, r fleetResult) {
				h := faultOutcomes(t, r.stdout)["silent"]
				if h.Status != "unreachable" || !strings.Contains(h.Error, "timeout: no answer") || !strings.Contains(h.Error, "within 2s") {
					t.Errorf("silent: status %q error %q, want unreachable with a 2s timeout", h.Status, h.Error)
				}
			},
		},
		{
			name: "slow host",
			opts: []sshdtest.Options{
				// sshd runs a forced command with the user's shell -c, so
				// the original command is still run, three seconds late.
				{Extra: []string{`ForceCommand sleep 3; eval "$SSH_ORIGINAL_COMMAND"`}},
				{}, {},
			},
			args: func(env *faultEnv) []string {
				return []string{"run", "all", "--output", "json", "--", "echo fine"}
			},
			code:     0,
			victimOK: true,
			check: func(t *testing.T, env *faultEnv, r fleetResult) {
				hosts := faultOutcomes(t, r.stdout)
				slow := hosts["h01"]
				if slow.Duration < 3*time.Second {
					t.Errorf("h01 took %s, want at least the forced 3s sleep", slow.Duration)
				}
				for _, name := range env.lab.names[1:] {
					if h := hosts[name]; !h.End.Before(slow.End) {
						t.Errorf("%s ended at %s, not before the slow host (%s)", name, h.End, slow.End)
					}
				}
			},
		},
		{
			name: "MaxSessions 1",
			opts: []sshdtest.Options{{MaxSessions: 1}, {}, {}},
			args: func(env *faultEnv) []string {
				args := []string{"run", "all", "--parallel", "--output", "json"}
				for i := range 5 {
					args = append(args, "-c", fmt.Sprintf("sleep 0.1; echo s%d", i))
				}
				return args
			},
			code:     0,
			victimOK: true,
			output:   []string{"s0", "s1", "s2", "s3", "s4"},
			check: func(t *testing.T, env *faultEnv, r fleetResult) {
				if n := env.lab.servers[0].CountLog("Connection from"); n != 1 {
					t.Errorf("h01: %d connections, want the five sessions over one", n)
				}
			},
		},
		{
			name: "auth failure",
			opts: three,
			setup: func(t *testing.T, env *faultEnv) {
				// sshd reads authorized_keys at each attempt: h01 now
				// accepts only a key nobody has.
				path := filepath.Join(env.lab.servers[0].Dir(), "authorized_keys")
				writeFile(t, path, string(ssh.MarshalAuthorizedKey(newPublicKey(t))))
			},
			args: func(env *faultEnv) []string {
				return []string{"run", "all", "--output", "json", "--", "echo fine"}
			},
			code:        4,
			victimCause: "auth: authentication as",
		},
		{
			name: "changed host key",
			opts: three,
			setup: func(t *testing.T, env *faultEnv) {
				lines := []string{knownhosts.Line([]string{env.lab.servers[0].HostPort()}, newPublicKey(t))}
				for _, s := range env.lab.servers[1:] {
					lines = append(lines, s.KnownHostsLines()...)
				}
				writeFile(t, env.lab.knownHosts, strings.Join(lines, "\n")+"\n")
			},
			args: func(env *faultEnv) []string {
				return []string{"run", "all", "--output", "json", "--", "echo fine"}
			},
			code:        4,
			victimCause: "host key: host key for",
			check: func(t *testing.T, env *faultEnv, r fleetResult) {
				want := fmt.Sprintf("[%s]:%d has changed", env.lab.servers[0].Addr(), env.lab.servers[0].Port())
				if h := faultOutcomes(t, r.stdout)["h01"]; !strings.Contains(h.Error, want) {
					t.Errorf("h01: error %q does not say %q", h.Error, want)
				}
				if n := env.lab.servers[0].CountLog("Accepted publickey"); n != 0 {
					t.Errorf("h01: fleet logged in %d times despite the changed host key", n)
				}
			},
		},
		{
			name: "disk full during push",
			opts: []sshdtest.Options{{FileSizeLimitKB: 1024}, {}, {}},
			setup: func(t *testing.T, env *faultEnv) {
				env.src = filepath.Join(t.TempDir(), "big.bin")
				f, err := os.Create(env.src)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := io.CopyN(f, rand.Reader, 4<<20); err != nil {
					t.Fatal(err)
				}
				f.Close()
				env.base = remoteBase(t, env.lab.servers[0])
			},
			args: func(env *faultEnv) []string {
				return []string{"push", "all", env.src, env.base + "/{{ inventory_hostname }}/", "--output", "json"}
			},
			code: 2,
			check: func(t *testing.T, env *faultEnv, r fleetResult) {
				hosts := jsonHosts(t, r.stdout)
				if h := hosts["h01"]; h["status"] != "failed" || transferOf(t, h)["failed"] != 1 {
					t.Errorf("h01: status %v, transfer %v: want failed with 1 failed path", h["status"], h["transfer"])
				}
				if !regexp.MustCompile(`(?m)^\{"type":"file","host":"h01",.*"action":"failed",.*"error":"[^"]*the disk may be full`).MatchString(r.stdout) {
					t.Errorf("h01: no failed file event saying the disk may be full")
				}
				want := treeSums(t, filepath.Dir(env.src))
				for _, name := range env.lab.names[1:] {
					if h := hosts[name]; h["status"] != "ok" || transferOf(t, h)["changed"] != 1 {
						t.Errorf("%s: status %v, transfer %v: want ok and 1 changed", name, h["status"], h["transfer"])
					}
					sameSums(t, name, want, treeSums(t, filepath.Join(env.base, name)))
				}
				for _, name := range env.lab.names {
					if left := tempsUnder(filepath.Join(env.base, name)); len(left) > 0 {
						t.Errorf("%s: temp files left: %q", name, left)
					}
				}
				if fi, err := os.Stat(filepath.Join(env.base, "h01", "big.bin")); err == nil {
					t.Errorf("h01: a %d-byte big.bin was left by the failed write", fi.Size())
				}
			},
		},
		{
			name:   "SIGINT",
			opts:   three,
			args:   func(env *faultEnv) []string { return []string{"run", "all", "--", env.marker} },
			signal: syscall.SIGINT,
			code:   130,
			within: 10 * time.Second,
		},
		{
			name:   "SIGTERM",
			opts:   three,
			args:   func(env *faultEnv) []string { return []string{"run", "all", "--", env.marker} },
			signal: syscall.SIGTERM,
			code:   130,
			within: 10 * time.Second,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			lab := newSSHDLabEach(t, tc.opts)
			env := &faultEnv{lab: lab, marker: uniqueSleep(3)}
			if tc.signal != 0 {
				env.marker = uniqueSleep(60)
			}
			if tc.setup != nil {
				tc.setup(t, env)
			}
			lab.write(t)
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())

			within := tc.within
			if within == 0 {
				within = time.Minute
			}
			var r fleetResult
			if tc.signal != 0 {
				r = interruptFleet(t, env, tc.args(env), tc.signal)
			} else {
				r = faultedRun(t, env, tc.args(env), tc.inject)
			}
			if r.code != tc.code {
				t.Errorf("exit %d, want %d", r.code, tc.code)
			}
			if r.elapsed > within {
				t.Errorf("the run took %s, want within %s", r.elapsed, within)
			}
			if tc.signal == 0 && tc.args(env)[0] == "run" {
				output := tc.output
				if output == nil {
					output = []string{"fine"}
				}
				checkRunHosts(t, env, r, output, tc.victimOK, tc.victimCause)
			}
			if tc.check != nil {
				tc.check(t, env, r)
			}
		})
	}
}

// uniqueSleep returns a sleep of a little over seconds whose command line no
// other test's process has, to find it among the hosts' processes.
func uniqueSleep(seconds int) string {
	var b [2]byte
	rand.Read(b[:])
	return fmt.Sprintf("sleep %d.%03d", seconds, (int(b[0])<<8|int(b[1]))%1000)
}

// faultedRun runs fleet in-process against the lab; with inject, it injects
// the fault once env.marker runs on every host. A run still going after
// two minutes fails the test as a hang.
func faultedRun(t *testing.T, env *faultEnv, args []string, inject func(*testing.T, *faultEnv)) fleetResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	done := make(chan fleetResult, 1)
	go func() { done <- env.lab.fleetCtx(ctx, t, args...) }()
	if inject != nil {
		waitProcesses(t, env.lab.servers, env.marker)
		inject(t, env)
	}
	r := <-done
	if ctx.Err() != nil {
		t.Fatalf("fleet hung: still running after 2 minutes")
	}
	return r
}

// interruptFleet runs the real fleet binary against the lab, sends it sig
// once env.marker runs on every host, and waits for it to exit; then it
// requires every remote env.marker gone. r.elapsed is the time from the
// signal to the exit.
func interruptFleet(t *testing.T, env *faultEnv, args []string, sig syscall.Signal) fleetResult {
	t.Helper()
	bin, err := exec.LookPath("fleet")
	if err != nil {
		t.Fatal(err)
	}
	lab := env.lab
	full := append([]string{args[0], "-i", lab.inventory, "--ssh-config", lab.sshConfig}, args[1:]...)
	cmd := exec.Command(bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	defer func() {
		cmd.Process.Kill()
		<-exited
	}()
	waitProcesses(t, lab.servers, env.marker)
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	sent := time.Now()
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		t.Fatalf("fleet did not exit after %v:\n%s%s", sig, stdout.String(), stderr.String())
	}
	r := fleetResult{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String(), elapsed: time.Since(sent)}
	t.Logf("fleet %s\n%v, then exit %d after %s\nstdout:\n%s\nstderr:\n%s", strings.Join(full, " "), sig, r.code, r.elapsed, r.stdout, r.stderr)
	// The hosts act on the closed channels a moment later.
	deadline := time.Now().Add(10 * time.Second)
	for countProcesses(lab.servers, env.marker) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := countProcesses(lab.servers, env.marker); n > 0 {
		t.Errorf("%d remote %q processes survived %v", n, env.marker, sig)
	}
	return r
}

// checkRunHosts checks a `run --output json`: every lab host but h01 is ok
// and printed each line of output; h01 too when victimOK, and otherwise h01
// is unreachable with victimCause in its error and printed none of them.
func checkRunHosts(t *testing.T, env *faultEnv, r fleetResult, output []string, victimOK bool, victimCause string) {
	t.Helper()
	hosts := faultOutcomes(t, r.stdout)
	for i, name := range env.lab.names {
		h, ok := hosts[name]
		switch {
		case !ok:
			t.Errorf("%s: no result", name)
		case i > 0 || victimOK:
			if h.Status != "ok" {
				t.Errorf("%s: status %q, error %q, want ok", name, h.Status, h.Error)
			}
			for _, l := range output {
				if !h.said(l) {
					t.Errorf("%s: printed %q, want a line %q", name, h.Lines, l)
				}
			}
		default:
			if h.Status != "unreachable" || !strings.Contains(h.Error, victimCause) {
				t.Errorf("%s: status %q error %q, want unreachable with %q", name, h.Status, h.Error, victimCause)
			}
			for _, l := range output {
				if h.said(l) {
					t.Errorf("%s: printed %q despite the fault", name, l)
				}
			}
		}
	}
}

// faultOutcome is what fleet's JSON lines say about one host.
type faultOutcome struct {
	Status, Error string
	Start, End    time.Time
	Duration      time.Duration
	Lines         []string
}

func (o faultOutcome) said(line string) bool {
	for _, l := range o.Lines {
		if l == line {
			return true
		}
	}
	return false
}

// faultOutcomes reads the host results and output lines of fleet's JSON
// lines output.
func faultOutcomes(t *testing.T, out string) map[string]faultOutcome {
	t.Helper()
	hosts := map[string]faultOutcome{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var ev struct {
			Type, Host, Status, Error, Line string
			Start, End                      time.Time
			DurationMS                      int64 `json:"duration_ms"`
		}
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		h := hosts[ev.Host]
		switch ev.Type {
		case "line":
			h.Lines = append(h.Lines, ev.Line)
		case "host":
			h.Status, h.Error, h.Start, h.End = ev.Status, ev.Error, ev.Start, ev.End
			h.Duration = time.Duration(ev.DurationMS) * time.Millisecond
		default:
			continue
		}
		hosts[ev.Host] = h
	}
	return hosts
}

// newPublicKey returns a fresh ed25519 public key that no lab host or
// client holds.
func newPublicKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	key, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return key
}

// silentListener listens on a loopback port, accepts connections and never
// writes to them, like a host whose sshd hangs before its banner. It returns
// the port; the test's cleanup closes everything.
func silentListener(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}
