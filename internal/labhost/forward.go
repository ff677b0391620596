package labhost

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"
)

// forwardDialTimeout bounds how long a direct-tcpip open waits for the
// destination, so a client's channel open never hangs.
const forwardDialTimeout = 10 * time.Second

// openForward handles a "direct-tcpip" channel (what `ssh -J` and
// ProxyJump ask a jump host for). Only loopback destinations are allowed, so
// a lab host can never be used to reach beyond the machine it runs on.
func (s *Server) openForward(nch ssh.NewChannel, wg *sync.WaitGroup) {
	var p struct {
		Host       string
		Port       uint32
		OriginHost string
		OriginPort uint32
	}
	if err := ssh.Unmarshal(nch.ExtraData(), &p); err != nil {
		nch.Reject(ssh.ConnectionFailed, "malformed direct-tcpip request")
		return
	}
	if !isLoopback(p.Host) {
		nch.Reject(ssh.Prohibited, fmt.Sprintf("labhost forwards only to loopback addresses, not %q", p.Host))
		return
	}
	addr := net.JoinHostPort(p.Host, strconv.FormatUint(uint64(p.Port), 10))
	ctx, cancel := context.WithTimeout(s.ctx, forwardDialTimeout)
	var d net.Dialer
	tc, err := d.DialContext(ctx, "tcp", addr)
	cancel()
	if err != nil {
		nch.Reject(ssh.ConnectionFailed, fmt.Sprintf("connect to %s: %v", addr, err))
		return
	}
	s.forwards.Add(1)
	ch, reqs, err := nch.Accept()
	if err != nil {
		s.forwards.Add(-1)
		tc.Close()
		return
	}
	wg.Go(func() { pipe(ch, reqs, tc.(*net.TCPConn)) })
}

// pipe copies both ways between a channel and a TCP connection, passing on
// half-closes, until both directions are done or the channel goes away.
func pipe(ch ssh.Channel, reqs <-chan *ssh.Request, tc *net.TCPConn) {
	var copies sync.WaitGroup
	var left atomic.Int32
	left.Store(2)
	finish := func() {
		if left.Add(-1) == 0 {
			ch.Close()
		}
	}
	copies.Go(func() {
		copyData(tc, ch)
		tc.CloseWrite()
		finish()
	})
	copies.Go(func() {
		copyData(ch, tc)
		ch.CloseWrite()
		finish()
	})
	ssh.DiscardRequests(reqs)
	// The channel is closed (by us after both directions ended, by the
	// client, or with the connection): stop any copy still blocked.
	tc.Close()
	ch.Close()
	copies.Wait()
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
