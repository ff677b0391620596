package transfer

import (
	"crypto/sha256"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Kind is what an entry is.
type Kind uint8

// The kinds of entries a transfer copies.
const (
	File Kind = iota
	Dir
	Symlink
)

// Entry is one local file, directory or symlink to push.
type Entry struct {
	// Rel is the slash-separated path below the destination directory.
	Rel   string
	Kind  Kind
	Perm  fs.FileMode // permission bits, with setuid, setgid and sticky
	Size  int64
	MTime time.Time
	Link  string // a symlink's target
	Local string // path on this machine
	// Tree is set for entries found inside a directory source, as
	// opposed to a file named on the command line.
	Tree bool

	sum *digest
}

type digest struct {
	once sync.Once
	sum  [sha256.Size]byte
	err  error
}

// Sum returns the SHA-256 of a file's content, computed once and shared by
// every host the file goes to.
func (e *Entry) Sum() ([sha256.Size]byte, error) {
	e.sum.once.Do(func() {
		f, err := os.Open(e.Local)
		if err != nil {
			e.sum.err = err
			return
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			e.sum.err = fmt.Errorf("reading %s: %w", e.Local, err)
			return
		}
		h.Sum(e.sum.sum[:0])
	})
	return e.sum.sum, e.sum.err
}

// Source is what a push sends: the entries of every source argument, in
// an order where each directory comes before what it holds.
type Source struct {
	Entries []*Entry
	// Trees are the Rels of the directory sources whose remote copies
	// mirror them (the scope of --delete); "" is the destination itself.
	Trees []string
	// Single is set when the only source is one file (or link) and the
	// destination may name the file itself rather than a directory.
	Single bool
}

// Scan reads the sources of a push, as rsync reads its arguments: a
// directory is copied as a directory of that name, and with a trailing
// slash its contents are copied instead. Symlinks are copied as links
// unless follow is set (-L). Two sources that would land on the same path
// are an error, as are unreadable files: nothing is sent when a source is
// bad.
func Scan(sources []string, follow bool) (*Source, error) {
	if len(sources) == 0 {
		return nil, fmt.Errorf("no source given")
	}
	src := &Source{}
	seen := map[string]string{} // Rel → the argument it came from
	add := func(e *Entry, arg string) error {
		if prev, ok := seen[e.Rel]; ok {
			if e.Kind == Dir && prev != "" {
				return nil // two trees may share a directory
			}
			return fmt.Errorf("%s and %s would both be copied to %q; copy them in separate pushes or rename one", prev, arg, e.Rel)
		}
		seen[e.Rel] = arg
		e.sum = &digest{}
		src.Entries = append(src.Entries, e)
		return nil
	}
	for _, arg := range sources {
		contents := strings.HasSuffix(arg, "/") || strings.HasSuffix(arg, string(filepath.Separator))
		clean := filepath.Clean(arg)
		info, err := stat(clean, follow || contents)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", arg, unwrapPath(err))
		}
		if !info.IsDir() {
			if contents {
				return nil, fmt.Errorf("source %s: not a directory (a trailing / copies a directory's contents)", arg)
			}
			e, err := entry(clean, filepath.Base(clean), info)
			if err != nil {
				return nil, err
			}
			if err := add(e, arg); err != nil {
				return nil, err
			}
			continue
		}
		root := ""
		if !contents {
			root = filepath.Base(clean)
			if root == "/" || root == "." || root == ".." {
				return nil, fmt.Errorf("source %s: name the directory, or add a trailing / to copy its contents", arg)
			}
		}
		src.Trees = append(src.Trees, root)
		if err := walk(clean, root, follow, func(e *Entry) error { return add(e, arg) }); err != nil {
			return nil, err
		}
	}
	src.Single = len(sources) == 1 && len(src.Trees) == 0 && len(src.Entries) == 1 && src.Entries[0].Kind != Dir
	sort.SliceStable(src.Entries, func(i, j int) bool { return src.Entries[i].Rel < src.Entries[j].Rel })
	return src, nil
}

// walk adds the tree at local, placed at rel, each directory before its
// contents. A tree's symlinks to directories are followed only with follow,
// and then a loop is an error.
func walk(local, rel string, follow bool, add func(*Entry) error) error {
	var visit func(local, rel string, info fs.FileInfo, seen []string) error
	visit = func(local, rel string, info fs.FileInfo, seen []string) error {
		e, err := entry(local, rel, info)
		if err != nil {
			return err
		}
		e.Tree = true
		if rel != "" || e.Kind != Dir {
			if err := add(e); err != nil {
				return err
			}
		}
		if e.Kind != Dir {
			return nil
		}
		if follow {
			real, err := filepath.EvalSymlinks(local)
			if err != nil {
				return fmt.Errorf("source %s: %w", local, unwrapPath(err))
			}
			for _, s := range seen {
				if s == real {
					return fmt.Errorf("source %s: symlink loop (it leads back to %s); drop -L or the link", local, real)
				}
			}
			seen = append(seen, real)
		}
		ents, err := os.ReadDir(local)
		if err != nil {
			return fmt.Errorf("source %s: %w", local, unwrapPath(err))
		}
		for _, d := range ents {
			childLocal := filepath.Join(local, d.Name())
			info, err := stat(childLocal, follow)
			if err != nil {
				return fmt.Errorf("source %s: %w", childLocal, unwrapPath(err))
			}
			if err := visit(childLocal, path.Join(rel, d.Name()), info, seen); err != nil {
				return err
			}
		}
		return nil
	}
	info, err := os.Stat(local)
	if err != nil {
		return fmt.Errorf("source %s: %w", local, unwrapPath(err))
	}
	return visit(local, rel, info, nil)
}

func stat(p string, follow bool) (fs.FileInfo, error) {
	if follow {
		return os.Stat(p)
	}
	return os.Lstat(p)
}

// entry describes one local path; kinds other than files, directories and
// symlinks (devices, sockets, FIFOs) are refused.
func entry(local, rel string, info fs.FileInfo) (*Entry, error) {
	e := &Entry{Rel: rel, Local: local, Perm: perm(info.Mode()), MTime: info.ModTime()}
	switch m := info.Mode(); {
	case m.IsRegular():
		e.Kind = File
		e.Size = info.Size()
		f, err := os.Open(local)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", local, unwrapPath(err))
		}
		f.Close()
	case m.IsDir():
		e.Kind = Dir
	case m&fs.ModeSymlink != 0:
		e.Kind = Symlink
		t, err := os.Readlink(local)
		if err != nil {
			return nil, fmt.Errorf("source %s: %w", local, unwrapPath(err))
		}
		e.Link = t
	default:
		return nil, fmt.Errorf("source %s: a %s can't be copied; only files, directories and symlinks can", local, kindOf(m))
	}
	return e, nil
}

func kindOf(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	}
	return "special file"
}

// perm keeps the permission bits of a mode, with setuid, setgid and sticky.
func perm(m fs.FileMode) fs.FileMode {
	return m & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
}

// unwrapPath drops the *fs.PathError wrapper, whose path the caller already
// names.
func unwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
