//go:build unix

package muxconn

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// The command that stops an abandoned command's process group works under
// every login shell sshd may run it with: dash's and busybox's kill took
// no "--", and the group went on running. It runs here as sshd runs it,
// `$SHELL -c CMD`, against a real process group.
func TestKillGroupCommandUnderLoginShells(t *testing.T) {
	bin := t.TempDir()
	if bb, err := exec.LookPath("busybox"); err == nil {
		if err := os.Symlink(bb, filepath.Join(bin, "sh")); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct{ name, path string }{
		{"bash", "/bin/bash"}, {"dash", "/bin/dash"}, {"zsh", "zsh"}, {"mksh", "mksh"},
		{"busybox", filepath.Join(bin, "sh")}, {"tcsh", "tcsh"},
	} {
		t.Run(c.name, func(t *testing.T) {
			shell, err := exec.LookPath(c.path)
			if err != nil {
				if os.Getenv("FLEET_REQUIRE_SSHD") == "1" && c.name != "busybox" {
					t.Fatalf("%s is not installed (.ci/run installs it)", c.name)
				}
				t.Skipf("%s is not installed", c.name)
			}
			// A group: a shell that waits for a child of its own.
			g := exec.Command("/bin/sh", "-c", "sleep 60 & wait")
			g.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
			if err := g.Start(); err != nil {
				t.Fatal(err)
			}
			var waitErr error
			exited := make(chan struct{})
			go func() {
				waitErr = g.Wait()
				close(exited)
			}()
			defer func() {
				syscall.Kill(-g.Process.Pid, syscall.SIGKILL)
				<-exited
			}()
			// The child is in the group once the shell has forked it.
			deadline := time.Now().Add(10 * time.Second)
			for groupSize(g.Process.Pid) < 2 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if n := groupSize(g.Process.Pid); n < 2 {
				t.Fatalf("the group has %d processes, want 2", n)
			}

			if out, err := exec.Command(shell, "-c", killGroupCommand(g.Process.Pid)).CombinedOutput(); err != nil {
				t.Fatalf("%s -c %q: %v\n%s", shell, killGroupCommand(g.Process.Pid), err, out)
			}
			select {
			case <-exited:
				var exit *exec.ExitError
				if !errors.As(waitErr, &exit) || exit.Sys().(syscall.WaitStatus).Signal() != syscall.SIGTERM {
					t.Errorf("the group's leader ended with %v, want TERM", waitErr)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the group's leader is still running 10s after the kill")
			}
			for deadline := time.Now().Add(10 * time.Second); groupSize(g.Process.Pid) > 0; time.Sleep(5 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("%d processes of the group are still running", groupSize(g.Process.Pid))
				}
			}
		})
	}
}

// groupSize counts the live processes in process group pgid.
func groupSize(pgid int) int {
	ents, _ := os.ReadDir("/proc")
	n := 0
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...: comm may hold spaces; skip past ')'.
		i := len(b) - 1
		for i > 0 && b[i] != ')' {
			i--
		}
		var state string
		var ppid, pgrp int
		if _, err := fmt.Sscan(string(b[i+1:]), &state, &ppid, &pgrp); err != nil {
			continue
		}
		if pgrp == pgid && state != "Z" {
			n++
		}
	}
	return n
}
