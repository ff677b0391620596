package muxconn_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"fleetrun.dev/fleet/internal/sshdtest"
	"fleetrun.dev/fleet/muxconn"
	"fleetrun.dev/fleet/muxconn/target"
)

// serveAgent serves an agent holding keys (private keys), in that order,
// on a socket in dir, until the test ends; see muxconn.ServeAgentKeys.
func serveAgent(t *testing.T, dir string, keys ...any) string {
	t.Helper()
	added := make([]agent.AddedKey, len(keys))
	for i, k := range keys {
		added[i] = agent.AddedKey{PrivateKey: k}
	}
	return muxconn.ServeAgentKeys(t, dir, added)
}

// wrongKeys returns n keys sshd won't accept.
func wrongKeys(t *testing.T, n int) []any {
	var keys []any
	for range n {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	return keys
}

// clientKey returns sshdtest's client private key, which every server
// accepts.
func clientKey(t *testing.T) ed25519.PrivateKey {
	data, err := os.ReadFile(sshdtest.ClientKeyPath())
	if err != nil {
		t.Fatal(err)
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		t.Fatal(err)
	}
	return *raw.(*ed25519.PrivateKey)
}

// loginSSHD connects to tg with auth and runs true there.
func loginSSHD(t *testing.T, auth *muxconn.Auth, tg *target.Target) error {
	t.Helper()
	p := newPool(t, auth)
	ctx := testCtx(t)
	m, err := p.Get(ctx, tg)
	if err != nil {
		return err
	}
	defer m.Release()
	return m.Run(ctx, muxconn.Command{Cmd: "true"})
}

// The tester's case: seven keys in the agent before the right one, which
// is also the IdentityFile. sshd disconnects after MaxAuthTries refused
// keys ("Too many authentication failures"); ssh, and now fleet, offer
// the agent key an IdentityFile names first.
func TestSSHDAuthManyAgentKeys(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{Extra: []string{"MaxAuthTries 6"}})
	for _, identitiesOnly := range []bool{false, true} {
		t.Run(map[bool]string{false: "all agent keys", true: "IdentitiesOnly"}[identitiesOnly], func(t *testing.T) {
			sock := serveAgent(t, t.TempDir(), append(wrongKeys(t, 7), clientKey(t))...)
			tg := sshdTarget(t, srv)
			tg.IdentityAgent = sock
			tg.IdentitiesOnly = identitiesOnly
			if err := loginSSHD(t, &muxconn.Auth{}, tg); err != nil {
				t.Fatalf("login with the right key last of 8 in the agent: %v", err)
			}
		})
	}
}

// failPrompt fails the test when a passphrase is asked.
type failPrompt struct{ t *testing.T }

func (p failPrompt) Secret(string) (string, error) {
	p.t.Error("a passphrase was asked for a key the agent holds")
	return "", os.ErrPermission
}

// With the key in the agent, the IdentityFile only has to name it: by its
// .pub, by a private key path that is gone but for its .pub (1Password,
// keys on hardware tokens), or by an encrypted private key, whose
// passphrase ssh never asks then.
func TestSSHDAuthAgentKeyNamedByFile(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	right := clientKey(t)
	pub, err := ssh.NewPublicKey(right.Public())
	if err != nil {
		t.Fatal(err)
	}
	authorized := ssh.MarshalAuthorizedKey(pub)
	encrypted, err := ssh.MarshalPrivateKeyWithPassphrase(right, "", []byte("secret passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		files map[string][]byte // written in a fresh directory
		file  string            // the IdentityFile, in that directory
	}{
		{".pub", map[string][]byte{"id.pub": authorized}, "id.pub"},
		{"missing private key, .pub beside", map[string][]byte{"id.pub": authorized}, "id"},
		{"encrypted private key and .pub", map[string][]byte{"id": pem.EncodeToMemory(encrypted), "id.pub": authorized}, "id"},
		{"encrypted private key", map[string][]byte{"id": pem.EncodeToMemory(encrypted)}, "id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range tt.files {
				if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			sock := serveAgent(t, dir, append(wrongKeys(t, 2), right)...)
			tg := sshdTarget(t, srv)
			tg.IdentityFiles = []string{filepath.Join(dir, tt.file)}
			tg.IdentityAgent = sock
			tg.IdentitiesOnly = true
			if err := loginSSHD(t, &muxconn.Auth{Prompt: failPrompt{t}}, tg); err != nil {
				t.Errorf("login: %v", err)
			}
		})
	}
}

// slowPrompt answers with its passphrase after a pause, as a person types.
type slowPrompt struct {
	pause time.Duration
	pass  string
	asked *atomic.Int32
}

func (p slowPrompt) Secret(string) (string, error) {
	p.asked.Add(1)
	time.Sleep(p.pause)
	return p.pass, nil
}

// A passphrase is asked during auth now, after the host key check; the
// time the user takes to type it does not count against ConnectTimeout.
func TestSSHDPassphraseOutlastsConnectTimeout(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{})
	encrypted, err := ssh.MarshalPrivateKeyWithPassphrase(clientKey(t), "", []byte("secret passphrase"))
	if err != nil {
		t.Fatal(err)
	}
	key := filepath.Join(t.TempDir(), "id")
	if err := os.WriteFile(key, pem.EncodeToMemory(encrypted), 0o600); err != nil {
		t.Fatal(err)
	}
	tg := sshdTarget(t, srv)
	tg.IdentityFiles = []string{key}
	tg.IdentitiesOnly = true
	tg.ConnectTimeout = 300 * time.Millisecond
	var asked atomic.Int32
	if err := loginSSHD(t, &muxconn.Auth{Prompt: slowPrompt{pause: 3 * tg.ConnectTimeout, pass: "secret passphrase", asked: &asked}}, tg); err != nil {
		t.Errorf("login with a passphrase typed in 3× ConnectTimeout: %v", err)
	}
	if n := asked.Load(); n != 1 {
		t.Errorf("the passphrase was asked %d times, want 1", n)
	}
}

// When sshd hangs up after MaxAuthTries refused keys, the host failed
// authentication, and the hint says how to offer the right key only.
func TestSSHDTooManyAuthFailures(t *testing.T) {
	srv := sshdtest.Start(t, sshdtest.Options{Extra: []string{"MaxAuthTries 2"}})
	tg := sshdTarget(t, srv)
	tg.IdentityFiles = nil
	tg.IdentityAgent = serveAgent(t, t.TempDir(), wrongKeys(t, 4)...)
	err := loginSSHD(t, &muxconn.Auth{}, tg)
	var u *muxconn.UnreachableError
	if !errors.As(err, &u) || u.Cause != muxconn.CauseAuth {
		t.Fatalf("login with 4 wrong keys against MaxAuthTries 2: %v, want an auth failure", err)
	}
	if !strings.Contains(u.Reason(), "Too many authentication failures") || !strings.Contains(u.HintText(), "IdentitiesOnly yes") {
		t.Errorf("reason %q, hint %q", u.Reason(), u.HintText())
	}
}

// A user certificate beside an IdentityFile (path-cert.pub) is offered
// with its key, as ssh does, from the file or from the agent: here sshd
// trusts a CA and no authorized_keys at all.
func TestSSHDUserCertificate(t *testing.T) {
	caPub, caPriv, _ := ed25519.GenerateKey(rand.Reader)
	ca, err := ssh.NewSignerFromKey(caPriv)
	if err != nil {
		t.Fatal(err)
	}
	sshCAPub, _ := ssh.NewPublicKey(caPub)
	dir := t.TempDir()
	caFile := filepath.Join(dir, "ca.pub")
	if err := os.WriteFile(caFile, ssh.MarshalAuthorizedKey(sshCAPub), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	srv := sshdtest.Start(t, sshdtest.Options{Extra: []string{"TrustedUserCAKeys " + caFile, "Match all", "AuthorizedKeysFile none"}})

	userPub, userPriv, _ := ed25519.GenerateKey(rand.Reader)
	key, _ := ssh.NewPublicKey(userPub)
	cert := &ssh.Certificate{
		Key: key, CertType: ssh.UserCert, KeyId: "fleet-test",
		ValidPrincipals: []string{srv.User()},
		ValidAfter:      uint64(time.Now().Add(-time.Hour).Unix()),
		ValidBefore:     uint64(time.Now().Add(time.Hour).Unix()),
		Permissions:     ssh.Permissions{Extensions: map[string]string{"permit-pty": ""}},
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	privPEM, err := ssh.MarshalPrivateKey(userPriv, "")
	if err != nil {
		t.Fatal(err)
	}

	for _, c := range []struct {
		name     string
		files    map[string][]byte
		file     string
		agent    bool
		withCert bool
	}{
		{"key file and certificate", map[string][]byte{"id": pem.EncodeToMemory(privPEM)}, "id", false, true},
		{"agent key, certificate beside its .pub", map[string][]byte{"id.pub": ssh.MarshalAuthorizedKey(key)}, "id.pub", true, true},
		{"no certificate", map[string][]byte{"id": pem.EncodeToMemory(privPEM)}, "id", false, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := t.TempDir()
			for name, data := range c.files {
				if err := os.WriteFile(filepath.Join(d, name), data, 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if c.withCert {
				if err := os.WriteFile(filepath.Join(d, "id-cert.pub"), ssh.MarshalAuthorizedKey(cert), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			tg := sshdTarget(t, srv)
			tg.IdentityFiles = []string{filepath.Join(d, c.file)}
			tg.IdentitiesOnly = true
			tg.IdentityAgent = ""
			if c.agent {
				tg.IdentityAgent = serveAgent(t, d, userPriv)
			}
			err := loginSSHD(t, &muxconn.Auth{}, tg)
			if c.withCert && err != nil {
				t.Errorf("login with the certificate: %v", err)
			}
			if !c.withCert && err == nil {
				t.Error("login without the certificate worked: sshd trusts more than the CA")
			}
		})
	}
}
