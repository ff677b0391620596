package modules

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/pkg/sftp"

	"fleetrun.dev/fleet/jinja"
	"fleetrun.dev/fleet/report"
	"fleetrun.dev/fleet/transfer"
)

func init() { register("copy", runCopy) }

// copyDiffLimit is the largest file shown in a diff, Ansible's
// max_file_size_for_diff default.
const copyDiffLimit = 104448

// copyJob is one copy (or template) on one host, its arguments read.
type copyJob struct {
	c *Call
	// local is the file or directory on the controller to send; a
	// trailing slash on a directory sends its contents.
	local string
	// shown is src as the result shows it.
	shown string
	// content says local holds content: or a rendered template, so dest
	// must name a file.
	content bool
	// name is the file name used below a destination directory.
	name         string
	dest         string
	mode         *copyMode
	dirMode      *copyMode
	owner, group string
	backup       bool
	force        bool
	localFollow  bool
	// srcPerm is the mode mode=preserve gives, when it is not the local
	// file's own (a template's rendering).
	srcPerm *fs.FileMode
}

// copyFailure is a module failure: the task fails on this host with msg,
// and the host is fine.
type copyFailure struct {
	msg    string
	fields map[string]any
}

func (f *copyFailure) Error() string { return f.msg }

func copyFail(format string, args ...any) error {
	return &copyFailure{msg: fmt.Sprintf(format, args...)}
}

// copyResult turns a job's outcome into the module's: a copyFailure is a
// failed task, any other error the host's.
func copyResult(res Result, err error) (Result, error) {
	var f *copyFailure
	if errors.As(err, &f) {
		return Result{Failed: true, Msg: f.msg, Fields: f.fields}, nil
	}
	return res, err
}

func runCopy(ctx context.Context, c *Call) (Result, error) {
	a := copyArgs{module: "copy", m: c.Args}
	if msg := a.unsupported("src", "content", "dest", "mode", "owner", "group", "backup", "force",
		"directory_mode", "local_follow", "follow", "decrypt"); msg != "" {
		return Result{Failed: true, Msg: msg}, nil
	}
	j, err := readCopyArgs(c, a)
	if err != nil {
		return copyResult(Result{}, err)
	}
	srcArg, err := a.str("src")
	if err != nil {
		return copyResult(Result{}, copyFail("%v", err))
	}
	hasContent := c.Args["content"] != nil
	switch {
	case srcArg == "" && !hasContent:
		return copyResult(Result{}, copyFail("src (or content) is required"))
	case j.dest == "":
		return copyResult(Result{}, copyFail("dest is required"))
	case srcArg != "" && hasContent:
		return copyResult(Result{}, copyFail("src and content are mutually exclusive"))
	case hasContent && strings.HasSuffix(j.dest, "/"):
		return copyResult(Result{}, copyFail("can not use content with a dir as dest"))
	}
	if hasContent {
		if j.mode != nil && j.mode.preserve {
			return copyResult(Result{}, copyFail("mode=preserve needs src: content has no mode to preserve"))
		}
		dir, err := copyScratch(c, "content-")
		if err != nil {
			return copyResult(Result{}, err)
		}
		defer os.RemoveAll(dir)
		file := filepath.Join(dir, "content")
		if err := os.WriteFile(file, []byte(copyContentText(c.Args["content"])), 0o600); err != nil {
			return copyResult(Result{}, copyFail("could not write content temp file: %v", err))
		}
		j.local, j.content, j.name = file, true, "content"
		return copyResult(j.run(ctx))
	}
	found, err := copyFindSource(c, srcArg)
	if err != nil {
		return copyResult(Result{}, copyFail("%v", err))
	}
	j.local, j.shown, j.name = found, found, filepath.Base(found)
	if strings.HasSuffix(srcArg, "/") {
		j.local += "/"
		j.shown += "/"
	}
	return copyResult(j.run(ctx))
}

// readCopyArgs reads what copy and template share.
func readCopyArgs(c *Call, a copyArgs) (*copyJob, error) {
	j := &copyJob{c: c}
	var err error
	for _, s := range []struct {
		key string
		to  *string
	}{{"dest", &j.dest}, {"owner", &j.owner}, {"group", &j.group}} {
		if *s.to, err = a.str(s.key); err != nil {
			return nil, copyFail("%v", err)
		}
	}
	for _, b := range []struct {
		key string
		def bool
		to  *bool
	}{{"backup", false, &j.backup}, {"force", true, &j.force}, {"local_follow", true, &j.localFollow}} {
		if *b.to, err = a.boolean(b.key, b.def); err != nil {
			return nil, copyFail("%v", err)
		}
	}
	if follow, err := a.boolean("follow", false); err != nil {
		return nil, copyFail("%v", err)
	} else if follow {
		return nil, copyFail("follow=yes is not supported: name the link's target as dest instead")
	}
	if j.mode, err = parseCopyMode(c.Args["mode"], true); err != nil {
		return nil, copyFail("%v", err)
	}
	if j.dirMode, err = parseCopyMode(c.Args["directory_mode"], false); err != nil {
		return nil, copyFail("directory_mode: %v", err)
	}
	return j, nil
}

// copyScratch makes a private directory for the module's local files
// under c.LocalDir (or the system's temp directory without one).
func copyScratch(c *Call, prefix string) (string, error) {
	dir, err := os.MkdirTemp(c.LocalDir, "fleet-"+prefix)
	if err != nil {
		return "", copyFail("making a local scratch directory: %v", err)
	}
	return dir, nil
}

// copyContentText is content: as Ansible writes it: a string as it is, a
// mapping or list as Python's json.dumps, other scalars as Python's str.
func copyContentText(v any) string {
	switch v.(type) {
	case map[string]any, []any:
		if s, err := jinja.JSON(v); err == nil {
			return s
		}
	}
	return copyPyScalar(v)
}

// run copies j.local to the host.
func (j *copyJob) run(ctx context.Context) (Result, error) {
	r, err := j.c.Conn.Remote(ctx)
	if err != nil {
		return Result{}, err
	}
	dest, err := copyRemotePath(ctx, r, j.dest)
	if err != nil {
		return Result{}, err
	}
	info, err := os.Stat(j.local)
	if err != nil {
		return Result{}, copyFail("could not find src=%s, %v", j.shown, copyUnwrapPath(err))
	}
	if info.IsDir() {
		return j.runTree(ctx, r, dest)
	}
	return j.runFile(ctx, r, dest)
}

// copyRemotePath expands a leading ~ and makes a relative path absolute,
// both against the login user's home (the SFTP session's directory),
// keeping a trailing slash.
func copyRemotePath(ctx context.Context, r *transfer.Remote, p string) (string, error) {
	rel := p
	switch {
	case path.IsAbs(p):
		return p, nil
	case p == "~" || strings.HasPrefix(p, "~/"):
		rel = strings.TrimPrefix(p[1:], "/")
	case strings.HasPrefix(p, "~"):
		return "", copyFail("%s: ~user paths are not supported; give the full path", p)
	}
	home, err := r.FS.Getwd()
	if err != nil {
		return "", copySFTPError(ctx, r, "finding the home directory", err)
	}
	out := path.Join(home, rel)
	if strings.HasSuffix(p, "/") && out != "/" {
		out += "/"
	}
	return out, nil
}

// copySFTPError sorts out an SFTP error: the host's when the connection
// died or ctx ended, else a failure of the task that names what was being
// done.
func copySFTPError(ctx context.Context, r *transfer.Remote, doing string, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if r.Lost != nil {
		if lost, ok := r.Lost(err); ok {
			return lost
		}
	}
	return copyFail("%s: %v", doing, copyUnwrapPath(err))
}

// runFile copies one file.
func (j *copyJob) runFile(ctx context.Context, r *transfer.Remote, dest string) (Result, error) {
	final := strings.TrimSuffix(dest, "/")
	if strings.HasSuffix(dest, "/") {
		final = path.Join(dest, j.name)
	} else {
		st, err := copyStatPath(ctx, j.c, r, final, true)
		if err != nil {
			return Result{}, err
		}
		switch {
		case st.exists && st.isDir && j.content:
			return Result{}, copyFail("can not use content with a dir as dest")
		case st.exists && st.isDir:
			final = path.Join(final, j.name)
		case !st.exists && !j.c.Check:
			// In check mode an earlier task may not have made it yet;
			// Ansible reports the copy as a change then.
			parent := path.Dir(final)
			pst, err := copyStatPath(ctx, j.c, r, parent, true)
			if err != nil {
				return Result{}, err
			}
			if !pst.exists {
				return Result{}, copyFail("Destination directory %s does not exist", parent)
			}
		}
	}
	cur, err := copyStatPath(ctx, j.c, r, final, false)
	if err != nil {
		return Result{}, err
	}
	if cur.exists && cur.isDir {
		return Result{}, copyFail("%s is a directory, where the file would go; remove it, or give another dest", final)
	}
	if cur.exists && !j.force {
		return Result{Fields: map[string]any{"dest": dest, "src": j.shown}}, nil
	}
	src, err := transfer.Scan([]string{j.local}, true)
	if err != nil {
		return Result{}, copyFail("%v", err)
	}
	sum, err := copyLocalSums(j.local)
	if err != nil {
		return Result{}, err
	}

	// The old content, for --diff, before it goes.
	var before []byte
	diffable := j.c.Diff && (!cur.exists || cur.isReg && cur.size <= copyDiffLimit)
	if diffable && cur.exists {
		if before, err = copyReadRemote(ctx, j.c, r, final); err != nil {
			return Result{}, err
		}
	}
	backupFile := ""
	if j.backup && cur.exists && !j.c.Check {
		// Backed up only when the content is about to change, so a
		// dry run says whether it is.
		pushed, err := j.push(ctx, r, src, final, true)
		if err != nil {
			return Result{}, err
		}
		if a := pushed[final]; a == report.Updated {
			if backupFile, err = j.makeBackup(ctx, final); err != nil {
				return Result{}, err
			}
		}
	}
	pushed, err := j.push(ctx, r, src, final, j.c.Check)
	if err != nil {
		return Result{}, err
	}
	action := pushed[final]
	wrote := action == report.Created || action == report.Updated
	res := Result{Changed: action != report.Unchanged && action != ""}
	if wrote && diffable {
		if d, ok := j.diff(final, cur.exists, before); ok {
			res.Diffs = append(res.Diffs, d)
		}
	}
	if j.c.Check && wrote {
		// As Ansible: a file that would be written has no state yet.
		res.Fields = map[string]any{}
		return res, nil
	}
	st := cur
	if !j.c.Check && action != report.Unchanged {
		if st, err = copyStatPath(ctx, j.c, r, final, false); err != nil {
			return Result{}, err
		}
	}
	res.Fields = copyFileFields(r, final, st, sum.sha1)
	if wrote {
		res.Fields["md5sum"] = sum.md5
		res.Fields["src"] = j.shown
		if j.content {
			res.Fields["src"] = j.local
		}
	} else {
		res.Fields["path"] = final
	}
	if backupFile != "" {
		res.Fields["backup_file"] = backupFile
	}
	return res, nil
}

// copyFileFields are the fields Ansible's copy and file modules give a
// file.
func copyFileFields(r *transfer.Remote, dest string, st copyRemoteStat, checksum string) map[string]any {
	owner, group := copyNames(r, st.uid, st.gid)
	return map[string]any{
		"checksum": checksum,
		"dest":     dest,
		"gid":      int64(st.gid),
		"group":    group,
		"mode":     fmt.Sprintf("%04o", copyModeToUnix(st.perm)),
		"owner":    owner,
		"size":     st.size,
		"state":    "file",
		"uid":      int64(st.uid),
	}
}

// runTree copies a directory, or its contents when j.local ends in a
// slash, into dest.
func (j *copyJob) runTree(ctx context.Context, r *transfer.Remote, dest string) (Result, error) {
	if !strings.HasSuffix(dest, "/") {
		dest += "/"
	}
	src, err := transfer.Scan([]string{j.local}, j.localFollow)
	if err != nil {
		return Result{}, copyFail("%v", err)
	}
	fields := map[string]any{"dest": dest, "src": j.shown}
	if !j.force {
		// Paths already there are left alone, whatever they hold.
		var keep []*transfer.Entry
		for _, e := range src.Entries {
			if e.Kind != transfer.Dir {
				st, err := copyStatPath(ctx, j.c, r, path.Join(dest, e.Rel), false)
				if err != nil {
					return Result{}, err
				}
				if st.exists {
					continue
				}
			}
			keep = append(keep, e)
		}
		src.Entries = keep
	}
	if len(src.Entries) == 0 {
		return Result{Fields: fields}, nil
	}
	if j.backup && !j.c.Check {
		// Each file whose content is about to change is backed up.
		planned, err := j.push(ctx, r, src, dest, true)
		if err != nil {
			return Result{}, err
		}
		var files []string
		for p, a := range planned {
			if a == report.Updated {
				files = append(files, p)
			}
		}
		sort.Strings(files)
		for _, p := range files {
			if st, err := copyStatPath(ctx, j.c, r, p, false); err != nil {
				return Result{}, err
			} else if !st.isReg {
				continue
			}
			if _, err := j.makeBackup(ctx, p); err != nil {
				return Result{}, err
			}
		}
	}
	pushed, err := j.push(ctx, r, src, dest, j.c.Check)
	if err != nil {
		return Result{}, err
	}
	res := Result{Fields: fields}
	for _, a := range pushed {
		if a != report.Unchanged {
			res.Changed = true
		}
	}
	return res, nil
}

// push runs the push engine with Ansible's rules for modes, owners and
// times, and returns what it did (or would do) to each path.
func (j *copyJob) push(ctx context.Context, r *transfer.Remote, src *transfer.Source, dest string, dry bool) (map[string]report.Action, error) {
	top := ""
	if !strings.HasSuffix(j.local, "/") {
		top = filepath.Base(j.local)
	}
	actions := map[string]report.Action{}
	var failures []string
	opts := transfer.PushOptions{
		Dest:        dest,
		DryRun:      dry,
		Owner:       j.owner,
		Group:       j.group,
		Become:      j.c.Become,
		IgnoreTimes: true,
		KeepOwners:  true,
		Verbose:     true,
		Perm:        j.perm(top),
		Report: func(fr report.FileResult) {
			if fr.Action == report.FileFailed {
				failures = append(failures, fmt.Sprintf("%s: %v", fr.Path, fr.Err))
				return
			}
			actions[fr.Path] = fr.Action
		},
	}
	_, err := transfer.Push(ctx, r, src, opts)
	if err == nil {
		return actions, nil
	}
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	var pe *transfer.PushError
	if errors.As(err, &pe) && len(pe.Leftovers) > 0 {
		return nil, err // the connection died mid-copy; the caller tidies up
	}
	if r.Lost != nil {
		if lost, ok := r.Lost(err); ok {
			return nil, lost
		}
	}
	if len(failures) > 0 {
		sort.Strings(failures)
		return nil, copyFail("%s", strings.Join(failures, "; "))
	}
	return nil, copyFail("copying to %s: %v", dest, err)
}

// perm gives each path its mode as Ansible's copy does: a new path what
// the host's umask gives, unless mode (files) or directory_mode
// (directories) says otherwise; an existing file keeps its mode unless
// mode is given; an existing directory keeps its mode unless
// directory_mode is given and the directory lies inside the copied tree
// (not its top, top being "" when the contents were copied).
func (j *copyJob) perm(top string) func(e *transfer.Entry, have fs.FileInfo, def fs.FileMode) fs.FileMode {
	return func(e *transfer.Entry, have fs.FileInfo, def fs.FileMode) fs.FileMode {
		base := def
		if have != nil {
			base = have.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
		}
		if e == nil || e.Kind == transfer.Dir {
			if j.dirMode != nil && (have == nil || e != nil && e.Rel != top) {
				return j.dirMode.apply(base, true)
			}
			return base
		}
		switch {
		case j.mode == nil:
			return base
		case j.mode.preserve && j.srcPerm != nil:
			return *j.srcPerm
		case j.mode.preserve:
			return e.Perm
		}
		return j.mode.apply(base, false)
	}
}

// makeBackup copies dest to Ansible's backup name, dest.PID.DATE@TIME~,
// on the host, keeping its mode and times, and returns the name.
func (j *copyJob) makeBackup(ctx context.Context, dest string) (string, error) {
	script := "d=" + transfer.Quote(dest) + `; b="$d.$$.$(date +%Y-%m-%d@%H:%M:%S)~"; cp -p -- "$d" "$b" && printf '%s\n' "$b"`
	out, err := exec(ctx, j.c, script, nil)
	if err != nil {
		return "", err
	}
	if out.RC != 0 {
		if msg := sudoFailed(j.c, out); msg != "" {
			return "", copyFail("backing up %s: %s", dest, msg)
		}
		return "", copyFail("Could not make backup of %s: %s", dest, strings.TrimSpace(string(out.Stderr)))
	}
	return strings.TrimSuffix(string(out.Stdout), "\n"), nil
}

// diff returns the --diff of dest's content, when both sides are text
// small enough to show.
func (j *copyJob) diff(dest string, existed bool, before []byte) (report.Diff, bool) {
	after, err := os.ReadFile(j.local)
	if err != nil || len(after) > copyDiffLimit || bytes.IndexByte(after, 0) >= 0 || bytes.IndexByte(before, 0) >= 0 {
		return report.Diff{}, false
	}
	d := report.Diff{AfterHeader: j.shown, Before: string(before), After: string(after)}
	if j.content {
		d.AfterHeader = dest
	}
	if existed {
		d.BeforeHeader = dest
	}
	return d, true
}

// copySums are a local file's checksums as Ansible reports them: SHA-1
// (checksum) and MD5 (md5sum).
type copySums struct{ sha1, md5 string }

func copyLocalSums(p string) (copySums, error) {
	f, err := os.Open(p)
	if err != nil {
		return copySums{}, copyFail("reading %s: %v", p, copyUnwrapPath(err))
	}
	defer f.Close()
	h1, h5 := sha1.New(), md5.New()
	if _, err := io.Copy(io.MultiWriter(h1, h5), f); err != nil {
		return copySums{}, copyFail("reading %s: %v", p, err)
	}
	return copySums{sha1: hex.EncodeToString(h1.Sum(nil)), md5: hex.EncodeToString(h5.Sum(nil))}, nil
}

// copyRemoteStat is what copy, template and fetch learn of a remote path.
type copyRemoteStat struct {
	exists, isDir, isReg bool
	perm                 fs.FileMode // permission bits with setuid, setgid, sticky
	size                 int64
	uid, gid             int
}

// copyStatPath looks at p on the host over SFTP (following a final
// symlink with follow). A path the login user may not look at is looked
// at through sudo when the call has become. A missing path is not an
// error.
func copyStatPath(ctx context.Context, c *Call, r *transfer.Remote, p string, follow bool) (copyRemoteStat, error) {
	var fi fs.FileInfo
	var err error
	if follow {
		fi, err = r.FS.Stat(p)
	} else {
		fi, err = r.FS.Lstat(p)
	}
	switch {
	case err == nil:
		st := copyRemoteStat{exists: true, isDir: fi.IsDir(), isReg: fi.Mode().IsRegular(), size: fi.Size(),
			perm: fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)}
		st.uid, st.gid = copyOwnerIDs(fi)
		return st, nil
	case errors.Is(err, fs.ErrNotExist):
		return copyRemoteStat{}, nil
	case errors.Is(err, fs.ErrPermission) && c.Become != nil:
		return copyStatSudo(ctx, c, p, follow)
	}
	return copyRemoteStat{}, copySFTPError(ctx, r, "looking at "+p, err)
}

// copyStatSudo is copyStatPath through sudo, with stat(1): GNU's and
// BSD's flags differ.
func copyStatSudo(ctx context.Context, c *Call, p string, follow bool) (copyRemoteStat, error) {
	l := ""
	if follow {
		l = "-L "
	}
	script := "p=" + transfer.Quote(p) + "\nif stat -c %s / >/dev/null 2>&1; then stat " + l + "-c '%f %s %u %g' -- \"$p\"; else stat " + l +
		"-f '%Xp %z %u %g' -- \"$p\"; fi 2>/dev/null || echo -"
	out, err := exec(ctx, c, script, nil)
	if err != nil {
		return copyRemoteStat{}, err
	}
	if msg := sudoFailed(c, out); msg != "" {
		return copyRemoteStat{}, copyFail("looking at %s: %s", p, msg)
	}
	line := strings.TrimSpace(string(out.Stdout))
	if line == "-" {
		return copyRemoteStat{}, nil
	}
	f := strings.Fields(line)
	if len(f) != 4 {
		return copyRemoteStat{}, copyFail("looking at %s through sudo: stat printed %q", p, line)
	}
	var n [4]uint64
	for i, base := range []int{16, 10, 10, 10} {
		v, err := strconv.ParseUint(f[i], base, 64)
		if err != nil {
			return copyRemoteStat{}, copyFail("looking at %s through sudo: stat printed %q", p, line)
		}
		n[i] = v
	}
	const typeBits, dirType, regType = 0o170000, 0o040000, 0o100000
	return copyRemoteStat{
		exists: true,
		isDir:  n[0]&typeBits == dirType,
		isReg:  n[0]&typeBits == regType,
		perm:   copyUnixToMode(uint32(n[0] & 0o7777)),
		size:   int64(n[1]),
		uid:    int(n[2]),
		gid:    int(n[3]),
	}, nil
}

// copyOwnerIDs returns the owner and group ids an SFTP file info carries.
func copyOwnerIDs(fi fs.FileInfo) (uid, gid int) {
	if st, ok := fi.Sys().(*sftp.FileStat); ok {
		return int(st.UID), int(st.GID)
	}
	return -1, -1
}

// copyReadRemote reads a small remote file: over SFTP, or through sudo
// when the login user may not and the call has become.
func copyReadRemote(ctx context.Context, c *Call, r *transfer.Remote, p string) ([]byte, error) {
	f, err := r.FS.Open(p)
	if err == nil {
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, copyDiffLimit+1))
		if err != nil {
			return nil, copySFTPError(ctx, r, "reading "+p, err)
		}
		return b, nil
	}
	if !errors.Is(err, fs.ErrPermission) || c.Become == nil {
		return nil, copySFTPError(ctx, r, "reading "+p, err)
	}
	out, err := exec(ctx, c, "cat -- "+transfer.Quote(p), nil)
	if err != nil {
		return nil, err
	}
	if out.RC != 0 {
		if msg := sudoFailed(c, out); msg != "" {
			return nil, copyFail("reading %s: %s", p, msg)
		}
		return nil, copyFail("reading %s: %s", p, strings.TrimSpace(string(out.Stderr)))
	}
	return out.Stdout, nil
}

// copyNames returns the names of uid and gid from the host's /etc/passwd
// and /etc/group, or the numbers when they are not listed there.
func copyNames(r *transfer.Remote, uid, gid int) (owner, group string) {
	owner, group = strconv.Itoa(uid), strconv.Itoa(gid)
	lookup := func(file string, id int) (string, bool) {
		f, err := r.FS.Open(file)
		if err != nil {
			return "", false
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, 4<<20))
		if err != nil {
			return "", false
		}
		want := strconv.Itoa(id)
		for _, line := range strings.Split(string(b), "\n") {
			if fields := strings.Split(line, ":"); len(fields) >= 3 && fields[2] == want {
				return fields[0], true
			}
		}
		return "", false
	}
	if name, ok := lookup("/etc/passwd", uid); ok {
		owner = name
	}
	if name, ok := lookup("/etc/group", gid); ok {
		group = name
	}
	return owner, group
}

// copyArgs reads the arguments of the modules that move files (copy,
// template, fetch) the way Ansible converts them.
type copyArgs struct {
	module string
	m      map[string]any
}

// unsupported returns Ansible's message for arguments the module does not
// take, or "" when all are known.
func (a copyArgs) unsupported(known ...string) string {
	var bad []string
	for k := range a.m {
		if !slices.Contains(known, k) {
			bad = append(bad, k)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	sort.Strings(bad)
	sorted := append([]string(nil), known...)
	sort.Strings(sorted)
	return fmt.Sprintf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s",
		a.module, strings.Join(bad, ", "), strings.Join(sorted, ", "))
}

// str returns a string argument, "" when absent or null. Scalars are
// turned into text as Python's str() would.
func (a copyArgs) str(key string) (string, error) {
	v := a.m[key]
	switch v := v.(type) {
	case nil:
		return "", nil
	case string:
		return v, nil
	case int64, float64, bool:
		return copyPyScalar(v), nil
	}
	return "", fmt.Errorf("argument '%s' is of type %s and we were unable to convert to str", key, copyPyType(v))
}

// boolean returns a boolean argument, def when absent or null, accepting
// what Ansible accepts: yes/no, true/false, on/off, y/n, t/f, 1/0.
func (a copyArgs) boolean(key string, def bool) (bool, error) {
	v := a.m[key]
	switch v := v.(type) {
	case nil:
		return def, nil
	case bool:
		return v, nil
	case int64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case float64:
		if v == 0 || v == 1 {
			return v == 1, nil
		}
	case string:
		switch strings.ToLower(strings.TrimSpace(v)) {
		case "yes", "on", "1", "true", "y", "t", "1.0":
			return true, nil
		case "no", "off", "0", "false", "n", "f", "0.0", "":
			return false, nil
		}
	}
	return false, fmt.Errorf("argument '%s' is of type %s and we were unable to convert to bool: the value %s is not a valid boolean; use yes or no",
		key, copyPyType(v), copyPyScalar(v))
}

// copyPyScalar writes a scalar as Python's str() does, which is how
// Ansible writes non-string content: True, 42, 1.5, 100.0.
func copyPyScalar(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case bool:
		if v {
			return "True"
		}
		return "False"
	case int64:
		return strconv.FormatInt(v, 10)
	case float64:
		switch {
		case math.IsInf(v, 1):
			return "inf"
		case math.IsInf(v, -1):
			return "-inf"
		case math.IsNaN(v):
			return "nan"
		}
		s := strconv.FormatFloat(v, 'g', -1, 64)
		if !strings.ContainsAny(s, ".e") {
			s += ".0"
		}
		return s
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

func copyPyType(v any) string {
	switch v.(type) {
	case string:
		return "<class 'str'>"
	case bool:
		return "<class 'bool'>"
	case int64:
		return "<class 'int'>"
	case float64:
		return "<class 'float'>"
	case []any:
		return "<class 'list'>"
	case map[string]any:
		return "<class 'dict'>"
	case nil:
		return "<class 'NoneType'>"
	}
	return fmt.Sprintf("%T", v)
}

// copyMode is a parsed mode argument: octal bits, a symbolic mode applied
// to the path's current mode, or "preserve" (the source file's mode).
type copyMode struct {
	text     string
	bits     fs.FileMode // octal: the bits to set
	symbolic *transfer.ModeSpec
	preserve bool
}

// copySymbolicClause is one clause of Ansible's symbolic modes: who letters
// are required, unlike chmod(1).
var copySymbolicClause = regexp.MustCompile(`^[ugoa]+[-+=][rwxXst]*$`)

// parseCopyMode reads a mode as Ansible's file arguments take it: an
// integer is the mode itself (YAML's 0644 is 420), a string of digits is
// octal, anything else symbolic (u=rw,g=r), or "preserve" where allowed.
// It returns nil when no mode was given.
func parseCopyMode(v any, allowPreserve bool) (*copyMode, error) {
	bad := func(why string) error {
		return fmt.Errorf("mode must be in octal or symbolic form (%s)", why)
	}
	switch v := v.(type) {
	case nil:
		return nil, nil
	case int64:
		if v < 0 || v > 0o7777 {
			return nil, bad(fmt.Sprintf("%d is out of range; quote octal modes, as in mode: \"0644\"", v))
		}
		return &copyMode{text: fmt.Sprintf("%04o", v), bits: copyUnixToMode(uint32(v))}, nil
	case string:
		s := strings.TrimSpace(v)
		switch {
		case s == "":
			return nil, nil
		case s == "preserve":
			if !allowPreserve {
				return nil, bad("preserve is only for copy and template")
			}
			return &copyMode{text: s, preserve: true}, nil
		case strings.Trim(s, "01234567") == "" || strings.HasPrefix(s, "0o") && strings.Trim(s[2:], "01234567") == "" && len(s) > 2:
			n, err := strconv.ParseUint(strings.TrimPrefix(s, "0o"), 8, 32)
			if err != nil || n > 0o7777 {
				return nil, bad(fmt.Sprintf("%q is not an octal mode of at most four digits", s))
			}
			return &copyMode{text: fmt.Sprintf("%04o", n), bits: copyUnixToMode(uint32(n))}, nil
		}
		for _, clause := range strings.Split(s, ",") {
			if !copySymbolicClause.MatchString(clause) {
				return nil, bad("bad symbolic permission for mode: " + s)
			}
		}
		spec, err := transfer.ParseChmod(s)
		if err != nil {
			return nil, bad("bad symbolic permission for mode: " + s)
		}
		return &copyMode{text: s, symbolic: &spec}, nil
	}
	return nil, bad(fmt.Sprintf("a mode can't be %s", copyPyType(v)))
}

// apply returns the mode a path whose mode is now base gets.
func (m *copyMode) apply(base fs.FileMode, isDir bool) fs.FileMode {
	if m.symbolic != nil {
		return m.symbolic.Apply(base, isDir)
	}
	return m.bits
}

// copyUnixToMode turns chmod's octal bits into Go's permission bits.
func copyUnixToMode(u uint32) fs.FileMode {
	m := fs.FileMode(u & 0o777)
	if u&0o4000 != 0 {
		m |= fs.ModeSetuid
	}
	if u&0o2000 != 0 {
		m |= fs.ModeSetgid
	}
	if u&0o1000 != 0 {
		m |= fs.ModeSticky
	}
	return m
}

// copyModeToUnix turns Go's permission bits into chmod's octal.
func copyModeToUnix(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return u
}

// copyFindSource finds a copy or template src on the controller: an
// absolute path as it is, a relative one in c.SearchDirs, first found. The
// error says where it looked, as Ansible's does.
func copyFindSource(c *Call, name string) (string, error) {
	if strings.HasPrefix(name, "~/") || name == "~" {
		if home, err := os.UserHomeDir(); err == nil {
			name = filepath.Join(home, strings.TrimPrefix(name, "~"))
		}
	}
	if filepath.IsAbs(name) {
		if _, err := os.Stat(name); err != nil {
			return "", fmt.Errorf("Could not find or access '%s' on the controller: %v", name, copyUnwrapPath(err))
		}
		return filepath.Clean(name), nil
	}
	var tried []string
	for _, d := range c.SearchDirs {
		p := filepath.Join(d, name)
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
		tried = append(tried, p)
	}
	if len(tried) == 0 {
		return "", fmt.Errorf("Could not find or access '%s': a relative path needs the playbook's directory, and none was given", name)
	}
	return "", fmt.Errorf("Could not find or access '%s'\nSearched in:\n\t%s\non the controller.", name, strings.Join(tried, "\n\t"))
}

func copyUnwrapPath(err error) error {
	if pe, ok := err.(*fs.PathError); ok {
		return pe.Err
	}
	return err
}
