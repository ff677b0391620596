package transfer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"fleetrun.dev/fleet/report"
)

// PullOptions describe a pull from one host.
type PullOptions struct {
	// Src is the remote path, already templated. A trailing slash on a
	// directory fetches its contents rather than the directory.
	Src string
	// Dest is the local directory the host's copy goes into, usually
	// LOCALDIR/<host>.
	Dest     string
	DryRun   bool
	Verbose  bool
	Parallel int // files in flight at once; 0 means DefaultParallel
	Report   func(report.FileResult)
	Planned  func(int64)
	Sent     func(int64) // content bytes as they arrive
}

// pulled is one remote path and its local fate.
type pulled struct {
	remote string
	local  string
	kind   Kind
	perm   fs.FileMode
	size   int64
	mtime  time.Time
	link   string
	tree   bool // a directory inside the fetched tree (its mtime is kept)

	action report.Action
	send   bool
	meta   bool
	err    error
	bytes  int64
	done   bool // the change was made
}

// Pull copies opts.Src from the host into opts.Dest. Files whose size and
// SHA-256 already match locally are not fetched. Each file is written to a
// temp name beside its destination and renamed, so an interrupted pull
// leaves old files intact and no temp files behind.
func Pull(ctx context.Context, r *Remote, opts PullOptions) (report.TransferStats, error) {
	stats := report.TransferStats{DryRun: opts.DryRun, Fetched: true}
	if opts.Parallel <= 0 {
		opts.Parallel = DefaultParallel
	}
	if opts.Report == nil {
		opts.Report = func(report.FileResult) {}
	}
	items, err := r.listPull(ctx, opts)
	if err != nil {
		return stats, hostErr(r, err)
	}
	if err := r.decidePull(ctx, items); err != nil {
		return stats, hostErr(r, err)
	}
	var planned int64
	for _, it := range items {
		if it.send && it.kind == File && it.err == nil {
			planned += it.size
		}
	}
	if opts.Planned != nil {
		opts.Planned(planned)
	}
	var runErr error
	if !opts.DryRun {
		runErr = r.fetch(ctx, items, opts)
	}
	for _, it := range items {
		if opts.DryRun && it.send && it.kind == File {
			it.bytes = it.size
		}
		if !opts.DryRun && it.err == nil && it.action != report.Unchanged && !it.done {
			continue // never got to it: the host failed or was interrupted first
		}
		res := report.FileResult{Host: r.Host, Path: it.local, Action: it.action, Bytes: it.bytes, DryRun: opts.DryRun, Time: time.Now()}
		if it.err != nil {
			res.Action, res.Err = report.FileFailed, trimPath(it.remote, trimPath(it.local, it.err))
			stats.Failed++
			stats.Bytes += it.bytes // fetched before it failed
			opts.Report(res)
			continue
		}
		if it.kind != Dir {
			if it.action == report.Unchanged {
				stats.Unchanged++
			} else {
				stats.Changed++
			}
			stats.Bytes += it.bytes
		}
		if it.action != report.Unchanged || opts.Verbose {
			opts.Report(res)
		}
	}
	if runErr == nil {
		runErr = failures(&stats)
	}
	return stats, hostErr(r, runErr)
}

// listPull walks the remote source.
func (r *Remote) listPull(ctx context.Context, opts PullOptions) ([]*pulled, error) {
	contents := strings.HasSuffix(opts.Src, "/")
	src := path.Clean(strings.TrimPrefix(opts.Src, "~/"))
	if opts.Src == "~" {
		src = "."
	}
	var fi fs.FileInfo
	var err error
	if contents {
		fi, err = r.FS.Stat(src)
	} else {
		fi, err = r.FS.Lstat(src)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src, describeRead(err))
	}
	if contents && !fi.IsDir() {
		return nil, fmt.Errorf("%s: not a directory (a trailing / fetches a directory's contents)", src)
	}
	var mu sync.Mutex
	var items []*pulled
	add := func(remote, rel string, fi fs.FileInfo, tree bool) *pulled {
		p := &pulled{remote: remote, local: filepath.Join(opts.Dest, filepath.FromSlash(rel)), perm: perm(fi.Mode()), size: fi.Size(), mtime: fi.ModTime(), tree: tree}
		switch m := fi.Mode(); {
		case m.IsDir():
			p.kind = Dir
		case m&fs.ModeSymlink != 0:
			p.kind = Symlink
		case m.IsRegular():
			p.kind = File
		default:
			p.err = fmt.Errorf("%s: a %s can't be copied; only files, directories and symlinks can", remote, kindOf(m))
		}
		mu.Lock()
		items = append(items, p)
		mu.Unlock()
		return p
	}
	if !fi.IsDir() {
		add(src, path.Base(src), fi, false)
	} else {
		rootRel := ""
		if !contents {
			rootRel = path.Base(src)
			if rootRel == "/" || rootRel == "." {
				return nil, fmt.Errorf("%s: name the directory, or add a trailing / to fetch its contents", src)
			}
			add(src, rootRel, fi, true)
		}
		// Walk the tree a directory per request, many at once. A
		// directory that can't be read fails alone.
		var wg sync.WaitGroup
		sem := make(chan struct{}, 16)
		var fatal error
		var visit func(dir, rel string, it *pulled)
		visit = func(dir, rel string, it *pulled) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				select {
				case sem <- struct{}{}:
				case <-ctx.Done():
					return
				}
				infos, err := r.FS.ReadDir(dir)
				<-sem
				if err != nil {
					mu.Lock()
					defer mu.Unlock()
					if _, ok := r.lost(err); ok && fatal == nil {
						fatal = err
					}
					if it == nil {
						if fatal == nil {
							fatal = fmt.Errorf("%s: %w", dir, describeRead(err))
						}
						return
					}
					it.err = fmt.Errorf("%s: %w", dir, describeRead(err))
					return
				}
				for _, fi := range infos {
					name := fi.Name()
					if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
						continue // no server should send these; never follow them
					}
					remote, childRel := path.Join(dir, name), path.Join(rel, name)
					child := add(remote, childRel, fi, fi.IsDir())
					if fi.IsDir() {
						visit(remote, childRel, child)
					}
				}
			}()
		}
		var rootItem *pulled
		if !contents {
			rootItem = items[0]
		}
		visit(src, rootRel, rootItem)
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if fatal != nil {
			return nil, fatal
		}
	}
	sort.Slice(items, func(i, j int) bool { return items[i].local < items[j].local })
	// Link targets, many at once.
	g, _ := errgroup.WithContext(ctx)
	g.SetLimit(32)
	for _, it := range items {
		if it.kind == Symlink && it.err == nil {
			g.Go(func() error {
				t, err := r.FS.ReadLink(it.remote)
				if err != nil {
					if _, ok := r.lost(err); ok {
						return err
					}
					it.err = fmt.Errorf("%s: reading the link: %w", it.remote, describeRead(err))
				}
				it.link = t
				return nil
			})
		}
	}
	return items, g.Wait()
}

// decidePull compares each remote path with its local copy.
func (r *Remote) decidePull(ctx context.Context, items []*pulled) error {
	var hash []*pulled
	for _, it := range items {
		if it.err != nil {
			continue
		}
		have, err := os.Lstat(it.local)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			it.err = fmt.Errorf("%s: %w", it.local, unwrapPath(err))
			continue
		}
		if err != nil {
			it.action, it.send = report.Created, true
			continue
		}
		switch it.kind {
		case Dir:
			if !have.IsDir() {
				it.err = fmt.Errorf("%s: exists and is not a directory; remove it, or pull elsewhere", it.local)
				continue
			}
			it.action = report.Unchanged
			if perm(have.Mode()) != it.perm {
				it.action, it.meta = report.Metadata, true
			}
		case Symlink:
			if have.IsDir() {
				it.err = fmt.Errorf("%s: is a directory, where a symlink would go; remove it, or pull elsewhere", it.local)
				continue
			}
			if t, err := os.Readlink(it.local); err == nil && t == it.link {
				it.action = report.Unchanged
			} else {
				it.action, it.send = report.Updated, true
			}
		case File:
			switch {
			case have.IsDir():
				it.err = fmt.Errorf("%s: is a directory, where a file would go; remove it, or pull elsewhere", it.local)
			case !have.Mode().IsRegular() || have.Size() != it.size:
				it.action, it.send = report.Updated, true
			default:
				hash = append(hash, it)
			}
		}
	}
	// Nothing is written below a directory that failed: locally it may
	// be a symlink leading out of LOCALDIR.
	failed := map[string]error{}
	for _, it := range items {
		if it.kind == Dir && it.err != nil {
			failed[filepath.ToSlash(it.local)] = it.err
		}
	}
	if len(failed) > 0 {
		for _, it := range items {
			if it.err == nil {
				if d, ok := under(filepath.ToSlash(it.local), failed); ok {
					it.err = fmt.Errorf("not fetched: its directory %s failed", filepath.FromSlash(d))
				}
			}
		}
		hash = slices.DeleteFunc(hash, func(it *pulled) bool { return it.err != nil })
	}
	if len(hash) == 0 {
		return nil
	}
	paths := make([]string, len(hash))
	for i, it := range hash {
		paths[i] = it.remote
	}
	sums, err := r.sums(ctx, nil, paths)
	if err != nil {
		return fmt.Errorf("hashing remote files: %w", err)
	}
	for _, it := range hash {
		e := &Entry{Local: it.local, sum: &digest{}}
		local, err := e.Sum()
		remote, ok := sums[it.remote]
		if err != nil || !ok || local != remote {
			it.action, it.send = report.Updated, true
			continue
		}
		it.action = report.Unchanged
		have, _ := os.Lstat(it.local)
		if perm(have.Mode()) != it.perm || !have.ModTime().Equal(it.mtime) {
			it.action, it.meta = report.Metadata, true
		}
	}
	return nil
}

// fetch writes the plan locally.
func (r *Remote) fetch(ctx context.Context, items []*pulled, opts PullOptions) error {
	if err := os.MkdirAll(opts.Dest, 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", opts.Dest, unwrapPath(err))
	}
	for _, it := range items {
		if it.kind != Dir || it.err != nil {
			continue
		}
		if it.send {
			if err := os.MkdirAll(it.local, 0o755); err != nil {
				it.err = fmt.Errorf("%s: %w", it.local, unwrapPath(err))
				continue
			}
		}
		if it.send {
			// Room to write the files in; the real mode is set last.
			if err := os.Chmod(it.local, it.perm|0o700); err != nil {
				it.err = fmt.Errorf("%s: %w", it.local, unwrapPath(err))
			}
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for _, it := range items {
		if it.kind == Dir || it.err != nil || !it.send && !it.meta {
			continue
		}
		g.Go(func() error {
			var err error
			switch {
			case gctx.Err() != nil:
				return gctx.Err()
			case it.kind == Symlink:
				err = putLocalLink(it)
			case it.send:
				err = r.getFile(gctx, it, opts)
			default:
				err = setLocalMeta(it.local, it)
			}
			it.done = err == nil
			return r.settle(gctx, err, &it.err)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i := len(items) - 1; i >= 0; i-- {
		it := items[i]
		if it.kind != Dir || it.err != nil {
			continue
		}
		var err error
		if it.send || it.meta {
			err = os.Chmod(it.local, it.perm)
		}
		if err == nil && it.tree {
			err = os.Chtimes(it.local, it.mtime, it.mtime)
		}
		if err != nil {
			it.err = fmt.Errorf("%s: %w", it.local, unwrapPath(err))
		}
		it.done = err == nil
	}
	return ctx.Err()
}

// getFile fetches one file into a local temp file and renames it into
// place; the temp file is removed whatever goes wrong.
func (r *Remote) getFile(ctx context.Context, it *pulled, opts PullOptions) (err error) {
	src, err := r.FS.Open(it.remote)
	if err != nil {
		return fmt.Errorf("%s: %w", it.remote, describeRead(err))
	}
	defer src.Close()
	dir, base := filepath.Split(it.local)
	if len(base) > 200 {
		base = base[:200]
	}
	tmp, err := os.CreateTemp(dir, "."+base+".fleet-*")
	if err != nil {
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := src.WriteTo(&countingWriter{ctx: ctx, w: tmp, sent: opts.Sent})
	it.bytes = n
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: fetching: %w", it.remote, describeRead(err))
	}
	if err = tmp.Close(); err != nil {
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	if err = setLocalMeta(tmp.Name(), it); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), it.local); err != nil {
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	return nil
}

func setLocalMeta(p string, it *pulled) error {
	if err := os.Chmod(p, it.perm); err != nil {
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	if err := os.Chtimes(p, it.mtime, it.mtime); err != nil {
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	return nil
}

func putLocalLink(it *pulled) error {
	tmp := tempName(filepath.ToSlash(it.local))
	if err := os.Symlink(it.link, filepath.FromSlash(tmp)); err != nil {
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	if err := os.Rename(filepath.FromSlash(tmp), it.local); err != nil {
		os.Remove(filepath.FromSlash(tmp))
		return fmt.Errorf("%s: %w", it.local, unwrapPath(err))
	}
	return nil
}

// countingWriter writes a fetched file locally, stopping when ctx ends.
type countingWriter struct {
	ctx  context.Context
	w    io.Writer
	sent func(int64)
}

func (c *countingWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(b)
	if n > 0 && c.sent != nil {
		c.sent(int64(n))
	}
	return n, err
}
