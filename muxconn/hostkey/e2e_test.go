package hostkey

import (
	"errors"
	"net"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// handshake runs an SSH handshake between an in-process server and a client
// over loopback TCP and returns the client's error and the host key type its
// callback saw.
func handshake(t *testing.T, server *ssh.ServerConfig, client *ssh.ClientConfig) (seen string, err error) {
	t.Helper()
	// A loopback socket, not net.Pipe: both ends send their version line
	// before reading, which an unbuffered pipe deadlocks on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	cliConn, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	srvConn, err := ln.Accept()
	if err != nil {
		cliConn.Close()
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second) // against hangs only
	cliConn.SetDeadline(deadline)
	srvConn.SetDeadline(deadline)

	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		defer srvConn.Close()
		conn, chans, reqs, err := ssh.NewServerConn(srvConn, server)
		if err != nil {
			return // the client gave up; its error is what the test checks
		}
		wg.Go(func() { ssh.DiscardRequests(reqs) })
		wg.Go(func() {
			for ch := range chans {
				ch.Reject(ssh.Prohibited, "test server")
			}
		})
		conn.Wait()
	})

	inner := client.HostKeyCallback
	cfg := *client
	cfg.HostKeyCallback = func(host string, remote net.Addr, key ssh.PublicKey) error {
		seen = key.Type()
		return inner(host, remote, key)
	}
	c, chans, reqs, err := ssh.NewClientConn(cliConn, "127.0.0.5:2222", &cfg)
	if err != nil {
		cliConn.Close()
		return seen, err
	}
	ssh.NewClient(c, chans, reqs).Close()
	return seen, nil
}

func TestEndToEnd(t *testing.T) {
	rsaHost, ecdsaHost, edHost := newRSA(t), newECDSA(t), newEd25519(t)
	server := &ssh.ServerConfig{NoClientAuth: true}
	server.AddHostKey(rsaHost)
	server.AddHostKey(ecdsaHost)
	server.AddHostKey(edHost)

	known := filepath.Join(t.TempDir(), "known_hosts")
	writeFile(t, known, entry("[127.0.0.5]:2222", edHost.PublicKey()))
	c, err := New(Options{Host: "127.0.0.5", Port: 2222, UserFiles: []string{known}, Strict: "yes"})
	if err != nil {
		t.Fatal(err)
	}

	t.Run("offering the known algorithms connects", func(t *testing.T) {
		seen, err := handshake(t, server, &ssh.ClientConfig{
			User:              "fleet",
			HostKeyCallback:   c.Callback(),
			HostKeyAlgorithms: c.Algorithms(),
		})
		if err != nil {
			t.Fatalf("handshake: %v", err)
		}
		if seen != ssh.KeyAlgoED25519 {
			t.Errorf("server presented %s, want %s", seen, ssh.KeyAlgoED25519)
		}
	})

	t.Run("the library defaults get another key type, which is refused", func(t *testing.T) {
		seen, err := handshake(t, server, &ssh.ClientConfig{
			User:            "fleet",
			HostKeyCallback: c.Callback(),
		})
		if seen == ssh.KeyAlgoED25519 || seen == "" {
			t.Fatalf("server presented %q; the test needs it to prefer another type", seen)
		}
		var e *Error
		if !errors.As(err, &e) || e.Kind != Changed {
			t.Fatalf("handshake = %v, want a Changed *Error", err)
		}
	})
}
