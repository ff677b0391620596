package persist_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/crypto/ssh"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/internal/labtest"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/hostkey"
	"fleetrun.dev/fleet/muxconn/persist"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// A published master outlives a session longer than its persist time,
// then ends once idle for it, removing its socket.
func TestPersistIdle(t *testing.T) {
	l := labtest.Start(t, 1, labhost.Options{})
	pool := muxconn.NewPool(muxconn.PoolOptions{Auth: &muxconn.Auth{}, HostKeys: muxconn.KnownHosts{DB: hostkey.NewDB()}})
	defer pool.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	m, err := pool.Get(ctx, l.Target(0))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Release()
	dir, err := os.MkdirTemp("", "ps")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	sock := filepath.Join(dir, "m.sock")
	p, err := persist.Publish(ctx, "h0", m, sock, persist.Options{Persist: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}

	// A client rides it for longer than the persist time.
	var d net.Dialer
	conn, err := d.DialContext(ctx, "unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	c, chans, reqs, err := ssh.NewControlClientConn(conn)
	if err != nil {
		t.Fatal(err)
	}
	client := ssh.NewClient(c, chans, reqs)
	s, err := client.NewSession()
	if err != nil {
		t.Fatal(err)
	}
	if out, err := s.Output("sleep 1; echo still here"); err != nil || strings.TrimSpace(string(out)) != "still here" {
		t.Errorf("a session longer than persist: %q, %v", out, err)
	}
	if why := p.Why(); why != "" {
		t.Errorf("the master ended under an open session: %s", why)
	}
	client.Close()

	if why := p.Wait(); why != "idle for 300ms" {
		t.Errorf("the master ended because %q, want idle for 300ms", why)
	}
	if _, err := os.Lstat(sock); !os.IsNotExist(err) {
		t.Errorf("the socket is still there: %v", err)
	}
}
