package transfer

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"fleetrun.dev/fleet/report"
)

// installBecome writes the plan through sudo. Content goes over SFTP, as
// the login user, into a private directory (mode 0700, made by mktemp);
// then one script run with sudo copies each file to a temp name beside
// its destination, sets owner and mode, and renames it into place. The
// script prints a line for each path done, so a failure part-way reports
// exactly what was and wasn't installed. The private directory is removed
// by the script, or by tidy if the script never ran.
func (r *Remote) installBecome(ctx context.Context, p *plan, opts *PushOptions, tmp *temps, st *report.TransferStats) error {
	work := false
	for _, it := range p.items {
		if it.err == nil && (it.send || it.meta) {
			work = true
		}
	}
	deletes := opts.Delete && len(p.extras) > 0 && countErrs(p.items) == 0
	if !work && !deletes && !p.mkroot {
		return nil
	}
	out, err := r.output(ctx, nil, `mktemp -d "${TMPDIR:-/tmp}/fleet.XXXXXXXXXX"`)
	if err != nil {
		return fmt.Errorf("making a private temp directory for --become: %w", err)
	}
	priv := strings.TrimSpace(string(out))
	if !path.IsAbs(priv) || strings.ContainsAny(priv, "\n") {
		return fmt.Errorf("making a private temp directory for --become: mktemp printed %q", priv)
	}
	tmp.add(priv)
	// sudo to root reads the private directory as it is. Another become
	// user needs to reach it: it may enter (0711) but not list it, and
	// the files have random names it learns from the script only.
	shared := opts.Become.User != "" && opts.Become.User != "root"
	if shared {
		if err := r.FS.Chmod(priv, 0o711); err != nil {
			return fmt.Errorf("making %s reachable for %s: %w", priv, opts.Become.User, describe(err))
		}
	}
	stageName := func(i int) string {
		switch {
		case shared:
			return path.Join(priv, randomHex(16))
		case i < 0:
			return path.Join(priv, "install")
		}
		return path.Join(priv, strconv.Itoa(i))
	}

	// Upload what must be sent into the private directory.
	staged := map[*item]string{}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.Parallel)
	for i, it := range p.items {
		if it.err != nil || !it.send || it.e.Kind != File {
			continue
		}
		name := stageName(i)
		staged[it] = name
		g.Go(func() error {
			return r.settle(gctx, r.stage(gctx, it, name, shared, opts), &it.err)
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	deletes = deletes && countErrs(p.items) == 0
	removePriv := priv
	if shared {
		removePriv = "" // not the become user's to remove: done below
	}
	script, index := installScript(p, removePriv, staged, deletes)
	scriptPath := stageName(-1) + ".sh"
	f, err := r.FS.OpenFile(scriptPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err == nil {
		_, err = f.Write([]byte(script))
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	if err == nil && shared {
		err = r.FS.Chmod(scriptPath, 0o644)
	}
	if err != nil {
		return fmt.Errorf("writing the install script to %s: %w", priv, describe(err))
	}
	var stdout, stderr bytes.Buffer
	runErr := r.Run(ctx, opts.Become.wrap("sh "+quote(scriptPath)), opts.Become.stdin(), &stdout, &stderr)
	done := map[string]bool{}
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		done[sc.Text()] = true
	}
	if shared && ctx.Err() == nil {
		if err := removeAll(r.FS, priv); err == nil {
			tmp.done(priv)
		}
	}
	if runErr == nil {
		tmp.done(priv)
	} else if ctx.Err() != nil {
		return ctx.Err()
	} else if serr := sudoError(stderr.String()); serr != nil {
		runErr = serr
	} else if msg := firstLine(stderr.String()); msg != "" {
		runErr = fmt.Errorf("%w: %s", runErr, msg)
	}
	if lost, ok := r.lost(runErr); ok {
		return lost
	}
	for key, it := range index {
		it.done = done[key]
	}
	if runErr != nil {
		// The script stops at its first failure: that path gets the
		// error, and the ones after it were not installed.
		blamed := false
		for i, it := range p.items {
			key := "ok " + strconv.Itoa(i)
			if index[key] == nil || done[key] || it.err != nil {
				continue
			}
			if !blamed {
				it.err = fmt.Errorf("installing with sudo failed: %w", runErr)
				blamed = true
			} else {
				it.err = errors.New("not installed, as an earlier step failed")
			}
		}
		if !blamed {
			return fmt.Errorf("installing with sudo: %w", runErr)
		}
	}
	if deletes {
		for i, x := range p.extras {
			if !done["del "+strconv.Itoa(i)] {
				continue
			}
			st.Deleted++
			opts.Report(report.FileResult{Host: r.Host, Path: x.remote, Action: report.Deleted, Time: time.Now()})
		}
	}
	return nil
}

func countErrs(items []*item) int {
	n := 0
	for _, it := range items {
		if it.err != nil {
			n++
		}
	}
	return n
}

// stage uploads a file's content into the private directory with its
// mtime (unless IgnoreTimes), which the install script's cp -p keeps.
func (r *Remote) stage(ctx context.Context, it *item, name string, shared bool, opts *PushOptions) error {
	local, err := os.Open(it.e.Local)
	if err != nil {
		return fmt.Errorf("%s: %w", it.e.Local, unwrapPath(err))
	}
	defer local.Close()
	f, err := r.FS.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
	if err != nil {
		return fmt.Errorf("%s: staging in %s: %w", it.remote, path.Dir(name), describe(err))
	}
	// The copy the script makes beside the destination takes this mode
	// (cp -p) until the script sets the real one: keep it private.
	mode := fs.FileMode(0o600)
	if shared {
		mode = 0o644
	}
	err = f.Chmod(mode)
	var n int64
	if err == nil {
		n, err = writeFrom(f, &sizedReader{ctx: ctx, r: local, size: it.e.Size, sent: opts.Sent})
	}
	it.bytes = n
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && !opts.IgnoreTimes {
		err = r.FS.Chtimes(name, it.e.MTime, it.e.MTime)
	}
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("%s: staging: %w", it.remote, describe(err))
	}
	return nil
}

// installScript writes the shell script that installs the plan as the
// become user. index maps each "ok N" line the script prints to its item.
// Every path is passed after --, so names starting with a dash are names.
// The script removes priv when it ends, unless priv is "".
func installScript(p *plan, priv string, staged map[*item]string, deletes bool) (string, map[string]*item) {
	var b strings.Builder
	line := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	line("# Written by fleet push --become; removes itself when done.")
	line("set -e")
	line("umask 022")
	line("t=")
	if priv != "" {
		line("trap 'rm -f -- \"$t\"; rm -rf -- %s' EXIT", quote(priv))
	} else {
		line("trap 'rm -f -- \"$t\"' EXIT")
	}
	// dash skips the EXIT trap when a signal kills it; exiting from a
	// signal trap runs it.
	line("trap 'exit 143' HUP INT TERM PIPE")
	owner := `"$(id -u):$(id -g)"`
	chown := true
	switch {
	case p.uid >= 0 && p.gid >= 0:
		owner = fmt.Sprintf("%d:%d", p.uid, p.gid)
	case p.uid >= 0:
		owner = strconv.Itoa(p.uid)
	case p.gid >= 0:
		owner = fmt.Sprintf(":%d", p.gid)
	default:
		chown = false
	}
	line("o=%s", owner)
	// A directory in the way is an error, not a place to move into. A
	// symlink to a directory is replaced: mv -T where mv has it (GNU),
	// else the link is removed first (BSD).
	line(`mvt() {`)
	line(`	if [ -d "$2" ] && [ ! -L "$2" ]; then echo "$2: is a directory, where a file would go" >&2; return 1; fi`)
	line(`	if [ -L "$2" ] && [ -d "$2" ]; then mv -T -f -- "$1" "$2" 2>/dev/null || { rm -f -- "$2"; mv -f -- "$1" "$2"; }; else mv -f -- "$1" "$2"; fi`)
	line(`}`)
	// f's sixth argument, when given, is the owner to keep instead of $o.
	line(`f() { t=$3; cp -p -- "$1" "$t"; chown -- "${6:-$o}" "$t"; chmod -- "$4" "$t"; mvt "$t" "$2"; t=; echo "ok $5"; }`)
	line(`l() { t=$3; ln -s -- "$1" "$t"; chown -h -- "$o" "$t"; mvt "$t" "$2"; t=; echo "ok $4"; }`)
	switch {
	case len(p.newRoots) > 0:
		for _, d := range p.newRoots {
			line("[ -d %s ] || { mkdir -- %s && chmod -- %04o %s; }", quote(d.path), quote(d.path), unixPerm(d.perm), quote(d.path))
		}
	case p.mkroot:
		line("mkdir -p -- %s", quote(p.root))
	}
	index := map[string]*item{}
	stamp := func(t time.Time) string { return t.UTC().Format("200601021504.05") }
	for i, it := range p.items {
		if it.err != nil || !it.send && !it.meta {
			continue
		}
		key := "ok " + strconv.Itoa(i)
		index[key] = it
		mode := fmt.Sprintf("%04o", unixPerm(it.perm))
		dst := quote(it.remote)
		switch {
		case it.e.Kind == Dir:
			// Made now; its mode is set at the end (below).
			if it.send {
				line("mkdir -p -- %s", dst)
			}
			if chown {
				line(`chown -- "$o" %s`, dst)
			}
		case it.e.Kind == Symlink:
			line("l %s %s %s %d", quote(it.e.Link), dst, quote(tempName(it.remote)), i)
		case it.send:
			keep := ""
			if p.keepOwners {
				if uid, gid := keptOwner(it, p); uid >= 0 && gid >= 0 {
					keep = fmt.Sprintf(" %d:%d", uid, gid)
				}
			}
			line("f %s %s %s %s %d%s", quote(staged[it]), dst, quote(tempName(it.remote)), mode, i, keep)
		default:
			if chown {
				line(`chown -- "$o" %s`, dst)
			}
			if p.ignoreTimes {
				line("chmod -- %s %s; echo %s", mode, dst, quote(key))
			} else {
				line("chmod -- %s %s; TZ=UTC0 touch -m -t %s -- %s; echo %s", mode, dst, stamp(it.e.MTime), dst, quote(key))
			}
		}
	}
	if deletes {
		for i, x := range p.extras {
			line("rm -rf -- %s; echo %s", quote(x.remote), quote("del "+strconv.Itoa(i)))
		}
	}
	for i := len(p.items) - 1; i >= 0; i-- {
		it := p.items[i]
		if it.e.Kind != Dir || it.err != nil {
			continue
		}
		if it.send || it.meta {
			line("chmod -- %04o %s; echo %s", unixPerm(it.perm), quote(it.remote), quote("ok "+strconv.Itoa(i)))
		}
		if it.e.Tree && !p.ignoreTimes {
			line("TZ=UTC0 touch -m -t %s -- %s", stamp(it.e.MTime), quote(it.remote))
		}
	}
	return b.String(), index
}

// unixPerm converts Go's mode bits into the octal chmod takes.
func unixPerm(m fs.FileMode) uint32 {
	p := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		p |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		p |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		p |= 0o1000
	}
	return p
}
