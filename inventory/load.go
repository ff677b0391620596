package inventory

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"fleetrun.dev/fleet/diag"
	"fleetrun.dev/fleet/vars"
)

// source is one -i argument.
type source struct {
	arg  string // as the user gave it
	path string // expanded, absolute; empty for a host list
	dir  string // where group_vars/ and host_vars/ live; empty for a host list
}

// Load reads inventory sources in order and merges them, as several -i
// options do in Ansible. A source is an inventory file (YAML, JSON or INI),
// a directory of them, or a comma-separated host list such as "web1,web2,".
// group_vars/ and host_vars/ beside each source are read too.
//
// Any problem in any source is an error naming the file and line; nothing is
// half-loaded. Warnings (where Ansible warns) are on the returned inventory.
func Load(args ...string) (*Inventory, error) {
	inv := newInventory()
	for _, arg := range args {
		if arg == "" {
			continue
		}
		if err := inv.loadSource(arg); err != nil {
			return nil, err
		}
	}
	inv.reconcile()
	if err := inv.loadVarFiles(); err != nil {
		return nil, err
	}
	return inv, nil
}

func newError(file string, line int, hint, format string, args ...any) *diag.Error {
	return &diag.Error{Pkg: "inventory", File: file, Line: line, Msg: fmt.Sprintf(format, args...), Hint: hint}
}

// inInventory marks an error from the vars decoder as this package's, so
// that it reads "inventory: FILE:LINE: ...".
func inInventory(err error) error {
	var e *diag.Error
	if errors.As(err, &e) {
		e.Pkg = "inventory"
	}
	return err
}

func (inv *Inventory) loadSource(arg string) error {
	path := expandPath(arg)
	fi, err := os.Stat(path)
	if err != nil && strings.Contains(arg, ",") {
		inv.sources = append(inv.sources, source{arg: arg})
		return inv.parseHostList(arg)
	}
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return newError(arg, 0, "check the -i path; a list of hosts needs a comma, e.g. -i 'web1,'",
				"inventory source does not exist")
		}
		return newError(arg, 0, "", "cannot read inventory source: %v", err)
	}
	src := source{arg: arg, path: path, dir: path}
	if !fi.IsDir() {
		src.dir = filepath.Dir(path)
	}
	inv.sources = append(inv.sources, src)
	if fi.IsDir() {
		return inv.loadDir(arg, path)
	}
	return inv.loadFile(arg, path)
}

// expandPath expands ~ and $VARS as Ansible's unfrackpath does, leaving
// unknown variables as they are, and makes the path absolute.
func expandPath(p string) string {
	p = os.Expand(p, func(name string) string {
		if v, ok := os.LookupEnv(name); ok {
			return v
		}
		return "${" + name + "}"
	})
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = home + p[1:]
		}
	}
	if abs, err := filepath.Abs(p); err == nil {
		return abs
	}
	return p
}

// ignoredEntry matches what Ansible skips in an inventory directory: hidden
// files, group_vars/ host_vars/ vars_plugins/, and (by default) files ending
// in these extensions. Note that .ini is among them.
var ignoredEntry = regexp.MustCompile(`^\.|^host_vars$|^group_vars$|^vars_plugins$|` +
	`(?:\.pyc|\.pyo|\.swp|\.bak|~|\.rpm|\.md|\.txt|\.rst|\.orig|\.ini|\.cfg|\.retry)$`)

func (inv *Inventory) loadDir(display, path string) error {
	entries, err := os.ReadDir(path)
	if err != nil {
		return newError(display, 0, "", "cannot read inventory directory: %v", err)
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, name := range names {
		if ignoredEntry.MatchString(name) {
			continue
		}
		full := filepath.Join(path, name)
		fi, err := os.Stat(full)
		if err != nil {
			return newError(filepath.Join(display, name), 0, "", "cannot read inventory source: %v", err)
		}
		if fi.IsDir() {
			err = inv.loadDir(filepath.Join(display, name), full)
		} else {
			err = inv.loadFile(filepath.Join(display, name), full)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

var yamlExts = []string{".yml", ".yaml", ".json"}

// loadFile picks the reader Ansible would: YAML for .yml, .yaml, .json and
// extension-less files, falling back to INI when the YAML reading finds no
// mapping of groups; INI for everything else.
func (inv *Inventory) loadFile(display, path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return newError(display, 0, "", "cannot read inventory file: %v", err)
	}
	return inv.loadData(display, path, data)
}

// loadData reads one inventory file's content; path decides the format.
func (inv *Inventory) loadData(display, path string, data []byte) error {
	if bytes.HasPrefix(bytes.TrimLeft(data, " \t\r\n"), []byte("$ANSIBLE_VAULT;")) {
		return newError(display, 1, "decrypt it with `ansible-vault decrypt`, or keep the secrets in group_vars/ and out of the inventory",
			"the inventory is encrypted with ansible-vault, which fleet cannot decrypt")
	}
	if bytes.HasPrefix(data, []byte("#!")) {
		return newError(display, 1, "run the script yourself and save its output as a YAML or JSON inventory",
			"this is an inventory script; fleet does not run inventory scripts")
	}
	ext := pyExt(path)
	if strings.ToLower(ext) == ".toml" {
		return newError(display, 0, "convert it to YAML, e.g. with `ansible-inventory -i "+display+" --list --yaml`",
			"TOML inventories are not supported")
	}
	if ext != "" && !slices.Contains(yamlExts, ext) {
		return inv.parseINI(display, path, data)
	}
	doc, warnings, yerr := vars.Decode(display, data)
	var notInventory string
	if yerr == nil {
		// parseYAMLData changes nothing when it reports notInventory, so
		// the INI reading below starts from a clean slate.
		var err error
		if notInventory, err = inv.parseYAMLData(display, path, doc); err != nil {
			return err
		}
		if notInventory == "" {
			inv.warnings = append(inv.warnings, warnings...)
			return nil
		}
	}
	if yerr == nil && !truthy(doc) {
		// Blank, comments only, or {}: Ansible ends up with nothing too.
		inv.warn(display, 0, "the inventory file is empty")
		return nil
	}
	ierr := inv.parseINI(display, path, data)
	if ierr == nil {
		if ext != "" {
			inv.warn(display, 0, "read as an INI inventory, since it is not a YAML one ("+whyNotYAML(yerr, notInventory)+")")
		}
		return nil
	}
	// Neither reading works: report the one the file name asks for.
	var e *diag.Error
	if ext == "" && errors.As(ierr, &e) {
		e.Msg += "; nor is it a YAML inventory (" + whyNotYAML(yerr, notInventory) + ")"
		return e
	}
	if yerr != nil {
		return inInventory(yerr)
	}
	return newError(display, 0, "a YAML inventory maps group names to their hosts, children and vars, starting with `all:`",
		"not a YAML inventory: %s", notInventory)
}

func whyNotYAML(yerr error, notInventory string) string {
	var e *diag.Error
	if errors.As(yerr, &e) {
		if e.Line > 0 {
			return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
		}
		return e.Msg
	}
	return notInventory
}

// pyExt returns the extension as Python's os.path.splitext does, which
// ignores leading dots: ".hosts" has none.
func pyExt(path string) string {
	base := strings.TrimLeft(filepath.Base(path), ".")
	if i := strings.LastIndex(base, "."); i >= 0 {
		return base[i:]
	}
	return ""
}

// parseHostList reads "web1,web2:2222,10.0.0.3" as Ansible's host_list
// plugin does: each name is an ungrouped host; ranges are not expanded.
func (inv *Inventory) parseHostList(list string) error {
	ungrouped := inv.groups["ungrouped"]
	for _, h := range strings.Split(list, ",") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		name, port, err := parseAddress(h, false)
		if err != nil {
			name, port = h, 0
		}
		if _, ok := inv.hosts[name]; ok {
			continue
		}
		ungrouped.addHost(inv.addHost(name, port, ""))
	}
	return nil
}

// populateHosts adds hosts to a group and sets their variables, as the
// plugins' _populate_host_vars does.
func (inv *Inventory) populateHosts(names []string, port int, hv *vars.Map, g *Group, src string, errf func(string) error) error {
	for _, name := range names {
		if name == "" {
			return errf("a host name is empty")
		}
		h := inv.addHost(name, port, src)
		if g != nil {
			g.addHost(h)
		}
		for _, k := range hv.Keys() {
			v, _ := hv.Get(k)
			_ = h.vars.SetKey(hv.OrigKey(k), hv.Line(k), v) // hv's keys are valid

		}
	}
	return nil
}

// setGroupVar sets a variable defined in an inventory source, where
// ansible_group_priority is not a variable but the group's priority. key is
// the variable's name as decoded: YAML allows numbers and booleans too.
func (inv *Inventory) setGroupVar(g *Group, key any, v any) error {
	if key != "ansible_group_priority" {
		return g.vars.SetKey(key, 0, v)
	}
	switch x := v.(type) {
	case nil, []any, *vars.Map:
		// Python's int() raises TypeError here, which Ansible ignores.
		return nil
	case bool:
		g.priority = 0
		if x {
			g.priority = 1
		}
	case int64:
		g.priority = int(x)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Errorf("ansible_group_priority of group %q must be an integer, not %v", g.Name, x)
		}
		g.priority = int(x)
	case string:
		n, err := pyInt(x)
		if err != nil {
			return fmt.Errorf("ansible_group_priority of group %q must be an integer, not %q", g.Name, x)
		}
		g.priority = n
	default:
		return fmt.Errorf("ansible_group_priority of group %q must be an integer, not %s", g.Name, describe(v))
	}
	return nil
}
