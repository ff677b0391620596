package muxconn

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"fleetrun.dev/fleet/muxconn/target"
)

// These tests log in over loopback to an in-process server that records, in
// order, the keys offered and the passphrases asked, so they show what ssh
// users expect: which keys go first, which come through the agent, and that
// a passphrase is asked only when its key is about to sign.

// authLab holds named keys, an agent and a directory of identity files.
type authLab struct {
	t    *testing.T
	dir  string
	keys map[string]ed25519.PrivateKey
	name map[string]string // marshalled public key → key name

	mu     sync.Mutex
	events []string // "offer k", "prompt path"
}

func newAuthLab(t *testing.T, names ...string) *authLab {
	l := &authLab{t: t, dir: t.TempDir(), keys: map[string]ed25519.PrivateKey{}, name: map[string]string{}}
	for _, n := range names {
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		l.keys[n] = priv
		l.name[string(l.pub(n).Marshal())] = n
	}
	return l
}

func (l *authLab) pub(name string) ssh.PublicKey {
	pub, err := ssh.NewPublicKey(l.keys[name].Public())
	if err != nil {
		l.t.Fatal(err)
	}
	return pub
}

func (l *authLab) event(e string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

func (l *authLab) takeEvents() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.events
	l.events = nil
	return e
}

// writeKey writes key name's private key to file (in OpenSSH's format,
// encrypted when passphrase isn't empty), and file.pub when withPub.
func (l *authLab) writeKey(name, file, passphrase string, withPub bool) string {
	l.t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(l.keys[name], "")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(l.keys[name], "", []byte(passphrase))
	}
	if err != nil {
		l.t.Fatal(err)
	}
	path := filepath.Join(l.dir, file)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		l.t.Fatal(err)
	}
	if withPub {
		l.writePub(name, file+".pub")
	}
	return path
}

// writePub writes key name's public key to file.
func (l *authLab) writePub(name, file string) string {
	l.t.Helper()
	path := filepath.Join(l.dir, file)
	if err := os.WriteFile(path, ssh.MarshalAuthorizedKey(l.pub(name)), 0o644); err != nil {
		l.t.Fatal(err)
	}
	return path
}

// agent serves a keyring holding the named keys, in that order, and
// returns its socket.
func (l *authLab) agent(names ...string) string {
	l.t.Helper()
	var keys []agent.AddedKey
	for _, n := range names {
		keys = append(keys, agent.AddedKey{PrivateKey: l.keys[n], Comment: n})
	}
	return serveAgentKeys(l.t, l.dir, keys)
}

// serveAgentKeys serves an agent holding keys, in that order, on a socket
// in dir, until the test ends. Cleanups run last-in first-out: register it
// before the Auth that dials it, so that the Auth closes its connection
// first.
func serveAgentKeys(t *testing.T, dir string, keys []agent.AddedKey) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(k); err != nil {
			t.Fatal(err)
		}
	}
	sock := filepath.Join(dir, "agent.sock")
	ln, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer c.Close()
				agent.ServeAgent(keyring, c)
			})
		}
	})
	t.Cleanup(func() {
		ln.Close()
		wg.Wait()
	})
	return sock
}

// labPrompter answers every prompt with answer, recording the prompt (with
// the lab's directory left out), never the answer.
type labPrompter struct {
	l      *authLab
	answer string
}

func (p labPrompter) Secret(prompt string) (string, error) {
	p.l.event("prompt " + strings.ReplaceAll(prompt, p.l.dir+string(filepath.Separator), ""))
	return p.answer, nil
}

func (l *authLab) newAuth(p Prompter) *Auth {
	a := &Auth{Prompt: p}
	l.t.Cleanup(func() { a.Close() })
	return a
}

// login authenticates a with tg's keys to a server that accepts the keys
// named in accept and hangs up after maxTries refusals, as sshd's
// MaxAuthTries (-1: never). hostKeyOK false makes the client reject the
// host key. It returns methods' skipped.
func (l *authLab) login(a *Auth, tg *target.Target, accept []string, maxTries int, hostKeyOK bool) (skipped []string, err error) {
	l.t.Helper()
	_, hostPriv, _ := ed25519.GenerateKey(rand.Reader)
	hostSigner, err := ssh.NewSignerFromKey(hostPriv)
	if err != nil {
		l.t.Fatal(err)
	}
	cfg := &ssh.ServerConfig{
		MaxAuthTries: maxTries,
		PublicKeyCallback: func(_ ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			n := l.name[string(key.Marshal())]
			l.event("offer " + n)
			if slices.Contains(accept, n) {
				return nil, nil
			}
			return nil, errors.New("not this key")
		},
	}
	cfg.AddHostKey(hostSigner)
	// Not net.Pipe: both ends send their version at once, which an
	// unbuffered pipe deadlocks on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		l.t.Fatal(err)
	}
	defer ln.Close()
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		sc, err := ln.Accept()
		if err != nil {
			return
		}
		defer sc.Close()
		conn, chans, reqs, err := ssh.NewServerConn(sc, cfg)
		if err != nil {
			return
		}
		conn.Close()
		wg.Go(func() { ssh.DiscardRequests(reqs) })
		for nc := range chans {
			nc.Reject(ssh.Prohibited, "test server")
		}
	})
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		l.t.Fatal(err)
	}
	defer cc.Close()
	methods, skipped := a.methods(tg, nil, nil)
	hostKeys := ssh.InsecureIgnoreHostKey()
	if !hostKeyOK {
		hostKeys = func(string, net.Addr, ssh.PublicKey) error { return errors.New("host key not known") }
	}
	c, chans, reqs, err := ssh.NewClientConn(cc, ln.Addr().String(), &ssh.ClientConfig{User: "u", Auth: methods, HostKeyCallback: hostKeys})
	if err != nil {
		return skipped, err
	}
	ssh.NewClient(c, chans, reqs).Close() // the server may have hung up first
	return skipped, nil
}

// keyNames returns w1 … wn, keys no server accepts.
func keyNames(n int) []string {
	var names []string
	for i := 1; i <= n; i++ {
		names = append(names, "w"+strconv.Itoa(i))
	}
	return names
}

// offered returns the events of the server being offered keys, in order.
func offered(keys ...string) []string {
	var out []string
	for _, k := range keys {
		out = append(out, "offer "+k)
	}
	return out
}

// The key order is ssh's (sshconnect2.c, pubkey_prepare): the agent's keys
// an IdentityFile names, the agent's other keys unless IdentitiesOnly, then
// the files the agent lacks. An agent of many keys with the right one last
// must not exhaust the server's MaxAuthTries ("Too many authentication
// failures").
func TestAuthKeyOrder(t *testing.T) {
	wrong := keyNames(7)
	tests := []struct {
		name           string
		agent          []string
		files          []string // key names, written unencrypted without .pub
		identitiesOnly bool
		accept         []string
		want           []string // offered keys, in order
	}{
		{
			name:   "right key last in a big agent",
			agent:  append(slices.Clone(wrong), "right"),
			files:  []string{"right"},
			accept: []string{"right"},
			want:   offered("right"),
		},
		{
			name:           "right key last in a big agent, IdentitiesOnly",
			agent:          append(slices.Clone(wrong), "right"),
			files:          []string{"right"},
			identitiesOnly: true,
			accept:         []string{"right"},
			want:           offered("right"),
		},
		{
			name:  "agent keys named by files, other agent keys, then files",
			agent: []string{"a1", "f2", "a2", "f1"},
			files: []string{"f0", "f1", "f2", "f3"},
			want:  offered("f2", "f1", "a1", "a2", "f0", "f3"),
		},
		{
			name:           "IdentitiesOnly drops the agent's other keys",
			agent:          []string{"a1", "f2", "a2", "f1"},
			files:          []string{"f0", "f1", "f2", "f3"},
			identitiesOnly: true,
			want:           offered("f2", "f1", "f0", "f3"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newAuthLab(t, append(slices.Clone(wrong), "right", "a1", "a2", "f0", "f1", "f2", "f3")...)
			tg := &target.Target{IdentityAgent: l.agent(tt.agent...), IdentitiesOnly: tt.identitiesOnly}
			for _, f := range tt.files {
				tg.IdentityFiles = append(tg.IdentityFiles, l.writeKey(f, "id_"+f, "", false))
			}
			_, err := l.login(l.newAuth(nil), tg, tt.accept, -1, true)
			if (err == nil) != (len(tt.accept) > 0) {
				t.Errorf("login: %v", err)
			}
			if got := l.takeEvents(); !slices.Equal(got, tt.want) {
				t.Errorf("offered %q, want %q", got, tt.want)
			}
		})
	}

	// The tester's case against sshd's default MaxAuthTries 6 (x/crypto's
	// server counts refused keys as sshd does).
	t.Run("MaxAuthTries 6", func(t *testing.T) {
		l := newAuthLab(t, append(slices.Clone(wrong), "right")...)
		tg := &target.Target{IdentityAgent: l.agent(append(slices.Clone(wrong), "right")...), IdentityFiles: []string{l.writeKey("right", "id_ed25519", "", false)}}
		if _, err := l.login(l.newAuth(nil), tg, []string{"right"}, 6, true); err != nil {
			t.Errorf("login with 7 wrong keys before the right one in the agent: %v", err)
		}
	})
}

// An IdentityFile naming a public key, or a missing private key with its
// .pub beside it, selects the agent's key as with ssh, even with
// IdentitiesOnly (1Password's agent, keys on hardware tokens).
func TestAuthPublicKeyFiles(t *testing.T) {
	tests := []struct {
		name        string
		file        func(l *authLab) string
		wantSkipped string // in skipped when the agent lacks the key
	}{
		{"IdentityFile is a .pub", func(l *authLab) string { return l.writePub("right", "id_right.pub") }, "is a public key"},
		{"private key missing, .pub beside", func(l *authLab) string {
			l.writePub("right", "id_right.pub")
			return filepath.Join(l.dir, "id_right")
		}, "does not exist (only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := newAuthLab(t, "w1", "w2", "right")
			tg := &target.Target{IdentityAgent: l.agent("w1", "right", "w2"), IdentitiesOnly: true, IdentityFiles: []string{tt.file(l)}}
			skipped, err := l.login(l.newAuth(nil), tg, []string{"right"}, 6, true)
			if err != nil {
				t.Errorf("login: %v", err)
			}
			if got, want := l.takeEvents(), offered("right"); !slices.Equal(got, want) {
				t.Errorf("offered %q, want %q", got, want)
			}
			if len(skipped) > 0 {
				t.Errorf("skipped %q, want nothing", skipped)
			}
		})
		t.Run(tt.name+", not in the agent", func(t *testing.T) {
			l := newAuthLab(t, "w1", "right")
			tg := &target.Target{IdentityAgent: l.agent("w1"), IdentitiesOnly: true, IdentityFiles: []string{tt.file(l)}}
			skipped, err := l.login(l.newAuth(nil), tg, []string{"right"}, 6, true)
			if err == nil {
				t.Error("login succeeded with no private key")
			}
			if got := l.takeEvents(); len(got) > 0 {
				t.Errorf("offered %q, want nothing", got)
			}
			if len(skipped) != 1 || !strings.Contains(skipped[0], tt.wantSkipped) {
				t.Errorf("skipped %q, want it to say %q", skipped, tt.wantSkipped)
			}
		})
	}
}

// A passphrase is asked only for a key the agent lacks, and only when the
// server accepts that key: after the host key was checked and after the
// keys before it were refused. ssh does the same (identity_sign after
// PK_OK).
func TestAuthPassphraseAskedLast(t *testing.T) {
	const pass = "correct horse"
	tests := []struct {
		name     string
		agent    []string
		file     func(l *authLab) string
		hostKey  bool
		accept   []string
		answer   string
		want     []string // events
		wantFail string   // in the login error, if it must fail
	}{
		{
			name:    "encrypted key whose .pub is in the agent",
			agent:   []string{"w1", "right"},
			file:    func(l *authLab) string { return l.writeKey("right", "id_right", pass, true) },
			hostKey: true, accept: []string{"right"}, answer: pass,
			want: offered("right"),
		},
		{
			name:    "encrypted key in the agent, no .pub (OpenSSH keeps a public copy)",
			agent:   []string{"w1", "right"},
			file:    func(l *authLab) string { return l.writeKey("right", "id_right", pass, false) },
			hostKey: true, accept: []string{"right"}, answer: pass,
			want: offered("right"),
		},
		{
			name:    "an agent key is accepted before the encrypted file's turn",
			agent:   []string{"w1"},
			file:    func(l *authLab) string { return l.writeKey("right", "id_right", pass, true) },
			hostKey: true, accept: []string{"w1", "right"}, answer: pass,
			want: offered("w1"),
		},
		{
			name:    "host key refused",
			agent:   []string{"w1"},
			file:    func(l *authLab) string { return l.writeKey("right", "id_right", pass, true) },
			hostKey: false, accept: []string{"right"}, answer: pass,
			want: nil, wantFail: "host key not known",
		},
		{
			name:    "asked when the server accepts the key, after the refused ones",
			agent:   []string{"w1", "w2"},
			file:    func(l *authLab) string { return l.writeKey("right", "id_right", pass, true) },
			hostKey: true, accept: []string{"right"}, answer: pass,
			want: []string{"offer w1", "offer w2", "offer right", "prompt Enter passphrase for key 'id_right': "},
		},
		{
			name:    "wrong passphrase asked three times, as ssh does",
			agent:   []string{"w1"},
			file:    func(l *authLab) string { return l.writeKey("right", "id_right", pass, false) },
			hostKey: true, accept: []string{"right"}, answer: "wrong",
			want: []string{"offer w1", "offer right",
				"prompt Enter passphrase for key 'id_right': ",
				"prompt Bad passphrase, try again for id_right: ",
				"prompt Bad passphrase, try again for id_right: "},
			wantFail: "wrong passphrase",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each encrypted key costs a bcrypt KDF: slow under -race
			l := newAuthLab(t, "w1", "w2", "right")
			tg := &target.Target{IdentityAgent: l.agent(tt.agent...), IdentityFiles: []string{tt.file(l)}}
			_, err := l.login(l.newAuth(labPrompter{l, tt.answer}), tg, tt.accept, 6, tt.hostKey)
			switch {
			case tt.wantFail == "" && err != nil:
				t.Errorf("login: %v", err)
			case tt.wantFail != "" && (err == nil || !strings.Contains(err.Error(), tt.wantFail)):
				t.Errorf("login: %v, want an error saying %q", err, tt.wantFail)
			}
			if got := l.takeEvents(); !slices.Equal(got, tt.want) {
				t.Errorf("events %q, want %q", got, tt.want)
			}
		})
	}
}

// One passphrase serves every host of the run; a key that could not be
// decrypted is not asked for again, and the next host is told why.
func TestAuthPassphraseOncePerRun(t *testing.T) {
	for _, answer := range []string{"pw", "wrong"} {
		t.Run("answer "+answer, func(t *testing.T) {
			t.Parallel()
			l := newAuthLab(t, "right")
			tg := &target.Target{IdentityFiles: []string{l.writeKey("right", "id_right", "pw", true)}}
			a := l.newAuth(labPrompter{l, answer})
			for range 3 {
				_, err := l.login(a, tg, []string{"right"}, 6, true)
				if (err == nil) != (answer == "pw") {
					t.Fatalf("login: %v", err)
				}
			}
			prompts := 0
			for _, e := range l.takeEvents() {
				if strings.HasPrefix(e, "prompt ") {
					prompts++
				}
			}
			want := 1
			if answer == "wrong" {
				want = 3 // NumberOfPasswordPrompts
			}
			if prompts != want {
				t.Errorf("asked %d times over 3 logins, want %d", prompts, want)
			}
			if answer == "wrong" {
				_, skipped := a.methods(tg, nil, nil)
				if len(skipped) != 1 || !strings.Contains(skipped[0], "wrong passphrase") {
					t.Errorf("skipped %q after a wrong passphrase, want it to say so", skipped)
				}
			}
		})
	}
}

// An encrypted PEM key keeps no public copy and has no .pub: like ssh
// ("Trying private key"), fleet can only decrypt it to offer it, but not
// before the host key was checked.
func TestAuthEncryptedPEMWithoutPub(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Skip("no ssh-keygen to write an encrypted PEM key")
	}
	l := newAuthLab(t)
	path := filepath.Join(l.dir, "id_ecdsa")
	if out, err := exec.Command(keygen, "-q", "-t", "ecdsa", "-m", "PEM", "-N", "pw-pem", "-C", "", "-f", path).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	os.Remove(path + ".pub")
	data, _ := os.ReadFile(path)
	signer, err := ssh.ParsePrivateKeyWithPassphrase(data, []byte("pw-pem"))
	if err != nil {
		t.Fatal(err)
	}
	l.name[string(signer.PublicKey().Marshal())] = "pem"
	tg := &target.Target{IdentityFiles: []string{path}}

	if _, err := l.login(l.newAuth(labPrompter{l, "pw-pem"}), tg, []string{"pem"}, 6, false); err == nil {
		t.Error("login succeeded with a refused host key")
	}
	if got := l.takeEvents(); len(got) > 0 {
		t.Errorf("events %q before the host key was accepted, want none", got)
	}
	if _, err := l.login(l.newAuth(labPrompter{l, "pw-pem"}), tg, []string{"pem"}, 6, true); err != nil {
		t.Errorf("login: %v", err)
	}
	if got, want := l.takeEvents(), []string{"prompt Enter passphrase for key 'id_ecdsa': ", "offer pem"}; !slices.Equal(got, want) {
		t.Errorf("events %q, want %q", got, want)
	}
}
