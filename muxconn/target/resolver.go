package target

import (
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// fleet's own defaults where OpenSSH has none. OpenSSH waits for the
// kernel's TCP timeout (minutes) on a dead host and never notices a
// vanished peer without keepalives; across hundreds of hosts one such host
// would hold up the whole run, so fleet bounds both.
const (
	// DefaultConnectTimeout bounds connecting to one host (ssh: none).
	DefaultConnectTimeout = 10 * time.Second
	// DefaultServerAliveInterval is the keepalive period (ssh: 0, off).
	DefaultServerAliveInterval = 15 * time.Second
	// DefaultServerAliveCountMax is how many unanswered keepalives end a
	// connection, as in OpenSSH.
	DefaultServerAliveCountMax = 3
	// DefaultMaxSessions matches sshd's default MaxSessions.
	DefaultMaxSessions = 10
)

// maxJumpDepth bounds how deeply a first jump host's own ProxyJump is
// followed, and maxHops the length of a whole chain; OpenSSH has no limit
// and forks ssh processes until something breaks.
const (
	maxJumpDepth = 8
	maxHops      = 16
)

// defaultIdentityFiles are the keys ssh tries when no IdentityFile is set,
// in ssh -G's order. OpenSSH 9.2 also lists id_xmss and id_dsa; fleet's SSH
// library cannot use XMSS keys, and DSA keys are disabled in OpenSSH since
// 9.0 and dropped from this list in 9.8.
var defaultIdentityFiles = []string{"id_rsa", "id_ecdsa", "id_ecdsa_sk", "id_ed25519", "id_ed25519_sk"}

// Overrides are the connection settings given on the command line. The zero
// value of a field means the flag was not given. They win over inventory
// variables and ssh_config, and apply to the hosts fleet was asked to reach,
// not to their jump hosts (as ssh passes -l, -p, -i and -o only to the
// target); Fresh applies to jump hosts too.
type Overrides struct {
	User                  string        // --user
	Port                  int           // --port
	IdentityFiles         []string      // --private-key; tried before any others
	ConnectTimeout        time.Duration // --connect-timeout
	MaxSessions           int           // --max-sessions
	Fresh                 bool          // --fresh
	StrictHostKeyChecking string        // --strict-host-key-checking
	ControlPath           string        // --control-path
	// Options (--ssh-option) are ssh -o arguments, "Key=Value" or "Key Value". They rank
	// below the fields above and above everything else. Options fleet does
	// not use are ignored, as in ssh_config.
	Options []string
}

// Options configure a Resolver.
type Options struct {
	// ConfigFile is the ssh_config file to read (--ssh-config); it must
	// exist. Empty means ~/.ssh/config then /etc/ssh/ssh_config, either of
	// which may be missing.
	ConfigFile string
	// Home, LocalUser and LocalHost default to the process's home
	// directory, user name and hostname.
	Home, LocalUser, LocalHost string
	// Getenv reads environment variables (SSH_AUTH_SOCK, ${NAME} in
	// paths); nil means os.Getenv.
	Getenv    func(string) string
	Overrides Overrides
	// MatchExec runs the command of a `Match exec` line, its tokens
	// expanded, and reports whether it succeeded (see ShellMatchExec). It
	// runs only when the other criteria of the line hold, and once per
	// command for the Resolver. Nil means fleet runs no commands from
	// ssh_config: each Match line with exec is a warning, and its block
	// never applies.
	MatchExec func(command string) (bool, error)
}

// Resolver computes Targets. It reads the ssh_config files once, in
// NewResolver; Resolve is safe for concurrent use.
type Resolver struct {
	files  []*configFile // in order: the first value found wins
	home   string
	luser  string
	lhost  string
	uid    string
	getenv func(string) string
	ov     Overrides
	flags  assigns // the Overrides, as options

	// finalPass and notFinal record "Match final" and "Match !final"
	// lines in the files (see wantFinalPass).
	finalPass, notFinal bool
	matchExec           func(string) (bool, error)
	execMu              sync.Mutex
	execRuns            map[string]*execRun // by command, expanded
	// sshVersion returns the version of the installed ssh, which decides
	// %C and %j (see tokens.jumpTokens); it is asked only when that
	// matters.
	sshVersion func() opensshVersion
}

// NewResolver reads the ssh_config files and the files they include. A
// file that cannot be read is skipped with a warning naming it, and so is
// a block fleet cannot evaluate (a Match criterion it does not support,
// say), with a warning naming its file and line; an explicit ConfigFile
// that cannot be read, or a malformed override, is an error.
func NewResolver(opts Options) (*Resolver, []diag.Warning, error) {
	r := &Resolver{home: opts.Home, luser: opts.LocalUser, lhost: opts.LocalHost,
		getenv: opts.Getenv, ov: opts.Overrides, uid: strconv.Itoa(os.Getuid()),
		matchExec: opts.MatchExec, execRuns: map[string]*execRun{}, sshVersion: installedOpenSSH}
	if r.getenv == nil {
		r.getenv = os.Getenv
	}
	if r.home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return nil, nil, &diag.Error{Pkg: "target", Msg: "cannot find the home directory", Err: err, Hint: "set HOME"}
		}
		r.home = h
	}
	if r.luser == "" {
		if u, err := user.Current(); err == nil {
			r.luser = u.Username
		} else if r.luser = r.getenv("USER"); r.luser == "" {
			return nil, nil, &diag.Error{Pkg: "target", Msg: "cannot find the local user name", Err: err, Hint: "set USER, or give --user"}
		}
	}
	if r.lhost == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, nil, &diag.Error{Pkg: "target", Msg: "cannot find the local hostname", Err: err}
		}
		r.lhost = h
	}
	if err := r.setFlags(); err != nil {
		return nil, nil, err
	}

	type candidate struct {
		path, name       string
		required, system bool
	}
	var cands []candidate
	if opts.ConfigFile != "" {
		p, err := expandTilde(opts.ConfigFile, r.home)
		if err != nil {
			return nil, nil, &diag.Error{Pkg: "target", File: opts.ConfigFile, Msg: err.Error()}
		}
		// As for ssh -F, the file is a user's config: a relative
		// Include in it is under ~/.ssh.
		cands = append(cands, candidate{p, opts.ConfigFile, true, false})
	} else {
		cands = append(cands,
			candidate{filepath.Join(r.home, ".ssh", "config"), "~/.ssh/config", false, false},
			candidate{"/etc/ssh/ssh_config", "/etc/ssh/ssh_config", false, true})
	}
	l := &configLoader{home: r.home, execSupported: r.matchExec != nil}
	for _, c := range cands {
		cf, err := l.loadTop(c.path, c.name, c.required, c.system)
		if err != nil {
			return nil, l.warns, err
		}
		if cf != nil {
			r.files = append(r.files, cf)
		}
	}
	r.finalPass, r.notFinal = l.finalPass, l.notFinal
	return r, l.warns, nil
}

// setFlags checks the overrides and turns them into options.
func (r *Resolver) setFlags() error {
	ov := r.ov
	bad := func(flag, format string, args ...any) error {
		return &diag.Error{Pkg: "target", Msg: fmt.Sprintf("flag %s: %s", flag, fmt.Sprintf(format, args...))}
	}
	add := func(key, flag, val string) {
		r.flags = append(r.flags, assign{key: key, setting: setting{val: val, origin: "flag " + flag, literal: true}})
	}
	if ov.User != "" {
		add("user", "--user", ov.User)
	}
	if ov.Port < 0 || ov.Port > 65535 {
		return bad("--port", "%d is not a port number (1 to 65535)", ov.Port)
	}
	if ov.Port != 0 {
		add("port", "--port", strconv.Itoa(ov.Port))
	}
	for _, f := range ov.IdentityFiles {
		if f != "" {
			add("identityfile", "--private-key", f)
		}
	}
	if ov.ConnectTimeout < 0 {
		return bad("--connect-timeout", "%v is negative", ov.ConnectTimeout)
	}
	if ov.ConnectTimeout > 0 {
		add("connecttimeout", "--connect-timeout", ov.ConnectTimeout.String())
	}
	if ov.MaxSessions < 0 {
		return bad("--max-sessions", "%d is negative; give at least 1", ov.MaxSessions)
	}
	if ov.StrictHostKeyChecking != "" {
		if _, err := normStrict(ov.StrictHostKeyChecking); err != nil {
			return bad("--strict-host-key-checking", "%v", err)
		}
		add("stricthostkeychecking", "--strict-host-key-checking", ov.StrictHostKeyChecking)
	}
	if ov.ControlPath != "" {
		add("controlpath", "--control-path", ov.ControlPath)
	}
	for _, o := range ov.Options {
		key, val, ok, err := parseOption(o)
		if err != nil {
			return bad("--ssh-option", "%v", err)
		}
		if ok {
			r.flags = append(r.flags, assign{key: key, setting: setting{val: val, origin: "flag --ssh-option"}})
		}
	}
	return nil
}

// Resolve computes the settings for the host fleet calls alias (the
// inventory_hostname), with its inventory variables hostVars, which may be
// nil. ssh_config's Host blocks are matched against alias, as `ssh alias`
// does, even when ansible_host names another address; Match host, as in
// ssh, matches the HostName (or ansible_host) set before the Match line.
func (r *Resolver) Resolve(alias string, hostVars *vars.Map) (*Target, error) {
	if alias == "" || strings.ContainsAny(alias, " \t\r\n") {
		return nil, &diag.Error{Pkg: "target", Msg: fmt.Sprintf("invalid host name %q", alias)}
	}
	inv, fv, err := inventoryAssigns(alias, hostVars)
	if err != nil {
		return nil, err
	}
	pre := append(append(assigns(nil), r.flags...), inv...)
	t, jumps, err := r.resolveHost(alias, pre, nil)
	if err != nil {
		return nil, err
	}
	switch {
	case r.ov.MaxSessions > 0:
		t.MaxSessions, t.Origin["maxsessions"] = r.ov.MaxSessions, "flag --max-sessions"
	case fv.maxSessions > 0:
		t.MaxSessions, t.Origin["maxsessions"] = fv.maxSessions, fv.maxSessionsOrigin
	}
	switch {
	case r.ov.Fresh:
		t.Fresh, t.Origin["fresh"] = true, "flag --fresh"
	case fv.fresh != nil:
		t.Fresh, t.Origin["fresh"] = *fv.fresh, fv.freshOrigin
	}
	if t.ProxyJump, err = r.resolveChain(jumps, 0, []string{alias}); err != nil {
		return nil, err
	}
	return t, nil
}

// resolveChain resolves the hops of a ProxyJump chain into Targets, first
// hop first. As `ssh -J a,b` does, the first hop is reached with its own
// ProxyJump (recursively), the later ones through the hops before them
// only. Each hop's ProxyJump is set to the hops before it, so that its Key
// names the whole path to it.
func (r *Resolver) resolveChain(specs []jumpSpec, depth int, path []string) ([]*Target, error) {
	if len(specs) == 0 {
		return nil, nil
	}
	first := specs[0]
	for _, p := range path {
		if p == first.host {
			return nil, &diag.Error{Pkg: "target",
				Msg:  fmt.Sprintf("host %s: ProxyJump loop: %s -> %s", path[0], strings.Join(path, " -> "), first.host),
				Hint: "a jump host's own ProxyJump must not lead back to a host on the way"}
		}
	}
	if depth >= maxJumpDepth {
		return nil, &diag.Error{Pkg: "target", Msg: fmt.Sprintf("host %s: ProxyJump chain %s nests more than %d jump hosts deep", path[0], strings.Join(path, " -> "), maxJumpDepth)}
	}
	ft, ftJumps, err := r.resolveHost(first.host, first.assigns(), nil)
	if err != nil {
		return nil, err
	}
	chain, err := r.resolveChain(ftJumps, depth+1, append(path[:len(path):len(path)], first.host))
	if err != nil {
		return nil, err
	}
	ft.ProxyJump, ft.spec = chain, first.String()
	chain = append(chain, ft)
	for i, s := range specs[1:] {
		forced := specs[:i+1]
		ht, _, err := r.resolveHost(s.host, s.assigns(), forced)
		if err != nil {
			return nil, err
		}
		ht.ProxyJump, ht.spec = chain[:len(chain):len(chain)], s.String()
		chain = append(chain, ht)
	}
	if len(chain) > maxHops {
		return nil, &diag.Error{Pkg: "target", Msg: fmt.Sprintf("host %s: the ProxyJump chain has %d hops, more than %d", path[0], len(chain), maxHops)}
	}
	for _, h := range chain {
		if r.ov.Fresh {
			h.Fresh, h.Origin["fresh"] = true, "flag --fresh"
		}
	}
	return chain, nil
}

// options returns every option that applies to alias, in the order ssh
// takes them: pre (flags and inventory vars, like ssh's command line)
// first, then the blocks of the config files that apply, read as ssh
// reads them (see configWalk), then, when ssh would read the files a
// second time, the blocks that apply in that final pass.
func (r *Resolver) options(alias string, pre assigns) (assigns, error) {
	w := &configWalk{r: r, alias: alias, host: alias, out: slices.Clip(pre)}
	for _, f := range r.files {
		if err := w.file(f); err != nil {
			return nil, err
		}
	}
	if !r.wantFinalPass(w) {
		return w.out, nil
	}
	// ssh fixes HostName before the final pass, and Host lines then
	// match the host name rather than the alias.
	w.host, w.final = strings.ToLower(w.matchHost()), true
	first := len(w.out)
	for _, f := range r.files {
		if err := w.file(f); err != nil {
			return nil, err
		}
	}
	late := slices.DeleteFunc(w.out[first:], func(a assign) bool { return a.key == "hostname" })
	return w.out[:first+len(late)], nil
}

// wantFinalPass reports whether ssh would read the config files a second
// time for this host, as OpenSSH's ssh.c decides: when a Match line
// anywhere has "final" (before OpenSSH 10.1, "!final" too), or when
// CanonicalizeHostname is on. fleet does not canonicalize host names (it
// would need CanonicalDomains and DNS), so the final pass matches the
// host name as given by HostName, as ssh -G does.
func (r *Resolver) wantFinalPass(w *configWalk) bool {
	if r.finalPass {
		return true
	}
	if v, ok := w.firstArg("canonicalizehostname"); ok {
		switch strings.ToLower(v) {
		case "yes", "true", "always":
			return true
		}
	}
	return r.notFinal && !r.sshVersion().atLeast(10, 1)
}

// args splits a value into its arguments.
func (a assign) args() ([]string, error) {
	if a.literal {
		return []string{a.val}, nil
	}
	args, err := splitConfigArgs(a.val)
	if err == nil && len(args) == 0 {
		err = errors.New("no value")
	}
	return args, err
}

// optionName spells an option as ssh_config does, for messages.
var optionName = map[string]string{
	"hostname": "HostName", "user": "User", "port": "Port", "identityfile": "IdentityFile",
	"identitiesonly": "IdentitiesOnly", "hashknownhosts": "HashKnownHosts", "identityagent": "IdentityAgent", "proxyjump": "ProxyJump",
	"proxycommand": "ProxyCommand", "userknownhostsfile": "UserKnownHostsFile",
	"globalknownhostsfile": "GlobalKnownHostsFile", "stricthostkeychecking": "StrictHostKeyChecking",
	"hostkeyalias": "HostKeyAlias", "connecttimeout": "ConnectTimeout",
	"serveraliveinterval": "ServerAliveInterval", "serveralivecountmax": "ServerAliveCountMax",
	"controlmaster": "ControlMaster", "controlpath": "ControlPath", "controlpersist": "ControlPersist",
	"canonicalizehostname": "CanonicalizeHostname",
}

// first finds the first value of any of keys. Looking up ProxyJump and
// ProxyCommand together lets whichever comes first win, as in OpenSSH.
func (as assigns) first(keys ...string) (assign, bool) {
	for _, a := range as {
		if slices.Contains(keys, a.key) {
			return a, true
		}
	}
	return assign{}, false
}

// all finds every value of key, for options that accumulate.
func (as assigns) all(key string) []assign {
	var out []assign
	for _, a := range as {
		if a.key == key {
			out = append(out, a)
		}
	}
	return out
}

// hostResolution carries the state of resolving one host.
type hostResolution struct {
	r     *Resolver
	alias string
	opts  assigns // from Resolver.options
	t     *Target
}

func (h *hostResolution) fail(a assign, err error) error {
	return &diag.Error{Pkg: "target",
		Msg: fmt.Sprintf("host %s: %s %q (from %s): %v", h.alias, optionName[a.key], a.val, a.origin, err), Err: err}
}

// first returns the first argument of the winning value of key.
func (h *hostResolution) first(key string) (string, assign, bool, error) {
	a, ok := h.opts.first(key)
	if !ok {
		return "", a, false, nil
	}
	args, err := a.args()
	if err != nil {
		return "", a, false, h.fail(a, err)
	}
	h.t.Origin[key] = a.origin
	return args[0], a, true, nil
}

// resolveHost resolves every option of one host except its jump hosts,
// which it returns as specs. forced, when not nil, replaces the host's own
// ProxyJump: it holds the hops before a later hop of a chain.
func (r *Resolver) resolveHost(alias string, pre assigns, forced []jumpSpec) (*Target, []jumpSpec, error) {
	opts, err := r.options(alias, pre)
	if err != nil {
		return nil, nil, err
	}
	t := &Target{Alias: alias, Origin: map[string]string{}}
	h := &hostResolution{r: r, alias: alias, opts: opts, t: t}
	setDefault := func(key string) { t.Origin[key] = "default" }

	// HostName: only %h (the alias) and %% are tokens there.
	t.HostName = alias
	setDefault("hostname")
	if v, a, ok, err := h.first("hostname"); err != nil {
		return nil, nil, err
	} else if ok {
		if t.HostName, err = expandHostName(v, alias); err != nil {
			return nil, nil, h.fail(a, err)
		}
	}
	// ssh lowercases the host name it connects to.
	t.HostName = strings.ToLower(t.HostName)

	t.Port = 22
	setDefault("port")
	if v, a, ok, err := h.first("port"); err != nil {
		return nil, nil, err
	} else if ok {
		p, err := strconv.Atoi(v)
		if err != nil || p < 1 || p > 65535 {
			return nil, nil, h.fail(a, errors.New("not a port number (1 to 65535)"))
		}
		t.Port = p
	}

	t.User = r.luser
	setDefault("user")
	if v, _, ok, err := h.first("user"); err != nil {
		return nil, nil, err
	} else if ok {
		t.User = v
	}

	var jumps []jumpSpec
	if forced != nil {
		jumps = forced
		t.Origin["proxyjump"] = "ssh -J (a later hop of a chain)"
	} else if a, ok := opts.first("proxyjump", "proxycommand"); ok {
		args, err := a.args()
		if err != nil {
			return nil, nil, h.fail(a, err)
		}
		if a.key == "proxycommand" {
			// ssh takes the rest of the line as it is, for $SHELL -c.
			if v := strings.TrimSpace(a.val); !strings.EqualFold(v, "none") {
				t.ProxyCommand = v
				t.Origin["proxycommand"] = a.origin
			}
		} else if jumps, err = parseJumps(args[0], a.origin); err != nil {
			return nil, nil, h.fail(a, err)
		}
		t.Origin["proxyjump"] = a.origin
	}

	if v, _, ok, err := h.first("hostkeyalias"); err != nil {
		return nil, nil, err
	} else if ok && !strings.EqualFold(v, "none") {
		t.HostKeyAlias = v
	}

	tk := &tokens{alias: alias, host: t.HostName, port: strconv.Itoa(t.Port), ruser: t.User,
		luser: r.luser, home: r.home, lhost: r.lhost, uid: r.uid, keyAlias: alias,
		getenv: r.getenv, allowHash: true, ssh: r.sshVersion}
	if len(jumps) > 0 {
		tk.jump = jumps[len(jumps)-1].host
	}
	if t.HostKeyAlias != "" {
		tk.keyAlias = t.HostKeyAlias
	}
	if err := h.resolvePaths(tk); err != nil {
		return nil, nil, err
	}
	if err := h.resolveRest(tk); err != nil {
		return nil, nil, err
	}
	if t.ProxyCommand != "" {
		if _, err := expandProxyCommand(t.ProxyCommand, t); err != nil {
			return nil, nil, &diag.Error{Pkg: "target",
				Msg:  fmt.Sprintf("host %s: ProxyCommand (from %s): %v", alias, t.Origin["proxycommand"], err),
				Hint: "ProxyCommand takes %h (host), %n (name as given), %p (port), %r (user) and %% (a %)"}
		}
		if err := checkProxyTokens(t); err != nil {
			return nil, nil, &diag.Error{Pkg: "target",
				Msg:  fmt.Sprintf("host %s: ProxyCommand (from %s): %v", alias, t.Origin["proxycommand"], err),
				Hint: "a name that goes into a shell command must not hold shell metacharacters; fix the inventory or ssh_config value"}
		}
	}
	t.MaxSessions = DefaultMaxSessions
	setDefault("maxsessions")
	setDefault("fresh")
	return t, jumps, nil
}

// expandHostName expands a HostName value: only %h (the alias) and %% are
// tokens there.
func expandHostName(v, alias string) (string, error) {
	if strings.ContainsRune(strings.ReplaceAll(strings.ReplaceAll(v, "%%", ""), "%h", ""), '%') {
		return "", errors.New("only %h and %% may be used in HostName")
	}
	return strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(v, "%%", "\x00"), "%h", alias), "\x00", "%"), nil
}

// resolvePaths resolves the options that name files or sockets.
func (h *hostResolution) resolvePaths(tk *tokens) error {
	t, r := h.t, h.r
	seen := map[string]bool{}
	var origins []string
	for _, a := range h.opts.all("identityfile") {
		args, err := a.args()
		if err != nil {
			return h.fail(a, err)
		}
		p, err := tk.expandPath(args[0])
		if err != nil {
			return h.fail(a, err)
		}
		// ssh ignores a repeated IdentityFile.
		if seen[p] {
			continue
		}
		seen[p] = true
		t.IdentityFiles = append(t.IdentityFiles, p)
		if len(origins) == 0 || origins[len(origins)-1] != a.origin {
			origins = append(origins, a.origin)
		}
	}
	if len(t.IdentityFiles) == 0 {
		for _, f := range defaultIdentityFiles {
			t.IdentityFiles = append(t.IdentityFiles, filepath.Join(r.home, ".ssh", f))
		}
		origins = []string{"default"}
	}
	t.Origin["identityfile"] = strings.Join(origins, ", ")

	t.IdentityAgent = r.getenv("SSH_AUTH_SOCK")
	t.Origin["identityagent"] = "default (SSH_AUTH_SOCK)"
	if v, a, ok, err := h.first("identityagent"); err != nil {
		return err
	} else if ok {
		switch {
		case strings.EqualFold(v, "none"):
			t.IdentityAgent = ""
		case v == "SSH_AUTH_SOCK":
			t.IdentityAgent = r.getenv("SSH_AUTH_SOCK")
		case strings.HasPrefix(v, "$") && !strings.HasPrefix(v, "${"):
			t.IdentityAgent = r.getenv(v[1:])
			if t.IdentityAgent == "" {
				return h.fail(a, fmt.Errorf("environment variable %s is not set", v[1:]))
			}
		default:
			p, err := tk.expandPath(v)
			if err != nil {
				return h.fail(a, err)
			}
			t.IdentityAgent = p
		}
	}

	var err error
	if t.UserKnownHostsFiles, err = h.fileList(tk, "userknownhostsfile",
		filepath.Join(r.home, ".ssh", "known_hosts"), filepath.Join(r.home, ".ssh", "known_hosts2")); err != nil {
		return err
	}
	if t.GlobalKnownHostsFiles, err = h.fileList(tk, "globalknownhostsfile",
		"/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"); err != nil {
		return err
	}

	// fleet's own default socket (~/.fleet/cm/%C) is never computed by
	// ssh, so it always hashes the jump host in, as OpenSSH 9.6 does: one
	// address behind two bastions is two connections.
	t.ConnHash = connectionHash(tk.lhost, tk.host, tk.port, tk.ruser, tk.jump)
	t.ControlPath = "none"
	t.Origin["controlpath"] = "default"
	if v, a, ok, err := h.first("controlpath"); err != nil {
		return err
	} else if ok && !strings.EqualFold(v, "none") {
		if t.ControlPath, err = tk.expandPath(v); err != nil {
			return h.fail(a, err)
		}
	}
	return nil
}

// fileList resolves an option holding several file names on one line;
// "none" means no file.
func (h *hostResolution) fileList(tk *tokens, key string, defaults ...string) ([]string, error) {
	a, ok := h.opts.first(key)
	if !ok {
		h.t.Origin[key] = "default"
		return defaults, nil
	}
	h.t.Origin[key] = a.origin
	args, err := a.args()
	if err != nil {
		return nil, h.fail(a, err)
	}
	if len(args) == 1 && strings.EqualFold(args[0], "none") {
		return nil, nil
	}
	out := make([]string, 0, len(args))
	for _, s := range args {
		p, err := tk.expandPath(s)
		if err != nil {
			return nil, h.fail(a, err)
		}
		out = append(out, p)
	}
	return out, nil
}

// resolveRest resolves the remaining yes/no, time and mode options.
func (h *hostResolution) resolveRest(tk *tokens) error {
	t := h.t
	type opt struct {
		key string
		def string
		set func(string) error
	}
	opts := []opt{
		{"identitiesonly", "no", func(v string) error {
			b, err := yesNo(v)
			t.IdentitiesOnly = b
			return err
		}},
		{"hashknownhosts", "no", func(v string) error {
			b, err := yesNo(v)
			t.HashKnownHosts = b
			return err
		}},
		{"stricthostkeychecking", "ask", func(v string) (err error) {
			t.StrictHostKeyChecking, err = normStrict(v)
			return err
		}},
		{"connecttimeout", "", func(v string) (err error) {
			if strings.EqualFold(v, "none") {
				t.ConnectTimeout = 0
				return nil
			}
			t.ConnectTimeout, err = parseSSHTime(v)
			return err
		}},
		{"serveraliveinterval", "", func(v string) (err error) {
			t.ServerAliveInterval, err = parseSSHTime(v)
			return err
		}},
		{"serveralivecountmax", "", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 {
				return errors.New("not a whole number")
			}
			t.ServerAliveCountMax = n
			return nil
		}},
		{"controlmaster", "no", func(v string) (err error) {
			t.ControlMaster, err = normControlMaster(v)
			return err
		}},
		{"controlpersist", "no", func(v string) (err error) {
			t.ControlPersist, err = normControlPersist(v)
			return err
		}},
	}
	t.ConnectTimeout = DefaultConnectTimeout
	t.ServerAliveInterval = DefaultServerAliveInterval
	t.ServerAliveCountMax = DefaultServerAliveCountMax
	for _, o := range opts {
		v, a, ok, err := h.first(o.key)
		if err != nil {
			return err
		}
		if !ok {
			t.Origin[o.key] = "default"
			if o.def != "" {
				_ = o.set(o.def)
			}
			continue
		}
		if err := o.set(v); err != nil {
			return h.fail(a, err)
		}
	}
	return nil
}

func yesNo(v string) (bool, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return true, nil
	case "no", "false":
		return false, nil
	}
	return false, errors.New("want yes or no")
}

func normStrict(v string) (string, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return "yes", nil
	case "no", "false", "off":
		return "no", nil
	case "accept-new":
		return "accept-new", nil
	case "ask":
		return "ask", nil
	}
	return "", fmt.Errorf("%q is not one of yes, accept-new, no, ask", v)
}

func normControlMaster(v string) (string, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return "yes", nil
	case "no", "false":
		return "no", nil
	case "auto", "ask", "autoask":
		return strings.ToLower(v), nil
	}
	return "", errors.New("want yes, no, auto, ask or autoask")
}

// normControlPersist returns "no", "yes" (forever) or the idle time in
// seconds, as ssh -G prints it.
func normControlPersist(v string) (string, error) {
	switch strings.ToLower(v) {
	case "yes", "true":
		return "yes", nil
	case "no", "false":
		return "no", nil
	}
	d, err := parseSSHTime(v)
	if err != nil {
		return "", errors.New("want yes, no or a time such as 10m")
	}
	if d == 0 {
		return "yes", nil
	}
	return strconv.FormatInt(int64((d+time.Second-1)/time.Second), 10), nil
}
