package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	sshconfig "github.com/kevinburke/ssh_config"
	"go.uber.org/goleak"
	"go.yaml.in/yaml/v3"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

const hangTimeout = 30 * time.Second

type inventory struct {
	All struct {
		Children map[string]struct {
			Hosts map[string]struct {
				Host string `yaml:"ansible_host"`
				Port int    `yaml:"ansible_port"`
			} `yaml:"hosts"`
		} `yaml:"children"`
	} `yaml:"all"`
}

func TestUp(t *testing.T) {
	tests := []struct {
		n    int
		web  []string
		db   []string
		pass string
	}{
		{n: 1, web: []string{"lab01"}},
		{n: 3, web: []string{"lab01", "lab02"}, db: []string{"lab03"}, pass: "pw"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.n), func(t *testing.T) {
			dir := t.TempDir()
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var stdout bytes.Buffer
			done := make(chan error, 1)
			go func() {
				done <- runUp(ctx, upOptions{N: tt.n, Dir: dir, MaxSessions: 4, Password: tt.pass, Port: defaultPort, Stdout: &stdout})
			}()
			ready := filepath.Join(dir, "ready")
			waitReady(t, ready, done)

			inv := checkInventory(t, dir, tt.web, tt.db)
			cfg, err := sshconfig.DecodeBytes(readFile(t, dir, "ssh_config"))
			if err != nil {
				t.Fatalf("ssh_config: %v", err)
			}
			signer := checkClientKey(t, dir)
			hostKeys, err := knownhosts.New(filepath.Join(dir, "known_hosts"))
			if err != nil {
				t.Fatalf("known_hosts: %v", err)
			}
			checkKnownHosts(t, dir, tt.n)

			for name, addr := range inv {
				if got, _ := cfg.Get(name, "HostName"); got != addr.IP.String() {
					t.Errorf("ssh_config %s HostName = %q, want %s", name, got, addr.IP)
				}
				if got, _ := cfg.Get(name, "Port"); got != strconv.Itoa(addr.Port) {
					t.Errorf("ssh_config %s Port = %q, want %d", name, got, addr.Port)
				}
				for key, want := range map[string]string{
					"IdentityFile":          filepath.Join(dir, "id_ed25519"),
					"UserKnownHostsFile":    filepath.Join(dir, "known_hosts"),
					"IdentitiesOnly":        "yes",
					"StrictHostKeyChecking": "yes",
					"User":                  currentUser(),
				} {
					if got, _ := cfg.Get(name, key); got != want {
						t.Errorf("ssh_config %s %s = %q, want %q", name, key, got, want)
					}
				}
				// Log in as a client configured only from the written files.
				client, err := ssh.Dial("tcp", addr.String(), &ssh.ClientConfig{
					User:            currentUser(),
					Auth:            []ssh.AuthMethod{ssh.PublicKeys(signer)},
					HostKeyCallback: hostKeys,
					Timeout:         hangTimeout,
				})
				if err != nil {
					t.Fatalf("%s: dial %s: %v", name, addr, err)
				}
				s, err := client.NewSession()
				if err != nil {
					t.Fatal(err)
				}
				out, err := s.Output("echo ok; pwd")
				client.Close()
				if want := "ok\n" + filepath.Join(dir, "hosts", name, "home") + "\n"; err != nil || string(out) != want {
					t.Errorf("%s: echo ok; pwd = %q, %v; want %q", name, out, err, want)
				}
				if tt.pass != "" {
					client, err := ssh.Dial("tcp", addr.String(), &ssh.ClientConfig{
						User:            "anyone",
						Auth:            []ssh.AuthMethod{ssh.Password(tt.pass)},
						HostKeyCallback: hostKeys,
						Timeout:         hangTimeout,
					})
					if err != nil {
						t.Errorf("%s: password login: %v", name, err)
					} else {
						client.Close()
					}
				}
			}
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("runUp: %v", err)
				}
			case <-time.After(hangTimeout):
				t.Fatal("runUp did not return after cancel")
			}
			if _, err := os.Stat(ready); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("ready still exists after shutdown (stat: %v)", err)
			}
			if !strings.Contains(stdout.String(), "--ssh-config "+filepath.Join(dir, "ssh_config")+" ping all") {
				t.Errorf("summary lacks the example command:\n%s", stdout.String())
			}
		})
	}
}

func waitReady(t *testing.T, ready string, done <-chan error) {
	t.Helper()
	deadline := time.Now().Add(hangTimeout)
	for {
		if _, err := os.Stat(ready); err == nil {
			return
		}
		select {
		case err := <-done:
			t.Fatalf("runUp returned before ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not written within %v", ready, hangTimeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func readFile(t *testing.T, dir, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkInventory parses inventory.yml, checks the groups, and returns each
// host's address.
func checkInventory(t *testing.T, dir string, web, db []string) map[string]*net.TCPAddr {
	t.Helper()
	var inv inventory
	if err := yaml.Unmarshal(readFile(t, dir, "inventory.yml"), &inv); err != nil {
		t.Fatalf("inventory.yml: %v", err)
	}
	addrs := map[string]*net.TCPAddr{}
	groups := map[string][]string{}
	for g, v := range inv.All.Children {
		for name, h := range v.Hosts {
			ip := net.ParseIP(h.Host)
			if ip == nil || !ip.IsLoopback() || h.Port <= 0 {
				t.Errorf("inventory %s: ansible_host %q ansible_port %d, want a loopback address and a port", name, h.Host, h.Port)
			}
			addrs[name] = &net.TCPAddr{IP: ip, Port: h.Port}
			groups[g] = append(groups[g], name)
		}
		slices.Sort(groups[g])
	}
	if !slices.Equal(groups["web"], web) || !slices.Equal(groups["db"], db) || len(groups) != min(len(web), 1)+min(len(db), 1) {
		t.Errorf("inventory groups = %v, want web %v db %v", groups, web, db)
	}
	seen := map[string]bool{}
	for name, a := range addrs {
		if seen[a.String()] {
			t.Errorf("inventory: %s shares address %s with another host", name, a)
		}
		seen[a.String()] = true
	}
	return addrs
}

func checkClientKey(t *testing.T, dir string) ssh.Signer {
	t.Helper()
	path := filepath.Join(dir, "id_ed25519")
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("id_ed25519 mode = %v, want 0600 (ssh refuses readable keys)", fi.Mode().Perm())
	}
	signer, err := ssh.ParsePrivateKey(readFile(t, dir, "id_ed25519"))
	if err != nil {
		t.Fatalf("id_ed25519: %v", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey(readFile(t, dir, "id_ed25519.pub"))
	if err != nil || !bytes.Equal(pub.Marshal(), signer.PublicKey().Marshal()) {
		t.Errorf("id_ed25519.pub does not hold the key's public half (err %v)", err)
	}
	return signer
}

func checkKnownHosts(t *testing.T, dir string, n int) {
	t.Helper()
	rest := readFile(t, dir, "known_hosts")
	lines := 0
	for len(rest) > 0 {
		_, hosts, _, _, r, err := ssh.ParseKnownHosts(rest)
		if err != nil {
			t.Fatalf("known_hosts line %d: %v", lines+1, err)
		}
		rest = r
		lines++
		if len(hosts) != 1 || !strings.HasPrefix(hosts[0], "[127.") {
			t.Errorf("known_hosts line %d: hosts %q, want one [ip]:port", lines, hosts)
		}
	}
	if lines != n {
		t.Errorf("known_hosts has %d lines, want %d", lines, n)
	}
}

func TestRunUsage(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name       string
		args       []string
		code       int
		wantStdout string
		wantStderr string
	}{
		{"no args", nil, 2, "", "Usage:"},
		{"help", []string{"-h"}, 0, "Usage:", ""},
		{"up help", []string{"up", "-h"}, 0, "", "Usage:"},
		{"unknown command", []string{"down"}, 2, "", `unknown command "down"`},
		{"missing dir", []string{"up"}, 2, "", "hint: pass -dir DIR"},
		{"bad n", []string{"up", "-n", "0", "-dir", dir}, 2, "", "-n 0 is out of range"},
		{"bad max sessions", []string{"up", "-max-sessions", "0", "-dir", dir}, 2, "", "-max-sessions 0 is out of range"},
		{"extra argument", []string{"up", "-dir", dir, "extra"}, 2, "", `unexpected argument "extra"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			code := run(t.Context(), tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit code %d, want %d; stderr:\n%s", code, tt.code, stderr.String())
			}
			if !strings.Contains(stdout.String(), tt.wantStdout) || (tt.wantStdout == "" && stdout.Len() > 0) {
				t.Errorf("stdout = %q, want it to contain %q", stdout.String(), tt.wantStdout)
			}
			if !strings.Contains(stderr.String(), tt.wantStderr) || (tt.wantStderr == "" && stderr.Len() > 0) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tt.wantStderr)
			}
		})
	}
}
