package main

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// A host's commands in order run in one long-lived shell session against
// real sshd, each as if alone; --session-per-command gives each its own.
func TestSSHDCommandsShareOneShell(t *testing.T) {
	lab := newSSHDLab(t, 2, sshdtest.Options{})
	lab.write(t)
	cmds := []string{
		"echo {a,b}",           // the login shell (bash) runs the commands
		"cd /; X=1; umask 077", // none of this reaches the next one
		`pwd; echo "X=$X"; umask`,
		"cat; echo stdin-empty",
		"echo err >&2; exit 3",
		"echo never",
	}
	for _, mode := range []struct {
		flags    []string
		sessions int
	}{{nil, 1}, {[]string{"--session-per-command"}, 5}} {
		t.Run(fmt.Sprint(mode.flags), func(t *testing.T) {
			before := make([]int, len(lab.servers))
			for i, s := range lab.servers {
				before[i] = s.CountLog("Starting session: command")
			}
			args := append([]string{"run", "all"}, mode.flags...)
			for _, c := range cmds {
				args = append(args, "-c", c)
			}
			r := lab.fleet(t, args...)
			if r.code != 2 {
				t.Fatalf("exit %d, want 2 (step 5 fails)", r.code)
			}
			for i, s := range lab.servers {
				name := lab.names[i]
				for _, want := range []string{
					`\[1\] \| a b$`,
					`\[3\] \| /\S+$`, `\[3\] \| X=$`, `\[3\] \| 0022$`,
					`\[4\] \| stdin-empty$`,
					`\[5\] ! err$`,
					`\[5\] ! exit 3: `,
				} {
					if !regexp.MustCompile(`(?m)^` + name + ` ` + want).MatchString(r.stdout) {
						t.Errorf("%s: no line matching %q", name, want)
					}
				}
				if strings.Contains(r.stdout, "never") {
					t.Errorf("%s: the step after the failure ran", name)
				}
				if got := waitLog(t, s, "Starting session: command", before[i]+mode.sessions) - before[i]; got != mode.sessions {
					t.Errorf("%s: %d sessions started, want %d", name, got, mode.sessions)
				}
			}
		})
	}
}

// A command's timeout reaches the command itself in the long-lived shell,
// and the host's next run still works.
func TestSSHDShellTimeout(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{})
	lab.write(t)
	// t.TempDir's parent is private to root; the login user needs a
	// directory it can reach.
	dir, err := os.MkdirTemp("", "fleet-shell-timeout-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	marker := filepath.Join(dir, "got-term")
	r := lab.fleet(t, "run", "all", "--timeout", "1s",
		"-c", "echo first",
		"-c", "trap 'touch "+marker+"; exit 0' TERM; sleep 60 & wait",
		"-c", "echo never")
	if r.code != 2 || !strings.Contains(r.stdout, "timed out after 1s") || strings.Contains(r.stdout, "never") {
		t.Fatalf("exit %d, want 2 with a timeout and nothing after it", r.code)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the timed-out command never got TERM")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if r := lab.fleet(t, "run", "all", "-c", "echo again", "-c", "echo and again"); r.code != 0 || !strings.Contains(r.stdout, "and again") {
		t.Errorf("the next run: exit %d", r.code)
	}
}

// A forced command (sshd's ForceCommand) never runs fleet's loop: every
// command gets a session of its own and the forced command's answer, as
// with ssh.
func TestSSHDShellForcedCommand(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{Extra: []string{`ForceCommand echo "forced: $SSH_ORIGINAL_COMMAND" | head -c 40`}})
	lab.write(t)
	r := lab.fleet(t, "run", "all", "-c", "echo one", "-c", "echo two")
	if r.code != 0 {
		t.Fatalf("exit %d", r.code)
	}
	for _, want := range []string{`h01 [1] | forced: echo one`, `h01 [2] | forced: echo two`} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("no line %q", want)
		}
	}
	s := lab.servers[0]
	if got := waitLog(t, s, "Starting session: forced-command", 3); got != 3 {
		t.Errorf("%d sessions, want 3 (the loop's, refused, then one per command)", got)
	}
}

// Through the long-lived shell a command prints and ends as it does in a
// session of its own, `bash -c CMD` under real sshd: the same output, the
// shell's messages with the same names and line numbers, the same status.
func TestSSHDShellMatchesSessions(t *testing.T) {
	lab := newSSHDLab(t, 1, sshdtest.Options{})
	lab.write(t)
	for _, c := range []struct {
		cmd    string
		syntax bool // bash says "eval:" where it says "-c:" in a session
	}{
		{cmd: "nonexistent_cmd_x"},
		{cmd: "nonexistent_cmd_x; true"},
		{cmd: `echo "$LINENO"; nonexistent_cmd_x`},
		{cmd: "echo one\necho $LINENO\nnonexistent_cmd_x; exit 5"},
		{cmd: "cd /nonexistent-dir; echo $?"},
		{cmd: "f() { echo in f $LINENO; nonexistent_cmd_x; }; f"},
		{cmd: "break; continue; return 3; echo after"},
		{cmd: `echo "$0" "$#" "$*" "$-"`},
		{cmd: "set | grep -c ^fleet_ || true"}, // one variable, the command's text, is left
		{cmd: "trap 'echo trapped' EXIT; echo body"},
		{cmd: "kill -TERM $$"},
		{cmd: "echo out; echo err >&2; exit 7"},
		{cmd: "if then", syntax: true},
		{cmd: "echo 'unclosed", syntax: true},
	} {
		// One command alone gets a session: the shell is for sequences.
		shell := lab.fleet(t, "run", "all", "-c", "true", "-c", c.cmd)
		session := lab.fleet(t, "run", "all", "--session-per-command", "-c", "true", "-c", c.cmd)
		want := session.stdout
		if c.syntax {
			want = strings.ReplaceAll(want, "bash: -c: line", "bash: eval: line")
		}
		if c.cmd == "set | grep -c ^fleet_ || true" {
			want = strings.Replace(want, "[2] | 0", "[2] | 1", 1)
		}
		// The two streams' lines keep their own order; how they interleave
		// is up to sshd.
		if shell.code != session.code || !sameStreams(shell.stdout, want) {
			t.Errorf("%q:\nthrough the shell, exit %d:\n%s\nin a session, exit %d:\n%s", c.cmd, shell.code, shell.stdout, session.code, session.stdout)
		}
	}
}

// sameStreams reports whether two runs' outputs have the same lines of each
// stream (" | " stdout, " ! " stderr and results), each in the same order.
func sameStreams(a, b string) bool {
	split := func(s string) (out, errs []string) {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, " | ") {
				out = append(out, l)
			} else {
				errs = append(errs, l)
			}
		}
		return out, errs
	}
	ao, ae := split(a)
	bo, be := split(b)
	return slices.Equal(ao, bo) && slices.Equal(ae, be)
}
