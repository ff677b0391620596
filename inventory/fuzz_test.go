package inventory

import (
	"os"
	"path/filepath"
	"testing"
)

// The fuzz tests feed arbitrary bytes to the INI and YAML readers and
// arbitrary patterns to Select: whatever the input, fleet must answer with a
// result or an error, never a panic or a hang. Seeds are the conformance
// inventories plus testdata/fuzz/<name>/.

func addInventorySeeds(f *testing.F, match func(name string) bool) {
	f.Helper()
	err := filepath.WalkDir(conformanceDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !match(d.Name()) {
			return err
		}
		data, err := os.ReadFile(path)
		if err == nil {
			f.Add(data)
		}
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
}

// loadBytes loads one in-memory inventory file as Load would.
func loadBytes(name string, data []byte) (*Inventory, error) {
	inv := newInventory()
	if err := inv.loadData(name, name, data); err != nil {
		return nil, err
	}
	inv.reconcile()
	return inv, nil
}

// exercise runs what the commands run on a loaded inventory.
func exercise(t *testing.T, inv *Inventory) {
	if _, _, err := inv.ListJSON(); err != nil {
		t.Fatalf("ListJSON: %v", err)
	}
	for _, h := range inv.Hosts() {
		inv.Vars(h)
		inv.MagicVars(h)
	}
	if _, err := inv.Graph("all"); err != nil {
		t.Fatalf("Graph: %v", err)
	}
}

func FuzzINI(f *testing.F) {
	addInventorySeeds(f, func(n string) bool {
		return filepath.Ext(n) == ".ini" || filepath.Ext(n) == ".cfg" || n == "hosts" || n == "ini-inventory" || n == "02-extra"
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if inv, err := loadBytes("fuzz.ini", data); err == nil {
			exercise(t, inv)
		}
	})
}

func FuzzYAML(f *testing.F) {
	addInventorySeeds(f, func(n string) bool {
		ext := filepath.Ext(n)
		return ext == ".yml" || ext == ".yaml" || ext == ".json"
	})
	f.Fuzz(func(t *testing.T, data []byte) {
		if inv, err := loadBytes("fuzz.yml", data); err == nil {
			exercise(t, inv)
		}
	})
}

func FuzzPattern(f *testing.F) {
	for _, p := range []string{
		"all", "*", "web", "web:db", "web,db", "web:&prod:!canary", "~^web0[1-3]", "web[0]", "web[-1]",
		"web[1:3]", "web[2:]", "web[1-3]", "*.example.org", "web0[!1-8]*", "[dc]*", "!canary", "&eu",
		"localhost", "::1", "web[1:3]:db", "~(", "w[z-a]b", "web:[1:2]", "a,,b",
	} {
		f.Add(p, "")
		f.Add("all", p)
	}
	inv, err := Load(filepath.Join(conformanceDir, "07-patterns", "hosts"))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, pattern, limit string) {
		if len(limit) > 0 && limit[0] == '@' {
			limit = "" // no files from the fuzzer
		}
		SplitPattern(pattern)
		sel, err := inv.Select(Query{Patterns: []string{pattern}, Limit: limit})
		if err != nil {
			return
		}
		seen := map[*Host]bool{}
		for _, h := range sel.Hosts {
			if seen[h] {
				t.Fatalf("Select(%q, %q) returned %s twice", pattern, limit, h.Name)
			}
			seen[h] = true
		}
	})
}
