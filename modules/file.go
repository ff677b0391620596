package modules

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"
	"time"

	"fleetrun.dev/fleet/report"
)

func init() { register("file", runFile) }

var fileOpts = []optSpec{
	{name: "path", kind: optPath, required: true, aliases: []string{"dest", "name"}},
	{name: "state", kind: optStr, choices: []string{"absent", "directory", "file", "hard", "link", "touch"}},
	{name: "src", kind: optPath},
	{name: "mode", kind: optRaw},
	{name: "owner", kind: optStr},
	{name: "group", kind: optStr},
	{name: "recurse", kind: optBool, def: false},
	{name: "force", kind: optBool, def: false},
	{name: "follow", kind: optBool, def: true},
	{name: "modification_time", kind: optStr},
	{name: "modification_time_format", kind: optStr, def: "%Y%m%d%H%M.%S"},
	{name: "access_time", kind: optStr},
	{name: "access_time_format", kind: optStr, def: "%Y%m%d%H%M.%S"},
	{name: "unsafe_writes", kind: optBool, def: false},
	{name: "_original_basename", kind: optStr},
	{name: "attributes", aliases: []string{"attr"}, unsupported: true},
	{name: "selevel", unsupported: true},
	{name: "serole", unsupported: true},
	{name: "setype", unsupported: true},
	{name: "seuser", unsupported: true},
	{name: "_diff_peek", unsupported: true},
}

// fileTask is one run of the file module on one host: what the probe
// script found, and the commands (act) that make the host as asked.
type fileTask struct {
	c    *Call
	o    moduleOpts
	mode modeOpt
	// modeMsg and modeDetails tell what is wrong with mode; Ansible
	// finds out only when it comes to set the mode.
	modeMsg     string
	modeDetails any
	mtime       string // "now" or "preserve"
	atime       string
	owner       string
	group       string
	recs        shellRecords
	umask       uint32
	uid         int64 // the user the module runs as
	gid         int64
	path        string // expanded
	st          remoteStat
	src         string // expanded; "" when not given
	hasSrc      bool

	mark     string
	lines    []string // the plan: sh lines run after the probe
	acts     int      // commands among lines
	kidOps   []byte   // NUL-terminated sh lines for the children (recurse)
	before   map[string]any
	after    map[string]any
	warnings []string
}

// runFile manages a path as Ansible 2.14's file module does, through
// two remote scripts at most: a probe (stat, link targets, user and
// group ids) and, when something must change, the commands that change
// it followed by a fresh stat for the result.
func runFile(ctx context.Context, c *Call) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, fileOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	f := &fileTask{c: c, o: o, owner: o.str("owner"), group: o.str("group"), mark: markerToken()}
	f.src, f.hasSrc = o.str("src"), o.has("src")
	f.mode, f.modeMsg, f.modeDetails = readModeOpt(o.v["mode"])
	state := o.str("state")
	f.mtime, f.atime = fileTimeOpt(o.v["modification_time"], state), fileTimeOpt(o.v["access_time"], state)
	for _, t := range []string{f.mtime, f.atime} {
		if t != "now" && t != "preserve" {
			return failedResult(fmt.Sprintf("fleet's file module takes modification_time and access_time only as now or preserve, not %q", t), nil), nil
		}
	}

	out, err := exec(ctx, c, f.probeScript(), nil)
	if err != nil {
		return Result{}, err
	}
	if m := sudoFailed(c, out); m != "" {
		return failedResult(m, nil), nil
	}
	f.recs = parseShellRecords(out.Stdout)
	if _, ok := f.recs.get("done"); !ok {
		return failedResult(fmt.Sprintf("could not look at %s on the host: %s", o.str("path"), strings.TrimSpace(outputText(out.Stderr))), nil), nil
	}
	f.path, _ = f.recs.get("path")
	f.src, _ = f.recs.get("src")
	f.st = f.stat("st")
	u, _ := f.recs.get("umask")
	if n, err := strconv.ParseUint(strings.TrimSpace(u), 8, 32); err == nil {
		f.umask = uint32(n)
	} else {
		f.umask = 0o022
	}
	f.uid = f.num("uid")
	f.gid = f.num("gid")

	prev := f.st.fileState()
	if state == "" {
		switch {
		case prev != "absent":
			state = prev
		case o.boolean("recurse"):
			state = "directory"
		default:
			state = "file"
		}
	}
	if o.boolean("recurse") && state != "directory" {
		return f.finish(f.fail("recurse option requires state to be 'directory'", map[string]any{"path": f.path}), nil, nil), nil
	}
	if f.hasSrc && state != "link" && state != "hard" {
		return f.finish(f.fail("src option requires state to be 'link' or 'hard'", map[string]any{"path": f.path}), nil, nil), nil
	}

	var res Result
	switch state {
	case "absent":
		res = f.absent()
	case "touch":
		res = f.touch()
	case "file":
		res = f.file()
	case "directory":
		res = f.directory()
	case "link":
		res = f.symlink()
	case "hard":
		res = f.hardlink()
	}
	if res.Failed || f.acts == 0 || c.Check {
		return f.finish(res, nil, nil), nil
	}

	// Carry out the plan, then look again for the result's fields.
	rp := shellQuoteAlways(f.resultPath(res))
	f.lines = append(f.lines, fmt.Sprintf(`fleet_st final %s; fleet_st finalL %s -L; fleet_rec done 1`, rp, rp))
	script := shellStatFuncs + fmt.Sprintf("fleet_fail() { printf '%%s\\0err=%%s\\0detail=%%s\\0' %s \"$1\" \"$fleet_o\"; exit 0; }\n", f.mark) + strings.Join(f.lines, "\n") + "\n"
	out, err = exec(ctx, c, script, f.kidOps)
	if err != nil {
		return Result{}, err
	}
	if m := sudoFailed(c, out); m != "" {
		return failedResult(m, nil), nil
	}
	if recs, ok := markerRecords(out.Stdout, f.mark); ok {
		e, _ := recs.get("err")
		detail, _ := recs.get("detail")
		if detail = strings.TrimSpace(detail); detail != "" {
			e += ": " + detail
		}
		return failedResult(e, map[string]any{"path": f.path}), nil
	}
	recs := parseShellRecords(out.Stdout)
	if _, ok := recs.get("done"); !ok {
		return failedResult(fmt.Sprintf("changing %s on the host failed: %s", f.path, strings.TrimSpace(outputText(out.Stderr))), map[string]any{"path": f.path}), nil
	}
	v, _ := recs.get("final")
	final, _ := parseRemoteStat(v)
	v, _ = recs.get("finalL")
	finalL, _ := parseRemoteStat(v)
	return f.finish(res, &final, &finalL), nil
}

// fileTimeOpt gives a timestamp option's effective value as Ansible's
// keep_backward_compatibility_on_timestamps does.
func fileTimeOpt(v any, state string) string {
	s, _ := v.(string)
	if v == nil {
		if state == "touch" {
			return "now"
		}
		return "preserve"
	}
	return s
}

// probeScript looks at the path and everything the decision may need.
func (f *fileTask) probeScript() string {
	var sh shScript
	sh.b.WriteString(shellStatFuncs)
	o := f.o
	sh.line(`fleet_rec umask "$(umask)"; fleet_rec uid "$(id -u)"; fleet_rec gid "$(id -g)"`)
	sh.line("p=%s", sh.pyWord(o.str("path"), false))
	if f.hasSrc {
		sh.line("s=%s; fleet_rec src \"$s\"", sh.pyWord(f.src, false))
	}
	// Ansible puts the file inside a directory named as path for the
	// states that make a file, naming it after src.
	state := o.str("state")
	if state != "link" && state != "absent" {
		if b := o.str("_original_basename"); b != "" {
			sh.line(`if [ -d "$p" ]; then p="$p"/%s; fi`, shellQuoteAlways(b))
		} else if f.hasSrc {
			sh.line(`if [ -d "$p" ]; then p="$p/${s##*/}"; fi`)
		}
	}
	sh.line(`fleet_rec path "$p"; fleet_st st "$p"`)
	sh.line(`if [ -L "$p" ]; then fleet_rec lt "$(readlink -- "$p")"; fleet_r=$(realpath -m -- "$p"); fleet_rec real "$fleet_r"; fleet_st rst "$fleet_r"; fi`)
	if f.hasSrc {
		// src is relative to the link's directory, joined as Python's
		// os.path.join(os.path.dirname(path), src) does.
		sh.line(`if [ ! -L "$p" ] && [ -d "$p" ]; then fleet_d=$p; else case $p in */*) fleet_d=${p%%/*}; [ -n "$fleet_d" ] || fleet_d=/;; *) fleet_d=;; esac; fi`)
		sh.line(`case $s in /*) fleet_a=$s;; *) if [ -z "$fleet_d" ]; then fleet_a=$s; else fleet_a=${fleet_d%%/}/$s; fi;; esac`)
		sh.line(`fleet_rec absrc "$fleet_a"; fleet_rec absreal "$(realpath -m -- "$fleet_a")"; fleet_st absst "$fleet_a" -L; fleet_st srcst "$s" -L`)
	}
	sh.line(`if [ -d "$p" ] && [ ! -L "$p" ] && [ -n "$(ls -A -- "$p")" ]; then fleet_rec nonempty 1; fi`)
	f.probeIDs(&sh)
	if o.boolean("recurse") {
		sh.line(`if [ -d "$p" ] && [ ! -L "$p" ]; then LC_ALL=C find "$p" -mindepth 1 -exec stat --printf 'kst=%s\0kid=%%n\0' -- {} + 2>/dev/null; fi`, statFormat)
	}
	if f.c.Diff && (state == "absent" || state == "") {
		sh.line(`if [ -d "$p" ] && [ ! -L "$p" ]; then find "$p" -mindepth 1 -type d -exec printf 'ldir=%%s\0' {} + 2>/dev/null; find "$p" -mindepth 1 ! -type d -exec printf 'lfile=%%s\0' {} + 2>/dev/null; fi`)
	}
	sh.line("fleet_rec done 1")
	return sh.String()
}

// groupLinePattern escapes s for a grep basic regular expression.
func groupLinePattern(s string) string {
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`.[]*^$\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func (f *fileTask) stat(key string) remoteStat {
	v, _ := f.recs.get(key)
	st, _ := parseRemoteStat(v)
	return st
}

func (f *fileTask) num(key string) int64 {
	v, _ := f.recs.get(key)
	n, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n
}

// run adds a command to the plan; when it fails, the task fails with
// msg and what the command printed.
func (f *fileTask) run(cmd, msg string) {
	f.acts++
	f.lines = append(f.lines, fmt.Sprintf(`fleet_o=$(%s 2>&1) || fleet_fail %s`, cmd, shellQuoteAlways(msg)))
}

// initialDiff starts the diff as Ansible's initial_diff does.
func (f *fileTask) initialDiff(p, state, prev string) {
	f.before = map[string]any{"path": p}
	f.after = map[string]any{"path": p}
	if prev != state {
		f.before["state"] = prev
		f.after["state"] = state
		if state == "absent" && prev == "directory" && f.c.Diff {
			dirs, files := []any{}, []any{}
			for _, d := range f.recs.all("ldir") {
				dirs = append(dirs, d)
			}
			for _, x := range f.recs.all("lfile") {
				files = append(files, x)
			}
			f.before["path_content"] = map[string]any{"directories": dirs, "files": files}
		}
	}
}

func (f *fileTask) addDiff(key string, before, after any) {
	if f.before == nil {
		f.before, f.after = map[string]any{}, map[string]any{}
	}
	f.before[key] = before
	f.after[key] = after
}

// fail is a failed result with Ansible's fields; finish adds the path's
// details as add_path_info does for failures too.
func (f *fileTask) fail(msg string, fields map[string]any) Result {
	return Result{Failed: true, Msg: msg, Fields: fields}
}

// finish fills the result's fields: the module's own, the diff, and
// add_path_info's details of path or dest, which it gives only for a
// path that exists (following links) but takes from lstat. final and
// finalL, when not nil, are the path's lstat and stat after the change.
func (f *fileTask) finish(r Result, final, finalL *remoteStat) Result {
	if r.Fields == nil {
		r.Fields = map[string]any{}
	}
	p := f.resultPath(r)
	var info remoteStat
	exists := false
	real, _ := f.recs.get("real")
	switch {
	case p == "":
	case final != nil:
		info, exists = *final, finalL.exists
	case p == f.path:
		info = f.st
		exists = f.st.exists && (!f.st.isLink() || f.stat("rst").exists)
	case p == real:
		info = f.stat("rst")
		exists = info.exists
	}
	if exists {
		addPathInfo(r.Fields, info)
	}
	if len(f.warnings) > 0 {
		w := make([]any, len(f.warnings))
		for i, s := range f.warnings {
			w[i] = s
		}
		r.Fields["warnings"] = w
	}
	if f.c.Diff && r.Changed && f.before != nil {
		r.Diffs = append(r.Diffs, report.Diff{Before: diffText(f.before), After: diffText(f.after)})
	}
	return r
}

// resultPath is the path the result describes: path, or dest for the
// states whose result names it so.
func (f *fileTask) resultPath(r Result) string {
	if p, ok := r.Fields["path"].(string); ok {
		return p
	}
	if p, ok := r.Fields["dest"].(string); ok {
		return p
	}
	return ""
}

// setAttrs plans owner, group and mode of target (whose lstat is ts) as
// set_fs_attributes_if_different does, recording the diff when diff is
// set. It returns whether they change, or a failed result.
func (f *fileTask) setAttrs(target string, ts remoteStat, diff bool) (bool, *Result) {
	changed := false
	check := f.c.Check
	q := shellQuoteAlways(target)
	chowned := false
	for _, o := range []struct {
		name, lookup, tool, what, diffKey string
		have                              int64
	}{
		{f.owner, "ownerid", "chown", "user", "owner", ts.uid},
		{f.group, "groupid", "chgrp", "group", "group", ts.gid},
	} {
		if o.name == "" {
			continue
		}
		if check && !ts.exists {
			changed = true
			continue
		}
		id, ok := f.lookupID(o.name, o.lookup)
		if !ok {
			r := f.fail(o.tool+" failed: failed to look up "+o.what+" "+o.name, map[string]any{"path": target})
			return false, &r
		}
		if o.have == id {
			continue
		}
		if diff {
			f.addDiff(o.diffKey, o.have, id)
		}
		changed = true
		if !check {
			f.run(fmt.Sprintf("%s -h %d -- %s", o.tool, id, q), o.tool+" failed")
			chowned = true
		}
	}
	if f.mode.set {
		switch {
		case check && !ts.exists:
			changed = true
		case f.modeMsg != "":
			r := f.fail(f.modeMsg, map[string]any{"path": target, "details": f.modeDetails})
			return false, &r
		case ts.isLink():
			// Linux cannot chmod a symlink: Ansible tries, sees the mode
			// unchanged, and reports no change (except in check mode).
			if check && f.mode.resolve(ts.mode, f.umask) != ts.perm() {
				changed = true
			}
		default:
			want := f.mode.resolve(ts.mode, f.umask)
			if want != ts.perm() {
				if diff {
					f.addDiff("mode", octalMode(ts.perm()), octalMode(want))
				}
				changed = true
				if !check {
					f.run(fmt.Sprintf("chmod 0%04o -- %s", want, q), "chmod failed")
				}
			} else if chowned {
				// chown may have cleared set-id bits that the mode keeps.
				f.run(fmt.Sprintf("chmod 0%04o -- %s", want, q), "chmod failed")
			}
		}
	}
	return changed, nil
}

// lookupID resolves a user or group given by name or number; the probe
// looked names up under key.
func (f *fileTask) lookupID(name, key string) (int64, bool) {
	if n, err := strconv.Atoi(strings.TrimSpace(name)); err == nil {
		return int64(n), true
	}
	v, _ := f.recs.get(key)
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	return n, err == nil
}

// updateTimes plans the timestamps as update_timestamp_for_file does.
func (f *fileTask) updateTimes(target string, ts remoteStat, diff bool) bool {
	if f.mtime == "preserve" && f.atime == "preserve" {
		return false
	}
	now := float64(time.Now().UnixNano()) / 1e9
	flag := ""
	switch {
	case f.mtime == "now" && f.atime == "preserve":
		flag = "-m "
	case f.atime == "now" && f.mtime == "preserve":
		flag = "-a "
	}
	if !f.c.Check {
		f.run(fmt.Sprintf("touch %s-- %s", flag, shellQuoteAlways(target)), "Error while updating modification or access time")
	}
	if diff {
		if f.mtime == "now" {
			f.addDiff("mtime", ts.mtime, now)
		}
		if f.atime == "now" {
			f.addDiff("atime", ts.atime, now)
		}
	}
	return true
}

// attrTarget returns the path that owner, group and mode apply to, as
// load_file_common_arguments picks it: the link's target when following
// a symlink.
func (f *fileTask) attrTarget() (string, remoteStat) {
	if f.o.boolean("follow") && f.st.isLink() {
		real, _ := f.recs.get("real")
		return real, f.stat("rst")
	}
	return f.path, f.st
}

func (f *fileTask) absent() Result {
	prev := f.st.fileState()
	if prev == "absent" {
		return Result{Fields: map[string]any{"path": f.path, "state": "absent"}}
	}
	f.initialDiff(f.path, "absent", prev)
	if !f.c.Check {
		msg := "unlinking failed"
		if prev == "directory" {
			msg = "rmtree failed"
		}
		f.run("rm -rf -- "+shellQuoteAlways(f.path), msg)
	}
	return Result{Changed: true, Fields: map[string]any{"path": f.path, "state": "absent"}}
}

func (f *fileTask) touch() Result {
	prev := f.st.fileState()
	fields := map[string]any{"dest": f.path}
	changed := false
	target, ts := f.attrTarget()
	if prev == "absent" {
		if f.c.Check {
			return Result{Changed: true, Fields: fields}
		}
		f.run(": > "+shellQuoteAlways(f.path), "Error, could not touch target")
		changed = true
		// The new file is as open(2) makes it for this user.
		ts = remoteStat{exists: true, mode: sIFREG | 0o666&^f.umask, uid: f.uid, gid: f.gid}
	}
	f.initialDiff(f.path, "touch", prev)
	c, fail := f.setAttrs(target, ts, true)
	if fail != nil {
		return *fail
	}
	changed = c || changed
	changed = f.updateTimes(target, ts, true) || changed
	return Result{Changed: changed, Fields: fields}
}

func (f *fileTask) file() Result {
	p, prev := f.path, f.st.fileState()
	st := f.st
	if prev != "file" && f.o.boolean("follow") && prev == "link" {
		p, _ = f.recs.get("real")
		st = f.stat("rst")
		prev = st.fileState()
	}
	if prev != "file" && prev != "hard" {
		return f.fail(fmt.Sprintf("file (%s) is %s, cannot continue", p, prev), map[string]any{"path": p, "state": prev})
	}
	f.initialDiff(p, "file", prev)
	changed, fail := f.setAttrs(p, st, true)
	if fail != nil {
		return *fail
	}
	changed = f.updateTimes(p, st, true) || changed
	return Result{Changed: changed, Fields: map[string]any{"path": p}}
}

func (f *fileTask) directory() Result {
	p, prev := f.path, f.st.fileState()
	st := f.st
	if f.o.boolean("follow") && prev == "link" {
		p, _ = f.recs.get("real")
		st = f.stat("rst")
		prev = st.fileState()
	}
	f.initialDiff(p, "directory", prev)
	fields := map[string]any{"path": p}
	if prev == "absent" {
		if f.c.Check {
			return Result{Changed: true, Fields: fields}
		}
		// mkdir -p, with the attributes set on every directory it makes.
		cur := ""
		newDir := remoteStat{exists: true, mode: sIFDIR | 0o777&^f.umask, uid: f.uid, gid: f.gid}
		for _, name := range strings.Split(strings.Trim(p, "/"), "/") {
			cur = cur + "/" + name
			if !strings.HasPrefix(p, "/") {
				cur = strings.TrimPrefix(cur, "/")
			}
			q := shellQuoteAlways(cur)
			f.acts++
			f.lines = append(f.lines, fmt.Sprintf(`if [ ! -e %s ]; then fleet_o=$(mkdir -- %s 2>&1) || [ -d %s ] || fleet_fail %s`, q, q, q, shellQuoteAlways("There was an issue creating "+cur+" as requested")))
			if _, fail := f.setAttrs(cur, newDir, true); fail != nil {
				return *fail
			}
			f.lines = append(f.lines, "fi")
		}
		return Result{Changed: true, Fields: fields}
	}
	if prev != "directory" {
		return f.fail(fmt.Sprintf("%s already exists as a %s", p, prev), map[string]any{"path": p})
	}
	changed, fail := f.setAttrs(p, st, true)
	if fail != nil {
		return *fail
	}
	changed = f.updateTimes(p, st, true) || changed
	if f.o.boolean("recurse") {
		c, fail := f.recurse()
		if fail != nil {
			return *fail
		}
		changed = c || changed
	}
	return Result{Changed: changed, Fields: fields}
}

// recurse plans owner, group, mode and times for everything under the
// directory, as recursive_set_attributes does (symlinks get owner and
// group; they are not followed). The commands go to a shell loop fed
// with NUL-terminated records, so that a large tree needs no long
// command line.
func (f *fileTask) recurse() (bool, *Result) {
	kids := f.recs.all("kid")
	stats := f.recs.all("kst")
	changed := false
	// Plan each child with a scratch task so its commands become records.
	for i, kid := range kids {
		if i >= len(stats) {
			break
		}
		ks, _ := parseRemoteStat(stats[i])
		k := &fileTask{c: f.c, o: f.o, mode: f.mode, modeMsg: f.modeMsg, modeDetails: f.modeDetails, mtime: f.mtime, atime: f.atime, owner: f.owner, group: f.group, recs: f.recs, umask: f.umask, mark: f.mark}
		c, fail := k.setAttrs(kid, ks, false)
		if fail != nil {
			return false, fail
		}
		c = k.updateTimes(kid, ks, false) || c
		changed = changed || c
		for _, line := range k.lines {
			f.kidOps = append(f.kidOps, line...)
			f.kidOps = append(f.kidOps, 0)
		}
	}
	if len(f.kidOps) > 0 {
		f.run(`xargs -0 sh -c 'fleet_fail() { echo "$1: $fleet_o" >&2; exit 1; }; for r do eval "$r" || exit 1; done' sh`, "Could not recursively set attributes on "+f.path)
	}
	return changed, nil
}

func (f *fileTask) symlink() Result {
	p, prev := f.path, f.st.fileState()
	src, hasSrc := f.src, f.hasSrc
	if !hasSrc && f.o.boolean("follow") && prev == "link" && f.stat("rst").exists {
		src, _ = f.recs.get("lt")
		hasSrc = true
	}
	absrc, _ := f.recs.get("absrc")
	if !f.o.boolean("force") && f.hasSrc && !f.stat("absst").exists {
		return f.fail(`src file does not exist, use "force=yes" if you really want to create the link: `+absrc, map[string]any{"path": p, "src": src})
	}
	switch {
	case prev == "directory":
		if !f.o.boolean("force") {
			return f.fail(fmt.Sprintf("refusing to convert from %s to symlink for %s", prev, p), map[string]any{"path": p})
		}
		if _, nonempty := f.recs.get("nonempty"); nonempty {
			return f.fail(fmt.Sprintf("the directory %s is not empty, refusing to convert it", p), map[string]any{"path": p})
		}
	case (prev == "file" || prev == "hard") && !f.o.boolean("force"):
		return f.fail(fmt.Sprintf("refusing to convert from %s to symlink for %s", prev, p), map[string]any{"path": p})
	}
	f.initialDiff(p, "link", prev)
	changed := false
	switch prev {
	case "hard", "file", "directory", "absent":
		if !hasSrc {
			return f.fail("src is required for creating new symlinks", nil)
		}
		changed = true
	case "link":
		if hasSrc {
			if old, _ := f.recs.get("lt"); old != src {
				f.addDiff("src", old, src)
				changed = true
			}
		}
	}
	q := shellQuoteAlways(p)
	if changed && !f.c.Check {
		if prev != "absent" {
			tmp := path.Dir(p) + "/." + f.mark + ".tmp"
			cmd := ""
			if prev == "directory" {
				cmd = "rmdir -- " + q + " && "
			}
			cmd += fmt.Sprintf("ln -s -- %s %s && mv -fT -- %s %s", shellQuoteAlways(src), shellQuoteAlways(tmp), shellQuoteAlways(tmp), q)
			f.run("{ "+cmd+"; } || { rm -f -- "+shellQuoteAlways(tmp)+"; false; }", "Error while replacing")
		} else {
			f.run(fmt.Sprintf("ln -s -- %s %s", shellQuoteAlways(src), q), "Error while linking")
		}
	}
	fields := map[string]any{"dest": p, "src": fileSrcField(src, hasSrc)}
	// What the path is once linked: a link to src (its target's stat
	// when followed), or as it was in check mode.
	exists := f.st.exists && !(f.st.isLink() && !f.stat("rst").exists)
	if f.c.Check && !exists {
		return Result{Changed: changed, Fields: fields}
	}
	var target string
	var ts remoteStat
	if f.c.Check || !changed {
		target, ts = f.attrTarget()
	} else if f.o.boolean("follow") {
		target, _ = f.recs.get("absreal")
		ts = f.stat("absst")
		if !f.hasSrc {
			target, ts = f.attrTarget()
		}
	} else {
		target = p
		ts = remoteStat{exists: true, mode: sIFLNK | 0o777, uid: f.uid, gid: f.gid}
	}
	linked := f.st.isLink() || changed && !f.c.Check
	if f.o.boolean("follow") && linked && !ts.exists {
		f.warnings = append(f.warnings, "Cannot set fs attributes on a non-existent symlink target. follow should be set to False to avoid this.")
	} else {
		c, fail := f.setAttrs(target, ts, true)
		if fail != nil {
			return *fail
		}
		changed = c || changed
		changed = f.updateTimes(target, ts, true) || changed
	}
	return Result{Changed: changed, Fields: fields}
}

// fileSrcField is the result's src: nil when the task gave none.
func fileSrcField(s string, has bool) any {
	if !has {
		return nil
	}
	return s
}

func (f *fileTask) hardlink() Result {
	p, prev := f.path, f.st.fileState()
	src := f.src
	if prev != "hard" && !f.hasSrc {
		return f.fail("src is required for creating new hardlinks", nil)
	}
	srcst := f.stat("srcst")
	if f.hasSrc && !srcst.exists {
		return f.fail("src does not exist", map[string]any{"dest": p, "src": src})
	}
	target, ts := f.attrTarget()
	f.initialDiff(p, "hard", prev)
	changed := false
	force := f.o.boolean("force")
	switch prev {
	case "absent":
		changed = true
	case "link":
		if old, _ := f.recs.get("lt"); old != src {
			f.addDiff("src", old, src)
			changed = true
		}
	case "hard":
		if f.hasSrc && (f.st.inode != srcst.inode || f.st.dev != srcst.dev) {
			changed = true
			if !force {
				return f.fail("Cannot link, different hard link exists at destination", map[string]any{"dest": p, "src": src})
			}
		}
	case "file":
		changed = true
		if !force {
			return f.fail("Cannot link, file exists at destination", map[string]any{"dest": p, "src": src})
		}
	case "directory":
		changed = true
		if f.st.inode == srcst.inode && f.st.dev == srcst.dev {
			return Result{Fields: map[string]any{"path": p}}
		}
		if !force {
			return f.fail("Cannot link: different hard link exists at destination", map[string]any{"dest": p, "src": src})
		}
	}
	q := shellQuoteAlways(p)
	if changed && !f.c.Check {
		if prev != "absent" {
			tmp := path.Dir(p) + "/." + f.mark + ".tmp"
			cmd := fmt.Sprintf("ln -- %s %s && mv -fT -- %s %s", shellQuoteAlways(src), shellQuoteAlways(tmp), shellQuoteAlways(tmp), q)
			f.run("{ "+cmd+"; } || { rm -f -- "+shellQuoteAlways(tmp)+"; false; }", "Error while replacing")
		} else {
			f.run(fmt.Sprintf("ln -- %s %s", shellQuoteAlways(src), q), "Error while linking")
		}
		// Once linked, the path is src's inode.
		target, ts = p, srcst
	}
	fields := map[string]any{"dest": p, "src": fileSrcField(src, f.hasSrc)}
	if f.c.Check && !f.st.exists {
		return Result{Changed: changed, Fields: fields}
	}
	c, fail := f.setAttrs(target, ts, true)
	if fail != nil {
		return *fail
	}
	changed = c || changed
	changed = f.updateTimes(target, ts, true) || changed
	return Result{Changed: changed, Fields: fields}
}
