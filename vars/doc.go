// Package vars holds variable values as Ansible sees them. It decodes YAML and
// JSON the way Ansible's loader does (JSON first, then YAML 1.1 scalar typing
// as PyYAML resolves it, with duplicate-key warnings, merge keys, !unsafe and
// !vault), keeps mappings in insertion order as Python dicts do, merges
// variable layers, and encodes values as Python's json.dumps prints them.
//
// A value is one of: nil, bool, int64, *big.Int, float64, string, []any,
// *Map, Unsafe, Vault, Date or DateTime.
package vars
