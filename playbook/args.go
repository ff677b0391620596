package playbook

import (
	"errors"
	"fmt"
	"strings"

	"fleetrun.dev/fleet/vars"
)

// moduleArgs gathers a task's module arguments as Ansible's
// ModuleArgsParser does (args: first, then the module's own arguments,
// free form or mapping, which win) and checks them against the module's
// spec. Aliases come out under their canonical names.
func (c *ctx) moduleArgs(m *vars.Map, action, short string) (*vars.Map, error) {
	spec := moduleSpecs[short]
	modLine := m.Line(action)
	raw := vars.NewMap()

	if a, ok := m.Get("args"); ok && a != nil {
		am, ok := a.(*vars.Map)
		if !ok {
			return nil, c.errorf(m.Line("args"), "write args as a mapping, e.g. args: {chdir: /tmp}",
				"args must be a mapping, but it is %s", describe(a))
		}
		copyEntries(raw, am, m.Line("args"))
	}

	v, _ := m.Get(action)
	switch x := v.(type) {
	case nil:
	case *vars.Map:
		copyEntries(raw, x, modLine)
	case string, vars.Unsafe:
		if err := c.freeForm(raw, spec, action, x, modLine); err != nil {
			return nil, err
		}
	default:
		return nil, c.errorf(modLine, fmt.Sprintf("write the arguments as key: value lines under `%s:`", action),
			"the arguments of %s must be a mapping or a string, but they are %s", action, describe(v))
	}

	if short == "command" || short == "shell" || short == "script" {
		if cmd, ok := raw.Get("cmd"); ok {
			line := raw.Line("cmd")
			if r, has := raw.Get(rawParams); has && r != "" {
				return nil, c.errorf(line, "give the command once: either after the module name or as cmd:",
					"%s has both a free-form command and cmd:", action)
			}
			raw.Delete("cmd")
			raw.Delete(rawParams)
			_ = raw.SetKey(rawParams, line, cmd)
		}
	}
	return c.checkArgs(spec, action, raw, modLine)
}

// copyEntries copies src's entries into dst, keeping their lines.
func copyEntries(dst, src *vars.Map, fallback int) {
	for _, k := range src.Keys() {
		line := src.Line(k)
		if line == 0 {
			line = fallback
		}
		// As Python's dict.update: a later source's value wins, in the
		// earlier one's position.
		_ = dst.SetKey(k, line, mustGet(src, k))
	}
}

// freeForm splits a free-form argument string into raw.
func (c *ctx) freeForm(raw *vars.Map, spec *moduleSpec, action string, v any, line int) error {
	s, unsafe := v.(vars.Unsafe)
	str := string(s)
	if !unsafe {
		str = v.(string)
	}
	opts, rest, hasRest, err := parseKV(str, spec.freeForm == freeCommand)
	if err != nil {
		hint := "check the quotes and {{ }} in the value"
		if errors.Is(err, errArgString) {
			hint = "remove the blank line or the spaces at the start of the value"
		}
		return c.errorf(line, hint, "cannot split the arguments of %s: %v", action, err)
	}
	wrap := func(s string) any {
		if unsafe {
			return vars.Unsafe(s)
		}
		return s
	}
	for _, o := range opts {
		_ = raw.SetKey(o.key, line, wrap(o.value))
	}
	if !hasRest {
		return nil
	}
	if spec.freeForm == freeNone {
		if isTemplate(rest) {
			return c.errorf(line, fmt.Sprintf("write the arguments as key: value lines under `%s:`", action),
				"fleet does not take a module's arguments as a template (%q)", excerpt(rest))
		}
		example := "key=value"
		if names := spec.argNames(); len(names) > 0 {
			example = names[0] + "=..."
		}
		return c.errorf(line, fmt.Sprintf("give %s's arguments as %s pairs or as a mapping", action, example),
			"%s does not take a free-form argument, but it got %q", action, excerpt(rest))
	}
	_ = raw.SetKey(rawParams, line, wrap(rest))
	return nil
}

// checkArgs checks a module's gathered arguments against its spec and
// returns them under canonical names, in the order written.
func (c *ctx) checkArgs(spec *moduleSpec, action string, raw *vars.Map, modLine int) (*vars.Map, error) {
	out := vars.NewMap()
	if spec.anyArgs {
		return c.checkSetFact(action, raw, modLine)
	}
	for _, k := range raw.Keys() {
		v := mustGet(raw, k)
		line := raw.Line(k)
		a, ok := spec.lookup(k)
		if !ok {
			return nil, c.unknownArg(spec, action, k, line)
		}
		if out.Has(a.name) {
			return nil, c.errorf(line, "keep one of them", "%s got %s twice (%s is another name for %s)",
				action, a.name, k, a.name)
		}
		if err := c.checkArgValue(action, k, a, v, line); err != nil {
			return nil, err
		}
		_ = out.SetKey(a.name, line, v)
	}
	for _, a := range spec.args {
		if a.required && !out.Has(a.name) {
			return nil, c.errorf(modLine, fmt.Sprintf("add `%s:` to the task's arguments", a.name),
				"%s requires the argument %s", action, a.name)
		}
	}
	for _, group := range spec.exclusive {
		var given []string
		for _, name := range group {
			if out.Has(name) {
				given = append(given, spec.displayArg(name))
			}
		}
		if len(given) > 1 {
			return nil, c.errorf(modLine, "keep only one of them", "%s takes only one of %s, but got %s",
				action, spec.joinArgNames(group), strings.Join(given, " and "))
		}
	}
	for _, group := range spec.requiredOneOf {
		found := false
		for _, name := range group {
			found = found || out.Has(name)
		}
		if !found {
			what := "one of " + spec.joinArgNames(group)
			hint := "add one of them"
			if len(group) == 1 {
				what = spec.displayArg(group[0])
				hint = "add it"
				if group[0] == rawParams {
					hint = fmt.Sprintf("give it after the module name, e.g. `%s: ...`", action)
				}
			}
			return nil, c.errorf(modLine, hint, "%s needs %s", action, what)
		}
	}
	if spec.name == "systemd" && !out.Has("name") {
		for _, k := range []string{"state", "enabled"} {
			if out.Has(k) {
				return nil, c.errorf(modLine, "add name: UNIT", "%s with %s needs the unit's name", action, k)
			}
		}
	}
	return out, nil
}

// displayArg names an argument in a message.
func (m *moduleSpec) displayArg(name string) string {
	if name == rawParams {
		if m.rawName != "" {
			return m.rawName
		}
		return "a free-form argument"
	}
	return name
}

func (m *moduleSpec) joinArgNames(names []string) string {
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = m.displayArg(n)
	}
	return strings.Join(out, ", ")
}

func (c *ctx) unknownArg(spec *moduleSpec, action, k string, line int) error {
	if k == rawParams {
		return c.errorf(line, fmt.Sprintf("give %s's arguments as key=value pairs or as a mapping", action),
			"%s does not take a free-form argument", action)
	}
	for _, a := range spec.ansibleOnly {
		if a == k {
			hint := "remove it; fleet's " + spec.name + " takes " + strings.Join(spec.argNames(), ", ")
			if k == "remote_src" {
				hint = "fleet's copy pushes files from the controller; to copy a file within the host, use command: cp"
			}
			return c.errorf(line, hint, "argument %s of %s is not supported by fleet", k, action)
		}
	}
	names := spec.argNames()
	if len(names) == 0 {
		return c.errorf(line, fmt.Sprintf("%s takes no arguments here", action), "%s does not take the argument %s", action, k)
	}
	return c.errorf(line, didYouMean(k, names, spec.name+" takes "+strings.Join(names, ", ")),
		"unknown argument %s for %s", k, action)
}

// checkArgValue checks a literal argument value against its kind and
// choices. Templated values are left to the module.
func (c *ctx) checkArgValue(action, written string, a *argSpec, v any, line int) error {
	if s, ok := v.(string); ok && isTemplate(s) {
		return nil
	}
	if _, ok := v.(vars.Unsafe); ok && a.kind != kindBool && a.kind != kindInt {
		return nil
	}
	name := written
	if name == rawParams {
		name = "the free-form argument"
	}
	switch a.kind {
	case kindStr:
		if _, ok := scalarString(v); !ok && v != nil {
			return c.errorf(line, "give a single value", "%s of %s must be a string, but it is %s", name, action, describe(v))
		}
	case kindBool:
		if _, ok := asBool(v); !ok {
			return c.errorf(line, "use true or false", "%s of %s must be true or false, but it is %s", name, action, describe(v))
		}
	case kindInt:
		if _, ok := asInt(v); !ok {
			return c.errorf(line, "give a whole number", "%s of %s must be a whole number, but it is %s", name, action, describe(v))
		}
	case kindList:
		if _, ok := v.(*vars.Map); ok {
			return c.errorf(line, "give a list", "%s of %s must be a list, but it is %s", name, action, describe(v))
		}
	}
	if a.choices != nil {
		s, ok := scalarString(v)
		if !ok {
			return nil
		}
		for _, ch := range a.choices {
			if s == ch {
				return nil
			}
		}
		choices := strings.Join(a.choices, ", ")
		if a.name == rawParams { // meta
			return c.errorf(line, "fleet supports meta: flush_handlers only", "meta %s is not supported by fleet", s)
		}
		return c.errorf(line, didYouMean(s, a.choices, "use one of "+choices),
			"%s of %s must be one of %s, but it is %q", name, action, choices, s)
	}
	return nil
}

// checkSetFact checks set_fact's arguments: variable names, and
// cacheable.
func (c *ctx) checkSetFact(action string, raw *vars.Map, modLine int) (*vars.Map, error) {
	n := 0
	for _, k := range raw.Keys() {
		line := raw.Line(k)
		switch {
		case k == rawParams:
			return nil, c.errorf(line, "give the facts as name=value pairs or as a mapping", "%s needs name=value pairs, but got %q", action, excerpt(fmt.Sprint(mustGet(raw, k))))
		case k == "cacheable":
			if _, ok := asBool(mustGet(raw, k)); !ok {
				return nil, c.errorf(line, "use true or false", "cacheable of %s must be true or false", action)
			}
		case isTemplate(k):
			n++
		case !isIdentifier(k):
			return nil, c.errorf(line, "a variable name has letters, digits and underscores, and does not start with a digit",
				"%q is not a valid variable name", k)
		default:
			n++
		}
	}
	if n == 0 {
		return nil, c.errorf(modLine, "give the facts to set, e.g. `set_fact: {release: 42}`", "%s needs at least one variable to set", action)
	}
	return raw, nil
}
