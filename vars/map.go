package vars

// Map is a string-keyed mapping that keeps insertion order, as a Python
// dict does: setting an existing key replaces its value in place.
//
// Keys that were not strings in the source (YAML allows `1:` or `yes:`) are
// stored under their JSON spelling; OrigKey returns the decoded key.
type Map struct {
	keys []string
	vals map[string]any
	meta map[string]keyMeta
}

type keyMeta struct {
	line int // 1-based source line of the key; 0 when unknown
	orig any // the decoded key when it was not a string
}

// NewMap returns an empty Map.
func NewMap() *Map { return &Map{vals: map[string]any{}} }

// Len returns the number of keys.
func (m *Map) Len() int {
	if m == nil {
		return 0
	}
	return len(m.keys)
}

// Keys returns the keys in insertion order. The caller must not modify it.
func (m *Map) Keys() []string {
	if m == nil {
		return nil
	}
	return m.keys
}

// Get returns the value stored under key.
func (m *Map) Get(key string) (any, bool) {
	if m == nil {
		return nil, false
	}
	v, ok := m.vals[key]
	return v, ok
}

// Has reports whether key is present.
func (m *Map) Has(key string) bool {
	_, ok := m.Get(key)
	return ok
}

// Set stores value under key, keeping the key's position if it exists.
func (m *Map) Set(key string, value any) {
	if m.vals == nil {
		m.vals = map[string]any{}
	}
	if _, ok := m.vals[key]; !ok {
		m.keys = append(m.keys, key)
	}
	m.vals[key] = value
}

// Delete removes key.
func (m *Map) Delete(key string) {
	if m == nil {
		return
	}
	if _, ok := m.vals[key]; !ok {
		return
	}
	delete(m.vals, key)
	delete(m.meta, key)
	for i, k := range m.keys {
		if k == key {
			m.keys = append(m.keys[:i:i], m.keys[i+1:]...)
			break
		}
	}
}

// SetKey stores value under a key of any type Python allows in a dict
// (string, number, bool, nil, date), spelled as json.dumps spells it; the
// typed key is kept for OrigKey and for sorting.
func (m *Map) SetKey(key any, line int, value any) error {
	s, err := KeyString(key)
	if err != nil {
		return err
	}
	m.Set(s, value)
	switch key.(type) {
	case string:
		key = nil
	case nil:
		key = nullKey{}
	}
	m.setMeta(s, line, key)
	return nil
}

// Line returns the source line of key, or 0 when unknown.
func (m *Map) Line(key string) int {
	if m == nil {
		return 0
	}
	return m.meta[key].line
}

// OrigKey returns the key as decoded from the source: a string, or the
// bool, number or nil that YAML made of it.
func (m *Map) OrigKey(key string) any {
	if m != nil {
		if md, ok := m.meta[key]; ok && md.orig != nil {
			return md.orig
		}
	}
	return key
}

func (m *Map) setMeta(key string, line int, orig any) {
	if line == 0 && orig == nil {
		return
	}
	if m.meta == nil {
		m.meta = map[string]keyMeta{}
	}
	m.meta[key] = keyMeta{line: line, orig: orig}
}

// Clone returns a shallow copy: a new Map holding the same values.
func (m *Map) Clone() *Map {
	c := &Map{vals: make(map[string]any, m.Len())}
	if m == nil {
		return c
	}
	c.keys = append(make([]string, 0, len(m.keys)), m.keys...)
	for k, v := range m.vals {
		c.vals[k] = v
	}
	if m.meta != nil {
		c.meta = make(map[string]keyMeta, len(m.meta))
		for k, v := range m.meta {
			c.meta[k] = v
		}
	}
	return c
}

// Combine returns a new Map with a's entries overlaid by b's, as Ansible's
// combine_vars does with the default hash_behaviour=replace: a key in b
// replaces a's value whole, even when both are mappings.
func Combine(a, b *Map) *Map {
	c := a.Clone()
	for _, k := range b.Keys() {
		c.Set(k, b.vals[k])
		if md, ok := b.meta[k]; ok {
			c.setMeta(k, md.line, md.orig)
		}
	}
	return c
}
