package runner

import (
	"context"
	"errors"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"fleetrun.dev/fleet/muxconn"
)

// PingResult is one host's answer to Ping.
type PingResult struct {
	Host    string
	Connect time.Duration // TCP, handshake and auth
	Session time.Duration // open a session, run `true`, get its exit status
	Err     error         // nil when the host answered
	Cause   muxconn.Cause // why it is unreachable; "" when Err is nil or a command failed
}

// Ping connects to every host, authenticates and runs `true` in one
// session, at most forks hosts at once. Results are in hosts' order; the
// results of hosts not reached before ctx ended are left out.
func Ping(ctx context.Context, conn Connector, hosts []Host, forks int, done func(PingResult)) []PingResult {
	if forks <= 0 {
		forks = DefaultForks
	}
	results := make([]*PingResult, len(hosts))
	var mu sync.Mutex
	var g errgroup.Group
	g.SetLimit(forks)
	for i, h := range hosts {
		if ctx.Err() != nil {
			break
		}
		g.Go(func() error {
			r, ok := pingHost(ctx, conn, h)
			if !ok {
				return nil
			}
			mu.Lock()
			results[i] = &r
			if done != nil {
				done(r)
			}
			mu.Unlock()
			return nil
		})
	}
	g.Wait()
	var out []PingResult
	for _, r := range results {
		if r != nil {
			out = append(out, *r)
		}
	}
	return out
}

func pingHost(ctx context.Context, conn Connector, h Host) (PingResult, bool) {
	r := PingResult{Host: h.Name}
	start := time.Now()
	m, err := conn.Get(ctx, h.Target)
	if ctx.Err() != nil {
		if m != nil {
			m.Release()
		}
		return r, false
	}
	r.Connect = time.Since(start)
	if err != nil {
		r.Err = err
		r.Cause = causeOf(err)
		return r, true
	}
	defer m.Release()
	r.Connect = m.ConnectTime
	start = time.Now()
	err = m.Run(ctx, muxconn.Command{Cmd: "true"})
	r.Session = time.Since(start)
	if ctx.Err() != nil {
		return r, false
	}
	if err != nil {
		r.Err = err
		r.Cause = causeOf(err)
	}
	return r, true
}

func causeOf(err error) muxconn.Cause {
	var u *muxconn.UnreachableError
	if errors.As(err, &u) {
		return u.Cause
	}
	return ""
}
