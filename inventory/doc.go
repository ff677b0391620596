// Package inventory loads Ansible inventories and selects hosts from them,
// matching ansible-core's behaviour to the letter: YAML, JSON and INI
// sources, host ranges, nested groups, group_vars/ and host_vars/,
// variable precedence, and host patterns with their result order.
//
// Where Ansible would skip part of a source with a warning (an unknown key
// in a YAML group, a "hosts" list instead of a mapping, a source it cannot
// parse), Load fails with an error that names the file and line instead: a
// skipped part is a skipped host in a deploy. Everything Ansible accepts
// silently or with a plain warning loads the same way here.
//
// The package does no I/O beyond reading the inventory files.
package inventory
