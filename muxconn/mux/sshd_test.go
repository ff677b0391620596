//go:build linux

package mux

import (
	"bytes"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// startSSHDMaster serves a master riding a connection to a real sshd, for
// what the lab host does not do: shells, ptys, sftp-server's exit status.
func startSSHDMaster(t *testing.T) *master {
	t.Helper()
	srv := sshdtest.Start(t, sshdtest.Options{})
	keys := srv.HostKeys()
	up, err := ssh.Dial("tcp", srv.HostPort(), &ssh.ClientConfig{
		User: srv.User(),
		Auth: []ssh.AuthMethod{ssh.PublicKeys(sshdtest.ClientSigner())},
		HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
			for _, k := range keys {
				if bytes.Equal(k.Marshal(), key.Marshal()) {
					return nil
				}
			}
			return ssh.ErrNoAuth
		},
		Timeout: 10 * time.Second,
	})
	if err != nil {
		t.Fatalf("dialing sshd: %v\n%s", err, srv.Log())
	}
	return serveUpstream(t, up)
}

func TestSSHDShellWithPipedStdin(t *testing.T) {
	m := startSSHDMaster(t)
	r := m.ssh("echo from-the-shell\nexit 4\n")
	if r.code != 4 || !strings.Contains(r.stdout, "from-the-shell\n") {
		t.Errorf("ssh with a piped shell: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
}

func TestSSHDExitSignal(t *testing.T) {
	m := startSSHDMaster(t)
	r := m.ssh("", "echo before; kill -KILL $$")
	if r.code != 255 || r.stdout != "before\n" {
		t.Errorf("stdout %q, exit %d; want %q and 255 (stderr %q)", r.stdout, r.code, "before\n", r.stderr)
	}
}

// TestSSHDPty: with -tt the master asks sshd for a pty sized like the
// client's terminal, or 80x24 when stdin is no terminal.
func TestSSHDPty(t *testing.T) {
	m := startSSHDMaster(t)
	r := m.run("", "ssh", append(m.sshArgs(), "-tt", "dummy", "stty size; tty")...)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "24 80\r\n/dev/") {
		t.Errorf("ssh -tt without a terminal: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}

	ptmx, tty := openPty(t)
	if err := unix.IoctlSetWinsize(int(tty.Fd()), unix.TIOCSWINSZ, &unix.Winsize{Row: 51, Col: 132}); err != nil {
		t.Fatal(err)
	}
	cmd := m.command("", "ssh", append(m.sshArgs(), "-tt", "dummy", "stty size")...)
	cmd.Stdin = tty // a terminal that never sends anything: the master must still let go of it
	r = m.runCmd(cmd)
	if r.code != 0 || !strings.HasPrefix(r.stdout, "51 132\r\n") {
		t.Errorf("ssh -tt on a 51x132 terminal: stdout %q, exit %d (stderr %q)", r.stdout, r.code, r.stderr)
	}
	ptmx.Close()
	tty.Close()
}

// openPty returns a new pseudo-terminal's master and slave.
func openPty(t *testing.T) (ptmx, tty *os.File) {
	t.Helper()
	ptmx, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	fd := int(ptmx.Fd())
	if err := unix.IoctlSetPointerInt(fd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetUint32(fd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err = os.OpenFile("/dev/pts/"+strconv.FormatUint(uint64(n), 10), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ptmx, tty
}

// TestSSHDSCPStatus: with sshd's sftp-server, scp in its default (SFTP)
// mode gets an exit status through the master and succeeds.
func TestSSHDSCPStatus(t *testing.T) {
	m := startSSHDMaster(t)
	home := remoteHome(t, m)
	up := filepath.Join(m.home, "up.txt")
	os.WriteFile(up, []byte("via sftp-server\n"), 0o644)
	dest := "dummy:" + filepath.Join(home, "up.txt")
	if r := m.run("", "scp", append(m.sshArgs(), up, dest)...); r.code != 0 {
		t.Fatalf("scp: exit %d, stderr %q", r.code, r.stderr)
	}
	r := m.ssh("", "cat up.txt; rm up.txt")
	if r.stdout != "via sftp-server\n" {
		t.Errorf("the copied file holds %q", r.stdout)
	}
}
