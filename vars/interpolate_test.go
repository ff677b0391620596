package vars

import (
	"math"
	"math/big"
	"strings"
	"testing"
	"time"
)

// interpolateVars returns the variables the Interpolate tests look up.
func interpolateVars(t testing.TB) func(string) (any, bool) {
	conf := NewMap()
	conf.Set("path", "/etc/app")
	app := NewMap()
	app.Set("dir", "/srv/app")
	app.Set("port", int64(8080))
	app.Set("ports", []any{int64(80), int64(443)})
	app.Set("conf", conf)
	app.Set("k-y", "dash")
	app.Set("0", "string zero")
	app.Set("}}", "braces")
	if err := app.SetKey(int64(1), 3, "int one"); err != nil {
		t.Fatal(err)
	}
	big70 := new(big.Int).Lsh(big.NewInt(1), 70)
	vals := map[string]any{
		"inventory_hostname": "web1",
		"app":                app,
		"big":                big70,
		"half":               1.5,
		"three":              3.0,
		"huge":               1e16,
		"tiny":               0.0001,
		"inf":                math.Inf(1),
		"ninf":               math.Inf(-1),
		"nan":                math.NaN(),
		"yes":                true,
		"no":                 false,
		"nothing":            nil,
		"raw":                Unsafe("{{ not templated }}"),
		"secret":             Vault{Ciphertext: "$ANSIBLE_VAULT;1.1;AES256\n6162"},
		"day":                Date{2024, 5, 1},
		"when":               DateTime{Time: time.Date(2024, 5, 1, 10, 20, 30, 0, time.UTC)},
		"list":               []any{"a", "b"},
		"word":               "héllo",
		"goint":              7,
		"gostrings":          []string{"a"},
		"_x1":                "underscore",
		"ünï":                "unicode",
		"empty":              "",
	}
	return func(name string) (any, bool) {
		v, ok := vals[name]
		return v, ok
	}
}

func TestInterpolate(t *testing.T) {
	lookup := interpolateVars(t)
	tests := []struct{ in, want string }{
		{"/srv/{{ inventory_hostname }}/conf", "/srv/web1/conf"},
		{"{{inventory_hostname}}", "web1"},
		{"{{\tinventory_hostname\n}}", "web1"},
		{"{{ inventory_hostname }}-{{inventory_hostname}}", "web1-web1"},
		{"{{ inventory_hostname }}}", "web1}"},
		{"{{ app.dir }}/x", "/srv/app/x"},
		{"{{ app['dir'] }}", "/srv/app"},
		{`{{ app["dir"] }}`, "/srv/app"},
		{"{{ app [ 'dir' ] }}", "/srv/app"},
		{"{{ app . dir }}", "/srv/app"},
		{"{{ app.conf.path }}", "/etc/app"},
		{"{{ app['conf'].path }}", "/etc/app"},
		{"{{ app['k-y'] }}", "dash"},
		{"{{ app['0'] }}", "string zero"},
		{"{{ app['}}'] }}", "braces"},
		{"{{ app[1] }}", "int one"},
		{"{{ app.1 }}", "int one"},
		{"{{ app.port }}", "8080"},
		{"{{ app.ports[1] }}", "443"},
		{"{{ app.ports.0 }}", "80"},
		{"{{ app.ports[-1] }}", "443"},
		{"{{ app.ports[-2] }}", "80"},
		{"{{ big }}", "1180591620717411303424"},
		{"{{ half }}", "1.5"},
		{"{{ three }}", "3.0"},
		{"{{ huge }}", "1e+16"},
		{"{{ tiny }}", "0.0001"},
		{"{{ inf }}", "inf"},
		{"{{ ninf }}", "-inf"},
		{"{{ nan }}", "nan"},
		{"{{ yes }}/{{ no }}", "True/False"},
		{"{{ nothing }}", "None"},
		{"{{ raw }}", "{{ not templated }}"},
		{"{{ raw[0] }}", "{"},
		{"{{ day }}", "2024-05-01"},
		{"{{ when }}", "2024-05-01 10:20:30"},
		{"{{ word[1] }}", "é"},
		{"{{ word[-1] }}", "o"},
		{"{{ list[0] }}", "a"},
		{"{{ goint }}", "7"},
		{"{{ _x1 }}", "underscore"},
		{"{{ ünï }}", "unicode"},
		{"[{{ empty }}]", "[]"},
		// Text without {{ comes back as it is.
		{"", ""},
		{"/srv/plain/path", "/srv/plain/path"},
		{"a{b}c{ d }", "a{b}c{ d }"},
		{"}}", "}}"},
		{"{ {x} }", "{ {x} }"},
		{"trailing {", "trailing {"},
	}
	for _, tt := range tests {
		got, err := Interpolate(tt.in, lookup)
		if err != nil {
			t.Errorf("Interpolate(%q): %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Interpolate(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestInterpolateErrors(t *testing.T) {
	const only = "only variables like {{ inventory_hostname }} or {{ app.dir }} are supported here"
	lookup := interpolateVars(t)
	tests := []struct{ in, want string }{
		{"{{ foo }}", `"{{ foo }}": 'foo' is undefined`},
		{"/a/{{foo}}/b", `"{{foo}}": 'foo' is undefined`},
		{"{{ inventory_hostname }}/{{ foo.bar }}", `"{{ foo.bar }}": 'foo' is undefined`},
		{"{{ app.nope }}", `"{{ app.nope }}": 'app' has no attribute 'nope'`},
		{"{{ app.conf.nope }}", `"{{ app.conf.nope }}": 'app.conf' has no attribute 'nope'`},
		{"{{ app['conf'] ['nope'] }}", `"{{ app['conf'] ['nope'] }}": 'app['conf']' has no attribute 'nope'`},
		{"{{ app.ports[5] }}", `"{{ app.ports[5] }}": 'app.ports' has no element 5 (it has 2)`},
		{"{{ app.ports[-3] }}", `"{{ app.ports[-3] }}": 'app.ports' has no element -3 (it has 2)`},
		{"{{ app.ports[99999999999999999999] }}", `'app.ports' has no element 99999999999999999999 (it has 2)`},
		{"{{ app.ports.x }}", `"{{ app.ports.x }}": 'app.ports' has no attribute 'x' (it is a list; use [N] for an element)`},
		{"{{ app[0] }}", `"{{ app[0] }}": 'app' has no element 0`},
		{"{{ app['1'] }}", `"{{ app['1'] }}": 'app' has no attribute '1'`},
		{"{{ app.port.x }}", `"{{ app.port.x }}": 'app.port' has no attribute 'x' (it is an int)`},
		{"{{ nothing.x }}", `'nothing' has no attribute 'x' (it is None)`},
		{"{{ word.x }}", `'word' has no attribute 'x' (it is a str)`},
		{"{{ word[9] }}", `'word' has no element 9 (it is a str)`},
		{"{{ secret.x }}", `"{{ secret.x }}": 'secret' is vaulted (!vault), and vaulted values are not supported here`},
		{"{{ app }}", `"{{ app }}": 'app' is a dict, but a path needs a single value such as a string or number`},
		{"{{ app.ports }}", `"{{ app.ports }}": 'app.ports' is a list, but a path needs a single value`},
		{"{{ secret }}", `"{{ secret }}": 'secret' is vaulted (!vault), and vaulted values are not supported here`},
		{"{{ gostrings }}", `"{{ gostrings }}": 'gostrings' holds a Go []string, which cannot be rendered`},
		// Anything but a plain variable needs playbook templating.
		{"{{ x | upper }}", `"{{ x | upper }}": ` + only},
		{"{{ inventory_hostname | upper }}", `"{{ inventory_hostname | upper }}": ` + only},
		{"{{ a + b }}", `"{{ a + b }}": ` + only},
		{"{{ a b }}", `"{{ a b }}": ` + only},
		{"{{ f() }}", `"{{ f() }}": ` + only},
		{"{{ 'lit' }}", `"{{ 'lit' }}": ` + only},
		{"{{ 1 }}", `"{{ 1 }}": ` + only},
		{"{{ }}", `"{{ }}": ` + only},
		{"{{}}", `"{{}}": ` + only},
		{"{{ true }}", `"{{ true }}": ` + only},
		{"{{ None }}", `"{{ None }}": ` + only},
		{"{{ not x }}", `"{{ not x }}": ` + only},
		{"{{ app. }}", `"{{ app. }}": ` + only},
		{"{{ app.dir. }}", `"{{ app.dir. }}": ` + only},
		{"{{ app[] }}", `"{{ app[] }}": ` + only},
		{"{{ app[dir] }}", `"{{ app[dir] }}": ` + only},
		{"{{ app['dir' }}", `"{{ app['dir' }}": ` + only},
		{"{{ app['d\\'ir'] }}", `"{{ app['d\\'ir'] }}": ` + only},
		{"{{ app.ports[01] }}", `"{{ app.ports[01] }}": ` + only},
		{"{{ app.1x }}", `"{{ app.1x }}": ` + only},
		{"{{ app.ports[1:] }}", `"{{ app.ports[1:] }}": ` + only},
		{"{{- app.dir }}", `"{{- app.dir }}": ` + only},
		{"{{ {'a': 1} }}", `"{{ {'a': 1} }}": ` + only},
		{"{{ 'it''s' }}", `"{{ 'it''s' }}": ` + only},
		{"{{ it's }}", `"{{ it's }}": ` + only},
		{"{% if x %}y{% endif %}", `"{% if x %}": Jinja statements are not supported yet; ` + only},
		{"/x/{# note #}", `"{# note #}": Jinja comments are not supported yet; ` + only},
		{"{%", `"{%": Jinja statements are not supported`},
		{"{{ foo", `"{{ foo": "{{" is not closed by "}}"`},
		{"/srv/{{ inventory_hostname }}/{{ app.dir", `"{{ app.dir": "{{" is not closed by "}}"`},
		{"{{ a }", `"{{ a }": "{{" is not closed by "}}"`},
		{"{{{ a }}", `"{{{ a }}": ` + only},
	}
	for _, tt := range tests {
		got, err := Interpolate(tt.in, lookup)
		if err == nil {
			t.Errorf("Interpolate(%q) = %q, want error", tt.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Interpolate(%q) error:\n got  %s\n want %s", tt.in, err, tt.want)
		}
	}
}

func TestInterpolateLookupCalls(t *testing.T) {
	var asked []string
	lookup := func(name string) (any, bool) {
		asked = append(asked, name)
		return "v", true
	}
	if got, err := Interpolate("no braces", lookup); err != nil || got != "no braces" || len(asked) != 0 {
		t.Errorf(`Interpolate("no braces") = %q, %v; looked up %q`, got, err, asked)
	}
	// A syntax error is reported before any variable is looked up.
	if _, err := Interpolate("{{ x | upper }}", lookup); err == nil || len(asked) != 0 {
		t.Errorf("Interpolate with a filter: err %v, looked up %q", err, asked)
	}
	if got, err := Interpolate("{{ a.b }}", nil); err == nil {
		t.Errorf("Interpolate with a nil lookup = %q, want an undefined error", got)
	}
}

func FuzzInterpolate(f *testing.F) {
	for _, s := range []string{
		"/srv/{{ inventory_hostname }}/conf", "{{ app.conf.path }}", "{{ app['}}'] }}", "{{ v }}{{ v }}",
		"{{ app.ports[-1] }}", "{{ x | upper }}", "{% if %}", "{# #}", "{{ foo", "{{{ v }}", "a{b}",
		"{{ word[1] }}", "{{ app[1] }}", "{{ raw }}", "{{ 'a\\'}}' }}",
	} {
		f.Add(s, "val")
	}
	f.Add("{{ v }}{{ v }}", "{")
	f.Add("{{v}}{", "}")
	base := interpolateVars(f)
	f.Fuzz(func(t *testing.T, s, val string) {
		lookup := func(name string) (any, bool) {
			switch name {
			case "v":
				return val, true
			case "raw":
				// Its text holds {{, which is exempt from the check below.
				return nil, false
			}
			return base(name)
		}
		out, err := Interpolate(s, lookup)
		if err != nil {
			if out != "" {
				t.Fatalf("Interpolate(%q) returned %q with error %v", s, out, err)
			}
			return
		}
		if jinjaStart(s) < 0 && out != s {
			t.Fatalf("Interpolate(%q) = %q, want it unchanged", s, out)
		}
		if !strings.Contains(val, "{") && strings.Contains(out, "{{") {
			t.Fatalf("Interpolate(%q) with v=%q = %q, which contains {{", s, val, out)
		}
	})
}
