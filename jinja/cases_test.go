package jinja

// The table of template cases. Every expected value was checked against
// real Ansible 2.14 (ansible-core 2.14.18, Jinja2 3.1.2): TestOracle runs
// the whole table through Ansible's own Templar, Conditional and template
// action code and compares, when FLEET_JINJA_ORACLE=1:
//
//	FLEET_JINJA_ORACLE=1 go test ./jinja -run TestOracle
//
// which is the same as checking each case by hand with, for example,
//
//	ansible localhost -m debug -a 'msg={{ [3, 1, 2] | sort }}'
//
// Cases marked fleetOnly are not sent to Ansible, because fleet deliberately
// differs (a clearer error) or Ansible cannot express them (hostvars).

// stdVars are the variables every case sees, as YAML (decoded by
// vars.Decode here and by Ansible's DataLoader in the oracle).
const stdVars = `
n: 5
neg: -3
f: 1.5
s: Hello World
word: hello
csv: "a,b,,c"
l: [b, a, c]
mixed: [B, a, C]
nums: [3, 1, 2]
nested: [[1, 2], [3, [4, 5]], null, 6]
d: {b: 2, a: 1}
empty: []
emptys: ""
t: true
nothing: null
users:
  - {name: bob, age: 30, active: true, groups: [wheel, dev]}
  - {name: Alice, age: 25, active: false, groups: [dev]}
  - {name: carol, age: 35, active: true, groups: []}
result: {rc: 0, stdout: ok, stdout_lines: [ok], changed: true, failed: false}
failed_result: {rc: 1, failed: true, changed: false, msg: boom}
skipped_result: {skipped: true, changed: false}
loop_result: {results: [{changed: false}, {changed: true}]}
a: "{{ b }}-x"
b: 1
chain1: "{{ chain2 }}"
chain2: "{{ chain3 | upper }}"
chain3: deep
selfref: "{{ selfref }}"
cyc1: "{{ cyc2 }}"
cyc2: "{{ cyc1 }}"
uses_undef: "{{ nope }}"
nested_tmpl: {k: "{{ b + 1 }}", list: ["{{ s }}", plain]}
big: 12345678901234567890
path: /etc/nginx/nginx.conf
version: "2.14.1"
json_text: '{"a": [1, 2], "b": null}'
yaml_text: "a: 1\nb: [x, y]\n"
unsafe_v: !unsafe "{{ not_rendered }}"
tree:
  - name: a
    children: [{name: a1, children: []}, {name: a2, children: [{name: a2x, children: []}]}]
  - name: b
    children: []
`

type tcase struct {
	kind      string // "" (Render), "text" (RenderText), "cond" (Cond), "eval" (Eval)
	tmpl      string
	vars      string // YAML merged over stdVars
	want      any    // plain value; for text a string, for cond a bool
	err       string // substring of the error; "undefined" wants an *UndefinedError
	fleetOnly bool   // not checked against Ansible (see above)
}

var cases = []tcase{
	// Rendering and native types (Templar.template).
	{tmpl: "{{ n }}", want: 5},
	{tmpl: "{{ n }}\n", want: 5},
	{tmpl: "{{ n + 1 }}", want: "6"},
	{tmpl: "{{ l }}", want: []any{"b", "a", "c"}},
	{tmpl: "{{ d }}", want: map[string]any{"b": 2, "a": 1}},
	{tmpl: "x {{ l }}", want: "x ['b', 'a', 'c']"},
	{tmpl: "{{ t }}", want: true},
	{tmpl: "{{ nothing }}", want: nil},
	{tmpl: "{{ None }}", want: ""},
	{tmpl: "{{ f }}", want: 1.5},
	{tmpl: "{{ f * 2 }}", want: "3.0"},
	{tmpl: "{{ 'True' }}", want: true},
	{tmpl: "{{ s }}", want: "Hello World"},
	{tmpl: "{{ big }}", want: bigNum("12345678901234567890")},
	{tmpl: "{{ big + 1 }}", want: "12345678901234567891"},
	{tmpl: "[{{ n }}, {{ b }}]", want: []any{5, 1}},
	{tmpl: "{{ l }}\n", want: []any{"b", "a", "c"}},
	{tmpl: "{{ s }}\n\n", want: "Hello World\n\n"},
	{tmpl: "no template", want: "no template"},
	{tmpl: "x{{ {'z': 1, 'a': 2} }}", want: "x{'z': 1, 'a': 2}"},
	{tmpl: "x{{ [1.0, 0.1, 1e20, 1e-5, -0.0] }}", want: "x[1.0, 0.1, 1e+20, 1e-05, -0.0]"},
	{tmpl: `x{{ ["it's", 'say "hi"', none, true] }}`, want: `x["it's", 'say "hi"', None, True]`},
	{tmpl: "x{{ (1, 'a') }} {{ (1,) }}", want: "x(1, 'a') (1,)"},
	{tmpl: "{{ 'héllo' | upper }} {{ 'héllo' | length }}", want: "HÉLLO 5"},
	{tmpl: "{{ d | to_json }}", want: `{"b": 2, "a": 1}`},
	{tmpl: "{{ d | to_json }} ", want: map[string]any{"b": 2, "a": 1}},
	{tmpl: "{{ strlist }}", vars: `strlist: "[1, 'two']"`, want: []any{1, "two"}},
	{tmpl: "{{ j }}", vars: "j: \"{{ {'k': 1} | to_nice_json }}\"", want: "{\n    \"k\": 1\n}"},

	// Lazy, recursive templating of variables.
	{tmpl: "{{ a }}", want: "1-x"},
	{tmpl: "{{ chain1 }}", want: "DEEP"},
	{tmpl: "{{ nested_tmpl }}", want: map[string]any{"k": "2", "list": []any{"Hello World", "plain"}}},
	{tmpl: "{{ nested_tmpl.k }}", want: "2"},
	{tmpl: "{{ selfref }}", err: "recursive loop detected"},
	{tmpl: "{{ cyc1 }}", err: "recursive loop detected"},
	{tmpl: "{{ uses_undef }}", err: "undefined"},
	{tmpl: "{{ uses_undef is defined }}", want: false},
	{tmpl: "{{ uses_undef | default('dd') }}", want: "dd"},
	{tmpl: "{{ unsafe_v }}", want: "{{ not_rendered }}"},
	{tmpl: "{{ part.x }}", vars: "part: {x: 1, y: '{{ nope }}'}", err: "undefined"},
	{tmpl: "{{ part is defined }} {{ part.x | default('d') }}", vars: "part: {x: 1, y: '{{ nope }}'}", want: "False d"},
	{tmpl: "{{ bad is defined }}", vars: "bad: '{{ 1 + [] }}'", err: "unsupported operand"},
	{tmpl: "{{ [ok, ok] }}", vars: "ok: '{{ [1] }}'", want: []any{[]any{1}, []any{1}}},
	{tmpl: "{{ lookup('vars', 'a') }}", want: "1-x"},
	{tmpl: "{{ vars['a'] }}", want: "{{ b }}-x", fleetOnly: true}, // as ansible-playbook prints it; Templar alone has no vars
	{tmpl: "{{ omit }}", want: Omit, fleetOnly: true},
	{tmpl: "{{ nope | default(omit) }}", want: Omit, fleetOnly: true},

	// Undefined variables.
	{tmpl: "{{ nope }}", err: "undefined"},
	{tmpl: "{{ d.missing }}", err: "undefined"},
	{tmpl: "{{ d.missing is defined }}", want: false},
	{tmpl: "{{ nope.attr is defined }}", want: false},
	{tmpl: "{{ nope.attr | default(7) }}", want: "7"},
	{tmpl: "{{ nope | mandatory }}", err: "Mandatory variable 'nope'  not defined."},
	{tmpl: "{{ nope | mandatory('custom msg') }}", err: "custom msg"},
	{tmpl: "{{ n | mandatory }}", want: "5"},
	{tmpl: "{{ nope is undefined }}", want: true},
	{tmpl: "{{ nope == 1 }}", err: "undefined"},
	{tmpl: "{{ nope ~ 'x' }}", err: "undefined"},
	{tmpl: "{{ [nope] }}", err: "undefined"},
	{tmpl: "{{ d['missing'] | default('m') }}", want: "m"},
	{tmpl: "{{ l[10] | default('oob') }}", want: "oob"},
	{tmpl: "{{ emptys | default('e', true) }}", want: "e"},
	{tmpl: "{{ emptys | d('e') }}", want: ""},
	{tmpl: "{{ nothing | default('x') }}", want: ""},
	{tmpl: "{% if nope %}x{% endif %}", err: "undefined"},
	{tmpl: "{{ nope | upper }}", err: "undefined"},
	{tmpl: "{{ nope.a.b }}", err: "undefined"},

	// Conditionals (when:, Conditional.evaluate_conditional).
	{kind: "cond", tmpl: "n > 3", want: true},
	{kind: "cond", tmpl: "n > 3 and s is defined", want: true},
	{kind: "cond", tmpl: "result.rc == 0", want: true},
	{kind: "cond", tmpl: "result is succeeded", want: true},
	{kind: "cond", tmpl: "result is success", want: true},
	{kind: "cond", tmpl: "result is changed", want: true},
	{kind: "cond", tmpl: "result is failed", want: false},
	{kind: "cond", tmpl: "failed_result is failed", want: true},
	{kind: "cond", tmpl: "failed_result is failure", want: true},
	{kind: "cond", tmpl: "skipped_result is skipped", want: true},
	{kind: "cond", tmpl: "loop_result is changed", want: true},
	{kind: "cond", tmpl: "d is failed", want: false},
	{kind: "cond", tmpl: "nope is defined", want: false},
	{kind: "cond", tmpl: "nope is not defined", want: true},
	{kind: "cond", tmpl: "nope", err: "undefined"},
	{kind: "cond", tmpl: "nope.x is defined", want: false},
	{kind: "cond", tmpl: "'a' in l", want: true},
	{kind: "cond", tmpl: "'z' not in l", want: true},
	{kind: "cond", tmpl: "not t", want: false},
	{kind: "cond", tmpl: "{{ t }}", want: true},
	{kind: "cond", tmpl: "", want: true},
	{kind: "cond", tmpl: "n | int > 4", want: true},
	{kind: "cond", tmpl: "l | length == 3", want: true},
	{kind: "cond", tmpl: "emptys", want: false},
	{kind: "cond", tmpl: "empty", want: false},
	{kind: "cond", tmpl: "n is number and n is integer and f is float and s is string", want: true},
	{kind: "cond", tmpl: "d is mapping and l is sequence and l is iterable and t is boolean", want: true},
	{kind: "cond", tmpl: "nothing is none and s is sequence and l is not string", want: true},
	{kind: "cond", tmpl: "n is odd and not n is even and n is divisibleby 5", want: true},
	{kind: "cond", tmpl: "word is lower and not s is lower and 'ABC' is upper", want: true},
	{kind: "cond", tmpl: "t is true and not t is false", want: true},
	{kind: "cond", tmpl: "s is match('Hel')", want: true},
	{kind: "cond", tmpl: "s is match('World')", want: false},
	{kind: "cond", tmpl: "s is search('World')", want: true},
	{kind: "cond", tmpl: "s is regex('w.rld', ignorecase=true)", want: true},
	{kind: "cond", tmpl: "version is version('2.10', '>=')", want: true},
	{kind: "cond", tmpl: "version is version('2.9', '<')", want: false},
	{kind: "cond", tmpl: "version is version_compare('2.14.1', '==')", want: true},
	{kind: "cond", tmpl: "'1.2.3' is version('1.2.3-beta', '>', version_type='semver')", want: true},
	{kind: "cond", tmpl: "'1.10' is version('1.9', 'gt', strict=true)", want: true},
	{kind: "cond", tmpl: "'1.0a1' is version('1.0', '<', strict=true)", want: true},
	{kind: "cond", tmpl: "[1, 2] is subset([1, 2, 3]) and [1, 2, 3] is superset([2])", want: true},
	{kind: "cond", tmpl: "l is contains('a')", want: true},
	{kind: "cond", tmpl: "[0, 1] is any and not [0, 1] is all", want: true},
	{kind: "cond", tmpl: "'yes' is truthy(convert_bool=True)", want: true},
	{kind: "cond", tmpl: "'no' is falsy(convert_bool=True) and 'no' is truthy", want: true},
	{kind: "cond", tmpl: "n is eq 5 and n is ge 5 and n is lt 6 and n is ne 4 and n is gt 4 and n is le 5", want: true},
	{kind: "cond", tmpl: "n is equalto 5 and n is greaterthan 4 and n is lessthan 6", want: true},
	{kind: "cond", tmpl: "n is in [5, 6]", want: true},
	{kind: "cond", tmpl: "'upper' is filter and 'defined' is test", want: true},
	{kind: "cond", tmpl: "t if n > 10 else not t", err: "syntax error"},
	{kind: "cond", tmpl: "(t if n > 10 else not t)", want: false},
	{kind: "text", tmpl: "{% if t if n else f %}x{% endif %}", err: "syntax error"},
	{kind: "cond", tmpl: "(n > 3 or nope) and t", want: true},
	{kind: "cond", tmpl: "1 < n < 10", want: true},
	{kind: "cond", tmpl: "inventory_hostname is defined", want: false},
	{kind: "cond", tmpl: "nope == 1 or nope is undefined", want: true},
	{kind: "cond", tmpl: "nope == 1 or nope is not defined", want: true},
	{kind: "cond", tmpl: "nope == 1 and nope is defined", want: false},
	{kind: "cond", tmpl: "nope == 1 or other is undefined", err: "undefined"},

	// Selecting with tests.
	{tmpl: "{{ nums | select('>', 1) | list }}", want: []any{3, 2}},
	{tmpl: "{{ l | select('equalto', 'a') | list }}", want: []any{"a"}},
	{tmpl: "{{ users | selectattr('active') | map(attribute='name') | list }}", want: []any{"bob", "carol"}},
	{tmpl: "{{ users | rejectattr('active') | map(attribute='name') | list }}", want: []any{"Alice"}},
	{tmpl: "{{ users | selectattr('age', '>', 26) | map(attribute='name') | join(',') }}", want: "bob,carol"},
	{tmpl: "{{ users | selectattr('name', 'match', '^[a-z]') | list | length }}", want: "2"},
	{tmpl: "{{ nums | reject('odd') | list }}", want: []any{2}},
	{tmpl: "{{ [0, 1, '', 'x'] | select | list }}", want: []any{1, "x"}},
	{tmpl: "{{ users | selectattr('groups', 'contains', 'dev') | map(attribute='name') | list }}", want: []any{"bob", "Alice"}},

	// Type filters.
	{tmpl: "{{ 'yes' | bool }} {{ 'no' | bool }} {{ 1 | bool }} {{ 'True' | bool }} {{ 0 | bool }} {{ 'on' | bool }}", want: "True False True True False True"},
	{tmpl: "{{ nothing | bool }}", want: ""},
	{tmpl: "{{ '42' | int }} {{ '42.7' | int }} {{ 'x' | int }} {{ 'x' | int(7) }} {{ 3.9 | int }} {{ ' 12 ' | int }} {{ '1_000' | int }}", want: "42 42 0 7 3 12 1000"},
	{tmpl: "{{ '0x1A' | int(base=16) }} {{ '1A' | int(base=16) }} {{ '0b101' | int(0, 2) }} {{ true | int }} {{ none | int }}", want: "26 26 5 1 0"},
	{tmpl: "{{ '1.5' | float }} {{ 'x' | float }} {{ n | float }} {{ '1e3' | float }} {{ 'x' | float(2.5) }}", want: "1.5 0.0 5.0 1000.0 2.5"},
	{tmpl: "{{ n | string }}", want: "5"},
	{tmpl: "{{ l | string }}", want: "['b', 'a', 'c']"},
	{tmpl: "{{ t | string }}", want: "True"},
	{tmpl: "{{ neg | abs }} {{ -1.5 | abs }}", want: "3 1.5"},
	{tmpl: "{{ 2.5 | round }} {{ 3.5 | round }} {{ 2.675 | round(2) }} {{ 42.55 | round(1, 'floor') }} {{ 42.1 | round(0, 'ceil') }} {{ n | round }} {{ -2.5 | round }}", want: "2.0 4.0 2.67 42.5 43.0 5 -2.0"},
	{tmpl: "{{ n | type_debug }} {{ 'x' | type_debug }} {{ l | type_debug }} {{ d | type_debug }} {{ f | type_debug }} {{ t | type_debug }} {{ nothing | type_debug }}", want: "int str list dict float bool NoneType"},

	// String filters.
	{tmpl: "{{ s | lower }}|{{ s | upper }}|{{ 'hELLO wORLD' | capitalize }}|{{ 'hello-world foo(bar) x_y' | title }}", want: "hello world|HELLO WORLD|Hello world|Hello-World Foo(Bar) X_y"},
	{tmpl: "[{{ '  x  ' | trim }}] [{{ 'xxhixx' | trim('x') }}]", want: "[x] [hi]"},
	{tmpl: "{{ s | replace('o', '0') }} {{ 'aaa' | replace('a', 'b', 2) }}", want: "Hell0 W0rld bba"},
	{tmpl: "{{ l | join }} {{ nums | join('-') }} {{ users | join(', ', attribute='name') }}", want: "bac 3-1-2 bob, Alice, carol"},
	{tmpl: "{{ csv | split(',') }}", want: []any{"a", "b", "", "c"}},
	{tmpl: "{{ 'a b  c' | split }}", want: []any{"a", "b", "c"}},
	{tmpl: "{{ csv.split(',', 1) }}", want: []any{"a", "b,,c"}},
	{tmpl: "{{ path | basename }} {{ path | dirname }} [{{ '/a/b/' | dirname }}] [{{ 'file' | dirname }}] [{{ '/' | dirname }}]", want: "nginx.conf /etc/nginx [/a/b] [] [/]"},
	{tmpl: `{{ "it's here" | quote }} {{ 'safe-name.txt' | quote }} {{ '' | quote }}`, want: `'it'"'"'s here' safe-name.txt ''`},
	{tmpl: "{{ 'hello' | b64encode }} {{ 'aGVsbG8=' | b64decode }} {{ 'héllo' | b64encode }}", want: "aGVsbG8= hello aMOpbGxv"},
	{tmpl: "{{ 'abc' | hash('sha1') }} {{ 'abc' | hash('md5') }} {{ 'abc' | hash }}", want: "a9993e364706816aba3e25717850c26c9cd0d89d 900150983cd24fb0d6963f7d28e17f72 a9993e364706816aba3e25717850c26c9cd0d89d"},
	{tmpl: "{{ 'abc' | hash('sha256') }}", want: "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
	{tmpl: "{{ 'abc' | md5 }} {{ 'abc' | sha1 }} {{ 'abc' | checksum }}", want: "900150983cd24fb0d6963f7d28e17f72 a9993e364706816aba3e25717850c26c9cd0d89d a9993e364706816aba3e25717850c26c9cd0d89d"},
	{tmpl: "{{ 'host1' | to_uuid }}", want: "7590dc85-6b79-5d0a-b4fc-5a7f0e7910a6"},
	{tmpl: `{{ 'abc123' | regex_replace('[0-9]+', '#') }} {{ 'a-b' | regex_replace('(\w)-(\w)', '\2-\1') }} {{ 'ABC' | regex_replace('b', 'x', ignorecase=true) }}`, want: "abc# b-a AxC"},
	{tmpl: `{{ 'k=v' | regex_replace('(?P<k>\w+)=(?P<v>\w+)', '\g<v>=\g<k>') }} {{ 'a.b' | regex_replace('\.', '$') }}`, want: "v=k a$b"},
	{tmpl: `{{ 'x1\nx2' | regex_replace('^x', 'y', multiline=true) }}`, want: `y1\nx2`},
	{tmpl: "{{ 'x1\nx2' | regex_replace('^x', 'y', multiline=true) }}", want: "y1\ny2"},
	{tmpl: `{{ s | regex_search('W\w+') }}`, want: "World"},
	{tmpl: `{{ s | regex_search('(\w+) (\w+)', '\2', '\1') }}`, want: []any{"World", "Hello"}},
	{tmpl: `{{ s | regex_search('(?P<first>\w+)', '\g<first>') }}`, want: []any{"Hello"}},
	{tmpl: `[{{ s | regex_search('zzz') }}]`, want: []any{}},
	{tmpl: `{{ 'a1b22c333' | regex_findall('\d+') }}`, want: []any{"1", "22", "333"}},
	{tmpl: `{{ 'k1=v1 k2=v2' | regex_findall('(\w+)=(\w+)') }}`, want: []any{[]any{"k1", "v1"}, []any{"k2", "v2"}}},
	{tmpl: `{{ 'a.b*c d' | regex_escape }}`, want: `a\.b\*c\ d`},
	{tmpl: "{{ 'abc' | regex_replace('(?<=a)b', 'x') }}", err: "lookbehind", fleetOnly: true},
	{tmpl: "{{ t | ternary('y', 'n') }} {{ nothing | ternary('y', 'n', 'none') }} {{ 0 | ternary('y', 'n') }}", want: "y none n"},
	{tmpl: "[{{ 'ab' | center(6) }}] {{ 'one two three' | wordcount }}", want: "[  ab  ] 3"},
	{tmpl: "{{ 'foo bar baz qux' | truncate(9) }}|{{ 'foo bar baz qux' | truncate(9, True) }}|{{ 'foo bar baz qux' | truncate(11) }}", want: "foo...|foo ba...|foo bar baz qux"},
	{tmpl: "{{ '%s-%s' | format('a', n) }}", want: "a-5"},
	{tmpl: "{{ '<a & b>' | e }}", want: "&lt;a &amp; b&gt;"},
	{tmpl: "{{ 'a.tar.gz' | splitext }} {{ '/x/.bashrc' | splitext }}", want: "('a.tar', '.gz') ('/x/.bashrc', '')"},
	{tmpl: "{{ ['/etc', 'nginx', 'a.conf'] | path_join }} {{ ['a', '/b', 'c'] | path_join }}", want: "/etc/nginx/a.conf /b/c"},

	// List and dict filters.
	{tmpl: "{{ l | length }} {{ s | count }} {{ d | length }}", want: "3 11 2"},
	{tmpl: "{{ l | first }} {{ l | last }} {{ s | first }} {{ empty | first | default('none') }}", want: "b c H none"},
	{tmpl: "{{ 'abc' | list }}", want: []any{"a", "b", "c"}},
	{tmpl: "{{ d | list }}", want: []any{"b", "a"}},
	{tmpl: "{{ [1, 2, 1, 3] | unique }}", want: []any{1, 2, 3}},
	{tmpl: "{{ ['a', 'A', 'b'] | unique }}", want: []any{"a", "b"}},
	{tmpl: "{{ ['a', 'A'] | unique(case_sensitive=true) }}", want: []any{"a", "A"}},
	{tmpl: "{{ [{'a': 1}, {'a': 1}, {'a': 2}] | unique }}", want: []any{map[string]any{"a": 1}, map[string]any{"a": 2}}},
	{tmpl: "{{ users | unique(attribute='active') | map(attribute='name') | list }}", want: []any{"bob", "Alice"}},
	{tmpl: "{{ l | sort }}", want: []any{"a", "b", "c"}},
	{tmpl: "{{ mixed | sort }}", want: []any{"a", "B", "C"}},
	{tmpl: "{{ mixed | sort(case_sensitive=true) }}", want: []any{"B", "C", "a"}},
	{tmpl: "{{ nums | sort(reverse=true) }}", want: []any{3, 2, 1}},
	{tmpl: "{{ users | sort(attribute='age') | map(attribute='name') | list }}", want: []any{"Alice", "bob", "carol"}},
	{tmpl: "{{ users | sort(attribute='name') | map(attribute='name') | list }}", want: []any{"Alice", "bob", "carol"}},
	{tmpl: "{{ users | sort(attribute='active,age') | map(attribute='name') | list }}", want: []any{"Alice", "bob", "carol"}},
	{tmpl: "{{ [1, 'a'] | sort }}", err: "not supported between instances"},
	{tmpl: "{{ l | reverse | list }} {{ 'abc' | reverse }}", want: "['c', 'a', 'b'] cba"},
	{tmpl: "{{ nums | min }} {{ nums | max }} {{ mixed | min }} {{ mixed | max }}", want: "1 3 a C"},
	{tmpl: "{{ users | max(attribute='age') }}", want: map[string]any{"name": "carol", "age": 35, "active": true, "groups": []any{}}},
	{tmpl: "{{ nums | sum }} {{ users | sum(attribute='age') }}", want: "6 90"},
	{tmpl: "{{ [[1], [2]] | sum(start=[]) }}", want: []any{1, 2}},
	{tmpl: "{{ l | map('upper') | list }}", want: []any{"B", "A", "C"}},
	{tmpl: "{{ users | map(attribute='name') | list }}", want: []any{"bob", "Alice", "carol"}},
	{tmpl: "{{ users | map(attribute='missing', default='x') | list }}", want: []any{"x", "x", "x"}},
	{tmpl: "{{ ['1', '2'] | map('int') | list }}", want: []any{1, 2}},
	{tmpl: "{{ l | map('regex_replace', '^', 'p-') | list }}", want: []any{"p-b", "p-a", "p-c"}},
	{tmpl: "{{ users | map(attribute='groups.0') | list }}", err: "undefined"},
	{tmpl: "{{ d | dict2items }}", want: []any{map[string]any{"key": "b", "value": 2}, map[string]any{"key": "a", "value": 1}}},
	{tmpl: "{{ d | dict2items(key_name='k', value_name='v') }}", want: []any{map[string]any{"k": "b", "v": 2}, map[string]any{"k": "a", "v": 1}}},
	{tmpl: "{{ [{'key': 'x', 'value': 1}] | items2dict }}", want: map[string]any{"x": 1}},
	{tmpl: "{{ users | items2dict(key_name='name', value_name='age') }}", want: map[string]any{"bob": 30, "Alice": 25, "carol": 35}},
	{tmpl: "{{ l | dict2items }}", err: "dict2items requires a dictionary"},
	{tmpl: "x{{ d | combine({'c': 3}) }}", want: "x{'b': 2, 'a': 1, 'c': 3}"},
	{tmpl: "{{ {'a': {'x': 1, 'y': [1]}} | combine({'a': {'y': [2], 'z': 3}}, recursive=true) }}", want: map[string]any{"a": map[string]any{"x": 1, "y": []any{2}, "z": 3}}},
	{tmpl: "{{ {'a': {'y': [1]}} | combine({'a': {'y': [2]}}, recursive=true, list_merge='append') }}", want: map[string]any{"a": map[string]any{"y": []any{1, 2}}}},
	{tmpl: "{{ {'a': {'x': 1}} | combine({'a': {'z': 3}}) }}", want: map[string]any{"a": map[string]any{"z": 3}}},
	{tmpl: "{{ [{'a': 1}, {'b': 2}] | combine }}", want: map[string]any{"a": 1, "b": 2}},
	{tmpl: "{{ {'a': 1} | combine({'b': 2}, {'a': 3}) }}", want: map[string]any{"a": 3, "b": 2}},
	{tmpl: "{{ nested | flatten }}", want: []any{1, 2, 3, 4, 5, 6}},
	{tmpl: "{{ nested | flatten(levels=1) }}", want: []any{1, 2, 3, []any{4, 5}, 6}},
	{tmpl: "{{ [1, none, 'None', [2]] | flatten }}", want: []any{1, 2}},
	{tmpl: "{{ [1, 2, 3, 2] | difference([2]) }}", want: []any{1, 3}},
	{tmpl: "{{ [1, 2] | union([2, 3]) }}", want: []any{1, 2, 3}},
	{tmpl: "{{ [1, 2, 2, 3] | intersect([2, 3, 4]) }}", want: []any{2, 3}},
	{tmpl: "{{ [1, 2] | symmetric_difference([2, 3]) }}", want: []any{1, 3}},
	{tmpl: "{{ [1, 2] | zip(['a', 'b', 'c']) | list }}", want: []any{[]any{1, "a"}, []any{2, "b"}}},
	{tmpl: "{{ [1, 2] | zip_longest(['a'], fillvalue='-') | list }}", want: []any{[]any{1, "a"}, []any{2, "-"}}},
	{tmpl: "{{ d | dictsort }}", want: []any{[]any{"a", 1}, []any{"b", 2}}},
	{tmpl: "{{ [1, 2, 3, 4, 5] | batch(2) | list }}", want: []any{[]any{1, 2}, []any{3, 4}, []any{5}}},
	{tmpl: "{{ [1, 2, 3, 4, 5] | slice(2) | list }}", want: []any{[]any{1, 2, 3}, []any{4, 5}}},
	{tmpl: "{% for g in users | groupby('active') %}{{ g.0 }}:{{ g.1 | map(attribute='name') | join('+') }};{% endfor %}", want: "False:Alice;True:bob+carol;"},
	{tmpl: "{{ [1, 2] | product(['a']) | list }}", want: []any{[]any{1, "a"}, []any{2, "a"}}},
	{tmpl: "{{ [1, 2, 3] | combinations(2) | list }}", want: []any{[]any{1, 2}, []any{1, 3}, []any{2, 3}}},
	{tmpl: "{{ users | subelements('groups') | map('last') | list }}", want: []any{"wheel", "dev", "dev"}},
	{tmpl: "{{ [0, 2] | map('extract', l) | list }}", want: []any{"b", "c"}},
	{tmpl: "{{ d | items | list }}", want: []any{[]any{"b", 2}, []any{"a", 1}}},
	{tmpl: "{{ (8 | log(2)) | round(3) }} {{ 2 | pow(10) }} {{ 16 | root }} {{ 27 | root(3) | round(3) }}", want: "3.0 1024.0 4.0 3.0"},
	{tmpl: "{{ range(3) | list }} {{ range(1, 10, 3) | list }} {{ range(5, 0, -2) | list }}", want: "[0, 1, 2] [1, 4, 7] [5, 3, 1]"},

	// Serialisation.
	{tmpl: "x{{ d | to_json }}", want: `x{"b": 2, "a": 1}`},
	{tmpl: "x{{ 'é' | to_json }} {{ [1.0, none, true] | to_json }}", want: `x"\u00e9" [1.0, null, true]`},
	{tmpl: "x{{ d | to_json(sort_keys=true, indent=2) }}", want: "x{\n  \"a\": 1,\n  \"b\": 2\n}"},
	{tmpl: "x{{ d | to_nice_json }}", want: "x{\n    \"a\": 1,\n    \"b\": 2\n}"},
	{tmpl: "x{{ {'l': [1, {'k': 'é'}], 'e': []} | to_nice_json(indent=2) }}", want: "x{\n  \"e\": [],\n  \"l\": [\n    1,\n    {\n      \"k\": \"\\u00e9\"\n    }\n  ]\n}"},
	{tmpl: "{{ json_text | from_json }}", want: map[string]any{"a": []any{1, 2}, "b": nil}},
	{tmpl: "{{ (json_text | from_json).a[1] }}", want: "2"},
	{tmpl: "x{{ d | to_yaml }}", want: "x{a: 1, b: 2}\n"},
	{tmpl: "x{{ {'a': [1, 2], 'b': {'c': 'd'}, 'e': []} | to_yaml }}", want: "xa: [1, 2]\nb: {c: d}\ne: []\n"},
	{tmpl: "x{{ users | to_nice_yaml }}", want: "x-   active: true\n    age: 30\n    groups:\n    - wheel\n    - dev\n    name: bob\n-   active: false\n    age: 25\n    groups:\n    - dev\n    name: Alice\n-   active: true\n    age: 35\n    groups: []\n    name: carol\n"},
	{tmpl: "x{{ {'k': 'yes', 'n': '123', 'e': '', 'm': 'a: b', 'h': '#x', 'f': 1.0, 'z': none, 'u': 'é', 'd': '2024-01-01'} | to_yaml }}", want: "x{d: '2024-01-01', e: '', f: 1.0, h: '#x', k: 'yes', m: 'a: b', n: '123', u: é, z: null}\n"},
	{tmpl: "x{{ {'k': 'yes', 'n': '123', 'e': '', 'm': 'a: b', 'h': '#x', 'u': 'é', 'd': '2024-01-01', 'z': [1]} | to_yaml }}", want: "xd: '2024-01-01'\ne: ''\nh: '#x'\nk: 'yes'\nm: 'a: b'\nn: '123'\nu: é\nz: [1]\n"},
	{tmpl: "x{{ {'long': 'word ' * 20, 'multi': 'a\nb'} | to_nice_yaml }}", want: "xlong: 'word word word word word word word word word word word word word word word\n    word word word word word '\nmulti: 'a\n\n    b'\n"},
	{tmpl: "x{{ 'plain' | to_yaml }}{{ 5 | to_nice_yaml }}", want: "xplain\n5\n"},
	{tmpl: "{{ yaml_text | from_yaml }}", want: map[string]any{"a": 1, "b": []any{"x", "y"}}},
	{tmpl: "{{ {'a': 1} | tojson }}", want: map[string]any{"a": 1}},

	// Python methods on values.
	{tmpl: "{{ s.startswith('Hell') }} {{ s.endswith(('x', 'ld')) }} {{ s.lower() }} {{ s.upper() }}", want: "True True hello world HELLO WORLD"},
	{tmpl: "{{ s.split() }}", want: []any{"Hello", "World"}},
	{tmpl: "[{{ s.strip('Hd') }}] [{{ '  x '.lstrip() }}] [{{ '  x '.rstrip() }}]", want: "[ello Worl] [x ] [  x]"},
	{tmpl: "{{ s.replace('l', 'L', 1) }} {{ 'hello world'.title() }} {{ s.find('o') }} {{ s.count('l') }}", want: "HeLlo World Hello World 4 3"},
	{tmpl: "{{ '{}-{:03d}'.format('a', 7) }} {{ '{name}!'.format(name='x') }} {{ '{0:>4}|{0:<4}|{0:^4}|{0:*^6}'.format('ab') }} {{ '{:.2f}'.format(f) }}", want: "a-007 x!   ab|ab  | ab |**ab** 1.50"},
	{tmpl: "{{ d.get('a') }} {{ d.get('z', 'dflt') }} {{ d.get('z') }}", want: "1 dflt "},
	{tmpl: "{{ d.keys() | list }} {{ d.values() | list }} {{ d.items() | list }}", want: "['b', 'a'] [2, 1] [('b', 2), ('a', 1)]"},
	{tmpl: "{{ l.index('a') }} {{ l.count('a') }} {{ 'ab'.center(6, '*') }} {{ '5'.zfill(3) }} {{ '12'.isdigit() }} {{ ','.join(l) }}", want: "1 1 **ab** 005 True b,a,c"},
	{tmpl: "{% for k, v in d.items() %}{{ k }}={{ v }};{% endfor %}", want: "b=2;a=1;"},
	{tmpl: "{{ l.append('x') }}", err: "change the value in place", fleetOnly: true},

	// Operators, Python semantics.
	{tmpl: "{{ 7 // 2 }} {{ -7 // 2 }} {{ -7 % 3 }} {{ 7 / 2 }} {{ 2 ** 10 }} {{ 2 ** -1 }} {{ 7.5 // 2 }}", want: "3 -4 2 3.5 1024 0.5 3.0"},
	{tmpl: "{{ 'ab' * 3 }} {{ 3 * 'ab' }} {{ [1] * 3 }} {{ l + ['d'] }}", want: "ababab ababab [1, 1, 1] ['b', 'a', 'c', 'd']"},
	{tmpl: "{{ 1 == 1.0 }} {{ true == 1 }} {{ [1, 2] == [1, 2] }} {{ (1, 2) == [1, 2] }} {{ 1 < 2 < 3 }} {{ 'abc' < 'abd' }} {{ [1, 2] < [1, 3] }}", want: "True True True False True True True"},
	{tmpl: "{{ 'abc' ~ n ~ none }} {{ not none }} {{ 0 or 'x' }} {{ 'a' and 'b' }} {{ '' and 'b' }}|", want: "abc5None True x b |"},
	{tmpl: "{{ '%s and %s' % (s, n) }}|{{ '%-5s|' % 'ab' }}{{ '%.2f' % f }} {{ '%x' % 255 }} {{ '%(a)s' % d }} {{ '%d%%' % 50 }} {{ '%05d' % 42 }} {{ '%+d' % 3 }}", want: "Hello World and 5|ab   |1.50 ff 1 50% 00042 +3"},
	{tmpl: "{{ l[1:] }} {{ s[::-1] }} {{ l[-1] }} {{ s[0:5] }} {{ l[::2] }}", want: "['a', 'c'] dlroW olleH c Hello ['b', 'c']"},
	{tmpl: "{{ (n if t else 0) + 1 }} {{ l | join(',' if t else ';') }} {{ 'z' in l | default([]) }}", want: "6 b,a,c False"},
	{tmpl: "{{ n if n > 10 }}|", want: "|"},
	{tmpl: "{{ (n if n > 10) is defined }} {{ (n if n > 10) | default('d') }} {{ [] + ((n if n > 10) | list) }}", want: "False d []"},
	{tmpl: "{{ {'a': 1}['a'] }} {{ d.a }} {{ d['b'] }} {{ users[1].name }} {{ users.1.name }} {{ nested.1.1 }} {{ nested.1.1[0] }}", want: "1 1 2 Alice Alice [4, 5] 4"},
	{tmpl: "{{ -n }} {{ +n }} {{ not n }} {{ -f }}", want: "-5 5 False -1.5"},
	{tmpl: "{{ 10000000000 * 10000000000 }} {{ 2 ** 64 }}", want: "100000000000000000000 18446744073709551616"},
	{tmpl: "{{ 0.1 + 0.2 }} {{ 1 / 3 }} {{ 1e16 }} {{ 123456789.0 * 1000 }}", want: "0.30000000000000004 0.3333333333333333 1e+16 123456789000.0"},
	{tmpl: "{{ 1 + 'a' }}", err: "unsupported operand type(s) for +: 'int' and 'str'"},
	{tmpl: "{{ 'a' + 1 }}", err: `can only concatenate str (not "int") to str`},
	{tmpl: "{{ 'a' < 1 }}", err: "'<' not supported between instances of 'str' and 'int'"},
	{tmpl: "{{ 1 / 0 }}", err: "division by zero"},
	{tmpl: "{{ dict(a=1, b=2) }}", want: map[string]any{"a": 1, "b": 2}},
	{tmpl: "{{ lookup('env', 'FLEET_JINJA_TEST_ENV') }} [{{ lookup('env', 'FLEET_JINJA_NOT_SET') }}] {{ query('env', 'FLEET_JINJA_TEST_ENV') }}", want: "from-env [] ['from-env']"},

	// Backslashes: playbook strings keep them inside {{ }} (Ansible's
	// escape_backslashes); template files and conditionals use Python's
	// escapes.
	{tmpl: `{{ 'a\d' }} {{ 'C:\\' }} {{ 'tab\there' }}`, want: `a\d C:\\ tab\there`},
	{tmpl: `{{ 'a1' | regex_replace('\d', '#') }}`, want: "a#"},
	{kind: "text", tmpl: `{{ 'a\tb' }}|{{ 'C:\\' }}|{{ "q\"q" }}`, want: "a\tb|C:\\|q\"q"},
	{kind: "cond", tmpl: `'a\tb' == 'a' ~ '\t' ~ 'b'`, want: true},

	// Template files (the template module: trim_blocks, no lstrip_blocks,
	// trailing newlines kept).
	{kind: "text", tmpl: "{% if t %}\nyes\n{% endif %}\nend\n", want: "yes\nend\n"},
	{kind: "text", tmpl: "  {% if t %}\nx\n  {% endif %}\n", want: "  x\n  \n"},
	{kind: "text", tmpl: "a  {%- if t -%}  b  {%- endif %}  c", want: "ab  c"},
	{kind: "text", tmpl: "a\n{{- 'b' -}}\nc\n", want: "abc\n"},
	{kind: "text", tmpl: "{% for u in users %}{{ loop.index }}:{{ u.name }}{% if not loop.last %},{% endif %}{% endfor %}", want: "1:bob,2:Alice,3:carol"},
	{kind: "text", tmpl: "{% for u in users %}\n{{ u.name }} {{ loop.index0 }} {{ loop.revindex }} {{ loop.length }} {{ loop.first }} {{ loop.cycle('odd', 'even') }}\n{% endfor %}\n", want: "bob 0 3 3 True odd\nAlice 1 2 3 False even\ncarol 2 1 3 False odd\n"},
	{kind: "text", tmpl: "{% for i in nums %}{{ loop.previtem | default('-') }}{{ i }}{% endfor %}", want: "-33112"},
	{kind: "text", tmpl: "{% for k, v in d.items() %}\n{{ k }}={{ v }}\n{% endfor %}", want: "b=2\na=1\n"},
	{kind: "text", tmpl: "{% for k, v in d | dictsort %}{{ k }}={{ v }} {% endfor %}", want: "a=1 b=2 "},
	{kind: "text", tmpl: "{% set x = n * 2 %}{{ x }}", want: "10"},
	{kind: "text", tmpl: "{% set ns = namespace(c=0) %}{% for i in nums %}{% set ns.c = ns.c + i %}{% endfor %}{{ ns.c }}", want: "6"},
	{kind: "text", tmpl: "{% set x = 1 %}{% for i in [1] %}{% set x = 2 %}{{ x }}{% endfor %}{{ x }}", want: "21"},
	{kind: "text", tmpl: "{% if t %}{% set y = 'in-if' %}{% endif %}{{ y }}", want: "in-if"},
	{kind: "text", tmpl: "{% set p, q = 1, 2 %}{{ p }}{{ q }}", want: "12"},
	{kind: "text", tmpl: "{% set blk %}hello {{ n }}{% endset %}{{ blk | upper }}", want: "HELLO 5"},
	{kind: "text", tmpl: "{% macro greet(name, greeting='Hi') %}{{ greeting }} {{ name }}{% endmacro %}{{ greet('bob') }}, {{ greet('al', greeting='Yo') }}", want: "Hi bob, Yo al"},
	{kind: "text", tmpl: "{% macro wrap() %}[{{ caller() }}]{% endmacro %}{% call wrap() %}inner{% endcall %}", want: "[inner]"},
	{kind: "text", tmpl: "{% filter upper %}abc {{ s }}{% endfilter %}", want: "ABC HELLO WORLD"},
	{kind: "text", tmpl: "{% with a = 1, z = 2 %}{{ a }}{{ z }}{% endwith %}{{ a }}", want: "121-x"},
	{kind: "text", tmpl: "{% raw %}{{ not rendered }}{% endraw %}", want: "{{ not rendered }}"},
	{kind: "text", tmpl: "a{# a comment #}b", want: "ab"},
	{kind: "text", tmpl: "{% for item in tree recursive %}{{ item.name }}{% if item.children %}({{ loop(item.children) }}){% endif %}{% endfor %}", want: "a(a1a2(a2x))b"},
	{kind: "text", tmpl: "{% for i in empty %}x{% else %}none{% endfor %}", want: "none"},
	{kind: "text", tmpl: "{% for i in nums if i > 1 %}{{ i }}{% endfor %}", want: "32"},
	{kind: "text", tmpl: "#jinja2: trim_blocks: False\n{% if t %}\nx\n{% endif %}\n", want: "\nx\n"},
	{kind: "text", tmpl: "#jinja2:lstrip_blocks: True\n  {% if t %}\nx\n  {% endif %}\n", want: "x\n"},
	{kind: "text", tmpl: "{% if t and\n   n > 1 %}ok{% endif %}", want: "ok"},
	{kind: "text", tmpl: "[{{ none }}] {{ l }} {{ d }}", want: "[] ['b', 'a', 'c'] {'b': 2, 'a': 1}"},
	{kind: "text", tmpl: "x\n\n", want: "x\n\n"},
	{kind: "text", tmpl: "{{ 'a\nb' | indent(2) }}|{{ 'a\n\nb' | indent(2, true) }}|{{ 'a\nb' | indent('> ', blank=true) }}", want: "a\n  b|  a\n\n  b|a\n> b"},
	{kind: "text", tmpl: "{{ d | to_nice_yaml(indent=2) }}", want: "a: 1\nb: 2\n"},
	{kind: "text", tmpl: "{{ a }} {{ chain1 }}", want: "1-x DEEP"},
	{kind: "text", tmpl: "line1\n{{ nope }}\n", err: "undefined"},
	{kind: "text", tmpl: "{% if t %}\n{{ n }}\n{% elif f %}\nf\n{% else %}\nno\n{% endif %}\n", want: "5\n"},
	{kind: "text", tmpl: "{{ '%-10s%s' % ('key', 'value') }}", want: "key       value"},

	// More template-file whitespace and statements.
	{kind: "text", tmpl: "a\n  {%+ if t %}\nb\n  {% endif +%}\nc\n", want: "a\n  b\n  \nc\n"},
	{kind: "text", tmpl: "a\n{# c #}\nb\n{#- c -#}\nd\n", want: "a\nbd\n"},
	{kind: "text", tmpl: "{% for i in [1, 2] %}\n  - {{ i }}\n{% endfor %}\n", want: "  - 1\n  - 2\n"},
	{kind: "text", tmpl: "{% for i in [1, 2] -%}\n  {{ i }}\n{%- endfor %}\n", want: "12\n"},
	{kind: "text", tmpl: "{% for a in [1, 2] %}{% for b in 'xy' %}{{ loop.depth }}{{ a }}{{ b }}{{ loop.changed(a) }} {% endfor %}{% endfor %}", want: "11xTrue 11yFalse 12xTrue 12yFalse "},
	{kind: "text", tmpl: "{% for i in tree recursive %}{{ loop.depth }}{{ loop(i.children) }}{% endfor %}", want: "12231"},
	{kind: "text", tmpl: "{% macro row(k) %}{{ k }}={{ varargs | join('+') }}{{ kwargs }}{% endmacro %}{{ row('a', 1, 2, x=3) }}", want: "a=1+2{'x': 3}"},
	{kind: "text", tmpl: "{% macro list(items) %}{% for i in items %}{{ caller(i) }}{% endfor %}{% endmacro %}{% call(x) list([1, 2]) %}<{{ x }}>{% endcall %}", want: "<1><2>"},
	{kind: "text", tmpl: "{% macro f(n) %}{% if n > 0 %}{{ n }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(3) }}", want: "321"},
	{kind: "text", tmpl: "{{ range(3) }} {{ d.items() }} {{ d.keys() }} {{ l | map('upper') }} {{ l | reverse }} {{ nums | select('odd') }}", want: "[0, 1, 2] [('b', 2), ('a', 1)] ['b', 'a'] ['B', 'A', 'C'] ['c', 'a', 'b'] [3, 1]"},
	{kind: "text", tmpl: "{{ 'a' ~ 1.0 ~ none ~ true }} {{ 10 / 4 }} {{ 2 * 1.5 }} {{ 1e3 }} {{ 1.5e-7 }}", want: "a1.0NoneTrue 2.5 3.0 1000.0 1.5e-07"},
	{kind: "text", tmpl: "{{ '%5.1f|%-6d|%o|%X|%e|%g|%c|%r|%s' % (3.14159, 42, 8, 255, 12345.678, 0.00001234, 65, 'x', [1]) }}", want: "  3.1|42    |10|FF|1.234568e+04|1.234e-05|A|'x'|[1]"},
	{kind: "text", tmpl: "{{ '{:,}|{:_}|{:+.1f}|{:08.3f}|{:x}|{:#b}|{:>6.2%}|{:e}'.format(1234567, 1000, 2.25, -3.14159, 255, 5, 0.256, 1234.5) }}", want: "1,234,567|1_000|+2.2|-003.142|ff|0b101|25.60%|1.234500e+03"},
	{kind: "text", tmpl: "{{ '{0[0]}-{0[1]}-{1[a]}'.format(l, d) }} {{ '{!r}'.format('x') }} {{ '{{}}'.format() }}", want: "b-a-1 'x' {}"},
	{kind: "text", tmpl: "{{ '{0.a}'.format(d) }}", err: "'dict' object has no attribute 'a'"},
	{kind: "text", tmpl: "{{ [1, 1.0, true, 2] | unique }} {{ [3, 1.5, 2] | sort }} {{ [1, 2] | max }} {{ [-1, 2.5] | min }}", want: "[1, 2] [1.5, 2, 3] 2 -1"},
	{kind: "text", tmpl: "{{ '-12' | int }} {{ '+5' | int }} {{ '1e3' | int }} {{ '0o17' | int(0, 8) }} {{ 'inf' | float }} {{ '-0' | float }}", want: "-12 5 1000 15 inf -0.0"},
	{kind: "text", tmpl: "{{ 1234.5 | round(-2) }} {{ 15 | round(-1) }} {{ 0.5 | round }} {{ 1.5 | round }} {{ 1.25 | round(1) }}", want: "1200.0 20 0.0 2.0 1.2"},
	{kind: "text", tmpl: "{{ {'e': '😀', 'q': '\"', 'n': 'a\nb'} | to_json }}", want: `{"e": "\ud83d\ude00", "q": "\"", "n": "a\nb"}`},
	{kind: "text", tmpl: "{{ {'e': 'é'} | to_json(ensure_ascii=false) }} {{ [1, [2, {}]] | to_json(indent=1) }}", want: "{\"e\": \"é\"} [\n 1,\n [\n  2,\n  {}\n ]\n]"},
	{kind: "text", tmpl: "{{ {'top': {'list': [{'a': 1, 'b': [1, 2]}, 'x'], 'empty': {}, 'text': 'line1\nline2\n'}} | to_nice_yaml }}", want: "top:\n    empty: {}\n    list:\n    -   a: 1\n        b:\n        - 1\n        - 2\n    - x\n    text: 'line1\n\n        line2\n\n        '\n"},
	{kind: "text", tmpl: "{{ {'k': 'x: y', 'q': \"it's\", 't': 'tab\tx', 's': ' lead', 'c': 'a #b', 'dash': '- x', 'star': '*x', 'null': 'null', 'tilde': '~', 'at': '@x', 'colon': 'a:b'} | to_nice_yaml }}", want: "at: '@x'\nc: 'a #b'\ncolon: a:b\ndash: '- x'\nk: 'x: y'\n'null': 'null'\nq: it's\ns: ' lead'\nstar: '*x'\nt: \"tab\\tx\"\ntilde: '~'\n"},
	{kind: "text", tmpl: "{{ ['a', ['b', ['c']], {'k': ['v']}] | to_yaml }}{{ [1, 2] | to_nice_yaml(indent=2) }}", want: "- a\n- - b\n  - [c]\n- k: [v]\n- 1\n- 2\n"},
	{kind: "text", tmpl: "{{ ('x' * 90) | to_yaml }}{{ ('aaa bbb ' * 12) | to_yaml }}", want: "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n'aaa bbb aaa bbb aaa bbb aaa bbb aaa bbb aaa bbb aaa bbb aaa bbb aaa bbb aaa bbb aaa\n  bbb aaa bbb '\n"},
	{kind: "text", tmpl: "{{ {1: 'int key', 'b': none} | to_yaml }}{{ 3.0 | to_yaml }}{{ true | to_yaml }}", want: "{1: int key, b: null}\n3.0\ntrue\n"},

	// Idioms from real playbooks.
	{tmpl: "{{ ansible_facts['distribution'] | lower }}-{{ ansible_facts.distribution_major_version }}", vars: "ansible_facts: {distribution: Debian, distribution_major_version: '12'}", want: "debian-12"},
	{tmpl: "{{ groups['web'] | difference([inventory_hostname]) | join(' ') }}", vars: "groups: {web: [w1, w2, w3]}\ninventory_hostname: w2", want: "w1 w3"},
	{tmpl: "{{ (groups['web'] | length * 0.3) | round(0, 'ceil') | int }}", vars: "groups: {web: [a, b, c, d]}", want: "2"},
	{tmpl: "{{ play_hosts | map('regex_replace', '^(.*)$', '\\1:8080') | list }}", vars: "play_hosts: [a, b]", want: []any{"a:8080", "b:8080"}},
	{tmpl: "{{ result.stdout_lines | select('match', '^o') | list | length > 0 }}", want: true},
	{tmpl: "{{ users | selectattr('name', 'equalto', 'bob') | first }}", want: map[string]any{"name": "bob", "age": 30, "active": true, "groups": []any{"wheel", "dev"}}},
	{tmpl: "{{ users | map(attribute='name') | map('lower') | sort | join(',') }}", want: "alice,bob,carol"},
	{tmpl: "{{ dict(l | zip(nums)) }}", want: map[string]any{"b": 3, "a": 1, "c": 2}},
	{tmpl: "{{ d | dict2items | selectattr('value', 'gt', 1) | items2dict }}", want: map[string]any{"b": 2}},
	{tmpl: "{{ lookup('env', 'FLEET_JINJA_NOT_SET') | default('fallback', true) }}", want: "fallback"},
	{tmpl: "{{ item.0 }}-{{ item.1 }}", vars: "item: [x, 1]", want: "x-1"},
	{tmpl: "{{ '%s:%s' | format(host, port) }}", vars: "host: db\nport: 5432", want: "db:5432"},
	{tmpl: "{{ (s.split(' ') | first)[:3] }}", want: "Hel"},
	{tmpl: "{{ 'server ' ~ inventory_hostname ~ ':' ~ (port | string) }}", vars: "inventory_hostname: w1\nport: 80", want: "server w1:80"},
	{tmpl: "{{ result.rc == 0 | ternary('up', 'down') }}", want: false},
	{tmpl: "{{ (result.rc == 0) | ternary('up', 'down') }}", want: "up"},
	{tmpl: "{{ [1, 2, 3] | map('string') | join(', ') }}", want: "1, 2, 3"},
	{tmpl: "{{ '' if nothing is none else nothing }}", want: ""},
	{tmpl: "{{ nums | map('int') | sum / nums | length }}", want: "2.0"},
	{tmpl: "{{ s | regex_replace('\\s+', '_') | lower }}", want: "hello_world"},
	{tmpl: "{{ users | json_query('[].name') }}", err: "no filter named 'json_query'"},
	{tmpl: "{{ 'a,b' is string and 'a,b'.split(',') | length == 2 }}", want: true},
	{kind: "cond", tmpl: "ansible_facts.os_family == 'Debian' and (ansible_facts.distribution_major_version | int) >= 11", vars: "ansible_facts: {os_family: Debian, distribution_major_version: '12'}", want: true},
	{kind: "cond", tmpl: "inventory_hostname in groups['db'] | default([])", vars: "inventory_hostname: d1\ngroups: {db: [d1]}", want: true},
	{kind: "cond", tmpl: "result.stdout is search('ok') and result.rc in [0, 2]", want: true},
	{kind: "cond", tmpl: "not (result is failed) and result.changed", want: true},
	{kind: "cond", tmpl: "item.enabled | default(true) | bool", vars: "item: {enabled: 'no'}", want: false},
	{kind: "cond", tmpl: "some_list | length > 0", vars: "some_list: '{{ [1] }}'", want: true},
	{kind: "text", tmpl: "# {{ ansible_managed | default('managed by fleet') }}\n{% for host in groups['web'] %}\nserver {{ host }} {{ hostvars_port | default(80) }};\n{% endfor %}\n", vars: "groups: {web: [w1, w2]}", want: "# managed by fleet\nserver w1 80;\nserver w2 80;\n"},
	{kind: "text", tmpl: "{% for key, value in settings.items() | sort %}\n{{ key }} = {{ value | to_json }}\n{% endfor %}", vars: "settings: {b: [1, 2], a: 'x'}", want: "a = \"x\"\nb = [1, 2]\n"},
	{kind: "text", tmpl: "[section]\n{% if enabled %}\nkey={{ value }}\n{% endif %}\n\n[other]\n", vars: "enabled: false\nvalue: 1", want: "[section]\n\n[other]\n"},
	{kind: "text", tmpl: "{{ lines | join('\n') }}\n", vars: "lines: [a, b]", want: "a\nb\n"},

	// Native values of expressions (Eval).
	{kind: "eval", tmpl: "n + 1", want: 6},
	{kind: "eval", tmpl: "l | length", want: 3},
	{kind: "eval", tmpl: "result.stdout_lines", want: []any{"ok"}},
	{kind: "eval", tmpl: "d", want: map[string]any{"b": 2, "a": 1}},
	{kind: "eval", tmpl: "n > 3", want: true},
	{kind: "eval", tmpl: "f", want: 1.5},
	{kind: "eval", tmpl: "range(3) | list", want: []any{0, 1, 2}},
	{kind: "eval", tmpl: "nothing", want: nil},
	{kind: "eval", tmpl: "nope", err: "undefined"},
	{kind: "eval", tmpl: "('a' if n > 3 else 'b')", want: "a"},
	{kind: "eval", tmpl: "users | map(attribute='age') | max", want: 35},

	// Syntax and other errors.
	{tmpl: "{{ n | nosuchfilter }}", err: "no filter named 'nosuchfilter'"},
	{tmpl: "{{ n | lowr }}", err: "did you mean 'lower'", fleetOnly: true},
	{tmpl: "{{ n is nosuchtest }}", err: "no test named 'nosuchtest'"},
	{tmpl: "{{ }}", err: "syntax error"},
	{tmpl: "{{ n", err: "syntax error"},
	{tmpl: "{% if t %}x", err: "syntax error"},
	{tmpl: "{% for x in %}{% endfor %}", err: "syntax error"},
	{tmpl: "{% endif %}", err: "syntax error"},
	{tmpl: "{{ 'abc }}", err: "syntax error"},
	{tmpl: "{% break %}", err: "unknown tag 'break'"},
	{tmpl: "{{ l | first(1) }}", err: "argument"},
	{tmpl: "{{ n() }}", err: "not callable"},
	{tmpl: "{% include 'x.j2' %}", err: "not supported", fleetOnly: true},
}
