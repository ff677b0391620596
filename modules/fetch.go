package modules

import (
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/pkg/sftp"

	"fleetrun.dev/fleet/transfer"
)

func init() { register("fetch", runFetch) }

// runFetch copies one remote file to the controller: into
// dest/<inventory_hostname>/<src path>, or with flat to dest itself (or
// dest/<basename> when dest ends in a slash). The local file is written
// to a temporary name beside it and renamed, and only when its content
// differs.
func runFetch(ctx context.Context, c *Call) (Result, error) {
	if c.Check {
		return Result{Skipped: true, Msg: "check mode not (yet) supported for this module"}, nil
	}
	a := copyArgs{module: "fetch", m: c.Args}
	if msg := a.unsupported("src", "dest", "flat", "fail_on_missing", "validate_checksum"); msg != "" {
		return Result{Failed: true, Msg: msg}, nil
	}
	src, err := a.str("src")
	if err != nil {
		return Result{Failed: true, Msg: err.Error()}, nil
	}
	dest, err := a.str("dest")
	if err != nil {
		return Result{Failed: true, Msg: err.Error()}, nil
	}
	if src == "" || dest == "" {
		return Result{Failed: true, Msg: "src and dest are required"}, nil
	}
	var flat, failOnMissing, validate bool
	for _, b := range []struct {
		key string
		def bool
		to  *bool
	}{{"flat", false, &flat}, {"fail_on_missing", true, &failOnMissing}, {"validate_checksum", true, &validate}} {
		if *b.to, err = a.boolean(b.key, b.def); err != nil {
			return Result{Failed: true, Msg: err.Error()}, nil
		}
	}
	f := &fetchJob{c: c, flat: flat, failOnMissing: failOnMissing, validate: validate}
	return copyResult(f.run(ctx, src, dest))
}

// fetchJob is one fetch on one host, its arguments read.
type fetchJob struct {
	c                             *Call
	flat, failOnMissing, validate bool
}

func (f *fetchJob) run(ctx context.Context, srcArg, destArg string) (Result, error) {
	r, err := f.c.Conn.Remote(ctx)
	if err != nil {
		return Result{}, err
	}
	src := srcArg
	if strings.HasPrefix(src, "~") {
		if src, err = copyRemotePath(ctx, r, src); err != nil {
			return Result{}, err
		}
	}
	src = path.Clean(src)

	// What the host has: over SFTP, or through sudo with become when the
	// login user may not look or read.
	st, err := copyStatPath(ctx, f.c, r, src, true)
	if err != nil {
		return Result{}, err
	}
	switch {
	case !st.exists:
		return f.missing(src, "the remote file does not exist, not transferring, ignored")
	case st.isDir:
		if !f.failOnMissing {
			return Result{Msg: "remote file is a directory, fetch cannot work on directories, not transferring, ignored",
				Fields: map[string]any{"file": src}}, nil
		}
		return Result{}, &copyFailure{msg: "remote file is a directory, fetch cannot work on directories", fields: map[string]any{"file": src}}
	}

	var rf *sftp.File
	sudoRead := false
	switch rf, err = r.FS.Open(src); {
	case err == nil:
		defer rf.Close()
	case errors.Is(err, fs.ErrPermission) && f.c.Become != nil:
		sudoRead = true
	case errors.Is(err, fs.ErrPermission):
		return Result{}, &copyFailure{msg: "file is not readable: " + src, fields: map[string]any{"file": src}}
	case errors.Is(err, fs.ErrNotExist):
		return f.missing(src, "the remote file does not exist, not transferring, ignored")
	default:
		return Result{}, copySFTPError(ctx, r, "opening "+src, err)
	}
	local, err := f.localPath(src, destArg)
	if err != nil {
		return Result{}, err
	}
	old, err := fetchLocalSums(local)
	if err != nil {
		return Result{}, err
	}
	dir := filepath.Dir(local)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return Result{}, copyFail("Failed to fetch the file: creating %s: %v", dir, copyUnwrapPath(err))
	}
	tmp, err := fetchTempFile(local)
	if err != nil {
		return Result{}, err
	}
	keep := false
	defer func() {
		if !keep {
			os.Remove(tmp.Name())
		}
	}()
	h1, h5 := sha1.New(), md5.New()
	w := io.MultiWriter(tmp, h1, h5)
	if sudoRead {
		var data []byte
		if data, err = f.readSudo(ctx, src); err == nil {
			if _, err = w.Write(data); err != nil {
				err = copyFail("Failed to fetch the file: %v", copyUnwrapPath(err))
			}
		}
	} else if _, err = rf.WriteTo(&fetchCtxWriter{ctx: ctx, w: w}); err != nil && ctx.Err() == nil {
		var fail *copyFailure
		if !errors.As(err, &fail) {
			err = copySFTPError(ctx, r, "reading "+src, err)
		}
	}
	if cerr := tmp.Close(); err == nil && cerr != nil {
		err = copyFail("Failed to fetch the file: writing %s: %v", tmp.Name(), cerr)
	}
	if errors.Is(err, errFetchGone) {
		return f.missing(src, "the remote file does not exist, not transferring, ignored")
	}
	if err != nil {
		if ctx.Err() != nil {
			return Result{}, ctx.Err()
		}
		return Result{}, err
	}
	remoteSum, md5sum := hex.EncodeToString(h1.Sum(nil)), hex.EncodeToString(h5.Sum(nil))
	if old.exists && old.sha1 == remoteSum {
		return Result{Fields: map[string]any{"checksum": old.sha1, "dest": local, "file": src, "md5sum": old.md5}}, nil
	}
	if f.validate {
		// What landed on disk must be what came over the wire.
		got, err := fetchLocalSums(tmp.Name())
		if err != nil {
			return Result{}, err
		}
		if got.sha1 != remoteSum {
			return Result{}, &copyFailure{msg: "checksum mismatch", fields: map[string]any{
				"checksum": got.sha1, "dest": local, "file": src, "md5sum": got.md5,
				"remote_checksum": remoteSum, "remote_md5sum": nil}}
		}
	}
	if old.exists {
		// A replaced file keeps its mode, as Ansible's in-place write does.
		os.Chmod(tmp.Name(), old.perm)
	}
	if err := os.Rename(tmp.Name(), local); err != nil {
		return Result{}, copyFail("Failed to fetch the file: %v", copyUnwrapPath(err))
	}
	keep = true
	return Result{Changed: true, Fields: map[string]any{
		"checksum": remoteSum, "dest": local, "md5sum": md5sum,
		"remote_checksum": remoteSum, "remote_md5sum": nil,
	}}, nil
}

// missing is the result for a src that isn't there: failed, unless
// fail_on_missing is off.
func (f *fetchJob) missing(src, msg string) (Result, error) {
	if f.failOnMissing {
		return Result{}, &copyFailure{msg: msg, fields: map[string]any{"file": src}}
	}
	return Result{Msg: msg, Fields: map[string]any{"file": src}}, nil
}

// localPath is where src goes on the controller. A relative dest is taken
// from the playbook's directory: the last of the call's search
// directories.
func (f *fetchJob) localPath(src, dest string) (string, error) {
	if strings.HasPrefix(dest, "~/") || dest == "~" {
		if home, err := os.UserHomeDir(); err == nil {
			dest = filepath.Join(home, strings.TrimPrefix(dest, "~")) + trailingSlash(dest)
		}
	}
	abs := func(p string) string {
		if filepath.IsAbs(p) {
			return p
		}
		if n := len(f.c.SearchDirs); n > 0 {
			return filepath.Join(f.c.SearchDirs[n-1], p)
		}
		if a, err := filepath.Abs(p); err == nil {
			return a
		}
		return p
	}
	if f.flat {
		if strings.HasSuffix(dest, "/") {
			return filepath.Clean(abs(filepath.Join(dest, path.Base(src)))), nil
		}
		if st, err := os.Stat(abs(dest)); err == nil && st.IsDir() {
			return "", copyFail("dest is an existing directory, use a trailing slash if you want to fetch src into that directory")
		}
		return filepath.Clean(abs(dest)), nil
	}
	base := filepath.Join(abs(dest), f.c.Host)
	local := filepath.Join(base, filepath.FromSlash(src))
	if local != base && !strings.HasPrefix(local, base+string(filepath.Separator)) {
		return "", copyFail("Detected directory traversal, expected to be contained in '%s' but got '%s'", base, local)
	}
	return local, nil
}

func trailingSlash(p string) string {
	if strings.HasSuffix(p, "/") {
		return "/"
	}
	return ""
}

// fetchCtxWriter stops a download when ctx ends; a local write error
// becomes the task's failure.
type fetchCtxWriter struct {
	ctx context.Context
	w   io.Writer
}

func (c *fetchCtxWriter) Write(b []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.w.Write(b)
	if err != nil {
		return n, copyFail("Failed to fetch the file: %v", copyUnwrapPath(err))
	}
	return n, nil
}

// errFetchGone says the remote file went away while being fetched.
var errFetchGone = errors.New("the remote file is gone")

// readSudo reads src through sudo, for a file only the become user may
// read.
func (f *fetchJob) readSudo(ctx context.Context, src string) ([]byte, error) {
	out, err := exec(ctx, f.c, "cat -- "+transfer.Quote(src), nil)
	if err != nil {
		return nil, err
	}
	if out.RC != 0 {
		if msg := sudoFailed(f.c, out); msg != "" {
			return nil, copyFail("reading %s: %s", src, msg)
		}
		stderr := strings.TrimSpace(string(out.Stderr))
		if strings.Contains(stderr, "No such file") {
			return nil, errFetchGone
		}
		return nil, copyFail("file is not readable: %s: %s", src, stderr)
	}
	return out.Stdout, nil
}

// fetchSums describes the local file a fetch may replace.
type fetchSums struct {
	exists    bool
	sha1, md5 string
	perm      fs.FileMode
}

func fetchLocalSums(p string) (fetchSums, error) {
	fh, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return fetchSums{}, nil
	}
	if err != nil {
		return fetchSums{}, copyFail("reading the local %s: %v", p, copyUnwrapPath(err))
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return fetchSums{}, copyFail("reading the local %s: %v", p, copyUnwrapPath(err))
	}
	if st.IsDir() {
		return fetchSums{}, copyFail("the local %s is a directory, where the fetched file would go; remove it or give another dest", p)
	}
	var h1, h5 hash.Hash = sha1.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(h1, h5), fh); err != nil {
		return fetchSums{}, copyFail("reading the local %s: %v", p, err)
	}
	return fetchSums{exists: true, sha1: hex.EncodeToString(h1.Sum(nil)), md5: hex.EncodeToString(h5.Sum(nil)), perm: st.Mode().Perm()}, nil
}

// fetchTempFile creates a hidden file beside local for the download, with
// the mode a new file gets from the umask, as Ansible's fetch gives.
func fetchTempFile(local string) (*os.File, error) {
	var rnd [6]byte
	rand.Read(rnd[:])
	name := filepath.Join(filepath.Dir(local), "."+filepath.Base(local)+".fleet-"+hex.EncodeToString(rnd[:]))
	fh, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o666)
	if err != nil {
		return nil, copyFail("Failed to fetch the file: %v", err)
	}
	return fh, nil
}
