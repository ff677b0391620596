package jinja

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// oracleScript renders each case with Ansible's own code: Templar.template
// for playbook strings, the template action's environment for files,
// Conditional for when:, and the native environment for expressions.
const oracleScript = `
import sys, json
from ansible.template import Templar, AnsibleEnvironment, AnsibleNativeEnvironment
from ansible.parsing.dataloader import DataLoader
from ansible.playbook.conditional import Conditional
from ansible.errors import AnsibleUndefinedVariable
from jinja2.exceptions import UndefinedError

loader = DataLoader()
out = []
for c in json.load(sys.stdin):
    variables = loader.load(c['std'])
    variables.update(loader.load(c['extra']) or {})
    t = Templar(loader=loader, variables=variables)
    try:
        k = c['kind']
        if k == 'text':
            t2 = t.copy_with_new_env(environment_class=AnsibleEnvironment, trim_blocks=True, lstrip_blocks=False, available_variables=variables)
            r = t2.do_template(c['tmpl'], preserve_trailing_newlines=True, escape_backslashes=False)
        elif k == 'cond':
            cond = Conditional(loader=loader)
            cond.when = [c['tmpl']]
            r = cond.evaluate_conditional(t, variables)
        elif k == 'eval':
            t2 = t.copy_with_new_env(environment_class=AnsibleNativeEnvironment, available_variables=variables)
            r = t2.template('{{ ' + c['tmpl'] + ' }}')
        else:
            r = t.template(c['tmpl'])
        out.append({'ok': True, 'value': json.loads(json.dumps(r, default=repr))})
    except Exception as e:
        msg = str(e)
        und = isinstance(e, (AnsibleUndefinedVariable, UndefinedError)) or 'is undefined' in msg or 'has no attribute' in msg
        out.append({'ok': False, 'undefined': und, 'error': '%s: %s' % (type(e).__name__, msg)})
json.dump(out, sys.stdout)
`

// TestOracle checks the expected values of the case table against real
// Ansible. It needs /usr/bin/ansible's Python and runs only when asked:
//
//	FLEET_JINJA_ORACLE=1 go test ./jinja -run TestOracle -v
func TestOracle(t *testing.T) {
	if os.Getenv("FLEET_JINJA_ORACLE") != "1" {
		t.Skip("set FLEET_JINJA_ORACLE=1 to check the case table against real Ansible")
	}
	python := "/usr/bin/python3"
	if _, err := exec.LookPath("ansible"); err != nil {
		t.Fatalf("FLEET_JINJA_ORACLE=1 but ansible is not installed: %v", err)
	}
	type in struct {
		Kind  string `json:"kind"`
		Tmpl  string `json:"tmpl"`
		Std   string `json:"std"`
		Extra string `json:"extra"`
	}
	var batch []in
	var picked []tcase
	for _, tc := range cases {
		if tc.fleetOnly {
			continue
		}
		batch = append(batch, in{Kind: tc.kind, Tmpl: tc.tmpl, Std: stdVars, Extra: tc.vars})
		picked = append(picked, tc)
	}
	input, err := json.Marshal(batch)
	if err != nil {
		t.Fatal(err)
	}
	script := filepath.Join(t.TempDir(), "oracle.py")
	if err := os.WriteFile(script, []byte(oracleScript), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(python, script)
	cmd.Stdin = bytes.NewReader(input)
	cmd.Env = append(os.Environ(), "FLEET_JINJA_TEST_ENV=from-env", "ANSIBLE_NOCOLOR=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	output, err := cmd.Output()
	if err != nil {
		t.Fatalf("running the oracle: %v\n%s", err, stderr.String())
	}
	var results []struct {
		OK        bool            `json:"ok"`
		Value     json.RawMessage `json:"value"`
		Undefined bool            `json:"undefined"`
		Error     string          `json:"error"`
	}
	if err := json.Unmarshal(output, &results); err != nil {
		t.Fatalf("reading the oracle's answer: %v\n%s", err, output)
	}
	if len(results) != len(picked) {
		t.Fatalf("oracle answered %d cases, want %d", len(results), len(picked))
	}
	for i, tc := range picked {
		r := results[i]
		switch {
		case tc.err != "" && r.OK:
			t.Errorf("%v: Ansible renders %s, but the table wants an error %q", tc, r.Value, tc.err)
		case tc.err == "undefined" && !r.Undefined:
			t.Errorf("%v: Ansible fails with %s, not an undefined variable", tc, r.Error)
		case tc.err != "":
			t.Logf("%v: both fail; Ansible: %s", tc, firstLine(r.Error))
		case !r.OK:
			t.Errorf("%v: Ansible fails: %s", tc, r.Error)
		default:
			v, err := decodeJSON(string(r.Value))
			if err != nil {
				t.Errorf("%v: oracle value %s: %v", tc, r.Value, err)
				continue
			}
			if g, w := canonical(v), canonical(tc.want); g != w {
				t.Errorf("%v:\nansible %s\n  table %s", tc, g, w)
			}
		}
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
