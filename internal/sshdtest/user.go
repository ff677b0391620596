package sshdtest

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// TestUser is the account servers log in as when the tests run as
	// root. Logging in as root would hide permission bugs, and root's shell
	// profile may be heavy; this user's is empty, so a session costs only
	// what sshd costs.
	TestUser = "fleet-test"

	testUserHome = "/var/lib/fleet-test"

	// userLockPath serialises user creation between test binaries that
	// `go test ./...` runs in parallel. /run is root's, so nobody else can
	// plant a file there.
	userLockPath = "/run/fleet-sshdtest.lock"

	// privsepDir is where sshd, started as root, chroots its unprivileged
	// children; Debian creates it at boot, containers often lack it.
	privsepDir = "/run/sshd"
)

// emptyProfiles are truncated so that neither bash (which sources ~/.bashrc
// even for `ssh host cmd`) nor a login shell does any work.
var emptyProfiles = []string{".bashrc", ".profile", ".bash_profile"}

var loginUserOnce struct {
	once sync.Once
	name string
	err  error
}

// loginUser returns the user servers log in as: TestUser (created when
// missing) when running as root, otherwise the current user, as a non-root
// sshd can only log in as the user it runs as.
func loginUser() (string, error) {
	loginUserOnce.once.Do(func() {
		if os.Geteuid() != 0 {
			u, err := user.Current()
			if err != nil {
				loginUserOnce.err = fmt.Errorf("sshdtest: look up the current user: %w", err)
				return
			}
			loginUserOnce.name = u.Username
			return
		}
		loginUserOnce.err = prepareRoot()
		loginUserOnce.name = TestUser
	})
	return loginUserOnce.name, loginUserOnce.err
}

// prepareRoot makes the privilege separation directory and the test user.
func prepareRoot() error {
	if err := os.MkdirAll(privsepDir, 0o755); err != nil {
		return fmt.Errorf("sshdtest: create sshd's privilege separation directory: %w", err)
	}
	lock, err := os.OpenFile(userLockPath, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("sshdtest: open lock file: %w", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return fmt.Errorf("sshdtest: lock %s: %w", userLockPath, err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	return ensureTestUser()
}

// ensureTestUser creates TestUser if missing and makes sure sshd will let it
// log in: an unlocked password field and an empty shell profile. The caller
// holds the lock.
func ensureTestUser() error {
	u, err := user.Lookup(TestUser)
	if errors.As(err, new(user.UnknownUserError)) {
		// "*" is no password at all, unlike useradd's default "!", which
		// marks the account locked, and sshd without PAM refuses locked
		// accounts even for public key logins.
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "useradd", "--create-home", "--home-dir", testUserHome,
			"--shell", "/bin/bash", "--password", "*", "--comment", "fleet integration tests", TestUser)
		out, runErr := cmd.CombinedOutput()
		var exit *exec.ExitError
		// Exit status 9: the user already exists, made by another process
		// that does not use our lock.
		if runErr != nil && !(errors.As(runErr, &exit) && exit.ExitCode() == 9) {
			return fmt.Errorf("sshdtest: create test user %s: %v: %s (create it by hand: useradd -m -d %s -s /bin/bash -p '*' %s)",
				TestUser, runErr, strings.TrimSpace(string(out)), testUserHome, TestUser)
		}
		u, err = user.Lookup(TestUser)
	}
	if err != nil {
		return fmt.Errorf("sshdtest: look up test user %s: %w", TestUser, err)
	}
	if err := unlockPassword(); err != nil {
		return err
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.MkdirAll(u.HomeDir, 0o755); err != nil {
		return fmt.Errorf("sshdtest: create home of %s: %w", TestUser, err)
	}
	if err := os.Chown(u.HomeDir, uid, gid); err != nil {
		return fmt.Errorf("sshdtest: chown home of %s: %w", TestUser, err)
	}
	for _, name := range emptyProfiles {
		path := filepath.Join(u.HomeDir, name)
		if fi, err := os.Lstat(path); err == nil && fi.Mode().IsRegular() && fi.Size() == 0 {
			continue
		}
		os.Remove(path)
		if err := os.WriteFile(path, nil, 0o644); err != nil {
			return fmt.Errorf("sshdtest: empty the shell profile of %s: %w", TestUser, err)
		}
		if err := os.Chown(path, uid, gid); err != nil {
			return fmt.Errorf("sshdtest: chown %s: %w", path, err)
		}
	}
	return nil
}

// unlockPassword replaces a locked password field ("!…", as useradd and
// passwd -l leave it) with "*", so that sshd without PAM accepts the user.
func unlockPassword() error {
	if field, ok := shadowPassword(); ok && strings.HasPrefix(field, "!") {
		return clearPassword()
	}
	return nil // no shadow file or line: nothing can be locked there
}

// shadowPassword returns TestUser's password field in /etc/shadow, and
// false if there is no such file or line.
func shadowPassword() (string, bool) {
	f, err := os.Open("/etc/shadow")
	if err != nil {
		return "", false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if name, rest, ok := strings.Cut(sc.Text(), ":"); ok && name == TestUser {
			field, _, _ := strings.Cut(rest, ":")
			return field, true
		}
	}
	return "", false
}

// clearPassword sets TestUser's password field to "*": no password, yet not
// locked, so that sshd without PAM lets the user in with a key.
func clearPassword() error {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "usermod", "--password", "*", TestUser).CombinedOutput(); err != nil {
		return fmt.Errorf("sshdtest: clear the password of test user %s: %v: %s (run: usermod -p '*' %s)",
			TestUser, err, strings.TrimSpace(string(out)), TestUser)
	}
	return nil
}
