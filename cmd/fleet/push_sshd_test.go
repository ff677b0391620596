package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"fleetrun.dev/fleet/internal/sshdtest"
)

// remoteBase returns a fresh directory the lab's login user owns, for the
// hosts to write into; the test removes it when done. As root the login
// user is the test user, who can't reach the test's own temp dirs.
func remoteBase(t *testing.T, s *sshdtest.Server) string {
	t.Helper()
	if os.Geteuid() != 0 {
		return t.TempDir()
	}
	u, err := user.Lookup(s.User())
	if err != nil {
		t.Fatal(err)
	}
	var b [6]byte
	rand.Read(b[:])
	dir := filepath.Join(u.HomeDir, "push-"+hex.EncodeToString(b[:]))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// chownToLogin gives p to the lab's login user, as if that user made it.
func chownToLogin(t *testing.T, s *sshdtest.Server, paths ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		return
	}
	u, err := user.Lookup(s.User())
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	for _, p := range paths {
		if err := os.Lchown(p, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
}

// makeTree writes 300 small files in 10 directories with varied modes and
// mtimes, and one large file of size big, under dir.
func makeTree(t *testing.T, dir string, big int64) {
	t.Helper()
	when := time.Date(2023, 3, 4, 5, 6, 7, 0, time.UTC)
	modes := []fs.FileMode{0o644, 0o600, 0o755, 0o640, 0o444}
	for i := range 300 {
		p := filepath.Join(dir, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%03d.txt", i))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(strings.Repeat(fmt.Sprintf("file %d\n", i), i%17+1)), 0o600); err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, modes[i%len(modes)])
		mt := when.Add(time.Duration(i) * time.Minute)
		os.Chtimes(p, mt, mt)
	}
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(f, rand.Reader, big); err != nil {
		t.Fatal(err)
	}
	f.Close()
	os.Chtimes(filepath.Join(dir, "big.bin"), when, when)
}

// treeSums maps each regular file under dir to its SHA-256, mode and mtime.
func treeSums(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		io.Copy(h, f)
		fi, _ := f.Stat()
		rel, _ := filepath.Rel(dir, p)
		out[rel] = fmt.Sprintf("%x %v %d", h.Sum(nil), fi.Mode(), fi.ModTime().Unix())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sameSums(t *testing.T, host string, want, got map[string]string) {
	t.Helper()
	bad := 0
	for k, w := range want {
		if g := got[k]; g != w {
			if bad++; bad <= 5 {
				t.Errorf("%s: %s is %q, want %q", host, k, g, w)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("%s: unexpected %s", host, k)
			}
		}
	}
}

// jsonHosts reads the host objects of fleet's JSON lines output.
func jsonHosts(t *testing.T, out string) map[string]map[string]any {
	t.Helper()
	hosts := map[string]map[string]any{}
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("bad JSON line %q: %v", sc.Text(), err)
		}
		if m["type"] == "host" {
			hosts[m["host"].(string)] = m
		}
	}
	return hosts
}

func transferOf(t *testing.T, h map[string]any) map[string]float64 {
	t.Helper()
	tr, ok := h["transfer"].(map[string]any)
	if !ok {
		t.Fatalf("host %v has no transfer stats", h["host"])
	}
	out := map[string]float64{}
	for k, v := range tr {
		if f, ok := v.(float64); ok {
			out[k] = f
		}
	}
	return out
}

// tempsUnder lists fleet's temp files under dir.
func tempsUnder(dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.Contains(d.Name(), ".fleet-") {
			out = append(out, p)
		}
		return nil
	})
	return out
}

// Acceptance 1-3 and 6 (sessions): 300 small files and a 64 MiB file to 10
// hosts, each into its own directory; then an unchanged push; then one
// changed file. Every push uses one connection and one SFTP session per host.
func TestSSHDPushTree(t *testing.T) {
	lab := newSSHDLab(t, 10, sshdtest.Options{})
	lab.write(t)
	src := filepath.Join(t.TempDir(), "app")
	makeTree(t, src, 64<<20)
	want := treeSums(t, src)
	base := remoteBase(t, lab.servers[0])
	dest := base + "/{{ inventory_hostname }}/"

	r := lab.fleet(t, "push", "all", src+"/", dest, "--output", "json")
	if r.code != 0 {
		t.Fatalf("first push: exit %d", r.code)
	}
	for _, name := range lab.names {
		sameSums(t, name, want, treeSums(t, filepath.Join(base, name)))
	}
	for name, h := range jsonHosts(t, r.stdout) {
		if tr := transferOf(t, h); tr["changed"] != 301 || tr["bytes"] < 64<<20 {
			t.Errorf("%s: first push %v, want 301 changed and the bytes of every file", name, tr)
		}
	}

	r = lab.fleet(t, "push", "all", src+"/", dest, "--output", "json")
	if r.code != 0 {
		t.Fatalf("second push: exit %d", r.code)
	}
	hosts := jsonHosts(t, r.stdout)
	if len(hosts) != 10 {
		t.Fatalf("%d host results, want 10", len(hosts))
	}
	for name, h := range hosts {
		if tr := transferOf(t, h); tr["changed"] != 0 || tr["unchanged"] != 301 || tr["bytes"] != 0 {
			t.Errorf("%s: unchanged push %v, want 301 unchanged and 0 bytes", name, tr)
		}
	}

	// At many hosts, --group folds the same result into one group.
	r = lab.fleet(t, "push", "all", src+"/", dest, "--group")
	if !strings.Contains(r.stdout, "h[01-10] (10)\n---------------\n0 changed, 301 unchanged, 0 B sent\n") {
		t.Errorf("push --group did not fold the ten unchanged hosts into one group")
	}

	changed := filepath.Join(src, "d3", "f013.txt")
	if err := os.WriteFile(changed, []byte("new content\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	want = treeSums(t, src)
	r = lab.fleet(t, "push", "all", src+"/", dest, "-v")
	if r.code != 0 {
		t.Fatalf("third push: exit %d", r.code)
	}
	for _, name := range lab.names {
		sameSums(t, name, want, treeSums(t, filepath.Join(base, name)))
		if n := strings.Count(r.stdout, name+" | updated "); n != 1 {
			t.Errorf("%s: %d files updated, want 1", name, n)
		}
		if !strings.Contains(r.stdout, name+" | updated "+filepath.Join(base, name, "d3", "f013.txt")) {
			t.Errorf("%s: the changed file is not reported as updated", name)
		}
		if !strings.Contains(r.stdout, name+" | 1 changed, 300 unchanged") {
			t.Errorf("%s: no summary line saying 1 changed, 300 unchanged", name)
		}
	}

	// Touched only: the same content with a new mtime. Nothing is sent;
	// that file's mtime changes on every host, and nothing else.
	touched := filepath.Join(src, "d5", "f105.txt")
	later := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := os.Chtimes(touched, later, later); err != nil {
		t.Fatal(err)
	}
	want = treeSums(t, src)
	r = lab.fleet(t, "push", "all", src+"/", dest, "--output", "json")
	if r.code != 0 {
		t.Fatalf("fourth push: exit %d", r.code)
	}
	for _, name := range lab.names {
		sameSums(t, name, want, treeSums(t, filepath.Join(base, name)))
	}
	files := 0
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, `"type":"file"`) {
			files++
			if !strings.Contains(l, `"action":"metadata"`) || !strings.Contains(l, "f105.txt") || !strings.Contains(l, `"bytes":0`) {
				t.Errorf("after a touch: %s", l)
			}
		}
	}
	if files != len(lab.names) {
		t.Errorf("%d file events after touching one file, want one per host", files)
	}

	for i, s := range lab.servers {
		if n := s.CountLog("Accepted publickey"); n != 5 {
			t.Errorf("%s: %d logins over 5 pushes, want 5", lab.names[i], n)
		}
		if n := s.CountLog("Starting session: subsystem 'sftp'"); n != 5 {
			t.Errorf("%s: %d SFTP sessions over 5 pushes, want one per push", lab.names[i], n)
		}
	}
	for _, name := range lab.names {
		if left := tempsUnder(filepath.Join(base, name)); len(left) > 0 {
			t.Errorf("%s: temp files left: %q", name, left)
		}
	}
}

// Acceptance 4: a host whose connection is killed during the 64 MiB
// transfer keeps its old file and no temp file; the others complete.
func TestSSHDPushKilledMidTransfer(t *testing.T) {
	lab := newSSHDLab(t, 3, sshdtest.Options{})
	lab.write(t)
	src := t.TempDir()
	big := filepath.Join(src, "big.bin")
	f, _ := os.Create(big)
	io.CopyN(f, rand.Reader, 64<<20)
	f.Close()
	base := remoteBase(t, lab.servers[0])
	victim, victimDir := lab.servers[0], filepath.Join(base, lab.names[0])
	old := filepath.Join(victimDir, "big.bin")

	for attempt := 1; ; attempt++ {
		if err := os.MkdirAll(victimDir, 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, old, "old content\n")
		chownToLogin(t, victim, victimDir, old)
		for _, name := range lab.names[1:] {
			os.RemoveAll(filepath.Join(base, name))
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		var r fleetResult
		done := make(chan struct{})
		go func() {
			defer close(done)
			r = lab.fleetCtx(ctx, t, "push", "all", big, base+"/{{ inventory_hostname }}/")
		}()
		// Freeze the victim's connection as soon as its temp file
		// appears, check that the copy is partial, then kill it.
		killed := false
	poll:
		for {
			select {
			case <-done:
				break poll
			case <-time.After(time.Millisecond):
			}
			temps := tempsUnder(victimDir)
			if len(temps) == 0 {
				continue
			}
			victim.FreezeConnections()
			if fi, err := os.Stat(temps[0]); err == nil && fi.Size() < 64<<20 {
				victim.KillConnections()
				killed = true
			}
			victim.Thaw()
			break
		}
		<-done
		cancel()
		if !killed {
			if attempt < 5 {
				t.Logf("attempt %d: the copy finished before it could be killed; again", attempt)
				continue
			}
			t.Fatal("the 64 MiB copy always finished before it could be killed")
		}
		if r.code != 4 {
			t.Errorf("exit %d, want 4 (a host unreachable)", r.code)
		}
		if !strings.Contains(r.stdout, lab.names[0]+" ! unreachable") {
			t.Errorf("the killed host is not reported unreachable")
		}
		if got := readFile(t, old); got != "old content\n" {
			t.Errorf("the killed host's file holds %d bytes, want the old content", len(got))
		}
		if left := tempsUnder(victimDir); len(left) > 0 {
			t.Errorf("temp files left on the killed host: %q", left)
		}
		want := treeSums(t, src)
		for _, name := range lab.names[1:] {
			sameSums(t, name, want, treeSums(t, filepath.Join(base, name)))
		}
		return
	}
}

// Acceptance 5: a full disk, an unwritable directory, a directory where the
// file would go, and no sftp subsystem each give their own error; a good
// host completes.
func TestSSHDPushFailures(t *testing.T) {
	sshdtest.Require(t)
	opts := []sshdtest.Options{
		{FileSizeLimitKB: 1024}, // h01: full disk
		{},                      // h02: unwritable directory
		{},                      // h03: a directory in the way
		{SFTP: "none"},          // h04: no sftp
		{},                      // h05: fine
	}
	lab := newSSHDLabEach(t, opts)
	lab.write(t)
	src := t.TempDir()
	f, _ := os.Create(filepath.Join(src, "big.bin"))
	io.CopyN(f, rand.Reader, 4<<20)
	f.Close()
	base := remoteBase(t, lab.servers[0])
	for _, name := range lab.names {
		os.MkdirAll(filepath.Join(base, name), 0o755)
		chownToLogin(t, lab.servers[0], filepath.Join(base, name))
	}
	os.Chmod(filepath.Join(base, "h02"), 0o555)
	os.MkdirAll(filepath.Join(base, "h03", "big.bin"), 0o755)

	r := lab.fleet(t, "push", "all", filepath.Join(src, "big.bin"), base+"/{{ inventory_hostname }}/")
	if r.code != 2 {
		t.Errorf("exit %d, want 2 (paths failed)", r.code)
	}
	wants := map[string]string{
		"h01": "disk may be full",
		"h02": "permission denied",
		"h03": "is a directory",
		"h04": "no sftp subsystem",
	}
	for host, want := range wants {
		found := false
		for _, l := range strings.Split(r.stdout, "\n") {
			if strings.HasPrefix(l, host+" ! ") && strings.Contains(l, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error line saying %q", host, want)
		}
	}
	if !strings.Contains(r.stdout, "h05 | 1 changed") {
		t.Errorf("the good host did not complete")
	}
	for _, name := range lab.names {
		if left := tempsUnder(filepath.Join(base, name)); len(left) > 0 {
			t.Errorf("%s: temp files left: %q", name, left)
		}
	}
	if fi, err := os.Stat(filepath.Join(base, "h01", "big.bin")); err == nil {
		t.Errorf("h01: a %d-byte big.bin was left by a failed write", fi.Size())
	}
}

// newSSHDLabEach starts one server per options.
func newSSHDLabEach(t *testing.T, opts []sshdtest.Options) *sshdLab {
	t.Helper()
	lab := &sshdLab{dir: t.TempDir()}
	lab.knownHosts = filepath.Join(lab.dir, "known_hosts")
	for i, o := range opts {
		s := sshdtest.Start(t, o)
		lab.servers = append(lab.servers, s)
		lab.names = append(lab.names, fmt.Sprintf("h%02d", i+1))
		s.WriteKnownHosts(lab.knownHosts)
	}
	return lab
}

// Acceptance 6: --become writes into a root-owned directory with
// passwordless sudo, with root as owner, over one SFTP session per host.
func TestSSHDPushBecome(t *testing.T) {
	lab := newSSHDLab(t, 3, sshdtest.Options{})
	sshdtest.EnableSudo(t, "")
	lab.write(t)
	src := filepath.Join(t.TempDir(), "etc")
	makeTree(t, src, 1<<20)
	// Names that look like options must stay names in the sudo script.
	if err := os.MkdirAll(filepath.Join(src, "-d"), 0o755); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(src, "-d", "-rf"), "dash\n")
	want := treeSums(t, src)
	var b [6]byte
	rand.Read(b[:])
	root := filepath.Join("/opt", "fleet-become-"+hex.EncodeToString(b[:]))
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })

	r := lab.fleet(t, "push", "all", src+"/", root+"/{{ inventory_hostname }}", "--become")
	if r.code != 0 {
		t.Fatalf("push --become: exit %d", r.code)
	}
	for i, name := range lab.names {
		dir := filepath.Join(root, name)
		sameSums(t, name, want, treeSums(t, dir))
		fi, err := os.Stat(filepath.Join(dir, "d1", "f001.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if st := fi.Sys().(*syscall.Stat_t); st.Uid != 0 {
			t.Errorf("%s: file owned by uid %d, want root", name, st.Uid)
		}
		if n := lab.servers[i].CountLog("Starting session: subsystem 'sftp'"); n != 1 {
			t.Errorf("%s: %d SFTP sessions for 301 files, want 1", name, n)
		}
		if left := tempsUnder(dir); len(left) > 0 {
			t.Errorf("%s: temp files left: %q", name, left)
		}
	}
	// Without --become the same push is refused, and says what to do.
	r = lab.fleet(t, "push", "all", src+"/", root+"/{{ inventory_hostname }}/again")
	if r.code != 2 || !strings.Contains(r.stdout, "--become") {
		t.Errorf("push without --become: exit %d, want 2 and advice to use --become", r.code)
	}
	// Into a directory only root can read: the second push finds the
	// files through sudo and sends nothing.
	for round := range 2 {
		r = lab.fleet(t, "push", "all", filepath.Join(src, "d2"), root+"/{{ inventory_hostname }}/private/", "--become", "--output", "json")
		if r.code != 0 {
			t.Fatalf("push --become into a private directory: exit %d", r.code)
		}
		if round == 0 {
			for _, name := range lab.names {
				os.Chmod(filepath.Join(root, name, "private"), 0o700)
			}
			continue
		}
		for name, h := range jsonHosts(t, r.stdout) {
			if tr := transferOf(t, h); tr["changed"] != 0 || tr["unchanged"] != 30 || tr["bytes"] != 0 {
				t.Errorf("%s: second push into a private directory: %v, want 30 unchanged", name, tr)
			}
		}
	}

	// --become-user another than root: the files are its own.
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	uid, _ := strconv.Atoi(nobody.Uid)
	gid, _ := strconv.Atoi(nobody.Gid)
	for _, name := range lab.names {
		d := filepath.Join(root, name, "nobody")
		os.MkdirAll(d, 0o755)
		os.Chown(d, uid, gid)
	}
	r = lab.fleet(t, "push", "all", filepath.Join(src, "d1", "f001.txt"), root+"/{{ inventory_hostname }}/nobody/", "--become", "--become-user", "nobody")
	if r.code != 0 {
		t.Errorf("push --become-user nobody: exit %d", r.code)
	}
	for _, name := range lab.names {
		fi, err := os.Stat(filepath.Join(root, name, "nobody", "f001.txt"))
		if err != nil {
			t.Errorf("%s: --become-user nobody: %v", name, err)
			continue
		}
		if st := fi.Sys().(*syscall.Stat_t); int(st.Uid) != uid {
			t.Errorf("%s: --become-user nobody wrote a file owned by %d, want %d", name, st.Uid, uid)
		}
	}
	// ansible_become in the inventory does what --become does.
	becomeInv := filepath.Join(t.TempDir(), "become.yml")
	writeFile(t, becomeInv, "all:\n  vars:\n    ansible_become: true\n    ansible_become_method: sudo\n")
	r = lab.fleet(t, "push", "all", filepath.Join(src, "d1", "f001.txt"), root+"/{{ inventory_hostname }}/viainv/", "-i", becomeInv)
	if r.code != 0 {
		t.Errorf("push with ansible_become: exit %d", r.code)
	}
	for _, name := range lab.names {
		if _, err := os.Stat(filepath.Join(root, name, "viainv", "f001.txt")); err != nil {
			t.Errorf("%s: push with ansible_become: %v", name, err)
		}
	}
	// Unchanged: nothing is sent, even as root.
	r = lab.fleet(t, "push", "all", src+"/", root+"/{{ inventory_hostname }}", "--become", "--output", "json")
	for name, h := range jsonHosts(t, r.stdout) {
		if tr := transferOf(t, h); tr["changed"] != 0 || tr["bytes"] != 0 {
			t.Errorf("%s: unchanged push --become %v", name, tr)
		}
	}
}

// answer is a prompter that gives the same answer to every prompt.
type answer string

func (a answer) Secret(string) (string, error) { return string(a), nil }

// --become with a sudo that wants a password: refused with advice without
// -K, refused with a wrong password, and done with the right one, which is
// asked once for every host. --chown names a user and group on the host.
func TestSSHDPushBecomePassword(t *testing.T) {
	lab := newSSHDLab(t, 2, sshdtest.Options{})
	var b [8]byte
	rand.Read(b[:])
	password := "pw-" + hex.EncodeToString(b[:])
	sshdtest.EnableSudo(t, password)
	lab.write(t)
	src := t.TempDir()
	writeFile(t, filepath.Join(src, "secret.conf"), "token = 42\n")
	root := filepath.Join("/opt", "fleet-become-"+hex.EncodeToString(b[:4]))
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	dest := root + "/{{ inventory_hostname }}/"
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	r := lab.fleet(t, "push", "all", filepath.Join(src, "secret.conf"), dest, "--become")
	if r.code != 2 || !strings.Contains(r.stdout, "--ask-become-pass") {
		t.Errorf("no password: exit %d, want 2 and advice to pass --ask-become-pass", r.code)
	}
	r = lab.fleetPrompt(ctx, t, answer("wrong"), "push", "all", filepath.Join(src, "secret.conf"), dest, "-K")
	if r.code != 2 || !strings.Contains(r.stdout, "refused the password") {
		t.Errorf("wrong password: exit %d, want 2 and a refused password", r.code)
	}
	r = lab.fleetPrompt(ctx, t, answer(password), "push", "all", filepath.Join(src, "secret.conf"), dest, "-K",
		"--chown", "nobody:nogroup", "--chmod", "0640")
	if r.code != 0 {
		t.Fatalf("right password: exit %d", r.code)
	}
	nobody, err := user.Lookup("nobody")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range lab.names {
		p := filepath.Join(root, name, "secret.conf")
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if strconv.Itoa(int(st.Uid)) != nobody.Uid || fi.Mode().Perm() != 0o640 {
			t.Errorf("%s: owner %d mode %v, want nobody (%s) and 0640", name, st.Uid, fi.Mode(), nobody.Uid)
		}
		if got := readFile(t, p); got != "token = 42\n" {
			t.Errorf("%s: content %q", name, got)
		}
		if strings.Contains(r.stdout+r.stderr, password) {
			t.Errorf("the password was printed")
		}
	}
}

// fleet pull fetches a tree from every host into LOCALDIR/<host>, and a
// second pull fetches nothing. Symlinks stay links, relative targets and
// all.
func TestSSHDPull(t *testing.T) {
	lab := newSSHDLab(t, 3, sshdtest.Options{})
	lab.write(t)
	base := remoteBase(t, lab.servers[0])
	src := filepath.Join(t.TempDir(), "logs")
	makeTree(t, src, 4<<20)
	if err := os.Symlink("d1/f001.txt", filepath.Join(src, "latest")); err != nil {
		t.Fatal(err)
	}
	want := treeSums(t, src)
	r := lab.fleet(t, "push", "all", src, base+"/{{ inventory_hostname }}/")
	if r.code != 0 {
		t.Fatalf("push: exit %d", r.code)
	}
	for _, name := range lab.names {
		link, err := os.Readlink(filepath.Join(base, name, "logs", "latest"))
		if err != nil || link != "d1/f001.txt" {
			t.Errorf("%s: pushed link points to %q (%v), want d1/f001.txt", name, link, err)
		}
	}
	out := t.TempDir()
	r = lab.fleet(t, "pull", "all", base+"/{{ inventory_hostname }}/logs", out, "--output", "json")
	if r.code != 0 {
		t.Fatalf("pull: exit %d", r.code)
	}
	for _, name := range lab.names {
		sameSums(t, name, want, treeSums(t, filepath.Join(out, name, "logs")))
		if link, err := os.Readlink(filepath.Join(out, name, "logs", "latest")); err != nil || link != "d1/f001.txt" {
			t.Errorf("%s: pulled link points to %q (%v), want d1/f001.txt", name, link, err)
		}
		if left := tempsUnder(filepath.Join(out, name)); len(left) > 0 {
			t.Errorf("%s: temp files left: %q", name, left)
		}
	}
	r = lab.fleet(t, "pull", "all", base+"/{{ inventory_hostname }}/logs", out, "--output", "json")
	for name, h := range jsonHosts(t, r.stdout) {
		if tr := transferOf(t, h); r.code != 0 || tr["changed"] != 0 || tr["bytes"] != 0 {
			t.Errorf("%s: second pull (exit %d) %v, want nothing fetched", name, r.code, tr)
		}
	}
}

// A server that allows one session per connection: the SFTP session makes
// way for the hash command and comes back, with and without
// --max-sessions 1, instead of waiting for itself.
func TestSSHDPushMaxSessionsOne(t *testing.T) {
	lab := newSSHDLab(t, 2, sshdtest.Options{MaxSessions: 1})
	lab.write(t)
	src := filepath.Join(t.TempDir(), "conf")
	makeTree(t, src, 1<<20)
	want := treeSums(t, src)
	base := remoteBase(t, lab.servers[0])
	for _, extra := range [][]string{nil, {"--max-sessions", "1"}} {
		dest := base + "/{{ inventory_hostname }}/" + fmt.Sprint(len(extra))
		for round := range 2 {
			r := lab.fleet(t, append([]string{"push", "all", src, dest, "--output", "json"}, extra...)...)
			if r.code != 0 {
				t.Fatalf("push %v round %d: exit %d", extra, round, r.code)
			}
			for name, h := range jsonHosts(t, r.stdout) {
				tr := transferOf(t, h)
				if round == 1 && (tr["changed"] != 0 || tr["bytes"] != 0) {
					t.Errorf("%s %v: second push %v, want nothing sent", name, extra, tr)
				}
			}
		}
		for _, name := range lab.names {
			sameSums(t, name, want, treeSums(t, filepath.Join(base, name, fmt.Sprint(len(extra)), "conf")))
		}
	}
}
