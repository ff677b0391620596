package target

import (
	"os"
	"path/filepath"
	"testing"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// testEnv is the environment the table tests resolve in.
var testEnv = map[string]string{"SSH_AUTH_SOCK": "/run/agent.sock", "KEYDIR": "/keys"}

// newTestResolver writes config to a temp file and returns a Resolver over
// it, with home "/home/me", user "me" and host "lh.example".
func newTestResolver(t testing.TB, config string, ov Overrides) (*Resolver, []diag.Warning) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ssh_config")
	if err := os.WriteFile(path, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	r, warns, err := NewResolver(Options{ConfigFile: path, Home: "/home/me", LocalUser: "me",
		LocalHost: "lh.example", Getenv: func(k string) string { return testEnv[k] }, Overrides: ov})
	if err != nil {
		t.Fatalf("NewResolver: %v", err)
	}
	// %C and %j follow the installed ssh; the table tests expect the
	// newest OpenSSH, whatever is installed.
	r.sshVersion = func() opensshVersion { return newestOpenSSH }
	return r, warns
}

// varsOf builds a vars.Map from key, value pairs.
func varsOf(kv ...any) *vars.Map {
	m := vars.NewMap()
	for i := 0; i < len(kv); i += 2 {
		m.Set(kv[i].(string), kv[i+1])
	}
	return m
}

func sha1hex(s string) string {
	tk := tokens{lhost: s}
	return tk.connHash()
}
