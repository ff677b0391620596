package transfer

import (
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", `back\slash`, "new\nline", "$HOME", "*", "-x", "ünï"} {
		out, err := exec.Command("sh", "-c", "printf %s "+quote(s)).Output()
		if err != nil {
			t.Fatalf("quote(%q): %v", s, err)
		}
		if string(out) != s {
			t.Errorf("quote(%q) reads back as %q", s, out)
		}
	}
}

// The hash scripts run by a real shell print sums that parseSums reads
// back for every name, odd ones too, and skip files they can't read.
func TestHashScripts(t *testing.T) {
	if _, err := exec.LookPath("sha256sum"); err != nil {
		t.Skip("no sha256sum")
	}
	dir := t.TempDir()
	names := []string{"plain", "with space", "new\nline", `back\slash`, "it's", "-dash"}
	want := map[string][32]byte{}
	var paths []string
	for i, n := range names {
		p := filepath.Join(dir, n)
		data := fmt.Sprintf("content %d", i)
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
		want[p] = sha256.Sum256([]byte(data))
		paths = append(paths, p)
	}
	paths = append(paths, filepath.Join(dir, "missing"))
	scripts := hashScripts(paths)
	if len(scripts) != 1 {
		t.Fatalf("%d scripts for %d paths, want 1", len(scripts), len(paths))
	}
	out, _ := exec.Command("sh", "-c", scripts[0]).Output() // exits 1: one is missing
	got := parseSums(out)
	for p, w := range want {
		if got[p] != w {
			t.Errorf("%q: sum %x, want %x", p, got[p], w)
		}
	}
	if _, ok := got[filepath.Join(dir, "missing")]; ok || len(got) != len(want) {
		t.Errorf("got %d sums, want %d (none for the missing file)", len(got), len(want))
	}
}

func TestHashScriptsBatch(t *testing.T) {
	var paths []string
	for i := range 5000 {
		paths = append(paths, fmt.Sprintf("/srv/app/some/long/directory/name/file-%05d.txt", i))
	}
	scripts := hashScripts(paths)
	if len(scripts) < 2 {
		t.Fatalf("%d scripts for %d long paths, want several", len(scripts), len(paths))
	}
	n := 0
	for _, s := range scripts {
		if len(s) > maxScript+200 {
			t.Errorf("a script of %d bytes, over the %d limit", len(s), maxScript)
		}
		n += strings.Count(s, "/srv/app/")
	}
	if n != len(paths) {
		t.Errorf("%d paths in the scripts, want %d", n, len(paths))
	}
	if hashScripts(nil) != nil {
		t.Errorf("scripts for no paths")
	}
}

func TestParseSums(t *testing.T) {
	h := strings.Repeat("ab", 32)
	out := h + "  /a\n" +
		"\\" + h + "  /b\\nc\\\\d\n" + // escaped name
		h + " */bin\n" + // binary mode marker
		"garbage\n" +
		strings.Repeat("zz", 32) + "  /bad-hex\n" +
		"\\" + h + "  /bad\\q\n"
	got := parseSums([]byte(out))
	for _, name := range []string{"/a", "/b\nc\\d", "/bin"} {
		if _, ok := got[name]; !ok {
			t.Errorf("no sum for %q", name)
		}
	}
	if len(got) != 3 {
		t.Errorf("%d sums, want 3: %q", len(got), got)
	}
}

// FuzzParseSums feeds parseSums what a host might print: it must not panic,
// and every sum it returns comes from a well-formed line.
func FuzzParseSums(f *testing.F) {
	h := strings.Repeat("0f", 32)
	f.Add([]byte(h + "  /etc/hosts\n"))
	f.Add([]byte("\\" + h + "  /x\\ny\n"))
	f.Add([]byte(h + " *\n\n\\"))
	f.Fuzz(func(t *testing.T, out []byte) {
		for name := range parseSums(out) {
			if !strings.Contains(string(out), "  ") && !strings.Contains(string(out), " *") {
				t.Fatalf("sum for %q from output without a separator", name)
			}
		}
	})
}

func TestParseStat(t *testing.T) {
	cases := []struct {
		line string
		want string // mode size mtime uid gid, or "missing"
	}{
		{"81a4 12 1700000000 0 0", "-rw-r--r-- 12 1700000000 0 0"},
		{"41ed 4096 1700000000 1000 1000", "drwxr-xr-x 4096 1700000000 1000 1000"},
		{"a1ff 7 1700000000 0 0", "Lrwxrwxrwx 7 1700000000 0 0"},
		{"89ed 5 1 0 0", "urwxr-xr-x 5 1 0 0"},                                       // setuid
		{"81a4 68719476736 1700000000 0 0", "-rw-r--r-- 68719476736 1700000000 0 0"}, // 64 GiB
		{"-", "missing"},
		{"81a4 12 1700000000 0", "missing"},
		{"zz 12 1700000000 0 0", "missing"},
	}
	for _, c := range cases {
		fi := parseStat("x", c.line)
		got := "missing"
		if fi != nil {
			st := fi.Sys().(*sftpStat)
			got = fmt.Sprintf("%v %d %d %d %d", fi.Mode(), fi.Size(), fi.ModTime().Unix(), st.UID, st.GID)
		}
		if got != c.want {
			t.Errorf("parseStat(%q) = %s, want %s", c.line, got, c.want)
		}
	}
}
