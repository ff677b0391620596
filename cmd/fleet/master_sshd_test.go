package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// sshMaster starts a stock OpenSSH master for the lab's first host on
// sock, with extra options, and stops it when the test ends.
func sshMaster(t *testing.T, lab *sshdLab, sock string, prefix []string, opts ...string) {
	t.Helper()
	s := lab.servers[0]
	// ControlPersist detaches the master from sshpass's terminal, which
	// would otherwise take it down when sshpass exits.
	args := append(prefix, "ssh", "-M", "-S", sock, "-fN", "-F", "/dev/null", "-o", "ControlPersist=yes",
		"-o", "UserKnownHostsFile="+lab.knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "BatchMode="+map[bool]string{true: "no", false: "yes"}[len(prefix) > 0],
		"-p", strconv.Itoa(s.Port()), "-l", s.User())
	args = append(append(args, opts...), s.Addr())
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, args[0], args[1:]...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Cleanup(func() { exec.Command("ssh", "-S", sock, "-O", "exit", "x").Run() })
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
	if out, err := exec.Command("ssh", "-S", sock, "-O", "check", "x").CombinedOutput(); err != nil {
		t.Fatalf("the OpenSSH master is not running: %v: %s\n%s", err, out, lab.servers[0].Log())
	}
	if n := lab.servers[0].CountLog("Accepted password"); n != 1 {
		t.Fatalf("the OpenSSH master did not log in by password (%d)", n)
	}
	withControlPath(t, lab, sock, "auto")

	r := lab.fleet(t, "run", "all", "-v", "--", "echo ok from $(whoami)")
	if r.code != 0 || !strings.Contains(r.stdout, "h01 | ok from ") {
		t.Fatalf("fleet run through the OpenSSH master: exit %d", r.code)
	}
	if !strings.Contains(r.stderr, "riding the master at "+sock) {
		t.Errorf("-v does not say fleet rode the master")
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
