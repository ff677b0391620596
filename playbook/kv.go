package playbook

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Free-form module arguments ("src=a dest=b", "echo hi chdir=/tmp") and
// -e key=value strings are split as Ansible's parsing/splitter.py does:
// not shlex, but whitespace splitting that keeps quoted strings and Jinja2
// blocks together and keeps the quotes, followed by key=value extraction.
// The quirks are Ansible's and kept on purpose, so that an argument string
// means the same under both tools.

var errArgString = errors.New("unable to parse the argument string (Ansible cannot either): it starts with a blank line or with two spaces")

// splitArgs splits an argument string as Ansible's split_args does.
func splitArgs(args string) ([]string, error) {
	var params []string
	last := func() (*string, error) {
		if len(params) == 0 {
			return nil, errArgString
		}
		return &params[len(params)-1], nil
	}
	var quoteChar byte
	insideQuotes := false
	printDepth, blockDepth, commentDepth := 0, 0, 0
	items := strings.Split(args, "\n")
	for itemIdx, item := range items {
		tokens := strings.Split(item, " ")
		lineContinuation := false
		for idx, token := range tokens {
			if token == "" && idx != 0 {
				p, err := last()
				if err != nil {
					return nil, err
				}
				*p += " "
				continue
			}
			if token == `\` && !insideQuotes {
				lineContinuation = true
				continue
			}
			wasInsideQuotes := insideQuotes
			quoteChar = quoteState(token, quoteChar)
			insideQuotes = quoteChar != 0
			appended := false
			inJinja := printDepth != 0 || blockDepth != 0 || commentDepth != 0
			switch {
			case insideQuotes && !wasInsideQuotes && !inJinja:
				params = append(params, token)
				appended = true
			case inJinja || insideQuotes || wasInsideQuotes:
				p, err := last()
				if err != nil {
					return nil, err
				}
				switch {
				case idx == 0 && wasInsideQuotes:
					*p += token
				case len(tokens) > 1:
					if idx > 0 {
						*p += " "
					}
					*p += token
				default:
					*p += "\n" + token
				}
				appended = true
			}
			for _, d := range []struct {
				depth       *int
				open, close string
			}{{&printDepth, "{{", "}}"}, {&blockDepth, "{%", "%}"}, {&commentDepth, "{#", "#}"}} {
				prev := *d.depth
				*d.depth = jinjaDepth(token, *d.depth, d.open, d.close)
				if *d.depth != prev && !appended {
					params = append(params, token)
					appended = true
				}
			}
			if printDepth == 0 && blockDepth == 0 && commentDepth == 0 && !insideQuotes && !appended && token != "" {
				params = append(params, token)
			}
		}
		if len(items) > 1 && itemIdx != len(items)-1 && !lineContinuation {
			p, err := last()
			if err != nil {
				return nil, err
			}
			*p += "\n"
		}
	}
	if printDepth != 0 || blockDepth != 0 || commentDepth != 0 || insideQuotes {
		return nil, errors.New("an unbalanced Jinja2 block or quote")
	}
	return params, nil
}

// quoteState is Ansible's _get_quote_state: the quote still open after
// token, given the one open before it.
func quoteState(token string, quoteChar byte) byte {
	for i := 0; i < len(token); i++ {
		c := token[i]
		if (c == '"' || c == '\'') && (i == 0 || token[i-1] != '\\') {
			switch {
			case quoteChar == 0:
				quoteChar = c
			case c == quoteChar:
				quoteChar = 0
			}
		}
	}
	return quoteChar
}

// jinjaDepth is Ansible's _count_jinja2_blocks.
func jinjaDepth(token string, depth int, open, close string) int {
	if o, c := strings.Count(token, open), strings.Count(token, close); o != c {
		depth = max(depth+o-c, 0)
	}
	return depth
}

// rawOptions are the key=value options that command, shell and script
// take out of a free-form string (the list in Ansible's parse_kv); every
// other word stays in the command.
var rawOptions = map[string]bool{
	"creates": true, "removes": true, "chdir": true, "executable": true, "warn": true,
	"stdin": true, "stdin_add_newline": true, "strip_empty_ends": true,
}

// kvPair is one option taken out of a free-form string, in order.
type kvPair struct{ key, value string }

// parseKV splits a free-form string into key=value options and the rest,
// as Ansible's parse_kv does. With checkRaw (command, shell, script) only
// the rawOptions are taken out. The rest is joined back as it was written;
// hasRaw reports whether there was any.
func parseKV(args string, checkRaw bool) (opts []kvPair, raw string, hasRaw bool, err error) {
	words, err := splitArgs(args)
	if err != nil {
		return nil, "", false, err
	}
	var rawParams []string
	for _, orig := range words {
		x := decodeEscapes(orig)
		pos := equalsAt(x)
		if pos < 0 {
			if strings.Contains(x, "=") {
				// Only escaped '=': a word of the command.
				rawParams = append(rawParams, strings.ReplaceAll(x, `\=`, "="))
			} else {
				rawParams = append(rawParams, orig)
			}
			continue
		}
		k, v := x[:pos], x[pos+1:]
		if checkRaw && !rawOptions[k] {
			rawParams = append(rawParams, orig)
			continue
		}
		opts = setKV(opts, strings.TrimSpace(k), unquote(strings.TrimSpace(v)))
	}
	if len(rawParams) > 0 {
		return opts, joinArgs(rawParams), true, nil
	}
	return opts, "", false, nil
}

// setKV sets key as a Python dict assignment does: a repeated key keeps
// its first position and takes the last value.
func setKV(opts []kvPair, key, value string) []kvPair {
	for i := range opts {
		if opts[i].key == key {
			opts[i].value = value
			return opts
		}
	}
	return append(opts, kvPair{key, value})
}

// equalsAt returns the index of the first unescaped '=' after the first
// character of x, or -1; parse_kv starts looking at index 1.
func equalsAt(x string) int {
	for pos := 1; pos < len(x); pos++ {
		if x[pos] == '=' && x[pos-1] != '\\' {
			return pos
		}
	}
	return -1
}

// joinArgs is Ansible's join_args: words joined by spaces, except after a
// newline.
func joinArgs(words []string) string {
	var b strings.Builder
	for _, w := range words {
		if b.Len() > 0 && !strings.HasSuffix(b.String(), "\n") {
			b.WriteByte(' ')
		}
		b.WriteString(w)
	}
	return b.String()
}

// unquote removes matching outer quotes, as Ansible's unquote does.
func unquote(s string) string {
	if len(s) > 1 && s[0] == s[len(s)-1] && (s[0] == '"' || s[0] == '\'') && s[len(s)-2] != '\\' {
		return s[1 : len(s)-1]
	}
	return s
}

var escapeRE = regexp.MustCompile(`\\U[a-fA-F0-9]{8}|\\u[a-fA-F0-9]{4}|\\x[a-fA-F0-9]{2}|\\[\\'"abfnrtv]`)

// decodeEscapes decodes Python escape sequences as parse_kv's
// _decode_escapes does. (\N{name} escapes are left as written.)
func decodeEscapes(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	return escapeRE.ReplaceAllStringFunc(s, func(m string) string {
		switch m[1] {
		case 'U', 'u', 'x':
			n, err := strconv.ParseUint(m[2:], 16, 32)
			if err != nil || n > utf8.MaxRune {
				return m
			}
			return string(rune(n))
		}
		return map[byte]string{'\\': `\`, '\'': "'", '"': `"`, 'a': "\a", 'b': "\b",
			'f': "\f", 'n': "\n", 'r': "\r", 't': "\t", 'v': "\v"}[m[1]]
	})
}
