//go:build linux

package mux

import (
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// shortDir returns a directory with a short path: sun_path holds 108 bytes
// and t.TempDir's paths can be long.
func shortDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mx")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

func TestListen(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "ctl")
	l, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	fi, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode()&fs.ModeSocket == 0 || fi.Mode().Perm() != 0o600 {
		t.Errorf("socket mode = %v, want a socket with mode 0600", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only the socket (the temporary name must be gone)", names)
	}
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("connecting to the new socket: %v", err)
	}
	c.Close()
}

// TestListenRace is OpenSSH's race for the master: whoever links first
// wins, the other gets a typed error and leaves nothing behind.
func TestListenRace(t *testing.T) {
	dir := shortDir(t)
	path := filepath.Join(dir, "ctl")
	first, err := Listen(path)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	second, err := Listen(path)
	if err == nil {
		second.Close()
		t.Fatal("the second Listen on the same path succeeded")
	}
	var ee *ExistsError
	if !errors.As(err, &ee) || ee.Path != path || !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second Listen error = %#v (%v), want an *ExistsError for %s", err, err, path)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("the loser left %d entries in the directory, want only the winner's socket", len(entries))
	}
	// The winner still serves.
	c, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("the winner's socket: %v", err)
	}
	c.Close()
}

func TestListenPathTooLong(t *testing.T) {
	path := "/tmp/" + strings.Repeat("x", 90)
	l, err := Listen(path)
	if err == nil {
		l.Close()
		os.Remove(path)
		t.Fatal("Listen accepted a path with no room for the temporary suffix")
	}
	if !strings.Contains(err.Error(), "too long") {
		t.Errorf("error = %v, want it to say the path is too long", err)
	}
}

func TestPeerAllowed(t *testing.T) {
	a, _ := socketPair(t)
	if err := PeerAllowed(a); err != nil {
		t.Errorf("PeerAllowed for our own uid: %v", err)
	}
	err := (&PeerError{UID: 1234, Our: 1000}).Error()
	if !strings.Contains(err, "uid 1234") || !strings.Contains(err, "uid 1000") {
		t.Errorf("PeerError = %q, want both uids named", err)
	}
}
