//go:build linux

package mux

import (
	"bytes"
	"context"
	"errors"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
)

// TestClientHelpersAgainstOpenSSH runs a real OpenSSH master (ssh -M -N,
// logged in to a lab host) and checks that Check, Status, StopListening and
// Exit speak its protocol.
func TestClientHelpersAgainstOpenSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("ssh is not installed")
	}
	lab := labtest.Start(t, 1, labhost.Options{})
	tg := lab.Target(0)
	path := filepath.Join(shortDir(t), "o")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-M", "-N", "-F", "/dev/null",
		"-S", path, "-o", "ControlPersist=no",
		"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", lab.KeyPath,
		"-o", "UserKnownHostsFile="+lab.KnownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-p", strconv.Itoa(tg.Port), "-l", tg.User, tg.HostName)
	cmd.Env = append(cmd.Environ(), "HOME="+t.TempDir())
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		cancel() // kills ssh if Exit did not stop it
		<-exited
	}()

	var pid int
	waitFor(t, "the OpenSSH master's socket", func() bool {
		select {
		case err := <-exited:
			exited <- err
			t.Fatalf("ssh -M exited early: %v; stderr %q", err, stderr.String())
		default:
		}
		var err error
		pid, err = Check(ctx, path)
		return err == nil
	})
	if pid != cmd.Process.Pid {
		t.Errorf("Check = pid %d, want the ssh master's %d", pid, cmd.Process.Pid)
	}

	_, err := Status(ctx, path)
	var nf *NotFleetError
	if !errors.As(err, &nf) || nf.Reason != "unsupported request" {
		t.Errorf("Status of an OpenSSH master = %v, want a *NotFleetError with reason %q", err, "unsupported request")
	}

	if err := Exit(ctx, path); err != nil {
		t.Errorf("Exit: %v", err)
	}
	select {
	case err := <-exited:
		exited <- err
		// A -N master has no session status to exit with: ssh exits 255.
		var ee *exec.ExitError
		if err != nil && !(errors.As(err, &ee) && ee.ExitCode() == 255) {
			t.Errorf("the OpenSSH master ended with %v after Exit; stderr %q", err, stderr.String())
		}
	case <-time.After(30 * time.Second):
		t.Error("the OpenSSH master is still running 30s after Exit")
	}
}

// TestStopListeningAgainstOpenSSH: after StopListening, an OpenSSH master
// removes its socket.
func TestStopListeningAgainstOpenSSH(t *testing.T) {
	if _, err := exec.LookPath("ssh"); err != nil {
		t.Skip("ssh is not installed")
	}
	lab := labtest.Start(t, 1, labhost.Options{})
	tg := lab.Target(0)
	path := filepath.Join(shortDir(t), "o")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ssh", "-M", "-N", "-F", "/dev/null",
		"-S", path, "-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", lab.KeyPath,
		"-o", "UserKnownHostsFile="+lab.KnownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-p", strconv.Itoa(tg.Port), "-l", tg.User, tg.HostName)
	cmd.Env = append(cmd.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		cmd.Wait()
	}()
	waitFor(t, "the OpenSSH master's socket", func() bool {
		_, err := Check(ctx, path)
		return err == nil
	})
	if err := StopListening(ctx, path); err != nil {
		t.Fatalf("StopListening: %v", err)
	}
	if _, err := Check(ctx, path); err == nil {
		t.Error("the OpenSSH master still answers after StopListening")
	}
}
