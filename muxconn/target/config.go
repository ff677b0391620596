package target

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"

	"fleetrun.dev/fleet/diag"
	"github.com/kevinburke/ssh_config"
)

// configFile is one parsed ssh_config file.
type configFile struct {
	name string // as shown to the user, e.g. "~/.ssh/config"
	cfg  *ssh_config.Config

	matchOnce sync.Once
	byName    map[string][]int // Host blocks naming an alias plainly, in file order
	wild      []int            // Host blocks with a * or ? pattern
	excluded  []map[string]bool
}

// candidates returns, in file order, the Host blocks that apply to alias.
// Generated configs have one Host block per host, for hundreds of hosts;
// matching every host against every block by regexp was most of fleet's
// CPU at 1000 hosts. Plain names are looked up; only patterns with
// wildcards go to the library's matcher.
func (f *configFile) candidates(alias string) []int {
	f.matchOnce.Do(func() {
		f.byName = map[string][]int{}
		f.excluded = make([]map[string]bool, len(f.cfg.Hosts))
		for i, h := range f.cfg.Hosts {
			wild := false
			var names []string
			for _, p := range h.Patterns {
				s := p.String()
				switch {
				case strings.ContainsAny(s, "*?"):
					wild = true
				case strings.HasPrefix(s, "!"):
					if f.excluded[i] == nil {
						f.excluded[i] = map[string]bool{}
					}
					f.excluded[i][s[1:]] = true
				default:
					names = append(names, s)
				}
			}
			if wild {
				f.wild = append(f.wild, i)
				continue
			}
			for _, n := range names {
				if l := f.byName[n]; len(l) == 0 || l[len(l)-1] != i {
					f.byName[n] = append(l, i)
				}
			}
		}
	})
	var out []int
	named, wild := f.byName[alias], f.wild
	for len(named) > 0 || len(wild) > 0 {
		var i int
		if len(wild) == 0 || len(named) > 0 && named[0] < wild[0] {
			i, named = named[0], named[1:]
			if f.excluded[i][alias] {
				continue
			}
		} else {
			i, wild = wild[0], wild[1:]
			if !f.cfg.Hosts[i].Matches(alias) {
				continue
			}
		}
		out = append(out, i)
	}
	return out
}

// setting is one value for an option, with where it came from.
type setting struct {
	val    string
	origin string
	// literal values are used whole; others are split into arguments as
	// ssh_config values are.
	literal bool
}

// errPos matches the position the ssh_config parser puts in front of its
// messages: "(line, col): message".
var errPos = regexp.MustCompile(`^\((\d+), \d+\): ?`)

// loadConfig reads and parses one ssh_config file. A missing file is
// reported with ok false and no error unless required; a file the parser
// rejects is skipped with a warning, since ssh_config is shared with other
// tools and fleet should not refuse to run over an option it ignores anyway.
func loadConfig(path, name string, required bool) (cf *configFile, warn *diag.Warning, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) && !required {
			return nil, nil, nil
		}
		if required {
			return nil, nil, &diag.Error{Pkg: "target", File: name, Msg: "cannot read the ssh_config file", Err: err,
				Hint: "check the --ssh-config path"}
		}
		return nil, &diag.Warning{File: name, Msg: fmt.Sprintf("ssh_config file ignored: %v", err)}, nil
	}
	cfg, perr := decodeConfig(data)
	if perr != nil {
		w := &diag.Warning{File: name}
		msg := strings.TrimSpace(perr.Error())
		if m := errPos.FindStringSubmatch(msg); m != nil {
			w.Line, _ = strconv.Atoi(m[1])
			msg = msg[len(m[0]):]
		}
		msg = strings.TrimPrefix(msg, "ssh_config: ")
		w.Msg = fmt.Sprintf("ssh_config file ignored: fleet cannot parse it (%s); its settings do not apply", msg)
		return nil, w, nil
	}
	return &configFile{name: name, cfg: cfg}, nil, nil
}

// decodeConfig parses data, turning any panic of the parser into an error:
// the library re-raises runtime errors, and fleet must not crash on a
// user's config file.
func decodeConfig(data []byte) (cfg *ssh_config.Config, err error) {
	defer func() {
		if r := recover(); r != nil {
			cfg, err = nil, fmt.Errorf("parser failed: %v", r)
		}
	}()
	return ssh_config.Decode(bytes.NewReader(data))
}

// configValues returns the values of key in the blocks of f matching alias,
// in file order; with all false it stops at the first. Values come raw, with
// their quotes, so that they can be split as OpenSSH splits them.
func (f *configFile) configValues(alias string, keys []string, all bool) []assign {
	var out []assign
	for _, i := range f.candidates(alias) {
		h := f.cfg.Hosts[i]
		for _, n := range h.Nodes {
			switch n := n.(type) {
			case *ssh_config.KV:
				key := strings.ToLower(n.Key)
				if !slices.Contains(keys, key) {
					continue
				}
				raw := rawValue(n)
				if raw == "" {
					// OpenSSH rejects a keyword without a value; the
					// library keeps it, fleet treats it as unset.
					continue
				}
				out = append(out, assign{key: key, setting: setting{val: raw, origin: diag.Location(f.name, n.Pos().Line)}})
			case *ssh_config.Include:
				// Included files keep their positions to themselves, so
				// the Include line is the best origin there is.
				origin := diag.Location(f.name, n.Pos().Line) + " (Include)"
				for _, key := range keys {
					if all {
						vals, _ := n.GetAll(alias, key)
						for _, v := range vals {
							if v != "" {
								out = append(out, assign{key: key, setting: setting{val: v, origin: origin}})
							}
						}
					} else if v := n.Get(alias, key); v != "" {
						out = append(out, assign{key: key, setting: setting{val: v, origin: origin}})
						break
					}
				}
			}
			if !all && len(out) > 0 {
				return out
			}
		}
	}
	return out
}

// rawValue recovers the value of kv as written, quotes included. The
// library strips one pair of surrounding quotes, which garbles
// `UserKnownHostsFile "a b" "c"`; its String method still has the original.
func rawValue(kv *ssh_config.KV) string {
	s := strings.TrimLeft(kv.String(), " \t")
	if !strings.HasPrefix(s, kv.Key) {
		return kv.Value
	}
	s = s[len(kv.Key):]
	switch {
	case strings.HasPrefix(s, " = "):
		s = s[3:]
	case strings.HasPrefix(s, " "):
		s = s[1:]
	default:
		return kv.Value
	}
	if kv.Comment != "" {
		i := strings.LastIndex(s, "#"+kv.Comment)
		if i < 0 {
			return kv.Value
		}
		s = s[:i]
	}
	return strings.TrimRight(s, " \t")
}
