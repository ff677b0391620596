package inventory

import (
	"fmt"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// YAML (and JSON) inventories, read as Ansible's yaml plugin does: top-level
// keys are groups; a group has "hosts", "children" and "vars", nested to any
// depth; a host maps to its variables or to nothing.
//
// Ansible skips, with a warning, a group that is not a mapping and any key
// other than those three. fleet stops instead, naming the key and its line:
// a skipped key is usually a typo that would drop hosts from a run.

type yamlParser struct {
	inv  *Inventory
	file string
	src  string
}

// parseYAMLData reads an already decoded document. It returns notInventory
// (and no change to the inventory) when the document is not a non-empty
// mapping, so that the caller may try the file as INI as Ansible does.
func (inv *Inventory) parseYAMLData(file, src string, data any) (notInventory string, err error) {
	top, ok := data.(*vars.Map)
	switch {
	case data == nil || ok && top.Len() == 0:
		return "the document is empty", nil
	case !ok:
		return fmt.Sprintf("the document is %s, not a mapping of groups", describe(data)), nil
	}
	if v, ok := top.Get("plugin"); ok && truthy(v) {
		return "", newError(file, top.Line("plugin"),
			"list the hosts in a static inventory, e.g. with `ansible-inventory -i "+file+" --list --yaml`",
			"this is a configuration for inventory plugin %v; fleet reads static inventories only", v)
	}
	p := &yamlParser{inv: inv, file: file, src: src}
	for _, name := range top.Keys() {
		v, _ := top.Get(name)
		if _, err := p.group(top, name, v); err != nil {
			return "", err
		}
	}
	return "", nil
}

func (p *yamlParser) errorf(line int, hint, format string, args ...any) error {
	return newError(p.file, line, hint, format, args...)
}

// group reads one group definition; parent holds its key (for the line).
func (p *yamlParser) group(parent *vars.Map, key string, data any) (*Group, error) {
	line := parent.Line(key)
	if _, isString := parent.OrigKey(key).(string); !isString {
		return nil, p.errorf(line, "quote the name", "group name %s is not a string", describeKey(parent, key))
	}
	if key == "" {
		return nil, p.errorf(line, "", "a group name is empty")
	}
	body, ok := data.(*vars.Map)
	if data != nil && !ok {
		return nil, p.errorf(line, `a group maps to "hosts:", "children:" and "vars:" (or to nothing)`,
			"group %q is %s, not a group definition", key, describe(data))
	}
	g := p.inv.addGroup(key)
	if body == nil {
		return g, nil
	}
	for _, section := range []string{"vars", "children", "hosts"} {
		v, present := body.Get(section)
		if !present {
			continue
		}
		if s, isStr := v.(string); isStr {
			// Ansible reads `hosts: web1` as `hosts: {web1: }`.
			m := vars.NewMap()
			m.Set(s, nil)
			body.Set(section, m)
			continue
		}
		if _, isMap := v.(*vars.Map); v != nil && !isMap {
			hint := fmt.Sprintf(`write each entry of %q as a key ending in ':' on its own line`, section)
			return nil, p.errorf(body.Line(section), hint,
				"%q of group %q must be a mapping, but it is %s", section, key, describe(v))
		}
	}
	for _, k := range body.Keys() {
		v, _ := body.Get(k)
		m, _ := v.(*vars.Map)
		switch k {
		case "vars":
			for _, name := range m.Keys() {
				val, _ := m.Get(name)
				if err := p.inv.setGroupVar(g, m.OrigKey(name), val); err != nil {
					return nil, p.errorf(m.Line(name), "", "%v", err)
				}
			}
		case "children":
			for _, name := range m.Keys() {
				val, _ := m.Get(name)
				child, err := p.group(m, name, val)
				if err != nil {
					return nil, err
				}
				if err := g.addChild(child); err != nil {
					return nil, p.errorf(m.Line(name), "", "%v", err)
				}
			}
		case "hosts":
			for _, name := range m.Keys() {
				if err := p.host(g, m, name); err != nil {
					return nil, err
				}
			}
		default:
			hint := `a group has only "hosts:", "children:" and "vars:"; put variables under "vars:" and hosts under "hosts:"`
			for _, want := range []string{"hosts", "children", "vars"} {
				if editDistance(k, want) <= 2 {
					hint = fmt.Sprintf("did you mean %q?", want+":")
				}
			}
			return nil, p.errorf(body.Line(k), hint, "unexpected key %q in group %q", k, key)
		}
	}
	return g, nil
}

func (p *yamlParser) host(g *Group, hosts *vars.Map, key string) error {
	line := hosts.Line(key)
	if _, isString := hosts.OrigKey(key).(string); !isString {
		return p.errorf(line, `quote it: "`+key+`":`, "host name %s must be a string", describeKey(hosts, key))
	}
	names, port, err := expandHostPattern(key)
	if err != nil {
		return p.errorf(line, hostPatternHint(err), "host %q: %v", key, err)
	}
	v, _ := hosts.Get(key)
	hv, ok := v.(*vars.Map)
	if !ok {
		if truthy(v) {
			return p.errorf(line, fmt.Sprintf("give the host's variables as a mapping under it, or nothing: %q:", key),
				"host %q in group %q maps to %s, not to variables", key, g.Name, describe(v))
		}
		hv = vars.NewMap()
	}
	return p.inv.populateHosts(names, port, hv, g, p.src, func(msg string) error { return p.errorf(line, "", "%s", msg) })
}

// truthy reports whether Python would take v as true.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil:
		return false
	case bool:
		return x
	case string:
		return x != ""
	case int64:
		return x != 0
	case float64:
		return x != 0
	case []any:
		return len(x) > 0
	case *vars.Map:
		return x.Len() > 0
	}
	return true
}

func describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "empty"
	case string, vars.Unsafe:
		return fmt.Sprintf("the string %q", x)
	case bool:
		return fmt.Sprintf("the boolean %v", x)
	case []any:
		return "a list"
	case *vars.Map:
		return "a mapping"
	}
	if b := strings.TrimSpace(fmt.Sprint(v)); b != "" {
		return "the value " + b
	}
	return fmt.Sprintf("a %T", v)
}

func describeKey(m *vars.Map, key string) string {
	switch k := m.OrigKey(key).(type) {
	case bool:
		return fmt.Sprintf("%v (a YAML boolean)", k)
	case string:
		return fmt.Sprintf("%q", k)
	}
	if vars.IsNullKey(m.OrigKey(key)) {
		return "null"
	}
	return fmt.Sprintf("%s (a number)", key)
}

// editDistance is the Levenshtein distance between a and b, for "did you
// mean" hints.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}
