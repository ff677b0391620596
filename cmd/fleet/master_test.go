package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// fleet's own socket path stays short enough for a socket however long the
// home directory is, falling back to a shorter name, then to the temp dir.
func TestFleetSocket(t *testing.T) {
	hash := strings.Repeat("ab", 20)
	for _, home := range []string{"/root", "/home/" + strings.Repeat("x", 30), "/home/" + strings.Repeat("y", 50), "/" + strings.Repeat("z", 120)} {
		t.Setenv("HOME", home)
		p := fleetSocket(hash)
		if len(p) > maxSocketPath {
			t.Errorf("HOME %d bytes: socket %q is %d bytes, over %d", len(home), p, len(p), maxSocketPath)
		}
		switch {
		case len(home) <= 30:
			if p != filepath.Join(home, ".fleet", "cm", hash) {
				t.Errorf("HOME %s: socket %q, want ~/.fleet/cm/%%C", home, p)
			}
		case len(home) > 100:
			if !strings.HasPrefix(p, os.TempDir()) {
				t.Errorf("HOME of %d bytes: socket %q, want one under the temp dir", len(home), p)
			}
		}
	}
	if fleetSocket("") != "none" {
		t.Errorf("no hash gives a socket")
	}
}

// socketDir refuses a symlink where fleet's own directory goes.
func TestSocketDirRefusesSymlink(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	elsewhere := t.TempDir()
	os.MkdirAll(filepath.Join(home, ".fleet"), 0o700)
	if err := os.Symlink(elsewhere, filepath.Join(home, ".fleet", "cm")); err != nil {
		t.Fatal(err)
	}
	err := socketDir(filepath.Join(home, ".fleet", "cm", "x"))
	if err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("socketDir through a symlink: %v", err)
	}
	os.Remove(filepath.Join(home, ".fleet", "cm"))
	if err := socketDir(filepath.Join(home, ".fleet", "cm", "x")); err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(filepath.Join(home, ".fleet", "cm")); fi.Mode().Perm() != 0o700 {
		t.Errorf("~/.fleet/cm has mode %v, want 0700", fi.Mode().Perm())
	}
}

// ControlPersist reaches the master as ssh -G prints it, in seconds.
func TestParsePersist(t *testing.T) {
	cases := map[string]time.Duration{"10m": 10 * time.Minute, "300": 5 * time.Minute, "yes": 0, "0": 0}
	for in, want := range cases {
		if got, err := parsePersist(in); err != nil || got != want {
			t.Errorf("parsePersist(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"no", "-5m", "soon"} {
		if _, err := parsePersist(bad); err == nil {
			t.Errorf("parsePersist(%q): no error", bad)
		}
	}
}
