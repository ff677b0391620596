package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// shortDir returns a directory with a short path, for sockets: sun_path
// holds 108 bytes, and OpenSSH binds a name 17 bytes longer.
func shortDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "fm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// sshMaster runs a stock OpenSSH master for the lab's first host on sock,
// with extra options, in the foreground (no -f: a master that forks away
// from sshpass's terminal can be hung up on before it detaches), until the
// test ends.
func sshMaster(t *testing.T, lab *sshdLab, sock string, prefix []string, opts ...string) {
	t.Helper()
	s := lab.servers[0]
	args := append(prefix, "ssh", "-M", "-S", sock, "-N", "-F", "/dev/null",
		"-o", "UserKnownHostsFile="+lab.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode="+map[bool]string{true: "no", false: "yes"}[len(prefix) > 0],
		"-p", strconv.Itoa(s.Port()), "-l", s.User())
	args = append(append(args, opts...), s.Addr())
	cmd := exec.Command(args[0], args[1:]...)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		if exec.Command("ssh", "-S", sock, "-O", "check", "x").Run() == nil {
			return
		}
		select {
		case <-exited:
			t.Fatalf("%s exited: %s\n%s", strings.Join(args, " "), out.String(), s.Log())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: no master after 30s: %s", strings.Join(args, " "), out.String())
		}
	}
}

// withControlPath adds ControlPath lines for every host to the lab's
// ssh_config, and points the identity at a key that doesn't exist, so
// that fleet can't log in by itself.
func withControlPath(t *testing.T, lab *sshdLab, sock, master string) {
	t.Helper()
	conf := readFile(t, lab.sshConfig)
	conf = strings.Replace(conf, "IdentityFile "+sshdtest.ClientKeyPath(), "IdentityFile "+filepath.Join(lab.dir, "no-such-key"), 1)
	conf = "Host *\n  ControlPath " + sock + "\n  ControlMaster " + master + "\n" + conf
	writeFile(t, lab.sshConfig, conf)
}

// Acceptance 2: a stock `ssh -M` master that logged in by password (no key
// offered); `fleet run` rides it: no new TCP connection, no prompt.
func TestSSHDRideOpenSSHMaster(t *testing.T) {
	if _, err := exec.LookPath("sshpass"); err != nil {
		if os.Getenv("FLEET_REQUIRE_SSHD") == "1" {
			t.Fatal("sshpass is not installed (.ci/run installs it)")
		}
		t.Skip("sshpass is not installed")
	}
	lab := newSSHDLab(t, 1, sshdtest.Options{PasswordAuth: true})
	var b [8]byte
	rand.Read(b[:])
	password := "pw-" + hex.EncodeToString(b[:])
	sshdtest.SetPassword(t, password)
	lab.write(t)
	sock := filepath.Join(shortDir(t), "m.sock")
	sshMaster(t, lab, sock, []string{"sshpass", "-p", password},
		"-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive")
	if n := lab.servers[0].CountLog("Accepted password"); n != 1 {
		t.Fatalf("the OpenSSH master did not log in by password (%d)", n)
	}
	withControlPath(t, lab, sock, "auto")

	r := lab.fleet(t, "run", "all", "-v", "--", "echo ok from $(whoami)")
	if r.code != 0 || !strings.Contains(r.stdout, "h01 | ok from ") {
		t.Fatalf("fleet run through the OpenSSH master: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, "riding the master at "+sock+" (OpenSSH's, ") {
		t.Errorf("-v does not say fleet rode OpenSSH's master:\n%s", r.stderr)
	}
	if n := lab.servers[0].CountLog("Connection from"); n != 1 {
		t.Errorf("sshd saw %d TCP connections, want only the OpenSSH master's", n)
	}
	// --fresh ignores the master, and then this run's own (missing) key
	// can't log in.
	r = lab.fleet(t, "run", "all", "--fresh", "--", "true")
	if r.code != 4 {
		t.Errorf("--fresh: exit %d, want 4 (fleet's own login fails without a key)", r.code)
	}
}

// Acceptance 4: a socket left by a kill -9'd master is removed and the run
// connects directly; a socket another uid owns is refused, with a clear
// error.
func TestSSHDStaleAndForeignSockets(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{})
	lab.write(t)
	sock := filepath.Join(shortDir(t), "m.sock")
	sshMaster(t, lab, sock, nil, "-i", sshdtest.ClientKeyPath(), "-o", "IdentitiesOnly=yes")
	out, _ := exec.Command("ssh", "-S", sock, "-O", "check", "x").CombinedOutput()
	var pid int
	if i := strings.Index(string(out), "pid="); i >= 0 {
		pid, _ = strconv.Atoi(strings.TrimRight(string(out[i+4:]), ")\r\n"))
	}
	if pid <= 0 {
		t.Fatalf("ssh -O check: %s", out)
	}
	if err := syscallKill(pid); err != nil {
		t.Fatal(err)
	}
	waitGone(t, pid)
	if _, err := os.Stat(sock); err != nil {
		t.Fatalf("the killed master's socket is gone already: %v", err)
	}
	conf := "Host *\n  ControlPath " + sock + "\n  ControlMaster auto\n" + readFile(t, lab.sshConfig)
	writeFile(t, lab.sshConfig, conf)
	r := lab.fleet(t, "run", "all", "-v", "--", "echo direct")
	if r.code != 0 || !strings.Contains(r.stdout, "h01 | direct") {
		t.Errorf("run past a stale socket: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, "removed the stale master socket "+sock) {
		t.Errorf("-v does not say the stale socket was removed")
	}
	if _, err := os.Stat(sock); err == nil {
		t.Errorf("the stale socket is still there")
	}

	// A socket owned by someone else.
	if os.Geteuid() != 0 {
		t.Skip("making a socket owned by another uid needs root")
	}
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	if err := os.Lchown(sock, uid, -1); err != nil {
		t.Fatal(err)
	}
	r = lab.fleet(t, "run", "all", "--", "true")
	if r.code != 4 || !strings.Contains(r.stdout, "belongs to uid "+nobody.Uid) {
		t.Errorf("a foreign socket: exit %d, want 4 and an error naming its owner", r.code)
	}
	if n := lab.servers[0].CountLog("Connection from"); n != 2 {
		t.Errorf("sshd saw %d connections, want 2 (the killed master's and the direct run's)", n)
	}
}

func syscallKill(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// waitGone waits for pid to exit (it is not our child: poll).
func waitGone(t *testing.T, pid int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat("/proc/" + strconv.Itoa(pid)); err != nil {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("pid %d did not exit", pid)
}

// masterLab is a lab whose ssh_config gives every host a ControlPath in a
// short private directory, plus the given options; masters left running
// are stopped when the test ends.
func masterLab(t *testing.T, n int, conf string) (*sshdLab, string) {
	t.Helper()
	lab := newSSHDLab(t, n, sshdtest.Options{})
	lab.write(t)
	dir := shortDir(t)
	writeFile(t, lab.sshConfig, "Host *\n  ControlPath "+dir+"/%C\n"+conf+readFile(t, lab.sshConfig))
	t.Cleanup(func() {
		lab.fleet(t, "master", "stop", strings.Join(lab.names, ":"), "--force")
	})
	return lab, dir
}

// socketOf returns the one master socket in dir.
func socketOf(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"))
	if len(m) != 1 {
		t.Fatalf("%d sockets in %s, want 1", len(m), dir)
	}
	return m[0]
}

// sshVia runs a stock OpenSSH client through the master socket.
func sshVia(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		code = -1
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		}
	}
	t.Logf("%s %s\nexit %d\n%s", name, strings.Join(args, " "), code, out)
	return string(out), code
}

// Acceptance 1: stock ssh, scp, sftp and rsync ride fleet's master; sshd
// sees one TCP connection for all of them; ssh -O exit stops it.
func TestSSHDOpenSSHClientsThroughFleetMaster(t *testing.T) {
	lab, dir := masterLab(t, 1, "")
	r := lab.fleet(t, "master", "start", "all", "--persist", "5m")
	if r.code != 0 {
		t.Fatalf("master start: exit %d", r.code)
	}
	sock := socketOf(t, dir)
	base := remoteBase(t, lab.servers[0])
	local := t.TempDir()
	writeFile(t, filepath.Join(local, "a.txt"), "alpha\n")
	os.MkdirAll(filepath.Join(local, "tree", "sub"), 0o755)
	writeFile(t, filepath.Join(local, "tree", "sub", "b.txt"), "beta\n")
	cp := []string{"-F", "/dev/null", "-o", "ControlPath=" + sock, "-o", "ControlMaster=no"}

	if out, code := sshVia(t, "ssh", "-S", sock, "-O", "check", "h01"); code != 0 || !strings.Contains(out, "Master running") {
		t.Errorf("ssh -O check: exit %d", code)
	}
	if out, code := sshVia(t, "ssh", append(cp, "h01", "echo ok; exit 3")...); code != 3 || strings.TrimSpace(out) != "ok" {
		t.Errorf("ssh 'echo ok; exit 3': exit %d, output %q", code, out)
	}
	if _, code := sshVia(t, "scp", append(cp, filepath.Join(local, "a.txt"), "h01:"+base+"/a.txt")...); code != 0 || readFile(t, filepath.Join(base, "a.txt")) != "alpha\n" {
		t.Errorf("scp to the host: exit %d", code)
	}
	if _, code := sshVia(t, "scp", append(cp, "h01:"+base+"/a.txt", filepath.Join(local, "back.txt"))...); code != 0 || readFile(t, filepath.Join(local, "back.txt")) != "alpha\n" {
		t.Errorf("scp from the host: exit %d", code)
	}
	batch := filepath.Join(local, "batch")
	writeFile(t, batch, "put "+filepath.Join(local, "a.txt")+" "+base+"/sftp.txt\n")
	if _, code := sshVia(t, "sftp", append(cp, "-b", batch, "h01")...); code != 0 || readFile(t, filepath.Join(base, "sftp.txt")) != "alpha\n" {
		t.Errorf("sftp: exit %d", code)
	}
	if _, err := exec.LookPath("rsync"); err == nil {
		if _, code := sshVia(t, "rsync", "-a", "-e", "ssh "+strings.Join(cp, " "), filepath.Join(local, "tree")+"/", "h01:"+base+"/tree/"); code != 0 || readFile(t, filepath.Join(base, "tree", "sub", "b.txt")) != "beta\n" {
			t.Errorf("rsync: exit %d", code)
		}
	} else if os.Getenv("FLEET_REQUIRE_SSHD") == "1" {
		t.Error("rsync is not installed")
	}
	// fleet itself rides it too.
	if r := lab.fleet(t, "run", "all", "--", "true"); r.code != 0 {
		t.Errorf("fleet run through its own master: exit %d", r.code)
	}
	if n := lab.servers[0].CountLog("Connection from"); n != 1 {
		t.Errorf("sshd saw %d TCP connections, want the master's one", n)
	}
	if _, code := sshVia(t, "ssh", "-S", sock, "-O", "exit", "h01"); code != 0 {
		t.Errorf("ssh -O exit: exit %d", code)
	}
	if r := lab.fleet(t, "master", "status", "all"); r.code != 4 || !strings.Contains(r.stdout, "no master") {
		t.Errorf("after ssh -O exit: status exit %d, want 4 and no master", r.code)
	}
}

// Acceptance 3: with ControlMaster auto and ControlPersist, a run starts a
// persistent master by itself, and the next run makes no new connection.
func TestSSHDControlPersist(t *testing.T) {
	lab, dir := masterLab(t, 3, "  ControlMaster auto\n  ControlPersist 5m\n")
	for run := 1; run <= 2; run++ {
		r := lab.fleet(t, "run", "all", "-v", "--", "echo run "+strconv.Itoa(run))
		if r.code != 0 {
			t.Fatalf("run %d: exit %d", run, r.code)
		}
		if run == 1 && !strings.Contains(r.stderr, "started a persistent master") {
			t.Errorf("run 1 did not start a persistent master")
		}
		// fleet's master says so in its hello: its riders share one
		// control connection (OpenSSH's gets one per channel).
		if run == 2 && !strings.Contains(r.stderr, "(fleet's, ") {
			t.Errorf("run 2 does not say it rides fleet's master:\n%s", r.stderr)
		}
	}
	// A push rides them too: SFTP through the master.
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "f.txt"), "pushed\n")
	base := remoteBase(t, lab.servers[0])
	if r := lab.fleet(t, "push", "all", filepath.Join(src, "f.txt"), base+"/{{ inventory_hostname }}/"); r.code != 0 {
		t.Errorf("push through the masters: exit %d", r.code)
	}
	for i, s := range lab.servers {
		if n := s.CountLog("Connection from"); n != 1 {
			t.Errorf("%s: %d TCP connections over two runs and a push, want 1", lab.names[i], n)
		}
		if got := readFile(t, filepath.Join(base, lab.names[i], "f.txt")); got != "pushed\n" {
			t.Errorf("%s: pushed file holds %q", lab.names[i], got)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 3 {
		t.Errorf("%d master sockets, want 3", len(m))
	}
	r := lab.fleet(t, "master", "status", "all")
	if r.code != 0 || strings.Count(r.stdout, "h0") != 3 {
		t.Errorf("master status: exit %d", r.code)
	}
	// --fresh ignores the masters, connects anew and publishes nothing.
	r = lab.fleet(t, "run", "all", "--fresh", "--", "true")
	for i, s := range lab.servers {
		if n := s.CountLog("Connection from"); r.code != 0 || n != 2 {
			t.Errorf("%s: --fresh: exit %d, %d connections, want 2", lab.names[i], r.code, n)
		}
	}
}

// Acceptance 6: fleet master stop waits for active sessions; --force
// doesn't.
func TestSSHDMasterStopWaits(t *testing.T) {
	lab, dir := masterLab(t, 1, "")
	for _, force := range []bool{false, true} {
		if r := lab.fleet(t, "master", "start", "all"); r.code != 0 {
			t.Fatalf("master start: exit %d", r.code)
		}
		sock := socketOf(t, dir)
		sleep := "sleep 2; echo done"
		if force {
			sleep = "sleep 30; echo done"
		}
		type result struct {
			out  string
			code int
			end  time.Time
		}
		results := make(chan result, 3)
		for range 3 {
			go func() {
				cmd := exec.Command("ssh", "-F", "/dev/null", "-S", sock, "-o", "ControlMaster=no", "h01", sleep)
				out, err := cmd.CombinedOutput()
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				}
				results <- result{string(out), code, time.Now()}
			}()
		}
		waitSessions(t, lab, 3)
		args := []string{"master", "stop", "all"}
		if force {
			args = append(args, "--force")
		}
		r := lab.fleet(t, args...)
		stopped := time.Now()
		if r.code != 0 || !strings.Contains(r.stdout, "master stopped") {
			t.Errorf("master stop (force %v): exit %d", force, r.code)
		}
		for range 3 {
			res := <-results
			switch {
			case !force && (res.code != 0 || strings.TrimSpace(res.out) != "done" || res.end.After(stopped)):
				t.Errorf("a session under a plain stop: exit %d, output %q, ended after the stop returned: %v", res.code, res.out, res.end.After(stopped))
			case force && (res.code == 0 || strings.Contains(res.out, "done")):
				t.Errorf("a session under --force: exit %d, output %q; want it cut", res.code, res.out)
			}
		}
	}
}

// waitSessions waits until the lab's first master reports n sessions.
func waitSessions(t *testing.T, lab *sshdLab, n int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := lab.fleetQuiet(t, "master", "status", "all")
		for _, l := range strings.Split(r.stdout, "\n") {
			if f := strings.Fields(l); len(f) >= 5 && f[0] == "h01" && f[4] == strconv.Itoa(n) {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("the master never had %d sessions", n)
}

// Acceptance 5: another local uid is refused by fleet's master, even when
// the socket's mode would let it connect.
func TestSSHDMasterRefusesOtherUsers(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("running a client as another uid needs root")
	}
	setpriv, err := exec.LookPath("setpriv")
	if err != nil {
		t.Skip("setpriv (util-linux) is not installed")
	}
	lab, dir := masterLab(t, 1, "")
	if r := lab.fleet(t, "master", "start", "all"); r.code != 0 {
		t.Fatalf("master start: exit %d", r.code)
	}
	sock := socketOf(t, dir)
	// Open the way (the socket and its own directory, nothing above), so
	// that only the master's own check stands.
	os.Chmod(dir, 0o755)
	os.Chmod(sock, 0o666)
	out, code := sshVia(t, setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--",
		"ssh", "-F", "/dev/null", "-o", "UserKnownHostsFile=/dev/null", "-S", sock, "-O", "check", "h01")
	if code == 0 || strings.Contains(out, "Master running") {
		t.Errorf("uid 65534 got through to the master: exit %d", code)
	}
	if _, code := sshVia(t, "ssh", "-F", "/dev/null", "-S", sock, "-O", "check", "h01"); code != 0 {
		t.Errorf("the master's own user was refused: exit %d", code)
	}
}

// Found in review: two runs starting masters for the same hosts at once
// both succeed (the second rides the first's), and a bad setting on a host
// outside the run does not stop a master from starting.
func TestSSHDMasterStartRace(t *testing.T) {
	lab, dir := masterLab(t, 2, "  ControlMaster auto\n  ControlPersist 5m\n")
	lab.extraHosts = []string{"broken:\n      ansible_port: notaport"}
	lab.write(t)
	// write() rewrote ssh_config: put the ControlPath back.
	writeFile(t, lab.sshConfig, "Host *\n  ControlPath "+dir+"/%C\n  ControlMaster auto\n  ControlPersist 5m\n"+readFile(t, lab.sshConfig))
	results := make(chan fleetResult, 2)
	for range 2 {
		go func() { results <- lab.fleet(t, "run", "h01:h02", "--", "true") }()
	}
	for range 2 {
		if r := <-results; r.code != 0 {
			t.Errorf("a run racing another to start masters: exit %d", r.code)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*")); len(m) != 2 {
		t.Errorf("%d master sockets, want 2", len(m))
	}
	if r := lab.fleet(t, "master", "start", "h01:h02"); r.code != 0 || strings.Count(r.stdout, "already running") != 2 {
		t.Errorf("master start over running masters: exit %d", r.code)
	}
}

// Riding a stock OpenSSH master leaves it up while other clients use it.
// OpenSSH's master (9.2) looks up the channel a proxy client closes by the
// server's channel number among all its channels, where another client's
// control channel keeps the number of its own session: on a match it
// marks the wrong one, later closes fleet's channel twice, and sshd ends
// the master's connection with everything on it. Here another `ssh -S`
// client keeps a session open, and the lab's second host is reached
// through the master (ProxyJump), while fleet runs commands, its
// long-lived shell, sessions at once and SFTP, 10 times.
func TestSSHDRidingKeepsOpenSSHMasterUp(t *testing.T) {
	lab := newSSHDLab(t, 2, sshdtest.Options{})
	dir := shortDir(t)
	j, h := lab.servers[0], lab.servers[1]
	lab.extraConf = []string{fmt.Sprintf("Host h01\n  HostName %s\n  Port %d\n  User %s\nHost h02\n  HostName %s\n  Port %d\n  User %s\n  ProxyJump h01\nHost *\n  ControlPath %s/%%n\n  ControlMaster auto\n",
		j.Addr(), j.Port(), j.User(), h.Addr(), h.Port(), h.User(), dir)}
	lab.write(t)
	ssh := func(args ...string) *exec.Cmd {
		return exec.Command("ssh", append([]string{"-F", lab.sshConfig}, args...)...)
	}
	if out, err := ssh("-M", "-N", "-f", "-o", "ControlPersist=10m", "h01").CombinedOutput(); err != nil {
		t.Fatalf("ssh -M h01: %v\n%s", err, out)
	}
	t.Cleanup(func() { ssh("-O", "exit", "h01").Run() })
	// Another client of the master, with a session open throughout.
	other := ssh("h01", "echo up; exec sleep 300")
	up, err := other.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Process.Kill(); other.Wait() })
	if line, err := bufio.NewReader(up).ReadString('\n'); line != "up\n" {
		t.Fatalf("the other client's session: %q, %v", line, err)
	}

	src := filepath.Join(t.TempDir(), "f")
	writeFile(t, src, "data\n")
	dst := remoteBase(t, j)
	for i := range 10 {
		r := lab.fleet(t, "run", "all", "-v", "-c", "true", "-c", "echo ran")
		if r.code != 0 || strings.Count(r.stdout, "ran") != 2 || !strings.Contains(r.stderr, "h01: riding the master") {
			t.Fatalf("run %d: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
		}
		// Sessions open at once get the server's channel numbers 1 and
		// 2; the other client's session is 0.
		r = lab.fleet(t, "run", "h01", "--parallel", "-c", "sleep 0.2; echo a", "-c", "sleep 0.2; echo b")
		if r.code != 0 || !strings.Contains(r.stdout, "a") || !strings.Contains(r.stdout, "b") {
			t.Fatalf("parallel run %d: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
		}
		if r = lab.fleet(t, "push", "h01", src, dst+"/"); r.code != 0 {
			t.Fatalf("push %d: exit %d\n%s%s", i, r.code, r.stdout, r.stderr)
		}
		if out, err := ssh("-O", "check", "h01").CombinedOutput(); err != nil {
			t.Fatalf("after fleet's run %d the OpenSSH master is gone: %s\nsshd: %s", i, out, j.Log())
		}
	}
	if n := j.CountLog("nonexistent channel"); n != 0 {
		t.Errorf("sshd saw %d messages for channels already closed", n)
	}
}

// OpenSSH's master drops a proxy client that sends a global request other
// than tcpip-forward, keepalives included: a rider leaves keepalives to
// the master, so commands outlast ServerAliveInterval (1s in the lab).
func TestSSHDRidingOutlastsServerAliveInterval(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{})
	lab.write(t)
	sock := filepath.Join(shortDir(t), "m.sock")
	sshMaster(t, lab, sock, nil, "-i", sshdtest.ClientKeyPath(), "-o", "IdentitiesOnly=yes")
	withControlPath(t, lab, sock, "auto")
	if !strings.Contains(readFile(t, lab.sshConfig), "ServerAliveInterval 1\n") {
		t.Fatal("the lab's ssh_config no longer sets ServerAliveInterval 1")
	}
	r := lab.fleet(t, "run", "all", "--", "sleep 3; echo done")
	if r.code != 0 || !strings.Contains(r.stdout, "h01 | done") {
		t.Errorf("a 3s command through the OpenSSH master: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
}
