// Package jinja renders Jinja2 templates the way Ansible 2.14 does: its
// filters and tests, Python's printing, truthiness and types, Ansible's lazy
// recursive templating of variables (a variable holding "{{ b }}-x" is
// rendered when a template uses it) and typed errors for undefined
// variables. It knows nothing about playbooks.
//
// Templates are tokenised by the lexer of github.com/nikolalohinski/gonja/v2
// (delimiters, whitespace control, trim_blocks, lstrip_blocks, raw blocks);
// the parser and evaluator are this package's own, because gonja's evaluator
// cannot tell an undefined variable from None, orders dict keys by sorting,
// has no arbitrary-precision integers and departs from Jinja2's grammar
// (`x in y | default([])`, an inline if inside a call).
package jinja
