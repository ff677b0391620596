package target

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// assign is one option set ahead of ssh_config, by a flag or an inventory
// variable. As with ssh's -o, the first assignment of an option wins, except
// for IdentityFile, which accumulates.
type assign struct {
	key string // lower case, e.g. "port"
	setting
}

type assigns []assign

// knownOptions are the ssh_config options fleet reads. Others, in the
// config files or in -o, are ignored, as ssh ignores what it does not use.
var knownOptions = map[string]bool{
	"hostname": true, "user": true, "port": true, "identityfile": true, "identitiesonly": true, "hashknownhosts": true,
	"identityagent": true, "proxyjump": true, "proxycommand": true, "userknownhostsfile": true,
	"globalknownhostsfile": true, "stricthostkeychecking": true, "hostkeyalias": true,
	"connecttimeout": true, "serveraliveinterval": true, "serveralivecountmax": true,
	"controlmaster": true, "controlpath": true, "controlpersist": true,
	// CanonicalizeHostname decides only whether ssh reads its config a
	// second time (see Resolver.wantFinalPass).
	"canonicalizehostname": true,
}

// parseOption splits an ssh -o argument, "Key=Value" or "Key Value", as
// OpenSSH's process_config_line does. ok is false when the option is one
// fleet does not read.
func parseOption(s string) (key, val string, ok bool, err error) {
	s = strings.TrimSpace(s)
	i := strings.IndexAny(s, " \t=")
	if i <= 0 {
		return "", "", false, fmt.Errorf("option %q has no value; write Key=Value", s)
	}
	key = strings.ToLower(s[:i])
	val = strings.TrimLeft(s[i:], " \t")
	if strings.HasPrefix(val, "=") {
		val = strings.TrimLeft(val[1:], " \t")
	}
	if val == "" {
		return "", "", false, fmt.Errorf("option %q has no value; write Key=Value", s)
	}
	return key, val, knownOptions[key], nil
}

// hostVars reads the connection variables of one inventory host.
type hostVars struct {
	alias string
	m     *vars.Map
}

// fleetVars holds the fleet-only settings an inventory may set.
type fleetVars struct {
	maxSessions       int
	maxSessionsOrigin string
	fresh             *bool
	freshOrigin       string
}

func (h hostVars) errorf(name, format string, args ...any) error {
	return &diag.Error{Pkg: "target", Msg: fmt.Sprintf("host %s: inventory var %s: %s", h.alias, name, fmt.Sprintf(format, args...))}
}

// lookup returns the first of names that is set (and not null), so that
// with Ansible's aliases the ansible_ssh_* spelling, which Ansible lists
// last and so lets win, goes first.
func (h hostVars) lookup(names ...string) (string, any, bool) {
	for _, n := range names {
		if v, ok := h.m.Get(n); ok && v != nil {
			return n, v, true
		}
	}
	return "", nil, false
}

// str converts a variable to a string: strings and numbers are fine,
// anything else is a type error.
func (h hostVars) str(name string, v any) (string, error) {
	switch v := v.(type) {
	case string:
		if strings.Contains(v, "{{") {
			return "", h.errorf(name, "%q is a template, and templating inventory vars is not supported yet", v)
		}
		return v, nil
	case vars.Unsafe:
		return string(v), nil // never templated, so "{{" is literal
	case int:
		return strconv.Itoa(v), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1e15 {
			return strconv.FormatInt(int64(v), 10), nil
		}
		return strconv.FormatFloat(v, 'g', -1, 64), nil
	case vars.Vault:
		return "", h.errorf(name, "the value is encrypted with ansible-vault, which fleet cannot decrypt")
	default:
		return "", h.errorf(name, "want a string, got %s", describe(v))
	}
}

// integer converts a variable to an int in [lo, hi].
func (h hostVars) integer(name string, v any, lo, hi int) (int, error) {
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int64:
		n = x
	case float64:
		if x != math.Trunc(x) || math.Abs(x) > 1e15 {
			return 0, h.errorf(name, "want a whole number, got %v", x)
		}
		n = int64(x)
	case string, vars.Unsafe:
		s, err := h.str(name, v)
		if err != nil {
			return 0, err
		}
		p, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil {
			return 0, h.errorf(name, "want a whole number, got %q", s)
		}
		n = p
	default:
		return 0, h.errorf(name, "want a whole number, got %s", describe(v))
	}
	if n < int64(lo) || n > int64(hi) {
		return 0, h.errorf(name, "%d is out of range %d to %d", n, lo, hi)
	}
	return int(n), nil
}

// boolean converts a variable to a bool, accepting Ansible's spellings.
func (h hostVars) boolean(name string, v any) (bool, error) {
	switch x := v.(type) {
	case bool:
		return x, nil
	case int, int64, float64:
		n, err := h.integer(name, v, 0, 1)
		if err != nil {
			return false, h.errorf(name, "want a boolean, got %v", v)
		}
		return n == 1, nil
	case string, vars.Unsafe:
		s, err := h.str(name, v)
		if err != nil {
			return false, err
		}
		if b, ok := parseAnsibleBool(s); ok {
			return b, nil
		}
		return false, h.errorf(name, "want a boolean (yes/no, true/false), got %q", s)
	default:
		return false, h.errorf(name, "want a boolean, got %s", describe(v))
	}
}

// parseAnsibleBool reads a boolean as Ansible's boolean filter does.
func parseAnsibleBool(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "yes", "on", "1", "true", "t", "y":
		return true, true
	case "no", "off", "0", "false", "f", "n":
		return false, true
	}
	return false, false
}

func describe(v any) string {
	switch v.(type) {
	case bool:
		return fmt.Sprintf("the boolean %v", v)
	case []any:
		return "a list"
	case *vars.Map, map[string]any:
		return "a mapping"
	default:
		return fmt.Sprintf("a value of type %T", v)
	}
}

// inventoryAssigns turns a host's connection variables into options, in
// the order Ansible's ssh plugin puts them on ssh's command line (the
// dedicated variables before ansible_ssh_common_args, which comes before
// ansible_ssh_extra_args), so that ssh's first-wins rule picks the same
// value it would.
func inventoryAssigns(alias string, m *vars.Map) (assigns, fleetVars, error) {
	h := hostVars{alias: alias, m: m}
	var out assigns
	var fv fleetVars
	origin := func(name string) string { return "inventory var " + name }
	add := func(key, name, val string) {
		out = append(out, assign{key: key, setting: setting{val: val, origin: origin(name), literal: true}})
	}
	for _, o := range []struct {
		key   string
		names []string
	}{
		{"hostname", []string{"ansible_ssh_host", "ansible_host"}},
		{"user", []string{"ansible_ssh_user", "ansible_user"}},
		{"identityfile", []string{"ansible_ssh_private_key_file", "ansible_private_key_file"}},
	} {
		name, v, ok := h.lookup(o.names...)
		if !ok {
			continue
		}
		s, err := h.str(name, v)
		if err != nil {
			return nil, fv, err
		}
		if s == "" {
			return nil, fv, h.errorf(name, "the value is empty")
		}
		add(o.key, name, s)
	}
	if name, v, ok := h.lookup("ansible_ssh_port", "ansible_port"); ok {
		p, err := h.integer(name, v, 1, 65535)
		if err != nil {
			return nil, fv, err
		}
		add("port", name, strconv.Itoa(p))
	}
	if name, v, ok := h.lookup("ansible_ssh_timeout", "ansible_timeout"); ok {
		n, err := h.integer(name, v, 0, math.MaxInt32)
		if err != nil {
			return nil, fv, err
		}
		add("connecttimeout", name, strconv.Itoa(n))
	}
	if name, v, ok := h.lookup("ansible_ssh_host_key_checking", "ansible_host_key_checking"); ok {
		b, err := h.boolean(name, v)
		if err != nil {
			return nil, fv, err
		}
		if !b {
			add("stricthostkeychecking", name, "no")
		}
	}
	for _, name := range []string{"ansible_ssh_common_args", "ansible_ssh_extra_args"} {
		v, ok := h.m.Get(name)
		if !ok || v == nil {
			continue
		}
		s, err := h.str(name, v)
		if err != nil {
			return nil, fv, err
		}
		args, err := h.sshArgs(name, s)
		if err != nil {
			return nil, fv, err
		}
		out = append(out, args...)
	}
	if v, ok := h.m.Get("fleet_max_sessions"); ok && v != nil {
		n, err := h.integer("fleet_max_sessions", v, 1, math.MaxInt32)
		if err != nil {
			return nil, fv, err
		}
		fv.maxSessions, fv.maxSessionsOrigin = n, origin("fleet_max_sessions")
	}
	if v, ok := h.m.Get("fleet_fresh"); ok && v != nil {
		b, err := h.boolean("fleet_fresh", v)
		if err != nil {
			return nil, fv, err
		}
		fv.fresh, fv.freshOrigin = &b, origin("fleet_fresh")
	}
	return out, fv, nil
}

// sshArgs reads the ssh command-line arguments in ansible_ssh_common_args
// or ansible_ssh_extra_args. Only the ones that set a connection option are
// understood; anything else would silently change meaning, so it is an
// error.
func (h hostVars) sshArgs(name, s string) (assigns, error) {
	words, err := splitShellWords(s)
	if err != nil {
		return nil, h.errorf(name, "cannot split %q into words: %v", s, err)
	}
	var out assigns
	o := "inventory var " + name
	for i := 0; i < len(words); i++ {
		w := words[i]
		if len(w) < 2 || w[0] != '-' || !strings.ContainsRune("oJiplF", rune(w[1])) {
			return nil, &diag.Error{Pkg: "target",
				Msg:  fmt.Sprintf("host %s: inventory var %s: unsupported ssh argument %q", h.alias, name, w),
				Hint: "fleet understands -o Key=Value, -J, -i, -p and -l there; set other options in ~/.ssh/config"}
		}
		flag, arg := w[1], w[2:]
		if arg == "" {
			if i+1 == len(words) {
				return nil, h.errorf(name, "ssh argument -%c needs a value", flag)
			}
			i++
			arg = words[i]
		}
		switch flag {
		case 'o':
			key, val, ok, err := parseOption(arg)
			if err != nil {
				return nil, h.errorf(name, "%v", err)
			}
			if ok {
				out = append(out, assign{key: key, setting: setting{val: val, origin: o}})
			}
		case 'J':
			out = append(out, assign{key: "proxyjump", setting: setting{val: arg, origin: o, literal: true}})
		case 'i':
			out = append(out, assign{key: "identityfile", setting: setting{val: arg, origin: o, literal: true}})
		case 'p':
			out = append(out, assign{key: "port", setting: setting{val: arg, origin: o, literal: true}})
		case 'l':
			out = append(out, assign{key: "user", setting: setting{val: arg, origin: o, literal: true}})
		case 'F':
			return nil, &diag.Error{Pkg: "target",
				Msg:  fmt.Sprintf("host %s: inventory var %s: -F (another ssh_config file) is not supported per host", h.alias, name),
				Hint: "pass the file to every host with --ssh-config, or Include it from ~/.ssh/config"}
		}
	}
	return out, nil
}
