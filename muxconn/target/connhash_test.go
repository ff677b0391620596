package target

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestConnHashFollowsSSH checks that %C hashes the jump host in, and %j
// exists, only from OpenSSH 9.6 on, as the installed ssh is asked; that
// the version is not asked when it cannot matter; and that fleet's own
// socket hash always has the jump host.
func TestConnHashFollowsSSH(t *testing.T) {
	v92, v96 := opensshVersion{9, 2}, opensshVersion{9, 6}
	const jumped = "Host h\n  User u\n  ProxyJump j1,j2:2200\n  ControlPath /tmp/%C\n"
	tests := []struct {
		name, config string
		version      *opensshVersion // nil: must not be asked
		controlPath  string
		err          string
	}{
		{"9.2 hashes without the jump host", jumped, &v92, "/tmp/" + sha1hex("lh.exampleh22u"), ""},
		{"9.6 hashes the last jump host in", jumped, &v96, "/tmp/" + sha1hex("lh.exampleh22uj2"), ""},
		{"10.2 as 9.6", jumped, &opensshVersion{10, 2}, "/tmp/" + sha1hex("lh.exampleh22uj2"), ""},
		{"no ssh installed: the newest", jumped, &newestOpenSSH, "/tmp/" + sha1hex("lh.exampleh22uj2"), ""},
		{"%j with 9.6", "Host h\n  ProxyJump j\n  ControlPath /tmp/%j-%h\n", &v96, "/tmp/j-h", ""},
		{"%j with 9.2 is an error, as for ssh", "Host h\n  ProxyJump j\n  ControlPath /tmp/%j\n", &v92, "",
			"unknown token %j"},
		{"%j without a jump host with 9.2 is an error too", "Host h\n  ControlPath /tmp/%j\n", &v92, "",
			"OpenSSH 9.2"},
		{"%C without a jump host: version not asked", "Host h\n  User u\n  ControlPath /tmp/%C\n", nil,
			"/tmp/" + sha1hex("lh.exampleh22u"), ""},
		{"jump host but no %C: version not asked", "Host h\n  ProxyJump j\n  ControlPath /tmp/%h\n", nil,
			"/tmp/h", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, _ := newTestResolver(t, tt.config, Overrides{})
			r.sshVersion = func() opensshVersion {
				if tt.version == nil {
					t.Error("the ssh version was asked for")
					return newestOpenSSH
				}
				return *tt.version
			}
			tg, err := r.Resolve("h", nil)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), "ControlPath") {
					t.Fatalf("err = %v, want one about ControlPath containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			eq(t, "controlpath", tg.ControlPath, tt.controlPath)
			want := sha1hex("lh.exampleh22" + tg.User)
			if len(tg.ProxyJump) > 0 {
				want = sha1hex("lh.exampleh22" + tg.User + tg.ProxyJump[len(tg.ProxyJump)-1].Alias)
			}
			eq(t, "fleet's own hash", tg.ConnHash, want)
		})
	}
}

// TestConnHashInstalledSSH compares %C and %j for a host behind a jump
// host with the installed ssh -G, whichever version it is.
func TestConnHashInstalledSSH(t *testing.T) {
	sshBin, err := exec.LookPath("ssh")
	if err != nil {
		t.Skip("ssh client not installed; NOT compared with ssh -G")
	}
	u, lhost := localIdentity(t)
	t.Logf("installed ssh: OpenSSH %s", installedOpenSSH())
	dir := t.TempDir()
	for i, config := range []string{
		"Host h\n  User u\n  ProxyJump admin@j1:2222,j2\n  ControlPath /tmp/%C\n",
		"Host h\n  ProxyJump j\n  ControlPath /tmp/%j-%C\n",
	} {
		cfg := filepath.Join(dir, "cfg"+string(rune('0'+i)))
		if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		r, _, err := NewResolver(Options{ConfigFile: cfg, Home: u.HomeDir, LocalUser: u.Username, LocalHost: lhost})
		if err != nil {
			t.Fatal(err)
		}
		tg, rerr := r.Resolve("h", nil)
		out, serr := exec.Command(sshBin, "-G", "-F", cfg, "h").CombinedOutput()
		if (rerr != nil) != (serr != nil) {
			t.Errorf("%q: fleet: %v; ssh -G: %v %s", config, rerr, serr, out)
			continue
		}
		if rerr != nil {
			continue // both refuse the config (%j before OpenSSH 9.6)
		}
		theirs := parseGOutput(string(out))["controlpath"]
		if len(theirs) != 1 || theirs[0] != tg.ControlPath {
			t.Errorf("%q: controlpath: fleet %q, ssh -G %q", config, tg.ControlPath, theirs)
		}
	}
}

func TestParseOpenSSHVersion(t *testing.T) {
	for in, want := range map[string]opensshVersion{
		"OpenSSH_9.2p1 Debian-2+deb12u3, OpenSSL 3.0.15 3 Sep 2024\n": {9, 2},
		"OpenSSH_10.0p2, LibreSSL 3.3.6":                              {10, 0},
		"OpenSSH_for_Windows_9.5p1, LibreSSL 3.8.2":                   {9, 5},
	} {
		if got, ok := parseOpenSSHVersion(in); !ok || got != want {
			t.Errorf("parseOpenSSHVersion(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	for _, bad := range []string{"", "Dropbear v2022.83", "ssh: command not found"} {
		if got, ok := parseOpenSSHVersion(bad); ok {
			t.Errorf("parseOpenSSHVersion(%q) = %v, want none", bad, got)
		}
	}
	if !(opensshVersion{9, 6}).atLeast(9, 6) || (opensshVersion{9, 2}).atLeast(9, 6) || !newestOpenSSH.atLeast(10, 1) {
		t.Error("atLeast is wrong")
	}
}
