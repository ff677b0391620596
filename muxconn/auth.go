package muxconn

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"fleetrun.dev/fleet/muxconn/target"
)

// Prompter asks the user for a secret on the terminal. It returns an error
// when there is no terminal to ask on.
type Prompter interface {
	Secret(prompt string) (string, error)
}

// Auth supplies credentials in OpenSSH's order (sshconnect2.c,
// pubkey_prepare): the ssh-agent keys that an identity file names, then the
// agent's other keys unless IdentitiesOnly, then the identity files the
// agent does not hold, and last, with AskPass, keyboard-interactive and
// password. One Auth serves every host of a run, so an agent socket is
// dialled once, each key file is read once, and the password is asked once.
//
// As with ssh, an identity file's public key is what selects an agent key:
// the file itself when it is a public key, else the .pub beside it, else
// the copy an OpenSSH-format private key keeps unencrypted. A key the agent
// holds is used through the agent, and its file's passphrase is never
// asked. An encrypted key the agent lacks is offered by its public key, and
// its passphrase is asked (once per run) only when a server accepts it, so
// never before the host key was checked and the earlier keys were refused.
type Auth struct {
	// Prompt asks for key passphrases and the password; nil means there is
	// no terminal, and an encrypted key is skipped with a clear error.
	Prompt Prompter
	// AskPass enables password and keyboard-interactive auth with a
	// password asked once per run.
	AskPass bool

	mu     sync.Mutex
	agents map[string]*agentConn
	keys   map[string]*keyFile

	// promptMu puts one question at a time on the terminal, as hosts
	// connecting in parallel may each need a passphrase or the password.
	promptMu sync.Mutex

	passOnce sync.Once
	pass     string
	passErr  error
}

type agentConn struct {
	client agent.ExtendedAgent
	conn   net.Conn
	err    error

	// The agent's keys are listed once per run, not once per host.
	signersOnce sync.Once
	signers     []ssh.Signer
	signersErr  error
}

// keyFile is an IdentityFile as read once per run.
type keyFile struct {
	path string
	once sync.Once
	// pub is the public key: the file itself when it is one, else
	// path.pub, else the private key's own. nil when none of them has it
	// (a missing file, or an encrypted PEM key without its .pub).
	pub    ssh.PublicKey
	signer ssh.Signer // the private key, when it needs no passphrase
	sealed []byte     // the private key, when it needs one
	err    error      // why the file can't sign; nil for a missing file
	// cert is the user certificate in path-cert.pub, offered before the
	// key itself, as ssh picks it up beside an IdentityFile.
	cert *ssh.Certificate

	// What asking the passphrase of a sealed key gave, once it was asked.
	mu        sync.Mutex
	unsealed  bool
	unsealSig ssh.Signer
	unsealErr error
}

// Close closes the agent connections.
func (a *Auth) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.agents {
		if c.conn != nil {
			c.conn.Close()
		}
	}
	a.agents = nil
	return nil
}

// agentSigners returns the keys of the agent at sock, asking it once.
func (a *Auth) agentSigners(sock string) ([]ssh.Signer, error) {
	c := a.agent(sock)
	if c.err != nil {
		return nil, c.err
	}
	c.signersOnce.Do(func() {
		c.signers, c.signersErr = c.client.Signers()
		if c.signersErr != nil {
			c.signersErr = fmt.Errorf("ssh-agent at %s: %w", sock, c.signersErr)
		}
	})
	return c.signers, c.signersErr
}

func (a *Auth) agent(sock string) *agentConn {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.agents == nil {
		a.agents = map[string]*agentConn{}
	}
	if c, ok := a.agents[sock]; ok {
		return c
	}
	c := &agentConn{}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		c.err = fmt.Errorf("ssh-agent at %s: %w", sock, err)
	} else {
		c.conn = conn
		// The agent client serialises its requests, so one connection
		// serves every host's handshake.
		c.client = agent.NewClient(conn)
	}
	a.agents[sock] = c
	return c
}

// key returns the identity file at path, read once per run. Reading never
// asks a passphrase: see unseal.
func (a *Auth) key(path string) *keyFile {
	a.mu.Lock()
	if a.keys == nil {
		a.keys = map[string]*keyFile{}
	}
	k, ok := a.keys[path]
	if !ok {
		k = &keyFile{path: path}
		a.keys[path] = k
	}
	a.mu.Unlock()
	k.once.Do(k.load)
	return k
}

// load finds the key's public half as ssh's sshkey_load_public does (the
// file as a public key, then path.pub, then the private key's own copy)
// and keeps the private key, decrypting nothing.
func (k *keyFile) load() {
	k.loadKey()
	k.loadCert()
}

// loadCert reads path-cert.pub, the certificate ssh offers along with an
// IdentityFile; one for another key, or not a certificate, is passed over
// as ssh does, with a word in case nothing works.
func (k *keyFile) loadCert() {
	certPath := strings.TrimSuffix(k.path, ".pub") + "-cert.pub"
	data, err := os.ReadFile(certPath)
	if err != nil {
		return
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(data)
	cert, ok := pub.(*ssh.Certificate)
	switch {
	case err != nil || !ok:
		return
	case cert.CertType != ssh.UserCert:
		return
	case k.pub == nil:
		// The key may be in the agent only: the certificate names it.
		k.pub = cert.Key
	case !bytes.Equal(cert.Key.Marshal(), k.pub.Marshal()):
		return
	}
	k.cert = cert
}

func (k *keyFile) loadKey() {
	path := k.path
	data, readErr := os.ReadFile(path)
	if readErr == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(data); err == nil {
			// IdentityFile naming a .pub: ssh uses it to pick the agent's
			// key (1Password, keys on hardware tokens), never to sign.
			k.pub = pub
			k.err = fmt.Errorf("identity file %s is a public key, and the agent does not offer it", path)
			return
		}
	}
	if pubData, err := os.ReadFile(path + ".pub"); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(pubData); err == nil {
			k.pub = pub
		}
	}
	switch {
	case errors.Is(readErr, os.ErrNotExist):
		// OpenSSH's default identity files usually don't all exist; only
		// a lone .pub is worth a word, should the agent not hold its key.
		if k.pub != nil {
			k.err = fmt.Errorf("identity file %s does not exist (only %s.pub does), and the agent does not offer that key", path, path)
		}
		return
	case readErr != nil:
		k.err = fmt.Errorf("identity file %s: %w", path, readErr)
		return
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		k.sealed = data
		if k.pub == nil {
			k.pub = missing.PublicKey // nil for an encrypted PEM key
		}
	case err != nil:
		k.err = fmt.Errorf("identity file %s: %w", path, err)
	default:
		k.signer = signer
		k.pub = signer.PublicKey()
	}
}

// unsealResult returns what asking k's passphrase gave, and whether it was
// asked yet.
func (k *keyFile) unsealResult() (signer ssh.Signer, asked bool, err error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.unsealSig, k.unsealed, k.unsealErr
}

// passphraseTries is how often a wrong passphrase is asked again, as ssh's
// NumberOfPasswordPrompts (default 3).
const passphraseTries = 3

// unseal decrypts k's private key, asking its passphrase once per run:
// hosts needing it meanwhile wait for the answer, and a key that could not
// be decrypted is not asked for again.
func (a *Auth) unseal(k *keyFile) (ssh.Signer, error) {
	a.promptMu.Lock()
	defer a.promptMu.Unlock()
	if s, asked, err := k.unsealResult(); asked {
		return s, err
	}
	s, err := a.askPassphrase(k)
	k.mu.Lock()
	k.unsealed, k.unsealSig, k.unsealErr = true, s, err
	k.mu.Unlock()
	return s, err
}

func (a *Auth) askPassphrase(k *keyFile) (ssh.Signer, error) {
	if a.Prompt == nil {
		return nil, errNoTerminal(k.path)
	}
	prompt := fmt.Sprintf("Enter passphrase for key '%s': ", k.path)
	for range passphraseTries {
		pass, err := a.Prompt.Secret(prompt)
		if err != nil {
			return nil, fmt.Errorf("identity file %s is encrypted: %w", k.path, err)
		}
		if pass == "" {
			// ssh, too, takes an empty answer as giving up on the key.
			return nil, fmt.Errorf("identity file %s is encrypted and no passphrase was given", k.path)
		}
		signer, err := ssh.ParsePrivateKeyWithPassphrase(k.sealed, []byte(pass))
		switch {
		case errors.Is(err, x509.IncorrectPasswordError):
			prompt = fmt.Sprintf("Bad passphrase, try again for %s: ", k.path)
			continue
		case err != nil:
			return nil, fmt.Errorf("identity file %s: unreadable key: %w", k.path, err)
		case k.pub != nil && !bytes.Equal(signer.PublicKey().Marshal(), k.pub.Marshal()):
			return nil, fmt.Errorf("identity file %s does not hold the key of %s.pub", k.path, k.path)
		}
		return signer, nil
	}
	return nil, fmt.Errorf("identity file %s: wrong passphrase", k.path)
}

func errNoTerminal(path string) error {
	return fmt.Errorf("identity file %s is encrypted and there is no terminal to ask its passphrase; load it with ssh-add first", path)
}

// sealedKey offers an encrypted identity file by its public key. Its
// passphrase is asked when x/crypto signs, which it does only once the
// server has accepted the key, as ssh asks only after the server's PK_OK.
type sealedKey struct {
	a    *Auth
	k    *keyFile
	hold holdFunc
}

// holdFunc pauses the host's ConnectTimeout while the user is asked for a
// passphrase or password (or waits for another host's question to be
// answered): typing does not count against it. It returns the func that
// resumes it; nil means there is nothing to pause.
type holdFunc func() (resume func())

// paused runs f with h held.
func (h holdFunc) paused(f func()) {
	if h != nil {
		defer h()()
	}
	f()
}

func (s *sealedKey) PublicKey() ssh.PublicKey { return s.k.pub }

func (s *sealedKey) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	return s.SignWithAlgorithm(rand, data, "")
}

// SignWithAlgorithm makes sealedKey an ssh.AlgorithmSigner, without which
// x/crypto would sign RSA keys only with SHA-1, which OpenSSH refuses.
func (s *sealedKey) SignWithAlgorithm(rand io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	var signer ssh.Signer
	var err error
	s.hold.paused(func() { signer, err = s.a.unseal(s.k) })
	if err != nil {
		return nil, err
	}
	if as, ok := signer.(ssh.AlgorithmSigner); ok {
		return as.SignWithAlgorithm(rand, data, algorithm)
	}
	if algorithm != "" && algorithm != signer.PublicKey().Type() {
		return nil, fmt.Errorf("identity file %s can't sign with %s", s.k.path, algorithm)
	}
	return signer.Sign(rand, data)
}

// offer is one key to offer, or an encrypted identity file whose public
// key is only known once decrypted.
type offer struct {
	signer  ssh.Signer
	pending *keyFile
}

// offers orders the keys of files and of the agent as ssh's pubkey_prepare
// does, and says why some files are not offered. It asks nothing.
func (a *Auth) offers(files []*keyFile, agentSigners []ssh.Signer, identitiesOnly bool, hold holdFunc) (out []offer, skipped []string) {
	named := map[string]bool{}
	for _, k := range files {
		if k.pub != nil {
			named[string(k.pub.Marshal())] = true
		}
	}
	// certs are the identity files' certificates, by their key.
	certs := map[string]*ssh.Certificate{}
	for _, k := range files {
		if k.cert != nil {
			certs[string(k.cert.Key.Marshal())] = k.cert
		}
	}
	seen := map[string]bool{}
	add1 := func(s ssh.Signer) {
		m := string(s.PublicKey().Marshal())
		if !seen[m] {
			seen[m] = true
			out = append(out, offer{signer: s})
		}
	}
	// add offers s, after its identity file's certificate if it has one.
	add := func(s ssh.Signer) {
		if cert := certs[string(s.PublicKey().Marshal())]; cert != nil {
			if cs, err := ssh.NewCertSigner(cert, s); err == nil {
				add1(cs)
			}
		}
		add1(s)
	}
	// The agent's keys an identity file names come first: offering every
	// agent key in the agent's order exhausts sshd's MaxAuthTries (6) and
	// ends in "Too many authentication failures" before the right key.
	for _, s := range agentSigners {
		if named[string(s.PublicKey().Marshal())] {
			add(s)
		}
	}
	if !identitiesOnly {
		for _, s := range agentSigners {
			add(s)
		}
	}
	for _, k := range files {
		if k.pub != nil && seen[string(k.pub.Marshal())] {
			continue // used through the agent
		}
		switch {
		case k.signer != nil:
			add(k.signer)
		case k.sealed != nil:
			if s, asked, err := k.unsealResult(); asked {
				if err != nil {
					skipped = append(skipped, err.Error())
				} else {
					add(s)
				}
			} else if a.Prompt == nil {
				skipped = append(skipped, errNoTerminal(k.path).Error())
			} else if k.pub == nil {
				out = append(out, offer{pending: k})
			} else {
				add(&sealedKey{a: a, k: k, hold: hold})
			}
		case k.err != nil:
			skipped = append(skipped, k.err.Error())
		}
	}
	return out, skipped
}

// signers turns offers into the keys to offer a host that auth has reached.
// An encrypted key without a public key is decrypted now, as ssh decrypts
// it when its turn comes ("Trying private key"), for want of anything else
// to offer; one that can't be is left out.
func (a *Auth) signers(offers []offer, hold holdFunc) []ssh.Signer {
	out := make([]ssh.Signer, 0, len(offers))
	seen := map[string]bool{}
	for _, o := range offers {
		s := o.signer
		if o.pending != nil {
			var err error
			hold.paused(func() { s, err = a.unseal(o.pending) })
			if err != nil {
				continue
			}
		}
		m := string(s.PublicKey().Marshal())
		if !seen[m] {
			seen[m] = true
			out = append(out, s)
		}
	}
	return out
}

func (a *Auth) password() (string, error) {
	a.passOnce.Do(func() {
		if a.Prompt == nil {
			a.passErr = errors.New("--ask-pass needs a terminal to ask the password on")
			return
		}
		a.promptMu.Lock()
		defer a.promptMu.Unlock()
		a.pass, a.passErr = a.Prompt.Secret("SSH password: ")
	})
	return a.pass, a.passErr
}

// AskPassword asks the password now, before any connection, as Ansible's
// --ask-pass does; later hosts reuse it.
func (a *Auth) AskPassword() error {
	_, err := a.password()
	return err
}

// Password returns the password AskPassword got, or "", for handing to a
// background master that can't ask.
func (a *Auth) Password() string {
	if !a.AskPass {
		return ""
	}
	p, _ := a.password()
	return p
}

// methods builds the auth methods for t. skipped collects why some keys
// could not be offered, to explain an authentication failure. Nothing here
// asks the user: a passphrase is asked only once a server accepts its key,
// with the connection's timeout held by hold meanwhile.
func (a *Auth) methods(t *target.Target, reached func(), hold holdFunc) (methods []ssh.AuthMethod, skipped []string) {
	var agentSigners []ssh.Signer
	if t.IdentityAgent != "" {
		signers, err := a.agentSigners(t.IdentityAgent)
		if err != nil {
			skipped = append(skipped, err.Error())
		}
		agentSigners = signers
	}
	files := make([]*keyFile, 0, len(t.IdentityFiles))
	for _, p := range t.IdentityFiles {
		files = append(files, a.key(p))
	}
	offers, notOffered := a.offers(files, agentSigners, t.IdentitiesOnly, hold)
	skipped = append(skipped, notOffered...)
	methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		if reached != nil {
			reached()
		}
		return a.signers(offers, hold), nil
	}))
	if a.AskPass {
		methods = append(methods,
			ssh.KeyboardInteractive(func(name, instruction string, questions []string, echos []bool) ([]string, error) {
				if reached != nil {
					reached()
				}
				answers := make([]string, len(questions))
				for i := range questions {
					if echos[i] {
						return nil, fmt.Errorf("keyboard-interactive asks %q, which fleet can't answer", strings.TrimSpace(questions[i]))
					}
					var pw string
					var err error
					hold.paused(func() { pw, err = a.password() })
					if err != nil {
						return nil, err
					}
					answers[i] = pw
				}
				return answers, nil
			}),
			ssh.PasswordCallback(func() (pw string, err error) {
				if reached != nil {
					reached()
				}
				hold.paused(func() { pw, err = a.password() })
				return pw, err
			}),
		)
	}
	return methods, skipped
}
