package sshdtest

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// output runs cmd with stdin and returns its stdout; stderr goes into the
// error only, as sudo may warn there (e.g. that it cannot resolve the host).
func output(c *ssh.Client, cmd, stdin string) (string, error) {
	sess, err := c.NewSession()
	if err != nil {
		return "", err
	}
	defer sess.Close()
	var stdout, stderr bytes.Buffer
	sess.Stdin = strings.NewReader(stdin)
	sess.Stdout, sess.Stderr = &stdout, &stderr
	if err := sess.Run(cmd); err != nil {
		return stdout.String(), errors.Join(err, errors.New(strings.TrimSpace(stderr.String())))
	}
	return stdout.String(), nil
}

func TestEnableSudoWithoutPassword(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	EnableSudo(t, "")
	got, err := output(dial(t, s), "sudo -n id -u", "")
	if err != nil || got != "0\n" {
		t.Fatalf("sudo -n id -u: %q, %v; want \"0\\n\"", got, err)
	}
}

func TestEnableSudoWithPassword(t *testing.T) {
	t.Parallel()
	s := Start(t, Options{})
	var dropIns []string
	t.Run("enabled", func(t *testing.T) {
		password := "pw-" + randomHex(8)
		EnableSudo(t, password)
		c := dial(t, s)
		var exit *ssh.ExitError
		if got, err := output(c, "sudo -n true", ""); !errors.As(err, &exit) {
			t.Errorf("sudo -n true: %q, %v; want a failure, as sudo must ask for the password", got, err)
		}
		if got, err := output(c, "sudo -S -p '' id -u", password+"\n"); err != nil || got != "0\n" {
			t.Errorf("sudo -S id -u with the password: %q, %v; want \"0\\n\"", got, err)
		}
		// With a password the lock is ours alone, so every drop-in of this
		// process is this test's.
		dropIns, _ = filepath.Glob(filepath.Join(sudoersDir, dropInPrefix+strconv.Itoa(os.Getpid())+"-*"))
		if len(dropIns) != 1 {
			t.Fatalf("drop-ins of this process: %q, want one", dropIns)
		}
		if fi, err := os.Stat(dropIns[0]); err != nil || fi.Mode().Perm() != 0o440 {
			t.Errorf("drop-in %s: %v, %v; want mode 0440", dropIns[0], fi.Mode(), err)
		}
	})
	if len(dropIns) != 1 {
		return // the subtest failed or skipped
	}

	// Taken alone, the lock shows the state no test changes.
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	unlock, err := lockSudo(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()
	for _, p := range dropIns {
		if _, err := os.Stat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("drop-in %s is still there after the test (%v)", p, err)
		}
	}
	if err := checkSudoGrants(); err == nil {
		t.Errorf("sudo still lets %s run commands after the test", TestUser)
	}
	if field, ok := shadowPassword(); !ok || field != "*" {
		t.Errorf("password field of %s after the test: %q (found %v), want \"*\"", TestUser, field, ok)
	}
}

func TestSudoersRules(t *testing.T) {
	for _, tc := range []struct {
		withPassword bool
		rule         string
	}{
		{false, "\nfleet-test ALL=(ALL:ALL) NOPASSWD: ALL\n"},
		{true, "\nfleet-test ALL=(ALL:ALL) ALL\n"},
	} {
		got := sudoersRules(tc.withPassword)
		for _, want := range []string{tc.rule, "\nDefaults:fleet-test timestamp_timeout=0\n", "\nDefaults:fleet-test !requiretty\n", "\nDefaults:fleet-test !lecture\n"} {
			if !strings.Contains(got, want) {
				t.Errorf("withPassword %v: rules lack %q:\n%s", tc.withPassword, want, got)
			}
		}
	}
}

// TestRemoveStaleSudo plays a test process killed before its cleanup: its
// drop-ins and the password it set must go, another live process's stay.
func TestRemoveStaleSudo(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write to " + sudoersDir)
	}
	t.Parallel()
	if _, err := loginUser(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), hangTimeout)
	defer cancel()
	unlock, err := lockSudo(ctx, true)
	if err != nil {
		t.Fatal(err)
	}
	defer unlock()

	gone := exec.CommandContext(ctx, "true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	dead := strconv.Itoa(gone.Process.Pid)
	live := strconv.Itoa(os.Getpid())
	files := map[string]bool{ // name → whether it must survive
		dropInPrefix + dead + "-stale":           false,
		"." + dropInPrefix + dead + "-stale.tmp": false,
		dropInPrefix + live + "-live":            true,
		"unrelated-" + dead:                      true,
	}
	for name := range files {
		path := filepath.Join(sudoersDir, name)
		// Comments only: sudo would grant nothing if it read them.
		if err := os.WriteFile(path, []byte("# TestRemoveStaleSudo\n"), 0o440); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(path) })
	}
	if err := setPassword("stale-" + randomHex(8)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { clearPassword() })

	if err := removeStaleSudo(); err != nil {
		t.Fatal(err)
	}
	for name, survive := range files {
		_, err := os.Stat(filepath.Join(sudoersDir, name))
		if survive && err != nil {
			t.Errorf("%s was removed (%v); it does not belong to a dead test process", name, err)
		}
		if !survive && !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s is still there (%v); its process is gone", name, err)
		}
	}
	if field, _ := shadowPassword(); field != "*" {
		t.Errorf("password field %q left by a dead test, want \"*\"", field)
	}
}
