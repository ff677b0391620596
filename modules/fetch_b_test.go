package modules

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFetch(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	remote := filepath.Join(f.home, "log", "app.log")
	bWrite(t, remote, "line 1\n", 0o600)
	if err := os.Mkdir(filepath.Join(f.home, "adir"), 0o755); err != nil {
		t.Fatal(err)
	}
	out := t.TempDir()
	notFlat := filepath.Join(out, "h1", remote)

	steps := []struct {
		name    string
		args    map[string]any
		mods    []func(*Call)
		before  func()
		changed bool
		skipped bool
		failMsg string
		local   string // the local file that must hold the remote content
		fields  map[string]any
	}{
		{name: "check mode is skipped", args: map[string]any{"src": remote, "dest": out}, mods: []func(*Call){bCheck},
			skipped: true},
		{name: "dest/host/path", args: map[string]any{"src": remote, "dest": out}, changed: true, local: notFlat,
			fields: map[string]any{"dest": notFlat, "checksum": "ff0b0b5a5412d4f120de1f902a1d84627fa6a42b",
				"remote_checksum": "ff0b0b5a5412d4f120de1f902a1d84627fa6a42b"}},
		{name: "again is ok", args: map[string]any{"src": remote, "dest": out}, local: notFlat,
			fields: map[string]any{"file": remote, "dest": notFlat}},
		{name: "a changed remote file is fetched again", args: map[string]any{"src": remote, "dest": out},
			before: func() { bWrite(t, remote, "line 1\nline 2\n", 0o600) }, changed: true, local: notFlat},
		{name: "flat to a file name", args: map[string]any{"src": remote, "dest": filepath.Join(out, "flat", "copy.log"), "flat": true},
			changed: true, local: filepath.Join(out, "flat", "copy.log")},
		{name: "flat into a directory", args: map[string]any{"src": remote, "dest": filepath.Join(out, "flat") + "/", "flat": "yes"},
			changed: true, local: filepath.Join(out, "flat", "app.log")},
		{name: "flat onto an existing directory", args: map[string]any{"src": remote, "dest": filepath.Join(out, "flat"), "flat": true},
			failMsg: "dest is an existing directory, use a trailing slash"},
		{name: "a relative dest is from the playbook's directory", args: map[string]any{"src": remote, "dest": "fetched/", "flat": true},
			changed: true, local: filepath.Join(pb, "fetched", "app.log")},
		{name: "a relative src is from the home directory", args: map[string]any{"src": "log/app.log", "dest": out},
			changed: true, local: filepath.Join(out, "h1", "log", "app.log")},
		{name: "missing file fails", args: map[string]any{"src": filepath.Join(f.home, "nope"), "dest": out},
			failMsg: "the remote file does not exist, not transferring, ignored"},
		{name: "missing file, fail_on_missing=no", args: map[string]any{"src": filepath.Join(f.home, "nope"), "dest": out, "fail_on_missing": false},
			fields: map[string]any{"file": filepath.Join(f.home, "nope")}},
		{name: "a directory fails", args: map[string]any{"src": filepath.Join(f.home, "adir"), "dest": out},
			failMsg: "remote file is a directory, fetch cannot work on directories"},
	}
	for _, s := range steps {
		if s.before != nil {
			s.before()
		}
		res := bRun(t, f, pb, "fetch", s.args, s.mods...)
		switch {
		case s.failMsg != "":
			if !res.Failed || !strings.Contains(res.Msg, s.failMsg) {
				t.Errorf("%s: failed=%v msg=%q, want a failure with %q", s.name, res.Failed, res.Msg, s.failMsg)
			}
			continue
		case res.Failed:
			t.Errorf("%s: failed: %s", s.name, res.Msg)
			continue
		case res.Changed != s.changed || res.Skipped != s.skipped:
			t.Errorf("%s: changed=%v skipped=%v, want %v %v", s.name, res.Changed, res.Skipped, s.changed, s.skipped)
		}
		if s.local != "" {
			want, _ := bFile(t, remote)
			if got, _ := bFile(t, s.local); got != want {
				t.Errorf("%s: %s holds %q, want %q", s.name, s.local, got, want)
			}
		}
		for k, want := range s.fields {
			if got := res.Fields[k]; got != want {
				t.Errorf("%s: result %s = %#v, want %#v", s.name, k, got, want)
			}
		}
	}
	if _, err := os.Stat(filepath.Join(out, "h1", f.home, "nope")); !os.IsNotExist(err) {
		t.Errorf("a missing file left something locally: %v", err)
	}
	if left := bLeftovers(t, out); len(left) > 0 {
		t.Errorf("temporary files left locally: %v", left)
	}
}

// TestFetchBecome reads a file only root may read, through sudo.
func TestFetchBecome(t *testing.T) {
	f := newUnprivilegedBConn(t)
	pb := t.TempDir()
	secret := filepath.Join(f.home, "secret")
	bWrite(t, secret, "root only\n", 0o600) // root's
	out := t.TempDir()
	res := bRun(t, f, pb, "fetch", map[string]any{"src": secret, "dest": out + "/", "flat": true})
	if !res.Failed || !strings.Contains(res.Msg, "not readable") {
		t.Errorf("without become: failed=%v msg=%q, want not readable", res.Failed, res.Msg)
	}
	res = bRun(t, f, pb, "fetch", map[string]any{"src": secret, "dest": out + "/", "flat": true}, bBecome)
	if res.Failed || !res.Changed {
		t.Fatalf("with become: failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
	}
	if got, _ := bFile(t, filepath.Join(out, "secret")); got != "root only\n" {
		t.Errorf("fetched %q", got)
	}
	res = bRun(t, f, pb, "fetch", map[string]any{"src": secret, "dest": out + "/", "flat": true}, bBecome)
	if res.Failed || res.Changed {
		t.Errorf("again with become: failed=%v changed=%v %s, want ok", res.Failed, res.Changed, res.Msg)
	}
}
