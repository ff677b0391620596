package inventory

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// Inventory is a loaded set of hosts and groups. It is safe for concurrent
// reads once Load has returned.
type Inventory struct {
	groups    map[string]*Group
	groupList []*Group // in the order groups were first seen, as Ansible's dict
	hosts     map[string]*Host
	hostList  []*Host

	// localhost is the first localhost-like host defined in the inventory.
	localhost *Host

	sources  []source // the -i sources, for group_vars/ and host_vars/
	varFiles *varFiles

	warnings []diag.Warning
	badNames []string // group names Ansible warns about

	groupsVar *vars.Map // the "groups" magic variable, shared by all hosts
}

// Group is an inventory group. Its fields are read-only after Load.
type Group struct {
	Name     string
	vars     *vars.Map
	hosts    []*Host // direct members in the order they were added
	hostSet  map[*Host]bool
	children []*Group
	parents  []*Group
	priority int // ansible_group_priority, 1 by default
	depth    int // longest path from "all"; computed by reconcile

	allHosts []*Host // the group's hosts and its descendants', in Ansible's order
}

// Host is an inventory host. Its fields are read-only after Load.
type Host struct {
	Name string
	vars *vars.Map
	// direct lists the groups the host was added to; Groups adds their
	// ancestors, as Ansible's host.groups does.
	direct   []*Group
	groups   []*Group
	implicit bool
	source   string // inventory_file: the first source that named the host
}

func newInventory() *Inventory {
	inv := &Inventory{groups: map[string]*Group{}, hosts: map[string]*Host{}}
	all := inv.addGroup("all")
	ungrouped := inv.addGroup("ungrouped")
	// Cannot fail: neither group has relatives yet.
	_ = all.addChild(ungrouped)
	return inv
}

func (inv *Inventory) addGroup(name string) *Group {
	if g, ok := inv.groups[name]; ok {
		return g
	}
	g := &Group{Name: name, vars: vars.NewMap(), hostSet: map[*Host]bool{}, priority: 1}
	inv.groups[name] = g
	inv.groupList = append(inv.groupList, g)
	if !validGroupName(name) {
		inv.badNames = append(inv.badNames, name)
	}
	return g
}

// localhostNames are the names Ansible treats as the control machine.
var localhostNames = []string{"127.0.0.1", "localhost", "::1"}

func isLocalhostName(name string) bool { return slices.Contains(localhostNames, name) }

// addHost adds a host, or returns the existing one. As in Ansible, the port
// only applies when the host is new.
func (inv *Inventory) addHost(name string, port int, src string) *Host {
	if h, ok := inv.hosts[name]; ok {
		return h
	}
	h := &Host{Name: name, vars: vars.NewMap(), source: src}
	if port > 0 {
		h.vars.Set("ansible_port", int64(port))
	}
	inv.hosts[name] = h
	inv.hostList = append(inv.hostList, h)
	if isLocalhostName(name) {
		if inv.localhost == nil {
			inv.localhost = h
		} else {
			inv.warn(src, 0, fmt.Sprintf("a duplicate localhost-like entry was found (%s); the first one found was %s", name, inv.localhost.Name))
		}
	}
	return h
}

func (inv *Inventory) warn(file string, line int, msg string) {
	inv.warnings = append(inv.warnings, diag.Warning{File: file, Line: line, Msg: msg})
}

// addHost makes h a direct member of g.
func (g *Group) addHost(h *Host) {
	if g.hostSet[h] {
		return
	}
	g.hostSet[h] = true
	g.hosts = append(g.hosts, h)
	h.direct = append(h.direct, g)
}

func (g *Group) removeHost(h *Host) {
	delete(g.hostSet, h)
	g.hosts = slices.DeleteFunc(g.hosts, func(x *Host) bool { return x == h })
	h.direct = slices.DeleteFunc(h.direct, func(x *Group) bool { return x == g })
}

// addChild makes child a child group of g, refusing cycles as Ansible does.
func (g *Group) addChild(child *Group) error {
	if g == child {
		return fmt.Errorf("group %q cannot be a child of itself", g.Name)
	}
	if slices.Contains(g.children, child) {
		return nil
	}
	if g.hasAncestor(child) {
		return fmt.Errorf("adding group %q as a child of %q creates a loop: %q is already an ancestor of %q",
			child.Name, g.Name, child.Name, g.Name)
	}
	g.children = append(g.children, child)
	if !slices.ContainsFunc(child.parents, func(p *Group) bool { return p.Name == g.Name }) {
		child.parents = append(child.parents, g)
	}
	return nil
}

func (g *Group) hasAncestor(a *Group) bool {
	seen := map[*Group]bool{}
	stack := append([]*Group(nil), g.parents...)
	for len(stack) > 0 {
		p := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if p == a {
			return true
		}
		if !seen[p] {
			seen[p] = true
			stack = append(stack, p.parents...)
		}
	}
	return false
}

// ancestors returns every group above g, nearest first.
func (g *Group) ancestors() []*Group {
	var out []*Group
	seen := map[*Group]bool{}
	queue := append([]*Group(nil), g.parents...)
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if seen[p] {
			continue
		}
		seen[p] = true
		out = append(out, p)
		queue = append(queue, p.parents...)
	}
	return out
}

// reconcile applies Ansible's post-parse rules: every group descends from
// "all", hosts in no group land in "ungrouped", hosts in a real group leave
// it; then it fixes group depths and host group lists.
func (inv *Inventory) reconcile() {
	all, ungrouped := inv.groups["all"], inv.groups["ungrouped"]
	for _, g := range inv.groupList {
		if g != all && len(g.parents) == 0 {
			// Cannot loop: a group without parents is not above "all".
			_ = all.addChild(g)
		}
	}
	for _, h := range inv.hostList {
		h.groups = h.computeGroups()
		if slices.Contains(h.groups, ungrouped) {
			for _, g := range h.groups {
				if g != all && g != ungrouped {
					ungrouped.removeHost(h)
					h.groups = h.computeGroups()
					break
				}
			}
		} else if !h.implicit && (len(h.groups) == 0 || len(h.groups) == 1 && h.groups[0] == all) {
			if g := inv.groups[h.Name]; g != nil {
				// Ansible's add_child("ungrouped", name) looks the name up as
				// a group first, so a host sharing its name with a group puts
				// that group, not itself, under "ungrouped". A loop would
				// crash Ansible; fleet leaves the host where it is.
				_ = ungrouped.addChild(g)
				for _, x := range inv.hostList {
					x.groups = x.computeGroups()
				}
			} else {
				ungrouped.addHost(h)
				h.groups = h.computeGroups()
			}
		}
	}
	for _, g := range inv.groupList {
		g.depth = -1
	}
	for _, g := range inv.groupList {
		g.computeDepth()
	}
	var clash []string
	for _, h := range inv.hostList {
		if _, ok := inv.groups[h.Name]; ok {
			clash = append(clash, h.Name)
		}
	}
	sort.Strings(clash)
	for _, name := range clash {
		inv.warn("", 0, fmt.Sprintf("found both a group and a host named %q; a pattern %q selects the host only", name, name))
	}
	if len(inv.badNames) > 0 {
		inv.warn("", 0, fmt.Sprintf("group names should be valid variable names (letters, digits and _, not starting with a digit), as Ansible warns; kept as they are: %s",
			quoteList(inv.badNames)))
	}
	for _, g := range inv.groupList {
		g.allHosts = g.computeHosts(g == all)
	}
	inv.groupsVar = vars.NewMap()
	for _, g := range inv.groupList {
		names := make([]any, len(g.allHosts))
		for i, h := range g.allHosts {
			names[i] = h.Name
		}
		inv.groupsVar.Set(g.Name, names)
	}
}

// computeDepth sets the group's depth to its longest distance from "all",
// which is what Ansible's incremental bookkeeping arrives at.
func (g *Group) computeDepth() int {
	if g.depth >= 0 {
		return g.depth
	}
	g.depth = 0 // guards against cycles, which addChild already refuses
	d := 0
	for _, p := range g.parents {
		d = max(d, p.computeDepth()+1)
	}
	g.depth = d
	return d
}

// computeGroups returns the host's groups with all their ancestors.
func (h *Host) computeGroups() []*Group {
	var out []*Group
	seen := map[*Group]bool{}
	for _, g := range h.direct {
		for _, x := range append(g.ancestors(), g) {
			if !seen[x] {
				seen[x] = true
				out = append(out, x)
			}
		}
	}
	return out
}

// descendants returns g and the groups below it in Ansible's walk order: g,
// its children, then each further level in turn.
//
// Ansible walks each level from a Python set, so below the children its
// order depends on object addresses and changes from run to run. fleet takes
// the level in the order the groups were reached, which is the order Ansible
// shows whenever its own order is stable.
func (g *Group) descendants() []*Group {
	ordered := append([]*Group{g}, g.children...)
	seen := map[*Group]bool{g: true}
	level := []*Group{g}
	for _, c := range g.children {
		if !seen[c] {
			seen[c] = true
			level = append(level, c)
		}
	}
	for len(level) > 0 {
		var next []*Group
		inNext := map[*Group]bool{}
		for _, u := range level {
			for _, c := range u.children {
				if seen[c] {
					continue
				}
				ordered = append(ordered, c)
				if !inNext[c] {
					inNext[c] = true
					next = append(next, c)
				}
			}
		}
		for _, c := range next {
			seen[c] = true
		}
		level = next
	}
	return ordered
}

func (g *Group) computeHosts(isAll bool) []*Host {
	var out []*Host
	seen := map[*Host]bool{}
	for _, kid := range g.descendants() {
		for _, h := range kid.hosts {
			if seen[h] {
				continue
			}
			seen[h] = true
			if isAll && h.implicit {
				continue
			}
			out = append(out, h)
		}
	}
	return out
}

// Hosts returns every host in the group or below it, in Ansible's order.
func (g *Group) Hosts() []*Host { return g.allHosts }

// DirectHosts returns the hosts listed in the group itself.
func (g *Group) DirectHosts() []*Host { return g.hosts }

// Children returns the group's child groups in definition order.
func (g *Group) Children() []*Group { return g.children }

// Parents returns the group's parent groups.
func (g *Group) Parents() []*Group { return g.parents }

// Vars returns the variables defined on the group in the inventory source
// itself (not group_vars/ files).
func (g *Group) Vars() *vars.Map { return g.vars }

// Priority returns the group's ansible_group_priority (1 unless set).
func (g *Group) Priority() int { return g.priority }

// Depth returns the group's distance below "all".
func (g *Group) Depth() int { return g.depth }

// Groups returns the host's groups including their ancestors ("all" too).
func (h *Host) Groups() []*Group { return h.groups }

// Implicit reports whether the host is Ansible's implicit localhost, which
// no inventory defines and "all" does not match.
func (h *Host) Implicit() bool { return h.implicit }

// Source returns the inventory source that first defined the host.
func (h *Host) Source() string { return h.source }

// Groups returns all groups in the order they were defined, "all" and
// "ungrouped" first.
func (inv *Inventory) Groups() []*Group { return inv.groupList }

// Group returns the named group, or nil.
func (inv *Inventory) Group(name string) *Group { return inv.groups[name] }

// Hosts returns all hosts in the order they were defined.
func (inv *Inventory) Hosts() []*Host { return inv.hostList }

// Host returns the named host, or nil. Like Ansible, it returns an implicit
// localhost for "localhost", "127.0.0.1" and "::1" when the inventory has
// no such host.
func (inv *Inventory) Host(name string) *Host {
	if h, ok := inv.hosts[name]; ok {
		return h
	}
	if isLocalhostName(name) {
		if inv.localhost != nil {
			return inv.localhost
		}
		return newImplicitLocalhost(name)
	}
	return nil
}

// newImplicitLocalhost returns the host Ansible makes up when a pattern
// names localhost and the inventory does not define it: it runs locally.
func newImplicitLocalhost(name string) *Host {
	h := &Host{Name: name, vars: vars.NewMap(), implicit: true}
	h.vars.Set("ansible_connection", "local")
	return h
}

// Warnings returns what Load warned about, in the order found.
func (inv *Inventory) Warnings() []diag.Warning { return inv.warnings }

func quoteList(names []string) string {
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return strings.Join(quoted, ", ")
}
