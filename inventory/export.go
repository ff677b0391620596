package inventory

import (
	"fmt"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// ExportVars returns a host's variables as ansible-inventory shows them:
// Vars without the magic and internal names.
func (inv *Inventory) ExportVars(h *Host) *vars.Map { return inv.exportVars(h) }

// ListJSON returns the inventory as `ansible-inventory --list` prints it
// (without the final newline): groups with their direct hosts and children,
// empty ones left out, and every host's variables under _meta.hostvars.
// sorted is false when keys could not be sorted; see vars.EncodeJSON.
func (inv *Inventory) ListJSON() (data []byte, sorted bool, err error) {
	out := vars.NewMap()
	seen := map[*Group]bool{}
	var format func(g *Group)
	format = func(g *Group) {
		entry := vars.NewMap()
		if g.Name != "all" && len(g.hosts) > 0 {
			hosts := make([]any, len(g.hosts))
			for i, h := range g.hosts {
				hosts[i] = h.Name
			}
			entry.Set("hosts", hosts)
		}
		if len(g.children) > 0 {
			children := make([]any, len(g.children))
			for i, c := range g.children {
				children[i] = c.Name
			}
			entry.Set("children", children)
		}
		if entry.Len() > 0 {
			out.Set(g.Name, entry)
		}
		for _, c := range g.children {
			if !seen[c] {
				seen[c] = true
				format(c)
			}
		}
	}
	format(inv.groups["all"])
	hostvars := vars.NewMap()
	for _, h := range inv.groups["all"].allHosts {
		if v := inv.exportVars(h); v.Len() > 0 {
			hostvars.Set(h.Name, v)
		}
	}
	meta := vars.NewMap()
	meta.Set("hostvars", hostvars)
	out.Set("_meta", meta)
	return vars.EncodeJSON(out)
}

// Graph returns the tree under a group as `ansible-inventory --graph`
// prints it: child groups first, then the group's own hosts.
func (inv *Inventory) Graph(group string) (string, error) {
	g := inv.groups[group]
	if g == nil {
		return "", newError("", 0, "run `fleet inventory --graph` to see all groups",
			"%q is not a group; --graph takes a group name", group)
	}
	var b strings.Builder
	var walk func(g *Group, depth int)
	line := func(name string, depth int) {
		if depth > 0 {
			b.WriteString(strings.Repeat("  |", depth))
			b.WriteString("--")
		}
		b.WriteString(name)
		b.WriteByte('\n')
	}
	walk = func(g *Group, depth int) {
		line(fmt.Sprintf("@%s:", g.Name), depth)
		for _, c := range g.children {
			walk(c, depth+1)
		}
		if g.Name != "all" {
			for _, h := range g.hosts {
				line(h.Name, depth+1)
			}
		}
	}
	walk(g, 0)
	return strings.TrimSuffix(b.String(), "\n"), nil
}
