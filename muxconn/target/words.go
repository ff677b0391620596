package target

import (
	"errors"
	"strings"
)

// splitConfigArgs splits an ssh_config value into arguments as OpenSSH's
// argv_split does: blanks separate, single or double quotes group, and a
// backslash escapes a quote, a backslash or (outside quotes) a space; any
// other backslash is kept.
func splitConfigArgs(s string) ([]string, error) {
	var args []string
	i := 0
	for i < len(s) {
		if s[i] == ' ' || s[i] == '\t' {
			i++
			continue
		}
		var arg strings.Builder
		var quote byte
	word:
		for ; i < len(s); i++ {
			c := s[i]
			switch {
			case c == '\\' && i+1 < len(s) && (s[i+1] == '\'' || s[i+1] == '"' || s[i+1] == '\\' || (quote == 0 && s[i+1] == ' ')):
				i++
				arg.WriteByte(s[i])
			case quote == 0 && (c == ' ' || c == '\t'):
				break word
			case quote == 0 && (c == '"' || c == '\''):
				quote = c
			case quote != 0 && c == quote:
				quote = 0
			default:
				arg.WriteByte(c)
			}
		}
		if quote != 0 {
			return nil, errors.New("missing closing quote")
		}
		args = append(args, arg.String())
	}
	return args, nil
}

// splitShellWords splits s into words as Python's shlex.split does in POSIX
// mode without comments, which is how Ansible splits ansible_ssh_common_args
// and ansible_ssh_extra_args.
func splitShellWords(s string) ([]string, error) {
	var (
		words  []string
		tok    strings.Builder
		inWord bool // a word has started, possibly empty ("")
	)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			if inWord {
				words = append(words, tok.String())
				tok.Reset()
				inWord = false
			}
		case c == '\'':
			inWord = true
			j := i + 1
			for j < len(rs) && rs[j] != '\'' {
				tok.WriteRune(rs[j])
				j++
			}
			if j == len(rs) {
				return nil, errors.New("no closing quotation")
			}
			i = j
		case c == '"':
			inWord = true
			j := i + 1
			for ; j < len(rs) && rs[j] != '"'; j++ {
				// Inside double quotes a backslash escapes only a quote or
				// another backslash, as in POSIX shells.
				if rs[j] == '\\' && j+1 < len(rs) && (rs[j+1] == '"' || rs[j+1] == '\\') {
					j++
				}
				tok.WriteRune(rs[j])
			}
			if j == len(rs) {
				return nil, errors.New("no closing quotation")
			}
			i = j
		case c == '\\':
			if i+1 == len(rs) {
				return nil, errors.New("no escaped character")
			}
			inWord = true
			i++
			tok.WriteRune(rs[i])
		default:
			inWord = true
			tok.WriteRune(c)
		}
	}
	if inWord {
		words = append(words, tok.String())
	}
	return words, nil
}
