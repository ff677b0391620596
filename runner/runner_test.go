package runner_test

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/hostkey"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// recorder is a Sink that keeps every event.
type recorder struct {
	mu    sync.Mutex
	lines map[string][]string
	steps []report.StepResult
	hosts map[string]report.HostResult
}

func newRecorder() *recorder {
	return &recorder{lines: map[string][]string{}, hosts: map[string]report.HostResult{}}
}
func (r *recorder) Line(l report.Line) {
	r.mu.Lock()
	r.lines[l.Host] = append(r.lines[l.Host], string(l.Stream)+":"+l.Text)
	r.mu.Unlock()
}
func (r *recorder) Step(s report.StepResult) {
	r.mu.Lock()
	r.steps = append(r.steps, s)
	r.mu.Unlock()
}
func (r *recorder) Host(h report.HostResult) { r.mu.Lock(); r.hosts[h.Host] = h; r.mu.Unlock() }
func (r *recorder) Close() error             { return nil }

// labHosts starts n in-process hosts and returns them as runner hosts.
func labHosts(t *testing.T, n int) ([]runner.Host, []*labhost.Server) {
	t.Helper()
	l := labtest.Start(t, n, labhost.Options{})
	var hosts []runner.Host
	for i := range n {
		tg := l.Target(i)
		tg.Alias = fmt.Sprintf("h%d", i)
		hosts = append(hosts, runner.Host{Name: tg.Alias, Target: tg})
	}
	return hosts, l.Hosts
}

func newPool(t *testing.T) *muxconn.Pool {
	auth := &muxconn.Auth{}
	p := muxconn.NewPool(muxconn.PoolOptions{Auth: auth, HostKeys: muxconn.KnownHosts{DB: hostkey.NewDB()}})
	t.Cleanup(func() { p.Close(); auth.Close() })
	return p
}

func TestRun(t *testing.T) {
	hosts, servers := labHosts(t, 3)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := *hosts[0].Target
	dead.Alias, dead.Port = "dead", closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	withDead := append(append([]runner.Host(nil), hosts...), runner.Host{Name: "dead", Target: &dead})

	cases := []struct {
		name     string
		hosts    []runner.Host
		opts     runner.Options
		code     int
		ok       int
		lines    []string // every reachable host prints these, in order
		steps    int      // step results reported per reachable host
		errMatch string
	}{
		{name: "sequence", hosts: hosts, opts: runner.Options{Commands: []string{"echo a", "echo b >&2", "echo c"}},
			code: 0, ok: 3, lines: []string{"stdout:a", "stderr:b", "stdout:c"}, steps: 3},
		{name: "stops at first failure", hosts: hosts, opts: runner.Options{Commands: []string{"echo a", "exit 5", "echo never"}},
			code: 2, ok: 0, lines: []string{"stdout:a"}, steps: 2},
		{name: "stdin to every command", hosts: hosts, opts: runner.Options{Commands: []string{"cat", "wc -l"}, Stdin: []byte("x\ny\n")},
			code: 0, ok: 3, lines: []string{"stdout:x", "stdout:y", "stdout:2"}, steps: 2},
		{name: "timeout", hosts: hosts, opts: runner.Options{Commands: []string{"sleep 30"}, Timeout: 100 * time.Millisecond},
			code: 2, ok: 0, steps: 1, errMatch: "timed out after 100ms"},
		{name: "unreachable", hosts: withDead, opts: runner.Options{Commands: []string{"echo a"}, Forks: 2},
			code: 4, ok: 3, lines: []string{"stdout:a"}, steps: 1},
		{name: "failed and unreachable", hosts: withDead, opts: runner.Options{Commands: []string{"false"}},
			code: 6, ok: 0, steps: 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := newRecorder()
			c.opts.Sink = rec
			o := runner.Run(context.Background(), newPool(t), c.hosts, c.opts)
			if got := o.ExitCode(); got != c.code {
				t.Errorf("exit code %d, want %d", got, c.code)
			}
			if len(o.OK) != c.ok {
				t.Errorf("%d ok hosts, want %d", len(o.OK), c.ok)
			}
			for _, h := range hosts {
				if got := rec.lines[h.Name]; strings.Join(got, "|") != strings.Join(c.lines, "|") {
					t.Errorf("%s printed %q, want %q", h.Name, got, c.lines)
				}
				n := 0
				for _, s := range rec.steps {
					if s.Host == h.Name {
						n++
						if c.errMatch != "" && (s.Err == nil || !strings.Contains(s.Err.Error(), c.errMatch)) {
							t.Errorf("%s: step error %v, want %q", h.Name, s.Err, c.errMatch)
						}
					}
				}
				if n != c.steps {
					t.Errorf("%s: %d step results, want %d", h.Name, n, c.steps)
				}
			}
			if len(rec.hosts) != len(c.hosts) {
				t.Errorf("%d host results, want %d", len(rec.hosts), len(c.hosts))
			}
			if r, ok := rec.hosts["dead"]; ok && (r.Status != report.Unreachable || !strings.Contains(r.Err.Error(), "refused")) {
				t.Errorf("dead host: %v %v", r.Status, r.Err)
			}
		})
	}
	for _, s := range servers {
		if st := s.Stats(); st.Connections != int64(len(cases)) {
			t.Errorf("server saw %d connections over %d runs, want one per run", st.Connections, len(cases))
		}
	}
}

func TestRunParallel(t *testing.T) {
	hosts, servers := labHosts(t, 2)
	var cmds []string
	for i := range 25 {
		cmds = append(cmds, fmt.Sprintf("sleep 0.1; echo %d", i))
	}
	rec := newRecorder()
	o := runner.Run(context.Background(), newPool(t), hosts, runner.Options{Commands: cmds, Parallel: true, Sink: rec})
	if o.ExitCode() != 0 {
		t.Fatalf("exit code %d", o.ExitCode())
	}
	for _, h := range hosts {
		if got := len(rec.lines[h.Name]); got != 25 {
			t.Errorf("%s: %d lines, want 25", h.Name, got)
		}
	}
	for _, s := range servers {
		st := s.Stats()
		if st.Connections != 1 || st.MaxConcurrentSessions < 2 {
			t.Errorf("server: %d connections, %d sessions at once; want 1 and several", st.Connections, st.MaxConcurrentSessions)
		}
	}
}

func TestRunInterrupted(t *testing.T) {
	hosts, _ := labHosts(t, 3)
	ctx, cancel := context.WithCancel(context.Background())
	rec := newRecorder()
	done := make(chan *runner.Outcome, 1)
	go func() {
		done <- runner.Run(ctx, newPool(t), hosts, runner.Options{Commands: []string{"sleep 30"}, Sink: rec})
	}()
	time.Sleep(200 * time.Millisecond)
	cancel()
	select {
	case o := <-done:
		if o.ExitCode() != runner.ExitInterrupted {
			t.Errorf("exit code %d, want 130", o.ExitCode())
		}
		if len(o.Failed)+len(o.Unreachable) != 0 {
			t.Errorf("interrupted hosts counted as failed: %+v", o)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestPing(t *testing.T) {
	hosts, _ := labHosts(t, 2)
	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := *hosts[0].Target
	dead.Port = closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	hosts = append(hosts, runner.Host{Name: "dead", Target: &dead})
	var seen []string
	res := runner.Ping(context.Background(), newPool(t), hosts, 0, func(r runner.PingResult) { seen = append(seen, r.Host) })
	if len(res) != 3 || len(seen) != 3 {
		t.Fatalf("%d results, %d callbacks; want 3", len(res), len(seen))
	}
	for _, r := range res {
		switch r.Host {
		case "dead":
			if r.Cause != muxconn.CauseRefused {
				t.Errorf("dead: cause %q, want refused", r.Cause)
			}
		default:
			if r.Err != nil || r.Connect <= 0 || r.Session <= 0 {
				t.Errorf("%s: %+v", r.Host, r)
			}
		}
	}
}
