package transfer

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const (
	suid   = fs.ModeSetuid
	sgid   = fs.ModeSetgid
	sticky = fs.ModeSticky
)

func TestModeSpecApply(t *testing.T) {
	tests := []struct {
		spec  string
		mode  fs.FileMode
		isDir bool
		want  fs.FileMode
	}{
		// Octal modes set the whole mode, special bits included.
		{"644", 0755, false, 0644},
		{"644", fs.ModeDir | 0700, true, 0644},
		{"0755", 0600, false, 0755},
		{"2775", 0700, true, sgid | 0775},
		{"4755", 0644, false, suid | 0755},
		{"1777", 0700, true, sticky | 0777},
		{"7777", 0, false, suid | sgid | sticky | 0777},
		{"0", suid | 0777, false, 0},
		{"7", 0777, false, 0007},
		{"755", suid | sgid | 0700, true, 0755},

		// D and F limit an item to directories or files.
		{"F644,D755", 0600, false, 0644},
		{"F644,D755", 0700, true, 0755},
		{"Dg+s,Fo-w", 0775, true, sgid | 0775},
		{"Dg+s,Fo-w", 0666, false, 0664},
		{"Fo-w", 0777, true, 0777},
		{"D+X", 0644, false, 0644},
		{"D+X", 0644, true, 0755},

		// Symbolic clauses, as chmod(1) with a umask of 0.
		{"u+rwX,go-w", 0600, false, 0600},
		{"u+rwX,go-w", 0412, false, 0710},
		{"u+rwX,go-w", 0577, true, 0755},
		{"a=r", 0777, false, 0444},
		{"=r", 0777, false, 0444},
		{"o=", 0777, false, 0770},
		{"u=rwx,g=rx,o=", 0, false, 0750},
		{"=", suid | sgid | sticky | 0777, false, 0},
		{"go=", suid | sgid | sticky | 0777, true, suid | 0700},
		{"ugoa+r", 0, false, 0444},
		{"+w", 0, false, 0222},
		{"ug+w,o-rwx", 0445, false, 0660},
		{"u+r-w", 0200, false, 0400},
		{"a-w+x=r", 0777, false, 0444},
		{"u+", 0640, false, 0640},
		{"u=", 0640, false, 0040},
		{"+r", sgid, true, sgid | 0444},

		// X counts only for directories and modes that already have an
		// execute bit, looking at the mode as earlier clauses left it.
		{"+X", 0644, false, 0644},
		{"+X", 0744, false, 0755},
		{"+X", 0644, true, 0755},
		{"a-x,a+X", 0755, false, 0644},
		{"a-x,a+X", 0755, true, 0755},
		{"u+X,g+x", 0644, false, 0654},
		{"g+x,u+X", 0644, false, 0754},
		{"a=X", 0100, false, 0111},
		{"a=X", 0600, false, 0},
		{"go-X", 0755, false, 0744},
		{"go-X", 0644, false, 0644},
		{"go-X", 0755, true, 0744},

		// s and t touch only the bits their who letters own.
		{"g+s", 0755, true, sgid | 0755},
		{"u+s", 0755, false, suid | 0755},
		{"+s", 0755, false, suid | sgid | 0755},
		{"a+s", 0755, false, suid | sgid | 0755},
		{"o+s", 0755, false, 0755},
		{"o+t", 0755, true, sticky | 0755},
		{"+t", 0755, true, sticky | 0755},
		{"u+t", 0755, true, 0755},
		{"ug-s", suid | sgid | sticky | 0755, false, sticky | 0755},
		{"u=rw", suid | sgid | 0755, false, sgid | 0655},

		// Items apply in order.
		{"644,u+x", 0, false, 0744},
		{"u+x,644", 0, false, 0644},
		{"F600,Fg+r,D700,Dg+rx", 0777, false, 0640},
		{"F600,Fg+r,D700,Dg+rx", 0777, true, 0750},
	}
	for _, tt := range tests {
		m, err := ParseChmod(tt.spec)
		if err != nil {
			t.Errorf("ParseChmod(%q): %v", tt.spec, err)
			continue
		}
		if got := m.Apply(tt.mode, tt.isDir); got != tt.want {
			t.Errorf("ParseChmod(%q).Apply(%v, dir=%v) = %v, want %v", tt.spec, tt.mode, tt.isDir, got, tt.want)
		}
	}
}

func TestModeSpecErrors(t *testing.T) {
	const like = "is not an octal mode or a chmod clause like u+rwX,go-w"
	tests := []struct {
		spec, want string
	}{
		{"", `--chmod "": empty; give octal modes or chmod clauses`},
		{"F64x", `--chmod "F64x": "64x" ` + like},
		{"888", `--chmod "888": "888" ` + like},
		{"07555", `--chmod "07555": "07555" ` + like},
		{"u", `--chmod "u": "u" ` + like},
		{"ug", `--chmod "ug": "ug" ` + like},
		{"u+rq", `--chmod "u+rq": "u+rq" ` + like},
		{"g=u", `--chmod "g=u": "g=u" ` + like},
		{"x+r", `--chmod "x+r": "x+r" ` + like},
		{"d644", `--chmod "d644": "d644" ` + like},
		{"DF644", `--chmod "DF644": "F644" ` + like},
		{"u+r g-w", `--chmod "u+r g-w": "u+r g-w" ` + like},
		{"u+r,go-w;", `--chmod "go-w;": "go-w;" ` + like},
		{"644,Fx", `--chmod "Fx": "x" ` + like},
		{"D", `--chmod "D": "D" must be followed by an octal mode or a chmod clause`},
		{"F", `--chmod "F": "F" must be followed by`},
		{"u+r,", `--chmod "u+r,": empty item; remove the extra comma`},
		{",", `--chmod ",": empty item`},
		{"a+r,,o-w", `--chmod "a+r,,o-w": empty item`},
	}
	for _, tt := range tests {
		m, err := ParseChmod(tt.spec)
		if err == nil {
			t.Errorf("ParseChmod(%q) = %+v, want error", tt.spec, m)
			continue
		}
		if !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("ParseChmod(%q) error:\n got  %s\n want %s…", tt.spec, err, tt.want)
		}
	}
}

func TestModeSpecZero(t *testing.T) {
	var zero ModeSpec
	if !zero.IsZero() {
		t.Error("zero ModeSpec: IsZero() = false")
	}
	// The zero value keeps the permission and special bits and drops the type.
	if got, want := zero.Apply(fs.ModeDir|sgid|0755, true), sgid|0755; got != want {
		t.Errorf("zero ModeSpec: Apply = %v, want %v", got, want)
	}
	m, err := ParseChmod("u+")
	if err != nil {
		t.Fatal(err)
	}
	if m.IsZero() {
		t.Error(`ParseChmod("u+"): IsZero() = true for a parsed value`)
	}
	if got := m.String(); got != "u+" {
		t.Errorf(`ParseChmod("u+").String() = %q`, got)
	}
}

// TestModeSpecMatchesChmod runs GNU chmod with a umask of 0 on real files
// and directories and checks that Apply agrees. Special bits stay out of
// it: GNU chmod keeps a directory's setgid bit on "=" and octal modes,
// which rsync (and so --chmod) does not.
func TestModeSpecMatchesChmod(t *testing.T) {
	if _, err := exec.LookPath("chmod"); err != nil {
		t.Skip("chmod(1) not found; skipping the comparison with it")
	}
	specs := []string{"u+rwX,go-w", "a=r", "o=", "+X", "a-x,a+X", "u+X,g+x", "g+x,u+X",
		"go-X", "a=X", "ug=rw,o-rwx", "u+r-w+x", "=w", "-r", "640", "0751"}
	starts := []fs.FileMode{0, 0644, 0700, 0751}
	dir := t.TempDir()
	type check struct {
		path  string
		spec  string
		start fs.FileMode
		isDir bool
	}
	var checks []check
	var script strings.Builder
	script.WriteString("umask 0 || exit\n")
	for i, spec := range specs {
		for j, start := range starts {
			for _, isDir := range []bool{false, true} {
				p := filepath.Join(dir, fmt.Sprintf("e%d_%d_%v", i, j, isDir))
				if isDir {
					if err := os.Mkdir(p, 0700); err != nil {
						t.Fatal(err)
					}
				} else if err := os.WriteFile(p, nil, 0600); err != nil {
					t.Fatal(err)
				}
				fmt.Fprintf(&script, "chmod %o '%s' && chmod -- '%s' '%s' || exit\n", start, p, spec, p)
				checks = append(checks, check{p, spec, start, isDir})
			}
		}
	}
	if out, err := exec.Command("sh", "-c", script.String()).CombinedOutput(); err != nil {
		t.Fatalf("chmod script: %v\n%s", err, out)
	}
	for _, c := range checks {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Fatal(err)
		}
		m, err := ParseChmod(c.spec)
		if err != nil {
			t.Fatal(err)
		}
		want := fi.Mode() &^ fs.ModeType
		if got := m.Apply(c.start, c.isDir); got != want {
			t.Errorf("%q on %v (dir=%v): Apply = %v, chmod(1) gives %v", c.spec, c.start, c.isDir, got, want)
		}
	}
}

func FuzzParseChmod(f *testing.F) {
	for _, s := range []string{"644", "F644,D755", "u+rwX,go-w", "Dg+s,Fo-w", "a=r", "o=", "+X",
		"a-x,a+X", "ug+s,o+t", "F64x", "", ",", "u+r-w=x", "7777", "DF", "g=u"} {
		f.Add(s)
	}
	const allowed = fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky
	modes := []fs.FileMode{0, 0644, 0755, fs.ModeDir | fs.ModeSetgid | 0775, allowed}
	f.Fuzz(func(t *testing.T, spec string) {
		m, err := ParseChmod(spec)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "--chmod ") {
				t.Fatalf("ParseChmod(%q) error %q does not start with --chmod", spec, err)
			}
			return
		}
		if m.IsZero() {
			t.Fatalf("ParseChmod(%q) succeeded with a zero ModeSpec", spec)
		}
		// The same items limited to files leave directories alone.
		items := strings.Split(spec, ",")
		for i, it := range items {
			if it[0] != 'D' && it[0] != 'F' {
				items[i] = "F" + it
			} else {
				items[i] = "F" + it[1:]
			}
		}
		fileOnly, err := ParseChmod(strings.Join(items, ","))
		if err != nil {
			t.Fatalf("ParseChmod(%q) succeeded but its files-only form failed: %v", spec, err)
		}
		for _, mode := range modes {
			for _, isDir := range []bool{false, true} {
				got := m.Apply(mode, isDir)
				if got&^allowed != 0 {
					t.Fatalf("ParseChmod(%q).Apply(%v, %v) = %v, outside %v", spec, mode, isDir, got, allowed)
				}
				if !isDir {
					continue
				}
				if got := fileOnly.Apply(mode, true); got != mode&allowed {
					t.Fatalf("files-only form of %q changed directory mode %v to %v", spec, mode, got)
				}
			}
		}
	})
}
