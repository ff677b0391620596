package target

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// localIdentity returns the local user and host name, as ssh -G's %u, %d
// and %l see them, or skips the test.
func localIdentity(t *testing.T) (*user.User, string) {
	t.Helper()
	u, err := user.Current()
	if err != nil {
		t.Skip("no current user:", err)
	}
	lhost, err := os.Hostname()
	if err != nil {
		t.Skip("no hostname:", err)
	}
	return u, lhost
}

// fleetG resolves alias with r and returns what fleet ssh-config prints
// for it, parsed as ssh -G's output is.
func fleetG(t *testing.T, r *Resolver, alias string) map[string][]string {
	t.Helper()
	tg, err := r.Resolve(alias, nil)
	if err != nil {
		t.Fatalf("Resolve(%q): %v", alias, err)
	}
	var b strings.Builder
	if err := tg.WriteConfig(&b); err != nil {
		t.Fatal(err)
	}
	return parseGOutput(b.String())
}

// coreKeys are compared for every case; a case may add more.
var coreKeys = []string{"hostname", "port", "user", "identityfile", "userknownhostsfile",
	"stricthostkeychecking", "controlpath", "proxyjump"}

// TestConformanceSSHG compares fleet's resolution with `ssh -G -F file
// alias` from the installed OpenSSH client.
func TestConformanceSSHG(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not installed; skipping the ssh -G conformance test")
	}
	u, lhost := localIdentity(t)
	tests := []struct {
		name, config string
		aliases      []string
		extra        []string // keys compared besides coreKeys
		skip         []string // coreKeys not compared, with the reason in a comment
	}{
		{
			name: "patterns, negation, wildcards, first value wins",
			config: `Host web* !web3
  User webuser
  Port 2201
Host web?
  User second
  HostName %h.example.net
Host !other
Host db*.prod *.stage
  Port 2202
Host *
  User last
  Port 2299
  StrictHostKeyChecking accept-new
`,
			aliases: []string{"web1", "web3", "web10", "db1.prod", "x.stage", "other", "Web1"},
		},
		{
			name: "multiple IdentityFile, quoting, Key=Value",
			config: `Host a
  IdentityFile ~/.ssh/one
  IdentityFile="/keys/two words"
  identityfile /keys/three
Host *
  IdentityFile ~/.ssh/four
  IdentityFile ~/.ssh/one
  StrictHostKeyChecking off
  ConnectTimeout 1m
`,
			aliases: []string{"a", "b"},
			extra:   []string{"connecttimeout"},
		},
		{
			name: "tokens in UserKnownHostsFile and ControlPath, %C",
			config: `Host t1
  HostName Target.Example.org
  User remote
  Port 2022
  UserKnownHostsFile ~/.ssh/kh_%h_%p_%r "%d/kh %n" /x/%u-%l-%L-%i-%%
  ControlPath ~/.ssh/cm-%C-%h-%p-%r-%n
  ServerAliveInterval 20
  ServerAliveCountMax 7
  StrictHostKeyChecking yes
Host *
  ControlPath /tmp/%C
  StrictHostKeyChecking no
  ServerAliveInterval 1h
  ServerAliveCountMax 0
`,
			aliases: []string{"t1", "t2"},
			extra:   []string{"serveraliveinterval", "serveralivecountmax"},
		},
		{
			name: "ProxyJump chain",
			config: `Host bastion jump1 b2
  ProxyJump none
Host behind
  HostName 10.9.9.9
  ProxyJump admin@bastion:2222,ssh://u2@b2:23
  ControlPath /tmp/%C
Host direct
  ProxyJump none
Host *
  ProxyJump jump1
`,
			// %C hashes the jump host in from OpenSSH 9.6 on; fleet
			// follows the installed ssh, whichever it is.
			aliases: []string{"behind", "direct", "anything"},
		},
		{
			name:    "defaults",
			config:  "# nothing\n",
			aliases: []string{"plain"},
		},
	}
	dir := t.TempDir()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfgPath := filepath.Join(dir, strings.ReplaceAll(tt.name, " ", "_"))
			if err := os.WriteFile(cfgPath, []byte(tt.config), 0o600); err != nil {
				t.Fatal(err)
			}
			// ssh expands ~ and %d with the passwd entry's home, not $HOME.
			r, warns, err := NewResolver(Options{ConfigFile: cfgPath, Home: u.HomeDir,
				LocalUser: u.Username, LocalHost: lhost, Getenv: func(string) string { return "" }})
			if err != nil || len(warns) > 0 {
				t.Fatalf("NewResolver: %v %v", err, warns)
			}
			for _, alias := range tt.aliases {
				ours := fleetG(t, r, alias)
				theirs := runSSHG(t, sshBin, cfgPath, alias, u.HomeDir)
				for _, key := range append(slices.Clone(coreKeys), tt.extra...) {
					if slices.Contains(tt.skip, key) {
						continue
					}
					o, th := ours[key], theirs[key]
					if !slices.Equal(o, th) {
						t.Errorf("%s: %s: fleet %q, ssh -G %q", alias, key, o, th)
					}
				}
			}
		})
	}
}

// runSSHG runs ssh -G and normalises its output to fleet's spellings.
func runSSHG(t *testing.T, sshBin, cfg, alias, home string, args ...string) map[string][]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, sshBin, append(append([]string{"-G", "-F", cfg}, args...), alias)...)
	cmd.Env = []string{"HOME=" + home, "PATH=" + os.Getenv("PATH")}
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("ssh -G %s: %v\n%s", alias, err, stderr)
	}
	m := parseGOutput(string(out))
	var ids []string
	for _, f := range m["identityfile"] {
		// OpenSSH 9.2 prints IdentityFile unexpanded; its defaults add
		// id_xmss and id_dsa, which fleet leaves out (no XMSS support in
		// x/crypto; DSA is disabled in OpenSSH).
		if strings.HasSuffix(f, "/id_xmss") || strings.HasSuffix(f, "/id_dsa") {
			continue
		}
		if rest, ok := strings.CutPrefix(f, "~/"); ok {
			f = filepath.Join(home, rest)
		}
		ids = append(ids, f)
	}
	m["identityfile"] = ids
	for _, k := range []string{"stricthostkeychecking", "controlmaster"} {
		for i, v := range m[k] {
			m[k][i] = strings.NewReplacer("true", "yes", "false", "no").Replace(v)
		}
	}
	if m["controlpath"] == nil {
		m["controlpath"] = []string{"none"}
	}
	return m
}

// parseGOutput reads "key value" lines, skipping comments.
func parseGOutput(s string) map[string][]string {
	m := map[string][]string{}
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, " ")
		m[k] = append(m[k], v)
	}
	return m
}
