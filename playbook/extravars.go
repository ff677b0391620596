package playbook

import (
	"path/filepath"
	"strings"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// ParseExtraVars reads one -e argument as ansible-playbook does:
// "@FILE" loads a YAML or JSON file (relative to baseDir), an argument
// starting with "{" or "[" is inline YAML or JSON, and anything else is
// key=value pairs split as Ansible splits them, whose values are strings.
// The result must be a mapping. An empty argument gives an empty mapping.
func ParseExtraVars(arg string, baseDir string) (*vars.Map, error) {
	const what = "extra vars (-e)"
	switch {
	case arg == "":
		return vars.NewMap(), nil
	case strings.HasPrefix(arg, "@"):
		name := arg[1:]
		path := expandHome(name)
		if !filepath.IsAbs(path) {
			path = filepath.Join(baseDir, path)
		}
		p := &parser{}
		doc, _, err := p.readFile(path)
		if err != nil {
			return nil, err
		}
		m, ok := doc.(*vars.Map)
		if !ok {
			return nil, newError(path, 1, "an extra vars file is a mapping of variable names to values",
				"extra vars must be a mapping, but this file holds %s", describe(doc))
		}
		return m, nil
	case arg[0] == '/' || arg[0] == '.':
		return nil, &diag.Error{Pkg: "playbook", Msg: "-e " + arg + " looks like a file name",
			Hint: "to load variables from a file, write -e @" + arg}
	case arg[0] == '{' || arg[0] == '[':
		doc, _, err := vars.Decode(what, []byte(arg))
		if err != nil {
			return nil, inPlaybook(err)
		}
		m, ok := doc.(*vars.Map)
		if !ok {
			return nil, &diag.Error{Pkg: "playbook", File: what, Msg: "extra vars must be a mapping, but -e gave " + describe(doc),
				Hint: `write -e '{"name": "value"}' or -e name=value`}
		}
		return m, nil
	}
	opts, rest, hasRest, err := parseKV(arg, false)
	if err != nil {
		return nil, &diag.Error{Pkg: "playbook", File: what, Msg: "cannot split -e " + excerpt(arg) + ": " + err.Error(),
			Hint: "quote values that hold spaces, e.g. -e 'msg=\"hello world\"'"}
	}
	if hasRest {
		return nil, &diag.Error{Pkg: "playbook", File: what, Msg: "-e takes name=value pairs, but got " + excerpt(rest),
			Hint: `write -e name=value, -e '{"name": "value"}' or -e @file.yml`}
	}
	m := vars.NewMap()
	for _, o := range opts {
		m.Set(o.key, o.value)
	}
	return m, nil
}
