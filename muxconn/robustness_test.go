package muxconn_test

// Robustness tests: frozen hosts and jump hosts, cancelled dials, refused
// opens and dying connections. Each once failed; the timeouts are generous
// and only guard against hangs.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/target"
)

// waitFor polls cond until it holds or d passes; it orders test steps and
// is never itself an assertion about timing.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Run returns soon after ctx ends even when the host is frozen and will
// never close the channel, with keepalives off.
func TestCancelOnFrozenHostReturnsPromptly(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	tg := l.target(0) // ServerAliveInterval 0, as ssh's default
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(cctx, muxconn.Command{Cmd: "sleep 30"}) }()
	waitFor(t, 10*time.Second, "the command to start", func() bool { return l.Hosts[0].Stats().ExecCount == 1 })

	l.Hosts[0].SetStalled(true)
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
		l.Hosts[0].SetStalled(false)
		return
	case <-time.After(5 * time.Second):
		t.Errorf("Run ignored the cancelled context for 5s on a frozen host")
	}
	l.Hosts[0].SetStalled(false) // lets the close round trip finish
	select {
	case <-errc:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return even after the host thawed")
	}
}

// A target behind a frozen jump host is declared lost by its keepalives:
// closing a forwarded connection must unblock its reads locally, since the
// jump host will never answer the channel close.
func TestKeepaliveThroughFrozenJumpHost(t *testing.T) {
	l := newLab(t, 2, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	tg := l.target(1)
	tg.ProxyJump = []*target.Target{l.target(0)}
	tg.ServerAliveInterval = 100 * time.Millisecond
	tg.ServerAliveCountMax = 3
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	errc := make(chan error, 1)
	go func() { errc <- m.Run(ctx, muxconn.Command{Cmd: "sleep 30"}) }()
	waitFor(t, 10*time.Second, "the command to start", func() bool { return l.Hosts[1].Stats().ExecCount == 1 })

	l.Hosts[0].SetStalled(true) // the jump host, or the network to it, freezes
	select {
	case err := <-errc:
		var u *muxconn.UnreachableError
		if !errors.As(err, &u) || u.Cause != muxconn.CauseLost {
			t.Errorf("err = %v, want the connection lost", err)
		}
		l.Hosts[0].SetStalled(false)
		return
	case <-time.After(10 * time.Second):
		t.Errorf("keepalive 100ms×3 did not declare the host lost within 10s of its jump host freezing")
	}
	l.Hosts[0].SetStalled(false)
	select {
	case <-errc:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return even after the jump host thawed")
	}
}

// Callers sharing one dial don't inherit the dialer's cancellation: when
// the caller that started the dial gives up, the others dial again.
func TestSharedDialSurvivesAnotherCallersCancel(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	l.Hosts[0].SetStalled(true) // the handshake waits until thawed
	defer l.Hosts[0].SetStalled(false)

	actx, cancelA := context.WithCancel(ctx)
	defer cancelA()
	aErr := make(chan error, 1)
	go func() {
		m, err := p.Get(actx, l.target(0))
		if m != nil {
			m.Release()
		}
		aErr <- err
	}()
	waitFor(t, 10*time.Second, "the first dial to connect", func() bool { return l.Hosts[0].Stats().Connections == 1 })

	type got struct {
		m   *muxconn.Master
		err error
	}
	bRes := make(chan got, 1)
	go func() {
		m, err := p.Get(ctx, l.target(0))
		bRes <- got{m, err}
	}()
	time.Sleep(200 * time.Millisecond) // let B join A's dial (ordering only)
	cancelA()
	select {
	case <-aErr:
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled Get did not return")
	}
	l.Hosts[0].SetStalled(false)
	select {
	case r := <-bRes:
		if r.err != nil {
			t.Errorf("Get with a live context failed with %v because another caller was cancelled", r.err)
		} else {
			r.m.Release()
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the second Get hung")
	}
}

// The gate's limit never drops below what the server has accepted at once,
// though the server frees a closed session's slot a moment after the
// client counts it free, and a quick re-open is refused.
func TestGateLimitDoesNotRatchetBelowServerLimit(t *testing.T) {
	l := newLab(t, 1, labhost.Options{MaxSessions: 3})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	tg := l.target(0)
	tg.MaxSessions = 10
	m, err := p.Get(ctx, tg)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	for round := range 3 {
		var wg sync.WaitGroup
		for i := range 12 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := m.Run(ctx, muxconn.Command{Cmd: fmt.Sprintf("echo %d", i)}); err != nil {
					t.Errorf("round %d command %d: %v", round, i, err)
				}
			}()
		}
		wg.Wait()
	}
	if got := m.Gate().Limit(); got < 3 {
		t.Errorf("gate limit %d after refusals, below the server's MaxSessions 3 (refused %d)", got, l.Hosts[0].Stats().SessionsRefused)
	}
}

// A connection that dies while a session is being opened makes the host
// unreachable, not a failed command: x/crypto fails the open a moment
// before the master sees the connection gone.
func TestOpenOnDyingConnectionIsUnreachable(t *testing.T) {
	l := newLab(t, 1, labhost.Options{})
	p := l.pool(t, nil)
	ctx := testCtx(t)
	misclassified := 0
	const rounds = 20
	for range rounds {
		m, err := p.Get(ctx, l.target(0))
		if err != nil {
			t.Fatal(err)
		}
		l.Hosts[0].SetStalled(true)
		errc := make(chan error, 1)
		go func() { errc <- m.Run(ctx, muxconn.Command{Cmd: "true"}) }()
		time.Sleep(50 * time.Millisecond) // let the open reach the wire (ordering only)
		l.Hosts[0].KillConnections()
		l.Hosts[0].SetStalled(false)
		select {
		case err := <-errc:
			if !muxconn.IsUnreachable(err) {
				misclassified++
				t.Logf("connection killed during the open: err = %v (%T)", err, err)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("Run hung")
		}
		m.Release()
	}
	if misclassified > 0 {
		t.Errorf("%d of %d opens on a dying connection were not reported unreachable", misclassified, rounds)
	}
}
