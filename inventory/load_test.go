package inventory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"fleetrun.dev/fleet/diag"
)

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadErrors checks that bad inventories are refused with the file,
// the line, what is wrong, and a hint.
func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, file, content string
		line                int
		msg                 string
	}{
		{"unknown section type", "h.ini", "[web:child]\nh1\n", 1, `section [web:child] has unknown type "child"`},
		{"space in section", "h.ini", "[web ]\nh1\n", 1, `invalid section entry "[web ]"`},
		{"bare word after host", "h.ini", "[web]\nh1 foo\n", 2, `expected a key=value host variable, got "foo"`},
		{"unclosed quote", "h.ini", "[web]\nh1 a='x\n", 2, "no closing quotation"},
		{"vars line without =", "h.ini", "[web]\nh1\n[web:vars]\nfoo\n", 4, `expected key=value, got "foo"`},
		{"vars for undefined group", "h.ini", "[a:vars]\nx=1\n", 1, `section [a:vars] is for group "a", which is not defined`},
		{"undefined child", "h.ini", "[a:children]\nb\n", 2, `section [a:children] names group "b", which is not defined`},
		{"two words as child", "h.ini", "[a]\n[p:children]\na b\n", 3, `expected a group name, got "a b"`},
		{"trailing colon", "h.ini", "[a]\nweb:\n", 2, `invalid host pattern "web:": it ends in ':'`},
		{"bad range", "h.ini", "[a]\nweb[1:x]\n", 2, `host "web[1:x]": host range [1:x] must use numbers or single letters`},
		{"port out of range", "h.ini", "[a]\nweb:70000\n", 2, "port 70000 is out of range"},
		{"group is own child", "h.ini", "[a:children]\na\n", 2, `group "a" cannot be a child of itself`},
		{"group loop", "h.ini", "[a:children]\nb\n[b:children]\na\n", 4, "creates a loop"},
		{"yaml marker in ini", "h.ini", "[a]\n---\n", 2, "'---' is a sign this is a YAML file"},
		{"not utf-8", "h.ini", "[a]\nh\xff1\n", 2, "not valid UTF-8"},
		{"empty host", "h.ini", "[a]\n'' x=1\n", 2, "a host name is empty"},
		{"huge range", "h.ini", "[a]\nh[1:99999999]\n", 2, "expands to more than"},

		{"hosts as a list", "h.yml", "all:\n  children:\n    web:\n      hosts:\n        - a\n", 4, `"hosts" of group "web" must be a mapping, but it is a list`},
		{"unknown group key", "h.yml", "all:\n  children:\n    web:\n      host:\n        a:\n", 4, `unexpected key "host" in group "web"`},
		{"variable directly in group", "h.yml", "all:\n  children:\n    web:\n      http_port: 80\n", 4, `unexpected key "http_port" in group "web"`},
		{"group is a string", "h.yml", "all:\n  children:\n    web: a.example.com\n", 3, `group "web" is the string "a.example.com", not a group definition`},
		{"host maps to a string", "h.yml", "all:\n  hosts:\n    a: b\n", 3, `host "a" in group "all" maps to the string "b", not to variables`},
		{"numeric host name", "h.yml", "all:\n  hosts:\n    10:\n", 3, "host name 10 (a number) must be a string"},
		{"boolean group name", "h.yml", "all:\n  children:\n    yes:\n", 3, "group name true (a YAML boolean) is not a string"},
		{"yaml syntax", "h.yml", "all:\n  hosts:\n    a:\n   b: 1\n", 4, "YAML syntax error"},
		{"tab indentation", "h.yml", "all:\n\thosts:\n", 2, "YAML syntax error"},
		{"plugin config", "h.yml", "plugin: amazon.aws.aws_ec2\nregions: [eu-west-1]\n", 1, "inventory plugin amazon.aws.aws_ec2"},
		{"bad priority", "h.yml", "all:\n  children:\n    g:\n      vars:\n        ansible_group_priority: ten\n", 5, `ansible_group_priority of group "g" must be an integer`},
		{"yaml group loop", "h.yml", "all:\n  children:\n    a:\n      children:\n        a:\n", 5, `group "a" cannot be a child of itself`},
		{"two documents", "h.yml", "all:\n  hosts:\n    a:\n---\nb: 1\n", 4, "expected a single YAML document"},
		{"yaml bad range", "h.yml", "all:\n  hosts:\n    web[1:x]:\n", 3, "host range [1:x]"},
		{"bad date", "h.yml", "all:\n  vars:\n    d: 2024-13-01\n", 3, "not a valid date"},
		{"value key", "h.yml", "all:\n  vars:\n    d: =\n", 3, "a plain `=`"},
		{"unknown tag", "h.yml", "all:\n  vars:\n    d: !!binary aGVsbG8=\n", 3, "YAML tag !!binary is not supported"},
		{"merge of a scalar", "h.yml", "all:\n  vars:\n    <<: 1\n", 3, "expected a mapping or list of mappings for merging"},
		{"vault file", "h.yml", "$ANSIBLE_VAULT;1.1;AES256\n6161\n", 1, "encrypted with ansible-vault"},
		{"script", "inv.py", "#!/usr/bin/env python3\nprint('{}')\n", 1, "inventory script"},
		{"toml", "h.toml", "[all]\n", 0, "TOML inventories are not supported"},
		{"yaml that is a list", "h.yml", "- a\n- b\n", 0, "not a YAML inventory: the document is a list"},
		{"no extension, neither", "hosts", "all:\n  hosts: [a]\n[x\n", 1, "nor is it a YAML inventory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, t.TempDir(), tt.file, tt.content)
			_, err := Load(path)
			if err == nil {
				t.Fatalf("Load succeeded, want error %q", tt.msg)
			}
			var e *diag.Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v is a %T, want *diag.Error", err, err)
			}
			if !strings.Contains(e.Msg, tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
			if e.Line != tt.line {
				t.Errorf("error %q is at line %d, want %d", err, e.Line, tt.line)
			}
			if e.File != path {
				t.Errorf("error names file %q, want %q", e.File, path)
			}
			if !strings.HasPrefix(err.Error(), "inventory: "+path) {
				t.Errorf("error %q should start with %q", err, "inventory: "+path)
			}
		})
	}
}

func TestLoadMissingSource(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "nope.yml"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") || diag.Hint(err) == "" {
		t.Fatalf("Load(missing) = %v (hint %q), want a 'does not exist' error with a hint", err, diag.Hint(err))
	}
}

// TestLoadWarnings checks the warnings fleet gives where Ansible warns.
func TestLoadWarnings(t *testing.T) {
	tests := []struct {
		name, file, content string
		want                string
	}{
		{"duplicate key", "h.yml", "all:\n  hosts:\n    a:\n      x: 1\n      x: 2\n", `h.yml:5: duplicate key "x" in a mapping`},
		{"group and host share a name", "h.ini", "web\n[web]\nother\n", `found both a group and a host named "web"`},
		{"invalid group name", "h.ini", "[web-servers]\na\n", `group names should be valid variable names`},
		{"duplicate localhost", "h.ini", "localhost\n127.0.0.1\n", "a duplicate localhost-like entry was found (127.0.0.1)"},
		{"empty file", "h.yml", "\n", "the inventory file is empty"},
		{"comments only", "hosts", "# nothing yet\n", "the inventory file is empty"},
		{"ini in a yml file", "h.yml", "[web]\na\n", "read as an INI inventory"},
		{"group_vars file", "h.ini", "[a]\nh\n", "found group_vars that is not a directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := writeFile(t, dir, tt.file, tt.content)
			if tt.name == "group_vars file" {
				writeFile(t, dir, "group_vars", "x: 1\n")
			}
			inv, err := Load(path)
			if err != nil {
				t.Fatal(err)
			}
			var all []string
			for _, w := range inv.Warnings() {
				all = append(all, w.String())
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("warnings %q do not include %q", all, tt.want)
			}
		})
	}
}

func TestSelectErrors(t *testing.T) {
	dir := t.TempDir()
	inv, err := Load(writeFile(t, dir, "h.ini", "[web]\nw1\nw2\n"))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		pattern, limit, want string
	}{
		{"~web(", "", "invalid host pattern"},
		{"web[5]", "", `no hosts matched the subscripted pattern "web[5]"`},
		{"web[-3]", "", `no hosts matched the subscripted pattern "web[-3]"`},
		{"web", "@" + filepath.Join(dir, "missing.txt"), "cannot read the --limit file"},
		{"web", "@" + dir, "must name a file, not a directory"},
		{"web:&", "", "empty after its & or !"},
	}
	for _, tt := range tests {
		_, err := inv.Select(Query{Patterns: []string{tt.pattern}, Limit: tt.limit})
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Select(%q, limit %q) = %v, want error containing %q", tt.pattern, tt.limit, err, tt.want)
		}
	}
}

func TestMagicVars(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, dir, "h.ini", "[web]\nweb1.example.com\n10.0.0.1\n[db]\ndb1\n[prod:children]\nweb\n")
	inv, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	m := inv.MagicVars(inv.Host("web1.example.com"))
	check := func(key, want string) {
		t.Helper()
		v, _ := m.Get(key)
		if got := jsonOf(t, v); got != want {
			t.Errorf("%s = %s, want %s", key, got, want)
		}
	}
	check("inventory_hostname", `"web1.example.com"`)
	check("inventory_hostname_short", `"web1"`)
	check("group_names", `["prod", "web"]`)
	// "all" lists db1 first: web is below prod, a level further down.
	check("groups", `{"all": ["db1", "web1.example.com", "10.0.0.1"], "ungrouped": [], "web": ["web1.example.com", "10.0.0.1"], "db": ["db1"], "prod": ["web1.example.com", "10.0.0.1"]}`)
	abs, _ := filepath.Abs(path)
	check("inventory_file", jsonOf(t, abs))
	m = inv.MagicVars(inv.Host("10.0.0.1"))
	check("inventory_hostname_short", `"10.0.0.1"`)
}

func TestImplicitLocalhost(t *testing.T) {
	inv, err := Load("web1,web2,")
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"localhost", "127.0.0.1"} {
		sel, err := inv.Select(Query{Patterns: []string{p}})
		if err != nil || len(sel.Hosts) != 1 || sel.Hosts[0].Name != p || !sel.Hosts[0].Implicit() {
			t.Fatalf("Select(%s) = %v, %v; want the implicit localhost", p, sel, err)
		}
		if v, _ := inv.Vars(sel.Hosts[0]).Get("ansible_connection"); v != "local" {
			t.Errorf("implicit localhost has ansible_connection %v, want local", v)
		}
	}
	sel, _ := inv.Select(Query{Patterns: []string{"all"}})
	if len(sel.Hosts) != 2 {
		t.Errorf("all = %v; the implicit localhost must not be in all", sel.Hosts)
	}
}
