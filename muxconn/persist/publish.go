package persist

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/mux"
)

// Published is one host's master, served on its socket.
type Published struct {
	m    *muxconn.Master
	srv  *mux.Server
	done chan struct{} // closed when it has ended

	mu        sync.Mutex
	why       string        // why it ended, once it has
	finish    chan struct{} // closed to end it now
	listening bool
	stopLis   func()
}

// Options configure Publish.
type Options struct {
	// Persist is how long the master stays with no sessions before it
	// ends; 0 means forever (ControlPersist yes).
	Persist time.Duration
	Logf    func(format string, args ...any)
}

// Publish serves m on path, in the background, until it ends (see the
// package doc) or ctx ends; Wait waits for that. It returns once the socket
// listens. The caller releases m after Wait.
func Publish(ctx context.Context, host string, m *muxconn.Master, path string, opts Options) (*Published, error) {
	if m.ControlPath != "" {
		// Its connection is a proxy client's, which can't serve others.
		return nil, fmt.Errorf("persist: %s rides the master at %s; a master to publish must log in itself (--fresh)", host, m.ControlPath)
	}
	l, err := mux.Listen(path)
	if err != nil {
		return nil, err
	}
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	p := &Published{
		m:    m,
		done: make(chan struct{}), finish: make(chan struct{}), listening: true,
	}
	ours, _ := os.Lstat(path)
	var stopOnce sync.Once
	p.stopLis = func() {
		stopOnce.Do(func() {
			// Unlink first, and only our own socket: once the listener
			// is closed, a client may take the path for stale and a new
			// master may link its own there.
			if fi, err := os.Lstat(path); err == nil && ours != nil && os.SameFile(fi, ours) {
				os.Remove(path)
			}
			l.Close()
		})
	}
	p.srv = &mux.Server{
		Up:          m.Client(),
		Logf:        func(format string, args ...any) { logf(host+": "+format, args...) },
		OnTerminate: func() { p.end("a client asked it to exit") },
		OnStopListening: func() {
			// ssh -O stop: no new clients; it ends when its sessions have.
			p.mu.Lock()
			p.listening = false
			p.mu.Unlock()
			p.stopLis()
		},
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := p.srv.Serve(sctx, l); err != nil && sctx.Err() == nil {
			logf("%s: serving %s: %v", host, path, err)
		}
	}()
	go func() {
		defer close(p.done)
		p.watch(sctx, opts.Persist)
		cancel()
		p.stopLis()
		<-served
		logf("%s: master at %s ended: %s", host, path, p.Why())
	}()
	return p, nil
}

// Wait waits for the master to end and says why it did.
func (p *Published) Wait() string {
	<-p.done
	return p.Why()
}

// Why says why the master ended, or "" while it runs.
func (p *Published) Why() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.why
}

// end ends the master now, for why.
func (p *Published) end(why string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.why == "" {
		p.why = why
		close(p.finish)
	}
}

// watch returns when the master should end: asked to, its connection
// gone, or ctx. Idle for persist, or told to stop listening, it first stops
// taking clients, then ends once every client connected has gone, so none
// is cut off between connecting and opening its session.
func (p *Published) watch(ctx context.Context, persist time.Duration) {
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	idleWhy := ""
	for {
		select {
		case <-ctx.Done():
			p.end("fleet was told to stop")
			return
		case <-p.finish:
			return
		case <-p.m.Done():
			p.end("its connection is gone")
			return
		case <-tick.C:
		}
		p.mu.Lock()
		listening := p.listening
		p.mu.Unlock()
		switch {
		case listening && persist > 0 && p.srv.Active() == 0 && time.Since(p.srv.LastActive()) >= persist:
			idleWhy = fmt.Sprintf("idle for %s", persist)
			p.mu.Lock()
			p.listening = false
			p.mu.Unlock()
			p.stopLis()
		case !listening && p.srv.Conns() == 0:
			if idleWhy == "" {
				idleWhy = "it stopped listening, and its sessions ended"
			}
			p.end(idleWhy)
			return
		}
	}
}
