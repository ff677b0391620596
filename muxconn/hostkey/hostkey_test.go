package hostkey

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"

	"fleetrun.dev/fleet/diag"
)

func newEd25519(t testing.TB) ssh.Signer {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newECDSA(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// rsaKey is generated once per test binary: RSA generation is slow under
// the race detector.
var rsaKey = sync.OnceValues(func() (*rsa.PrivateKey, error) {
	return rsa.GenerateKey(rand.Reader, 2048)
})

func newRSA(t testing.TB) ssh.Signer {
	t.Helper()
	priv, err := rsaKey()
	if err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// keyText is a key as known_hosts and authorized_keys write it.
func keyText(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// entry is a known_hosts line for pattern and key.
func entry(pattern string, k ssh.PublicKey) string {
	return pattern + " " + keyText(k)
}

func hashed(hostport string, k ssh.PublicKey) string {
	return entry(xknownhosts.HashHostname(xknownhosts.Normalize(hostport)), k)
}

func writeFile(t testing.TB, path string, lines ...string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}

func hostCert(t testing.TB, host ssh.PublicKey, ca ssh.Signer, principals ...string) *ssh.Certificate {
	t.Helper()
	cert := &ssh.Certificate{
		Key:             host,
		CertType:        ssh.HostCert,
		KeyId:           "test",
		ValidPrincipals: principals,
		ValidBefore:     ssh.CertTimeInfinity,
	}
	if err := cert.SignCert(rand.Reader, ca); err != nil {
		t.Fatal(err)
	}
	return cert
}

func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return 0
}

func TestCallback(t *testing.T) {
	edA, edB := newEd25519(t).PublicKey(), newEd25519(t).PublicKey()
	ecA := newECDSA(t).PublicKey()
	rsaA := newRSA(t).PublicKey()
	caSigner := newEd25519(t)
	ca := caSigner.PublicKey()
	webCert := hostCert(t, edA, caSigner, "web1.example.com")
	otherCert := hostCert(t, edA, caSigner, "db1.example.com")

	tests := []struct {
		name                string
		user, user2, global []string // lines; nil leaves the file missing
		host                string
		port                int
		alias               string
		strict              string
		key                 ssh.PublicKey
		want                Kind // 0: accepted
		wantMsg             string
		wantWarn            bool
	}{
		{name: "known plain port 22", user: []string{entry("web1.example.com", edA)},
			host: "web1.example.com", key: edA},
		{name: "comments and several names on a line",
			user: []string{"# fleet test", "", "   ", entry("db1,web1.example.com,10.0.0.1", edA)},
			host: "10.0.0.1", key: edA},
		{name: "known rsa", user: []string{entry("web1.example.com", rsaA)},
			host: "web1.example.com", key: rsaA},
		{name: "known hashed port 22", user: []string{hashed("web1.example.com:22", edA)},
			host: "web1.example.com", port: 22, key: edA},
		{name: "known hashed non-22 port", user: []string{hashed("127.0.0.5:2222", edA)},
			host: "127.0.0.5", port: 2222, key: edA},
		{name: "bracketed entry for its port", user: []string{entry("[127.0.0.5]:2222", edA)},
			host: "127.0.0.5", port: 2222, key: edA},
		{name: "bracketed entry does not cover port 22", user: []string{entry("[127.0.0.5]:2222", edA)},
			host: "127.0.0.5", port: 22, key: edA, want: Unknown},
		{name: "plain entry with the same key covers another port", user: []string{entry("127.0.0.5", edA)},
			host: "127.0.0.5", port: 2222, key: edA},
		{name: "plain entry with another key does not cover another port", user: []string{entry("127.0.0.5", edA)},
			host: "127.0.0.5", port: 2222, key: edB, want: Unknown},
		{name: "second user file", user: []string{entry("other", edB)}, user2: []string{entry("web1.example.com", edA)},
			host: "web1.example.com", key: edA},
		{name: "global file", global: []string{entry("web1.example.com", edA)},
			host: "web1.example.com", key: edA},
		{name: "wildcard", user: []string{entry("*.example.com", edA)},
			host: "web1.example.com", key: edA},
		{name: "negated name", user: []string{entry("*.example.com,!web1.example.com", edA)},
			host: "web1.example.com", key: edA, want: Unknown},
		{name: "alias looked up without port", user: []string{entry("myalias", edA)},
			host: "127.0.0.5", port: 2222, alias: "myalias", key: edA},
		{name: "alias written with a port names that entry, as ssh reads it", user: []string{entry("[10.0.0.5]:2222", edA)},
			host: "127.0.0.5", port: 22, alias: "[10.0.0.5]:2222", key: edA},
		{name: "alias replaces the host name", user: []string{entry("[127.0.0.5]:2222", edA)},
			host: "127.0.0.5", port: 2222, alias: "myalias", key: edA, want: Unknown,
			wantMsg: "host key for myalias is not known"},

		{name: "revoked under yes", user: []string{"@revoked * " + keyText(edA), entry("web1.example.com", edA)},
			host: "web1.example.com", key: edA, want: Revoked, wantMsg: "is revoked"},
		{name: "revoked under no", user: []string{entry("web1.example.com", edA)}, global: []string{"@revoked web1.example.com " + keyText(edA)},
			host: "web1.example.com", strict: "no", key: edA, want: Revoked},
		{name: "revoked under accept-new", global: []string{"@revoked * " + keyText(edA)},
			host: "web1.example.com", strict: "accept-new", key: edA, want: Revoked},

		{name: "unknown under yes", user: []string{entry("other", edA)},
			host: "web1.example.com", strict: "yes", key: edA, want: Unknown},
		{name: "unknown under ask", host: "web1.example.com", strict: "ask", key: edA, want: Unknown},
		{name: "unknown under default", host: "web1.example.com", key: edA, want: Unknown},
		{name: "unknown under no", host: "web1.example.com", strict: "no", key: edA},

		{name: "changed under yes", user: []string{entry("web1.example.com", edA)},
			host: "web1.example.com", strict: "yes", key: edB, want: Changed, wantMsg: "has changed"},
		{name: "changed in global file under accept-new", global: []string{entry("web1.example.com", edA)},
			host: "web1.example.com", strict: "accept-new", key: edB, want: Changed},
		{name: "changed under no", user: []string{entry("web1.example.com", edA)},
			host: "web1.example.com", strict: "no", key: edB, wantWarn: true},
		{name: "rsa among several types", user: []string{entry("web1.example.com", edA), entry("web1.example.com", rsaA)},
			host: "web1.example.com", key: rsaA},
		{name: "known only by other types", user: []string{entry("web1.example.com", ecA)},
			host: "web1.example.com", strict: "accept-new", key: edA, want: Changed,
			wantMsg: "known_hosts has only ecdsa-sha2-nistp256 keys for it"},

		{name: "certificate from a known CA", user: []string{"@cert-authority *.example.com " + keyText(ca)},
			host: "web1.example.com", key: webCert},
		{name: "certificate for another name", user: []string{"@cert-authority *.example.com " + keyText(ca)},
			host: "web1.example.com", key: otherCert, want: Unknown, wantMsg: "its certificate was not accepted"},
		{name: "CA line does not vouch for the CA's plain key", user: []string{"@cert-authority *.example.com " + keyText(ca)},
			host: "web1.example.com", key: ca, want: Unknown},
		{name: "certificate from a revoked CA", user: []string{"@cert-authority *.example.com " + keyText(ca), "@revoked * " + keyText(ca)},
			host: "web1.example.com", key: webCert, want: Revoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			user, user2, global := filepath.Join(dir, "u1"), filepath.Join(dir, "u2"), filepath.Join(dir, "g")
			for f, lines := range map[string][]string{user: tt.user, user2: tt.user2, global: tt.global} {
				if lines != nil {
					writeFile(t, f, lines...)
				}
			}
			var warnings []string
			c, err := New(Options{
				Host: tt.host, Port: tt.port, HostKeyAlias: tt.alias,
				UserFiles: []string{user, user2}, GlobalFiles: []string{global},
				Strict: tt.strict,
				Warn:   func(s string) { warnings = append(warnings, s) },
			})
			if err != nil {
				t.Fatal(err)
			}
			err = c.Callback()("ignored:22", nil, tt.key)
			if got := kindOf(err); got != tt.want || (tt.want == 0 && err != nil) {
				t.Fatalf("callback = %v (kind %v), want kind %v", err, got, tt.want)
			}
			if tt.wantMsg != "" && (err == nil || !strings.Contains(err.Error(), tt.wantMsg)) {
				t.Errorf("error %q does not contain %q", err, tt.wantMsg)
			}
			if err != nil && diag.Hint(err) == "" {
				t.Errorf("error %q has no hint", err)
			}
			if got := len(warnings) == 1; got != tt.wantWarn || len(warnings) > 1 {
				t.Errorf("warnings = %q, want a warning: %v", warnings, tt.wantWarn)
			}
			// Nothing in this table may write: accept-new only writes for
			// unknown hosts.
			if tt.user == nil {
				if _, err := os.Stat(user); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("user known_hosts was written (stat: %v)", err)
				}
			}
		})
	}
}

func TestErrorMessages(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	known := filepath.Join(home, ".ssh", "known_hosts")
	edA, edB := newEd25519(t).PublicKey(), newEd25519(t).PublicKey()
	writeFile(t, known, "# header", entry("[127.0.0.9]:2222", edA), entry("web1", edA))

	tests := []struct {
		name     string
		opts     Options
		key      ssh.PublicKey
		kind     Kind
		msg      string
		hint     string
		knownLen int
	}{
		{
			name: "unknown on a non-standard port",
			opts: Options{Host: "127.0.0.5", Port: 2222},
			key:  edB, kind: Unknown,
			msg:  "host key for [127.0.0.5]:2222 is not known (ssh-ed25519 " + ssh.FingerprintSHA256(edB) + ")",
			hint: "verify the key, then add it: ssh-keyscan -p 2222 127.0.0.5 >> ~/.ssh/known_hosts (or set StrictHostKeyChecking accept-new)",
		},
		{
			name: "unknown on port 22",
			opts: Options{Host: "web2", Port: 22},
			key:  edB, kind: Unknown,
			msg:  "host key for web2 is not known (ssh-ed25519 " + ssh.FingerprintSHA256(edB) + ")",
			hint: "verify the key, then add it: ssh-keyscan web2 >> ~/.ssh/known_hosts (or set StrictHostKeyChecking accept-new)",
		},
		{
			name: "unknown alias",
			opts: Options{Host: "127.0.0.5", Port: 2222, HostKeyAlias: "box"},
			key:  edB, kind: Unknown,
			msg:  "host key for box is not known (ssh-ed25519 " + ssh.FingerprintSHA256(edB) + ")",
			hint: "verify the key, then add it: echo '" + entry("box", edB) + "' >> ~/.ssh/known_hosts (or set StrictHostKeyChecking accept-new)",
		},
		{
			name: "changed",
			opts: Options{Host: "127.0.0.9", Port: 2222},
			key:  edB, kind: Changed, knownLen: 1,
			msg: "host key for [127.0.0.9]:2222 has changed: the server presented ssh-ed25519 " + ssh.FingerprintSHA256(edB) +
				", but ~/.ssh/known_hosts:2 has " + ssh.FingerprintSHA256(edA) + " (someone may be intercepting the connection, or the host was reinstalled)",
			hint: "if the host was reinstalled, remove the old key: ssh-keygen -R '[127.0.0.9]:2222' -f ~/.ssh/known_hosts",
		},
		{
			name: "changed on port 22",
			opts: Options{Host: "web1"},
			key:  edB, kind: Changed, knownLen: 1,
			hint: "if the host was reinstalled, remove the old key: ssh-keygen -R web1 -f ~/.ssh/known_hosts",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := tt.opts
			opts.UserFiles = []string{known, filepath.Join(home, ".ssh", "known_hosts2")}
			opts.GlobalFiles = []string{"/nonexistent/ssh_known_hosts"}
			c, err := New(opts)
			if err != nil {
				t.Fatal(err)
			}
			err = c.Callback()("", nil, tt.key)
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("callback = %v, want *Error", err)
			}
			if e.Kind != tt.kind {
				t.Errorf("Kind = %v, want %v", e.Kind, tt.kind)
			}
			if tt.msg != "" && e.Error() != tt.msg {
				t.Errorf("message\n got %q\nwant %q", e.Error(), tt.msg)
			}
			if e.Hint != tt.hint || diag.Hint(err) != tt.hint {
				t.Errorf("hint\n got %q\nwant %q", e.Hint, tt.hint)
			}
			if len(e.Known) != tt.knownLen {
				t.Errorf("Known = %v, want %d entries", e.Known, tt.knownLen)
			}
			if len(e.Files) != 3 || e.Files[0] != known {
				t.Errorf("Files = %q", e.Files)
			}
			if !slices.Equal(e.Key.Marshal(), tt.key.Marshal()) {
				t.Errorf("Key is not the presented key")
			}
		})
	}
}

func TestWarnUnderNo(t *testing.T) {
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	edA, edB := newEd25519(t).PublicKey(), newEd25519(t).PublicKey()
	writeFile(t, known, entry("web1", edA))
	var warnings []string
	c, err := New(Options{Host: "web1", UserFiles: []string{known}, Strict: "no", Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Callback()("", nil, edB); err != nil {
		t.Fatalf("changed key under no: %v, want accepted", err)
	}
	want := "WARNING: host key for web1 has changed"
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], want) || !strings.HasSuffix(warnings[0], "connecting anyway because StrictHostKeyChecking is no") {
		t.Errorf("warnings = %q, want one starting %q", warnings, want)
	}
	b, _ := os.ReadFile(known)
	if strings.Count(string(b), "\n") != 1 {
		t.Errorf("known_hosts was modified under no:\n%s", b)
	}
}

func TestCheckerErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad")
	writeFile(t, bad, "# ok", "web1 ssh-ed25519 not-base64!")
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad strict value", Options{Host: "h", Strict: "maybe"}, `hostkey: StrictHostKeyChecking "maybe" is not a known value`},
		{"accept-new without a user file", Options{Host: "h", Strict: "accept-new", GlobalFiles: []string{bad}}, "accept-new needs a user known_hosts file"},
		{"unparsable line", Options{Host: "h", UserFiles: []string{bad}}, bad + ":2:"},
		{"directory as file", Options{Host: "h", UserFiles: []string{dir}}, "is a directory"},
		{"no host", Options{}, "no host name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New = %v, want error containing %q", err, tt.want)
			}
		})
	}
}

// TestDBReadsOnce shows that a DB reads a list of files once: a second
// Checker for the same files still sees the contents after they are gone.
func TestDBReadsOnce(t *testing.T) {
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	edA := newEd25519(t).PublicKey()
	writeFile(t, known, entry("web1", edA), entry("web2", edA))
	db := NewDB()
	opts := Options{Host: "web1", UserFiles: []string{known}}
	if _, err := db.Checker(opts); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(known); err != nil {
		t.Fatal(err)
	}
	opts.Host = "web2"
	c, err := db.Checker(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Callback()("", nil, edA); err != nil {
		t.Errorf("web2 from the cached file: %v", err)
	}
	fresh, err := NewDB().Checker(opts)
	if err != nil {
		t.Fatal(err)
	}
	if kindOf(fresh.Callback()("", nil, edA)) != Unknown {
		t.Errorf("a new DB should read the (now missing) file again")
	}
}

func TestAlgorithms(t *testing.T) {
	ed, ec, rs := newEd25519(t).PublicKey(), newECDSA(t).PublicKey(), newRSA(t).PublicKey()
	dir := t.TempDir()
	known := filepath.Join(dir, "known_hosts")
	writeFile(t, known,
		entry("edonly", ed),
		entry("[multi]:2222", ec), entry("[multi]:2222", ed), entry("[multi]:2222", rs),
		entry("rsaonly", rs),
		"@cert-authority *.ca.example "+keyText(ed),
	)
	tests := []struct {
		host string
		port int
		want []string
	}{
		{"edonly", 22, []string{ssh.KeyAlgoED25519}},
		{"multi", 2222, []string{ssh.KeyAlgoECDSA256, ssh.KeyAlgoED25519, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{"rsaonly", 22, []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}},
		{"web.ca.example", 22, []string{ssh.CertAlgoED25519v01}},
		{"unknown", 22, nil},
		{"multi", 22, nil},
	}
	db := NewDB()
	for _, tt := range tests {
		c, err := db.Checker(Options{Host: tt.host, Port: tt.port, UserFiles: []string{known}})
		if err != nil {
			t.Fatal(err)
		}
		if got := c.Algorithms(); !slices.Equal(got, tt.want) {
			t.Errorf("Algorithms(%s:%d) = %q, want %q", tt.host, tt.port, got, tt.want)
		}
	}
}
