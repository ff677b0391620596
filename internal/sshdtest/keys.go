package sshdtest

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"golang.org/x/crypto/ssh"
)

// hostKeyTypes are the host key types Options.HostKeyTypes accepts.
var hostKeyTypes = []string{"ed25519", "ecdsa", "rsa"}

// generateKey returns a fresh private key of the given type ("ed25519",
// "ecdsa" or "rsa").
func generateKey(keyType string) (crypto.Signer, error) {
	switch keyType {
	case "ed25519":
		_, priv, err := ed25519.GenerateKey(rand.Reader)
		return priv, err
	case "ecdsa":
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		// 2048 bits: enough for a throwaway test key and much faster to make than 3072.
		return rsa.GenerateKey(rand.Reader, 2048)
	default:
		return nil, fmt.Errorf("sshdtest: unknown host key type %q (want one of %s)",
			keyType, strings.Join(hostKeyTypes, ", "))
	}
}

// writePrivateKey writes key to path in OpenSSH's PEM format with mode 0600,
// which sshd insists on for host keys and ssh for identities.
func writePrivateKey(path string, key crypto.Signer, comment string) error {
	block, err := ssh.MarshalPrivateKey(key, comment)
	if err != nil {
		return fmt.Errorf("sshdtest: encode private key for %s: %w", path, err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		return fmt.Errorf("sshdtest: write private key: %w", err)
	}
	return nil
}

// writeHostKeys generates one host key per type into dir and returns the
// files (in the given order) and their public keys.
func writeHostKeys(dir string, types []string) (paths []string, pubs []ssh.PublicKey, err error) {
	seen := map[string]bool{}
	for _, typ := range types {
		if seen[typ] {
			return nil, nil, fmt.Errorf("sshdtest: host key type %q listed twice in Options.HostKeyTypes", typ)
		}
		seen[typ] = true
		key, err := generateKey(typ)
		if err != nil {
			return nil, nil, err
		}
		signer, err := ssh.NewSignerFromSigner(key)
		if err != nil {
			return nil, nil, fmt.Errorf("sshdtest: %s host key: %w", typ, err)
		}
		path := filepath.Join(dir, "ssh_host_"+typ+"_key")
		if err := writePrivateKey(path, key, "fleet sshdtest host key"); err != nil {
			return nil, nil, err
		}
		paths = append(paths, path)
		pubs = append(pubs, signer.PublicKey())
	}
	return paths, pubs, nil
}

// The client key is made once per test process: every server trusts it, so a
// test can log in to any number of servers with one identity, as fleet does.
var clientKey struct {
	once   sync.Once
	signer ssh.Signer
	path   string
	err    error
}

func loadClientKey() (ssh.Signer, string, error) {
	clientKey.once.Do(func() {
		clientKey.signer, clientKey.path, clientKey.err = makeClientKey()
	})
	return clientKey.signer, clientKey.path, clientKey.err
}

// makeClientKey generates the process's ed25519 client key and writes it to
// <tmp>/fleet-sshdtest-<uid>/client-<pid>. No test owns that file, so it
// cannot be removed when the process ends; instead each process removes the
// files of processes that are gone, which bounds what is left behind to the
// keys of test processes still running.
func makeClientKey() (ssh.Signer, string, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", fmt.Errorf("sshdtest: generate client key: %w", err)
	}
	signer, err := ssh.NewSignerFromSigner(priv)
	if err != nil {
		return nil, "", fmt.Errorf("sshdtest: client key: %w", err)
	}
	dir := filepath.Join(os.TempDir(), "fleet-sshdtest-"+strconv.Itoa(os.Getuid()))
	if err := privateDir(dir); err != nil {
		return nil, "", err
	}
	removeStaleClientKeys(dir)
	path := filepath.Join(dir, "client-"+strconv.Itoa(os.Getpid()))
	if err := writePrivateKey(path, priv, "fleet sshdtest client key"); err != nil {
		return nil, "", err
	}
	return signer, path, nil
}

// privateDir makes sure dir exists, is a real directory (not a symlink
// planted in a shared temp dir), belongs to us and is not writable by others.
func privateDir(dir string) error {
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("sshdtest: create client key directory: %w", err)
	}
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("sshdtest: client key directory: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !fi.IsDir() || !ok || int(st.Uid) != os.Getuid() || fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("sshdtest: %s is not a private directory owned by uid %d; remove it and run the tests again",
			dir, os.Getuid())
	}
	return nil
}

func removeStaleClientKeys(dir string) {
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		pid, err := strconv.Atoi(strings.TrimPrefix(e.Name(), "client-"))
		if err != nil || !strings.HasPrefix(e.Name(), "client-") {
			continue
		}
		if !processExists(pid) {
			os.Remove(filepath.Join(dir, e.Name()))
		}
	}
}

// ClientSigner returns the test process's client key. Every server started
// by Start accepts it for its login user. It panics if the key cannot be
// made; Start reports that as a test failure before a test gets here.
func ClientSigner() ssh.Signer {
	signer, _, err := loadClientKey()
	if err != nil {
		panic(err)
	}
	return signer
}

// ClientKeyPath returns the file holding the test process's client private
// key (ed25519, OpenSSH format, mode 0600), for `ssh -i` and for fleet's
// identity-file options. Every server started by Start accepts it. Like
// ClientSigner, it panics if the key cannot be made.
func ClientKeyPath() string {
	_, path, err := loadClientKey()
	if err != nil {
		panic(err)
	}
	return path
}
