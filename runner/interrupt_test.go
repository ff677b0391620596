package runner_test

// Interrupting a run while a host is frozen. Timeouts are generous and only
// guard against hangs.

import (
	"context"
	"testing"
	"time"

	"fleetrun.dev/fleet/runner"
)

// Ctrl-C stops a run promptly even while one host is frozen and will never
// close its channel, with keepalives off.
func TestInterruptWithFrozenHost(t *testing.T) {
	hosts, servers := labHosts(t, 2) // keepalives off, as ssh's default
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan *runner.Outcome, 1)
	go func() {
		done <- runner.Run(ctx, newPool(t), hosts, runner.Options{Commands: []string{"sleep 30"}, Sink: newRecorder()})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for servers[0].Stats().ExecCount+servers[1].Stats().ExecCount < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the commands did not start")
		}
		time.Sleep(10 * time.Millisecond)
	}
	servers[0].SetStalled(true)
	cancel()
	select {
	case o := <-done:
		if o.ExitCode() != runner.ExitInterrupted {
			t.Errorf("exit code %d, want 130", o.ExitCode())
		}
		servers[0].SetStalled(false)
		return
	case <-time.After(5 * time.Second):
		t.Errorf("Run did not return within 5s of the interrupt while a host was frozen")
	}
	servers[0].SetStalled(false)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return even after the host thawed")
	}
}
