package transfer

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/sftp"
)

// Remote is one host's side of a transfer: an SFTP session and a way to run
// shell commands, both over the host's one connection.
type Remote struct {
	Host string // the inventory name, for messages
	FS   *sftp.Client
	// Run runs a command through the remote user's shell in a new session,
	// returning an error when it can't run or exits non-zero.
	Run func(ctx context.Context, cmd string, stdin []byte, stdout, stderr io.Writer) error
	// Lost says whether an SFTP error means the connection died, and
	// returns the error to report for the host then.
	Lost func(error) (error, bool)
}

// lost wraps Remote.Lost for remotes that don't set it.
func (r *Remote) lost(err error) (error, bool) {
	if r.Lost == nil || err == nil {
		return nil, false
	}
	return r.Lost(err)
}

// settle sorts out a path's error: when the connection died or ctx ended
// it returns the error that stops the host; otherwise the path failed
// alone, its error goes to *pathErr, and the others carry on.
func (r *Remote) settle(ctx context.Context, err error, pathErr *error) error {
	if err == nil {
		return nil
	}
	if lost, ok := r.lost(err); ok {
		return lost
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	*pathErr = err
	return nil
}

// output runs cmd (through sudo with b) and returns its stdout. A failure
// carries what the command printed on stderr, and sudo's complaints are
// turned into advice.
func (r *Remote) output(ctx context.Context, b *Become, cmd string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	err := r.Run(ctx, b.wrap(cmd), b.stdin(), &stdout, &stderr)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if b != nil {
			if serr := sudoError(stderr.String()); serr != nil {
				return nil, serr
			}
		}
		if msg := firstLine(stderr.String()); msg != "" {
			return stdout.Bytes(), fmt.Errorf("%w: %s", err, msg)
		}
		return stdout.Bytes(), err
	}
	return stdout.Bytes(), nil
}

// sums returns the remote SHA-256 of paths, in as few commands as the
// command-line limit allows (one for any usual push). Paths it could not
// read are missing from the map.
func (r *Remote) sums(ctx context.Context, b *Become, paths []string) (map[string][32]byte, error) {
	all := map[string][32]byte{}
	for _, script := range hashScripts(paths) {
		out, err := r.output(ctx, b, script)
		if err != nil && (ctx.Err() != nil || b != nil && sudoError(err.Error()) != nil) {
			return nil, err
		}
		// sha256sum exits 1 when one file is unreadable but still
		// prints the others; those it didn't print are simply sent.
		for k, v := range parseSums(out) {
			all[k] = v
		}
		if err != nil && len(out) == 0 && !isExit(err) {
			return nil, err
		}
	}
	return all, nil
}

// isExit reports whether err says a command ran and exited non-zero.
func isExit(err error) bool {
	var e interface{ ExitStatus() int }
	return errors.As(err, &e)
}

// ids resolves the owner and group of --chown to numeric ids on the host; numbers are
// taken as they are. -1 means unchanged.
func (r *Remote) ids(ctx context.Context, owner, group string) (uid, gid int, err error) {
	uid, gid = -1, -1
	var script []string
	if owner != "" {
		if n, ok := number(owner); ok {
			uid = n
		} else {
			script = append(script, "id -u -- "+quote(owner)+" || echo -")
		}
	}
	if group != "" {
		if n, ok := number(group); ok {
			gid = n
		} else {
			q := quote(group)
			script = append(script, "{ getent group "+q+" 2>/dev/null || awk -F: -v g="+q+" '$1 == g' /etc/group; } | cut -d: -f3 | grep . || echo -")
		}
	}
	if len(script) == 0 {
		return uid, gid, nil
	}
	out, err := r.output(ctx, nil, strings.Join(script, "; "))
	if err != nil {
		return 0, 0, fmt.Errorf("looking up --chown's user and group: %w", err)
	}
	lines := strings.Fields(string(out))
	next := func(what, name string) (int, error) {
		if len(lines) == 0 {
			return 0, fmt.Errorf("looking up %s %q: no answer", what, name)
		}
		l := lines[0]
		lines = lines[1:]
		n, ok := number(l)
		if !ok {
			return 0, fmt.Errorf("there is no %s %q on the host; create it first or give a numeric id", what, name)
		}
		return n, nil
	}
	if uid < 0 && owner != "" {
		if uid, err = next("user", owner); err != nil {
			return 0, 0, err
		}
	}
	if gid < 0 && group != "" {
		if gid, err = next("group", group); err != nil {
			return 0, 0, err
		}
	}
	return uid, gid, nil
}

func number(s string) (int, bool) {
	if s == "" || len(s) > 10 {
		return 0, false
	}
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// tempName returns a fresh hidden name beside p, for writing p's new
// content before it is renamed over p. The name keeps within NAME_MAX.
func tempName(p string) string {
	base := path.Base(p)
	if len(base) > 200 {
		base = base[:200]
	}
	return path.Join(path.Dir(p), "."+base+".fleet-"+randomHex(6))
}

// randomHex returns n random bytes in hex.
func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// temps tracks the temporary files a transfer has made and not yet
// renamed or removed, so that none is left behind.
type temps struct {
	mu sync.Mutex
	m  map[string]bool
}

func (t *temps) add(p string) {
	t.mu.Lock()
	if t.m == nil {
		t.m = map[string]bool{}
	}
	t.m[p] = true
	t.mu.Unlock()
}

func (t *temps) done(p string) {
	t.mu.Lock()
	delete(t.m, p)
	t.mu.Unlock()
}

func (t *temps) list() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.m))
	for p := range t.m {
		out = append(out, p)
	}
	return out
}

// Cleanup removes temporary files a failed transfer left, through fs. It
// is how the runner tidies up after a connection died mid-copy: it opens a
// new connection and calls Cleanup with the transfer's leftovers. Paths
// already gone are fine.
func Cleanup(fs *sftp.Client, paths []string) error {
	var errs []error
	for _, p := range paths {
		if err := removeAll(fs, p); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", p, describe(err)))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("could not remove temporary files; remove them by hand: %w", errors.Join(errs...))
	}
	return nil
}

// removeAll removes p, and everything under it if it is a directory; a
// missing p is not an error.
func removeAll(c *sftp.Client, p string) error {
	err := c.RemoveAll(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return err
}

// describeRead is describe for reading a remote path.
func describeRead(err error) error {
	if errors.Is(err, fs.ErrPermission) {
		return errors.New("permission denied (the login user can't read it)")
	}
	return describe(err)
}

// describe turns an SFTP error into words a user can act on.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	var se *sftp.StatusError
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return errors.New("no such file or directory")
	case errors.Is(err, fs.ErrPermission):
		return errors.New("permission denied (use --become, or a destination the login user can write)")
	case errors.As(err, &se):
		switch se.FxCode() {
		case sftp.ErrSSHFxFailure:
			return errors.New("the server failed the write: the disk may be full, or the file over a size or quota limit")
		case sftp.ErrSSHFxOpUnsupported:
			return errors.New("the server's SFTP does not support this operation")
		}
	}
	return err
}

// sftpStat is what SFTP file infos carry in Sys: owner ids among others.
type sftpStat = sftp.FileStat

// statHidden looks, through sudo, at the paths the login user could not
// see, so that --become into a directory only root can read is as
// idempotent as any other push. One command covers them all; GNU and BSD
// stat differ, and a path that is missing prints "-".
func (r *Remote) statHidden(ctx context.Context, b *Become, items []*item) error {
	var hidden []*item
	for _, it := range items {
		if it.hidden && it.err == nil {
			hidden = append(hidden, it)
		}
	}
	if len(hidden) == 0 || b == nil {
		return nil
	}
	var cmd strings.Builder
	cmd.WriteString("set --")
	for _, it := range hidden {
		cmd.WriteString(" " + quote(it.remote))
	}
	// Without -L both stats describe a symlink itself, as a listing does.
	cmd.WriteString(`
if stat -c %s / >/dev/null 2>&1; then
	for p; do stat -c '%f %s %Y %u %g' -- "$p" 2>/dev/null || echo -; done
else
	for p; do stat -f '%Xp %z %m %u %g' -- "$p" 2>/dev/null || echo -; done
fi`)
	out, err := r.output(ctx, b, cmd.String())
	if err != nil {
		return fmt.Errorf("looking at paths the login user can't read: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(hidden) {
		return fmt.Errorf("looking at paths the login user can't read: %d answers for %d paths", len(lines), len(hidden))
	}
	for i, it := range hidden {
		it.have = parseStat(path.Base(it.remote), lines[i])
	}
	return nil
}

// parseStat reads "MODE(hex) SIZE MTIME UID GID" into a FileInfo like
// SFTP's; "-" or anything unreadable is a missing path.
func parseStat(name, line string) fs.FileInfo {
	f := strings.Fields(line)
	if len(f) != 5 {
		return nil
	}
	var n [5]uint64
	bases, bits := []int{16, 10, 10, 10, 10}, []int{32, 64, 32, 32, 32}
	for i := range n {
		v, err := strconv.ParseUint(f[i], bases[i], bits[i])
		if err != nil {
			return nil
		}
		n[i] = v
	}
	return statInfo{name: name, st: &sftp.FileStat{Mode: uint32(n[0]), Size: n[1], Mtime: uint32(n[2]), UID: uint32(n[3]), GID: uint32(n[4])}}
}

// statInfo is a FileInfo made from stat(1)'s answer.
type statInfo struct {
	name string
	st   *sftp.FileStat
}

func (s statInfo) Name() string       { return s.name }
func (s statInfo) Size() int64        { return int64(s.st.Size) }
func (s statInfo) Mode() fs.FileMode  { return s.st.FileMode() }
func (s statInfo) ModTime() time.Time { return s.st.ModTime() }
func (s statInfo) IsDir() bool        { return s.Mode().IsDir() }
func (s statInfo) Sys() any           { return s.st }
