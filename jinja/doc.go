// Package jinja renders Jinja2 templates the way Ansible 2.14 does: the
// filters and tests playbooks use, Python's printing and truthiness,
// Ansible's lazy recursive templating of variables (a variable holding
// "{{ b }}-x" is rendered when a template uses it), and typed errors for
// undefined variables. It knows nothing about playbooks.
//
// Templates are tokenised by the lexer of github.com/nikolalohinski/gonja/v2
// (whitespace control, trim_blocks, lstrip_blocks, raw blocks); the parser and
// evaluator are this package's own, because gonja's evaluator cannot tell an
// undefined variable from None, orders dict keys by sorting, has no arbitrary
// precision integers and does not follow Jinja2's grammar closely enough (for
// example `x in y | default([])` or a conditional expression inside a call).
package jinja
