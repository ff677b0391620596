package inventory

import (
	"errors"
	"strings"
)

// shlexSplit splits an INI host line as Python's shlex.split(line,
// comments=True) does in POSIX mode: whitespace separates words, quotes
// group, a backslash escapes outside single quotes, and "#" starts a comment
// wherever a word may continue, even in the middle of one.
func shlexSplit(s string) ([]string, error) {
	const (
		stSpace = iota
		stWord
		stSingle
		stDouble
		stEscape
	)
	var (
		words   []string
		tok     strings.Builder
		state   = stSpace
		escFrom = stWord // state to return to after an escape
		quoted  bool     // the current token had quotes, so it counts even if empty
	)
	emit := func() {
		if tok.Len() > 0 || quoted {
			words = append(words, tok.String())
		}
		tok.Reset()
		quoted = false
	}
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch state {
		case stSpace, stWord:
			switch {
			case c == ' ' || c == '\t' || c == '\r' || c == '\n':
				if state == stWord {
					emit()
				}
				state = stSpace
			case c == '#':
				// The rest of the line is a comment.
				if state == stWord {
					emit()
				}
				return words, nil
			case c == '\'':
				state, quoted = stSingle, true
			case c == '"':
				state, quoted = stDouble, true
			case c == '\\':
				escFrom, state = stWord, stEscape
			default:
				tok.WriteRune(c)
				state = stWord
			}
		case stSingle:
			if c == '\'' {
				state = stWord
			} else {
				tok.WriteRune(c)
			}
		case stDouble:
			switch c {
			case '"':
				state = stWord
			case '\\':
				escFrom, state = stDouble, stEscape
			default:
				tok.WriteRune(c)
			}
		case stEscape:
			// Inside double quotes only the quote and the backslash itself
			// are escaped; elsewhere the backslash stays.
			if escFrom == stDouble && c != '"' && c != '\\' {
				tok.WriteRune('\\')
			}
			tok.WriteRune(c)
			state = escFrom
		}
	}
	switch state {
	case stSingle, stDouble:
		return nil, errors.New("no closing quotation")
	case stEscape:
		return nil, errors.New("no escaped character")
	case stWord:
		emit()
	}
	return words, nil
}
