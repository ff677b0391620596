package modules

// Helpers shared by the modules that work through remote POSIX sh scripts
// (command, shell, script, file, stat, lineinfile, wait_for, service):
// Ansible-style option checking, Python's shlex and splitlines, script
// building with Python's path expansion, remote stat records and file
// modes.

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"fleetrun.dev/fleet/transfer"
)

// optKind is how a module option's value is checked and converted, as
// the type of an option in an Ansible argument spec.
type optKind int

const (
	optStr  optKind = iota // a string; numbers and booleans are converted
	optPath                // a string that the remote side expands (~, $VAR)
	optBool                // Ansible's booleans: yes/no, true/false, on/off, 1/0 ...
	optInt                 // an integer, or a string holding one
	optList                // a list of strings, or a comma-separated string
	optRaw                 // any value, unchecked
)

// optSpec describes one module option, as an Ansible argument spec entry.
type optSpec struct {
	name     string
	kind     optKind
	aliases  []string
	required bool
	def      any // the default; nil for none
	choices  []string
	// unsupported marks an option Ansible has but fleet does not
	// implement: giving it a value fails the task.
	unsupported bool
}

// moduleOpts holds a module's checked options under their canonical
// names, defaults filled in.
type moduleOpts struct {
	v   map[string]any
	set map[string]bool // given by the task (not defaulted)
}

// readOpts checks args against specs as Ansible's argument spec
// validation does, and returns the options, or the message of the failed
// Result Ansible would give (unknown option, missing required option,
// wrong type, value not among the choices).
func readOpts(module string, args map[string]any, specs []optSpec) (moduleOpts, string) {
	o := moduleOpts{v: map[string]any{}, set: map[string]bool{}}
	byName := map[string]*optSpec{}
	var names, aliases []string
	for i := range specs {
		s := &specs[i]
		byName[s.name] = s
		names = append(names, s.name)
		for _, a := range s.aliases {
			byName[a] = s
			aliases = append(aliases, a)
		}
	}
	var unknown []string
	for k := range args {
		if _, ok := byName[k]; !ok {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		sort.Strings(unknown)
		sort.Strings(names)
		sort.Strings(aliases)
		msg := fmt.Sprintf("Unsupported parameters for (%s) module: %s. Supported parameters include: %s", module, strings.Join(unknown, ", "), strings.Join(names, ", "))
		if len(aliases) > 0 {
			msg += " (" + strings.Join(aliases, ", ") + ")"
		}
		return o, msg + "."
	}
	// Keys are visited in a fixed order so that the first error reported
	// does not depend on map order.
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := args[k]
		if v == nil {
			continue
		}
		s := byName[k]
		if o.set[s.name] {
			continue // an alias and the name both given: the first wins
		}
		if s.unsupported {
			return o, fmt.Sprintf("fleet's %s module does not support the option %q; remove it from the task", module, k)
		}
		cv, msg := convertOpt(s.name, s.kind, v)
		if msg != "" {
			return o, msg
		}
		if len(s.choices) > 0 {
			str := fmt.Sprint(cv)
			if b, ok := cv.(bool); ok {
				str = pyBool(b)
			}
			found := false
			for _, c := range s.choices {
				if c == str {
					found = true
				}
			}
			if !found {
				return o, fmt.Sprintf("value of %s must be one of: %s, got: %s", s.name, strings.Join(s.choices, ", "), str)
			}
		}
		o.v[s.name] = cv
		o.set[s.name] = true
	}
	var missing []string
	for _, s := range specs {
		if _, ok := o.v[s.name]; ok {
			continue
		}
		if s.required {
			missing = append(missing, s.name)
			continue
		}
		if s.def != nil {
			o.v[s.name] = s.def
		}
	}
	if len(missing) > 0 {
		return o, "missing required arguments: " + strings.Join(missing, ", ")
	}
	return o, ""
}

// convertOpt converts v to kind as Ansible's check_type_* functions do.
func convertOpt(name string, kind optKind, v any) (any, string) {
	fail := func(to, why string) (any, string) {
		return nil, fmt.Sprintf("argument '%s' is of type %s and we were unable to convert to %s: %s", name, pyTypeName(v), to, why)
	}
	switch kind {
	case optStr, optPath:
		switch x := v.(type) {
		case string:
			return x, ""
		case int64, int, float64, *big.Int:
			return pyRepr(x), ""
		case bool:
			return pyBool(x), ""
		}
		to := "str"
		if kind == optPath {
			to = "path"
		}
		return fail(to, fmt.Sprintf("'%s' is not a string and conversion is not allowed", pyRepr(v)))
	case optBool:
		switch x := v.(type) {
		case bool:
			return x, ""
		case string:
			switch strings.ToLower(x) {
			case "y", "yes", "on", "1", "true", "t":
				return true, ""
			case "n", "no", "off", "0", "false", "f":
				return false, ""
			}
		case int64:
			if x == 0 || x == 1 {
				return x == 1, ""
			}
		case int:
			if x == 0 || x == 1 {
				return x == 1, ""
			}
		case float64:
			if x == 0 || x == 1 {
				return x == 1, ""
			}
		}
		return fail("bool", fmt.Sprintf("The value %s is not a valid boolean.  Valid booleans include: 0, 1, '0', '1', 'n', 'no', 'f', 'false', 'off', 'y', 'yes', 't', 'true', 'on'", pyQuoted(v)))
	case optInt:
		switch x := v.(type) {
		case int64:
			return x, ""
		case int:
			return int64(x), ""
		case bool:
			if x {
				return int64(1), ""
			}
			return int64(0), ""
		case float64:
			if x == math.Trunc(x) && !math.IsInf(x, 0) {
				return int64(x), ""
			}
			return fail("int", fmt.Sprintf("%s cannot be converted to an int", pyTypeName(v)))
		case string:
			if n, err := strconv.ParseInt(strings.ReplaceAll(strings.TrimSpace(x), "_", ""), 10, 64); err == nil {
				return n, ""
			}
		}
		return fail("int", fmt.Sprintf("%s cannot be converted to an int", pyTypeName(v)))
	case optList:
		switch x := v.(type) {
		case []any:
			out := make([]string, len(x))
			for i, e := range x {
				s, msg := convertOpt(name, optStr, e)
				if msg != "" {
					return nil, fmt.Sprintf("Elements value for option '%s' is of type %s and we were unable to convert to str", name, pyTypeName(e))
				}
				out[i] = s.(string)
			}
			return out, ""
		case []string:
			return x, ""
		case string:
			return strings.Split(x, ","), ""
		case int64, int, float64:
			return []string{pyRepr(x)}, ""
		}
		return fail("list", fmt.Sprintf("%s cannot be converted to a list", pyTypeName(v)))
	}
	return v, ""
}

func (o moduleOpts) str(name string) string {
	s, _ := o.v[name].(string)
	return s
}

func (o moduleOpts) has(name string) bool { _, ok := o.v[name]; return ok }

func (o moduleOpts) boolean(name string) bool {
	b, _ := o.v[name].(bool)
	return b
}

func (o moduleOpts) integer(name string) int64 {
	n, _ := o.v[name].(int64)
	return n
}

func (o moduleOpts) list(name string) []string {
	l, _ := o.v[name].([]string)
	return l
}

// pyTypeName names v's type as Python's type() prints it, for Ansible's
// messages.
func pyTypeName(v any) string {
	switch v.(type) {
	case string:
		return "<class 'str'>"
	case int64, int, *big.Int:
		return "<class 'int'>"
	case float64:
		return "<class 'float'>"
	case bool:
		return "<class 'bool'>"
	case []any, []string:
		return "<class 'list'>"
	case map[string]any:
		return "<class 'dict'>"
	case nil:
		return "<class 'NoneType'>"
	}
	return fmt.Sprintf("<class '%T'>", v)
}

// pyRepr formats a scalar as Python's str() does.
func pyRepr(v any) string {
	switch x := v.(type) {
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1e16 {
			return strconv.FormatFloat(x, 'f', 1, 64)
		}
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return pyBool(x)
	case nil:
		return "None"
	}
	return fmt.Sprint(v)
}

// pyQuoted formats v as Python's repr() does for strings and scalars.
func pyQuoted(v any) string {
	if s, ok := v.(string); ok {
		return "'" + strings.ReplaceAll(s, "'", `\'`) + "'"
	}
	return pyRepr(v)
}

func pyBool(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

// shlexError is shlex's complaint, in Python's words.
type shlexError string

func (e shlexError) Error() string { return string(e) }

// shlexSplit splits s into words as Python's shlex.split(s) does (POSIX
// mode, no comments): whitespace separates words, single quotes keep
// everything, double quotes keep everything but \" and \\, and a
// backslash outside quotes escapes the next character.
func shlexSplit(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	const (
		plain = iota
		single
		double
	)
	state := plain
	for i := 0; i < len(s); i++ {
		ch := s[i]
		switch state {
		case plain:
			switch {
			case ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r':
				if inWord {
					words = append(words, cur.String())
					cur.Reset()
					inWord = false
				}
			case ch == '\'':
				state, inWord = single, true
			case ch == '"':
				state, inWord = double, true
			case ch == '\\':
				if i+1 >= len(s) {
					return nil, shlexError("No escaped character")
				}
				i++
				cur.WriteByte(s[i])
				inWord = true
			default:
				cur.WriteByte(ch)
				inWord = true
			}
		case single:
			if ch == '\'' {
				state = plain
			} else {
				cur.WriteByte(ch)
			}
		case double:
			switch {
			case ch == '"':
				state = plain
			case ch == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\'):
				i++
				cur.WriteByte(s[i])
			case ch == '\\' && i+1 >= len(s):
				return nil, shlexError("No escaped character")
			default:
				cur.WriteByte(ch)
			}
		}
	}
	if state != plain {
		return nil, shlexError("No closing quotation")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// pyUnsafe matches a character that makes Python's shlex.quote quote.
var pyUnsafe = regexp.MustCompile(`[^\w@%+=:,./-]`)

// pyShlexQuote quotes s as Python's shlex.quote does.
func pyShlexQuote(s string) string {
	if s == "" {
		return "''"
	}
	if !pyUnsafe.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'"'"'`) + "'"
}

// pySplitLines splits s into lines as Python's str.splitlines() does,
// which is how Ansible fills stdout_lines and stderr_lines.
func pySplitLines(s string) []any {
	out := []any{}
	start := 0
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\v', '\f', '\x1c', '\x1d', '\x1e', '\u0085', '\u2028', '\u2029':
			out = append(out, s[start:i])
			i += n
			start = i
			continue
		case '\r':
			out = append(out, s[start:i])
			i += n
			if i < len(s) && s[i] == '\n' {
				i++
			}
			start = i
			continue
		}
		i += n
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}

// pyDatetime formats t as Python's str(datetime) does, as Ansible's
// command module reports start and end.
func pyDatetime(t time.Time) string {
	return t.Format("2006-01-02 15:04:05.000000")
}

// pyTimedelta formats d as Python's str(timedelta) does ("0:00:01.002000").
func pyTimedelta(d time.Duration) string {
	if d < 0 {
		d = 0
	}
	us := d.Microseconds()
	sec := us / 1e6
	frac := us % 1e6
	days := sec / 86400
	sec %= 86400
	s := fmt.Sprintf("%d:%02d:%02d", sec/3600, sec/60%60, sec%60)
	if frac != 0 {
		s += fmt.Sprintf(".%06d", frac)
	}
	if days > 0 {
		unit := "days"
		if days == 1 {
			unit = "day"
		}
		s = fmt.Sprintf("%d %s, %s", days, unit, s)
	}
	return s
}

// outputText turns a command's output into text for a result, as Ansible
// decodes it (invalid UTF-8 replaced).
func outputText(b []byte) string {
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

// failedResult is a module failure with Ansible's message and fields.
func failedResult(msg string, fields map[string]any) Result {
	if fields == nil {
		fields = map[string]any{}
	}
	return Result{Failed: true, Msg: msg, Fields: fields}
}

// markerToken returns a random token that a script prints to tell its
// own messages apart from what the commands it runs print.
func markerToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "fleet-" + hex.EncodeToString(b[:])
}

// shScript builds a POSIX sh script line by line. Words that Ansible
// would expand as paths (expanduser, expandvars) are written so that the
// remote shell does the same expansion.
type shScript struct {
	b    strings.Builder
	vars int
}

// line appends one line, formatted as fmt.Sprintf does.
func (s *shScript) line(format string, args ...any) {
	fmt.Fprintf(&s.b, format, args...)
	s.b.WriteByte('\n')
}

func (s *shScript) String() string { return s.b.String() }

// pyVarRef matches what Python's os.path.expandvars expands.
var pyVarRef = regexp.MustCompile(`\$(\w+|\{[^}]*\})`)

var shellName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
var loginName = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._-]*$`)

// safeBracket is a glob bracket expression's inside that needs no quoting.
var safeBracket = regexp.MustCompile(`^[!^]?[A-Za-z0-9_.,:+-]+$`)

// pyWord returns a shell word that expands on the remote side as
// Python's os.path.expanduser(os.path.expandvars(p)) does there: $NAME
// and ${NAME} become the variable's value when it is set and stay as they
// are when not, and a leading ~ or ~user becomes the home directory. With
// glob, the wildcards * ? [ stay active, for Python's glob.glob. It may
// append lines (variable lookups) to s, so call it before the line using
// the word.
func (s *shScript) pyWord(p string, glob bool) string {
	var b strings.Builder
	rest := p
	if strings.HasPrefix(rest, "~") {
		end := strings.IndexByte(rest, '/')
		if end < 0 {
			end = len(rest)
		}
		if name := rest[1:end]; name == "" || loginName.MatchString(name) {
			// The slash stays unquoted: a tilde prefix ends at the
			// first unquoted slash.
			if end < len(rest) {
				end++
			}
			b.WriteString(rest[:end])
			rest = rest[end:]
		}
	}
	literal := func(t string) {
		if t == "" {
			return
		}
		if !glob {
			b.WriteString(shellQuoteAlways(t))
			return
		}
		start := 0
		flush := func(i int) {
			if i > start {
				b.WriteString(shellQuoteAlways(t[start:i]))
			}
		}
		for i := 0; i < len(t); i++ {
			switch t[i] {
			case '*', '?':
				flush(i)
				b.WriteByte(t[i])
				start = i + 1
			case '[':
				// A bracket expression stays active only when it is made of
				// characters that need no quoting.
				j := strings.IndexByte(t[i+1:], ']')
				if j > 0 && safeBracket.MatchString(t[i+1:i+1+j]) {
					flush(i)
					b.WriteString(t[i : i+2+j])
					i += 1 + j
					start = i + 1
				}
			}
		}
		flush(len(t))
	}
	for {
		loc := pyVarRef.FindStringSubmatchIndex(rest)
		if loc == nil {
			literal(rest)
			break
		}
		literal(rest[:loc[0]])
		ref := rest[loc[0]:loc[1]]
		name := rest[loc[2]:loc[3]]
		name = strings.TrimSuffix(strings.TrimPrefix(name, "{"), "}")
		if shellName.MatchString(name) {
			s.vars++
			v := fmt.Sprintf("fleet_v%d", s.vars)
			s.line(`if [ -n "${%s+x}" ]; then %s=$%s; else %s=%s; fi`, name, v, name, v, shellQuoteAlways(ref))
			fmt.Fprintf(&b, `"$%s"`, v)
		} else {
			literal(ref)
		}
		rest = rest[loc[1]:]
	}
	if b.Len() == 0 {
		return "''"
	}
	return b.String()
}

// shellQuoteAlways quotes t for sh with single quotes, even when it needs
// none, so that a ~ or = in it stays literal.
func shellQuoteAlways(t string) string {
	return "'" + strings.ReplaceAll(t, "'", `'\''`) + "'"
}

// shq quotes a literal word for the remote shell.
func shq(t string) string { return transfer.Quote(t) }

// shellRecords is the output of a probe script: NUL-terminated
// "key=value" records, in order.
type shellRecords []shellRecord

type shellRecord struct{ key, val string }

// parseShellRecords splits out into records. Text after the last NUL is
// ignored; a record without "=" has an empty value.
func parseShellRecords(out []byte) shellRecords {
	var recs shellRecords
	for {
		i := bytes.IndexByte(out, 0)
		if i < 0 {
			return recs
		}
		rec := string(out[:i])
		out = out[i+1:]
		k, v, _ := strings.Cut(rec, "=")
		recs = append(recs, shellRecord{k, v})
	}
}

// get returns the first value under key, and whether there was one.
func (r shellRecords) get(key string) (string, bool) {
	for _, rec := range r {
		if rec.key == key {
			return rec.val, true
		}
	}
	return "", false
}

// all returns every value under key, in order.
func (r shellRecords) all(key string) []string {
	var out []string
	for _, rec := range r {
		if rec.key == key {
			out = append(out, rec.val)
		}
	}
	return out
}

// shellStatFuncs defines the remote functions that print a path's stat
// as a record: fleet_st KEY PATH [-L]. GNU stat gives the numbers; the
// fractions of the times come from its human-readable forms.
const shellStatFuncs = `fleet_st() { fleet_s=$(LC_ALL=C stat $3 -c '` + statFormat + `' -- "$2" 2>/dev/null) || fleet_s=absent; printf '%s=%s\0' "$1" "$fleet_s"; }
fleet_rec() { printf '%s=%s\0' "$1" "$2"; }
`

// statFormat is the GNU stat format parseRemoteStat reads.
const statFormat = `%f|%u|%g|%U|%G|%s|%h|%i|%d|%b|%o|%t|%T|%X|%Y|%Z|%x|%y|%z`

// Unix file type and permission bits, as in st_mode.
const (
	sIFMT   = 0o170000
	sIFDIR  = 0o040000
	sIFREG  = 0o100000
	sIFLNK  = 0o120000
	sIFCHR  = 0o020000
	sIFBLK  = 0o060000
	sIFIFO  = 0o010000
	sIFSOCK = 0o140000
	permAll = 0o7777
)

// remoteStat is one path's stat(2) as the remote GNU stat printed it.
type remoteStat struct {
	exists              bool
	mode                uint32 // st_mode, type bits included
	uid, gid            int64
	owner, group        string // "" when the id has no name
	size                int64
	nlink, inode, dev   int64
	blocks, blockSize   int64
	rdevMajor, rdevMin  int64
	atime, mtime, ctime float64
}

// parseRemoteStat reads a fleet_st record's value.
func parseRemoteStat(v string) (remoteStat, bool) {
	if v == "absent" || v == "" {
		return remoteStat{}, v == "absent"
	}
	f := strings.Split(v, "|")
	if len(f) != 19 {
		return remoteStat{}, false
	}
	num := func(s string, base int) int64 {
		n, _ := strconv.ParseInt(s, base, 64)
		return n
	}
	name := func(s string) string {
		if s == "UNKNOWN" {
			return ""
		}
		return s
	}
	st := remoteStat{
		exists:    true,
		mode:      uint32(num(f[0], 16)),
		uid:       num(f[1], 10),
		gid:       num(f[2], 10),
		owner:     name(f[3]),
		group:     name(f[4]),
		size:      num(f[5], 10),
		nlink:     num(f[6], 10),
		inode:     num(f[7], 10),
		dev:       num(f[8], 10),
		blocks:    num(f[9], 10),
		blockSize: num(f[10], 10),
		rdevMajor: num(f[11], 16),
		rdevMin:   num(f[12], 16),
	}
	st.atime = statTime(f[13], f[16])
	st.mtime = statTime(f[14], f[17])
	st.ctime = statTime(f[15], f[18])
	return st, true
}

// statTime combines whole seconds with the nanoseconds of stat's
// human-readable time, as Python's st_mtime float is computed.
func statTime(secs, human string) float64 {
	sec, _ := strconv.ParseInt(secs, 10, 64)
	var ns int64
	if i := strings.IndexByte(human, '.'); i >= 0 {
		frac := human[i+1:]
		if j := strings.IndexByte(frac, ' '); j >= 0 {
			frac = frac[:j]
		}
		for len(frac) < 9 {
			frac += "0"
		}
		ns, _ = strconv.ParseInt(frac[:9], 10, 64)
	}
	return float64(sec) + float64(ns)*1e-9
}

func (st remoteStat) perm() uint32 { return st.mode & permAll }
func (st remoteStat) isDir() bool  { return st.mode&sIFMT == sIFDIR }
func (st remoteStat) isLink() bool { return st.mode&sIFMT == sIFLNK }

// fileState names what is at a path as the file module's get_state does.
func (st remoteStat) fileState() string {
	switch {
	case !st.exists:
		return "absent"
	case st.isLink():
		return "link"
	case st.isDir():
		return "directory"
	case st.nlink > 1:
		return "hard"
	}
	return "file"
}

// ownerName returns the owner's name, or the uid when it has none.
func (st remoteStat) ownerName() string {
	if st.owner == "" {
		return strconv.FormatInt(st.uid, 10)
	}
	return st.owner
}

// groupName returns the group's name, or the gid when it has none.
func (st remoteStat) groupName() string {
	if st.group == "" {
		return strconv.FormatInt(st.gid, 10)
	}
	return st.group
}

// octalMode formats permission bits as Ansible's results do ("0644").
func octalMode(m uint32) string { return fmt.Sprintf("0%03o", m&permAll) }

// addPathInfo adds what Ansible's add_path_info adds to a result about a
// path that exists: uid, gid, owner, group, mode, state and size, all of
// the path itself (lstat), as st describes it.
func addPathInfo(fields map[string]any, st remoteStat) {
	if !st.exists {
		return
	}
	fields["uid"] = st.uid
	fields["gid"] = st.gid
	fields["owner"] = st.ownerName()
	fields["group"] = st.groupName()
	fields["mode"] = octalMode(st.mode)
	fields["state"] = st.fileState()
	fields["size"] = st.size
}

// modeOpt is a mode option: permission bits, or a symbolic mode that is
// resolved against a file's current mode as Ansible does.
type modeOpt struct {
	set      bool
	bits     uint32
	symbolic string
	given    any // the option's value, for messages
}

// readModeOpt reads a mode option: an integer is taken as the bits (YAML's
// 0644 is 420), a string as octal ("0644", "644") or else as symbolic
// ("u=rw,g=r,o=r"). It returns Ansible's message and details for a bad
// value.
func readModeOpt(v any) (m modeOpt, msg string, details any) {
	m = modeOpt{set: v != nil, given: v}
	switch x := v.(type) {
	case nil:
	case int64:
		m.bits = uint32(x) & permAll
	case int:
		m.bits = uint32(x) & permAll
	case float64:
		m.bits = uint32(int64(x)) & permAll
	case string:
		if n, ok := pyOctal(x); ok {
			if n != n&permAll {
				return m, "Invalid mode supplied, only permission info is allowed", n
			}
			m.bits = uint32(n)
			return m, "", nil
		}
		if _, err := symbolicMode(0o100644, x, 0o022); err != nil {
			return m, "mode must be in octal or symbolic form", err.Error()
		}
		m.symbolic = x
	default:
		return m, "mode must be in octal or symbolic form", pyRepr(v)
	}
	return m, "", nil
}

// pyOctal parses s as Python's int(s, 8) does.
func pyOctal(s string) (int64, bool) {
	t := strings.TrimSpace(s)
	neg := false
	if t != "" && (t[0] == '+' || t[0] == '-') {
		neg = t[0] == '-'
		t = t[1:]
	}
	if len(t) > 1 && t[0] == '0' && (t[1] == 'o' || t[1] == 'O') {
		t = t[2:]
		t = strings.TrimPrefix(t, "_")
	}
	if t == "" || strings.HasPrefix(t, "_") || strings.HasSuffix(t, "_") || strings.Contains(t, "__") {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(t, "_", ""), 8, 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// resolve returns the permission bits m asks for on a file whose st_mode
// is cur, with the remote umask (used by symbolic modes without who).
func (m modeOpt) resolve(cur, umask uint32) uint32 {
	if m.symbolic == "" {
		return m.bits
	}
	n, err := symbolicMode(cur, m.symbolic, umask)
	if err != nil {
		return cur & permAll
	}
	return n
}

// symbolicMode applies a symbolic mode to cur as Ansible's
// _symbolic_mode_to_octal does: every clause looks at the original mode
// (for X and for copying u, g or o), and a clause without who letters
// leaves the umask's bits alone.
func symbolicMode(cur uint32, spec string, umask uint32) (uint32, error) {
	prev := cur & permAll
	isDir := cur&sIFMT == sIFDIR
	newMode := prev
	for _, clause := range strings.Split(spec, ",") {
		opIdx := strings.IndexAny(clause, "+-=")
		if opIdx < 0 {
			return 0, fmt.Errorf("bad symbolic permission for mode: %s", clause)
		}
		users := clause[:opIdx]
		useUmask := users == ""
		if users == "a" || users == "" {
			users = "ugo"
		}
		if users[0] != 'u' && users[0] != 'g' && users[0] != 'o' {
			return 0, fmt.Errorf("bad symbolic permission for mode: %s", clause)
		}
		// Split the rest into operators and their permission letters.
		rest := clause[opIdx:]
		type step struct {
			op    byte
			perms string
		}
		var steps []step
		for len(rest) > 0 {
			op := rest[0]
			rest = rest[1:]
			j := strings.IndexAny(rest, "+-=")
			if j < 0 {
				j = len(rest)
			}
			steps = append(steps, step{op, rest[:j]})
			rest = rest[j:]
		}
		for _, st := range steps {
			if st.perms != "" && !strings.ContainsRune("rwxXstugo", rune(st.perms[0])) {
				return 0, fmt.Errorf("bad symbolic permission for mode: %s", clause)
			}
			for _, user := range users {
				apply, err := symbolicPerms(prev, isDir, byte(user), st.perms, useUmask, umask)
				if err != nil {
					return 0, err
				}
				switch st.op {
				case '=':
					var mask uint32
					switch user {
					case 'u':
						mask = 0o4700
					case 'g':
						mask = 0o2070
					case 'o':
						mask = 0o1007
					}
					newMode = newMode&(mask^permAll) | apply
				case '+':
					newMode |= apply
				case '-':
					newMode &^= apply
				}
			}
		}
	}
	return newMode, nil
}

func symbolicPerms(prev uint32, isDir bool, user byte, perms string, useUmask bool, umask uint32) (uint32, error) {
	rev := (umask & permAll) ^ permAll
	rwx := func(bit uint32) uint32 {
		if useUmask {
			return rev & bit
		}
		return bit
	}
	applyX := isDir || prev&0o111 != 0
	var out uint32
	for i := 0; i < len(perms); i++ {
		p := perms[i]
		var shift uint // 6 for u, 3 for g, 0 for o
		switch user {
		case 'u':
			shift = 6
		case 'g':
			shift = 3
		case 'o':
			shift = 0
		default:
			return 0, fmt.Errorf("bad symbolic permission for mode: %c", user)
		}
		switch p {
		case 'r':
			out |= rwx(4 << shift)
		case 'w':
			out |= rwx(2 << shift)
		case 'x':
			out |= rwx(1 << shift)
		case 'X':
			if applyX {
				out |= 1 << shift
			}
		case 's':
			switch user {
			case 'u':
				out |= 0o4000
			case 'g':
				out |= 0o2000
			}
		case 't':
			if user == 'o' {
				out |= 0o1000
			}
		case 'u', 'g', 'o':
			var from uint
			switch p {
			case 'u':
				from = 6
			case 'g':
				from = 3
			}
			out |= (prev >> from & 7) << shift
		default:
			return 0, fmt.Errorf("bad symbolic permission for mode: %c", p)
		}
	}
	return out, nil
}

// diffText serializes a dict diff side as Ansible's callback does before
// showing it: JSON with sorted keys, four-space indents, non-ASCII
// escaped, and a final newline.
func diffText(m map[string]any) string {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	_ = enc.Encode(m)
	var b strings.Builder
	for _, r := range buf.String() {
		switch {
		case r < 0x80:
			b.WriteRune(r)
		case r > 0xFFFF:
			r1, r2 := utf16Pair(r)
			fmt.Fprintf(&b, `\u%04x\u%04x`, r1, r2)
		default:
			fmt.Fprintf(&b, `\u%04x`, r)
		}
	}
	return b.String()
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}
