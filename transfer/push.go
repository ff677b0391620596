package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/sync/errgroup"

	"fleetrun.dev/fleet/report"
)

// PushOptions describe a push to one host.
type PushOptions struct {
	// Dest is the host's destination, already templated. It names a
	// directory, except that a single file may be pushed to a file name.
	Dest   string
	DryRun bool
	// Delete removes remote files in the copied trees that are absent
	// locally.
	Delete bool
	Chmod  ModeSpec
	Owner  string // user name or uid; "" leaves it as the writer makes it
	Group  string // group name or gid
	// Become installs the files through sudo; nil writes as the login user.
	Become *Become
	// IgnoreTimes leaves modification times out, as Ansible's copy does:
	// a file whose content matches is unchanged whatever its mtime, and
	// what is written gets the time it was written, not the local mtime.
	IgnoreTimes bool
	// Perm, when set, decides the permission bits of every file and
	// directory, in place of the local modes and Chmod. have is what the
	// host has at the path (nil when it is missing) and def is what the
	// host's umask gives a new path of its kind (0666 or 0777 less the
	// umask of the writing user's shell, asked of the host once). e is nil
	// for a directory the push creates above the copied paths: the
	// destination and its missing parents. Symlinks, which have no mode
	// of their own, are not asked about.
	Perm func(e *Entry, have fs.FileInfo, def fs.FileMode) fs.FileMode
	// KeepOwners makes a file that replaces another keep the old one's
	// owner and group, unless Owner or Group say otherwise, as Ansible's
	// copy does; without it a replaced file belongs to its writer. A
	// login user who may not give the file back (only root may) leaves
	// it as written.
	KeepOwners bool
	// Verbose reports unchanged paths too.
	Verbose bool
	// Parallel is how many files are in flight at once; 0 means 16.
	Parallel int
	// Report is called for every path acted on.
	Report func(report.FileResult)
	// Planned is called once with the bytes the host will be sent.
	Planned func(int64)
	// Sent is called as content bytes go out.
	Sent func(int64)
}

// DefaultParallel is how many files go to one host at once.
const DefaultParallel = 16

// item is one entry's fate on one host.
type item struct {
	e      *Entry
	remote string
	have   fs.FileInfo // nil when the remote path is missing
	hidden bool        // the login user can't see it; --become looks with sudo
	action report.Action
	send   bool // content (or a link) must be written
	meta   bool // mode, mtime or owner must be set in place
	perm   fs.FileMode
	err    error
	bytes  int64
	done   bool // the change was made (a host that failed part-way made some)
}

// extra is a remote path absent at the source, for --delete.
type extra struct {
	remote string
	dir    bool
}

// plan is what a push will do on one host.
type plan struct {
	root     string // the directory Rels land in
	items    []*item
	extras   []extra
	mkroot   bool // root is missing
	uid, gid int  // -1: leave as is
	// newRoots are root and its missing parents, outermost first, with
	// the modes PushOptions.Perm gave them; set only with Perm.
	newRoots []newRoot
	// From PushOptions.
	ignoreTimes, keepOwners bool
}

// newRoot is a directory a push with PushOptions.Perm creates above the
// copied paths.
type newRoot struct {
	path string
	perm fs.FileMode
}

// PushError is a push's failure on one host. Leftovers are temporary files
// it could not remove (the connection died); the caller should remove
// them over a new connection with Cleanup.
type PushError struct {
	Err       error
	Leftovers []string
}

func (e *PushError) Error() string { return e.Err.Error() }
func (e *PushError) Unwrap() error { return e.Err }

// Push copies src to the host. It returns the host's stats and an error
// when any path failed or the connection died; paths that failed were
// reported through opts.Report, and the others were still copied. An
// interrupted or failed push leaves every destination either old or new,
// never partly written, and removes its temporary files when it still can.
func Push(ctx context.Context, r *Remote, src *Source, opts PushOptions) (report.TransferStats, error) {
	stats := report.TransferStats{DryRun: opts.DryRun}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.Report == nil {
		opts.Report = func(report.FileResult) {}
	}
	p, err := r.plan(ctx, src, &opts)
	if err != nil {
		return stats, hostErr(r, err)
	}
	var planned int64
	for _, it := range p.items {
		if it.send && it.e.Kind == File && it.err == nil {
			planned += it.e.Size
		}
	}
	if opts.Planned != nil {
		opts.Planned(planned)
	}
	if opts.DryRun {
		for _, it := range p.items {
			if it.send && it.e.Kind == File {
				it.bytes = it.e.Size
			}
			emit(&opts, &stats, r.Host, it, true)
		}
		if opts.Delete {
			for _, x := range p.extras {
				stats.Deleted++
				opts.Report(report.FileResult{Host: r.Host, Path: x.remote, Action: report.Deleted, DryRun: true, Time: time.Now()})
			}
		}
		return stats, failures(&stats)
	}

	var tmp temps
	var runErr error
	if opts.Become != nil {
		runErr = r.installBecome(ctx, p, &opts, &tmp, &stats)
	} else {
		runErr = r.install(ctx, p, &opts, &tmp)
	}
	for _, it := range p.items {
		emit(&opts, &stats, r.Host, it, false)
	}
	if runErr == nil && failures(&stats) == nil && opts.Delete && opts.Become == nil {
		runErr = r.deleteExtras(ctx, p, &opts, &stats)
	}
	if runErr == nil {
		runErr = failures(&stats)
	}
	if runErr != nil {
		return stats, r.tidy(runErr, &tmp)
	}
	return stats, nil
}

// emit reports it and counts it. Directories are reported but not
// counted: the counts are of files and links.
func emit(opts *PushOptions, st *report.TransferStats, host string, it *item, dry bool) {
	res := report.FileResult{Host: host, Path: it.remote, Action: it.action, Bytes: it.bytes, DryRun: dry, Time: time.Now()}
	if it.err != nil {
		res.Action = report.FileFailed
		res.Err = trimPath(it.remote, it.err)
		st.Failed++
		st.Bytes += it.bytes // sent before it failed
		opts.Report(res)
		return
	}
	if !dry && it.action != report.Unchanged && !it.done {
		return // never got to it: the host failed or was interrupted first
	}
	if it.e.Kind != Dir {
		if it.action == report.Unchanged {
			st.Unchanged++
		} else {
			st.Changed++
		}
		st.Bytes += it.bytes
	}
	if it.action != report.Unchanged || opts.Verbose {
		opts.Report(res)
	}
}

// trimPath drops a leading "path: " from err's text, for reports that name
// the path already.
func trimPath(p string, err error) error {
	if msg := err.Error(); strings.HasPrefix(msg, p+": ") {
		return &trimmed{msg: msg[len(p)+2:], err: err}
	}
	return err
}

type trimmed struct {
	msg string
	err error
}

func (t *trimmed) Error() string { return t.msg }
func (t *trimmed) Unwrap() error { return t.err }

func failures(st *report.TransferStats) error {
	if st.Failed == 0 {
		return nil
	}
	if st.Failed == 1 {
		return errors.New("1 path failed")
	}
	return fmt.Errorf("%d paths failed", st.Failed)
}

// hostErr returns the host's error: the connection's if it died.
func hostErr(r *Remote, err error) error {
	if lost, ok := r.lost(err); ok {
		return lost
	}
	return err
}

// tidy removes what temporary files remain after a failure. If the
// connection is gone it can't; the error then carries them for Cleanup.
func (r *Remote) tidy(err error, tmp *temps) error {
	left := tmp.list()
	if lost, ok := r.lost(err); ok {
		return &PushError{Err: lost, Leftovers: left}
	}
	if len(left) > 0 {
		if cerr := Cleanup(r.FS, left); cerr != nil {
			if lost, ok := r.lost(cerr); ok {
				return &PushError{Err: lost, Leftovers: left}
			}
			return &PushError{Err: errors.Join(err, cerr)}
		}
	}
	return err
}

// plan finds what differs between src and the host.
func (r *Remote) plan(ctx context.Context, src *Source, opts *PushOptions) (*plan, error) {
	p := &plan{uid: -1, gid: -1, ignoreTimes: opts.IgnoreTimes, keepOwners: opts.KeepOwners}
	if strings.HasPrefix(opts.Dest, "~") && opts.Dest != "~" && !strings.HasPrefix(opts.Dest, "~/") {
		return nil, fmt.Errorf("%s: ~user paths are not supported; give the full path", opts.Dest)
	}
	dest := strings.TrimPrefix(opts.Dest, "~/")
	if dest == "" || dest == "~" {
		dest = "."
	}
	p.root = path.Clean(dest)
	single := ""
	if src.Single && !strings.HasSuffix(opts.Dest, "/") {
		st, err := r.FS.Stat(p.root)
		switch {
		case err == nil && st.IsDir():
		case err == nil || errors.Is(err, fs.ErrNotExist):
			single = path.Base(p.root)
			p.root = path.Dir(p.root)
		case opts.Become != nil && errors.Is(err, fs.ErrPermission):
			// Inside a directory only the become user may enter: a
			// file name, as a directory there could not be seen.
			single = path.Base(p.root)
			p.root = path.Dir(p.root)
		default:
			return nil, fmt.Errorf("%s: %w", p.root, describe(err))
		}
	}
	if opts.Owner != "" || opts.Group != "" {
		var err error
		if p.uid, p.gid, err = r.ids(ctx, opts.Owner, opts.Group); err != nil {
			return nil, err
		}
	}

	// What is there now: tree directories are listed (one request per
	// directory), other entries looked at one by one; all at once.
	type listing struct {
		infos map[string]fs.FileInfo
		err   error
	}
	lists := map[string]*listing{}
	var items []*item
	for _, e := range src.Entries {
		rel := e.Rel
		if single != "" {
			rel = single
		}
		it := &item{e: e, remote: path.Join(p.root, rel)}
		it.perm = e.Perm
		if !opts.Chmod.IsZero() && e.Kind != Symlink {
			it.perm = opts.Chmod.Apply(e.Perm, e.Kind == Dir)
		}
		items = append(items, it)
		if e.Tree {
			lists[path.Dir(it.remote)] = nil
		}
	}
	// --delete looks only inside the copied trees, never beside them.
	mirrored := map[string]bool{}
	for _, t := range src.Trees {
		lists[path.Join(p.root, t)] = nil
		mirrored[path.Join(p.root, t)] = true
	}
	for _, it := range items {
		if it.e.Tree && it.e.Kind == Dir {
			mirrored[it.remote] = true
		}
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(32)
	dirs := make([]string, 0, len(lists))
	for dir := range lists {
		dirs = append(dirs, dir)
	}
	sort.Strings(dirs)
	for _, dir := range dirs {
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			l := &listing{infos: map[string]fs.FileInfo{}}
			infos, err := r.FS.ReadDir(dir)
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				if _, ok := r.lost(err); ok {
					return err
				}
				l.err = err
			}
			for _, fi := range infos {
				l.infos[fi.Name()] = fi
			}
			mu.Lock()
			lists[dir] = l
			mu.Unlock()
			return nil
		})
	}
	for _, it := range items {
		if it.e.Tree {
			continue
		}
		g.Go(func() error {
			fi, err := r.FS.Lstat(it.remote)
			switch {
			case err == nil:
				it.have = fi
			case errors.Is(err, fs.ErrNotExist):
			default:
				if _, ok := r.lost(err); ok {
					return err
				}
				if opts.Become == nil || !errors.Is(err, fs.ErrPermission) {
					it.err = fmt.Errorf("%s: %w", it.remote, describe(err))
				} else {
					it.hidden = true
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	switch st, err := r.FS.Stat(p.root); {
	case errors.Is(err, fs.ErrNotExist):
		p.mkroot = true
	case err == nil && !st.IsDir():
		return nil, fmt.Errorf("%s exists and is not a directory; push to a directory, or name a single file's destination", p.root)
	}
	want := map[string]bool{}
	for _, it := range items {
		want[it.remote] = true
		if !it.e.Tree {
			continue
		}
		l := lists[path.Dir(it.remote)]
		if l.err != nil && (opts.Become == nil || !errors.Is(l.err, fs.ErrPermission)) {
			it.err = fmt.Errorf("%s: %w", path.Dir(it.remote), describe(l.err))
			continue
		}
		it.have = l.infos[path.Base(it.remote)]
		it.hidden = l.err != nil
	}
	if err := r.statHidden(ctx, opts.Become, items); err != nil {
		return nil, err
	}
	if opts.Perm != nil {
		if err := r.hostPerms(ctx, p, items, opts); err != nil {
			return nil, err
		}
	}
	if opts.Delete {
		for _, d := range dirs {
			if !mirrored[d] {
				continue
			}
			for name, fi := range lists[d].infos {
				if full := path.Join(d, name); !want[full] {
					p.extras = append(p.extras, extra{remote: full, dir: fi.IsDir()})
				}
			}
		}
		sort.Slice(p.extras, func(i, j int) bool { return p.extras[i].remote < p.extras[j].remote })
	}

	// Decide each item; same-size files wait for their remote hashes.
	var hashWant []*item
	for _, it := range items {
		if it.err != nil {
			continue
		}
		r.decide(it, p, &hashWant)
	}
	// Nothing is written below a directory that failed: it may be a
	// symlink leading out of the tree, or a file.
	failed := map[string]error{}
	for _, it := range items {
		if it.e.Kind == Dir && it.err != nil {
			failed[it.remote] = it.err
		}
	}
	if len(failed) > 0 {
		for _, it := range items {
			if it.err == nil {
				if d, ok := under(it.remote, failed); ok {
					it.err = fmt.Errorf("not written: its directory %s failed", d)
				}
			}
		}
		kept := p.extras[:0]
		for _, x := range p.extras {
			if _, ok := under(x.remote, failed); !ok {
				kept = append(kept, x)
			}
		}
		p.extras = kept
	}
	hashWant = slices.DeleteFunc(hashWant, func(it *item) bool { return it.err != nil })
	if len(hashWant) > 0 {
		paths := make([]string, len(hashWant))
		for i, it := range hashWant {
			paths[i] = it.remote
		}
		sums, err := r.sums(ctx, opts.Become, paths)
		if err != nil {
			return nil, fmt.Errorf("hashing remote files: %w", err)
		}
		for _, it := range hashWant {
			local, err := it.e.Sum()
			if err != nil {
				it.err = fmt.Errorf("%s: %w", it.e.Local, err)
				continue
			}
			if remote, ok := sums[it.remote]; !ok || remote != local {
				it.action, it.send = report.Updated, true
				continue
			}
			r.decideMeta(it, p)
		}
	}
	p.items = items
	return p, nil
}

// under reports whether p lies below one of dirs, and which.
func under(p string, dirs map[string]error) (string, bool) {
	for d := path.Dir(p); ; d = path.Dir(d) {
		if _, ok := dirs[d]; ok {
			return d, true
		}
		if d == "/" || d == "." {
			return "", false
		}
	}
}

// decide sets what to do with it from what is there, except for files of
// the same size, which are added to hash.
func (r *Remote) decide(it *item, p *plan, hash *[]*item) {
	have := it.have
	switch it.e.Kind {
	case Dir:
		switch {
		case have == nil:
			it.action, it.send = report.Created, true
		case !have.IsDir():
			it.err = fmt.Errorf("%s: exists and is not a directory; remove it, or push somewhere else", it.remote)
		default:
			r.decideMeta(it, p)
		}
	case File:
		switch {
		case have == nil:
			it.action, it.send = report.Created, true
		case have.IsDir():
			it.err = fmt.Errorf("%s: is a directory, where a file would go; remove it, or push somewhere else", it.remote)
		case !have.Mode().IsRegular() || have.Size() != it.e.Size:
			it.action, it.send = report.Updated, true
		default:
			*hash = append(*hash, it)
		}
	case Symlink:
		switch {
		case have == nil:
			it.action, it.send = report.Created, true
		case have.IsDir():
			it.err = fmt.Errorf("%s: is a directory, where a symlink would go; remove it, or push somewhere else", it.remote)
		case have.Mode()&fs.ModeSymlink == 0:
			it.action, it.send = report.Updated, true
		default:
			target, err := r.FS.ReadLink(it.remote)
			if err != nil || target != it.e.Link {
				it.action, it.send = report.Updated, true
			} else {
				it.action = report.Unchanged
			}
		}
	}
}

// decideMeta compares mode, mtime and owner of a path whose content
// matches.
func (r *Remote) decideMeta(it *item, p *plan) {
	it.action = report.Unchanged
	have := it.have
	if perm(have.Mode()) != it.perm {
		it.meta = true
	}
	if it.e.Kind == File && !p.ignoreTimes && !have.ModTime().Equal(it.e.MTime.Truncate(time.Second)) {
		it.meta = true
	}
	if st, ok := have.Sys().(*sftpStat); ok {
		if p.uid >= 0 && int(st.UID) != p.uid || p.gid >= 0 && int(st.GID) != p.gid {
			it.meta = true
		}
	}
	if it.meta {
		it.action = report.Metadata
	}
}

// install writes the plan as the login user, over SFTP.
func (r *Remote) install(ctx context.Context, p *plan, opts *PushOptions, tmp *temps) error {
	if p.mkroot {
		if err := r.makeRoot(p); err != nil {
			return hostErr(r, err)
		}
	}
	// Directories first, parents before children (items are sorted), with
	// room for the owner to write into them; their own modes come last.
	failedDir := map[string]error{}
	for _, it := range p.items {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if it.e.Kind != Dir || it.err != nil || !it.send {
			continue
		}
		if d, ok := under(it.remote, failedDir); ok {
			it.err = fmt.Errorf("not written: its directory %s failed", d)
			failedDir[it.remote] = it.err
			continue
		}
		err := r.FS.Mkdir(it.remote)
		if err == nil {
			err = r.FS.Chmod(it.remote, it.perm|0o700)
		}
		if err != nil {
			if lost, ok := r.lost(err); ok {
				return lost
			}
			it.err = fmt.Errorf("creating %s: %w", it.remote, describe(err))
			failedDir[it.remote] = it.err
		}
	}

	// Files and links, many at once.
	st := &staging{tmp: tmp, dirs: map[string]*stageDir{}}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for _, it := range p.items {
		if it.e.Kind == Dir || it.err != nil || !it.send && !it.meta {
			continue
		}
		if d, ok := under(it.remote, failedDir); ok {
			it.err = fmt.Errorf("not written: its directory %s failed", d)
			continue
		}
		g.Go(func() error {
			if gctx.Err() != nil {
				return gctx.Err()
			}
			var err error
			switch {
			case it.send && it.e.Kind == Symlink:
				err = r.putLink(it, st)
			case it.send:
				err = r.putFile(gctx, it, p, opts, st)
			default:
				err = r.setMeta(it, p, it.remote, true)
			}
			it.done = err == nil
			return r.settle(gctx, err, &it.err)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if err := st.remove(r); err != nil {
		return err
	}

	// Directory modes and mtimes last: writing into a directory changes
	// its mtime, and a read-only mode would have kept the files out.
	for i := len(p.items) - 1; i >= 0; i-- {
		it := p.items[i]
		if it.e.Kind != Dir || it.err != nil {
			continue
		}
		var err error
		if it.send || it.meta {
			err = r.setMeta(it, p, it.remote, false)
		}
		if err == nil && it.e.Tree && !p.ignoreTimes {
			if err = r.FS.Chtimes(it.remote, it.e.MTime, it.e.MTime); err != nil {
				err = fmt.Errorf("setting the mtime of %s: %w", it.remote, describe(err))
			}
		}
		if err != nil {
			if lost, ok := r.lost(err); ok {
				return lost
			}
			it.err = err
		}
		it.done = err == nil
	}
	if ctx.Err() == nil && p.mkroot {
		if err := r.rootModes(p); err != nil {
			return hostErr(r, err)
		}
	}
	return ctx.Err()
}

// staging makes, once per destination directory, a private directory
// (mode 0700) inside it where new content is written before it is renamed
// into place. Files are created with the server's default mode, so written
// straight beside their destination, a file bound to be 0600 could be
// opened by anyone while it was being written; inside the private
// directory no one else can reach it. It lies on the same file system as
// the destination, so the rename is atomic.
type staging struct {
	tmp  *temps
	mu   sync.Mutex
	dirs map[string]*stageDir
}

type stageDir struct {
	once sync.Once
	path string
	err  error
}

// dir returns the private directory for files going into d.
func (s *staging) dir(r *Remote, d string) (string, error) {
	s.mu.Lock()
	sd := s.dirs[d]
	if sd == nil {
		sd = &stageDir{}
		s.dirs[d] = sd
	}
	s.mu.Unlock()
	sd.once.Do(func() {
		p := path.Join(d, ".fleet-"+randomHex(8))
		// Recorded first: if the connection dies after the server made
		// it but before its reply came, the cleanup still knows it.
		s.tmp.add(p)
		if err := r.FS.Mkdir(p); err != nil {
			if _, lost := r.lost(err); !lost {
				s.tmp.done(p)
			}
			sd.err = err
			return
		}
		if err := r.FS.Chmod(p, 0o700); err != nil {
			sd.err = err
			return
		}
		sd.path = p
	})
	return sd.path, sd.err
}

// remove removes the private directories, with whatever a failed file
// left in them.
func (s *staging) remove(r *Remote) error {
	for _, sd := range s.dirs {
		p := sd.path
		if p == "" {
			continue
		}
		if err := removeAll(r.FS, p); err != nil {
			if lost, ok := r.lost(err); ok {
				return lost
			}
			continue // tidy tries again, and reports it
		}
		s.tmp.done(p)
	}
	return nil
}

// putFile writes a file's content into the staging directory beside its
// destination, sets its metadata and renames it into place.
func (r *Remote) putFile(ctx context.Context, it *item, p *plan, opts *PushOptions, st *staging) error {
	local, err := os.Open(it.e.Local)
	if err != nil {
		return fmt.Errorf("%s: %w", it.e.Local, unwrapPath(err))
	}
	defer local.Close()
	dir, err := st.dir(r, path.Dir(it.remote))
	if err != nil {
		return fmt.Errorf("%s: %w", it.remote, describe(err))
	}
	name := path.Join(dir, path.Base(it.remote))
	f, err := r.FS.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("%s: %w", it.remote, describe(err))
	}
	n, err := writeFrom(f, &sizedReader{ctx: ctx, r: local, size: it.e.Size, sent: opts.Sent})
	it.bytes = n
	if err == nil {
		err = f.Close()
	} else {
		f.Close()
	}
	if err == nil {
		err = r.setMeta(it, p, name, true)
	}
	if err == nil {
		if err = r.FS.PosixRename(name, it.remote); err != nil {
			err = fmt.Errorf("renaming into place: %w", describe(err))
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if _, lost := r.lost(err); !lost {
			r.FS.Remove(name) // else the staging directory goes, with it
		}
		if strings.HasPrefix(err.Error(), it.remote) {
			return err
		}
		return fmt.Errorf("%s: %w", it.remote, describe(err))
	}
	return nil
}

// putLink makes a symlink in the staging directory and renames it over the
// destination, so the path never goes missing.
func (r *Remote) putLink(it *item, st *staging) error {
	dir, err := st.dir(r, path.Dir(it.remote))
	if err != nil {
		return fmt.Errorf("%s: %w", it.remote, describe(err))
	}
	name := path.Join(dir, path.Base(it.remote))
	if err := r.FS.Symlink(it.e.Link, name); err != nil {
		return fmt.Errorf("%s: %w", it.remote, describe(err))
	}
	if err := r.FS.PosixRename(name, it.remote); err != nil {
		if _, lost := r.lost(err); !lost {
			r.FS.Remove(name)
		}
		return fmt.Errorf("%s: renaming into place: %w", it.remote, describe(err))
	}
	return nil
}

// setMeta sets mode, owner and (for files) mtime on target, which is the
// item's path or its temp file.
func (r *Remote) setMeta(it *item, p *plan, target string, mtime bool) error {
	uid, gid := p.uid, p.gid
	if p.keepOwners && target != it.remote {
		uid, gid = keptOwner(it, p)
	}
	if uid >= 0 || gid >= 0 {
		if uid < 0 || gid < 0 {
			fi := it.have
			if fi == nil || target != it.remote {
				var err error
				if fi, err = r.FS.Lstat(target); err != nil {
					return fmt.Errorf("%s: %w", it.remote, describe(err))
				}
			}
			if st, ok := fi.Sys().(*sftpStat); ok {
				if uid < 0 {
					uid = int(st.UID)
				}
				if gid < 0 {
					gid = int(st.GID)
				}
			}
		}
		err := r.FS.Chown(target, uid, gid)
		if err != nil && p.uid < 0 && p.gid < 0 && errors.Is(err, fs.ErrPermission) {
			err = nil // only the old owner was to be kept, and can't be
		}
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				return fmt.Errorf("%s: setting owner %d:%d: permission denied (only root can give files away; add --become)", it.remote, uid, gid)
			}
			return fmt.Errorf("%s: setting owner: %w", it.remote, describe(err))
		}
	}
	// Chmod after chown, which may clear setuid and setgid bits.
	if err := r.FS.Chmod(target, it.perm); err != nil {
		return fmt.Errorf("%s: setting mode %04o: %w", it.remote, uint32(it.perm.Perm()), describe(err))
	}
	if mtime && it.e.Kind == File && !p.ignoreTimes {
		if err := r.FS.Chtimes(target, it.e.MTime, it.e.MTime); err != nil {
			return fmt.Errorf("%s: setting mtime: %w", it.remote, describe(err))
		}
	}
	return nil
}

// keptOwner returns the owner and group a file replacing it.have gets
// with PushOptions.KeepOwners: those asked for, else the old file's; -1
// where there is neither.
func keptOwner(it *item, p *plan) (uid, gid int) {
	uid, gid = p.uid, p.gid
	if it.have == nil {
		return uid, gid
	}
	if st, ok := it.have.Sys().(*sftpStat); ok {
		if uid < 0 {
			uid = int(st.UID)
		}
		if gid < 0 {
			gid = int(st.GID)
		}
	}
	return uid, gid
}

// hostPerms sets the modes of a push with PushOptions.Perm, once what the
// host has is known, and finds the directories it creates above the
// copied paths.
func (r *Remote) hostPerms(ctx context.Context, p *plan, items []*item, opts *PushOptions) error {
	if p.mkroot {
		// The root and each missing parent, up to one that exists (or
		// that the login user can't look at).
		var missing []string
		for d := p.root; ; d = path.Dir(d) {
			if _, err := r.FS.Stat(d); !errors.Is(err, fs.ErrNotExist) {
				if _, ok := r.lost(err); ok {
					return err
				}
				break
			}
			missing = append(missing, d)
			if d == "/" || d == "." {
				break
			}
		}
		slices.Reverse(missing)
		for _, d := range missing {
			p.newRoots = append(p.newRoots, newRoot{path: d})
		}
	}
	isNew := len(p.newRoots) > 0
	for _, it := range items {
		if it.err == nil && it.have == nil && it.e.Kind != Symlink {
			isNew = true
		}
	}
	// A dry run writes nothing, so the usual umask serves its modes.
	umask := fs.FileMode(0o022)
	if isNew && !opts.DryRun {
		var err error
		if umask, err = r.umask(ctx, opts.Become); err != nil {
			return err
		}
	}
	fileDef, dirDef := 0o666&^umask, 0o777&^umask
	for i := range p.newRoots {
		p.newRoots[i].perm = perm(opts.Perm(nil, nil, dirDef))
	}
	for _, it := range items {
		if it.err != nil || it.e.Kind == Symlink {
			continue
		}
		def := fileDef
		if it.e.Kind == Dir {
			def = dirDef
		}
		it.perm = perm(opts.Perm(it.e, it.have, def))
	}
	return nil
}

// umask returns the umask of the shell that writes on the host: the login
// user's, or the become user's under sudo.
func (r *Remote) umask(ctx context.Context, b *Become) (fs.FileMode, error) {
	out, err := r.output(ctx, b, "umask")
	if err != nil {
		return 0, fmt.Errorf("asking the host for its umask: %w", err)
	}
	s := strings.TrimSpace(string(out))
	n, perr := strconv.ParseUint(s, 8, 32)
	if perr != nil || n > 0o777 {
		return 0, fmt.Errorf("asking the host for its umask: the shell printed %q, not an octal umask", s)
	}
	return fs.FileMode(n), nil
}

// makeRoot creates the directory the paths land in, with its missing
// parents; with PushOptions.Perm one by one, each with its mode.
func (r *Remote) makeRoot(p *plan) error {
	if len(p.newRoots) == 0 {
		if err := r.FS.MkdirAll(p.root); err != nil {
			return fmt.Errorf("creating %s: %w", p.root, describe(err))
		}
		return nil
	}
	for _, d := range p.newRoots {
		if err := r.FS.Mkdir(d.path); err != nil {
			// Someone else may have made it meanwhile.
			if st, serr := r.FS.Stat(d.path); serr != nil || !st.IsDir() {
				return fmt.Errorf("creating %s: %w", d.path, describe(err))
			}
			continue
		}
		// Room for the owner to write into it; its own mode comes last
		// (rootModes).
		if err := r.FS.Chmod(d.path, d.perm|0o700); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", d.path, describe(err))
		}
	}
	return nil
}

// rootModes gives the directories makeRoot created their modes, once
// everything is written into them, innermost first.
func (r *Remote) rootModes(p *plan) error {
	for i := len(p.newRoots) - 1; i >= 0; i-- {
		d := p.newRoots[i]
		if d.perm&0o700 == 0o700 {
			continue // set already
		}
		if err := r.FS.Chmod(d.path, d.perm); err != nil {
			return fmt.Errorf("setting the mode of %s: %w", d.path, describe(err))
		}
	}
	return nil
}

// deleteExtras removes what --delete found, once everything else went well.
func (r *Remote) deleteExtras(ctx context.Context, p *plan, opts *PushOptions, st *report.TransferStats) error {
	for _, x := range p.extras {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		res := report.FileResult{Host: r.Host, Path: x.remote, Action: report.Deleted, Time: time.Now()}
		if err := removeAll(r.FS, x.remote); err != nil {
			if lost, ok := r.lost(err); ok {
				return lost
			}
			res.Action, res.Err = report.FileFailed, fmt.Errorf("deleting %s: %w", x.remote, describe(err))
			st.Failed++
		} else {
			st.Deleted++
		}
		opts.Report(res)
	}
	return nil
}

// sizedReader feeds a local file to an SFTP write, stopping when ctx ends
// and counting bytes as they go. Its Size lets pkg/sftp pipeline the write.
type sizedReader struct {
	ctx  context.Context
	r    io.Reader
	size int64
	sent func(int64)
}

func (s *sizedReader) Size() int64 { return s.size }

// smallFile is the size up to which writeFrom sends a file in one write
// from a pooled buffer: pkg/sftp's ReadFrom allocates a whole request's
// buffer (up to 256 KiB, see muxconn.SFTP.Chunk) for each small file.
const smallFile = 32 << 10

var smallBufs = sync.Pool{New: func() any {
	b := make([]byte, smallFile+1)
	return &b
}}

// writeFrom writes what r reads to f, as f.ReadFrom does.
func writeFrom(f *sftp.File, r *sizedReader) (int64, error) {
	if r.size > smallFile {
		return f.ReadFrom(r)
	}
	bp := smallBufs.Get().(*[]byte)
	defer smallBufs.Put(bp)
	n, err := io.ReadFull(r, *bp)
	grew := err == nil // the file is larger than when it was listed
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return 0, err
	}
	if n == 0 {
		return 0, nil
	}
	m, err := f.Write((*bp)[:n])
	if err != nil || !grew {
		return int64(m), err
	}
	k, err := f.ReadFrom(r)
	return int64(m) + k, err
}

func (s *sizedReader) Read(b []byte) (int, error) {
	if err := s.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.r.Read(b)
	if n > 0 && s.sent != nil {
		s.sent(int64(n))
	}
	return n, err
}
