// Package labtest starts in-process lab hosts (internal/labhost) for tests,
// with a client key, a known_hosts file and a resolved target per host, so
// that tests of connections and runs begin in one line.
package labtest

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/internal/labhost"
	"fleetrun.dev/fleet/muxconn/target"
)

// Lab is a set of running lab hosts that trust one client key.
type Lab struct {
	Dir        string
	KeyPath    string // the client's private key, unencrypted, mode 0600
	Key        ed25519.PrivateKey
	KnownHosts string // a known_hosts file listing every host
	Hosts      []*labhost.Server
}

// NewKey returns a fresh ed25519 key and its signer.
func NewKey(t testing.TB) (ed25519.PrivateKey, ssh.Signer) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return priv, s
}

// Start starts n hosts on 127.0.0.1 with opts (Addr, HostKey,
// AuthorizedKeys and Home are filled in); they close when the test ends.
func Start(t testing.TB, n int, opts labhost.Options) *Lab {
	t.Helper()
	l := &Lab{Dir: t.TempDir()}
	var client ssh.Signer
	l.Key, client = NewKey(t)
	block, err := ssh.MarshalPrivateKey(l.Key, "")
	if err != nil {
		t.Fatal(err)
	}
	l.KeyPath = filepath.Join(l.Dir, "id_ed25519")
	if err := os.WriteFile(l.KeyPath, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	var kh strings.Builder
	for range n {
		_, hostKey := NewKey(t)
		o := opts
		o.Addr = "127.0.0.1:0"
		o.HostKey = hostKey
		o.AuthorizedKeys = []ssh.PublicKey{client.PublicKey()}
		o.Home = t.TempDir()
		h, err := labhost.Start(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { h.Close() })
		l.Hosts = append(l.Hosts, h)
		kh.WriteString(knownhosts.Line([]string{h.Addr().String()}, hostKey.PublicKey()) + "\n")
	}
	l.KnownHosts = filepath.Join(l.Dir, "known_hosts")
	if err := os.WriteFile(l.KnownHosts, []byte(kh.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return l
}

// Target returns the settings that reach host i (alias "labI") with the
// lab's key and known_hosts, strict host-key checking, and no keepalives.
func (l *Lab) Target(i int) *target.Target {
	a := l.Hosts[i].Addr()
	return &target.Target{
		Alias:                 fmt.Sprintf("lab%d", i),
		HostName:              a.IP.String(),
		Port:                  a.Port,
		User:                  "tester",
		IdentityFiles:         []string{l.KeyPath},
		UserKnownHostsFiles:   []string{l.KnownHosts},
		StrictHostKeyChecking: "yes",
		ConnectTimeout:        10 * time.Second,
		MaxSessions:           10,
	}
}
