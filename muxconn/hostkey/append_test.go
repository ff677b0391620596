package hostkey

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"
	xknownhosts "golang.org/x/crypto/ssh/knownhosts"
)

func readLines(t testing.TB, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
}

// TestAcceptNewSameHostConcurrently verifies one new host from 50
// goroutines spread over two DBs, which stand for two fleet processes: only
// the flock and the re-read under it keep them from both writing.
func TestAcceptNewSameHostConcurrently(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	key := newEd25519(t).PublicKey()
	dbs := []*DB{NewDB(), NewDB()}
	opts := Options{Host: "127.0.0.5", Port: 2222, UserFiles: []string{known}, Strict: "accept-new"}

	var wg sync.WaitGroup
	errs := make([]error, 50)
	for i := range errs {
		wg.Go(func() {
			c, err := dbs[i%2].Checker(opts)
			if err == nil {
				err = c.Callback()("127.0.0.5:2222", nil, key)
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("callbacks failed: %v", err)
	}
	want := entry("[127.0.0.5]:2222", key)
	if lines := readLines(t, known); !slices.Equal(lines, []string{want}) {
		t.Fatalf("known_hosts =\n%s\nwant the single line\n%s", strings.Join(lines, "\n"), want)
	}
	// The line parses back and verifies the host under yes.
	c, err := New(Options{Host: "127.0.0.5", Port: 2222, UserFiles: []string{known}, Strict: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Callback()("", nil, key); err != nil {
		t.Errorf("added key does not verify: %v", err)
	}
}

func TestAcceptNewManyHostsConcurrently(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	const n = 20
	keys := make([]ssh.PublicKey, n)
	hosts := make([]Options, n)
	for i := range n {
		keys[i] = newEd25519(t).PublicKey()
		if i%3 == 0 {
			keys[i] = newECDSA(t).PublicKey()
		}
		hosts[i] = Options{Host: fmt.Sprintf("10.1.0.%d", i+1), Port: 22 + i%2*2200, UserFiles: []string{known}, Strict: "accept-new"}
	}
	db := NewDB()
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			c, err := db.Checker(hosts[i])
			if err == nil {
				err = c.Callback()("", nil, keys[i])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("callbacks failed: %v", err)
	}

	lines := readLines(t, known)
	if len(lines) != n {
		t.Fatalf("known_hosts has %d lines, want %d:\n%s", len(lines), n, strings.Join(lines, "\n"))
	}
	for _, l := range lines {
		if f := strings.Fields(l); len(f) != 3 {
			t.Errorf("malformed line %q", l)
		}
	}
	cb, err := xknownhosts.New(known)
	if err != nil {
		t.Fatalf("known_hosts does not parse back: %v", err)
	}
	for i, h := range hosts {
		addr := fmt.Sprintf("%s:%d", h.Host, h.Port)
		if err := cb(addr, placeholderRemote, keys[i]); err != nil {
			t.Errorf("%s: %v", addr, err)
		}
	}
}

func TestAcceptNewCreatesDirectory(t *testing.T) {
	home := t.TempDir()
	known := filepath.Join(home, ".ssh", "known_hosts")
	key := newEd25519(t).PublicKey()
	var warnings []string
	c, err := New(Options{Host: "127.0.0.5", Port: 2222, UserFiles: []string{known}, Strict: "accept-new",
		Warn: func(s string) { warnings = append(warnings, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Callback()("", nil, key); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{filepath.Dir(known): os.ModeDir | 0o700, known: 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
	if lines := readLines(t, known); !slices.Equal(lines, []string{entry("[127.0.0.5]:2222", key)}) {
		t.Errorf("known_hosts = %q", lines)
	}
	if len(warnings) != 1 || !strings.HasPrefix(warnings[0], "permanently added [127.0.0.5]:2222 (ssh-ed25519) to ") {
		t.Errorf("warnings = %q", warnings)
	}
}

// TestAcceptNewInMemory shows that a key added during the run counts for
// later Checkers of the same DB, even ones reading a different file list.
func TestAcceptNewInMemory(t *testing.T) {
	dir := t.TempDir()
	known, global := filepath.Join(dir, "known_hosts"), filepath.Join(dir, "global")
	edA, edB := newEd25519(t).PublicKey(), newEd25519(t).PublicKey()
	writeFile(t, known, entry("other", edB))
	db := NewDB()
	opts := Options{Host: "web1", UserFiles: []string{known}, Strict: "accept-new"}
	first, err := db.Checker(opts)
	if err != nil {
		t.Fatal(err)
	}
	if got := first.Algorithms(); got != nil {
		t.Fatalf("Algorithms before adding = %q, want none", got)
	}
	if err := first.Callback()("", nil, edA); err != nil {
		t.Fatal(err)
	}
	if got := first.Algorithms(); !slices.Equal(got, []string{ssh.KeyAlgoED25519}) {
		t.Errorf("Algorithms after adding = %q", got)
	}

	err = first.Callback()("", nil, edB)
	var e *Error
	if !errors.As(err, &e) || e.Kind != Changed || !strings.Contains(e.Error(), "(added during this run)") {
		t.Fatalf("another key for the added host = %v, want a Changed error naming this run", err)
	}

	opts.GlobalFiles = []string{global} // a file list the DB has not read yet
	second, err := db.Checker(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := second.Callback()("", nil, edA); err != nil {
		t.Errorf("same key again: %v", err)
	}
	if got := kindOf(second.Callback()("", nil, edB)); got != Changed {
		t.Errorf("another key, new file list: kind %v, want Changed", got)
	}
	if lines := readLines(t, known); len(lines) != 2 {
		t.Errorf("known_hosts has %d lines, want 2:\n%s", len(lines), strings.Join(lines, "\n"))
	}
}

// TestAcceptNewRereadsUnderLock covers another process adding the host
// after this DB read the file.
func TestAcceptNewRereadsUnderLock(t *testing.T) {
	edA, edB := newEd25519(t).PublicKey(), newEd25519(t).PublicKey()
	tests := []struct {
		name      string
		written   ssh.PublicKey // what the other process adds
		want      Kind
		wantLines int
	}{
		{"same key", edA, 0, 2},
		{"different key", edB, Changed, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			known := filepath.Join(t.TempDir(), "known_hosts")
			// No trailing newline: an append must start a new line.
			if err := os.WriteFile(known, []byte("# no newline"), 0o600); err != nil {
				t.Fatal(err)
			}
			c, err := New(Options{Host: "web1", UserFiles: []string{known}, Strict: "accept-new"})
			if err != nil {
				t.Fatal(err)
			}
			f, err := os.OpenFile(known, os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(f, "\n%s\n", entry("web1", tt.written))
			f.Close()

			if got := kindOf(c.Callback()("", nil, edA)); got != tt.want {
				t.Errorf("kind = %v, want %v", got, tt.want)
			}
			if lines := readLines(t, known); len(lines) != tt.wantLines {
				t.Errorf("known_hosts has %d lines, want %d:\n%s", len(lines), tt.wantLines, strings.Join(lines, "\n"))
			}
		})
	}
}

func TestAcceptNewAddsNewline(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	key := newEd25519(t).PublicKey()
	if err := os.WriteFile(known, []byte("# no newline"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{Host: "web1", UserFiles: []string{known}, Strict: "accept-new"})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Callback()("", nil, key); err != nil {
		t.Fatal(err)
	}
	if lines := readLines(t, known); !slices.Equal(lines, []string{"# no newline", entry("web1", key)}) {
		t.Errorf("known_hosts = %q", lines)
	}
}

func TestAcceptNewWriteFailure(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "ssh")
	writeFile(t, blocker, "# a file where the directory should be")
	c, err := New(Options{Host: "web1", UserFiles: []string{filepath.Join(blocker, "known_hosts")}, Strict: "accept-new"})
	if err != nil {
		t.Fatal(err)
	}
	err = c.Callback()("", nil, newEd25519(t).PublicKey())
	if err == nil || !strings.Contains(err.Error(), "cannot add the host key for web1") {
		t.Fatalf("callback = %v, want an error saying the key could not be added", err)
	}
}

// HashKnownHosts: the added line's host name is hashed, and a new DB (the
// next run) accepts the host from it under StrictHostKeyChecking yes.
func TestAcceptNewHashed(t *testing.T) {
	known := filepath.Join(t.TempDir(), "known_hosts")
	key := newEd25519(t).PublicKey()
	c, err := New(Options{Host: "127.0.0.5", Port: 2222, UserFiles: []string{known}, Strict: "accept-new", Hash: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Callback()("", nil, key); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, known)
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "|1|") || strings.Contains(lines[0], "127.0.0.5") {
		t.Fatalf("known_hosts = %q, want one hashed entry", lines)
	}
	strict, err := New(Options{Host: "127.0.0.5", Port: 2222, UserFiles: []string{known}, Strict: "yes"})
	if err != nil {
		t.Fatal(err)
	}
	if err := strict.Callback()("", nil, key); err != nil {
		t.Errorf("the hashed entry does not verify: %v", err)
	}
}
