package target

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"

	"fleetrun.dev/fleet/diag"
)

// matchPattern reports whether s matches pattern as OpenSSH's
// match_pattern does: '*' matches any run of bytes, '?' exactly one byte,
// and everything else itself, case included.
func matchPattern(s, pattern string) bool {
	si, pi := 0, 0
	star, from := -1, 0 // the last '*' seen, and where in s it started matching
	for si < len(s) {
		switch {
		case pi < len(pattern) && pattern[pi] == '*':
			star, from = pi, si
			pi++
		case pi < len(pattern) && (pattern[pi] == '?' || pattern[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			from++
			si, pi = from, star+1
		default:
			return false
		}
	}
	for pi < len(pattern) && pattern[pi] == '*' {
		pi++
	}
	return pi == len(pattern)
}

// matchPatternList matches s against a comma-separated list of patterns,
// as OpenSSH's match_pattern_list: 1 when a pattern matches, -1 when a
// negated one (!pattern) does, whatever else matched, 0 when none does.
// With lower, the patterns are lowercased first.
func matchPatternList(s, list string, lower bool) int {
	got := 0
	for _, sub := range strings.Split(list, ",") {
		negated := strings.HasPrefix(sub, "!")
		if negated {
			sub = sub[1:]
		}
		// OpenSSH copies each pattern into a 1 KiB buffer and gives up on
		// the whole list when one does not fit.
		if len(sub) >= 1023 {
			return 0
		}
		if lower {
			sub = strings.ToLower(sub)
		}
		if matchPattern(s, sub) {
			if negated {
				return -1
			}
			got = 1
		}
	}
	return got
}

// matchHostname is OpenSSH's match_hostname: a pattern list, matched
// without regard to case.
func matchHostname(host, list string) bool {
	return matchPatternList(strings.ToLower(host), list, true) == 1
}

// matches reports whether a Host line applies to host: one pattern
// matches and no negated one does. Unlike Match, a Host line is not a
// comma list and is case-sensitive.
func (l *configLine) matches(host string) bool {
	if l.never {
		return false
	}
	ok := false
	for _, p := range l.hosts {
		if matchPattern(host, p.pattern) {
			if p.negated {
				return false
			}
			ok = true
		}
	}
	return ok
}

// configWalk reads the config files for one host as ssh does, line by
// line, collecting the options of the blocks that apply.
type configWalk struct {
	r     *Resolver
	alias string // the name as given: %n, and what Match originalhost matches
	// host is what Host lines match: the alias in the first pass, the
	// host name (after HostName) in the final one.
	host  string
	final bool
	out   assigns // the options so far: flags and inventory vars first
}

// file walks the lines of f. Lines before the first Host or Match apply
// (for an included file: if the Include line did).
func (w *configWalk) file(f *configFile) error {
	active := true
	for i := 0; i < len(f.lines); {
		l := &f.lines[i]
		switch l.kind {
		case hostLine:
			active = l.matches(w.host)
		case matchLine:
			var err error
			if active, err = w.match(f, l); err != nil {
				return err
			}
		case includeLine:
			// An Include in a block that applies is read in place (one in
			// a block that does not contributes nothing, Match lines
			// included), and its Host and Match lines do not change
			// whether the rest of this block applies.
			if active {
				for _, inc := range l.files {
					if err := w.file(inc); err != nil {
						return err
					}
				}
			}
		case optionLine:
			if active {
				w.out = append(w.out, assign{key: l.key, setting: setting{val: l.val, origin: l.origin}})
			}
		}
		if !active && (l.kind == hostLine || l.kind == matchLine) {
			i = l.next // skip the block
			continue
		}
		i++
	}
	return nil
}

// firstArg returns the first argument of the first value of key so far.
func (w *configWalk) firstArg(key string) (string, bool) {
	a, ok := w.out.first(key)
	if !ok {
		return "", false
	}
	args, err := a.args()
	if err != nil {
		// Resolution reports the bad value; here it is as good as unset.
		return "", false
	}
	return args[0], true
}

// matchHost is what Match host matches: in the first pass the HostName
// given so far, with %h expanded, or else the alias; in the final pass
// the host name.
func (w *configWalk) matchHost() string {
	if w.final {
		return w.host
	}
	if v, ok := w.firstArg("hostname"); ok {
		if h, err := expandHostName(v, w.alias); err == nil {
			return h
		}
	}
	return w.alias
}

// remoteUser is what Match user matches: the User given so far, or the
// local user name.
func (w *configWalk) remoteUser() string {
	if v, ok := w.firstArg("user"); ok {
		return v
	}
	return w.r.luser
}

// match evaluates a Match line as OpenSSH's match_cfg_line does: every
// criterion must hold. Commands of exec criteria run last, and only when
// every other criterion on the line holds, which gives the same result as
// ssh (which skips an exec once a criterion before it failed) without
// running commands whose answer cannot matter.
func (w *configWalk) match(f *configFile, l *configLine) (bool, error) {
	if l.never {
		return false, nil
	}
	var execs []criterion
	for _, c := range l.criteria {
		var ok bool
		switch c.name {
		case "all":
			ok = true
		case "canonical", "final":
			ok = w.final
		case "host":
			ok = matchHostname(w.matchHost(), c.arg)
		case "originalhost":
			ok = matchHostname(w.alias, c.arg)
		case "user":
			ok = matchPatternList(w.remoteUser(), c.arg, false) == 1
		case "localuser":
			ok = matchPatternList(w.r.luser, c.arg, false) == 1
		case "exec":
			execs = append(execs, c)
			continue
		}
		if ok == c.negate {
			return false, nil
		}
	}
	for _, c := range execs {
		ok, err := w.exec(c.arg)
		if err != nil {
			return false, &diag.Error{Pkg: "target", File: f.name, Line: l.num,
				Msg: fmt.Sprintf("host %s: Match exec %q: %v", w.alias, c.arg, err), Err: err}
		}
		if ok == c.negate {
			return false, nil
		}
	}
	return true, nil
}

// exec runs the command of a Match exec criterion, with the tokens ssh
// expands there, and reports whether it exited 0.
func (w *configWalk) exec(command string) (bool, error) {
	r := w.r
	host := w.matchHost()
	port := "22"
	if v, ok := w.firstArg("port"); ok {
		port = v
	}
	tk := &tokens{alias: w.alias, host: host, port: port, ruser: w.remoteUser(), luser: r.luser,
		home: r.home, lhost: r.lhost, uid: r.uid, keyAlias: host, ssh: r.sshVersion, allowHash: true}
	if v, ok := w.firstArg("hostkeyalias"); ok && !strings.EqualFold(v, "none") {
		tk.keyAlias = v
	}
	if v, ok := w.firstArg("proxyjump"); ok {
		if jumps, err := parseJumps(v, ""); err == nil && len(jumps) > 0 {
			tk.jump = jumps[len(jumps)-1].host
		}
	}
	cmd, err := tk.expandTokens(command)
	if err != nil {
		return false, err
	}
	return r.runMatchExec(cmd)
}

// runMatchExec runs an expanded Match exec command once per Resolver: the
// same command for many hosts (one without per-host tokens) runs once.
func (r *Resolver) runMatchExec(cmd string) (bool, error) {
	r.execMu.Lock()
	res, ok := r.execRuns[cmd]
	if !ok {
		res = &execRun{}
		r.execRuns[cmd] = res
	}
	r.execMu.Unlock()
	res.once.Do(func() { res.ok, res.err = r.matchExec(cmd) })
	return res.ok, res.err
}

// execRun is the outcome of one Match exec command.
type execRun struct {
	once sync.Once
	ok   bool
	err  error
}

// ShellMatchExec runs a Match exec command as ssh does: with the user's
// shell (getenv("SHELL"), else /bin/sh) as `shell -c command`, stdin and
// stdout on /dev/null and stderr passed through. It reports whether the
// command exited 0; a command killed by a signal, or a shell that cannot
// run, is an error. It is meant for Options.MatchExec.
func ShellMatchExec(getenv func(string) string) func(command string) (bool, error) {
	return func(command string) (bool, error) {
		shell := getenv("SHELL")
		if shell == "" {
			shell = "/bin/sh"
		}
		cmd := exec.Command(shell, "-c", command)
		cmd.Stderr = os.Stderr
		err := cmd.Run()
		var exit *exec.ExitError
		switch {
		case err == nil:
			return true, nil
		case errors.As(err, &exit) && exit.Exited():
			return false, nil
		default:
			return false, err
		}
	}
}
