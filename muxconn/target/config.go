package target

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"fleetrun.dev/fleet/diag"
)

// fleet reads ssh_config itself, line by line as OpenSSH's readconf.c
// does. github.com/kevinburke/ssh_config, which it used before, cannot
// give ssh's answers: whether a Match block applies depends on every
// criterion on its line and on the HostName and User set above it (the
// library knows only "all" and "host", takes further words as host
// patterns, and rejects a whole file over any other criterion), Host
// patterns split on any blank and lose their quotes, '?' matches exactly
// one character, and an Include is read in place, its values split like
// any other and its lines keeping their own file names and numbers.

// configFile is one ssh_config file, read: the lines fleet acts on, in
// file order.
type configFile struct {
	name  string // as shown to the user, e.g. "~/.ssh/config"
	lines []configLine
}

type lineKind uint8

const (
	optionLine lineKind = iota
	hostLine
	matchLine
	includeLine
)

// configLine is one line of a configFile that fleet acts on.
type configLine struct {
	kind lineKind
	num  int // 1-based
	// next is, for a Host or Match line, the index of the next Host or
	// Match line of the file (or len(lines)): where a block that does not
	// apply ends.
	next int

	key, val string        // optionLine: the keyword in lower case, the value as written
	origin   string        // optionLine: file:line
	hosts    []hostPattern // hostLine
	criteria []criterion   // matchLine
	// never marks a Host or Match line fleet could not read, or a Match
	// line it cannot evaluate; its block never applies (a warning said so).
	never bool
	files []*configFile // includeLine: the files read, in glob order
}

// setting is one value for an option, with where it came from.
type setting struct {
	val    string
	origin string
	// literal values are used whole; others are split into arguments as
	// ssh_config values are.
	literal bool
}

// hostPattern is one pattern of a Host line.
type hostPattern struct {
	pattern string
	negated bool
}

// criterion is one criterion of a Match line, such as "!host a,b".
type criterion struct {
	name   string // lower case: all, canonical, final, host, originalhost, user, localuser, exec
	negate bool
	arg    string
}

// maxIncludeDepth is how deeply Include may nest, as OpenSSH's
// READCONF_MAX_DEPTH.
const maxIncludeDepth = 16

// configLoader reads ssh_config files and the files they include.
type configLoader struct {
	home string
	// execSupported is whether Match exec can be evaluated (Options.MatchExec).
	execSupported bool
	warns         []diag.Warning
	// finalPass records a "Match final" anywhere, and notFinal a "Match
	// !final": ssh then reads the files a second time (see
	// Resolver.wantFinalPass).
	finalPass, notFinal bool
	// tooDeep stops all further Includes once they nested too deeply (ssh
	// gives up on the whole config there): files that include each other
	// twice over would otherwise be read 2^16 times.
	tooDeep bool
}

func (l *configLoader) warn(file string, line int, format string, args ...any) {
	l.warns = append(l.warns, diag.Warning{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// loadTop reads one of the top-level ssh_config files. A missing file is
// reported with a nil configFile and no error unless required; an
// unreadable one that is not required is skipped with a warning.
func (l *configLoader) loadTop(path, name string, required, system bool) (*configFile, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !required {
			return nil, nil
		}
		if required {
			return nil, &diag.Error{Pkg: "target", File: name, Msg: "cannot read the ssh_config file", Err: err,
				Hint: "check the --ssh-config path"}
		}
		l.warn(name, 0, "ssh_config file ignored: %v", err)
		return nil, nil
	}
	return l.parse(data, name, system, 0), nil
}

// parse reads the lines of one file as OpenSSH's process_config_line
// does. Lines fleet does not act on (options it does not use) are dropped;
// lines it cannot read are warned about, never silently skipped.
func (l *configLoader) parse(data []byte, name string, system bool, depth int) *configFile {
	f := &configFile{name: name}
	for i, text := range strings.Split(string(data), "\n") {
		num := i + 1
		keyword, rest := splitKeyword(text)
		if keyword == "" {
			continue
		}
		switch keyword {
		case "host":
			line := configLine{kind: hostLine, num: num}
			args, err := splitConfigArgs(rest)
			switch {
			case err != nil:
				l.warn(name, num, "Host %s: %v; the options of this Host block do not apply", rest, err)
				line.never = true
			case len(args) == 0:
				l.warn(name, num, "Host without a pattern; the options of this Host block do not apply")
				line.never = true
			}
			for _, a := range args {
				if a == "" {
					l.warn(name, num, "Host %s: empty pattern; the options of this Host block do not apply", rest)
					line.never = true
					break
				}
				p := hostPattern{pattern: a}
				if p.pattern[0] == '!' {
					p.pattern, p.negated = p.pattern[1:], true
				}
				line.hosts = append(line.hosts, p)
			}
			f.lines = append(f.lines, line)
		case "match":
			line := configLine{kind: matchLine, num: num}
			crit, err := parseMatch(rest)
			if err != nil {
				l.warn(name, num, "%v; the options of this Match block do not apply", err)
				line.never = true
			}
			for _, c := range crit {
				switch {
				case c.name == "final" && c.negate:
					l.notFinal = true
				case c.name == "final":
					l.finalPass = true
				case c.name == "exec" && !l.execSupported && !line.never:
					l.warn(name, num, "Match exec: fleet does not run commands from ssh_config; "+
						"the options of this Match block do not apply")
					line.never = true
				}
			}
			line.criteria = crit
			f.lines = append(f.lines, line)
		case "include":
			f.lines = append(f.lines, configLine{kind: includeLine, num: num,
				files: l.include(rest, name, num, system, depth)})
		default:
			val := cutComment(rest)
			// OpenSSH rejects a keyword without a value; fleet treats the
			// option as unset, and ignores options it does not use.
			if val == "" || !knownOptions[keyword] {
				continue
			}
			f.lines = append(f.lines, configLine{kind: optionLine, num: num, key: keyword, val: val,
				origin: diag.Location(name, num)})
		}
	}
	next := len(f.lines)
	for i := len(f.lines) - 1; i >= 0; i-- {
		f.lines[i].next = next
		if k := f.lines[i].kind; k == hostLine || k == matchLine {
			next = i
		}
	}
	return f
}

// splitKeyword splits an ssh_config line into its keyword, in lower case,
// and the rest: the keyword ends at a blank or an '=', and one '=' may
// separate it from the value ("Port=22", "Port = 22"). A blank line or a
// comment has no keyword.
func splitKeyword(line string) (keyword, rest string) {
	const blanks = " \t\r\n\f"
	line = strings.Trim(line, blanks)
	i := strings.IndexAny(line, blanks+"=")
	if i < 0 {
		keyword = line
	} else {
		keyword, rest = line[:i], line[i:]
	}
	if keyword == "" || keyword[0] == '#' {
		return "", ""
	}
	rest = strings.TrimLeft(rest, blanks)
	if strings.HasPrefix(rest, "=") {
		rest = strings.TrimLeft(rest[1:], blanks)
	}
	return strings.ToLower(keyword), rest
}

// include reads the files an Include line names, as OpenSSH does: each
// argument is a glob; a relative one is under ~/.ssh for a user's config
// (including --ssh-config) and under /etc/ssh for the system-wide one, and
// ~ is the home directory fleet read ~/.ssh/config from. A glob matching
// nothing is fine; a file that cannot be read is a warning.
func (l *configLoader) include(rest, name string, num int, system bool, depth int) []*configFile {
	if l.tooDeep {
		return nil
	}
	args, err := splitConfigArgs(rest)
	if err != nil || len(args) == 0 {
		if err == nil {
			err = errors.New("no file given")
		}
		l.warn(name, num, "Include %s: %v; it is skipped", rest, err)
		return nil
	}
	var files []*configFile
	for _, arg := range args {
		pattern := arg
		switch {
		case strings.HasPrefix(arg, "~") && system:
			l.warn(name, num, "Include %s: a system-wide ssh_config may not use ~; it is skipped", arg)
			continue
		case !filepath.IsAbs(arg) && !strings.HasPrefix(arg, "~") && system:
			pattern = filepath.Join("/etc/ssh", arg)
		case !filepath.IsAbs(arg) && !strings.HasPrefix(arg, "~"):
			pattern = filepath.Join(l.home, ".ssh", arg)
		default:
			p, err := expandTilde(arg, l.home)
			if err != nil {
				l.warn(name, num, "Include %s: %v; it is skipped", arg, err)
				continue
			}
			pattern = p
		}
		pattern = filepath.Clean(pattern)
		matches, err := filepath.Glob(globPattern(pattern))
		if err != nil {
			l.warn(name, num, "Include %s: %v; it is skipped", arg, err)
			continue
		}
		// glob(3) sorts whole paths; Go's Glob one directory at a time.
		sort.Strings(matches)
		for _, m := range matches {
			if hiddenMatch(pattern, m) {
				continue
			}
			if depth+1 > maxIncludeDepth {
				l.warn(name, num, "Include %s: Includes nest more than %d deep (does a file include itself?); "+
					"no further Include is read", arg, maxIncludeDepth)
				l.tooDeep = true
				return files
			}
			incName := l.displayName(m)
			data, err := os.ReadFile(m)
			if err != nil {
				l.warn(name, num, "Include %s: cannot read %s: %v; its options do not apply", arg, incName, err)
				continue
			}
			files = append(files, l.parse(data, incName, system, depth+1))
		}
	}
	return files
}

// globPattern turns a glob(3) pattern, as OpenSSH's Include takes, into
// one for filepath.Glob: glob(3) negates a bracket expression with '!'
// and takes '^' as itself, where Go negates with '^'.
func globPattern(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '\\' && i+1 < len(p):
			b.WriteByte(c)
			i++
			b.WriteByte(p[i])
			continue
		case c == '[':
			b.WriteByte('[')
			if i+1 < len(p) && p[i+1] == '!' {
				b.WriteByte('^')
				i++
			} else if i+1 < len(p) && p[i+1] == '^' {
				b.WriteString("\\^")
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// hiddenMatch reports whether match, found by globbing pattern, has a
// name starting with '.' where the pattern's does not: glob(3), which
// OpenSSH uses, never matches such names with a wildcard (so editor
// backups like .config.swp stay out), while filepath.Glob does.
func hiddenMatch(pattern, match string) bool {
	pp := strings.Split(filepath.ToSlash(pattern), "/")
	mp := strings.Split(filepath.ToSlash(match), "/")
	if len(pp) != len(mp) {
		return false
	}
	for i := range mp {
		if strings.HasPrefix(mp[i], ".") && !strings.HasPrefix(pp[i], ".") {
			return true
		}
	}
	return false
}

// displayName names an included file as the user knows it: under the home
// directory as ~/..., otherwise by its path.
func (l *configLoader) displayName(path string) string {
	if l.home != "" {
		if rel, err := filepath.Rel(l.home, path); err == nil && rel != "." && !strings.HasPrefix(rel, "..") {
			return "~/" + filepath.ToSlash(rel)
		}
	}
	return path
}

// matchCriteria are the Match criteria fleet evaluates: those of OpenSSH
// 9.2. Later releases add localnetwork and tagged (9.4), and more since.
var matchCriteria = map[string]bool{
	"all": true, "canonical": true, "final": true, "host": true, "originalhost": true,
	"user": true, "localuser": true, "exec": true,
}

// parseMatch reads the criteria of a Match line as OpenSSH's
// match_cfg_line does: "all" stands alone (or after one other criterion),
// "canonical" and "final" take no argument, the others one; a '#' where a
// criterion would start ends the line.
func parseMatch(rest string) ([]criterion, error) {
	words, err := matchWords(rest)
	if err != nil {
		return nil, fmt.Errorf("Match %s: %v", rest, err)
	}
	var out []criterion
	attributes := 0
	for i := 0; i < len(words); i++ {
		w := words[i]
		if strings.HasPrefix(w, "#") {
			break
		}
		c := criterion{name: strings.ToLower(w)}
		if strings.HasPrefix(c.name, "!") {
			c.name, c.negate = c.name[1:], true
		}
		if c.name == "all" {
			if attributes > 1 || i+1 < len(words) && !strings.HasPrefix(words[i+1], "#") {
				return nil, fmt.Errorf("Match %s: %q cannot be combined with other criteria", rest, w)
			}
			out = append(out, c)
			return out, nil
		}
		attributes++
		if c.name == "canonical" || c.name == "final" {
			out = append(out, c)
			continue
		}
		if !matchCriteria[c.name] {
			return nil, fmt.Errorf("Match %s: fleet does not support the criterion %q "+
				"(it knows all, canonical, final, host, originalhost, user, localuser and exec)", rest, c.name)
		}
		if i+1 == len(words) || words[i+1] == "" || strings.HasPrefix(words[i+1], "#") {
			return nil, fmt.Errorf("Match %s: %q needs an argument", rest, w)
		}
		i++
		c.arg = words[i]
		out = append(out, c)
	}
	if attributes == 0 {
		return nil, errors.New("Match without a criterion")
	}
	return out, nil
}
