package modules

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"regexp"
	"strconv"
	"strings"

	"fleetrun.dev/fleet/report"
)

func init() { register("lineinfile", runLineinfile) }

var lineinfileOpts = []optSpec{
	{name: "path", kind: optPath, required: true, aliases: []string{"dest", "destfile", "name"}},
	{name: "state", kind: optStr, def: "present", choices: []string{"absent", "present"}},
	{name: "regexp", kind: optStr, aliases: []string{"regex"}},
	{name: "search_string", kind: optStr},
	{name: "line", kind: optStr, aliases: []string{"value"}},
	{name: "insertafter", kind: optStr},
	{name: "insertbefore", kind: optStr},
	{name: "backrefs", kind: optBool, def: false},
	{name: "create", kind: optBool, def: false},
	{name: "backup", kind: optBool, def: false},
	{name: "firstmatch", kind: optBool, def: false},
	{name: "validate", kind: optStr},
	{name: "mode", kind: optRaw},
	{name: "owner", kind: optStr},
	{name: "group", kind: optStr},
	{name: "unsafe_writes", kind: optBool, def: false},
	{name: "attributes", aliases: []string{"attr"}, unsupported: true},
	{name: "selevel", unsupported: true},
	{name: "serole", unsupported: true},
	{name: "setype", unsupported: true},
	{name: "seuser", unsupported: true},
}

// lineinfileExclusive are the option pairs Ansible's lineinfile refuses
// together.
var lineinfileExclusive = [][2]string{{"insertbefore", "insertafter"}, {"regexp", "search_string"}, {"backrefs", "search_string"}}

// contentMarker separates a probe's records from the file content after
// them.
const contentMarker = "fleet-content"

// runLineinfile edits one line of a file as Ansible 2.14's lineinfile
// does: the file is read with one command, the edit is computed here
// (Python regular expressions run as Go RE2 ones, matched against each
// line without its newline), and the new text is written back with a
// second command through a temporary file beside the real one, renamed
// over it with the old mode and owner.
func runLineinfile(ctx context.Context, c *Call) (Result, error) {
	o, msg := readOpts(c.Module, c.Args, lineinfileOpts)
	if msg != "" {
		return failedResult(msg, nil), nil
	}
	for _, pair := range lineinfileExclusive {
		if o.set[pair[0]] && o.set[pair[1]] {
			return failedResult("parameters are mutually exclusive: "+pair[0]+"|"+pair[1], nil), nil
		}
	}
	f := &fileTask{c: c, o: o, owner: o.str("owner"), group: o.str("group"), mark: markerToken(), mtime: "preserve", atime: "preserve"}
	f.mode, f.modeMsg, f.modeDetails = readModeOpt(o.v["mode"])

	var sh shScript
	sh.b.WriteString(shellStatFuncs)
	sh.line(`fleet_rec umask "$(umask)"; fleet_rec uid "$(id -u)"; fleet_rec gid "$(id -g)"`)
	sh.line("p=%s; fleet_rec path \"$p\"", sh.pyWord(o.str("path"), false))
	sh.line(`if [ -d "$p" ]; then fleet_rec isdir 1; exit 0; fi`)
	sh.line(`fleet_st st "$p"; fleet_st stL "$p" -L; fleet_rec real "$(realpath -m -- "$p")"`)
	sh.line(`fleet_d=$(dirname -- "$p"); if [ -e "$fleet_d" ]; then fleet_rec direxists 1; fi`)
	f.probeIDs(&sh)
	sh.line(`fleet_rec %s ""; if [ -e "$p" ]; then exec cat -- "$p"; fi`, contentMarker)
	out, err := exec(ctx, c, sh.String(), nil)
	if err != nil {
		return Result{}, err
	}
	if m := sudoFailed(c, out); m != "" {
		return failedResult(m, nil), nil
	}
	recs, content, ok := splitContent(out.Stdout)
	f.recs = recs
	dest, _ := recs.get("path")
	if _, isDir := recs.get("isdir"); isDir {
		return failedResult(fmt.Sprintf("Path %s is a directory !", dest), map[string]any{"rc": int64(256)}), nil
	}
	if !ok || out.RC != 0 {
		return failedResult(fmt.Sprintf("could not read %s on the host: %s", dest, strings.TrimSpace(outputText(out.Stderr))), nil), nil
	}
	f.path = dest
	f.st = f.stat("st")
	f.umask, f.uid, f.gid = 0o022, f.num("uid"), f.num("gid")
	if u, _ := recs.get("umask"); u != "" {
		if n, err := strconv.ParseUint(strings.TrimSpace(u), 8, 32); err == nil {
			f.umask = uint32(n)
		}
	}
	exists := f.stat("stL").exists

	e := &lineEdit{dest: dest, lines: pyReadLines(content), line: []byte(o.str("line"))}
	if o.has("regexp") {
		re, msg := compilePyRegexp(o.str("regexp"))
		if msg != "" {
			return failedResult(msg, nil), nil
		}
		e.re = re
	}
	if o.has("search_string") {
		s := o.str("search_string")
		e.search = &s
	}
	var res Result
	if o.str("state") == "present" {
		if o.boolean("backrefs") && e.re == nil {
			return failedResult("regexp is required with backrefs=true", nil), nil
		}
		if !o.has("line") {
			return failedResult("line is required with state=present", nil), nil
		}
		if !exists && !o.boolean("create") {
			return failedResult(fmt.Sprintf("Destination %s does not exist !", dest), map[string]any{"rc": int64(257)}), nil
		}
		ins, insBefore := o.str("insertafter"), false
		if o.has("insertbefore") {
			ins, insBefore = o.str("insertbefore"), true
		} else if !o.has("insertafter") {
			ins = "EOF"
		}
		if msg := e.present(ins, insBefore, o.boolean("backrefs"), o.boolean("firstmatch")); msg != "" {
			return failedResult(msg, nil), nil
		}
		res = Result{Changed: e.changed, Msg: e.msg}
	} else {
		if !o.has("regexp") && !o.has("search_string") && !o.has("line") {
			return failedResult("one of line, search_string, or regexp is required with state=absent", nil), nil
		}
		if !exists {
			return Result{Msg: "file not present", Fields: map[string]any{}}, nil
		}
		e.absent()
		res = Result{Changed: e.changed, Msg: e.msg}
	}
	after := bytes.Join(e.lines, nil)
	var diffs []report.Diff
	if c.Diff {
		header := dest + " (content)"
		diffs = append(diffs, report.Diff{BeforeHeader: header, AfterHeader: header, Before: outputText(content), After: outputText(after)})
	}
	fields := map[string]any{"backup": ""}
	if o.str("state") == "absent" {
		fields["found"] = int64(e.found)
	}
	res.Fields = fields
	finishDiffs := func(r Result) Result {
		if c.Diff && r.Changed {
			r.Diffs = diffs
			if f.before != nil {
				header := dest + " (file attributes)"
				r.Diffs = append(r.Diffs, report.Diff{BeforeHeader: header, AfterHeader: header, Before: diffText(f.before), After: diffText(f.after)})
			}
		}
		return r
	}
	if c.Check && !exists {
		return finishDiffs(res), nil
	}

	// Write the new text, then set owner, group and mode.
	real, _ := recs.get("real")
	if v := o.str("validate"); res.Changed && !c.Check && v != "" && !strings.Contains(v, "%s") {
		return failedResult("validate must contain %s: "+v, nil), nil
	}
	if res.Changed && !c.Check {
		f.planWrite(dest, real, exists, o)
	}
	ts := f.st
	if !exists {
		ts = remoteStat{exists: true, mode: sIFREG | 0o666&^f.umask, uid: f.uid, gid: f.gid}
	}
	writes := f.acts
	attrs, fail := f.setAttrs(dest, ts, true)
	if fail != nil {
		fail.Fields = map[string]any{"path": dest}
		return *fail, nil
	}
	if attrs {
		if res.Changed {
			res.Msg += " and "
		}
		res.Changed = true
		res.Msg += "ownership, perms or SE linux context changed"
	}
	if f.acts > 0 && !c.Check {
		f.lines = append(f.lines, "fleet_rec done 1")
		script := shellStatFuncs + fmt.Sprintf("fleet_fail() { printf '%%s\\0err=%%s\\0detail=%%s\\0' %s \"$1\" \"$fleet_o\"; exit 0; }\n", f.mark) + strings.Join(f.lines, "\n") + "\n"
		var stdin []byte
		if writes > 0 {
			stdin = after
		}
		out, err := exec(ctx, c, script, stdin)
		if err != nil {
			return Result{}, err
		}
		if m := sudoFailed(c, out); m != "" {
			return failedResult(m, nil), nil
		}
		if recs, ok := markerRecords(out.Stdout, f.mark); ok {
			e, _ := recs.get("err")
			if d, _ := recs.get("detail"); strings.TrimSpace(d) != "" {
				e += ": " + strings.TrimSpace(d)
			}
			return failedResult(e, nil), nil
		}
		recs := parseShellRecords(out.Stdout)
		if _, ok := recs.get("done"); !ok {
			return failedResult(fmt.Sprintf("writing %s on the host failed: %s", dest, strings.TrimSpace(outputText(out.Stderr))), nil), nil
		}
		if b, ok := recs.get("backup"); ok {
			res.Fields["backup"] = b
		}
	}
	return finishDiffs(res), nil
}

// probeIDs adds to a probe script the lookups of the owner and group
// names given (numbers need none).
func (f *fileTask) probeIDs(sh *shScript) {
	if f.owner != "" {
		if _, err := strconv.Atoi(strings.TrimSpace(f.owner)); err != nil {
			sh.line(`fleet_rec ownerid "$(id -u -- %s 2>/dev/null)"`, shellQuoteAlways(f.owner))
		}
	}
	if f.group != "" {
		if _, err := strconv.Atoi(strings.TrimSpace(f.group)); err != nil {
			sh.line(`fleet_rec groupid "$({ getent group %s || grep -e ^%s: /etc/group; } 2>/dev/null | head -n 1 | cut -d: -f3)"`, shellQuoteAlways(f.group), shellQuoteAlways(groupLinePattern(f.group)))
		}
	}
}

// planWrite plans writing the new text (the command's stdin) over the
// file: the directory made when needed, a backup named as Ansible names
// it, and a temporary file beside the real path renamed over it, with
// the old file's mode and owner (a new file gets 0666 less the umask).
func (f *fileTask) planWrite(dest, real string, exists bool, o moduleOpts) {
	if !exists {
		if _, ok := f.recs.get("direxists"); !ok {
			dir := path.Dir(dest)
			f.run("mkdir -p -- "+shellQuoteAlways(dir), "Error creating "+dir)
		}
	}
	qd, qr := shellQuoteAlways(dest), shellQuoteAlways(real)
	if o.boolean("backup") && exists {
		f.lines = append(f.lines, fmt.Sprintf(`fleet_b=%s.$$.$(date +%%Y-%%m-%%d@%%H:%%M:%%S~)`, qd))
		f.run(fmt.Sprintf(`cp -p -- %s "$fleet_b"`, qd), "Could not make backup of "+dest)
		f.lines = append(f.lines, `fleet_rec backup "$fleet_b"`)
	}
	f.acts++
	f.lines = append(f.lines, fmt.Sprintf(`fleet_t=$(mktemp -- %s/.%s.XXXXXX 2>&1) || { fleet_o=$fleet_t; fleet_fail %s; }`, shellQuoteAlways(path.Dir(real)), f.mark, shellQuoteAlways("Could not create a temporary file beside "+real)))
	f.run(`cat > "$fleet_t"`, "Could not write the new text of "+dest)
	if v := o.str("validate"); v != "" {
		cmd := strings.ReplaceAll(v, "%s", `"$fleet_t"`)
		f.acts++
		f.lines = append(f.lines, fmt.Sprintf(`fleet_o=$(%s 2>&1 >/dev/null); fleet_r=$?; if [ $fleet_r -ne 0 ]; then rm -f -- "$fleet_t"; fleet_o="rc:$fleet_r error:$fleet_o"; fleet_fail 'failed to validate'; fi`, cmd))
	}
	if exists {
		f.lines = append(f.lines, fmt.Sprintf(`chmod --reference=%s -- "$fleet_t"; chown --reference=%s -- "$fleet_t" 2>/dev/null`, qr, qr))
	} else {
		f.lines = append(f.lines, fmt.Sprintf(`chmod 0%04o -- "$fleet_t"`, 0o666&^f.umask))
	}
	f.run(fmt.Sprintf(`mv -f -- "$fleet_t" %s || { rm -f -- "$fleet_t"; false; }`, qr), "Could not replace "+real)
}

// splitContent splits a probe's output into its records and the file
// content that follows the contentMarker record.
func splitContent(out []byte) (shellRecords, []byte, bool) {
	marker := []byte(contentMarker + "=\x00")
	var recs shellRecords
	for len(out) > 0 {
		if bytes.HasPrefix(out, marker) {
			return recs, out[len(marker):], true
		}
		i := bytes.IndexByte(out, 0)
		if i < 0 {
			break
		}
		k, v, _ := strings.Cut(string(out[:i]), "=")
		recs = append(recs, shellRecord{k, v})
		out = out[i+1:]
	}
	return recs, nil, false
}

// pyReadLines splits b into lines that keep their "\n", as Python's
// readlines on a binary file does.
func pyReadLines(b []byte) [][]byte {
	var lines [][]byte
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			lines = append(lines, b)
			break
		}
		lines = append(lines, b[:i+1])
		b = b[i+1:]
	}
	return lines
}

// lineEdit is lineinfile's edit of a file's lines.
type lineEdit struct {
	dest    string
	lines   [][]byte
	line    []byte
	re      *regexp.Regexp
	search  *string
	changed bool
	msg     string
	found   int
}

// lineMatch is a regexp's match on one line (nil indexes for a
// search_string match).
type lineMatch struct {
	text []byte
	idx  []int
}

// searchLine matches re against a line as Python's re.search does on the
// line with its newline: $ may match before a final "\n", so the line is
// matched without it.
func searchLine(re *regexp.Regexp, line []byte) []int {
	return re.FindSubmatchIndex(bytes.TrimSuffix(line, []byte("\n")))
}

func trimCRLF(b []byte) []byte { return bytes.TrimRight(b, "\r\n") }

// present is lineinfile's present(): ins is insertafter or (insBefore)
// insertbefore, "" for none. It returns a failure message, or "".
func (e *lineEdit) present(ins string, insBefore, backrefs, firstmatch bool) string {
	var insRe *regexp.Regexp
	if ins != "" && ins != "BOF" && ins != "EOF" {
		re, msg := compilePyRegexp(ins)
		if msg != "" {
			return msg
		}
		insRe = re
	}
	if insBefore && ins == "EOF" {
		// insertbefore=EOF is a regexp in Ansible.
		re, msg := compilePyRegexp(ins)
		if msg != "" {
			return msg
		}
		insRe = re
	}
	insertafter, insertbefore := "", ""
	if insBefore {
		insertbefore = ins
	} else {
		insertafter = ins
	}
	index := [2]int{-1, -1}
	var match *lineMatch
	exact := false
	if e.re != nil {
		for n, l := range e.lines {
			if m := searchLine(e.re, l); m != nil {
				index[0] = n
				match = &lineMatch{text: bytes.TrimSuffix(l, []byte("\n")), idx: m}
				if firstmatch {
					break
				}
			}
		}
	}
	if e.search != nil {
		for n, l := range e.lines {
			if bytes.Contains(l, []byte(*e.search)) {
				index[0] = n
				match = &lineMatch{}
				if firstmatch {
					break
				}
			}
		}
	}
	if match == nil {
		for n, l := range e.lines {
			if bytes.Equal(e.line, trimCRLF(l)) {
				index[0] = n
				exact = true
			} else if insRe != nil && searchLine(insRe, l) != nil {
				if insertafter != "" {
					index[1] = n + 1
					if firstmatch {
						break
					}
				}
				if insertbefore != "" {
					index[1] = n
					if firstmatch {
						break
					}
				}
			}
		}
	}
	withSep := func(b []byte) []byte { return append(append([]byte(nil), b...), '\n') }
	insert := func(at int, b []byte) {
		e.lines = append(e.lines[:at], append([][]byte{b}, e.lines[at:]...)...)
	}
	added := func() { e.msg, e.changed = "line added", true }
	switch {
	case index[0] != -1:
		newLine := e.line
		if backrefs && match != nil && match.idx != nil {
			expanded, err := pyExpand(e.re, match.text, match.idx, e.line)
			if err != "" {
				return err
			}
			newLine = expanded
		}
		if !bytes.HasSuffix(newLine, []byte("\n")) {
			newLine = withSep(newLine)
		}
		if e.re == nil && e.search == nil && match == nil && !exact {
			switch {
			case insertafter != "" && insertafter != "EOF":
				if len(e.lines) > 0 && !endsWithNewline(e.lines[len(e.lines)-1]) {
					e.lines[len(e.lines)-1] = withSep(e.lines[len(e.lines)-1])
				}
				if len(e.lines) == index[1] {
					if !bytes.Equal(trimCRLF(e.lines[index[1]-1]), e.line) {
						e.lines = append(e.lines, withSep(e.line))
						added()
					}
				} else if !bytes.Equal(trimCRLF(e.lines[index[1]]), e.line) {
					insert(index[1], withSep(e.line))
					added()
				}
			case insertbefore != "" && insertbefore != "BOF":
				if index[1] <= 0 {
					if !bytes.Equal(trimCRLF(e.lines[pyIndex(index[1], len(e.lines))]), e.line) {
						insert(pyIndex(index[1], len(e.lines)), withSep(e.line))
						added()
					}
				} else if !bytes.Equal(trimCRLF(e.lines[index[1]-1]), e.line) {
					insert(index[1], withSep(e.line))
					added()
				}
			}
		} else if !bytes.Equal(e.lines[index[0]], newLine) {
			e.lines[index[0]] = newLine
			e.msg, e.changed = "line replaced", true
		}
	case backrefs:
		// Without a match there is nothing to fill the backrefs from.
	case insertbefore == "BOF" || insertafter == "BOF":
		insert(0, withSep(e.line))
		added()
	case insertafter == "EOF" || index[1] == -1:
		if len(e.lines) > 0 && !endsWithNewline(e.lines[len(e.lines)-1]) {
			e.lines = append(e.lines, []byte("\n"))
		}
		e.lines = append(e.lines, withSep(e.line))
		added()
	case insertafter != "" && index[1] != -1:
		if len(e.lines) == index[1] {
			if !bytes.Equal(trimCRLF(e.lines[index[1]-1]), e.line) {
				e.lines = append(e.lines, withSep(e.line))
				added()
			}
		} else if !bytes.Equal(e.line, trimCRLF(e.lines[index[1]])) {
			insert(index[1], withSep(e.line))
			added()
		}
	default:
		insert(index[1], withSep(e.line))
		added()
	}
	return ""
}

// pyIndex turns a possibly negative Python index into a Go one.
func pyIndex(i, n int) int {
	if i < 0 {
		return i + n
	}
	return i
}

func endsWithNewline(l []byte) bool {
	return len(l) > 0 && (l[len(l)-1] == '\n' || l[len(l)-1] == '\r')
}

// absent is lineinfile's absent(): it drops every matching line.
func (e *lineEdit) absent() {
	kept := e.lines[:0:0]
	for _, l := range e.lines {
		var hit bool
		switch {
		case e.re != nil:
			hit = searchLine(e.re, l) != nil
		case e.search != nil:
			hit = bytes.Contains(l, []byte(*e.search))
		default:
			hit = bytes.Equal(e.line, trimCRLF(l))
		}
		if hit {
			e.found++
		} else {
			kept = append(kept, l)
		}
	}
	e.lines = kept
	e.changed = e.found > 0
	if e.changed {
		e.msg = fmt.Sprintf("%d line(s) removed", e.found)
	}
}

// pyOnlyRegexp finds Python regular expression syntax that Go's RE2
// engine lacks, for a clear message.
var pyOnlyRegexp = regexp.MustCompile(`\(\?[=!]|\(\?<[=!]|\\[1-9]|\(\?\(|[*+?}]\+`)

// compilePyRegexp compiles a Python regular expression as a Go one,
// translating what differs in spelling (\Z) and failing with a message
// for what RE2 cannot do (lookaround, backreferences).
func compilePyRegexp(expr string) (*regexp.Regexp, string) {
	translated := strings.ReplaceAll(expr, `\Z`, `\z`)
	re, err := regexp.Compile(translated)
	if err != nil {
		if loc := pyOnlyRegexp.FindString(expr); loc != "" {
			return nil, fmt.Sprintf("the regular expression %q uses %q, which fleet's regular expression engine (Go's RE2) does not support: rewrite it without lookaround or backreferences", expr, loc)
		}
		return nil, fmt.Sprintf("the regular expression %q is not valid: %v", expr, err)
	}
	return re, ""
}

// pyExpand fills template's backreferences from a match as Python's
// match.expand does: \1 to \99, \g<n> and \g<name>, and the escapes \n,
// \t, \r, \f, \v, \a, \b, \\ and octal ones. A group that did not take
// part in the match gives nothing.
func pyExpand(re *regexp.Regexp, text []byte, idx []int, template []byte) ([]byte, string) {
	group := func(n int) []byte {
		if n*2+1 >= len(idx) || idx[2*n] < 0 {
			return nil
		}
		return text[idx[2*n]:idx[2*n+1]]
	}
	var out []byte
	t := template
	for i := 0; i < len(t); i++ {
		if t[i] != '\\' || i+1 == len(t) {
			out = append(out, t[i])
			continue
		}
		i++
		ch := t[i]
		switch {
		case ch == 'g':
			end := bytes.IndexByte(t[i:], '>')
			if i+1 >= len(t) || t[i+1] != '<' || end < 0 {
				return nil, "bad escape \\g in the line: write \\g<name> or \\g<number>"
			}
			name := string(t[i+2 : i+end])
			i += end
			if n, err := strconv.Atoi(name); err == nil {
				if n >= re.NumSubexp()+1 {
					return nil, fmt.Sprintf("invalid group reference %d in the line", n)
				}
				out = append(out, group(n)...)
				continue
			}
			n := re.SubexpIndex(name)
			if n < 0 {
				return nil, fmt.Sprintf("unknown group name %q in the line", name)
			}
			out = append(out, group(n)...)
		case ch == '0' || (ch >= '1' && ch <= '7' && i+2 < len(t) && isOctal(t[i+1]) && isOctal(t[i+2])):
			j := i
			for j < len(t) && j < i+3 && isOctal(t[j]) {
				j++
			}
			v, _ := strconv.ParseUint(string(t[i:j]), 8, 16)
			out = append(out, byte(v))
			i = j - 1
		case ch >= '1' && ch <= '9':
			n := int(ch - '0')
			if i+1 < len(t) && t[i+1] >= '0' && t[i+1] <= '9' {
				n = n*10 + int(t[i+1]-'0')
				i++
			}
			if n >= re.NumSubexp()+1 {
				return nil, fmt.Sprintf("invalid group reference %d in the line", n)
			}
			out = append(out, group(n)...)
		default:
			if r, ok := pyEscapes[ch]; ok {
				out = append(out, r)
			} else if (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') {
				return nil, fmt.Sprintf("bad escape \\%c in the line", ch)
			} else {
				out = append(out, '\\', ch)
			}
		}
	}
	return out, ""
}

var pyEscapes = map[byte]byte{'n': '\n', 't': '\t', 'r': '\r', 'f': '\f', 'v': '\v', 'a': '\a', 'b': '\b', '\\': '\\'}

func isOctal(c byte) bool { return c >= '0' && c <= '7' }
