package muxconn

import (
	"bytes"
	"errors"
	"fmt"
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

// Auth supplies credentials in OpenSSH's order: ssh-agent keys, then
// identity files, then (with AskPass) password and keyboard-interactive.
// One Auth serves every host of a run, so an agent socket is dialled once,
// each key file is read (and its passphrase asked) once, and the password
// is asked once.
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

type keyFile struct {
	once   sync.Once
	signer ssh.Signer
	pub    ssh.PublicKey // from the .pub file when the key itself is unreadable
	err    error         // why the key can't be used; nil for a missing file
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

func (a *Auth) key(path string) *keyFile {
	a.mu.Lock()
	if a.keys == nil {
		a.keys = map[string]*keyFile{}
	}
	k, ok := a.keys[path]
	if !ok {
		k = &keyFile{}
		a.keys[path] = k
	}
	a.mu.Unlock()
	k.once.Do(func() { a.load(path, k) })
	return k
}

func (a *Auth) load(path string, k *keyFile) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return // OpenSSH's default identity files usually don't all exist
	}
	if err != nil {
		k.err = fmt.Errorf("identity file %s: %w", path, err)
		return
	}
	if pubData, err := os.ReadFile(path + ".pub"); err == nil {
		if pub, _, _, _, err := ssh.ParseAuthorizedKey(pubData); err == nil {
			k.pub = pub
		}
	}
	signer, err := ssh.ParsePrivateKey(data)
	var missing *ssh.PassphraseMissingError
	switch {
	case errors.As(err, &missing):
		if a.Prompt == nil {
			k.err = fmt.Errorf("identity file %s is encrypted and there is no terminal to ask its passphrase; load it with ssh-add first", path)
			return
		}
		pass, perr := a.Prompt.Secret(fmt.Sprintf("Enter passphrase for key '%s': ", path))
		if perr != nil {
			k.err = fmt.Errorf("identity file %s is encrypted: %w", path, perr)
			return
		}
		signer, err = ssh.ParsePrivateKeyWithPassphrase(data, []byte(pass))
		if err != nil {
			k.err = fmt.Errorf("identity file %s: wrong passphrase or unreadable key: %w", path, err)
			return
		}
	case err != nil:
		k.err = fmt.Errorf("identity file %s: %w", path, err)
		return
	}
	k.signer = signer
	k.pub = signer.PublicKey()
}

func (a *Auth) password() (string, error) {
	a.passOnce.Do(func() {
		if a.Prompt == nil {
			a.passErr = errors.New("--ask-pass needs a terminal to ask the password on")
			return
		}
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
// could not be offered, to explain an authentication failure.
func (a *Auth) methods(t *target.Target, reached func()) (methods []ssh.AuthMethod, skipped []string) {
	var files []*keyFile
	var filePubs [][]byte
	for _, p := range t.IdentityFiles {
		k := a.key(p)
		if k.err != nil {
			skipped = append(skipped, k.err.Error())
		}
		files = append(files, k)
		if k.pub != nil {
			filePubs = append(filePubs, k.pub.Marshal())
		}
	}
	var agentSigners []ssh.Signer
	if t.IdentityAgent != "" {
		signers, err := a.agentSigners(t.IdentityAgent)
		if err != nil {
			skipped = append(skipped, err.Error())
		}
		agentSigners = signers
	}
	methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) {
		if reached != nil {
			reached()
		}
		var out []ssh.Signer
		seen := map[string]bool{}
		for _, s := range agentSigners {
			m := s.PublicKey().Marshal()
			// IdentitiesOnly: only agent keys that match a configured file.
			if t.IdentitiesOnly && !containsKey(filePubs, m) {
				continue
			}
			seen[string(m)] = true
			out = append(out, s)
		}
		for _, k := range files {
			if k.signer == nil || seen[string(k.pub.Marshal())] {
				continue
			}
			seen[string(k.pub.Marshal())] = true
			out = append(out, k.signer)
		}
		return out, nil
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
					pw, err := a.password()
					if err != nil {
						return nil, err
					}
					answers[i] = pw
				}
				return answers, nil
			}),
			ssh.PasswordCallback(func() (string, error) {
				if reached != nil {
					reached()
				}
				return a.password()
			}),
		)
	}
	return methods, skipped
}

func containsKey(list [][]byte, k []byte) bool {
	for _, x := range list {
		if bytes.Equal(x, k) {
			return true
		}
	}
	return false
}
