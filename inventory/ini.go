package inventory

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"fleetrun.dev/fleet/vars"
)

// INI inventories, read as Ansible's ini plugin does: a section per group
// ([web], [web:children], [web:vars]), hosts before any section are
// ungrouped, host lines take key=value variables typed as Python literals,
// and a group may be named as a child before it is declared.

var (
	reINISection   = regexp.MustCompile(`^\[([^:\]\s]+)(?::([\p{L}\p{N}_]+))?\]\s*(?:#.*)?$`)
	reINIGroupName = regexp.MustCompile(`^([^:\]\s]+)\s*(?:#.*)?$`)
)

type iniParser struct {
	inv  *Inventory
	file string // the name to show in messages
	src  string // the absolute path, for inventory_file
	line int
}

type pendingDecl struct {
	line    int
	state   string
	parents []string
}

func (p *iniParser) errorf(hint, format string, args ...any) error {
	return newError(p.file, p.line, hint, format, args...)
}

func (inv *Inventory) parseINI(file, src string, data []byte) error {
	p := &iniParser{inv: inv, file: file, src: src}
	return p.parse(data)
}

func (p *iniParser) parse(data []byte) error {
	// Ansible trips over a byte-order mark on the first line; editors on
	// Windows add one, and it cannot be meant as part of a host name.
	lines := pySplitLines(strings.TrimPrefix(string(data), "\ufeff"))
	pending := map[string]*pendingDecl{}
	var pendingOrder []string
	addPending := func(name string, d *pendingDecl) {
		pending[name] = d
		pendingOrder = append(pendingOrder, name)
	}
	group, state := "ungrouped", "hosts"
	for i, raw := range lines {
		p.line = i + 1
		line := strings.TrimSpace(raw)
		if line == "" || line[0] == '#' || line[0] == ';' {
			continue
		}
		if !utf8.ValidString(line) {
			return p.errorf("save the file as UTF-8", "the line is not valid UTF-8")
		}
		if m := reINISection.FindStringSubmatch(line); m != nil {
			group, state = m[1], m[2]
			if state == "" {
				state = "hosts"
			}
			if state != "hosts" && state != "children" && state != "vars" {
				return p.errorf(`a section is [group], [group:children] or [group:vars]`,
					"section [%s:%s] has unknown type %q", m[1], m[2], m[2])
			}
			if p.inv.groups[group] == nil {
				// [g:vars] alone does not declare g: remember it and
				// complain at the end unless [g] or [g:children] follows.
				if _, ok := pending[group]; state == "vars" && !ok {
					addPending(group, &pendingDecl{line: p.line, state: "vars"})
				}
				p.inv.addGroup(group)
			}
			if d, ok := pending[group]; ok && state != "vars" {
				switch d.state {
				case "children":
					if err := p.addPendingChildren(group, pending); err != nil {
						return err
					}
				case "vars":
					delete(pending, group)
				}
			}
			continue
		}
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			return p.errorf("write sections as [group], [group:children] or [group:vars], without spaces",
				"invalid section entry %q", line)
		}
		switch state {
		case "hosts":
			if err := p.hostLine(line, group); err != nil {
				return err
			}
		case "vars":
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				return p.errorf(fmt.Sprintf("each line of [%s:vars] is one name=value", group), "expected key=value, got %q", line)
			}
			if err := p.inv.setGroupVar(p.inv.groups[group], strings.TrimSpace(k), iniValue(strings.TrimSpace(v))); err != nil {
				return p.errorf("", "%v", err)
			}
		case "children":
			m := reINIGroupName.FindStringSubmatch(line)
			if m == nil {
				return p.errorf(fmt.Sprintf("each line of [%s:children] names one group", group), "expected a group name, got %q", line)
			}
			child := m[1]
			if p.inv.groups[child] == nil {
				if d, ok := pending[child]; ok {
					d.parents = append(d.parents, group)
				} else {
					addPending(child, &pendingDecl{line: p.line, state: "children", parents: []string{group}})
				}
			} else if err := p.inv.groups[group].addChild(p.inv.groups[child]); err != nil {
				return p.errorf("", "%v", err)
			}
		}
	}
	for _, name := range pendingOrder {
		d, ok := pending[name]
		if !ok {
			continue
		}
		p.line = d.line
		if d.state == "vars" {
			return p.errorf(fmt.Sprintf("declare the group with a [%s] or [%s:children] section, or fix the name", name, name),
				"section [%s:vars] is for group %q, which is not defined", name, name)
		}
		return p.errorf(fmt.Sprintf("declare it with a [%s] section (it may be empty), or fix the name", name),
			"section [%s:children] names group %q, which is not defined", d.parents[len(d.parents)-1], name)
	}
	return nil
}

func (p *iniParser) addPendingChildren(group string, pending map[string]*pendingDecl) error {
	for _, parent := range pending[group].parents {
		if err := p.inv.groups[parent].addChild(p.inv.groups[group]); err != nil {
			return p.errorf("", "%v", err)
		}
		if d, ok := pending[parent]; ok && d.state == "children" {
			if err := p.addPendingChildren(parent, pending); err != nil {
				return err
			}
		}
	}
	delete(pending, group)
	return nil
}

// hostLine reads "web[01:03].example.com:2222 user=deploy port=22".
func (p *iniParser) hostLine(line, group string) error {
	tokens, err := shlexSplit(line)
	if err != nil {
		return p.errorf("close the quote, or escape it with a backslash", "cannot parse host line %q: %v", line, err)
	}
	if len(tokens) == 0 {
		return p.errorf("", "cannot parse host line %q", line)
	}
	pattern := tokens[0]
	names, port, err := expandHostPattern(pattern)
	if err != nil {
		return p.errorf(hostPatternHint(err), "host %q: %v", pattern, err)
	}
	if strings.HasSuffix(strings.TrimSpace(pattern), ":") && port == 0 {
		return p.errorf("a ':' after a host name must be followed by a port number", "invalid host pattern %q: it ends in ':'", pattern)
	}
	for _, n := range names {
		if strings.TrimSpace(n) == "---" {
			return p.errorf("a file in YAML format needs a .yml or .yaml name", "invalid host pattern %q: '---' is a sign this is a YAML file", pattern)
		}
	}
	hv := vars.NewMap()
	for _, t := range tokens[1:] {
		k, v, ok := strings.Cut(t, "=")
		if !ok {
			return p.errorf(`host variables are name=value; quote values with spaces: name="a b"`,
				"expected a key=value host variable, got %q", t)
		}
		hv.Set(k, iniValue(v))
	}
	return p.inv.populateHosts(names, port, hv, p.inv.groups[group], p.src, func(msg string) error { return p.errorf("", "%s", msg) })
}

// expandHostPattern splits an optional port off a host entry and expands
// its ranges, as Ansible's _expand_hostpattern does: what parse_address
// cannot read is taken as a name as it stands.
func expandHostPattern(pattern string) ([]string, int, error) {
	host, port, err := parseAddress(pattern, true)
	var pe *portError
	if errors.As(err, &pe) {
		return nil, 0, err
	}
	if err != nil {
		host, port = pattern, 0
	}
	if strings.Contains(host, "[") {
		names, err := expandHostRange(host)
		return names, port, err
	}
	return []string{host}, port, nil
}

// hostPatternHint says how to fix a host entry that expandHostPattern
// refused.
func hostPatternHint(err error) string {
	var pe *portError
	if errors.As(err, &pe) {
		return "give a port from 1 to 65535 after the ':'"
	}
	return "write ranges as [01:20] or [a:f], optionally with a step: [1:10:2]"
}

// pySplitLines splits text at line boundaries as Python's str.splitlines.
func pySplitLines(s string) []string {
	var out []string
	start := 0
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		switch r {
		case '\n', '\r', '\v', '\f', 0x1c, 0x1d, 0x1e, 0x85, 0x2028, 0x2029:
			out = append(out, s[start:i])
			i += size
			if r == '\r' && i < len(s) && s[i] == '\n' {
				i++
			}
			start = i
			continue
		}
		i += size
	}
	if start < len(s) {
		out = append(out, s[start:])
	}
	return out
}
