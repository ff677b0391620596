package modules

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestCopyFileSteps runs copy steps in order on one host, each checking
// the changed/ok decision and the remote file afterwards, as a playbook
// run twice would.
func TestCopyFileSteps(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	dest := filepath.Join(f.home, "etc", "app.conf")
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		t.Fatal(err)
	}
	// A local file with a mode unlike the host's umask gives.
	bWrite(t, filepath.Join(pb, "files", "app.conf"), "from src\n", 0o755)

	steps := []struct {
		name    string
		args    map[string]any
		mods    []func(*Call)
		changed bool
		content string
		mode    os.FileMode
		fields  map[string]any // fields the result must hold
	}{
		{name: "new file takes the host's umask", args: map[string]any{"content": "one\n"},
			changed: true, content: "one\n", mode: 0o640,
			fields: map[string]any{"dest": dest, "checksum": "c7059bb19433cc3cabaa6236c83d56668a843dd2", "mode": "0640", "state": "file", "size": int64(4)}},
		{name: "same again is ok", args: map[string]any{"content": "one\n"},
			content: "one\n", mode: 0o640, fields: map[string]any{"path": dest, "mode": "0640"}},
		{name: "new content", args: map[string]any{"content": "two\n"},
			changed: true, content: "two\n", mode: 0o640},
		{name: "mode only", args: map[string]any{"content": "two\n", "mode": "0600"},
			changed: true, content: "two\n", mode: 0o600, fields: map[string]any{"mode": "0600"}},
		{name: "mode as YAML's octal int", args: map[string]any{"content": "two\n", "mode": int64(0o600)},
			content: "two\n", mode: 0o600},
		{name: "no mode keeps the file's", args: map[string]any{"content": "three\n"},
			changed: true, content: "three\n", mode: 0o600},
		{name: "symbolic mode", args: map[string]any{"content": "three\n", "mode": "u=rw,g=r"},
			changed: true, content: "three\n", mode: 0o640},
		{name: "symbolic mode again", args: map[string]any{"content": "three\n", "mode": "u=rw,g=r"},
			content: "three\n", mode: 0o640},
		{name: "force=no leaves an existing file", args: map[string]any{"content": "four\n", "force": "no"},
			content: "three\n", mode: 0o640, fields: map[string]any{"dest": dest}},
		{name: "src file: content, not the local mode", args: map[string]any{"src": "app.conf"},
			changed: true, content: "from src\n", mode: 0o640},
		{name: "mode=preserve takes the local mode", args: map[string]any{"src": "app.conf", "mode": "preserve"},
			changed: true, content: "from src\n", mode: 0o755},
		{name: "check mode writes nothing", args: map[string]any{"content": "five\n"}, mods: []func(*Call){bCheck},
			changed: true, content: "from src\n", mode: 0o755},
		{name: "check mode, mode change", args: map[string]any{"src": "app.conf", "mode": "0644"}, mods: []func(*Call){bCheck},
			changed: true, content: "from src\n", mode: 0o755},
		{name: "check mode, nothing to do", args: map[string]any{"src": "app.conf"}, mods: []func(*Call){bCheck},
			content: "from src\n", mode: 0o755},
	}
	for _, s := range steps {
		args := map[string]any{"dest": dest}
		for k, v := range s.args {
			args[k] = v
		}
		res := bRun(t, f, pb, "copy", args, s.mods...)
		if res.Failed {
			t.Fatalf("%s: failed: %s", s.name, res.Msg)
		}
		if res.Changed != s.changed {
			t.Errorf("%s: changed = %v, want %v", s.name, res.Changed, s.changed)
		}
		content, mode := bFile(t, dest)
		if content != s.content || mode != s.mode {
			t.Errorf("%s: remote file is %q mode %04o, want %q mode %04o", s.name, content, mode, s.content, s.mode)
		}
		for k, want := range s.fields {
			if got := res.Fields[k]; got != want {
				t.Errorf("%s: result %s = %#v, want %#v", s.name, k, got, want)
			}
		}
	}
	if left := bLeftovers(t, f.home); len(left) > 0 {
		t.Errorf("temporary files left on the host: %v", left)
	}
}

// TestCopyIgnoresMtime: Ansible decides by content; a source touched
// since the last run is still ok.
func TestCopyIgnoresMtime(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	src := filepath.Join(pb, "files", "a")
	bWrite(t, src, "same\n", 0o644)
	dest := filepath.Join(f.home, "a")
	if res := bRun(t, f, pb, "copy", map[string]any{"src": "a", "dest": dest}); !res.Changed || res.Failed {
		t.Fatalf("first copy: %+v", res)
	}
	later := time.Now().Add(time.Hour)
	if err := os.Chtimes(src, later, later); err != nil {
		t.Fatal(err)
	}
	if res := bRun(t, f, pb, "copy", map[string]any{"src": "a", "dest": dest}); res.Changed || res.Failed {
		t.Errorf("copy after touching the source: changed=%v failed=%v %s, want ok", res.Changed, res.Failed, res.Msg)
	}
}

// TestCopyDest covers where a file lands and when copy refuses.
func TestCopyDest(t *testing.T) {
	pb := t.TempDir()
	bWrite(t, filepath.Join(pb, "files", "motd"), "hi\n", 0o644)
	tests := []struct {
		name    string
		setup   func(home string)
		args    func(home string) map[string]any
		want    string // the remote file written, relative to home; "" for none
		failMsg string // a substring of the failure
	}{
		{name: "existing dir gets dest/basename",
			setup: func(home string) { os.Mkdir(filepath.Join(home, "etc"), 0o755) },
			args: func(home string) map[string]any {
				return map[string]any{"src": "motd", "dest": filepath.Join(home, "etc")}
			},
			want: "etc/motd"},
		{name: "trailing slash makes the directories",
			args: func(home string) map[string]any {
				return map[string]any{"src": "motd", "dest": filepath.Join(home, "new", "sub") + "/"}
			},
			want: "new/sub/motd"},
		{name: "a relative dest is from the home directory",
			args: func(home string) map[string]any { return map[string]any{"src": "motd", "dest": "motd.copy"} },
			want: "motd.copy"},
		{name: "~/ is the home directory",
			args: func(home string) map[string]any { return map[string]any{"content": "hi\n", "dest": "~/tilde"} },
			want: "tilde"},
		{name: "missing parent without a slash",
			args: func(home string) map[string]any {
				return map[string]any{"src": "motd", "dest": filepath.Join(home, "nodir", "motd")}
			},
			failMsg: "Destination directory " + "HOME/nodir does not exist"},
		{name: "content into a directory",
			setup: func(home string) { os.Mkdir(filepath.Join(home, "d"), 0o755) },
			args: func(home string) map[string]any {
				return map[string]any{"content": "x", "dest": filepath.Join(home, "d")}
			},
			failMsg: "can not use content with a dir as dest"},
		{name: "content with a trailing slash",
			args:    func(home string) map[string]any { return map[string]any{"content": "x", "dest": home + "/"} },
			failMsg: "can not use content with a dir as dest"},
		{name: "src not found says where it looked",
			args:    func(home string) map[string]any { return map[string]any{"src": "nope", "dest": home + "/"} },
			failMsg: "Could not find or access 'nope'"},
		{name: "src and content",
			args: func(home string) map[string]any {
				return map[string]any{"src": "motd", "content": "x", "dest": home + "/x"}
			},
			failMsg: "src and content are mutually exclusive"},
		{name: "bad mode",
			args: func(home string) map[string]any {
				return map[string]any{"content": "x", "dest": home + "/x", "mode": "abc"}
			},
			failMsg: "mode must be in octal or symbolic form"},
		{name: "unknown argument",
			args: func(home string) map[string]any {
				return map[string]any{"content": "x", "dest": home + "/x", "remote_src": true}
			},
			failMsg: "Unsupported parameters for (copy) module: remote_src"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBConn(t)
			if tt.setup != nil {
				tt.setup(f.home)
			}
			res := bRun(t, f, pb, "copy", tt.args(f.home))
			if tt.failMsg != "" {
				want := strings.ReplaceAll(tt.failMsg, "HOME", f.home)
				if !res.Failed || !strings.Contains(res.Msg, want) {
					t.Fatalf("result failed=%v msg=%q, want a failure with %q", res.Failed, res.Msg, want)
				}
				return
			}
			if res.Failed || !res.Changed {
				t.Fatalf("result failed=%v changed=%v msg=%q, want changed", res.Failed, res.Changed, res.Msg)
			}
			p := filepath.Join(f.home, tt.want)
			if got, _ := bFile(t, p); got != "hi\n" {
				t.Errorf("%s holds %q, want %q", p, got, "hi\n")
			}
			if res.Fields["dest"] != p {
				t.Errorf("result dest = %v, want %s", res.Fields["dest"], p)
			}
		})
	}
}

// TestCopyTree copies directories with and without a trailing slash.
func TestCopyTree(t *testing.T) {
	pb := t.TempDir()
	files := filepath.Join(pb, "files")
	bWrite(t, filepath.Join(files, "site", "index.html"), "index\n", 0o600)
	bWrite(t, filepath.Join(files, "site", "css", "a.css"), "css\n", 0o755)
	if err := os.Mkdir(filepath.Join(files, "site", "empty"), 0o700); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name  string
		args  map[string]any
		want  map[string]os.FileMode // paths below dest and their modes; 0 for a directory checked elsewhere
		wantD map[string]os.FileMode // directories and their modes
	}{
		{name: "the directory itself", args: map[string]any{"src": "site"},
			want:  map[string]os.FileMode{"site/index.html": 0o640, "site/css/a.css": 0o640},
			wantD: map[string]os.FileMode{".": 0o750, "site": 0o750, "site/css": 0o750, "site/empty": 0o750}},
		{name: "its contents", args: map[string]any{"src": "site/"},
			want:  map[string]os.FileMode{"index.html": 0o640, "css/a.css": 0o640},
			wantD: map[string]os.FileMode{"css": 0o750, "empty": 0o750}},
		{name: "mode and directory_mode", args: map[string]any{"src": "site", "mode": "0604", "directory_mode": "0711"},
			want:  map[string]os.FileMode{"site/index.html": 0o604, "site/css/a.css": 0o604},
			wantD: map[string]os.FileMode{".": 0o711, "site": 0o711, "site/css": 0o711}},
		{name: "read-only directory_mode", args: map[string]any{"src": "site", "directory_mode": "0555"},
			want:  map[string]os.FileMode{"site/index.html": 0o640, "site/css/a.css": 0o640},
			wantD: map[string]os.FileMode{".": 0o555, "site": 0o555, "site/css": 0o555}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newBConn(t)
			dest := filepath.Join(f.home, "www")
			t.Cleanup(func() { bWritable(dest) })
			args := map[string]any{"dest": dest}
			for k, v := range tt.args {
				args[k] = v
			}
			res := bRun(t, f, pb, "copy", args)
			if res.Failed || !res.Changed {
				t.Fatalf("first run: failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
			}
			if res.Fields["dest"] != dest+"/" {
				t.Errorf("result dest = %v, want %s/", res.Fields["dest"], dest)
			}
			for rel, mode := range tt.want {
				if _, got := bFile(t, filepath.Join(dest, rel)); got != mode {
					t.Errorf("%s: mode %04o, want %04o", rel, got, mode)
				}
			}
			for rel, mode := range tt.wantD {
				st, err := os.Stat(filepath.Join(dest, rel))
				if err != nil || !st.IsDir() || st.Mode().Perm() != mode {
					t.Errorf("directory %s: %v %v, want mode %04o", rel, st, err, mode)
				}
			}
			if res := bRun(t, f, pb, "copy", args); res.Failed || res.Changed {
				t.Errorf("second run: failed=%v changed=%v %s, want ok", res.Failed, res.Changed, res.Msg)
			}
			if left := bLeftovers(t, f.home); len(left) > 0 {
				t.Errorf("temporary files left on the host: %v", left)
			}
		})
	}

	t.Run("an existing file keeps its mode; force=no adds only new files", func(t *testing.T) {
		f := newBConn(t)
		dest := filepath.Join(f.home, "www")
		bWrite(t, filepath.Join(dest, "index.html"), "old\n", 0o604)
		res := bRun(t, f, pb, "copy", map[string]any{"src": "site/", "dest": dest, "force": false})
		if res.Failed || !res.Changed {
			t.Fatalf("failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
		}
		if got, _ := bFile(t, filepath.Join(dest, "index.html")); got != "old\n" {
			t.Errorf("force=no replaced index.html with %q", got)
		}
		if got, _ := bFile(t, filepath.Join(dest, "css", "a.css")); got != "css\n" {
			t.Errorf("force=no did not add css/a.css: %q", got)
		}
		res = bRun(t, f, pb, "copy", map[string]any{"src": "site/", "dest": dest})
		if res.Failed || !res.Changed {
			t.Fatalf("failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
		}
		if got, mode := bFile(t, filepath.Join(dest, "index.html")); got != "index\n" || mode != 0o604 {
			t.Errorf("index.html is %q mode %04o, want the new content with its old mode 0604", got, mode)
		}
	})
}

// TestCopyBackup backs up the old file only when its content changes.
func TestCopyBackup(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	dest := filepath.Join(f.home, "conf")
	bWrite(t, dest, "old\n", 0o600)
	res := bRun(t, f, pb, "copy", map[string]any{"content": "new\n", "dest": dest, "backup": "yes"})
	if res.Failed || !res.Changed {
		t.Fatalf("failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
	}
	name, _ := res.Fields["backup_file"].(string)
	pattern := regexp.MustCompile(`^` + regexp.QuoteMeta(dest) + `\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$`)
	if !pattern.MatchString(name) {
		t.Fatalf("backup_file = %q, want dest.PID.YYYY-MM-DD@HH:MM:SS~", name)
	}
	if got, mode := bFile(t, name); got != "old\n" || mode != 0o600 {
		t.Errorf("backup holds %q mode %04o, want the old file with its mode", got, mode)
	}
	res = bRun(t, f, pb, "copy", map[string]any{"content": "new\n", "dest": dest, "backup": true, "mode": "0640"})
	if res.Failed || !res.Changed || res.Fields["backup_file"] != nil {
		t.Errorf("mode-only change: failed=%v changed=%v backup_file=%v, want changed and no backup", res.Failed, res.Changed, res.Fields["backup_file"])
	}
	matches, _ := filepath.Glob(dest + ".*~")
	if len(matches) != 1 {
		t.Errorf("backups: %v, want just the one", matches)
	}
}

// TestCopyDiff fills the diff with the old and new text, in check mode
// too, and leaves it out for binary content.
func TestCopyDiff(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	dest := filepath.Join(f.home, "conf")
	bWrite(t, dest, "old\n", 0o644)
	for _, mods := range [][]func(*Call){{bDiff, bCheck}, {bDiff}} {
		res := bRun(t, f, pb, "copy", map[string]any{"content": "new\n", "dest": dest}, mods...)
		if len(res.Diffs) != 1 {
			t.Fatalf("diffs: %+v, want one", res.Diffs)
		}
		d := res.Diffs[0]
		if d.Before != "old\n" || d.After != "new\n" || d.BeforeHeader != dest {
			t.Errorf("diff = %+v", d)
		}
	}
	res := bRun(t, f, pb, "copy", map[string]any{"content": "new\n", "dest": dest}, bDiff)
	if len(res.Diffs) != 0 || res.Changed {
		t.Errorf("unchanged file: changed=%v diffs %+v, want none", res.Changed, res.Diffs)
	}
	res = bRun(t, f, pb, "copy", map[string]any{"content": "a\x00b", "dest": filepath.Join(f.home, "bin")}, bDiff)
	if len(res.Diffs) != 0 || !res.Changed {
		t.Errorf("binary file: changed=%v diffs %+v, want changed and no diff", res.Changed, res.Diffs)
	}
	res = bRun(t, f, pb, "copy", map[string]any{"content": "fresh\n", "dest": filepath.Join(f.home, "fresh")}, bDiff)
	if len(res.Diffs) != 1 || res.Diffs[0].Before != "" || res.Diffs[0].BeforeHeader != "" || res.Diffs[0].After != "fresh\n" {
		t.Errorf("new file: diffs %+v, want an empty before", res.Diffs)
	}
}

// TestCopyContentValues writes non-string content as Ansible does.
func TestCopyContentValues(t *testing.T) {
	tests := []struct {
		content any
		want    string
	}{
		{map[string]any{"b": []any{int64(1), "é"}, "a": true}, `{"a": true, "b": [1, "\u00e9"]}`},
		{int64(42), "42"},
		{true, "True"},
		{1.0, "1.0"},
	}
	for _, tt := range tests {
		if got := copyContentText(tt.content); got != tt.want {
			t.Errorf("content %#v written as %q, want %q", tt.content, got, tt.want)
		}
	}
}

// TestParseCopyMode covers the forms a mode comes in.
func TestParseCopyMode(t *testing.T) {
	tests := []struct {
		in      any
		base    os.FileMode
		want    os.FileMode
		wantErr bool
	}{
		{in: int64(0o644), want: 0o644},
		{in: "0644", want: 0o644},
		{in: "644", want: 0o644},
		{in: "01777", want: 0o777 | os.ModeSticky},
		{in: "u=rw,g=r,o=", base: 0o777, want: 0o640},
		{in: "g+w", base: 0o644, want: 0o664},
		{in: "a-x", base: 0o755, want: 0o644},
		{in: "+x", wantErr: true}, // Ansible wants the who letters
		{in: "D755", wantErr: true},
		{in: "09", wantErr: true},
		{in: int64(0o17777), wantErr: true},
		{in: 1.5, wantErr: true},
	}
	for _, tt := range tests {
		m, err := parseCopyMode(tt.in, true)
		if tt.wantErr {
			if err == nil {
				t.Errorf("mode %#v: no error", tt.in)
			}
			continue
		}
		if err != nil {
			t.Errorf("mode %#v: %v", tt.in, err)
			continue
		}
		if got := m.apply(tt.base, false); got != tt.want {
			t.Errorf("mode %#v on %04o = %v, want %v", tt.in, tt.base, got, tt.want)
		}
	}
}

// TestCopyBecome writes where only root may, through sudo, and keeps the
// owner of a file it replaces.
func TestCopyBecome(t *testing.T) {
	f := newUnprivilegedBConn(t)
	pb := t.TempDir()
	secret := filepath.Join(f.home, "secret")
	if err := os.Mkdir(secret, 0o700); err != nil { // root's
		t.Fatal(err)
	}
	dest := filepath.Join(secret, "conf")
	res := bRun(t, f, pb, "copy", map[string]any{"content": "x\n", "dest": dest})
	if !res.Failed {
		t.Fatalf("copy into root's directory without become: %+v, want a failure", res)
	}
	res = bRun(t, f, pb, "copy", map[string]any{"content": "x\n", "dest": dest, "mode": "0600"}, bBecome)
	if res.Failed || !res.Changed {
		t.Fatalf("with become: failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
	}
	if got, mode := bFile(t, dest); got != "x\n" || mode != 0o600 {
		t.Errorf("written %q mode %04o", got, mode)
	}
	if res.Fields["owner"] != "root" || res.Fields["mode"] != "0600" {
		t.Errorf("result owner %v mode %v, want root 0600", res.Fields["owner"], res.Fields["mode"])
	}
	if res := bRun(t, f, pb, "copy", map[string]any{"content": "x\n", "dest": dest, "mode": "0600"}, bBecome); res.Failed || res.Changed {
		t.Errorf("second run with become: failed=%v changed=%v %s, want ok", res.Failed, res.Changed, res.Msg)
	}

	// A file owned by someone else keeps its owner when replaced.
	other := filepath.Join(f.home, "other")
	bWrite(t, other, "old\n", 0o644)
	if err := os.Chown(other, 1234, 1235); err != nil {
		t.Fatal(err)
	}
	res = bRun(t, f, pb, "copy", map[string]any{"content": "new\n", "dest": other}, bBecome)
	if res.Failed || !res.Changed {
		t.Fatalf("replacing another user's file: failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
	}
	st, err := os.Stat(other)
	if err != nil {
		t.Fatal(err)
	}
	if uid, gid := bOwner(st); uid != 1234 || gid != 1235 || st.Mode().Perm() != 0o644 {
		t.Errorf("replaced file is %d:%d mode %04o, want 1234:1235 0644", uid, gid, st.Mode().Perm())
	}
	if ran := f.commands(); !slices.ContainsFunc(ran, func(c string) bool { return strings.HasPrefix(c, "sudo ") }) {
		t.Errorf("no command went through sudo: %q", ran)
	}
}

// bLeftovers lists fleet's temporary files and directories under dir.
func bLeftovers(t *testing.T, dir string) []string {
	t.Helper()
	var left []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".fleet-") {
			left = append(left, p)
		}
		return nil
	})
	return left
}

// TestCopyCheckModeMissingDir: in check mode a directory an earlier task
// would have made is missing; as in Ansible, the copy is a change, not a
// failure, and nothing is made.
func TestCopyCheckModeMissingDir(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	bWrite(t, filepath.Join(pb, "files", "site", "index.html"), "x\n", 0o644)
	for _, args := range []map[string]any{
		{"content": "x\n", "dest": filepath.Join(f.home, "later", "conf")},
		{"content": "x\n", "dest": filepath.Join(f.home, "later") + "/conf"},
		{"src": "site", "dest": filepath.Join(f.home, "later")},
	} {
		res := bRun(t, f, pb, "copy", args, bCheck)
		if res.Failed || !res.Changed {
			t.Errorf("%v: failed=%v changed=%v %s, want changed", args, res.Failed, res.Changed, res.Msg)
		}
	}
	if _, err := os.Stat(filepath.Join(f.home, "later")); !os.IsNotExist(err) {
		t.Errorf("check mode made %s/later: %v", f.home, err)
	}
}

// TestCopyTreeBackup backs up, in a directory copy, each file whose
// content changes, and no other.
func TestCopyTreeBackup(t *testing.T) {
	f := newBConn(t)
	pb := t.TempDir()
	bWrite(t, filepath.Join(pb, "files", "conf", "a"), "new a\n", 0o644)
	bWrite(t, filepath.Join(pb, "files", "conf", "b"), "same b\n", 0o644)
	dest := filepath.Join(f.home, "etc")
	bWrite(t, filepath.Join(dest, "a"), "old a\n", 0o644)
	bWrite(t, filepath.Join(dest, "b"), "same b\n", 0o644)
	res := bRun(t, f, pb, "copy", map[string]any{"src": "conf/", "dest": dest, "backup": true})
	if res.Failed || !res.Changed {
		t.Fatalf("failed=%v changed=%v %s", res.Failed, res.Changed, res.Msg)
	}
	backups, _ := filepath.Glob(filepath.Join(dest, "*~"))
	if len(backups) != 1 || !strings.HasPrefix(filepath.Base(backups[0]), "a.") {
		t.Fatalf("backups %v, want one of a", backups)
	}
	if got, _ := bFile(t, backups[0]); got != "old a\n" {
		t.Errorf("backup holds %q", got)
	}
}

// bWritable makes the directories under dir writable again, so that a
// test's temporary directory can be removed.
func bWritable(dir string) {
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(p, 0o755)
		}
		return nil
	})
}
