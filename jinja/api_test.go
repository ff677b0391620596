package jinja

import (
	"bytes"
	"errors"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"

	"github.com/sirupsen/logrus"

	"fleetrun.dev/fleet/vars"
)

// countingVars records how often each variable is looked up.
type countingVars struct {
	mu   sync.Mutex
	m    map[string]any
	gets map[string]int
}

func newCounting(m map[string]any) *countingVars {
	return &countingVars{m: m, gets: map[string]int{}}
}

func (c *countingVars) Get(name string) (any, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gets[name]++
	v, ok := c.m[name]
	return v, ok
}

func TestLazyRendersOnlyWhatIsUsed(t *testing.T) {
	vs := newCounting(map[string]any{
		"a":      "{{ b }}-{{ b }}",
		"b":      int64(1),
		"broken": "{{ no_such_variable }}",
		"bad":    "{{ 1 + }}",
		"loop":   "{{ loop }}",
	})
	e := New()
	got, err := e.Render("{{ a }} and {{ a }}", vs)
	if err != nil {
		t.Fatalf("Render: %v", err)
	}
	if got != "1-1 and 1-1" {
		t.Errorf("got %q, want %q", got, "1-1 and 1-1")
	}
	for _, name := range []string{"broken", "bad", "loop"} {
		if vs.gets[name] != 0 {
			t.Errorf("variable %q was looked up %d times, though no template uses it", name, vs.gets[name])
		}
	}
	// Memoised for the Render call: a and b are rendered once each.
	if vs.gets["a"] != 1 || vs.gets["b"] != 1 {
		t.Errorf("lookups a=%d b=%d, want 1 each (memoised per Render)", vs.gets["a"], vs.gets["b"])
	}
}

func TestLazyNestedValues(t *testing.T) {
	vs := mapVars{
		"app":  vars.NewMap(),
		"dir":  "/srv/{{ name }}",
		"name": "web",
	}
	app := vs["app"].(*vars.Map)
	app.Set("root", "{{ dir }}/current")
	app.Set("ports", []any{"{{ 8000 + 1 }}", int64(9000)})
	got, err := New().Render(map[string]any{"path": "{{ app.root }}", "ports": "{{ app.ports }}", "n": "{{ app.ports[0] | int + 1 }}"}, vs)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"path": "/srv/web/current", "ports": []any{"8001", int64(9000)}, "n": "8002"}
	if canonical(got) != canonical(want) {
		t.Errorf("got %s, want %s", canonical(got), canonical(want))
	}
}

func TestRecursionAndDepth(t *testing.T) {
	e := New()
	_, err := e.Render("{{ a }}", mapVars{"a": "{{ b }}", "b": "x{{ a }}"})
	var te *Error
	if !errors.As(err, &te) || !strings.Contains(err.Error(), "recursive loop detected in variable 'a'") {
		t.Errorf("cycle: got %v, want an *Error saying recursive loop detected in variable 'a'", err)
	}

	chain := func(n int) mapVars {
		vs := mapVars{fmt.Sprintf("v%d", n): "end"}
		for i := 0; i < n; i++ {
			vs[fmt.Sprintf("v%d", i)] = fmt.Sprintf("{{ v%d }}", i+1)
		}
		return vs
	}
	if got, err := e.Render("{{ v0 }}", chain(40)); err != nil || got != "end" {
		t.Errorf("chain of 40: got %v, %v; want end", got, err)
	}
	if _, err := e.Render("{{ v0 }}", chain(maxVarDepth+5)); err == nil || !strings.Contains(err.Error(), "nested more than") {
		t.Errorf("chain beyond the limit: got %v, want a nesting error", err)
	}
}

func TestHostvars(t *testing.T) {
	web1 := mapVars{"port": "{{ base + 1 }}", "base": int64(8000)}
	web2 := newCounting(map[string]any{"port": int64(9001), "broken": "{{ nope }}"})
	vs := mapVars{
		"hostvars":           map[string]any{"web1": web1, "web2": web2},
		"groups":             map[string]any{"all": []any{"web1", "web2"}},
		"inventory_hostname": "web1",
	}
	e := New()
	for _, tc := range []struct {
		tmpl string
		want any
	}{
		{"{{ hostvars['web1'].port }}", "8001"},
		{"{{ hostvars.web1.port }}", "8001"},
		{"{{ hostvars[inventory_hostname]['port'] | int + 1 }}", "8002"},
		{"{{ hostvars.web2.port }}", "9001"},
		{"{{ hostvars.web2.port + 1 }}", "9002"},
		{"{{ groups['all'] | map('extract', hostvars, 'port') | list }}", []any{"8001", int64(9001)}},
		{"{{ 'port' in hostvars['web1'] }} {{ 'nope' in hostvars.web1 }}", "True False"},
		{"{{ hostvars['web1'].missing is defined }} {{ hostvars.nope.port is defined }}", "False False"},
		{"{{ hostvars | length }} {{ hostvars.keys() | sort | join(',') }}", "2 web1,web2"},
	} {
		got, err := e.Render(tc.tmpl, vs)
		if err != nil {
			t.Errorf("%s: %v", tc.tmpl, err)
			continue
		}
		if canonical(got) != canonical(tc.want) {
			t.Errorf("%s: got %s, want %s", tc.tmpl, canonical(got), canonical(tc.want))
		}
	}
	if web2.gets["broken"] != 0 {
		t.Errorf("hostvars rendered web2's unused variable 'broken'")
	}
	for tmpl, name := range map[string]string{
		"{{ hostvars['web1'].missing }}": "hostvars['web1'].missing",
		"{{ hostvars['nope'].port }}":    "hostvars['nope']",
		"{{ hostvars.web2.broken }}":     "nope",
	} {
		_, err := e.Render(tmpl, vs)
		var ue *UndefinedError
		if !errors.As(err, &ue) || ue.Name != name {
			t.Errorf("%s: got %v, want an UndefinedError naming %q", tmpl, err, name)
		}
	}
	if _, err := e.Render("{{ hostvars['web1'] }}", vs); err == nil || !strings.Contains(err.Error(), "cannot be printed") {
		t.Errorf("printing all of a host's variables: got %v, want an error", err)
	}
}

func TestUndefinedErrors(t *testing.T) {
	vs := mapVars{"result": map[string]any{"rc": 0}, "l": []any{1}, "d": vars.NewMap()}
	for _, tc := range []struct{ tmpl, name string }{
		{"{{ foo }}", "foo"},
		{"{{ result.stdout }}", "result.stdout"},
		{"{{ result['stdout'] }}", "result['stdout']"},
		{"{{ d.a.b }}", "d.a"},
		{"{{ l[5] }}", "l[5]"},
		{"{{ foo.bar.baz }}", "foo"},
		{"{{ foo | upper }}", "foo"},
		{"x {{ 'a' if foo else 'b' }}", "foo"},
		{"{% for i in foo %}{% endfor %}", "foo"},
	} {
		_, err := New().Render(tc.tmpl, vs)
		wrapped := fmt.Errorf("task 'x' on host h1: %w", err)
		var ue *UndefinedError
		if !errors.As(wrapped, &ue) {
			t.Errorf("%s: got %v, want an UndefinedError", tc.tmpl, err)
			continue
		}
		if ue.Name != tc.name || ue.Expr != tc.tmpl {
			t.Errorf("%s: got Name %q Expr %q, want Name %q and the template", tc.tmpl, ue.Name, ue.Expr, tc.name)
		}
	}
	_, err := New().RenderText("a\nb\n{{ foo }}\n", vs)
	var ue *UndefinedError
	if !errors.As(err, &ue) || ue.Line != 3 || !strings.Contains(err.Error(), "line 3") {
		t.Errorf("RenderText: got %v, want an UndefinedError at line 3", err)
	}
}

func TestRenderValues(t *testing.T) {
	args := vars.NewMap()
	args.Set("dest", "/srv/{{ name }}")
	args.Set("mode", "{{ m | default(omit) }}")
	args.Set("{{ key }}", "keys are not templated")
	args.Set("items", []any{"{{ n }}", "{{ n + 1 }}", vars.Unsafe("{{ raw }}"), nil, 1.5})
	args.Set("big", new(big.Int).Lsh(big.NewInt(1), 70))
	vs := mapVars{"name": "web", "n": 3, "m": nil}
	got, err := New().Render(args, vs)
	if err != nil {
		t.Fatal(err)
	}
	m, ok := got.(map[string]any)
	if !ok {
		t.Fatalf("got %T, want map[string]any", got)
	}
	want := map[string]any{
		"dest":      "/srv/web",
		"mode":      "",
		"{{ key }}": "keys are not templated",
		"items":     []any{int64(3), "4", "{{ raw }}", nil, 1.5},
		"big":       new(big.Int).Lsh(big.NewInt(1), 70),
	}
	if canonical(m) != canonical(want) {
		t.Errorf("got %s\nwant %s", canonical(m), canonical(want))
	}
	checkPlain(t, "Render", got)

	omitted, err := New().Render("{{ missing | default(omit) }}", vs)
	if err != nil || omitted != Omit {
		t.Errorf("default(omit): got %v, %v; want Omit", omitted, err)
	}
	if v, err := New().Render(vars.Unsafe("{{ x }}"), nil); v != "{{ x }}" || err != nil {
		t.Errorf("Unsafe: got %#v, %v; want it returned untouched", v, err)
	}
}

func TestGoValuesInVars(t *testing.T) {
	// Registered results arrive as Go maps and slices.
	vs := mapVars{
		"reg":   map[string]any{"rc": 0, "stdout_lines": []string{"a", "b"}, "changed": true},
		"count": int32(7),
		"ratio": float32(0.5),
	}
	got, err := New().Render("{{ reg.stdout_lines | join(',') }} {{ reg.rc == 0 }} {{ count * 2 }} {{ ratio }} {{ reg is changed }}", vs)
	if err != nil || got != "a,b True 14 0.5 True" {
		t.Errorf("got %v, %v", got, err)
	}
}

func TestMarkUnsafe(t *testing.T) {
	// A command printed a template; registering its result must not make
	// the next task render it.
	reg := MarkUnsafe(map[string]any{
		"stdout":       "{{ secret }}",
		"stdout_lines": []string{"{% if x %}"},
		"rc":           0,
		"nested":       []any{map[string]any{"k": "{{ k }}"}},
	})
	vs := mapVars{"result": reg, "secret": "s3cr3t"}
	got, err := New().Render(map[string]any{
		"a": "{{ result.stdout }}",
		"b": "{{ result.stdout_lines[0] }}",
		"c": "{{ result.nested[0].k }}-{{ result.rc }}",
	}, vs)
	want := map[string]any{"a": "{{ secret }}", "b": "{% if x %}", "c": "{{ k }}-0"}
	if err != nil || canonical(got) != canonical(want) {
		t.Errorf("got %v, %v; want %s", canonical(got), err, canonical(want))
	}
}

func TestEvalAndCond(t *testing.T) {
	e := New()
	vs := mapVars{"result": map[string]any{"rc": 0, "stdout": "ok"}, "x": "{{ 2 * 3 }}"}
	v, err := e.Eval("result.rc == 0 and x is defined", vs)
	if err != nil || v != true {
		t.Errorf("Eval: got %v, %v", v, err)
	}
	v, err = e.Eval("result", vs)
	if m, ok := v.(map[string]any); err != nil || !ok || m["stdout"] != "ok" {
		t.Errorf("Eval of a dict: got %#v, %v", v, err)
	}
	ok, err := e.Cond([]string{"result.rc == 0", "x | int == 6", ""}, vs)
	if err != nil || !ok {
		t.Errorf("Cond: got %v, %v", ok, err)
	}
	// Stops at the first false condition, as Ansible does.
	ok, err = e.Cond([]string{"false", "undefined_thing"}, vs)
	if err != nil || ok {
		t.Errorf("Cond short-circuit: got %v, %v", ok, err)
	}
	_, err = e.Cond([]string{"undefined_thing"}, vs)
	var ue *UndefinedError
	if !errors.As(err, &ue) || ue.Name != "undefined_thing" || ue.Expr != "undefined_thing" {
		t.Errorf("Cond of an undefined variable: got %v", err)
	}
}

func TestString(t *testing.T) {
	m := vars.NewMap()
	m.Set("k", int64(1))
	m.Set("l", []any{"a", nil, true})
	for _, tc := range []struct {
		v    any
		want string
	}{
		{true, "True"},
		{false, "False"},
		{nil, "None"},
		{"s", "s"},
		{int64(3), "3"},
		{7, "7"},
		{2.0, "2.0"},
		{1e22, "1e+22"},
		{[]any{int64(1), "a"}, "[1, 'a']"},
		{[]string{"it's"}, `["it's"]`},
		{m, "{'k': 1, 'l': ['a', None, True]}"},
		{map[string]any{"b": 1, "a": "x"}, "{'a': 'x', 'b': 1}"},
		{vars.Unsafe("u"), "u"},
		{"tab\tnewline\n", "tab\tnewline\n"},
		{[]any{"tab\t\x01é"}, `['tab\t\x01é']`},
		{[]any{map[string]any{"k": []string{"v"}}}, "[{'k': ['v']}]"},
		{struct{}{}, "{}"},
	} {
		if got := String(tc.v); got != tc.want {
			t.Errorf("String(%#v) = %q, want %q", tc.v, got, tc.want)
		}
	}
}

func TestTruthy(t *testing.T) {
	for _, tc := range []struct {
		v    any
		want bool
	}{
		{nil, false}, {false, false}, {true, true}, {int64(0), false}, {int64(2), true},
		{0.0, false}, {0.1, true}, {"", false}, {"False", true}, {[]any{}, false},
		{[]any{nil}, true}, {vars.NewMap(), false}, {map[string]any{"a": 1}, true},
		{new(big.Int), false}, {&undefined{name: "x"}, false},
	} {
		if got := Truthy(tc.v); got != tc.want {
			t.Errorf("Truthy(%#v) = %v, want %v", tc.v, got, tc.want)
		}
	}
}

func TestIsTemplate(t *testing.T) {
	for s, want := range map[string]bool{
		"plain": false, "{{ x }}": true, "a {% if %}": true, "{# c #}": true,
		"{ not }": false, "{": false, "x{": false, "{x{{": true, "json {\"a\": {}}": false,
	} {
		if got := IsTemplate(s); got != want {
			t.Errorf("IsTemplate(%q) = %v, want %v", s, got, want)
		}
	}
}

// panicVars panics on lookup, standing in for any bug below Render.
type panicVars struct{}

func (panicVars) Get(string) (any, bool) { panic("boom") }

func TestPanicsBecomeErrors(t *testing.T) {
	_, err := New().Render("{{ x }} and more", panicVars{})
	var te *Error
	if !errors.As(err, &te) || te.Template != "{{ x }} and more" || !strings.Contains(err.Error(), "boom") {
		t.Errorf("got %v, want an *Error quoting the template", err)
	}
	_, err = New().RenderText("text {{ x }}", panicVars{})
	if err == nil || !strings.Contains(err.Error(), "text {{ x }}") {
		t.Errorf("RenderText: got %v, want an error quoting the template", err)
	}
	_, err = New().Cond([]string{"x"}, panicVars{})
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Errorf("Cond: got %v, want an error", err)
	}
}

func TestConcurrentRenders(t *testing.T) {
	e := New()
	args := map[string]any{
		"dest":    "/srv/{{ inventory_hostname }}/{{ app.name }}.conf",
		"content": "{% for p in app.ports %}{{ p }}{% if not loop.last %},{% endif %}{% endfor %}",
		"when":    "{{ app.ports | length > 1 }}",
	}
	const hosts, rounds = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, hosts)
	for h := 0; h < hosts; h++ {
		wg.Add(1)
		go func(h int) {
			defer wg.Done()
			app := vars.NewMap()
			app.Set("name", "{{ inventory_hostname | upper }}")
			app.Set("ports", []any{int64(8000 + h), int64(9000 + h)})
			vs := mapVars{"inventory_hostname": fmt.Sprintf("h%d", h), "app": app}
			want := fmt.Sprintf(`{"content": "%d,%d", "dest": "/srv/h%d/H%d.conf", "when": true}`, 8000+h, 9000+h, h, h)
			for i := 0; i < rounds; i++ {
				got, err := e.Render(args, vs)
				if err != nil {
					errs <- err
					return
				}
				if c := canonical(got); c != want {
					errs <- fmt.Errorf("host %d: got %s, want %s", h, c, want)
					return
				}
			}
		}(h)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func FuzzRender(f *testing.F) {
	for _, tc := range cases {
		f.Add(tc.tmpl)
	}
	for _, s := range []string{
		"{{ ((((((((((1)))))))))) }}", "{% for x in range(10) %}{% for y in range(10) %}{{ x * y }}{% endfor %}{% endfor %}",
		"{{ 'a' * 100 }}", "{% macro m(n) %}{{ m(n) }}{% endmacro %}{{ m(1) }}", "{{ x.0.1.2 }}", "{{ '\\\\' }}",
		"{% raw %}{{ {% endraw %}", "{{ {'a': {'b': [1, (2, 3)]}} | to_nice_yaml }}", "{{ '%*.*f' % (10, 2, 1.5) }}",
		"{% set ns = namespace(a=ns) %}", "{{ a }}{{ b }}", "{{ l | batch(0) }}", "{{ 2 ** 2 ** 2 ** 2 ** 2 }}",
		// gonja's number lexer loops or panics on a digit, '.' and a
		// multi-byte character; prepare rejects that first.
		"{{ 0.\ufffd }}", "{{ 1.é }}", "{{ {'1': '00 00\x95\xbb0.\xf9\xa1'} | to_yaml }}",
	} {
		f.Add(s)
	}
	e := New()
	vs := mapVars{"a": "{{ b }}", "b": "{{ a }}", "l": []any{1, "x", nil}, "n": int64(3)}
	f.Fuzz(func(t *testing.T, tmpl string) {
		for _, run := range []func() (any, error){
			func() (any, error) { return e.Render(tmpl, vs) },
			func() (any, error) { return e.RenderText(tmpl, vs) },
			func() (any, error) { return e.Eval(tmpl, vs) },
		} {
			// A panic anywhere is recovered into an error; one in the
			// evaluator is a bug of this package.
			_, err := run()
			var te *Error
			if err != nil && errors.As(err, &te) && strings.Contains(te.Err.Error(), "internal error") {
				t.Fatalf("evaluator panicked on %q: %v", tmpl, err)
			}
		}
	})
}

func BenchmarkRender(b *testing.B) {
	e := New()
	args := map[string]any{
		"src":   "templates/{{ app }}.conf.j2",
		"dest":  "/etc/{{ app }}/{{ inventory_hostname }}.conf",
		"mode":  "{{ file_mode | default('0644') }}",
		"owner": "{{ app_user }}",
		"when":  "{{ ansible_facts.distribution == 'Debian' and app_ports | length > 0 }}",
		"items": "{{ app_ports | map('string') | list }}",
	}
	facts := map[string]any{"distribution": "Debian", "hostname": "web1"}
	hosts := make([]mapVars, 100)
	for i := range hosts {
		hosts[i] = mapVars{
			"inventory_hostname": fmt.Sprintf("web%d", i),
			"app":                "nginx",
			"app_user":           "{{ app }}",
			"app_ports":          []any{int64(80), int64(443)},
			"ansible_facts":      facts,
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := e.Render(args, hosts[i%len(hosts)]); err != nil {
			b.Fatal(err)
		}
	}
}

func TestGonjaDoesNotLog(t *testing.T) {
	// gonja's lexer logs through logrus only when its logging switch is
	// on, which is off by default and never turned on here; even at trace
	// level nothing must reach the log.
	var buf bytes.Buffer
	out, level := logrus.StandardLogger().Out, logrus.GetLevel()
	logrus.SetOutput(&buf)
	logrus.SetLevel(logrus.TraceLevel)
	defer func() {
		logrus.SetOutput(out)
		logrus.SetLevel(level)
	}()
	e := New()
	for _, tc := range cases[:40] {
		_, _ = tc.run(e, caseVars(t, tc.vars))
	}
	_, _ = e.RenderText("{% if %}{{ ( }}", nil)
	if buf.Len() > 0 {
		t.Errorf("rendering logged:\n%s", buf.String())
	}
}
