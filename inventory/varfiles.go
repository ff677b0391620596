package inventory

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// varFiles holds what group_vars/ and host_vars/ beside each source define,
// per source (in -i order) and per group or host name.
type varFiles struct {
	groups []map[string]*vars.Map
	hosts  []map[string]*vars.Map
}

// loadVarFiles reads group_vars/ and host_vars/ for every group and host, as
// Ansible's host_group_vars plugin would when variables are needed. fleet
// reads them up front, so that a broken file stops the run before it starts.
func (inv *Inventory) loadVarFiles() error {
	vf := &varFiles{}
	for _, src := range inv.sources {
		gm, hm := map[string]*vars.Map{}, map[string]*vars.Map{}
		vf.groups, vf.hosts = append(vf.groups, gm), append(vf.hosts, hm)
		if src.dir == "" {
			continue
		}
		gdir, err := inv.varsDir(src, "group_vars")
		if err != nil {
			return err
		}
		hdir, err := inv.varsDir(src, "host_vars")
		if err != nil {
			return err
		}
		for _, g := range inv.groupList {
			if err := loadEntityVars(gdir, g.Name, gm); err != nil {
				return err
			}
		}
		for _, h := range inv.hostList {
			if err := loadEntityVars(hdir, h.Name, hm); err != nil {
				return err
			}
		}
	}
	inv.varFiles = vf
	return nil
}

// varsDir is one group_vars/ or host_vars/ directory and its listing.
type varsDir struct {
	path    string // resolved path
	display string // as shown in messages
	entries map[string]bool
}

func (inv *Inventory) varsDir(src source, sub string) (*varsDir, error) {
	path := filepath.Join(src.dir, sub)
	display := filepath.Join(displayDir(src), sub)
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, newError(display, 0, "", "cannot read: %v", err)
	}
	if !fi.IsDir() {
		inv.warn(display, 0, "found "+sub+" that is not a directory; skipping it")
		return nil, nil
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	list, err := os.ReadDir(path)
	if err != nil {
		return nil, newError(display, 0, "", "cannot read: %v", err)
	}
	d := &varsDir{path: path, display: display, entries: map[string]bool{}}
	for _, e := range list {
		d.entries[e.Name()] = true
	}
	return d, nil
}

func displayDir(src source) string {
	if src.dir == src.path {
		return src.arg
	}
	return filepath.Dir(src.arg)
}

// loadEntityVars reads the variables for one group or host name: the first
// of NAME, NAME.yml, NAME.yaml, NAME.json that exists, and if that is a
// directory, every file in it (recursively, sorted).
func loadEntityVars(d *varsDir, name string, into map[string]*vars.Map) error {
	// Ansible skips names that are absolute paths ("chroot" hosts).
	if d == nil || strings.HasPrefix(name, "/") {
		return nil
	}
	for _, ext := range append([]string{""}, yamlExts...) {
		candidate := name + ext
		if !strings.Contains(candidate, "/") && !d.entries[candidate] {
			continue
		}
		full := filepath.Join(d.path, candidate)
		fi, err := os.Stat(full)
		if err != nil {
			continue
		}
		files := []string{full}
		if fi.IsDir() {
			if files, err = varsDirFiles(full); err != nil {
				return newError(filepath.Join(d.display, candidate), 0, "", "cannot read: %v", err)
			}
		}
		var merged *vars.Map
		for _, f := range files {
			rel, _ := filepath.Rel(d.path, f)
			m, err := loadVarsFile(f, filepath.Join(d.display, rel))
			if err != nil {
				return err
			}
			if m != nil {
				merged = vars.Combine(merged, m)
			}
		}
		if merged != nil {
			into[name] = merged
		}
		return nil
	}
	return nil
}

// varsDirFiles lists a vars directory as Ansible does: sorted, skipping
// hidden and backup (~) files, descending into subdirectories that have no
// extension, and taking files with no extension or a YAML/JSON one.
func varsDirFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, ".") || strings.HasSuffix(n, "~") {
			continue
		}
		full := filepath.Join(dir, n)
		fi, err := os.Stat(full)
		if err != nil {
			continue
		}
		ext := pyExt(n)
		switch {
		case fi.IsDir() && ext == "":
			sub, err := varsDirFiles(full)
			if err != nil {
				return nil, err
			}
			out = append(out, sub...)
		case fi.Mode().IsRegular() && (ext == "" || slices.Contains(yamlExts, ext)):
			out = append(out, full)
		}
	}
	return out, nil
}

// loadVarsFile decodes one variables file. An empty file defines nothing; a
// file that is not a mapping is an error, as combine_vars makes it one.
func loadVarsFile(path, display string) (*vars.Map, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, newError(display, 0, "", "cannot read: %v", err)
	}
	v, _, err := vars.Decode(display, data)
	if err != nil {
		return nil, inInventory(err)
	}
	if !truthy(v) {
		return nil, nil
	}
	m, ok := v.(*vars.Map)
	if !ok {
		return nil, newError(display, 0, "a variables file maps names to values, e.g. `http_port: 80`",
			"variables file holds %s, not a mapping of variables", describe(v))
	}
	return m, nil
}

// sortGroups orders groups as Ansible merges their variables: by depth,
// then ansible_group_priority, then name; later groups win.
func sortGroups(groups []*Group) []*Group {
	out := append([]*Group(nil), groups...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.depth != b.depth {
			return a.depth < b.depth
		}
		if a.priority != b.priority {
			return a.priority < b.priority
		}
		return a.Name < b.Name
	})
	return out
}

// Vars returns the host's variables from the inventory, merged in Ansible's
// order of precedence (later wins):
//
//  1. the "all" group's vars in the inventory source
//  2. other groups' vars in the source, sorted by depth, priority, name
//  3. group_vars/all
//  4. group_vars/GROUP, in the same order
//  5. the host's vars in the source
//  6. host_vars/HOST
//
// Each of 3, 4 and 6 goes through the -i sources in order. Magic variables
// (inventory_hostname, groups, ...) are not included; see MagicVars.
func (inv *Inventory) Vars(h *Host) *vars.Map {
	all := inv.groups["all"]
	var others []*Group
	for _, g := range h.groups {
		if g != all {
			others = append(others, g)
		}
	}
	others = sortGroups(others)
	res := all.vars.Clone()
	for _, g := range others {
		res = vars.Combine(res, g.vars)
	}
	if vf := inv.varFiles; vf != nil {
		for _, gm := range vf.groups {
			res = vars.Combine(res, gm["all"])
		}
		for _, gm := range vf.groups {
			for _, g := range others {
				res = vars.Combine(res, gm[g.Name])
			}
		}
	}
	res = vars.Combine(res, h.vars)
	if vf := inv.varFiles; vf != nil {
		for _, hm := range vf.hosts {
			res = vars.Combine(res, hm[h.Name])
		}
	}
	return res
}

// internalVars are the names ansible-inventory leaves out of its output.
var internalVars = []string{
	"ansible_diff_mode", "ansible_config_file", "ansible_facts", "ansible_forks",
	"ansible_inventory_sources", "ansible_limit", "ansible_playbook_python",
	"ansible_run_tags", "ansible_skip_tags", "ansible_verbosity", "ansible_version",
	"inventory_dir", "inventory_file", "inventory_hostname", "inventory_hostname_short",
	"groups", "group_names", "omit", "playbook_dir",
}

// exportVars returns the variables ansible-inventory shows for a host.
func (inv *Inventory) exportVars(h *Host) *vars.Map {
	v := inv.Vars(h)
	for _, name := range internalVars {
		v.Delete(name)
	}
	return v
}

// MagicVars returns the variables Ansible defines for every host from the
// inventory itself: inventory_hostname, inventory_hostname_short,
// group_names, groups, inventory_file and inventory_dir. The "groups" value
// is shared by all hosts and must not be modified.
func (inv *Inventory) MagicVars(h *Host) *vars.Map {
	m := vars.NewMap()
	m.Set("inventory_hostname", h.Name)
	short := h.Name
	if !isIPAddress(h.Name) {
		short, _, _ = strings.Cut(h.Name, ".")
	}
	m.Set("inventory_hostname_short", short)
	var names []string
	for _, g := range h.groups {
		if g.Name != "all" {
			names = append(names, g.Name)
		}
	}
	sort.Strings(names)
	gn := make([]any, len(names))
	for i, n := range names {
		gn[i] = n
	}
	m.Set("group_names", gn)
	m.Set("groups", inv.groupsVar)
	if h.source != "" {
		m.Set("inventory_file", h.source)
		m.Set("inventory_dir", filepath.Dir(h.source))
	} else {
		m.Set("inventory_file", nil)
		m.Set("inventory_dir", nil)
	}
	return m
}

// String returns the host's name.
func (h *Host) String() string { return h.Name }
