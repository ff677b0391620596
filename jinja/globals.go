package jinja

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"fleetrun.dev/fleet/vars"
)

// maxRange bounds range(), as Jinja2's sandbox does.
const maxRange = 1_000_000

// globals are the names every template sees after its variables.
var globals map[string]any

func init() {
	globals = map[string]any{
		"omit":      Omit,
		"range":     &callable{name: "range", fn: gRange},
		"lookup":    &callable{name: "lookup", fn: gLookup(false)},
		"query":     &callable{name: "query", fn: gLookup(true)},
		"q":         &callable{name: "q", fn: gLookup(true)},
		"dict":      &callable{name: "dict", fn: gDict},
		"namespace": &callable{name: "namespace", fn: gNamespace},
		"now":       &callable{name: "now", fn: gNow},
	}
}

func gRange(c *ctx, args []any, kw map[string]any) (any, error) {
	if len(kw) > 0 {
		return nil, typeErr("range() takes no keyword arguments")
	}
	var start, stop, step int64 = 0, 0, 1
	nums := make([]int64, len(args))
	for i, a := range args {
		if !isInt(a) {
			if err := firstUndefined(a); err != nil {
				return nil, err
			}
			return nil, typeErr("'%s' object cannot be interpreted as an integer", typeName(a))
		}
		n, ok := int64Of(a)
		if !ok {
			return nil, typeErr("range() argument too large")
		}
		nums[i] = n
	}
	switch len(nums) {
	case 1:
		stop = nums[0]
	case 2:
		start, stop = nums[0], nums[1]
	case 3:
		start, stop, step = nums[0], nums[1], nums[2]
	default:
		return nil, typeErr("range expected 1 to 3 arguments, got %d", len(args))
	}
	if step == 0 {
		return nil, typeErr("range() arg 3 must not be zero")
	}
	var n int64
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange {
		return nil, typeErr("range() of %d items is too long (at most %d)", n, maxRange)
	}
	out := make([]any, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

// gLookup is Ansible's lookup() and query(); fleet has the env and vars
// lookups, which need nothing from a controller-side plugin.
func gLookup(wantList bool) func(c *ctx, args []any, kw map[string]any) (any, error) {
	return func(c *ctx, args []any, kw map[string]any) (any, error) {
		if len(args) == 0 {
			return nil, typeErr("lookup() needs the name of a lookup plugin")
		}
		name, err := strArg(args[0], "lookup plugin name")
		if err != nil {
			return nil, err
		}
		terms := args[1:]
		if err := firstUndefined(terms...); err != nil {
			return nil, err
		}
		opts := map[string]any{}
		for k, v := range kw {
			opts[k] = v
		}
		if w, ok := opts["wantlist"]; ok {
			t, err := truth(w)
			if err != nil {
				return nil, err
			}
			wantList = wantList || t
			delete(opts, "wantlist")
		}
		errMode := "strict"
		if e, ok := opts["errors"]; ok {
			errMode, _ = e.(string)
			delete(opts, "errors")
		}
		var ran []any
		switch pluginName(name) {
		case "env":
			def, hasDef := opts["default"]
			delete(opts, "default")
			if len(opts) > 0 {
				return nil, fmt.Errorf("lookup('env'): unknown option '%s'", sortedKeys(opts)[0])
			}
			for _, t := range terms {
				s, err := text(t)
				if err != nil {
					return nil, err
				}
				v, ok := os.LookupEnv(s)
				if !ok {
					if hasDef {
						ran = append(ran, def)
						continue
					}
					v = ""
				}
				ran = append(ran, v)
			}
		case "vars":
			def, hasDef := opts["default"]
			delete(opts, "default")
			if len(opts) > 0 {
				return nil, fmt.Errorf("lookup('vars'): unknown option '%s'", sortedKeys(opts)[0])
			}
			for _, t := range terms {
				s, ok := t.(string)
				if !ok {
					return nil, fmt.Errorf("Invalid setting identifier, \"%s\" is not a string, its a %s", String(t), typeName(t))
				}
				v, err := c.lookup(s)
				if err != nil {
					return nil, err
				}
				if u, isU := v.(*undefined); isU {
					if hasDef {
						v = def
					} else {
						return nil, u.err()
					}
				}
				ran = append(ran, v)
			}
		default:
			err := fmt.Errorf("lookup plugin '%s' is not supported by fleet (fleet has the env and vars lookups)", name)
			switch errMode {
			case "ignore", "warn":
				if wantList {
					return []any{}, nil
				}
				return nil, nil
			}
			return nil, err
		}
		if ran == nil {
			ran = []any{}
		}
		if wantList {
			return ran, nil
		}
		parts := make([]string, len(ran))
		for i, r := range ran {
			s, ok := r.(string)
			if !ok {
				// Ansible joins strings; other values come back whole.
				if len(ran) == 1 {
					return r, nil
				}
				return ran, nil
			}
			parts[i] = s
		}
		return strings.Join(parts, ","), nil
	}
}

func gDict(c *ctx, args []any, kw map[string]any) (any, error) {
	m := vars.NewMap()
	if len(args) > 1 {
		return nil, typeErr("dict expected at most 1 argument, got %d", len(args))
	}
	if len(args) == 1 {
		switch x := args[0].(type) {
		case *vars.Map:
			m = x.Clone()
		default:
			items, err := iterate(x)
			if err != nil {
				return nil, err
			}
			for _, it := range items {
				kv, err := unpack(it, 2)
				if err != nil {
					return nil, typeErr("cannot convert dictionary update sequence element to a sequence of two")
				}
				if err := setKey(m, kv[0], kv[1]); err != nil {
					return nil, err
				}
			}
		}
	}
	for _, k := range sortedKeys(kw) {
		m.Set(k, kw[k])
	}
	return m, nil
}

func gNamespace(c *ctx, args []any, kw map[string]any) (any, error) {
	attrs := vars.NewMap()
	for _, a := range args {
		m, ok := a.(*vars.Map)
		if !ok {
			return nil, errors.New("namespace() takes a mapping or keyword arguments")
		}
		for _, k := range m.Keys() {
			v, _ := m.Get(k)
			attrs.Set(k, v)
		}
	}
	for _, k := range sortedKeys(kw) {
		attrs.Set(k, kw[k])
	}
	return &namespace{attrs: attrs}, nil
}

// gNow is Ansible's now(utc=False, fmt=None).
func gNow(c *ctx, args []any, kw map[string]any) (any, error) {
	a, err := bind(args, kw, "utc", "fmt")
	if err != nil {
		return nil, err
	}
	utc, err := boolArg(a[0], false)
	if err != nil {
		return nil, err
	}
	t := time.Now()
	if utc {
		t = t.UTC()
	}
	if f := or(a[1], nil); f != nil {
		s, err := strArg(f, "fmt")
		if err != nil {
			return nil, err
		}
		return strftime(s, t), nil
	}
	return vars.DateTime{Time: t, HasZone: false}, nil
}

// strftime formats t with the common C strftime directives.
func strftime(format string, t time.Time) string {
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		if format[i] != '%' || i+1 == len(format) {
			b.WriteByte(format[i])
			continue
		}
		i++
		switch format[i] {
		case 'Y':
			fmt.Fprintf(&b, "%04d", t.Year())
		case 'y':
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case 'm':
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case 'd':
			fmt.Fprintf(&b, "%02d", t.Day())
		case 'H':
			fmt.Fprintf(&b, "%02d", t.Hour())
		case 'I':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			fmt.Fprintf(&b, "%02d", h)
		case 'M':
			fmt.Fprintf(&b, "%02d", t.Minute())
		case 'S':
			fmt.Fprintf(&b, "%02d", t.Second())
		case 'f':
			fmt.Fprintf(&b, "%06d", t.Nanosecond()/1000)
		case 'p':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'a':
			b.WriteString(t.Weekday().String()[:3])
		case 'A':
			b.WriteString(t.Weekday().String())
		case 'b', 'h':
			b.WriteString(t.Month().String()[:3])
		case 'B':
			b.WriteString(t.Month().String())
		case 'j':
			fmt.Fprintf(&b, "%03d", t.YearDay())
		case 'z':
			b.WriteString(t.Format("-0700"))
		case 'Z':
			b.WriteString(t.Format("MST"))
		case 's':
			fmt.Fprintf(&b, "%d", t.Unix())
		case 'e':
			fmt.Fprintf(&b, "%2d", t.Day())
		case 'F':
			b.WriteString(t.Format("2006-01-02"))
		case 'T':
			b.WriteString(t.Format("15:04:05"))
		case 'w':
			fmt.Fprintf(&b, "%d", int(t.Weekday()))
		case '%':
			b.WriteByte('%')
		default:
			b.WriteByte('%')
			b.WriteByte(format[i])
		}
	}
	return b.String()
}
