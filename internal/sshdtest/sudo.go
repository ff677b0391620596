package sshdtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	sudoPath   = "/usr/bin/sudo"
	sudoersDir = "/etc/sudoers.d"

	// sudoLockPath serialises EnableSudo between tests and test processes,
	// which all share TestUser: a NOPASSWD rule or another test's password
	// would make a test of password prompts pass or fail by chance. Tests
	// without a password share the lock; a test with one holds it alone.
	sudoLockPath = "/run/fleet-sshdtest-sudo.lock"
	// sudoLockTimeout bounds the wait for other tests' sudo to end.
	sudoLockTimeout = 2 * time.Minute

	// dropInPrefix starts the name of every drop-in EnableSudo writes:
	// fleet-test-<pid>-<random>. The pid lets a later test remove the
	// drop-ins of a test process that was killed before its cleanup ran.
	dropInPrefix = TestUser + "-"
)

// EnableSudo lets the login user run any command as any user with sudo
// until the test ends. With an empty password sudo asks for none; otherwise
// the user gets that password and sudo asks for it every time (no cached
// credentials), so `sudo -n` fails and `sudo -S` reads it from stdin. When
// the test ends, the sudoers drop-in is removed and the password cleared.
//
// It needs root and /usr/bin/sudo: without them it skips the test, or fails
// it when FLEET_REQUIRE_SSHD=1, as Require does. (Without root the servers
// log in as the current user, whose sudo rights are not the tests' to
// change.) Tests that call it run one at a time when a password is given,
// as every test shares TestUser; so a test calls it at most once.
//
// While a password is set, any other sshd on the machine that allows
// password logins would let TestUser in with it: use a random one.
func EnableSudo(t testing.TB, password string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, fmt.Sprintf("EnableSudo needs root: it writes to %s and sets %s's password, and without root the servers log in as the current user (uid %d), whose sudo rights the tests must not change",
			sudoersDir, TestUser, os.Geteuid()))
	}
	if fi, err := os.Stat(sudoPath); err != nil || fi.IsDir() {
		unavailable(t, fmt.Sprintf("EnableSudo needs %s: install sudo", sudoPath))
	}
	visudo, err := findTool("visudo")
	if err != nil {
		unavailable(t, fmt.Sprintf("EnableSudo needs visudo, which comes with sudo: %v", err))
	}
	if strings.ContainsAny(password, "\n\r\x00") {
		t.Fatalf("sshdtest: EnableSudo: the password holds a newline or NUL byte, which neither chpasswd nor sudo -S can take")
	}
	if _, err := loginUser(); err != nil {
		t.Fatal(err)
	}

	withPassword := password != ""
	ctx, cancel := context.WithTimeout(context.Background(), sudoLockTimeout)
	defer cancel()
	unlock, err := lockSudo(ctx, withPassword)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock) // runs last: cleanups run in reverse order
	if err := removeStaleSudo(); err != nil {
		t.Fatal(err)
	}

	if withPassword {
		t.Cleanup(func() {
			if err := clearPassword(); err != nil {
				t.Error(err)
			}
		})
		if err := setPassword(password); err != nil {
			t.Fatal(err)
		}
	}
	path, err := installDropIn(visudo, sudoersRules(withPassword))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("sshdtest: remove sudoers drop-in %s, which lets %s run anything as root: %v; remove it by hand", path, TestUser, err)
		}
	})
	if err := checkSudoGrants(); err != nil {
		t.Fatal(err)
	}
}

// findTool looks name up in PATH and then in /usr/sbin, which a non-root
// PATH may lack.
func findTool(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	p := filepath.Join("/usr/sbin", name)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no %s in PATH or at %s", name, p)
	}
	return p, nil
}

// sudoersRules returns the drop-in's text. The Defaults make sudo usable
// over a session without a terminal (!requiretty, which some distributions
// set) and make a password prompt happen every time, without the lecture
// that would precede the first one.
func sudoersRules(withPassword bool) string {
	tag := "NOPASSWD: "
	if withPassword {
		tag = ""
	}
	return fmt.Sprintf(`# Written by fleetrun.dev/fleet/internal/sshdtest (pid %d) for one test; removed when it ends.
Defaults:%[2]s !requiretty
Defaults:%[2]s !lecture
Defaults:%[2]s timestamp_timeout=0
%[2]s ALL=(ALL:ALL) %[3]sALL
`, os.Getpid(), TestUser, tag)
}

// lockSudo takes sudoLockPath, exclusively when exclusive is set, and
// returns the function that releases it. flock(2) has no timeout, so it
// polls until ctx ends.
func lockSudo(ctx context.Context, exclusive bool) (unlock func(), err error) {
	f, err := os.OpenFile(sudoLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("sshdtest: open lock file: %w", err)
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err == nil {
			// Closing the file releases the lock.
			return func() { f.Close() }, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) {
			f.Close()
			return nil, fmt.Errorf("sshdtest: lock %s: %w", sudoLockPath, err)
		}
		select {
		case <-ctx.Done():
			f.Close()
			return nil, fmt.Errorf("sshdtest: EnableSudo: other tests have held sudo for %s (lock %s) too long; a test that calls EnableSudo twice with a password waits for itself: %w",
				TestUser, sudoLockPath, ctx.Err())
		case <-tick.C:
		}
	}
}

// removeStaleSudo undoes what tests killed before their cleanup left behind:
// drop-ins (and their temp files) of processes that are gone, and a password.
// The caller holds the sudo lock, so no live test relies on a password now:
// one that set it would hold the lock alone.
func removeStaleSudo() error {
	entries, err := os.ReadDir(sudoersDir)
	if err != nil {
		return fmt.Errorf("sshdtest: EnableSudo: %w (sudo reads drop-ins there only with @includedir %s in /etc/sudoers)", err, sudoersDir)
	}
	for _, e := range entries {
		name := strings.TrimPrefix(e.Name(), ".")
		rest, ok := strings.CutPrefix(name, dropInPrefix)
		pidText, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidText)
		if !ok || err != nil || processExists(pid) {
			continue
		}
		path := filepath.Join(sudoersDir, e.Name())
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("sshdtest: remove stale sudoers drop-in %s: %w", path, err)
		}
	}
	if field, ok := shadowPassword(); ok && field != "*" {
		return clearPassword()
	}
	return nil
}

// setPassword gives TestUser password.
func setPassword(password string) error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	chpasswd, err := findTool("chpasswd")
	if err != nil {
		return fmt.Errorf("sshdtest: EnableSudo: set the password of %s: %v; install passwd", TestUser, err)
	}
	cmd := exec.CommandContext(ctx, chpasswd)
	cmd.Stdin = strings.NewReader(TestUser + ":" + password + "\n")
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("sshdtest: EnableSudo: set the password of %s with chpasswd: %v: %s", TestUser, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// installDropIn checks rules with visudo and puts them in place as a new
// drop-in, whose path it returns. The file is written under a name with a
// dot, which sudo skips, and renamed once complete and valid, so sudo never
// reads a partial or broken file (a broken sudoers file disables sudo).
func installDropIn(visudo, rules string) (string, error) {
	name := dropInPrefix + strconv.Itoa(os.Getpid()) + "-" + randomHex(6)
	tmp := filepath.Join(sudoersDir, "."+name+".tmp")
	path := filepath.Join(sudoersDir, name)
	if err := os.WriteFile(tmp, []byte(rules), 0o440); err != nil {
		return "", fmt.Errorf("sshdtest: EnableSudo: write sudoers drop-in: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	err := os.Chmod(tmp, 0o440) // sudo ignores drop-ins others can write
	if err == nil {
		if out, cerr := exec.CommandContext(ctx, visudo, "-c", "-f", tmp).CombinedOutput(); cerr != nil {
			err = fmt.Errorf("visudo -cf rejects it: %v: %s\n%s", cerr, strings.TrimSpace(string(out)), rules)
		}
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("sshdtest: EnableSudo: install sudoers drop-in %s: %w", path, err)
	}
	return path, nil
}

// checkSudoGrants asks sudo whether TestUser may now run a command as root,
// which fails when /etc/sudoers does not read the drop-in directory.
func checkSudoGrants() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, sudoPath, "-n", "-l", "-U", TestUser, "true").CombinedOutput()
	if err != nil {
		return fmt.Errorf("sshdtest: EnableSudo: sudo does not let %s run commands after the drop-in was installed (is @includedir %s in /etc/sudoers?): sudo -l -U %s true: %v: %s",
			TestUser, sudoersDir, TestUser, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// SetPassword gives TestUser password for the rest of the test, for servers
// started with Options.PasswordAuth. Like EnableSudo with a password, it
// holds the shared lock alone while the password is set, clears it when
// the test ends, and needs root (else it skips, or fails under
// FLEET_REQUIRE_SSHD=1). Use a random password: any sshd on the machine
// that takes password logins would take this one meanwhile.
func SetPassword(t testing.TB, password string) {
	t.Helper()
	if os.Geteuid() != 0 {
		unavailable(t, fmt.Sprintf("SetPassword needs root: it sets %s's password", TestUser))
	}
	if password == "" || strings.ContainsAny(password, "\n\r\x00:") {
		t.Fatalf("sshdtest: SetPassword: want a non-empty password without newlines, NUL bytes or colons")
	}
	if _, err := loginUser(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sudoLockTimeout)
	defer cancel()
	unlock, err := lockSudo(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(unlock)
	if err := removeStaleSudo(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := clearPassword(); err != nil {
			t.Error(err)
		}
	})
	if err := setPassword(password); err != nil {
		t.Fatal(err)
	}
}
