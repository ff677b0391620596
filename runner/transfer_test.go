package runner_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/runner"
	"fleetrun.dev/fleet/transfer"
)

// fileRecorder is a recorder that also keeps file events.
type fileRecorder struct {
	*recorder
	fmu   sync.Mutex
	files []report.FileResult
}

func (r *fileRecorder) File(f report.FileResult) {
	r.fmu.Lock()
	r.files = append(r.files, f)
	r.fmu.Unlock()
}

// actions returns "action path" for one host's events, sorted, with paths
// relative to base.
func (r *fileRecorder) actions(host, base string) []string {
	r.fmu.Lock()
	defer r.fmu.Unlock()
	var out []string
	for _, f := range r.files {
		if f.Host == host {
			rel, _ := filepath.Rel(base, f.Path)
			out = append(out, string(f.Action)+" "+filepath.ToSlash(rel))
		}
	}
	sort.Strings(out)
	return out
}

func writeFile(t *testing.T, p, content string, mode fs.FileMode, mtime time.Time) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(p, mtime, mtime); err != nil {
		t.Fatal(err)
	}
}

// sameTree fails unless every file under want has a copy under got with the
// same content, mode and mtime, and links the same target.
func sameTree(t *testing.T, want, got string) {
	t.Helper()
	err := filepath.WalkDir(want, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		q := filepath.Join(got, rel)
		wi, _ := os.Lstat(p)
		gi, err := os.Lstat(q)
		if err != nil {
			t.Errorf("%s: missing: %v", rel, err)
			return nil
		}
		switch {
		case wi.Mode()&fs.ModeSymlink != 0:
			wl, _ := os.Readlink(p)
			gl, _ := os.Readlink(q)
			if gi.Mode()&fs.ModeSymlink == 0 || wl != gl {
				t.Errorf("%s: link to %q, want a link to %q", rel, gl, wl)
			}
		case wi.Mode().IsRegular():
			a, _ := os.ReadFile(p)
			b, _ := os.ReadFile(q)
			if sha256.Sum256(a) != sha256.Sum256(b) {
				t.Errorf("%s: content differs", rel)
			}
			if wi.Mode() != gi.Mode() {
				t.Errorf("%s: mode %v, want %v", rel, gi.Mode(), wi.Mode())
			}
			if !gi.ModTime().Equal(wi.ModTime().Truncate(time.Second)) {
				t.Errorf("%s: mtime %v, want %v", rel, gi.ModTime(), wi.ModTime())
			}
		case wi.IsDir() && rel != ".":
			if wi.Mode() != gi.Mode() {
				t.Errorf("%s/: mode %v, want %v", rel, gi.Mode(), wi.Mode())
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// noTemps fails if a temp file of fleet's is left under dir.
func noTemps(t *testing.T, dir string) {
	t.Helper()
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".fleet-") {
			t.Errorf("temp file left behind: %s", p)
		}
		return nil
	})
}

func TestPushAndPull(t *testing.T) {
	hosts, _ := labHosts(t, 3)
	src := t.TempDir()
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(src, "site", "index.html"), "<h1>hi</h1>\n", 0o644, when)
	writeFile(t, filepath.Join(src, "site", "run.sh"), "#!/bin/sh\necho hi\n", 0o750, when.Add(time.Hour))
	writeFile(t, filepath.Join(src, "site", "deep", "er", "x.txt"), "x", 0o600, when)
	writeFile(t, filepath.Join(src, "site", "same-size.txt"), "aaaa", 0o644, when)
	// Absolute: pkg/sftp's server (the lab host's) rewrites relative link targets.
	if err := os.Symlink("/srv/elsewhere/index.html", filepath.Join(src, "site", "link")); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(src, "site", "deep"), 0o711)

	base := t.TempDir()
	dests := map[string]string{}
	for _, h := range hosts {
		dests[h.Name] = filepath.Join(base, h.Name) + "/"
	}
	scan := func() *transfer.Source {
		s, err := transfer.Scan([]string{filepath.Join(src, "site")}, false)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	push := func(opts transfer.PushOptions) (*runner.Outcome, *fileRecorder) {
		rec := &fileRecorder{recorder: newRecorder()}
		o := runner.Push(context.Background(), newPool(t), hosts, runner.PushOptions{Source: scan(), Dests: dests, Push: opts, Sink: rec})
		return o, rec
	}
	stats := func(rec *fileRecorder, host string) report.TransferStats {
		r := rec.hosts[host]
		if r.Transfer == nil {
			t.Fatalf("%s: no transfer stats in %+v", host, r)
		}
		return *r.Transfer
	}

	// A dry run writes nothing.
	o, rec := push(transfer.PushOptions{DryRun: true})
	if o.ExitCode() != 0 {
		t.Fatalf("dry run: exit %d: %+v", o.ExitCode(), rec.hosts)
	}
	if _, err := os.Stat(filepath.Join(base, "h0")); !os.IsNotExist(err) {
		t.Fatalf("dry run created the destination: %v", err)
	}
	if st := stats(rec, "h0"); st.Changed != 5 || st.Bytes != 35 || !st.DryRun {
		t.Errorf("dry run stats %+v, want 5 to change, 35 bytes to send", st)
	}

	// The first push copies everything.
	o, rec = push(transfer.PushOptions{})
	if o.ExitCode() != 0 {
		t.Fatalf("push: exit %d: %+v", o.ExitCode(), rec.hosts)
	}
	for _, h := range hosts {
		sameTree(t, filepath.Join(src, "site"), filepath.Join(base, h.Name, "site"))
		noTemps(t, filepath.Join(base, h.Name))
		if st := stats(rec, h.Name); st.Changed != 5 || st.Unchanged != 0 || st.Bytes != 12+18+1+4 {
			t.Errorf("%s: first push stats %+v", h.Name, st)
		}
	}

	// The second sends nothing.
	o, rec = push(transfer.PushOptions{})
	if o.ExitCode() != 0 {
		t.Fatalf("second push: exit %d", o.ExitCode())
	}
	for _, h := range hosts {
		if st := stats(rec, h.Name); st.Changed != 0 || st.Unchanged != 5 || st.Bytes != 0 {
			t.Errorf("%s: unchanged push stats %+v", h.Name, st)
		}
	}

	// Same size, new content; a new mode only; an extra remote file.
	writeFile(t, filepath.Join(src, "site", "same-size.txt"), "bbbb", 0o644, when)
	os.Chmod(filepath.Join(src, "site", "index.html"), 0o640)
	writeFile(t, filepath.Join(base, "h1", "site", "stray.txt"), "old", 0o644, when)
	writeFile(t, filepath.Join(base, "h1", "beside-the-tree.txt"), "keep", 0o644, when)
	o, rec = push(transfer.PushOptions{Delete: true})
	if o.ExitCode() != 0 {
		t.Fatalf("third push: exit %d: %+v", o.ExitCode(), rec.hosts)
	}
	want := []string{"metadata site/index.html", "updated site/same-size.txt"}
	if got := rec.actions("h0", filepath.Join(base, "h0")); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("h0 actions %q, want %q", got, want)
	}
	want = append(want, "deleted site/stray.txt")
	sort.Strings(want)
	if got := rec.actions("h1", filepath.Join(base, "h1")); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("h1 actions %q, want %q", got, want)
	}
	for _, h := range hosts {
		sameTree(t, filepath.Join(src, "site"), filepath.Join(base, h.Name, "site"))
	}
	if _, err := os.Stat(filepath.Join(base, "h1", "beside-the-tree.txt")); err != nil {
		t.Errorf("--delete removed a file beside the copied tree: %v", err)
	}

	// A file where a directory would go fails that path only; the host
	// fails, the others don't.
	os.RemoveAll(filepath.Join(base, "h2", "site", "deep"))
	writeFile(t, filepath.Join(base, "h2", "site", "deep"), "in the way", 0o644, when)
	o, rec = push(transfer.PushOptions{})
	if o.ExitCode() != runner.ExitFailed || len(o.Failed) != 1 || o.Failed[0] != "h2" {
		t.Fatalf("blocked push: exit %d, failed %v", o.ExitCode(), o.Failed)
	}
	if r := rec.hosts["h2"]; r.Transfer.Failed == 0 {
		t.Errorf("h2: %+v", r.Transfer)
	}
	os.Remove(filepath.Join(base, "h2", "site", "deep"))

	// Pull it all back, into one directory per host.
	back := t.TempDir()
	pull := func() (*runner.Outcome, *fileRecorder) {
		rec := &fileRecorder{recorder: newRecorder()}
		srcs, dests := map[string]string{}, map[string]string{}
		for _, h := range hosts[:2] {
			srcs[h.Name] = filepath.Join(base, h.Name, "site")
			dests[h.Name] = filepath.Join(back, h.Name)
		}
		o := runner.Pull(context.Background(), newPool(t), hosts[:2], runner.PullOptions{Srcs: srcs, Dests: dests, Sink: rec})
		return o, rec
	}
	o, rec = pull()
	if o.ExitCode() != 0 {
		t.Fatalf("pull: exit %d: %+v", o.ExitCode(), rec.hosts)
	}
	for _, h := range hosts[:2] {
		sameTree(t, filepath.Join(src, "site"), filepath.Join(back, h.Name, "site"))
		noTemps(t, filepath.Join(back, h.Name))
	}
	o, rec = pull()
	if st := stats(rec, "h0"); o.ExitCode() != 0 || st.Changed != 0 || st.Bytes != 0 {
		t.Errorf("second pull: exit %d, stats %+v", o.ExitCode(), st)
	}
}

func TestPushSingleFile(t *testing.T) {
	hosts, _ := labHosts(t, 1)
	src := t.TempDir()
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	writeFile(t, filepath.Join(src, "app.conf"), "port = 80\n", 0o644, when)
	base := t.TempDir()
	cases := []struct {
		dest, want string
	}{
		{filepath.Join(base, "renamed.conf"), filepath.Join(base, "renamed.conf")},
		{base, filepath.Join(base, "app.conf")},
		{filepath.Join(base, "new") + "/", filepath.Join(base, "new", "app.conf")},
	}
	for _, c := range cases {
		s, err := transfer.Scan([]string{filepath.Join(src, "app.conf")}, false)
		if err != nil {
			t.Fatal(err)
		}
		rec := &fileRecorder{recorder: newRecorder()}
		o := runner.Push(context.Background(), newPool(t), hosts, runner.PushOptions{
			Source: s, Dests: map[string]string{hosts[0].Name: c.dest}, Sink: rec,
			Push: transfer.PushOptions{Chmod: mustChmod(t, "u=rw,go=")},
		})
		if o.ExitCode() != 0 {
			t.Fatalf("push to %s: exit %d: %+v", c.dest, o.ExitCode(), rec.hosts)
		}
		fi, err := os.Stat(c.want)
		if err != nil {
			t.Fatalf("push to %s: %v", c.dest, err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("push to %s: mode %v, want 0600 from --chmod", c.dest, fi.Mode())
		}
	}
}

func mustChmod(t *testing.T, spec string) transfer.ModeSpec {
	m, err := transfer.ParseChmod(spec)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// progressFunc calls a function as bytes go out.
type progressFunc func(sent int64)

func (f progressFunc) AddTotal(int64) {}
func (f progressFunc) HostDone()      {}
func (f progressFunc) Add(n int64)    { f(n) }

// An interrupted push, and one whose connection dies, leave the old file
// whole and no temp file behind.
func TestPushInterruptedOrLost(t *testing.T) {
	for _, how := range []string{"interrupted", "connection lost"} {
		t.Run(how, func(t *testing.T) {
			hosts, servers := labHosts(t, 1)
			src := t.TempDir()
			big := make([]byte, 32<<20)
			for i := range big {
				big[i] = byte(i * 7)
			}
			if err := os.WriteFile(filepath.Join(src, "big.bin"), big, 0o644); err != nil {
				t.Fatal(err)
			}
			dest := t.TempDir()
			writeFile(t, filepath.Join(dest, "big.bin"), "old", 0o644, time.Now())
			s, err := transfer.Scan([]string{filepath.Join(src, "big.bin")}, false)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var sent int64
			var once sync.Once
			stop := func(n int64) {
				// Called from the copying goroutines; stop once a
				// quarter is out.
				if sent += n; sent > 8<<20 {
					once.Do(func() {
						if how == "interrupted" {
							cancel()
						} else {
							servers[0].KillConnections()
						}
					})
				}
			}
			var mu sync.Mutex
			rec := &fileRecorder{recorder: newRecorder()}
			o := runner.Push(ctx, newPool(t), hosts, runner.PushOptions{
				Source: s, Dests: map[string]string{hosts[0].Name: dest + "/"}, Sink: rec,
				Progress: progressFunc(func(n int64) { mu.Lock(); stop(n); mu.Unlock() }),
			})
			switch how {
			case "interrupted":
				if !o.Interrupted || o.ExitCode() != runner.ExitInterrupted {
					t.Errorf("exit %d, interrupted %v; want 130", o.ExitCode(), o.Interrupted)
				}
			default:
				if o.ExitCode() != runner.ExitUnreachable {
					t.Errorf("exit %d, want 4: %+v", o.ExitCode(), rec.hosts)
				}
				if st := rec.hosts[hosts[0].Name].Transfer; st == nil || st.Changed != 0 {
					t.Errorf("a copy cut short counts as changed: %+v", st)
				}
			}
			if got, _ := os.ReadFile(filepath.Join(dest, "big.bin")); string(got) != "old" {
				t.Errorf("the destination holds %d bytes, want the old content", len(got))
			}
			noTemps(t, dest)
		})
	}
}

// Found in review: content is written where only its owner can read it,
// nothing is written through a remote symlink where a directory should be,
// and a read-only directory still gets its files.
func TestPushSafety(t *testing.T) {
	hosts, _ := labHosts(t, 1)
	h := hosts[0].Name
	src := t.TempDir()
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	big := make([]byte, 16<<20)
	if err := os.WriteFile(filepath.Join(src, "secret.bin"), big, 0o600); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "tree", "a", "b.txt"), "b", 0o644, when)
	writeFile(t, filepath.Join(src, "tree", "ro", "f.txt"), "f", 0o644, when)
	os.Chmod(filepath.Join(src, "tree", "ro"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(src, "tree", "ro"), 0o755) })
	dest := t.TempDir()
	outside := t.TempDir()
	os.MkdirAll(filepath.Join(dest, "tree"), 0o755)
	if err := os.Symlink(outside, filepath.Join(dest, "tree", "a")); err != nil {
		t.Fatal(err)
	}

	var seen []string
	var once sync.Once
	var mu sync.Mutex
	watch := progressFunc(func(int64) {
		mu.Lock()
		defer mu.Unlock()
		once.Do(func() {
			// Mid-copy: the content is in a private directory.
			filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
				// A staging directory is made, then made private, before
				// anything is written in it: judge those with content.
				if err == nil && d.IsDir() && strings.HasPrefix(d.Name(), ".fleet-") && !emptyDir(p) {
					fi, _ := d.Info()
					seen = append(seen, fmt.Sprintf("%s %v", d.Name()[:7], fi.Mode().Perm()))
				}
				if err == nil && !d.IsDir() && strings.Contains(p, "secret.bin") && !strings.Contains(p, "/.fleet-") {
					seen = append(seen, "bare "+p)
				}
				return nil
			})
		})
	})
	s, err := transfer.Scan([]string{filepath.Join(src, "secret.bin"), filepath.Join(src, "tree")}, false)
	if err != nil {
		t.Fatal(err)
	}
	rec := &fileRecorder{recorder: newRecorder()}
	o := runner.Push(context.Background(), newPool(t), hosts, runner.PushOptions{
		Source: s, Dests: map[string]string{h: dest}, Sink: rec, Progress: watch,
	})
	if len(seen) == 0 {
		t.Errorf("mid-copy saw no .fleet- staging directory")
	}
	for _, s := range seen {
		if s != ".fleet- -rwx------" {
			t.Errorf("mid-copy saw %q, want only private (0700) .fleet- directories", s)
		}
	}
	if o.ExitCode() != runner.ExitFailed {
		t.Errorf("exit %d, want 2 (tree/a is a symlink)", o.ExitCode())
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("the push wrote through the symlink: %v", ents)
	}
	want := []string{
		"created secret.bin", "created tree/ro", "created tree/ro/f.txt",
		"failed tree/a", "failed tree/a/b.txt",
	}
	if got := rec.actions(h, dest); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("actions %q, want %q", got, want)
	}
	if fi, err := os.Stat(filepath.Join(dest, "tree", "ro")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("tree/ro: %v %v, want mode 0555", fi.Mode(), err)
	}
	if fi, err := os.Stat(filepath.Join(dest, "secret.bin")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("secret.bin: %v, want mode 0600", err)
	}
	noTemps(t, dest)
	os.Chmod(filepath.Join(dest, "tree", "ro"), 0o755)
}

// Found in review: a wide tree must not hang the pull, directory modes are
// kept so a second pull changes nothing, and a local symlink where a
// directory goes is not written through.
func TestPullTrees(t *testing.T) {
	hosts, _ := labHosts(t, 1)
	h := hosts[0].Name
	remote := t.TempDir()
	when := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	for i := range 40 {
		writeFile(t, filepath.Join(remote, "tree", fmt.Sprintf("d%02d", i), "sub", "f.txt"), "x", 0o644, when)
	}
	os.Chmod(filepath.Join(remote, "tree", "d07"), 0o555)
	t.Cleanup(func() { os.Chmod(filepath.Join(remote, "tree", "d07"), 0o755) })
	local := t.TempDir()
	pull := func() (*runner.Outcome, *fileRecorder) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		rec := &fileRecorder{recorder: newRecorder()}
		o := runner.Pull(ctx, newPool(t), hosts, runner.PullOptions{
			Srcs: map[string]string{h: filepath.Join(remote, "tree")}, Dests: map[string]string{h: local}, Sink: rec,
		})
		return o, rec
	}
	o, rec := pull()
	if o.ExitCode() != 0 {
		t.Fatalf("pull: exit %d: %+v", o.ExitCode(), rec.hosts)
	}
	if st := rec.hosts[h].Transfer; st.Changed != 40 {
		t.Errorf("first pull %+v, want 40 files", st)
	}
	if fi, err := os.Stat(filepath.Join(local, "tree", "d07")); err != nil || fi.Mode().Perm() != 0o555 {
		t.Errorf("d07 pulled as %v (%v), want 0555", fi.Mode(), err)
	}
	o, rec = pull()
	if got := rec.actions(h, local); o.ExitCode() != 0 || len(got) != 0 {
		t.Errorf("second pull: exit %d, actions %q; want none", o.ExitCode(), got)
	}

	// A local symlink where a directory goes.
	outside := t.TempDir()
	os.Chmod(filepath.Join(local, "tree", "d03"), 0o755)
	os.RemoveAll(filepath.Join(local, "tree", "d03"))
	if err := os.Symlink(outside, filepath.Join(local, "tree", "d03")); err != nil {
		t.Fatal(err)
	}
	o, _ = pull()
	if o.ExitCode() != runner.ExitFailed {
		t.Errorf("pull over a local symlink: exit %d, want 2", o.ExitCode())
	}
	if ents, _ := os.ReadDir(outside); len(ents) != 0 {
		t.Errorf("the pull wrote through the local symlink: %v", ents)
	}
	for _, p := range []string{"d07", "d07/sub", "d07/sub/f.txt"} {
		os.Chmod(filepath.Join(local, "tree", p), 0o755)
	}
}

func emptyDir(p string) bool {
	ents, err := os.ReadDir(p)
	return err == nil && len(ents) == 0
}
